//! An `ask` step's answer: checked as intake checks an address (a phone in international
//! form becomes E.164; an email must look like one), and saved on the contact with the
//! rules of an agent's edit (one contact owns an address).

use crate::model::automation::AskField;
use crate::model::{AddressKey, Millis, Recipient};
use crate::store::StoreError;
use crate::store::automation_runs::Run;
use crate::store::contact_edits as rows;
use crate::store::sql::Transaction;

/// The normalised value of a good answer, or why it is not one.
pub fn check(field: AskField, answer: &str) -> Result<String, String> {
    let mut to = match field {
        AskField::Email => Recipient {
            email: Some(answer.to_string()),
            ..Recipient::default()
        },
        AskField::Phone => Recipient {
            phone: Some(answer.to_string()),
            ..Recipient::default()
        },
    };
    if let Some(v) = crate::intake::normalize_recipient(&mut to)
        .into_iter()
        .next()
    {
        return Err(v.message);
    }
    Ok(match field {
        AskField::Email => to.email.unwrap_or_default(),
        AskField::Phone => to.phone.unwrap_or_default(),
    })
}

/// Save the answer on the run's contact. An address another contact already owns is left
/// with its owner (the answer is still the run's): merging contacts is an agent's decision.
pub fn save(
    t: &Transaction,
    run: &Run,
    field: AskField,
    value: &str,
    now: Millis,
) -> Result<(), StoreError> {
    let kind = match field {
        AskField::Email => "email",
        AskField::Phone => "phone",
    };
    let key = AddressKey {
        workspace_id: run.workspace_id.clone(),
        kind: kind.into(),
        scope: String::new(),
        address: value.to_string(),
    };
    match rows::address_owner(t, &key)? {
        Some(owner) if owner != run.contact_id => {
            tracing::info!(run = %run.id, "an asked address belongs to another contact; kept there");
            Ok(())
        }
        _ => rows::replace_address(
            t,
            &run.workspace_id,
            &run.contact_id,
            kind,
            Some(value),
            now,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_checked_as_intake_checks_addresses() {
        assert_eq!(
            check(AskField::Email, "ada@example.com").unwrap(),
            "ada@example.com"
        );
        assert!(check(AskField::Email, "ada at example").is_err());
        assert_eq!(
            check(AskField::Phone, "+1 415 555 0100").unwrap(),
            "+14155550100"
        );
        assert!(check(AskField::Phone, "555-0100").is_err());
    }
}
