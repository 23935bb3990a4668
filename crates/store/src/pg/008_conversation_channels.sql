-- SQLite migration 13: conversations fed by the channels. A customer's message that came
-- through a provider names the connection (and so the channel) it came through, and the
-- conversation remembers the last one; a reply the business wrote outside Switchboard, seen as
-- an echo, is an agent message `off_platform`; a button or quick-reply click keeps its
-- `payload`.
ALTER TABLE conversation_messages ADD COLUMN off_platform BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversation_messages ADD COLUMN payload TEXT;
ALTER TABLE conversation_messages ADD COLUMN connection_id TEXT;
ALTER TABLE conversations ADD COLUMN connection_id TEXT;
ALTER TABLE conversations ADD COLUMN channel TEXT;
