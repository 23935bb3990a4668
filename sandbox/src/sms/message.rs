//! Validation of a send request and the Twilio Message resource built from it.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::errors::TwilioError;
use super::segments::{self, Encoding};

pub const API_VERSION: &str = "2010-04-01";
/// Twilio rejects longer bodies with 21617.
const MAX_BODY_CHARS: usize = 1600;

/// A send request that passed validation.
#[derive(Debug, Clone)]
pub struct Draft {
    pub to: String,
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    pub body: String,
    pub media_urls: Vec<String>,
    pub status_callback: Option<String>,
}

/// First non-empty value of a form field; Twilio treats an empty field as absent.
pub fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

/// `+` followed by 8 to 15 digits.
fn is_e164(n: &str) -> bool {
    n.strip_prefix('+')
        .is_some_and(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Applies Twilio's checks in the order Twilio reports them, including the documented magic
/// test numbers (To: 0001 invalid, 0002 unroutable, 0004 opted out, 0009 not SMS-capable;
/// From: 0001 invalid, 0007 not owned, 0008 queue full).
pub fn validate(form: &[(String, String)]) -> Result<Draft, TwilioError> {
    let to = field(form, "To")
        .ok_or_else(|| TwilioError::bad_request(21604, "A 'To' phone number is required."))?;
    let from = field(form, "From");
    let service = field(form, "MessagingServiceSid");
    if from.is_none() && service.is_none() {
        return Err(TwilioError::bad_request(
            21603,
            "A 'From' phone number is required.",
        ));
    }
    let body = field(form, "Body").unwrap_or_default();
    let media_urls: Vec<String> = form
        .iter()
        .filter(|(k, v)| k == "MediaUrl" && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect();
    if body.is_empty() && media_urls.is_empty() {
        return Err(TwilioError::bad_request(21602, "Message body is required."));
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(TwilioError::bad_request(
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
        ));
    }
    if !is_e164(to) || to == "+15005550001" {
        return Err(TwilioError::bad_request(
            21211,
            format!("The 'To' number {to} is not a valid phone number."),
        ));
    }
    let shown_from = from.unwrap_or(crate::SANDBOX_FROM_NUMBER);
    match to {
        "+15005550002" => {
            return Err(TwilioError::bad_request(
                21612,
                format!(
                    "The 'To' phone number: {to}, is not currently reachable using the 'From' phone number: {shown_from} via SMS."
                ),
            ));
        }
        "+15005550004" => {
            return Err(TwilioError::bad_request(
                21610,
                "Attempt to send to unsubscribed recipient",
            ));
        }
        "+15005550009" => {
            return Err(TwilioError::bad_request(
                21614,
                format!("To number: {to}, is not a mobile number"),
            ));
        }
        _ => {}
    }
    match from {
        Some(f @ "+15005550001") => {
            return Err(TwilioError::bad_request(
                21212,
                format!(
                    "The 'From' number {f} is not a valid phone number, shortcode, or alphanumeric sender ID."
                ),
            ));
        }
        Some("+15005550007") => {
            return Err(TwilioError::bad_request(
                21606,
                "The 'From' phone number provided is not a valid, message-capable Twilio phone number.",
            ));
        }
        Some("+15005550008") => {
            return Err(TwilioError::bad_request(
                21611,
                "This 'From' number has exceeded the maximum number of queued messages",
            ));
        }
        _ => {}
    }
    Ok(Draft {
        to: to.to_owned(),
        from: from.map(str::to_owned),
        messaging_service_sid: service.map(str::to_owned),
        body: body.to_owned(),
        media_urls,
        status_callback: field(form, "StatusCallback").map(str::to_owned),
    })
}

/// An accepted message and everything the control API reports about it.
#[derive(Debug, Clone)]
pub struct Message {
    pub sid: String,
    pub account_sid: String,
    pub draft: Draft,
    pub form: Vec<(String, String)>,
    pub status: &'static str,
    pub error_code: Option<u32>,
    pub encoding: Encoding,
    pub num_segments: usize,
    pub date_created: SystemTime,
    pub date_updated: SystemTime,
    pub date_sent: Option<SystemTime>,
    /// Fault rule applied to the accepting request, if any.
    pub fault_id: Option<String>,
}

impl Message {
    pub fn new(
        account_sid: &str,
        draft: Draft,
        form: Vec<(String, String)>,
        fault_id: Option<String>,
        now: SystemTime,
    ) -> Self {
        let (encoding, num_segments) = segments::count(&draft.body);
        // Twilio answers "accepted" when a Messaging Service still has to pick the sender.
        let status = if draft.from.is_some() {
            "queued"
        } else {
            "accepted"
        };
        Self {
            sid: format!("SM{:032x}", rand::random::<u128>()),
            account_sid: account_sid.to_owned(),
            draft,
            form,
            status,
            error_code: None,
            encoding,
            num_segments,
            date_created: now,
            date_updated: now,
            date_sent: None,
            fault_id,
        }
    }

    /// The sender callbacks and later fetches report: a Messaging Service send gets the
    /// sandbox number from its "pool".
    pub fn effective_from(&self) -> &str {
        self.draft
            .from
            .as_deref()
            .unwrap_or(crate::SANDBOX_FROM_NUMBER)
    }

    pub fn uri(&self) -> String {
        format!(
            "/{API_VERSION}/Accounts/{}/Messages/{}.json",
            self.account_sid, self.sid
        )
    }

    /// The Message resource as Twilio serialises it (keys in Twilio's alphabetical order).
    /// `from` stays null until a Messaging Service has picked a sender, as in the create
    /// response of the real API.
    pub fn resource(&self) -> Value {
        let from = match (&self.draft.from, self.status) {
            (Some(f), _) => Some(f.as_str()),
            (None, "accepted") => None,
            (None, _) => Some(self.effective_from()),
        };
        let base = format!(
            "/{API_VERSION}/Accounts/{}/Messages/{}",
            self.account_sid, self.sid
        );
        json!({
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.draft.body,
            "date_created": rfc2822(self.date_created),
            "date_sent": self.date_sent.map(rfc2822),
            "date_updated": rfc2822(self.date_updated),
            "direction": "outbound-api",
            "error_code": self.error_code,
            "error_message": self.error_code.map(super::errors::message_for),
            "from": from,
            "messaging_service_sid": self.draft.messaging_service_sid,
            "num_media": self.draft.media_urls.len().to_string(),
            "num_segments": self.num_segments.to_string(),
            "price": null,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {
                "media": format!("{base}/Media.json"),
                "feedback": format!("{base}/Feedback.json"),
            },
            "to": self.draft.to,
            "uri": format!("{base}.json"),
        })
    }
}

/// RFC 2822 date in UTC as Twilio writes it: `Thu, 24 Aug 2023 05:01:45 +0000`.
pub fn rfc2822(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31), after Howard Hinnant's algorithm.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn code(pairs: &[(&str, &str)]) -> Option<u32> {
        validate(&form(pairs)).err().map(|e| e.code)
    }

    #[test]
    fn rfc2822_dates() {
        let t = UNIX_EPOCH + Duration::from_secs(1_692_853_305);
        assert_eq!(rfc2822(t), "Thu, 24 Aug 2023 05:01:45 +0000");
        assert_eq!(rfc2822(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 +0000");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc2822(leap), "Tue, 29 Feb 2000 00:00:00 +0000");
    }

    #[test]
    fn validation_order_and_codes() {
        assert_eq!(code(&[("From", "+1"), ("Body", "x")]), Some(21604));
        assert_eq!(
            code(&[("To", ""), ("From", "+1"), ("Body", "x")]),
            Some(21604)
        );
        assert_eq!(code(&[("To", "+15005550006"), ("Body", "x")]), Some(21603));
        assert_eq!(code(&[("To", "+15005550006"), ("From", "+1")]), Some(21602));
        let ok = [("From", "+15005550006"), ("Body", "x")];
        for (to, expected) in [
            ("12345678", Some(21211)),
            ("+1234567", Some(21211)),
            ("+1234567890123456", Some(21211)),
            ("+1500555000a", Some(21211)),
            ("+15005550001", Some(21211)),
            ("+15005550002", Some(21612)),
            ("+15005550004", Some(21610)),
            ("+15005550009", Some(21614)),
            ("+15005550006", None),
            ("+447700900123", None),
        ] {
            let mut f = ok.to_vec();
            f.push(("To", to));
            assert_eq!(code(&f), expected, "To={to}");
        }
        let media_only = [
            ("To", "+15005550006"),
            ("MessagingServiceSid", "MG1"),
            ("MediaUrl", "http://x/a.png"),
        ];
        let draft = validate(&form(&media_only)).expect("media-only send is valid");
        assert_eq!((draft.from, draft.media_urls.len()), (None, 1));
        let long = "a".repeat(1601);
        assert_eq!(
            code(&[("To", "+15005550006"), ("From", "+1"), ("Body", &long)]),
            Some(21617)
        );
    }
}
