//! `GET /2010-04-01/Accounts/{sid}/Messages.json`: Twilio's Message list, the query a client
//! makes to learn whether a send whose answer was lost created a message.
//!
//! Filters are Twilio's documented ones, `To`, `From`, `DateSent`, `DateSent<` and `DateSent>`
//! (the comparison is part of the parameter name, so `DateSent>=2024-05-01` on the wire is
//! the key `DateSent>` with the value `2024-05-01`). A value is a GMT date `YYYY-MM-DD`, or a
//! date-time as the SDKs send it (`2024-05-01T10:00:00Z`):
//!
//! | parameter | date `D` | date-time `T` |
//! |---|---|---|
//! | `DateSent` | sent on day `D` | sent at second `T` |
//! | `DateSent<` | sent on or before day `D` (the whole day) | sent at or before `T` |
//! | `DateSent>` | sent on or after day `D` (from 00:00:00) | sent at or after `T` |
//!
//! A message whose `date_sent` is still null (queued, accepted) matches no `DateSent*` filter:
//! a filter on a date it does not have cannot hold. Twilio does not document this case; the
//! sandbox takes the answer that cannot make a client believe in a message it was not shown,
//! so a reconciliation must not rely on date filters to find a message sent moments ago.
//!
//! Results are newest first by `date_sent` (messages not yet sent first, then by creation).
//! `PageSize` defaults to 50, 1 to 1000. Paging follows `next_page_uri` / `previous_page_uri`,
//! whose `PageToken` is `PA` + the sid of the last record shown (`PB` + the first one for the
//! previous page), as Twilio's examples show; `Page` is, as Twilio documents it, "simply for
//! client state": it is echoed in `page`, `start`/`end` and the URIs, and selects nothing.

use serde_json::{Value, json};

use super::errors::TwilioError;
use super::message::{API_VERSION, Message};

pub const DEFAULT_PAGE_SIZE: usize = 50;
pub const MAX_PAGE_SIZE: usize = 1000;

/// Twilio's code for a parameter it cannot use; the sandbox's choice of code for bad list
/// parameters, since Twilio documents none for them.
const INVALID_PARAMETER: u32 = 20001;

/// A `DateSent*` bound, in epoch milliseconds: the day `[from, to)` of a date, or one second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    from: u64,
    /// Exclusive.
    to: u64,
}

const DAY_MS: u64 = 86_400_000;

/// `YYYY-MM-DD` (a whole GMT day) or an RFC 3339 date-time (one second).
fn parse_span(value: &str) -> Option<Span> {
    let v = value.trim();
    if v.len() == 10 {
        let from = switchboard_iso_time::parse_iso(&format!("{v}T00:00:00Z"))?;
        return Some(Span {
            from,
            to: from + DAY_MS,
        });
    }
    let t = switchboard_iso_time::parse_iso(v)?;
    let from = t - t % 1000;
    Some(Span {
        from,
        to: from + 1000,
    })
}

/// A parsed list request.
#[derive(Debug, Default)]
pub struct ListQuery {
    to: Option<String>,
    from: Option<String>,
    on: Option<(String, Span)>,
    before: Option<(String, Span)>,
    after: Option<(String, Span)>,
    page_size: usize,
    page: u64,
    page_token: Option<String>,
}

fn invalid(message: String) -> TwilioError {
    TwilioError::bad_request(INVALID_PARAMETER, message)
}

impl ListQuery {
    /// Reads Twilio's parameters from the query string; unknown parameters are ignored, as
    /// Twilio ignores them. The last value of a repeated parameter wins.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, TwilioError> {
        let mut q = Self {
            page_size: DEFAULT_PAGE_SIZE,
            ..Self::default()
        };
        for (k, v) in pairs {
            let date = |k: &str| {
                parse_span(v).map(|s| (v.clone(), s)).ok_or_else(|| {
                    invalid(format!(
                        "Invalid {k} '{v}': expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ"
                    ))
                })
            };
            match k.as_str() {
                "To" => q.to = Some(v.clone()).filter(|v| !v.is_empty()),
                "From" => q.from = Some(v.clone()).filter(|v| !v.is_empty()),
                "DateSent" => q.on = Some(date(k)?),
                "DateSent<" => q.before = Some(date(k)?),
                "DateSent>" => q.after = Some(date(k)?),
                "PageSize" => {
                    q.page_size = v
                        .trim()
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
                        .ok_or_else(|| {
                            invalid(format!(
                                "Invalid PageSize '{v}': must be 1 to {MAX_PAGE_SIZE}"
                            ))
                        })?;
                }
                "Page" => {
                    q.page = v
                        .trim()
                        .parse()
                        .map_err(|_| invalid(format!("Invalid Page '{v}'")))?;
                }
                "PageToken" => q.page_token = Some(v.clone()).filter(|v| !v.is_empty()),
                _ => {}
            }
        }
        Ok(q)
    }

    fn matches(&self, m: &Message) -> bool {
        if self.to.as_deref().is_some_and(|to| to != m.draft.to) {
            return false;
        }
        if self
            .from
            .as_deref()
            .is_some_and(|from| from != m.effective_from())
        {
            return false;
        }
        let dated = self.on.is_some() || self.before.is_some() || self.after.is_some();
        if !dated {
            return true;
        }
        let Some(sent) = m.date_sent.map(ms) else {
            return false;
        };
        self.on
            .as_ref()
            .is_none_or(|(_, s)| s.from <= sent && sent < s.to)
            && self.before.as_ref().is_none_or(|(_, s)| sent < s.to)
            && self.after.as_ref().is_none_or(|(_, s)| s.from <= sent)
    }

    /// The request's filters in Twilio's order, for the page URIs.
    fn filter_pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(to) = &self.to {
            out.push(("To", to.clone()));
        }
        if let Some(from) = &self.from {
            out.push(("From", from.clone()));
        }
        for (key, bound) in [
            ("DateSent", &self.on),
            ("DateSent<", &self.before),
            ("DateSent>", &self.after),
        ] {
            if let Some((raw, _)) = bound {
                out.push((key, raw.clone()));
            }
        }
        out
    }

    fn uri(&self, account: &str, page: u64, token: Option<String>) -> String {
        let mut pairs = self.filter_pairs();
        pairs.push(("PageSize", self.page_size.to_string()));
        pairs.push(("Page", page.to_string()));
        if let Some(t) = token {
            pairs.push(("PageToken", t));
        }
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        format!("/{API_VERSION}/Accounts/{account}/Messages.json?{query}")
    }
}

fn ms(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Newest first by `date_sent`; unsent messages (no `date_sent`) are the newest of all.
/// `messages` is in creation order, which breaks ties (later created first).
fn newest_first(messages: Vec<Message>) -> Vec<Message> {
    let mut indexed: Vec<(usize, Message)> = messages.into_iter().enumerate().collect();
    indexed.sort_by(|(ia, a), (ib, b)| {
        let key = |m: &Message| m.date_sent.map_or(u64::MAX, ms);
        key(b).cmp(&key(a)).then(ib.cmp(ia))
    });
    indexed.into_iter().map(|(_, m)| m).collect()
}

/// One page of the account's messages as Twilio's list envelope. `messages` are every message
/// of the account, in creation order.
pub fn page(account: &str, messages: Vec<Message>, q: &ListQuery) -> Result<Value, TwilioError> {
    let all: Vec<Message> = newest_first(messages)
        .into_iter()
        .filter(|m| q.matches(m))
        .collect();
    let position = |sid: &str| all.iter().position(|m| m.sid == sid);
    let bad_token = || {
        invalid(format!(
            "Invalid PageToken '{}'",
            q.page_token.clone().unwrap_or_default()
        ))
    };
    let (start_at, end_at) = match q.page_token.as_deref() {
        None => (0, q.page_size.min(all.len())),
        Some(t) => {
            if let Some(sid) = t.strip_prefix("PA") {
                let s = position(sid).ok_or_else(bad_token)? + 1;
                (s, (s + q.page_size).min(all.len()))
            } else if let Some(sid) = t.strip_prefix("PB") {
                let e = position(sid).ok_or_else(bad_token)?;
                (e.saturating_sub(q.page_size), e)
            } else {
                return Err(bad_token());
            }
        }
    };
    let shown = &all[start_at..end_at];
    let start = q.page.saturating_mul(q.page_size as u64);
    let end = (start + shown.len() as u64).saturating_sub(1).max(start);
    let next = (end_at < all.len())
        .then(|| shown.last())
        .flatten()
        .map(|m| q.uri(account, q.page + 1, Some(format!("PA{}", m.sid))));
    let previous = (start_at > 0).then(|| shown.first()).flatten().map(|m| {
        q.uri(
            account,
            q.page.saturating_sub(1),
            Some(format!("PB{}", m.sid)),
        )
    });
    Ok(json!({
        "end": end,
        "first_page_uri": q.uri(account, 0, None),
        "messages": shown.iter().map(Message::resource).collect::<Vec<_>>(),
        "next_page_uri": next,
        "page": q.page,
        "page_size": q.page_size,
        "previous_page_uri": previous,
        "start": start,
        "uri": q.uri(account, q.page, q.page_token.clone()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn spans_of_dates_and_datetimes() {
        let day = parse_span("2024-05-01").unwrap();
        assert_eq!((day.from, day.to - day.from), (1_714_521_600_000, DAY_MS));
        let sec = parse_span("2024-05-01T10:00:00.250Z").unwrap();
        assert_eq!((sec.from, sec.to - sec.from), (1_714_557_600_000, 1000));
        for bad in ["", "2024-5-1", "yesterday", "2024-13-01"] {
            assert!(parse_span(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn parameters_are_checked() {
        let q = ListQuery::parse(&pairs(&[("To", "+1"), ("Unknown", "x")])).unwrap();
        assert_eq!(
            (q.to.as_deref(), q.page_size),
            (Some("+1"), DEFAULT_PAGE_SIZE)
        );
        for bad in [
            ("PageSize", "0"),
            ("PageSize", "1001"),
            ("PageSize", "x"),
            ("Page", "-1"),
            ("DateSent>", "2024/05/01"),
        ] {
            let e = ListQuery::parse(&pairs(&[bad])).unwrap_err();
            assert_eq!(
                (e.status.as_u16(), e.code),
                (400, INVALID_PARAMETER),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn uris_keep_filters_in_twilios_order() {
        let q = ListQuery::parse(&pairs(&[
            ("PageSize", "2"),
            ("DateSent>", "2008-01-02"),
            ("From", "+987654321"),
            ("To", "+123456789"),
        ]))
        .unwrap();
        assert_eq!(
            q.uri("ACx", 1, Some("PAMM1".into())),
            "/2010-04-01/Accounts/ACx/Messages.json?To=%2B123456789&From=%2B987654321&DateSent%3E=2008-01-02&PageSize=2&Page=1&PageToken=PAMM1"
        );
    }
}
