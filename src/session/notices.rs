//! The messages the service sends back to a phone on its own: the R7
//! auto-reply to a late reply and the R12 confirmation of STOP/START.
//! Each goes at most once per (number, short code) and kind per cool-down
//! (R6's `retired_cooldown`), so that another automat — a phone's own
//! auto-responder, a second modem of a loop — cannot make the box send
//! (and the SIM owner pay) without end.
//!
//! Owns only those times. It never decides what a phone's message means.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::allocator::ShortCode;
use super::numbers::Msisdn;
use super::optout::Keyword;

/// Which message back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// R7: the conversation has ended.
    AutoReply,
    /// R12: the keyword was understood.
    Confirm(Keyword),
}

/// When each kind of notice last went to a pair.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Sent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    auto_reply: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stop: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start: Option<DateTime<Utc>>,
}

impl Sent {
    fn slot(&mut self, kind: NoticeKind) -> &mut Option<DateTime<Utc>> {
        match kind {
            NoticeKind::AutoReply => &mut self.auto_reply,
            NoticeKind::Confirm(Keyword::Stop) => &mut self.stop,
            NoticeKind::Confirm(Keyword::Start) => &mut self.start,
        }
    }

    fn latest(&self) -> Option<DateTime<Utc>> {
        [self.auto_reply, self.stop, self.start]
            .into_iter()
            .flatten()
            .max()
    }
}

/// The notices sent lately, by number then short code (plain string-keyed
/// maps, as the allocator persists its pairs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notices {
    sent: BTreeMap<Msisdn, BTreeMap<ShortCode, Sent>>,
}

impl Notices {
    /// Whether a notice of `kind` may go to `number` from `code` at `now`:
    /// none of that kind went there within `cooldown`. When it may, it is
    /// counted as sent.
    pub fn take(
        &mut self,
        number: &Msisdn,
        code: &ShortCode,
        kind: NoticeKind,
        now: DateTime<Utc>,
        cooldown: Duration,
    ) -> bool {
        let slot = self
            .sent
            .entry(number.clone())
            .or_default()
            .entry(code.clone())
            .or_default()
            .slot(kind);
        if slot.is_some_and(|t| now - t < cooldown) {
            return false;
        }
        *slot = Some(now);
        true
    }

    /// Forgets what is older than `cooldown` (it no longer holds anything back).
    pub fn prune(&mut self, now: DateTime<Utc>, cooldown: Duration) {
        self.sent.retain(|_, codes| {
            codes.retain(|_, s| s.latest().is_some_and(|t| now - t < cooldown));
            !codes.is_empty()
        });
    }

    /// Pairs remembered (for tests and metrics).
    pub fn len(&self) -> usize {
        self.sent.values().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.sent.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .to_utc()
            + Duration::seconds(s)
    }

    #[test]
    fn once_per_pair_and_kind_per_cooldown() {
        let mut n = Notices::default();
        let (a, b) = (Msisdn("+18095551234".into()), Msisdn("+18295550000".into()));
        let (c0, c1) = (
            ShortCode("+18095550100".into()),
            ShortCode("+18095550101".into()),
        );
        let day = Duration::hours(24);
        assert!(n.take(&a, &c0, NoticeKind::AutoReply, t(0), day));
        assert!(!n.take(&a, &c0, NoticeKind::AutoReply, t(60), day));
        // Another kind, another code, another number: each its own.
        assert!(n.take(&a, &c0, NoticeKind::Confirm(Keyword::Stop), t(60), day));
        assert!(n.take(&a, &c0, NoticeKind::Confirm(Keyword::Start), t(61), day));
        assert!(n.take(&a, &c1, NoticeKind::AutoReply, t(60), day));
        assert!(n.take(&b, &c0, NoticeKind::AutoReply, t(60), day));
        assert!(!n.take(&a, &c0, NoticeKind::Confirm(Keyword::Stop), t(120), day));
        // After the cool-down, again.
        assert!(n.take(&a, &c0, NoticeKind::AutoReply, t(86_400), day));
        n.prune(t(86_400 + 100), day);
        assert_eq!(n.len(), 1, "only the pair notified within a day stays");
        n.prune(t(3 * 86_400), day);
        assert!(n.is_empty());
    }
}
