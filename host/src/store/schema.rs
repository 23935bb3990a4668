//! Versioned migrations, tracked in `PRAGMA user_version`. Append only: a released migration
//! never changes.

use rusqlite::Connection;

use super::StoreError;

const MIGRATIONS: &[&str] = &[
    // 1: the core gateway.
    "CREATE TABLE workspaces (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE api_keys (
        key_hash TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id),
        prefix TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE connections (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id),
        channel TEXT NOT NULL,
        plugin TEXT NOT NULL,
        name TEXT NOT NULL,
        config TEXT NOT NULL,
        secrets TEXT NOT NULL,
        allowed_origins TEXT NOT NULL,
        max_in_flight INTEGER NOT NULL,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX connections_ws_channel ON connections(workspace_id, channel);
    CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id),
        channel TEXT NOT NULL,
        status TEXT NOT NULL,
        request TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        idempotency_key TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX messages_idempotency ON messages(workspace_id, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
    CREATE INDEX messages_ws_id ON messages(workspace_id, id);
    CREATE TABLE deliveries (
        id TEXT PRIMARY KEY,
        message_id TEXT NOT NULL REFERENCES messages(id),
        connection_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        status TEXT NOT NULL,
        provider_message_id TEXT,
        product TEXT,
        units INTEGER,
        encoding TEXT,
        country TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        lease_token TEXT,
        lease_until INTEGER,
        failure_reason TEXT,
        failure_code TEXT,
        failure_detail TEXT,
        failure_retryable INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX deliveries_message ON deliveries(message_id);
    CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE next_attempt_at IS NOT NULL;
    CREATE UNIQUE INDEX deliveries_provider_id ON deliveries(connection_id, provider_message_id)
        WHERE provider_message_id IS NOT NULL;
    CREATE TABLE attempts (
        delivery_id TEXT NOT NULL REFERENCES deliveries(id),
        number INTEGER NOT NULL,
        started_at INTEGER NOT NULL,
        finished_at INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        reason TEXT,
        provider_code TEXT,
        detail TEXT,
        retry_after_ms INTEGER,
        PRIMARY KEY (delivery_id, number)
    );
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        delivery_id TEXT NOT NULL,
        status TEXT NOT NULL,
        at INTEGER NOT NULL,
        source TEXT NOT NULL,
        detail TEXT,
        applied INTEGER NOT NULL
    );
    CREATE INDEX events_delivery ON events(delivery_id, seq);
    -- Callbacks that arrive before the send that produced their provider id is recorded.
    CREATE TABLE early_callbacks (
        seq INTEGER PRIMARY KEY,
        connection_id TEXT NOT NULL,
        provider_message_id TEXT NOT NULL,
        status TEXT NOT NULL,
        at INTEGER NOT NULL,
        detail TEXT,
        failure_reason TEXT,
        failure_code TEXT
    );
    CREATE INDEX early_callbacks_key ON early_callbacks(connection_id, provider_message_id);",
];

pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: usize =
        conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    if current > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "database schema version {current} is newer than this binary ({}); refusing to run",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied migration");
    }
    Ok(())
}
