//! `GET /{version}/{page_id}/conversations`: the page's conversations, most recently updated
//! first (`user_id=<PSID>` narrows them to the conversation with that person, `platform`
//! is `messenger` or `instagram`), with Graph's field selection (`participants`, `messages.limit(N){id,message,from,
//! created_time}`, `updated_time`, `message_count`, `snippet`) and cursor paging
//! (`paging.cursors.before/after`, `paging.next` only when there is a further page,
//! `paging.previous` when there is an earlier one).

use serde_json::{Map, Value, json};

use super::SandboxPage;
use super::errors::GraphError;
use super::state::{ConvMessage, Conversation};

pub const DEFAULT_LIMIT: usize = 25;
pub const MAX_LIMIT: usize = 100;

/// One requested field: `name.limit(N){sub,fields}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub limit: Option<usize>,
    pub sub: Vec<Field>,
}

/// Splits on commas outside parentheses and braces.
fn split_top(s: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0i32, 0, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '(' | '{' => depth += 1,
            ')' | '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .collect()
}

pub fn parse_fields(s: &str) -> Result<Vec<Field>, GraphError> {
    let bad = || GraphError::param(format!("Syntax error in field list \"{s}\""));
    split_top(s)
        .into_iter()
        .map(|f| {
            let (head, sub) = match f.find('{') {
                Some(i) => {
                    let inner = f[i + 1..].strip_suffix('}').ok_or_else(bad)?;
                    (&f[..i], parse_fields(inner)?)
                }
                None => (f, Vec::new()),
            };
            let mut parts = head.split('.');
            let name = parts.next().unwrap_or_default().trim().to_owned();
            let mut limit = None;
            for modifier in parts {
                let n = modifier
                    .strip_prefix("limit(")
                    .and_then(|m| m.strip_suffix(')'))
                    .and_then(|n| n.trim().parse().ok())
                    .ok_or_else(bad)?;
                limit = Some(n);
            }
            if name.is_empty() {
                return Err(bad());
            }
            Ok(Field { name, limit, sub })
        })
        .collect()
}

fn nonexisting(field: &str, node: &str) -> GraphError {
    GraphError::param(format!(
        "Tried accessing nonexisting field ({field}) on node type ({node})"
    ))
}

/// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Graph's time format, `2026-11-21T10:00:00+0000`.
pub fn graph_time(ms: u64) -> String {
    let secs = (ms / 1000) as i64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

pub fn cursor(id: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("sb:{id}"))
}

pub fn decode_cursor(c: &str) -> Option<String> {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(c.trim())
        .ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("sb:")
        .map(str::to_owned)
}

fn person(id: &str, name: &str) -> Value {
    json!({"name": name, "email": format!("{id}@facebook.com"), "id": id})
}

fn message_json(
    m: &ConvMessage,
    c: &Conversation,
    page: &SandboxPage,
    fields: &[Field],
) -> Result<Value, GraphError> {
    let (from, to) = if m.from_page {
        (person(page.id, page.name), person(&c.psid, &c.name))
    } else {
        (person(&c.psid, &c.name), person(page.id, page.name))
    };
    let mut out = Map::new();
    for f in fields {
        let v = match f.name.as_str() {
            "id" => json!(m.mid),
            "message" => json!(m.text),
            "from" => from.clone(),
            "to" => json!({ "data": [to.clone()] }),
            "created_time" => json!(graph_time(m.created_ms)),
            other => return Err(nonexisting(other, "Message")),
        };
        out.insert(f.name.clone(), v);
    }
    out.entry("id").or_insert_with(|| json!(m.mid));
    Ok(Value::Object(out))
}

fn conversation_json(
    c: &Conversation,
    page: &SandboxPage,
    fields: &[Field],
) -> Result<Value, GraphError> {
    let mut out = Map::new();
    out.insert("id".into(), json!(c.id));
    for f in fields {
        let v = match f.name.as_str() {
            "id" => continue,
            "participants" => {
                json!({"data": [person(&c.psid, &c.name), person(page.id, page.name)]})
            }
            "updated_time" => json!(graph_time(c.updated_ms())),
            "message_count" => json!(c.messages.len()),
            "unread_count" => json!(0),
            "snippet" => json!(
                c.messages
                    .last()
                    .map(|m| m.text.clone())
                    .unwrap_or_default()
            ),
            "messages" => {
                let sub = if f.sub.is_empty() {
                    parse_fields("id,created_time")?
                } else {
                    f.sub.clone()
                };
                let limit = f.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
                let newest_first: Vec<&ConvMessage> = c.messages.iter().rev().collect();
                let data = newest_first
                    .iter()
                    .take(limit)
                    .map(|m| message_json(m, c, page, &sub))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut messages = json!({ "data": data });
                let shown = &newest_first[..limit.min(newest_first.len())];
                if let (Some(first), Some(last)) = (shown.first(), shown.last()) {
                    messages["paging"] = json!({"cursors": {"before": cursor(&first.mid), "after": cursor(&last.mid)}});
                }
                messages
            }
            other => return Err(nonexisting(other, "Conversation")),
        };
        out.insert(f.name.clone(), v);
    }
    Ok(Value::Object(out))
}

/// The query parameters this endpoint reads.
#[derive(Debug, Default)]
pub struct ListQuery {
    pub fields: Option<String>,
    pub limit: Option<String>,
    pub after: Option<String>,
    pub before: Option<String>,
}

/// One page of conversations. `self_url` is the request URL without `after`/`before`, used
/// for `paging.next` and `paging.previous`.
pub fn list(
    all: &[Conversation],
    page: &SandboxPage,
    q: &ListQuery,
    self_url: &str,
) -> Result<Value, GraphError> {
    let fields = parse_fields(q.fields.as_deref().unwrap_or("id,updated_time"))?;
    let limit = match &q.limit {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .trim()
            .parse::<usize>()
            .map_err(|_| GraphError::param("Param limit must be a positive integer"))?
            .clamp(1, MAX_LIMIT),
    };
    let position = |c: &str| -> Result<usize, GraphError> {
        let id = decode_cursor(c).ok_or_else(|| GraphError::param("The cursor is invalid"))?;
        all.iter()
            .position(|conv| conv.id == id)
            .ok_or_else(|| GraphError::param("The cursor is invalid"))
    };
    let (start, end) = match (&q.after, &q.before) {
        (Some(a), _) => {
            let s = position(a)? + 1;
            (s, (s + limit).min(all.len()))
        }
        (None, Some(b)) => {
            let e = position(b)?;
            (e.saturating_sub(limit), e)
        }
        (None, None) => (0, limit.min(all.len())),
    };
    let slice = &all[start.min(all.len())..end];
    let data = slice
        .iter()
        .map(|c| conversation_json(c, page, &fields))
        .collect::<Result<Vec<_>, _>>()?;
    let mut body = json!({ "data": data });
    if let (Some(first), Some(last)) = (slice.first(), slice.last()) {
        let (before, after) = (cursor(&first.id), cursor(&last.id));
        let join = if self_url.contains('?') { '&' } else { '?' };
        let enc = |c: &str| form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>();
        let mut paging = json!({"cursors": {"before": before, "after": after}});
        if end < all.len() {
            paging["next"] = json!(format!("{self_url}{join}after={}", enc(&after)));
        }
        if start > 0 {
            paging["previous"] = json!(format!("{self_url}{join}before={}", enc(&before)));
        }
        body["paging"] = paging;
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_lists_parse() {
        let f = parse_fields(
            "participants,messages.limit(20){id,message,from,created_time},updated_time",
        )
        .unwrap();
        assert_eq!(f.len(), 3);
        assert_eq!(
            (f[1].name.as_str(), f[1].limit, f[1].sub.len()),
            ("messages", Some(20), 4)
        );
        assert!(parse_fields("messages.limit(x)").is_err());
        assert!(parse_fields("messages{id").is_err());
    }

    #[test]
    fn graph_time_formats() {
        assert_eq!(graph_time(0), "1970-01-01T00:00:00+0000");
        assert_eq!(graph_time(1_795_255_200_000), "2026-11-21T10:00:00+0000");
        assert_eq!(graph_time(1_709_164_800_250), "2024-02-29T00:00:00+0000");
    }
}
