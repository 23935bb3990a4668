//! Members: the people of a workspace, who sign in to the console with an email and a
//! password, each with one [`Role`].
//!
//! - An admin invites someone by email and role; the invitation is a random token, shown once
//!   (the store keeps its SHA-256 digest), valid for [`INVITATION_TTL`] and good for one use.
//! - Accepting it sets the member's name and password. Passwords are hashed with argon2id
//!   (the `argon2` crate's defaults: 19 MiB, 2 passes), in PHC form, off the async threads.
//! - Signing in checks the password against the hash; an unknown email costs the same hash
//!   work as a known one, so the answer's timing does not tell which emails exist.
//! - A workspace keeps at least one admin: the last one can be neither demoted nor removed.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::model::{DataScope, InvitationView, MemberView, NewInvitation, Role, new_id, now_ms};
use crate::store::members::{self as rows, MemberRow, NewInvitationRow, NewMemberRow};
use crate::store::{Store, StoreError};

/// How long an invitation may wait to be accepted.
pub const INVITATION_TTL: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);
/// The shortest password accepted (NIST SP 800-63B asks for at least 8; a console that moves
/// money asks for a little more).
pub const MIN_PASSWORD: usize = 10;
pub const MAX_PASSWORD: usize = 1024;
/// The longest member name, in characters.
pub const NAME_MAX: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("a member with this email already exists")]
    EmailTaken,
    #[error("the invitation is unknown, used or expired")]
    InvalidInvitation,
    #[error("the workspace's last admin cannot be demoted or removed")]
    LastAdmin,
    #[error("no such member")]
    NotFound,
    #[error("password hashing: {0}")]
    Hash(String),
}

fn invalid(field: &'static str, message: impl Into<String>) -> MemberError {
    MemberError::Invalid {
        field,
        message: message.into(),
    }
}

/// The emails accepted, as a JSON Schema pattern: printable ASCII without spaces, one `@`,
/// a domain that does not start with `.` and has a `.` with something after it. The API
/// document states it, and [`normalize_email`] checks exactly it. (Internationalised
/// addresses are not accepted yet.)
pub const EMAIL_PATTERN: &str = "^[!-?A-~]+@[!--/-?A-~][!-?A-~]*\\.[!-?A-~]+$";
pub const EMAIL_MAX: usize = 254;

/// Emails compare case-insensitively; they are kept lower-cased, and surrounding spaces are
/// dropped.
pub fn normalize_email(email: &str) -> Result<String, MemberError> {
    let email = email.trim().to_ascii_lowercase();
    let printable = |s: &str| s.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'@');
    let ok = email.len() <= EMAIL_MAX
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && printable(local)
                && printable(domain)
                && !domain.starts_with('.')
                && domain.len() >= 3
                && domain[1..domain.len() - 1].contains('.')
        });
    if ok {
        Ok(email)
    } else {
        Err(invalid("email", "not an email address"))
    }
}

fn check_password(password: &str) -> Result<(), MemberError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD {
        return Err(invalid(
            "password",
            format!("at least {MIN_PASSWORD} characters"),
        ));
    }
    if n > MAX_PASSWORD {
        return Err(invalid(
            "password",
            format!("at most {MAX_PASSWORD} characters"),
        ));
    }
    Ok(())
}

/// The digest a token (invitation or session) is stored and looked up by.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A random token of 32 bytes, hex.
pub fn new_token() -> String {
    hex::encode(rand::rng().random::<[u8; 32]>())
}

/// argon2id in PHC form, on the blocking pool (tens of milliseconds of CPU).
pub async fn hash_password(password: String) -> Result<String, MemberError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&rand::rng().random::<[u8; 16]>())
            .map_err(|e| MemberError::Hash(e.to_string()))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| MemberError::Hash(e.to_string()))
    })
    .await
    .map_err(|e| MemberError::Hash(e.to_string()))?
}

async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

/// A hash of no one's password, checked when the email is unknown so that answer takes as
/// long as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let salt = SaltString::encode_b64(&[7u8; 16]).expect("a fixed salt encodes");
        Argon2::default()
            .hash_password(new_token().as_bytes(), &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// Invite `email` into the workspace with `role`: the token is in the answer only.
pub async fn invite(
    store: &Store,
    workspace_id: String,
    email: &str,
    role: Role,
) -> Result<NewInvitation, MemberError> {
    let email = normalize_email(email)?;
    let existing = {
        let email = email.clone();
        store
            .read(move |c| rows::member_by_email(c, &email))
            .await?
    };
    if existing.is_some() {
        return Err(MemberError::EmailTaken);
    }
    let token = new_token();
    let digest = token_digest(&token);
    let now = now_ms();
    let invitation = store
        .write(move |t| {
            rows::insert_invitation(
                t,
                &NewInvitationRow {
                    id: &new_id("inv"),
                    token_hash: &digest,
                    workspace_id: &workspace_id,
                    email: &email,
                    role,
                    created_at: now,
                    expires_at: now + INVITATION_TTL.as_millis() as i64,
                },
            )
        })
        .await?;
    Ok(NewInvitation {
        invitation,
        accept_path: format!("/console/invitations/{token}"),
        token,
    })
}

/// Accept an invitation: the member it makes, signed up with `name` and `password`.
pub async fn accept(
    store: &Store,
    token: &str,
    name: &str,
    password: &str,
) -> Result<MemberView, MemberError> {
    if name.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
        || name.chars().count() > NAME_MAX
    {
        return Err(invalid(
            "name",
            format!("1 to {NAME_MAX} characters, not all blank"),
        ));
    }
    let name = name.trim().to_string();
    check_password(password)?;
    let hash = hash_password(password.to_string()).await?;
    let digest = token_digest(token);
    // One write: a failure (an unknown token, an email taken meanwhile) rolls back whole, so
    // the invitation stays unused.
    store
        .write(move |t| -> Result<MemberView, MemberError> {
            let Some((workspace_id, email, role)) = rows::take_invitation(t, &digest, now_ms())?
            else {
                return Err(MemberError::InvalidInvitation);
            };
            rows::insert_member(
                t,
                &NewMemberRow {
                    id: &new_id("mem"),
                    workspace_id: &workspace_id,
                    email: &email,
                    name: &name,
                    role,
                    password_hash: &hash,
                    created_at: now_ms(),
                },
            )
            .map_err(|e| {
                if e.is_unique_violation() {
                    MemberError::EmailTaken
                } else {
                    e.into()
                }
            })
        })
        .await
}

/// Make sure `email` is a member of the workspace with `role` who signs in with `password`
/// (the sandbox's console members): invited and accepted the first time, the password set
/// again when it changed.
pub async fn ensure_member(
    store: &Store,
    workspace_id: &str,
    email: &str,
    name: &str,
    role: Role,
    password: &str,
) -> Result<(), MemberError> {
    let email = normalize_email(email)?;
    let existing = {
        let email = email.clone();
        store
            .read(move |c| rows::member_by_email(c, &email))
            .await?
    };
    match existing {
        None => {
            let invitation = invite(store, workspace_id.to_string(), &email, role).await?;
            accept(store, &invitation.token, name, password).await?;
        }
        Some(m) if verify_password(password.to_string(), m.password_hash.clone()).await => {}
        Some(m) => {
            check_password(password)?;
            let hash = hash_password(password.to_string()).await?;
            let id = m.view.id;
            store
                .write(move |t| rows::set_password_hash(t, &id, &hash))
                .await?;
        }
    }
    Ok(())
}

/// The member with this email and password, or `None`.
pub async fn authenticate(
    store: &Store,
    email: &str,
    password: &str,
) -> Result<Option<MemberRow>, MemberError> {
    let Ok(email) = normalize_email(email) else {
        verify_password(password.to_string(), decoy_hash().to_string()).await;
        return Ok(None);
    };
    let found = store
        .read(move |c| rows::member_by_email(c, &email))
        .await?;
    let hash = found
        .as_ref()
        .map(|m| m.password_hash.clone())
        .unwrap_or_else(|| decoy_hash().to_string());
    let ok = verify_password(password.to_string(), hash).await;
    Ok(found.filter(|_| ok))
}

pub async fn members(store: &Store, workspace_id: String) -> Result<Vec<MemberView>, MemberError> {
    Ok(store.read(move |c| rows::members(c, &workspace_id)).await?)
}

pub async fn invitations(
    store: &Store,
    workspace_id: String,
) -> Result<Vec<InvitationView>, MemberError> {
    Ok(store
        .read(move |c| rows::invitations(c, &workspace_id))
        .await?)
}

/// Change a member's role and what they see; the last admin stays an admin.
pub async fn change(
    store: &Store,
    workspace_id: String,
    id: String,
    role: Option<Role>,
    data_scope: Option<DataScope>,
) -> Result<MemberView, MemberError> {
    store
        .write(move |t| -> Result<MemberView, MemberError> {
            let Some(m) = rows::member_in(t, &workspace_id, &id)? else {
                return Err(MemberError::NotFound);
            };
            let mut view = m.view;
            if let Some(role) = role {
                if view.role == Role::Admin
                    && role != Role::Admin
                    && rows::admins(t, &workspace_id)? <= 1
                {
                    return Err(MemberError::LastAdmin);
                }
                rows::set_role(t, &workspace_id, &id, role)?;
                view.role = role;
            }
            if let Some(scope) = data_scope {
                rows::set_data_scope(t, &workspace_id, &id, scope)?;
                view.data_scope = scope;
            }
            Ok(view)
        })
        .await
}

/// Remove a member (and end their sessions); the last admin stays.
pub async fn remove(store: &Store, workspace_id: String, id: String) -> Result<(), MemberError> {
    store
        .write(move |t| -> Result<(), MemberError> {
            let Some(m) = rows::member_in(t, &workspace_id, &id)? else {
                return Err(MemberError::NotFound);
            };
            if m.view.role == Role::Admin && rows::admins(t, &workspace_id)? <= 1 {
                return Err(MemberError::LastAdmin);
            }
            rows::delete_member(t, &workspace_id, &id)?;
            // Their keys act as them: they go with them.
            rows::revoke_member_keys(t, &workspace_id, &id, now_ms())?;
            Ok(())
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalize_email("  Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@localhost",
            "a da@example.com",
            "ada@.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_password_verifies_against_its_hash_only() {
        let hash = hash_password("correct horse battery".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse battery".into(), hash.clone()).await);
        assert!(!verify_password("correct horse battery!".into(), hash).await);
        assert!(!verify_password("anything".into(), decoy_hash().into()).await);
    }
}
