//! Bot hosting: whether the workspace's automations answer a conversation (SaleSmartly's
//! "robot hosting"). Agents switch it off while they are online, so automations do not talk
//! over them, and on (in batches, or for every assigned conversation) when they go offline.
//!
//! A switch sets the conversation's `hosted` flag, writes who switched it and how (`member`,
//! `api` or `automation`) to its history, and records a `conversation.hosting_changed` event,
//! all in the caller's transaction. Switching to the value a conversation already has changes
//! nothing and writes nothing, so a repeated batch is harmless and `changed` counts real
//! changes only.
//!
//! [`set_hosting`] and [`hand_over`] are what the automations engine calls inside its own
//! writes; [`crate::Gateway::switch_hosting`] is the API's batch switch.

use serde_json::json;

use crate::conversations::{Transition, apply};
use crate::model::{Millis, now_ms};
use crate::store::StoreError;
use crate::store::conversation_states as rows;
use crate::store::hosting::{self as hosting_rows, HostingChange};
use crate::store::sql::Transaction;

/// The most conversations one batch switch may name.
pub const MAX_IDS: usize = 1000;

/// Why a batch switch was refused. Nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum HostingError {
    /// `ids[index]` names no conversation (nor contact) of the workspace. The message does
    /// not echo the id: it may be another workspace's.
    #[error("ids[{index}] names no conversation of this workspace")]
    UnknownId { index: usize },
    #[error("member: no member {0} in this workspace")]
    UnknownMember(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which conversations a batch switch is about.
#[derive(Debug, Clone)]
pub enum HostingTarget {
    /// Conversation ids or contact ids (either names a conversation, as in the paths).
    Ids(Vec<String>),
    /// Every conversation of the workspace that has an owner and is not finished.
    AllAssigned,
}

/// Write the history row and the event of each changed conversation `(id, contact)`.
fn record(
    t: &Transaction,
    ws: &str,
    changed: &[(String, String)],
    ch: &HostingChange,
) -> Result<(), StoreError> {
    for (id, contact) in changed {
        hosting_rows::insert_change(t, ws, id, ch)?;
        crate::events::record(
            t,
            ws,
            "conversation.hosting_changed",
            ch.at,
            json!({
                "conversation_id": id,
                "contact_id": contact,
                "hosted": ch.hosted,
                "member": ch.member_id,
                "by": ch.by,
            }),
        )?;
    }
    Ok(())
}

fn change(hosted: bool, member: Option<&str>, by: &str, at: Millis) -> HostingChange {
    HostingChange {
        hosted,
        member_id: member.map(str::to_string),
        by: by.to_string(),
        at,
    }
}

/// Switch the hosting of these conversations (ids of the workspace's conversations) to
/// `hosted`, as `member` (if any) by `by` (`member`, `api` or `automation`; the table
/// refuses any other). Returns the ids whose flag changed, each with a history row and a
/// `conversation.hosting_changed` event; an id already at `hosted`, or not the workspace's,
/// is left alone.
pub fn set_hosting(
    t: &Transaction,
    ws: &str,
    conversation_ids: &[String],
    hosted: bool,
    member: Option<&str>,
    by: &str,
    at: Millis,
) -> Result<Vec<String>, StoreError> {
    let mut changed = Vec::new();
    for id in conversation_ids {
        if let Some(contact) = hosting_rows::set_hosted(t, ws, id, hosted)? {
            changed.push((id.clone(), contact));
        }
    }
    if !hosted {
        for (id, _) in &changed {
            crate::automations::triggers::stop_runs(t, id, "hosting_off", at)?;
        }
    }
    record(t, ws, &changed, &change(hosted, member, by, at))?;
    Ok(changed.into_iter().map(|(id, _)| id).collect())
}

/// [`set_hosting`] on every assigned conversation of the workspace (an owner, not finished),
/// in one statement however many there are.
pub fn set_hosting_all_assigned(
    t: &Transaction,
    ws: &str,
    hosted: bool,
    member: Option<&str>,
    by: &str,
    at: Millis,
) -> Result<Vec<String>, StoreError> {
    let changed = hosting_rows::set_hosted_all_assigned(t, ws, hosted)?;
    if !hosted {
        for (id, _) in &changed {
            crate::automations::triggers::stop_runs(t, id, "hosting_off", at)?;
        }
    }
    record(t, ws, &changed, &change(hosted, member, by, at))?;
    Ok(changed.into_iter().map(|(id, _)| id).collect())
}

/// An automation hands a conversation over to the agents, in the caller's transaction:
/// [`Transition::hand_over`] (unanswered, no owner, the customer waiting and the no-reply
/// alert armed) and hosting switched off by `automation`. `None` when the workspace has no
/// such conversation.
pub fn hand_over(
    t: &Transaction,
    ws: &str,
    conversation_id: &str,
    at: Millis,
) -> Result<Option<Transition>, StoreError> {
    let Some(state) = rows::state_of(t, ws, conversation_id)? else {
        return Ok(None);
    };
    let alert_after = rows::no_reply_alert_minutes(t, ws)?.map(|m| m * 60_000);
    let id = state.id.clone();
    let mut tr = Transition::hand_over(state, at, alert_after);
    apply(t, &tr)?;
    if !set_hosting(t, ws, &[id], false, None, "automation", at)?.is_empty() {
        tr.state.hosted = false;
    }
    Ok(Some(tr))
}

impl crate::Gateway {
    /// The API's batch switch: the named conversations, or every assigned one, to `hosted`,
    /// as `member` when given (`by` `member`, else `api`). All or nothing, in one write: an
    /// unknown id or member changes nothing. Returns how many conversations changed.
    pub async fn switch_hosting(
        &self,
        ws: String,
        target: HostingTarget,
        hosted: bool,
        member: Option<String>,
    ) -> Result<usize, HostingError> {
        self.store
            .write(move |t| {
                if let Some(m) = &member
                    && crate::store::members::member_in(t, &ws, m)?.is_none()
                {
                    return Err(HostingError::UnknownMember(m.clone()));
                }
                let by = if member.is_some() { "member" } else { "api" };
                let now = now_ms();
                let changed = match target {
                    HostingTarget::Ids(ids) => {
                        let mut found: Vec<String> = Vec::with_capacity(ids.len());
                        for (index, id) in ids.into_iter().enumerate() {
                            match hosting_rows::resolve(t, &ws, &id)? {
                                Some(conv) => found.push(conv),
                                None => return Err(HostingError::UnknownId { index }),
                            }
                        }
                        // The same conversation named twice (by its id and its contact's)
                        // changes once: the second time it already has the value.
                        set_hosting(t, &ws, &found, hosted, member.as_deref(), by, now)?
                    }
                    HostingTarget::AllAssigned => {
                        set_hosting_all_assigned(t, &ws, hosted, member.as_deref(), by, now)?
                    }
                };
                Ok(changed.len())
            })
            .await
    }

    /// Whether a new conversation of the workspace starts hosted.
    pub async fn set_hosting_default(&self, ws: String, hosted: bool) -> Result<(), StoreError> {
        self.store
            .write(move |t| hosting_rows::set_hosting_default(t, &ws, hosted).map(drop))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::sql::params;

    /// A store with workspace `ws`, its no-reply alert at 10 minutes, and one conversation
    /// per contact `ct1`, `ct2`: their conversation ids.
    async fn fresh() -> (std::path::PathBuf, Store, Vec<String>) {
        let dir = std::env::temp_dir().join(format!(
            "switchboard-hosting-test-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let store = Store::open(&dir).unwrap();
        store.ensure_workspace("ws", "test").await.unwrap();
        let ids = store
            .write(|t| {
                rows::set_no_reply_alert_minutes(t, "ws", Some(10))?;
                let mut ids = Vec::new();
                for ct in ["ct1", "ct2"] {
                    t.execute(
                        "INSERT INTO contacts (id, workspace_id, created_at, updated_at) VALUES (?1, 'ws', 0, 0)",
                        params![ct],
                    )?;
                    let (id, _) = crate::store::conversations::ensure_conversation(
                        t, "ws", ct, "customer", 0,
                    )?;
                    ids.push(id);
                }
                Ok::<_, StoreError>(ids)
            })
            .await
            .unwrap();
        (dir, store, ids)
    }

    fn event_types(c: &crate::store::sql::Connection) -> Vec<String> {
        c.prepare("SELECT type FROM workspace_events ORDER BY seq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[tokio::test]
    async fn a_switch_changes_only_what_differs_and_a_hand_over_switches_off() {
        let (dir, store, ids) = fresh().await;
        let (a, b) = (ids[0].clone(), ids[1].clone());
        let first = {
            let ids = vec![a.clone()];
            store
                .write(move |t| set_hosting(t, "ws", &ids, true, Some("mem_1"), "member", 5))
                .await
                .unwrap()
        };
        assert_eq!(first, std::slice::from_ref(&a));
        // Again, with the other one and an id of another workspace: only the other changes.
        let second = {
            let ids = vec![a.clone(), b.clone(), "conv_elsewhere".to_string()];
            store
                .write(move |t| set_hosting(t, "ws", &ids, true, None, "api", 6))
                .await
                .unwrap()
        };
        assert_eq!(second, std::slice::from_ref(&b));
        // A `by` the table does not know is refused, and changes nothing.
        let bad = {
            let ids = vec![a.clone()];
            store
                .write(move |t| set_hosting(t, "ws", &ids, false, None, "robot", 7))
                .await
        };
        assert!(bad.is_err());

        let handed = {
            let a = a.clone();
            store
                .write(move |t| hand_over(t, "ws", &a, 60_000))
                .await
                .unwrap()
                .unwrap()
        };
        assert!(!handed.state.hosted);
        assert_eq!(handed.state.alert_due_at, Some(60_000 + 600_000));
        let nobody = store
            .write(|t| hand_over(t, "ws", "conv_elsewhere", 1))
            .await
            .unwrap();
        assert!(nobody.is_none());

        let (history, state, types) = {
            let a = a.clone();
            store
                .read(move |c| {
                    Ok::<_, StoreError>((
                        hosting_rows::history(c, &a)?,
                        rows::state_of(c, "ws", &a)?.unwrap(),
                        event_types(c),
                    ))
                })
                .await
                .unwrap()
        };
        let history: Vec<_> = history
            .iter()
            .map(|h| (h.hosted, h.member_id.as_deref(), h.by.as_str(), h.at))
            .collect();
        assert_eq!(
            history,
            [
                (true, Some("mem_1"), "member", 5),
                (false, None, "automation", 60_000)
            ]
        );
        assert_eq!((state.state.as_str(), state.owner), ("unanswered", None));
        assert!(!state.hosted);
        assert_eq!(
            types,
            [
                "conversation.hosting_changed",
                "conversation.hosting_changed",
                "conversation.handed_over",
                "conversation.hosting_changed"
            ]
        );
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }
}
