//! Between the gateway's schema ([`switchboard_model`]) and the WIT types plugins see. Kept here
//! so the rest of the host never touches generated bindings.

use super::ConnectionCtx;
use super::bindings::wit;
use switchboard_model::{self as model, FailureReason};

pub fn wit_connection(c: &ConnectionCtx) -> wit::Connection {
    wit::Connection {
        id: c.id.clone(),
        name: c.name.clone(),
        webhook_url: c.webhook_url.clone(),
    }
}

/// The sender a message names, as `send` takes it.
pub fn wit_sender(s: &model::Sender) -> wit::Sender {
    wit::Sender {
        email: s.email.trim().to_string(),
        name: s.name.clone().filter(|n| !n.is_empty()),
    }
}

/// The message as a plugin sees it. `idempotency_key` is stable across a delivery's attempts.
pub fn wit_message(
    id: &str,
    workspace: &str,
    m: &model::NewMessage,
    idempotency_key: &str,
) -> wit::Message {
    let to = &m.to;
    wit::Message {
        id: id.to_string(),
        workspace: workspace.to_string(),
        to: wit::Recipient {
            phone: to.phone.clone(),
            country: to.country.clone(),
            email: to.email.clone(),
            psid: to.psid.clone(),
            push_token: to.push_token.clone(),
            push_platform: to.push_platform.clone(),
            name: to.name.clone(),
            // Filled by the dispatcher from the contact's record, just before `send`.
            last_inbound_ms: None,
        },
        content: wit::Content {
            text: m.content.text.clone(),
            subject: m.content.subject.clone(),
            media: m.content.media.iter().map(wit_media).collect(),
            carousel: m
                .content
                .carousel
                .iter()
                .map(|e| wit::CarouselElement {
                    title: e.title.clone(),
                    subtitle: e.subtitle.clone(),
                    image_url: e.image_url.clone(),
                    buttons: e.buttons.iter().map(wit_button).collect(),
                })
                .collect(),
            buttons: m.content.buttons.iter().map(wit_button).collect(),
            quick_replies: m
                .content
                .quick_replies
                .iter()
                .map(|q| wit::QuickReply {
                    title: q.title.clone(),
                    payload: q.payload.clone(),
                    image_url: q.image_url.clone(),
                })
                .collect(),
            template: m.content.template.as_ref().map(|t| wit::TemplateRef {
                id: t.id.clone(),
                variables: pairs(&t.variables),
            }),
            data: pairs(&m.content.data),
        },
        category: match m.category {
            model::Category::Transactional => wit::Category::Transactional,
            model::Category::Marketing => wit::Category::Marketing,
            model::Category::FollowUp => wit::Category::FollowUp,
        },
        metadata: pairs(&m.metadata),
        options: pairs(&m.options),
        idempotency_key: idempotency_key.to_string(),
    }
}

fn pairs(map: &std::collections::BTreeMap<String, String>) -> Vec<(String, String)> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn wit_button(b: &model::Button) -> wit::Button {
    wit::Button {
        title: b.title.clone(),
        url: b.url.clone(),
        payload: b.payload.clone(),
    }
}

fn wit_media(m: &model::Media) -> wit::Media {
    wit::Media {
        kind: match m.kind {
            model::MediaKind::Image => wit::MediaKind::Image,
            model::MediaKind::Video => wit::MediaKind::Video,
            model::MediaKind::Audio => wit::MediaKind::Audio,
            model::MediaKind::File => wit::MediaKind::File,
        },
        url: m.url.clone(),
        mime_type: m.mime_type.clone(),
        size: m.size,
    }
}

pub fn violation(v: wit::Violation) -> model::Violation {
    model::Violation {
        code: v.code,
        field: v.field,
        message: v.message,
    }
}

pub fn reason(r: wit::FailureReason) -> FailureReason {
    use wit::FailureReason as W;
    match r {
        W::InvalidFormat => FailureReason::InvalidFormat,
        W::RecipientInvalid => FailureReason::RecipientInvalid,
        W::RecipientUnavailable => FailureReason::RecipientUnavailable,
        W::OptedOut => FailureReason::OptedOut,
        W::Blocked => FailureReason::Blocked,
        W::WindowClosed => FailureReason::WindowClosed,
        W::TokenExpired => FailureReason::TokenExpired,
        W::PermissionDenied => FailureReason::PermissionDenied,
        W::RateLimited => FailureReason::RateLimited,
        W::ProviderTransient => FailureReason::ProviderTransient,
        W::ProviderError => FailureReason::ProviderError,
        W::FileTooLarge => FailureReason::FileTooLarge,
        W::MediaFetchFailed => FailureReason::MediaFetchFailed,
        W::UrlBlocked => FailureReason::UrlBlocked,
        W::ThreadOwned => FailureReason::ThreadOwned,
        W::ContentRejected => FailureReason::ContentRejected,
        W::Timeout => FailureReason::Timeout,
        W::Unknown => FailureReason::Unknown,
        W::OutsideHours => FailureReason::OutsideHours,
        W::InsufficientFunds => FailureReason::InsufficientFunds,
    }
}

pub fn status(s: wit::DeliveryState) -> model::Status {
    match s {
        wit::DeliveryState::Sent => model::Status::Sent,
        wit::DeliveryState::Delivered => model::Status::Delivered,
        wit::DeliveryState::Seen => model::Status::Seen,
        wit::DeliveryState::Failed => model::Status::Failed,
    }
}

pub fn plugin_view(p: &super::LoadedPlugin) -> model::PluginView {
    let m = &p.manifest;
    model::PluginView {
        name: m.name.clone(),
        channel: m.channel.clone(),
        version: m.version.clone(),
        api_version: p.api_version.to_string(),
        source: p.source.clone(),
        capabilities: m.capabilities.clone(),
        config_keys: m
            .config_keys
            .iter()
            .map(|k| model::ConfigKeyView {
                name: k.name.clone(),
                secret: k.secret,
                required: k.required,
                description: k.description.clone(),
            })
            .collect(),
        outbound_hosts: m.outbound_hosts.clone(),
        limits: model::ContentLimitsView {
            max_text_bytes: m.limits.max_text_bytes,
            max_subject_bytes: m.limits.max_subject_bytes,
            max_media: m.limits.max_media,
            max_media_bytes: m.limits.max_media_bytes,
            max_carousel_elements: m.limits.max_carousel_elements,
            max_buttons: m.limits.max_buttons,
        },
    }
}
