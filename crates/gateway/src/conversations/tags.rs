//! The workspace's conversation tags (`/v1/conversation-tags`) and the tags on each
//! conversation. A tag is named by its name wherever a conversation carries it, so a rename
//! follows it onto every conversation in the same commit, and a deletion takes it off them.
//! An automation's `tag` step may name a tag the catalogue lacks: it joins the catalogue.

use crate::model::{TagInput, TagView, new_id, now_ms, rfc3339};
use crate::store::StoreError;
use crate::store::conversation_records::{self as rows, TagRow};

/// Longest tag name, in characters.
pub const NAME_MAX: usize = 64;
/// Longest description, in characters.
pub const DESCRIPTION_MAX: usize = 500;

/// Why a tag change was refused.
#[derive(Debug, thiserror::Error)]
pub enum TagError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("name: the workspace already has a tag named {0:?}")]
    Duplicate(String),
    #[error("tag not found")]
    NotFound,
    #[error("conversation not found")]
    NoConversation,
    #[error("tags: the workspace has no tag named {0:?}")]
    UnknownTag(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn view(t: TagRow) -> TagView {
    TagView {
        id: t.id,
        name: t.name,
        color: t.color,
        description: t.description,
        conversations: t.conversations,
        created_at: rfc3339(t.created_at),
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> TagError {
    TagError::Invalid {
        field,
        message: message.into(),
    }
}

fn check(input: &TagInput) -> Result<(), TagError> {
    if let Some(name) = &input.name {
        let blank = name.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
        if blank || name.chars().count() > NAME_MAX {
            return Err(invalid(
                "name",
                format!("a name of 1 to {NAME_MAX} characters, not blank"),
            ));
        }
    }
    if let Some(color) = &input.color {
        let hex = color.strip_prefix('#').unwrap_or("");
        if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(invalid("color", "a colour as #rrggbb"));
        }
    }
    if let Some(d) = &input.description
        && d.chars().count() > DESCRIPTION_MAX
    {
        return Err(invalid(
            "description",
            format!("at most {DESCRIPTION_MAX} characters"),
        ));
    }
    Ok(())
}

impl crate::Gateway {
    pub async fn list_tags(&self, ws: String) -> Result<Vec<TagView>, StoreError> {
        let found = self.store.read(move |c| rows::tags(c, &ws)).await?;
        Ok(found.into_iter().map(view).collect())
    }

    pub async fn get_tag(&self, ws: String, id: String) -> Result<TagView, TagError> {
        self.store
            .read(move |c| rows::tag(c, &ws, &id))
            .await?
            .map(view)
            .ok_or(TagError::NotFound)
    }

    pub async fn create_tag(&self, ws: String, input: TagInput) -> Result<TagView, TagError> {
        check(&input)?;
        let name = input
            .name
            .clone()
            .ok_or_else(|| invalid("name", "a name is required"))?;
        self.store
            .write(move |t| {
                let id = new_id("tag");
                let made = rows::insert_tag(
                    t,
                    &ws,
                    &id,
                    &name,
                    input.color.as_deref(),
                    input.description.as_deref(),
                    now_ms(),
                )?;
                if !made {
                    return Err(TagError::Duplicate(name));
                }
                rows::tag(t, &ws, &id)?.map(view).ok_or(TagError::NotFound)
            })
            .await
    }

    /// Change a tag: fields left out stay as they are; a `null`-free patch.
    pub async fn update_tag(
        &self,
        ws: String,
        id: String,
        input: TagInput,
    ) -> Result<TagView, TagError> {
        check(&input)?;
        self.store
            .write(move |t| {
                let old = rows::tag(t, &ws, &id)?.ok_or(TagError::NotFound)?;
                let name = input.name.clone().unwrap_or_else(|| old.name.clone());
                if name != old.name && rows::tag(t, &ws, &name)?.is_some() {
                    return Err(TagError::Duplicate(name));
                }
                let color = input.color.clone().or(old.color.clone());
                let description = input.description.clone().or(old.description.clone());
                rows::update_tag(
                    t,
                    &ws,
                    &old.name,
                    &name,
                    color.as_deref(),
                    description.as_deref(),
                )?;
                rows::tag(t, &ws, &old.id)?
                    .map(view)
                    .ok_or(TagError::NotFound)
            })
            .await
    }

    pub async fn delete_tag(&self, ws: String, id: String) -> Result<(), TagError> {
        self.store
            .write(move |t| {
                let old = rows::tag(t, &ws, &id)?.ok_or(TagError::NotFound)?;
                rows::delete_tag(t, &ws, &old.name)?;
                Ok(())
            })
            .await
    }

    /// Put tags on a conversation (those it has already stay): its tags after.
    pub async fn tag_conversation(
        &self,
        ws: String,
        contact_or_id: String,
        tags: Vec<String>,
    ) -> Result<Vec<String>, TagError> {
        self.store
            .write(move |t| {
                let state = crate::store::conversation_states::state_of(t, &ws, &contact_or_id)?
                    .ok_or(TagError::NoConversation)?;
                let now = now_ms();
                for name in &tags {
                    if rows::tag(t, &ws, name)?.is_none_or(|g| g.name != *name) {
                        return Err(TagError::UnknownTag(name.clone()));
                    }
                    rows::add_tag(t, &ws, &state.id, name, now)?;
                }
                Ok(rows::tags_of(t, &state.id)?)
            })
            .await
    }

    /// Take a tag off a conversation: its tags after. A tag it does not carry is not found.
    pub async fn untag_conversation(
        &self,
        ws: String,
        contact_or_id: String,
        tag: String,
    ) -> Result<Vec<String>, TagError> {
        self.store
            .write(move |t| {
                let state = crate::store::conversation_states::state_of(t, &ws, &contact_or_id)?
                    .ok_or(TagError::NoConversation)?;
                if !rows::remove_tag(t, &state.id, &tag)? {
                    return Err(TagError::NotFound);
                }
                Ok(rows::tags_of(t, &state.id)?)
            })
            .await
    }
}
