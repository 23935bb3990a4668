-- SQLite migration 11: results, notification rules, their notifications, members' inboxes;
-- members' time zones, notification preferences, presence and digest schedule.
CREATE TABLE notification_rules (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    condition TEXT NOT NULL,
    targets TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);
CREATE TABLE results (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    body TEXT NOT NULL,
    idempotency_key TEXT,
    request_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX results_idempotency ON results(workspace_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE TABLE result_notifications (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    result_id TEXT NOT NULL REFERENCES results(id),
    rule_id TEXT NOT NULL,
    rule_name TEXT NOT NULL,
    target TEXT NOT NULL,
    state TEXT NOT NULL,
    message_id TEXT,
    detail TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX result_notifications_result ON result_notifications(result_id);
CREATE INDEX result_notifications_pending ON result_notifications(created_at) WHERE state = 'pending';
CREATE TABLE member_inbox (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX member_inbox_member ON member_inbox(member_id, created_at);
ALTER TABLE members ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
ALTER TABLE members ADD COLUMN notify_digest BIGINT NOT NULL DEFAULT 1;
ALTER TABLE members ADD COLUMN notify_offline_push BIGINT NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN push_token TEXT;
ALTER TABLE members ADD COLUMN push_platform TEXT;
ALTER TABLE members ADD COLUMN last_seen_at BIGINT;
ALTER TABLE members ADD COLUMN present BIGINT NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN digest_due_at BIGINT;
ALTER TABLE members ADD COLUMN digest_last_day TEXT;
CREATE INDEX members_digest_due ON members(digest_due_at) WHERE notify_digest = 1;
ALTER TABLE workspace_events ADD COLUMN endpoint_id TEXT;
