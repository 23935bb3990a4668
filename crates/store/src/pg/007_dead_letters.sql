-- SQLite migration 12: dead letters. A delivery that failed with a retryable reason because
-- its attempts ran out is `exhausted`.
ALTER TABLE deliveries ADD COLUMN exhausted BIGINT NOT NULL DEFAULT 0;
CREATE INDEX deliveries_exhausted ON deliveries(message_id) WHERE exhausted = 1;
