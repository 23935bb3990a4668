//! Plugin tests with the SDK's MockHost: validation, the send request field by field, the
//! result mapping and the webhook signature.

mod props;
mod send;
mod validation;
mod webhook;

use switchboard_plugin_sdk::prelude::*;
use switchboard_plugin_sdk::testing::MockHost;

pub const API_KEY: &str = "NCSTESTKEY0000001";
pub const SECRET: &str = "test-secret-0123456789abcdef";
/// 2023-11-14T22:13:20Z, 07:13:20 KST.
pub const NOW: u64 = 1_700_000_000_000;

pub fn button(title: &str, url: Option<&str>) -> Button {
    Button {
        title: title.into(),
        url: url.map(Into::into),
        payload: None,
    }
}

pub fn message(phone: &str) -> Message {
    Message {
        id: "msg_1".into(),
        workspace: "ws_1".into(),
        to: Recipient {
            phone: Some(phone.into()),
            country: Some("KR".into()),
            email: None,
            psid: None,
            push_token: None,
            push_platform: None,
            name: Some("지수".into()),
            last_inbound_ms: None,
        },
        content: Content {
            text: None,
            subject: None,
            media: vec![],
            carousel: vec![],
            buttons: vec![],
            quick_replies: vec![],
            template: Some(TemplateRef {
                id: "TPL_ORDER_SHIPPED".into(),
                variables: vec![
                    ("#{name}".into(), "지수".into()),
                    ("#{order}".into(), "A-1001".into()),
                ],
            }),
            data: vec![],
        },
        category: Category::Transactional,
        metadata: vec![],
        options: vec![],
        idempotency_key: "dlv_1".into(),
    }
}

pub fn host() -> MockHost {
    let mut h = MockHost::new()
        .config("api_key", API_KEY)
        .config("pf_id", "KA01PF_TEST")
        .config("sender", "02-1234-5678")
        .config("base_url", "http://sim.test/")
        .secret("api_secret", SECRET);
    h.now_ms = NOW;
    h
}

pub fn hmac_hex(key: &str, data: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    m.update(data);
    crate::auth::to_hex(&m.finalize().into_bytes())
}

pub fn connection() -> Connection {
    Connection {
        id: "conn_1".into(),
        name: "kakao".into(),
        webhook_url: "https://gw.example/v1/webhooks/conn_1".into(),
    }
}
