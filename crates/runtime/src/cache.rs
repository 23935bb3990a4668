//! Compiled-artifact cache: compiling a component with cranelift costs tens of milliseconds
//! to seconds; deserialising a precompiled artifact costs well under a millisecond. The key
//! covers both the wasm bytes and the engine's compatibility hash, so an upgraded wasmtime or
//! a changed engine config never loads a stale artifact.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

pub struct ArtifactCache {
    dir: Option<PathBuf>,
}

impl ArtifactCache {
    pub fn new(dir: Option<PathBuf>) -> Self {
        ArtifactCache { dir }
    }

    fn path_for(&self, engine: &Engine, wasm: &[u8]) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
        engine
            .precompile_compatibility_hash()
            .hash(&mut engine_hash);
        let digest = Sha256::digest(wasm);
        Some(dir.join(format!(
            "{}-{:016x}.cwasm",
            hex::encode(&digest[..16]),
            engine_hash.finish()
        )))
    }

    /// Load from the cache, or compile and store. Cache failures only cost a recompile.
    pub fn load(&self, engine: &Engine, wasm: &[u8]) -> wasmtime::Result<(Component, bool)> {
        let path = self.path_for(engine, wasm);
        if let Some(path) = &path
            && path.exists()
        {
            // SAFETY: the file was written by `Component::serialize` of this same engine
            // configuration (the file name carries its compatibility hash) into the gateway's
            // private data directory.
            match unsafe { Component::deserialize_file(engine, path) } {
                Ok(c) => return Ok((c, true)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "discarding unreadable plugin artifact")
                }
            }
        }
        let component = Component::new(engine, wasm)?;
        if let Some(path) = path
            && let Err(e) = store(&component, &path)
        {
            tracing::warn!(path = %path.display(), error = %e, "could not cache plugin artifact");
        }
        Ok((component, false))
    }
}

fn store(component: &Component, path: &Path) -> wasmtime::Result<()> {
    let bytes = component.serialize()?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
