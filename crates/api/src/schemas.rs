//! The generated schema files under `schemas/`: JSON Schema for the message model and the
//! OpenAPI document. `switchboard schemas` rewrites them; a test fails when they are stale.

use schemars::schema_for;

use switchboard_gateway::model;

/// `(path relative to schemas/, content)` for every generated file.
pub fn generated() -> Vec<(&'static str, String)> {
    let pretty = |v: serde_json::Value| {
        let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
        s.push('\n');
        s
    };
    vec![
        (
            "json/new-message.schema.json",
            pretty(schema_for!(model::NewMessage).to_value()),
        ),
        (
            "json/message.schema.json",
            pretty(schema_for!(model::MessageView).to_value()),
        ),
        (
            "json/status.schema.json",
            pretty(schema_for!(model::Status).to_value()),
        ),
        (
            "json/failure-reason.schema.json",
            pretty(schema_for!(model::FailureReason).to_value()),
        ),
        (
            "json/contact.schema.json",
            pretty(schema_for!(model::ContactView).to_value()),
        ),
        (
            "json/receipt.schema.json",
            pretty(schema_for!(switchboard_gateway::receipts::Receipt).to_value()),
        ),
        ("openapi.json", crate::openapi::document()),
    ]
}

/// Write every generated file under `dir`.
pub fn write_all(dir: &std::path::Path) -> std::io::Result<()> {
    for (rel, content) in generated() {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, content)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn checked_in_schemas_are_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
        let mut stale = Vec::new();
        for (rel, content) in super::generated() {
            if std::fs::read_to_string(dir.join(rel)).ok().as_deref() != Some(content.as_str()) {
                stale.push(rel);
            }
        }
        assert!(
            stale.is_empty(),
            "stale generated schemas {stale:?}: run `cargo run -p switchboard -- schemas`"
        );
    }
}
