//! The workspace's follow-up sender: follow-up emails go out from it while its domain is
//! verified.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_sandbox::SANDBOX_EMAIL_FROM;

use super::{create, publish, received_by, validate};
use crate::support::Gateway;

/// Follow-ups go out from the workspace's follow-up sender while its domain is verified,
/// and from the connection's own sender otherwise.
#[tokio::test]
async fn follow_ups_go_out_from_the_verified_follow_up_sender() {
    let gw = Gateway::start("sender-domains-followup", &[]);
    let d = create(&gw, "example.com").await;
    let id = d["id"].as_str().unwrap().to_string();
    let (status, marked) = gw
        .patch_json(
            &format!("/v1/sender-domains/{id}"),
            &json!({"follow_up": {"local_part": "hello", "name": "Example Support"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{marked}");
    assert_eq!(
        marked["follow_up"],
        json!({"local_part": "hello", "name": "Example Support"})
    );

    // Pending: the follow-up goes out from the connection's own sender.
    let first = follow_up(&gw, "fu1@example.org", "+14155550181", "first reply").await;
    assert_eq!(first["from"], SANDBOX_EMAIL_FROM, "{first:#}");

    publish(&gw, &d).await;
    assert_eq!(validate(&gw, &id).await["status"], "verified");
    let second = follow_up(&gw, "fu2@example.org", "+14155550182", "second reply").await;
    assert_eq!(second["from"], "hello@example.com", "{second:#}");
    assert_eq!(second["from_name"], "Example Support", "{second:#}");

    // No longer the follow-up sender: back to the connection's own.
    let (status, cleared) = gw
        .patch_json(
            &format!("/v1/sender-domains/{id}"),
            &json!({"follow_up": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cleared}");
    assert!(cleared["follow_up"].is_null(), "{cleared}");
    let third = follow_up(&gw, "fu3@example.org", "+14155550183", "third reply").await;
    assert_eq!(third["from"], SANDBOX_EMAIL_FROM, "{third:#}");
}

/// A customer with an email address gets an agent's reply, leaves, and is followed up; the
/// email the simulator received.
async fn follow_up(gw: &Gateway, email: &str, phone: &str, text: &str) -> Value {
    let (status, c) = gw
        .post_json(
            "/v1/contacts",
            &json!({"addresses": [{"kind": "phone", "address": phone}, {"kind": "email", "address": email}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let contact = c["id"].as_str().unwrap();
    for (author, said) in [("customer", "hello?"), ("agent", text)] {
        let (status, r) = gw
            .post_json(
                &format!("/v1/conversations/{contact}/messages"),
                &json!({"author": author, "text": said}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
    }
    for kind in ["page_view", "left"] {
        let (status, r) = gw
            .post_json("/v1/activity", &json!({"contact": contact, "kind": kind}))
            .await;
        assert_eq!(status, StatusCode::OK, "{r}");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(m) = received_by(gw, email).await.into_iter().next() {
            return m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no follow-up email to {email}\n{}",
            gw.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
