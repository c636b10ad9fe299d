//! Conversations over the API (`/api/v1`): what the web page does, for
//! programs. A Bearer token names an API key ([`crate::keys`]); the key,
//! not a cookie, owns its conversations, and holds many at once. The same
//! rules hold as on the page: R1–R13 (R11 per conversation, R5 across all
//! sessions), the key's own send quota, 422 when nobody can be reached.
//!
//! - `POST /api/v1/conversations` `{"to", "text"}` → 202
//!   `{"conversation": {"id", "expires_at"}, "recipients"}`;
//! - `POST /api/v1/conversations/{id}/messages` `{"text", "to"?}`: the
//!   same pairs (R5); 410 once the conversation ended;
//! - `GET /api/v1/conversations/{id}` and `/events` (SSE).

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::client::{public_id, ClientAddr};
use super::public::{do_send_as, live_events};
use super::{ApiError, Shared};
use crate::gateway::api::{RecipientAnswer, RecipientState, SendRequest, SessionRef};
use crate::keys::KeyInfo;

pub(crate) fn router() -> Router<Shared> {
    Router::new()
        .route("/api/v1/conversations", post(open))
        .route("/api/v1/conversations/{id}", get(read))
        .route("/api/v1/conversations/{id}/messages", post(continue_))
        .route("/api/v1/conversations/{id}/events", get(events))
}

/// `POST /api/v1/conversations` body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenRequest {
    pub to: Vec<String>,
    pub text: String,
}

/// `POST /api/v1/conversations/{id}/messages` body: `to` defaults to every
/// number of the conversation.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    pub text: String,
    #[serde(default)]
    pub to: Option<Vec<String>>,
}

/// 202 answer of both.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConversationAnswer {
    #[schema(value_type = Object)]
    pub conversation: SessionRef,
    /// The id of the message this send added (status events name it).
    pub message: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub recipients: Vec<RecipientAnswer>,
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        Json(
            serde_json::json!({"error": "unauthorized", "message": "a valid API key is required"}),
        ),
    )
        .into_response()
}

/// The key of the request's Bearer token, or the 401 to answer.
async fn key_of(ctx: &Shared, headers: &HeaderMap) -> Result<KeyInfo, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .ok_or_else(unauthorized)?;
    let keys = ctx.state.gateway.api_keys();
    let found =
        tokio::task::spawn_blocking(move || keys.authenticate(None, &token, chrono::Utc::now()))
            .await
            .map_err(|e| ApiError::internal(e).into_response())?;
    match found {
        Ok(Some(k)) => Ok(k),
        Ok(None) => Err(unauthorized()),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the API keys");
            Err(ApiError::store_unavailable().into_response())
        }
    }
}

/// The session secret of conversation `id` of `key`: 404 when it is not
/// this key's.
async fn secret_of(ctx: &Shared, key: &str, id: &str) -> Result<String, Response> {
    let keys = ctx.state.gateway.api_keys();
    let (key, id) = (key.to_string(), id.to_string());
    match tokio::task::spawn_blocking(move || keys.owned(&key, &id)).await {
        Ok(Ok(Some(secret))) => Ok(secret),
        Ok(Ok(None)) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_conversation",
            "no conversation of this key has that id",
        )
        .into_response()),
        _ => Err(ApiError::store_unavailable().into_response()),
    }
}

/// The request's key and the secret of its conversation `id`, or the
/// 401/404/503 to answer.
async fn owned(ctx: &Shared, headers: &HeaderMap, id: &str) -> Result<(KeyInfo, String), Response> {
    let key = key_of(ctx, headers).await?;
    let secret = secret_of(ctx, &key.name, id).await?;
    Ok((key, secret))
}

fn ended() -> Response {
    ApiError::new(
        StatusCode::GONE,
        "conversation_ended",
        "the conversation ended; start a new one",
    )
    .into_response()
}

/// Sends for `key`, records that it owns the session, answers 202.
async fn send_owned(
    ctx: &Shared,
    key: &KeyInfo,
    session: Option<String>,
    req: SendRequest,
    client: std::net::IpAddr,
) -> Response {
    let answer = match do_send_as(ctx, session, req, client, Some(&key.name)).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let secret = answer.session.id.clone();
    let public = public_id(&secret);
    let keys = ctx.state.gateway.api_keys();
    let name = key.name.clone();
    let p = public.clone();
    let owned = tokio::task::spawn_blocking(move || {
        keys.own(&name, &p, &secret, chrono::Utc::now())?;
        keys.flush()
    })
    .await;
    if !matches!(owned, Ok(Ok(()))) {
        tracing::error!("cannot record a conversation's key; the send stands");
        return ApiError::store_unavailable().into_response();
    }
    (
        StatusCode::ACCEPTED,
        Json(ConversationAnswer {
            conversation: SessionRef {
                id: public,
                expires_at: answer.session.expires_at,
            },
            message: answer.message,
            recipients: answer.recipients,
        }),
    )
        .into_response()
}

/// Opens a conversation: one message to many numbers.
#[utoipa::path(post, path = "/api/v1/conversations", tag = "api", security(("bearer" = [])),
    request_body = OpenRequest,
    responses((status = 202, body = ConversationAnswer),
        (status = 400, body = super::error::ErrorBody), (status = 401, description = "missing, wrong or revoked token"),
        (status = 422, description = "no_recipient_accepted", body = super::error::ErrorBody),
        (status = 429, body = super::error::ErrorBody)))]
pub(crate) async fn open(
    State(ctx): State<Shared>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    body: Result<Json<OpenRequest>, JsonRejection>,
) -> Response {
    let key = match key_of(&ctx, &headers).await {
        Ok(k) => k,
        Err(r) => return r,
    };
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let req = SendRequest {
        to: req.to,
        text: req.text,
        ..Default::default()
    };
    send_owned(&ctx, &key, None, req, client).await
}

/// Continues a conversation on the same pairs (R5).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "api", security(("bearer" = [])),
    params(("id" = String, Path, description = "conversation id")),
    request_body = MessageRequest,
    responses((status = 202, body = ConversationAnswer),
        (status = 401, description = "missing, wrong or revoked token"),
        (status = 404, description = "no_conversation (not this key's)", body = super::error::ErrorBody),
        (status = 409, description = "send_in_progress (R11)", body = super::error::ErrorBody),
        (status = 410, description = "conversation_ended", body = super::error::ErrorBody)))]
pub(crate) async fn continue_(
    State(ctx): State<Shared>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<MessageRequest>, JsonRejection>,
) -> Response {
    let (key, secret) = match owned(&ctx, &headers, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let Some(view) = ctx.state.gateway.session(&secret).await else {
        return ended();
    };
    // Everyone the conversation wrote to (and could), once each.
    let to = req.to.unwrap_or_else(|| {
        let mut all: Vec<String> = Vec::new();
        for r in view.messages.iter().flat_map(|m| &m.recipients) {
            if r.status != RecipientState::Refused && !all.contains(&r.to) {
                all.push(r.to.clone());
            }
        }
        all
    });
    let req = SendRequest {
        to,
        text: req.text,
        ..Default::default()
    };
    send_owned(&ctx, &key, Some(secret), req, client).await
}

/// The conversation: messages with per-recipient status, and replies.
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "api", security(("bearer" = [])),
    params(("id" = String, Path, description = "conversation id")),
    responses((status = 200, body = super::openapi::SessionViewDoc),
        (status = 401, description = "missing, wrong or revoked token"),
        (status = 404, body = super::error::ErrorBody), (status = 410, body = super::error::ErrorBody)))]
pub(crate) async fn read(
    State(ctx): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (_, secret) = match owned(&ctx, &headers, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    match ctx.state.gateway.session(&secret).await {
        Some(mut v) => {
            v.id = id;
            Json(v).into_response()
        }
        None => ended(),
    }
}

/// Live events of the conversation (`reply`, `status`, `expired`), as the
/// page gets them.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/events", tag = "api", security(("bearer" = [])),
    params(("id" = String, Path, description = "conversation id")),
    responses((status = 200, description = "text/event-stream", content_type = "text/event-stream", body = String),
        (status = 401, description = "missing, wrong or revoked token"),
        (status = 404, body = super::error::ErrorBody), (status = 410, body = super::error::ErrorBody)))]
pub(crate) async fn events(
    State(ctx): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (_, secret) = match owned(&ctx, &headers, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    match ctx.state.gateway.subscribe(&secret).await {
        Some(rx) => live_events(rx, ctx.state.shutdown.clone()).into_response(),
        None => ended(),
    }
}
