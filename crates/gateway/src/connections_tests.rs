//! The connection registry's merge of local changes and reloads.

use super::*;

fn conn(id: &str, status: &str) -> Arc<Connection> {
    Arc::new(Connection {
        id: id.into(),
        workspace_id: "ws".into(),
        channel: "sms".into(),
        plugin: "twilio-sms".into(),
        status: status.into(),
        status_detail: None,
        max_in_flight: 1,
        chat: ChatSetting::default(),
        created_at: 0,
        updated_at: 0,
        ctx: Arc::new(ConnectionCtx {
            id: id.into(),
            name: id.into(),
            webhook_url: String::new(),
            config: BTreeMap::new(),
            secrets: BTreeMap::new(),
            allowed_origins: Vec::new(),
        }),
        in_flight: Arc::new(Semaphore::new(1)),
    })
}

fn put(c: &Connections, conn: Arc<Connection>) {
    let mut inner = c.write();
    inner.touch(&conn.id);
    inner.by_id.insert(conn.id.clone(), conn);
}

/// A reload that read the table before a create, a status change and a delete committed
/// lands after them: it must not undo any of the three.
#[test]
fn a_reload_never_undoes_a_change_made_while_it_read() {
    let c = Connections::default();
    put(&c, conn("old", "active"));
    put(&c, conn("gone", "active"));
    let began = c.read().seq;
    let read_before: HashMap<_, _> = [
        ("old".to_string(), conn("old", "active")),
        ("gone".to_string(), conn("gone", "active")),
    ]
    .into();
    put(&c, conn("new", "active"));
    c.set_status("old", "disabled", None);
    c.remove("gone");
    c.replace(began, read_before);
    assert!(c.get("new").is_some(), "the created connection survives");
    assert_eq!(c.get("old").unwrap().status, "disabled");
    assert!(c.get("gone").is_none(), "the deleted one stays deleted");

    // A later reload that saw them all is taken as it is, and forgets the marks.
    let began = c.read().seq;
    c.replace(
        began,
        [("new".to_string(), conn("new", "needs_reconnect"))].into(),
    );
    assert_eq!(c.get("new").unwrap().status, "needs_reconnect");
    assert!(c.get("old").is_none());
    assert!(c.read().touched.is_empty());
}
