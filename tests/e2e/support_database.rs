//! Each test's database: on PostgreSQL, one per data directory on the test cluster, named in
//! the directory; and the reads that check tables directly, on either backend.

use std::path::Path;

/// Which database the gateways of this test binary use.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

use switchboard_gateway::store::pg_testing;

/// Where a data directory names its PostgreSQL test database (and its URL).
const DATABASE_NAME_FILE: &str = "test-database-name";
const DATABASE_URL_FILE: &str = "test-database-url";

/// The PostgreSQL database of `data_dir`, made on first use; `None` on SQLite.
pub fn database_url(data_dir: &Path) -> Option<String> {
    if crate::BACKEND != Backend::Postgres {
        return None;
    }
    if let Ok(url) = std::fs::read_to_string(data_dir.join(DATABASE_URL_FILE)) {
        return Some(url.trim().to_string());
    }
    let label = data_dir
        .file_name()
        .map(|n| n.to_string_lossy().replace("switchboard-test-", ""))
        .unwrap_or_default();
    let db = pg_testing::TestDatabase::create(&label);
    std::fs::write(data_dir.join(DATABASE_NAME_FILE), &db.name).unwrap();
    let url = db.keep();
    std::fs::write(data_dir.join(DATABASE_URL_FILE), &url).unwrap();
    Some(url)
}

/// Make `data_dir`'s gateway use the database at `url` (another node's, or a test's own
/// cluster); the directory does not own it, so does not drop it.
#[allow(dead_code)] // only the PostgreSQL binary has `multinode`, its one user
pub fn use_database(data_dir: &Path, url: &str) {
    std::fs::write(data_dir.join(DATABASE_URL_FILE), url).unwrap();
}

/// `--database URL` for a gateway started by hand on `data_dir`; nothing on SQLite.
pub fn database_args(data_dir: &Path) -> Vec<String> {
    database_url(data_dir)
        .map(|url| vec!["--database".to_string(), url])
        .unwrap_or_default()
}

/// The gateway's database as a store of its own (the gateway may be running or stopped), for
/// checks that read tables directly: the ledger audit, secrets at rest.
pub fn open_store(data_dir: &Path) -> switchboard_gateway::store::Store {
    match database_url(data_dir) {
        Some(url) => switchboard_gateway::store::Store::open_postgres(&url).unwrap(),
        None => switchboard_gateway::store::Store::open(data_dir).unwrap(),
    }
}

/// Every byte the database keeps for `data_dir`: on SQLite the file and its WAL; on
/// PostgreSQL every row of every table, as text. A secret at rest must be in neither.
pub async fn database_contents(data_dir: &Path) -> Vec<u8> {
    if database_url(data_dir).is_none() {
        let mut bytes = std::fs::read(data_dir.join("switchboard.db")).unwrap();
        // A checkpoint may have emptied the WAL into the database file already: none is fine.
        bytes.extend(std::fs::read(data_dir.join("switchboard.db-wal")).unwrap_or_default());
        return bytes;
    }
    let store = open_store(data_dir);
    store
        .read(|c| {
            let tables: Vec<String> = c
                .prepare(
                    "SELECT table_name FROM information_schema.tables
                     WHERE table_schema = 'public' ORDER BY table_name",
                )?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let mut out = Vec::new();
            for t in tables {
                let rows: Vec<String> = c
                    .prepare(&format!("SELECT CAST(t AS TEXT) FROM \"{t}\" t"))?
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                for r in rows {
                    out.extend_from_slice(r.as_bytes());
                    out.push(b'\n');
                }
            }
            Ok::<_, switchboard_gateway::store::StoreError>(out)
        })
        .await
        .unwrap()
}

/// Drop the PostgreSQL database `data_dir` made, if it made one (not one it only uses).
pub(super) fn drop_owned_database(data_dir: &Path) {
    if let Ok(name) = std::fs::read_to_string(data_dir.join(DATABASE_NAME_FILE)) {
        pg_testing::drop_database(name.trim());
    }
}
