use std::cell::Cell;
use std::rc::Rc;

use serde_json::{Value, json};
use switchboard_plugin_sdk::testing::MockHost;

use super::*;
use crate::MessengerPlugin;
use crate::tests::{DAY, HOUR, NOW, PSID, conn, host, message};

fn ok_mids() -> impl FnMut(&Request) -> Result<Response, http::HttpError> {
    let n = Rc::new(Cell::new(0));
    move |_| {
        n.set(n.get() + 1);
        let body = format!(
            r#"{{"recipient_id":"{PSID}","message_id":"m_{}"}}"#,
            n.get()
        );
        Ok(Response::new(200, &[], body))
    }
}

fn sent_bodies(h: &mut MockHost) -> Vec<Value> {
    h.requests
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

fn media(kind: MediaKind, url: &str) -> Media {
    Media {
        kind,
        url: url.into(),
        mime_type: "application/octet-stream".into(),
        size: 1,
    }
}

#[test]
fn text_goes_to_me_messages_with_bearer_and_metadata() {
    let h = host().on_http(ok_mids()).install();
    let sent = MessengerPlugin::send(message("Your order shipped"), conn()).unwrap();
    assert_eq!(sent.provider_message_id, "m_1");
    h.inspect(|h| {
        let r = &h.requests[0];
        assert_eq!(r.method, "POST");
        assert_eq!(r.url, "https://graph.facebook.com/v21.0/me/messages");
        assert!(matches!(&r.auth, Some(http::Auth::Bearer(s)) if s == "page_access_token"));
        assert!(
            r.headers
                .iter()
                .any(|(k, v)| k == "content-type" && v == "application/json")
        );
        assert!(!r.url.contains("access_token"));
        assert_eq!(
            sent_bodies(h)[0],
            json!({
                "recipient": {"id": PSID},
                "messaging_type": "RESPONSE",
                "message": {"text": "Your order shipped", "metadata": "sb:dlv_1"},
            })
        );
    });
}

#[test]
fn text_plus_media_is_two_calls_text_first() {
    let h = host().on_http(ok_mids()).install();
    let mut m = message("Invoice attached");
    m.content
        .media
        .push(media(MediaKind::File, "https://cdn.example/inv.pdf"));
    m.content.quick_replies.push(QuickReply {
        title: "Thanks".into(),
        payload: "THX".into(),
        image_url: None,
    });
    let sent = MessengerPlugin::send(m, conn()).unwrap();
    assert_eq!(sent.provider_message_id, "m_2");
    h.inspect(|h| {
        let b = sent_bodies(h);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0]["message"], json!({"text": "Invoice attached", "metadata": "sb:dlv_1#1"}));
        assert_eq!(
            b[1]["message"],
            json!({
                "attachment": {"type": "file", "payload": {"url": "https://cdn.example/inv.pdf", "is_reusable": true}},
                "quick_replies": [{"content_type": "text", "title": "Thanks", "payload": "THX"}],
                "metadata": "sb:dlv_1#2",
            })
        );
        assert_eq!(b[1]["recipient"]["id"], PSID);
    });
}

#[test]
fn every_media_kind_is_its_attachment_type() {
    for (kind, ty) in [
        (MediaKind::Image, "image"),
        (MediaKind::Video, "video"),
        (MediaKind::Audio, "audio"),
        (MediaKind::File, "file"),
    ] {
        let h = host().on_http(ok_mids()).install();
        let mut m = message("");
        m.content.text = None;
        m.content.media.push(media(kind, "https://cdn.example/x"));
        MessengerPlugin::send(m, conn()).unwrap();
        h.inspect(|h| {
            let b = sent_bodies(h);
            assert_eq!(b.len(), 1);
            assert_eq!(b[0]["message"]["attachment"]["type"], ty);
            assert_eq!(
                b[0]["message"]["attachment"]["payload"]["is_reusable"],
                true
            );
            assert_eq!(b[0]["message"]["metadata"], "sb:dlv_1");
        });
    }
}

#[test]
fn carousel_is_a_generic_template_field_by_field() {
    let h = host().on_http(ok_mids()).install();
    let mut m = message("");
    m.content.text = None;
    m.content.carousel = vec![
        CarouselElement {
            title: "Red shoe".into(),
            subtitle: Some("42 EUR".into()),
            image_url: Some("https://cdn.example/red.png".into()),
            buttons: vec![
                Button {
                    title: "View".into(),
                    url: Some("https://shop.example/red".into()),
                    payload: None,
                },
                Button {
                    title: "Buy".into(),
                    url: None,
                    payload: Some("BUY_RED".into()),
                },
            ],
        },
        CarouselElement {
            title: "Blue shoe".into(),
            subtitle: None,
            image_url: Some("https://cdn.example/blue.png".into()),
            buttons: vec![Button {
                title: "Buy".into(),
                url: None,
                payload: Some("BUY_BLUE".into()),
            }],
        },
    ];
    m.content.quick_replies = vec![QuickReply {
        title: "More".into(),
        payload: "MORE".into(),
        image_url: Some("https://cdn.example/more.png".into()),
    }];
    MessengerPlugin::send(m, conn()).unwrap();
    h.inspect(|h| {
        let b = &sent_bodies(h)[0];
        let att = &b["message"]["attachment"];
        assert_eq!(att["type"], "template");
        assert_eq!(att["payload"]["template_type"], "generic");
        let els = att["payload"]["elements"].as_array().unwrap();
        assert_eq!(els.len(), 2);
        assert_eq!(
            els[0],
            json!({
                "title": "Red shoe", "subtitle": "42 EUR", "image_url": "https://cdn.example/red.png",
                "buttons": [
                    {"type": "web_url", "url": "https://shop.example/red", "title": "View"},
                    {"type": "postback", "title": "Buy", "payload": "BUY_RED"},
                ],
            })
        );
        assert!(els[1].get("subtitle").is_none());
        assert_eq!(
            b["message"]["quick_replies"],
            json!([{"content_type": "text", "title": "More", "payload": "MORE", "image_url": "https://cdn.example/more.png"}])
        );
        assert!(b["message"].get("text").is_none());
    });
}

#[test]
fn text_with_buttons_is_a_button_template() {
    let h = host().on_http(ok_mids()).install();
    let mut m = message("Track your parcel");
    m.content.buttons = vec![Button {
        title: "Track".into(),
        url: Some("https://t.example/1".into()),
        payload: None,
    }];
    MessengerPlugin::send(m, conn()).unwrap();
    h.inspect(|h| {
        let b = &sent_bodies(h)[0];
        assert_eq!(
            b["message"]["attachment"],
            json!({"type": "template", "payload": {"template_type": "button", "text": "Track your parcel",
                "buttons": [{"type": "web_url", "url": "https://t.example/1", "title": "Track"}]}})
        );
    });
}

#[test]
fn tag_and_messaging_type_are_sent() {
    let h = host().on_http(ok_mids()).install();
    let mut m = message("An agent replies");
    m.to.last_inbound_ms = Some(NOW - 3 * DAY);
    m.options = vec![
        ("messaging_type".into(), "MESSAGE_TAG".into()),
        ("tag".into(), "HUMAN_AGENT".into()),
    ];
    MessengerPlugin::send(m, conn()).unwrap();
    h.inspect(|h| {
        let b = &sent_bodies(h)[0];
        assert_eq!(
            (b["messaging_type"].as_str(), b["tag"].as_str()),
            (Some("MESSAGE_TAG"), Some("HUMAN_AGENT"))
        );
    });
}

#[test]
fn window_is_checked_before_any_request() {
    let cases: &[(u64, Option<&str>, &str, bool)] = &[
        (23 * HOUR + 59 * 60_000, None, "", true),
        (24 * HOUR + 60_000, None, "", false),
        (24 * HOUR + 60_000, Some("HUMAN_AGENT"), "", true),
        (7 * DAY + 60_000, Some("HUMAN_AGENT"), "", false),
        (
            7 * DAY + 60_000,
            Some("ACCOUNT_UPDATE"),
            "HUMAN_AGENT,ACCOUNT_UPDATE",
            true,
        ),
        (7 * DAY + 60_000, Some("ACCOUNT_UPDATE"), "", false),
    ];
    for &(ago, tag, allowed, ok) in cases {
        let mut h = host().on_http(ok_mids());
        if !allowed.is_empty() {
            h = h.config("allowed_tags", allowed);
        }
        let g = h.install();
        let mut m = message("hello");
        m.to.last_inbound_ms = Some(NOW - ago);
        if let Some(t) = tag {
            m.options = vec![
                ("messaging_type".into(), "MESSAGE_TAG".into()),
                ("tag".into(), t.into()),
            ];
        }
        let r = MessengerPlugin::send(m, conn());
        let requests = g.inspect(|h| h.requests.len());
        if ok {
            assert!(r.is_ok(), "{ago} {tag:?}: {r:?}");
            assert_eq!(requests, 1);
        } else {
            let e = r.unwrap_err();
            assert_eq!(
                (e.reason, e.retryable),
                (FailureReason::WindowClosed, false),
                "{ago} {tag:?}"
            );
            assert_eq!(requests, 0, "no HTTP request when the window is closed");
        }
    }
}

#[test]
fn graph_errors_and_transport_errors_map() {
    let _h = host()
        .on_http(|_| {
            Ok(Response::new(
                400,
                &[],
                r#"{"error":{"message":"(#10) This message is sent outside of allowed window.","type":"OAuthException","code":10,"error_subcode":2018278,"fbtrace_id":"A1b2C3"}}"#,
            ))
        })
        .install();
    let e = MessengerPlugin::send(message("hi"), conn()).unwrap_err();
    assert_eq!(
        (e.reason, e.provider_code.as_deref()),
        (FailureReason::WindowClosed, Some("10/2018278"))
    );
    drop(_h);
    let _h = host().on_http(|_| Err(http::HttpError::Timeout)).install();
    let e = MessengerPlugin::send(message("hi"), conn()).unwrap_err();
    assert_eq!((e.reason, e.retryable), (FailureReason::Timeout, true));
    drop(_h);
    let _h = host()
        .on_http(|_| Ok(Response::new(200, &[], "{}")))
        .install();
    let e = MessengerPlugin::send(message("hi"), conn()).unwrap_err();
    assert_eq!(
        (e.reason, e.retryable),
        (FailureReason::ProviderError, true)
    );
}

#[test]
fn second_call_failure_fails_the_send() {
    let n = Rc::new(Cell::new(0));
    let _h = host()
        .on_http(move |_| {
            n.set(n.get() + 1);
            Ok(if n.get() == 1 {
                Response::new(200, &[], r#"{"recipient_id":"1","message_id":"m_1"}"#)
            } else {
                Response::new(400, &[], r#"{"error":{"message":"(#100) Failed to fetch","type":"OAuthException","code":100,"error_subcode":2018008}}"#)
            })
        })
        .install();
    let mut m = message("Photo:");
    m.content
        .media
        .push(media(MediaKind::Image, "https://cdn.example/a.png"));
    let e = MessengerPlugin::send(m, conn()).unwrap_err();
    assert_eq!(e.reason, FailureReason::MediaFetchFailed);
}

#[test]
fn invalid_message_and_missing_token_never_reach_http() {
    let g = host().on_http(ok_mids()).install();
    let mut m = message("hi");
    m.to.psid = None;
    let e = MessengerPlugin::send(m, conn()).unwrap_err();
    assert_eq!(e.reason, FailureReason::InvalidFormat);
    assert!(e.detail.contains("to.psid"));
    assert_eq!(g.inspect(|h| h.requests.len()), 0);
    drop(g);
    let mut h = host().on_http(ok_mids());
    h.secrets.remove("page_access_token");
    let g = h.install();
    let e = MessengerPlugin::send(message("hi"), conn()).unwrap_err();
    assert_eq!(e.reason, FailureReason::PermissionDenied);
    assert_eq!(g.inspect(|h| h.requests.len()), 0);
}
