//! The supervisor on virtual time: a [`ManualClock`], an in-memory store
//! and a fake [`SmsSender`] — no pseudo-terminal, no sleep for the idle
//! timeout. The whole-network versions of these run in `tests/`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::Actor;
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

use super::api::{RecipientState, SendError, SendRequest, SessionEvent};
use super::outbound::SmsSender;
use super::supervisor::*;
use crate::clock::{Clock, ManualClock};
use crate::config::Config;
use crate::modem::pool::PoolEvent;
use crate::modem::types::{ModemEvent, OutgoingSms, PartRef, SendOutcome};
use crate::session::{CoreConfig, SessionCore, ShortCode};
use crate::sms::{Address, DeliveryStatus as ReportStatus};
use crate::store::Store;

const CODES: [&str; 2] = ["+18095550100", "+18095550101"];
/// A bound on real waiting (the supervisor's alarm waits on the manual
/// clock, so virtual deadlines fire as soon as the clock passes them).
const WITHIN: Duration = Duration::from_secs(10);

#[derive(Default)]
struct FakeSender {
    sent: Mutex<Vec<(String, OutgoingSms)>>,
    down: Mutex<Vec<String>>,
    /// Codes whose modem never answers (a send waits for ever).
    stuck: Mutex<Vec<String>>,
    /// Codes whose modem was stopped for good.
    stopped: Mutex<Vec<String>>,
    /// While set, every send waits at its modem until [`Self::answer`]
    /// lets it finish.
    hold: Mutex<bool>,
    waiting: Mutex<std::collections::VecDeque<oneshot::Sender<()>>>,
    changes: tokio::sync::watch::Sender<u64>,
}

impl FakeSender {
    /// The `n` oldest sends waiting at a modem finish (sent).
    fn answer(&self, n: usize) {
        let mut w = self.waiting.lock().unwrap();
        for _ in 0..n {
            if let Some(tx) = w.pop_front() {
                let _ = tx.send(());
            }
        }
    }

    /// The modems of `codes` are down (the others up), as a modem pool
    /// would report it: the supervisor is told of the change.
    fn set_down(&self, codes: &[&str]) {
        *self.down.lock().unwrap() = codes.iter().map(|c| c.to_string()).collect();
        self.changes.send_modify(|n| *n += 1);
    }
}

impl SmsSender for FakeSender {
    fn send(&self, short_code: &str, sms: OutgoingSms) -> BoxFuture<'static, SendOutcome> {
        if self.stuck.lock().unwrap().iter().any(|c| c == short_code) {
            return Box::pin(std::future::pending());
        }
        let mut sent = self.sent.lock().unwrap();
        let mr = sent.len() as u8;
        sent.push((short_code.to_string(), sms));
        if *self.hold.lock().unwrap() {
            let (tx, rx) = oneshot::channel();
            self.waiting.lock().unwrap().push_back(tx);
            return Box::pin(async move {
                let _ = rx.await;
                SendOutcome::Sent {
                    message_refs: vec![PartRef::Mr(mr)],
                }
            });
        }
        Box::pin(async move {
            SendOutcome::Sent {
                message_refs: vec![PartRef::Mr(mr)],
            }
        })
    }
    fn queued(&self) -> u64 {
        0
    }
    fn down(&self) -> Vec<String> {
        self.down.lock().unwrap().clone()
    }
    fn stop(&self, short_code: &str) {
        self.stopped.lock().unwrap().push(short_code.to_string());
    }
    fn state_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }
}

struct Rig {
    addr: actix::Addr<Gateway>,
    clock: Arc<ManualClock>,
    sender: Arc<FakeSender>,
    events: mpsc::UnboundedSender<PoolEvent>,
    store: Store,
}

fn start_at(t0: DateTime<Utc>) -> Rig {
    start_with(t0, Settings::default())
}

fn start_with(t0: DateTime<Utc>, settings: Settings) -> Rig {
    start_on(Store::temporary().unwrap(), &CODES, t0, settings)
}

/// A supervisor over `store` (what it holds restored) with the short codes
/// `codes` configured.
fn start_on(store: Store, codes: &[&str], t0: DateTime<Utc>, settings: Settings) -> Rig {
    start_full(store, codes, &[], t0, settings)
}

/// [`start_on`] with per-SIM caps (by index into `codes`).
fn start_full(
    store: Store,
    codes: &[&str],
    caps: &[(usize, crate::session::Caps)],
    t0: DateTime<Utc>,
    settings: Settings,
) -> Rig {
    let mut cfg = CoreConfig::from_config(&Config::default()).unwrap();
    cfg.pool = codes.iter().map(|c| ShortCode(c.to_string())).collect();
    cfg.caps = caps
        .iter()
        .map(|(i, c)| (ShortCode(codes[*i].to_string()), *c))
        .collect();
    let clock = Arc::new(ManualClock::new(t0));
    let sender = Arc::new(FakeSender::default());
    let (tx, rx) = mpsc::unbounded_channel();
    let gw = Gateway::new(
        SessionCore::new(cfg),
        store.clone(),
        sender.clone(),
        clock.clone(),
        rx,
        settings,
    )
    .unwrap();
    Rig {
        addr: gw.start(),
        clock,
        sender,
        events: tx,
        store,
    }
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
        .unwrap()
        .to_utc()
}

async fn eventually<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

impl Rig {
    async fn send(
        &self,
        session: Option<String>,
        to: &str,
    ) -> Result<super::api::SendAnswer, SendError> {
        self.addr
            .send(WebSend {
                session,
                request: SendRequest {
                    to: vec![to.into()],
                    text: "hola".into(),
                    ..Default::default()
                },
            })
            .await
            .unwrap()
    }

    /// A phone's SMS reaches `code`; resolves to whether the modem was
    /// allowed to delete it.
    async fn phone_sends(&self, from: &str, code: &str, text: &str) -> bool {
        let deliver = crate::sms::deliver_parts(
            &Address::parse(from).unwrap(),
            text,
            self.clock.now().fixed_offset(),
            1,
        )
        .unwrap()
        .remove(0);
        let (ack, acked) = oneshot::channel();
        self.events
            .send(PoolEvent {
                short_code: code.into(),
                event: ModemEvent::Received { deliver, ack },
            })
            .unwrap();
        tokio::time::timeout(WITHIN, acked).await.unwrap().is_ok()
    }

    /// The status and short code of the first recipient of session `id`'s
    /// first message; `None` once the session ended.
    async fn first_recipient(&self, id: &str) -> Option<(RecipientState, Option<String>)> {
        let v = self.addr.send(GetSession(id.to_string())).await.unwrap()?;
        let r = v.messages[0].recipients[0].clone();
        Some((r.status, r.short_code))
    }

    /// A phone's long text: its SMS parts, to hand over one by one.
    fn parts_of(&self, from: &str, text: &str) -> Vec<crate::sms::Deliver> {
        crate::sms::deliver_parts(
            &Address::parse(from).unwrap(),
            text,
            self.clock.now().fixed_offset(),
            9,
        )
        .unwrap()
    }

    /// One part reaches `code`; resolves to whether it was acknowledged.
    async fn part_arrives(&self, code: &str, deliver: crate::sms::Deliver) -> bool {
        let (ack, acked) = oneshot::channel();
        self.events
            .send(PoolEvent {
                short_code: code.into(),
                event: ModemEvent::Received { deliver, ack },
            })
            .unwrap();
        tokio::time::timeout(WITHIN, acked).await.unwrap().is_ok()
    }

    async fn report(&self, code: &str, mr: u8) -> bool {
        let (ack, acked) = oneshot::channel();
        self.events
            .send(PoolEvent {
                short_code: code.into(),
                event: ModemEvent::DeliveryReport {
                    message_ref: PartRef::Mr(mr),
                    recipient: String::new(),
                    status: ReportStatus::Delivered,
                    tp_status: 0,
                    ack,
                },
            })
            .unwrap();
        tokio::time::timeout(WITHIN, acked).await.unwrap().is_ok()
    }
}

/// R3, R4, delivery status: a send goes out, the reply reaches the
/// session and restarts its clock, the report marks it delivered, and
/// five quiet minutes of virtual time end it.
#[actix::test]
async fn a_conversation_on_virtual_time() {
    let rig = start_at(t0());
    let answer = rig.send(None, "8095551234").await.unwrap();
    let id = answer.session.id.clone();
    let code = answer.recipients[0].short_code.clone().unwrap();
    eventually("sent", async || {
        (!rig.sender.sent.lock().unwrap().is_empty()).then_some(())
    })
    .await;
    let mut events = rig.addr.send(Subscribe(id.clone())).await.unwrap().unwrap();

    rig.clock.advance(chrono::Duration::seconds(200));
    assert!(rig.phone_sends("+18095551234", &code, "sí").await);
    let view = rig
        .addr
        .send(GetSession(id.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.replies[0].text, "sí");
    assert_eq!(view.expires_at, t0() + chrono::Duration::seconds(200 + 300));
    assert!(rig.report(&code, 0).await);
    let view = rig
        .addr
        .send(GetSession(id.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        view.messages[0].recipients[0].status,
        RecipientState::Delivered
    );

    // 4:59 after the reply: still live. 5:00: ended (R4).
    rig.clock.advance(chrono::Duration::seconds(299));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(rig
        .addr
        .send(GetSession(id.clone()))
        .await
        .unwrap()
        .is_some());
    rig.clock.advance(chrono::Duration::seconds(1));
    let ended = eventually("expired event", async || loop {
        match events.try_recv().as_deref() {
            Ok(SessionEvent::Expired { ended_at }) => return Some(*ended_at),
            Ok(_) => continue,
            Err(_) => return None,
        }
    })
    .await;
    assert_eq!(ended, t0() + chrono::Duration::seconds(500));
    assert!(rig.addr.send(GetSession(id)).await.unwrap().is_none());
    // R7: a reply now stays out of every session, and is still charged.
    assert!(rig.phone_sends("+18095551234", &code, "¿hola?").await);
    let c = rig.addr.send(Counters).await.unwrap();
    assert_eq!((c.mo_charges, c.out_of_session_replies), (2, 1));
}

/// A failing store: the send is refused (503), the phone's SMS is not
/// acknowledged (it stays on the SIM), the error is counted and the
/// gateway is not ready; once the disk works again, so does everything.
#[actix::test]
async fn a_failing_store_refuses_and_holds_never_fakes() {
    let rig = start_at(t0());
    rig.store.inject_failures(true);
    assert_eq!(
        rig.send(None, "8095551234").await.unwrap_err(),
        SendError::Unavailable
    );
    assert!(!rig.phone_sends("+18095551234", CODES[0], "hola").await);
    let c = rig.addr.send(Counters).await.unwrap();
    assert!(!c.store_open);
    assert!(c.store_errors >= 2);
    assert_eq!(c.mo_charges, 0, "nothing taken in");

    rig.store.inject_failures(false);
    assert!(rig.send(None, "8095551234").await.is_ok());
    assert!(rig.phone_sends("+18095551234", CODES[0], "hola").await);
    let c = rig.addr.send(Counters).await.unwrap();
    assert!(c.store_open);
    assert_eq!(c.mo_charges, 1);
}

/// R5 refined: a modem that is down gets no new conversation; with no
/// live code free for a number, that recipient is refused
/// `no_free_short_code`. A recipient already bound keeps its code.
#[actix::test]
async fn new_conversations_go_only_to_live_modems() {
    let rig = start_at(t0());
    rig.sender.set_down(&[CODES[1]]);
    for i in 0..4 {
        let a = rig.send(None, &format!("80955512{i:02}")).await.unwrap();
        assert_eq!(a.recipients[0].short_code.as_deref(), Some(CODES[0]), "{i}");
    }
    rig.sender.set_down(&CODES);
    let a = rig.send(None, "8095551299").await.unwrap();
    assert_eq!(a.recipients[0].status, RecipientState::Refused);
    assert_eq!(
        a.recipients[0].reason,
        Some(super::api::RefusalReason::NoFreeShortCode)
    );
}

/// R7 with a dead modem: a message still queued when its conversation
/// ends is withdrawn and failed, never sent late; every SMS carries the
/// configured validity period.
#[actix::test]
async fn an_ended_conversation_withdraws_what_its_dead_modem_never_sent() {
    let rig = start_with(
        t0(),
        Settings {
            validity_minutes: Some(5),
            ..Settings::default()
        },
    );
    *rig.sender.stuck.lock().unwrap() = vec![CODES[0].to_string()];
    let a = rig.send(None, "8095551234").await.unwrap();
    // The modem went away after the send was handed to it.
    rig.sender.set_down(&[CODES[0]]);
    assert_eq!(a.recipients[0].short_code.as_deref(), Some(CODES[0]));
    let b = rig.send(None, "8295550000").await.unwrap();
    assert_eq!(b.recipients[0].short_code.as_deref(), Some(CODES[1]));
    eventually("the live modem sent", async || {
        let sent = rig.sender.sent.lock().unwrap();
        sent.first().map(|(_, sms)| sms.validity_minutes)
    })
    .await
    .map(|v| assert_eq!(v, 5))
    .unwrap_or_else(|| panic!("no validity period"));
    rig.clock.advance(chrono::Duration::seconds(301));
    let outbox = eventually("withdrawn", async || {
        let out = super::outbound::Outbound::open(&rig.store)
            .unwrap()
            .list()
            .unwrap();
        out.iter()
            .any(|r| r.reason.as_deref() == Some(super::outbound::ENDED_UNSENT))
            .then_some(out)
    })
    .await;
    assert_eq!(outbox.len(), 1, "only the dead modem's message");
    assert_eq!(outbox[0].to, "+18095551234");
}

/// R5 refined, through the supervisor: a conversation whose phone has
/// seen nothing moves off a modem down longer than `failover_after` to a
/// live code, goes out there, and the page learns the new code; one whose
/// phone replied keeps its pair and shows `waiting_for_modem`.
#[actix::test]
async fn a_dead_modem_hands_unseen_conversations_to_a_live_one() {
    let rig = start_with(
        t0(),
        Settings {
            failover_after: Some(chrono::Duration::seconds(30)),
            ..Settings::default()
        },
    );
    // Modem 0 takes messages and never sends them (it hangs).
    *rig.sender.stuck.lock().unwrap() = vec![CODES[0].to_string()];
    let a = rig.send(None, "8095551234").await.unwrap();
    assert_eq!(a.recipients[0].short_code.as_deref(), Some(CODES[0]));
    rig.sender.set_down(&[CODES[1]]);
    let b = rig.send(None, "8295550000").await.unwrap();
    assert_eq!(b.recipients[0].short_code.as_deref(), Some(CODES[0]));
    assert!(rig.phone_sends("+18295550000", CODES[0], "¿qué?").await);
    let mut events = rig
        .addr
        .send(Subscribe(a.session.id.clone()))
        .await
        .unwrap()
        .unwrap();
    // Modem 0 goes away; modem 1 is back. Seen down for a watch period,
    // its messages wait for it.
    rig.sender.set_down(&[CODES[0]]);
    tokio::time::sleep(Duration::from_millis(50)).await;
    rig.clock.advance(chrono::Duration::seconds(1));
    eventually("waiting for the modem", async || {
        (rig.first_recipient(&a.session.id).await?.0 == RecipientState::WaitingForModem)
            .then_some(())
    })
    .await;
    rig.clock.advance(chrono::Duration::seconds(31));
    eventually("moved and sent from the live code", async || {
        let (s, code) = rig.first_recipient(&a.session.id).await?;
        (s == RecipientState::Sent && code.as_deref() == Some(CODES[1])).then_some(())
    })
    .await;
    let sent = rig.sender.sent.lock().unwrap().clone();
    assert!(sent
        .iter()
        .any(|(c, m)| c == CODES[1] && m.recipient == "+18095551234"));
    let moved = eventually("the page told", async || loop {
        match events.try_recv().as_deref() {
            Ok(SessionEvent::Status {
                short_code: Some(c),
                ..
            }) => return Some(c.clone()),
            Ok(_) => continue,
            Err(_) => return None,
        }
    })
    .await;
    assert_eq!(moved, CODES[1]);
    // B replied through modem 0: it keeps its pair and waits.
    let (s, code) = rig.first_recipient(&b.session.id).await.unwrap();
    assert_eq!(
        (s, code.as_deref()),
        (RecipientState::WaitingForModem, Some(CODES[0]))
    );
}

/// A modem removed from the configuration is one that stays down: what
/// waits for it is not sent there, shows `waiting_for_modem`, and moves to
/// a configured code after `failover_after`.
#[actix::test]
async fn a_modem_removed_from_the_configuration_is_one_that_stays_down() {
    let settings = Settings {
        failover_after: Some(chrono::Duration::seconds(30)),
        ..Settings::default()
    };
    let before = start_with(t0(), settings.clone());
    *before.sender.stuck.lock().unwrap() = vec![CODES[0].to_string()];
    let a = before.send(None, "8095551234").await.unwrap();
    assert_eq!(a.recipients[0].short_code.as_deref(), Some(CODES[0]));
    before.addr.send(Shutdown).await.unwrap();
    let store = before.store.clone();
    drop(before);
    // Restarted with modem 0 gone from the configuration.
    let after = start_on(store, &CODES[1..], t0(), settings);
    eventually("waiting for the modem", async || {
        (after.first_recipient(&a.session.id).await?.0 == RecipientState::WaitingForModem)
            .then_some(())
    })
    .await;
    assert!(
        after.sender.sent.lock().unwrap().is_empty(),
        "not sent to a removed modem"
    );
    after.clock.advance(chrono::Duration::seconds(31));
    eventually("moved to a configured code and sent", async || {
        let (s, code) = after.first_recipient(&a.session.id).await?;
        (s == RecipientState::Sent && code.as_deref() == Some(CODES[1])).then_some(())
    })
    .await;
}

/// SIGHUP removed a modem that still runs: it takes no new conversation,
/// what it has not started moves at once to a live code, a conversation
/// whose phone replied keeps its pair there, and the modem is stopped once
/// no live conversation is bound to it.
#[actix::test]
async fn a_modem_removed_at_run_time_drains_then_stops() {
    let rig = start_with(
        t0(),
        Settings {
            failover_after: Some(chrono::Duration::seconds(30)),
            ..Settings::default()
        },
    );
    rig.sender.set_down(&[CODES[1]]);
    let a = rig.send(None, "8095551234").await.unwrap();
    assert_eq!(a.recipients[0].short_code.as_deref(), Some(CODES[0]));
    eventually("sent to A", async || {
        (!rig.sender.sent.lock().unwrap().is_empty()).then_some(())
    })
    .await;
    assert!(rig.phone_sends("+18095551234", CODES[0], "sí").await);
    // Modem 0 now holds what it is given (busy), C's message waits there.
    *rig.sender.stuck.lock().unwrap() = vec![CODES[0].to_string()];
    let c = rig.send(None, "8295550000").await.unwrap();
    assert_eq!(c.recipients[0].short_code.as_deref(), Some(CODES[0]));
    rig.sender.set_down(&[]);

    rig.addr
        .send(SetPool(vec![ShortCode(CODES[1].to_string())]))
        .await
        .unwrap();
    // No virtual time passed: the move does not wait for failover_after.
    eventually("C moved and sent from the live code", async || {
        let (s, code) = rig.first_recipient(&c.session.id).await?;
        (s == RecipientState::Sent && code.as_deref() == Some(CODES[1])).then_some(())
    })
    .await;
    assert_eq!(
        rig.first_recipient(&a.session.id)
            .await
            .unwrap()
            .1
            .as_deref(),
        Some(CODES[0]),
        "A replied: its pair stays"
    );
    let d = rig.send(None, "8495550000").await.unwrap();
    assert_eq!(d.recipients[0].short_code.as_deref(), Some(CODES[1]));
    // A's phone can still reply to the draining modem.
    assert!(rig.phone_sends("+18095551234", CODES[0], "otra").await);
    let view = rig
        .addr
        .send(GetSession(a.session.id.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.replies.len(), 2);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(
        rig.sender.stopped.lock().unwrap().is_empty(),
        "A's conversation is still bound to it"
    );
    rig.clock.advance(chrono::Duration::seconds(301));
    eventually("drained and stopped", async || {
        (rig.sender.stopped.lock().unwrap().as_slice() == [CODES[0].to_string()]).then_some(())
    })
    .await;
}

/// R10 per SMS and R4 across a long reply: each part of a three-part
/// reply that arrives restarts the idle clock (the reply straddling the
/// expiry stays in its session); the part that never comes is waited for
/// `reassembly_timeout`, then the reply is routed with a marker where it
/// would be and charged for the two parts received, each charge naming
/// the reply it belongs to.
#[actix::test]
async fn a_long_reply_straddling_the_expiry_with_a_lost_part() {
    let rig = start_with(
        t0(),
        Settings {
            reassembly_timeout: Some(Duration::from_secs(600)),
            ..Settings::default()
        },
    );
    let a = rig.send(None, "8095551234").await.unwrap();
    let code = a.recipients[0].short_code.clone().unwrap();
    let parts = rig.parts_of("+18095551234", &"una respuesta larga ".repeat(20));
    assert_eq!(parts.len(), 3);
    // Part 1 at 4:59 of the 5-minute idle timeout; part 2 at 5:02.
    rig.clock.advance(chrono::Duration::seconds(299));
    assert!(rig.part_arrives(&code, parts[0].clone()).await);
    rig.clock.advance(chrono::Duration::seconds(3));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        rig.addr
            .send(GetSession(a.session.id.clone()))
            .await
            .unwrap()
            .is_some(),
        "the first part kept the conversation alive"
    );
    assert!(rig.part_arrives(&code, parts[1].clone()).await);
    // Part 3 never comes: after the reassembly timeout the reply is routed
    // as it is. (The session lives on: each part restarted its clock.)
    rig.clock.advance(chrono::Duration::seconds(290));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let view = rig
        .addr
        .send(GetSession(a.session.id.clone()))
        .await
        .unwrap()
        .unwrap();
    assert!(view.replies.is_empty(), "still waiting for part 3");
    rig.clock.advance(chrono::Duration::seconds(311));
    let view = eventually("the incomplete reply routed", async || {
        let v = rig
            .addr
            .send(GetSession(a.session.id.clone()))
            .await
            .unwrap()?;
        (!v.replies.is_empty()).then_some(v)
    })
    .await;
    assert!(view.replies[0].text.ends_with(crate::sms::MISSING_MARKER));
    let ledger = super::ledger::Ledger::open(&rig.store).unwrap();
    let charges: Vec<_> = ledger.charges(None, None).map(|c| c.unwrap()).collect();
    assert_eq!(charges.len(), 2, "the two parts received, not three");
    assert!(charges
        .iter()
        .all(|c| c.message == charges[0].id && c.parts == 2));
    assert_eq!((charges[0].part, charges[1].part), (1, 2));
    assert!(charges.iter().all(|c| c.in_session));
}

/// A supervisor whose SIMs have the caps `caps` (by index into `CODES`).
fn start_capped(
    store: Store,
    t0: DateTime<Utc>,
    caps: &[(usize, crate::session::Caps)],
    settings: Settings,
) -> Rig {
    start_full(store, &CODES, caps, t0, settings)
}

/// Both SIMs with `caps`, from `t0`.
fn both_capped(caps: crate::session::Caps, t0: DateTime<Utc>) -> Rig {
    start_capped(
        Store::temporary().unwrap(),
        t0,
        &[(0, caps), (1, caps)],
        Settings::default(),
    )
}

/// `day`'s local wall-clock time `h:m`, in UTC (caps count local days).
fn local(day: &str, h: u32, m: u32) -> DateTime<Utc> {
    day.parse::<chrono::NaiveDate>()
        .unwrap()
        .and_hms_opt(h, m, 0)
        .unwrap()
        .and_local_timezone(chrono::Local)
        .earliest()
        .unwrap()
        .to_utc()
}

impl Rig {
    fn sent_from(&self, code: &str) -> Vec<String> {
        self.sender
            .sent
            .lock()
            .unwrap()
            .iter()
            .filter(|(c, _)| c == code)
            .map(|(_, s)| s.recipient.clone())
            .collect()
    }

    async fn usage(&self, code: &str) -> SimUsageView {
        self.addr
            .send(SimUsages)
            .await
            .unwrap()
            .into_iter()
            .find(|u| u.short_code == code)
            .unwrap()
    }
}

/// Per-SIM caps: a SIM at its daily cap takes no new conversation (the
/// other SIM does), a message of a conversation bound to it waits as
/// `waiting_for_cap` and is not sent, and it goes once the local day
/// turns — on virtual time, a minute past midnight.
#[actix::test]
async fn a_sim_at_its_daily_cap_leaves_allocation_and_its_waiting_message_goes_next_day() {
    let caps = crate::session::Caps {
        per_day: 1,
        ..Default::default()
    };
    let rig = both_capped(caps, local("2026-11-25", 23, 57));
    let a = rig.send(None, "8095551001").await.unwrap();
    assert_eq!(a.recipients[0].short_code.as_deref(), Some(CODES[0]));
    assert_eq!(a.recipients[0].status, RecipientState::Queued);
    let b = rig.send(None, "8095551002").await.unwrap();
    assert_eq!(
        b.recipients[0].short_code.as_deref(),
        Some(CODES[1]),
        "the capped SIM takes no new conversation"
    );
    let c = rig.send(None, "8095551003").await.unwrap();
    assert_eq!(c.recipients[0].status, RecipientState::Refused);
    eventually("two sent", async || {
        (rig.sender.sent.lock().unwrap().len() == 2).then_some(())
    })
    .await;
    // The first conversation's next message stays on its SIM (R5) and
    // waits for the cap.
    let again = rig
        .send(Some(a.session.id.clone()), "8095551001")
        .await
        .unwrap();
    assert_eq!(again.recipients[0].status, RecipientState::WaitingForCap);
    let usage = rig.usage(CODES[0]).await;
    assert_eq!(usage.sent_today, 1);
    assert_eq!(usage.reached, vec![crate::session::CapKind::Day]);
    assert_eq!(usage.waiting_for_cap, 1);
    assert_eq!(usage.crossings.get(&crate::session::CapKind::Day), Some(&1));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(rig.sent_from(CODES[0]).len(), 1, "not sent while capped");

    rig.clock.advance(chrono::Duration::minutes(4));
    eventually("sent after midnight", async || {
        (rig.sent_from(CODES[0]).len() == 2).then_some(())
    })
    .await;
    let v = rig
        .addr
        .send(GetSession(again.session.id.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v.messages[1].recipients[0].status, RecipientState::Sent);
    let usage = rig.usage(CODES[0]).await;
    assert_eq!((usage.sent_today, usage.waiting_for_cap), (1, 0));
    assert_eq!(usage.sent_this_month, 2);
}

/// An admin's lift lets the waiting message go at once, and the SIM takes
/// new conversations again until its day ends.
#[actix::test]
async fn a_lift_lets_waiting_messages_go_and_the_sim_back_into_allocation() {
    let caps = crate::session::Caps {
        per_day: 1,
        ..Default::default()
    };
    let rig = start_capped(
        Store::temporary().unwrap(),
        local("2026-11-25", 10, 0),
        &[(0, caps)],
        Settings::default(),
    );
    let a = rig.send(None, "8095551001").await.unwrap();
    let again = rig
        .send(Some(a.session.id.clone()), "8095551001")
        .await
        .unwrap();
    assert_eq!(again.recipients[0].status, RecipientState::WaitingForCap);
    let b = rig.send(None, "8095551002").await.unwrap();
    assert_eq!(b.recipients[0].short_code.as_deref(), Some(CODES[1]));
    assert_eq!(
        rig.addr.send(LiftCaps(CODES[0].into())).await.unwrap(),
        Ok(())
    );
    assert!(rig
        .addr
        .send(LiftCaps("+19999".into()))
        .await
        .unwrap()
        .is_err());
    eventually("the waiting message sent", async || {
        (rig.sent_from(CODES[0]).len() == 2).then_some(())
    })
    .await;
    let usage = rig.usage(CODES[0]).await;
    assert!(usage.lifted && usage.reached.is_empty());
    assert_eq!(usage.sent_today, 2);
    // Lifted: new conversations may land on it again (fewest live first).
    let c = rig.send(None, "8095551003").await.unwrap();
    assert_eq!(c.recipients[0].status, RecipientState::Queued);
}

/// Counts survive a restart: they are journaled with the send.
#[actix::test]
async fn cap_counts_are_durable_across_a_restart() {
    let caps = crate::session::Caps {
        per_day: 5,
        per_month: 10,
        recipients_per_month: 3,
    };
    let store = Store::temporary().unwrap();
    let t = local("2026-11-25", 10, 0);
    {
        let rig = start_capped(
            store.clone(),
            t,
            &[(0, caps), (1, caps)],
            Settings::default(),
        );
        for n in ["8095551001", "8095551002", "8095551003"] {
            rig.send(None, n).await.unwrap();
        }
        rig.addr.send(Shutdown).await.unwrap();
    }
    let rig = start_capped(store, t, &[(0, caps), (1, caps)], Settings::default());
    let a = rig.usage(CODES[0]).await;
    let b = rig.usage(CODES[1]).await;
    assert_eq!(a.sent_today + b.sent_today, 3);
    assert_eq!(a.recipients_this_month + b.recipients_this_month, 3);
    assert_eq!(a.caps, caps);
}

/// Keep-alive on virtual time: nothing before `every` without a send,
/// one SMS once it passed, none again until another `every`; a real send
/// starts the wait again.
#[actix::test]
async fn a_quiet_prepaid_sim_sends_one_keep_alive_per_period() {
    let mut keepalive = std::collections::BTreeMap::new();
    keepalive.insert(
        CODES[0].to_string(),
        KeepAlive {
            every: chrono::Duration::days(30),
            to: crate::session::Msisdn("+18095559999".into()),
            text: "keep-alive".into(),
        },
    );
    let rig = start_capped(
        Store::temporary().unwrap(),
        t0(),
        &[],
        Settings {
            keepalive,
            ..Settings::default()
        },
    );
    eventually("seen", async || rig.usage(CODES[0]).await.next_keepalive).await;
    let first = rig.usage(CODES[0]).await.next_keepalive.unwrap();
    assert_eq!(first, t0() + chrono::Duration::days(30));
    rig.clock.advance(chrono::Duration::days(29));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(rig.sent_from(CODES[0]).is_empty());
    rig.clock.advance(chrono::Duration::days(1));
    eventually("one keep-alive", async || {
        (rig.sent_from(CODES[0]) == vec!["+18095559999".to_string()]).then_some(())
    })
    .await;
    assert_eq!(rig.sender.sent.lock().unwrap()[0].1.text, "keep-alive");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(rig.sent_from(CODES[0]).len(), 1, "once per period");
    let u = rig.usage(CODES[0]).await;
    assert_eq!(u.keepalives_sent, 1);
    assert_eq!(u.sent_today, 1, "counted like any send");
    // A real send 20 days later starts the wait again.
    rig.clock.advance(chrono::Duration::days(20));
    rig.send(None, "8095551001").await.unwrap();
    eventually("sent", async || {
        (rig.sent_from(CODES[0]).len() == 2).then_some(())
    })
    .await;
    rig.clock.advance(chrono::Duration::days(20));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        rig.sent_from(CODES[0]).len(),
        2,
        "20 days after a send: nothing"
    );
    rig.clock.advance(chrono::Duration::days(11));
    eventually("the second keep-alive", async || {
        (rig.sent_from(CODES[0]).len() == 3).then_some(())
    })
    .await;
}

/// A message waiting for its SIM's cap, in a conversation whose phone has
/// seen nothing from that SIM, moves to a SIM with room after
/// `failover_after`, with the rest of that conversation.
#[actix::test]
async fn a_capped_sims_unseen_conversation_fails_over_to_a_sim_with_room() {
    let caps = crate::session::Caps {
        per_day: 1,
        ..Default::default()
    };
    let rig = start_capped(
        Store::temporary().unwrap(),
        local("2026-11-25", 10, 0),
        &[(0, caps)],
        Settings {
            failover_after: Some(chrono::Duration::seconds(30)),
            ..Settings::default()
        },
    );
    // The first message sits at a modem that never answers: the phone
    // has seen nothing from that SIM.
    rig.sender.stuck.lock().unwrap().push(CODES[0].to_string());
    let a = rig.send(None, "8095551001").await.unwrap();
    assert_eq!(a.recipients[0].short_code.as_deref(), Some(CODES[0]));
    let again = rig
        .send(Some(a.session.id.clone()), "8095551001")
        .await
        .unwrap();
    assert_eq!(again.recipients[0].status, RecipientState::WaitingForCap);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        rig.sent_from(CODES[1]).is_empty(),
        "not before failover_after"
    );
    rig.clock.advance(chrono::Duration::seconds(31));
    eventually("both moved and sent from the other SIM", async || {
        (rig.sent_from(CODES[1]).len() == 2).then_some(())
    })
    .await;
    let v = rig
        .addr
        .send(GetSession(a.session.id.clone()))
        .await
        .unwrap()
        .unwrap();
    for m in &v.messages {
        assert_eq!(m.recipients[0].short_code.as_deref(), Some(CODES[1]));
        assert_eq!(m.recipients[0].status, RecipientState::Sent);
    }
}

/// The distinct-recipients cap: a SIM that has written to its quota of
/// numbers this month takes no new number, while the numbers it already
/// counts still get their messages.
#[actix::test]
async fn the_recipients_cap_keeps_known_numbers_and_turns_new_ones_away() {
    let caps = crate::session::Caps {
        recipients_per_month: 2,
        ..Default::default()
    };
    let rig = start_capped(
        Store::temporary().unwrap(),
        local("2026-11-25", 10, 0),
        &[(0, caps)],
        Settings::default(),
    );
    let mut codes = Vec::new();
    let mut sessions = Vec::new();
    for n in ["8095551001", "8095551002", "8095551003", "8095551004"] {
        let a = rig.send(None, n).await.unwrap();
        codes.push(a.recipients[0].short_code.clone().unwrap());
        sessions.push(a.session.id.clone());
    }
    let on_capped = codes.iter().filter(|c| *c == CODES[0]).count();
    assert_eq!(on_capped, 2, "two numbers on the capped SIM: {codes:?}");
    assert_eq!(codes[3], CODES[1], "the fourth number cannot take it");
    assert_eq!(
        rig.usage(CODES[0]).await.reached,
        vec![crate::session::CapKind::Recipients]
    );
    // A number it already counts gets its next message at once.
    let known = codes.iter().position(|c| c == CODES[0]).unwrap();
    let to = ["8095551001", "8095551002", "8095551003", "8095551004"][known];
    let again = rig.send(Some(sessions[known].clone()), to).await.unwrap();
    assert_eq!(again.recipients[0].status, RecipientState::Queued);
    assert_eq!(rig.usage(CODES[0]).await.recipients_this_month, 2);
}

/// The monthly cap: the message over it waits and goes on the first of
/// the next month (local time), on virtual time.
#[actix::test]
async fn the_month_cap_holds_until_the_month_turns() {
    let caps = crate::session::Caps {
        per_month: 2,
        ..Default::default()
    };
    let rig = both_capped(caps, local("2026-11-30", 23, 57));
    let a = rig.send(None, "8095551001").await.unwrap();
    let id = a.session.id.clone();
    assert_eq!(
        rig.send(Some(id.clone()), "8095551001")
            .await
            .unwrap()
            .recipients[0]
            .status,
        RecipientState::Queued
    );
    let third = rig.send(Some(id.clone()), "8095551001").await.unwrap();
    assert_eq!(third.recipients[0].status, RecipientState::WaitingForCap);
    let code = a.recipients[0].short_code.clone().unwrap();
    assert_eq!(
        rig.usage(&code).await.reached,
        vec![crate::session::CapKind::Month]
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(rig.sent_from(&code).len(), 2);
    rig.clock.advance(chrono::Duration::minutes(4));
    eventually("sent in December", async || {
        (rig.sent_from(&code).len() == 3).then_some(())
    })
    .await;
    let u = rig.usage(&code).await;
    assert_eq!((u.sent_this_month, u.waiting_for_cap), (1, 0));
}

/// The idle guard: the supervisor sleeps until something is due. An idle
/// hour of virtual time with nothing live wakes it once (the hourly
/// prune); one conversation adds exactly its end. Counted by the alarm
/// itself (`timer_wakeups`, on `/metrics`), not by watching the clock.
#[actix::test]
async fn an_idle_hour_wakes_the_supervisor_only_for_what_is_due() {
    let rig = start_at(t0());
    let wakeups = async || rig.addr.send(Counters).await.unwrap().timer_wakeups;
    // A virtual hour in steps of ten seconds, each step given time to run.
    let idle_hour = async || {
        for _ in 0..360 {
            rig.clock.advance(chrono::Duration::seconds(10));
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    idle_hour().await;
    assert_eq!(wakeups().await, 1, "an empty gateway wakes only to prune");

    let answer = rig.send(None, "8095551234").await.unwrap();
    let id = answer.session.id.clone();
    assert!(rig.first_recipient(&id).await.is_some());
    idle_hour().await;
    assert!(
        rig.first_recipient(&id).await.is_none(),
        "ended after 5 minutes"
    );
    // The session's end, then the next prune: nothing in between.
    assert_eq!(wakeups().await, 3);
}

/// The write guard on the store layer: every flush ends in `fdatasync`
/// and rewrites at least the log's last page, so flushes per message are
/// what an SD card pays. Sixteen browsers at once share the flush of
/// their acceptance (group commit); each message then costs the flush of
/// its `sent` status and of its delivery report (the modem deletes the
/// report only once it is durable).
#[actix::test]
async fn a_message_costs_a_bounded_number_of_flushes() {
    let rig = start_at(t0());
    const N: usize = 64;
    let before = rig.store.flushes();
    let sends: Vec<_> = (0..N)
        .map(|i| {
            rig.addr.send(WebSend {
                session: None,
                request: SendRequest {
                    to: vec![format!("80955{i:05}")],
                    text: "hola".into(),
                    ..Default::default()
                },
            })
        })
        .collect();
    for s in futures_util::future::join_all(sends).await {
        s.unwrap().unwrap();
    }
    let accepted = rig.store.flushes() - before;
    eventually("all sent", async || {
        (rig.sender.sent.lock().unwrap().len() == N).then_some(())
    })
    .await;
    let sent: Vec<(String, u8)> = (0..N)
        .map(|i| (rig.sender.sent.lock().unwrap()[i].0.clone(), i as u8))
        .collect();
    for (code, mr) in sent {
        assert!(rig.report(&code, mr).await);
    }
    let total = rig.store.flushes() - before;
    eprintln!("{N} messages: {accepted} flushes to accept them, {total} in all");
    assert!(
        accepted <= N as u64 / 2,
        "concurrent sends share their flush: {accepted} for {N}"
    );
    assert!(
        total <= 2 * N as u64,
        "at most two flushes a message: {total} for {N}"
    );
}

/// A burst waits in the outbox, not at the modem: at most a window's worth
/// ([`DISPATCH_WINDOW`]) of sends is handed to one short code's modem at once; each that
/// finishes lets the next go, oldest first, each once; the queue depth
/// counts the ones waiting. A conversation that ends while its send still
/// waits for room withdraws it: it never reaches the modem.
#[actix::test]
async fn a_burst_waits_in_the_outbox_a_window_at_a_time() {
    let rig = start_on(
        Store::temporary().unwrap(),
        &CODES[..1],
        t0(),
        Settings::default(),
    );
    *rig.sender.hold.lock().unwrap() = true;
    let phones: Vec<String> = (0..150).map(|i| format!("+1809556{i:04}")).collect();
    let mut sessions = Vec::new();
    for p in &phones {
        sessions.push(rig.send(None, p).await.unwrap().session.id);
    }
    let at_modem = || rig.sender.sent.lock().unwrap().len();
    let w = DISPATCH_WINDOW;
    eventually("a window at the modem", async || {
        (at_modem() == w).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(at_modem(), w, "no more than the window");
    let depth = rig.addr.send(Counters).await.unwrap().queue_depth;
    assert_eq!(depth, (150 - w) as u64, "the backlog is counted");
    // Ten finish: ten more go.
    rig.sender.answer(10);
    eventually("ten more", async || (at_modem() == w + 10).then_some(())).await;
    // The last twenty conversations end before their sends had room
    // (the first 130 are kept alive by a reply each).
    rig.clock.advance(chrono::Duration::minutes(4));
    for p in &phones[..130] {
        assert!(rig.phone_sends(p, CODES[0], "sigo").await);
    }
    rig.clock.advance(chrono::Duration::minutes(2));
    eventually("the last twenty ended", async || {
        rig.first_recipient(&sessions[149])
            .await
            .is_none()
            .then_some(())
    })
    .await;
    // Everything else finishes, a few at a time.
    for _ in 0..40 {
        rig.sender.answer(8);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eventually("the 130 live ones sent", async || {
        rig.sender.answer(w);
        (at_modem() >= 130).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let sent: Vec<String> = rig
        .sender
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|(_, sms)| sms.recipient.clone())
        .collect();
    assert_eq!(
        sent,
        phones[..130].to_vec(),
        "oldest first, each once, none of the ended ones"
    );
    let depth = rig.addr.send(Counters).await.unwrap().queue_depth;
    assert_eq!(depth, 0);
}
