//! Members, invitations and console sessions: rows only. Tokens arrive as digests; who may
//! invite whom, when an invitation expires and how a password is checked are the tenancy
//! service's (`switchboard-gateway`'s `tenancy/members.rs`).

use crate::StoreError;
use crate::model::{DataScope, InvitationView, ListLabel, MemberView, Role, rfc3339};
use crate::sql::{Connection, OptionalExtension, Row, Transaction, params};

/// A member as stored, with what signing in needs.
#[derive(Debug, Clone)]
pub struct MemberRow {
    pub view: MemberView,
    pub workspace_id: String,
    pub password_hash: String,
    /// How their lists name a contact (a preference of theirs).
    pub list_label: ListLabel,
}

const MEMBER_COLUMNS: &str =
    "id, email, name, role, created_at, workspace_id, password_hash, data_scope, list_label";

fn member(r: &Row<'_>) -> crate::sql::Result<MemberRow> {
    let role: String = r.get(3)?;
    let scope: String = r.get(7)?;
    let label: String = r.get(8)?;
    Ok(MemberRow {
        view: MemberView {
            id: r.get(0)?,
            email: r.get(1)?,
            name: r.get(2)?,
            role: Role::parse(&role).ok_or_else(|| {
                crate::sql::Error::conversion(3, format!("unknown role {role:?}"))
            })?,
            data_scope: DataScope::parse(&scope).ok_or_else(|| {
                crate::sql::Error::conversion(7, format!("unknown data scope {scope:?}"))
            })?,
            created_at: rfc3339(r.get(4)?),
        },
        workspace_id: r.get(5)?,
        password_hash: r.get(6)?,
        list_label: ListLabel::parse(&label).ok_or_else(|| {
            crate::sql::Error::conversion(8, format!("unknown list label {label:?}"))
        })?,
    })
}

fn invitation(r: &Row<'_>) -> crate::sql::Result<InvitationView> {
    let role: String = r.get(2)?;
    Ok(InvitationView {
        id: r.get(0)?,
        email: r.get(1)?,
        role: Role::parse(&role)
            .ok_or_else(|| crate::sql::Error::conversion(2, format!("unknown role {role:?}")))?,
        created_at: rfc3339(r.get(3)?),
        expires_at: rfc3339(r.get(4)?),
        accepted_at: r.get::<_, Option<i64>>(5)?.map(rfc3339),
    })
}

pub struct NewInvitationRow<'a> {
    pub id: &'a str,
    pub token_hash: &'a str,
    pub workspace_id: &'a str,
    pub email: &'a str,
    pub role: Role,
    pub created_at: i64,
    pub expires_at: i64,
}

pub fn insert_invitation(
    t: &Transaction,
    i: &NewInvitationRow,
) -> Result<InvitationView, StoreError> {
    Ok(t.query_row(
        "INSERT INTO invitations (id, token_hash, workspace_id, email, role, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         RETURNING id, email, role, created_at, expires_at, accepted_at",
        params![i.id, i.token_hash, i.workspace_id, i.email, i.role.as_str(), i.created_at, i.expires_at],
        invitation,
    )?)
}

pub fn invitations(c: &Connection, workspace_id: &str) -> Result<Vec<InvitationView>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT id, email, role, created_at, expires_at, accepted_at FROM invitations
         WHERE workspace_id = ?1 ORDER BY created_at, id",
    )?
    .query_map([workspace_id], invitation)?
    .collect::<Result<_, _>>()?)
}

/// Mark the invitation with this token digest used, if it is unused and still valid at `now`;
/// its workspace, email and role.
pub fn take_invitation(
    t: &Transaction,
    token_hash: &str,
    now: i64,
) -> Result<Option<(String, String, Role)>, StoreError> {
    let row: Option<(String, String, String)> = t
        .query_row(
            "UPDATE invitations SET accepted_at = ?2
             WHERE token_hash = ?1 AND accepted_at IS NULL AND expires_at > ?2
             RETURNING workspace_id, email, role",
            params![token_hash, now],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    row.map(|(ws, email, role)| {
        Role::parse(&role)
            .map(|role| (ws, email, role))
            .ok_or_else(|| StoreError::Corrupt(format!("unknown role {role:?}")))
    })
    .transpose()
}

pub struct NewMemberRow<'a> {
    pub id: &'a str,
    pub workspace_id: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub password_hash: &'a str,
    pub created_at: i64,
}

/// A new member; a taken email fails as a unique violation.
pub fn insert_member(t: &Transaction, m: &NewMemberRow) -> Result<MemberView, StoreError> {
    Ok(t.query_row(
        &format!(
            "INSERT INTO members (id, workspace_id, email, name, role, password_hash, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING {MEMBER_COLUMNS}"
        ),
        params![
            m.id,
            m.workspace_id,
            m.email,
            m.name,
            m.role.as_str(),
            m.password_hash,
            m.created_at
        ],
        member,
    )?
    .view)
}

pub fn members(c: &Connection, workspace_id: &str) -> Result<Vec<MemberView>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {MEMBER_COLUMNS} FROM members WHERE workspace_id = ?1 ORDER BY created_at, id"
    ))?
    .query_map([workspace_id], |r| member(r).map(|m| m.view))?
    .collect::<Result<_, _>>()?)
}

pub fn member_by_email(c: &Connection, email: &str) -> Result<Option<MemberRow>, StoreError> {
    Ok(c.query_row(
        &format!("SELECT {MEMBER_COLUMNS} FROM members WHERE email = ?1"),
        [email],
        member,
    )
    .optional()?)
}

pub fn member_in(
    c: &Connection,
    workspace_id: &str,
    id: &str,
) -> Result<Option<MemberRow>, StoreError> {
    Ok(c.query_row(
        &format!("SELECT {MEMBER_COLUMNS} FROM members WHERE workspace_id = ?1 AND id = ?2"),
        [workspace_id, id],
        member,
    )
    .optional()?)
}

/// How many admins the workspace has (the last one may not be demoted or removed).
pub fn admins(c: &Connection, workspace_id: &str) -> Result<i64, StoreError> {
    Ok(c.query_row(
        "SELECT COUNT(*) FROM members WHERE workspace_id = ?1 AND role = 'admin'",
        [workspace_id],
        |r| r.get(0),
    )?)
}

/// Replace a member's password hash and end their sessions.
pub fn set_password_hash(t: &Transaction, id: &str, password_hash: &str) -> Result<(), StoreError> {
    t.execute(
        "UPDATE members SET password_hash = ?2 WHERE id = ?1",
        [id, password_hash],
    )?;
    t.execute("DELETE FROM sessions WHERE member_id = ?1", [id])?;
    Ok(())
}

pub fn set_role(
    t: &Transaction,
    workspace_id: &str,
    id: &str,
    role: Role,
) -> Result<bool, StoreError> {
    Ok(t.execute(
        "UPDATE members SET role = ?3 WHERE workspace_id = ?1 AND id = ?2",
        params![workspace_id, id, role.as_str()],
    )? == 1)
}

pub fn set_data_scope(
    t: &Transaction,
    workspace_id: &str,
    id: &str,
    scope: DataScope,
) -> Result<bool, StoreError> {
    Ok(t.execute(
        "UPDATE members SET data_scope = ?3 WHERE workspace_id = ?1 AND id = ?2",
        params![workspace_id, id, scope.as_str()],
    )? == 1)
}

pub fn set_list_label(
    t: &Transaction,
    workspace_id: &str,
    id: &str,
    label: ListLabel,
) -> Result<bool, StoreError> {
    Ok(t.execute(
        "UPDATE members SET list_label = ?3 WHERE workspace_id = ?1 AND id = ?2",
        params![workspace_id, id, label.as_str()],
    )? == 1)
}

/// Remove a member and end every session of theirs.
pub fn delete_member(t: &Transaction, workspace_id: &str, id: &str) -> Result<bool, StoreError> {
    t.execute(
        "DELETE FROM sessions WHERE member_id IN (SELECT id FROM members WHERE workspace_id = ?1 AND id = ?2)",
        [workspace_id, id],
    )?;
    Ok(t.execute(
        "DELETE FROM members WHERE workspace_id = ?1 AND id = ?2",
        [workspace_id, id],
    )? == 1)
}

/// Revoke every live key that acts as a member.
pub fn revoke_member_keys(
    t: &Transaction,
    workspace_id: &str,
    member_id: &str,
    now: i64,
) -> Result<usize, StoreError> {
    Ok(t.execute(
        "UPDATE api_keys SET revoked_at = ?3 WHERE workspace_id = ?1 AND member_id = ?2 AND revoked_at IS NULL",
        params![workspace_id, member_id, now],
    )?)
}

pub fn insert_session(
    t: &Transaction,
    token_hash: &str,
    member_id: &str,
    csrf: &str,
    created_at: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    t.execute(
        "INSERT INTO sessions (token_hash, member_id, csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![token_hash, member_id, csrf, created_at, expires_at],
    )?;
    Ok(())
}

/// The member and CSRF token of a session live at `now`.
pub fn session(
    c: &Connection,
    token_hash: &str,
    now: i64,
) -> Result<Option<(MemberRow, String)>, StoreError> {
    Ok(c.query_row(
        "SELECT m.id, m.email, m.name, m.role, m.created_at, m.workspace_id, m.password_hash, m.data_scope, m.list_label, s.csrf
         FROM sessions s JOIN members m ON m.id = s.member_id
         WHERE s.token_hash = ?1 AND s.expires_at > ?2",
        params![token_hash, now],
        |r| Ok((member(r)?, r.get(9)?)),
    )
    .optional()?)
}

pub fn delete_session(t: &Transaction, token_hash: &str) -> Result<(), StoreError> {
    t.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])?;
    Ok(())
}
