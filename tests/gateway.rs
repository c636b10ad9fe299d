//! The gateway end to end on the emulated network (no HTTP): sessions,
//! short-code bindings, reply routing, late replies, charges, delivery
//! status, and a restart that keeps sessions, bindings and the outbox.
//! Rules are those of ../shared/SPEC.md.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::eventually_async;
use common::rig::{Rig, Setup};
use smsgate::emulator::faults::Fault;
use smsgate::emulator::network::PartOrder;
use smsgate::gateway::api::{GatewayApi, SendRequest, SessionEvent};
use smsgate::modem::types::ModemState;

const PHONE: &str = "+18095551234";
const WITHIN: Duration = Duration::from_secs(30);
const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The gateway on `modems` emulated modems, sessions idle out after `idle`.
async fn start(modems: usize, idle: Duration) -> Rig {
    let mut setup = Setup::new(modems);
    setup.config.session.idle_timeout = idle;
    setup.within = WITHIN;
    Rig::start(setup).await
}

fn req(to: &[&str], text: &str) -> SendRequest {
    SendRequest {
        to: to.iter().map(|s| s.to_string()).collect(),
        text: text.to_string(),
        ..Default::default()
    }
}

#[actix::test]
async fn two_sessions_reach_one_phone_through_two_short_codes_and_replies_go_home() {
    let rig = start(3, Duration::from_secs(300)).await;
    let (emu, gw) = (&rig.emu, &rig.gw);

    // R2, R5: two browsers, one phone; each session gets its own short code.
    let a = gw
        .send(None, req(&["8095551234"], "Hola desde A"), CLIENT)
        .await
        .unwrap();
    let b = gw
        .send(None, req(&[PHONE], "Hola desde B"), CLIENT)
        .await
        .unwrap();
    assert_ne!(a.session.id, b.session.id);
    let code_a = a.recipients[0].short_code.clone().unwrap();
    let code_b = b.recipients[0].short_code.clone().unwrap();
    assert_eq!(
        a.recipients[0].to, PHONE,
        "national number normalised to E.164"
    );
    assert_ne!(code_a, code_b, "R5: a pair belongs to one live session");
    eventually_async("both SMS on the phone", WITHIN, async || {
        (emu.inbox(PHONE).len() == 2).then_some(())
    })
    .await;
    let inbox = emu.inbox(PHONE);
    assert!(inbox
        .iter()
        .any(|m| m.from == code_a && m.text == "Hola desde A"));
    assert!(inbox
        .iter()
        .any(|m| m.from == code_b && m.text == "Hola desde B"));

    // R3: each reply reaches the session of its short code, live.
    let mut events_a = gw.subscribe(&a.session.id).await.unwrap();
    emu.phone_send(PHONE, &code_b, "respuesta para B", PartOrder::InOrder)
        .unwrap();
    emu.phone_send(
        PHONE,
        &code_a,
        &"respuesta larga para A ".repeat(10),
        PartOrder::Reversed,
    )
    .unwrap();
    let reply = loop {
        match tokio::time::timeout(WITHIN, events_a.recv())
            .await
            .unwrap()
            .unwrap()
            .as_ref()
        {
            SessionEvent::Reply { reply, .. } => break reply.clone(),
            _ => continue,
        }
    };
    assert_eq!(reply.text, "respuesta larga para A ".repeat(10));
    assert_eq!(reply.from, PHONE);
    eventually_async("B's reply", WITHIN, async || {
        let s = gw.session(&b.session.id).await?;
        (s.replies.len() == 1).then_some(())
    })
    .await;
    let sa = gw.session(&a.session.id).await.unwrap();
    let sb = gw.session(&b.session.id).await.unwrap();
    assert_eq!(sa.replies.len(), 1);
    assert_eq!(sb.replies[0].text, "respuesta para B");
    // R10: every SMS part a phone sends is charged, RD$1.00 + 18 % ITBIS:
    // one for B's reply, two for A's two-part reply.
    let charges = gw.charge_list(None, None).await.unwrap();
    assert_eq!(charges.len(), 3);
    assert!(charges
        .iter()
        .all(|c| c.total == "1.18" && c.currency == "DOP" && c.in_session));

    // Delivery status: queued → sent → delivered.
    eventually_async("delivered", WITHIN, async || {
        let s = gw.session(&a.session.id).await?;
        (s.messages[0].recipients[0].status.as_str() == "delivered").then_some(())
    })
    .await;
    rig.shutdown().await;
}

#[actix::test]
async fn late_replies_stay_out_of_every_session() {
    let rig = start(2, Duration::from_secs(2)).await;
    let (emu, gw) = (&rig.emu, &rig.gw);
    let first = gw
        .send(None, req(&[PHONE], "primera"), CLIENT)
        .await
        .unwrap();
    let old_code = first.recipients[0].short_code.clone().unwrap();
    let mut events = gw.subscribe(&first.session.id).await.unwrap();
    // R4: the session ends after the idle timeout and says so.
    let ended = tokio::time::timeout(WITHIN, async {
        loop {
            if let Ok(SessionEvent::Expired { .. }) = events.recv().await.as_deref() {
                return;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "expired event");
    assert!(gw.session(&first.session.id).await.is_none());
    // R6: a new send reaches the phone through another short code.
    let second = gw
        .send(
            Some(first.session.id.clone()),
            req(&[PHONE], "segunda"),
            CLIENT,
        )
        .await
        .unwrap();
    assert_ne!(second.session.id, first.session.id);
    assert_ne!(
        second.recipients[0].short_code.as_deref(),
        Some(old_code.as_str())
    );
    // R7: a reply to the old pair reaches no session, but is kept and charged.
    emu.phone_send(PHONE, &old_code, "tarde", PartOrder::InOrder)
        .unwrap();
    eventually_async("out-of-session record", WITHIN, async || {
        (gw.out_of_session(None, None).await.unwrap().len() == 1).then_some(())
    })
    .await;
    assert!(gw
        .session(&second.session.id)
        .await
        .unwrap()
        .replies
        .is_empty());
    let charges = gw.charge_list(None, None).await.unwrap();
    assert_eq!(charges.len(), 1);
    assert!(!charges[0].in_session);
    rig.shutdown().await;
}

#[actix::test]
async fn a_restart_keeps_sessions_bindings_and_queued_messages() {
    let rig = start(2, Duration::from_secs(300)).await;
    let (emu, gw) = (&rig.emu, &rig.gw);
    let answer = gw
        .send(None, req(&[PHONE], "antes del reinicio"), CLIENT)
        .await
        .unwrap();
    let code = answer.recipients[0].short_code.clone().unwrap();
    let modem = emu.modems().iter().position(|m| m.number == code).unwrap();
    eventually_async("first SMS", WITHIN, async || {
        (emu.inbox(PHONE).len() == 1).then_some(())
    })
    .await;
    // The modem loses the network: the next message waits in the outbox.
    emu.inject_fault(modem, Fault::Deregister).unwrap();
    eventually_async("modem off the network", WITHIN, async || {
        let m = gw.modems().await;
        m.iter()
            .any(|s| s.short_code == code && s.state == ModemState::NotRegistered)
            .then_some(())
    })
    .await;
    gw.send(
        Some(answer.session.id.clone()),
        req(&[PHONE], "en cola"),
        CLIENT,
    )
    .await
    .unwrap();
    assert_eq!(
        gw.outbox().await.unwrap().len(),
        1,
        "queued while the modem is away"
    );
    let net = rig.stop().await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    net.emu.clear_faults(modem).unwrap();
    let rig = net.start_gateway().await.unwrap();
    let (emu, gw) = (&rig.emu, &rig.gw);
    // The session, its binding and its queued message survived.
    let s = gw
        .session(&answer.session.id)
        .await
        .expect("session restored");
    assert_eq!(s.messages.len(), 2);
    eventually_async("queued message sent after restart", WITHIN, async || {
        emu.inbox(PHONE)
            .iter()
            .any(|m| m.text == "en cola" && m.from == code)
            .then_some(())
    })
    .await;
    emu.phone_send(PHONE, &code, "sigo aquí", PartOrder::InOrder)
        .unwrap();
    eventually_async("reply reaches the restored session", WITHIN, async || {
        let s = gw.session(&answer.session.id).await?;
        (s.replies.len() == 1).then_some(())
    })
    .await;
    rig.shutdown().await;
}

#[actix::test]
async fn a_part_read_twice_is_taken_in_once() {
    let rig = start(1, Duration::from_secs(300)).await;
    let (emu, gw) = (&rig.emu, &rig.gw);
    let a = gw.send(None, req(&[PHONE], "hola"), CLIENT).await.unwrap();
    let code = a.recipients[0].short_code.clone().unwrap();
    // The network hands the same PDU over twice (as after a crash between
    // the flush and AT+CMGD): one reply, one charge (R10).
    emu.phone_send(PHONE, &code, "una sola vez", PartOrder::Duplicated)
        .unwrap();
    emu.phone_send(PHONE, &code, "y otra", PartOrder::InOrder)
        .unwrap();
    eventually_async("two replies", WITHIN, async || {
        let s = gw.session(&a.session.id).await?;
        (s.replies.len() >= 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let s = gw.session(&a.session.id).await.unwrap();
    let texts: Vec<&str> = s.replies.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(texts, vec!["una sola vez", "y otra"]);
    assert_eq!(gw.charge_list(None, None).await.unwrap().len(), 2);
    rig.shutdown().await;
}

/// R5 refined on the emulated network: a modem unplugged for good hands
/// the conversations whose phones have seen nothing from it to a live
/// modem after `failover_after`, and they arrive from there; the page's
/// session shows the new short code. A message its modem had already
/// started stays with it (and is not sent twice).
#[actix::test]
async fn a_modem_gone_for_good_hands_its_unseen_conversations_over() {
    let mut setup = Setup::new(2);
    setup.within = WITHIN;
    setup.gateway.failover_after = Some(chrono::Duration::seconds(2));
    let rig = Rig::start(setup).await;
    let (emu, gw) = (&rig.emu, &rig.gw);
    let (code0, code1) = (rig.codes[0].clone(), rig.codes[1].clone());
    // A slow radio on modem 0: its first message holds the modem.
    let mut slow = emu.settings(0).unwrap();
    slow.cmgs_latency_ms = 15_000;
    emu.set_settings(0, slow).unwrap();
    let z = gw
        .send(None, req(&["+18095550001"], "primero"), CLIENT)
        .await
        .unwrap();
    assert_eq!(z.recipients[0].short_code.as_deref(), Some(code0.as_str()));
    // Modem 1 stops answering for a while: the next conversation can only
    // go to modem 0, where it queues behind the slow one.
    emu.inject_fault(1, Fault::NoAnswer).unwrap();
    eventually_async("modem 1 down", WITHIN, async || {
        (gw.modems().await[1].state != ModemState::Up).then_some(())
    })
    .await;
    let a = gw
        .send(None, req(&[PHONE], "hola desde el respaldo"), CLIENT)
        .await
        .unwrap();
    assert_eq!(a.recipients[0].short_code.as_deref(), Some(code0.as_str()));
    emu.clear_faults(1).unwrap();
    eventually_async("modem 1 back", WITHIN, async || {
        (gw.modems().await[1].state == ModemState::Up).then_some(())
    })
    .await;
    // Modem 0 is unplugged and does not come back.
    emu.inject_fault(
        0,
        Fault::Unplug {
            duration_ms: 600_000,
        },
    )
    .unwrap();
    let msg = eventually_async("the phone has it from modem 1", WITHIN, async || {
        emu.inbox(PHONE)
            .into_iter()
            .find(|m| m.text == "hola desde el respaldo")
    })
    .await;
    assert_eq!(msg.from, code1, "from the live modem");
    let view = gw.session(&a.session.id).await.unwrap();
    assert_eq!(
        view.messages[0].recipients[0].short_code.as_deref(),
        Some(code1.as_str()),
        "the page shows the new code"
    );
    // The slow one had started on modem 0 (its part was on the air): it
    // stayed with modem 0, never moved, never went out twice.
    let z_inbox = emu.inbox("+18095550001");
    assert_eq!(z_inbox.len(), 1, "{z_inbox:?}");
    assert_eq!(z_inbox[0].from, code0);
}
