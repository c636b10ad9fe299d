//! The emulated SMSC through its real TCP listener: `smsgate emulator
//! --smsc 127.0.0.1:0 --modems 0` as a child process, a bare ESME on
//! rusmpp's codec (tests/common/esme.rs), the phones through the control
//! API. Issue #20, part 3: what an ESME submits lands in a phone's inbox
//! from the short code; a phone's text to the short code arrives as
//! deliver_sm; receipts, faults, and deliver_sm at least once.

mod common;

use common::emulator_proc::EmulatorProc;
use common::esme::{submit, Esme};
use common::{eventually_async, ANSWER_WITHIN};
use rusmpp::pdus::SubmitSm;
use rusmpp::tlvs::TlvValue;
use rusmpp::values::RegisteredDelivery;
use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use serde_json::{json, Value};

const PHONE: &str = "+18095551234";

fn start() -> (tempfile::TempDir, EmulatorProc) {
    let dir = tempfile::tempdir().unwrap();
    let emu = EmulatorProc::start_smsc(dir.path(), &[]);
    assert_eq!(emu.smsc_codes, vec!["2222", "2223"]);
    assert!(emu.codes.is_empty(), "--modems 0");
    (dir, emu)
}

fn get(url: &str) -> Value {
    ureq::get(url).call().unwrap().into_json().unwrap()
}

fn post(url: &str, body: Value) -> u16 {
    match ureq::post(url).send_json(body) {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(e) => panic!("POST {url}: {e}"),
    }
}

fn inbox(emu: &EmulatorProc, number: &str) -> Vec<Value> {
    let v = get(&format!("{}/phones/{number}/inbox", emu.control));
    v.as_array().unwrap().clone()
}

async fn inbox_has(emu: &EmulatorProc, from: &str, text: &str) {
    eventually_async(
        &format!("{text:?} from {from} in the inbox"),
        ANSWER_WITHIN,
        async || {
            inbox(emu, PHONE)
                .iter()
                .any(|m| m["from"] == from && m["text"] == text && m["complete"] == true)
                .then_some(())
        },
    )
    .await;
}

fn ucs2(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

fn deliver_text(c: &Command) -> (String, u8, u8, Vec<u8>) {
    let Some(Pdu::DeliverSm(d)) = c.pdu() else {
        panic!("not a deliver_sm: {c:?}")
    };
    (
        d.source_addr.as_str().to_string(),
        u8::from(d.esm_class),
        u8::from(d.data_coding),
        d.short_message().to_vec(),
    )
}

#[tokio::test]
async fn submitted_texts_reach_the_phone_from_the_short_code_with_a_receipt() {
    let (_dir, emu) = start();
    let addr = emu.smsc.clone().unwrap();
    let mut esme = Esme::bound(&addr).await;
    let mut others = Vec::new();

    // GSM 7-bit unpacked (data_coding 0), with a receipt asked for.
    let mut s = submit("2222", "18095551234", 0, 0, b"Hola desde 2222");
    s.registered_delivery = RegisteredDelivery::from(1);
    let resp = esme.request(s, &mut others).await;
    assert_eq!(resp.status(), CommandStatus::EsmeRok);
    let Some(Pdu::SubmitSmResp(r)) = resp.pdu() else {
        panic!("{resp:?}")
    };
    let id = r.message_id().as_str().to_string();
    assert!(!id.is_empty());
    inbox_has(&emu, "2222", "Hola desde 2222").await;

    // The receipt: esm_class 0x04, Appendix B text, and the TLVs.
    let receipt = match others.pop() {
        Some(c) => c,
        None => esme.next_deliver().await,
    };
    let (from, esm, _, sm) = deliver_text(&receipt);
    assert_eq!((from.as_str(), esm), ("18095551234", 0x04));
    let body = String::from_utf8(sm).unwrap();
    assert!(
        body.starts_with(&format!("id:{id} sub:001 dlvrd:001 ")),
        "{body}"
    );
    assert!(
        body.contains(" stat:DELIVRD err:000 text:Hola desde 2222"),
        "{body}"
    );
    let Some(Pdu::DeliverSm(d)) = receipt.pdu() else {
        unreachable!()
    };
    let tlvs: Vec<TlvValue> = d.tlvs().iter().filter_map(|t| t.value().cloned()).collect();
    assert!(tlvs
        .iter()
        .any(|t| matches!(t, TlvValue::ReceiptedMessageId(m) if m.as_str() == id)));
    assert!(tlvs
        .iter()
        .any(|t| matches!(t, TlvValue::MessageState(s) if u8::from(*s) == 2)));
    esme.ack(&receipt).await;

    // UCS-2 (data_coding 8) from the other short code.
    let s = submit("2223", "18095551234", 8, 0, &ucs2("¿Cómo estás? 😀"));
    assert_eq!(
        esme.request(s, &mut others).await.status(),
        CommandStatus::EsmeRok
    );
    inbox_has(&emu, "2223", "¿Cómo estás? 😀").await;

    // Three parts with a concatenation header (esm_class 0x40).
    let parts = ["Primera parte, ", "segunda parte, ", "tercera."];
    for (i, p) in parts.iter().enumerate() {
        let mut sm = vec![5, 0, 3, 0x7A, 3, i as u8 + 1];
        sm.extend(p.as_bytes());
        let s = submit("2222", "18095551234", 0, 0x40, &sm);
        assert_eq!(
            esme.request(s, &mut others).await.status(),
            CommandStatus::EsmeRok
        );
    }
    inbox_has(&emu, "2222", &parts.concat()).await;

    // What the SMSC saw, for clients that check their own PDUs.
    let submits = get(&format!("{}/smsc/submits", emu.control));
    let submits = submits.as_array().unwrap();
    assert_eq!(submits.len(), 5);
    assert_eq!(submits[1]["data_coding"], 8);
    assert_eq!(submits[2]["concat"], json!([0x7A, 3, 1]));
    // The records show the SMSC's traffic beside the network's.
    let records = get(&format!("{}/records", emu.control));
    assert!(records
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["what"] == "smpp submit delivered to phone" && r["from"] == "2222"));
}

#[tokio::test]
async fn a_phones_text_to_the_short_code_arrives_as_deliver_sm() {
    let (_dir, emu) = start();
    let mut esme = Esme::bound(emu.smsc.as_ref().unwrap()).await;
    let code = post(
        &format!("{}/phones/{PHONE}/send", emu.control),
        json!({"to": "2222", "text": "Hola, quiero info"}),
    );
    assert_eq!(code, 202);
    let d = esme.next_deliver().await;
    let (from, esm, dc, sm) = deliver_text(&d);
    assert_eq!((from.as_str(), esm, dc), ("18095551234", 0, 0));
    assert_eq!(sm, b"Hola, quiero info");
    let Some(Pdu::DeliverSm(pdu)) = d.pdu() else {
        unreachable!()
    };
    assert_eq!(pdu.destination_addr.as_str(), "2222");
    assert_eq!(u8::from(pdu.source_addr_ton), 1);
    esme.ack(&d).await;

    // A long UCS-2 text: parts with headers, data_coding 8.
    let long = "ñandú ".repeat(30) + "¡fin! 😀";
    post(
        &format!("{}/phones/{PHONE}/send", emu.control),
        json!({"to": "2222", "text": long}),
    );
    let mut text = Vec::new();
    for seq in 1..=3u8 {
        let d = esme.next_deliver().await;
        let (_, esm, dc, sm) = deliver_text(&d);
        assert_eq!((esm, dc), (0x40, 8));
        assert_eq!(&sm[..6], &[5, 0, 3, sm[3], 3, seq]);
        text.extend_from_slice(&sm[6..]);
        esme.ack(&d).await;
    }
    let units: Vec<u16> = text
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    assert_eq!(String::from_utf16(&units).unwrap(), long);

    // A number the SMSC has no short code for is refused as before.
    let code = post(
        &format!("{}/phones/{PHONE}/send", emu.control),
        json!({"to": "3333", "text": "x"}),
    );
    assert_eq!(code, 422);
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_faults_are_seen_by_the_esme() {
    let (_dir, emu) = start();
    let addr = emu.smsc.clone().unwrap();
    let mut bad = Esme::connect(&addr).await;
    let resp = bad.bind("smsgate", "nope").await;
    assert_eq!(resp.status(), CommandStatus::EsmeRinvpaswd);

    let mut esme = Esme::bound(&addr).await;
    let mut others = Vec::new();
    let faults = format!("{}/smsc/faults", emu.control);
    // Throttling: the next two submit_sm get ESME_RTHROTTLED, no body.
    assert_eq!(post(&faults, json!({"kind": "throttle", "count": 2})), 204);
    for _ in 0..2 {
        let s = submit("2222", "18095551234", 0, 0, b"x");
        let resp = esme.request(s, &mut others).await;
        assert_eq!(resp.status(), CommandStatus::EsmeRthrottled);
        assert!(resp.pdu().is_none());
    }
    assert_eq!(post(&faults, json!({"kind": "queue_full"})), 204);
    let s: SubmitSm = submit("2222", "18095551234", 0, 0, b"x");
    let resp = esme.request(s.clone(), &mut others).await;
    assert_eq!(resp.status(), CommandStatus::EsmeRmsgqful);
    assert_eq!(
        esme.request(s.clone(), &mut others).await.status(),
        CommandStatus::EsmeRok
    );

    // A slow SMSC: every answer 300 ms late.
    assert_eq!(post(&faults, json!({"kind": "slow", "delay_ms": 300})), 204);
    let t = std::time::Instant::now();
    esme.request(s.clone(), &mut others).await;
    assert!(t.elapsed() >= std::time::Duration::from_millis(300));
    ureq::delete(&faults).call().unwrap();

    // Unbind from the SMSC's side: the ESME answers and is closed.
    assert_eq!(post(&faults, json!({"kind": "unbind"})), 204);
    let c = esme.read().await.unwrap();
    assert_eq!(c.id(), CommandId::Unbind);
    esme.send(Command::new(
        CommandStatus::EsmeRok,
        c.sequence_number(),
        Pdu::UnbindResp,
    ))
    .await;
    assert!(esme.read().await.is_none(), "closed after unbind_resp");

    // A dropped connection: closed without unbind.
    let mut esme = Esme::bound(&addr).await;
    assert_eq!(post(&faults, json!({"kind": "drop"})), 204);
    assert!(esme.read().await.is_none(), "dropped without a PDU");
    let status = get(&format!("{}/smsc", emu.control));
    assert_eq!(status["binds"], json!([]));
}

#[tokio::test]
async fn an_unanswered_deliver_sm_is_sent_again_after_reconnect() {
    let (_dir, emu) = start();
    let addr = emu.smsc.clone().unwrap();
    // Nobody bound: the phone's text waits in the SMSC.
    post(
        &format!("{}/phones/{PHONE}/send", emu.control),
        json!({"to": "2223", "text": "¿Qué tal?"}),
    );
    let mut esme = Esme::bound(&addr).await;
    let first = esme.next_deliver().await;
    // Not answered: the connection goes.
    drop(esme);
    let mut esme = Esme::bound(&addr).await;
    let again = esme.next_deliver().await;
    assert_eq!(deliver_text(&again), deliver_text(&first));
    let (_, _, dc, sm) = deliver_text(&again);
    // GSM 7-bit unpacked: ¿ is septet 0x60, é is 0x05.
    assert_eq!((dc, sm.as_slice()), (0, &b"`Qu\x05 tal?"[..]));
    esme.ack(&again).await;
    eventually_async("the queue empty", ANSWER_WITHIN, async || {
        get(&format!("{}/smsc", emu.control))["queued"]
            .as_array()
            .unwrap()
            .is_empty()
            .then_some(())
    })
    .await;
}

#[test]
fn modems_0_needs_the_smsc_and_the_smsc_serves_loopback_only() {
    for args in [
        vec!["emulator", "--modems", "0"],
        vec!["emulator", "--smsc", "0.0.0.0:0", "--modems", "0"],
        vec![
            "emulator",
            "--smsc",
            "127.0.0.1:0",
            "--smsc-short-codes",
            "22a",
        ],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_smsgate"))
            .args(&args)
            .args(["--control", "127.0.0.1:0"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

/// The SMSC in-process, as a Rust test of an SMPP client starts it.
#[tokio::test]
async fn the_smsc_runs_in_process_beside_modems() {
    use smsgate::emulator::network::PartOrder;
    use smsgate::emulator::smsc::{SmscConfig, SmscOptions, SmscSettings};
    use smsgate::emulator::{Emulator, EmulatorConfig};

    let emu = Emulator::start(EmulatorConfig {
        modems: 1,
        smpp: Some(SmscOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            config: SmscConfig::default(),
            settings: SmscSettings::default(),
        }),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let info = emu.smsc_info().unwrap();
    let mut esme = Esme::bound(&info.address.to_string()).await;
    // Both kinds of short code on one network: the modem's number and 2222.
    let modem = emu.modems()[0].number.clone();
    assert_eq!(
        emu.phone_send(PHONE, "2222", "al SMSC", PartOrder::InOrder)
            .unwrap(),
        1
    );
    let d = esme.next_deliver().await;
    assert_eq!(deliver_text(&d).3, b"al SMSC");
    esme.ack(&d).await;
    assert!(
        emu.phone_send(PHONE, &modem, "al modem", PartOrder::InOrder)
            .unwrap()
            == 1
    );
    let s = submit("2222", "18095551234", 0, 0, b"del SMSC");
    assert_eq!(
        esme.request(s, &mut Vec::new()).await.status(),
        CommandStatus::EsmeRok
    );
    assert!(emu
        .inbox(PHONE)
        .iter()
        .any(|m| m.from == "2222" && m.text == "del SMSC"));
    emu.shutdown();
}
