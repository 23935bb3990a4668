//! Routing and fallback end to end, on the controllable clock: the built-in follow-up
//! (push, then AlimTalk-else-SMS and email), durable step timers across SIGKILL, late
//! receipts, parallel and first-of steps, opt-outs, and policy validation.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Gateway, SandboxProcess, free_port, fresh_dir};

fn follow_up(token: Option<&str>, phone: &str, email: &str, text: &str) -> Value {
    let mut to = json!({"phone": phone, "email": email});
    if let Some(t) = token {
        to["push_token"] = json!(t);
        to["push_platform"] = json!("android");
    }
    json!({"policy": "follow-up", "to": to, "category": "follow_up",
           "content": {"subject": "New reply", "text": text,
                       "template": {"id": "KA01TP_SB_ORDER_SHIPPED", "variables": {"#{name}": "Jisu", "#{order}": "A-1"}}}})
}

/// Polls until `pred` holds on the message, or fails with the message and the log.
async fn wait_until(gw: &Gateway, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, msg) = gw.get(&format!("/v1/messages/{id}")).await;
        if pred(&msg) {
            return msg;
        }
        if Instant::now() > deadline {
            panic!("{what} never happened: {msg:#}\n--- log ---\n{}", gw.log());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn step(msg: &Value, i: usize) -> &Value {
    &msg["route"]["steps"][i]
}

fn channel_state(msg: &Value, s: usize, channel: &str) -> String {
    step(msg, s)["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == channel)
        .map(|c| c["state"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

/// How many sends each simulator received for this phone / email / token.
async fn sends(
    sim: &str,
    phone_local: &str,
    phone_e164: &str,
    email: &str,
    token: &str,
) -> (usize, usize, usize, usize) {
    let get = |path: &'static str| {
        let url = format!("{sim}{path}");
        async move {
            reqwest::get(url)
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let list = |v: Value, key: &str| -> Vec<Value> {
        v.as_array()
            .cloned()
            .or_else(|| v[key].as_array().cloned())
            .unwrap_or_default()
    };
    let alimtalk = list(get("/_sandbox/alimtalk/messages").await, "messages")
        .into_iter()
        .filter(|m| m.to_string().contains(phone_local))
        .count();
    let sms = list(get("/_sandbox/sms/messages").await, "messages")
        .into_iter()
        .filter(|m| m["to"] == phone_e164)
        .count();
    let emails = list(get("/_sandbox/email/messages").await, "messages")
        .into_iter()
        .filter(|m| m.to_string().contains(email))
        .count();
    let push = get("/_sandbox/push/messages").await["token_requests"][token]
        .as_u64()
        .unwrap_or(0) as usize;
    (alimtalk, sms, emails, push)
}

async fn post_receipt(gw: &Gateway, msg: &Value, clock_offset_ms: i64) -> StatusCode {
    let conn = step(msg, 0)["channels"][0].clone();
    let delivery = conn["delivery"].as_str().unwrap();
    let connection = msg["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == delivery)
        .unwrap()["connection"]
        .clone();
    let body = json!({"connection_id": connection, "message_id": msg["id"], "event": "received"})
        .to_string();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + clock_offset_ms;
    let sig = switchboard_sandbox::push_receipt_signature(
        switchboard_sandbox::SANDBOX_PUSH_RECEIPT_KEY,
        (now / 1000) as u64,
        body.as_bytes(),
    );
    gw.http()
        .post(format!("{}/v1/receipts", gw.url))
        .header("x-switchboard-signature", sig)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_push_confirmed_at_10_s_means_no_text_and_no_email() {
    let gw = Gateway::start("route-confirmed", &[]);
    let id = gw
        .send(&follow_up(
            Some("silent-r1"),
            "+821011110001",
            "r1@example.com",
            "Your agent replied",
        ))
        .await;
    let msg = wait_until(&gw, &id, "push sent", |m| {
        m["deliveries"][0]["status"] == "sent"
    })
    .await;
    assert_eq!(step(&msg, 0)["state"], "running", "{msg:#}");

    gw.set_clock(10_000).await;
    assert_eq!(
        post_receipt(&gw, &msg, 10_000).await,
        StatusCode::NO_CONTENT
    );
    let msg = wait_until(&gw, &id, "route succeeded", |m| {
        m["route"]["outcome"] == "succeeded"
    })
    .await;
    assert_eq!(step(&msg, 0)["state"], "succeeded");
    assert_eq!(step(&msg, 1)["state"], "pending");

    gw.set_clock(31_000).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let counts = sends(
        &gw.sim,
        "01011110001",
        "+821011110001",
        "r1@example.com",
        "silent-r1",
    )
    .await;
    assert_eq!(counts, (0, 0, 0, 1), "only the push went out");
}

#[tokio::test]
async fn an_unconfirmed_push_sends_alimtalk_and_email_together_at_30_s_and_a_late_receipt_changes_nothing()
 {
    let gw = Gateway::start("route-fallback", &[]);
    let id = gw
        .send(&follow_up(
            Some("silent-r2"),
            "+821011110002",
            "r2@example.com",
            "Your agent replied",
        ))
        .await;
    let msg = wait_until(&gw, &id, "push sent", |m| {
        m["deliveries"][0]["status"] == "sent"
    })
    .await;

    gw.set_clock(29_000).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sends(
            &gw.sim,
            "01011110002",
            "+821011110002",
            "r2@example.com",
            "silent-r2"
        )
        .await,
        (0, 0, 0, 1)
    );

    gw.set_clock(30_500).await;
    let msg2 = wait_until(&gw, &id, "route succeeded", |m| {
        m["route"]["outcome"] == "succeeded"
    })
    .await;
    assert_eq!(step(&msg2, 0)["state"], "timed_out", "{msg2:#}");
    assert_eq!(step(&msg2, 1)["state"], "succeeded");
    assert_eq!(channel_state(&msg2, 1, "alimtalk"), "succeeded");
    assert_eq!(
        channel_state(&msg2, 1, "sms"),
        "waiting",
        "AlimTalk worked: no SMS"
    );
    // Both went out at once: the email does not wait for the text.
    let started: Vec<&str> = msg2["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .map(|d| d["timeline"][0]["at"].as_str().unwrap())
        .collect();
    assert_eq!(started.len(), 2, "{msg2:#}");
    assert_eq!(started[0], started[1], "queued in the same commit");
    let email_delivered = wait_until(&gw, &id, "email delivered", |m| {
        m["deliveries"].as_array().unwrap().iter().any(|d| {
            d["channel"] == "email" && (d["status"] == "delivered" || d["status"] == "seen")
        })
    })
    .await;
    assert_eq!(
        sends(
            &gw.sim,
            "01011110002",
            "+821011110002",
            "r2@example.com",
            "silent-r2"
        )
        .await,
        (1, 0, 1, 1),
        "{email_delivered:#}"
    );

    // The app finally confirms the push at 45 s: recorded as late, nothing is sent again.
    gw.set_clock(45_000).await;
    assert_eq!(
        post_receipt(&gw, &msg, 45_000).await,
        StatusCode::NO_CONTENT
    );
    let msg3 = wait_until(&gw, &id, "late receipt recorded", |m| {
        m["deliveries"][0]["status"] == "delivered"
    })
    .await;
    assert_eq!(step(&msg3, 0)["state"], "timed_out");
    assert_eq!(step(&msg3, 0)["channels"][0]["late"], true, "{msg3:#}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sends(
            &gw.sim,
            "01011110002",
            "+821011110002",
            "r2@example.com",
            "silent-r2"
        )
        .await,
        (1, 0, 1, 1)
    );
}

#[tokio::test]
async fn without_a_push_token_text_and_email_go_at_once_and_sms_covers_for_alimtalk() {
    let gw = Gateway::start("route-no-token", &[]);
    // No push token: step 0 is skipped, AlimTalk and email go now.
    let id = gw
        .send(&follow_up(None, "+821011110003", "r3@example.com", "hi"))
        .await;
    let msg = wait_until(&gw, &id, "route succeeded", |m| {
        m["route"]["outcome"] == "succeeded"
    })
    .await;
    assert_eq!(step(&msg, 0)["state"], "skipped", "{msg:#}");
    assert_eq!(step(&msg, 0)["channels"][0]["skip_reason"], "no_address");
    assert_eq!(channel_state(&msg, 1, "alimtalk"), "succeeded");

    // AlimTalk fails (not a KakaoTalk user), or the user blocked it: SMS instead.
    for (phone, local, reason) in [
        ("+821000003104", "01000003104", "recipient_unavailable"),
        ("+821000003107", "01000003107", "blocked"),
    ] {
        let id = gw
            .send(&follow_up(
                None,
                phone,
                &format!("{local}@example.com"),
                "short text",
            ))
            .await;
        let msg = wait_until(&gw, &id, "sms after alimtalk", |m| {
            m["route"]["outcome"] != "running"
        })
        .await;
        assert_eq!(channel_state(&msg, 1, "alimtalk"), "failed", "{msg:#}");
        let alimtalk = &step(&msg, 1)["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["channel"] == "alimtalk")
            .unwrap()["failure_reason"];
        assert_eq!(alimtalk, reason);
        assert_eq!(channel_state(&msg, 1, "sms"), "succeeded", "{msg:#}");
        let (a, s, _, _) = sends(&gw.sim, local, phone, "-", "-").await;
        assert_eq!((a, s), (1, 1));
    }

    // AlimTalk not set up: SMS at once; a long Korean text goes as LMS.
    let (_, conns) = gw.get("/v1/connections").await;
    let alimtalk = conns
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "alimtalk")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = gw
        .patch_json(
            &format!("/v1/connections/{alimtalk}"),
            &json!({"status": "disabled"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let long = "상담원이 답변을 남겼습니다. ".repeat(8);
    let id = gw
        .send(&follow_up(None, "+821011110004", "r4@example.com", &long))
        .await;
    let msg = wait_until(&gw, &id, "sms without alimtalk", |m| {
        m["route"]["outcome"] != "running"
    })
    .await;
    let lane = &step(&msg, 1)["channels"];
    assert_eq!(lane[0]["skip_reason"], "no_connection", "{msg:#}");
    assert_eq!(channel_state(&msg, 1, "sms"), "succeeded");
    let sms = msg["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["channel"] == "sms")
        .unwrap();
    assert_eq!(sms["product"], "lms", "{sms:#}");
    assert_eq!(
        sends(
            &gw.sim,
            "01011110004",
            "+821011110004",
            "r4@example.com",
            "-"
        )
        .await
        .0,
        0
    );
}

#[tokio::test]
async fn parallel_and_first_of_steps_with_mixed_outcomes_and_opt_outs() {
    let gw = Gateway::start("route-mixed", &[]);
    let policy = json!({"name": "inline", "steps": [
        {"send": {"parallel": [{"channel": "sms"}, {"channel": "email"}]}, "until": "delivered", "timeout_ms": 60000},
    ]});
    // SMS to Twilio's magic invalid number fails; the email is delivered: the step succeeds.
    let id = gw.send(&json!({"policy": policy, "to": {"phone": "+15005550001", "email": "mixed@example.com"}, "content": {"text": "hello"}})).await;
    let msg = wait_until(&gw, &id, "parallel done", |m| {
        m["route"]["outcome"] != "running"
    })
    .await;
    assert_eq!(msg["route"]["outcome"], "succeeded", "{msg:#}");
    assert_eq!(channel_state(&msg, 0, "sms"), "failed");
    assert_eq!(channel_state(&msg, 0, "email"), "succeeded");

    // first-of: Messenger has no PSID (skipped), SMS fails, email works.
    let first_of = json!({"name": "inline", "steps": [
        {"send": {"first_of": ["messenger", "sms", "email"]}, "until": "accepted", "timeout_ms": 60000},
    ]});
    let id = gw.send(&json!({"policy": first_of, "to": {"phone": "+15005550001", "email": "first@example.com"}, "content": {"text": "hello"}})).await;
    let msg = wait_until(&gw, &id, "first-of done", |m| {
        m["route"]["outcome"] != "running"
    })
    .await;
    let states: Vec<&str> = step(&msg, 0)["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["skipped", "failed", "succeeded"], "{msg:#}");

    // invalid_format does not fall back by default.
    gw.sim_post("/_sandbox/faults", json!({"channel": "sms", "match": {"to": "+14155550190"}, "action": {"status": 400, "code": 21602}})).await;
    let id = gw.send(&json!({"policy": first_of, "to": {"phone": "+14155550190", "email": "nofall@example.com"}, "content": {"text": "hello"}})).await;
    let msg = wait_until(&gw, &id, "stopped on invalid_format", |m| {
        m["route"]["outcome"] != "running"
    })
    .await;
    assert_eq!(msg["route"]["outcome"], "failed", "{msg:#}");
    assert_eq!(channel_state(&msg, 0, "email"), "waiting");
    // Nor on to the next step: the same content would fail there too.
    gw.sim_post("/_sandbox/faults", json!({"channel": "sms", "match": {"to": "+14155550189"}, "action": {"status": 400, "code": 21602}})).await;
    let two_steps = json!({"name": "inline", "steps": [
        {"send": {"channel": "sms"}, "until": "accepted", "timeout_ms": 60000},
        {"send": {"channel": "email"}, "until": "accepted", "timeout_ms": 60000},
    ]});
    let id = gw.send(&json!({"policy": two_steps, "to": {"phone": "+14155550189", "email": "nostep@example.com"}, "content": {"text": "hello"}})).await;
    let msg = wait_until(&gw, &id, "stopped before step 1", |m| {
        m["route"]["outcome"] != "running"
    })
    .await;
    assert_eq!(msg["route"]["outcome"], "failed", "{msg:#}");
    assert_eq!(step(&msg, 0)["state"], "failed", "{msg:#}");
    assert_eq!(step(&msg, 1)["state"], "stopped", "{msg:#}");
    assert_eq!(msg["deliveries"].as_array().unwrap().len(), 1, "{msg:#}");
    // With `fallback_on` naming it, the same failure moves on.
    gw.sim_post("/_sandbox/faults", json!({"channel": "sms", "match": {"to": "+14155550188"}, "action": {"status": 400, "code": 21602}})).await;
    let mut moving = two_steps.clone();
    moving["fallback_on"] = json!(["invalid_format"]);
    let id = gw.send(&json!({"policy": moving, "to": {"phone": "+14155550188", "email": "onstep@example.com"}, "content": {"text": "hello"}})).await;
    let msg = wait_until(&gw, &id, "moved to step 1", |m| {
        m["route"]["outcome"] != "running"
    })
    .await;
    assert_eq!(msg["route"]["outcome"], "succeeded", "{msg:#}");
    assert_eq!(step(&msg, 1)["state"], "succeeded", "{msg:#}");

    // An opt-out on SMS: the next routed message skips SMS for that number.
    let opted = "+14155550191";
    gw.sim_post("/_sandbox/faults", json!({"channel": "sms", "match": {"to": opted}, "times": 1, "action": {"status": 400, "code": 21610}})).await;
    let id = gw
        .send(&json!({"channel": "sms", "to": {"phone": opted}, "content": {"text": "hi"}}))
        .await;
    assert_eq!(gw.failure_of(&id).await["reason"], "opted_out");
    let id = gw.send(&json!({"policy": first_of, "to": {"phone": opted, "email": "opted@example.com"}, "content": {"text": "hello"}})).await;
    let msg = wait_until(&gw, &id, "opted-out skip", |m| {
        m["route"]["outcome"] != "running"
    })
    .await;
    let sms = &step(&msg, 0)["channels"][1];
    assert_eq!(
        (sms["state"].as_str(), sms["skip_reason"].as_str()),
        (Some("skipped"), Some("opted_out")),
        "{msg:#}"
    );
    assert_eq!(channel_state(&msg, 0, "email"), "succeeded");
    let (status, body) = gw
        .post_message(&json!({"channel": "sms", "to": {"phone": opted}, "content": {"text": "hi"}}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["violations"][0]["code"], "opted_out");
}

#[tokio::test]
async fn policies_are_managed_and_validated() {
    let gw = Gateway::start("route-policies", &[]);
    let bad = |steps: Value| json!({"name": "bad", "steps": steps});
    for (steps, field, code) in [
        (
            json!([{"send": {"channel": "fax"}, "timeout_ms": 1000}]),
            "steps[0].send.channel",
            "unknown_channel",
        ),
        (
            json!([{"send": {"first_of": []}, "timeout_ms": 1000}]),
            "steps[0].send",
            "empty",
        ),
        (
            json!([{"send": {"channel": "sms"}}]),
            "steps[0].timeout_ms",
            "required",
        ),
        (json!([]), "steps", "empty"),
    ] {
        let (status, body) = gw.post_json("/v1/policies", &bad(steps)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["field"], field, "{body}");
        assert_eq!(body["error"]["violations"][0]["code"], code, "{body}");
    }
    let good = json!({"name": "sms-then-email", "steps": [
        {"send": {"channel": "sms"}, "until": "delivered", "timeout_ms": 5000},
        {"send": {"channel": "email"}, "until": "accepted", "timeout_ms": 5000}
    ]});
    let (status, body) = gw.post_json("/v1/policies", &good).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = gw.post_json("/v1/policies", &good).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) = gw.get("/v1/policies/sms-then-email").await;
    assert_eq!((status, &body), (StatusCode::OK, &good));
    let (status, _) = gw
        .post_json(
            "/v1/policies",
            &json!({"name": "follow-up", "steps": [{"send": {"channel": "sms"}, "timeout_ms": 1}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "follow-up is built in");
    let (_, list) = gw.get("/v1/policies").await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["follow-up", "sms-then-email"]);

    // Used by name: the SMS is delivered, so email is never needed.
    let id = gw.send(&json!({"policy": "sms-then-email", "to": {"phone": "+14155550192", "email": "named@example.com"}, "content": {"text": "hi"}})).await;
    let msg = wait_until(&gw, &id, "named policy", |m| {
        m["route"]["outcome"] == "succeeded"
    })
    .await;
    assert_eq!(msg["route"]["policy"], "sms-then-email");
    assert_eq!(
        gw.delete("/v1/policies/sms-then-email").await,
        StatusCode::NO_CONTENT
    );
    let (status, body) = gw.post_message(&json!({"policy": "sms-then-email", "to": {"phone": "+14155550192"}, "content": {"text": "hi"}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "policy");
}

#[tokio::test]
async fn sigkill_during_the_30_s_wait_fires_the_fallback_exactly_once() {
    let sim = SandboxProcess::start();
    let dir = fresh_dir("route-crash");
    let listen = format!("127.0.0.1:{}", free_port());
    let args = ["--sandbox-url", sim.url.as_str()];
    let mut gw = Gateway::start_in(&dir, &listen, &args);
    let id = gw
        .send(&follow_up(
            Some("silent-crash"),
            "+821011110009",
            "crash@example.com",
            "reply",
        ))
        .await;
    wait_until(&gw, &id, "push sent", |m| {
        m["deliveries"][0]["status"] == "sent"
    })
    .await;
    gw.set_clock(15_000).await;
    gw.kill();

    let gw = Gateway::start_in(&dir, &listen, &args);
    // The clock offset lives in the process; the restarted gateway moves it past 30 s.
    gw.set_clock(31_000).await;
    let msg = wait_until(&gw, &id, "fallback after restart", |m| {
        m["route"]["outcome"] == "succeeded"
    })
    .await;
    assert_eq!(step(&msg, 0)["state"], "timed_out", "{msg:#}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sends(
            &sim.url,
            "01011110009",
            "+821011110009",
            "crash@example.com",
            "silent-crash"
        )
        .await,
        (1, 0, 1, 1),
        "the fallback fired exactly once"
    );
}

#[tokio::test]
async fn policies_come_from_a_config_file_which_is_validated_at_start() {
    let dir = crate::support::fresh_dir("route-policy-file");
    let file = dir.join("policies.json");
    std::fs::write(
        &file,
        json!([{"name": "email-then-sms", "steps": [
            {"send": {"channel": "email"}, "until": "accepted", "timeout_ms": 5000},
            {"send": {"channel": "sms"}, "timeout_ms": 5000}
        ]}])
        .to_string(),
    )
    .unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let gw = Gateway::start_in(&dir, &listen, &["--policies", file.to_str().unwrap()]);
    let (_, list) = gw.get("/v1/policies").await;
    let from_file = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "email-then-sms")
        .unwrap_or_else(|| panic!("{list:#}"));
    assert_eq!(from_file["source"], "config");
    // Config-file names are reserved: a workspace cannot shadow them.
    let (status, _) = gw
        .post_json(
            "/v1/policies",
            &json!({"name": "email-then-sms", "steps": [{"send": {"channel": "sms"}, "timeout_ms": 1}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let id = gw.send(&json!({"policy": "email-then-sms", "to": {"phone": "+14155550193", "email": "file@example.com"}, "content": {"subject": "s", "text": "hi"}})).await;
    let msg = wait_until(&gw, &id, "file policy", |m| {
        m["route"]["outcome"] == "succeeded"
    })
    .await;
    assert_eq!(channel_state(&msg, 0, "email"), "succeeded", "{msg:#}");
    assert_eq!(step(&msg, 1)["state"], "pending", "{msg:#}");
    drop(gw);

    // A bad file stops start-up with a message naming the policy and the field.
    std::fs::write(
        &file,
        json!([{"name": "broken", "steps": [{"send": {"channel": "fax"}, "timeout_ms": 5}]}])
            .to_string(),
    )
    .unwrap();
    let out = std::process::Command::new(crate::support::bin())
        .args(["serve", "--sandbox", "--listen"])
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--data-dir")
        .arg(&dir)
        .args(crate::support::database_args(&dir))
        .arg("--policies")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("broken") && stderr.contains("steps[0].send.channel"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_subject_for_email_does_not_stop_the_sms_leg_outside_korea() {
    let gw = Gateway::start("route-subject", &[]);
    let policy = json!({"name": "inline", "steps": [
        {"send": {"parallel": [{"channel": "sms"}, {"channel": "email"}]}, "until": "accepted", "timeout_ms": 60000},
    ]});
    let id = gw.send(&json!({"policy": policy, "to": {"phone": "+14155550177", "email": "subject@example.com"},
        "content": {"subject": "Your order", "text": "It shipped"}})).await;
    let msg = wait_until(&gw, &id, "both sent", |m| {
        m["deliveries"].as_array().is_some_and(|d| d.len() == 2)
            && m["deliveries"]
                .as_array()
                .unwrap()
                .iter()
                .all(|d| d["status"] != "queued" && d["status"] != "sending")
            // The router records the step's outcome after the send, asynchronously.
            && channel_state(m, 0, "sms") != "active"
    })
    .await;
    assert_eq!(channel_state(&msg, 0, "sms"), "succeeded", "{msg:#}");
    let sms = crate::support::sim_messages_to(&gw.sim, "+14155550177").await;
    assert_eq!(sms.len(), 1);
    assert!(
        !sms[0].to_string().contains("Your order"),
        "no subject on a US SMS: {:#}",
        sms[0]
    );
    let emails = gw.sim_get("/_sandbox/email/messages").await;
    assert!(
        emails.to_string().contains("Your order"),
        "the email keeps it"
    );
}
