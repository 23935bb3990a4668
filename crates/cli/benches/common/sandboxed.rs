//! The simulators and one gateway on them, for the benches that start from a sandbox
//! workspace (`gateway`, `console`); a module of its own so benches that start processes
//! their own way do not carry it unused.

use super::common::{Proc, free_port, spawn};

/// A simulator process and a gateway on it, on SQLite in `data_dir`, with the per-key rate
/// limit off (the gateway's own capacity is what benches measure).
pub struct Sandboxed {
    pub sim_proc: Proc,
    pub sim: String,
    pub gw_proc: Proc,
    pub gw: String,
    /// The sandbox workspace's API key.
    pub key: String,
}

pub fn sandboxed(data_dir: &std::path::Path) -> Sandboxed {
    let sim_listen = format!("127.0.0.1:{}", free_port());
    let (sim_proc, sim) = spawn(
        &["sandbox", "--listen", &sim_listen],
        "simulators listening on ",
    );
    let gw_listen = format!("127.0.0.1:{}", free_port());
    let data = data_dir.display().to_string();
    let (gw_proc, gw) = spawn(
        &[
            "serve",
            "--sandbox-url",
            &sim,
            "--listen",
            &gw_listen,
            "--data-dir",
            &data,
            "--rate-limit-per-key",
            "0",
        ],
        "switchboard listening on ",
    );
    let key = std::fs::read_to_string(data_dir.join("sandbox.key"))
        .expect("the sandbox key")
        .trim()
        .to_string();
    Sandboxed {
        sim_proc,
        sim,
        gw_proc,
        gw,
        key,
    }
}
