//! What the session core answers (R1, R3, R7, R8, R10–R12): send plans with
//! per-recipient decisions, whole-send refusals, and where a mobile-originated
//! message went.
//!
//! Owns these answer types and their wire names (`queued`, `refused`,
//! `opted_out`...), which the web and the store reuse. No logic lives here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::allocator::ShortCode;
use super::numbers::Msisdn;
use super::optout::Keyword;
use super::table::{MessageId, Reply, SessionId};
use super::tariff::Cdr;

/// Why one recipient of a send is refused (the others still go, R8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// R13: not E.164 and not a national number of the configured country.
    #[error("invalid_number")]
    InvalidNumber,
    /// R12: the number sent STOP.
    #[error("opted_out")]
    OptedOut,
    /// R8: every short code is bound to that number by other live sessions.
    #[error("no_free_short_code")]
    NoFreeShortCode,
    /// The same number appears twice in one send.
    #[error("duplicate_recipient")]
    DuplicateRecipient,
    /// The owner's money: a country not in `allowed_countries`, or a
    /// premium-rate (or similar) number.
    #[error("destination_not_allowed")]
    DestinationNotAllowed,
}

/// Why a whole send is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SendError {
    /// R1: more recipients than `max_recipients`.
    #[error("too_many_recipients: {got} (at most {max})")]
    TooManyRecipients { max: usize, got: usize },
    #[error("no_recipients")]
    NoRecipients,
    /// R11: the session's previous send is still being accepted.
    #[error("send_in_progress")]
    SendInProgress,
    /// The caller's fresh session id is already taken (it is not fresh).
    #[error("session_id_in_use: {session}")]
    SessionIdInUse { session: SessionId },
}

/// The decision for one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Decision {
    /// Send it from `short_code`; `can_reply` is false for fleet numbers (R9).
    Queued {
        short_code: ShortCode,
        can_reply: bool,
    },
    Refused {
        reason: Refusal,
    },
}

/// One recipient of a send, as typed and as normalised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientPlan {
    pub input: String,
    /// The E.164 number; `None` when it is not a number.
    pub to: Option<Msisdn>,
    #[serde(flatten)]
    pub decision: Decision,
}

/// The answer to [`super::SessionCore::begin_send`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendPlan {
    /// The session the message belongs to; `None` when every recipient was
    /// refused and no session was open (none is opened for nothing).
    pub session: Option<SessionId>,
    /// True when this send opened the session (R2, R6): set the cookie.
    pub opened: bool,
    /// The recorded message; `None` when every recipient was refused. When
    /// set, the send is in flight until [`super::SessionCore::finish_send`] (R11).
    pub message: Option<MessageId>,
    /// The session's deadline after this send.
    pub deadline: Option<DateTime<Utc>>,
    pub recipients: Vec<RecipientPlan>,
}

/// R7: a reply that reached no session. Never shown to a web user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutOfSession {
    /// Its number among out-of-session records (its ledger key).
    #[serde(default)]
    pub id: u64,
    pub from: Msisdn,
    pub short_code: ShortCode,
    pub text: String,
    pub received_at: DateTime<Utc>,
    /// The pair belonged to a session that ended (a late reply), rather
    /// than to none the core remembers.
    pub late: bool,
    /// R7: the auto-reply sent back to `from` from `short_code`, if one
    /// went (it is configured and none went to the pair within the
    /// cool-down).
    pub auto_reply: Option<String>,
}

/// Where a mobile-originated message went: exactly one place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum Routed {
    /// R3: appended to this live session (publish `reply`).
    ToSession { session: SessionId, reply: Reply },
    /// R7: kept for the admin only.
    OutOfSession { record: OutOfSession },
}

/// The answer to [`super::SessionCore::route_reply`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoOutcome {
    pub routed: Routed,
    /// R12: the opt-out keyword the message was, so the caller can confirm
    /// to the phone.
    pub keyword: Option<Keyword>,
    /// R10: every MO to a short code is charged, in session or not: this
    /// is the charge of one part.
    pub cdr: Cdr,
    /// R10: SMS parts the phone sent (one charge each).
    pub parts: u32,
    /// The ledger number of the first part's charge; the others follow.
    pub first_charge: u64,
    /// R7/R12: the text to send back to the phone from the same short
    /// code (an auto-reply or a keyword's confirmation), if any is due.
    #[serde(default)]
    pub notice: Option<String>,
}
