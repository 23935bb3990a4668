//! `/_sandbox/payments/...`: the simulator's own control endpoints.
//!
//! | endpoint | effect |
//! |---|---|
//! | `GET /_sandbox/payments/charges` | every charge, approved and declined, in creation order |
//! | `GET /_sandbox/payments/cards` | the test tokens with the decline each currently gets |
//! | `PUT /_sandbox/payments/cards/{token}` | `{"decline": "<decline_code>"}` or `{"decline": null}` (approve) from now on → the card; 404 for an unknown token |
//!
//! `POST /_sandbox/reset` forgets charges, counters, stored idempotent responses and overrides.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::{Deserialize, Deserializer};
use serde_json::json;

use super::cards::DeclineCode;
use crate::Shared;

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sandbox/payments/charges", get(charges))
        .route("/_sandbox/payments/cards", get(cards))
        .route("/_sandbox/payments/cards/{token}", put(put_card))
}

/// `decline` must be present: `{}` is more likely a mistake than a request to approve.
fn required_nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DeclineCode>, D::Error> {
    Option::deserialize(d)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CardDto {
    #[serde(deserialize_with = "required_nullable")]
    decline: Option<DeclineCode>,
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

async fn charges(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.payments.charges()).into_response()
}

async fn cards(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.payments.cards()).into_response()
}

async fn put_card(
    State(shared): State<Arc<Shared>>,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let dto: CardDto = match serde_json::from_slice(&body) {
        Ok(dto) => dto,
        Err(e) => {
            let allowed: Vec<&str> = DeclineCode::ALL.iter().map(|d| d.as_str()).collect();
            return error(
                StatusCode::BAD_REQUEST,
                format!("invalid card setting: {e}; decline is null or one of {allowed:?}"),
            );
        }
    };
    match shared.payments.set_card(&token, dto.decline) {
        Some(card) => Json(card).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!("no sandbox card token {token:?} (see GET /_sandbox/payments/cards)"),
        ),
    }
}
