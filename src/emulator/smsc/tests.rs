//! The SMSC's pure parts without sockets: receipt text, SMPP time, GSM
//! 7-bit unpacked, headers and SAR, framing fed byte by byte, and the core
//! driven by PDUs as an ESME would send them (SMPP 3.4 sections cited at
//! each test).

use std::str::FromStr;

use chrono::{DateTime, Duration, FixedOffset};
use rusmpp::pdus::{BindTransceiver, DeliverSm, SubmitSm};
use rusmpp::tlvs::{MessageSubmissionRequestTlvValue, TlvValue};
use rusmpp::types::{AnyOctetString, COctetString, EmptyOrFullCOctetString, OctetString};
use rusmpp::values::{DataCoding, EsmClass, MessagePayload, Npi, RegisteredDelivery, Ton};
use rusmpp::{Command, CommandId, CommandStatus, Pdu};

use super::center::{ConnId, Out, Smsc, SmscConfig, SmscSettings};
use super::faults::SmscFault;
use super::receipt::{expiry, receipt_text, FinalState};
use super::text::{self, MoConcat};
use super::wire::{self, Framer};
use crate::emulator::network::{Network, PartOrder};

const PHONE: &str = "+18095551234";

fn now() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-11-25T10:00:00-04:00").unwrap()
}

// ---- receipts and time ----------------------------------------------------

#[test]
fn receipt_text_follows_appendix_b() {
    let t = receipt_text(
        "1a2b",
        FinalState::Delivered,
        now(),
        now() + Duration::minutes(1),
        "Hola, ¿cómo estás? Un texto largo",
    );
    assert_eq!(
        t,
        "id:1a2b sub:001 dlvrd:001 submit date:2611251000 done date:2611251001 \
         stat:DELIVRD err:000 text:Hola, ¿cómo estás? U"
    );
    let t = receipt_text("7", FinalState::Undeliverable, now(), now(), "x");
    assert!(
        t.contains("dlvrd:000") && t.contains("stat:UNDELIV err:001"),
        "{t}"
    );
    assert_eq!(FinalState::Delivered.message_state(), 2);
    assert_eq!(FinalState::Expired.message_state(), 3);
    assert_eq!(FinalState::Undeliverable.message_state(), 5);
}

#[test]
fn validity_period_reads_absolute_and_relative_smpp_time() {
    // §7.1.1: absolute, 4 quarter hours behind UTC (-04:00).
    let t = expiry("261125113000016-", now()).unwrap().unwrap();
    assert_eq!(t, now() + Duration::minutes(90));
    // Absolute in UTC ("00+"), as Kannel writes it.
    let t = expiry("261125140000000+", now()).unwrap().unwrap();
    assert_eq!(t, now());
    // Relative: 1 day 2 hours 3 minutes.
    let t = expiry("000001020300000R", now()).unwrap().unwrap();
    assert_eq!(t, now() + Duration::minutes(26 * 60 + 3));
    assert_eq!(expiry("", now()).unwrap(), None);
    for bad in [
        "2611251130",
        "26112511300000Z+",
        "261325113000000+",
        "26112511300004XR",
    ] {
        assert!(expiry(bad, now()).is_err(), "{bad}");
    }
}

// ---- text -------------------------------------------------------------------

#[test]
fn gsm_unpacked_is_one_septet_per_octet_with_the_extension_table() {
    let s = text::text_to_gsm_unpacked("A€@").unwrap();
    assert_eq!(s, vec![0x41, 0x1B, 0x65, 0x00]);
    assert_eq!(text::gsm_unpacked_to_text(&s).unwrap(), "A€@");
    assert!(text::text_to_gsm_unpacked("á").is_none());
    assert!(text::gsm_unpacked_to_text(&[0x41, 0x80]).is_err());
}

#[test]
fn short_messages_decode_by_data_coding_and_header() {
    let d = text::decode(0, false, b"Hello").unwrap();
    assert_eq!((d.text.as_str(), d.concat), ("Hello", None));
    let d = text::decode(8, false, &[0x00, 0xE1, 0xD8, 0x3D, 0xDE, 0x00]).unwrap();
    assert_eq!(d.text, "á😀");
    let d = text::decode(3, false, &[0x63, 0x61, 0x66, 0xE9]).unwrap();
    assert_eq!(d.text, "café");
    // 8-bit reference header (IEI 00), part 2 of 3.
    let d = text::decode(0, true, &[5, 0, 3, 0x2A, 3, 2, b'h', b'i']).unwrap();
    assert_eq!((d.text.as_str(), d.concat), ("hi", Some((0x2A, 3, 2))));
    // 16-bit reference header (IEI 08).
    let d = text::decode(8, true, &[6, 8, 4, 0x12, 0x34, 2, 1, 0, b'x']).unwrap();
    assert_eq!((d.text.as_str(), d.concat), ("x", Some((0x1234, 2, 1))));
    assert!(text::decode(0, true, &[9, 0, 3]).is_err());
    assert!(text::decode(8, false, &[0, 0x41, 0]).is_err());
    // Binary shows as hex.
    assert_eq!(text::decode(4, false, &[0xCA, 0xFE]).unwrap().text, "CAFE");
}

#[test]
fn a_phones_long_text_becomes_parts_as_a_handset_splits_it() {
    let short = text::mo_parts("Hola", 9, MoConcat::Udh);
    assert_eq!(short.len(), 1);
    assert_eq!((short[0].data_coding, short[0].esm_class), (0, 0));
    assert_eq!(short[0].short_message, b"Hola");

    let long = "x".repeat(400);
    let parts = text::mo_parts(&long, 9, MoConcat::Udh);
    assert_eq!(parts.len(), 3);
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(p.esm_class, text::ESM_UDHI);
        assert_eq!(&p.short_message[..6], &[5, 0, 3, 9, 3, i as u8 + 1]);
    }
    assert_eq!(parts[0].short_message.len(), 6 + 153);

    let ucs = "á".repeat(100);
    let parts = text::mo_parts(&ucs, 300, MoConcat::Sar);
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].data_coding, 8);
    assert_eq!(parts[0].esm_class, 0);
    assert_eq!(parts[0].short_message.len(), 67 * 2);
    assert_eq!(parts[1].sar, Some((300, 2, 2)));

    let parts = text::mo_parts(&long, 9, MoConcat::Payload);
    assert_eq!(parts.len(), 1);
    assert!(parts[0].short_message.is_empty());
    assert_eq!(parts[0].payload.as_deref(), Some(long.as_bytes()));
}

// ---- framing ----------------------------------------------------------------

#[test]
fn framing_cuts_pdus_fed_byte_by_byte_and_whole() {
    let a = wire::encode(&Command::new(CommandStatus::EsmeRok, 1, Pdu::EnquireLink));
    let b = wire::encode(&Command::new(CommandStatus::EsmeRok, 2, Pdu::Unbind));
    let both: Vec<u8> = a.iter().chain(&b).copied().collect();
    let mut f = Framer::default();
    let mut got = Vec::new();
    for byte in &both {
        got.extend(f.push(&[*byte]).unwrap());
    }
    assert_eq!(got, vec![a.clone(), b.clone()]);
    let mut f = Framer::default();
    assert_eq!(f.push(&both).unwrap(), vec![a, b]);
    // A length below the header cannot be a PDU.
    assert!(Framer::default().push(&[0, 0, 0, 3, 1, 2, 3]).is_err());
    assert!(Framer::default().push(&[0x7F, 0, 0, 0]).is_err());
}

// ---- the core, driven by PDUs ----------------------------------------------

struct Rig {
    smsc: Smsc,
    net: Network,
    now: DateTime<FixedOffset>,
}

fn rig() -> Rig {
    let mut net = Network::new(Vec::new(), "+18095550000".into());
    net.set_smsc_codes(vec!["2222".into(), "2223".into()]);
    Rig {
        smsc: Smsc::new(SmscConfig::default(), SmscSettings::default()),
        net,
        now: now(),
    }
}

/// The commands of the `Send`s to `conn`, and whether it was closed.
fn sent(outs: &[Out], conn: ConnId) -> (Vec<Command>, bool) {
    let mut cmds = Vec::new();
    let mut closed = false;
    for o in outs {
        match o {
            Out::Send { conn: c, bytes, .. } if *c == conn => {
                cmds.push(wire::decode(bytes).expect("the SMSC writes PDUs"))
            }
            Out::Close { conn: c, .. } if *c == conn => closed = true,
            _ => {}
        }
    }
    (cmds, closed)
}

impl Rig {
    fn input(&mut self, conn: ConnId, cmd: Command) -> Vec<Command> {
        let outs = self
            .smsc
            .input(conn, &wire::encode(&cmd), &mut self.net, self.now);
        sent(&outs, conn).0
    }

    fn bind(&mut self, password: &str) -> (ConnId, Vec<Command>) {
        let conn = self.smsc.connect(self.now);
        let bind = BindTransceiver::builder()
            .system_id(COctetString::from_str("smsgate").unwrap())
            .password(COctetString::from_str(password).unwrap())
            .build();
        let got = self.input(conn, Command::new(CommandStatus::EsmeRok, 1, bind));
        (conn, got)
    }

    fn bound(&mut self) -> ConnId {
        let (conn, got) = self.bind("secret");
        assert_eq!(got[0].status(), CommandStatus::EsmeRok);
        conn
    }
}

fn submit(src: &str, dst: &str, dc: u8, esm: u8, sm: &[u8], rd: u8) -> SubmitSm {
    SubmitSm::builder()
        .source_addr_ton(Ton::National)
        .source_addr_npi(Npi::Isdn)
        .source_addr(COctetString::from_str(src).unwrap())
        .dest_addr_ton(Ton::International)
        .dest_addr_npi(Npi::Isdn)
        .destination_addr(COctetString::from_str(dst).unwrap())
        .esm_class(EsmClass::from(esm))
        .data_coding(DataCoding::from(dc))
        .registered_delivery(RegisteredDelivery::from(rd))
        .short_message(OctetString::from_slice(sm).unwrap())
        .build()
}

fn deliver_of(c: &Command) -> &DeliverSm {
    match c.pdu() {
        Some(Pdu::DeliverSm(d)) => d,
        other => panic!("not a deliver_sm: {other:?}"),
    }
}

fn message_id(c: &Command) -> String {
    match c.pdu() {
        Some(Pdu::SubmitSmResp(r)) => r.message_id().as_str().to_string(),
        other => panic!("not a submit_sm_resp: {other:?}"),
    }
}

#[test]
fn a_bind_with_a_wrong_password_or_system_id_is_refused() {
    // §4.1: ESME_RINVPASWD (0x0E), ESME_RINVSYSID (0x0F).
    let mut r = rig();
    let (_, got) = r.bind("wrong");
    assert_eq!(got[0].id(), CommandId::BindTransceiverResp);
    assert_eq!(got[0].status(), CommandStatus::EsmeRinvpaswd);
    let conn = r.smsc.connect(r.now);
    let bind = BindTransceiver::builder()
        .system_id(COctetString::from_str("other").unwrap())
        .password(COctetString::from_str("secret").unwrap())
        .build();
    let got = r.input(conn, Command::new(CommandStatus::EsmeRok, 1, bind.clone()));
    assert_eq!(got[0].status(), CommandStatus::EsmeRinvsysid);
    // Several binds of one system id are accepted; a second bind on one
    // connection is not (ESME_RALYBND).
    let a = r.bound();
    let _b = r.bound();
    let again = BindTransceiver::builder()
        .system_id(COctetString::from_str("smsgate").unwrap())
        .password(COctetString::from_str("secret").unwrap())
        .build();
    let got = r.input(a, Command::new(CommandStatus::EsmeRok, 2, again));
    assert_eq!(got[0].status(), CommandStatus::EsmeRalybnd);
    assert_eq!(r.smsc.status().binds.len(), 2);
}

#[test]
fn submit_before_bind_and_unknown_commands_are_answered_with_errors() {
    let mut r = rig();
    let conn = r.smsc.connect(r.now);
    // §2.3: submit_sm in the open state → ESME_RINVBNDSTS, no body (§4.4.2).
    let got = r.input(
        conn,
        Command::new(
            CommandStatus::EsmeRok,
            5,
            submit("2222", "18095551234", 0, 0, b"x", 0),
        ),
    );
    assert_eq!(got[0].id(), CommandId::SubmitSmResp);
    assert_eq!(got[0].status(), CommandStatus::EsmeRinvbndsts);
    assert!(got[0].pdu().is_none());
    // An unknown command id → generic_nack ESME_RINVCMDID (§4.3).
    let mut raw = wire::header_only(0x0000_0077, 0, 9);
    raw.extend([1, 2, 3]);
    raw[3] = raw.len() as u8;
    let outs = r.smsc.input(conn, &raw, &mut r.net, r.now);
    let (got, _) = sent(&outs, conn);
    assert_eq!(got[0].id(), CommandId::GenericNack);
    assert_eq!(got[0].status(), CommandStatus::EsmeRinvcmdid);
    assert_eq!(got[0].sequence_number(), 9);
    // enquire_link is answered in any state (§4.11).
    let got = r.input(
        conn,
        Command::new(CommandStatus::EsmeRok, 6, Pdu::EnquireLink),
    );
    assert_eq!(got[0].id(), CommandId::EnquireLinkResp);
    // Garbage that cannot be framed: generic_nack, then the connection goes.
    let outs = r
        .smsc
        .input(conn, b"\x00\x00\x00\x01garbage", &mut r.net, r.now);
    let (got, closed) = sent(&outs, conn);
    assert_eq!(got[0].status(), CommandStatus::EsmeRinvcmdlen);
    assert!(closed);
}

#[test]
fn a_submitted_text_lands_in_the_phone_inbox_with_a_receipt() {
    // §4.4 submit_sm, §5.2.17 registered_delivery, Appendix B receipt.
    let mut r = rig();
    let conn = r.bound();
    let got = r.input(
        conn,
        Command::new(
            CommandStatus::EsmeRok,
            2,
            submit("2222", "18095551234", 0, 0, b"Hola", 1),
        ),
    );
    assert_eq!(got[0].id(), CommandId::SubmitSmResp);
    assert_eq!(got[0].status(), CommandStatus::EsmeRok);
    let id = message_id(&got[0]);
    let inbox = r.net.inbox(PHONE);
    assert_eq!(inbox.len(), 1);
    assert_eq!(
        (inbox[0].from.as_str(), inbox[0].text.as_str()),
        ("2222", "Hola")
    );
    // The receipt follows the response, from the handset to the short code.
    assert_eq!(got.len(), 2, "{got:?}");
    let d = deliver_of(&got[1]);
    assert_eq!(u8::from(d.esm_class), 0x04);
    assert_eq!(d.source_addr.as_str(), "18095551234");
    assert_eq!(d.destination_addr.as_str(), "2222");
    let body = std::str::from_utf8(d.short_message()).unwrap();
    assert!(
        body.starts_with(&format!("id:{id} sub:001 dlvrd:001 submit date:")),
        "{body}"
    );
    assert!(body.contains("stat:DELIVRD err:000 text:Hola"), "{body}");
    let tlvs: Vec<_> = d.tlvs().iter().filter_map(|t| t.value().cloned()).collect();
    assert!(tlvs
        .iter()
        .any(|v| matches!(v, TlvValue::ReceiptedMessageId(m) if m.as_str() == id)));
    assert!(tlvs
        .iter()
        .any(|v| matches!(v, TlvValue::MessageState(s) if u8::from(*s) == 2)));
    // Answered, it is gone from the queue.
    let resp = Command::new(
        CommandStatus::EsmeRok,
        got[1].sequence_number(),
        rusmpp::pdus::DeliverSmResp::default(),
    );
    r.input(conn, resp);
    assert!(r.smsc.status().queued.is_empty());
}

#[test]
fn a_text_to_an_unknown_number_gets_an_undeliverable_receipt() {
    let mut r = rig();
    r.net.add_unknown_number("+18095550999");
    let conn = r.bound();
    let got = r.input(
        conn,
        Command::new(
            CommandStatus::EsmeRok,
            2,
            submit("2222", "18095550999", 0, 0, b"x", 1),
        ),
    );
    assert_eq!(got[0].status(), CommandStatus::EsmeRok);
    let d = deliver_of(&got[1]);
    let body = std::str::from_utf8(d.short_message()).unwrap();
    assert!(
        body.contains("dlvrd:000") && body.contains("stat:UNDELIV"),
        "{body}"
    );
    assert!(d
        .tlvs()
        .iter()
        .any(|t| matches!(t.value(), Some(TlvValue::MessageState(s)) if u8::from(*s) == 5)));
    // registered_delivery 2: a receipt on failure only.
    let got = r.input(
        conn,
        Command::new(
            CommandStatus::EsmeRok,
            3,
            submit("2222", "18095551234", 0, 0, b"y", 2),
        ),
    );
    assert_eq!(got.len(), 1, "no receipt for a delivered message: {got:?}");
}

#[test]
fn a_three_part_udh_text_and_a_sar_text_are_reassembled_in_the_inbox() {
    let mut r = rig();
    let conn = r.bound();
    for (seq, part) in ["one ", "two ", "three"].iter().enumerate() {
        let mut sm = vec![5, 0, 3, 0x33, 3, seq as u8 + 1];
        sm.extend(part.as_bytes());
        let got = r.input(
            conn,
            Command::new(
                CommandStatus::EsmeRok,
                10 + seq as u32,
                submit("2222", "18095551234", 0, 0x40, &sm, 0),
            ),
        );
        assert_eq!(got[0].status(), CommandStatus::EsmeRok);
    }
    // SAR (§5.3.2.22-24), UCS-2, parts out of order, from the other code.
    for (seq, part) in [(2u8, "ñandú"), (1, "¡hola ")] {
        let mut s = submit("2223", "18095551234", 8, 0, &text::text_to_ucs2(part), 0);
        s.push_tlv(MessageSubmissionRequestTlvValue::SarMsgRefNum(0x0102));
        s.push_tlv(MessageSubmissionRequestTlvValue::SarTotalSegments(2));
        s.push_tlv(MessageSubmissionRequestTlvValue::SarSegmentSeqnum(seq));
        let got = r.input(conn, Command::new(CommandStatus::EsmeRok, 20, s));
        assert_eq!(got[0].status(), CommandStatus::EsmeRok);
    }
    let inbox = r.net.inbox(PHONE);
    assert_eq!(inbox.len(), 2, "{inbox:?}");
    assert_eq!(inbox[0].text, "one two three");
    assert!(inbox[0].complete);
    assert_eq!(
        (inbox[1].from.as_str(), inbox[1].text.as_str()),
        ("2223", "¡hola ñandú")
    );
    // message_payload (§5.3.2.32): the whole text in one submit_sm.
    let mut s = submit("2222", "18095551234", 0, 0, b"", 0);
    s.push_tlv(MessageSubmissionRequestTlvValue::MessagePayload(
        MessagePayload::new(AnyOctetString::from_slice("z".repeat(300).as_bytes())),
    ));
    let got = r.input(conn, Command::new(CommandStatus::EsmeRok, 30, s));
    assert_eq!(got[0].status(), CommandStatus::EsmeRok);
    assert_eq!(r.net.inbox(PHONE)[2].text, "z".repeat(300));
}

#[test]
fn submits_the_smsc_refuses_are_answered_with_their_error() {
    let mut r = rig();
    let conn = r.bound();
    let status = |r: &mut Rig, s: SubmitSm| {
        r.input(conn, Command::new(CommandStatus::EsmeRok, 40, s))[0].status()
    };
    // Not one of the SMSC's short codes.
    let s = submit("9999", "18095551234", 0, 0, b"x", 0);
    assert_eq!(status(&mut r, s), CommandStatus::EsmeRinvsrcadr);
    let s = submit("2222", "not-a-number", 0, 0, b"x", 0);
    assert_eq!(status(&mut r, s), CommandStatus::EsmeRinvdstadr);
    let mut s = submit("2222", "18095551234", 0, 0, b"x", 0);
    s.validity_period = EmptyOrFullCOctetString::from_str("261199113000000+").unwrap();
    assert_eq!(status(&mut r, s), CommandStatus::EsmeRinvexpiry);
    // Throttling and a full queue, counted down (faults).
    r.smsc
        .inject(SmscFault::Throttle { count: 2 }, &mut r.net, r.now);
    r.smsc
        .inject(SmscFault::QueueFull { count: 1 }, &mut r.net, r.now);
    let ok = || submit("2222", "18095551234", 0, 0, b"x", 0);
    assert_eq!(status(&mut r, ok()), CommandStatus::EsmeRthrottled);
    assert_eq!(status(&mut r, ok()), CommandStatus::EsmeRthrottled);
    assert_eq!(status(&mut r, ok()), CommandStatus::EsmeRmsgqful);
    assert_eq!(status(&mut r, ok()), CommandStatus::EsmeRok);
    // An expired validity period: accepted, never delivered, EXPIRED.
    let mut s = submit("2222", "18095551234", 0, 0, b"late", 1);
    s.validity_period = EmptyOrFullCOctetString::from_str("261125130000000+").unwrap();
    let got = r.input(conn, Command::new(CommandStatus::EsmeRok, 41, s));
    assert_eq!(got[0].status(), CommandStatus::EsmeRok);
    let body = std::str::from_utf8(deliver_of(&got[1]).short_message()).unwrap();
    assert!(body.contains("stat:EXPIRED"), "{body}");
    assert!(r.net.inbox(PHONE).iter().all(|m| m.text != "late"));
}

#[test]
fn a_phones_text_reaches_the_bound_esme_round_robin_and_again_until_answered() {
    let mut r = rig();
    // Nobody bound: the text waits.
    let outs = r.smsc.mo(PHONE, "2222", "Hola", PartOrder::InOrder, r.now);
    assert!(outs.is_empty());
    let a = r.bound();
    // It went out at the bind (in the bind's output).
    let queued = r.smsc.status().queued;
    assert!(queued[0].in_flight, "{queued:?}");
    let b = r.bound();
    // Two more texts: one to each bind in turn.
    let outs = r.smsc.mo(PHONE, "2222", "dos", PartOrder::InOrder, r.now);
    let outs2 = r.smsc.mo(PHONE, "2222", "tres", PartOrder::InOrder, r.now);
    let to_a = sent(&outs, a).0.len() + sent(&outs2, a).0.len();
    let to_b = sent(&outs, b).0.len() + sent(&outs2, b).0.len();
    assert_eq!((to_a, to_b), (1, 1));
    let (cmds, _) = sent(&outs2, b);
    let cmds = if cmds.is_empty() {
        sent(&outs, b).0
    } else {
        cmds
    };
    let d = deliver_of(&cmds[0]);
    assert_eq!(d.source_addr.as_str(), "18095551234");
    assert_eq!(u8::from(d.source_addr_ton), 1);
    assert_eq!(d.destination_addr.as_str(), "2222");
    // Unanswered past the timeout: sent again.
    r.now += Duration::milliseconds(SmscSettings::default().deliver_timeout_ms as i64 + 1);
    let outs = r.smsc.tick(&mut r.net, r.now);
    let again = sent(&outs, a).0.len() + sent(&outs, b).0.len();
    assert_eq!(again, 3, "every unanswered deliver_sm goes again");
    // A dropped connection: its deliver_sm wait for the next bind.
    let outs = r.smsc.inject(SmscFault::Drop, &mut r.net, r.now);
    assert!(sent(&outs, a).1 && sent(&outs, b).1);
    assert!(
        outs.iter()
            .all(|o| matches!(o, Out::Close { at_once: true, .. })),
        "a dropped line does not wait for what a slow SMSC had to write"
    );
    assert_eq!(r.smsc.status().queued.len(), 3);
    assert!(r.smsc.status().queued.iter().all(|q| !q.in_flight));
    let conn = r.smsc.connect(r.now);
    let bind = BindTransceiver::builder()
        .system_id(COctetString::from_str("smsgate").unwrap())
        .password(COctetString::from_str("secret").unwrap())
        .build();
    let got = r.input(conn, Command::new(CommandStatus::EsmeRok, 1, bind));
    let delivers: Vec<_> = got
        .iter()
        .filter(|c| c.id() == CommandId::DeliverSm)
        .collect();
    assert_eq!(delivers.len(), 3);
    for d in delivers {
        let resp = Command::new(
            CommandStatus::EsmeRok,
            d.sequence_number(),
            rusmpp::pdus::DeliverSmResp::default(),
        );
        r.input(conn, resp);
    }
    assert!(r.smsc.status().queued.is_empty());
}

#[test]
fn a_long_phone_text_goes_as_udh_parts_or_sar_parts_in_the_order_asked() {
    let mut r = rig();
    let conn = r.bound();
    let long = "á".repeat(150);
    let outs = r.smsc.mo(PHONE, "2222", &long, PartOrder::Reversed, r.now);
    let (cmds, _) = sent(&outs, conn);
    assert_eq!(cmds.len(), 3);
    let first = deliver_of(&cmds[0]);
    assert_eq!(u8::from(first.esm_class), 0x40);
    assert_eq!(u8::from(first.data_coding), 8);
    assert_eq!(first.short_message()[5], 3, "reversed: part 3 first");
    r.smsc.set_settings(SmscSettings {
        mo_concat: MoConcat::Sar,
        ..SmscSettings::default()
    });
    let outs = r
        .smsc
        .mo(PHONE, "2222", &"a".repeat(200), PartOrder::InOrder, r.now);
    let (cmds, _) = sent(&outs, conn);
    // Window 10: 3 in flight before, 2 more now.
    assert_eq!(cmds.len(), 2);
    let d = deliver_of(&cmds[1]);
    assert_eq!(u8::from(d.esm_class), 0);
    assert!(d
        .tlvs()
        .iter()
        .any(|t| matches!(t.value(), Some(TlvValue::SarSegmentSeqnum(2)))));
}

#[test]
fn the_smsc_unbinds_and_enquires_on_its_own() {
    let mut r = rig();
    let conn = r.bound();
    // §4.11: the SMSC's own enquire_link once the interval has passed.
    r.now += Duration::milliseconds(SmscSettings::default().enquire_link_ms as i64);
    let (cmds, _) = sent(&r.smsc.tick(&mut r.net, r.now), conn);
    assert_eq!(cmds[0].id(), CommandId::EnquireLink);
    // §4.2: unbind from the SMSC's side; the ESME's unbind_resp closes.
    let (cmds, _) = sent(&r.smsc.inject(SmscFault::Unbind, &mut r.net, r.now), conn);
    assert_eq!(cmds[0].id(), CommandId::Unbind);
    let outs = r.smsc.input(
        conn,
        &wire::encode(&Command::new(
            CommandStatus::EsmeRok,
            cmds[0].sequence_number(),
            Pdu::UnbindResp,
        )),
        &mut r.net,
        r.now,
    );
    assert!(sent(&outs, conn).1);
    assert!(r.smsc.status().binds.is_empty());
}
