//! The virtual network's rules, without ports: what a modem sends reaches a
//! phone or another modem, reports come back, fleet numbers cannot send to
//! short codes, multipart texts arrive in the order asked.

use chrono::DateTime;

use super::*;
use crate::emulator::codec;
use crate::sms::{self, Pdu, SubmitOptions};

fn now() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-11-25T10:00:00-04:00").unwrap()
}

fn net() -> Network {
    Network::new(
        vec!["+18095550100".into(), "+18095550101".into()],
        "+18095550000".into(),
    )
}

fn submit_tpdu(to: &str, text: &str, report: bool) -> Vec<Vec<u8>> {
    let opts = SubmitOptions {
        status_report: report,
        ..SubmitOptions::default()
    };
    sms::encode_submit(to, text, &opts, 7)
        .unwrap()
        .into_iter()
        .map(|p| {
            let b = sms::parse_hex(&p.hex).unwrap();
            b[b.len() - p.tpdu_length..].to_vec()
        })
        .collect()
}

#[test]
fn a_modem_send_lands_in_the_phone_inbox_with_a_delivered_report() {
    let mut n = net();
    let events = n.submit(0, &submit_tpdu("8095551234", "Hola", true)[0], 5, now());
    let inbox = n.inbox("+18095551234");
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].text, "Hola");
    assert_eq!(inbox[0].from, "+18095550100");
    let [NetEvent::ToModem {
        modem: 0,
        kind: Kind::StatusReport,
        pdu,
    }] = &events[..]
    else {
        panic!("{events:?}")
    };
    let Pdu::StatusReport(r) = sms::decode_pdu(pdu, true).unwrap().1 else {
        panic!()
    };
    assert_eq!(r.message_ref, 5);
    assert_eq!(r.status, 0);
    assert_eq!(r.recipient.to_string(), "+18095551234");
}

#[test]
fn an_unknown_number_gets_a_failed_report() {
    let mut n = net();
    n.add_unknown_number("+18090000000");
    let events = n.submit(1, &submit_tpdu("+18090000000", "x", true)[0], 9, now());
    let [NetEvent::ToModem { modem: 1, pdu, .. }] = &events[..] else {
        panic!()
    };
    let Pdu::StatusReport(r) = sms::decode_pdu(pdu, true).unwrap().1 else {
        panic!()
    };
    assert_eq!(r.classification(), sms::DeliveryStatus::FailedPermanent);
    assert!(n.inbox("+18090000000").is_empty());
}

#[test]
fn a_modem_sending_to_another_modem_delivers_there() {
    let mut n = net();
    let events = n.submit(0, &submit_tpdu("+18095550101", "ping", false)[0], 1, now());
    let [NetEvent::ToModem {
        modem: 1,
        kind: Kind::Deliver,
        pdu,
    }] = &events[..]
    else {
        panic!("{events:?}")
    };
    let Pdu::Deliver(d) = sms::decode_pdu(pdu, true).unwrap().1 else {
        panic!()
    };
    assert_eq!(d.originator.to_string(), "+18095550100");
    assert_eq!(d.user_data.text.as_deref(), Some("ping"));
}

#[test]
fn multipart_from_a_modem_is_reassembled_in_the_inbox() {
    let mut n = net();
    let text = "canción larga ".repeat(12);
    let parts = submit_tpdu("+18095551234", &text, false);
    assert!(parts.len() > 1);
    for (i, p) in parts.iter().enumerate().rev() {
        n.submit(0, p, i as u8, now());
    }
    let inbox = n.inbox("+18095551234");
    assert_eq!(inbox.len(), 1);
    assert!(inbox[0].complete);
    assert_eq!(inbox[0].text, text);
}

#[test]
fn phones_send_to_short_codes_in_the_order_asked() {
    let mut n = net();
    let text = "x".repeat(200);
    let events = n
        .phone_send(
            "8095551234",
            "+18095550101",
            &text,
            PartOrder::Reversed,
            now(),
        )
        .unwrap();
    let seqs: Vec<u8> = events
        .iter()
        .map(|e| {
            let NetEvent::ToModem { modem, pdu, .. } = e else {
                panic!("{e:?}")
            };
            assert_eq!(*modem, 1);
            let Pdu::Deliver(d) = sms::decode_pdu(pdu, true).unwrap().1 else {
                panic!()
            };
            assert_eq!(d.originator.to_string(), "+18095551234");
            codec::concat_of(&d.user_data).unwrap().2
        })
        .collect();
    assert_eq!(seqs, vec![2, 1]);
    let dup = n
        .phone_send(
            "+18095551234",
            "+18095550101",
            &text,
            PartOrder::Duplicated,
            now(),
        )
        .unwrap();
    assert_eq!(dup.len(), 4);
}

#[test]
fn fleet_numbers_cannot_send_to_short_codes() {
    let mut n = net();
    n.set_fleet_prefixes(vec!["+1809200".into()]);
    assert_eq!(
        n.phone_send(
            "+18092001111",
            "+18095550100",
            "hola",
            PartOrder::InOrder,
            now()
        ),
        Err(SendRefused::FleetNumber("+18092001111".into()))
    );
    // They still receive.
    n.submit(0, &submit_tpdu("+18092001111", "hola", false)[0], 1, now());
    assert_eq!(n.inbox("+18092001111").len(), 1);
}

#[test]
fn sending_to_a_number_that_is_no_short_code_is_refused() {
    let mut n = net();
    assert!(matches!(
        n.phone_send(
            "+18095551234",
            "+18095559999",
            "hola",
            PartOrder::InOrder,
            now()
        ),
        Err(SendRefused::NoSuchShortCode(_))
    ));
}

#[test]
fn numbers_normalize_to_e164() {
    assert_eq!(normalize("809-555-1234"), "+18095551234");
    assert_eq!(normalize("18095551234"), "+18095551234");
    assert_eq!(normalize("+1 (809) 555 1234"), "+18095551234");
}
