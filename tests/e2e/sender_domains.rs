//! Verified sender domains end to end: `/v1/sender-domains` creates a domain at SendGrid
//! through the email plugin (plugin API 0.4), the test publishes the records SendGrid asks
//! for in the simulated DNS, and validation verifies it; messages may then name a sender on
//! the domain (`from`), which the simulator receives as the from. A record taken down fails
//! the next validation and new sends from the domain; the connection's own sender always
//! works; other channels refuse `from`; follow-ups go out from the workspace's follow-up
//! sender.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard_sandbox::{SANDBOX_EMAIL_FROM, SANDBOX_SENDGRID_API_KEY};

use crate::support::Gateway;

mod console;
mod follow_up;

const EMAIL_CONN: &str = "con_sandbox_sendgrid_email";

fn email_from(to: &str, from: Value, text: &str) -> Value {
    json!({"channel": "email", "to": {"email": to}, "from": from,
           "content": {"subject": "News", "text": text}})
}

/// Create `domain` on the sandbox's email connection.
async fn create(gw: &Gateway, domain: &str) -> Value {
    let (status, d) = gw
        .post_json(
            "/v1/sender-domains",
            &json!({"connection": EMAIL_CONN, "domain": domain}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{d}");
    d
}

async fn validate(gw: &Gateway, id: &str) -> Value {
    let (status, d) = gw
        .post_json(&format!("/v1/sender-domains/{id}/validate"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{d}");
    d
}

/// Publish every record the domain asks for in the simulated DNS, as its owner would at
/// the DNS host.
async fn publish(gw: &Gateway, domain: &Value) {
    for r in domain["records"].as_array().unwrap() {
        gw.sim_put(
            &format!("/_sandbox/dns/{}", r["host"].as_str().unwrap()),
            json!({"type": r["type"].as_str().unwrap().to_uppercase(), "value": r["value"]}),
        )
        .await;
    }
}

async fn unpublish(gw: &Gateway, host: &str) {
    let resp = gw
        .http()
        .delete(format!("{}/_sandbox/dns/{host}", gw.sim))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
}

/// What the simulated SendGrid received for `to`.
async fn received_by(gw: &Gateway, to: &str) -> Vec<Value> {
    gw.sim_get("/_sandbox/email/messages")
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m["to"][0] == to)
        .collect()
}

fn record<'a>(domain: &'a Value, key: &str) -> &'a Value {
    domain["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("no record {key}: {domain:#}"))
}

async fn refused_unverified(gw: &Gateway, from: &str, want_status: Option<&str>) {
    let (status, e) = gw
        .post_message(&email_from("ada@example.com", json!({"email": from}), "hi"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["code"], "sender_domain_unverified", "{e}");
    assert_eq!(e["error"]["field"], "from.email", "{e}");
    let message = e["error"]["message"].as_str().unwrap();
    let domain = from.rsplit_once('@').unwrap().1.to_ascii_lowercase();
    assert!(message.contains(&domain), "{message}");
    if let Some(s) = want_status {
        assert!(message.contains(&format!("it is {s}")), "{message}");
    }
}

#[tokio::test]
async fn a_domain_verified_from_published_dns_decides_who_an_email_may_be_from() {
    let gw = Gateway::start("sender-domains", &[]);

    // Before the domain exists, nobody may send from it.
    refused_unverified(&gw, "news@example.com", None).await;

    let created = create(&gw, "Example.com").await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["domain"], "example.com");
    assert_eq!(created["connection"], EMAIL_CONN);
    assert_eq!(created["status"], "pending");
    let mut keys: Vec<&str> = created["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    keys.sort();
    assert_eq!(keys, ["dkim1", "dkim2", "mail_cname"], "{created:#}");
    for r in created["records"].as_array().unwrap() {
        assert_eq!(r["type"], "cname", "{r}");
        assert!(
            r["value"].as_str().unwrap().ends_with(".sendgrid.net"),
            "{r}"
        );
        assert_eq!(r["valid"], false, "{r}");
    }
    assert_eq!(
        record(&created, "dkim1")["host"],
        "s1._domainkey.example.com"
    );

    let (status, listed) = gw
        .get(&format!("/v1/sender-domains?connection={EMAIL_CONN}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let (status, shown) = gw.get(&format!("/v1/sender-domains/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["records"], created["records"]);

    // Nothing published: SendGrid's check fails every record, saying what it expected.
    let checked = validate(&gw, &id).await;
    assert_eq!(checked["status"], "pending", "{checked:#}");
    let cname = record(&checked, "mail_cname");
    assert_eq!(cname["valid"], false);
    assert_eq!(
        cname["reason"],
        format!(
            "Expected CNAME for \"{}\" to match \"{}\".",
            cname["host"].as_str().unwrap(),
            cname["value"].as_str().unwrap()
        )
    );
    refused_unverified(&gw, "news@example.com", Some("pending")).await;

    // Published: verified, and a message from the domain goes out with that from.
    publish(&gw, &created).await;
    let checked = validate(&gw, &id).await;
    assert_eq!(checked["status"], "verified", "{checked:#}");
    assert!(checked["validated_at"].is_string());
    for r in checked["records"].as_array().unwrap() {
        assert_eq!(
            (r["valid"].as_bool(), r["reason"].is_null()),
            (Some(true), true),
            "{r}"
        );
    }
    let id1 = gw
        .send(&email_from(
            "reader@example.org",
            json!({"email": "news@example.com", "name": "Example News"}),
            "Issue 1",
        ))
        .await;
    let msg = gw.wait_for(&id1, "seen", Duration::from_secs(20)).await;
    assert_eq!(
        msg["from"],
        json!({"email": "news@example.com", "name": "Example News"})
    );
    let got = received_by(&gw, "reader@example.org").await;
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0]["from"], "news@example.com");
    assert_eq!(got[0]["from_name"], "Example News");

    // The connection's own sender is never refused, and needs no `from` at all.
    let own = gw
        .send(&email_from(
            "reader2@example.org",
            json!({"email": SANDBOX_EMAIL_FROM}),
            "From the connection",
        ))
        .await;
    gw.wait_for(&own, "seen", Duration::from_secs(20)).await;
    assert_eq!(
        received_by(&gw, "reader2@example.org").await[0]["from"],
        SANDBOX_EMAIL_FROM
    );

    // A record taken down: the next check fails it, and new sends from the domain stop.
    let dkim1 = record(&created, "dkim1")["host"]
        .as_str()
        .unwrap()
        .to_string();
    unpublish(&gw, &dkim1).await;
    let checked = validate(&gw, &id).await;
    assert_eq!(checked["status"], "failed", "{checked:#}");
    let dkim = record(&checked, "dkim1");
    assert_eq!(dkim["valid"], false);
    assert!(
        dkim["reason"]
            .as_str()
            .unwrap()
            .starts_with(&format!("Expected CNAME for \"{dkim1}\"")),
        "{dkim}"
    );
    assert_eq!(record(&checked, "mail_cname")["valid"], true);
    refused_unverified(&gw, "news@example.com", Some("failed")).await;
    refused_unverified(&gw, "other@Example.COM", Some("failed")).await;
    let own = gw
        .send(&email_from(
            "reader3@example.org",
            json!({"email": SANDBOX_EMAIL_FROM, "name": "Sandbox"}),
            "Still from the connection",
        ))
        .await;
    gw.wait_for(&own, "seen", Duration::from_secs(20)).await;
    let plain = gw
        .send(&json!({"channel": "email", "to": {"email": "reader4@example.org"}, "content": {"text": "no from"}}))
        .await;
    gw.wait_for(&plain, "seen", Duration::from_secs(20)).await;

    // Both changes were told to the workspace's endpoints.
    let (_, events) = gw.get("/v1/events?limit=100").await;
    let kinds: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["data"]["sender_domain_id"] == id.as_str())
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"sender_domain.verified") && kinds.contains(&"sender_domain.failed"),
        "{events:#}"
    );

    // Back up: verified again.
    publish(&gw, &created).await;
    assert_eq!(validate(&gw, &id).await["status"], "verified");

    // Deleted here and at SendGrid; sending from it is refused again.
    let status = gw.delete(&format!("/v1/sender-domains/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = gw.get(&format!("/v1/sender-domains/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let at_sendgrid: Value = gw
        .http()
        .get(format!(
            "{}/v3/whitelabel/domains?domain=example.com",
            gw.sim
        ))
        .bearer_auth(SANDBOX_SENDGRID_API_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(at_sendgrid, json!([]));
    refused_unverified(&gw, "news@example.com", None).await;
}

/// The check is made when a message is accepted; one accepted from a verified domain goes
/// out from that sender. When the domain fails a check before it leaves, SendGrid refuses it
/// (403, not a verified Sender Identity) and the delivery fails with SendGrid's words on its
/// timeline, resendable once the domain is verified again.
#[tokio::test]
async fn an_accepted_email_whose_domain_fails_before_it_leaves_fails_saying_why() {
    let gw = Gateway::start("sender-domains-race", &[]);
    let d = create(&gw, "example.net").await;
    let id = d["id"].as_str().unwrap().to_string();
    publish(&gw, &d).await;
    assert_eq!(validate(&gw, &id).await["status"], "verified");

    // SendGrid holds the send for 4 s before it looks at it.
    gw.sim_post(
        "/_sandbox/faults",
        json!({"channel": "email", "match": {"to": "late@example.org"}, "times": 1,
               "action": {"latency_ms": 4000}}),
    )
    .await;
    let msg = gw
        .send(&email_from(
            "late@example.org",
            json!({"email": "news@example.net"}),
            "held",
        ))
        .await;
    gw.wait_for(&msg, "sending", Duration::from_secs(10)).await;
    let host = record(&d, "mail_cname")["host"]
        .as_str()
        .unwrap()
        .to_string();
    unpublish(&gw, &host).await;
    assert_eq!(validate(&gw, &id).await["status"], "failed");

    let failed = gw.wait_for(&msg, "failed", Duration::from_secs(20)).await;
    let f = &failed["deliveries"][0]["failure"];
    assert_eq!(f["reason"], "permission_denied", "{failed:#}");
    assert_eq!(f["provider_code"], "403", "{failed:#}");
    assert!(
        f["detail"]
            .as_str()
            .unwrap()
            .contains("does not match a verified Sender Identity"),
        "{failed:#}"
    );
    assert!(
        failed["deliveries"][0]["timeline"]
            .to_string()
            .contains("verified Sender Identity"),
        "{failed:#}"
    );
    assert!(received_by(&gw, "late@example.org").await.is_empty());
}

#[tokio::test]
async fn senders_are_refused_where_they_cannot_apply_and_bad_input_names_its_field() {
    let gw = Gateway::start("sender-domains-input", &[]);

    // Another channel refuses `from`, naming the field.
    let (status, e) = gw
        .post_message(&json!({"channel": "sms", "to": {"phone": "+14155550191"},
                              "from": {"email": "news@example.com"}, "content": {"text": "hi"}}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["field"], "from", "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`from` applies to email"),
        "{e}"
    );
    // A from that is not an address; a name on two lines or too long for a header.
    for (from, status_want, field) in [
        (json!({"email": "not an address"}), 422, "from.email"),
        (
            json!({"email": SANDBOX_EMAIL_FROM, "name": "two\nlines"}),
            400,
            "from.name",
        ),
        (
            json!({"email": SANDBOX_EMAIL_FROM, "name": "n".repeat(101)}),
            400,
            "from.name",
        ),
    ] {
        let (status, e) = gw
            .post_message(&email_from("ada@example.com", from, "hi"))
            .await;
        assert_eq!(status.as_u16(), status_want, "{e}");
        assert_eq!(e["error"]["field"], field, "{e}");
    }
    let (status, e) = gw
        .post_message(&email_from(
            "ada@example.com",
            json!({"mail": "x@example.com"}),
            "hi",
        ))
        .await;
    assert!(status.is_client_error(), "{e}");

    // A connection whose plugin has no sender domains.
    let (status, e) = gw
        .post_json(
            "/v1/sender-domains",
            &json!({"connection": "con_sandbox_twilio_sms", "domain": "example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["code"], "domains_unsupported", "{e}");
    assert_eq!(e["error"]["field"], "connection", "{e}");

    for (body, status_want, field) in [
        (
            json!({"connection": EMAIL_CONN, "domain": "not a domain"}),
            422,
            "domain",
        ),
        (
            json!({"connection": EMAIL_CONN, "domain": "https://example.com"}),
            422,
            "domain",
        ),
        (
            json!({"connection": "con_nope", "domain": "example.com"}),
            422,
            "connection",
        ),
        (json!({"connection": EMAIL_CONN}), 400, "domain"),
        (
            json!({"connection": EMAIL_CONN, "domain": "example.com", "extra": 1}),
            400,
            "extra",
        ),
    ] {
        let (status, e) = gw.post_json("/v1/sender-domains", &body).await;
        assert_eq!(status.as_u16(), status_want, "{body}: {e}");
        assert_eq!(e["error"]["field"], field, "{body}: {e}");
    }

    // One per connection and domain.
    let d = create(&gw, "example.com").await;
    let (status, e) = gw
        .post_json(
            "/v1/sender-domains",
            &json!({"connection": EMAIL_CONN, "domain": "EXAMPLE.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{e}");
    assert_eq!(e["error"]["code"], "sender_domain_exists", "{e}");

    // The follow-up sender's local part and name are checked.
    let id = d["id"].as_str().unwrap();
    for (body, field) in [
        (
            json!({"follow_up": {"local_part": "a b"}}),
            "follow_up.local_part",
        ),
        (
            json!({"follow_up": {"local_part": ".hello"}}),
            "follow_up.local_part",
        ),
        (
            json!({"follow_up": {"local_part": "hello", "name": "x\ny"}}),
            "follow_up.name",
        ),
    ] {
        let (status, e) = gw
            .call(
                Method::PATCH,
                &format!("/v1/sender-domains/{id}"),
                &gw.key,
                Some(&body),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {e}");
        assert_eq!(e["error"]["field"], field, "{body}: {e}");
    }
    for path in [
        "/v1/sender-domains/sdm_nope",
        "/v1/sender-domains/sdm_nope/validate",
    ] {
        let (status, _) = gw.post_json(path, &json!({})).await;
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::METHOD_NOT_ALLOWED,
            "{path}: {status}"
        );
    }
    let (status, _) = gw.get("/v1/sender-domains/sdm_nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
