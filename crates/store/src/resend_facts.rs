//! The facts a resend decision is made on (the contact's last inbound message, the
//! connection's state, blocked URLs, an existing resend), read where the message view is.

use crate::sql::{OptionalExtension, params};

use super::StoreError;
use crate::model::{Millis, ResendFacts};

/// The facts a resend decision is made on, read in the caller's transaction.
pub fn resend_facts(
    c: &crate::sql::Connection,
    message_id: &str,
    connection_id: &str,
    address: Option<&super::AddressKey>,
    failed_at: Option<Millis>,
    urls: &[String],
) -> Result<ResendFacts, StoreError> {
    let last_inbound_at = match address {
        Some(k) => c
            .prepare_cached(
                "SELECT last_inbound_at FROM contact_addresses
                 WHERE workspace_id = ?1 AND kind = ?2 AND scope = ?3 AND address = ?4",
            )?
            .query_row(params![k.workspace_id, k.kind, k.scope, k.address], |r| {
                r.get::<_, Option<Millis>>(0)
            })
            .optional()?
            .flatten(),
        None => None,
    };
    let (status, reconnected_at) = c
        .prepare_cached("SELECT status, reconnected_at FROM connections WHERE id = ?1")?
        .query_row([connection_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<Millis>>(1)?))
        })
        .optional()?
        .unwrap_or_else(|| ("missing".into(), None));
    let mut blocked_urls = Vec::new();
    let mut stmt =
        c.prepare_cached("SELECT 1 FROM blocked_urls WHERE connection_id = ?1 AND url = ?2")?;
    for url in urls {
        if stmt.exists(params![connection_id, url])? {
            blocked_urls.push(url.clone());
        }
    }
    let resent_as = c
        .prepare_cached("SELECT id FROM messages WHERE resend_of = ?1 ORDER BY id LIMIT 1")?
        .query_row([message_id], |r| r.get::<_, String>(0))
        .optional()?;
    Ok(ResendFacts {
        failed_at,
        last_inbound_at,
        connection_active: status == "active",
        reconnected_at,
        blocked_urls,
        resent_as,
    })
}
