//! The sandbox's fixed push credentials: an FCM service account (RSA-2048) and an APNs auth
//! key (EC P-256). Generated once with openssl for the sandbox only; never valid anywhere real.

/// Project of the simulated Firebase app.
pub const SANDBOX_FCM_PROJECT_ID: &str = "switchboard-sandbox";
/// `client_email` of the sandbox service account (the JWT `iss`).
pub const SANDBOX_FCM_CLIENT_EMAIL: &str = "fcm-sender@switchboard-sandbox.iam.gserviceaccount.com";
/// The service account's `private_key` (PKCS#8 PEM), the connection's `fcm_private_key`.
pub const SANDBOX_FCM_PRIVATE_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDdKaDmqOgKWmva
jU8uyehD4So+Iwj7tWGueoiOXekYQK0ILKuC/DJL/+9vsLPx38KUToV5t7xyyJZL
QVLDmuBfG+AB9SG0efJBndwzUCliTe21oYN0XsPeNM5uvfwUAjkaIl30gcVjGYC0
JroNrzdZOO8Q7ubsWcYOYA+vA9oJmIY8SsbJUi0mVnCP0NWZeG0VTpothUfrmp9w
cMQvyywRNq+bQTSybrI1pQc8yNJW3a+M6hg9JzoTylSq6L6TdIHfwTFmYcXPbSLt
nL9UMh11e/2wPqgesHNt5LtT5pkO/VxHBu0A9y+oxat6edrpoT6B/PBG7RgEOQSp
2bcVgNojAgMBAAECggEAD10QSQsRbiwF3ggpqK3CAs/Q0sGK+Da2HcbJVwp9t3+W
sECvfB6aPTP++sVNsCRugfBKeWrNc96CAkxRZuE1a6X7aRIRpgCVVwA+XG+Eex3A
Fk6tW8Im3SLR9wN0+swvZ09dM4US+eVlpB4kl/AaFN/4S4wtDTIsqLGnpULL52qd
8279s58t6qaGE0HDN7Zp6k5utbMoW6dpr4rB9//S/B/pWZiButVem956QgB1xbtk
ERA4cmrwwhk8N7FXOZlHcrATJeRYMPkw+2jnDj827FXMdxFYjVBUrwWR2huImVDq
aeOp/kBBeQc3Kuxdk8LiSK67WEF5yXZMFBlQ+j2AEQKBgQD6mVFpFDevAI4utPQw
2VxyHQjhE5VHQHw+PBkZ63ntSp18JfBk4hQnGMXHheU3c94QKisHwvC0s3JdS7GD
CQ6X1F3E3kjAYSFtJU2P0ukCb8Q97CzKBEBYA5a78tlnJcY6ILhvwWKA9RZxWq41
2eAMVIy2DR0ijcjWqo4DKXD4twKBgQDh7eU/HvSLUK4psCK3yTOxdFXcQcGgsW3t
WlRbM4jlVY/IpcHWCU9UH9jxo54nalY6tQO7HuQiDUW60MB1hJjDUnQT1ryl6hNe
ja+TkZPKCbA05vGJm4gZWjVbWnNrl+7V98fXhbSP4+RMQpwe0BNT8Loc98BTA/KW
AH3poPLF9QKBgFnUA36rJJqylETh0HaCM8Uj6z7jCiuUTfTxDf5gjkAk8vbBkr5W
2+p30s2GjXenLP6WXv5VPntHp8MRkvvpjzWVhlc/ZsyvBJBfQsI/VA7viWS4+AUi
KP5jqvCMSKnUvI2xlOtaYrjfIcBYRQJAqzNAS4Amiz8Lm+Z3FJjFjh1ZAoGBAL5g
cCRYOUiLm7aVLSwg5uZJWXBYGIkH+dFfpGWVb22QQ7CXvFZXUflZPL2hWcts12xw
y8wJo8Lt3Cwna4WbTf6IpDdzY1OLgvbR/Xkj2p0MvOZXFIEYBf8W/I8WENxBEohK
WqNJj3UQW3fHSTbNrvu0hZ+TRQSu9uNfVrpfXTNhAoGBAOoiSdvReEOwRIJLuT9L
mWQfIHPFoMx756dH+rYrAzf08r/tQ/HAxgaqkLdLFMnQmZmsVVhnH640p8PdFEHo
ZYKrc/ks1mDwIyw9ENgtDh1WNuqR47qebEfg3kWRaFMxT2h5S5q+0ciGGaZdXkTw
U5AVBVyVOhNJ/w/eOS3Ve6Wn
-----END PRIVATE KEY-----\n";
/// Public half of [`SANDBOX_FCM_PRIVATE_KEY_PEM`], which the token endpoint verifies with.
pub(crate) const SANDBOX_FCM_PUBLIC_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA3Smg5qjoClpr2o1PLsno
Q+EqPiMI+7VhrnqIjl3pGECtCCyrgvwyS//vb7Cz8d/ClE6Febe8csiWS0FSw5rg
XxvgAfUhtHnyQZ3cM1ApYk3ttaGDdF7D3jTObr38FAI5GiJd9IHFYxmAtCa6Da83
WTjvEO7m7FnGDmAPrwPaCZiGPErGyVItJlZwj9DVmXhtFU6aLYVH65qfcHDEL8ss
ETavm0E0sm6yNaUHPMjSVt2vjOoYPSc6E8pUqui+k3SB38ExZmHFz20i7Zy/VDId
dXv9sD6oHrBzbeS7U+aZDv1cRwbtAPcvqMWrenna6aE+gfzwRu0YBDkEqdm3FYDa
IwIDAQAB
-----END PUBLIC KEY-----\n";

/// Apple developer team id (the provider JWT `iss`), 10 characters like Apple's.
pub const SANDBOX_APNS_TEAM_ID: &str = "SBX7TEAM42";
/// Key id of the APNs auth key (the provider JWT `kid`), 10 characters like Apple's.
pub const SANDBOX_APNS_KEY_ID: &str = "SBX9KEY001";
/// The bundle id every sandbox device token is registered for (`apns-topic`).
pub const SANDBOX_APNS_TOPIC: &str = "test.switchboard.sandbox";
/// The APNs auth key (a `.p8`: PKCS#8 EC P-256 PEM), the connection's `apns_private_key`.
pub const SANDBOX_APNS_PRIVATE_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgpo21PJLIU581KYvn
bsdti/RsmRbGGUdbYjNl7MXyZeqhRANCAAQcpRS4ZwH9pevkHkWwiezbC8pZ0z2Y
rFzph03ZnJRILJrbhaHAr8laJJqoVyuYkROufFh9R4X89vSy+gGhU8sq
-----END PRIVATE KEY-----\n";
/// Public half of [`SANDBOX_APNS_PRIVATE_KEY_PEM`].
pub(crate) const SANDBOX_APNS_PUBLIC_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEHKUUuGcB/aXr5B5FsIns2wvKWdM9
mKxc6YdN2ZyUSCya24WhwK/JWiSaqFcrmJETrnxYfUeF/Pb0svoBoVPLKg==
-----END PUBLIC KEY-----\n";

/// Default key of the simulated device's receipt signatures (HMAC-SHA256), until
/// `PUT /_sandbox/push/config` sets another.
pub const SANDBOX_PUSH_RECEIPT_KEY: &str = "sbx_push_receipt_5a4db0c0ffee0000000000000000";
