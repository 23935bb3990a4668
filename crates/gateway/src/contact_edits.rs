//! Editing a contact as an agent does: the note name, the phone and the email a person is
//! known by. `PATCH /v1/contacts/{id}` and the console's contact form both come here.
//!
//! The rules: a name is 1 to [`NAME_MAX`] characters, not blank; a phone is E.164 (`+` and 7
//! to 15 digits, no leading zero); an email is `local@domain.tld` without spaces, at most
//! [`EMAIL_MAX`] characters. An address that already belongs to another contact is refused
//! (the store keeps one owner per address; moving it silently would merge two people's
//! histories). Page-scoped ids and push tokens are the channels' to learn, not edited here.

use crate::model::{AddressKey, ContactView, now_ms};
use crate::store::StoreError;
use crate::store::contact_edits as rows;

pub const NAME_MAX: usize = 200;
pub const EMAIL_MAX: usize = 254;

/// A change: `None` leaves a field alone, `Some(None)` removes it.
#[derive(Debug, Default, Clone)]
pub struct ContactChange {
    pub name: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub email: Option<Option<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ContactEditError {
    #[error("contact not found")]
    NotFound,
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{field}: {address} belongs to contact {owner}")]
    Taken {
        field: &'static str,
        address: String,
        owner: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, message: &str) -> ContactEditError {
    ContactEditError::Invalid {
        field,
        message: message.to_string(),
    }
}

/// Spaces as the API's patterns spell them.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

pub fn check_name(name: &str) -> Result<(), ContactEditError> {
    if name.chars().all(is_space) || name.chars().count() > NAME_MAX {
        return Err(invalid(
            "name",
            &format!("must be 1 to {NAME_MAX} characters, not all blank"),
        ));
    }
    Ok(())
}

/// E.164: what `^\+[1-9][0-9]{6,14}$` accepts.
pub fn check_phone(phone: &str) -> Result<(), ContactEditError> {
    let digits = phone.strip_prefix('+').unwrap_or("");
    let ok = (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "phone",
            "must be E.164: + and 7 to 15 digits, e.g. +14155550100",
        ))
    }
}

/// What `^[^@ \t\r\n]+@[^@ \t\r\n]+\.[^@ \t\r\n]+$` accepts, at most [`EMAIL_MAX`] long.
pub fn check_email(email: &str) -> Result<(), ContactEditError> {
    let part = |s: &str| !s.is_empty() && !s.chars().any(|c| c == '@' || is_space(c));
    let ok = email.chars().count() <= EMAIL_MAX
        && email.split_once('@').is_some_and(|(local, domain)| {
            part(local)
                && domain
                    .rsplit_once('.')
                    .is_some_and(|(host, tld)| part(host) && part(tld))
                    // The host may hold dots itself; only `@` and spaces are excluded.
                    && part(domain)
        });
    if ok {
        Ok(())
    } else {
        Err(invalid("email", "must look like name@example.com"))
    }
}

impl crate::Gateway {
    pub async fn edit_contact(
        &self,
        workspace_id: String,
        id: String,
        change: ContactChange,
    ) -> Result<ContactView, ContactEditError> {
        if let Some(Some(name)) = &change.name {
            check_name(name)?;
        }
        if let Some(Some(phone)) = &change.phone {
            check_phone(phone)?;
        }
        if let Some(Some(email)) = &change.email {
            check_email(email)?;
        }
        {
            let (ws, id) = (workspace_id.clone(), id.clone());
            self.store
                .write(move |t| {
                    if !rows::contact_exists(t, &ws, &id)? {
                        return Err(ContactEditError::NotFound);
                    }
                    let now = now_ms();
                    if let Some(name) = &change.name {
                        rows::set_contact_name(t, &id, name.as_deref(), now)?;
                    }
                    for (field, kind, value) in [
                        ("phone", "phone", &change.phone),
                        ("email", "email", &change.email),
                    ] {
                        let Some(value) = value else { continue };
                        if let Some(address) = value {
                            let key = AddressKey {
                                workspace_id: ws.clone(),
                                kind: kind.into(),
                                scope: String::new(),
                                address: address.clone(),
                            };
                            if let Some(owner) = rows::address_owner(t, &key)?
                                && owner != id
                            {
                                return Err(ContactEditError::Taken {
                                    field,
                                    address: address.clone(),
                                    owner,
                                });
                            }
                        }
                        rows::replace_address(t, &ws, &id, kind, value.as_deref(), now)?;
                    }
                    Ok(())
                })
                .await?;
        }
        self.store
            .contact_view(workspace_id, id)
            .await?
            .ok_or(ContactEditError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_and_emails_are_checked_as_the_api_patterns_say() {
        for ok in ["+14155550100", "+821012345678", "+1234567"] {
            assert!(check_phone(ok).is_ok(), "{ok}");
        }
        for bad in [
            "14155550100",
            "+0123456789",
            "+123456",
            "+1234567890123456",
            "+1 415",
        ] {
            assert!(check_phone(bad).is_err(), "{bad}");
        }
        for ok in ["ada@example.com", "a.b@mail.example.co.kr", "x@y.z"] {
            assert!(check_email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "a@b@c.d",
        ] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
        assert!(check_name("  ").is_err());
        assert!(check_name(&"n".repeat(NAME_MAX + 1)).is_err());
        assert!(check_name("Ada (VIP)").is_ok());
    }
}
