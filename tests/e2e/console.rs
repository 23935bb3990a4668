//! The console over HTTP (the browser tests drive the same pages in Chromium): sign-in with a
//! server-side session in a strict cookie, CSRF on every form, a strict CSP, escaping,
//! sign-out, rate-limited sign-in, and joining through an invitation's page.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, LOCATION, SET_COOKIE};
use serde_json::json;

use crate::support::Gateway;

/// A browser without JavaScript: follows nothing by itself, keeps the cookies it is given.
pub(crate) struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: Vec<(String, String)>,
}

pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: String,
}

impl Browser {
    pub(crate) fn new(gw: &Gateway) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: gw.url.clone(),
            cookies: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, headers: &reqwest::header::HeaderMap) {
        for v in headers.get_all(SET_COOKIE) {
            let v = v.to_str().unwrap();
            let (kv, _) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = kv.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != k);
            if !val.is_empty() {
                self.cookies.push((k.to_string(), val.to_string()));
            }
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Page {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.page(r).await
    }

    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.page(r).await
    }

    async fn page(&mut self, r: reqwest::Response) -> Page {
        let (status, headers) = (r.status(), r.headers().clone());
        self.keep(&headers);
        Page {
            status,
            headers,
            body: r.text().await.unwrap(),
        }
    }
}

pub(crate) fn csrf_of(body: &str) -> String {
    let at = body
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF field")
        + 19;
    body[at..at + 64].to_string()
}

pub(crate) async fn member(gw: &Gateway, key: &str, email: &str, role: &str, name: &str) -> String {
    let (s, inv) = gw
        .call(
            reqwest::Method::POST,
            "/v1/members/invitations",
            key,
            Some(&json!({"email": email, "role": role})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inv}");
    let r = gw
        .http()
        .post(format!("{}/v1/invitations/accept", gw.url))
        .json(&json!({"token": inv["token"], "name": name, "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    inv["token"].as_str().unwrap().to_string()
}

/// A new member of the sandbox workspace with `role`, invited and joined (password
/// "correct horse battery"): their id.
pub(crate) async fn joined(gw: &Gateway, email: &str, role: &str, name: &str) -> String {
    member(gw, &gw.key, email, role, name).await;
    let (_, members) = gw.get("/v1/members").await;
    members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == email)
        .expect("the member who just joined")["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn sign_in_sessions_csrf_csp_and_escaping() {
    let gw = Gateway::start("console", &[]);
    let hostile = "<script>alert(1)</script>";
    member(&gw, &gw.key, "ada@example.com", "admin", hostile).await;
    let mut b = Browser::new(&gw);

    // Not signed in: sent to the sign-in page, which carries the strict policy.
    let home = b.get("/console").await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert_eq!(home.headers[LOCATION], "/console/login");
    let login = b.get("/console/login").await;
    assert_eq!(login.status, StatusCode::OK);
    let csp = login.headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert!(
        login.body.contains("<label for=\"email\">"),
        "labelled controls"
    );

    // A form posted from elsewhere (no form cookie, or not its token) is refused.
    let mut stranger = Browser::new(&gw);
    let forged = stranger
        .post(
            "/console/login",
            &[
                ("csrf", &"0".repeat(64)),
                ("email", "ada@example.com"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    // A wrong password and an unknown email get the same answer.
    let csrf = csrf_of(&login.body);
    let wrong = b
        .post(
            "/console/login",
            &[
                ("csrf", &csrf),
                ("email", "ada@example.com"),
                ("password", "wrong password!"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("Wrong email or password."));
    let csrf = csrf_of(&wrong.body);
    let unknown = b
        .post(
            "/console/login",
            &[
                ("csrf", &csrf),
                ("email", "nobody@example.com"),
                ("password", "wrong password!"),
            ],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(unknown.body.contains("Wrong email or password."));

    // Signed in: the session cookie's flags.
    let csrf = csrf_of(&unknown.body);
    let signed = b
        .post(
            "/console/login",
            &[
                ("csrf", &csrf),
                ("email", "Ada@Example.com"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER);
    let session_cookie = signed
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("sb_session="))
        .expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(session_cookie.contains(flag), "{session_cookie}");
    }
    assert!(
        !session_cookie.contains("Secure"),
        "plain HTTP here: {session_cookie}"
    );

    // The hostile name is text.
    let home = b.get("/console").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(!home.body.contains(hostile), "unescaped: {}", home.body);
    assert!(
        home.body
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;")
    );

    // The message search: a recipient typed as people write it finds its message, and the
    // hostile text of the message and of a connection's name stay text.
    let other = gw.send_sms("+14155550999", "not this one").await;
    let id = gw.send_sms("+14155550123", hostile).await;
    let found = b.get("/console/messages?recipient=%2B1+415+555+0123").await;
    assert_eq!(found.status, StatusCode::OK);
    assert!(
        found.body.contains(&id) && !found.body.contains(&other),
        "{}",
        found.body
    );
    let bad = b.get("/console/messages?from=someday").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.body.contains("from: `someday` is not a date"),
        "{}",
        bad.body
    );
    let message = b.get(&format!("/console/messages/{id}")).await;
    assert!(
        !message.body.contains(hostile),
        "unescaped: {}",
        message.body
    );
    let conn = switchboard_gateway::sandbox_setup::connection_id("twilio-sms");
    let (s, _) = gw
        .patch_json(
            &format!("/v1/connections/{conn}"),
            &serde_json::json!({"name": hostile}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let connections = b.get("/console/connections").await;
    assert_eq!(connections.status, StatusCode::OK);
    assert!(
        !connections.body.contains(hostile),
        "unescaped: {}",
        connections.body
    );
    assert!(
        connections
            .body
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;")
    );
    // Disabling a connection needs the session's token too.
    let forged = b
        .post(
            &format!("/console/connections/{conn}/disable"),
            &[("csrf", &"0".repeat(64))],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let csrf = csrf_of(&connections.body);
    let disabled = b
        .post(
            &format!("/console/connections/{conn}/disable"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(disabled.status, StatusCode::SEE_OTHER);
    let (_, c) = gw.get(&format!("/v1/connections/{conn}")).await;
    assert_eq!(c["status"], "disabled", "{c}");

    // Sign-out needs the session's token; then the session is over.
    let forged = b
        .post("/console/logout", &[("csrf", &"0".repeat(64))])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let csrf = csrf_of(&home.body);
    let session = b.cookies.clone();
    let out = b.post("/console/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(b.cookies.iter().all(|(k, _)| k != "sb_session"));
    // Replaying the old cookie gets nowhere: the session is gone on the server.
    b.cookies = session;
    assert_eq!(b.get("/console").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn an_invitation_page_signs_the_new_member_in_and_sign_in_is_rate_limited() {
    let gw = Gateway::start("console-join", &[]);
    let (s, inv) = gw
        .call(
            reqwest::Method::POST,
            "/v1/members/invitations",
            &gw.key,
            Some(&json!({"email": "bob@example.com", "role": "billing"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let path = inv["accept_path"].as_str().unwrap();
    let mut b = Browser::new(&gw);
    let form = b.get(path).await;
    assert_eq!(form.status, StatusCode::OK);
    let short = b
        .post(
            path,
            &[
                ("csrf", &csrf_of(&form.body)),
                ("name", "Bob"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    let joined = b
        .post(
            path,
            &[
                ("csrf", &csrf_of(&short.body)),
                ("name", "Bob"),
                ("password", "a long enough password"),
            ],
        )
        .await;
    assert_eq!(joined.status, StatusCode::SEE_OTHER, "{}", joined.body);
    let home = b.get("/console").await;
    assert!(home.body.contains("billing"), "{}", home.body);
    // The link worked once.
    let mut other = Browser::new(&gw);
    let again = other.get(path).await;
    let used = other
        .post(
            path,
            &[
                ("csrf", &csrf_of(&again.body)),
                ("name", "Eve"),
                ("password", "a long enough password"),
            ],
        )
        .await;
    assert_eq!(used.status, StatusCode::NOT_FOUND);

    // Ten tries a minute per email, then 429 even with the right password.
    let mut m = Browser::new(&gw);
    let mut page = m.get("/console/login").await;
    for _ in 0..crate_limit() {
        page = m
            .post(
                "/console/login",
                &[
                    ("csrf", &csrf_of(&page.body)),
                    ("email", "bob@example.com"),
                    ("password", "not it at all"),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    }
    let limited = m
        .post(
            "/console/login",
            &[
                ("csrf", &csrf_of(&page.body)),
                ("email", "bob@example.com"),
                ("password", "a long enough password"),
            ],
        )
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
}

fn crate_limit() -> u32 {
    switchboard_console::SIGN_IN_PER_MINUTE
}

/// Sign in as one of the sandbox's console members (`serve --sandbox` makes them).
pub(crate) async fn sign_in_sandbox(gw: &Gateway, who: &str) -> Browser {
    let password = std::fs::read_to_string(gw.data_dir.join(format!("sandbox-{who}.password")))
        .unwrap()
        .trim()
        .to_string();
    let mut b = Browser::new(gw);
    let login = b.get("/console/login").await;
    let email = format!("{who}@sandbox.test");
    let signed = b
        .post(
            "/console/login",
            &[
                ("csrf", &csrf_of(&login.body)),
                ("email", &email),
                ("password", &password),
            ],
        )
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    b
}

/// The number in a cell marked `id="…" data-micros="…"`.
fn micros_of(body: &str, id: &str) -> i64 {
    let at = body.find(&format!("id=\"{id}\" data-micros=\"")).expect(id) + id.len() + 19;
    body[at..].split('"').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn billing_pages_show_the_apis_numbers_and_the_roles_hold() {
    let gw = Gateway::start("console-billing", &[]);
    for i in 0..3 {
        let id = gw.send_sms(&format!("+1415555{i:04}"), "billed").await;
        gw.wait_for(&id, "delivered", std::time::Duration::from_secs(30))
            .await;
    }
    let billing_key = std::fs::read_to_string(gw.data_dir.join("sandbox-billing.key"))
        .unwrap()
        .trim()
        .to_string();
    let today = &switchboard_gateway::model::rfc3339(switchboard_gateway::model::now_ms())[..10];
    let range = format!("from={today}&to=2999-01-01");
    let api = |path: String| {
        let (http, key, url) = (gw.http().clone(), billing_key.clone(), gw.url.clone());
        async move {
            http.get(format!("{url}{path}"))
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let usage: serde_json::Value =
        serde_json::from_str(&api(format!("/v1/billing/usage?{range}")).await).unwrap();
    assert_eq!(usage["total_count"], 3, "{usage}");

    let mut billing = sign_in_sandbox(&gw, "billing").await;
    let page = billing.get(&format!("/console/billing?{range}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(
        micros_of(&page.body, "total-cost"),
        usage["total_cost_micros"].as_i64().unwrap()
    );
    assert!(page.body.contains("<svg role=\"img\""), "the usage chart");
    let balance: serde_json::Value =
        serde_json::from_str(&api("/v1/billing/balance".into()).await).unwrap();
    let paid =
        switchboard_gateway::billing::views::decimal(balance["paid_micros"].as_i64().unwrap());
    assert!(
        page.body.contains(&format!("<td id=\"paid\">{paid} ")),
        "paid {paid} on the page"
    );
    // This month's credit, from the ledger: the grant, and the three sends spent from it
    // (credit is spent first, and they cost less than the grant).
    assert_eq!(
        micros_of(&page.body, "credit-granted"),
        switchboard_gateway::billing::wallet::MONTHLY_CREDIT
    );
    assert_eq!(
        micros_of(&page.body, "credit-spent"),
        usage["total_cost_micros"].as_i64().unwrap()
    );
    assert_eq!(
        balance["credit_micros"].as_i64().unwrap(),
        switchboard_gateway::billing::wallet::MONTHLY_CREDIT
            - usage["total_cost_micros"].as_i64().unwrap()
    );

    // The CSV is the API's, byte for byte.
    let csv = billing
        .get(&format!("/console/billing/usage.csv?{range}"))
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(
        csv.body,
        api(format!("/v1/billing/usage.csv?{range}")).await
    );

    // A billing member cannot open the messages page; an admin can, and not the other way.
    let refused = billing.get("/console/messages").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("Not for your role"));
    let mut admin = sign_in_sandbox(&gw, "admin").await;
    let list = admin.get("/console/messages").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body.matches("<tr><td>").count(), 3, "{}", list.body);
    assert_eq!(admin.get("/console/billing").await.status, StatusCode::OK);

    // One message's page and its live fragment, for the roles that see messages only.
    let (_, listed) = gw.get("/v1/messages?limit=1").await;
    let id = listed["data"][0]["id"].as_str().unwrap().to_string();
    let page = admin.get(&format!("/console/messages/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("<strong id=\"msg-status\">delivered</strong>"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("<script src=\"/console/static/console.js\"></script>")
    );
    let fragment = admin.get(&format!("/console/messages/{id}/timeline")).await;
    assert!(
        fragment.body.contains("data-final=\"true\""),
        "{}",
        fragment.body
    );
    assert!(fragment.body.contains("delivered at"), "{}", fragment.body);
    for path in [
        format!("/console/messages/{id}"),
        format!("/console/messages/{id}/timeline"),
    ] {
        assert_eq!(billing.get(&path).await.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(
        admin.get("/console/messages/msg_nope").await.status,
        StatusCode::NOT_FOUND
    );
}
