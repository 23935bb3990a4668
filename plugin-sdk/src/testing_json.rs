//! proptest strategies for provider callback bodies, shared by the plugins' property tests
//! (feature `proptest`, native only).
//!
//! JSON is generated as text rather than as a `serde_json::Value`, so that it can carry what
//! a value cannot: duplicated keys, numbers past `u64` and `f64`, escaped lone surrogates, and
//! then byte-level damage (invalid UTF-8, truncation, deep nesting) on top.
//!
//! ```ignore
//! let event = json_object(&["event", "sg_message_id"], json_leaf(&["delivered"]));
//! proptest!(|(body in mutated(json_array_of(event)))| { /* parse body */ });
//! ```

use proptest::prelude::*;

/// Nesting beyond any parser's recursion limit: a parser must refuse it, not overflow the
/// stack.
pub const DEEP: usize = 100_000;

/// `s` as a JSON string literal.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Any JSON scalar, edge cases weighted up: numbers past every integer type and past `f64`,
/// negative zero, escaped lone surrogates and non-characters in strings.
pub fn json_scalar() -> BoxedStrategy<String> {
    prop_oneof![
        Just("null".to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
        "-?[1-9][0-9]{19,400}",
        "-?[1-9]\\.[0-9]{1,5}[eE][+-]?[0-9]{3,6}",
        Just("-0".to_string()),
        any::<String>().prop_map(|s| quote(&s)),
        Just("\"\\ud800\"".to_string()),
        Just("\"\\udfff\\ud800x\"".to_string()),
        Just("\"\u{FFFF}\u{FEFF}\u{10FFFF}\"".to_string()),
    ]
    .boxed()
}

/// A leaf: one of the provider's meaningful words (as a string) most of the time, any
/// scalar otherwise (a wrong type for the field, as often as not).
pub fn json_leaf(words: &'static [&'static str]) -> BoxedStrategy<String> {
    prop_oneof![
        3 => prop::sample::select(words).prop_map(quote),
        2 => json_scalar(),
    ]
    .boxed()
}

/// Any JSON value up to a few levels deep, with any keys.
pub fn json_any() -> BoxedStrategy<String> {
    json_scalar()
        .prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(|v| array(&v)),
                prop::collection::vec((any::<String>(), inner), 0..6).prop_map(|kv| object(&kv)),
            ]
        })
        .boxed()
}

fn array(items: &[String]) -> String {
    format!("[{}]", items.join(","))
}

fn object(fields: &[(String, String)]) -> String {
    let fields: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{v}", quote(k)))
        .collect();
    format!("{{{}}}", fields.join(","))
}

/// An object over the provider's field names: each present or not, sometimes twice (JSON
/// allows it; parsers differ on which wins), with `value` or any JSON at all, plus unknown
/// fields.
pub fn json_object(
    keys: &'static [&'static str],
    value: BoxedStrategy<String>,
) -> BoxedStrategy<String> {
    let field = prop_oneof![
        6 => (prop::sample::select(keys).prop_map(str::to_string), value),
        1 => (prop::sample::select(keys).prop_map(str::to_string), json_any()),
        1 => (any::<String>(), json_any()),
    ];
    prop::collection::vec(field, 0..keys.len() + 3)
        .prop_map(|fields| object(&fields))
        .boxed()
}

/// A JSON array of up to four `item`s (nested arrays of objects multiply: kept small, the
/// bodies stay in the kilobytes and each case fast).
pub fn json_array_of(item: BoxedStrategy<String>) -> BoxedStrategy<String> {
    prop::collection::vec(item, 0..5)
        .prop_map(|items| array(&items))
        .boxed()
}

/// `[[[…]]]` (or `{"a":{"a":…}}`) nested `depth` times around `inner`.
pub fn nested(depth: usize, inner: &str, objects: bool) -> String {
    let (open, close) = if objects {
        ("{\"a\":", "}")
    } else {
        ("[", "]")
    };
    let mut out = String::with_capacity(depth * (open.len() + close.len()) + inner.len());
    for _ in 0..depth {
        out.push_str(open);
    }
    out.push_str(inner);
    for _ in 0..depth {
        out.push_str(close);
    }
    out
}

/// `body` as is most of the time, otherwise damaged the ways a network, a buggy provider or
/// an attacker would: invalid UTF-8 spliced in, cut short, random bytes overwritten, buried
/// under deep nesting, or replaced by arbitrary bytes.
pub fn mutated(body: BoxedStrategy<String>) -> BoxedStrategy<Vec<u8>> {
    let damage = prop_oneof![
        8 => Just(Damage::None),
        1 => prop::sample::select(INVALID_UTF8).prop_map(|b| Damage::Insert(b.to_vec())),
        1 => Just(Damage::Truncate),
        1 => prop::collection::vec(any::<u8>(), 1..4).prop_map(Damage::Overwrite),
        1 => (1..=DEEP, any::<bool>()).prop_map(|(d, o)| Damage::Nest(d, o)),
        1 => prop::collection::vec(any::<u8>(), 0..512).prop_map(Damage::Replace),
    ];
    (body, damage, any::<prop::sample::Index>())
        .prop_map(|(body, damage, at)| damage.apply(body, at))
        .boxed()
}

/// A stray byte, a cut-off sequence, an encoded surrogate, a code point past U+10FFFF, NUL.
const INVALID_UTF8: &[&[u8]] = &[
    &[0xFF],
    &[0xC3],
    &[0xED, 0xA0, 0x80],
    &[0xF4, 0x90, 0x80, 0x80],
    &[0],
];

#[derive(Debug, Clone)]
enum Damage {
    None,
    Insert(Vec<u8>),
    Truncate,
    Overwrite(Vec<u8>),
    Nest(usize, bool),
    Replace(Vec<u8>),
}

impl Damage {
    fn apply(self, body: String, at: prop::sample::Index) -> Vec<u8> {
        let mut bytes = body.into_bytes();
        let at_or_end = at.index(bytes.len() + 1);
        match self {
            Damage::None => {}
            Damage::Insert(b) => {
                bytes.splice(at_or_end..at_or_end, b);
            }
            Damage::Truncate => bytes.truncate(at_or_end),
            Damage::Overwrite(b) => {
                for (i, byte) in b.into_iter().enumerate() {
                    if let Some(slot) = bytes.get_mut(at_or_end + i) {
                        *slot = byte;
                    }
                }
            }
            Damage::Nest(depth, objects) => {
                let inner = String::from_utf8_lossy(&bytes).into_owned();
                bytes = nested(depth, &inner, objects).into_bytes();
            }
            Damage::Replace(b) => bytes = b,
        }
        bytes
    }
}
