//! The emulator's JSON control API (loopback only): list modems and phones,
//! play a phone (send, read its inbox), inject faults, change knobs, script
//! the network's USSD answers, read transcripts; and the emulated SMSC's
//! binds, submits, faults and settings (`/smsc...`).
//!
//! Only HTTP lives here; every action is a call on [`Emulator`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::dce::ussd::Script;
use super::dce::Settings;
use super::faults::Fault;
use super::network::PartOrder;
use super::smsc::{SmscFault, SmscSettings};
use super::{Emulator, EmulatorError};

/// The control API's routes.
pub fn router(emulator: Emulator) -> Router {
    Router::new()
        .route("/modems", get(modems))
        .route("/modems/{id}", get(modem))
        .route(
            "/modems/{id}/faults",
            post(add_fault).get(list_faults).delete(clear_faults),
        )
        .route(
            "/modems/{id}/settings",
            get(get_settings).put(put_settings).post(put_settings),
        )
        .route(
            "/modems/{id}/ussd",
            get(get_ussd).put(put_ussd).delete(reset_ussd),
        )
        .route("/modems/{id}/transcript", get(transcript))
        .route("/modems/{id}/replay", get(replay_status).post(replay))
        .route("/phones", get(phones))
        .route("/phones/{number}/inbox", get(inbox))
        .route("/phones/{number}/send", post(send))
        .route("/records", get(records))
        .route("/unknown-numbers", post(add_unknown))
        .route("/smsc", get(smsc_status))
        .route("/smsc/submits", get(smsc_submits))
        .route(
            "/smsc/faults",
            post(smsc_add_fault)
                .get(smsc_list_faults)
                .delete(smsc_clear_faults),
        )
        .route(
            "/smsc/settings",
            get(smsc_get_settings)
                .put(smsc_put_settings)
                .post(smsc_put_settings),
        )
        .with_state(emulator)
}

struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<EmulatorError> for ApiError {
    fn from(e: EmulatorError) -> Self {
        let status = match e {
            EmulatorError::NoSuchModem(_) | EmulatorError::NoSmsc => StatusCode::NOT_FOUND,
            EmulatorError::Refused(_)
            | EmulatorError::Model(_)
            | EmulatorError::Replay(_)
            | EmulatorError::Ussd(_) => StatusCode::UNPROCESSABLE_ENTITY,
            EmulatorError::Pty(_) | EmulatorError::Smsc(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_string())
    }
}

type ApiResult = Result<Response, ApiError>;

async fn modems(State(e): State<Emulator>) -> Json<serde_json::Value> {
    Json(json!(e.modems()))
}

async fn modem(State(e): State<Emulator>, Path(id): Path<usize>) -> ApiResult {
    let info = e
        .modems()
        .into_iter()
        .find(|m| m.id == id)
        .ok_or(EmulatorError::NoSuchModem(id))?;
    let (sm_used, sm_total, me_used, me_total, held) = e.storage(id)?;
    Ok(Json(json!({
        "modem": info,
        "storage": {"sm": [sm_used, sm_total], "me": [me_used, me_total], "held_in_network": held},
        "faults": e.faults(id)?,
        "settings": e.settings(id)?,
    }))
    .into_response())
}

async fn add_fault(
    State(e): State<Emulator>,
    Path(id): Path<usize>,
    Json(f): Json<Fault>,
) -> ApiResult {
    e.inject_fault(id, f)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_faults(State(e): State<Emulator>, Path(id): Path<usize>) -> ApiResult {
    Ok(Json(e.faults(id)?).into_response())
}

async fn clear_faults(State(e): State<Emulator>, Path(id): Path<usize>) -> ApiResult {
    e.clear_faults(id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn get_settings(State(e): State<Emulator>, Path(id): Path<usize>) -> ApiResult {
    Ok(Json(e.settings(id)?).into_response())
}

async fn put_settings(
    State(e): State<Emulator>,
    Path(id): Path<usize>,
    Json(s): Json<Settings>,
) -> ApiResult {
    e.set_settings(id, s)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `{"scripts": [...], "requests": [{"code", "session"?, "at"}...]}`.
async fn get_ussd(State(e): State<Emulator>, Path(id): Path<usize>) -> ApiResult {
    Ok(Json(e.ussd(id)?).into_response())
}

/// One code's script: `{"code", "reply", "dcs"?, "menu"?, "fault"?}`.
async fn put_ussd(
    State(e): State<Emulator>,
    Path(id): Path<usize>,
    Json(s): Json<Script>,
) -> ApiResult {
    e.set_ussd(id, s)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Back to the default scripts; the log is emptied.
async fn reset_ussd(State(e): State<Emulator>, Path(id): Path<usize>) -> ApiResult {
    e.reset_ussd(id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn transcript(State(e): State<Emulator>, Path(id): Path<usize>) -> ApiResult {
    Ok(Json(e.transcript(id)?).into_response())
}

/// `{"file": "/path/to/recording.jsonl"}`: the modem answers from it.
#[derive(serde::Deserialize)]
struct ReplayRequest {
    file: std::path::PathBuf,
}

async fn replay(
    State(e): State<Emulator>,
    Path(id): Path<usize>,
    Json(r): Json<ReplayRequest>,
) -> ApiResult {
    e.replay(id, &r.file)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// What the replay answered, and the commands the recording lacked.
async fn replay_status(State(e): State<Emulator>, Path(id): Path<usize>) -> ApiResult {
    match e.replay_status(id)? {
        Some(s) => Ok(Json(s).into_response()),
        None => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("modem {id} does not replay"),
        )),
    }
}

async fn phones(State(e): State<Emulator>) -> Json<Vec<String>> {
    Json(e.phones())
}

async fn inbox(State(e): State<Emulator>, Path(number): Path<String>) -> Json<serde_json::Value> {
    Json(json!(e.inbox(&number)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBody {
    to: String,
    text: String,
    #[serde(default)]
    order: PartOrder,
}

async fn send(
    State(e): State<Emulator>,
    Path(number): Path<String>,
    Json(b): Json<SendBody>,
) -> ApiResult {
    let pdus = e.phone_send(&number, &b.to, &b.text, b.order)?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "pdus": pdus }))).into_response())
}

async fn records(State(e): State<Emulator>) -> Json<serde_json::Value> {
    Json(json!(e.records()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnknownBody {
    number: String,
}

/// Marks a number as unknown to the network: messages to it fail (and a
/// requested delivery report says so).
async fn add_unknown(State(e): State<Emulator>, Json(b): Json<UnknownBody>) -> StatusCode {
    e.add_unknown_number(&b.number);
    StatusCode::NO_CONTENT
}

/// `{"address", "short_codes", "system_id", "connections", "binds": [...],
/// "queued": [...], "faults": [...], "settings": {...}}`.
async fn smsc_status(State(e): State<Emulator>) -> ApiResult {
    let status = e.smsc_status().ok_or(EmulatorError::NoSmsc)?;
    let address = e.smsc_info().map(|i| i.address.to_string());
    let mut v = json!(status);
    v["address"] = json!(address);
    Ok(Json(v).into_response())
}

/// Every submit_sm the SMSC answered: status, message id, addresses,
/// data_coding, esm_class, registered_delivery, validity_period, text,
/// concatenation and outcome.
async fn smsc_submits(State(e): State<Emulator>) -> ApiResult {
    Ok(Json(e.smsc_submits().ok_or(EmulatorError::NoSmsc)?).into_response())
}

/// `{"kind": "unbind" | "drop" | "throttle" | "queue_full" | "slow" |
/// "refuse_binds", ...}`.
async fn smsc_add_fault(State(e): State<Emulator>, Json(f): Json<SmscFault>) -> ApiResult {
    e.smsc_inject(f)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn smsc_list_faults(State(e): State<Emulator>) -> ApiResult {
    let status = e.smsc_status().ok_or(EmulatorError::NoSmsc)?;
    Ok(Json(status.faults).into_response())
}

async fn smsc_clear_faults(State(e): State<Emulator>) -> ApiResult {
    e.smsc_clear_faults()?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn smsc_get_settings(State(e): State<Emulator>) -> ApiResult {
    Ok(Json(e.smsc_settings()?).into_response())
}

async fn smsc_put_settings(State(e): State<Emulator>, Json(s): Json<SmscSettings>) -> ApiResult {
    e.set_smsc_settings(s)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
