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
use crate::gateway::api::{
    ApiOwner, RecipientAnswer, RecipientState, SendAnswer, SendRequest, SessionRef,
};
use crate::keys::KeyInfo;

pub(crate) fn router() -> Router<Shared> {
    Router::new()
        .route("/api/v1/conversations", post(open))
        .route("/api/v1/conversations/{id}", get(read))
        .route("/api/v1/conversations/{id}/messages", post(continue_))
        .route("/api/v1/conversations/{id}/events", get(events))
}

/// `POST /api/v1/conversations` body. `to` is a list, or one number as a
/// string (Home Assistant's RESTful notify sends its first target so).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenRequest {
    #[serde(deserialize_with = "one_or_many")]
    #[schema(value_type = Vec<String>)]
    pub to: Vec<String>,
    pub text: String,
}

/// A list of strings, or one string.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
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

/// The request's `Idempotency-Key`: 1 to 255 visible ASCII characters,
/// or the 400 to answer.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match v.to_str() {
        Ok(k) if (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(k.to_string()))
        }
        _ => Err(ApiError::bad_request(
            "invalid_idempotency_key",
            "an Idempotency-Key is 1 to 255 visible ASCII characters",
        )),
    }
}

/// What a request asked, as a digest: the same `Idempotency-Key` with
/// another request is refused.
pub(crate) fn fingerprint(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The API's answer to a gateway answer: the conversation by public id.
fn conversation_answer(answer: SendAnswer) -> Response {
    (
        StatusCode::ACCEPTED,
        Json(ConversationAnswer {
            conversation: SessionRef {
                id: public_id(&answer.session.id),
                expires_at: answer.session.expires_at,
            },
            message: answer.message,
            recipients: answer.recipients,
        }),
    )
        .into_response()
}

/// Sends for `key` (the gateway records, in the same flush as the send,
/// that the key owns the session and the answer for `idempotency`),
/// answers 202. A retried request is answered as the first was, before
/// any quota: it sends nothing.
async fn send_owned(
    ctx: &Shared,
    key: &KeyInfo,
    session: Option<String>,
    mut req: SendRequest,
    client: std::net::IpAddr,
    idempotency: Option<(String, String)>,
) -> Response {
    if let Some((idem, fingerprint)) = &idempotency {
        let keys = ctx.state.gateway.api_keys();
        let (name, idem) = (key.name.clone(), idem.clone());
        match tokio::task::spawn_blocking(move || keys.remembered(&name, &idem)).await {
            Ok(Ok(Some(r))) if r.fingerprint == *fingerprint => {
                return conversation_answer(r.answer)
            }
            Ok(Ok(Some(_))) => {
                return ApiError::from(crate::gateway::api::SendError::IdempotencyKeyReused)
                    .into_response()
            }
            Ok(Ok(None)) => {}
            _ => return ApiError::store_unavailable().into_response(),
        }
    }
    req.owner = Some(ApiOwner {
        key: key.name.clone(),
        idempotency,
        dlr: None,
        from: None,
        // A program over the API is told 409 and may retry.
        wait_turn: false,
    });
    match do_send_as(ctx, session, req, client, Some(&key.name)).await {
        Ok(a) => conversation_answer(a),
        Err(e) => e.into_response(),
    }
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
    let idem = match idempotency_key(&headers) {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let idem = idem.map(|i| {
        let mut parts = vec!["open", req.text.as_str()];
        parts.extend(req.to.iter().map(String::as_str));
        (i, fingerprint(&parts))
    });
    let req = SendRequest {
        to: req.to,
        text: req.text,
        ..Default::default()
    };
    send_owned(&ctx, &key, None, req, client, idem).await
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
    let idem = match idempotency_key(&headers) {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let idem = idem.map(|i| {
        let mut parts = vec!["message", id.as_str(), req.text.as_str()];
        if let Some(to) = &req.to {
            parts.extend(to.iter().map(String::as_str));
        }
        (i, fingerprint(&parts))
    });
    if let Some((i, f)) = &idem {
        // A retry after the conversation ended still gets its answer.
        let keys = ctx.state.gateway.api_keys();
        let (name, i2) = (key.name.clone(), i.clone());
        if let Ok(Ok(Some(r))) =
            tokio::task::spawn_blocking(move || keys.remembered(&name, &i2)).await
        {
            if r.fingerprint == *f {
                return conversation_answer(r.answer);
            }
        }
    }
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
    send_owned(&ctx, &key, Some(secret), req, client, idem).await
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
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (_, secret) = match owned(&ctx, &headers, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    match ctx.state.gateway.subscribe(&secret).await {
        Some(rx) => live_events(&ctx, rx, &secret, client).into_response(),
        None => ended(),
    }
}
