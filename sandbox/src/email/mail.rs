//! Validation of a `POST /v3/mail/send` body into a [`Mail`].
//!
//! The body is walked as a `serde_json::Value` rather than deserialised into structs, because
//! SendGrid reports *every* problem of a request in one answer, each with the dotted path of
//! the field at fault; a derive would stop at the first. Fields the simulator does not model
//! (cc, bcc, attachments, template_id, categories …) are ignored, not rejected.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::errors::{FieldError, SendGridError};

const PERSONALIZATIONS_REQUIRED: &str =
    "The personalizations field is required and must have at least one personalization.";
const TO_REQUIRED: &str = "The to array is required for all personalization objects, and must have at least one email object with a valid email address.";
const INVALID_ADDRESS: &str = "Does not contain a valid address.";
const FROM_REQUIRED: &str = "The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter.  e.g. {\"email\" : \"example@example.com\"}  or {\"email\" : \"example@example.com\", \"name\" : \"Example Recipient\"}";
const FROM_INVALID: &str = "The from email does not contain a valid address.";
const SUBJECT_REQUIRED: &str = "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.";
const CONTENT_REQUIRED: &str = "Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block. We typically suggest both text/plain and text/html blocks are included, but only one block is required.";
const CONTENT_TYPE_REQUIRED: &str =
    "The content type must be a string at least one character in length.";
const CONTENT_VALUE_REQUIRED: &str =
    "The content value must be a string at least one character in length.";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Address {
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One personalization: an email of its own in SendGrid's model, with its own recipients,
/// subject and custom args (top-level custom args already merged in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Personalization {
    pub to: Vec<Address>,
    pub subject: Option<String>,
    pub custom_args: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Content {
    #[serde(rename = "type")]
    pub content_type: String,
    pub value: String,
}

/// A send request that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub personalizations: Vec<Personalization>,
    pub from: Address,
    pub subject: Option<String>,
    pub content: Vec<Content>,
}

impl Mail {
    /// The subject a personalization's recipients see: its own, else the top-level one.
    pub fn subject_for(&self, p: &Personalization) -> Option<String> {
        p.subject.clone().or_else(|| self.subject.clone())
    }
}

/// A plausible address: `local@domain.tld`, no spaces or angle brackets. SendGrid's own check
/// is looser than RFC 5322 and stricter than "contains @"; this sits in the same place.
pub fn is_valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| !c.is_ascii() || (c.is_ascii_graphic() && !"@<>()[],;:\\\"".contains(c)));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && domain.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    local_ok && domain_ok
}

/// JSON-schema wording, which SendGrid uses for values of the wrong type.
fn type_error(field: String, v: &Value) -> FieldError {
    let given = match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let expected = if field.ends_with("custom_args") {
        "object"
    } else {
        "string"
    };
    FieldError::new(
        Some(field),
        format!("Invalid type. Expected: {expected}, given: {given}."),
    )
}

/// An optional string field: absent is `None`, a non-string is reported.
fn opt_string(
    obj: &Map<String, Value>,
    key: &str,
    path: String,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            errors.push(type_error(path, other));
            None
        }
    }
}

fn custom_args(
    v: Option<&Value>,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match v {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                match v {
                    Value::String(s) => {
                        out.insert(k.clone(), s.clone());
                    }
                    other => errors.push(type_error(format!("{path}.{k}"), other)),
                }
            }
        }
        Some(other) => errors.push(type_error(path.to_owned(), other)),
    }
    out
}

fn personalization(
    i: usize,
    v: &Value,
    global_args: &BTreeMap<String, String>,
    errors: &mut Vec<FieldError>,
) -> Personalization {
    let path = format!("personalizations.{i}");
    let Some(obj) = v.as_object() else {
        errors.push(FieldError::new(Some(format!("{path}.to")), TO_REQUIRED));
        return Personalization {
            to: Vec::new(),
            subject: None,
            custom_args: global_args.clone(),
        };
    };
    let mut to = Vec::new();
    match obj.get("to").and_then(Value::as_array) {
        Some(list) if !list.is_empty() => {
            for (j, r) in list.iter().enumerate() {
                let field = format!("{path}.to.{j}.email");
                let email = r.get("email").and_then(Value::as_str).unwrap_or_default();
                if !is_valid_email(email) {
                    errors.push(FieldError::new(Some(field), INVALID_ADDRESS));
                    continue;
                }
                let name = r
                    .as_object()
                    .and_then(|r| opt_string(r, "name", format!("{path}.to.{j}.name"), errors));
                to.push(Address {
                    email: email.to_owned(),
                    name,
                });
            }
        }
        _ => errors.push(FieldError::new(Some(format!("{path}.to")), TO_REQUIRED)),
    }
    let subject =
        opt_string(obj, "subject", format!("{path}.subject"), errors).filter(|s| !s.is_empty());
    // Personalization custom args win over top-level ones with the same key, as in SendGrid.
    let mut args = global_args.clone();
    args.extend(custom_args(
        obj.get("custom_args"),
        &format!("{path}.custom_args"),
        errors,
    ));
    Personalization {
        to,
        subject,
        custom_args: args,
    }
}

fn content(v: Option<&Value>, errors: &mut Vec<FieldError>) -> Vec<Content> {
    let Some(list) = v.and_then(Value::as_array).filter(|l| !l.is_empty()) else {
        errors.push(FieldError::new(Some("content".into()), CONTENT_REQUIRED));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, block) in list.iter().enumerate() {
        let field = |name: &str| block.get(name).and_then(Value::as_str).unwrap_or_default();
        let (content_type, value) = (field("type"), field("value"));
        if content_type.is_empty() {
            errors.push(FieldError::new(
                Some(format!("content.{k}.type")),
                CONTENT_TYPE_REQUIRED,
            ));
        }
        if value.is_empty() {
            errors.push(FieldError::new(
                Some(format!("content.{k}.value")),
                CONTENT_VALUE_REQUIRED,
            ));
        }
        out.push(Content {
            content_type: content_type.to_owned(),
            value: value.to_owned(),
        });
    }
    out
}

/// Checks a parsed body the way SendGrid does and lists every problem found, in the order of
/// the fields: personalizations, from, subject, content.
pub fn validate(body: &Value) -> Result<Mail, SendGridError> {
    let Some(obj) = body.as_object() else {
        return Err(SendGridError::malformed());
    };
    let mut errors = Vec::new();
    let global_args = custom_args(obj.get("custom_args"), "custom_args", &mut errors);
    let personalizations: Vec<Personalization> =
        match obj.get("personalizations").and_then(Value::as_array) {
            Some(list) if !list.is_empty() => list
                .iter()
                .enumerate()
                .map(|(i, p)| personalization(i, p, &global_args, &mut errors))
                .collect(),
            _ => {
                errors.push(FieldError::new(
                    Some("personalizations".into()),
                    PERSONALIZATIONS_REQUIRED,
                ));
                Vec::new()
            }
        };

    let from_obj = obj.get("from").and_then(Value::as_object);
    let from_email = from_obj
        .and_then(|f| f.get("email"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if from_email.is_empty() {
        errors.push(FieldError::new(Some("from.email".into()), FROM_REQUIRED));
    } else if !is_valid_email(from_email) {
        errors.push(FieldError::new(Some("from.email".into()), FROM_INVALID));
    }
    let from_name = from_obj.and_then(|f| opt_string(f, "name", "from.name".into(), &mut errors));

    let subject =
        opt_string(obj, "subject", "subject".into(), &mut errors).filter(|s| !s.is_empty());
    let every_has_subject =
        !personalizations.is_empty() && personalizations.iter().all(|p| p.subject.is_some());
    if subject.is_none() && !every_has_subject {
        errors.push(FieldError::new(Some("subject".into()), SUBJECT_REQUIRED));
    }

    let content = content(obj.get("content"), &mut errors);
    if !errors.is_empty() {
        return Err(SendGridError::validation(errors));
    }
    Ok(Mail {
        personalizations,
        from: Address {
            email: from_email.to_owned(),
            name: from_name,
        },
        subject,
        content,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(body: Value) -> Vec<Option<String>> {
        match validate(&body) {
            Ok(_) => Vec::new(),
            Err(e) => e.errors.into_iter().map(|e| e.field).collect(),
        }
    }

    fn good() -> Value {
        json!({
            "personalizations": [{"to": [{"email": "ada@example.com", "name": "Ada"}],
                                  "custom_args": {"k": "p"}}],
            "from": {"email": "noreply@sandbox.switchboard.test"},
            "subject": "Hi",
            "content": [{"type": "text/plain", "value": "x"}],
            "custom_args": {"k": "global", "g": "1"},
        })
    }

    #[test]
    fn good_body_and_arg_merging() {
        let mail = validate(&good()).expect("valid");
        let p = &mail.personalizations[0];
        assert_eq!(p.to[0].name.as_deref(), Some("Ada"));
        let args: Vec<_> = p
            .custom_args
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(args, [("g", "1"), ("k", "p")]);
        assert_eq!(mail.subject_for(p).as_deref(), Some("Hi"));
    }

    #[test]
    fn every_problem_is_listed() {
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            fields(json!({})),
            [
                some("personalizations"),
                some("from.email"),
                some("subject"),
                some("content")
            ]
        );
        assert_eq!(
            fields(
                json!({"personalizations": [{"to": [{"email": "nope"}, {"email": "a@b.co"}]}, {}],
                          "from": {"email": "x@"}, "content": [{"type": "text/plain", "value": ""}]})
            ),
            [
                some("personalizations.0.to.0.email"),
                some("personalizations.1.to"),
                some("from.email"),
                some("subject"),
                some("content.0.value"),
            ]
        );
        assert_eq!(validate(&json!([1])).unwrap_err().errors[0].field, None);
        let mut bad_args = good();
        bad_args["personalizations"][0]["custom_args"] = json!({"n": 1});
        assert_eq!(fields(bad_args), [some("personalizations.0.custom_args.n")]);
    }

    #[test]
    fn subject_may_come_from_every_personalization() {
        let mut body = good();
        body.as_object_mut().unwrap().remove("subject");
        assert_eq!(fields(body.clone()), [Some("subject".to_owned())]);
        body["personalizations"][0]["subject"] = json!("Per recipient");
        let mail = validate(&body).expect("valid");
        assert_eq!(
            mail.subject_for(&mail.personalizations[0]).as_deref(),
            Some("Per recipient")
        );
    }

    #[test]
    fn addresses() {
        for ok in [
            "a@b.co",
            "first.last+tag@sub.example.com",
            "bounce@sandbox.switchboard.test",
        ] {
            assert!(is_valid_email(ok), "{ok}");
        }
        for bad in [
            "", "a", "a@", "@b.co", "a@b", "a b@c.de", "<a@b.co>", "a@b..co", "a@-b.co",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }
}
