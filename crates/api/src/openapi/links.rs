//! OpenAPI links: which answer yields the identifier another operation takes. A client
//! generator or a stateful tester reads them to chain `POST /v1/webhook-endpoints` into
//! `GET /v1/webhook-endpoints/{id}` without being told by hand.
//!
//! One table, [`LINKS`], checked by a test against the document itself: every source and
//! target operation exists, the parameter is one the target takes, and the field is one the
//! source's answer has. A renamed operation or field fails that test instead of leaving a
//! link to nowhere.

use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::{OpenApi, RefOr};

/// `(from operation, its status, to operation, the target's path parameter, the JSON pointer
/// into the source's body that gives it)`.
pub(crate) const LINKS: &[(&str, &str, &str, &str, &str)] = &[
    // A message, once accepted.
    ("send_message", "202", "get_message", "id", "/id"),
    ("send_message", "202", "resend_message", "id", "/id"),
    ("send_message", "202", "get_message_cost", "id", "/id"),
    ("list_messages", "200", "get_message", "id", "/data/0/id"),
    // Contacts, and the conversation each one has.
    ("create_contact", "201", "get_contact", "id", "/id"),
    (
        "create_contact",
        "201",
        "list_contact_messages",
        "id",
        "/id",
    ),
    (
        "create_contact",
        "201",
        "get_conversation",
        "contact",
        "/id",
    ),
    (
        "create_contact",
        "201",
        "post_conversation_message",
        "contact",
        "/id",
    ),
    (
        "create_contact",
        "201",
        "mark_conversation_seen",
        "contact",
        "/id",
    ),
    ("list_contacts", "200", "get_contact", "id", "/data/0/id"),
    // Connections.
    ("create_connection", "201", "get_connection", "id", "/id"),
    ("create_connection", "201", "update_connection", "id", "/id"),
    ("create_connection", "201", "delete_connection", "id", "/id"),
    ("create_connection", "201", "list_blocked_urls", "id", "/id"),
    ("create_connection", "201", "block_url", "id", "/id"),
    ("create_connection", "201", "unblock_url", "id", "/id"),
    (
        "create_connection",
        "201",
        "resend_connection_failures",
        "id",
        "/id",
    ),
    ("create_connection", "201", "sync_contacts", "id", "/id"),
    ("list_connections", "200", "get_connection", "id", "/0/id"),
    // Sender domains.
    (
        "create_sender_domain",
        "201",
        "get_sender_domain",
        "id",
        "/id",
    ),
    (
        "create_sender_domain",
        "201",
        "validate_sender_domain",
        "id",
        "/id",
    ),
    (
        "create_sender_domain",
        "201",
        "update_sender_domain",
        "id",
        "/id",
    ),
    (
        "create_sender_domain",
        "201",
        "delete_sender_domain",
        "id",
        "/id",
    ),
    (
        "list_sender_domains",
        "200",
        "get_sender_domain",
        "id",
        "/0/id",
    ),
    // Prices: one added to take effect later can still be taken back.
    ("add_price", "201", "delete_price", "id", "/id"),
    // Webhook endpoints.
    (
        "create_webhook_endpoint",
        "201",
        "get_webhook_endpoint",
        "id",
        "/id",
    ),
    (
        "create_webhook_endpoint",
        "201",
        "update_webhook_endpoint",
        "id",
        "/id",
    ),
    (
        "create_webhook_endpoint",
        "201",
        "delete_webhook_endpoint",
        "id",
        "/id",
    ),
    (
        "create_webhook_endpoint",
        "201",
        "rotate_webhook_secret",
        "id",
        "/id",
    ),
    (
        "create_webhook_endpoint",
        "201",
        "list_webhook_deliveries",
        "id",
        "/id",
    ),
    (
        "create_webhook_endpoint",
        "201",
        "replay_webhook_events",
        "id",
        "/id",
    ),
    (
        "update_webhook_endpoint",
        "200",
        "list_webhook_deliveries",
        "id",
        "/id",
    ),
    (
        "update_webhook_endpoint",
        "200",
        "rotate_webhook_secret",
        "id",
        "/id",
    ),
    // Policies are named by their name.
    ("create_policy", "201", "get_policy", "name", "/name"),
    ("create_policy", "201", "update_policy", "name", "/name"),
    ("create_policy", "201", "delete_policy", "name", "/name"),
    // Keys.
    ("create_key", "201", "revoke_key", "id", "/id"),
    // Automations.
    ("create_automation", "201", "get_automation", "id", "/id"),
    (
        "create_automation",
        "201",
        "replace_automation",
        "id",
        "/id",
    ),
    ("create_automation", "201", "delete_automation", "id", "/id"),
    (
        "list_automations",
        "200",
        "get_automation",
        "id",
        "/data/0/id",
    ),
];

pub struct Links;

impl utoipa::Modify for Links {
    fn modify(&self, openapi: &mut OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for op in super::operations_mut(item) {
                let Some(id) = op.operation_id.clone() else {
                    continue;
                };
                for (_, status, target, param, pointer) in
                    LINKS.iter().filter(|(from, ..)| *from == id)
                {
                    let Some(RefOr::T(response)) = op.responses.responses.get_mut(*status) else {
                        continue;
                    };
                    let link = LinkBuilder::new()
                        .operation_id(*target)
                        .parameter(*param, format!("$response.body#{pointer}"))
                        .build();
                    // Named for where it leads (`get_message`): each target appears once per
                    // source, so the name is unique in its answer.
                    response.links.insert(target.to_string(), RefOr::T(link));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::LINKS;

    fn document() -> Value {
        serde_json::from_str(&super::super::document()).expect("the document is JSON")
    }

    /// `(path, method, operation)` for each operation id.
    fn operation<'a>(doc: &'a Value, id: &str) -> &'a Value {
        doc["paths"]
            .as_object()
            .expect("paths")
            .values()
            .flat_map(|item| item.as_object().expect("a path item").values())
            .find(|op| op["operationId"] == id)
            .unwrap_or_else(|| panic!("no operation `{id}`"))
    }

    /// The schema at `pointer` inside `schema`, following `$ref`s, `allOf` and arrays.
    fn resolve<'a>(doc: &'a Value, mut schema: &'a Value, pointer: &str) -> Option<&'a Value> {
        let deref = |s: &'a Value| -> &'a Value {
            match s["$ref"].as_str() {
                Some(r) => doc
                    .pointer(r.trim_start_matches('#'))
                    .unwrap_or_else(|| panic!("dangling $ref {r}")),
                None => s,
            }
        };
        for part in pointer.split('/').skip(1) {
            schema = deref(schema);
            schema = if part.parse::<usize>().is_ok() {
                &schema["items"]
            } else if let Some(p) = schema["properties"].get(part) {
                p
            } else {
                schema["allOf"]
                    .as_array()?
                    .iter()
                    .find_map(|s| deref(s)["properties"].get(part))?
            };
        }
        Some(deref(schema))
    }

    #[test]
    fn every_link_leads_from_a_field_to_a_parameter() {
        let doc = document();
        for (from, status, to, param, pointer) in LINKS {
            let source = operation(&doc, from);
            let answer = &source["responses"][status];
            assert_eq!(
                answer["links"][to]["operationId"], *to,
                "{from} {status} has no link to {to}"
            );
            let body = &answer["content"]["application/json"]["schema"];
            let field = resolve(&doc, body, pointer)
                .unwrap_or_else(|| panic!("{from} {status} has no field at {pointer}"));
            let target = operation(&doc, to);
            let parameter = target["parameters"]
                .as_array()
                .and_then(|ps| ps.iter().find(|p| p["name"] == *param && p["in"] == "path"))
                .unwrap_or_else(|| panic!("{to} takes no path parameter `{param}`"));
            assert_eq!(
                field["type"], parameter["schema"]["type"],
                "{from} {status} {pointer} is not of {to}'s `{param}` type"
            );
        }
    }

    /// The rename in `document` touches links only.
    #[test]
    fn only_links_carry_operation_id() {
        let raw = serde_json::to_value(<super::super::ApiDoc as utoipa::OpenApi>::openapi())
            .expect("the document is JSON");
        let mut found = Vec::new();
        fn walk(v: &Value, path: &str, found: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    for (k, v) in m {
                        if k == "operation_id" {
                            found.push(path.to_string());
                        }
                        walk(v, &format!("{path}/{k}"), found);
                    }
                }
                Value::Array(a) => a.iter().for_each(|v| walk(v, path, found)),
                _ => {}
            }
        }
        walk(&raw, "", &mut found);
        assert!(!found.is_empty());
        for path in found {
            assert!(
                path.contains("/links/"),
                "operation_id outside a link: {path}"
            );
        }
    }

    #[test]
    fn operation_ids_are_unique_and_every_operation_has_one() {
        let doc = document();
        let mut seen = std::collections::BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("a path item") {
                let id = op["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
                assert!(
                    seen.insert(id.to_string()),
                    "operationId `{id}` is used twice"
                );
            }
        }
    }
}
