//! Plugin tests against the SDK's MockHost, which signs RS256/ES256 for real.

mod apns;
mod fcm;
mod props;
mod validate;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use switchboard_plugin_sdk::prelude::*;
use switchboard_plugin_sdk::testing::MockHost;

/// The sandbox's throwaway key pairs (never used anywhere real): FCM's RSA, APNs' EC P-256.
pub use switchboard_sandbox::{
    SANDBOX_APNS_PRIVATE_KEY_PEM as EC_PEM, SANDBOX_FCM_PRIVATE_KEY_PEM as RSA_PEM,
};

pub const TOKEN_URI: &str = "https://oauth2.example.test/token";
pub const FCM_BASE: &str = "https://fcm.example.test";
pub const APNS_BASE: &str = "https://apns.example.test";

pub fn message(platform: &str, token: &str) -> Message {
    Message {
        id: "msg_1".into(),
        workspace: "ws_1".into(),
        to: Recipient {
            phone: None,
            country: None,
            email: None,
            psid: None,
            push_token: Some(token.into()),
            push_platform: Some(platform.into()),
            name: None,
            last_inbound_ms: None,
        },
        content: Content {
            text: Some("Your order shipped".into()),
            subject: Some("Shipped".into()),
            media: vec![],
            carousel: vec![],
            buttons: vec![],
            quick_replies: vec![],
            template: None,
            data: vec![("order".into(), "42".into())],
        },
        category: Category::Transactional,
        metadata: vec![],
        options: vec![],
        idempotency_key: "dlv_1".into(),
    }
}

pub fn conn() -> Connection {
    Connection {
        id: "conn_1".into(),
        name: "push".into(),
        webhook_url: "https://gw.example.test/v1/webhooks/conn_1".into(),
    }
}

pub fn fcm_host() -> MockHost {
    MockHost::new()
        .config("fcm_project_id", "proj-1")
        .config("fcm_client_email", "sender@proj-1.iam.gserviceaccount.com")
        .config("fcm_token_uri", TOKEN_URI)
        .config("fcm_base_url", FCM_BASE)
        .secret("fcm_private_key", RSA_PEM)
}

pub fn apns_host() -> MockHost {
    MockHost::new()
        .config("apns_team_id", "TEAM123456")
        .config("apns_key_id", "KEY1234567")
        .config("apns_topic", "com.example.app")
        .config("apns_base_url", APNS_BASE)
        .secret("apns_private_key", EC_PEM)
}

pub fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).expect("JSON body")
}

pub fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A JWT split into header, claims, signature and the signed input.
pub struct Jwt {
    pub header: Value,
    pub claims: Value,
    pub sig: Vec<u8>,
    pub input: String,
}

pub fn decode_jwt(jwt: &str) -> Jwt {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "{jwt}");
    assert!(!jwt.contains('='), "padding in {jwt}");
    let part = |i: usize| URL_SAFE_NO_PAD.decode(parts[i]).expect("base64url");
    Jwt {
        header: json(&part(0)),
        claims: json(&part(1)),
        sig: part(2),
        input: format!("{}.{}", parts[0], parts[1]),
    }
}

pub fn rs256_verifies(input: &str, sig: &[u8]) -> bool {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::Verifier;
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(RSA_PEM).unwrap();
    let vk = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key.to_public_key());
    let Ok(sig) = rsa::pkcs1v15::Signature::try_from(sig) else {
        return false;
    };
    vk.verify(input.as_bytes(), &sig).is_ok()
}

pub fn es256_verifies(input: &str, sig: &[u8]) -> bool {
    use p256::ecdsa::signature::Verifier;
    use p256::pkcs8::DecodePrivateKey;
    let key = p256::ecdsa::SigningKey::from_pkcs8_pem(EC_PEM).unwrap();
    let Ok(sig) = p256::ecdsa::Signature::from_slice(sig) else {
        return false;
    };
    key.verifying_key().verify(input.as_bytes(), &sig).is_ok()
}

pub fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
    Response::new(status, headers, body)
}

#[test]
fn manifest() {
    use crate::PushPlugin;
    let m = PushPlugin::describe();
    assert_eq!(
        (m.channel.as_str(), m.name.as_str()),
        ("push", "fcm-apns-push")
    );
    assert_eq!(m.capabilities, ["device-receipts", "seen"]);
    assert_eq!(
        m.outbound_hosts,
        [
            "https://oauth2.googleapis.com",
            "https://fcm.googleapis.com",
            "https://api.push.apple.com"
        ]
    );
    let secret: Vec<_> = m
        .config_keys
        .iter()
        .filter(|k| k.secret)
        .map(|k| k.name.as_str())
        .collect();
    assert_eq!(secret, ["fcm_private_key", "apns_private_key"]);
    assert!(m.config_keys.iter().all(|k| !k.required));
    assert_eq!(m.limits.max_media, 1);
    let rules = &m.limits.media_rules;
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].kind, MediaKind::Image);
    assert_eq!(rules[0].max_bytes, 1024 * 1024);
    assert_eq!(rules[0].extensions, media::image_rules(1)[0].extensions);
    assert_eq!(
        (
            m.limits.max_buttons,
            m.limits.max_carousel_elements,
            m.limits.max_quick_replies
        ),
        (0, 0, 0)
    );
}

#[test]
fn webhook_is_not_a_thing_for_push() {
    use crate::PushPlugin;
    let req = WebhookRequest {
        method: "POST".into(),
        url: "https://gw/x".into(),
        headers: vec![],
        body: vec![],
    };
    assert!(matches!(
        PushPlugin::handle_webhook(req, conn()),
        Err(WebhookError::BadRequest(_))
    ));
}
