//! The Graph API error envelope:
//! `{"error":{"message","type","code","error_subcode","fbtrace_id"}}`, HTTP 400 for nearly
//! everything (Graph classifies on code/subcode, not on the status), with `is_transient` on
//! the temporary failures.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Graph {status} #{code}/{subcode:?}: {message}")]
pub struct GraphError {
    pub status: StatusCode,
    pub code: u32,
    pub subcode: Option<u32>,
    pub message: String,
    pub retry_after_s: Option<u64>,
    /// Graph's `is_transient`, set for the codes that are (1, 2, 1200); code 1 also names a
    /// few permanent failures (a wrong client secret), which clear it.
    pub transient: bool,
}

impl GraphError {
    pub fn new(code: u32, subcode: Option<u32>, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            subcode,
            message: message.into(),
            retry_after_s: None,
            transient: is_transient_code(code),
        }
    }

    /// `(#100) …`: a parameter problem.
    pub fn param(message: impl std::fmt::Display) -> Self {
        Self::new(100, None, format!("(#100) {message}"))
    }

    pub fn invalid_token() -> Self {
        Self::new(
            190,
            None,
            "Invalid OAuth access token - Cannot parse access token",
        )
    }

    /// A user access token where Graph wants a page's: Graph answers this 190 rather than
    /// the parse failure (seen from `/{page}/messages`, `/{page}/leadgen_forms` and
    /// `/{page}/insights` with a user token, e.g. facebook/facebook-php-business-sdk#428).
    pub fn page_token_required() -> Self {
        Self::new(
            190,
            None,
            "(#190) This method must be called with a Page Access Token",
        )
    }

    /// A user token past its `expires_in`.
    pub fn session_expired() -> Self {
        Self::new(
            190,
            Some(463),
            "Error validating access token: Session has expired.",
        )
    }

    pub fn no_token() -> Self {
        Self::new(
            2500,
            None,
            "An active access token must be used to query information about the current user.",
        )
    }

    /// Graph's answer for an object id the token cannot see.
    pub fn unknown_object(id: &str, method: &str) -> Self {
        Self::new(
            100,
            Some(33),
            format!(
                "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
            ),
        )
    }

    pub fn unknown_path(path: &str) -> Self {
        Self::new(2500, None, format!("Unknown path components: {path}"))
    }

    pub fn outside_window() -> Self {
        Self::new(
            10,
            Some(2018278),
            "(#10) This message is sent outside of allowed window. Learn more about the new policy here: https://developers.facebook.com/docs/messenger-platform/policy-overview",
        )
    }

    pub fn no_matching_user() -> Self {
        Self::new(100, Some(2018001), "(#100) No matching user found")
    }

    pub fn unavailable() -> Self {
        Self::new(551, None, "(#551) This person isn't available right now.")
    }

    /// An injected fault: HTTP `status` and the rule's `code`, which encodes the pair as
    /// described in [`split_code`].
    pub fn injected(status: u16, code: Option<u32>, retry_after_s: Option<u64>) -> Self {
        let (code, subcode) = match code {
            Some(c) => split_code(c),
            None => (default_code(status), None),
        };
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            subcode,
            message: message_for(code, subcode),
            retry_after_s,
            transient: is_transient_code(code),
        }
    }

    pub fn body(&self) -> Value {
        let mut e = Map::new();
        e.insert("message".into(), json!(self.message));
        e.insert("type".into(), json!("OAuthException"));
        e.insert("code".into(), json!(self.code));
        if let Some(s) = self.subcode {
            e.insert("error_subcode".into(), json!(s));
        }
        if self.transient {
            e.insert("is_transient".into(), json!(true));
        }
        e.insert("fbtrace_id".into(), json!(fbtrace_id()));
        json!({ "error": e })
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, Json(self.body())).into_response();
        // Graph puts the auth failure in this header too; clients log it.
        if self.code == 190 {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    "OAuth \"Facebook Platform\" \"invalid_token\" \"Invalid OAuth access token\"",
                ),
            );
        }
        if let Some(secs) = self.retry_after_s {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

fn is_transient_code(code: u32) -> bool {
    matches!(code, 1 | 2 | 1200)
}

/// Graph's trace ids: 11 characters of base64-ish text.
fn fbtrace_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    (0..11)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The fault rule's `code` is one number, but Graph errors are a code/subcode pair:
///
/// - below 1 000 000: a code without subcode (`190`, `613`, `10`, `368`);
/// - 1 000 000 to 9 999 999: a subcode, under the code Graph sends it with
///   ([`parent_code`]: `2018278` → 10/2018278, `1545041` → 200/1545041);
/// - from 10 000 000: `code * 10 000 000 + subcode` for any other pair (`102018108` →
///   10/2018108, `2002018027` → 200/2018027).
pub fn split_code(c: u32) -> (u32, Option<u32>) {
    match c {
        0..=999_999 => (c, None),
        1_000_000..=9_999_999 => (parent_code(c), Some(c)),
        _ => (c / 10_000_000, Some(c % 10_000_000)),
    }
}

/// The code each known subcode comes with.
pub fn parent_code(subcode: u32) -> u32 {
    match subcode {
        2018278 | 2018065 | 2534022 | 2018108 | 2018300 => 10,
        1545041 | 2018027 | 2018028 => 200,
        _ => 100,
    }
}

fn default_code(status: u16) -> u32 {
    match status {
        401 => 190,
        403 => 10,
        429 => 613,
        s if s >= 500 => 2,
        _ => 100,
    }
}

/// Graph's wording for the codes the channel maps (`docs/channels/messenger.md`, "Errors").
pub fn message_for(code: u32, subcode: Option<u32>) -> String {
    let text = match (code, subcode) {
        (10, Some(2018278 | 2018065 | 2534022)) => {
            "(#10) This message is sent outside of allowed window."
        }
        (10, Some(2018108)) => "(#10) This person cannot receive messages right now.",
        (10, Some(2018300)) | (2018300, _) => "(#10) Another app is controlling this thread now.",
        (200, Some(1545041)) => "(#200) This person isn't available right now.",
        (200, Some(2018027 | 2018028)) => {
            "(#200) Cannot message users who are not admins, developers or testers of the app until pages_messaging permission is reviewed and the app is live."
        }
        (100, Some(2018001)) => "(#100) No matching user found",
        (100, Some(2018109)) => "(#100) Attachment size exceeds allowable limit",
        (100, Some(2018008)) => "(#100) Failed to fetch the file from the url",
        (100, Some(2018047)) => "(#100) Upload attachment failure.",
        (100, Some(2018294)) => "(#100) Failed to upload the attachment",
        (190, _) => "Error validating access token: Session has expired.",
        (551, _) => "(#551) This person isn't available right now.",
        (4, _) => "(#4) Application request limit reached",
        (17, _) => "(#17) User request limit reached",
        (32, _) => "(#32) Page request limit reached",
        (341, _) => "(#341) Application limit reached",
        (613, _) => "(#613) Calls to this api have exceeded the rate limit.",
        (1, _) => "An unknown error has occurred.",
        (2, _) => "An unexpected error has occurred. Please retry your request later.",
        (1200, _) => "(#1200) Temporary send message failure. Please try again later",
        (10, _) => "(#10) Application does not have permission for this action",
        (368, _) => {
            "(#368) The action attempted has been deemed abusive or is otherwise disallowed"
        }
        (100, _) => "(#100) Invalid parameter",
        _ => return format!("(#{code}) Sandbox injected error"),
    };
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_split_into_pairs() {
        assert_eq!(split_code(190), (190, None));
        assert_eq!(split_code(2018278), (10, Some(2018278)));
        assert_eq!(split_code(1545041), (200, Some(1545041)));
        assert_eq!(split_code(2018109), (100, Some(2018109)));
        assert_eq!(split_code(102018108), (10, Some(2018108)));
        assert_eq!(split_code(2002018027), (200, Some(2018027)));
    }

    #[test]
    fn envelope_shape() {
        let e = GraphError::injected(400, Some(2018278), None).body();
        assert_eq!(e["error"]["code"], 10);
        assert_eq!(e["error"]["error_subcode"], 2018278);
        assert_eq!(e["error"]["type"], "OAuthException");
        assert_eq!(e["error"]["fbtrace_id"].as_str().map(str::len), Some(11));
        let e = GraphError::injected(503, None, None).body();
        assert_eq!(
            (
                e["error"]["code"].as_u64(),
                e["error"]["is_transient"].as_bool()
            ),
            (Some(2), Some(true))
        );
        assert!(e["error"].get("error_subcode").is_none());
    }
}
