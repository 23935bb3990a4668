//! Signing in through the form, the billing pages against the API, role refusals, and
//! hostile text that must stay text.

use serde_json::{Value, json};

use crate::browser::Browser;
use crate::support::Gateway;

fn sandbox_password(gw: &Gateway, who: &str) -> String {
    std::fs::read_to_string(gw.data_dir.join(format!("sandbox-{who}.password")))
        .unwrap()
        .trim()
        .to_string()
}

pub async fn sign_in(b: &mut Browser, gw: &Gateway, who: &str) {
    b.visit(&format!("{}/console/login", gw.url), "sign-in")
        .await;
    b.fill("#email", &format!("{who}@sandbox.test")).await;
    b.fill("#password", &sandbox_password(gw, who)).await;
    b.click("button[type=submit]").await;
    b.shot("signed-in").await;
    assert!(
        b.text_of("main").await.contains("Signed in as"),
        "{}",
        b.client.source().await.unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_signs_in_sees_the_ledgers_numbers_and_not_the_messages() {
    let gw = tokio::task::block_in_place(|| Gateway::start("browser-billing", &[]));
    for i in 0..2 {
        let id = gw.send_sms(&format!("+1415556{i:04}"), "billed").await;
        gw.wait_for(&id, "delivered", std::time::Duration::from_secs(30))
            .await;
    }
    let billing_key = std::fs::read_to_string(gw.data_dir.join("sandbox-billing.key"))
        .unwrap()
        .trim()
        .to_string();
    let usage: Value = gw
        .http()
        .get(format!("{}/v1/billing/usage", gw.url))
        .bearer_auth(&billing_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let mut b = Browser::start("billing").await;
    sign_in(&mut b, &gw, "billing").await;
    b.visit(&format!("{}/console/billing", gw.url), "billing")
        .await;
    assert_eq!(
        b.text_of("#total-count").await,
        usage["total_count"].to_string()
    );
    let cost =
        switchboard_gateway::billing::views::decimal(usage["total_cost_micros"].as_i64().unwrap());
    assert!(b.text_of("#total-cost").await.starts_with(&cost));
    // A top-up with a card that declines: the page says so, and the API recorded the same.
    b.fill("#amount", "25").await;
    b.fill("#card", "tok_chargeDeclined").await;
    b.click("#topup-h ~ form button[type=submit]").await;
    b.shot("top-up-declined").await;
    let result = b.text_of("#topup-result").await;
    assert!(result.starts_with("Top-up declined:"), "{result}");
    let topups: Value = gw
        .http()
        .get(format!("{}/v1/billing/topups", gw.url))
        .bearer_auth(&billing_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(topups[0]["state"], "declined", "{topups}");
    assert!(
        result.contains(topups[0]["decline_code"].as_str().unwrap()),
        "{result} {topups}"
    );
    // The messages page is refused for the billing role.
    b.visit(&format!("{}/console/messages", gw.url), "messages-refused")
        .await;
    assert!(b.text_of("h1").await.contains("Not for your role"));
    // Signing out ends it: the console asks to sign in again.
    b.visit(&format!("{}/console", gw.url), "home").await;
    b.click("header form button").await;
    b.shot("signed-out").await;
    b.visit(&format!("{}/console", gw.url), "after-sign-out")
        .await;
    assert!(
        b.client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/console/login")
    );
    b.client.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_render_as_text_and_no_script_runs() {
    let gw = tokio::task::block_in_place(|| Gateway::start("browser-xss", &[]));
    let hostile = "<img src=x onerror=alert(1)><script>alert(2)</script>";
    let (s, inv) = gw
        .call(
            reqwest::Method::POST,
            "/v1/members/invitations",
            &gw.key,
            Some(&json!({"email": "mallory@example.com", "role": "admin"})),
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::CREATED);
    let accepted = gw
        .http()
        .post(format!("{}/v1/invitations/accept", gw.url))
        .json(&json!({"token": inv["token"], "name": hostile, "password": "mallory's password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), reqwest::StatusCode::CREATED);
    let csp = gw
        .http()
        .get(format!("{}/console/login", gw.url))
        .send()
        .await
        .unwrap()
        .headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");

    let mut b = Browser::start("xss").await;
    b.visit(&format!("{}/console/login", gw.url), "sign-in")
        .await;
    b.fill("#email", "mallory@example.com").await;
    b.fill("#password", "mallory's password").await;
    b.click("button[type=submit]").await;
    b.shot("home").await;
    b.assert_no_dialog().await;
    let shown = b.text_of("main p").await;
    assert!(shown.contains(hostile), "the name shows as text: {shown}");
    assert_nothing_injected(&b).await;

    // A hostile message text, contact name and connection name: each page shows the text.
    let message = gw.send_sms("+14155550777", hostile).await;
    let (s, _) = gw
        .call(
            reqwest::Method::POST,
            "/v1/contacts",
            &gw.key,
            Some(&json!({"name": hostile, "addresses": [{"kind": "phone", "address": "+14155550778"}]})),
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::CREATED);
    let conn = switchboard_gateway::sandbox_setup::connection_id("twilio-sms");
    let (s, _) = gw
        .patch_json(
            &format!("/v1/connections/{conn}"),
            &json!({"name": hostile}),
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::OK);
    for (path, css, page) in [
        (
            format!("/console/messages/{message}"),
            "#msg-text".to_string(),
            "message",
        ),
        (
            "/console/contacts?name=alert".to_string(),
            "#contacts td.name".to_string(),
            "contacts",
        ),
        (
            "/console/connections".to_string(),
            format!("tr[id='{conn}'] td.name"),
            "connections",
        ),
    ] {
        b.visit(&format!("{}{path}", gw.url), page).await;
        b.assert_no_dialog().await;
        let shown = b.text_of(&css).await;
        assert!(shown.contains(hostile), "{page} shows the text: {shown}");
        assert_nothing_injected(&b).await;
    }

    // A form posted from another site (an opaque origin) does nothing: the strict cookie
    // stays home, and the token would not match anyway.
    let attack = format!(
        "data:text/html,<form method=post action='{}/console/connections/{conn}/disable'><input name=csrf value=forged></form><script>document.forms[0].submit()</script>",
        gw.url
    );
    b.client.goto(&attack).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    b.shot("cross-site-post").await;
    let (_, c) = gw.get(&format!("/v1/connections/{conn}")).await;
    assert_eq!(
        c["status"], "active",
        "the cross-site post changed nothing: {c}"
    );
    b.client.clone().close().await.unwrap();
}

pub async fn assert_nothing_injected(b: &Browser) {
    let images = b
        .client
        .find_all(fantoccini::Locator::Css(
            "main img, main script:not([src='/console/static/console.js'])",
        ))
        .await
        .unwrap();
    assert!(images.is_empty(), "no element was injected");
}

/// An admin watches a message reach `delivered` on its page, without reloading: the page
/// keeps a marker set after it loaded, which a reload would have wiped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_watches_a_timeline_reach_delivered_without_reloading() {
    let gw = tokio::task::block_in_place(|| Gateway::start("browser-timeline", &[]));
    // The provider takes its time, so the page opens on a message still moving.
    gw.sim_post(
        "/_sandbox/faults",
        json!({"channel": "sms", "times": 1, "action": {"latency_ms": 4000}}),
    )
    .await;
    let mut b = Browser::start("timeline").await;
    sign_in(&mut b, &gw, "admin").await;
    let id = gw.send_sms("+14155557001", "watch me").await;
    b.visit(&format!("{}/console/messages/{id}", gw.url), "moving")
        .await;
    let first = b.text_of("#msg-status").await;
    assert_ne!(
        first, "delivered",
        "the page opened on a message still moving"
    );
    b.client
        .execute("window.__sb_marker = 'loaded once';", vec![])
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if b.text_of("#msg-status").await == "delivered" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the timeline never showed delivered"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    b.shot("delivered").await;
    let marker = b
        .client
        .execute("return window.__sb_marker || null;", vec![])
        .await
        .unwrap();
    assert_eq!(marker, json!("loaded once"), "the page was not reloaded");
    assert!(b.text_of("#timeline").await.contains("delivered at"));
    b.client.clone().close().await.unwrap();
}
