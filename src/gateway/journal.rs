//! Durability of the session core by journal: the session state changes
//! only through [`Durable::change`], which writes the [`Change`] (its
//! inputs, time included) to the journal *before* applying it, so nothing
//! can be seen or acknowledged that a restart would not rebuild. The whole
//! state is snapshotted now and then and the journal behind it dropped.
//! The core is deterministic — time and ids come in as arguments — so
//! snapshot + replay gives back exactly the state that was live. Each
//! change costs one small write, however many sessions are live.
//!
//! The caller flushes the store before it acknowledges anything (a web
//! send's 202, a modem's `AT+CMGD`); this module never flushes except to
//! order a snapshot before the entries it replaces are dropped.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::session::{Applied, Change, CoreState, SessionCore, ShortCode};
use crate::store::{StoreError, Table};

/// The journal's record: one change.
pub type Entry = Change;

/// Journal entries between snapshots.
const SNAPSHOT_EVERY: u64 = 2_000;

/// The snapshot record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    /// The last journal sequence number the state includes.
    pub seq: u64,
    pub state: CoreState,
}

/// Snapshot + replay: the core as the journal holds it, the last sequence
/// number and how many entries were replayed.
pub fn rebuild(
    mut core: SessionCore,
    entries: &Table<Entry>,
    snapshots: &Table<Snapshot>,
    mut replayed: impl FnMut(&Change, &Applied) -> Result<(), StoreError>,
) -> Result<(SessionCore, u64, u64), StoreError> {
    let mut seq = 0;
    if let Some(s) = snapshots.get("state")? {
        seq = s.seq;
        core = SessionCore::restore(core.config().clone(), s.state);
    }
    let mut count = 0;
    for item in entries.iter_range(&key(seq + 1), None) {
        let (k, change) = item?;
        let applied = core.apply(&change);
        replayed(&change, &applied)?;
        seq = k.parse().unwrap_or(seq);
        count += 1;
    }
    Ok((core, seq, count))
}

/// The session core behind its journal: readable by anyone, changed only
/// by [`Durable::change`].
pub struct Durable {
    core: SessionCore,
    entries: Table<Entry>,
    snapshots: Table<Snapshot>,
    seq: u64,
    since_snapshot: u64,
}

fn key(seq: u64) -> String {
    format!("{seq:020}")
}

impl Durable {
    /// Rebuilds `core` from the snapshot and the entries after it, handing
    /// each replayed change and what it gave to `replayed` (so records
    /// derived from changes, such as charges, are rewritten if a crash
    /// lost them). A send left in flight by a crash is then finished by a
    /// journaled [`Change::Recover`] at `now`.
    pub fn restore(
        core: SessionCore,
        entries: Table<Entry>,
        snapshots: Table<Snapshot>,
        now: DateTime<Utc>,
        mut replayed: impl FnMut(&Change, &Applied) -> Result<(), StoreError>,
    ) -> Result<Durable, StoreError> {
        let (core, seq, count) = rebuild(core, &entries, &snapshots, &mut replayed)?;
        if count > 0 {
            tracing::info!(replayed = count, "session journal replayed");
        }
        let mut durable = Durable {
            core,
            entries,
            snapshots,
            seq,
            since_snapshot: count,
        };
        if durable.core.sends_in_flight() > 0 {
            let Applied::Finished(n) = durable.change(Change::Recover { at: now })? else {
                unreachable!("recover finishes")
            };
            tracing::info!(sends = n, "sends in flight at the last stop are finished");
        }
        Ok(durable)
    }

    /// The session core, to read.
    pub fn core(&self) -> &SessionCore {
        &self.core
    }

    /// The short codes new conversations may be bound to (SIGHUP changed
    /// the modems). A configuration, not a change of the state: each send
    /// journals the codes it chose among, so replay does not depend on it.
    pub fn set_pool(&mut self, pool: Vec<ShortCode>) {
        self.core.set_pool(pool);
    }

    /// The per-SIM caps changed (SIGHUP).
    pub fn set_caps(&mut self, caps: std::collections::BTreeMap<ShortCode, crate::session::Caps>) {
        self.core.set_caps(caps);
    }

    /// The sequence number of the last journaled change.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Journals `change`, then applies it. When the journal cannot take it
    /// the state is left as it was and the error is handed back: the
    /// caller refuses or holds whatever depended on it.
    pub fn change(&mut self, change: Change) -> Result<Applied, StoreError> {
        self.entries.put(&key(self.seq + 1), &change)?;
        self.seq += 1;
        self.since_snapshot += 1;
        Ok(self.core.apply(&change))
    }

    /// Whether a snapshot is due.
    pub fn snapshot_due(&self) -> bool {
        self.since_snapshot >= SNAPSHOT_EVERY
    }

    /// Writes the state as of the last entry, makes it durable, then drops
    /// the entries it holds (a crash in between replays nothing twice: the
    /// snapshot names the last entry it holds).
    pub fn snapshot(
        &mut self,
        flush: impl FnOnce() -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.snapshots.put(
            "state",
            &Snapshot {
                seq: self.seq,
                state: self.core.state().clone(),
            },
        )?;
        flush()?;
        self.entries.remove_before(&key(self.seq + 1))?;
        self.since_snapshot = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::gateway::t;
    use crate::session::{CoreConfig, DeliveryStatus, MessageId, Msisdn, SessionId};
    use crate::store::Store;
    use proptest::prelude::*;

    fn core(codes: usize) -> SessionCore {
        let mut cfg = CoreConfig::from_config(&Config::default()).unwrap();
        cfg.pool = (0..codes)
            .map(|i| ShortCode(format!("+180955501{i:02}")))
            .collect();
        SessionCore::new(cfg)
    }

    fn tables(store: &Store) -> (Table<Entry>, Table<Snapshot>) {
        (
            store.table("journal").unwrap(),
            store.table("snapshots").unwrap(),
        )
    }

    fn open(store: &Store, codes: usize, now: DateTime<Utc>) -> Durable {
        let (e, s) = tables(store);
        Durable::restore(core(codes), e, s, now, |_, _| Ok(())).unwrap()
    }

    fn rebuilt(store: &Store, codes: usize) -> (SessionCore, u64) {
        let (e, s) = tables(store);
        let (core, seq, _) = rebuild(core(codes), &e, &s, |_, _| Ok(())).unwrap();
        (core, seq)
    }

    fn send(id: &str, to: &[&str], at: i64) -> Change {
        Change::Send {
            existing: Some(SessionId(id.into())),
            new_id: SessionId(id.into()),
            to: to.iter().map(|s| s.to_string()).collect(),
            text: "hola".into(),
            live: None,
            refused: Vec::new(),
            at: t(at),
        }
    }

    /// The state rebuilt from snapshot + journal is the state that was live.
    #[test]
    fn snapshot_plus_replay_gives_back_the_live_state() {
        let store = Store::temporary().unwrap();
        let mut live = open(&store, 2, t(0));
        live.change(send("a", &["8095551234", "8295550000"], 0))
            .unwrap();
        live.change(Change::Finish {
            session: SessionId("a".into()),
            at: t(0),
        })
        .unwrap();
        live.snapshot(|| Ok(())).unwrap();
        live.change(Change::Reply {
            from: "+18095551234".into(),
            short_code: ShortCode("+18095550100".into()),
            text: "sí".into(),
            parts: 1,
            at: t(30),
        })
        .unwrap();
        live.change(Change::Status {
            message: MessageId(0),
            to: Msisdn("+18095551234".into()),
            status: DeliveryStatus::Delivered,
            reason: None,
            at: t(31),
        })
        .unwrap();
        live.change(Change::Expire { at: t(1000) }).unwrap();
        live.change(Change::Send {
            existing: Some(SessionId("a".into())),
            new_id: SessionId("b".into()),
            to: vec!["8095551234".into()],
            text: "otra vez".into(),
            live: None,
            refused: Vec::new(),
            at: t(1001),
        })
        .unwrap();

        let (rebuilt, seq) = rebuilt(&store, 2);
        assert_eq!(rebuilt.state(), live.core().state());
        assert_eq!(seq, live.seq());
        assert!(rebuilt.get(&SessionId("b".into()), t(1002)).is_some());
        assert!(rebuilt.get(&SessionId("a".into()), t(1002)).is_none());
    }

    /// The live short codes are part of the entry: a replay binds as the
    /// live gateway did even after the configured pool changed.
    #[test]
    fn a_replay_binds_as_live_did_even_after_the_pool_changed() {
        let store = Store::temporary().unwrap();
        let mut live = open(&store, 2, t(0));
        live.change(Change::Send {
            existing: None,
            new_id: SessionId("a".into()),
            to: vec!["8095551234".into()],
            text: "hola".into(),
            live: Some(vec![ShortCode("+18095550101".into())]),
            refused: Vec::new(),
            at: t(0),
        })
        .unwrap();
        let bound = |c: &SessionCore| {
            c.get(&SessionId("a".into()), t(1))
                .unwrap()
                .bindings
                .values()
                .next()
                .cloned()
        };
        assert_eq!(bound(live.core()), Some(ShortCode("+18095550101".into())));
        // Restarted with a third modem configured first in the pool.
        let (rebuilt, _) = rebuilt(&store, 3);
        assert_eq!(rebuilt.state(), live.core().state());
    }

    #[test]
    fn a_snapshot_drops_the_entries_it_holds() {
        let store = Store::temporary().unwrap();
        let (entries, _) = tables(&store);
        let mut live = open(&store, 2, t(0));
        for i in 0..5 {
            live.change(Change::Expire { at: t(i) }).unwrap();
        }
        assert_eq!(entries.count(), 5);
        live.snapshot(|| Ok(())).unwrap();
        assert_eq!(entries.count(), 0);
        live.change(Change::Expire { at: t(9) }).unwrap();
        assert_eq!(rebuilt(&store, 2).1, 6);
    }

    /// A change the journal cannot take is not applied: what the caller
    /// then refuses is not live either.
    #[test]
    fn a_change_that_cannot_be_journaled_changes_nothing() {
        let store = Store::temporary().unwrap();
        let mut live = open(&store, 2, t(0));
        store.inject_failures(true);
        assert!(live.change(send("a", &["8095551234"], 0)).is_err());
        assert!(live.core().get(&SessionId("a".into()), t(1)).is_none());
        assert_eq!(live.seq(), 0);
        store.inject_failures(false);
        live.change(send("a", &["8095551234"], 0)).unwrap();
        assert_eq!(live.seq(), 1);
    }

    /// R11 after a crash: a `Send` with no `Finish` is finished on restart
    /// (by a journaled `Recover`), so the session is not stuck answering
    /// 409, and a second restart agrees.
    #[test]
    fn a_send_left_in_flight_by_a_crash_is_finished_on_restart() {
        let store = Store::temporary().unwrap();
        let mut live = open(&store, 2, t(0));
        live.change(send("a", &["8095551234"], 0)).unwrap();
        assert_eq!(live.core().sends_in_flight(), 1);
        drop(live); // the crash: no Finish

        let mut after = open(&store, 2, t(5));
        assert_eq!(after.core().sends_in_flight(), 0);
        let Applied::Send(plan) = after.change(send("a", &["8295550000"], 6)).unwrap() else {
            panic!("a send")
        };
        assert!(plan.is_ok(), "{plan:?}");
        let (again, _) = rebuilt(&store, 2);
        assert_eq!(again.state(), after.core().state());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Send {
            slot: usize,
            to: Vec<usize>,
            down: Vec<usize>,
        },
        Finish {
            slot: usize,
        },
        /// `kind`: 0 text, 1 STOP, 2 START.
        Reply {
            number: usize,
            code: usize,
            kind: u8,
            parts: u32,
        },
        Status {
            message: u64,
            number: usize,
            status: u8,
        },
        Advance {
            secs: i64,
        },
        Expire,
        End {
            slot: usize,
        },
        /// A part of a longer reply: the session lives until it is released.
        Part {
            number: usize,
            code: usize,
            hold: i64,
        },
        /// A failover: number's binding in the slot's session moves.
        Rebind {
            slot: usize,
            number: usize,
            from: usize,
            code: usize,
        },
        Snapshot,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..3usize, prop::collection::vec(0..4usize, 1..4), prop::collection::vec(0..3usize, 0..3))
                .prop_map(|(slot, to, down)| Op::Send { slot, to, down }),
            3 => (0..3usize).prop_map(|slot| Op::Finish { slot }),
            4 => (0..4usize, 0..3usize, prop_oneof![6 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)], 1..4u32)
                .prop_map(|(number, code, kind, parts)| Op::Reply { number, code, kind, parts }),
            2 => (0..6u64, 0..4usize, 0..4u8)
                .prop_map(|(message, number, status)| Op::Status { message, number, status }),
            3 => (0i64..400).prop_map(|secs| Op::Advance { secs }),
            1 => Just(Op::Expire),
            1 => (0..3usize).prop_map(|slot| Op::End { slot }),
            1 => (0..3usize, 0..4usize, 0..3usize, 0..3usize)
                .prop_map(|(slot, number, from, code)| Op::Rebind { slot, number, from, code }),
            1 => Just(Op::Snapshot),
            2 => (0..4usize, 0..3usize, 0i64..900)
                .prop_map(|(number, code, hold)| Op::Part { number, code, hold }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Crash consistency: after every journaled change (sends, single
        /// and multipart replies, reports, STOP/START, expiries, ends, with
        /// snapshots at random points), the state rebuilt from snapshot +
        /// journal equals the live state; and a restart at that point
        /// leaves no send in flight.
        #[test]
        fn replay_equals_live_state_after_every_change(ops in prop::collection::vec(op(), 1..60)) {
            let codes = 3;
            let store = Store::temporary().unwrap();
            let mut live = open(&store, codes, t(0));
            let number = |i: usize| format!("+1809555200{i}");
            let mut slots: Vec<Option<SessionId>> = vec![None; 3];
            let mut now = 0i64;
            let mut fresh = 0;
            for op in ops {
                let change = match op {
                    Op::Send { slot, to, down } => {
                        fresh += 1;
                        Change::Send {
                            existing: slots[slot].clone(),
                            new_id: SessionId(format!("s{fresh}")),
                            to: to.into_iter().map(number).collect(),
                            text: "hola".into(),
                            // Some modems down: the others are live.
                            live: (!down.is_empty()).then(|| {
                                (0..codes)
                                    .filter(|c| !down.contains(c))
                                    .map(|c| ShortCode(format!("+180955501{c:02}")))
                                    .collect()
                            }),
                            refused: Vec::new(),
                            at: t(now),
                        }
                    }
                    Op::Finish { slot } => match &slots[slot] {
                        Some(s) => Change::Finish { session: s.clone(), at: t(now) },
                        None => continue,
                    },
                    Op::Reply { number: n, code, kind, parts } => Change::Reply {
                        from: number(n),
                        short_code: ShortCode(format!("+180955501{code:02}")),
                        text: ["respuesta", "STOP", "START"][kind as usize].into(),
                        parts,
                        at: t(now),
                    },
                    Op::Part { number: n, code, hold } => Change::Part {
                        from: number(n),
                        short_code: ShortCode(format!("+180955501{code:02}")),
                        at: t(now),
                        until: t(now + hold),
                    },
                    Op::Status { message, number: n, status } => Change::Status {
                        message: MessageId(message),
                        to: Msisdn(number(n)),
                        status: [
                            DeliveryStatus::Queued,
                            DeliveryStatus::Sent,
                            DeliveryStatus::Delivered,
                            DeliveryStatus::Failed,
                        ][status as usize],
                        reason: (status == 3).then(|| "no".to_string()),
                        at: t(now),
                    },
                    Op::Advance { secs } => {
                        now += secs;
                        continue;
                    }
                    Op::Expire => Change::Expire { at: t(now) },
                    Op::End { slot } => match &slots[slot] {
                        Some(s) => Change::End { session: s.clone(), at: t(now) },
                        None => continue,
                    },
                    Op::Rebind { slot, number: n, from, code } => match &slots[slot] {
                        Some(s) => Change::Rebind {
                            session: s.clone(),
                            to: Msisdn(number(n)),
                            from: ShortCode(format!("+180955501{from:02}")),
                            code: ShortCode(format!("+180955501{code:02}")),
                            at: t(now),
                        },
                        None => continue,
                    },
                    Op::Snapshot => {
                        live.snapshot(|| Ok(())).unwrap();
                        continue;
                    }
                };
                let slot = match &change {
                    Change::Send { existing, .. } => slots.iter().position(|s| s == existing),
                    _ => None,
                };
                if let Applied::Send(Ok(plan)) = live.change(change).unwrap() {
                    if let (Some(slot), Some(session)) = (slot, plan.session) {
                        slots[slot] = Some(session);
                    }
                }
                let (rebuilt, seq) = rebuilt(&store, codes);
                prop_assert_eq!(rebuilt.state(), live.core().state());
                prop_assert_eq!(seq, live.seq());
            }
            // A restart here: the same state, minus sends in flight.
            let in_flight = live.core().sends_in_flight();
            let before = live.seq();
            drop(live);
            let after = open(&store, codes, t(now));
            prop_assert_eq!(after.core().sends_in_flight(), 0);
            prop_assert_eq!(after.seq(), before + u64::from(in_flight > 0));
        }
    }
}
