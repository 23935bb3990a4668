//! Conversation records: the list with its filters, one record, the dashboard's totals, and
//! whose eyes each read goes through.
//!
//! A member whose data scope is `own` sees only the conversations they received (took
//! first) or own now; the same rule narrows the messages and contacts they list
//! ([`Viewer::own_only`]), here and in the console. How a contact is named follows the
//! viewer's `list_label`: the note name an agent gave them first, or the label the visitor
//! came in with ([`visitor_label`]).

use crate::model::{
    ConversationFigures, ConversationPage, ConversationRecord, ConversationTotals,
    ConversationView, ListLabel, Viewer, rfc3339,
};
use crate::store::StoreError;
pub use crate::store::conversation_records::RecordFilter;
use crate::store::conversation_records::{self as rows, RecordRow};
use crate::store::sql::Connection;

/// What a visitor is called before anyone names them: the address they came in by, as their
/// channel shows it (a Messenger user by the tail of their page-scoped id, since the id
/// itself is a long opaque number), or the contact's id when it has no address.
pub fn visitor_label(contact_id: &str, first_address: Option<&(String, String)>) -> String {
    match first_address {
        Some((kind, address)) if kind == "psid" => {
            let tail: String = address
                .chars()
                .rev()
                .take(4)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            format!("Messenger visitor {tail}")
        }
        Some((kind, _)) if kind == "push" => "App visitor".to_string(),
        Some((_, address)) => address.clone(),
        None => format!("Visitor {contact_id}"),
    }
}

fn figures(
    c: &Connection,
    row: &RecordRow,
    label: ListLabel,
) -> Result<ConversationFigures, StoreError> {
    let visitor = visitor_label(&row.state.contact_id, row.first_address.as_ref());
    Ok(ConversationFigures {
        display_name: label.display_name(row.note_name.as_deref(), &visitor),
        message_count: row.message_count,
        visitor_messages: row.visitor_messages,
        agent_messages: row.agent_messages,
        first_response_ms: row.first_response_ms,
        received_by: row.received_by.clone(),
        received_at: row.received_at.map(rfc3339),
        tags: rows::tags_of(c, &row.state.id)?,
    })
}

fn record(
    c: &Connection,
    row: RecordRow,
    label: ListLabel,
) -> Result<ConversationRecord, StoreError> {
    let figures = figures(c, &row, label)?;
    Ok(ConversationRecord {
        summary: super::summary(row.state),
        figures,
    })
}

/// The caller's filters narrowed to what `viewer` sees: `own_member` comes from the viewer,
/// whatever the caller put there.
fn filter(q: RecordFilter, viewer: &Viewer) -> RecordFilter {
    RecordFilter {
        own_member: viewer.own_only.clone(),
        ..q
    }
}

impl crate::Gateway {
    /// Conversation records in creation order, narrowed by `q` and by what `viewer` sees.
    pub async fn list_conversations(
        &self,
        ws: String,
        viewer: Viewer,
        q: RecordFilter,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<ConversationPage, StoreError> {
        self.store
            .read(move |c| {
                let f = filter(q, &viewer);
                let found = rows::list(c, &ws, &f, cursor.as_deref(), limit + 1)?;
                let (found, next_cursor) =
                    crate::store::split_page(found, limit, |r| r.state.id.clone());
                let data = found
                    .into_iter()
                    .map(|row| record(c, row, viewer.list_label))
                    .collect::<Result<_, _>>()?;
                Ok(ConversationPage { data, next_cursor })
            })
            .await
    }

    /// Ongoing, ended and all conversations `viewer` sees, narrowed by `q` (its state aside).
    pub async fn conversation_totals(
        &self,
        ws: String,
        viewer: Viewer,
        q: RecordFilter,
    ) -> Result<ConversationTotals, StoreError> {
        self.store
            .read(move |c| {
                let (ongoing, ended, total) = rows::summary(c, &ws, &filter(q, &viewer))?;
                Ok(ConversationTotals {
                    ongoing,
                    ended,
                    total,
                })
            })
            .await
    }

    /// Whether `viewer` sees everything, or passes `check` as the member whose own data
    /// they are limited to.
    async fn sees(
        &self,
        viewer: &Viewer,
        check: impl FnOnce(&Connection, &str) -> Result<bool, StoreError> + Send + 'static,
    ) -> Result<bool, StoreError> {
        let Some(member) = viewer.own_only.clone() else {
            return Ok(true);
        };
        self.store.read(move |c| check(c, &member)).await
    }

    /// Whether `viewer` sees the conversation of this contact (or with this id). A
    /// conversation that does not exist is seen by whoever sees everything.
    pub async fn sees_conversation(
        &self,
        ws: String,
        viewer: &Viewer,
        contact_or_id: String,
    ) -> Result<bool, StoreError> {
        self.sees(viewer, move |c, m| {
            rows::is_members(c, &ws, &contact_or_id, m)
        })
        .await
    }

    /// Whether `viewer` sees this contact: their conversation is the member's.
    pub async fn sees_contact(
        &self,
        ws: String,
        viewer: &Viewer,
        contact: String,
    ) -> Result<bool, StoreError> {
        self.sees_conversation(ws, viewer, contact).await
    }

    /// Whether `viewer` sees this message: it went to a contact of theirs.
    pub async fn sees_message(
        &self,
        ws: String,
        viewer: &Viewer,
        message: String,
    ) -> Result<bool, StoreError> {
        self.sees(viewer, move |c, m| {
            rows::message_is_members(c, &ws, &message, m)
        })
        .await
    }

    /// The conversation with its messages, history and record, if `viewer` sees it.
    pub async fn conversation_view(
        &self,
        ws: String,
        viewer: Viewer,
        contact_or_id: String,
    ) -> Result<Option<ConversationView>, StoreError> {
        if !self
            .sees_conversation(ws.clone(), &viewer, contact_or_id.clone())
            .await?
        {
            return Ok(None);
        }
        let Some(mut view) = self
            .store
            .conversation_view(ws.clone(), contact_or_id.clone())
            .await?
        else {
            return Ok(None);
        };
        let id = view.id.clone();
        let found = self
            .store
            .read(move |c| match rows::get(c, &ws, &id)? {
                Some(row) => figures(c, &row, viewer.list_label).map(Some),
                None => Ok(None),
            })
            .await?;
        if let Some(figures) = found {
            view.figures = figures;
        }
        Ok(Some(view))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visitor_is_labelled_by_the_address_they_came_in_by() {
        let psid = ("psid".to_string(), "6543210987654321".to_string());
        assert_eq!(visitor_label("ct_1", Some(&psid)), "Messenger visitor 4321");
        let phone = ("phone".to_string(), "+14155550100".to_string());
        assert_eq!(visitor_label("ct_1", Some(&phone)), "+14155550100");
        assert_eq!(visitor_label("ct_1", None), "Visitor ct_1");
    }

    #[test]
    fn the_note_name_comes_first_only_for_those_who_want_it() {
        let note = Some("Ada (VIP)");
        assert_eq!(ListLabel::NoteName.display_name(note, "+1415"), "Ada (VIP)");
        assert_eq!(ListLabel::VisitorLabel.display_name(note, "+1415"), "+1415");
        assert_eq!(ListLabel::NoteName.display_name(None, "+1415"), "+1415");
        assert_eq!(
            ListLabel::NoteName.display_name(Some("  "), "+1415"),
            "+1415"
        );
    }
}
