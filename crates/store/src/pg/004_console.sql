-- SQLite migration 9: the console. A recipient's messages are found through the addresses
-- their deliveries went to; "Connect with Facebook" keeps each sign-in's state (by digest)
-- and, sealed, the pages it listed.
CREATE INDEX deliveries_address_only ON deliveries(address);
-- The connections page counts each connection's held messages from its failed deliveries (a
-- partial index: only failures pay for it).
CREATE INDEX deliveries_failed ON deliveries(connection_id, failure_reason) WHERE status = 'failed';
CREATE TABLE oauth_flows (
    id TEXT PRIMARY KEY,
    state_hash TEXT NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    member_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    reconnect TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    called_back_at BIGINT,
    pick_token_hash TEXT,
    sealed_pages TEXT,
    finished_at BIGINT
);
