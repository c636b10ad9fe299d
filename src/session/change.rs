//! The one door to the session state: every change is a [`Change`] value
//! (its inputs, time included) applied by [`SessionCore::apply`]. The
//! core's mutating methods are private to this module tree, so whoever
//! holds a core can change it only by a value that can be journaled first
//! and replayed after a crash to the same state.
//!
//! Plain data and one match: no I/O, no clock.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::allocator::ShortCode;
use super::engine::SessionCore;
use super::numbers::Msisdn;
use super::outcome::{MoOutcome, SendError, SendPlan};
use super::table::{DeliveryStatus, Expired, MessageId, RefusedRecipient, SessionId, StatusError};

/// One change of the session state, with everything needed to redo it.
/// Its JSON form (tag `op`) is the journal's record format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    /// R1, R2, R11: a web send (see [`SessionCore`] `begin_send`).
    Send {
        existing: Option<SessionId>,
        new_id: SessionId,
        to: Vec<String>,
        text: String,
        /// The short codes whose modem was up at the time: new
        /// conversations are bound only to these (R5, R6 choose among live
        /// codes). Kept in the entry, so a replay decides the same even if
        /// the configured pool changed since. `None` (older entries): the
        /// configured pool.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        live: Option<Vec<ShortCode>>,
        /// Recipients refused before the core (over their quota): kept in
        /// the message with their reason.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        refused: Vec<RefusedRecipient>,
        at: DateTime<Utc>,
    },
    /// R11: the send of `session` was accepted (or refused): the next may
    /// begin.
    Finish {
        session: SessionId,
        at: DateTime<Utc>,
    },
    /// R3, R7, R10, R12: a complete message a phone sent (`parts` SMS).
    Reply {
        from: String,
        short_code: ShortCode,
        text: String,
        #[serde(default = "one")]
        parts: u32,
        at: DateTime<Utc>,
    },
    /// A part of a longer message arrived from `from` at `short_code`
    /// (the rest is still on its way): the session holding the pair, if
    /// any, counts it as activity (R4) and lives at least `until` (when
    /// the message is released, whole or not), so a reply whose parts
    /// straddle the idle timeout stays in its session.
    Part {
        from: String,
        short_code: ShortCode,
        at: DateTime<Utc>,
        until: DateTime<Utc>,
    },
    /// A recipient's delivery status.
    Status {
        message: MessageId,
        to: Msisdn,
        status: DeliveryStatus,
        reason: Option<String>,
        at: DateTime<Utc>,
    },
    /// R4, R6: end every session due at `at`.
    Expire { at: DateTime<Utc> },
    /// Admin: end `session` now.
    End {
        session: SessionId,
        at: DateTime<Utc>,
    },
    /// R11 after a restart: sends in flight when the process died are
    /// finished.
    Recover { at: DateTime<Utc> },
    /// R5 refined: `to`'s binding in `session` moves from `from` (a modem
    /// down longer than `failover_after`) to `code`, if the phone has seen
    /// nothing from `from`.
    Rebind {
        session: SessionId,
        to: Msisdn,
        from: ShortCode,
        code: ShortCode,
        at: DateTime<Utc>,
    },
    /// Per-SIM caps: the messages waiting for a cap that fit now (a new
    /// day or month, a lift) go, counted on their SIM.
    Admit { at: DateTime<Utc> },
    /// Admin: `code`'s reached caps are lifted until their periods end.
    LiftCap { code: ShortCode, at: DateTime<Utc> },
    /// A keep-alive SMS to `to` was allocated to `code`.
    KeepAlive {
        code: ShortCode,
        to: Msisdn,
        at: DateTime<Utc>,
    },
    /// The SIMs of `codes` are known from `at` on (keep-alive counts from
    /// then while they send nothing).
    Seen {
        codes: Vec<ShortCode>,
        at: DateTime<Utc>,
    },
}

fn one() -> u32 {
    1
}

impl Change {
    /// When the change happened.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Change::Send { at, .. }
            | Change::Finish { at, .. }
            | Change::Reply { at, .. }
            | Change::Part { at, .. }
            | Change::Status { at, .. }
            | Change::Expire { at }
            | Change::End { at, .. }
            | Change::Recover { at }
            | Change::Rebind { at, .. }
            | Change::Admit { at }
            | Change::LiftCap { at, .. }
            | Change::KeepAlive { at, .. }
            | Change::Seen { at, .. } => *at,
        }
    }
}

/// What applying a [`Change`] gave.
#[derive(Debug)]
pub enum Applied {
    Send(Result<SendPlan, SendError>),
    Reply(Box<MoOutcome>),
    Status(Result<bool, StatusError>),
    Ended(Vec<Expired>),
    /// `Finish` and `Recover` (how many sends were finished).
    Finished(usize),
    /// `Rebind`: whether the binding moved.
    Rebound(bool),
    /// `Part`: the session whose idle clock it restarted, if any.
    Touched(Option<super::table::SessionId>),
    /// `Admit`: the messages let through.
    Admitted(Vec<super::engine::Admitted>),
    /// `LiftCap`, `KeepAlive`, `Seen`.
    Counted,
}

impl SessionCore {
    /// Applies `change`: the only way to change the core's state.
    pub fn apply(&mut self, change: &Change) -> Applied {
        match change {
            Change::Send {
                existing,
                new_id,
                to,
                text,
                live,
                refused,
                at,
            } => Applied::Send(self.begin_send_on(
                existing.as_ref(),
                new_id.clone(),
                to,
                text,
                super::engine::SendContext {
                    live_codes: live.as_deref(),
                    pre_refused: refused,
                },
                *at,
            )),
            Change::Finish { session, at } => {
                self.finish_send(session, *at);
                Applied::Finished(1)
            }
            Change::Reply {
                from,
                short_code,
                text,
                parts,
                at,
            } => Applied::Reply(Box::new(
                self.route_reply(from, short_code, text, *parts, *at),
            )),
            Change::Part {
                from,
                short_code,
                at,
                until,
            } => Applied::Touched(self.part_arrived(from, short_code, *at, *until)),
            Change::Status {
                message,
                to,
                status,
                reason,
                at,
            } => Applied::Status(self.update_status(*message, to, *status, reason.clone(), *at)),
            Change::Expire { at } => Applied::Ended(self.expire(*at)),
            Change::End { session, at } => {
                Applied::Ended(self.end_session(session, *at).into_iter().collect())
            }
            Change::Recover { at } => Applied::Finished(self.recover(*at)),
            Change::Rebind {
                session,
                to,
                from,
                code,
                at,
            } => Applied::Rebound(self.rebind(session, to, from, code, *at)),
            Change::Admit { at } => Applied::Admitted(self.admit_waiting(*at)),
            Change::LiftCap { code, at } => {
                self.lift_cap(code, *at);
                Applied::Counted
            }
            Change::KeepAlive { code, to, at } => {
                self.keep_alive(code, to, *at);
                Applied::Counted
            }
            Change::Seen { codes, at } => {
                self.seen(codes, *at);
                Applied::Counted
            }
        }
    }
}
