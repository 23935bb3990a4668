//! Durable state in one SQLite file (WAL mode) under the data directory.
//!
//! Writes go through one writer thread that commits in groups: every write submitted while
//! the previous commit was in flight joins the next transaction, so thousands of accepts per
//! second cost a handful of fsyncs, not thousands. Each write runs inside its own savepoint,
//! so one failing write (say, a duplicate idempotency key) rolls back alone. A write's future
//! resolves only after its transaction has committed with `synchronous=FULL`: that is what
//! lets the API answer 202 only for messages that survive a crash.
//!
//! Reads run on a small pool of read-only connections; WAL lets them proceed while the
//! writer commits.
//!
//! Why a crate of its own: the store knows tables, not rules. Each module here is a set of
//! table operations on the caller's transaction (`deliveries`, `routes`, messages, contacts,
//! connections, tenants, ...), and [`Store::write`] is the unit of work services compose
//! them in. Which status may follow which, what a send costs, who hears about a change: those
//! are the gateway's services (`switchboard-gateway`: the delivery lifecycle, the routing state
//! machine, billing, events). Cargo keeps it so: this crate depends on the schema
//! (`switchboard-model`) and nothing else of ours, which is what lets a second backend
//! implement the same operations without copying a rule. The operations, here and in the
//! crates with tables of their own, speak to [`sql`], one SQL surface whatever the backend, and
//! this is the only crate that knows `rusqlite`.

// The schema's types, at the path the modules have always used.
use switchboard_model as model;

pub mod automation_runs;
pub mod automation_stats;
pub mod automations;
mod blocked_urls;
pub mod chat_switch;
mod connections;
pub mod contact_edits;
mod contacts;
pub mod conversation_records;
pub mod conversation_states;
pub mod conversations;
pub mod dead_letters;
pub mod deliveries;
pub mod hosting;
mod lookups;
pub mod lost_answers;
pub mod member_prefs;
pub mod members;
mod messages;
pub mod oauth_flows;
mod pg;
mod policies;
mod resend_facts;
pub mod routes;
pub mod rules;
mod schema;
pub mod sender_domains;
pub mod sql;
mod statements;
mod tenants;

pub use connections::*;
pub use contacts::*;
pub use conversations::*;
pub use lookups::*;
pub use messages::*;
pub use routes::PlannedEntry;
use statements::count_statements;
pub use statements::statements_run;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::OpenFlags;
use sql::{Connection, PgConn, Transaction};
use tokio::sync::{mpsc, oneshot};

/// Most writes that share one commit.
const MAX_GROUP: usize = 2048;
/// Read connections. A read waits for one rather than opening another: a fresh connection
/// parses the whole schema on its first statement, which profiling showed costing more than
/// the reads themselves once intake made several reads per message.
const READERS: usize = 8;
/// Prepared statements kept per connection. rusqlite's default of 16 is fewer than the
/// statements one message's path runs, so the cache thrashed and SQL was parsed again and
/// again.
const STATEMENT_CACHE: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sql(#[from] sql::Error),
    #[error("commit failed: {0}")]
    Commit(String),
    #[error("the store is shut down")]
    Closed,
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("cannot open {path}: {detail}")]
    Open { path: PathBuf, detail: String },
    /// The database cannot be reached now; nothing was written. Worth retrying once it is back.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("the database's schema is at migration {found}, newer than this build's {known}")]
    SchemaTooNew { found: i64, known: i64 },
}

/// A fresh in-memory database with every migration applied, for tests of code that runs
/// inside the writer's transaction.
#[cfg(any(test, feature = "test-util"))]
pub fn migrated_in_memory() -> Connection<'static> {
    let mut c = rusqlite::Connection::open_in_memory().expect("in-memory SQLite");
    schema::migrate(&mut c).expect("migrations");
    Connection::sqlite_owned(c)
}

/// Real PostgreSQL databases for tests: see [`pg::testing`].
#[cfg(any(test, feature = "test-util"))]
pub use pg::testing as pg_testing;

/// A status column, which only the store writes: anything else is a corrupt row.
pub fn parse_status(s: &str) -> Result<model::Status, StoreError> {
    model::Status::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown status {s:?}")))
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sql(e.into())
    }
}

impl StoreError {
    /// A UNIQUE constraint failed, e.g. a concurrent insert with the same idempotency key.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Sql(e) if e.is_unique_violation())
    }

    /// The database is away (or the connection to it broke): not the request's fault, and
    /// nothing it asked for was committed. The API answers 503 with `Retry-After`.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Sql(e) => e.is_unavailable(),
            _ => false,
        }
    }
}

/// Why a group did not commit: every write in it hears this.
#[derive(Clone, Debug)]
pub(crate) struct GroupFailure {
    pub(crate) detail: String,
    /// The database was unreachable, rather than refusing something.
    pub(crate) unavailable: bool,
}

impl GroupFailure {
    fn into_error(self) -> StoreError {
        if self.unavailable {
            StoreError::Unavailable(self.detail)
        } else {
            StoreError::Commit(self.detail)
        }
    }
}

type Reply = Box<dyn FnOnce(Result<(), GroupFailure>) + Send>;
/// What a write left for the writer: how to answer its caller once the group's fate is known,
/// and whether it failed without a savepoint of its own, which dooms the whole group.
pub(crate) struct Ran {
    pub(crate) reply: Reply,
    pub(crate) dooms_group: bool,
}
/// A write for the writer thread. Given no transaction, it is answered without running: the
/// database could not be reached to begin one.
pub(crate) type WriteJob = Box<dyn FnOnce(Option<&Transaction>) -> Ran + Send>;

pub struct Store {
    writer: mpsc::Sender<WriteJob>,
    readers: Mutex<Vec<Reader>>,
    /// One permit per read connection that may exist.
    reader_permits: tokio::sync::Semaphore,
    backend: Backend,
}

/// Which database, and what opening another read connection to it takes.
enum Backend {
    Sqlite { path: PathBuf },
    Postgres { url: String, io: pg::Io },
}

/// A read connection of either backend.
enum Reader {
    Sqlite(rusqlite::Connection),
    Postgres(PgConn),
}

impl Reader {
    fn conn(&self) -> Connection<'_> {
        match self {
            Reader::Sqlite(c) => Connection::sqlite(c),
            Reader::Postgres(c) => Connection::postgres(c),
        }
    }

    /// Whether it may go back to the pool: a PostgreSQL connection the server closed may not.
    fn reusable(&self) -> bool {
        match self {
            Reader::Sqlite(_) => true,
            Reader::Postgres(c) => !c.is_closed(),
        }
    }
}

impl Store {
    /// Open (creating if needed) `switchboard.db` in `data_dir` and run migrations.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::Open {
            path: data_dir.into(),
            detail: e.to_string(),
        })?;
        let path = data_dir.join("switchboard.db");
        let mut conn = rusqlite::Connection::open(&path).map_err(|e| StoreError::Open {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=FULL;
             PRAGMA foreign_keys=ON;
             PRAGMA busy_timeout=5000;
             PRAGMA wal_autocheckpoint=4000;
             PRAGMA temp_store=MEMORY;",
        )?;
        schema::migrate(&mut conn)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        count_statements(&conn);

        let (tx, rx) = mpsc::channel::<WriteJob>(65_536);
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| StoreError::Open {
                path: path.clone(),
                detail: e.to_string(),
            })?;
        Ok(Store {
            writer: tx,
            readers: Mutex::new(Vec::new()),
            reader_permits: tokio::sync::Semaphore::new(READERS),
            backend: Backend::Sqlite { path },
        })
    }

    /// Connect to the PostgreSQL database at `url` (`postgres://user:pass@host:port/db`) and
    /// apply its pending migrations. Any number of gateway processes may share the database;
    /// see [`pg`] for what that takes.
    pub fn open_postgres(url: &str) -> Result<Store, StoreError> {
        let io = pg::Io::start()?;
        let conn = pg::connect(url, &io)?;
        pg::migrate(&conn)?;
        let (tx, rx) = mpsc::channel::<WriteJob>(65_536);
        drop(conn);
        let url_for_writer = url.to_string();
        std::thread::Builder::new()
            .name("store-writer".into())
            // The writer connects on its own thread, to the runtime it keeps there; until it
            // has, groups fail as unavailable and it tries again.
            .spawn(move || match pg::Writer::new(url_for_writer) {
                Ok(writer) => writer.run(rx),
                Err(e) => tracing::error!(error = %e, "the store's writer cannot start"),
            })
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Store {
            writer: tx,
            readers: Mutex::new(Vec::new()),
            reader_permits: tokio::sync::Semaphore::new(READERS),
            backend: Backend::Postgres {
                url: url.to_string(),
                io,
            },
        })
    }

    /// Apply the PostgreSQL database's pending migrations and return how many ran
    /// (`switchboard migrate`); safe to run from several processes at once.
    pub fn migrate_postgres(url: &str) -> Result<usize, StoreError> {
        let io = pg::Io::start()?;
        let conn = pg::connect(url, &io)?;
        pg::migrate(&conn)
    }

    /// The SQLite file, or `None` on PostgreSQL.
    pub fn path(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Sqlite { path } => Some(path),
            Backend::Postgres { .. } => None,
        }
    }

    /// Whether this store is PostgreSQL, which several nodes may share.
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Postgres { .. })
    }

    /// How many times each table other nodes keep in memory has changed (`api_keys`,
    /// `connections`, `workspaces`); empty on SQLite, where no other node exists.
    pub async fn cache_epochs(&self) -> Result<Vec<(String, i64)>, StoreError> {
        if !self.is_shared() {
            return Ok(Vec::new());
        }
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT name, epoch FROM cache_epochs ORDER BY name")?
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?,
            )
        })
        .await
    }

    /// One round trip to the database, for `/healthz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| {
            c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?;
            Ok(())
        })
        .await
    }

    /// Run `f` in the next group commit; resolves after the commit is durable.
    ///
    /// This is the unit of work services compose: a service runs its rules and the store's
    /// table operations inside one `f`, and they commit (or roll back) together. `f` may fail
    /// with the service's own error type, which only has to carry a [`StoreError`]. `f` runs
    /// in a savepoint of its own, so when it fails, only its own work is undone and the rest
    /// of the group commits.
    pub async fn write<R, E, F>(&self, f: F) -> Result<R, E>
    where
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Transaction) -> Result<R, E> + Send + 'static,
    {
        self.submit(move |t: &Transaction| (in_savepoint(t, f), false))
            .await
    }

    /// [`Self::write`] without the savepoint, for the writes that run once or more per
    /// message and fail only when the database does (an I/O error, a full disk, a broken
    /// invariant that is a bug): the dispatcher's claims and completions, and provider
    /// reports. A savepoint is not free: SQLite copies every page the write touches that an
    /// earlier write of the group already changed, so it can roll back to it, and profiling
    /// put that at about 7 % of the gateway's CPU per SMS.
    ///
    /// The price is shared fate: when `f` fails, its partial work cannot be undone alone, so
    /// the whole group rolls back and every write in it fails with [`StoreError::Commit`]
    /// (the failing one with its own error). Nothing half-done is ever committed. A write
    /// that can fail as part of its normal business (a duplicate idempotency key, a rule
    /// refusing a change) must use [`Self::write`].
    pub async fn write_shared_fate<R, E, F>(&self, f: F) -> Result<R, E>
    where
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Transaction) -> Result<R, E> + Send + 'static,
    {
        self.submit(move |t: &Transaction| {
            let result = f(t);
            let failed = result.is_err();
            (result, failed)
        })
        .await
    }

    async fn submit<R, E, F>(&self, run: F) -> Result<R, E>
    where
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Transaction) -> (Result<R, E>, bool) + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: WriteJob = Box::new(move |t: Option<&Transaction>| {
            // `None`: not run, for the database could not be reached; the group's failure
            // says why.
            let (result, dooms_group) = match t.map(run) {
                Some((result, dooms_group)) => (Some(result), dooms_group),
                None => (None, false),
            };
            Ran {
                reply: Box::new(move |commit: Result<(), GroupFailure>| {
                    let _ = tx.send(match (commit, result) {
                        // A write that failed answers with its own error, whatever the group did.
                        (_, Some(Err(e))) => Err(e),
                        (Ok(()), Some(ok)) => ok,
                        (Err(e), _) => Err(e.into_error().into()),
                        (Ok(()), None) => Err(StoreError::Closed.into()),
                    });
                }),
                dooms_group,
            }
        });
        self.writer
            .send(job)
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Run `f` on a pooled read-only connection, off the async threads.
    pub async fn read<R, E, F>(&self, f: F) -> Result<R, E>
    where
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<R, E> + Send + 'static,
    {
        let _permit = self
            .reader_permits
            .acquire()
            .await
            .map_err(|_| StoreError::Closed)?;
        let conn = self.take_reader()?;
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let r = read_in_snapshot(&conn.conn(), f);
            (conn, r)
        })
        .await
        .map_err(|e| StoreError::Commit(e.to_string()))?;
        if conn.reusable() {
            self.readers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(conn);
        }
        result
    }

    /// Run `f` on a pooled read-only connection on the caller's own thread.
    ///
    /// Only for a few lookups by index, the kind that finish in microseconds from pages the
    /// OS already holds: handing them to the blocking pool cost more (a thread wake-up each way)
    /// than the lookups. Anything that scans, or may wait on the disk, goes through
    /// [`Self::read`].
    pub fn read_now<R, E, F>(&self, f: F) -> Result<R, E>
    where
        E: From<StoreError>,
        F: FnOnce(&Connection) -> Result<R, E>,
    {
        // Never waits for a permit: with every pooled connection busy, one more is opened.
        let conn = self.take_reader()?;
        let result = f(&conn.conn());
        let mut readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if readers.len() < READERS && conn.reusable() {
            readers.push(conn);
        }
        result
    }

    fn take_reader(&self) -> Result<Reader, StoreError> {
        if let Some(c) = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            return Ok(c);
        }
        match &self.backend {
            Backend::Sqlite { path } => {
                let c = rusqlite::Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.execute_batch("PRAGMA busy_timeout=5000;")?;
                c.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
                count_statements(&c);
                Ok(Reader::Sqlite(c))
            }
            Backend::Postgres { url, io } => Ok(Reader::Postgres(pg::connect(url, io)?)),
        }
    }
}

/// Run a read's statements against one snapshot. On PostgreSQL each statement outside a
/// transaction sees the commits made up to its own start, so a view read in several
/// statements (a delivery, then its attempts) could mix two moments: an attempt recorded
/// between them, with the delivery's next attempt still the old one. A read-only
/// repeatable-read transaction makes every statement see the same moment. (SQLite's read
/// connections keep their behaviour; the one writer's group commits make such a mix rare
/// there, and the statement counts of the write path are measured without it.)
fn read_in_snapshot<R, E, F>(c: &Connection, f: F) -> Result<R, E>
where
    E: From<StoreError>,
    F: FnOnce(&Connection) -> Result<R, E>,
{
    if !c.is_postgres() {
        return f(c);
    }
    c.execute_batch("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .map_err(StoreError::from)?;
    let result = f(c);
    // Read only: nothing to keep, so a failed read and a finished one end alike; an error
    // ending it means the connection broke, and the pool drops a closed one.
    let _ = c.execute_batch(if result.is_ok() { "COMMIT" } else { "ROLLBACK" });
    result
}

/// One page of a listing read with `LIMIT limit + 1`: the extra row is not shown, it only
/// proves there is a next page, which starts after the last row kept (`cursor` of it).
pub fn split_page<T>(
    mut rows: Vec<T>,
    limit: u32,
    cursor: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    if rows.len() <= limit as usize {
        return (rows, None);
    }
    rows.truncate(limit as usize);
    let next = rows.last().map(cursor);
    (rows, next)
}

fn in_savepoint<R, E: From<StoreError>>(
    t: &Transaction,
    f: impl FnOnce(&Transaction) -> Result<R, E>,
) -> Result<R, E> {
    let sql = |t: &Transaction, stmt: &str| -> Result<(), StoreError> {
        // Cached statements: these run twice per write, thousands of times a second.
        t.prepare_cached(stmt)?.execute([])?;
        Ok(())
    };
    sql(t, "SAVEPOINT op")?;
    match f(t) {
        Ok(v) => {
            sql(t, "RELEASE op")?;
            Ok(v)
        }
        Err(e) => {
            sql(t, "ROLLBACK TO op")?;
            sql(t, "RELEASE op")?;
            Err(e)
        }
    }
}

/// The writes waiting for the writer: the first one it blocked for and every one queued
/// behind it, up to [`MAX_GROUP`].
pub(crate) fn next_group(rx: &mut mpsc::Receiver<WriteJob>) -> Option<Vec<WriteJob>> {
    let first = rx.blocking_recv()?;
    let mut jobs = vec![first];
    while jobs.len() < MAX_GROUP {
        match rx.try_recv() {
            Ok(j) => jobs.push(j),
            Err(_) => break,
        }
    }
    Some(jobs)
}

fn writer_loop(mut conn: rusqlite::Connection, mut rx: mpsc::Receiver<WriteJob>) {
    while let Some(jobs) = next_group(&mut rx) {
        let tx = match conn.transaction() {
            Ok(tx) => tx,
            Err(e) => {
                tracing::error!(error = %e, "cannot begin transaction");
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
        };
        let t = Transaction::sqlite(&tx);
        let ran: Vec<Ran> = jobs.into_iter().map(|job| job(Some(&t))).collect();
        drop(t);
        let outcome = if ran.iter().any(|r| r.dooms_group) {
            // A write without a savepoint failed halfway: only rolling back everything
            // undoes its part.
            Err(GroupFailure {
                detail: match tx.rollback() {
                    Ok(()) => "rolled back: a write in the same commit failed".to_string(),
                    Err(e) => format!("a write in the same commit failed; rollback: {e}"),
                },
                unavailable: false,
            })
        } else {
            tx.commit().map_err(|e| GroupFailure {
                detail: e.to_string(),
                unavailable: false,
            })
        };
        if let Err(e) = &outcome {
            tracing::error!(error = %e.detail, "group commit failed");
        }
        for r in ran {
            (r.reply)(outcome.clone());
        }
    }
}

#[cfg(test)]
mod tests;
