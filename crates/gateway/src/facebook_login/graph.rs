//! The three Graph API calls "Connect with Facebook" makes, as Facebook Login documents
//! them: the code exchange, the user's pages, and subscribing the app to a page.

use serde::Deserialize;

use super::{FacebookApp, LoginError};

/// What a page of the member's looks like to us; its token is a secret.
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
pub struct Page {
    pub id: String,
    pub name: String,
    pub access_token: String,
}

/// The webhook fields a Messenger connection needs: messages and postbacks in, deliveries and
/// reads for the statuses, and echoes for the replies the page writes outside Switchboard.
pub const SUBSCRIBED_FIELDS: &str =
    "messages,message_deliveries,message_reads,messaging_postbacks,message_echoes";

/// How much of the pages list one sign-in reads (Graph's `limit`): a business with more pages
/// than this picks among the first ones.
const PAGES_LIMIT: u32 = 100;

pub struct Graph<'a> {
    pub app: &'a FacebookApp,
    pub http: &'a reqwest::Client,
}

#[derive(Deserialize)]
struct GraphError {
    error: GraphErrorBody,
}

#[derive(Deserialize)]
struct GraphErrorBody {
    message: String,
    #[serde(default)]
    code: i64,
    #[serde(default)]
    error_subcode: Option<i64>,
}

async fn answer<T: serde::de::DeserializeOwned>(
    what: &'static str,
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, LoginError> {
    let response = sent.map_err(|e| LoginError::Unreachable {
        what,
        detail: e.without_url().to_string(),
    })?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| LoginError::Unreachable {
            what,
            detail: e.without_url().to_string(),
        })?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|e| LoginError::Provider {
            what,
            code: None,
            message: format!("unexpected answer: {e}"),
        });
    }
    Err(match serde_json::from_slice::<GraphError>(&body) {
        Ok(GraphError { error }) => LoginError::Provider {
            what,
            code: Some(match error.error_subcode {
                Some(sub) => format!("{}/{sub}", error.code),
                None => error.code.to_string(),
            }),
            message: error.message,
        },
        Err(_) => LoginError::Provider {
            what,
            code: None,
            message: format!("HTTP {status}"),
        },
    })
}

impl Graph<'_> {
    fn url(&self, path: &str) -> String {
        format!(
            "{}/{}/{path}",
            self.app.graph_url.trim_end_matches('/'),
            self.app.api_version
        )
    }

    /// `GET /oauth/access_token`: the code for a user token.
    pub async fn exchange(&self, code: &str, redirect_uri: &str) -> Result<String, LoginError> {
        #[derive(Deserialize)]
        struct Token {
            access_token: String,
        }
        let sent = self
            .http
            .get(self.url("oauth/access_token"))
            .query(&[
                ("client_id", self.app.app_id.as_str()),
                ("redirect_uri", redirect_uri),
                ("client_secret", self.app.app_secret.as_str()),
                ("code", code),
            ])
            .send()
            .await;
        Ok(answer::<Token>("the code exchange", sent)
            .await?
            .access_token)
    }

    /// `GET /me/accounts`: the pages the user manages, with a page token each.
    pub async fn pages(&self, user_token: &str) -> Result<Vec<Page>, LoginError> {
        #[derive(Deserialize)]
        struct Accounts {
            data: Vec<Page>,
        }
        let sent = self
            .http
            .get(self.url("me/accounts"))
            .bearer_auth(user_token)
            .query(&[
                ("fields", "id,name,access_token"),
                ("limit", &PAGES_LIMIT.to_string()),
            ])
            .send()
            .await;
        Ok(answer::<Accounts>("listing the pages", sent).await?.data)
    }

    /// `POST /{page-id}/subscribed_apps`: the page's events go to the app's webhook.
    pub async fn subscribe(&self, page: &Page) -> Result<(), LoginError> {
        #[derive(Deserialize)]
        struct Success {
            success: bool,
        }
        let sent = self
            .http
            .post(self.url(&format!("{}/subscribed_apps", page.id)))
            .query(&[
                ("subscribed_fields", SUBSCRIBED_FIELDS),
                ("access_token", page.access_token.as_str()),
            ])
            .send()
            .await;
        let done: Success = answer("subscribing the app to the page", sent).await?;
        if done.success {
            Ok(())
        } else {
            Err(LoginError::Provider {
                what: "subscribing the app to the page",
                code: None,
                message: "Graph answered success: false".into(),
            })
        }
    }
}
