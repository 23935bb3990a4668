//! The matrix's completeness: every (method, path) of the API document has a row, apart
//! from those that take no workspace key and are covered elsewhere.

use std::collections::BTreeSet;

use serde_json::Value;

use super::Row;

pub(super) fn every_endpoint_has_a_row(rows: &[Row]) {
    // Completeness: every (method, path) of the API document has a row, apart from those
    // that take no workspace key and are covered elsewhere.
    let doc: Value = serde_json::from_str(include_str!("../../../schemas/openapi.json")).unwrap();
    let not_key_scoped = [
        ("POST", "/v1/webhooks/{connection}"), // provider-signed: webhooks tests
        ("GET", "/v1/webhooks/{connection}"),
        ("POST", "/v1/receipts"),           // device-signed: push tests
        ("POST", "/v1/invitations/accept"), // the token is the credential: members tests
        ("GET", "/healthz"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),   // public: api_document tests
        ("POST", "/v1/workspaces"), // operator key: below
        ("GET", "/v1/workspaces"),
    ];
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let normalise = |t: &str| {
        t.split('?')
            .next()
            .unwrap()
            .replace("{contact}", "{id}")
            .replace("{conn}", "{id}")
            .replace("{endpoint}", "{id}")
            .replace("{key}", "{id}")
            .replace("{member}", "{id}")
            .replace("{price}", "{id}")
            .replace("{rule}", "{id}")
            .replace("{result}", "{id}")
            .replace("{automation}", "{id}")
            .replace("{tag}", "{id}")
            .replace("{sender_domain}", "{id}")
            .replace("{policy}", "{name}")
    };
    let covered: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r.method.to_string(), normalise(r.template)))
        .chain(
            not_key_scoped
                .iter()
                .map(|(m, p)| (m.to_string(), p.to_string())),
        )
        .collect();
    let doc_norm: BTreeSet<(String, String)> = documented
        .iter()
        .map(|(m, p)| {
            (
                m.clone(),
                p.replace("{contact}", "{id}").replace("{tag}", "{id}"),
            )
        })
        .collect();
    let missing: Vec<_> = doc_norm.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "endpoints without an isolation row: {missing:?}"
    );
}
