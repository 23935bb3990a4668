//! What the end-to-end benches share: starting the real binary and reading its memory.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The binary cargo built for this bench, or `BENCH_BIN` (another build of `switchboard`) to
/// compare two builds under the same load generator.
fn bin() -> String {
    std::env::var("BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_switchboard").to_string())
}

pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A child process killed when dropped, so a failing bench leaves nothing running.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Run `switchboard <args>` and wait for the stdout line starting with `banner`; returns the
/// rest of that line (the address it listens on).
pub fn spawn(args: &[&str], banner: &str) -> (Proc, String) {
    let mut child = Command::new(bin())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn switchboard");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let value = loop {
        let line = lines.next().expect("process exited").expect("read stdout");
        if let Some(v) = line.strip_prefix(banner) {
            break v.trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (Proc(child), value)
}

/// Resident memory of `pid` in MiB; NaN when it cannot be read.
pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map(|kib| kib / 1024.0)
        .unwrap_or(f64::NAN)
}

/// CPU time `pid` has used so far (user + system), in seconds; NaN when it cannot be read.
/// On a shared machine wall-clock rates swing with the neighbours' load; the CPU a process
/// spends per message moves much less, so the benches print both.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return f64::NAN;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line: indexes 11 and 12 after the name.
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(u), Some(s)) => (u + s) / clock_ticks_per_second(),
        _ => f64::NAN,
    }
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}
