//! Master keys: 32 random bytes, written as base64. They come from the environment
//! (`SWITCHBOARD_MASTER_KEY`, older ones in `SWITCHBOARD_MASTER_KEY_PREVIOUS`), from a key
//! file (one key per line, the first seals), or, when neither is given, from
//! `<data-dir>/master.key`, created on first start with mode 0600. Keeping the key beside the
//! database protects a copied database file but not a copied data directory, so production
//! deployments should pass the key from a secret store instead; start-up logs which it is.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use rand::Rng;
use zeroize::Zeroizing;

use super::VaultError;

#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

impl MasterKey {
    pub fn generate() -> MasterKey {
        MasterKey(Zeroizing::new(rand::rng().random()))
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(*self.0)
    }

    fn parse(index: usize, text: &str) -> Result<MasterKey, VaultError> {
        let text = text.trim();
        let bad = |detail: &str| VaultError::BadKey {
            index,
            detail: detail.to_string(),
        };
        let bytes = Zeroizing::new(
            STANDARD
                .decode(text)
                .or_else(|_| URL_SAFE.decode(text))
                .or_else(|_| URL_SAFE_NO_PAD.decode(text))
                .map_err(|_| bad("not base64"))?,
        );
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| bad("must be 32 bytes (44 base64 characters)"))?;
        Ok(MasterKey(Zeroizing::new(arr)))
    }
}

/// Keys from text: separated by commas or new lines, blank lines and `#` comments ignored.
pub fn parse_keys(text: &str) -> Result<Vec<MasterKey>, VaultError> {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .enumerate()
        .map(|(i, l)| MasterKey::parse(i, l))
        .collect()
}

/// Read the key file, or create it with one fresh key if it does not exist.
pub fn load_or_create_key_file(path: &Path) -> std::io::Result<Vec<MasterKey>> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_keys(&text).map_err(std::io::Error::other),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = MasterKey::generate();
            write_private(path, &key.to_base64())?;
            Ok(vec![key])
        }
        Err(e) => Err(e),
    }
}

/// Create `path` (it must not exist) readable by the owner only, write `content` and sync.
pub fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.create_new(true).write(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path)?;
    writeln!(f, "{content}")?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_refuses_short_keys() {
        let (a, b) = (MasterKey::generate(), MasterKey::generate());
        let keys = parse_keys(&format!(
            "# new first\n{}\n\n{}\n",
            a.to_base64(),
            b.to_base64()
        ))
        .unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].bytes(), a.bytes());
        let keys = parse_keys(&format!("{}, {}", a.to_base64(), b.to_base64())).unwrap();
        assert_eq!(keys[1].bytes(), b.bytes());
        assert!(matches!(
            parse_keys("c2hvcnQ="),
            Err(VaultError::BadKey { index: 0, .. })
        ));
    }
}
