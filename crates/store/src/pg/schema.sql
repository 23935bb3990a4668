-- PostgreSQL schema, migration 1: the end state of the SQLite migrations 1..7 in
-- crates/store/src/schema.rs (SQLite user_version 7), as one script. Later changes are new
-- PostgreSQL migrations, append only, like SQLite's.
--
-- Run it inside one transaction (the migration runner's, or psql --single-transaction): it
-- has no BEGIN/COMMIT of its own. It holds a dollar-quoted function body, so send it whole
-- (simple query protocol, e.g. batch_execute), never split on ';'.
--
-- How it maps SQLite:
-- - Every INTEGER is BIGINT, flags included (0/1, never BOOLEAN): the code binds every integer
--   as 64 bits and reads flags as integers, and the partial indexes compare them with 1.
-- - INTEGER PRIMARY KEY (a rowid alias, numbered when the insert leaves it out) is an identity
--   column. Unlike a rowid it never hands out a number again after the highest row is
--   deleted. Rows copied in with their ids need setval() on the identity's sequence afterwards.
-- - SQLite lets NULL into a TEXT PRIMARY KEY column (a long-standing quirk); PostgreSQL does
--   not. Nothing writes NULL keys, so this only makes explicit what the code already assumes.
-- - PRAGMA user_version has no counterpart: the runner records which PostgreSQL migrations
--   ran. PRAGMA foreign_keys=ON is PostgreSQL's only behaviour. The connection PRAGMAs in
--   lib.rs (journal_mode, synchronous, busy_timeout, ...) are server or session settings here
--   (synchronous_commit, lock_timeout), not schema.
-- - The ledger's append-only triggers are plpgsql (below).
-- - Text compares and sorts bytewise in SQLite (BINARY); a database with another collation
--   orders ids and names differently, so create it with LC_COLLATE C (tools/pg-cluster's
--   initdb does: --locale=C).

-- 1: the core gateway.

CREATE TABLE workspaces (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Migration 6 replaced migration 5's single `scope` with named, revocable keys holding a set of
-- scopes. `id` stays nullable as in SQLite, where it was added to a table that had rows.
CREATE TABLE api_keys (
    key_hash TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    prefix TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    id TEXT,
    name TEXT NOT NULL DEFAULT '',
    scopes TEXT NOT NULL DEFAULT '',
    revoked_at BIGINT
);
CREATE UNIQUE INDEX api_keys_id ON api_keys(id);
CREATE INDEX api_keys_ws ON api_keys(workspace_id, created_at);

-- `secrets` holds an AEAD envelope; a deleted connection is kept, with `deleted_at` set.
CREATE TABLE connections (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    channel TEXT NOT NULL,
    plugin TEXT NOT NULL,
    name TEXT NOT NULL,
    config TEXT NOT NULL,
    secrets TEXT NOT NULL,
    allowed_origins TEXT NOT NULL,
    max_in_flight BIGINT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    reconnected_at BIGINT,
    status_detail TEXT,
    deleted_at BIGINT
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
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    contact_id TEXT,
    resend_of TEXT,
    route_policy TEXT,
    route_outcome TEXT
);
CREATE UNIQUE INDEX messages_idempotency ON messages(workspace_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_ws_id ON messages(workspace_id, id);
-- A message is resent once: the index makes a second resend impossible, not just unlikely.
CREATE UNIQUE INDEX messages_resend_of ON messages(resend_of) WHERE resend_of IS NOT NULL;

-- A delivery left at `sent` because its callbacks were lost (posted while the gateway was
-- down) is looked up at the provider: `lookups` counts the tries and `lookup_at` spaces them.
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL REFERENCES messages(id),
    connection_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    provider_message_id TEXT,
    product TEXT,
    units BIGINT,
    encoding TEXT,
    country TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    lease_token TEXT,
    lease_until BIGINT,
    failure_reason TEXT,
    failure_code TEXT,
    failure_detail TEXT,
    failure_retryable BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    address_kind TEXT,
    address TEXT,
    sent_at BIGINT,
    failed_at BIGINT,
    step BIGINT,
    cost BIGINT,
    lookups BIGINT NOT NULL DEFAULT 0,
    lookup_at BIGINT
);
CREATE INDEX deliveries_message ON deliveries(message_id);
CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE UNIQUE INDEX deliveries_provider_id ON deliveries(connection_id, provider_message_id)
    WHERE provider_message_id IS NOT NULL;
CREATE INDEX deliveries_address ON deliveries(connection_id, address, sent_at)
    WHERE address IS NOT NULL;
-- Holds only the deliveries at `sent`, so finding the stale ones never scans delivered
-- history.
CREATE INDEX deliveries_at_sent ON deliveries(updated_at) WHERE status = 'sent';

-- `answer_lost`: the request may have reached the provider while its answer was lost, so a
-- later accepted attempt (the provider's idempotent replay) can date the send from it.
CREATE TABLE attempts (
    delivery_id TEXT NOT NULL REFERENCES deliveries(id),
    number BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT,
    provider_code TEXT,
    detail TEXT,
    retry_after_ms BIGINT,
    answer_lost BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (delivery_id, number)
);

CREATE TABLE events (
    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    status TEXT NOT NULL,
    at BIGINT NOT NULL,
    source TEXT NOT NULL,
    detail TEXT,
    applied BIGINT NOT NULL
);
CREATE INDEX events_delivery ON events(delivery_id, seq);

-- Callbacks that arrive before the send that produced their provider id is recorded.
CREATE TABLE early_callbacks (
    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    connection_id TEXT NOT NULL,
    provider_message_id TEXT NOT NULL,
    status TEXT NOT NULL,
    at BIGINT NOT NULL,
    detail TEXT,
    failure_reason TEXT,
    failure_code TEXT
);
CREATE INDEX early_callbacks_key ON early_callbacks(connection_id, provider_message_id);

-- 2: every channel: contacts, their addresses and history, URL block lists.

CREATE TABLE contacts (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    name TEXT,
    first_active_at BIGINT,
    last_active_at BIGINT,
    inbound_messages BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
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
    valid BIGINT NOT NULL DEFAULT 1,
    invalid_reason TEXT,
    invalidated_at BIGINT,
    last_inbound_at BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, kind, scope, address)
);
CREATE INDEX contact_addresses_contact ON contact_addresses(contact_id);

CREATE TABLE contact_messages (
    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    contact_id TEXT NOT NULL REFERENCES contacts(id),
    connection_id TEXT NOT NULL,
    provider_message_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    text TEXT,
    at BIGINT NOT NULL,
    source TEXT NOT NULL,
    UNIQUE (connection_id, provider_message_id)
);
CREATE INDEX contact_messages_contact ON contact_messages(contact_id, at);

CREATE TABLE blocked_urls (
    connection_id TEXT NOT NULL,
    url TEXT NOT NULL,
    reason TEXT NOT NULL,
    message_id TEXT,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (connection_id, url)
);

-- 3: routing policies, per-message route state with durable step deadlines, opt-outs.

CREATE TABLE policies (
    workspace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, name)
);

CREATE TABLE route_steps (
    message_id TEXT NOT NULL REFERENCES messages(id),
    step BIGINT NOT NULL,
    state TEXT NOT NULL,
    started_at BIGINT,
    deadline_at BIGINT,
    finished_at BIGINT,
    detail TEXT,
    dirty BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (message_id, step)
);
-- The router's two questions, both answered from an index: what changed, what is due.
CREATE INDEX route_steps_dirty ON route_steps(message_id) WHERE dirty = 1 AND state = 'running';
CREATE INDEX route_steps_due ON route_steps(deadline_at) WHERE state = 'running';

CREATE TABLE route_entries (
    message_id TEXT NOT NULL,
    step BIGINT NOT NULL,
    lane BIGINT NOT NULL,
    position BIGINT NOT NULL,
    channel TEXT NOT NULL,
    connection_id TEXT,
    product TEXT,
    units BIGINT,
    encoding TEXT,
    country TEXT,
    address_kind TEXT,
    address TEXT,
    skip_reason TEXT,
    skip_detail TEXT,
    delivery_id TEXT,
    state TEXT NOT NULL,
    drop_subject BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (message_id, step, lane, position)
);

CREATE TABLE opt_outs (
    workspace_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    detail TEXT,
    at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, channel, address)
);

-- 4: conversations and presence, for follow-up notifications.

CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    contact_id TEXT NOT NULL REFERENCES contacts(id),
    started_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (workspace_id, contact_id)
);

CREATE TABLE conversation_messages (
    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    marketing BIGINT NOT NULL DEFAULT 0,
    template TEXT,
    at BIGINT NOT NULL,
    seen_at BIGINT,
    follow_up_message_id TEXT
);
CREATE INDEX conversation_messages_conv ON conversation_messages(conversation_id, seq);

CREATE TABLE presence (
    workspace_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    state TEXT NOT NULL,
    last_activity_at BIGINT NOT NULL,
    offline_at BIGINT,
    follow_up_due BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, contact_id)
);
CREATE INDEX presence_due ON presence(offline_at) WHERE state = 'online';
CREATE INDEX presence_follow_up ON presence(follow_up_due) WHERE follow_up_due = 1;

-- 5: the wallet. A double-entry ledger (append-only: triggers refuse UPDATE and DELETE),
-- balances kept in step in the same transaction, holds per delivery, prices, top-ups.

CREATE TABLE ledger_transactions (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    delivery_id TEXT,
    memo TEXT NOT NULL,
    at BIGINT NOT NULL
);

CREATE TABLE ledger_entries (
    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    txn_id TEXT NOT NULL REFERENCES ledger_transactions(id),
    workspace_id TEXT NOT NULL,
    account TEXT NOT NULL,
    amount BIGINT NOT NULL,
    balance_after BIGINT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX ledger_entries_ws ON ledger_entries(workspace_id, seq);

-- SQLite's four triggers (BEFORE UPDATE / BEFORE DELETE on each ledger table, each
-- `SELECT RAISE(ABORT, 'the ledger is append-only')`), translated to plpgsql: one function,
-- the same four trigger names, row-level like every SQLite trigger, the same message. The
-- statement fails and, in PostgreSQL, so does the rest of its transaction (or savepoint).
-- TRUNCATE skips row triggers and has no SQLite counterpart; the _t triggers refuse it too, so
-- the ledger stays append-only whichever command is tried.
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only';
END
$$;
CREATE TRIGGER ledger_entries_append_only_u BEFORE UPDATE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_entries_append_only_d BEFORE DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_entries_append_only_t BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_transactions_append_only_u BEFORE UPDATE ON ledger_transactions
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_transactions_append_only_d BEFORE DELETE ON ledger_transactions
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_transactions_append_only_t BEFORE TRUNCATE ON ledger_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

CREATE TABLE balances (
    account TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    balance BIGINT NOT NULL
);

CREATE TABLE wallets (
    workspace_id TEXT PRIMARY KEY,
    currency TEXT NOT NULL,
    plan TEXT NOT NULL,
    credit_month TEXT,
    auto_enabled BIGINT NOT NULL DEFAULT 0,
    auto_threshold BIGINT NOT NULL DEFAULT 0,
    auto_amount BIGINT NOT NULL DEFAULT 0,
    auto_monthly_cap BIGINT NOT NULL DEFAULT 0,
    auto_card TEXT,
    auto_status TEXT NOT NULL DEFAULT 'off',
    auto_status_detail TEXT,
    low_balance_alert BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE holds (
    delivery_id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    product TEXT NOT NULL,
    country TEXT NOT NULL,
    units BIGINT NOT NULL,
    unit_price BIGINT NOT NULL,
    price_id BIGINT,
    credit_amount BIGINT NOT NULL,
    paid_amount BIGINT NOT NULL,
    month TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    settled_at BIGINT
);
CREATE INDEX holds_ws_settled ON holds(workspace_id, state, settled_at);
CREATE INDEX holds_message ON holds(message_id);

CREATE TABLE prices (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    product TEXT NOT NULL,
    country TEXT NOT NULL,
    currency TEXT NOT NULL,
    unit_price BIGINT NOT NULL,
    effective_from BIGINT NOT NULL,
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX prices_lookup ON prices(channel, product, country, effective_from);

CREATE TABLE topups (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    card TEXT NOT NULL,
    month TEXT NOT NULL,
    state TEXT NOT NULL,
    charge_id TEXT,
    decline_code TEXT,
    detail TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    created_at BIGINT NOT NULL,
    settled_at BIGINT
);
CREATE INDEX topups_pending ON topups(next_attempt_at) WHERE state = 'pending';
CREATE INDEX topups_ws ON topups(workspace_id, created_at);

-- 6: the event log every status change writes to, and the business endpoints it is
-- delivered to.

CREATE TABLE workspace_events (
    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX workspace_events_ws ON workspace_events(workspace_id, seq);

-- One row, the fan-out's position in workspace_events; the code reads and updates it, never
-- inserts it, so the migration does.
CREATE TABLE workspace_event_cursor (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
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
    previous_until BIGINT,
    status TEXT NOT NULL,
    status_detail TEXT,
    failing_since BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX webhook_endpoints_ws ON webhook_endpoints(workspace_id);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id),
    event_id TEXT NOT NULL REFERENCES workspace_events(id),
    workspace_id TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    lease_until BIGINT,
    last_status BIGINT,
    last_error TEXT,
    replay BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, created_at);

CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id),
    number BIGINT NOT NULL,
    at BIGINT NOT NULL,
    status BIGINT,
    error TEXT,
    duration_ms BIGINT NOT NULL,
    PRIMARY KEY (delivery_id, number)
);

-- 7: receipts that raced their send. Each contact's highest watermark per status is kept, so
-- a delivery whose send is recorded after the watermark arrived (its answer was slow) is
-- still covered.

CREATE TABLE watermarks (
    connection_id TEXT NOT NULL,
    address TEXT NOT NULL,
    status TEXT NOT NULL,
    watermark BIGINT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (connection_id, address, status)
);
