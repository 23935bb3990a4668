//! PostgreSQL: the backend for many gateway nodes on one database.
//!
//! The table operations are the same ones SQLite runs ([`crate::sql`] speaks to either); what
//! differs is around them:
//!
//! - **I/O.** Every connection's socket is driven by a task on [`Io`], a one-thread runtime of
//!   the store's own, so the writer thread and the read paths block only on an answer, never
//!   on a runtime of the caller's.
//! - **Migrations.** [`migrate`] applies the scripts of [`MIGRATIONS`] in order, each in its
//!   own transaction, recording them in `switchboard_migrations`, under a session advisory
//!   lock: nodes that start together queue on the lock, and the later ones find nothing left
//!   to do.
//! - **Writes.** Each node keeps SQLite's design: one writer thread that commits what was
//!   submitted meanwhile as one transaction. Across nodes, every group first takes one
//!   transaction-scoped advisory lock ([`WRITE_LOCK`]), so groups of different nodes commit one
//!   after the other. Why: a group holds the row locks of hundreds of writes until it commits,
//!   and two such groups touching the same wallet and ledger rows in different orders would
//!   deadlock; PostgreSQL only finds a deadlock after `deadlock_timeout` (a second) and then
//!   fails a whole group's writes. One lock taken first cannot deadlock, and group commit
//!   already amortises the wait: a node that waits gathers a larger group. Work is still
//!   claimed with `FOR UPDATE SKIP LOCKED` and leases, so the claims stay right for any reader
//!   that does not take the lock, and a node that dies mid-lease has its work taken over
//!   when the lease ends.
//! - **Failures.** A connection the server closed is replaced on the next group; while the
//!   server is unreachable every write fails at once with [`StoreError::Unavailable`]
//!   (the API answers 503), and nothing half-done is committed.

#[cfg(any(test, feature = "test-util"))]
pub mod testing;

use std::time::Duration;

use tokio::sync::mpsc;

use crate::sql::{Connection, PgConn};
use crate::{GroupFailure, Ran, StoreError, WriteJob, next_group};

/// PostgreSQL migrations, append only: a released script never changes, a change is a new
/// script. Migration 1 is the end state of SQLite's migrations 1..7.
const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("002_cache_epochs.sql"),
    include_str!("003_members.sql"),
    include_str!("004_console.sql"),
    include_str!("005_conversation_states.sql"),
    include_str!("006_results_and_rules.sql"),
    include_str!("007_delivery_truth.sql"),
    include_str!("008_conversation_channels.sql"),
    include_str!("009_bot_hosting.sql"),
    include_str!("010_automations.sql"),
    include_str!("011_automation_runs.sql"),
    include_str!("012_sender_domains.sql"),
    include_str!("013_chat_switch.sql"),
    include_str!("014_conversation_records.sql"),
];

/// The session advisory lock migrations run under (any constant; "SWBD" + 1).
const MIGRATION_LOCK: i64 = 0x5357_4244_0000_0001;
/// The transaction advisory lock every write group takes first (see the module guide).
const WRITE_LOCK: i64 = 0x5357_4244_0000_0002;
/// How long opening a connection may take before the database counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The runtime that drives every PostgreSQL connection of one store.
pub(crate) struct Io {
    runtime: Option<tokio::runtime::Runtime>,
}

impl Io {
    pub(crate) fn start() -> Result<Io, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("store-pg-io")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Unavailable(format!("cannot start the I/O thread: {e}")))?;
        Ok(Io {
            runtime: Some(runtime),
        })
    }

    pub(crate) fn handle(&self) -> tokio::runtime::Handle {
        match &self.runtime {
            Some(r) => r.handle().clone(),
            None => unreachable!("the runtime lives until the store is dropped"),
        }
    }
}

impl Drop for Io {
    fn drop(&mut self) {
        // A store may be dropped on an async thread, where a runtime must not block to stop.
        if let Some(r) = self.runtime.take() {
            r.shutdown_background();
        }
    }
}

/// A new connection to `url`, with a deadline on connecting.
pub(crate) fn connect(url: &str, io: &Io) -> Result<PgConn, StoreError> {
    connect_on(url, &io.handle())
}

fn config(url: &str) -> Result<tokio_postgres::Config, StoreError> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| StoreError::Unavailable(format!("the database URL: {e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    config.application_name("switchboard");
    // A server that vanishes without closing the socket (a partition, a dead machine) must
    // not hold the writer forever: keepalives notice an idle peer is gone, and the user
    // timeout a peer that stopped acknowledging what was sent. Either way the statement fails
    // as unavailable (a 503) and the connection is replaced.
    config.keepalives(true);
    config.keepalives_idle(Duration::from_secs(10));
    config.keepalives_interval(Duration::from_secs(2));
    config.keepalives_retries(3);
    config.tcp_user_timeout(Duration::from_secs(15));
    // Notices ("relation … already exists, skipping") are not worth an operator's log line.
    let options = format!(
        "{} -c client_min_messages=warning",
        config.get_options().unwrap_or_default()
    );
    config.options(options.trim());
    Ok(config)
}

fn connect_on(url: &str, io: &tokio::runtime::Handle) -> Result<PgConn, StoreError> {
    let config = config(url)?;
    let handle = io.clone();
    // Connecting needs a runtime; the I/O thread's is the one, and this thread may be one of
    // another runtime's (where blocking on a second runtime is refused), so it waits on a
    // channel instead.
    let (tx, rx) = std::sync::mpsc::channel();
    io.spawn(async move {
        let _ = tx.send(
            config
                .connect(tokio_postgres::NoTls)
                .await
                .map(|(client, connection)| {
                    handle.spawn(async move {
                        if let Err(e) = connection.await {
                            tracing::warn!(error = %e, "a PostgreSQL connection ended");
                        }
                    });
                    client
                }),
        );
    });
    let client = rx
        .recv()
        .map_err(|_| StoreError::Unavailable("the I/O thread stopped".into()))?
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    Ok(PgConn::new(client))
}

/// Apply pending migrations; returns how many ran.
pub(crate) fn migrate(conn: &PgConn) -> Result<usize, StoreError> {
    let c = Connection::postgres(conn);
    c.execute_batch(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
    let result = apply(&c);
    let unlock = c.execute_batch(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
    let applied = result?;
    unlock?;
    Ok(applied)
}

fn apply(c: &Connection) -> Result<usize, StoreError> {
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS switchboard_migrations (
             version BIGINT PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )?;
    let current: i64 = c.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM switchboard_migrations",
        [],
        |r| r.get(0),
    )?;
    let known = MIGRATIONS.len() as i64;
    if current > known {
        return Err(StoreError::SchemaTooNew {
            found: current,
            known,
        });
    }
    let mut applied = 0;
    for (i, script) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = i as i64 + 1;
        c.execute_batch("BEGIN")?;
        let step = c.execute_batch(script).and_then(|()| {
            c.execute(
                "INSERT INTO switchboard_migrations (version) VALUES (?1)",
                [version],
            )
            .map(drop)
        });
        match step {
            Ok(()) => c.execute_batch("COMMIT")?,
            Err(e) => {
                let _ = c.execute_batch("ROLLBACK");
                return Err(e.into());
            }
        }
        tracing::info!(version, "applied a PostgreSQL migration");
        applied += 1;
    }
    Ok(applied)
}

/// The writer thread of a PostgreSQL store: group commit, as on SQLite, on a connection it
/// replaces when the server closes it.
pub(crate) struct Writer {
    url: String,
    /// The writer thread's own runtime, which drives its connection's socket on that same
    /// thread: a statement is a system call and a wait, not two thread hand-offs as well.
    runtime: std::sync::Arc<tokio::runtime::Runtime>,
    conn: Option<PgConn>,
}

impl Writer {
    pub(crate) fn new(url: String) -> Result<Writer, StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Unavailable(format!("the writer's runtime: {e}")))?;
        Ok(Writer {
            url,
            runtime: std::sync::Arc::new(runtime),
            conn: None,
        })
    }

    /// A connection driven by this thread's runtime.
    fn connect(&self) -> Result<PgConn, StoreError> {
        let config = config(&self.url)?;
        let (client, connection) = self
            .runtime
            .block_on(config.connect(tokio_postgres::NoTls))
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        self.runtime.spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "the writer's PostgreSQL connection ended");
            }
        });
        Ok(PgConn::on_local_runtime(client, self.runtime.clone()))
    }

    pub(crate) fn run(mut self, mut rx: mpsc::Receiver<WriteJob>) {
        while let Some(jobs) = next_group(&mut rx) {
            let outcome = self.commit_group(jobs);
            if let Err(failure) = &outcome
                && failure.unavailable
            {
                // Do not spin on a database that is away: the writes queued meanwhile will
                // try again (and fail at once, if it is still away) after a pause.
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    /// Run one group in one transaction and answer every write in it.
    fn commit_group(&mut self, jobs: Vec<WriteJob>) -> Result<(), GroupFailure> {
        let begun = self.begin();
        let conn = match begun {
            Ok(conn) => conn,
            Err(failure) => {
                for job in jobs {
                    (job(None).reply)(Err(failure.clone()));
                }
                return Err(failure);
            }
        };
        let t = Connection::postgres(conn);
        let ran: Vec<Ran> = jobs.into_iter().map(|job| job(Some(&t))).collect();
        let outcome = if ran.iter().any(|r| r.dooms_group) {
            let rollback = t.execute_batch("ROLLBACK");
            // The write that failed may have failed because the server went away: then the
            // group's companions are told the database is unavailable (a 503), not that
            // something went wrong with them.
            let lost = conn.is_closed() || rollback.as_ref().is_err_and(|e| e.is_unavailable());
            Err(GroupFailure {
                detail: match rollback {
                    Ok(()) => "rolled back: a write in the same commit failed".to_string(),
                    Err(e) => format!("a write in the same commit failed; rollback: {e}"),
                },
                unavailable: lost,
            })
        } else {
            // PostgreSQL answers COMMIT of a transaction an error has aborted with a silent
            // ROLLBACK, so ask first: in an aborted transaction any statement fails.
            t.execute_batch("SELECT 1")
                .and_then(|()| t.execute_batch("COMMIT"))
                .map_err(|e| {
                    let _ = t.execute_batch("ROLLBACK");
                    GroupFailure {
                        unavailable: e.is_unavailable(),
                        detail: e.to_string(),
                    }
                })
        };
        if let Err(e) = &outcome {
            tracing::error!(error = %e.detail, "group commit failed");
        }
        if self.conn.as_ref().is_some_and(PgConn::is_closed) {
            self.conn = None;
        }
        for r in ran {
            (r.reply)(outcome.clone());
        }
        outcome
    }

    /// A connection inside a new transaction that holds the cluster's write lock.
    fn begin(&mut self) -> Result<&PgConn, GroupFailure> {
        // A connection the server closed while idle fails its first statement; nothing has
        // run yet, so one fresh connection is tried before the group is failed.
        for attempt in 0..2 {
            if self.conn.as_ref().is_none_or(PgConn::is_closed) {
                self.conn = None;
                match self.connect() {
                    Ok(c) => self.conn = Some(c),
                    Err(e) => {
                        return Err(GroupFailure {
                            detail: e.to_string(),
                            unavailable: true,
                        });
                    }
                }
            }
            let Some(conn) = self.conn.as_ref() else {
                continue;
            };
            let c = Connection::postgres(conn);
            match c.execute_batch(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})"
            )) {
                Ok(()) => break,
                Err(e) if attempt == 0 && e.is_unavailable() => self.conn = None,
                Err(e) => {
                    let _ = c.execute_batch("ROLLBACK");
                    return Err(GroupFailure {
                        unavailable: e.is_unavailable(),
                        detail: e.to_string(),
                    });
                }
            }
        }
        self.conn.as_ref().ok_or_else(|| GroupFailure {
            detail: "no connection to the database".into(),
            unavailable: true,
        })
    }
}
