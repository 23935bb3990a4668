//! Structure-aware mutations of valid `POST /v1/messages` bodies: one field removed, given a
//! value of any type or shape, or joined by an unknown sibling, so a refusal can be checked
//! for naming that field.

use proptest::prelude::*;
use serde_json::Value;
use switchboard_plugin_sdk::testing::json::{json_any, json_scalar, nested, quote};

/// One valid message per channel, and one through a routing policy.
pub fn valid_messages() -> Vec<String> {
    [
        r#"{"channel":"sms","to":{"phone":"+14155550100"},"content":{"text":"hi"}}"#,
        r#"{"channel":"sms","to":{"phone":"+821012345678"},"content":{"text":"안녕하세요","subject":"제목"}}"#,
        r#"{"channel":"email","to":{"email":"ada@example.com","name":"Ada"},"content":{"subject":"Hello","text":"hi"},"metadata":{"order":"A-1"}}"#,
        r#"{"channel":"messenger","to":{"psid":"5550001"},"content":{"text":"hi"},"options":{"messaging_type":"RESPONSE"}}"#,
        r#"{"channel":"push","to":{"push_token":"tok-1","push_platform":"android"},"content":{"subject":"Hi","text":"hi"},"category":"transactional"}"#,
        r##"{"channel":"alimtalk","to":{"phone":"+821012345678"},"content":{"template":{"id":"KA01TP_SB_ORDER_SHIPPED","variables":{"#{name}":"김지수","#{order}":"A-1042"}}}}"##,
        r#"{"policy":"follow-up","to":{"phone":"+14155550100","email":"a@example.com"},"category":"follow_up","content":{"text":"hello"}}"#,
    ]
    .map(String::from)
    .to_vec()
}

/// Field paths across the valid messages (a path a message lacks is added by `Replace`).
const PATHS: &[&[&str]] = &[
    &["channel"],
    &["policy"],
    &["connection"],
    &["category"],
    &["metadata"],
    &["metadata", "order"],
    &["options"],
    &["options", "messaging_type"],
    &["to"],
    &["to", "phone"],
    &["to", "email"],
    &["to", "psid"],
    &["to", "push_token"],
    &["to", "push_platform"],
    &["to", "name"],
    &["content"],
    &["content", "text"],
    &["content", "subject"],
    &["content", "media"],
    &["content", "buttons"],
    &["content", "data"],
    &["content", "template"],
    &["content", "template", "id"],
    &["content", "template", "variables"],
];

#[derive(Debug, Clone)]
pub enum Mutation {
    Remove(Vec<String>),
    /// The field gets this JSON text, which may be more than a `Value` can hold.
    Replace(Vec<String>, String),
    /// An unknown field: the path's last element, added to the object at the rest.
    Unknown(Vec<String>),
}

/// A value a field should not have or should not accept: any JSON, and the edge cases of
/// strings and numbers, weighted up.
fn replacement() -> BoxedStrategy<String> {
    prop_oneof![
        3 => json_any(),
        2 => json_scalar(),
        // Long strings, under and over the body limit.
        1 => (1usize..300_000).prop_map(|n| quote(&"x".repeat(n))),
        1 => "[\u{0}-\u{1F}\u{7F}-\u{9F}\u{D7FF}\u{E000}\u{FEFF}\u{FFFD}\u{FFFF}\u{10FFFF}]{0,64}"
            .prop_map(|s| quote(&s)),
        1 => (1usize..400).prop_map(|d| nested(d, "1", false)),
        1 => (1usize..400).prop_map(|d| nested(d, "\"x\"", true)),
    ]
    .boxed()
}

pub fn mutation() -> BoxedStrategy<Mutation> {
    let path = prop::sample::select(PATHS)
        .prop_map(|p| p.iter().map(|s| s.to_string()).collect::<Vec<String>>());
    prop_oneof![
        1 => path.clone().prop_map(Mutation::Remove),
        4 => (path.clone(), replacement()).prop_map(|(p, v)| Mutation::Replace(p, v)),
        1 => (path, "[a-z_]{1,12}").prop_map(|(mut p, k)| {
            p.push(format!("x_{k}"));
            Mutation::Unknown(p)
        }),
    ]
    .boxed()
}

/// Stands in for a replacement in the tree, swapped for its raw text once serialised.
const PLACEHOLDER: &str = "\u{1}mutation\u{1}";

impl Mutation {
    pub fn path(&self) -> &[String] {
        match self {
            Mutation::Remove(p) | Mutation::Replace(p, _) | Mutation::Unknown(p) => p,
        }
    }

    /// The mutated body; unchanged where the path's parent is missing or not an object.
    pub fn apply(&self, valid: String) -> Vec<u8> {
        let mut root: Value = serde_json::from_str(&valid).expect("valid messages are JSON");
        let path = self.path();
        let (last, parents) = path.split_last().expect("paths are not empty");
        let mut at = &mut root;
        for key in parents {
            match at.get_mut(key.as_str()) {
                Some(next) => at = next,
                None => return valid.into_bytes(),
            }
        }
        let Some(object) = at.as_object_mut() else {
            return valid.into_bytes();
        };
        match self {
            Mutation::Remove(_) => {
                object.remove(last);
            }
            Mutation::Replace(..) => {
                object.insert(last.clone(), Value::String(PLACEHOLDER.into()));
            }
            Mutation::Unknown(_) => {
                object.insert(last.clone(), Value::Null);
            }
        }
        let text = root.to_string();
        match self {
            Mutation::Replace(_, raw) => text.replace(&quote(PLACEHOLDER), raw),
            _ => text,
        }
        .into_bytes()
    }
}
