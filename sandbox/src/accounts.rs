//! The sandbox accounts a gateway connects to: for each bundled plugin, the connection
//! settings that make it talk to its simulator, and what each simulator must be told about
//! the gateway (account-level callback URLs).
//!
//! This table lives with the simulators because it is their knowledge: which credentials
//! they accept and where their account settings go. The host asks it by plugin name and
//! never names a plugin itself.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// The secret name under which the push plugin's connection keeps the device-receipt key.
/// Mirrors the host's `receipts::RECEIPT_KEY_SECRET`; the e2e suite proves the two agree.
pub const PUSH_RECEIPT_KEY_SECRET: &str = "receipt_key";

/// One sandbox connection of a plugin, pointed at its simulator.
#[derive(Debug, Clone)]
pub struct SimConnection {
    pub id: String,
    pub name: String,
    pub config: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
}

/// Sandbox connections have stable ids, so webhook URLs survive restarts.
pub fn connection_id(plugin: &str) -> String {
    format!("con_sandbox_{}", plugin.replace('-', "_"))
}

/// The first page keeps the plain id, so the channel's default connection is stable.
pub fn messenger_connection_id(page: usize) -> String {
    let base = connection_id("facebook-messenger");
    if page == 0 {
        base
    } else {
        format!("{base}_{}", page + 1)
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The connections that make a plugin talk to its simulator: one per plugin, and one per
/// sandbox page for Messenger (contact sync and PSIDs are per page). The bundled plugins keep
/// their providers' real base URLs: sandbox mode resolves those host names to the
/// simulators' TLS listener ([`crate::PROVIDER_HOSTS`]), so the manifests' allow-lists apply
/// unchanged. A plugin the table does not know (one from `--plugins-dir`) has no real
/// provider here: its connection points at the simulators' stub provider (`base_url`, plain
/// HTTP) with no credentials, enough to exercise it.
pub fn connections(plugin: &str, base_url: &str) -> Vec<SimConnection> {
    let one = |config: &[(&str, &str)], secrets: &[(&str, &str)]| {
        vec![SimConnection {
            id: connection_id(plugin),
            name: format!("{plugin} (sandbox)"),
            config: map(config),
            secrets: map(secrets),
        }]
    };
    match plugin {
        "twilio-sms" => one(
            &[
                ("account_sid", crate::SANDBOX_ACCOUNT_SID),
                ("from", crate::SANDBOX_FROM_NUMBER),
            ],
            &[("auth_token", crate::SANDBOX_AUTH_TOKEN)],
        ),
        "sendgrid-email" => one(
            &[
                ("from_email", crate::SANDBOX_EMAIL_FROM),
                ("from_name", "Switchboard Sandbox"),
                ("webhook_public_key", &crate::sendgrid_webhook_public_key()),
                // The simulated activity feed shows a send from its first event, which comes
                // after `processed_delay` (20 ms by default): a second covers it.
                ("activity_lag_ms", "1000"),
            ],
            &[("api_key", crate::SANDBOX_SENDGRID_API_KEY)],
        ),
        "facebook-messenger" => crate::SANDBOX_MESSENGER_PAGES
            .iter()
            .enumerate()
            .map(|(i, page)| SimConnection {
                id: messenger_connection_id(i),
                name: format!("{} (sandbox page)", page.name),
                config: map(&[("page_id", page.id)]),
                secrets: map(&[
                    ("page_access_token", page.access_token),
                    ("app_secret", crate::SANDBOX_MESSENGER_APP_SECRET),
                    ("verify_token", crate::SANDBOX_MESSENGER_VERIFY_TOKEN),
                ]),
            })
            .collect(),
        "fcm-apns-push" => one(
            &[
                ("fcm_project_id", crate::SANDBOX_FCM_PROJECT_ID),
                ("fcm_client_email", crate::SANDBOX_FCM_CLIENT_EMAIL),
                ("apns_team_id", crate::SANDBOX_APNS_TEAM_ID),
                ("apns_key_id", crate::SANDBOX_APNS_KEY_ID),
                ("apns_topic", crate::SANDBOX_APNS_TOPIC),
            ],
            &[
                ("fcm_private_key", crate::SANDBOX_FCM_PRIVATE_KEY_PEM),
                ("apns_private_key", crate::SANDBOX_APNS_PRIVATE_KEY_PEM),
                (PUSH_RECEIPT_KEY_SECRET, crate::SANDBOX_PUSH_RECEIPT_KEY),
            ],
        ),
        "solapi-alimtalk" => one(
            &[
                ("api_key", crate::SANDBOX_ALIMTALK_API_KEY),
                ("pf_id", crate::SANDBOX_ALIMTALK_PF_ID),
                ("sender", crate::SANDBOX_ALIMTALK_SENDER),
            ],
            &[("api_secret", crate::SANDBOX_ALIMTALK_API_SECRET)],
        ),
        // The generic webhook posts to the simulators' recording receiver.
        "generic-webhook" => vec![SimConnection {
            id: connection_id(plugin),
            name: format!("{plugin} (sandbox)"),
            config: map(&[("url", &format!("{base_url}/webhook/receive"))]),
            secrets: map(&[("signing_secret", crate::SANDBOX_WEBHOOK_SIGNING_SECRET)]),
        }],
        _ => one(&[("base_url", base_url)], &[]),
    }
}

/// Account-level settings the simulators need about the gateway, gathered over every sandbox
/// connection: `settings[channel]` is the body for that simulator's config route
/// ([`config_request`]).
#[derive(Debug, Default)]
pub struct SimulatorSettings(Map<String, Value>);

impl SimulatorSettings {
    /// Record what the simulator of `conn`'s plugin must know: where the gateway takes this
    /// connection's callbacks (`webhook_url`) and device receipts (`public_url`).
    pub fn add(&mut self, plugin: &str, conn: &SimConnection, public_url: &str, webhook_url: &str) {
        match plugin {
            "sendgrid-email" => {
                self.0
                    .insert("email".into(), json!({ "event_webhook_url": webhook_url }));
            }
            "facebook-messenger" => {
                let entry = self
                    .0
                    .entry("messenger")
                    .or_insert_with(|| json!({ "webhooks": {} }));
                if let (Some(page), Some(hooks)) = (
                    conn.config.get("page_id"),
                    entry.get_mut("webhooks").and_then(Value::as_object_mut),
                ) {
                    hooks.insert(page.clone(), Value::String(webhook_url.to_string()));
                }
            }
            "fcm-apns-push" => {
                self.0.insert(
                    "push".into(),
                    json!({
                        "receipt_url": format!("{}/v1/receipts", public_url.trim_end_matches('/')),
                        "receipt_key": crate::SANDBOX_PUSH_RECEIPT_KEY,
                        "connection_id": conn.id,
                    }),
                );
            }
            "solapi-alimtalk" => {
                self.0
                    .insert("alimtalk".into(), json!({ "webhook_url": webhook_url }));
            }
            _ => {}
        }
    }

    /// `(url, body)` of each `PUT` that hands the settings to the simulators at `base_url`.
    pub fn requests(self, base_url: &str) -> Vec<(String, Value)> {
        self.0
            .into_iter()
            .map(|(channel, body)| config_request(base_url, &channel, body))
            .collect()
    }
}

/// The email simulator's settings live in the shared config document; the others have a
/// config route each.
fn config_request(base_url: &str, channel: &str, body: Value) -> (String, Value) {
    if channel == "email" {
        (
            format!("{base_url}/_sandbox/config"),
            json!({ "email": body }),
        )
    } else {
        (format!("{base_url}/_sandbox/{channel}/config"), body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_plugin_has_credentials_and_unknown_ones_get_a_bare_connection() {
        for plugin in [
            "twilio-sms",
            "sendgrid-email",
            "fcm-apns-push",
            "solapi-alimtalk",
        ] {
            let c = connections(plugin, "http://127.0.0.1:9");
            assert_eq!(c.len(), 1, "{plugin}");
            assert!(!c[0].secrets.is_empty(), "{plugin} has credentials");
            assert_eq!(c[0].id, connection_id(plugin));
            assert!(
                !c[0].config.values().any(|v| v.contains("127.0.0.1")),
                "{plugin} keeps its provider's real base URL"
            );
        }
        let pages = connections("facebook-messenger", "http://127.0.0.1:9");
        assert_eq!(pages.len(), crate::SANDBOX_MESSENGER_PAGES.len());
        assert_eq!(pages[1].id, messenger_connection_id(1));
        let other = connections("someone-elses", "http://127.0.0.1:9");
        assert_eq!(other[0].config["base_url"], "http://127.0.0.1:9");
        assert!(other[0].secrets.is_empty());
    }

    #[test]
    fn messenger_pages_share_one_config_document() {
        let mut s = SimulatorSettings::default();
        for conn in connections("facebook-messenger", "http://sim") {
            s.add(
                "facebook-messenger",
                &conn,
                "http://gw",
                &format!("http://gw/{}", conn.id),
            );
        }
        let requests = s.requests("http://sim");
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].0, "http://sim/_sandbox/messenger/config");
        let hooks = requests[0].1["webhooks"].as_object().unwrap();
        assert_eq!(hooks.len(), crate::SANDBOX_MESSENGER_PAGES.len());
    }
}
