-- SQLite migration 17: verified sender domains. A domain an email connection's provider
-- checks (its DNS records, as `records` JSON with the last check's result per record), by
-- the provider's id; `status` is `pending`, `verified` or `failed`. One row per connection
-- and domain; at most one per workspace is its follow-up sender.
CREATE TABLE sender_domains (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    domain TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    status TEXT NOT NULL,
    records TEXT NOT NULL,
    follow_up_local_part TEXT,
    follow_up_name TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    validated_at BIGINT
);
CREATE UNIQUE INDEX sender_domains_connection_domain ON sender_domains(connection_id, domain);
CREATE INDEX sender_domains_workspace ON sender_domains(workspace_id, id);
CREATE UNIQUE INDEX sender_domains_follow_up ON sender_domains(workspace_id)
    WHERE follow_up_local_part IS NOT NULL;
