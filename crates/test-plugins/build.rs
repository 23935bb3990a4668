//! Compiles `tests/plugins/*` and copies each component to `<OUT_DIR>/test-plugins/<dir>.wasm`,
//! the folder tests pass to `--plugins-dir`.

use std::path::PathBuf;

fn main() {
    let root = switchboard_wasm_build::workspace_root();
    let artifacts = switchboard_wasm_build::build(&root, "tests/plugins");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dir = out_dir.join("test-plugins");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating the test-plugins folder");
    for a in &artifacts {
        std::fs::copy(&a.wasm, dir.join(format!("{}.wasm", a.package.dir)))
            .expect("copying a test plugin");
    }
    println!(
        "cargo:rustc-env=SWITCHBOARD_TEST_PLUGINS_DIR={}",
        dir.display()
    );
}
