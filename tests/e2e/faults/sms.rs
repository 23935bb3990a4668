//! SMS (Twilio): the matrix row, and a permanent error that must not be retried.

use std::time::Duration;

use crate::support::Gateway;

row!(super::target::Channel::Sms);

#[tokio::test]
async fn invalid_number_fails_once_and_is_not_retried() {
    let gw = Gateway::start("faults-21211", &[]);
    // Twilio's magic number for "invalid To".
    let id = gw.send_sms("+15005550001", "nobody home").await;
    let msg = gw.wait_for(&id, "failed", Duration::from_secs(20)).await;
    super::history::assert_forward_only(&msg);
    let d = &msg["deliveries"][0];
    assert_eq!(d["attempts"].as_array().unwrap().len(), 1, "{msg:#}");
    assert_eq!(d["attempts"][0]["outcome"], "failed");
    assert_eq!(d["failure"]["reason"], "recipient_invalid");
    assert_eq!(d["failure"]["provider_code"], "21211");
    assert_eq!(d["failure"]["retryable"], false);
    assert_eq!(d["failure"]["resend"]["allowed"], false);
    assert_eq!(d["failure"]["resend"]["when"], "never");
    // Give a wrong retry time to show itself, then check nothing more was sent.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats = gw.sim_get("/_sandbox/stats").await;
    assert_eq!(stats["sms"]["requests"], 1, "{stats}");
}
