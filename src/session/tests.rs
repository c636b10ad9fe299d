//! Scenario tests of the session core, one rule each (see
//! `../shared/SPEC.md`), on injected time.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;

use super::*;

const A: &str = "+18095551234";
const B: &str = "+18295550000";

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::UNIX_EPOCH + Duration::days(20_000) + Duration::seconds(secs)
}

fn pool(k: usize) -> Vec<ShortCode> {
    (0..k)
        .map(|i| ShortCode(format!("+1809555010{i}")))
        .collect()
}

fn core(codes: usize) -> SessionCore {
    SessionCore::new(CoreConfig {
        pool: pool(codes),
        ..CoreConfig::default()
    })
}

fn sid(s: &str) -> SessionId {
    SessionId(s.into())
}

fn to(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Sends from session `id` (opening it if needed) and finishes the send.
fn send(c: &mut SessionCore, id: &str, list: &[&str], now: DateTime<Utc>) -> SendPlan {
    let plan = c
        .begin_send(Some(&sid(id)), sid(id), &to(list), "Hola", now)
        .unwrap();
    c.finish_send(&sid(id), now);
    plan
}

fn code_of(plan: &SendPlan, i: usize) -> ShortCode {
    match &plan.recipients[i].decision {
        Decision::Queued { short_code, .. } => short_code.clone(),
        other => panic!("not queued: {other:?}"),
    }
}

fn refusal(plan: &SendPlan, i: usize) -> Option<Refusal> {
    match plan.recipients[i].decision {
        Decision::Refused { reason } => Some(reason),
        Decision::Queued { .. } => None,
    }
}

// R2: the first send opens a session bound to the caller's id; R1: every
// recipient gets the same text.
#[test]
fn first_send_opens_a_session() {
    let mut c = core(3);
    let plan = send(&mut c, "s1", &[A, "829-555-0000"], t(0));
    assert!(plan.opened);
    assert_eq!(plan.session, Some(sid("s1")));
    assert_eq!(plan.recipients[1].to, Some(Msisdn(B.into())));
    let s = c.get(&sid("s1"), t(1)).unwrap();
    assert_eq!(s.messages.len(), 1);
    assert_eq!(s.messages[0].recipients.len(), 2);
    assert_eq!(s.deadline, t(300));
}

// R4: a reply 1 s before expiry restarts the clock; without it the session
// is gone from every read at its deadline, even before `expire` runs.
#[test]
fn reply_one_second_before_expiry_refreshes_deadline() {
    let mut c = core(3);
    let code = code_of(&send(&mut c, "s1", &[A], t(0)), 0);
    let out = c.route_reply(A, &code, "Sí", 1, t(299));
    assert!(matches!(out.routed, Routed::ToSession { .. }));
    assert_eq!(c.get(&sid("s1"), t(598)).unwrap().deadline, t(599));
    assert!(c.get(&sid("s1"), t(599)).is_none());
    let ended = c.expire(t(600));
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].ended_at, t(599));
    assert_eq!(ended[0].pairs, vec![(Msisdn(A.into()), code)]);
    assert!(c.expire(t(601)).is_empty());
}

// R4: a send restarts the clock too; a status update does not.
#[test]
fn sends_restart_the_clock_status_updates_do_not() {
    let mut c = core(3);
    let p = send(&mut c, "s1", &[A], t(0));
    send(&mut c, "s1", &[B], t(200));
    let changed = c
        .update_status(
            p.message.unwrap(),
            &Msisdn(A.into()),
            DeliveryStatus::Delivered,
            None,
            t(450),
        )
        .unwrap();
    assert!(changed);
    assert_eq!(c.get(&sid("s1"), t(450)).unwrap().deadline, t(500));
}

// R5: within a session a recipient keeps its short code.
#[test]
fn recipient_keeps_its_code_within_a_session() {
    let mut c = core(3);
    let first = code_of(&send(&mut c, "s1", &[A], t(0)), 0);
    let again = code_of(&send(&mut c, "s1", &[B, A], t(10)), 1);
    assert_eq!(first, again);
}

// R6: after expiry a new send to the same number uses another short code.
#[test]
fn after_expiry_another_short_code() {
    let mut c = core(3);
    let old = code_of(&send(&mut c, "s1", &[A], t(0)), 0);
    c.expire(t(400));
    let plan = send(&mut c, "s1", &[A], t(500));
    assert!(plan.opened, "R6: a new session opens");
    assert_ne!(code_of(&plan, 0), old);
}

// R6: with a pool of one, the retired pair is reused (least recently
// retired) rather than refused.
#[test]
fn only_retired_codes_left_reuses_least_recently_retired() {
    let mut c = core(1);
    let old = code_of(&send(&mut c, "s1", &[A], t(0)), 0);
    assert_eq!(code_of(&send(&mut c, "s2", &[A], t(400)), 0), old);
}

// R7: a reply to the old pair lands out of session, not in the new session.
#[test]
fn late_reply_stays_out_of_the_new_session() {
    let mut c = core(3);
    let old = code_of(&send(&mut c, "s1", &[A], t(0)), 0);
    send(&mut c, "s2", &[A], t(400));
    let out = c.route_reply(A, &old, "tarde", 1, t(410));
    match out.routed {
        Routed::OutOfSession { record } => {
            assert!(record.late);
            assert_eq!(record.auto_reply, None, "R7: auto-reply is off by default");
        }
        other => panic!("R7 broken: {other:?}"),
    }
    assert!(c.get(&sid("s2"), t(410)).unwrap().replies.is_empty());
    assert!(!out.cdr.in_session);
}

// R7: the optional auto-reply is offered for out-of-session replies only.
#[test]
fn auto_reply_when_configured() {
    let mut c = SessionCore::new(CoreConfig {
        pool: pool(2),
        auto_reply: Some("La conversación terminó".into()),
        ..CoreConfig::default()
    });
    let out = c.route_reply("8095551234", &pool(2)[0], "hola", 1, t(0));
    let Routed::OutOfSession { record } = out.routed else {
        panic!("no session holds the pair");
    };
    assert!(!record.late);
    assert_eq!(
        record.auto_reply.as_deref(),
        Some("La conversación terminó")
    );
    assert_eq!(record.from.as_str(), A, "MO sender normalised");
}

// R8: with a pool of 3, the 4th concurrent session for one number refuses
// that number only.
#[test]
fn fourth_concurrent_session_refuses_that_number_only() {
    let mut c = core(3);
    for s in ["s1", "s2", "s3"] {
        send(&mut c, s, &[A], t(0));
    }
    let plan = send(&mut c, "s4", &[A, B], t(1));
    assert_eq!(refusal(&plan, 0), Some(Refusal::NoFreeShortCode));
    assert_eq!(refusal(&plan, 1), None);
    assert_eq!(plan.session, Some(sid("s4")));
}

// R9: a fleet recipient is sent to but cannot reply.
#[test]
fn fleet_recipient_cannot_reply() {
    let mut c = SessionCore::new(CoreConfig {
        pool: pool(2),
        fleet: FleetPlan::build("DO", &["809555".into()], &[], &[]).unwrap(),
        ..CoreConfig::default()
    });
    let plan = send(&mut c, "s1", &[A, B], t(0));
    assert!(matches!(
        plan.recipients[0].decision,
        Decision::Queued {
            can_reply: false,
            ..
        }
    ));
    assert!(matches!(
        plan.recipients[1].decision,
        Decision::Queued {
            can_reply: true,
            ..
        }
    ));
}

// R10: every MO yields a CDR, in session or not; totals are exact.
#[test]
fn every_mo_is_charged_exactly() {
    let mut c = core(2);
    let code = code_of(&send(&mut c, "s1", &[A], t(0)), 0);
    let mut total = Decimal::ZERO;
    for i in 0..1000 {
        let out = c.route_reply(A, &code, "x", 1, t(i / 10));
        assert!(out.cdr.in_session);
        total += out.cdr.total;
    }
    assert_eq!(total.to_string(), "1180.00");
    let late = c.route_reply(B, &code, "x", 1, t(1));
    assert!(!late.cdr.in_session);
    assert_eq!(late.cdr.total.to_string(), "1.18");
}

// R11: a second send before the first finished is refused.
#[test]
fn second_concurrent_send_refused() {
    let mut c = core(3);
    c.begin_send(None, sid("s1"), &to(&[A]), "uno", t(0))
        .unwrap();
    let err = c
        .begin_send(Some(&sid("s1")), sid("s9"), &to(&[B]), "dos", t(1))
        .unwrap_err();
    assert_eq!(err, SendError::SendInProgress);
    c.finish_send(&sid("s1"), t(2));
    assert!(c
        .begin_send(Some(&sid("s1")), sid("s9"), &to(&[B]), "dos", t(3))
        .is_ok());
}

// R1: more recipients than the cap refuses the whole send.
#[test]
fn too_many_recipients_refuses_the_send() {
    let mut c = core(3);
    let many: Vec<String> = (0..51).map(|i| format!("80955510{i:02}")).collect();
    let err = c.begin_send(None, sid("s1"), &many, "x", t(0)).unwrap_err();
    assert_eq!(err, SendError::TooManyRecipients { max: 50, got: 51 });
    assert!(c.get(&sid("s1"), t(0)).is_none());
}

// R12: STOP opts out, START lifts it; the keyword is reported.
#[test]
fn stop_then_send_refused_start_lifts() {
    let mut c = core(3);
    for stop in ["baja", " Stop! ", "BÁJA"] {
        let out = c.route_reply(A, &pool(3)[0], stop, 1, t(0));
        assert_eq!(out.keyword, Some(Keyword::Stop), "{stop:?}");
        let plan = send(&mut c, "s1", &[A, B], t(1));
        assert_eq!(refusal(&plan, 0), Some(Refusal::OptedOut));
        assert_eq!(refusal(&plan, 1), None);
        let out = c.route_reply(A, &pool(3)[0], "Alta", 1, t(2));
        assert_eq!(out.keyword, Some(Keyword::Start));
        assert_eq!(refusal(&send(&mut c, "s1", &[A], t(3)), 0), None);
        c.end_session(&sid("s1"), t(4));
    }
}

// R13: invalid and duplicate recipients are refused one by one; all refused
// opens no session.
#[test]
fn invalid_and_duplicate_recipients_refused() {
    let mut c = core(3);
    let plan = send(&mut c, "s1", &[A, "hola", "809.555.1234", "+99912"], t(0));
    assert_eq!(refusal(&plan, 0), None);
    assert_eq!(refusal(&plan, 1), Some(Refusal::InvalidNumber));
    assert_eq!(refusal(&plan, 2), Some(Refusal::DuplicateRecipient));
    assert_eq!(refusal(&plan, 3), Some(Refusal::InvalidNumber));
    let plan = c
        .begin_send(None, sid("s2"), &to(&["junk"]), "x", t(0))
        .unwrap();
    assert_eq!((plan.session, plan.message), (None, None));
    assert!(c.get(&sid("s2"), t(0)).is_none());
}

// Status updates: by (message, recipient); final states stay final.
#[test]
fn status_updates_by_message_and_recipient() {
    let mut c = core(3);
    let m = send(&mut c, "s1", &[A], t(0)).message.unwrap();
    let a = Msisdn(A.into());
    let up = |c: &mut SessionCore, s| c.update_status(m, &a, s, None, t(1));
    assert_eq!(up(&mut c, DeliveryStatus::Sent), Ok(true));
    assert_eq!(up(&mut c, DeliveryStatus::Sent), Ok(false));
    assert_eq!(
        c.update_status(m, &a, DeliveryStatus::Failed, Some("+CMS 500".into()), t(1)),
        Ok(true)
    );
    assert_eq!(up(&mut c, DeliveryStatus::Delivered), Ok(false));
    let r = &c.get(&sid("s1"), t(1)).unwrap().messages[0].recipients[0];
    assert_eq!(
        (r.status, r.reason.as_deref()),
        (DeliveryStatus::Failed, Some("+CMS 500"))
    );
    assert!(c
        .update_status(m, &Msisdn(B.into()), DeliveryStatus::Sent, None, t(1))
        .is_err());
    assert!(up(&mut c, DeliveryStatus::Sent).is_ok());
    assert!(c
        .update_status(m, &a, DeliveryStatus::Sent, None, t(300))
        .is_err());
}

// Persistence: the state round-trips through JSON (string-keyed maps),
// send in flight included; a restart's recovery finishes it (R11).
#[test]
fn state_round_trips_through_json() {
    let mut c = core(3);
    c.begin_send(None, sid("s1"), &to(&[A]), "x", t(0)).unwrap();
    c.route_reply(B, &pool(3)[0], "STOP", 1, t(1));
    let json = serde_json::to_string(c.state()).unwrap();
    let state: CoreState = serde_json::from_str(&json).unwrap();
    let mut r = SessionCore::restore(c.config().clone(), state);
    assert_eq!(r.state(), c.state());
    assert!(r.is_opted_out(&Msisdn(B.into())));
    assert_eq!(
        r.begin_send(Some(&sid("s1")), sid("x"), &to(&[A]), "y", t(2)),
        Err(SendError::SendInProgress)
    );
    assert_eq!(r.recover(t(2)), 1);
    assert!(r
        .begin_send(Some(&sid("s1")), sid("x"), &to(&[A]), "y", t(2))
        .is_ok());
    let plan = serde_json::to_value(send(&mut r, "s7", &[A, "x"], t(3))).unwrap();
    assert_eq!(plan["recipients"][0]["status"], "queued");
    assert_eq!(plan["recipients"][1]["reason"], "invalid_number");
}

// R5 refined: a binding moves off a dead modem only while the phone has
// seen nothing from it (nothing sent, no reply), and only to a free pair.
#[test]
fn a_binding_moves_only_while_the_phone_has_seen_nothing() {
    let mut c = core(3);
    let p = pool(3);
    let plan = send(&mut c, "s1", &[A, B], t(0));
    let (a, b) = (code_of(&plan, 0), code_of(&plan, 1));
    let m = plan.message.unwrap();
    let (na, nb) = (Msisdn(A.into()), Msisdn(B.into()));
    // A's message went out: A has seen `a`; it stays.
    c.update_status(m, &na, DeliveryStatus::Sent, None, t(1))
        .unwrap();
    let free = p.iter().find(|x| **x != a && **x != b).unwrap().clone();
    assert!(!c.rebind(&sid("s1"), &na, &a, &free, t(2)));
    // B has seen nothing: it moves, its messages with it, the old pair is
    // free (not retired: the phone never saw it), the new one held.
    c.update_status(m, &nb, DeliveryStatus::WaitingForModem, None, t(2))
        .unwrap();
    assert!(c.rebind(&sid("s1"), &nb, &b, &free, t(3)));
    let s = c.get(&sid("s1"), t(3)).unwrap();
    assert_eq!(s.bindings[&nb], free);
    let r = &s.messages[0].recipients[1];
    assert_eq!((&r.short_code, r.status), (&free, DeliveryStatus::Queued));
    assert_eq!(c.state().allocator.holder(&nb, &b), None);
    assert_eq!(c.state().allocator.retired_at(&nb, &b), None);
    assert_eq!(c.state().allocator.holder(&nb, &free), Some(&sid("s1")));
    // Not from a code it is not bound to, nor to a pair someone holds.
    assert!(!c.rebind(&sid("s1"), &nb, &b, &a, t(4)));
    assert!(!c.rebind(&sid("s1"), &na, &a, &free, t(4)));
}

#[test]
fn a_phone_that_replied_keeps_its_pair() {
    let mut c = core(2);
    let p = pool(2);
    let plan = send(&mut c, "s1", &[A], t(0));
    let a = code_of(&plan, 0);
    c.route_reply(A, &a, "hola", 1, t(1));
    let other = p.iter().find(|x| **x != a).unwrap().clone();
    assert!(!c.rebind(&sid("s1"), &Msisdn(A.into()), &a, &other, t(2)));
}
