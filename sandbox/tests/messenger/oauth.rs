//! Facebook Login's manual flow against the simulator the way a browser and a gateway drive
//! it: dialog, login form, consent, redirect with a code, code exchange, the user's pages and
//! the app's page subscriptions.

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_sandbox::{
    SANDBOX_FACEBOOK_USER_EMAIL, SANDBOX_FACEBOOK_USER_ID, SANDBOX_FACEBOOK_USER_PASSWORD,
    SANDBOX_MESSENGER_APP_ID, SANDBOX_MESSENGER_APP_SECRET, SANDBOX_MESSENGER_PAGES,
};

use crate::common::client_builder;
use crate::harness::{Sim, VERSION, page, text};

const CALLBACK: &str = "http://127.0.0.1:1234/console/connections/facebook/callback";
const SCOPE: &str = "pages_show_list,pages_messaging,pages_manage_metadata";

fn err_pair(body: &Value) -> (Option<u64>, Option<u64>) {
    (
        body["error"]["code"].as_u64(),
        body["error"]["error_subcode"].as_u64(),
    )
}

/// A browser that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn registered(redirect_uris: &[&str]) -> Sim {
    let sim = Sim::start().await;
    sim.put(
        "messenger/config",
        json!({ "oauth_redirect_uris": redirect_uris }),
    )
    .await;
    sim
}

fn app_id() -> String {
    SANDBOX_MESSENGER_APP_ID.to_string()
}

/// The `value` of the input named `name` in an HTML page.
fn input_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let len = html[start..].find('"')?;
    Some(html[start..start + len].to_owned())
}

async fn dialog(sim: &Sim, redirect_uri: &str, state: &str) -> (StatusCode, String) {
    let resp = browser()
        .get(sim.url(&format!("/{VERSION}/dialog/oauth")))
        .query(&[
            ("client_id", app_id().as_str()),
            ("redirect_uri", redirect_uri),
            ("state", state),
            ("scope", SCOPE),
            ("response_type", "code"),
        ])
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("location").is_none());
    let status = resp.status();
    (status, resp.text().await.unwrap())
}

/// Submits the login form of `login_html` with these credentials.
async fn log_in(sim: &Sim, login_html: &str, email: &str, password: &str) -> (StatusCode, String) {
    let mut form: Vec<(String, String)> = [
        "client_id",
        "redirect_uri",
        "state",
        "scope",
        "response_type",
    ]
    .iter()
    .filter_map(|n| Some((n.to_string(), unescape(&input_value(login_html, n)?))))
    .collect();
    form.push(("email".into(), email.into()));
    form.push(("password".into(), password.into()));
    let resp = browser()
        .post(sim.url(&format!("/{VERSION}/dialog/oauth/login")))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.text().await.unwrap())
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Clicks one of the consent page's buttons; returns the Location of the redirect.
async fn decide(sim: &Sim, consent_html: &str, decision: &str) -> reqwest::Response {
    let dialog_id = input_value(consent_html, "dialog_id").expect("dialog_id field");
    browser()
        .post(sim.url(&format!("/{VERSION}/dialog/oauth/confirm")))
        .form(&[("dialog_id", dialog_id.as_str()), ("decision", decision)])
        .send()
        .await
        .unwrap()
}

fn location(resp: &reqwest::Response) -> String {
    assert_eq!(resp.status(), StatusCode::FOUND);
    resp.headers()["location"].to_str().unwrap().to_owned()
}

/// The query pairs of a redirect back to the app, checking Facebook's `#_=_` tail.
fn callback_query(loc: &str, redirect_uri: &str) -> Vec<(String, String)> {
    let rest = loc
        .strip_prefix(redirect_uri)
        .expect("redirect to the redirect_uri");
    let rest = rest.strip_suffix("#_=_").expect("#_=_ fragment");
    let query = rest.trim_start_matches(['?', '&']);
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Dialog → login → allow; returns the code.
async fn code_for(sim: &Sim, redirect_uri: &str, state: &str) -> String {
    let (status, login) = dialog(sim, redirect_uri, state).await;
    assert_eq!(status, 200, "{login}");
    let (status, consent) = log_in(
        sim,
        &login,
        SANDBOX_FACEBOOK_USER_EMAIL,
        SANDBOX_FACEBOOK_USER_PASSWORD,
    )
    .await;
    assert_eq!(status, 200);
    let loc = location(&decide(sim, &consent, "allow").await);
    let pairs = callback_query(&loc, redirect_uri);
    assert_eq!(get(&pairs, "state"), Some(state));
    get(&pairs, "code").expect("code").to_owned()
}

async fn exchange(sim: &Sim, redirect_uri: &str, secret: &str, code: &str) -> (u16, Value) {
    let resp = sim
        .http
        .get(sim.url(&format!("/{VERSION}/oauth/access_token")))
        .query(&[
            ("client_id", app_id().as_str()),
            ("redirect_uri", redirect_uri),
            ("client_secret", secret),
            ("code", code),
        ])
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn user_token(sim: &Sim) -> String {
    let code = code_for(sim, CALLBACK, "st").await;
    let (status, body) = exchange(sim, CALLBACK, SANDBOX_MESSENGER_APP_SECRET, &code).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

async fn graph_get(sim: &Sim, path: &str, token: &str) -> (u16, Value) {
    let resp = sim
        .http
        .get(sim.url(&format!("/{VERSION}/{path}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn login_consent_code_token_pages_and_subscription() {
    let sim = registered(&[CALLBACK]).await;
    let (status, login) = dialog(&sim, CALLBACK, "csrf-1").await;
    assert_eq!(status, 200);
    for needle in [
        "name=\"email\"",
        "name=\"password\"",
        ">Log in</button>",
        &format!("action=\"/{VERSION}/dialog/oauth/login\""),
    ] {
        assert!(login.contains(needle), "{needle} in {login}");
    }
    let (status, again) = log_in(&sim, &login, SANDBOX_FACEBOOK_USER_EMAIL, "wrong").await;
    assert_eq!(status, 200);
    assert!(again.contains("The email or password you entered is incorrect."));
    assert!(!again.contains("dialog_id"));

    let (status, consent) = log_in(
        &sim,
        &again,
        SANDBOX_FACEBOOK_USER_EMAIL,
        SANDBOX_FACEBOOK_USER_PASSWORD,
    )
    .await;
    assert_eq!(status, 200);
    assert!(consent.contains(
        "Switchboard Sandbox App is requesting access to: pages_show_list, pages_messaging, pages_manage_metadata"
    ));
    assert!(
        consent.contains("name=\"decision\" value=\"allow\">Continue as Sandbox Owner</button>")
    );
    assert!(consent.contains("name=\"decision\" value=\"deny\">Cancel</button>"));
    let resp = decide(&sim, &consent, "allow").await;
    let pairs = callback_query(&location(&resp), CALLBACK);
    assert_eq!(get(&pairs, "state"), Some("csrf-1"));
    let code = get(&pairs, "code").unwrap().to_owned();
    // The dialog id is one-time.
    let replay = decide(&sim, &consent, "allow").await;
    assert_eq!(replay.status(), 400);
    assert!(replay.headers().get("location").is_none());

    let (status, body) = exchange(&sim, CALLBACK, SANDBOX_MESSENGER_APP_SECRET, &code).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["token_type"].as_str(), body["expires_in"].as_u64()),
        (Some("bearer"), Some(5183944))
    );
    let token = body["access_token"].as_str().unwrap();

    let (status, me) = graph_get(&sim, "me", token).await;
    assert_eq!(status, 200);
    assert_eq!(me["id"], SANDBOX_FACEBOOK_USER_ID);
    let (status, accounts) = graph_get(&sim, "me/accounts", token).await;
    assert_eq!(status, 200, "{accounts}");
    let data = accounts["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    for (entry, p) in data.iter().zip(SANDBOX_MESSENGER_PAGES.iter()) {
        assert_eq!(
            (entry["id"].as_str(), entry["name"].as_str()),
            (Some(p.id), Some(p.name))
        );
        assert_eq!(entry["access_token"], p.access_token);
        assert!(
            entry["tasks"]
                .as_array()
                .unwrap()
                .contains(&json!("MESSAGING"))
        );
        assert!(entry["category_list"][0]["name"].is_string());
    }
    assert!(accounts["paging"]["cursors"]["after"].is_string());

    // Paging by one.
    let (_, first) = graph_get(&sim, "me/accounts?limit=1", token).await;
    assert_eq!(first["data"][0]["id"], page(0).id);
    let after = first["paging"]["cursors"]["after"].as_str().unwrap();
    let next = first["paging"]["next"].as_str().unwrap();
    assert!(next.contains("limit=1"), "{next}");
    let resp = sim
        .http
        .get(sim.url(&format!("/{VERSION}/me/accounts")))
        .query(&[("limit", "1"), ("after", after), ("access_token", token)])
        .send()
        .await
        .unwrap();
    let second: Value = resp.json().await.unwrap();
    assert_eq!(second["data"][0]["id"], page(1).id);

    // A user token cannot send as a page.
    let resp = sim
        .http
        .post(sim.url(&format!("/{VERSION}/me/messages")))
        .bearer_auth(token)
        .json(&text("4827193650284716", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(err_pair(&body), (Some(190), None));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Page Access Token")
    );

    // Subscribe page 0 with its token from /me/accounts.
    let p = page(0);
    let page_token = data[0]["access_token"].as_str().unwrap();
    let url = sim.url(&format!("/{VERSION}/{}/subscribed_apps", p.id));
    let fields = "messages,message_deliveries,message_reads,messaging_postbacks";
    let (status, none) = graph_get(&sim, &format!("{}/subscribed_apps", p.id), page_token).await;
    assert_eq!((status, none), (200, json!({"data": []})));
    let resp = sim
        .http
        .post(&url)
        .query(&[("subscribed_fields", fields), ("access_token", page_token)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"success": true})
    );
    let (_, subs) = graph_get(&sim, &format!("{}/subscribed_apps", p.id), page_token).await;
    assert_eq!(subs["data"][0]["id"], app_id());
    assert_eq!(subs["data"][0]["name"], "Switchboard Sandbox App");
    assert_eq!(
        subs["data"][0]["subscribed_fields"],
        json!([
            "messages",
            "message_deliveries",
            "message_reads",
            "messaging_postbacks"
        ])
    );
    let pages = sim.get("messenger/pages").await;
    assert_eq!(pages["pages"][0]["subscribed"], true);
    assert_eq!(pages["pages"][1]["subscribed"], false);
    assert_eq!(pages["pages"][0]["subscribed_fields"][0], "messages");

    // Missing fields, another page's token, a user token.
    let resp = sim
        .http
        .post(&url)
        .bearer_auth(page_token)
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "(#100) The parameter subscribed_fields is required"
    );
    let resp = sim
        .http
        .post(&url)
        .query(&[("subscribed_fields", "messages")])
        .bearer_auth(page(1).access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(err_pair(&resp.json().await.unwrap()), (Some(100), Some(33)));
    let (_, body) = graph_get(&sim, &format!("{}/subscribed_apps", p.id), token).await;
    assert_eq!(err_pair(&body), (Some(190), None));

    let resp = sim
        .http
        .delete(&url)
        .bearer_auth(page_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"success": true})
    );
    let (_, subs) = graph_get(&sim, &format!("{}/subscribed_apps", p.id), page_token).await;
    assert_eq!(subs, json!({"data": []}));

    // A reset forgets tokens, subscriptions and the registered redirect URIs.
    sim.post("reset", json!({})).await;
    let (status, body) = graph_get(&sim, "me/accounts", token).await;
    assert_eq!((status, err_pair(&body)), (400, (Some(190), None)));
    assert_eq!(dialog(&sim, CALLBACK, "s").await.0, 400);
}

#[tokio::test]
async fn accounts_show_the_reissued_page_token() {
    let sim = registered(&[CALLBACK]).await;
    let token = user_token(&sim).await;
    let fresh = sim
        .post(
            &format!("messenger/pages/{}/reissue-token", page(1).id),
            json!({}),
        )
        .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, accounts) = graph_get(&sim, "me/accounts", &token).await;
    assert_eq!(accounts["data"][1]["access_token"], fresh.as_str());
    assert_eq!(accounts["data"][0]["access_token"], page(0).access_token);
    let pages = sim.get("messenger/pages").await;
    assert_eq!(pages["pages"][1]["current_access_token"], fresh.as_str());
    // The revoked one is refused, the listed one works.
    assert_eq!(graph_get(&sim, "me", page(1).access_token).await.0, 400);
    assert_eq!(graph_get(&sim, "me", &fresh).await.1["id"], page(1).id);
}

#[tokio::test]
async fn code_exchange_errors() {
    let other = "http://127.0.0.1:1234/other/callback";
    let sim = registered(&[CALLBACK, other]).await;
    let code = code_for(&sim, CALLBACK, "s").await;

    let (status, body) = exchange(&sim, CALLBACK, "0000", &code).await;
    assert_eq!((status, err_pair(&body)), (400, (Some(1), None)));
    assert_eq!(body["error"]["message"], "Error validating client secret.");
    assert_eq!(body["error"]["type"], "OAuthException");
    assert!(body["error"].get("is_transient").is_none());

    let (status, body) = exchange(&sim, other, SANDBOX_MESSENGER_APP_SECRET, &code).await;
    assert_eq!((status, err_pair(&body)), (400, (Some(100), Some(36008))));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("redirect_uri is identical")
    );

    // Failed attempts leave the code usable; success uses it up.
    assert_eq!(
        exchange(&sim, CALLBACK, SANDBOX_MESSENGER_APP_SECRET, &code)
            .await
            .0,
        200
    );
    let (status, body) = exchange(&sim, CALLBACK, SANDBOX_MESSENGER_APP_SECRET, &code).await;
    assert_eq!((status, err_pair(&body)), (400, (Some(100), Some(36009))));
    assert_eq!(
        body["error"]["message"],
        "This authorization code has been used."
    );

    let (_, body) = exchange(&sim, CALLBACK, SANDBOX_MESSENGER_APP_SECRET, "AQnotacode").await;
    assert_eq!(err_pair(&body), (Some(100), None));
    assert_eq!(
        body["error"]["message"],
        "Invalid verification code format."
    );

    let resp = sim
        .http
        .get(sim.url(&format!("/{VERSION}/oauth/access_token")))
        .query(&[("client_id", app_id().as_str()), ("code", "x")])
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["message"], "Missing redirect_uri parameter.");

    // Ten minutes by the sim clock.
    let late = code_for(&sim, CALLBACK, "s").await;
    sim.set_clock(10 * 60 * 1000 + 1).await;
    let (_, body) = exchange(&sim, CALLBACK, SANDBOX_MESSENGER_APP_SECRET, &late).await;
    assert_eq!(err_pair(&body), (Some(100), Some(36007)));

    // POST with a form body works as well.
    let code = code_for(&sim, other, "s").await;
    let resp = sim
        .http
        .post(sim.url(&format!("/{VERSION}/oauth/access_token")))
        .form(&[
            ("client_id", app_id().as_str()),
            ("redirect_uri", other),
            ("client_secret", SANDBOX_MESSENGER_APP_SECRET),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn cancel_redirects_with_access_denied() {
    let with_query = "http://127.0.0.1:1234/cb?connection=con_1";
    let sim = registered(&[with_query]).await;
    let (_, login) = dialog(&sim, with_query, "a b&c").await;
    let (_, consent) = log_in(
        &sim,
        &login,
        SANDBOX_FACEBOOK_USER_EMAIL,
        SANDBOX_FACEBOOK_USER_PASSWORD,
    )
    .await;
    let loc = location(&decide(&sim, &consent, "deny").await);
    assert_eq!(
        loc,
        format!(
            "{with_query}&error=access_denied&error_code=200&error_description=Permissions+error&error_reason=user_denied&state=a+b%26c#_=_"
        )
    );
}

#[tokio::test]
async fn bad_dialogs_show_errors_and_never_redirect() {
    let sim = registered(&[CALLBACK]).await;
    let (status, page) = dialog(&sim, "http://127.0.0.1:1234/evil", "s").await;
    assert_eq!(status, 400);
    assert!(page.contains("URL blocked"), "{page}");
    assert!(page.contains(
        "This redirect failed because the redirect URI is not whitelisted in the app&#39;s Client OAuth Settings."
    ));
    // Exact match: a trailing slash is another URI.
    assert_eq!(dialog(&sim, &format!("{CALLBACK}/"), "s").await.0, 400);

    let resp = browser()
        .get(sim.url(&format!("/{VERSION}/dialog/oauth")))
        .query(&[("client_id", "123"), ("redirect_uri", CALLBACK)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
    assert!(resp.text().await.unwrap().contains("Invalid App ID"));

    // A login post whose hidden redirect_uri was changed is checked again.
    let (_, login) = dialog(&sim, CALLBACK, "s").await;
    let tampered = login.replace(CALLBACK, "http://127.0.0.1:1234/evil");
    let (status, page) = log_in(
        &sim,
        &tampered,
        SANDBOX_FACEBOOK_USER_EMAIL,
        SANDBOX_FACEBOOK_USER_PASSWORD,
    )
    .await;
    assert_eq!(status, 400);
    assert!(page.contains("URL blocked"));
}

#[tokio::test]
async fn hostile_state_is_escaped_and_returned_intact() {
    let sim = registered(&[CALLBACK]).await;
    let state = r#""><script>alert('x')</script><input name="email" value="a&b"#;
    let (status, login) = dialog(&sim, CALLBACK, state).await;
    assert_eq!(status, 200);
    assert!(!login.contains("<script>"), "{login}");
    assert!(login.contains(
        "name=\"state\" value=\"&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
    ));
    let (_, consent) = log_in(
        &sim,
        &login,
        SANDBOX_FACEBOOK_USER_EMAIL,
        SANDBOX_FACEBOOK_USER_PASSWORD,
    )
    .await;
    assert!(!consent.contains("<script>"));
    let loc = location(&decide(&sim, &consent, "allow").await);
    assert_eq!(get(&callback_query(&loc, CALLBACK), "state"), Some(state));
}
