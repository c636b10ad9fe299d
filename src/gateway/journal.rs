//! Durability of the session core by journal: every call that changes the
//! core is written as an entry (its inputs, time included) before the
//! answer leaves; the whole state is snapshotted now and then and the
//! journal behind it dropped. The core is deterministic — time and ids come
//! in as arguments — so snapshot + replay gives back exactly the state that
//! was acknowledged. Each change costs one small write, however many
//! sessions are live.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::session::{
    CoreState, DeliveryStatus, Expired, MessageId, MoOutcome, Msisdn, SendError, SendPlan,
    SessionCore, SessionId, ShortCode, StatusError,
};
use crate::store::{StoreError, Table};

/// Journal entries between snapshots.
const SNAPSHOT_EVERY: u64 = 2_000;

/// One change of the core, with everything needed to redo it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Entry {
    Send {
        existing: Option<SessionId>,
        new_id: SessionId,
        to: Vec<String>,
        text: String,
        at: DateTime<Utc>,
    },
    Finish {
        session: SessionId,
        at: DateTime<Utc>,
    },
    Reply {
        from: String,
        short_code: ShortCode,
        text: String,
        at: DateTime<Utc>,
    },
    Status {
        message: MessageId,
        to: Msisdn,
        status: DeliveryStatus,
        reason: Option<String>,
        at: DateTime<Utc>,
    },
    Expire {
        at: DateTime<Utc>,
    },
    End {
        session: SessionId,
        at: DateTime<Utc>,
    },
}

/// What applying an entry gave.
pub enum Applied {
    Send(Result<SendPlan, SendError>),
    Reply(Box<MoOutcome>),
    Status(Result<bool, StatusError>),
    Ended(Vec<Expired>),
    Nothing,
}

/// Applies `entry` to `core`.
pub fn apply(core: &mut SessionCore, entry: &Entry) -> Applied {
    match entry {
        Entry::Send {
            existing,
            new_id,
            to,
            text,
            at,
        } => Applied::Send(core.begin_send(existing.as_ref(), new_id.clone(), to, text, *at)),
        Entry::Finish { session, at } => {
            core.finish_send(session, *at);
            Applied::Nothing
        }
        Entry::Reply {
            from,
            short_code,
            text,
            at,
        } => Applied::Reply(Box::new(core.route_reply(from, short_code, text, *at))),
        Entry::Status {
            message,
            to,
            status,
            reason,
            at,
        } => Applied::Status(core.update_status(*message, to, *status, reason.clone(), *at)),
        Entry::Expire { at } => Applied::Ended(core.expire(*at)),
        Entry::End { session, at } => {
            Applied::Ended(core.end_session(session, *at).into_iter().collect())
        }
    }
}

/// The snapshot record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    /// The last journal sequence number the state includes.
    pub seq: u64,
    pub state: CoreState,
}

/// The journal and snapshot tables with the running sequence number.
pub struct Journal {
    entries: Table<Entry>,
    snapshots: Table<Snapshot>,
    seq: u64,
    since_snapshot: u64,
}

fn key(seq: u64) -> String {
    format!("{seq:020}")
}

impl Journal {
    /// Opens the journal and rebuilds `core` from the snapshot and the
    /// entries after it.
    pub fn restore(
        entries: Table<Entry>,
        snapshots: Table<Snapshot>,
        core: &mut SessionCore,
    ) -> Result<Journal, StoreError> {
        let mut seq = 0;
        if let Some(s) = snapshots.get("state")? {
            seq = s.seq;
            *core = SessionCore::restore(core.config().clone(), s.state);
        }
        let mut replayed = 0;
        for (k, entry) in entries.range_from(&key(seq + 1))? {
            apply(core, &entry);
            seq = k.parse().unwrap_or(seq);
            replayed += 1;
        }
        if replayed > 0 {
            tracing::info!(replayed, "session journal replayed");
        }
        Ok(Journal {
            entries,
            snapshots,
            seq,
            since_snapshot: replayed,
        })
    }

    /// Writes `entry` (not yet durable: the caller flushes before it
    /// acknowledges anything).
    pub fn append(&mut self, entry: &Entry) -> Result<(), StoreError> {
        self.seq += 1;
        self.since_snapshot += 1;
        self.entries.put(&key(self.seq), entry)
    }

    /// Whether a snapshot is due.
    pub fn snapshot_due(&self) -> bool {
        self.since_snapshot >= SNAPSHOT_EVERY
    }

    /// Writes the state as of the last entry and drops the entries it holds.
    pub fn snapshot(&mut self, state: &CoreState) -> Result<(), StoreError> {
        self.snapshots.put(
            "state",
            &Snapshot {
                seq: self.seq,
                state: state.clone(),
            },
        )?;
        for (k, _) in self.entries.all()? {
            if k.parse::<u64>().is_ok_and(|s| s <= self.seq) {
                self.entries.remove(&k)?;
            }
        }
        self.since_snapshot = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::session::CoreConfig;
    use crate::store::Store;

    fn core() -> SessionCore {
        let mut cfg = CoreConfig::from_config(&Config::default()).unwrap();
        cfg.pool = vec![
            ShortCode("+18095550100".into()),
            ShortCode("+18095550101".into()),
        ];
        SessionCore::new(cfg)
    }

    fn t(s: u32) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .to_utc()
            + chrono::Duration::seconds(s.into())
    }

    /// The state rebuilt from snapshot + journal is the state that was live.
    #[test]
    fn snapshot_plus_replay_gives_back_the_live_state() {
        let store = Store::temporary().unwrap();
        let entries = store.table::<Entry>("journal").unwrap();
        let snaps = store.table::<Snapshot>("snapshots").unwrap();
        let mut live = core();
        let mut journal = Journal::restore(entries.clone(), snaps.clone(), &mut live).unwrap();
        let step = |live: &mut SessionCore, journal: &mut Journal, e: Entry| {
            apply(live, &e);
            journal.append(&e).unwrap();
        };
        step(
            &mut live,
            &mut journal,
            Entry::Send {
                existing: None,
                new_id: SessionId("a".into()),
                to: vec!["8095551234".into(), "8295550000".into()],
                text: "hola".into(),
                at: t(0),
            },
        );
        step(
            &mut live,
            &mut journal,
            Entry::Finish {
                session: SessionId("a".into()),
                at: t(0),
            },
        );
        journal.snapshot(live.state()).unwrap();
        step(
            &mut live,
            &mut journal,
            Entry::Reply {
                from: "+18095551234".into(),
                short_code: ShortCode("+18095550100".into()),
                text: "sí".into(),
                at: t(30),
            },
        );
        step(
            &mut live,
            &mut journal,
            Entry::Status {
                message: MessageId(0),
                to: Msisdn("+18095551234".into()),
                status: DeliveryStatus::Delivered,
                reason: None,
                at: t(31),
            },
        );
        step(&mut live, &mut journal, Entry::Expire { at: t(1000) });
        step(
            &mut live,
            &mut journal,
            Entry::Send {
                existing: Some(SessionId("a".into())),
                new_id: SessionId("b".into()),
                to: vec!["8095551234".into()],
                text: "otra vez".into(),
                at: t(1001),
            },
        );

        let mut rebuilt = core();
        let j = Journal::restore(entries, snaps, &mut rebuilt).unwrap();
        assert_eq!(rebuilt.state(), live.state());
        assert_eq!(j.seq, journal.seq);
        assert!(rebuilt.get(&SessionId("b".into()), t(1002)).is_some());
        assert!(rebuilt.get(&SessionId("a".into()), t(1002)).is_none());
    }

    #[test]
    fn a_snapshot_drops_the_entries_it_holds() {
        let store = Store::temporary().unwrap();
        let entries = store.table::<Entry>("journal").unwrap();
        let snaps = store.table::<Snapshot>("snapshots").unwrap();
        let mut live = core();
        let mut journal = Journal::restore(entries.clone(), snaps, &mut live).unwrap();
        for i in 0..5 {
            let e = Entry::Expire { at: t(i) };
            apply(&mut live, &e);
            journal.append(&e).unwrap();
        }
        assert_eq!(entries.len(), 5);
        journal.snapshot(live.state()).unwrap();
        assert_eq!(entries.len(), 0);
    }
}
