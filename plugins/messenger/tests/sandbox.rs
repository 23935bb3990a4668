//! The plugin against the simulated Graph API over real HTTP: what the plugin sends is accepted
//! by the simulator, what the simulator signs verifies in the plugin, and contact sync pages
//! through the simulator's conversations. The MockHost's HTTP handler plays the host: it
//! attaches the bearer token and forwards the request.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::{Value, json};
use switchboard_plugin_messenger::MessengerPlugin;
use switchboard_plugin_sdk::http::{Auth, HttpError, Request, Response};
use switchboard_plugin_sdk::prelude::*;
use switchboard_plugin_sdk::testing::{MockGuard, MockHost, handle_webhook};
use switchboard_sandbox::{
    SANDBOX_MESSENGER_APP_SECRET, SANDBOX_MESSENGER_PAGES, SANDBOX_MESSENGER_VERIFY_TOKEN,
    SandboxHandle, SandboxPage,
};
use tokio::runtime::Runtime;

struct World {
    rt: Runtime,
    sim: SandboxHandle,
    client: reqwest::Client,
    hooks: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

impl World {
    fn start() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let hooks: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
        let sink = hooks.clone();
        let (sim, hook_url) = rt.block_on(async move {
            let app = axum::Router::new().route(
                "/hook",
                post(move |headers: HeaderMap, body: Bytes| {
                    let sink = sink.clone();
                    async move {
                        sink.lock().unwrap().push((headers, body));
                        "ok"
                    }
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            let sim =
                switchboard_sandbox::start("127.0.0.1:0".parse().unwrap(), Default::default())
                    .await
                    .unwrap();
            (sim, format!("http://{addr}/hook"))
        });
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let w = World {
            rt,
            sim,
            client,
            hooks,
        };
        w.control(
            reqwest::Method::PUT,
            "messenger/config",
            json!({"webhooks": {page().id: hook_url}, "delivery_delay_ms": 5, "read_delay_ms": 10}),
        );
        w
    }

    fn control(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/_sandbox/{path}", self.sim.base_url());
        let client = self.client.clone();
        self.rt.block_on(async move {
            let resp = client
                .request(method, url)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(resp.status().is_success());
            resp.json().await.unwrap_or(Value::Null)
        })
    }

    /// A mock host configured for the first sandbox page whose HTTP goes to the simulator.
    fn host(&self) -> MockGuard {
        let handle = self.rt.handle().clone();
        let client = self.client.clone();
        let token = page().access_token;
        let forward = move |req: &Request| -> Result<Response, HttpError> {
            let mut r = client
                .request(req.method.parse().unwrap(), &req.url)
                .body(req.body.clone());
            for (k, v) in &req.headers {
                r = r.header(k, v);
            }
            if let Some(Auth::Bearer(name)) = &req.auth {
                assert_eq!(name, "page_access_token");
                r = r.bearer_auth(token);
            }
            handle.block_on(async move {
                let resp = r
                    .send()
                    .await
                    .map_err(|e| HttpError::Connect(e.to_string()))?;
                let status = resp.status().as_u16();
                let bytes = resp
                    .bytes()
                    .await
                    .map_err(|e| HttpError::Connect(e.to_string()))?;
                Ok(Response::new(status, &[], bytes.to_vec()))
            })
        };
        let mut h = MockHost::new()
            .config("page_id", page().id)
            .secret("verify_token", SANDBOX_MESSENGER_VERIFY_TOKEN)
            .config("base_url", &self.sim.base_url())
            .secret("page_access_token", token)
            .secret("app_secret", SANDBOX_MESSENGER_APP_SECRET)
            .on_http(forward);
        h.now_ms = self.control(reqwest::Method::GET, "clock", Value::Null)["now_ms"]
            .as_u64()
            .unwrap();
        h.install()
    }

    fn wait_hooks(&self, n: usize) -> Vec<(HeaderMap, Bytes)> {
        for _ in 0..600 {
            if self.hooks.lock().unwrap().len() >= n {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        self.hooks.lock().unwrap().clone()
    }
}

fn page() -> &'static SandboxPage {
    &SANDBOX_MESSENGER_PAGES[0]
}

fn conn() -> Connection {
    Connection {
        id: "conn_fb".into(),
        name: "Sandbox shop".into(),
        webhook_url: "http://gw.test/hook".into(),
    }
}

fn message(psid: &str, last_inbound_ms: Option<u64>) -> Message {
    Message {
        id: "msg_1".into(),
        workspace: "ws".into(),
        to: Recipient {
            phone: None,
            country: None,
            email: None,
            psid: Some(psid.into()),
            push_token: None,
            push_platform: None,
            name: None,
            last_inbound_ms,
        },
        content: Content {
            text: Some("Here are our shoes".into()),
            subject: None,
            media: vec![],
            carousel: (0..10)
                .map(|i| CarouselElement {
                    title: format!("Shoe {i}"),
                    subtitle: Some("42 EUR".into()),
                    image_url: Some(format!("https://cdn.example/{i}.png")),
                    buttons: vec![
                        Button {
                            title: "View".into(),
                            url: Some("https://shop.example/s".into()),
                            payload: None,
                        },
                        Button {
                            title: "Buy".into(),
                            url: None,
                            payload: Some(format!("BUY_{i}")),
                        },
                    ],
                })
                .collect(),
            buttons: vec![],
            quick_replies: vec![QuickReply {
                title: "More".into(),
                payload: "MORE".into(),
                image_url: None,
            }],
            template: None,
            data: vec![],
        },
        category: Category::Transactional,
        metadata: vec![],
        options: vec![],
        idempotency_key: "dlv_e2e".into(),
    }
}

fn webhook(headers: &HeaderMap, body: &Bytes) -> WebhookRequest {
    WebhookRequest {
        method: "POST".into(),
        url: "http://gw.test/hook".into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect(),
        body: body.to_vec(),
    }
}

#[test]
fn send_webhooks_and_sync_round_trip() {
    let w = World::start();
    let psid = "7100000000000001";
    let inbound = w.control(
        reqwest::Method::POST,
        "messenger/inbound",
        json!({"page_id": page().id, "psid": psid, "text": "Any shoes?"}),
    );
    let last_inbound = inbound["timestamp"].as_u64();
    let host = w.host();

    // Text + carousel: two Send API calls, both accepted; the second mid is the message's.
    let sent = MessengerPlugin::send(message(psid, last_inbound), conn()).unwrap();
    let listed = w.control(reqwest::Method::GET, "messenger/messages", Value::Null);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1]["mid"], sent.provider_message_id.as_str());
    assert!(listed.iter().all(|m| m["http_status"] == 200));

    // (Graph has no idempotency key: a second send would be two more messages. A send whose
    // answer was lost is the host's to settle, by `ambiguous_sends`.)

    // Every webhook verifies in the plugin; echoes name the delivery they came from; reads
    // and deliveries are watermarks; the user's message is inbound + activity.
    let key = message(psid, last_inbound).idempotency_key;
    w.wait_hooks(7);
    // Late extras (a duplicate post would be a bug) have time to arrive.
    std::thread::sleep(std::time::Duration::from_millis(30));
    let hooks = w.hooks.lock().unwrap().clone();
    assert_eq!(hooks.len(), 7);
    let mut kinds = Vec::new();
    for (headers, body) in &hooks {
        let out = handle_webhook::<MessengerPlugin>(webhook(headers, body), conn()).unwrap();
        for ev in out.events {
            kinds.push(match ev {
                WebhookEvent::Inbound(m) => {
                    assert_eq!(m.sender, psid);
                    "inbound"
                }
                WebhookEvent::Activity(_) => "activity",
                WebhookEvent::Watermark(wm) if wm.state == DeliveryState::Delivered => "delivered",
                WebhookEvent::Watermark(_) => "seen",
                WebhookEvent::Status(_) => "status",
                WebhookEvent::Echo(e) => {
                    assert_eq!(e.recipient, psid);
                    assert_eq!(e.host_marker.as_deref(), Some(key.as_str()));
                    "echo"
                }
            });
        }
        let mut tampered = webhook(headers, body);
        tampered.body.push(b' ');
        assert!(matches!(
            handle_webhook::<MessengerPlugin>(tampered, conn()),
            Err(WebhookError::Unauthorized(_))
        ));
    }
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "activity",
            "delivered",
            "delivered",
            "echo",
            "echo",
            "inbound",
            "seen",
            "seen"
        ]
    );

    // Past the window the plugin refuses without calling; the simulator agrees on its own.
    let mut late = message(psid, last_inbound.map(|t| t - 25 * 3_600_000));
    late.idempotency_key = "dlv_late".into();
    let e = MessengerPlugin::send(late, conn()).unwrap_err();
    assert_eq!(e.reason, FailureReason::WindowClosed);
    let mut wrong = message("7100000000000099", last_inbound);
    wrong.idempotency_key = "dlv_nobody".into();
    let e = MessengerPlugin::send(wrong, conn()).unwrap_err();
    assert_eq!(
        (e.reason, e.provider_code.as_deref()),
        (FailureReason::RecipientInvalid, Some("100/2018001"))
    );

    // An injected rate limit maps as retryable.
    w.control(
        reqwest::Method::POST,
        "faults",
        json!({"channel": "messenger", "times": 1, "action": {"status": 400, "code": 613}}),
    );
    let mut limited = message(psid, last_inbound);
    limited.idempotency_key = "dlv_limited".into();
    let e = MessengerPlugin::send(limited, conn()).unwrap_err();
    assert_eq!((e.reason, e.retryable), (FailureReason::RateLimited, true));

    // Contact sync walks every conversation of the page.
    w.control(
        reqwest::Method::POST,
        "messenger/conversations",
        json!({"page_id": page().id, "count": 40, "messages_per_conversation": 22}),
    );
    let (mut contacts, mut cursor, mut pages) = (Vec::new(), None, 0);
    loop {
        let p = MessengerPlugin::sync_contacts(conn(), cursor.clone()).unwrap();
        pages += 1;
        contacts.extend(p.contacts);
        match p.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!((contacts.len(), pages), (41, 2));
    let ours = contacts.iter().find(|c| c.address == psid).unwrap();
    assert!(
        ours.messages
            .iter()
            .any(|m| m.inbound && m.text.as_deref() == Some("Any shoes?"))
    );
    assert!(
        ours.messages
            .iter()
            .any(|m| !m.inbound && m.provider_message_id == sent.provider_message_id)
    );
    let seeded = contacts.iter().find(|c| c.address != psid).unwrap();
    assert_eq!(seeded.messages.len(), 20);
    assert!(seeded.name.as_deref().is_some_and(|n| !n.is_empty()));
    assert!(
        seeded
            .messages
            .iter()
            .all(|m| m.timestamp_ms > 1_700_000_000_000)
    );
    drop(host);
}

#[test]
fn handshake_with_the_sandbox_verify_token() {
    let _h = MockHost::new()
        .secret("verify_token", SANDBOX_MESSENGER_VERIFY_TOKEN)
        .install();
    let req = WebhookRequest {
        method: "GET".into(),
        url: format!(
            "http://gw.test/hook?hub.mode=subscribe&hub.challenge=424242&hub.verify_token={SANDBOX_MESSENGER_VERIFY_TOKEN}"
        ),
        headers: vec![],
        body: vec![],
    };
    let reply = handle_webhook::<MessengerPlugin>(req, conn())
        .unwrap()
        .reply
        .unwrap();
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (200, b"424242".as_slice())
    );
}
