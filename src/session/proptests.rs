//! Property tests of the session core: random sends, replies, finishes,
//! expiries and clock advances over random pools, checking R5 (a pair is
//! held by at most one live session) and R3/R7 (every MO lands in exactly
//! one place, and only in the live session holding its pair).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone)]
enum Op {
    /// A browser slot sends to some numbers (indices into the number list).
    Send {
        slot: usize,
        to: Vec<usize>,
    },
    /// The slot's send was accepted (R11).
    Finish {
        slot: usize,
    },
    /// A phone sends to a short code; `kind` 0 = text, 1 = STOP, 2 = START.
    Reply {
        number: usize,
        code: usize,
        kind: u8,
    },
    Advance {
        secs: i64,
    },
    Expire,
}

fn op(numbers: usize, codes: usize, slots: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..slots, prop::collection::vec(0..numbers, 1..4))
            .prop_map(|(slot, to)| Op::Send { slot, to }),
        3 => (0..slots).prop_map(|slot| Op::Finish { slot }),
        4 => (0..numbers, 0..codes, prop_oneof![8 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)])
            .prop_map(|(number, code, kind)| Op::Reply { number, code, kind }),
        3 => (0i64..400).prop_map(|secs| Op::Advance { secs }),
        1 => Just(Op::Expire),
    ]
}

fn scenario() -> impl Strategy<Value = (usize, usize, usize, i64, Vec<Op>)> {
    (
        1usize..=4,
        1usize..=6,
        1usize..=5,
        prop_oneof![Just(600i64), Just(86_400)],
    )
        .prop_flat_map(|(codes, numbers, slots, cooldown)| {
            (
                Just(codes),
                Just(numbers),
                Just(slots),
                Just(cooldown),
                prop::collection::vec(op(numbers, codes, slots), 1..40),
            )
        })
}

fn number(i: usize) -> String {
    format!("+1809555000{i}")
}

/// R5: no (number, short code) pair is held by two live sessions, and the
/// allocator agrees with the sessions' bindings.
fn check_pairs(core: &SessionCore, now: DateTime<Utc>) -> Result<(), TestCaseError> {
    let mut seen = BTreeSet::new();
    for s in core.live_sessions(now) {
        for (n, c) in &s.bindings {
            prop_assert!(
                seen.insert((n.clone(), c.clone())),
                "pair ({n}, {c}) held twice"
            );
            prop_assert_eq!(core.state().allocator.holder(n, c), Some(&s.id));
        }
    }
    // Sessions past their deadline keep their pairs until the next sweep.
    prop_assert!(seen.len() <= core.state().allocator.held_count());
    Ok(())
}

fn reply_counts(core: &SessionCore, now: DateTime<Utc>) -> BTreeMap<SessionId, usize> {
    core.live_sessions(now)
        .map(|s| (s.id.clone(), s.replies.len()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    // R3, R5, R7: pairs are never shared; every MO lands in exactly one place.
    #[test]
    fn pairs_unique_and_every_mo_lands_once(
        (codes, _numbers, slots, cooldown, ops) in scenario()
    ) {
        let pool: Vec<ShortCode> =
            (0..codes).map(|i| ShortCode(format!("+1809555010{i}"))).collect();
        let mut core = SessionCore::new(CoreConfig {
            pool: pool.clone(),
            retired_cooldown: std::time::Duration::from_secs(cooldown as u64),
            ..CoreConfig::default()
        });
        let mut now = DateTime::UNIX_EPOCH + Duration::days(20_000);
        let mut cookie: Vec<Option<SessionId>> = vec![None; slots];
        let mut fresh = 0u32;
        for op in ops {
            match op {
                Op::Send { slot, to } => {
                    fresh += 1;
                    let new_id = SessionId(format!("s{slot}-{fresh}"));
                    let to: Vec<String> = to.into_iter().map(number).collect();
                    if let Ok(plan) =
                        core.begin_send(cookie[slot].as_ref(), new_id, &to, "hola", now)
                    {
                        if let Some(id) = plan.session {
                            cookie[slot] = Some(id);
                        }
                    }
                }
                Op::Finish { slot } => {
                    if let Some(id) = &cookie[slot] {
                        core.finish_send(id, now);
                    }
                }
                Op::Reply { number: n, code, kind } => {
                    let text = ["hola", "STOP", "alta"][kind as usize];
                    let before = reply_counts(&core, now);
                    let out = core.route_reply(&number(n), &pool[code], text, 1, now);
                    let mut after = reply_counts(&core, now);
                    match &out.routed {
                        Routed::ToSession { session, reply } => {
                            let s = core.get(session, now).expect("delivered to a live session");
                            prop_assert_eq!(s.bindings.get(&reply.from), Some(&pool[code]));
                            prop_assert!(out.cdr.in_session);
                            let count = after.get_mut(session).expect("live");
                            *count -= 1;
                        }
                        Routed::OutOfSession { record } => {
                            prop_assert!(!out.cdr.in_session);
                            prop_assert!(core.state().allocator.holder(&record.from, &pool[code]).is_none());
                        }
                    }
                    prop_assert_eq!(before, after, "a reply landed in more than one place");
                }
                Op::Advance { secs } => now += Duration::seconds(secs),
                Op::Expire => {
                    for e in core.expire(now) {
                        prop_assert!(e.ended_at <= now);
                        prop_assert!(core.get(&e.session, now).is_none());
                    }
                }
            }
            check_pairs(&core, now)?;
        }
    }
}
