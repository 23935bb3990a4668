//! What Facebook Login remembers between requests: open consent dialogs, authorization codes,
//! user access tokens and which pages subscribed the app. Times are sim-clock milliseconds, so
//! tests expire codes by moving the clock.

use std::collections::{BTreeMap, HashMap};

/// Facebook lets a code and an unfinished dialog live ten minutes.
pub const DIALOG_TTL_MS: u64 = 10 * 60 * 1000;
pub const CODE_TTL_MS: u64 = 10 * 60 * 1000;
/// What Facebook answers as `expires_in` for a long-lived user token (about 60 days).
pub const USER_TOKEN_EXPIRES_IN_S: u64 = 5_183_944;
/// Used codes are kept this long so a replay is told it was used rather than unknown.
const USED_CODE_KEPT_MS: u64 = 24 * 60 * 60 * 1000;

/// What the dialog was opened with, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogParams {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub scope: Vec<String>,
}

struct Dialog {
    params: DialogParams,
    created_ms: u64,
}

struct Code {
    redirect_uri: String,
    scope: Vec<String>,
    created_ms: u64,
    used: bool,
}

#[derive(Debug, Clone)]
pub struct UserToken {
    pub scope: Vec<String>,
    pub created_ms: u64,
}

impl UserToken {
    pub fn expired(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.created_ms) >= USER_TOKEN_EXPIRES_IN_S * 1000
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeError {
    Unknown,
    Used,
    Expired,
    RedirectMismatch,
}

#[derive(Default)]
pub struct OAuthData {
    /// Dialog id → the dialog a logged-in user has yet to allow or deny.
    dialogs: HashMap<String, Dialog>,
    codes: HashMap<String, Code>,
    tokens: HashMap<String, UserToken>,
    /// Page id → the fields the sandbox app is subscribed to on it.
    subscriptions: BTreeMap<String, Vec<String>>,
}

fn random_b64(bytes: usize) -> String {
    use base64::Engine as _;
    let raw: Vec<u8> = (0..bytes).map(|_| rand::random()).collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

impl OAuthData {
    /// Records a dialog the user has logged into and returns its one-time id.
    pub fn open_dialog(&mut self, params: DialogParams, now_ms: u64) -> String {
        self.dialogs
            .retain(|_, d| now_ms.saturating_sub(d.created_ms) < DIALOG_TTL_MS);
        let id = random_b64(24);
        self.dialogs.insert(
            id.clone(),
            Dialog {
                params,
                created_ms: now_ms,
            },
        );
        id
    }

    /// Removes the dialog: each is answered once. `None` when unknown or expired.
    pub fn take_dialog(&mut self, id: &str, now_ms: u64) -> Option<DialogParams> {
        let d = self.dialogs.remove(id)?;
        (now_ms.saturating_sub(d.created_ms) < DIALOG_TTL_MS).then_some(d.params)
    }

    /// A code for an allowed dialog, shaped like Facebook's (`AQ…`, long, URL-safe).
    pub fn issue_code(&mut self, params: &DialogParams, now_ms: u64) -> String {
        self.codes
            .retain(|_, c| now_ms.saturating_sub(c.created_ms) < USED_CODE_KEPT_MS);
        let code = format!("AQ{}", random_b64(144));
        self.codes.insert(
            code.clone(),
            Code {
                redirect_uri: params.redirect_uri.clone(),
                scope: params.scope.clone(),
                created_ms: now_ms,
                used: false,
            },
        );
        code
    }

    /// Trades a code for a new user token, checking in the order Facebook reports problems:
    /// known, unused, unexpired, same redirect URI. A failed exchange leaves the code usable.
    pub fn exchange(
        &mut self,
        code: &str,
        redirect_uri: &str,
        now_ms: u64,
    ) -> Result<String, ExchangeError> {
        let c = self.codes.get_mut(code).ok_or(ExchangeError::Unknown)?;
        if c.used {
            return Err(ExchangeError::Used);
        }
        if now_ms.saturating_sub(c.created_ms) >= CODE_TTL_MS {
            return Err(ExchangeError::Expired);
        }
        if c.redirect_uri != redirect_uri {
            return Err(ExchangeError::RedirectMismatch);
        }
        c.used = true;
        let scope = c.scope.clone();
        let token = format!("EAAaBcSw1tch{}", random_b64(96));
        self.tokens.insert(
            token.clone(),
            UserToken {
                scope,
                created_ms: now_ms,
            },
        );
        Ok(token)
    }

    pub fn user_token(&self, token: &str) -> Option<UserToken> {
        self.tokens.get(token).cloned()
    }

    pub fn subscribe(&mut self, page_id: &str, fields: Vec<String>) {
        self.subscriptions.insert(page_id.to_owned(), fields);
    }

    pub fn unsubscribe(&mut self, page_id: &str) {
        self.subscriptions.remove(page_id);
    }

    pub fn subscription(&self, page_id: &str) -> Option<Vec<String>> {
        self.subscriptions.get(page_id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> DialogParams {
        DialogParams {
            client_id: "1".into(),
            redirect_uri: "http://127.0.0.1/cb".into(),
            state: None,
            scope: vec!["pages_show_list".into()],
        }
    }

    #[test]
    fn dialogs_are_one_time_and_expire() {
        let mut o = OAuthData::default();
        let id = o.open_dialog(params(), 0);
        assert_eq!(o.take_dialog(&id, 1), Some(params()));
        assert_eq!(o.take_dialog(&id, 1), None);
        let id = o.open_dialog(params(), 0);
        assert_eq!(o.take_dialog(&id, DIALOG_TTL_MS), None);
    }

    #[test]
    fn codes_check_in_facebook_order() {
        let mut o = OAuthData::default();
        let code = o.issue_code(&params(), 0);
        assert!(code.starts_with("AQ") && code.len() > 150);
        assert_eq!(
            o.exchange(&code, "http://127.0.0.1/cb/", 1),
            Err(ExchangeError::RedirectMismatch)
        );
        let token = o.exchange(&code, "http://127.0.0.1/cb", 1).unwrap();
        assert!(o.user_token(&token).is_some());
        assert_eq!(
            o.exchange(&code, "http://127.0.0.1/cb", 2),
            Err(ExchangeError::Used)
        );
        assert_eq!(
            o.exchange("AQnope", "http://127.0.0.1/cb", 2),
            Err(ExchangeError::Unknown)
        );
        let late = o.issue_code(&params(), 0);
        assert_eq!(
            o.exchange(&late, "http://127.0.0.1/cb", CODE_TTL_MS),
            Err(ExchangeError::Expired)
        );
    }
}
