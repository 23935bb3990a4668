//! Lost receipts: a status callback that never arrives is recovered by asking the provider,
//! and a failure found that way settles the wallet like a callback would.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::Gateway;

fn timeline_details(msg: &Value) -> Vec<String> {
    msg["deliveries"][0]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["detail"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_delivery_whose_callbacks_were_lost_is_looked_up_at_the_provider() {
    let gw = Gateway::start("lookup", &["--status-lookup-after-ms", "300"]);
    // Twilio takes both texts but posts no callback for either; one of them fails at the
    // carrier (30005: unknown handset).
    let (ok, bad) = ("+14155550171", "+14155550172");
    gw.sim_post(
        "/_sandbox/faults",
        json!({"channel": "sms", "match": {"to": ok}, "action": {"drop_callbacks": true}}),
    )
    .await;
    gw.sim_post(
        "/_sandbox/faults",
        json!({"channel": "sms", "match": {"to": bad}, "action": {"drop_callbacks": true, "callback_status": "undelivered", "callback_error_code": 30005}}),
    )
    .await;
    let delivered = gw.send_sms(ok, "receipt lost").await;
    let failed = gw.send_sms(bad, "receipt lost too").await;

    let msg = gw
        .wait_for(&delivered, "delivered", Duration::from_secs(20))
        .await;
    assert!(
        timeline_details(&msg).contains(&"provider status delivered (looked up)".to_string()),
        "{msg:#}"
    );
    assert_eq!(msg["deliveries"][0]["cost"]["state"], "captured", "{msg:#}");

    let msg = gw
        .wait_for(&failed, "failed", Duration::from_secs(20))
        .await;
    let delivery = &msg["deliveries"][0];
    assert_eq!(
        delivery["failure"]["reason"], "recipient_invalid",
        "{msg:#}"
    );
    assert_eq!(delivery["failure"]["provider_code"], "30005", "{msg:#}");
    // Failed after the provider took it: the capture is refunded, as for a callback.
    assert_eq!(delivery["cost"]["state"], "refunded", "{msg:#}");

    let stats = gw.sim_get("/_sandbox/stats").await;
    assert_eq!(
        stats["sms"]["callbacks_sent"], 0,
        "no callback reached the gateway: {stats}"
    );
}
