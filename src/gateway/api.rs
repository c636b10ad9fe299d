//! The gateway as the web layer sees it: one object-safe trait
//! ([`GatewayApi`]) and the data it speaks in, shaped exactly like the JSON
//! of SPEC "Interfaces". The web layer depends on this trait only, so its
//! tests can put a fake behind it; the running gateway implements it.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::modem::types::ModemStatus;
use crate::session::{DeliveryStatus, Refusal};

/// A recipient's state as the API shows it: the session core's delivery
/// status, or refused at send time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientState {
    Queued,
    WaitingForModem,
    WaitingForCap,
    Sent,
    Delivered,
    Failed,
    Refused,
}

impl RecipientState {
    /// The wire name (`queued`, `sent`...).
    pub fn as_str(self) -> &'static str {
        match self {
            RecipientState::Queued => "queued",
            RecipientState::WaitingForModem => "waiting_for_modem",
            RecipientState::WaitingForCap => "waiting_for_cap",
            RecipientState::Sent => "sent",
            RecipientState::Delivered => "delivered",
            RecipientState::Failed => "failed",
            RecipientState::Refused => "refused",
        }
    }
}

impl std::fmt::Display for RecipientState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RecipientState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        serde_json::from_value(serde_json::Value::String(s.to_string()))
            .map_err(|_| format!("no recipient state {s:?}"))
    }
}

impl From<DeliveryStatus> for RecipientState {
    fn from(s: DeliveryStatus) -> Self {
        match s {
            DeliveryStatus::Queued => RecipientState::Queued,
            DeliveryStatus::WaitingForModem => RecipientState::WaitingForModem,
            DeliveryStatus::WaitingForCap => RecipientState::WaitingForCap,
            DeliveryStatus::Sent => RecipientState::Sent,
            DeliveryStatus::Delivered => RecipientState::Delivered,
            DeliveryStatus::Failed => RecipientState::Failed,
        }
    }
}

/// Why one recipient of a send was refused: the session core's reasons
/// and the web layer's per-recipient rate limit (R13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    InvalidNumber,
    OptedOut,
    NoFreeShortCode,
    DuplicateRecipient,
    RateLimited,
    DestinationNotAllowed,
}

impl RefusalReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::InvalidNumber => "invalid_number",
            RefusalReason::OptedOut => "opted_out",
            RefusalReason::NoFreeShortCode => "no_free_short_code",
            RefusalReason::DuplicateRecipient => "duplicate_recipient",
            RefusalReason::RateLimited => "rate_limited",
            RefusalReason::DestinationNotAllowed => "destination_not_allowed",
        }
    }
}

impl From<Refusal> for RefusalReason {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::InvalidNumber => RefusalReason::InvalidNumber,
            Refusal::OptedOut => RefusalReason::OptedOut,
            Refusal::NoFreeShortCode => RefusalReason::NoFreeShortCode,
            Refusal::DuplicateRecipient => RefusalReason::DuplicateRecipient,
            Refusal::DestinationNotAllowed => RefusalReason::DestinationNotAllowed,
        }
    }
}

/// An outbox record's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    Queued,
    Failed,
}

/// The store could not be read (logged and counted where it happened);
/// the web answers 503.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the store cannot be read now")]
pub struct StoreUnavailable;

/// Charges as they are read from the store, oldest first.
pub type ChargeStream =
    futures_util::stream::BoxStream<'static, Result<ChargeItem, StoreUnavailable>>;

/// `POST /api/send` body (the HTML form posts the same fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    pub to: Vec<String>,
    pub text: String,
    /// Recipients the web layer refused before the gateway (over their
    /// quota): not sent to, but kept in the session's message so the
    /// conversation shows every number the user wrote to. Not part of the
    /// JSON body.
    #[serde(skip)]
    pub refused: Vec<crate::session::RefusedRecipient>,
    /// The API key sending it, when a program sends (not part of the JSON
    /// body): it owns the session, gets its webhooks, and its
    /// `Idempotency-Key` is honoured.
    #[serde(skip)]
    pub owner: Option<ApiOwner>,
}

/// An API key's send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiOwner {
    pub key: String,
    /// The request's `Idempotency-Key` and the fingerprint of what it asked.
    pub idempotency: Option<(String, String)>,
    /// A Kannel client's `dlr-url` and `dlr-mask` for this message.
    pub dlr: Option<crate::keys::DlrRequest>,
    /// A Kannel client's `from`: new pairs are on this short code only.
    pub from: Option<String>,
    /// A client that cannot be told to try again (Kannel, MQTT): while the
    /// conversation's previous send is still being accepted (R11), this
    /// one waits its turn instead of a 409.
    pub wait_turn: bool,
}

/// A session as named in answers: `{"id", "expires_at"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRef {
    pub id: String,
    pub expires_at: DateTime<Utc>,
}

/// Per-recipient result of a send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientAnswer {
    /// The normalised number (E.164) or, when refused as invalid, what was typed.
    pub to: String,
    /// `queued` or `refused`.
    pub status: RecipientState,
    pub short_code: Option<String>,
    /// False for fleet/VPN numbers (R9).
    pub can_reply: bool,
    /// Why it was refused.
    pub reason: Option<RefusalReason>,
}

/// `202` answer of `POST /api/send`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendAnswer {
    pub session: SessionRef,
    /// The id of the message this send added to the session (status events
    /// name it); none when nothing was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub recipients: Vec<RecipientAnswer>,
}

/// A send refused as a whole (4xx with the reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// 400: the request is wrong (empty text, no recipient, too long...).
    #[error("{0}")]
    Invalid(String),
    /// 400: more recipients than `limits.max_recipients`.
    #[error("too many recipients (at most {0})")]
    TooManyRecipients(u32),
    /// 409: R11, a send of this session is still being accepted.
    #[error("a message of this session is still being sent")]
    SendInProgress,
    /// 422: this `Idempotency-Key` answered another request.
    #[error("this Idempotency-Key was used for another request")]
    IdempotencyKeyReused,
    /// 503: the gateway cannot take it now (store error, shutting down).
    #[error("the service cannot take messages now")]
    Unavailable,
}

impl SendError {
    /// The machine-readable reason of the JSON error answer.
    pub fn reason(&self) -> &'static str {
        match self {
            SendError::Invalid(_) => "invalid_request",
            SendError::TooManyRecipients(_) => "too_many_recipients",
            SendError::SendInProgress => "send_in_progress",
            SendError::IdempotencyKeyReused => "idempotency_key_reused",
            SendError::Unavailable => "unavailable",
        }
    }
}

/// One recipient of a sent message, as `GET /api/session` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientView {
    pub to: String,
    pub short_code: Option<String>,
    /// `queued`, `sent`, `delivered`, `failed` (or `refused`).
    pub status: RecipientState,
    pub reason: Option<String>,
    pub can_reply: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageView {
    pub id: String,
    pub text: String,
    pub sent_at: DateTime<Utc>,
    pub recipients: Vec<RecipientView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyView {
    pub from: String,
    pub short_code: String,
    pub text: String,
    pub received_at: DateTime<Utc>,
}

/// `GET /api/session`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    pub id: String,
    pub expires_at: DateTime<Utc>,
    pub messages: Vec<MessageView>,
    pub replies: Vec<ReplyView>,
}

/// What `GET /api/session/events` streams (SSE event name = variant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum SessionEvent {
    /// A phone replied (R3); the session's new expiry comes with it.
    Reply {
        reply: ReplyView,
        expires_at: DateTime<Utc>,
    },
    /// A recipient's status changed.
    Status {
        message_id: String,
        to: String,
        status: RecipientState,
        reason: Option<String>,
        /// The recipient's new short code, when its conversation moved to
        /// a live modem (R5 refined).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        short_code: Option<String>,
    },
    /// The session ended (R4).
    Expired { ended_at: DateTime<Utc> },
}

impl SessionEvent {
    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            SessionEvent::Reply { .. } => "reply",
            SessionEvent::Status { .. } => "status",
            SessionEvent::Expired { .. } => "expired",
        }
    }
}

/// A live session for the admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSummary {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub messages: usize,
    pub replies: usize,
    /// (recipient, short code) pairs it holds.
    pub bindings: Vec<(String, String)>,
}

/// A message waiting for, or failed at, a modem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxItem {
    pub message_id: String,
    pub session_id: String,
    pub to: String,
    pub short_code: String,
    pub status: OutboxStatus,
    pub queued_at: DateTime<Utc>,
    pub reason: Option<String>,
}

/// A reply that reached no session (R7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutOfSessionItem {
    pub from: String,
    pub short_code: String,
    pub text: String,
    pub received_at: DateTime<Utc>,
    pub auto_replied: bool,
}

/// One tax line of a charge; amounts are decimal strings, never floats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxLine {
    pub name: String,
    pub rate: String,
    pub amount: String,
}

/// A charge record (CDR) of one MO SMS (R10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeItem {
    pub id: String,
    pub time: DateTime<Utc>,
    pub number: String,
    pub short_code: String,
    pub base: String,
    pub taxes: Vec<TaxLine>,
    pub total: String,
    pub currency: String,
    pub in_session: bool,
    /// The message (reply) this SMS part belongs to: the id of its first
    /// part's charge, shared by all its parts (R10: one record per SMS a
    /// phone sent).
    #[serde(default)]
    pub message: String,
    /// This part's number within the message (1-based) and how many parts
    /// of it arrived (and are charged).
    #[serde(default = "one")]
    pub part: u32,
    #[serde(default = "one")]
    pub parts: u32,
}

fn one() -> u32 {
    1
}

/// Numbers for `/metrics` that only the gateway knows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayCounters {
    pub live_sessions: u64,
    pub queue_depth: u64,
    pub out_of_session_replies: u64,
    pub mo_charges: u64,
    /// The store is open and its last write or flush worked.
    pub store_open: bool,
    /// Store errors since start (each also logged where it happened).
    #[serde(default)]
    pub store_errors: u64,
    /// Times the supervisor's alarm fired since start: it sleeps until
    /// something is due, so an idle gateway adds about one an hour.
    #[serde(default)]
    pub timer_wakeups: u64,
    /// Store flushes (each ends in `fdatasync`) since start.
    #[serde(default)]
    pub store_flushes: u64,
}

/// The gateway, as the web layer uses it.
pub trait GatewayApi: Send + Sync + 'static {
    /// R1, R2, R11: sends `req` for the browser's session `session` (or
    /// opens a new one). The answer is given only after the outbox is
    /// durable. `client` is the web user's address (for the record).
    fn send(
        &self,
        session: Option<String>,
        req: SendRequest,
        client: IpAddr,
    ) -> BoxFuture<'_, Result<SendAnswer, SendError>>;

    /// The live session `id`, or `None` once it ended (R4).
    fn session(&self, id: &str) -> BoxFuture<'_, Option<SessionView>>;

    /// Live events of session `id`; `None` when it is not live. Events are
    /// shared: a channel slot holds a pointer, not a copy of the event.
    fn subscribe(&self, id: &str) -> BoxFuture<'_, Option<broadcast::Receiver<Arc<SessionEvent>>>>;

    /// The API keys (admin: made, listed, revoked; programs: checked).
    fn api_keys(&self) -> crate::keys::ApiKeys;

    /// The webhook queue (admin: listed, given-up events re-sent).
    fn hooks(&self) -> crate::hooks::Hooks;

    // ---- admin ----
    fn sessions(&self) -> BoxFuture<'_, Vec<SessionSummary>>;
    fn admin_session(&self, id: &str) -> BoxFuture<'_, Option<SessionView>>;
    /// Ends a session now; `false` when there was none.
    fn end_session(&self, id: &str) -> BoxFuture<'_, bool>;
    fn modems(&self) -> BoxFuture<'_, Vec<ModemStatus>>;
    fn outbox(&self) -> BoxFuture<'_, Result<Vec<OutboxItem>, StoreUnavailable>>;
    /// Late replies (R7) with `from` ≤ time < `to`, oldest first.
    fn out_of_session(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> BoxFuture<'_, Result<Vec<OutOfSessionItem>, StoreUnavailable>>;
    /// Charges (R10) with `from` ≤ time < `to`, oldest first, streamed:
    /// only that range is read.
    fn charges(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> BoxFuture<'_, Result<ChargeStream, StoreUnavailable>>;

    /// [`GatewayApi::charges`] read to the end (tests and small ranges).
    fn charge_list(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> BoxFuture<'_, Result<Vec<ChargeItem>, StoreUnavailable>> {
        Box::pin(async move {
            use futures_util::TryStreamExt;
            self.charges(from, to).await?.try_collect().await
        })
    }
    fn counters(&self) -> BoxFuture<'_, GatewayCounters>;
    /// `/readyz`: the store is open and at least one modem is up.
    fn ready(&self) -> BoxFuture<'_, bool>;

    /// Each SIM's caps, counts, keep-alive and balance.
    fn sims(&self) -> BoxFuture<'_, Vec<SimView>> {
        Box::pin(async { Vec::new() })
    }

    /// USSD questions asked so far, by short code and outcome.
    fn ussd_asked(&self) -> std::collections::BTreeMap<(String, &'static str), u64> {
        Default::default()
    }

    /// Admin: lifts a SIM's reached caps until their periods end.
    fn lift_caps(&self, short_code: &str) -> BoxFuture<'_, Result<(), String>> {
        let e = format!("no modem has the short code {short_code}");
        Box::pin(async move { Err(e) })
    }

    /// A USSD through the modem of `short_code` (a technician's: balance,
    /// menus), queued with its SMS traffic.
    fn ussd(
        &self,
        short_code: &str,
        _code: &str,
    ) -> BoxFuture<'_, Result<crate::modem::types::UssdAnswer, crate::modem::types::UssdError>>
    {
        let e = crate::modem::types::UssdError::NoSuchModem(short_code.to_string());
        Box::pin(async move { Err(e) })
    }
}

/// One SIM as the admin sees it: caps, counts, keep-alive and balance.
#[derive(Debug, Clone, Serialize)]
pub struct SimView {
    #[serde(flatten)]
    pub usage: super::supervisor::SimUsageView,
    /// `None` without `balance_ussd`.
    pub balance: Option<super::sims::BalanceView>,
}
