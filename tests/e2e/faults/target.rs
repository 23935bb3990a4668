//! One row of the matrix: a channel's message, how its simulator matches it in a fault rule,
//! what a clean send ends at, and how its simulator counts what it accepted.

use serde_json::{Value, json};
use switchboard_sandbox::SANDBOX_MESSENGER_PAGES;

use crate::support::Gateway;

/// How many sends a simulator took in, for the exactly-once checks.
#[derive(Debug, PartialEq, Eq)]
pub struct Accepted {
    /// Messages the provider created.
    pub unique: u64,
    /// Repeats the provider recognised and did not send again: none of the simulated
    /// providers has a send-side idempotency key, so always 0.
    pub duplicates: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Sms,
    Email,
    Fcm,
    Apns,
    AlimTalk,
    Messenger,
}

pub struct Target {
    pub channel: Channel,
    /// The simulator's fault channel (`push` for FCM and APNs).
    pub fault_channel: &'static str,
    /// The value the simulator's `to` match key sees for this message.
    pub to: String,
    pub body: Value,
    /// The provider can be asked whether it took a send whose answer was lost (`find-sent`:
    /// Twilio's message list, SendGrid's Email Activity, Solapi's message list). Graph and
    /// push providers cannot: the workspace's `ambiguous_sends` decides.
    pub reconciles: bool,
    /// Where a clean send ends.
    pub ends: &'static str,
    /// Callback POSTs the provider makes for a clean send.
    pub callbacks: u64,
}

impl Target {
    /// `n` keeps recipients apart when one test sends more than one message.
    pub fn new(channel: Channel, n: u32) -> Target {
        match channel {
            Channel::Sms => {
                let phone = format!("+1415555{:04}", 100 + n);
                Target {
                    channel,
                    fault_channel: "sms",
                    to: phone.clone(),
                    body: json!({"channel": "sms", "to": {"phone": phone}, "content": {"text": "fault matrix"}}),
                    reconciles: true,
                    ends: "delivered",
                    // sent, delivered
                    callbacks: 2,
                }
            }
            Channel::Email => {
                let email = format!("fault{n}@example.com");
                Target {
                    channel,
                    fault_channel: "email",
                    to: email.clone(),
                    body: json!({"channel": "email", "to": {"email": email}, "content": {"subject": "Fault matrix", "text": "fault matrix"}}),
                    reconciles: true,
                    ends: "seen",
                    // processed, delivered, open
                    callbacks: 3,
                }
            }
            Channel::Fcm | Channel::Apns => {
                let (platform, prefix) = if channel == Channel::Fcm {
                    ("android", "fcm")
                } else {
                    ("ios", "apns")
                };
                let token = format!("{prefix}-fault-token-{n}");
                Target {
                    channel,
                    fault_channel: "push",
                    to: token.clone(),
                    body: json!({"channel": "push", "to": {"push_token": token, "push_platform": platform},
                                 "content": {"subject": "Fault matrix", "text": "fault matrix"}}),
                    reconciles: false,
                    ends: "seen",
                    // the device's received and opened receipts
                    callbacks: 2,
                }
            }
            Channel::AlimTalk => {
                let local = format!("010{:08}", 12_340_000 + n);
                Target {
                    channel,
                    fault_channel: "alimtalk",
                    to: local.clone(),
                    body: json!({"channel": "alimtalk", "to": {"phone": format!("+82{}", &local[1..])},
                                 "content": {"template": {"id": "KA01TP_SB_ORDER_SHIPPED",
                                     "variables": {"#{name}": "김지수", "#{order}": "A-1042"}}}}),
                    reconciles: true,
                    ends: "delivered",
                    // 3000 handed to Kakao, 4000 received
                    callbacks: 2,
                }
            }
            Channel::Messenger => {
                // A PSID is digits only.
                let psid = format!("7100000000{n:04}");
                Target {
                    channel,
                    fault_channel: "messenger",
                    to: psid.clone(),
                    body: json!({"channel": "messenger", "to": {"psid": psid}, "content": {"text": "fault matrix"}}),
                    reconciles: false,
                    ends: "seen",
                    // the echo, then the delivery and read watermarks
                    callbacks: 3,
                }
            }
        }
    }

    /// Whatever the channel needs before a send can succeed: Messenger only sends inside the
    /// window a user's own message opens.
    pub async fn prepare(&self, gw: &Gateway) {
        if self.channel != Channel::Messenger {
            return;
        }
        let (before, _) = self.callbacks(gw).await;
        gw.sim_post(
            "/_sandbox/messenger/inbound",
            json!({"page_id": SANDBOX_MESSENGER_PAGES[0].id, "psid": self.to, "name": "Ada", "text": "hi"}),
        )
        .await;
        // The window is open once the gateway has recorded the inbound message, and the
        // simulator has counted that webhook (so callback counts taken next are stable).
        crate::support::wait_until(gw, std::time::Duration::from_secs(20), async || {
            self.callbacks(gw).await.0 > before
        })
        .await;
        crate::support::wait_until(gw, std::time::Duration::from_secs(20), async || {
            let (_, page) = gw.get("/v1/contacts?limit=200").await;
            page["data"].as_array().unwrap().iter().any(|c| {
                c["inbound_messages"].as_u64() >= Some(1)
                    && c["addresses"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|a| a["address"] == self.to.as_str())
            })
        })
        .await;
    }

    /// Adds a fault rule for this target's recipient.
    pub async fn fault(&self, gw: &Gateway, times: Option<u32>, action: Value) {
        let mut rule =
            json!({"channel": self.fault_channel, "match": {"to": self.to}, "action": action});
        if let Some(n) = times {
            rule["times"] = json!(n);
        }
        gw.sim_post("/_sandbox/faults", rule).await;
    }

    pub async fn send(&self, gw: &Gateway) -> String {
        gw.send(&self.body).await
    }

    /// What the simulator accepted, by its own counters.
    pub async fn accepted(&self, gw: &Gateway) -> Accepted {
        let s = match self.channel {
            Channel::Sms => gw.sim_get("/_sandbox/stats").await["sms"].clone(),
            Channel::Email => gw.sim_get("/_sandbox/stats").await["email"].clone(),
            Channel::AlimTalk => gw.sim_get("/_sandbox/alimtalk/stats").await,
            Channel::Messenger => gw.sim_get("/_sandbox/messenger/stats").await,
            Channel::Fcm | Channel::Apns => {
                let s = gw.sim_get("/_sandbox/push/stats").await;
                return Accepted {
                    unique: s["accepted"].as_u64().unwrap(),
                    duplicates: 0,
                };
            }
        };
        Accepted {
            unique: s["unique_accepted"].as_u64().unwrap(),
            duplicates: s["duplicates"].as_u64().unwrap(),
        }
    }
}

impl Target {
    /// Callback POSTs made so far for this channel: `(answered 2xx, refused or failed)`.
    pub async fn callbacks(&self, gw: &Gateway) -> (u64, u64) {
        let (s, ok, failed) = match self.channel {
            Channel::Sms => (
                gw.sim_get("/_sandbox/stats").await["sms"].clone(),
                "callbacks_sent",
                "callbacks_failed",
            ),
            Channel::Email => (
                gw.sim_get("/_sandbox/stats").await["email"].clone(),
                "callbacks_sent",
                "callbacks_failed",
            ),
            Channel::AlimTalk => (
                gw.sim_get("/_sandbox/alimtalk/stats").await,
                "callbacks_sent",
                "callbacks_failed",
            ),
            Channel::Messenger => (
                gw.sim_get("/_sandbox/messenger/stats").await,
                "callbacks_sent",
                "callbacks_failed",
            ),
            Channel::Fcm | Channel::Apns => (
                gw.sim_get("/_sandbox/push/stats").await,
                "receipts_sent",
                "receipts_failed",
            ),
        };
        (s[ok].as_u64().unwrap(), s[failed].as_u64().unwrap())
    }

    /// Waits until `n` more callbacks than `base` were posted and answered, and asserts the
    /// gateway refused none: a repeated or early report is accepted and ignored, not an error
    /// the provider would retry.
    pub async fn wait_callbacks(&self, gw: &Gateway, base: (u64, u64), n: u64) {
        crate::support::wait_until(gw, std::time::Duration::from_secs(20), async || {
            let (ok, failed) = self.callbacks(gw).await;
            ok + failed >= base.0 + base.1 + n
        })
        .await;
        let (ok, failed) = self.callbacks(gw).await;
        assert_eq!(failed, base.1, "the gateway refused a callback");
        assert_eq!(ok, base.0 + n, "more callbacks than expected");
    }
}
