//! Contact sync through the page's conversations:
//! `GET {base}/{version}/{page_id}/conversations?fields=participants,messages.limit(20){id,message,from,created_time}&limit=25[&after=cursor]`
//! (braces percent-encoded). Each conversation is one contact: the participant that is not
//! the page, with its most recent messages. The next cursor is `paging.cursors.after`, only
//! while `paging.next` says there is another page.

use serde_json::Value;
use switchboard_plugin_sdk::prelude::*;

pub const PAGE_SIZE: u32 = 25;
pub const MESSAGES_PER_CONTACT: usize = 20;

pub fn url(root: &str, page_id: &str, cursor: Option<&str>) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair(
        "fields",
        &format!(
            "participants,messages.limit({MESSAGES_PER_CONTACT}){{id,message,from,created_time}}"
        ),
    );
    q.append_pair("limit", &PAGE_SIZE.to_string());
    if let Some(c) = cursor {
        q.append_pair("after", c);
    }
    format!("{root}/{page_id}/conversations?{}", q.finish())
}

pub fn sync_contacts(cursor: Option<&str>) -> Result<ContactPage, SendError> {
    let page_id = config::require("page_id")?;
    if !secrets::has("page_access_token") {
        return Err(SendError::misconfigured("page_access_token"));
    }
    let req = Request::get(url(&crate::api_root(), &page_id, cursor)).bearer("page_access_token");
    let resp = http::send(req).map_err(SendError::from_http)?;
    if !resp.is_success() {
        return Err(crate::errors::map_error(&resp));
    }
    let body: Value = serde_json::from_slice(&resp.body).map_err(|e| {
        SendError::retryable(
            FailureReason::ProviderError,
            None,
            None,
            format!("conversations: not JSON: {e}"),
        )
    })?;
    Ok(parse_page(&body, &page_id))
}

fn id_of(v: &Value) -> Option<String> {
    match v.get("id")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub fn parse_page(body: &Value, page_id: &str) -> ContactPage {
    let contacts = body
        .get("data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|conv| contact(conv, page_id))
        .collect();
    let paging = body.get("paging");
    let next_cursor = paging
        .filter(|p| {
            p.get("next")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty())
        })
        .and_then(|p| p.pointer("/cursors/after"))
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    ContactPage {
        contacts,
        next_cursor,
    }
}

fn contact(conv: &Value, page_id: &str) -> Option<SyncedContact> {
    let participants = conv.pointer("/participants/data")?.as_array()?;
    let user = participants
        .iter()
        .find(|p| id_of(p).is_some_and(|id| id != page_id))?;
    let address = id_of(user)?;
    let messages = conv
        .pointer("/messages/data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .take(MESSAGES_PER_CONTACT)
        .filter_map(|m| {
            let from = m.get("from").and_then(id_of);
            Some(HistoryMessage {
                provider_message_id: id_of(m)?,
                inbound: from.is_some_and(|f| f != page_id),
                text: m
                    .get("message")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string),
                timestamp_ms: m
                    .get("created_time")
                    .and_then(Value::as_str)
                    .and_then(parse_graph_time)
                    .unwrap_or(0),
            })
        })
        .collect();
    Some(SyncedContact {
        address,
        name: user.get("name").and_then(Value::as_str).map(str::to_string),
        messages,
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Graph's `created_time`, `2026-11-21T10:00:00+0000` (also `Z` and `+00:00`), in Unix ms.
pub fn parse_graph_time(s: &str) -> Option<u64> {
    let s = s.trim();
    let num = |a: usize, b: usize| -> Option<i64> {
        let part = s.get(a..b)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if s.get(4..5)? != "-" || s.get(7..8)? != "-" || s.get(10..11)? != "T" {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = s.get(19..)?;
    let mut millis = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        let f = frac.get(..digits)?;
        millis = f.get(..digits.min(3))?.parse::<i64>().unwrap_or(0)
            * 10_i64.pow(3 - digits.min(3) as u32);
        rest = frac.get(digits..)?;
    }
    let offset_min = match rest {
        "Z" | "" => 0,
        _ => {
            let sign = match rest.get(..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let hhmm = rest.get(1..)?.replace(':', "");
            if hhmm.len() != 4 || !hhmm.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            sign * (hhmm.get(..2)?.parse::<i64>().ok()? * 60
                + hhmm.get(2..)?.parse::<i64>().ok()?)
        }
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    u64::try_from(secs * 1000 + millis).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MessengerPlugin;
    use crate::tests::{PAGE, conn, host};
    use serde_json::json;

    #[test]
    fn graph_times_parse() {
        assert_eq!(parse_graph_time("1970-01-01T00:00:00+0000"), Some(0));
        assert_eq!(
            parse_graph_time("2026-11-21T10:00:00+0000"),
            Some(1_795_255_200_000)
        );
        assert_eq!(
            parse_graph_time("2026-11-21T12:00:00+0200"),
            Some(1_795_255_200_000)
        );
        assert_eq!(
            parse_graph_time("2026-11-21T10:00:00Z"),
            Some(1_795_255_200_000)
        );
        assert_eq!(
            parse_graph_time("2026-11-21T05:30:00-04:30"),
            Some(1_795_255_200_000)
        );
        assert_eq!(
            parse_graph_time("2024-02-29T00:00:00.250+0000"),
            Some(1_709_164_800_250)
        );
        for bad in [
            "",
            "2026-11-21",
            "2026-13-01T00:00:00+0000",
            "2026-11-21T10:00:00+00",
            "x026-11-21T10:00:00+0000",
        ] {
            assert_eq!(parse_graph_time(bad), None, "{bad}");
        }
    }

    fn conversation(psid: &str, name: &str, n: usize) -> Value {
        let messages: Vec<Value> = (0..n)
            .map(|i| {
                let from = if i % 2 == 0 {
                    json!({"name": name, "email": format!("{psid}@facebook.com"), "id": psid})
                } else {
                    json!({"name": "Shop", "email": format!("{PAGE}@facebook.com"), "id": PAGE})
                };
                json!({"id": format!("m_{psid}_{i}"), "message": format!("msg {i}"), "from": from,
                       "created_time": "2026-11-21T10:00:00+0000"})
            })
            .collect();
        json!({
            "id": format!("t_{psid}"),
            "participants": {"data": [
                {"name": "Shop", "email": format!("{PAGE}@facebook.com"), "id": PAGE},
                {"name": name, "email": format!("{psid}@facebook.com"), "id": psid},
            ]},
            "messages": {"data": messages, "paging": {"cursors": {"before": "QVFI", "after": "QVFJ"}}},
        })
    }

    #[test]
    fn pages_parse_with_and_without_next() {
        let body = json!({
            "data": [conversation("111", "Ada", 25), conversation("222", "Grace", 2)],
            "paging": {"cursors": {"before": "QkVGT1JF", "after": "QUZURVI="}, "next": "https://graph.facebook.com/v21.0/1/conversations?after=QUZURVI%3D"},
        });
        let p = parse_page(&body, PAGE);
        assert_eq!(p.next_cursor.as_deref(), Some("QUZURVI="));
        assert_eq!(p.contacts.len(), 2);
        let ada = &p.contacts[0];
        assert_eq!(
            (ada.address.as_str(), ada.name.as_deref()),
            ("111", Some("Ada"))
        );
        assert_eq!(ada.messages.len(), 20);
        assert!(ada.messages[0].inbound && !ada.messages[1].inbound);
        assert_eq!(ada.messages[0].provider_message_id, "m_111_0");
        assert_eq!(ada.messages[0].text.as_deref(), Some("msg 0"));
        assert_eq!(ada.messages[0].timestamp_ms, 1_795_255_200_000);
        let last = json!({"data": [conversation("333", "Linus", 1)],
                          "paging": {"cursors": {"before": "a", "after": "b"}}});
        assert_eq!(parse_page(&last, PAGE).next_cursor, None);
        assert!(parse_page(&json!({"data": []}), PAGE).contacts.is_empty());
    }

    #[test]
    fn request_url_and_auth() {
        let h = host()
            .on_http(|_| {
                Ok(Response::new(
                    200,
                    &[],
                    r#"{"data":[],"paging":{"cursors":{"before":"x","after":"y"}}}"#,
                ))
            })
            .install();
        let page = MessengerPlugin::sync_contacts(conn(), Some("QUZ+/=".into())).unwrap();
        assert!(page.contacts.is_empty() && page.next_cursor.is_none());
        h.inspect(|h| {
            let r = &h.requests[0];
            assert_eq!(r.method, "GET");
            assert!(matches!(&r.auth, Some(http::Auth::Bearer(s)) if s == "page_access_token"));
            let (path, query) = r.url.split_once('?').unwrap();
            assert_eq!(
                path,
                format!("https://graph.facebook.com/v21.0/{PAGE}/conversations")
            );
            let q: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
            assert_eq!(
                q,
                [
                    (
                        "fields".to_string(),
                        "participants,messages.limit(20){id,message,from,created_time}".to_string()
                    ),
                    ("limit".to_string(), "25".to_string()),
                    ("after".to_string(), "QUZ+/=".to_string()),
                ]
            );
        });
    }

    #[test]
    fn graph_errors_surface() {
        let _h = host()
            .on_http(|_| {
                Ok(Response::new(
                    400,
                    &[],
                    r#"{"error":{"message":"expired","type":"OAuthException","code":190}}"#,
                ))
            })
            .install();
        let e = MessengerPlugin::sync_contacts(conn(), None).unwrap_err();
        assert_eq!(
            (e.reason, e.provider_code.as_deref()),
            (FailureReason::TokenExpired, Some("190"))
        );
    }
}
