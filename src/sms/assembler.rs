//! Reassembly of concatenated messages (3GPP TS 23.040 §9.2.3.24.1): parts
//! keyed by (sender, reference, total), in any order, duplicates ignored,
//! incomplete messages released after a timeout with a visible gap marker.
//!
//! Pure: time comes in as an argument (`push(part, now)`, `expire(now)`),
//! and the whole state serialises with serde so a store can persist it.
//! Knows nothing of storage, modems or sessions.

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};

use super::address::Address;
use super::deliver::Deliver;
use super::udh::Concat;

/// Shown where a missing part's text would be.
pub const MISSING_MARKER: &str = "[…]";

/// One received part, as the assembler needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomingPart {
    pub sender: Address,
    /// `None` (or a total of 1) for a single-part message.
    pub concat: Option<Concat>,
    pub text: Option<String>,
    /// 8-bit data, concatenated as is.
    pub data: Vec<u8>,
    /// The part's TP-SCTS, if known.
    pub timestamp: Option<DateTime<FixedOffset>>,
}

impl From<&Deliver> for IncomingPart {
    fn from(d: &Deliver) -> Self {
        IncomingPart {
            sender: d.originator.clone(),
            concat: d.user_data.udh.as_ref().and_then(|u| u.concat),
            text: d.user_data.text.clone(),
            data: d.user_data.data.clone(),
            timestamp: Some(d.scts),
        }
    }
}

/// A whole (or given-up-on) message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assembled {
    pub sender: Address,
    /// Texts of the parts in order, [`MISSING_MARKER`] for each gap.
    pub text: String,
    pub data: Vec<u8>,
    /// Time stamp of the lowest-numbered part that arrived.
    pub timestamp: Option<DateTime<FixedOffset>>,
    pub total: u8,
    pub incomplete: bool,
    /// Part numbers that never arrived (empty when complete).
    pub missing: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Pending {
    sender: Address,
    reference: u16,
    total: u8,
    /// Time of the last part that arrived: the timeout restarts on each.
    last_seen: DateTime<Utc>,
    /// Sorted by sequence number, no duplicates.
    parts: Vec<(u8, IncomingPart)>,
}

impl Pending {
    fn assemble(self) -> Assembled {
        let missing: Vec<u8> = (1..=self.total)
            .filter(|s| !self.parts.iter().any(|(q, _)| q == s))
            .collect();
        let mut text = String::new();
        let mut data = Vec::new();
        let mut parts = self.parts.iter().peekable();
        for seq in 1..=self.total {
            match parts.next_if(|(q, _)| *q == seq) {
                Some((_, p)) => {
                    text.push_str(p.text.as_deref().unwrap_or(""));
                    data.extend(&p.data);
                }
                None => text.push_str(MISSING_MARKER),
            }
        }
        Assembled {
            timestamp: self.parts.first().and_then(|(_, p)| p.timestamp),
            sender: self.sender,
            text,
            data,
            total: self.total,
            incomplete: !missing.is_empty(),
            missing,
        }
    }
}

/// Holds parts until their message is whole or times out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assembler {
    /// Seconds without a new part after which a message is released
    /// incomplete.
    timeout_secs: i64,
    pending: Vec<Pending>,
    /// Messages completed within the timeout, so that a late duplicate of
    /// one of their parts is dropped instead of starting a new message.
    #[serde(default)]
    recent: Vec<Recent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Recent {
    sender: Address,
    reference: u16,
    total: u8,
    at: DateTime<Utc>,
}

impl Assembler {
    pub fn new(timeout: std::time::Duration) -> Self {
        Assembler {
            timeout_secs: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
            pending: Vec::new(),
            recent: Vec::new(),
        }
    }

    /// The timeout from now on (a configuration change at start).
    pub fn set_timeout(&mut self, timeout: std::time::Duration) {
        self.timeout_secs = i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX);
    }

    /// Whether [`Assembler::expire`] at `now` would release something.
    pub fn due(&self, now: DateTime<Utc>) -> bool {
        self.pending
            .iter()
            .any(|p| (now - p.last_seen).num_seconds() >= self.timeout_secs)
    }

    /// When [`Self::due`] next becomes true: the oldest-seen message's
    /// timeout (`None` while nothing waits).
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.pending
            .iter()
            .map(|p| p.last_seen)
            .min()
            .and_then(|t| {
                chrono::Duration::try_seconds(self.timeout_secs)
                    .and_then(|d| t.checked_add_signed(d))
            })
    }

    /// Number of messages waiting for parts.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Takes one part. Returns the message when it is complete (at once for
    /// a single-part message); a duplicate part is ignored.
    pub fn push(&mut self, part: IncomingPart, now: DateTime<Utc>) -> Option<Assembled> {
        let concat = match part.concat {
            Some(c) if c.total > 1 && c.seq >= 1 && c.seq <= c.total => c,
            _ => {
                let single = Pending {
                    sender: part.sender.clone(),
                    reference: 0,
                    total: 1,
                    last_seen: now,
                    parts: vec![(1, part)],
                };
                return Some(single.assemble());
            }
        };
        let timeout = self.timeout_secs;
        self.recent.retain(|r| (now - r.at).num_seconds() < timeout);
        if self.recent.iter().any(|r| {
            r.sender == part.sender && r.reference == concat.reference && r.total == concat.total
        }) {
            return None;
        }
        let idx = match self.pending.iter().position(|p| {
            p.sender == part.sender && p.reference == concat.reference && p.total == concat.total
        }) {
            Some(i) => i,
            None => {
                self.pending.push(Pending {
                    sender: part.sender.clone(),
                    reference: concat.reference,
                    total: concat.total,
                    last_seen: now,
                    parts: Vec::new(),
                });
                self.pending.len() - 1
            }
        };
        let entry = self.pending.get_mut(idx)?;
        match entry.parts.binary_search_by_key(&concat.seq, |(q, _)| *q) {
            Ok(_) => return None,
            Err(at) => entry.parts.insert(at, (concat.seq, part)),
        }
        entry.last_seen = now;
        if entry.parts.len() == usize::from(entry.total) {
            let done = self.pending.swap_remove(idx);
            self.recent.push(Recent {
                sender: done.sender.clone(),
                reference: done.reference,
                total: done.total,
                at: now,
            });
            return Some(done.assemble());
        }
        None
    }

    /// Releases every message whose last part is `timeout` old, marked
    /// incomplete with its missing part numbers.
    pub fn expire(&mut self, now: DateTime<Utc>) -> Vec<Assembled> {
        let timeout = self.timeout_secs;
        let (old, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| (now - p.last_seen).num_seconds() >= timeout);
        self.pending = keep;
        self.recent.retain(|r| (now - r.at).num_seconds() < timeout);
        old.into_iter().map(Pending::assemble).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn part(reference: u16, total: u8, seq: u8, text: &str) -> IncomingPart {
        IncomingPart {
            sender: Address::international("18095551234"),
            concat: Some(Concat {
                reference,
                total,
                seq,
            }),
            text: Some(text.into()),
            data: Vec::new(),
            timestamp: None,
        }
    }

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn single_part_passes_straight_through() {
        let mut a = Assembler::new(std::time::Duration::from_secs(60));
        let mut p = part(0, 1, 1, "hola");
        p.concat = None;
        let m = a.push(p, t(0)).unwrap();
        assert_eq!((m.text.as_str(), m.incomplete), ("hola", false));
        assert_eq!(a.pending_len(), 0);
    }

    #[test]
    fn same_reference_from_two_senders_stays_apart() {
        let mut a = Assembler::new(std::time::Duration::from_secs(60));
        let mut other = part(7, 2, 1, "X");
        other.sender = Address::international("18295550000");
        assert!(a.push(part(7, 2, 1, "a"), t(0)).is_none());
        assert!(a.push(other, t(0)).is_none());
        assert_eq!(a.push(part(7, 2, 2, "b"), t(1)).unwrap().text, "ab");
        assert_eq!(a.pending_len(), 1);
    }

    #[test]
    fn incomplete_is_released_after_timeout_with_marker() {
        let mut a = Assembler::new(std::time::Duration::from_secs(60));
        assert!(a.push(part(9, 3, 3, "c"), t(0)).is_none());
        assert!(a.push(part(9, 3, 1, "a"), t(10)).is_none());
        assert!(a.expire(t(69)).is_empty());
        // The state survives a serde round trip (a store persists it).
        let json = serde_json::to_string(&a).unwrap();
        let mut a: Assembler = serde_json::from_str(&json).unwrap();
        let out = a.expire(t(70));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].text, "a[…]c");
        assert!(out[0].incomplete);
        assert_eq!(out[0].missing, vec![2]);
        assert_eq!(a.pending_len(), 0);
    }

    proptest! {
        #[test]
        fn any_permutation_with_duplicates_reassembles(
            texts in prop::collection::vec("[a-zé€😀]{0,5}", 2..8),
            order in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
            seed in any::<u64>(),
        ) {
            let total = texts.len() as u8;
            // Every part once, plus some duplicates, then shuffled.
            let mut seqs: Vec<u8> = (1..=total).collect();
            seqs.extend(order.iter().map(|i| i.index(texts.len()) as u8 + 1));
            let mut s = seed;
            for i in (1..seqs.len()).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                seqs.swap(i, (s >> 33) as usize % (i + 1));
            }
            let mut a = Assembler::new(std::time::Duration::from_secs(60));
            let mut done = Vec::new();
            for (n, seq) in seqs.iter().enumerate() {
                let p = part(0xBEEF, total, *seq, &texts[usize::from(*seq) - 1]);
                done.extend(a.push(p, t(n as i64)));
            }
            prop_assert_eq!(done.len(), 1);
            prop_assert_eq!(&done[0].text, &texts.concat());
            prop_assert!(!done[0].incomplete);
            prop_assert_eq!(a.pending_len(), 0);
        }
    }
}
