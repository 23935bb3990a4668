//! "Connect with Facebook": Facebook Login for Business's manual flow, run by the console.
//!
//! 1. [`FacebookLogin::start`] records a flow under the digest of a random `state` and sends
//!    the member to Facebook's dialog.
//! 2. Facebook sends the browser back with `code` and `state` (or `error=access_denied`).
//!    [`FacebookLogin::callback`] takes the state once (unknown, replayed or expired states
//!    are refused), exchanges the code for a user token, lists the pages with `/me/accounts`
//!    and keeps them sealed in the flow: page tokens never reach the browser.
//! 3. The member picks pages; [`FacebookLogin::connect`] seals each page token into its
//!    connection (a new one, or the page's existing connection, which a new token
//!    reconnects) and subscribes the app to the page's webhooks.
//!
//! Why the callback needs no session: Facebook redirects from another site, and the
//! console's `SameSite=Strict` cookie does not travel on such a redirect. The flow's state is
//! the callback's proof; the pick form that follows is posted from the console itself, where
//! the session is checked and must be the member who started the flow.

mod graph;

use std::sync::Arc;

pub use graph::{Page, SUBSCRIBED_FIELDS};

use crate::connections::{self, ConnectionPatch, Connections, ConnectionsError, secrets_owner};
use crate::model::{new_id, now_ms};
use crate::runtime::PluginRuntime;
use crate::store::oauth_flows::{self, FlowRow};
use crate::store::{ConnectionRecord, Store, StoreError};
use crate::tenancy::members::{new_token, token_digest};
use crate::vault::{Vault, VaultError};

/// The plugin a connected page runs on.
pub const PLUGIN: &str = "facebook-messenger";
/// How long a member has from "Connect with Facebook" to picking pages.
pub const FLOW_TTL_MS: i64 = 15 * 60 * 1000;
/// The permissions Messenger needs.
pub const SCOPE: &str = "pages_show_list,pages_messaging,pages_manage_metadata";
/// Graph's own address: a connection on it needs no `base_url`.
pub const GRAPH_URL: &str = "https://graph.facebook.com";
pub const DIALOG_URL: &str = "https://www.facebook.com";
/// The Graph version the flow speaks (the Messenger plugin's default).
pub const API_VERSION: &str = "v21.0";

/// The operator's Facebook app.
#[derive(Debug, Clone)]
pub struct FacebookApp {
    pub app_id: String,
    pub app_secret: String,
    /// What the app's webhook subscription handshake answers with.
    pub verify_token: String,
    pub graph_url: String,
    pub dialog_url: String,
    pub api_version: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("this gateway has no Facebook app configured")]
    Unconfigured,
    #[error("the sign-in with Facebook is unknown, already used or expired; start again")]
    BadState,
    #[error("Facebook access was not granted ({reason}): {description}")]
    Denied { reason: String, description: String },
    #[error("this page choice is unknown, already used or not yours; start again")]
    BadFlow,
    #[error("pick at least one page")]
    NothingPicked,
    #[error("{what} failed: Facebook could not be reached ({detail})")]
    Unreachable { what: &'static str, detail: String },
    #[error("{what} failed: {message}{}", code.as_ref().map(|c| format!(" (Graph error {c})")).unwrap_or_default())]
    Provider {
        what: &'static str,
        code: Option<String>,
        message: String,
    },
    #[error("the {PLUGIN} plugin is not loaded")]
    PluginMissing,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Connections(#[from] ConnectionsError),
}

impl From<VaultError> for LoginError {
    fn from(e: VaultError) -> Self {
        LoginError::Connections(e.into())
    }
}

/// What Facebook's redirect brought back.
#[derive(Debug, Default)]
pub struct Callback {
    pub state: String,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_reason: Option<String>,
    pub error_description: Option<String>,
}

/// A page to pick, and whether this workspace already has it.
#[derive(Debug, Clone)]
pub struct PageChoice {
    pub id: String,
    pub name: String,
    /// The connection this page already has here.
    pub connected_as: Option<String>,
}

/// Pages listed by a callback, waiting for the member's pick.
#[derive(Debug)]
pub struct Picking {
    pub flow_id: String,
    /// The pick form's token (its CSRF guard, bound to the flow).
    pub pick_token: String,
    pub workspace_id: String,
    pub member_id: String,
    pub reconnect: Option<String>,
    pub pages: Vec<PageChoice>,
}

/// One picked page, connected.
#[derive(Debug)]
pub struct Connected {
    pub connection_id: String,
    pub page_name: String,
    /// The page had a connection that waited for new credentials.
    pub reconnected: bool,
    /// Messages that failed `token_expired` on it: resendable now.
    pub held: usize,
}

pub struct FacebookLogin {
    app: Option<FacebookApp>,
    http: reqwest::Client,
    store: Arc<Store>,
    vault: Arc<Vault>,
    connections: Arc<Connections>,
    runtime: Arc<PluginRuntime>,
    public_url: String,
    /// In sandbox mode, the simulators: Facebook has one webhook URL per app, the sandbox
    /// one per page, so a connected page's URL is handed to the simulator.
    sandbox_url: Option<String>,
}

impl FacebookLogin {
    pub fn new(
        app: Option<FacebookApp>,
        store: Arc<Store>,
        vault: Arc<Vault>,
        connections: Arc<Connections>,
        runtime: Arc<PluginRuntime>,
        public_url: String,
        sandbox_url: Option<String>,
    ) -> FacebookLogin {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        FacebookLogin {
            app,
            http,
            store,
            vault,
            connections,
            runtime,
            public_url,
            sandbox_url,
        }
    }

    pub fn configured(&self) -> bool {
        self.app.is_some()
    }

    fn app(&self) -> Result<&FacebookApp, LoginError> {
        self.app.as_ref().ok_or(LoginError::Unconfigured)
    }

    /// Where Facebook sends the browser back: the console's callback.
    pub fn redirect_uri(&self) -> String {
        format!(
            "{}/console/connections/facebook/callback",
            self.public_url.trim_end_matches('/')
        )
    }

    /// Start a flow for `member_id` of `workspace_id` (reconnecting `reconnect`, if given):
    /// the dialog URL to send the browser to.
    pub async fn start(
        &self,
        workspace_id: String,
        member_id: String,
        reconnect: Option<String>,
    ) -> Result<String, LoginError> {
        let app = self.app()?;
        let state = new_token();
        let now = now_ms();
        let row = FlowRow {
            id: new_id("flw"),
            workspace_id,
            member_id,
            provider: "facebook".into(),
            reconnect,
            created_at: now,
            expires_at: now + FLOW_TTL_MS,
            called_back_at: None,
            pick_token_hash: None,
            sealed_pages: None,
            finished_at: None,
        };
        let digest = token_digest(&state);
        self.store
            .write(move |t| oauth_flows::insert_flow(t, &row, &digest))
            .await?;
        let mut url = reqwest::Url::parse(&format!(
            "{}/{}/dialog/oauth",
            app.dialog_url.trim_end_matches('/'),
            app.api_version
        ))
        .map_err(|e| LoginError::Provider {
            what: "the dialog address",
            code: None,
            message: e.to_string(),
        })?;
        url.query_pairs_mut()
            .append_pair("client_id", &app.app_id)
            .append_pair("redirect_uri", &self.redirect_uri())
            .append_pair("state", &state)
            .append_pair("scope", SCOPE)
            .append_pair("response_type", "code");
        Ok(url.into())
    }

    /// Facebook's redirect: take the state once, then exchange the code and list the pages.
    pub async fn callback(&self, back: Callback) -> Result<Picking, LoginError> {
        let app = self.app()?;
        let digest = token_digest(&back.state);
        let now = now_ms();
        let flow = self
            .store
            .write(move |t| oauth_flows::take_state(t, &digest, now))
            .await?
            .ok_or(LoginError::BadState)?;
        if back.error.is_some() || back.code.is_none() {
            let id = flow.id.clone();
            self.store
                .write(move |t| oauth_flows::finish_flow(t, &id, now))
                .await?;
            return Err(LoginError::Denied {
                reason: back
                    .error_reason
                    .or(back.error)
                    .unwrap_or_else(|| "no code".into()),
                description: back
                    .error_description
                    .unwrap_or_else(|| "Facebook sent no authorization code".into()),
            });
        }
        let graph = graph::Graph {
            app,
            http: &self.http,
        };
        let user_token = graph
            .exchange(
                back.code.as_deref().unwrap_or_default(),
                &self.redirect_uri(),
            )
            .await?;
        let pages = graph.pages(&user_token).await?;
        let pick_token = new_token();
        let sealed = self.vault.seal_json(&flow_owner(&flow.id), &pages)?;
        {
            let (id, digest) = (flow.id.clone(), token_digest(&pick_token));
            self.store
                .write(move |t| oauth_flows::set_pages(t, &id, &digest, &sealed))
                .await?;
        }
        let pages = pages
            .into_iter()
            .map(|p| PageChoice {
                connected_as: self.connection_of(&flow.workspace_id, &p.id),
                id: p.id,
                name: p.name,
            })
            .collect();
        Ok(Picking {
            flow_id: flow.id,
            pick_token,
            workspace_id: flow.workspace_id,
            member_id: flow.member_id,
            reconnect: flow.reconnect,
            pages,
        })
    }

    /// The workspace's connection for a page, if it has one.
    pub fn connection_of(&self, workspace_id: &str, page_id: &str) -> Option<String> {
        self.connections
            .in_workspace(workspace_id)
            .into_iter()
            .find(|c| {
                c.plugin == PLUGIN
                    && c.ctx.config.get("page_id").map(String::as_str) == Some(page_id)
            })
            .map(|c| c.id.clone())
    }

    /// Connect the picked pages of a flow, as `member_id` of `workspace_id` (the session's).
    pub async fn connect(
        &self,
        workspace_id: &str,
        member_id: &str,
        flow_id: &str,
        pick_token: &str,
        picked: &[String],
    ) -> Result<Vec<Connected>, LoginError> {
        let app = self.app()?;
        let flow = {
            let id = flow_id.to_string();
            self.store
                .read(move |c| oauth_flows::flow_by_id(c, &id))
                .await?
        };
        let flow = flow
            .filter(|f| {
                f.workspace_id == workspace_id
                    && f.member_id == member_id
                    && f.finished_at.is_none()
                    && f.expires_at > now_ms()
                    && f.pick_token_hash.as_deref() == Some(token_digest(pick_token).as_str())
            })
            .ok_or(LoginError::BadFlow)?;
        if picked.is_empty() {
            return Err(LoginError::NothingPicked);
        }
        let pages: Vec<Page> = match &flow.sealed_pages {
            Some(sealed) => self.vault.open_json(&flow_owner(&flow.id), sealed)?,
            None => return Err(LoginError::BadFlow),
        };
        // Finished before any page is touched: a second post of the same form connects
        // nothing twice.
        {
            let (id, now) = (flow.id.clone(), now_ms());
            if !self
                .store
                .write(move |t| oauth_flows::finish_flow(t, &id, now))
                .await?
            {
                return Err(LoginError::BadFlow);
            }
        }
        let graph = graph::Graph {
            app,
            http: &self.http,
        };
        let mut connected = Vec::new();
        for page in pages.iter().filter(|p| picked.contains(&p.id)) {
            let (connection_id, reconnected) = self.seal_page(app, workspace_id, page).await?;
            graph.subscribe(page).await?;
            self.point_sandbox_webhook(&page.id, &connection_id).await;
            let held = self
                .store
                .failed_on_connection(
                    workspace_id.to_string(),
                    connection_id.clone(),
                    vec!["token_expired".into()],
                    1000,
                )
                .await?
                .len();
            connected.push(Connected {
                connection_id,
                page_name: page.name.clone(),
                reconnected,
                held,
            });
        }
        Ok(connected)
    }

    /// The page's token into its connection: the existing one (a new token reconnects it) or
    /// a new one.
    async fn seal_page(
        &self,
        app: &FacebookApp,
        workspace_id: &str,
        page: &Page,
    ) -> Result<(String, bool), LoginError> {
        let secrets = [
            ("page_access_token", page.access_token.clone()),
            ("app_secret", app.app_secret.clone()),
            ("verify_token", app.verify_token.clone()),
        ];
        if let Some(id) = self.connection_of(workspace_id, &page.id) {
            let patch = ConnectionPatch {
                secrets: secrets
                    .iter()
                    .map(|(k, v)| (k.to_string(), Some(v.clone())))
                    .collect(),
                ..ConnectionPatch::default()
            };
            let patched = connections::patch(
                &self.store,
                self.vault.clone(),
                workspace_id.to_string(),
                id.clone(),
                patch,
            )
            .await?
            .ok_or(LoginError::BadFlow)?;
            self.runtime.forget_cached(&id);
            let reconnected = patched.reconnected;
            self.connections
                .upsert(patched.record, &self.vault, &self.public_url)?;
            return Ok((id, reconnected));
        }
        let plugin = self
            .runtime
            .plugin(PLUGIN)
            .ok_or(LoginError::PluginMissing)?;
        let id = new_id("con");
        let mut config =
            std::collections::BTreeMap::from([("page_id".to_string(), page.id.clone())]);
        let mut allowed_origins = Vec::new();
        // Graph elsewhere (the sandbox's simulator) is where this operator said it is.
        if app.graph_url.trim_end_matches('/') != GRAPH_URL {
            config.insert("base_url".into(), app.graph_url.clone());
            allowed_origins.push(app.graph_url.trim_end_matches('/').to_string());
        }
        let secrets: std::collections::BTreeMap<String, String> = secrets
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let now = now_ms();
        let rec = ConnectionRecord {
            sealed_secrets: self.vault.seal_json(&secrets_owner(&id), &secrets)?,
            id: id.clone(),
            workspace_id: workspace_id.to_string(),
            channel: plugin.channel().to_string(),
            plugin: plugin.name().to_string(),
            name: page.name.clone(),
            config,
            allowed_origins,
            max_in_flight: 64,
            status: "active".into(),
            status_detail: None,
            chat: Default::default(),
            created_at: now,
            updated_at: now,
        };
        self.store.put_connection(rec.clone(), false).await?;
        self.connections
            .upsert(rec, &self.vault, &self.public_url)?;
        Ok((id, false))
    }

    /// Sandbox only: tell the simulator where this page's webhooks go (see the module docs).
    async fn point_sandbox_webhook(&self, page_id: &str, connection_id: &str) {
        let Some(sim) = &self.sandbox_url else {
            return;
        };
        let body = serde_json::json!({
            "webhooks": { page_id: connections::webhook_url(&self.public_url, connection_id) }
        });
        let sent = self
            .http
            .put(format!(
                "{}/_sandbox/messenger/config",
                sim.trim_end_matches('/')
            ))
            .json(&body)
            .send()
            .await;
        if let Err(e) = sent.and_then(reqwest::Response::error_for_status) {
            tracing::warn!(error = %e, page = page_id, "the simulator did not take the page's webhook URL");
        }
    }
}

/// The associated data a flow's pages are sealed under.
fn flow_owner(flow_id: &str) -> String {
    format!("oauth_flow:{flow_id}")
}
