//! Incoming SMS parts before routing: fingerprints (a part read again
//! after a crash is taken in once), multipart assembly per short code
//! (in any order, with duplicates, across restarts) and what is persisted
//! of both.
//!
//! Plain parts over the store: time comes in as an argument. The caller
//! routes what [`Inbound::take`] hands out through the journal, then calls
//! [`Inbound::commit`], then flushes, and only then lets the modem delete
//! the part: a crash anywhere before the flush leaves the part on the SIM
//! to be read again.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::sms::{Assembled, Assembler, Deliver, IncomingPart};
use crate::store::{Store, StoreError, Table};

/// How long a multipart message may wait for its missing parts by
/// default (`[sms] reassembly_timeout`): then it is routed with a marker
/// where each missing part would be, and charged for the parts received.
pub const ASSEMBLY_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// How long part fingerprints are kept (a modem re-reads a part within
/// seconds of a restart; a week covers a box left off for days).
pub const SEEN_FOR: chrono::Duration = chrono::Duration::days(7);

/// A complete (or given-up-on) message a phone sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub from: String,
    pub text: String,
    /// SMS parts that arrived (each is charged, R10: a handset pays per
    /// SMS it sent; a part that never arrived is not charged).
    pub parts: u32,
}

impl From<Assembled> for Message {
    fn from(a: Assembled) -> Self {
        let received = a.total.max(1).saturating_sub(a.missing.len() as u8).max(1);
        Message {
            from: a.sender.to_string(),
            text: a.text,
            parts: u32::from(received),
        }
    }
}

/// What a part gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Taken {
    /// Taken in before a crash: nothing to do but delete it again.
    Again,
    /// The part is new; these messages are now complete (none while a
    /// multipart message waits for more parts). Route them, then
    /// [`Inbound::commit`] the `Pending`.
    New(Vec<Message>, Pending),
}

/// A part's effect on the assembler, not yet persisted.
#[derive(Debug, PartialEq, Eq)]
pub struct Pending {
    short_code: String,
    fingerprint: String,
    assembler: Assembler,
}

/// The inbound side of the gateway.
pub struct Inbound {
    assemblers: HashMap<String, Assembler>,
    assembly: Table<Assembler>,
    seen: Table<DateTime<Utc>>,
    /// `[sms] reassembly_timeout`.
    timeout: Duration,
}

impl Inbound {
    /// With the default [`ASSEMBLY_TIMEOUT`].
    pub fn open(store: &Store) -> Result<Inbound, StoreError> {
        Self::open_with(store, ASSEMBLY_TIMEOUT)
    }

    /// Incomplete multipart messages are released after `timeout` without
    /// a new part.
    pub fn open_with(store: &Store, timeout: Duration) -> Result<Inbound, StoreError> {
        let assembly = store.table::<Assembler>("assembly")?;
        let mut assemblers = HashMap::new();
        for item in assembly.iter_range("", None) {
            let (code, mut a) = item?;
            a.set_timeout(timeout);
            assemblers.insert(code, a);
        }
        Ok(Inbound {
            assemblers,
            assembly,
            seen: store.table("seen")?,
            timeout,
        })
    }

    /// Takes one part that reached `short_code`. Changes nothing until
    /// [`Inbound::commit`], so a part whose routing cannot be journaled
    /// can be read again as if it never came.
    pub fn take(
        &self,
        short_code: &str,
        deliver: &Deliver,
        now: DateTime<Utc>,
    ) -> Result<Taken, StoreError> {
        let fingerprint = fingerprint(short_code, deliver);
        if self.seen.contains(&fingerprint)? {
            return Ok(Taken::Again);
        }
        let mut assembler = self
            .assemblers
            .get(short_code)
            .cloned()
            .unwrap_or_else(|| Assembler::new(self.timeout));
        let mut done: Vec<Message> = assembler
            .push(IncomingPart::from(deliver), now)
            .into_iter()
            .map(Message::from)
            .collect();
        done.extend(assembler.expire(now).into_iter().map(Message::from));
        Ok(Taken::New(
            done,
            Pending {
                short_code: short_code.to_string(),
                fingerprint,
                assembler,
            },
        ))
    }

    /// Persists a part's effect (after its messages were journaled): the
    /// assembler state, then the fingerprint.
    pub fn commit(&mut self, p: Pending, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.assembly.put(&p.short_code, &p.assembler)?;
        self.seen.put(&p.fingerprint, &now)?;
        self.assemblers.insert(p.short_code, p.assembler);
        Ok(())
    }

    /// Messages whose missing parts did not come within the timeout, by
    /// short code, with the assembler state that no longer holds them.
    /// Route them, then [`Inbound::commit_release`] each.
    pub fn release_due(&self, now: DateTime<Utc>) -> Vec<(String, Vec<Message>, Assembler)> {
        self.assemblers
            .iter()
            .filter(|(_, a)| a.due(now))
            .map(|(code, a)| {
                let mut a = a.clone();
                let done = a.expire(now).into_iter().map(Message::from).collect();
                (code.clone(), done, a)
            })
            .collect()
    }

    /// When the next incomplete message is due for release, over every
    /// short code.
    pub fn next_release(&self) -> Option<DateTime<Utc>> {
        self.assemblers
            .values()
            .filter_map(Assembler::next_due)
            .min()
    }

    /// Persists the assembler of `short_code` after its released messages
    /// were journaled.
    pub fn commit_release(&mut self, short_code: &str, a: Assembler) -> Result<(), StoreError> {
        let written = self.assembly.put(short_code, &a);
        self.assemblers.insert(short_code.to_string(), a);
        written
    }

    /// Parts waiting for the rest of their message, over every short code.
    pub fn waiting_parts(&self) -> usize {
        self.assemblers.values().map(Assembler::pending_len).sum()
    }

    /// Drops fingerprints older than [`SEEN_FOR`]; returns how many.
    pub fn prune_seen(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let cutoff = now - SEEN_FOR;
        let mut n = 0;
        for item in self.seen.iter_range("", None) {
            let (k, at) = item?;
            if at < cutoff {
                self.seen.remove(&k)?;
                n += 1;
            }
        }
        Ok(n)
    }
}

/// What identifies one SMS part: the short code it reached, its sender,
/// its service-centre time stamp, its concatenation header and its text.
pub fn fingerprint(short_code: &str, d: &Deliver) -> String {
    let concat = d
        .user_data
        .udh
        .as_ref()
        .and_then(|u| u.concat.as_ref())
        .map(|c| format!("{}/{}/{}", c.reference, c.total, c.seq))
        .unwrap_or_default();
    let body = d
        .user_data
        .text
        .clone()
        .unwrap_or_else(|| hex::encode(&d.user_data.data));
    format!(
        "{short_code}|{}|{}|{concat}|{body}",
        d.originator,
        d.scts.to_rfc3339()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::t;

    fn parts(text: &str) -> Vec<Deliver> {
        let from = crate::sms::Address::parse("+18095551234").unwrap();
        crate::sms::deliver_parts(&from, text, t(0).fixed_offset(), 7).unwrap()
    }

    fn take_and_commit(i: &mut Inbound, d: &Deliver, now: DateTime<Utc>) -> Option<Vec<Message>> {
        match i.take("+18095550100", d, now).unwrap() {
            Taken::Again => None,
            Taken::New(done, pending) => {
                i.commit(pending, now).unwrap();
                Some(done)
            }
        }
    }

    #[test]
    fn a_single_part_is_a_message_at_once() {
        let store = Store::temporary().unwrap();
        let mut i = Inbound::open(&store).unwrap();
        let p = parts("hola");
        let done = take_and_commit(&mut i, &p[0], t(1)).unwrap();
        assert_eq!(
            done,
            vec![Message {
                from: "+18095551234".into(),
                text: "hola".into(),
                parts: 1
            }]
        );
    }

    /// Parts out of order, a duplicate and a restart in the middle: one
    /// message of three parts.
    #[test]
    fn multipart_out_of_order_across_a_restart() {
        let store = Store::temporary().unwrap();
        let text = "x".repeat(400);
        let p = parts(&text);
        assert_eq!(p.len(), 3);
        {
            let mut i = Inbound::open(&store).unwrap();
            assert_eq!(take_and_commit(&mut i, &p[2], t(1)), Some(vec![]));
            assert_eq!(i.waiting_parts(), 1);
        }
        let mut i = Inbound::open(&store).unwrap();
        assert_eq!(take_and_commit(&mut i, &p[2], t(2)), None, "read again");
        assert_eq!(take_and_commit(&mut i, &p[0], t(3)), Some(vec![]));
        let done = take_and_commit(&mut i, &p[1], t(4)).unwrap();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].text, text);
        assert_eq!(done[0].parts, 3);
        assert_eq!(i.waiting_parts(), 0);
    }

    /// A part whose effect was not committed (its routing could not be
    /// journaled) is new again when the modem hands it over again.
    #[test]
    fn an_uncommitted_part_is_taken_again() {
        let store = Store::temporary().unwrap();
        let i = Inbound::open(&store).unwrap();
        let p = parts("hola");
        assert!(matches!(
            i.take("+18095550100", &p[0], t(1)).unwrap(),
            Taken::New(..)
        ));
        assert!(matches!(
            i.take("+18095550100", &p[0], t(2)).unwrap(),
            Taken::New(..)
        ));
    }

    #[test]
    fn a_store_that_fails_commits_nothing() {
        let store = Store::temporary().unwrap();
        let mut i = Inbound::open(&store).unwrap();
        let p = parts("hola");
        let Taken::New(_, pending) = i.take("+18095550100", &p[0], t(1)).unwrap() else {
            panic!("new")
        };
        store.inject_failures(true);
        assert!(i.commit(pending, t(1)).is_err());
        store.inject_failures(false);
        assert!(matches!(
            i.take("+18095550100", &p[0], t(2)).unwrap(),
            Taken::New(..)
        ));
    }

    #[test]
    fn fingerprints_are_dropped_after_a_week() {
        let store = Store::temporary().unwrap();
        let mut i = Inbound::open(&store).unwrap();
        let p = parts("hola");
        take_and_commit(&mut i, &p[0], t(0));
        assert_eq!(i.prune_seen(t(3600)).unwrap(), 0);
        assert_eq!(
            i.prune_seen(t(0) + SEEN_FOR + chrono::Duration::seconds(1))
                .unwrap(),
            1
        );
    }
}
