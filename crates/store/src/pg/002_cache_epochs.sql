-- PostgreSQL migration 2: what tells the other nodes that a table they keep in memory changed.
--
-- Each node keeps API keys (by digest) and connections (with their opened secrets) in
-- memory. On one node, the write that changes them also updates the memory; with several
-- nodes on one database the others learn of it here: a statement that changes one of these
-- tables adds one to its epoch, in the same transaction, and every node polls the few rows
-- of this table (see crates/gateway/src/app/shared_caches.rs) and reloads what moved.
-- SQLite has no such table: one process is the only one with memory to refresh.

CREATE TABLE cache_epochs (
    name TEXT PRIMARY KEY,
    epoch BIGINT NOT NULL DEFAULT 0
);
INSERT INTO cache_epochs (name) VALUES ('api_keys'), ('connections'), ('workspaces');

CREATE FUNCTION bump_cache_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = TG_TABLE_NAME;
    RETURN NULL;
END
$$;

CREATE TRIGGER api_keys_cache_epoch AFTER INSERT OR UPDATE OR DELETE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER connections_cache_epoch AFTER INSERT OR UPDATE OR DELETE ON connections
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
CREATE TRIGGER workspaces_cache_epoch AFTER INSERT OR UPDATE OR DELETE ON workspaces
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_epoch();
