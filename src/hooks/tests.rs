//! The queue on virtual time with a fake receiver: order per
//! conversation, retries through an outage, a restart in the middle, a
//! day of failures, resend.

use std::cell::RefCell;

use chrono::Duration;

use super::*;
use crate::clock::ManualClock;
use crate::keys::KeyRequest;

/// A receiver that is up or down, and remembers what reached it.
#[derive(Default)]
struct Receiver {
    up: std::cell::Cell<bool>,
    got: RefCell<Vec<HookEvent>>,
    tries: std::cell::Cell<u32>,
}

impl Transport for Receiver {
    fn deliver(&self, e: &HookEvent, t: &HookTarget, _: DateTime<Utc>) -> Result<(), String> {
        self.tries.set(self.tries.get() + 1);
        assert_eq!(t.webhook_url.as_deref(), Some("http://127.0.0.1:9/hook"));
        if self.up.get() {
            self.got.borrow_mut().push(e.clone());
            Ok(())
        } else {
            Err("connection refused".into())
        }
    }
}

fn setup(store: &Store) -> (Hooks, ApiKeys) {
    let keys = ApiKeys::open(store).unwrap();
    if keys.hook_target("crm").unwrap().is_none() {
        keys.add(
            &KeyRequest {
                name: "crm".into(),
                webhook_url: Some("http://127.0.0.1:9/hook".into()),
                mo_url: None,
            },
            crate::gateway::t(0),
        )
        .unwrap();
    }
    (Hooks::open(store, keys.clone()).unwrap(), keys)
}

fn queue(h: &Hooks, conv: &str, n: u32, clock: &ManualClock) -> String {
    h.webhook(
        "crm",
        Some(conv),
        "reply.received",
        serde_json::json!({"n": n}),
        clock.now(),
    )
    .unwrap()
}

fn bodies(r: &Receiver) -> Vec<(String, u64)> {
    r.got
        .borrow()
        .iter()
        .map(|e| {
            let Delivery::Webhook { body } = &e.delivery else {
                panic!("a webhook")
            };
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            (
                e.conversation.clone().unwrap_or_default(),
                v["data"]["n"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Runs passes, moving the clock to each next due time, until `until`.
fn run_until(h: &Hooks, r: &Receiver, clock: &ManualClock, until: DateTime<Utc>) {
    loop {
        let next = h.pass(r, clock).unwrap();
        match next {
            Some(t) if t <= until => {
                if t > clock.now() {
                    clock.advance(t - clock.now());
                }
            }
            _ => break,
        }
    }
}

/// The receiver is down for an hour and smsgate restarts meanwhile:
/// every event arrives once it is back, each conversation's in order,
/// the first retry came within 10 s, and no wait exceeded an hour.
#[test]
fn an_hour_down_and_a_restart_lose_nothing_and_keep_order() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(crate::gateway::t(0));
    let r = Receiver::default();
    {
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let (h, _) = setup(&store);
        for n in 0..3 {
            queue(&h, "a", n, &clock);
            queue(&h, "b", n, &clock);
        }
        let next = h.pass(&r, &clock).unwrap().unwrap();
        assert!(
            next - clock.now() <= Duration::seconds(10),
            "first retry within 10 s"
        );
        // One try: the conversation's later events wait behind its
        // first, and the other conversation's wait for the key's receiver.
        assert_eq!(r.tries.get(), 1);
        run_until(&h, &r, &clock, crate::gateway::t(30 * 60));
        store.flush_blocking().unwrap();
        // Dropped here without a stop: a restart.
    }
    let store = Store::open(dir.path(), 1 << 20).unwrap();
    let (h, _) = setup(&store);
    queue(&h, "a", 3, &clock);
    run_until(&h, &r, &clock, crate::gateway::t(60 * 60));
    assert!(r.got.borrow().is_empty());
    r.up.set(true);
    let back = clock.now();
    run_until(&h, &r, &clock, back + Duration::hours(2));
    assert!(
        clock.now() - back <= Duration::hours(1),
        "retried within the hour cap"
    );
    let got = bodies(&r);
    let of = |c: &str| -> Vec<u64> {
        got.iter()
            .filter(|(k, _)| k == c)
            .map(|(_, n)| *n)
            .collect()
    };
    assert_eq!(of("a"), vec![0, 1, 2, 3]);
    assert_eq!(of("b"), vec![0, 1, 2]);
    assert_eq!(h.list().unwrap().pending_total, 0);
}

/// A day of failures gives the event up; it stays listed and can be
/// sent again; conversations behind it then move on.
#[test]
fn a_day_of_failures_gives_up_and_the_admin_resends() {
    let store = Store::temporary().unwrap();
    let (h, _) = setup(&store);
    let clock = ManualClock::new(crate::gateway::t(0));
    let r = Receiver::default();
    let id = queue(&h, "a", 0, &clock);
    run_until(&h, &r, &clock, crate::gateway::t(25 * 3600));
    let q = h.list().unwrap();
    assert_eq!(q.pending_total, 0);
    assert_eq!(q.given_up.len(), 1);
    assert_eq!(q.given_up[0].id, id);
    assert!(q.given_up[0].attempts > 20, "{}", q.given_up[0].attempts);
    assert_eq!(
        q.given_up[0].last_error.as_deref(),
        Some("connection refused")
    );
    assert!(clock.now() - crate::gateway::t(0) >= schedule::GIVE_UP_AFTER);
    r.up.set(true);
    assert!(!h.resend("evt_999999", clock.now()).unwrap());
    assert!(h.resend(&id, clock.now()).unwrap());
    h.pass(&r, &clock).unwrap();
    assert_eq!(bodies(&r), vec![("a".to_string(), 0)]);
    assert!(h.list().unwrap().given_up.is_empty());
}

/// A receiver that is down costs one attempt per pass, not one per
/// event: a day's backlog does not make each pass a day of timeouts.
#[test]
fn a_dead_receiver_costs_one_attempt_per_pass() {
    let store = Store::temporary().unwrap();
    let (h, _) = setup(&store);
    let clock = ManualClock::new(crate::gateway::t(0));
    for n in 0..500 {
        queue(&h, &format!("c{n}"), n, &clock);
    }
    let r = Receiver::default();
    let next = h.pass(&r, &clock).unwrap().unwrap();
    assert_eq!(r.tries.get(), 1);
    assert!(
        next > clock.now(),
        "no busy loop: the next pass is the retry"
    );
    clock.advance(next - clock.now());
    h.pass(&r, &clock).unwrap();
    assert_eq!(r.tries.get(), 2);
    // Back up: the backlog goes at the next passes (the failed head at its
    // retry time; order is kept within a conversation, not across).
    r.up.set(true);
    let next = h.pass(&r, &clock).unwrap();
    clock.advance(next.map_or(chrono::Duration::zero(), |t| t - clock.now()));
    h.pass(&r, &clock).unwrap();
    let got = bodies(&r);
    assert_eq!(got.len(), 500);
    let mut numbers: Vec<u64> = got.iter().map(|(_, n)| *n).collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), 500, "each once");
    assert_eq!(h.list().unwrap().pending_total, 0);
}

/// A revoked key's events are dropped, not retried for a day.
#[test]
fn a_revoked_keys_events_are_dropped() {
    let store = Store::temporary().unwrap();
    let (h, keys) = setup(&store);
    let clock = ManualClock::new(crate::gateway::t(0));
    queue(&h, "a", 0, &clock);
    keys.revoke("crm").unwrap();
    let r = Receiver::default();
    assert_eq!(h.pass(&r, &clock).unwrap(), None);
    assert_eq!(r.tries.get(), 0);
    assert_eq!(h.list().unwrap().pending_total, 0);
}

/// The body is what was queued, byte for byte, on every attempt.
#[test]
fn the_body_is_the_documented_envelope() {
    let store = Store::temporary().unwrap();
    let (h, _) = setup(&store);
    let clock = ManualClock::new(crate::gateway::t(0));
    let id = queue(&h, "a", 7, &clock);
    let r = Receiver::default();
    r.up.set(true);
    h.pass(&r, &clock).unwrap();
    let Delivery::Webhook { body } = &r.got.borrow()[0].delivery else {
        panic!()
    };
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["type"], "reply.received");
    assert_eq!(v["created_at"], "2026-11-25T10:00:00.000Z");
    assert_eq!(v["data"]["n"], 7);
}
