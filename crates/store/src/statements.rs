//! How many SQL statements SQLite runs: the figure the write-path work is measured by
//! (statements per delivered message, on `/metrics`), and an optional per-statement tally.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Statements SQLite has started on this process's connections (the writer's and every
/// reader's), trigger programs included. A process-wide count, not a per-store one: SQLite's
/// trace hook takes a plain function. It is the figure the write-path work is measured by
/// (statements per delivered message), read through `/metrics`.
static STATEMENTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// [`STATEMENTS`] so far.
pub fn statements_run() -> u64 {
    STATEMENTS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Count every statement `conn` starts. The hook is one atomic add per statement.
pub(crate) fn count_statements(conn: &rusqlite::Connection) {
    conn.trace_v2(
        rusqlite::trace::TraceEventCodes::SQLITE_TRACE_STMT,
        Some(|event| {
            let n = STATEMENTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Some(path) = tally_file()
                && let rusqlite::trace::TraceEvent::Stmt(_, sql) = event
            {
                tally(path, sql, n);
            }
        }),
    );
}

/// Where `SWITCHBOARD_SQL_TALLY` asks the statement tally to be written, read once.
fn tally_file() -> Option<&'static Path> {
    static FILE: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    FILE.get_or_init(|| std::env::var_os("SWITCHBOARD_SQL_TALLY").map(PathBuf::from))
        .as_deref()
}

/// A profiling aid, off unless `SWITCHBOARD_SQL_TALLY=FILE` is set: how often each
/// statement text ran, most frequent first, rewritten to FILE every 1,000 statements. It is
/// how `docs/benchmarks.md` splits the statements of one message by what they do.
fn tally(path: &Path, sql: &str, n: u64) {
    static TALLY: Mutex<Option<std::collections::HashMap<String, u64>>> = Mutex::new(None);
    let mut tally = TALLY.lock().unwrap_or_else(|p| p.into_inner());
    let counts = tally.get_or_insert_with(Default::default);
    let text = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    *counts.entry(text).or_default() += 1;
    if n.is_multiple_of(1000) {
        let mut rows: Vec<_> = counts.iter().collect();
        rows.sort_by(|a, b| b.1.cmp(a.1));
        let text: String = rows
            .iter()
            .map(|(sql, c)| format!("{c}\t{sql}\n"))
            .collect();
        let _ = std::fs::write(path, text);
    }
}
