//! The table of live web sessions (R2, R4): what each session sent and
//! received, its idle deadline, and ending sessions when they go quiet.
//!
//! Owns sessions and their messages. It never picks short codes, reads a
//! clock or refuses recipients: the session core does that and records the
//! outcome here.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::allocator::ShortCode;
use super::numbers::Msisdn;
use super::vecmap::VecMap;

/// R2: the unguessable id of a web session. The caller generates it (the
/// core stays deterministic) and keeps it in the browser's cookie.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub String);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A web-sent message, unique across all sessions of one core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(pub u64);

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Per-recipient status the web user sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Queued,
    /// Queued for a short code whose modem is down (R5: the phone must
    /// get it from that code, so it waits).
    WaitingForModem,
    /// Queued for a short code whose SIM reached a sending cap (per day,
    /// month or distinct recipients): it goes when the cap resets or the
    /// admin lifts it.
    WaitingForCap,
    Sent,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    /// Delivered and failed are final: a late "sent" does not undo them.
    pub fn is_final(self) -> bool {
        matches!(self, DeliveryStatus::Delivered | DeliveryStatus::Failed)
    }
}

/// One recipient of a sent message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientStatus {
    pub to: Msisdn,
    /// R5: the short code this recipient is bound to in the session.
    pub short_code: ShortCode,
    pub status: DeliveryStatus,
    /// Why it failed, when it did.
    pub reason: Option<String>,
    /// R9: false for fleet/VPN numbers.
    pub can_reply: bool,
}

/// A recipient of a send that was refused, kept so the conversation shows
/// every number the user wrote to and why some got nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedRecipient {
    /// The E.164 number, or what was typed when it is not a number.
    pub to: String,
    /// The refusal's code (`opted_out`, `invalid_number`...).
    pub reason: String,
}

/// A message the web user sent: its accepted recipients with their
/// delivery status, and the refused ones with their reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMessage {
    pub id: MessageId,
    pub text: String,
    pub sent_at: DateTime<Utc>,
    pub recipients: Vec<RecipientStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<RefusedRecipient>,
}

/// R3: a reply a mobile user sent into the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub from: Msisdn,
    pub short_code: ShortCode,
    pub text: String,
    pub received_at: DateTime<Utc>,
}

/// One live web session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: SessionId,
    pub created_at: DateTime<Utc>,
    /// R4: the last sent or received message.
    pub last_activity: DateTime<Utc>,
    /// R4: `last_activity + idle_timeout`; the session has ended at and
    /// after this instant.
    pub deadline: DateTime<Utc>,
    /// R5: each recipient's short code for the whole session.
    pub bindings: VecMap<Msisdn, ShortCode>,
    pub messages: Vec<SentMessage>,
    pub replies: Vec<Reply>,
    /// R11: a send is being accepted. Persisted like the rest, so a
    /// snapshot is exact; a restart finishes what was in flight (a
    /// journaled `recover`).
    #[serde(default)]
    pub send_in_flight: bool,
}

impl Session {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        now < self.deadline
    }
}

/// R4: what ended, so the caller can publish `expired` and the core retire
/// the session's pairs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expired {
    pub session: SessionId,
    /// The deadline it reached (or when it was ended by hand).
    pub ended_at: DateTime<Utc>,
    /// R6: the (number, short code) pairs it held, now retired.
    pub pairs: Vec<(Msisdn, ShortCode)>,
}

/// What a status update changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    #[error("no live session sent message {0}")]
    UnknownMessage(MessageId),
    #[error("message {message} has no recipient {to}")]
    UnknownRecipient { message: MessageId, to: Msisdn },
}

/// R2/R4: the live sessions.
///
/// Two indexes are derived from the sessions and never stored, so that
/// expiry and delivery reports cost a lookup, not a scan of every session:
/// deadlines change only through [`SessionTable::touch`], messages are added
/// only through [`SessionTable::record_message`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Sessions", into = "Sessions")]
pub struct SessionTable {
    sessions: BTreeMap<SessionId, Session>,
    /// R4: every session by its deadline, soonest first.
    deadlines: BTreeSet<(DateTime<Utc>, SessionId)>,
    /// The session that sent each message.
    senders: HashMap<MessageId, SessionId>,
}

/// What the table persists: the sessions; the indexes are derived.
#[derive(Serialize, Deserialize)]
struct Sessions {
    sessions: BTreeMap<SessionId, Session>,
}

impl From<Sessions> for SessionTable {
    fn from(s: Sessions) -> Self {
        let deadlines = s
            .sessions
            .values()
            .map(|x| (x.deadline, x.id.clone()))
            .collect();
        let senders = s
            .sessions
            .values()
            .flat_map(|x| x.messages.iter().map(|m| (m.id, x.id.clone())))
            .collect();
        SessionTable {
            sessions: s.sessions,
            deadlines,
            senders,
        }
    }
}

impl From<SessionTable> for Sessions {
    fn from(t: SessionTable) -> Self {
        Sessions {
            sessions: t.sessions,
        }
    }
}

impl SessionTable {
    /// Opens a session at `now` (R2). Replaces nothing: returns false when
    /// the id is already in the table.
    pub fn open(&mut self, id: SessionId, now: DateTime<Utc>, idle: Duration) -> bool {
        if self.sessions.contains_key(&id) {
            return false;
        }
        let session = Session {
            id: id.clone(),
            created_at: now,
            last_activity: now,
            deadline: now + idle,
            bindings: VecMap::new(),
            messages: Vec::new(),
            replies: Vec::new(),
            send_in_flight: false,
        };
        self.deadlines.insert((session.deadline, id.clone()));
        self.sessions.insert(id, session);
        true
    }

    /// Adds a message `id` sent; false when it is not live.
    pub fn record_message(
        &mut self,
        id: &SessionId,
        message: SentMessage,
        now: DateTime<Utc>,
    ) -> bool {
        let Some(s) = self.sessions.get_mut(id).filter(|s| s.is_live(now)) else {
            return false;
        };
        self.senders.insert(message.id, id.clone());
        // Most sessions send once or twice: grow one slot at a time
        // rather than to four at the first push.
        s.messages.reserve_exact(1);
        s.messages.push(message);
        true
    }

    /// R4: the session as the web may see it; `None` once past its deadline,
    /// even before [`SessionTable::expire`] ran.
    pub fn get(&self, id: &SessionId, now: DateTime<Utc>) -> Option<&Session> {
        self.sessions.get(id).filter(|s| s.is_live(now))
    }

    /// Like [`SessionTable::get`], for the core to record into.
    pub(super) fn get_mut(&mut self, id: &SessionId, now: DateTime<Utc>) -> Option<&mut Session> {
        self.sessions.get_mut(id).filter(|s| s.is_live(now))
    }

    /// Every live session at `now` (for the admin).
    pub fn live(&self, now: DateTime<Utc>) -> impl Iterator<Item = &Session> {
        self.sessions.values().filter(move |s| s.is_live(now))
    }

    /// R4: a message was sent or received at `now`: the clock restarts.
    /// Returns false when the session is not live.
    pub fn touch(&mut self, id: &SessionId, now: DateTime<Utc>, idle: Duration) -> bool {
        let Some(s) = self.sessions.get_mut(id).filter(|s| s.is_live(now)) else {
            return false;
        };
        self.deadlines.remove(&(s.deadline, id.clone()));
        s.last_activity = now;
        s.deadline = now + idle;
        self.deadlines.insert((s.deadline, id.clone()));
        true
    }

    /// Keeps live session `id` at least until `until` (a reply on its way):
    /// a later deadline stays.
    pub fn hold_until(&mut self, id: &SessionId, now: DateTime<Utc>, until: DateTime<Utc>) {
        let Some(s) = self.sessions.get_mut(id).filter(|s| s.is_live(now)) else {
            return;
        };
        if s.deadline >= until {
            return;
        }
        self.deadlines.remove(&(s.deadline, id.clone()));
        s.deadline = until;
        self.deadlines.insert((s.deadline, id.clone()));
    }

    /// The earliest deadline of a session still in the table, so the caller
    /// can set its timer.
    pub fn next_deadline(&self) -> Option<DateTime<Utc>> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    /// R4: removes every session whose deadline is at or before `now`.
    pub fn expire(&mut self, now: DateTime<Utc>) -> Vec<Expired> {
        let due: Vec<SessionId> = self
            .deadlines
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, id)| id.clone())
            .collect();
        due.iter().filter_map(|id| self.remove(id, None)).collect()
    }

    /// Ends a session now, whatever its deadline (admin `DELETE`).
    pub fn end(&mut self, id: &SessionId, now: DateTime<Utc>) -> Option<Expired> {
        self.remove(id, Some(now))
    }

    fn remove(&mut self, id: &SessionId, at: Option<DateTime<Utc>>) -> Option<Expired> {
        let s = self.sessions.remove(id)?;
        self.deadlines.remove(&(s.deadline, s.id.clone()));
        for m in &s.messages {
            self.senders.remove(&m.id);
        }
        Some(Expired {
            ended_at: at.map_or(s.deadline, |at| at.min(s.deadline)),
            pairs: s.bindings.into_iter().collect(),
            session: s.id,
        })
    }

    /// R11 after a restart: no send is in flight any more. Returns how
    /// many were.
    pub fn finish_all_sends(&mut self) -> usize {
        let mut n = 0;
        for s in self.sessions.values_mut().filter(|s| s.send_in_flight) {
            s.send_in_flight = false;
            n += 1;
        }
        n
    }

    /// Sessions in the table.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// How many sessions have a send in flight.
    pub fn sends_in_flight(&self) -> usize {
        self.sessions.values().filter(|s| s.send_in_flight).count()
    }

    /// Updates a recipient's delivery status (a delivery report, a modem
    /// error). A final status is never downgraded. Returns whether anything
    /// changed (the caller then publishes `status`).
    pub fn update_status(
        &mut self,
        message: MessageId,
        to: &Msisdn,
        status: DeliveryStatus,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<bool, StatusError> {
        let msg = self
            .senders
            .get(&message)
            .and_then(|id| self.sessions.get_mut(id))
            .filter(|s| s.is_live(now))
            .and_then(|s| s.messages.iter_mut().find(|m| m.id == message))
            .ok_or(StatusError::UnknownMessage(message))?;
        let r = msg
            .recipients
            .iter_mut()
            .find(|r| &r.to == to)
            .ok_or_else(|| StatusError::UnknownRecipient {
                message,
                to: to.clone(),
            })?;
        if r.status.is_final() || (r.status == status && r.reason == reason) {
            return Ok(false);
        }
        r.status = status;
        r.reason = reason;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::seconds(secs)
    }

    fn sid(s: &str) -> SessionId {
        SessionId(s.into())
    }

    fn message(id: u64, to: &str) -> SentMessage {
        SentMessage {
            id: MessageId(id),
            text: "hola".into(),
            sent_at: t(0),
            recipients: vec![RecipientStatus {
                to: Msisdn(to.into()),
                short_code: ShortCode("+18095550100".into()),
                status: DeliveryStatus::Queued,
                reason: None,
                can_reply: true,
            }],
            refused: Vec::new(),
        }
    }

    // The deadline and sender indexes follow touches, messages and ends,
    // and are rebuilt identically from what the store keeps.
    #[test]
    fn indexes_follow_the_sessions_and_are_rebuilt_from_the_store() {
        let idle = Duration::seconds(300);
        let mut table = SessionTable::default();
        assert!(table.open(sid("a"), t(0), idle));
        assert!(table.open(sid("b"), t(10), idle));
        assert!(table.record_message(&sid("a"), message(1, "+18095551000"), t(0)));
        assert!(table.record_message(&sid("b"), message(2, "+18095551001"), t(10)));
        assert_eq!(table.next_deadline(), Some(t(300)));
        // A touch moves "a" behind "b".
        assert!(table.touch(&sid("a"), t(100), idle));
        assert_eq!(table.next_deadline(), Some(t(310)));

        let json = serde_json::to_string(&table).unwrap();
        assert!(
            !json.contains("deadlines") && !json.contains("senders"),
            "{json}"
        );
        let back: SessionTable = serde_json::from_str(&json).unwrap();
        assert_eq!(back, table);

        let to = Msisdn("+18095551001".into());
        assert_eq!(
            table.update_status(MessageId(2), &to, DeliveryStatus::Sent, None, t(20)),
            Ok(true)
        );
        // At its deadline "b" ends: its message is no longer found.
        let ended = table.expire(t(310));
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].session, sid("b"));
        assert_eq!(
            table.update_status(MessageId(2), &to, DeliveryStatus::Delivered, None, t(311)),
            Err(StatusError::UnknownMessage(MessageId(2)))
        );
        assert_eq!(table.next_deadline(), Some(t(400)));
        assert!(table.expire(t(399)).is_empty());
        assert_eq!(table.expire(t(400)).len(), 1);
        assert_eq!(table.next_deadline(), None);
        assert_eq!(table, SessionTable::default());
    }
}
