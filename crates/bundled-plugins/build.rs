//! Compiles `plugins/*` and writes the table [`PLUGINS`](crate) embeds.

use std::path::PathBuf;

fn main() {
    let root = switchboard_wasm_build::workspace_root();
    let artifacts = switchboard_wasm_build::build(&root, "plugins");
    let mut code = String::from("pub const PLUGINS: &[(&str, &[u8])] = &[\n");
    for a in &artifacts {
        code.push_str(&format!(
            "    ({:?}, include_bytes!({:?})),\n",
            a.package.dir,
            a.wasm.display().to_string()
        ));
    }
    code.push_str("];\n");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out_dir.join("bundled.rs"), code).expect("writing bundled.rs");
}
