//! Real PostgreSQL for tests: a private cluster under `target/pg` (started by
//! `tools/pg-cluster`, which needs only Debian's `postgresql` package) and a fresh database per
//! test, so tests run in parallel without seeing each other's rows.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Io, connect};
use crate::sql::Connection;

/// The repository's `tools/pg-cluster`.
fn cluster_tool() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/pg-cluster")
}

/// Run `tools/pg-cluster CMD [DIR]`; its output (the URL, for `start`).
fn cluster_tool_run(cmd: &str, dir: Option<&std::path::Path>) -> String {
    let out = std::process::Command::new("bash")
        .arg(cluster_tool())
        .arg(cmd)
        .args(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run tools/pg-cluster: {e}"));
    assert!(
        out.status.success(),
        "the PostgreSQL tests need a server: tools/pg-cluster {cmd} failed:\n{}\n\
         Install it with: apt-get install postgresql (see README, \"Running the tests\")",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A cluster of a test's own in `dir` (a test that stops its server must not stop everyone
/// else's): started, or started again on the same port, and its URL.
pub fn start_private_cluster(dir: &std::path::Path) -> String {
    cluster_tool_run("start", Some(dir))
}

/// Stop the cluster in `dir` (`pg_ctl stop -m fast`: sessions are cut off at once).
pub fn stop_private_cluster(dir: &std::path::Path) {
    cluster_tool_run("stop", Some(dir));
}

/// The test cluster's administrative URL (database `switchboard`), starting the cluster on
/// first use. Panics with the way to install PostgreSQL when it is missing: a test that needs
/// a database cannot pass without one, and must not pass by skipping.
pub fn cluster_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let dir = std::env::var_os("SWITCHBOARD_TEST_PG_DIR").map(std::path::PathBuf::from);
        cluster_tool_run("start", dir.as_deref())
    })
}

/// A database of its own for one test; dropped with this value (unless the test failed, so
/// it can be looked at).
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    /// A new empty database on the test cluster; the gateway (or [`crate::Store`]) migrates
    /// it when it opens it.
    pub fn create(label: &str) -> TestDatabase {
        static N: AtomicU64 = AtomicU64::new(0);
        let label: String = label
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(24)
            .collect::<String>()
            .to_ascii_lowercase();
        let name = format!(
            "t_{label}_{}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_micros())
                .unwrap_or(0)
        );
        admin(&format!("CREATE DATABASE {name}"));
        let base = cluster_url();
        let url = match base.rfind('/') {
            Some(i) => format!("{}/{name}", &base[..i]),
            None => panic!("a cluster URL without a database: {base}"),
        };
        TestDatabase { name, url }
    }

    /// Forget the database without dropping it (a test that hands it to a later process).
    pub fn keep(self) -> String {
        let url = self.url.clone();
        std::mem::forget(self);
        url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            drop_database(&self.name);
        }
    }
}

/// Drop a test database by name, closing whatever sessions are still on it.
pub fn drop_database(name: &str) {
    admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
}

/// One statement on the cluster's administrative database.
fn admin(sql: &str) {
    let io = Io::start().expect("an I/O thread");
    let conn = connect(cluster_url(), &io)
        .unwrap_or_else(|e| panic!("the test cluster at {}: {e}", cluster_url()));
    Connection::postgres(&conn)
        .execute_batch(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// A migrated database and a connection to it, for tests of table operations (the
/// PostgreSQL twin of [`crate::migrated_in_memory`]). The connection is not in a transaction.
pub struct MigratedDatabase {
    conn: crate::sql::PgConn,
    _io: Io,
    _db: TestDatabase,
}

impl MigratedDatabase {
    pub fn new(label: &str) -> MigratedDatabase {
        let db = TestDatabase::create(label);
        let io = Io::start().expect("an I/O thread");
        let conn = connect(&db.url, &io).expect("the test database");
        super::migrate(&conn).expect("migrations");
        MigratedDatabase {
            conn,
            _io: io,
            _db: db,
        }
    }

    pub fn connection(&self) -> Connection<'_> {
        Connection::postgres(&self.conn)
    }
}
