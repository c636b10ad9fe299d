//! The phone simulator page of `smsgate serve` on the embedded emulated
//! network (`/dev/phones`): pick a phone number, see its inbox, reply to a
//! short code — the mobile user's side of the service in one browser tab.
//! It exists only when no real modem is configured.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::network::PartOrder;
use super::Emulator;

const PAGE: &str = include_str!("../../assets/dev/phones.html");
const SCRIPT: &str = include_str!("../../assets/dev/phones.js");

/// Routes to nest under `/dev/phones`.
pub fn router(emulator: Emulator) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/phones.js", get(script))
        .route("/api/short-codes", get(short_codes))
        .route("/api/inbox/{number}", get(inbox))
        .route("/api/send", post(send))
        .with_state(emulator)
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'",
            ),
        ],
        PAGE,
    )
        .into_response()
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

async fn short_codes(State(e): State<Emulator>) -> Json<Vec<String>> {
    Json(e.modems().into_iter().map(|m| m.number).collect())
}

async fn inbox(State(e): State<Emulator>, Path(number): Path<String>) -> Json<serde_json::Value> {
    Json(json!(e.inbox(&number)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBody {
    from: String,
    to: String,
    text: String,
    /// How the parts of a long text travel (`last_lost`: the last one never
    /// arrives).
    #[serde(default)]
    order: PartOrder,
}

async fn send(State(e): State<Emulator>, Json(b): Json<SendBody>) -> Response {
    if b.text.trim().is_empty() || b.text.chars().count() > 1600 {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "text must have 1 to 1600 characters"})),
        )
            .into_response();
    }
    match e.phone_send(&b.from, &b.to, &b.text, b.order) {
        Ok(pdus) => (StatusCode::ACCEPTED, Json(json!({ "pdus": pdus }))).into_response(),
        Err(err) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": err.to_string()})),
        )
            .into_response(),
    }
}
