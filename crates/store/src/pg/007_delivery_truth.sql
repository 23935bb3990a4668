-- SQLite migration 12: delivery truth. A delivery that failed with a retryable reason because
-- its attempts ran out is `exhausted` (a dead letter). What a workspace does when a send's
-- answer was lost and the provider cannot be asked: `retry` (at least once) or `fail` (at
-- most once, `outcome_unknown`).
ALTER TABLE deliveries ADD COLUMN exhausted BIGINT NOT NULL DEFAULT 0;
CREATE INDEX deliveries_exhausted ON deliveries(message_id) WHERE exhausted = 1;
ALTER TABLE workspaces ADD COLUMN ambiguous_sends TEXT NOT NULL DEFAULT 'retry';
