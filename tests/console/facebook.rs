//! "Connect with Facebook" end to end: the console, the gateway and the Messenger
//! simulator's login dialog, code exchange, `/me/accounts` and `subscribed_apps`, in a real
//! browser.

use std::time::Duration;

use serde_json::{Value, json};

use crate::browser::Browser;
use crate::pages::sign_in;
use crate::support::Gateway;
use switchboard_sandbox::{
    SANDBOX_FACEBOOK_USER_EMAIL, SANDBOX_FACEBOOK_USER_PASSWORD, SANDBOX_MESSENGER_PAGES,
};

/// From the console's "Connect with Facebook" (or "Reconnect") through the simulator's
/// login and consent pages; `allow` picks the consent button.
async fn through_the_dialog(b: &mut Browser, start: &str, allow: bool) {
    b.click(start).await;
    b.shot("facebook-login").await;
    b.fill("#email", SANDBOX_FACEBOOK_USER_EMAIL).await;
    b.fill("#password", SANDBOX_FACEBOOK_USER_PASSWORD).await;
    b.click("button[type=submit]").await;
    b.shot("facebook-consent").await;
    b.click(if allow {
        "button[value=allow]"
    } else {
        "button[value=deny]"
    })
    .await;
    b.shot("back-in-the-console").await;
}

async fn messenger_connections(gw: &Gateway) -> Vec<Value> {
    let (_, list) = gw.get("/v1/connections").await;
    list.as_array()
        .unwrap()
        .iter()
        .filter(|c| c["plugin"] == "facebook-messenger")
        .cloned()
        .collect()
}

/// A user writes to the page, so the gateway knows the contact and the window is open.
async fn user_writes(gw: &Gateway, page_id: &str) -> String {
    let r = gw
        .sim_post(
            "/_sandbox/messenger/inbound",
            json!({"page_id": page_id, "text": "hi"}),
        )
        .await;
    let psid = r["psid"].as_str().unwrap().to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, list) = gw.get("/v1/contacts?limit=100").await;
        if list.to_string().contains(psid.as_str()) {
            return psid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the inbound message never reached the new connection"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The simulated user reads at once, so a delivered message goes on to `seen`: wait for
/// that, and check `delivered` came on the way.
async fn delivered(gw: &Gateway, id: &str) {
    let m = gw.wait_for(id, "seen", Duration::from_secs(30)).await;
    assert!(
        m["deliveries"][0]["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["status"] == "delivered"),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_connects_two_pages_reconnects_one_and_resends_what_was_held() {
    let gw = tokio::task::block_in_place(|| Gateway::start("browser-facebook", &[]));
    // Start from no pages: the sandbox connects all three by itself.
    for c in messenger_connections(&gw).await {
        let (s, _) = gw
            .call(
                reqwest::Method::DELETE,
                &format!("/v1/connections/{}", c["id"].as_str().unwrap()),
                &gw.key,
                None,
            )
            .await;
        assert_eq!(s, reqwest::StatusCode::NO_CONTENT);
    }
    let mut b = Browser::start("facebook").await;
    sign_in(&mut b, &gw, "admin").await;
    b.visit(&format!("{}/console/connections", gw.url), "connections")
        .await;
    through_the_dialog(&mut b, "#connect-facebook", true).await;
    let callback = b.client.current_url().await.unwrap().to_string();
    assert!(
        callback.contains("/console/connections/facebook/callback"),
        "{callback}"
    );
    let boxes = b
        .client
        .find_all(fantoccini::Locator::Css("#pick input[type=checkbox]"))
        .await
        .unwrap();
    assert_eq!(boxes.len(), 3, "all three pages are offered");
    let (first, second) = (&SANDBOX_MESSENGER_PAGES[0], &SANDBOX_MESSENGER_PAGES[1]);
    for page in [first, second] {
        b.click(&format!("input[data-page='{}']", page.id)).await;
    }
    b.click("#pick button[type=submit]").await;
    b.shot("connected").await;
    assert_eq!(b.text_of("#notice").await, "Pages connected.");

    // Two connections, holding the pages' tokens, and the app subscribed to both.
    let connected = messenger_connections(&gw).await;
    assert_eq!(connected.len(), 2, "{connected:?}");
    let conn = connected
        .iter()
        .find(|c| c["config"]["page_id"] == first.id)
        .expect("the first page is connected")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let sim_pages = crate::support::sim_get(&gw.sim, "/_sandbox/messenger/pages").await;
    let subscribed: Vec<&str> = sim_pages["pages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["subscribed"] == true)
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(subscribed.len(), 2, "{sim_pages}");
    assert!(subscribed.contains(&first.id) && subscribed.contains(&second.id));

    // A message to a user of the first page is delivered with the token the flow sealed.
    let psid = user_writes(&gw, first.id).await;
    let send = json!({"channel": "messenger", "connection": conn, "to": {"psid": psid}, "content": {"text": "your order shipped"}});
    let id = gw.send(&send).await;
    delivered(&gw, &id).await;

    // The page's token is revoked: the next send fails token_expired, the page asks for a
    // reconnect.
    gw.sim_post(
        &format!("/_sandbox/messenger/pages/{}/reissue-token", first.id),
        json!({}),
    )
    .await;
    let held = gw.send(&send).await;
    assert_eq!(gw.failure_of(&held).await["reason"], "token_expired");
    b.visit(
        &format!("{}/console/connections", gw.url),
        "needs-reconnect",
    )
    .await;
    let row = b.text_of(&format!("tr[id='{conn}']")).await;
    assert!(row.contains("needs_reconnect"), "{row}");

    // Reconnect through the same flow; the page is ticked already.
    through_the_dialog(&mut b, &format!("tr[id='{conn}'] .reconnect"), true).await;
    b.click("#pick button[type=submit]").await;
    b.shot("reconnected").await;
    let (_, c) = gw.get(&format!("/v1/connections/{conn}")).await;
    assert_eq!(c["status"], "active", "{c}");
    // The held message is offered for resending, and goes.
    b.click(&format!("tr[id='{conn}'] .resend")).await;
    b.shot("resent").await;
    assert_eq!(b.text_of("#notice").await, "1 held message(s) resent.");
    let (_, original) = gw.get(&format!("/v1/messages/{held}")).await;
    let resent = original["deliveries"][0]["failure"]["resend"]["detail"]
        .as_str()
        .unwrap()
        .trim_start_matches("already resent as ")
        .to_string();
    delivered(&gw, &resent).await;

    // A replayed callback (its state was used) and a made-up state are refused.
    b.visit(&callback, "replayed-state").await;
    assert!(b.text_of("h1").await.contains("refused"));
    b.visit(
        &format!(
            "{}/console/connections/facebook/callback?state=forged&code=AQforged",
            gw.url
        ),
        "forged-state",
    )
    .await;
    assert!(b.text_of("h1").await.contains("refused"));
    // Cancelling on Facebook comes back with a clear message, and connects nothing.
    b.visit(&format!("{}/console/connections", gw.url), "connections")
        .await;
    through_the_dialog(&mut b, "#connect-facebook", false).await;
    assert_eq!(b.text_of("h1").await, "Facebook was not connected");
    assert!(b.text_of("main").await.contains("user_denied"));
    assert_eq!(messenger_connections(&gw).await.len(), 2);
    b.client.clone().close().await.unwrap();
}
