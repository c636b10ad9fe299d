//! The public JSON API of the browser session (SPEC "HTTP, public"):
//! `POST /api/send`, `GET /api/session`, `GET /api/session/events` (SSE) and
//! `GET /api/measure` (the SMS cost of a text, by the codec's own rules).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

use super::client::{
    public_id, same_origin, session_cookie, set_session_cookie, ClientAddr, OverHttps,
};
use super::{ApiError, Shared};
use crate::gateway::api::{
    RecipientAnswer, RecipientState, RefusalReason, SendAnswer, SendRequest, SessionEvent,
    SessionView,
};

/// SSE keep-alive comment interval.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long a send that waits its turn (R11) waits at most.
const TURN_WAIT: Duration = Duration::from_secs(10);

pub(crate) fn router() -> Router<Shared> {
    Router::new()
        .route("/api/send", post(send))
        .route("/api/session", get(session))
        .route("/api/session/events", get(events))
        .route("/api/measure", get(measure))
}

/// Sends one message (R1, R2, R11, R13).
#[utoipa::path(post, path = "/api/send", tag = "public",
    request_body = super::openapi::SendRequestDoc,
    responses(
        (status = 202, description = "Accepted; sets the `smsgate_session` cookie", body = super::openapi::SendAnswerDoc),
        (status = 400, description = "invalid_json, invalid_request, too_many_recipients, text_too_long", body = super::error::ErrorBody),
        (status = 403, description = "cross_origin", body = super::error::ErrorBody),
        (status = 409, description = "send_in_progress (R11)", body = super::error::ErrorBody),
        (status = 413, description = "payload_too_large", body = super::error::ErrorBody),
        (status = 422, description = "no_recipient_accepted: no recipient can receive it (each one's reason in `recipients`); no session opens, no cookie is set", body = super::error::ErrorBody),
        (status = 415, description = "unsupported_media_type", body = super::error::ErrorBody),
        (status = 429, description = "rate_limited (R13)", body = super::error::ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until a send may pass"))),
        (status = 503, description = "unavailable", body = super::error::ErrorBody),
    ))]
pub(crate) async fn send(
    State(ctx): State<Shared>,
    ClientAddr(client): ClientAddr,
    OverHttps(https): OverHttps,
    headers: HeaderMap,
    body: Result<Json<SendRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    if !same_origin(&headers) {
        return Err(ApiError::cross_origin());
    }
    let Json(req) = body?;
    let mut answer = do_send(&ctx, session_cookie(&headers), req, client).await?;
    // The secret goes in the HttpOnly cookie only; the body names the
    // session by its public id.
    let cookie = set_session_cookie(&answer.session.id, https);
    answer.session.id = public_id(&answer.session.id);
    Ok((
        StatusCode::ACCEPTED,
        [(header::SET_COOKIE, cookie)],
        Json(answer),
    )
        .into_response())
}

/// The send path shared by the JSON API and the HTML form: limits, checks,
/// the gateway, and per-recipient refusals merged back in request order.
pub(crate) async fn do_send(
    ctx: &Shared,
    session: Option<String>,
    req: SendRequest,
    client: std::net::IpAddr,
) -> Result<SendAnswer, ApiError> {
    do_send_as(ctx, session, req, client, None).await
}

/// [`do_send`] for a browser (`key` none: its address's quota) or a
/// program (its API key's quota).
pub(crate) async fn do_send_as(
    ctx: &Shared,
    session: Option<String>,
    req: SendRequest,
    client: std::net::IpAddr,
    key: Option<&str>,
) -> Result<SendAnswer, ApiError> {
    let quota = match key {
        Some(name) => SendQuota::Key(name),
        None => SendQuota::Client(client),
    };
    checked_send(
        &*ctx.state.gateway,
        &ctx.state.config,
        &ctx.state.limiters,
        session,
        req,
        quota,
    )
    .await
}

/// Whose send quota a send takes from.
#[derive(Debug, Clone, Copy)]
pub enum SendQuota<'a> {
    /// A browser's address.
    Client(std::net::IpAddr),
    /// An API key.
    Key(&'a str),
    /// Limited by its caller (the MQTT bridge's own per-minute limit).
    Caller,
}

/// Every send, whatever its entry point (page, API, Kannel, MQTT): the
/// quotas, the checks, the gateway, and per-recipient refusals merged back
/// in request order.
pub async fn checked_send(
    gateway: &dyn crate::gateway::api::GatewayApi,
    config: &super::WebConfig,
    limiters: &super::limits::Limiters,
    session: Option<String>,
    req: SendRequest,
    quota: SendQuota<'_>,
) -> Result<SendAnswer, ApiError> {
    let limits = &config.limits;
    let taken = match quota {
        SendQuota::Key(name) => limiters.key_may_send(name),
        SendQuota::Client(client) => limiters.client_may_send(client),
        SendQuota::Caller => Ok(()),
    };
    if let Err(wait) = taken {
        return Err(ApiError::rate_limited(wait));
    }
    let client = match quota {
        SendQuota::Client(c) => c,
        _ => std::net::IpAddr::from([127, 0, 0, 1]),
    };
    if req.text.trim().is_empty() {
        return Err(ApiError::bad_request(
            "invalid_request",
            "the message is empty",
        ));
    }
    if req.to.is_empty() {
        return Err(ApiError::bad_request("invalid_request", "no recipient"));
    }
    if limits.max_recipients != 0 && req.to.len() > limits.max_recipients as usize {
        return Err(ApiError::bad_request(
            "too_many_recipients",
            format!("at most {} recipients", limits.max_recipients),
        ));
    }
    let parts = crate::sms::measure(&req.text).parts;
    if limits.max_parts != 0 && parts > limits.max_parts as usize {
        return Err(ApiError::bad_request(
            "text_too_long",
            format!(
                "the message takes {parts} SMS; at most {}",
                limits.max_parts
            ),
        ));
    }
    // Per-recipient quota: refused ones stay out of the gateway's request.
    let mut limited: Vec<Option<RecipientAnswer>> = Vec::with_capacity(req.to.len());
    let mut passed = Vec::new();
    let mut soonest: Option<std::time::Duration> = None;
    for typed in &req.to {
        let normalized = crate::session::normalize(typed, &config.country).map(|m| m.0);
        match normalized.map(|n| (limiters.recipient_may_receive(&n), n)) {
            Ok((Err(wait), n)) => {
                soonest = Some(soonest.map_or(wait, |s| s.min(wait)));
                limited.push(Some(RecipientAnswer {
                    to: n,
                    status: RecipientState::Refused,
                    short_code: None,
                    can_reply: false,
                    reason: Some(RefusalReason::RateLimited),
                }));
            }
            _ => {
                limited.push(None);
                passed.push(typed.clone());
            }
        }
    }
    if passed.is_empty() {
        // Every recipient is over its quota: the first to have room again.
        return Err(ApiError::rate_limited(soonest.unwrap_or_default()));
    }
    let wait_turn = req.owner.as_ref().is_some_and(|o| o.wait_turn);
    let request = SendRequest {
        to: passed,
        text: req.text,
        // Kept in the session's message, with their reason.
        refused: limited
            .iter()
            .flatten()
            .map(|r| crate::session::RefusedRecipient {
                to: r.to.clone(),
                reason: RefusalReason::RateLimited.as_str().to_string(),
            })
            .collect(),
        owner: req.owner,
    };
    // R11: a client that cannot retry waits for the conversation's
    // previous send (the quotas above were taken once).
    let turn_until = std::time::Instant::now() + TURN_WAIT;
    let answer = loop {
        match gateway.send(session.clone(), request.clone(), client).await {
            Err(crate::gateway::api::SendError::SendInProgress)
                if wait_turn && std::time::Instant::now() < turn_until =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => break other?,
        }
    };
    let mut from_gateway = answer.recipients.into_iter();
    let mut recipients: Vec<RecipientAnswer> = limited
        .into_iter()
        .filter_map(|l| l.or_else(|| from_gateway.next()))
        .collect();
    recipients.extend(from_gateway);
    if !recipients
        .iter()
        .any(|r| r.status != RecipientState::Refused)
    {
        // Nothing was sent: no session, no cookie, and the reasons.
        return Err(ApiError::no_recipient_accepted(recipients));
    }
    Ok(SendAnswer {
        session: answer.session,
        message: answer.message,
        recipients,
    })
}

/// The live conversation of owner `key` (an API key, or MQTT) that holds
/// `number`, on `from` when one is asked for, by its session secret: what
/// a Kannel or MQTT send to that number continues (R5).
pub async fn live_conversation(
    gateway: &dyn crate::gateway::api::GatewayApi,
    country: &str,
    key: &str,
    number: &str,
    from: Option<&str>,
) -> Option<String> {
    let normalized = crate::session::normalize(number, country).ok()?.0;
    let keys = gateway.api_keys();
    let (k, n) = (key.to_string(), normalized.clone());
    let holder = tokio::task::spawn_blocking(move || keys.holder_of_number(&k, &n))
        .await
        .ok()?
        .ok()??;
    let view = gateway.session(&holder.session).await?;
    // The pair the conversation holds with the number.
    let code = view
        .messages
        .iter()
        .flat_map(|m| &m.recipients)
        .find(|r| r.to == normalized && r.status != RecipientState::Refused)
        .and_then(|r| r.short_code.clone())?;
    if from.is_some_and(|f| f != code) {
        return None;
    }
    Some(holder.session)
}

/// The browser's live session (R2, R4).
#[utoipa::path(get, path = "/api/session", tag = "public",
    responses(
        (status = 200, description = "The live session", body = super::openapi::SessionViewDoc),
        (status = 404, description = "no_session: never started, ended, or not this browser's", body = super::error::ErrorBody),
    ))]
pub(crate) async fn session(
    State(ctx): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<SessionView>, ApiError> {
    let id = session_cookie(&headers).ok_or_else(ApiError::no_session)?;
    let mut view = ctx
        .state
        .gateway
        .session(&id)
        .await
        .ok_or_else(ApiError::no_session)?;
    view.id = public_id(&view.id);
    Ok(Json(view))
}

/// Live events of the browser's session as Server-Sent Events (R3, R4).
#[utoipa::path(get, path = "/api/session/events", tag = "public",
    responses(
        (status = 200, description = "text/event-stream of `reply`, `status` and `expired` events (JSON data); ends after `expired`", content_type = "text/event-stream", body = String),
        (status = 404, description = "no_session", body = super::error::ErrorBody),
    ))]
pub(crate) async fn events(
    State(ctx): State<Shared>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let id = session_cookie(&headers).ok_or_else(ApiError::no_session)?;
    let rx = ctx
        .state
        .gateway
        .subscribe(&id)
        .await
        .ok_or_else(ApiError::no_session)?;
    Ok(live_events(&ctx, rx, &id, client))
}

/// A session's events as a Server-Sent Events answer with keep-alives (the
/// page's stream and a conversation's), within the session's and the
/// client's stream bounds (the oldest past them gets `reconnect`).
pub(crate) fn live_events(
    ctx: &Shared,
    rx: broadcast::Receiver<Arc<SessionEvent>>,
    session: &str,
    client: std::net::IpAddr,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let limits = &ctx.state.config.conn;
    let slot = ctx.state.streams.open(
        session,
        client,
        limits.max_streams_per_session,
        limits.max_streams_per_client,
    );
    Sse::new(event_stream(rx, ctx.state.shutdown.clone(), slot))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

/// Turns gateway events into SSE events; ends after `expired`, when the
/// gateway drops the channel, on shutdown, or (after a `reconnect` event)
/// when a newer stream of the session or client took its place.
fn event_stream(
    rx: broadcast::Receiver<Arc<SessionEvent>>,
    shutdown: CancellationToken,
    slot: super::streams::StreamSlot,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(Some((rx, shutdown, slot)), |st| async move {
        let (mut rx, shutdown, slot) = st?;
        loop {
            let ev = tokio::select! {
                _ = shutdown.cancelled() => return None,
                _ = slot.evicted.cancelled() => {
                    let bye = Event::default().event("reconnect").data("{}");
                    return Some((Ok(bye), None));
                }
                r = rx.recv() => match r {
                    Ok(ev) => ev,
                    // The browser reconnects and reads the whole session
                    // again, so nothing it missed stays missing.
                    Err(RecvError::Lagged(n)) => {
                        tracing::info!(missed = n, "SSE client fell behind; stream ended for a resync");
                        return None;
                    }
                    Err(RecvError::Closed) => return None,
                },
            };
            let end = matches!(*ev, SessionEvent::Expired { .. });
            let data = match serde_json::to_value(&*ev) {
                Ok(mut v) => v["data"].take().to_string(),
                Err(e) => {
                    tracing::error!(%e, "cannot serialise a session event");
                    continue;
                }
            };
            let event = Event::default().event(ev.name()).data(data);
            let next = if end {
                None
            } else {
                Some((rx, shutdown, slot))
            };
            return Some((Ok(event), next));
        }
    })
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub(crate) struct MeasureQuery {
    /// The message text.
    text: String,
}

/// What a text costs in SMS (the page's live counter uses the same rules).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Measure {
    /// `gsm7` or `ucs2`.
    pub encoding: String,
    pub parts: usize,
    /// Septets (GSM 7-bit) or UTF-16 units (UCS-2) of the whole text.
    pub units: usize,
    /// Units left in the last part before another part is needed.
    pub units_left: usize,
    /// Characters (Unicode scalar values).
    pub chars: usize,
    /// `limits.max_parts` (0 = no limit).
    pub max_parts: u32,
}

/// `GET /api/measure?text=`.
#[utoipa::path(get, path = "/api/measure", tag = "public",
    params(MeasureQuery),
    responses((status = 200, description = "The SMS cost of the text", body = Measure)))]
pub(crate) async fn measure(
    State(ctx): State<Shared>,
    query: Result<Query<MeasureQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Measure>, ApiError> {
    let Query(q) = query?;
    let info = crate::sms::measure(&q.text);
    Ok(Json(Measure {
        encoding: info.encoding.as_str().to_string(),
        parts: info.parts,
        units: info.units_used,
        units_left: info.units_left_in_part,
        chars: q.text.chars().count(),
        max_parts: ctx.state.config.limits.max_parts,
    }))
}
