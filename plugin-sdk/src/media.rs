//! The attachment types most channels accept, for a manifest's `media-rules`.
//!
//! The host enforces these before a message is accepted (see `ContentLimits::media_rules`):
//! an attachment whose kind and file extension match no rule, or that is larger than its
//! rule allows, is refused with a violation naming the field. Channels with other limits
//! build their own list, e.g. Messenger raises every cap to 25 MB with [`with_max_bytes`].

use crate::{MediaKind, MediaRule};

/// 10 MB, the common cap for an attachment.
pub const STANDARD_MAX_BYTES: u64 = 10 * 1024 * 1024;

pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "gif"];
pub const VIDEO_EXTENSIONS: &[&str] = &["mov", "m4v", "mp4"];
pub const DOCUMENT_EXTENSIONS: &[&str] = &["odt", "ppt", "txt", "doc", "pdf"];

fn rule(kind: MediaKind, extensions: &[&str], max_bytes: u64) -> MediaRule {
    MediaRule {
        kind,
        extensions: extensions.iter().map(|e| e.to_string()).collect(),
        max_bytes,
    }
}

/// Images png/jpg/jpeg/gif, video mov/m4v/mp4 and documents odt/ppt/txt/doc/pdf (as `file`),
/// each up to 10 MB.
pub fn standard_rules() -> Vec<MediaRule> {
    vec![
        rule(MediaKind::Image, IMAGE_EXTENSIONS, STANDARD_MAX_BYTES),
        rule(MediaKind::Video, VIDEO_EXTENSIONS, STANDARD_MAX_BYTES),
        rule(MediaKind::File, DOCUMENT_EXTENSIONS, STANDARD_MAX_BYTES),
    ]
}

/// Only images, e.g. for push notifications or MMS.
pub fn image_rules(max_bytes: u64) -> Vec<MediaRule> {
    vec![rule(MediaKind::Image, IMAGE_EXTENSIONS, max_bytes)]
}

/// The same rules with every cap set to `max_bytes`.
pub fn with_max_bytes(rules: Vec<MediaRule>, max_bytes: u64) -> Vec<MediaRule> {
    rules
        .into_iter()
        .map(|r| MediaRule { max_bytes, ..r })
        .collect()
}

/// Build a rule for a kind and extensions of your own.
pub fn custom(kind: MediaKind, extensions: &[&str], max_bytes: u64) -> MediaRule {
    rule(kind, extensions, max_bytes)
}
