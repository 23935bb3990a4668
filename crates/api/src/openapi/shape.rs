//! Where the document says "object", a JSON array is refused.
//!
//! Why this exists: serde reads a struct from a JSON array too, field by field in order
//! (`[null, null]` is a `Recipient`), which the document does not allow and no client
//! means. Nothing in serde turns that off, so a body that has an array in it is walked
//! against the request type's schema in the document before it is parsed; the first array
//! where the schema admits none is refused, named by its path. Bodies without `[` (most
//! sends) skip the walk.

use std::sync::OnceLock;

use serde_json::Value;

/// The document as JSON, built once: the walk reads request types' schemas from it.
fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        serde_json::from_str(&super::document()).expect("the OpenAPI document is JSON")
    })
}

/// The path of the first array in `value` where the component `component` admits none.
pub fn misplaced_array(component: &str, value: &Value) -> Option<String> {
    let doc = document();
    let schema = doc.pointer(&format!("/components/schemas/{component}"))?;
    let mut path = String::new();
    walk(doc, schema, value, &mut path).err()
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    let mut s = schema;
    for _ in 0..16 {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => match doc.pointer(r.trim_start_matches('#')) {
                Some(next) => s = next,
                None => return s,
            },
            None => return s,
        }
    }
    s
}

fn branches(schema: &Value) -> Option<&Vec<Value>> {
    schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))
        .and_then(Value::as_array)
}

/// Whether no value the schema admits is an array.
fn refuses_array(doc: &Value, schema: &Value) -> bool {
    let s = resolve(doc, schema);
    if let Some(bs) = branches(s) {
        return bs.iter().all(|b| refuses_array(doc, b));
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array)
        && all.iter().any(|b| refuses_array(doc, b))
    {
        return true;
    }
    match s.get("type") {
        Some(Value::String(t)) => t != "array",
        Some(Value::Array(ts)) => !ts.iter().any(|t| t == "array"),
        _ => s.get("properties").is_some(),
    }
}

/// The object schema among `schema`'s branches that `map` belongs to: the one whose
/// properties name all of the map's keys (an externally tagged enum names its variant).
fn object_schema<'a>(
    doc: &'a Value,
    schema: &'a Value,
    map: &serde_json::Map<String, Value>,
) -> Option<&'a Value> {
    let s = resolve(doc, schema);
    match branches(s) {
        Some(bs) => bs.iter().find_map(|b| {
            let b = object_schema(doc, b, map)?;
            let props = b.get("properties")?.as_object()?;
            map.keys().all(|k| props.contains_key(k)).then_some(b)
        }),
        None => s.get("properties").map(|_| s),
    }
}

fn walk(doc: &Value, schema: &Value, value: &Value, path: &mut String) -> Result<(), String> {
    let schema = resolve(doc, schema);
    match value {
        Value::Array(items) => {
            if refuses_array(doc, schema) {
                return Err(if path.is_empty() {
                    ".".into()
                } else {
                    path.clone()
                });
            }
            let items_schema = branches(schema)
                .and_then(|bs| {
                    bs.iter()
                        .map(|b| resolve(doc, b))
                        .find(|b| b.get("items").is_some())
                })
                .unwrap_or(schema)
                .get("items");
            if let Some(items_schema) = items_schema {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(doc, items_schema, item, path)?;
                    path.truncate(len);
                }
            }
        }
        Value::Object(map) => {
            let Some(object) = object_schema(doc, schema, map) else {
                return Ok(());
            };
            for (key, item) in map {
                let field = object
                    .get("properties")
                    .and_then(|p| p.get(key))
                    .or_else(|| object.get("additionalProperties").filter(|a| a.is_object()));
                if let Some(field) = field {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                    walk(doc, field, item, path)?;
                    path.truncate(len);
                }
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::misplaced_array;

    #[test]
    fn arrays_where_objects_belong_are_found_by_path() {
        let cases = [
            (json!([null, null]), Some(".")),
            (
                json!({"channel": "sms", "to": [null, null], "content": {}}),
                Some("to"),
            ),
            (
                json!({"channel": "sms", "to": {}, "content": {"buttons": [[1]]}}),
                Some("content.buttons[0]"),
            ),
            (
                json!({"channel": "sms", "to": {}, "content": {"text": "x"}}),
                None,
            ),
        ];
        for (body, want) in cases {
            assert_eq!(
                misplaced_array("NewMessage", &body).as_deref(),
                want,
                "{body}"
            );
        }
    }

    #[test]
    fn a_policy_walks_through_its_tagged_steps() {
        let ok = json!({"name": "p", "steps": [{"send": {"first_of": ["sms", "email"]}, "timeout_ms": 1}]});
        assert_eq!(misplaced_array("Policy", &ok), None);
        let bad =
            json!({"name": "p", "steps": [{"send": {"parallel": [["sms"]]}, "timeout_ms": 1}]});
        assert_eq!(
            misplaced_array("Policy", &bad).as_deref(),
            Some("steps[0].send.parallel[0]")
        );
    }
}
