//! SendGrid's Email Activity API (`GET /v3/messages`, `GET /v3/messages/{msg_id}`), which a
//! client queries to learn whether a send whose answer was lost was accepted.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use serde_json::{Value, json};
use switchboard_sandbox::{SANDBOX_EMAIL_FROM, SANDBOX_SENDGRID_API_KEY};

use crate::harness::{Sim, TO, mail};

impl Sim {
    /// `GET /v3/messages` with `query` (unencoded) and an optional limit.
    pub async fn activity(&self, query: &str, limit: Option<&str>) -> (StatusCode, Value) {
        let mut params = vec![("query", query)];
        if let Some(l) = limit {
            params.push(("limit", l));
        }
        let resp = self
            .http
            .get(format!("{}/v3/messages", self.handle.base_url()))
            .bearer_auth(SANDBOX_SENDGRID_API_KEY)
            .query(&params)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap())
    }

    /// Waits until `query` finds `n` messages.
    pub async fn activity_wait(&self, query: &str, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let (status, body) = self.activity(query, Some("1000")).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let found = body["messages"].as_array().unwrap().clone();
            if found.len() >= n {
                return found;
            }
            assert!(Instant::now() < deadline, "found {found:?}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn with_arg(to: &str, key: &str, value: &str) -> Value {
    let mut body = mail(to);
    body["personalizations"][0]["custom_args"][key] = json!(value);
    body
}

fn stamp(secs: u64) -> String {
    let iso = switchboard_iso_time::format_iso(secs * 1000);
    format!("{}Z", &iso[..19])
}

#[tokio::test]
async fn activity_finds_a_send_by_custom_arg_and_recipient() {
    let sim = Sim::start(None).await;
    let x1 = sim.accept(&with_arg(TO, "sb_attempt", "a1")).await;
    sim.accept(&with_arg("grace@example.com", "sb_attempt", "a2"))
        .await;
    sim.wait_events(&x1, 3).await;

    let rows = sim
        .activity_wait("(unique_args['sb_attempt']=\"a1\")", 1)
        .await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    let keys: Vec<&str> = row
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = [
        "from_email",
        "msg_id",
        "subject",
        "to_email",
        "status",
        "opens_count",
        "clicks_count",
        "last_event_time",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(row["to_email"], TO);
    assert_eq!(row["from_email"], SANDBOX_EMAIL_FROM);
    assert_eq!(row["subject"], "Order 42");
    assert_eq!(
        (&row["status"], &row["opens_count"], &row["clicks_count"]),
        (&json!("delivered"), &json!(1), &json!(0))
    );
    let msg_id = row["msg_id"].as_str().unwrap();
    assert!(msg_id.starts_with(&format!("{x1}.filter0001.")), "{msg_id}");
    let t = row["last_event_time"].as_str().unwrap();
    assert!(t.len() == 20 && t.ends_with('Z'), "{t}");

    // Every clause must hold.
    let q =
        format!("unique_args['sb_attempt']=\"a1\" AND to_email=\"{TO}\" AND status=\"delivered\"");
    assert_eq!(sim.activity_wait(&q, 1).await.len(), 1);
    for q in [
        "unique_args['sb_attempt']=\"a1\" AND to_email=\"grace@example.com\"".to_owned(),
        "unique_args['sb_attempt']=\"a3\"".to_owned(),
        "unique_args['other']=\"a1\"".to_owned(),
        format!("to_email=\"{TO}\" AND status=\"not_delivered\""),
        "from_email=\"someone@example.com\"".to_owned(),
        "subject=\"Order 43\"".to_owned(),
    ] {
        let (status, body) = sim.activity(&q, None).await;
        assert_eq!(
            (status, &body),
            (StatusCode::OK, &json!({"messages": []})),
            "{q}"
        );
    }
    let (_, all) = sim.activity("", None).await;
    assert_eq!(all["messages"].as_array().unwrap().len(), 2);

    // The message itself, with its events.
    let resp = sim
        .http
        .get(format!("{}/v3/messages/{msg_id}", sim.handle.base_url()))
        .bearer_auth(SANDBOX_SENDGRID_API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let one: Value = resp.json().await.unwrap();
    assert_eq!(
        (&one["msg_id"], &one["status"]),
        (&json!(msg_id), &json!("delivered"))
    );
    let names: Vec<&str> = one["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["processed", "delivered", "opened"]);
    let args: Value = serde_json::from_str(one["unique_args"].as_str().unwrap()).unwrap();
    assert_eq!(args["sb_attempt"], "a1");
    let resp = sim
        .http
        .get(format!("{}/v3/messages/nope", sim.handle.base_url()))
        .bearer_auth(SANDBOX_SENDGRID_API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn activity_limits_orders_and_bounds_last_event_time() {
    let sim = Sim::start(None).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let x = sim.accept(&with_arg(TO, "n", &i.to_string())).await;
        sim.wait_events(&x, 3).await;
        ids.push(x);
        // last_event_time has whole seconds; keep the sends apart for the ordering.
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let (_, page) = sim.activity(&format!("to_email=\"{TO}\""), Some("2")).await;
    let shown: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["msg_id"].as_str().unwrap())
        .collect();
    assert_eq!(shown.len(), 2);
    assert!(
        shown[0].starts_with(&ids[2]) && shown[1].starts_with(&ids[1]),
        "{shown:?}"
    );
    let (_, default) = sim.activity("", None).await;
    assert_eq!(default["messages"].as_array().unwrap().len(), 3);

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let between = |from: u64, to: u64| {
        format!(
            "last_event_time BETWEEN TIMESTAMP \"{}\" AND TIMESTAMP \"{}\" AND to_email=\"{TO}\"",
            stamp(from),
            stamp(to)
        )
    };
    let (_, hit) = sim.activity(&between(now - 60, now + 60), None).await;
    assert_eq!(hit["messages"].as_array().unwrap().len(), 3);
    let (_, miss) = sim.activity(&between(now + 60, now + 120), None).await;
    assert_eq!(miss["messages"], json!([]));
    // SendGrid's documented `YYYY-MM-DD HH:MM:SS` form (UTC) works too.
    let spaced = |secs: u64| stamp(secs).replace('T', " ").replace('Z', "");
    let q = format!(
        "last_event_time BETWEEN TIMESTAMP \"{}\" AND TIMESTAMP \"{}\"",
        spaced(now - 60),
        spaced(now + 60)
    );
    let (status, hit) = sim.activity(&q, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(hit["messages"].as_array().unwrap().len(), 3);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn activity_refuses_what_it_does_not_support_and_needs_the_key() {
    let sim = Sim::start(None).await;
    for (q, says) in [
        ("bad_field=\"x\"", "'bad_field' is not a known field"),
        ("to_email=\"a@b.co\" OR to_email=\"c@d.co\"", "OR"),
        ("to_email!=\"a@b.co\"", "!="),
        ("categories=\"x\"", "categories"),
        ("subject LIKE \"Order%\"", "LIKE"),
        ("last_event_time=\"2024-05-01T00:00:00Z\"", "BETWEEN"),
        ("to_email=\"a@b.co", "unterminated"),
    ] {
        let (status, body) = sim.activity(q, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(says), "{q}: {message}");
    }
    for limit in ["0", "1001", "ten"] {
        let (status, body) = sim.activity("", Some(limit)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{limit}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("limit")
        );
    }
    let url = format!("{}/v3/messages?limit=10", sim.handle.base_url());
    for req in [
        sim.http.get(&url),
        sim.http.get(&url).bearer_auth("SG.wrong.key"),
        sim.http
            .get(format!("{}/v3/messages/x", sim.handle.base_url())),
    ] {
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn activity_shows_a_send_only_from_its_first_event_and_ignores_send_faults() {
    let mut cfg = crate::harness::fast_config(None);
    cfg.email.processed_delay = Duration::from_millis(300);
    cfg.email.delivered_delay = Duration::from_millis(300);
    cfg.email.open_delay = Duration::from_millis(300);
    let sim = Sim {
        handle: crate::common::start_sandbox(cfg).await,
        http: crate::common::client(),
    };
    // The answer is lost, the email is accepted: the case a reconciliation exists for.
    sim.fault(json!({"channel": "email", "times": 1, "action": {"status": 503, "accept": true}}))
        .await;
    sim.fault(json!({"channel": "email", "action": {"status": 503}}))
        .await;
    let resp = sim.send(&with_arg(TO, "sb_attempt", "lost")).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let q = "unique_args['sb_attempt']=\"lost\"";
    let (status, early) = sim.activity(q, None).await;
    assert_eq!((status, &early), (StatusCode::OK, &json!({"messages": []})));
    let rows = sim.activity_wait(q, 1).await;
    assert_eq!(rows[0]["status"], "delivered");
    sim.handle.shutdown().await;
}
