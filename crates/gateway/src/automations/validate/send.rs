//! A `send` step's message: the content types messages use (`QuickReply`, `Button`,
//! `CarouselElement`, `Media`, `TemplateRef`), checked by hand so each mistake has its path,
//! with the limits of the channels that show them (Messenger's 13 quick replies of 20
//! characters, 3 buttons, 10 carousel cards).

use serde_json::Value;

use super::*;

pub(super) fn check(w: &mut Walk, body: &Value, at: &str) {
    let keys = [
        "text",
        "quick_replies",
        "buttons",
        "carousel",
        "media",
        "template",
        "policy",
    ];
    let Some(o) = w.object(body, at, &keys) else {
        return;
    };
    w.string(o, at, "text", Need::Optional, 1..=TEXT_MAX, false);
    if let Some(list) = w.array(
        o,
        at,
        "quick_replies",
        Need::Defaulted,
        0..=QUICK_REPLIES_MAX,
    ) {
        for (i, q) in list.iter().enumerate() {
            let here = format!("{at}.quick_replies[{i}]");
            let Some(q) = w.object(q, &here, &["title", "payload", "image_url"]) else {
                continue;
            };
            w.string(
                q,
                &here,
                "title",
                Need::Required,
                1..=QUICK_REPLY_TITLE_MAX,
                true,
            );
            w.string(q, &here, "payload", Need::Required, 1..=PAYLOAD_MAX, false);
            w.string(q, &here, "image_url", Need::Optional, 1..=URL_MAX, false);
        }
    }
    buttons(w, o, at);
    let carousel = w.array(o, at, "carousel", Need::Defaulted, 0..=CAROUSEL_MAX);
    for (i, card) in carousel.into_iter().flatten().enumerate() {
        let here = format!("{at}.carousel[{i}]");
        let keys = ["title", "subtitle", "image_url", "buttons"];
        let Some(card) = w.object(card, &here, &keys) else {
            continue;
        };
        w.string(card, &here, "title", Need::Required, 1..=TITLE_MAX, true);
        w.string(
            card,
            &here,
            "subtitle",
            Need::Optional,
            0..=TITLE_MAX,
            false,
        );
        w.string(card, &here, "image_url", Need::Optional, 1..=URL_MAX, false);
        buttons(w, card, &here);
    }
    let media = w.array(o, at, "media", Need::Defaulted, 0..=MEDIA_MAX);
    for (i, m) in media.into_iter().flatten().enumerate() {
        let here = format!("{at}.media[{i}]");
        let Some(m) = w.object(m, &here, &["kind", "url", "mime_type", "size"]) else {
            continue;
        };
        if let Some(kind) = w.field(m, &here, "kind", Need::Required) {
            w.word(
                kind,
                &format!("{here}.kind"),
                &["image", "video", "audio", "file"],
            );
        }
        w.string(m, &here, "url", Need::Required, 1..=URL_MAX, false);
        w.string(
            m,
            &here,
            "mime_type",
            Need::Required,
            1..=MIME_TYPE_MAX,
            false,
        );
        // The document's int64, as messages take it.
        w.integer(m, &here, "size", Need::Required, 0..=i64::MAX as u64);
    }
    let template = w.field(o, at, "template", Need::Optional);
    if let Some(t) = template {
        let here = format!("{at}.template");
        if let Some(t) = w.object(t, &here, &["id", "variables"]) {
            w.string(t, &here, "id", Need::Required, 1..=TEMPLATE_ID_MAX, true);
            if let Some(vars) = w.field(t, &here, "variables", Need::Defaulted) {
                match vars.as_object() {
                    Some(vars) => {
                        for (name, v) in vars {
                            if !v.is_string() {
                                w.push(
                                    "invalid_type",
                                    format!("{here}.variables.{name}"),
                                    "must be a string",
                                );
                            }
                        }
                    }
                    None => w.push(
                        "invalid_type",
                        format!("{here}.variables"),
                        "must be an object of strings",
                    ),
                }
            }
        }
    }
    w.string(o, at, "policy", Need::Optional, 1..=POLICY_MAX, true);
    let has = |key: &str| {
        o.get(key)
            .is_some_and(|v| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()))
    };
    if !["text", "template", "media", "carousel"]
        .into_iter()
        .any(has)
    {
        w.push(
            "required",
            at,
            "a message needs at least one of text, template, media or carousel",
        );
    }
}

fn buttons(w: &mut Walk, o: &serde_json::Map<String, Value>, at: &str) {
    let Some(list) = w.array(o, at, "buttons", Need::Defaulted, 0..=BUTTONS_MAX) else {
        return;
    };
    for (i, b) in list.iter().enumerate() {
        let here = format!("{at}.buttons[{i}]");
        let Some(b) = w.object(b, &here, &["title", "url", "payload"]) else {
            continue;
        };
        w.string(b, &here, "title", Need::Required, 1..=TITLE_MAX, true);
        w.string(b, &here, "url", Need::Optional, 1..=URL_MAX, false);
        w.string(b, &here, "payload", Need::Optional, 1..=PAYLOAD_MAX, false);
        let absent = |k: &str| b.get(k).is_none_or(Value::is_null);
        if absent("url") && absent("payload") {
            w.push(
                "required",
                here,
                "a button is a link (`url`) or a postback (`payload`)",
            );
        }
    }
}
