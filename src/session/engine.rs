//! The session core (R1–R12 without I/O): sends, replies, expiry and status
//! updates over the session table, the short-code allocator, the opt-out
//! list and the tariff.
//!
//! Owns the decisions. It never reads a clock (time is an argument), never
//! generates ids (the caller passes them), never sends, stores or publishes:
//! it returns what the caller must do.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::allocator::{Allocator, ShortCode};
use super::caps::{Caps, Usage};
use super::notices::{NoticeKind, Notices};
use super::numbers::{destination_allowed, normalize, Msisdn};
use super::optout::OptOutList;
use super::outcome::{
    Decision, MoOutcome, OutOfSession, RecipientPlan, Refusal, Routed, SendError, SendPlan,
};
use super::settings::CoreConfig;
use super::table::{
    DeliveryStatus, Expired, MessageId, RecipientStatus, RefusedRecipient, Reply, SentMessage,
    Session, SessionId, SessionTable, StatusError,
};
use super::vecmap::VecMap;

/// What a send is decided with besides its request: the short codes whose
/// modem is up (`None`: the configured pool) and recipients refused before
/// the core (kept in the message with their reason).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct SendContext<'a> {
    pub live_codes: Option<&'a [ShortCode]>,
    pub pre_refused: &'a [RefusedRecipient],
}

/// Everything the core remembers, persisted as one value by the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoreState {
    pub table: SessionTable,
    pub allocator: Allocator,
    pub opt_outs: OptOutList,
    /// Sessions ended on the way (inside a send or a reply) and not yet
    /// handed out by [`SessionCore::expire`].
    pub ended: Vec<Expired>,
    /// The next [`MessageId`].
    pub next_message: u64,
    /// What the ledger holds so far (R7, R10): kept, not counted, so that
    /// `/metrics` and `/readyz` never scan the records.
    #[serde(default)]
    pub ledger: LedgerCounts,
    /// R7/R12: the notices sent back to phones lately (each at most once
    /// per pair and kind per cool-down).
    #[serde(default)]
    pub notices: Notices,
    /// What each SIM sent in the current day and month (per-SIM caps,
    /// keep-alive).
    #[serde(default)]
    pub usage: Usage,
}

/// Numbers of ledger records made so far. They also number the records:
/// a charge's id is the count of charges before it, so a replayed journal
/// writes the same records under the same keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerCounts {
    /// Charge records (one per SMS part a phone sent, R10).
    pub charges: u64,
    /// Replies that reached no session (R7).
    pub out_of_session: u64,
}

/// The pure session core a supervisor drives (see the module docs of
/// [`crate::session`]).
#[derive(Debug, Clone)]
pub struct SessionCore {
    config: CoreConfig,
    state: CoreState,
}

impl SessionCore {
    pub fn new(config: CoreConfig) -> Self {
        Self::restore(config, CoreState::default())
    }

    /// A core over persisted state (after a restart).
    pub fn restore(config: CoreConfig, state: CoreState) -> Self {
        SessionCore { config, state }
    }

    pub fn config(&self) -> &CoreConfig {
        &self.config
    }

    /// What to persist after each call that changed something.
    pub fn state(&self) -> &CoreState {
        &self.state
    }

    /// R5: the pool changed (a modem went away or came back).
    pub fn set_pool(&mut self, pool: Vec<ShortCode>) {
        self.config.pool = pool;
    }

    /// The per-SIM caps changed (SIGHUP).
    pub fn set_caps(&mut self, caps: BTreeMap<ShortCode, Caps>) {
        self.config.caps = caps;
    }

    /// R5 refined: whether `to`'s conversation in `session` may move from
    /// `from` to `code`: the phone has seen nothing from `from` (no part
    /// sent, no reply) and `(to, code)` is free. A read, so a caller can
    /// ask before it takes anything back from a modem.
    pub fn may_rebind(
        &self,
        session: &SessionId,
        to: &Msisdn,
        from: &ShortCode,
        code: &ShortCode,
        now: DateTime<Utc>,
    ) -> bool {
        if self.state.allocator.holder(to, code).is_some() {
            return false;
        }
        let Some(s) = self.state.table.get(session, now) else {
            return false;
        };
        if s.bindings.get(to) != Some(from) || s.replies.iter().any(|r| &r.from == to) {
            return false;
        }
        s.messages
            .iter()
            .flat_map(|m| m.recipients.iter())
            .filter(|r| &r.to == to)
            .all(|r| {
                matches!(
                    r.status,
                    DeliveryStatus::Queued
                        | DeliveryStatus::WaitingForModem
                        | DeliveryStatus::WaitingForCap
                )
            })
    }

    /// R2/R4: the live session `id`, or `None` once it ended.
    pub fn get(&self, id: &SessionId, now: DateTime<Utc>) -> Option<&Session> {
        self.state.table.get(id, now)
    }

    /// Every live session (admin).
    pub fn live_sessions(&self, now: DateTime<Utc>) -> impl Iterator<Item = &Session> {
        self.state.table.live(now)
    }

    /// Sessions in the table (live, or due and not yet swept): a count
    /// kept by the table, not a scan.
    pub fn live_count(&self) -> usize {
        self.state.table.len()
    }

    /// When the supervisor's timer should next call [`SessionCore::expire`].
    pub fn next_deadline(&self) -> Option<DateTime<Utc>> {
        if self.state.ended.is_empty() {
            self.state.table.next_deadline()
        } else {
            self.state.ended.iter().map(|e| e.ended_at).min()
        }
    }

    /// Whether [`SessionCore::expire`] at `now` would end something: the
    /// supervisor's timer journals an expiry only then.
    pub fn expiry_due(&self, now: DateTime<Utc>) -> bool {
        self.next_deadline().is_some_and(|d| d <= now)
    }

    /// R11 after a restart: a send that was in flight when the process
    /// died is finished. Its outbox entries were made durable with it (or
    /// its journal entry was not), so nobody waits for it any more.
    /// Returns how many sends were finished.
    pub(super) fn recover(&mut self, _now: DateTime<Utc>) -> usize {
        self.state.table.finish_all_sends()
    }

    /// R5 refined: moves `to`'s binding in `session` from `from` to `code`
    /// when the phone has seen nothing from `from`: no message of the
    /// session to it left the modem (all still queued or waiting for the
    /// modem) and it sent no reply. The new pair must be free. Returns
    /// whether it moved.
    pub(super) fn rebind(
        &mut self,
        session: &SessionId,
        to: &Msisdn,
        from: &ShortCode,
        code: &ShortCode,
        now: DateTime<Utc>,
    ) -> bool {
        if !self.may_rebind(session, to, from, code, now) {
            return false;
        }
        let Some(s) = self.state.table.get_mut(session, now) else {
            return false;
        };
        s.bindings.insert(to.clone(), code.clone());
        let caps = self.config.caps_of(code);
        for r in s
            .messages
            .iter_mut()
            .flat_map(|m| m.recipients.iter_mut())
            .filter(|r| &r.to == to)
        {
            r.short_code = code.clone();
            r.status = DeliveryStatus::Queued;
            r.reason = None;
            // Allocated to the new SIM: it counts there (chosen among the
            // SIMs with room).
            self.state.usage.count(code, &caps, to, now);
        }
        self.state.allocator.release(to, from);
        self.state.allocator.bind(to, code, session);
        true
    }

    /// Sends still in flight (R11).
    pub fn sends_in_flight(&self) -> usize {
        self.state.table.sends_in_flight()
    }

    pub fn is_opted_out(&self, number: &Msisdn) -> bool {
        self.state.opt_outs.is_opted_out(number)
    }

    /// R4/R6: ends every session due at `now`, retires its pairs, and hands
    /// out everything that ended since the last call (publish `expired`).
    pub(super) fn expire(&mut self, now: DateTime<Utc>) -> Vec<Expired> {
        self.sweep(now);
        std::mem::take(&mut self.state.ended)
    }

    /// Ends a session at once (admin `DELETE`); its pairs retire now.
    pub(super) fn end_session(&mut self, id: &SessionId, now: DateTime<Utc>) -> Option<Expired> {
        let ended = self.state.table.end(id, now)?;
        self.retire(&ended);
        Some(ended)
    }

    fn sweep(&mut self, now: DateTime<Utc>) {
        for ended in self.state.table.expire(now) {
            self.retire(&ended);
            self.state.ended.push(ended);
        }
        self.state.allocator.prune(now, self.config.cooldown());
        self.state.notices.prune(now, self.config.cooldown());
    }

    fn retire(&mut self, ended: &Expired) {
        for (number, code) in &ended.pairs {
            self.state.allocator.retire(number, code, ended.ended_at);
        }
    }

    /// R1, R2, R5, R6, R8, R9, R11, R12: decides a send of `text` to
    /// `recipients` as typed. `existing` is the browser's session (if its
    /// cookie names one); when it is not live, a session `new_id` opens.
    /// Queued recipients are recorded as one [`SentMessage`] and restart the
    /// idle clock (R4); the send stays in flight until
    /// [`SessionCore::finish_send`].
    #[cfg(test)]
    pub(super) fn begin_send(
        &mut self,
        existing: Option<&SessionId>,
        new_id: SessionId,
        recipients: &[String],
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<SendPlan, SendError> {
        self.begin_send_on(
            existing,
            new_id,
            recipients,
            text,
            SendContext::default(),
            now,
        )
    }

    /// [`SessionCore::begin_send`] while only the modems of `live_codes` are up
    /// (`None`: the configured pool): new recipients are bound only to
    /// those short codes (a recipient already bound in the session keeps
    /// its code, R5).
    pub(super) fn begin_send_on(
        &mut self,
        existing: Option<&SessionId>,
        new_id: SessionId,
        recipients: &[String],
        text: &str,
        context: SendContext<'_>,
        now: DateTime<Utc>,
    ) -> Result<SendPlan, SendError> {
        let SendContext {
            live_codes,
            pre_refused,
        } = context;
        self.sweep(now);
        let max = self.config.max_recipients;
        if max > 0 && recipients.len() > max {
            return Err(SendError::TooManyRecipients {
                max,
                got: recipients.len(),
            });
        }
        if recipients.is_empty() {
            return Err(SendError::NoRecipients);
        }
        let live = existing.and_then(|id| self.state.table.get(id, now));
        if live.is_some_and(|s| s.send_in_flight) {
            return Err(SendError::SendInProgress);
        }
        let (session_id, bindings) = match live {
            Some(s) => (s.id.clone(), s.bindings.clone()),
            None if self.state.table.get(&new_id, now).is_some() => {
                return Err(SendError::SessionIdInUse { session: new_id })
            }
            None => (new_id, VecMap::new()),
        };
        let opened = live.is_none();

        let up: Vec<ShortCode> = live_codes.map_or_else(|| self.config.pool.clone(), <[_]>::to_vec);
        // One recipient after the other, each counted on its SIM before
        // the next is decided: a SIM that reaches a cap inside this send
        // takes no new conversation after that (per-SIM caps).
        let mut plans: Vec<RecipientPlan> = Vec::with_capacity(recipients.len());
        let mut queued: Vec<RecipientStatus> = Vec::new();
        let mut seen = Vec::new();
        for raw in recipients {
            let room: Vec<ShortCode> = up
                .iter()
                .filter(|c| self.state.usage.takes_new(c, &self.config.caps_of(c), now))
                .cloned()
                .collect();
            let plan = self.decide(raw, &bindings, &room, &mut seen, now);
            if let (
                Some(to),
                Decision::Queued {
                    short_code,
                    can_reply,
                },
            ) = (&plan.to, &plan.decision)
            {
                // R5 keeps a bound recipient on its SIM even at its cap:
                // the message waits there (`waiting_for_cap`), counted
                // when the cap lets it through.
                let caps = self.config.caps_of(short_code);
                let status = if self.state.usage.admit(short_code, &caps, to, now) {
                    DeliveryStatus::Queued
                } else {
                    DeliveryStatus::WaitingForCap
                };
                queued.push(RecipientStatus {
                    to: to.clone(),
                    short_code: short_code.clone(),
                    status,
                    reason: None,
                    can_reply: *can_reply,
                });
            }
            plans.push(plan);
        }
        if queued.is_empty() {
            let deadline = live.map(|s| s.deadline);
            return Ok(SendPlan {
                session: (!opened).then_some(session_id),
                opened: false,
                message: None,
                deadline,
                recipients: plans,
            });
        }

        let idle = self.config.idle();
        if opened {
            self.state.table.open(session_id.clone(), now, idle);
        }
        self.state.table.touch(&session_id, now, idle);
        let message = MessageId(self.state.next_message);
        self.state.next_message += 1;
        for r in &queued {
            self.state.allocator.bind(&r.to, &r.short_code, &session_id);
        }
        let session = self
            .state
            .table
            .get_mut(&session_id, now)
            .expect("opened or live above");
        for r in &queued {
            session.bindings.insert(r.to.clone(), r.short_code.clone());
        }
        session.send_in_flight = true;
        let deadline = session.deadline;
        self.state.table.record_message(
            &session_id,
            SentMessage {
                id: message,
                text: text.to_string(),
                sent_at: now,
                // Kept for the session's life: no spare slots (a Vec grown
                // by pushes holds at least four).
                recipients: {
                    let mut queued = queued;
                    queued.shrink_to_fit();
                    queued
                },
                refused: plans
                    .iter()
                    .filter_map(|p| match &p.decision {
                        Decision::Refused { reason } => Some(RefusedRecipient {
                            to: p
                                .to
                                .as_ref()
                                .map_or_else(|| p.input.clone(), |t| t.0.clone()),
                            reason: reason.to_string(),
                        }),
                        Decision::Queued { .. } => None,
                    })
                    .chain(pre_refused.iter().cloned())
                    .collect(),
            },
            now,
        );
        Ok(SendPlan {
            session: Some(session_id),
            opened,
            message: Some(message),
            deadline: Some(deadline),
            recipients: plans,
        })
    }

    fn decide(
        &self,
        raw: &str,
        bindings: &VecMap<Msisdn, ShortCode>,
        live: &[ShortCode],
        seen: &mut Vec<Msisdn>,
        now: DateTime<Utc>,
    ) -> RecipientPlan {
        let plan = |to: Option<Msisdn>, decision| RecipientPlan {
            input: raw.to_string(),
            to,
            decision,
        };
        let refuse = |reason| Decision::Refused { reason };
        let Ok(to) = normalize(raw, &self.config.country) else {
            return plan(None, refuse(Refusal::InvalidNumber));
        };
        // The pool's own numbers are not recipients: a modem would text a
        // modem (and, with the auto-reply on, answer itself).
        if self.config.pool.iter().chain(live).any(|c| c.0 == to.0) {
            return plan(Some(to), refuse(Refusal::InvalidNumber));
        }
        if !destination_allowed(&to, &self.config.allowed_countries) {
            return plan(Some(to), refuse(Refusal::DestinationNotAllowed));
        }
        if seen.contains(&to) {
            return plan(Some(to), refuse(Refusal::DuplicateRecipient));
        }
        seen.push(to.clone());
        if self.state.opt_outs.is_opted_out(&to) {
            return plan(Some(to), refuse(Refusal::OptedOut));
        }
        // R5: within a session a recipient keeps its code.
        let code = bindings.get(&to).cloned().or_else(|| {
            self.state
                .allocator
                .pick(&to, live, now, self.config.cooldown())
        });
        match code {
            Some(short_code) => {
                let can_reply = !self.config.fleet.contains(&to);
                plan(
                    Some(to),
                    Decision::Queued {
                        short_code,
                        can_reply,
                    },
                )
            }
            None => plan(Some(to), refuse(Refusal::NoFreeShortCode)),
        }
    }

    /// R11: the send of `session` was accepted (or failed); the next may
    /// begin. Harmless when nothing is in flight or the session ended.
    pub(super) fn finish_send(&mut self, session: &SessionId, now: DateTime<Utc>) {
        if let Some(s) = self.state.table.get_mut(session, now) {
            s.send_in_flight = false;
        }
    }

    /// R3, R7, R10, R12: a phone `from` sent `text` to `short_code`. It
    /// reaches the live session holding the pair (and restarts its clock),
    /// or stays out of session; either way it is charged.
    pub(super) fn route_reply(
        &mut self,
        from: &str,
        short_code: &ShortCode,
        text: &str,
        parts: u32,
        now: DateTime<Utc>,
    ) -> MoOutcome {
        let parts = parts.max(1);
        self.sweep(now);
        // A sender the modem reports in an odd form is kept as reported.
        let from = normalize(from, &self.config.country)
            .unwrap_or_else(|_| Msisdn(from.trim().to_string()));
        let keyword = self.config.opt_out.classify(text);
        if let Some(k) = keyword {
            self.state.opt_outs.apply(&from, k, now);
        }
        let holder = self.state.allocator.holder(&from, short_code).cloned();
        let idle = self.config.idle();
        let session = holder.and_then(|id| {
            self.state.table.touch(&id, now, idle);
            self.state.table.get_mut(&id, now)
        });
        let routed = match session {
            Some(s) => {
                let reply = Reply {
                    from: from.clone(),
                    short_code: short_code.clone(),
                    text: text.to_string(),
                    received_at: now,
                };
                s.replies.reserve_exact(1);
                s.replies.push(reply.clone());
                Routed::ToSession {
                    session: s.id.clone(),
                    reply,
                }
            }
            None => Routed::OutOfSession {
                record: OutOfSession {
                    id: {
                        let id = self.state.ledger.out_of_session;
                        self.state.ledger.out_of_session += 1;
                        id
                    },
                    late: self.state.allocator.retired_at(&from, short_code).is_some(),
                    from: from.clone(),
                    short_code: short_code.clone(),
                    text: text.to_string(),
                    received_at: now,
                    auto_reply: None,
                },
            },
        };
        let in_session = matches!(routed, Routed::ToSession { .. });
        // R12: a keyword gets its confirmation; R7: a reply out of session
        // the auto-reply (a keyword gets no auto-reply besides). Each at
        // most once per pair and kind per cool-down.
        let (kind, text) = match keyword {
            Some(k) => (NoticeKind::Confirm(k), self.config.opt_out.confirmation(k)),
            None if in_session => (NoticeKind::AutoReply, None),
            None => (NoticeKind::AutoReply, self.config.auto_reply.clone()),
        };
        let cooldown = self.config.cooldown();
        let notice = text.filter(|_| {
            self.state
                .notices
                .take(&from, short_code, kind, now, cooldown)
        });
        if notice.is_some() {
            // The notice goes out from this SIM: it counts there, past a
            // cap too (the phone asked for it).
            let caps = self.config.caps_of(short_code);
            self.state.usage.count(short_code, &caps, &from, now);
        }
        let mut routed = routed;
        if let (Routed::OutOfSession { record }, NoticeKind::AutoReply) = (&mut routed, kind) {
            record.auto_reply = notice.clone();
        }
        let cdr = self
            .config
            .tariff
            .charge(&from, short_code, now, in_session);
        let first_charge = self.state.ledger.charges;
        self.state.ledger.charges += u64::from(parts);
        MoOutcome {
            routed,
            keyword,
            cdr,
            parts,
            first_charge,
            notice,
        }
    }

    /// R4: a part of a longer message from `from` reached `short_code`:
    /// the live session holding the pair restarts its idle clock and lives
    /// at least `until` (the whole message, or what came of it, routes
    /// there). Returns that session.
    pub(super) fn part_arrived(
        &mut self,
        from: &str,
        short_code: &ShortCode,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Option<SessionId> {
        self.sweep(now);
        let from = normalize(from, &self.config.country)
            .unwrap_or_else(|_| Msisdn(from.trim().to_string()));
        let id = self.state.allocator.holder(&from, short_code).cloned()?;
        self.state.table.touch(&id, now, self.config.idle());
        self.state.table.hold_until(&id, now, until);
        self.state.table.get(&id, now).map(|s| s.id.clone())
    }

    /// A recipient's delivery status changed (modem accepted it, delivery
    /// report, failure). Returns whether it changed (publish `status`).
    /// Status updates do not restart the idle clock (R4 counts messages).
    pub(super) fn update_status(
        &mut self,
        message: MessageId,
        to: &Msisdn,
        status: DeliveryStatus,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<bool, StatusError> {
        self.state
            .table
            .update_status(message, to, status, reason, now)
    }

    /// Per-SIM caps: whether a message waiting for its SIM's cap would be
    /// let through at `now` (a new day or month, or a lift): the
    /// supervisor journals an [`Change::Admit`](super::Change) only then.
    pub fn admission_due(&self, now: DateTime<Utc>) -> bool {
        self.state.table.live(now).any(|s| {
            s.messages
                .iter()
                .flat_map(|m| m.recipients.iter())
                .any(|r| {
                    r.status == DeliveryStatus::WaitingForCap
                        && self.state.usage.has_room(
                            &r.short_code,
                            &self.config.caps_of(&r.short_code),
                            &r.to,
                            now,
                        )
                })
        })
    }

    /// Whether any message waits for its SIM's cap.
    pub fn waiting_for_cap(&self, now: DateTime<Utc>) -> bool {
        self.state.table.live(now).any(|s| {
            s.messages
                .iter()
                .flat_map(|m| m.recipients.iter())
                .any(|r| r.status == DeliveryStatus::WaitingForCap)
        })
    }

    /// Lets through, oldest first, the messages waiting for a cap that now
    /// have room, each counted on its SIM. Returns them.
    pub(super) fn admit_waiting(&mut self, now: DateTime<Utc>) -> Vec<Admitted> {
        let mut out = Vec::new();
        let ids: Vec<SessionId> = self.state.table.live(now).map(|s| s.id.clone()).collect();
        for id in ids {
            let Some(s) = self.state.table.get_mut(&id, now) else {
                continue;
            };
            for m in &mut s.messages {
                for r in &mut m.recipients {
                    if r.status != DeliveryStatus::WaitingForCap {
                        continue;
                    }
                    let caps = self.config.caps_of(&r.short_code);
                    if self.state.usage.admit(&r.short_code, &caps, &r.to, now) {
                        r.status = DeliveryStatus::Queued;
                        out.push(Admitted {
                            session: id.clone(),
                            message: m.id,
                            to: r.to.clone(),
                            short_code: r.short_code.clone(),
                        });
                    }
                }
            }
        }
        out
    }

    /// The admin lifts `code`'s reached caps until their periods end.
    pub(super) fn lift_cap(&mut self, code: &ShortCode, now: DateTime<Utc>) {
        self.state.usage.lift(code, now);
    }

    /// A keep-alive SMS to `to` was allocated to `code`.
    pub(super) fn keep_alive(&mut self, code: &ShortCode, to: &Msisdn, now: DateTime<Utc>) {
        let caps = self.config.caps_of(code);
        self.state.usage.count(code, &caps, to, now);
    }

    /// The SIMs of `codes` are known from `now` on (keep-alive counts from
    /// then while they send nothing).
    pub(super) fn seen(&mut self, codes: &[ShortCode], now: DateTime<Utc>) {
        for c in codes {
            self.state.usage.seen(c, now);
        }
    }

    /// The caps of `code` (none when not configured).
    pub fn caps_of(&self, code: &ShortCode) -> Caps {
        self.config.caps_of(code)
    }
}

/// A message let through by [`SessionCore::admit_waiting`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    pub session: SessionId,
    pub message: MessageId,
    pub to: Msisdn,
    pub short_code: ShortCode,
}
