//! The OpenAPI document, generated from the handlers' `#[utoipa::path]`
//! annotations. The gateway's data types live in `gateway::api`, which the
//! web layer may not change, so their schemas are described here by
//! mirror types (`*Doc`) named after them; a test checks the mirrors against
//! the real JSON.

#![allow(dead_code)] // the mirrors exist for their schemas only

use chrono::{DateTime, Utc};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{admin, ops, public};

#[derive(ToSchema)]
#[schema(as = SendRequest)]
pub struct SendRequestDoc {
    /// E.164 (`+18095551234`) or national (`8095551234`) numbers.
    to: Vec<String>,
    text: String,
}

#[derive(ToSchema)]
#[schema(as = SessionRef)]
pub struct SessionRefDoc {
    /// The session's public id (the secret is in the HttpOnly cookie only).
    id: String,
    expires_at: DateTime<Utc>,
}

#[derive(ToSchema)]
#[schema(as = RecipientAnswer)]
pub struct RecipientAnswerDoc {
    to: String,
    /// `queued` or `refused`.
    status: String,
    short_code: Option<String>,
    /// False for fleet/VPN numbers (R9).
    can_reply: bool,
    /// `invalid_number`, `opted_out`, `no_free_short_code`,
    /// `duplicate_recipient`, `rate_limited`.
    reason: Option<String>,
}

#[derive(ToSchema)]
#[schema(as = SendAnswer)]
pub struct SendAnswerDoc {
    session: SessionRefDoc,
    /// The id of the message this send added (status events name it).
    message: Option<String>,
    recipients: Vec<RecipientAnswerDoc>,
}

#[derive(ToSchema)]
#[schema(as = RecipientView)]
pub struct RecipientViewDoc {
    to: String,
    short_code: Option<String>,
    /// `queued`, `waiting_for_modem` (its short code's modem is down),
    /// `waiting_for_cap` (its SIM reached a sending cap),
    /// `sent`, `delivered`, `failed` or `refused`.
    status: String,
    reason: Option<String>,
    can_reply: bool,
}

#[derive(ToSchema)]
#[schema(as = MessageView)]
pub struct MessageViewDoc {
    id: String,
    text: String,
    sent_at: DateTime<Utc>,
    recipients: Vec<RecipientViewDoc>,
}

#[derive(ToSchema)]
#[schema(as = ReplyView)]
pub struct ReplyViewDoc {
    from: String,
    short_code: String,
    text: String,
    received_at: DateTime<Utc>,
}

#[derive(ToSchema)]
#[schema(as = SessionView)]
pub struct SessionViewDoc {
    /// The session's public id.
    id: String,
    expires_at: DateTime<Utc>,
    messages: Vec<MessageViewDoc>,
    replies: Vec<ReplyViewDoc>,
}

#[derive(ToSchema)]
#[schema(as = SessionSummary)]
pub struct SessionSummaryDoc {
    /// The session's public id (`/admin/api/sessions/{id}` takes it).
    id: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    messages: usize,
    replies: usize,
    /// `[recipient, short code]` pairs.
    bindings: Vec<Vec<String>>,
}

#[derive(ToSchema)]
#[schema(as = ModemStatus)]
pub struct ModemStatusDoc {
    short_code: String,
    port: String,
    /// `initialising`, `up`, `no_sim`, `not_registered`, `down`.
    state: String,
    manufacturer: Option<String>,
    model: Option<String>,
    imei: Option<String>,
    rssi: Option<u8>,
    signal_dbm: Option<i32>,
    registration: Option<String>,
    operator: Option<String>,
    sent: u64,
    received: u64,
    failed: u64,
    reconnects: u64,
    restarts: u64,
    garbage: u64,
    last_error: Option<String>,
    /// SIM storage use (`+CPMS?`): messages kept, and room.
    storage_used: Option<u32>,
    storage_total: Option<u32>,
    queued: usize,
    oldest_wait_secs: Option<u64>,
    /// The SIM's IMSI (`AT+CIMI`) and ICCID, read at start.
    imsi: Option<String>,
    iccid: Option<String>,
    /// The last 24 signal readings of the health poll, oldest first:
    /// `{at` (Unix seconds)`, rssi, dbm}`.
    #[schema(value_type = Vec<Object>)]
    signal_history: Vec<()>,
    /// The SIM: `caps` (`per_day`, `per_month`, `recipients_per_month`; 0
    /// none), `sent_today`, `sent_this_month`, `recipients_this_month`,
    /// `reached` (`day`, `month`, `recipients`), `lifted`, `last_sent`,
    /// `waiting_for_cap`, `crossings`, `keepalives_sent`,
    /// `keepalives_failed`, `next_keepalive`, and `balance` (`null`
    /// without `balance_ussd`: `code`, `amount`, `checked_at`, `asked_at`,
    /// `stale`, `low`, `raw`, `error`, `warn`, `next_check`).
    #[schema(value_type = Option<Object>)]
    sim: Option<()>,
    /// `modem`, or `smpp` for a short code of an SMPP bind.
    transport: String,
    /// Only for a short code of an SMPP bind: `smsc` (`host:port`),
    /// `system_id`, `window`, `in_flight`, `submits_per_second` (the last
    /// ten seconds), `submitted`, `throttled`, `errors`, `binds`.
    #[schema(value_type = Option<Object>)]
    smpp: Option<()>,
}

#[derive(ToSchema)]
#[schema(as = UssdAnswer)]
pub struct UssdAnswerDoc {
    /// The network's answer, as text.
    reply: String,
    /// A menu waits for a choice: send it as the next request's `code`.
    session_open: bool,
    /// `<m>` of `+CUSD:` (3GPP TS 27.007 §7.15): 0 done, 1 menu, 2 ended
    /// by the network.
    status: u8,
}

#[derive(ToSchema)]
#[schema(as = OutboxItem)]
pub struct OutboxItemDoc {
    message_id: String,
    session_id: String,
    to: String,
    short_code: String,
    /// `queued`, `sending` or `failed`.
    status: String,
    queued_at: DateTime<Utc>,
    reason: Option<String>,
}

#[derive(ToSchema)]
#[schema(as = OutOfSessionItem)]
pub struct OutOfSessionItemDoc {
    from: String,
    short_code: String,
    text: String,
    received_at: DateTime<Utc>,
    auto_replied: bool,
}

#[derive(ToSchema)]
#[schema(as = TaxLine)]
pub struct TaxLineDoc {
    name: String,
    /// Decimal text, e.g. `"0.18"`.
    rate: String,
    /// Decimal text.
    amount: String,
}

#[derive(ToSchema)]
#[schema(as = ChargeItem)]
pub struct ChargeItemDoc {
    id: String,
    time: DateTime<Utc>,
    number: String,
    short_code: String,
    /// Decimal text.
    base: String,
    taxes: Vec<TaxLineDoc>,
    /// Decimal text.
    total: String,
    currency: String,
    in_session: bool,
    /// The reply this SMS part belongs to: its first part's charge id.
    message: String,
    /// This part's number (1-based) and how many parts of the reply arrived.
    part: u32,
    parts: u32,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "smsgate", description = "Web-to-SMS gateway: public send API and admin API"),
    paths(
        public::send, public::session, public::events, public::measure,
        super::api_v1::open, super::api_v1::continue_, super::api_v1::read, super::api_v1::events,
        admin::sessions, admin::session, admin::end_session, admin::modems, admin::outbox,
        admin::out_of_session, admin::charges, admin::keys, admin::add_key, admin::revoke_key,
        admin::webhooks, admin::resend_webhook, admin::openapi, admin::ussd, admin::reset_caps,
        super::kannel::sendsms,
        ops::metrics_text, ops::healthz, ops::readyz,
    ),
    components(schemas(super::error::ErrorBody, public::Measure)),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

/// The OpenAPI document as JSON text.
pub fn openapi_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises")
}
