//! Reading results back (each notification with its message's status), members' inboxes,
//! and the loop that hands on what a crash left pending.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::Gateway;
use crate::model::{InboxItem, NewResult, NotificationView, ResultView, now_ms, rfc3339};
use crate::store::StoreError;
use crate::store::rules as rows;

impl Gateway {
    pub async fn result(&self, ws: String, id: String) -> Result<Option<ResultView>, StoreError> {
        let found = self
            .store
            .read(move |c| {
                let Some(row) = rows::result_by_id(c, &ws, &id)? else {
                    return Ok(None);
                };
                let notifications = rows::notifications_of(c, &row.0)?;
                Ok::<_, StoreError>(Some((row, notifications)))
            })
            .await?;
        let Some(((id, body, _, created_at), notifications)) = found else {
            return Ok(None);
        };
        let corrupt = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
        let r: NewResult = serde_json::from_str(&body).map_err(corrupt)?;
        Ok(Some(ResultView {
            id,
            form: r.form,
            values: r.values,
            contact: r.contact,
            conversation: r.conversation,
            created_at: rfc3339(created_at),
            notifications: notifications
                .into_iter()
                .map(|n| {
                    Ok(NotificationView {
                        target: serde_json::from_str(&n.target).map_err(corrupt)?,
                        id: n.id,
                        rule: n.rule_id,
                        rule_name: n.rule_name,
                        state: n.state,
                        message_id: n.message_id,
                        message_status: n.message_status,
                        detail: n.detail,
                    })
                })
                .collect::<Result<_, StoreError>>()?,
        }))
    }

    pub async fn inbox(
        &self,
        ws: String,
        member: String,
    ) -> Result<Option<Vec<InboxItem>>, StoreError> {
        self.store
            .read(move |c| {
                if crate::store::members::member_in(c, &ws, &member)?.is_none() {
                    return Ok(None);
                }
                Ok(Some(
                    rows::inbox(c, &ws, &member, 100)?
                        .into_iter()
                        .map(|(id, kind, title, data, at)| InboxItem {
                            id,
                            kind,
                            title,
                            data: serde_json::from_str(&data).unwrap_or(Value::Null),
                            created_at: rfc3339(at),
                        })
                        .collect(),
                ))
            })
            .await
    }

    /// Hand on what a crash left pending.
    pub async fn hand_on_pending(&self) -> Result<usize, StoreError> {
        let before = now_ms() - 5_000;
        let pending = self
            .store
            .read(move |c| rows::pending_notifications(c, before, 64))
            .await?;
        for n in &pending {
            let (w, id) = (n.workspace_id.clone(), n.result_id.clone());
            let body = self
                .store
                .read(move |c| rows::result_by_id(c, &w, &id))
                .await?;
            if let Some((_, body, ..)) = body
                && let Ok(r) = serde_json::from_str::<NewResult>(&body)
            {
                self.hand_on(n, &r).await?;
            }
        }
        Ok(pending.len())
    }
}

/// The loop that hands on notifications a crash left pending.
pub async fn run(gw: Arc<Gateway>) {
    loop {
        if let Err(e) = gw.hand_on_pending().await {
            tracing::warn!(error = %e, "handing on pending result notifications failed");
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}
