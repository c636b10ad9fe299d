//! The admin API (`/admin/api/*`, bearer token) and the small admin page
//! (`/admin`, static HTML and JS that ask for the token).

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::client::public_id;
use super::openapi::{
    ChargeItemDoc, ModemStatusDoc, OutOfSessionItemDoc, OutboxItemDoc, SessionSummaryDoc,
    SessionViewDoc, UssdAnswerDoc,
};
use super::{ApiError, Shared};
use crate::gateway::api::{ChargeItem, ChargeStream, StoreUnavailable};
use futures_util::StreamExt;

pub(crate) fn router(ctx: Shared) -> Router<Shared> {
    let api = Router::new()
        .route("/admin/api/sessions", get(sessions))
        .route("/admin/api/sessions/{id}", get(session).delete(end_session))
        .route("/admin/api/modems", get(modems))
        .route(
            "/admin/api/modems/{short_code}/ussd",
            axum::routing::post(ussd),
        )
        .route(
            "/admin/api/modems/{short_code}/caps/reset",
            axum::routing::post(reset_caps),
        )
        .route("/admin/api/outbox", get(outbox))
        .route("/admin/api/out-of-session", get(out_of_session))
        .route("/admin/api/charges", get(charges))
        .route("/admin/api/keys", get(keys).post(add_key))
        .route("/admin/api/keys/{name}", axum::routing::delete(revoke_key))
        .route("/admin/api/webhooks", get(webhooks))
        .route(
            "/admin/api/webhooks/{id}/resend",
            axum::routing::post(resend_webhook),
        )
        .route("/admin/api/openapi.json", get(openapi))
        .route_layer(middleware::from_fn_with_state(ctx, require_token));
    Router::new()
        .route("/admin", get(|| async { Html(super::assets::ADMIN_HTML) }))
        .merge(api)
}

/// 401 with `WWW-Authenticate: Bearer` and nothing else unless the request
/// carries the configured token (compared in constant time). With no token
/// configured, every request is refused.
async fn require_token(
    State(ctx): State<Shared>,
    super::client::ClientAddr(client): super::client::ClientAddr,
    req: Request,
    next: Next,
) -> Response {
    let given = bearer(req.headers());
    let ok = match (&ctx.state.config.admin_token, given) {
        (Some(want), Some(got)) => bool::from(want.as_bytes().ct_eq(got.as_bytes())),
        _ => false,
    };
    if ok {
        return next.run(req).await;
    }
    // A wrong token (not a missing one: a page asking for it is not an
    // attack) counts against the client: guessing is rate-limited.
    if given.is_some() {
        let (allowed, log) = ctx.state.limiters.admin_failed(client);
        if let Err(wait) = allowed {
            if log {
                tracing::warn!(%client, "repeated wrong admin tokens; refused for a while");
            }
            return ApiError::rate_limited(wait).into_response();
        }
        if log {
            tracing::info!(%client, "wrong admin token");
        }
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
    )
        .into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Live sessions.
#[utoipa::path(get, path = "/admin/api/sessions", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = [SessionSummaryDoc]), (status = 401, description = "missing or wrong token")))]
async fn sessions(State(ctx): State<Shared>) -> impl IntoResponse {
    let mut list = ctx.state.gateway.sessions().await;
    for s in &mut list {
        s.id = public_id(&s.id);
    }
    Json(list)
}

/// The secret id of the live session whose public id is `public`.
async fn secret_of(ctx: &Shared, public: &str) -> Option<String> {
    ctx.state
        .gateway
        .sessions()
        .await
        .into_iter()
        .map(|s| s.id)
        .find(|id| public_id(id) == public)
}

/// One live session with its messages and replies.
#[utoipa::path(get, path = "/admin/api/sessions/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = SessionViewDoc), (status = 404, body = super::error::ErrorBody),
        (status = 401, description = "missing or wrong token")))]
async fn session(State(ctx): State<Shared>, Path(id): Path<String>) -> Response {
    let Some(secret) = secret_of(&ctx, &id).await else {
        return ApiError::no_session().into_response();
    };
    match ctx.state.gateway.admin_session(&secret).await {
        Some(mut v) => {
            v.id = id;
            Json(v).into_response()
        }
        None => ApiError::no_session().into_response(),
    }
}

/// Ends a session now (its browser sees `expired`).
#[utoipa::path(delete, path = "/admin/api/sessions/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "session id")),
    responses((status = 204, description = "ended"), (status = 404, body = super::error::ErrorBody),
        (status = 401, description = "missing or wrong token")))]
async fn end_session(State(ctx): State<Shared>, Path(id): Path<String>) -> Response {
    let Some(secret) = secret_of(&ctx, &id).await else {
        return ApiError::no_session().into_response();
    };
    if ctx.state.gateway.end_session(&secret).await {
        StatusCode::NO_CONTENT.into_response()
    } else {
        ApiError::no_session().into_response()
    }
}

/// Runs a keys operation off the async threads, then makes it durable.
async fn with_keys<T: Send + 'static>(
    ctx: &Shared,
    op: impl FnOnce(&crate::keys::ApiKeys) -> Result<T, crate::keys::KeyError> + Send + 'static,
) -> Result<T, ApiError> {
    use crate::keys::KeyError;
    let keys = ctx.state.gateway.api_keys();
    let done = tokio::task::spawn_blocking(move || {
        let r = op(&keys)?;
        keys.flush()?;
        Ok::<T, KeyError>(r)
    })
    .await
    .map_err(ApiError::internal)?;
    done.map_err(|e| match e {
        KeyError::InvalidName | KeyError::InvalidUrl(_) | KeyError::InvalidToken => {
            ApiError::bad_request("invalid_request", e.to_string())
        }
        KeyError::Exists(_) => ApiError::new(StatusCode::CONFLICT, "key_exists", e.to_string()),
        KeyError::Store(e) => {
            tracing::error!(error = %e, "the API keys cannot be read or written");
            store_error(StoreUnavailable)
        }
    })
}

/// API keys, without their secrets, with last use and counters.
#[utoipa::path(get, path = "/admin/api/keys", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = [crate::keys::KeyInfo]), (status = 401, description = "missing or wrong token"),
        (status = 503, body = super::error::ErrorBody)))]
async fn keys(State(ctx): State<Shared>) -> Result<Response, ApiError> {
    let list = with_keys(&ctx, |k| Ok(k.list()?)).await?;
    Ok(Json(list).into_response())
}

/// Makes an API key; its token and webhook secret are in this answer only.
#[utoipa::path(post, path = "/admin/api/keys", tag = "admin", security(("bearer" = [])),
    request_body = crate::keys::KeyRequest,
    responses((status = 201, body = crate::keys::NewKey),
        (status = 400, description = "invalid_json, invalid_request (name or URL)", body = super::error::ErrorBody),
        (status = 409, description = "key_exists", body = super::error::ErrorBody),
        (status = 401, description = "missing or wrong token")))]
async fn add_key(
    State(ctx): State<Shared>,
    body: Result<Json<crate::keys::KeyRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body?;
    let now = chrono::Utc::now();
    let made = with_keys(&ctx, move |k| k.add(&req, now)).await?;
    Ok((StatusCode::CREATED, Json(made)).into_response())
}

/// Revokes an API key: its token stops working at once.
#[utoipa::path(delete, path = "/admin/api/keys/{name}", tag = "admin", security(("bearer" = [])),
    params(("name" = String, Path, description = "key name")),
    responses((status = 204, description = "revoked"), (status = 404, body = super::error::ErrorBody),
        (status = 401, description = "missing or wrong token")))]
async fn revoke_key(
    State(ctx): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    if with_keys(&ctx, move |k| Ok(k.revoke(&name)?)).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found())
    }
}

/// The webhook queue: events still being tried, and those given up after
/// a day of attempts (kept until re-sent).
#[utoipa::path(get, path = "/admin/api/webhooks", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = crate::hooks::HookQueue), (status = 401, description = "missing or wrong token"),
        (status = 503, body = super::error::ErrorBody)))]
async fn webhooks(State(ctx): State<Shared>) -> Result<Response, ApiError> {
    let hooks = ctx.state.gateway.hooks();
    match tokio::task::spawn_blocking(move || hooks.list()).await {
        Ok(Ok(q)) => Ok(Json(q).into_response()),
        _ => Err(store_error(StoreUnavailable)),
    }
}

/// Puts a given-up event back in the queue: tried at once, then for
/// another day.
#[utoipa::path(post, path = "/admin/api/webhooks/{id}/resend", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "event id (`evt_…`)")),
    responses((status = 202, description = "queued again"), (status = 404, body = super::error::ErrorBody),
        (status = 401, description = "missing or wrong token"), (status = 503, body = super::error::ErrorBody)))]
async fn resend_webhook(
    State(ctx): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let hooks = ctx.state.gateway.hooks();
    match tokio::task::spawn_blocking(move || hooks.resend(&id, chrono::Utc::now())).await {
        Ok(Ok(true)) => Ok(StatusCode::ACCEPTED.into_response()),
        Ok(Ok(false)) => Err(ApiError::not_found()),
        _ => Err(store_error(StoreUnavailable)),
    }
}

/// Modems: port, short code, state, signal, registration, counters.
#[utoipa::path(get, path = "/admin/api/modems", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = [ModemStatusDoc]), (status = 401, description = "missing or wrong token")))]
async fn modems(State(ctx): State<Shared>) -> impl IntoResponse {
    let modems = ctx.state.gateway.modems().await;
    let sims = ctx.state.gateway.sims().await;
    let out: Vec<serde_json::Value> = modems
        .iter()
        .map(|m| {
            let mut v = serde_json::to_value(m).unwrap_or_default();
            if let (Some(obj), Some(sim)) = (
                v.as_object_mut(),
                sims.iter().find(|s| s.usage.short_code == m.short_code),
            ) {
                obj.insert("sim".into(), serde_json::to_value(sim).unwrap_or_default());
            }
            v
        })
        .collect();
    Json(out)
}

/// A USSD question for a modem.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UssdRequest {
    /// A service code (`*123#`), or the answer to an open menu (`1`).
    code: String,
}

/// Runs a USSD code on a modem (balance, operator menus), queued with its
/// SMS traffic. An answer with `session_open` is a menu: the next
/// request's `code` answers it (within 60 s).
#[utoipa::path(post, path = "/admin/api/modems/{short_code}/ussd", tag = "admin", security(("bearer" = [])),
    params(("short_code" = String, Path, description = "the modem's short code")),
    request_body = UssdRequest,
    responses((status = 200, body = UssdAnswerDoc),
        (status = 400, description = "invalid_json, invalid_ussd", body = super::error::ErrorBody),
        (status = 401, description = "missing or wrong token"),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "modem_not_ready", body = super::error::ErrorBody),
        (status = 422, description = "ussd_refused, ussd_not_supported, ussd_garbled: the modem or the network would not (or could not) answer this code", body = super::error::ErrorBody),
        (status = 504, description = "ussd_timeout", body = super::error::ErrorBody)))]
async fn ussd(
    State(ctx): State<Shared>,
    Path(short_code): Path<String>,
    body: Result<Json<UssdRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    use crate::modem::types::UssdError as E;
    let Json(req) = body?;
    match ctx.state.gateway.ussd(&short_code, &req.code).await {
        Ok(answer) => Ok(Json(answer).into_response()),
        Err(e) => {
            let message = e.to_string();
            Err(match e {
                E::NoSuchModem(_) => ApiError::not_found(),
                E::Invalid(_) => ApiError::bad_request("invalid_ussd", message),
                E::NotReady(_) => ApiError::new(StatusCode::CONFLICT, "modem_not_ready", message),
                E::Refused(_) => {
                    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "ussd_refused", message)
                }
                E::NotSupported => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "ussd_not_supported",
                    message,
                ),
                E::Garbled(_) => {
                    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "ussd_garbled", message)
                }
                E::NetworkTimeout | E::NoAnswer => {
                    ApiError::new(StatusCode::GATEWAY_TIMEOUT, "ussd_timeout", message)
                }
            })
        }
    }
}

/// Lifts a SIM's reached caps (day, month, recipients) until their
/// periods end: messages waiting for the cap go, and the SIM takes new
/// conversations again.
#[utoipa::path(post, path = "/admin/api/modems/{short_code}/caps/reset", tag = "admin", security(("bearer" = [])),
    params(("short_code" = String, Path, description = "the modem's short code")),
    responses((status = 200, description = "the SIM's caps and counts now", body = Object),
        (status = 401, description = "missing or wrong token"),
        (status = 404, body = super::error::ErrorBody),
        (status = 503, body = super::error::ErrorBody)))]
async fn reset_caps(
    State(ctx): State<Shared>,
    Path(short_code): Path<String>,
) -> Result<Response, ApiError> {
    let gw = &ctx.state.gateway;
    if !gw.modems().await.iter().any(|m| m.short_code == short_code) {
        return Err(ApiError::not_found());
    }
    if let Err(e) = gw.lift_caps(&short_code).await {
        tracing::error!(%short_code, error = %e, "cannot lift the caps");
        return Err(ApiError::store_unavailable());
    }
    let sim = gw
        .sims()
        .await
        .into_iter()
        .find(|s| s.usage.short_code == short_code);
    Ok(Json(sim).into_response())
}

/// Queued and failed messages.
#[utoipa::path(get, path = "/admin/api/outbox", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = [OutboxItemDoc]), (status = 401, description = "missing or wrong token")))]
async fn outbox(State(ctx): State<Shared>) -> Result<Response, ApiError> {
    let mut items = ctx.state.gateway.outbox().await.map_err(store_error)?;
    for i in items.iter_mut().filter(|i| !i.session_id.is_empty()) {
        i.session_id = public_id(&i.session_id);
    }
    Ok(Json(items).into_response())
}

/// 503 when the store cannot be read (the cause is logged where it
/// happened, never shown).
fn store_error(_: StoreUnavailable) -> ApiError {
    ApiError::store_unavailable()
}

/// Replies that reached no session (R7).
#[utoipa::path(get, path = "/admin/api/out-of-session", tag = "admin", security(("bearer" = [])),
    params(RangeQuery),
    responses((status = 200, body = [OutOfSessionItemDoc]), (status = 400, body = super::error::ErrorBody),
        (status = 401, description = "missing or wrong token")))]
async fn out_of_session(
    State(ctx): State<Shared>,
    query: Result<Query<RangeQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query?;
    let from = rfc3339("from", q.from.as_deref())?;
    let to = rfc3339("to", q.to.as_deref())?;
    let items = ctx
        .state
        .gateway
        .out_of_session(from, to)
        .await
        .map_err(store_error)?;
    Ok(Json(items).into_response())
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub(crate) struct RangeQuery {
    /// RFC 3339 lower bound (inclusive).
    from: Option<String>,
    /// RFC 3339 upper bound (exclusive).
    to: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub(crate) struct ChargesQuery {
    /// RFC 3339 lower bound (inclusive).
    from: Option<String>,
    /// RFC 3339 upper bound (exclusive).
    to: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

fn rfc3339(name: &str, v: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    v.filter(|s| !s.is_empty())
        .map(|s| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    ApiError::bad_request(
                        "invalid_query",
                        format!("`{name}` is not an RFC 3339 time"),
                    )
                })
        })
        .transpose()
}

/// Charge records (R10), as JSON or CSV (header line; amounts as decimal
/// text), oldest first. Only the range asked for is read, and the answer
/// is streamed as it is read; a record that cannot be read cuts the
/// answer short (logged).
#[utoipa::path(get, path = "/admin/api/charges", tag = "admin", security(("bearer" = [])),
    params(ChargesQuery),
    responses((status = 200, body = [ChargeItemDoc], content_type = "application/json"),
        (status = 200, description = "CSV with a header line", content_type = "text/csv", body = String),
        (status = 400, body = super::error::ErrorBody), (status = 401, description = "missing or wrong token")))]
async fn charges(
    State(ctx): State<Shared>,
    query: Result<Query<ChargesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query?;
    let from = rfc3339("from", q.from.as_deref())?;
    let to = rfc3339("to", q.to.as_deref())?;
    let csv = match q.format.as_deref() {
        None | Some("") | Some("json") => false,
        Some("csv") => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "`format` is json or csv",
            ))
        }
    };
    let items = ctx
        .state
        .gateway
        .charges(from, to)
        .await
        .map_err(store_error)?;
    let (content_type, body) = if csv {
        ("text/csv; charset=utf-8", csv_stream(items))
    } else {
        ("application/json", json_stream(items))
    };
    Ok((
        [(header::CONTENT_TYPE, content_type)],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}

type Chunks = futures_util::stream::BoxStream<'static, Result<String, StoreUnavailable>>;

/// `[item,item,…]` as the items are read.
fn json_stream(items: ChargeStream) -> Chunks {
    let head = futures_util::stream::once(async { Ok("[".to_string()) });
    let body = items.enumerate().map(|(i, item)| {
        let item = item?;
        let json = serde_json::to_string(&item).map_err(|_| StoreUnavailable)?;
        Ok(if i == 0 { json } else { format!(",{json}") })
    });
    let tail = futures_util::stream::once(async { Ok("]".to_string()) });
    head.chain(body).chain(tail).boxed()
}

/// A header line, then one line per item as it is read.
fn csv_stream(items: ChargeStream) -> Chunks {
    let head = futures_util::stream::once(async { Ok(CSV_HEADER.to_string()) });
    head.chain(items.map(|item| item.map(|c| csv_line(&c))))
        .boxed()
}

const CSV_HEADER: &str =
    "id,time,number,short_code,base,taxes,total,currency,in_session,message,part,parts\n";

/// One CSV line of a charge; taxes as `NAME:RATE:AMOUNT` joined by `;`.
fn csv_line(c: &ChargeItem) -> String {
    {
        let taxes: Vec<String> = c
            .taxes
            .iter()
            .map(|t| format!("{}:{}:{}", t.name, t.rate, t.amount))
            .collect();
        let fields = [
            c.id.clone(),
            c.time.to_rfc3339(),
            c.number.clone(),
            c.short_code.clone(),
            c.base.clone(),
            taxes.join(";"),
            c.total.clone(),
            c.currency.clone(),
            c.in_session.to_string(),
            c.message.clone(),
            c.part.to_string(),
            c.parts.to_string(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        let mut line = line.join(",");
        line.push('\n');
        line
    }
}

fn csv_field(f: &str) -> String {
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_string()
    }
}

/// This API's OpenAPI document.
#[utoipa::path(get, path = "/admin/api/openapi.json", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "OpenAPI 3.1 document", body = Object),
        (status = 401, description = "missing or wrong token")))]
async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        super::openapi_json(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("1.18"), "1.18");
    }

    #[test]
    fn bearer_is_parsed() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cret"),
        );
        assert_eq!(bearer(&h), Some("s3cret"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic s3cret"),
        );
        assert_eq!(bearer(&h), None);
    }
}
