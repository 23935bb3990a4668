//! SQLite migrations 8 onwards: console members and sessions, the message search, sign-ins
//! that connect Facebook pages, conversation states and owners, results and notification
//! rules, members' notifications, dead letters and lost answers, bot hosting. Append only,
//! numbered after [`super::CORE`].

pub(super) const MIGRATIONS: &[&str] = &[
    // 8: the people who sign in to the console. An email belongs to one member (sign-in is
    // by email); passwords are argon2id hashes in PHC form. Invitations and sessions are
    // kept by the digest of their token, so a copy of the database opens neither.
    "CREATE TABLE members (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id),
        email TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX members_ws ON members(workspace_id, created_at);
    CREATE TABLE invitations (
        id TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id),
        email TEXT NOT NULL,
        role TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        accepted_at INTEGER
    );
    CREATE INDEX invitations_ws ON invitations(workspace_id, created_at);
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        member_id TEXT NOT NULL REFERENCES members(id),
        csrf TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE INDEX sessions_member ON sessions(member_id);",
    // 9: the console. `GET /v1/messages?recipient=` and the message search find a
    // recipient's messages through the addresses their deliveries went to; "Connect with
    // Facebook" keeps each sign-in's state (by digest) and, sealed, the pages it listed; the
    // connections page counts each connection's held messages from its failed deliveries
    // (a partial index: only failures pay for it).
    "CREATE INDEX deliveries_address_only ON deliveries(address);
    CREATE INDEX deliveries_failed ON deliveries(connection_id, failure_reason) WHERE status = 'failed';
    CREATE TABLE oauth_flows (
        id TEXT PRIMARY KEY,
        state_hash TEXT NOT NULL UNIQUE,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id),
        member_id TEXT NOT NULL,
        provider TEXT NOT NULL,
        reconnect TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        called_back_at INTEGER,
        pick_token_hash TEXT,
        sealed_pages TEXT,
        finished_at INTEGER
    );",
    // 10: conversation states and owners. A conversation is `unanswered`, `active` or
    // `finished`; `waiting_since` is the customer's first message no agent has answered yet,
    // `opened_at` the start of the current round, `alert_due_at` when the no-reply alert of
    // the current wait is due (the workspace's `no_reply_alert_minutes` after it began). Every
    // transition is a row of `conversation_events` (with the response or handling time it closed), which the
    // statistics are computed from.
    "ALTER TABLE conversations ADD COLUMN state TEXT NOT NULL DEFAULT 'unanswered';
    ALTER TABLE conversations ADD COLUMN owner TEXT;
    ALTER TABLE conversations ADD COLUMN state_at INTEGER;
    ALTER TABLE conversations ADD COLUMN opened_at INTEGER;
    ALTER TABLE conversations ADD COLUMN waiting_since INTEGER;
    ALTER TABLE conversations ADD COLUMN alert_due_at INTEGER;
    ALTER TABLE workspaces ADD COLUMN no_reply_alert_minutes INTEGER;
    CREATE INDEX conversations_state ON conversations(workspace_id, state, id);
    CREATE INDEX conversations_alert_due ON conversations(alert_due_at) WHERE alert_due_at IS NOT NULL;
    CREATE TABLE conversation_events (
        seq INTEGER PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        conversation_id TEXT NOT NULL REFERENCES conversations(id),
        kind TEXT NOT NULL,
        member_id TEXT,
        previous_owner TEXT,
        value_ms INTEGER,
        at INTEGER NOT NULL
    );
    CREATE INDEX conversation_events_ws_at ON conversation_events(workspace_id, at);
    CREATE INDEX conversation_events_conv ON conversation_events(conversation_id, seq);",
    // 11: results a bot or form submits, the rules that decide whom each notifies, what each
    // notification became (a message, or a member's inbox item), and the inbox; members'
    // time zones, notification preferences, presence and digest schedule; events meant for
    // one webhook endpoint only (a rule's target).
    "CREATE TABLE notification_rules (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        name TEXT NOT NULL,
        condition TEXT NOT NULL,
        targets TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (workspace_id, name)
    );
    CREATE TABLE results (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        body TEXT NOT NULL,
        idempotency_key TEXT,
        request_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL
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
        created_at INTEGER NOT NULL
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
        created_at INTEGER NOT NULL
    );
    CREATE INDEX member_inbox_member ON member_inbox(member_id, created_at);
    ALTER TABLE members ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
    ALTER TABLE members ADD COLUMN notify_digest INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE members ADD COLUMN notify_offline_push INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE members ADD COLUMN push_token TEXT;
    ALTER TABLE members ADD COLUMN push_platform TEXT;
    ALTER TABLE members ADD COLUMN last_seen_at INTEGER;
    ALTER TABLE members ADD COLUMN present INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE members ADD COLUMN digest_due_at INTEGER;
    ALTER TABLE members ADD COLUMN digest_last_day TEXT;
    CREATE INDEX members_digest_due ON members(digest_due_at) WHERE notify_digest = 1;
    ALTER TABLE workspace_events ADD COLUMN endpoint_id TEXT;",
    // 12: delivery truth. A delivery that failed with a retryable reason because its attempts
    // ran out is `exhausted`: the set `GET /v1/messages?exhausted=true` lists and
    // `POST /v1/messages/redrive` resends. What a workspace does when a send's answer was
    // lost and the provider cannot be asked: `retry` (at least once) or `fail` (at most once).
    "ALTER TABLE deliveries ADD COLUMN exhausted INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX deliveries_exhausted ON deliveries(message_id) WHERE exhausted = 1;
    ALTER TABLE workspaces ADD COLUMN ambiguous_sends TEXT NOT NULL DEFAULT 'retry';",
    // 13: conversations fed by the channels. A customer's message that came through a
    // provider names the connection (and so the channel) it came through, and the
    // conversation remembers the last one; a reply the business wrote outside Switchboard
    // (the provider's own inbox, another app), seen as an echo, is an agent message
    // `off_platform`; a button or quick-reply click keeps its `payload`.
    "ALTER TABLE conversation_messages ADD COLUMN off_platform INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE conversation_messages ADD COLUMN payload TEXT;
    ALTER TABLE conversation_messages ADD COLUMN connection_id TEXT;
    ALTER TABLE conversations ADD COLUMN connection_id TEXT;
    ALTER TABLE conversations ADD COLUMN channel TEXT;",
    // 14: bot hosting. A conversation
    // is `hosted` when the workspace's automations may answer it (agents offline); a new one
    // starts at its workspace's `hosting_default`. Every switch is a row of
    // `hosting_changes`: who (`member_id`, none for an API call or an automation) and how
    // (`switched_by`), so the view can say why a bot is talking.
    "ALTER TABLE conversations ADD COLUMN hosted INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE workspaces ADD COLUMN hosting_default INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE hosting_changes (
        seq INTEGER PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        conversation_id TEXT NOT NULL REFERENCES conversations(id),
        hosted INTEGER NOT NULL,
        member_id TEXT,
        switched_by TEXT NOT NULL CHECK (switched_by IN ('member', 'api', 'automation')),
        at INTEGER NOT NULL
    );
    CREATE INDEX hosting_changes_conv ON hosting_changes(conversation_id, seq);",
    // 15: automations. A definition is never changed in place: each `PUT` adds a row of
    // `automation_versions` and moves `automations.version` to it, so a run follows the
    // version it started on. `name` and `enabled` copy the current definition's, for
    // listings and trigger matching; a deleted automation keeps its versions for the runs
    // still going.
    "CREATE TABLE automations (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        name TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        version INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        deleted_at INTEGER
    );
    CREATE INDEX automations_workspace ON automations(workspace_id, id) WHERE deleted_at IS NULL;
    CREATE TABLE automation_versions (
        automation_id TEXT NOT NULL REFERENCES automations(id),
        version INTEGER NOT NULL,
        definition TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (automation_id, version)
    );",
    // 16: automation runs. A run is a row that moves by conditional updates on its `seq`;
    // a conversation has at most one live run per automation (the unique partial index); a
    // `visitor.no_reply` timer is a row per automation and conversation; the figures are
    // sums over `automation_events`; `conversation_tags` are what a `tag` step wrote.
    "CREATE TABLE automation_runs (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        automation_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        conversation_id TEXT NOT NULL,
        contact_id TEXT NOT NULL,
        state TEXT NOT NULL,
        step TEXT,
        seq INTEGER NOT NULL,
        attempt INTEGER NOT NULL,
        wait_due_at INTEGER,
        answers TEXT NOT NULL,
        participated INTEGER NOT NULL,
        stop_reason TEXT,
        started_at INTEGER NOT NULL,
        ended_at INTEGER
    );
    CREATE UNIQUE INDEX automation_runs_live ON automation_runs(automation_id, conversation_id) WHERE state IN ('running', 'waiting');
    CREATE INDEX automation_runs_ready ON automation_runs(started_at) WHERE state = 'running';
    CREATE INDEX automation_runs_waits ON automation_runs(wait_due_at) WHERE state = 'waiting';
    CREATE INDEX automation_runs_conversation ON automation_runs(conversation_id) WHERE state IN ('running', 'waiting');
    CREATE TABLE automation_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        workspace_id TEXT NOT NULL,
        automation_id TEXT NOT NULL,
        run_id TEXT NOT NULL,
        contact_id TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        step TEXT,
        branch TEXT,
        channel TEXT,
        at INTEGER NOT NULL
    );
    CREATE INDEX automation_events_figures ON automation_events(automation_id, kind, at);
    CREATE INDEX automation_events_visitor ON automation_events(automation_id, contact_id);
    CREATE INDEX automation_events_run ON automation_events(run_id);
    CREATE TABLE automation_timers (
        automation_id TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        workspace_id TEXT NOT NULL,
        due_at INTEGER NOT NULL,
        PRIMARY KEY (automation_id, conversation_id)
    );
    CREATE INDEX automation_timers_due ON automation_timers(due_at);
    CREATE INDEX automation_timers_conversation ON automation_timers(conversation_id);
    CREATE TABLE conversation_tags (
        workspace_id TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        tag TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (conversation_id, tag)
    );",
    // 17: verified sender domains. A domain an email connection's provider checks (its DNS
    // records, as `records` JSON with the last check's result per record), by the
    // provider's id; `status` is `pending`, `verified` or `failed`. One row per connection
    // and domain. At most one per workspace is its follow-up sender (`follow_up_local_part`,
    // the unique partial index).
    "CREATE TABLE sender_domains (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        connection_id TEXT NOT NULL,
        domain TEXT NOT NULL,
        provider_id TEXT NOT NULL,
        status TEXT NOT NULL,
        records TEXT NOT NULL,
        follow_up_local_part TEXT,
        follow_up_name TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        validated_at INTEGER
    );
    CREATE UNIQUE INDEX sender_domains_connection_domain ON sender_domains(connection_id, domain);
    CREATE INDEX sender_domains_workspace ON sender_domains(workspace_id, id);
    CREATE UNIQUE INDEX sender_domains_follow_up ON sender_domains(workspace_id)
        WHERE follow_up_local_part IS NOT NULL;",
    // 18: the two-way chat switch. A connection is `two_way` (customers' messages open
    // conversations) or `one_way`, with an optional auto-reply; every change is a row of
    // `connection_chat_changes` (who: an API key or a member). A message refused on a
    // `one_way` connection is a row of `contact_events` with what it said. An auto-reply is
    // decided in that commit: `chat_reply_marks` holds one row per connection and contact,
    // taken over only when its last reply is 24 hours old (so two messages at once cannot
    // both win), and `chat_auto_replies` the reply to send, pending until it is a message.
    "ALTER TABLE connections ADD COLUMN chat TEXT NOT NULL DEFAULT 'two_way'
        CHECK (chat IN ('two_way', 'one_way'));
    ALTER TABLE connections ADD COLUMN chat_auto_reply TEXT;
    CREATE TABLE connection_chat_changes (
        seq INTEGER PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        connection_id TEXT NOT NULL REFERENCES connections(id),
        chat TEXT NOT NULL,
        chat_auto_reply TEXT,
        changed_by TEXT NOT NULL CHECK (changed_by IN ('api_key', 'member')),
        actor_id TEXT NOT NULL,
        at INTEGER NOT NULL
    );
    CREATE INDEX connection_chat_changes_conn ON connection_chat_changes(connection_id, seq);
    CREATE TABLE contact_events (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        workspace_id TEXT NOT NULL,
        contact_id TEXT NOT NULL REFERENCES contacts(id),
        connection_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        reason TEXT NOT NULL,
        provider_message_id TEXT,
        text TEXT,
        payload TEXT,
        at INTEGER NOT NULL
    );
    CREATE INDEX contact_events_contact ON contact_events(contact_id, seq);
    CREATE TABLE chat_reply_marks (
        connection_id TEXT NOT NULL,
        contact_id TEXT NOT NULL,
        replied_at INTEGER NOT NULL,
        PRIMARY KEY (connection_id, contact_id)
    );
    CREATE TABLE chat_auto_replies (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        connection_id TEXT NOT NULL,
        contact_id TEXT NOT NULL,
        event_id TEXT NOT NULL UNIQUE,
        address_kind TEXT NOT NULL,
        address TEXT NOT NULL,
        text TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
        message_id TEXT,
        detail TEXT,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX chat_auto_replies_pending ON chat_auto_replies(created_at) WHERE state = 'pending';",
    // 19: conversation records, tags and what a member sees. Each conversation keeps its
    // message counts (all, the visitor's, the agents'), its first response time and who
    // received it (the first member who took it) and when, each moved in the commit that
    // writes the message or the event, never recounted; rows from before are counted once
    // here. `tags` is the workspace's catalogue of conversation tags (those an automation
    // already wrote join it). A member's `data_scope` (`all` or `own`) and `list_label`
    // (`note_name` or `visitor_label`); an API key may act as a member (`member_id`).
    "ALTER TABLE conversations ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE conversations ADD COLUMN visitor_messages INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE conversations ADD COLUMN agent_messages INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE conversations ADD COLUMN first_response_ms INTEGER;
    ALTER TABLE conversations ADD COLUMN received_by TEXT;
    ALTER TABLE conversations ADD COLUMN received_at INTEGER;
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
        created_at INTEGER NOT NULL,
        UNIQUE (workspace_id, name)
    );
    INSERT INTO tags (id, workspace_id, name, created_at)
        SELECT 'tag_' || lower(hex(randomblob(16))), workspace_id, tag, MIN(created_at)
        FROM conversation_tags GROUP BY workspace_id, tag;
    CREATE INDEX conversation_tags_ws_tag ON conversation_tags(workspace_id, tag);
    ALTER TABLE members ADD COLUMN data_scope TEXT NOT NULL DEFAULT 'all';
    ALTER TABLE members ADD COLUMN list_label TEXT NOT NULL DEFAULT 'note_name';
    ALTER TABLE api_keys ADD COLUMN member_id TEXT;
    CREATE INDEX api_keys_member ON api_keys(member_id) WHERE member_id IS NOT NULL;",
];
