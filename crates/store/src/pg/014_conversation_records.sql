-- SQLite migration 19: conversation records, tags and what a member sees. Each conversation
-- keeps its message counts, first response time and who received it and when, moved in the
-- commit that writes the message or the event; rows from before are counted once here.
ALTER TABLE conversations ADD COLUMN message_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN visitor_messages BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN agent_messages BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN first_response_ms BIGINT;
ALTER TABLE conversations ADD COLUMN received_by TEXT;
ALTER TABLE conversations ADD COLUMN received_at BIGINT;
UPDATE conversations SET
    message_count = (SELECT COUNT(*) FROM conversation_messages m WHERE m.conversation_id = conversations.id),
    visitor_messages = (SELECT COUNT(*) FROM conversation_messages m WHERE m.conversation_id = conversations.id AND m.author = 'customer'),
    agent_messages = (SELECT COUNT(*) FROM conversation_messages m WHERE m.conversation_id = conversations.id AND m.author = 'agent'),
    first_response_ms = (SELECT e.value_ms FROM conversation_events e WHERE e.conversation_id = conversations.id AND e.kind = 'answered' ORDER BY e.seq LIMIT 1),
    received_by = (SELECT e.member_id FROM conversation_events e WHERE e.conversation_id = conversations.id AND e.kind IN ('taken', 'overtaken') AND e.member_id IS NOT NULL ORDER BY e.seq LIMIT 1),
    received_at = (SELECT e.at FROM conversation_events e WHERE e.conversation_id = conversations.id AND e.kind IN ('taken', 'overtaken') AND e.member_id IS NOT NULL ORDER BY e.seq LIMIT 1);
CREATE INDEX conversations_received ON conversations(workspace_id, received_at);
CREATE INDEX conversations_received_by ON conversations(workspace_id, received_by);
CREATE INDEX conversations_owner ON conversations(workspace_id, owner);
CREATE TABLE tags (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    name TEXT NOT NULL,
    color TEXT,
    description TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);
INSERT INTO tags (id, workspace_id, name, created_at)
    SELECT 'tag_' || md5(workspace_id || ':' || tag), workspace_id, tag, MIN(created_at)
    FROM conversation_tags GROUP BY workspace_id, tag;
CREATE INDEX conversation_tags_ws_tag ON conversation_tags(workspace_id, tag);
ALTER TABLE members ADD COLUMN data_scope TEXT NOT NULL DEFAULT 'all';
ALTER TABLE members ADD COLUMN list_label TEXT NOT NULL DEFAULT 'note_name';
ALTER TABLE api_keys ADD COLUMN member_id TEXT;
CREATE INDEX api_keys_member ON api_keys(member_id) WHERE member_id IS NOT NULL;
