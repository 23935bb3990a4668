//! Versioned migrations, tracked in `PRAGMA user_version`. Append only: a released migration
//! never changes.

use rusqlite::Connection;

use super::StoreError;

mod console;

/// Migrations 1 to 7: the gateway as PostgreSQL's `pg/schema.sql` mirrors it in one script.
/// The later ones (the console, conversations, rules: PostgreSQL's 3 to 6) are in
/// [`console::MIGRATIONS`], applied after these in the same numbering.
const CORE: &[&str] = &[
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
    // 2: every channel: contacts, their addresses and history, delivery addresses for
    // watermarks, resend bookkeeping, reconnects and URL block lists.
    "ALTER TABLE deliveries ADD COLUMN address_kind TEXT;
    ALTER TABLE deliveries ADD COLUMN address TEXT;
    ALTER TABLE deliveries ADD COLUMN sent_at INTEGER;
    ALTER TABLE deliveries ADD COLUMN failed_at INTEGER;
    CREATE INDEX deliveries_address ON deliveries(connection_id, address, sent_at)
        WHERE address IS NOT NULL;
    ALTER TABLE messages ADD COLUMN contact_id TEXT;
    ALTER TABLE messages ADD COLUMN resend_of TEXT;
    -- A message is resent once: the index makes a second resend impossible, not just unlikely.
    CREATE UNIQUE INDEX messages_resend_of ON messages(resend_of) WHERE resend_of IS NOT NULL;
    ALTER TABLE connections ADD COLUMN reconnected_at INTEGER;
    ALTER TABLE connections ADD COLUMN status_detail TEXT;
    CREATE TABLE contacts (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id),
        name TEXT,
        first_active_at INTEGER,
        last_active_at INTEGER,
        inbound_messages INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX contacts_ws_id ON contacts(workspace_id, id);
    -- scope is the connection for page-scoped ids (a PSID means nothing on another page),
    -- empty for global addresses (phone, email, push token).
    CREATE TABLE contact_addresses (
        workspace_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        scope TEXT NOT NULL,
        address TEXT NOT NULL,
        contact_id TEXT NOT NULL REFERENCES contacts(id),
        platform TEXT,
        valid INTEGER NOT NULL DEFAULT 1,
        invalid_reason TEXT,
        invalidated_at INTEGER,
        last_inbound_at INTEGER,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, kind, scope, address)
    );
    CREATE INDEX contact_addresses_contact ON contact_addresses(contact_id);
    CREATE TABLE contact_messages (
        seq INTEGER PRIMARY KEY,
        contact_id TEXT NOT NULL REFERENCES contacts(id),
        connection_id TEXT NOT NULL,
        provider_message_id TEXT NOT NULL,
        direction TEXT NOT NULL,
        text TEXT,
        at INTEGER NOT NULL,
        source TEXT NOT NULL,
        UNIQUE (connection_id, provider_message_id)
    );
    CREATE INDEX contact_messages_contact ON contact_messages(contact_id, at);
    CREATE TABLE blocked_urls (
        connection_id TEXT NOT NULL,
        url TEXT NOT NULL,
        reason TEXT NOT NULL,
        message_id TEXT,
        added_at INTEGER NOT NULL,
        PRIMARY KEY (connection_id, url)
    );",
    // 3: routing policies, per-message route state with durable step deadlines, opt-outs.
    "CREATE TABLE policies (
        workspace_id TEXT NOT NULL,
        name TEXT NOT NULL,
        definition TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, name)
    );
    ALTER TABLE messages ADD COLUMN route_policy TEXT;
    ALTER TABLE messages ADD COLUMN route_outcome TEXT;
    ALTER TABLE deliveries ADD COLUMN step INTEGER;
    CREATE TABLE route_steps (
        message_id TEXT NOT NULL REFERENCES messages(id),
        step INTEGER NOT NULL,
        state TEXT NOT NULL,
        started_at INTEGER,
        deadline_at INTEGER,
        finished_at INTEGER,
        detail TEXT,
        dirty INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (message_id, step)
    );
    -- The router's two questions, both answered from an index: what changed, what is due.
    CREATE INDEX route_steps_dirty ON route_steps(message_id) WHERE dirty = 1 AND state = 'running';
    CREATE INDEX route_steps_due ON route_steps(deadline_at) WHERE state = 'running';
    CREATE TABLE route_entries (
        message_id TEXT NOT NULL,
        step INTEGER NOT NULL,
        lane INTEGER NOT NULL,
        position INTEGER NOT NULL,
        channel TEXT NOT NULL,
        connection_id TEXT,
        product TEXT,
        units INTEGER,
        encoding TEXT,
        country TEXT,
        address_kind TEXT,
        address TEXT,
        skip_reason TEXT,
        skip_detail TEXT,
        delivery_id TEXT,
        state TEXT NOT NULL,
        PRIMARY KEY (message_id, step, lane, position)
    );
    CREATE TABLE opt_outs (
        workspace_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        address TEXT NOT NULL,
        detail TEXT,
        at INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, channel, address)
    );",
    // 4: conversations and presence, for follow-up notifications.
    "CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        contact_id TEXT NOT NULL REFERENCES contacts(id),
        started_by TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        UNIQUE (workspace_id, contact_id)
    );
    CREATE TABLE conversation_messages (
        seq INTEGER PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations(id),
        author TEXT NOT NULL,
        text TEXT NOT NULL,
        marketing INTEGER NOT NULL DEFAULT 0,
        template TEXT,
        at INTEGER NOT NULL,
        seen_at INTEGER,
        follow_up_message_id TEXT
    );
    CREATE INDEX conversation_messages_conv ON conversation_messages(conversation_id, seq);
    CREATE TABLE presence (
        workspace_id TEXT NOT NULL,
        contact_id TEXT NOT NULL,
        state TEXT NOT NULL,
        last_activity_at INTEGER NOT NULL,
        offline_at INTEGER,
        follow_up_due INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (workspace_id, contact_id)
    );
    CREATE INDEX presence_due ON presence(offline_at) WHERE state = 'online';
    CREATE INDEX presence_follow_up ON presence(follow_up_due) WHERE follow_up_due = 1;",
    // 5: the wallet. A double-entry ledger (append-only: triggers refuse UPDATE and DELETE),
    // balances kept in step in the same transaction, holds per delivery, prices, top-ups,
    // and API key scopes (billing staff get keys that only reach /v1/billing).
    "CREATE TABLE ledger_transactions (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        delivery_id TEXT,
        memo TEXT NOT NULL,
        at INTEGER NOT NULL
    );
    CREATE TABLE ledger_entries (
        seq INTEGER PRIMARY KEY,
        txn_id TEXT NOT NULL REFERENCES ledger_transactions(id),
        workspace_id TEXT NOT NULL,
        account TEXT NOT NULL,
        amount INTEGER NOT NULL,
        balance_after INTEGER NOT NULL,
        at INTEGER NOT NULL
    );
    CREATE INDEX ledger_entries_ws ON ledger_entries(workspace_id, seq);
    CREATE TRIGGER ledger_entries_append_only_u BEFORE UPDATE ON ledger_entries
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
    CREATE TRIGGER ledger_entries_append_only_d BEFORE DELETE ON ledger_entries
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
    CREATE TRIGGER ledger_transactions_append_only_u BEFORE UPDATE ON ledger_transactions
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
    CREATE TRIGGER ledger_transactions_append_only_d BEFORE DELETE ON ledger_transactions
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
    CREATE TABLE balances (
        account TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        balance INTEGER NOT NULL
    );
    CREATE TABLE wallets (
        workspace_id TEXT PRIMARY KEY,
        currency TEXT NOT NULL,
        plan TEXT NOT NULL,
        credit_month TEXT,
        auto_enabled INTEGER NOT NULL DEFAULT 0,
        auto_threshold INTEGER NOT NULL DEFAULT 0,
        auto_amount INTEGER NOT NULL DEFAULT 0,
        auto_monthly_cap INTEGER NOT NULL DEFAULT 0,
        auto_card TEXT,
        auto_status TEXT NOT NULL DEFAULT 'off',
        auto_status_detail TEXT
    );
    CREATE TABLE holds (
        delivery_id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        product TEXT NOT NULL,
        country TEXT NOT NULL,
        units INTEGER NOT NULL,
        unit_price INTEGER NOT NULL,
        price_id INTEGER,
        credit_amount INTEGER NOT NULL,
        paid_amount INTEGER NOT NULL,
        month TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        settled_at INTEGER
    );
    CREATE INDEX holds_ws_settled ON holds(workspace_id, state, settled_at);
    CREATE INDEX holds_message ON holds(message_id);
    CREATE TABLE prices (
        id INTEGER PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        product TEXT NOT NULL,
        country TEXT NOT NULL,
        currency TEXT NOT NULL,
        unit_price INTEGER NOT NULL,
        effective_from INTEGER NOT NULL,
        source TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX prices_lookup ON prices(channel, product, country, effective_from);
    CREATE TABLE topups (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        amount INTEGER NOT NULL,
        currency TEXT NOT NULL,
        card TEXT NOT NULL,
        month TEXT NOT NULL,
        state TEXT NOT NULL,
        charge_id TEXT,
        decline_code TEXT,
        detail TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        created_at INTEGER NOT NULL,
        settled_at INTEGER
    );
    CREATE INDEX topups_pending ON topups(next_attempt_at) WHERE state = 'pending';
    CREATE INDEX topups_ws ON topups(workspace_id, created_at);
    ALTER TABLE deliveries ADD COLUMN cost INTEGER;
    ALTER TABLE api_keys ADD COLUMN scope TEXT NOT NULL DEFAULT 'full';
    ALTER TABLE route_entries ADD COLUMN drop_subject INTEGER NOT NULL DEFAULT 0;",
    // 6: tenancy. Named API keys with a set of scopes (send, read, billing, admin) that can
    // be revoked; connections sealed at rest (the `secrets` column now holds an AEAD
    // envelope; rows written before this are sealed at start-up) and soft-deleted; the event
    // log every status change writes to, and the business endpoints it is delivered to.
    "ALTER TABLE api_keys ADD COLUMN id TEXT;
    ALTER TABLE api_keys ADD COLUMN name TEXT NOT NULL DEFAULT '';
    ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
    ALTER TABLE api_keys ADD COLUMN revoked_at INTEGER;
    UPDATE api_keys SET id = 'key_' || substr(key_hash, 1, 24),
        scopes = CASE scope WHEN 'billing' THEN 'billing' ELSE 'send read admin' END;
    ALTER TABLE api_keys DROP COLUMN scope;
    CREATE UNIQUE INDEX api_keys_id ON api_keys(id);
    CREATE INDEX api_keys_ws ON api_keys(workspace_id, created_at);
    ALTER TABLE connections ADD COLUMN deleted_at INTEGER;
    ALTER TABLE wallets ADD COLUMN low_balance_alert INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE workspace_events (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        workspace_id TEXT NOT NULL,
        type TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX workspace_events_ws ON workspace_events(workspace_id, seq);
    CREATE TABLE workspace_event_cursor (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL
    );
    INSERT INTO workspace_event_cursor (id, seq) VALUES (1, 0);
    CREATE TABLE webhook_endpoints (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id),
        url TEXT NOT NULL,
        description TEXT NOT NULL,
        event_types TEXT NOT NULL,
        secret TEXT NOT NULL,
        previous_secret TEXT,
        previous_until INTEGER,
        status TEXT NOT NULL,
        status_detail TEXT,
        failing_since INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        deleted_at INTEGER
    );
    CREATE INDEX webhook_endpoints_ws ON webhook_endpoints(workspace_id);
    CREATE TABLE webhook_deliveries (
        id TEXT PRIMARY KEY,
        endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id),
        event_id TEXT NOT NULL REFERENCES workspace_events(id),
        workspace_id TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        lease_until INTEGER,
        last_status INTEGER,
        last_error TEXT,
        replay INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE state = 'pending';
    CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, created_at);
    CREATE TABLE webhook_attempts (
        delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id),
        number INTEGER NOT NULL,
        at INTEGER NOT NULL,
        status INTEGER,
        error TEXT,
        duration_ms INTEGER NOT NULL,
        PRIMARY KEY (delivery_id, number)
    );",
    // 7: receipts that raced their send. Each contact's highest watermark per status is kept
    // (`watermarks`), so a delivery whose send is recorded after the watermark arrived (its
    // answer was slow) is still covered.
    // Status lookups. A delivery left at `sent` because its callbacks were lost (posted
    // while the gateway was down) is looked up at the provider: `lookups` counts the tries
    // and `lookup_at` spaces them. The partial index holds only the deliveries at `sent`, so
    // finding the stale ones never scans delivered history.
    // An attempt whose request may have reached the provider while its answer was lost is
    // marked, so a later accepted attempt (the provider's idempotent replay) can date the
    // send from it.
    "ALTER TABLE deliveries ADD COLUMN lookups INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE attempts ADD COLUMN answer_lost INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE watermarks (
        connection_id TEXT NOT NULL,
        address TEXT NOT NULL,
        status TEXT NOT NULL,
        watermark INTEGER NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (connection_id, address, status)
    );
    ALTER TABLE deliveries ADD COLUMN lookup_at INTEGER;
    CREATE INDEX deliveries_at_sent ON deliveries(updated_at) WHERE status = 'sent';",
];

pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: usize =
        conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    let all = CORE.len() + console::MIGRATIONS.len();
    if current > all {
        return Err(StoreError::Corrupt(format!(
            "database schema version {current} is newer than this binary ({all}); refusing to run"
        )));
    }
    let migrations = CORE.iter().chain(console::MIGRATIONS);
    for (i, sql) in migrations.enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied migration");
    }
    Ok(())
}
