//! The emulated GSM network through its real pseudo-terminals, driven by a
//! real serial client (tokio-serial), as a gateway or gammu drives a USB
//! modem; and its control API over real HTTP on loopback.

mod common;

use std::time::Duration;

use common::{emulator, emulator_with, eventually_async, pdu_after, Client, ANSWER_WITHIN};
use smsgate::emulator::dce::Settings;
use smsgate::emulator::faults::Fault;
use smsgate::emulator::network::PartOrder;
use smsgate::emulator::EmulatorConfig;
use smsgate::sms::{self, Pdu, SubmitOptions};

const PHONE: &str = "+18095551234";

async fn ready(client: &mut Client) {
    client.cmd("ATE0").await;
    assert!(client.cmd("AT+CMEE=1").await.ends_with("OK\r\n"));
}

fn submit_pdus(to: &str, text: &str, report: bool) -> Vec<sms::EncodedPdu> {
    let opts = SubmitOptions {
        status_report: report,
        ..SubmitOptions::default()
    };
    sms::encode_submit(to, text, &opts, 42).unwrap()
}

async fn send_pdu(client: &mut Client, pdu: &sms::EncodedPdu) -> String {
    client
        .write(format!("AT+CMGS={}\r", pdu.tpdu_length).as_bytes())
        .await;
    client.read_until("> ").await;
    client.write(format!("{}\x1a", pdu.hex).as_bytes()).await;
    client.read_final().await
}

#[tokio::test]
async fn every_basic_command_answers_like_a_modem() {
    let emu = emulator(1).await;
    let m = &emu.modems()[0];
    let mut c = Client::open(&m.path);
    // Echo is on at start.
    assert_eq!(c.cmd("AT").await, "AT\r\r\nOK\r\n");
    ready(&mut c).await;
    for (cmd, expect) in [
        ("ATZ", "OK"),
        ("ATE0", "OK"),
        ("AT&F", "OK"),
        ("ATE0", "OK"),
        ("ATI", "IMEI: "),
        ("AT+CGMI", "smsgate"),
        ("AT+CGMM", "Emulated GSM modem"),
        ("AT+CGMR", "smsgate-emulator"),
        ("AT+CGSN", &m.imei),
        ("AT+CIMI", &m.imsi),
        ("AT+CCID", &format!("+CCID: {}", m.iccid)),
        ("AT+CRSM=176,12258,0,0,10", "+CRSM: 144,0,\"98"),
        ("AT+CPIN?", "+CPIN: READY"),
        ("AT+CSQ", "+CSQ: 20,99"),
        ("AT+CREG?", "+CREG: 0,1"),
        ("AT+CREG=2", "OK"),
        ("AT+CREG?", "+CREG: 2,1,"),
        ("AT+COPS?", "+COPS: 0,0,\"Claro DO\",0"),
        ("AT+CFUN?", "+CFUN: 1"),
        ("AT+CMEE?", "+CMEE: 0"),
        ("AT+CMGF=0", "OK"),
        ("AT+CMGF?", "+CMGF: 0"),
        ("AT+CSCS=\"GSM\"", "OK"),
        ("AT+CSCS?", "+CSCS: \"GSM\""),
        ("AT+CSCA?", "+CSCA: \"+18095550000\",145"),
        ("AT+CSMP=49,167,0,0", "OK"),
        ("AT+CSMP?", "+CSMP: 49,167,0,0"),
        ("AT+CPMS=\"ME\",\"ME\",\"ME\"", "+CPMS: 0,100,0,100,0,100"),
        ("AT+CPMS?", "+CPMS: \"ME\",0,100"),
        ("AT+CPMS=\"SM\",\"SM\",\"SM\"", "+CPMS: 0,30,0,30,0,30"),
        ("AT+CNMI=2,1,0,2,0", "OK"),
        ("AT+CNMI?", "+CNMI: 2,1,0,2,0"),
        ("AT+CMGL=4", "OK"),
        ("AT+CMGD=0", "OK"),
        ("AT+CSQ;+CREG?;+CGMI", "+CSQ: 20,99\r\n+CREG: 2,1"),
        ("AT+BOGUS", "ERROR"),
    ] {
        let answer = c.cmd(cmd).await;
        assert!(answer.contains(expect), "{cmd}: {answer:?}");
    }
    // AT+CMEE was reset by AT&F: errors are plain again.
    assert!(c.cmd("AT+CMGR=99").await.contains("ERROR"));
    emu.shutdown();
}

#[tokio::test]
async fn pdu_mode_send_reaches_the_phone_with_a_delivery_report() {
    let emu = emulator(1).await;
    let mut c = Client::open(&emu.modems()[0].path);
    ready(&mut c).await;
    c.cmd("AT+CNMI=2,1,0,1,0").await;
    let text = "¿Cómo estás? 👍 ".repeat(6);
    let pdus = submit_pdus(PHONE, &text, true);
    assert!(pdus.len() > 1);
    for p in &pdus {
        let answer = send_pdu(&mut c, p).await;
        assert!(answer.contains("+CMGS: "), "{answer:?}");
        // +CDS: the report arrives directly (ds = 1).
        c.read_until("+CDS: ").await;
        let report = c.read_until("\r\n").await;
        let pdu_line = c.read_until("\r\n").await;
        assert!(report.trim().parse::<usize>().is_ok(), "{report:?}");
        let (_, Pdu::StatusReport(r)) = sms::decode_hex(pdu_line.trim(), true).unwrap() else {
            panic!("not a report: {pdu_line:?}")
        };
        assert_eq!(r.classification(), sms::DeliveryStatus::Delivered);
    }
    let inbox = emu.inbox(PHONE);
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].text, text);
    assert!(inbox[0].complete);
    emu.shutdown();
}

#[tokio::test]
async fn text_mode_send_and_read() {
    let emu = emulator(1).await;
    let mut c = Client::open(&emu.modems()[0].path);
    ready(&mut c).await;
    c.cmd("AT+CMGF=1").await;
    c.write(b"AT+CMGS=\"+18095551234\"\r").await;
    c.read_until("> ").await;
    c.write(b"Hola desde texto\x1a").await;
    assert!(c.read_final().await.contains("+CMGS: 0"));
    assert_eq!(emu.inbox(PHONE)[0].text, "Hola desde texto");

    emu.phone_send(PHONE, "+18095550100", "respuesta", PartOrder::InOrder)
        .unwrap();
    let listed = c.cmd("AT+CMGL=\"ALL\"").await;
    assert!(
        listed.contains("+CMGL: 0,\"REC UNREAD\",\"+18095551234\",,\"")
            && listed.contains("\r\nrespuesta\r\n"),
        "{listed:?}"
    );
    emu.shutdown();
}

#[tokio::test]
async fn each_cnmi_mode_delivers_as_asked() {
    let emu = emulator(1).await;
    let short = emu.modems()[0].number.clone();
    let mut c = Client::open(&emu.modems()[0].path);
    ready(&mut c).await;

    // Mode 0: stored silently.
    c.cmd("AT+CNMI=0,0,0,0,0").await;
    emu.phone_send(PHONE, &short, "silencio", PartOrder::InOrder)
        .unwrap();
    eventually_async("stored", ANSWER_WITHIN, async || {
        (emu.storage(0).unwrap().0 == 1).then_some(())
    })
    .await;
    let listed = c.cmd("AT+CMGL=4").await;
    assert!(listed.starts_with("\r\n+CMGL: 0,0,,"), "{listed:?}");
    c.cmd("AT+CMGD=0,4").await;

    // +CMTI: stored and indicated.
    c.cmd("AT+CNMI=2,1,0,0,0").await;
    emu.phone_send(PHONE, &short, "indicado", PartOrder::InOrder)
        .unwrap();
    c.read_until("+CMTI: \"SM\",0\r\n").await;
    let read = c.cmd("AT+CMGR=0").await;
    let (_, Pdu::Deliver(d)) = sms::decode_hex(&pdu_after(&read, "+CMGR:"), true).unwrap() else {
        panic!()
    };
    assert_eq!(d.user_data.text.as_deref(), Some("indicado"));
    c.cmd("AT+CMGD=0").await;

    // +CMT: routed directly, nothing stored.
    c.cmd("AT+CNMI=2,2,0,0,0").await;
    emu.phone_send(PHONE, &short, "directo", PartOrder::InOrder)
        .unwrap();
    c.read_until("+CMT: ,").await;
    c.read_until("\r\n").await;
    let pdu = c.read_until("\r\n").await;
    let (_, Pdu::Deliver(d)) = sms::decode_hex(pdu.trim(), true).unwrap() else {
        panic!()
    };
    assert_eq!(d.user_data.text.as_deref(), Some("directo"));
    assert_eq!(emu.storage(0).unwrap().0, 0);

    // +CDSI: reports stored and indicated.
    c.cmd("AT+CNMI=2,1,0,2,0").await;
    send_pdu(&mut c, &submit_pdus(PHONE, "informe", true)[0]).await;
    c.read_until("+CDSI: \"SM\",0\r\n").await;
    let read = c.cmd("AT+CMGR=0").await;
    let (_, Pdu::StatusReport(_)) = sms::decode_hex(&pdu_after(&read, "+CMGR:"), true).unwrap()
    else {
        panic!("{read:?}")
    };
    emu.shutdown();
}

#[tokio::test]
async fn full_storage_holds_messages_until_space_is_freed() {
    let emu = emulator_with(EmulatorConfig {
        modems: 1,
        settings: Settings {
            sm_capacity: 2,
            ..Settings::default()
        },
        ..EmulatorConfig::default()
    })
    .await;
    let short = emu.modems()[0].number.clone();
    let mut c = Client::open(&emu.modems()[0].path);
    ready(&mut c).await;
    c.cmd("AT+CNMI=2,1,0,0,0").await;
    for i in 0..3 {
        emu.phone_send(PHONE, &short, &format!("sms {i}"), PartOrder::InOrder)
            .unwrap();
    }
    c.read_until("+CMTI: \"SM\",0").await;
    c.read_until("+CMTI: \"SM\",1").await;
    assert_eq!(
        emu.storage(0).unwrap(),
        (2, 2, 0, 100, 1),
        "the third waits in the network"
    );
    assert!(c.cmd("AT+CPMS?").await.contains("+CPMS: \"SM\",2,2"));
    c.cmd("AT+CMGD=0").await;
    c.read_until("+CMTI: \"SM\",0").await;
    assert_eq!(emu.storage(0).unwrap().4, 0);
    emu.shutdown();
}

#[tokio::test]
async fn faults_no_answer_garbage_cms_error_sim_busy_and_deregistration() {
    let emu = emulator(1).await;
    let mut c = Client::open(&emu.modems()[0].path);
    ready(&mut c).await;
    c.cmd("AT+CREG=1").await;

    emu.inject_fault(0, Fault::NoAnswer).unwrap();
    c.write(b"AT\r").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    emu.clear_faults(0).unwrap();
    assert_eq!(
        c.cmd("AT").await,
        "\r\nOK\r\n",
        "nothing was answered while mute"
    );

    emu.inject_fault(
        0,
        Fault::Garbage {
            bytes: 8,
            count: Some(1),
        },
    )
    .unwrap();
    let answer = c.cmd("AT").await;
    assert!(
        answer.len() > "\r\nOK\r\n".len() && answer.ends_with("\r\nOK\r\n"),
        "{answer:?}"
    );
    assert_eq!(c.cmd("AT").await, "\r\nOK\r\n");

    let pdu = &submit_pdus(PHONE, "hola", false)[0];
    emu.inject_fault(
        0,
        Fault::CmsError {
            code: 500,
            count: Some(1),
        },
    )
    .unwrap();
    assert!(send_pdu(&mut c, pdu).await.contains("+CMS ERROR: 500"));
    assert!(send_pdu(&mut c, pdu).await.contains("+CMGS: "));

    emu.inject_fault(0, Fault::SimBusy).unwrap();
    assert!(c.cmd("AT+CPIN?").await.contains("+CME ERROR: 14"));
    emu.clear_faults(0).unwrap();

    emu.inject_fault(0, Fault::Deregister).unwrap();
    c.read_until("+CREG: 2\r\n").await;
    assert!(send_pdu(&mut c, pdu).await.contains("+CMS ERROR: 331"));
    emu.phone_send(PHONE, &emu.modems()[0].number, "espera", PartOrder::InOrder)
        .unwrap();
    c.cmd("AT+CNMI=2,1,0,0,0").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(emu.storage(0).unwrap().4, 1, "held while off the network");
    emu.clear_faults(0).unwrap();
    c.read_until("+CREG: 1\r\n").await;
    c.read_until("+CMTI: \"SM\",0").await;
    emu.shutdown();
}

#[tokio::test]
async fn faults_urc_noise_urc_in_prompt_reboot() {
    let emu = emulator(1).await;
    let mut c = Client::open(&emu.modems()[0].path);
    ready(&mut c).await;

    emu.inject_fault(0, Fault::UrcNoise { interval_ms: 50 })
        .unwrap();
    c.read_until("^RSSI:").await;
    c.read_until("^MODE:").await;
    c.read_until("^DSFLOWRPT:").await;
    emu.clear_faults(0).unwrap();

    emu.inject_fault(0, Fault::UrcInPrompt).unwrap();
    let pdu = &submit_pdus(PHONE, "hola", false)[0];
    c.write(format!("AT+CMGS={}\r", pdu.tpdu_length).as_bytes())
        .await;
    let prompt = c.read_until("+CREG: 1\r\n").await;
    assert!(prompt.contains("> "), "{prompt:?}");
    c.write(format!("{}\x1a", pdu.hex).as_bytes()).await;
    assert!(c.read_final().await.contains("+CMGS:"));
    emu.clear_faults(0).unwrap();

    emu.inject_fault(0, Fault::Reboot).unwrap();
    // The generic model restarts with the 3GPP/SIMCom banner (RDY first).
    c.read_until("RDY").await;
    c.read_until("+CPIN: READY").await;
    // Echo came back with the reset.
    assert!(c.cmd("AT").await.ends_with("AT\r\r\nOK\r\n"));
    emu.shutdown();
}

#[tokio::test]
async fn unplug_removes_the_port_and_brings_it_back_at_the_same_link() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator_with(EmulatorConfig {
        modems: 2,
        link_dir: Some(dir.path().to_path_buf()),
        ..EmulatorConfig::default()
    })
    .await;
    let link = emu.modems()[0].link.clone().unwrap();
    assert_eq!(link, dir.path().join("modem0"));
    assert_eq!(std::fs::read_link(&link).unwrap(), emu.modems()[0].path);
    {
        let mut c = Client::open(&link);
        ready(&mut c).await;
    }
    emu.inject_fault(0, Fault::Unplug { duration_ms: 300 })
        .unwrap();
    eventually_async("unplugged", ANSWER_WITHIN, async || {
        (!emu.modems()[0].plugged).then_some(())
    })
    .await;
    assert!(!link.exists(), "the link disappears with the device");
    eventually_async("replugged", ANSWER_WITHIN, async || {
        emu.modems()[0].plugged.then_some(())
    })
    .await;
    // A new pseudo-terminal (the kernel may give it the old number, as it
    // gives a replugged stick ttyUSB0 again) behind the same link.
    let after = std::fs::read_link(&link).unwrap();
    assert_eq!(after, emu.modems()[0].path);
    let mut c = Client::open(&link);
    // The replugged modem booted: its boot lines wait in the port, then echo
    // is on again as after any reset.
    let answer = c.cmd("AT").await;
    assert!(
        answer.contains("RDY") && answer.ends_with("AT\r\r\nOK\r\n"),
        "{answer:?}"
    );
    // The other modem never noticed.
    let mut other = Client::open(&emu.modems()[1].path);
    assert_eq!(other.cmd("AT").await, "AT\r\r\nOK\r\n");
    emu.shutdown();
    assert!(!link.exists(), "links are removed at shutdown");
}

#[tokio::test]
async fn latency_and_pacing_knobs_apply() {
    let emu = emulator(1).await;
    emu.set_settings(
        0,
        Settings {
            latency_ms: 20,
            cmgs_latency_ms: 50,
            baud: 115_200,
            ..Settings::default()
        },
    )
    .unwrap();
    let mut c = Client::open(&emu.modems()[0].path);
    ready(&mut c).await;
    let pdu = &submit_pdus(PHONE, "lento", false)[0];
    assert!(send_pdu(&mut c, pdu).await.contains("+CMGS:"));
    assert_eq!(emu.settings(0).unwrap().cmgs_latency_ms, 50);
    emu.shutdown();
}

#[tokio::test]
async fn two_modems_talk_to_each_other() {
    let emu = emulator(2).await;
    let mut a = Client::open(&emu.modems()[0].path);
    let mut b = Client::open(&emu.modems()[1].path);
    ready(&mut a).await;
    ready(&mut b).await;
    b.cmd("AT+CNMI=2,1,0,0,0").await;
    send_pdu(
        &mut a,
        &submit_pdus(&emu.modems()[1].number, "entre módems", false)[0],
    )
    .await;
    b.read_until("+CMTI: \"SM\",0").await;
    let read = b.cmd("AT+CMGR=0").await;
    let (_, Pdu::Deliver(d)) = sms::decode_hex(&pdu_after(&read, "+CMGR:"), true).unwrap() else {
        panic!()
    };
    assert_eq!(d.originator.to_string(), emu.modems()[0].number);
    assert_eq!(d.user_data.text.as_deref(), Some("entre módems"));
    emu.shutdown();
}

#[tokio::test]
async fn fleet_numbers_are_refused_by_the_network() {
    let emu = emulator_with(EmulatorConfig {
        modems: 1,
        fleet_prefixes: vec!["+1809200".into()],
        ..EmulatorConfig::default()
    })
    .await;
    let err = emu
        .phone_send(
            "+18092001234",
            &emu.modems()[0].number,
            "hola",
            PartOrder::InOrder,
        )
        .unwrap_err();
    assert!(err.to_string().contains("fleet"), "{err}");
    emu.shutdown();
}

fn http_get(url: &str) -> serde_json::Value {
    ureq::get(url).call().unwrap().into_json().unwrap()
}

#[tokio::test]
async fn control_api_plays_the_phone_and_injects_faults() {
    let emu = emulator(1).await;
    let addr = emu
        .serve_control("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = format!("http://{addr}");
    let short = emu.modems()[0].number.clone();
    let mut c = Client::open(&emu.modems()[0].path);
    ready(&mut c).await;
    c.cmd("AT+CNMI=2,1,0,0,0").await;

    let b = base.clone();
    let s = short.clone();
    let (modems, sent, refused, fault, inbox_empty) = tokio::task::spawn_blocking(move || {
        let modems = http_get(&format!("{b}/modems"));
        let sent = ureq::post(&format!("{b}/phones/{PHONE}/send"))
            .send_json(serde_json::json!({"to": s, "text": "x".repeat(200), "order": "reversed"}))
            .unwrap()
            .status();
        let refused = match ureq::post(&format!("{b}/phones/{PHONE}/send"))
            .send_json(serde_json::json!({"to": "+19999999999", "text": "hola"}))
        {
            Err(ureq::Error::Status(code, _)) => code,
            other => panic!("{other:?}"),
        };
        let fault = ureq::post(&format!("{b}/modems/0/faults"))
            .send_json(serde_json::json!({"kind": "garbage", "bytes": 4, "count": 1}))
            .unwrap()
            .status();
        let inbox_empty = http_get(&format!("{b}/phones/{PHONE}/inbox"));
        (modems, sent, refused, fault, inbox_empty)
    })
    .await
    .unwrap();
    assert_eq!(modems[0]["number"], short.as_str());
    assert!(modems[0]["path"].as_str().unwrap().starts_with("/dev/pts/"));
    assert_eq!(sent, 202);
    assert_eq!(refused, 422);
    assert_eq!(fault, 204);
    assert_eq!(inbox_empty, serde_json::json!([]));
    c.read_until("+CMTI: \"SM\",0").await;
    c.read_until("+CMTI: \"SM\",1").await;

    // A modem send shows in the phone's inbox, decoded.
    ready(&mut c).await;
    send_pdu(&mut c, &submit_pdus(PHONE, "¡Hola! ¿Qué tal?", false)[0]).await;
    let b = base.clone();
    let (inbox, transcript, faults_left) = tokio::task::spawn_blocking(move || {
        (
            http_get(&format!("{b}/phones/{PHONE}/inbox")),
            http_get(&format!("{b}/modems/0/transcript")),
            http_get(&format!("{b}/modems/0/faults")),
        )
    })
    .await
    .unwrap();
    assert_eq!(inbox[0]["text"], "¡Hola! ¿Qué tal?");
    assert_eq!(inbox[0]["from"], short.as_str());
    let t = transcript.as_array().unwrap();
    assert!(t
        .iter()
        .any(|e| e["dir"] == "to_modem" && e["data"].as_str().unwrap().contains("AT+CMGS=")));
    assert!(t
        .iter()
        .any(|e| e["dir"] == "from_modem" && e["data"].as_str().unwrap().contains("+CMTI:")));
    assert_eq!(
        faults_left,
        serde_json::json!([]),
        "the garbage fault was used up"
    );
    emu.shutdown();
}

/// The USSD control API: a script with a menu, a fault, bad scripts
/// refused with a reason, the request log, and DELETE back to defaults.
#[tokio::test]
async fn control_api_scripts_ussd_and_logs_requests() {
    let emu = emulator(1).await;
    let addr = emu
        .serve_control("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = format!("http://{addr}/modems/0/ussd");
    let mut c = Client::open(&emu.modems()[0].path);
    ready(&mut c).await;

    let b = base.clone();
    let statuses = tokio::task::spawn_blocking(move || {
        let put = |body: serde_json::Value| match ureq::put(&b).send_json(body) {
            Ok(r) => (r.status(), String::new()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap()),
            Err(e) => panic!("{e}"),
        };
        vec![
            put(serde_json::json!({"code": "*555#", "reply": "Hola",
                "menu": {"1": {"reply": "Uno"}, "2": {"reply": "Дос", "dcs": "ucs2"}}})),
            put(serde_json::json!({"code": "*556#", "fault": "network_timeout"})),
            put(serde_json::json!({"code": "555", "reply": "x"})),
            put(serde_json::json!({"code": "*1#", "reply": "Баланс"})),
            put(serde_json::json!({"code": "*1#", "reply": "x", "fault": "explode"})),
        ]
    })
    .await
    .unwrap();
    assert_eq!(statuses[0].0, 204);
    assert_eq!(statuses[1].0, 204);
    assert_eq!(statuses[2].0, 422);
    assert!(statuses[2].1.contains("USSD code"), "{:?}", statuses[2]);
    assert_eq!(statuses[3].0, 422);
    assert!(statuses[3].1.contains("ucs2"), "{:?}", statuses[3]);
    assert!(matches!(statuses[4].0, 400 | 422), "{:?}", statuses[4]);

    assert!(c.cmd("AT+CUSD=1,\"*555#\",15").await.ends_with("OK\r\n"));
    c.read_until("+CUSD: 1,\"Hola\",15\r\n").await;
    assert!(c.cmd("AT+CUSD=1,\"2\",15").await.ends_with("OK\r\n"));
    c.read_until("+CUSD: 0,\"0414043E0441\",72\r\n").await;
    assert!(c.cmd("AT+CUSD=1,\"*556#\",15").await.ends_with("OK\r\n"));
    c.read_until("+CUSD: 5\r\n").await;

    let b = base.clone();
    let (state, deleted, after) = tokio::task::spawn_blocking(move || {
        let state = http_get(&b);
        let deleted = ureq::delete(&b).call().unwrap().status();
        (state, deleted, http_get(&b))
    })
    .await
    .unwrap();
    let codes: Vec<&str> = state["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["*555#", "2", "*556#"]);
    assert_eq!(state["requests"][1]["session"], "*555#");
    for r in state["requests"].as_array().unwrap() {
        chrono::DateTime::parse_from_rfc3339(r["at"].as_str().unwrap()).unwrap();
    }
    let scripts = state["scripts"].as_array().unwrap();
    assert!(scripts
        .iter()
        .any(|s| s["code"] == "*556#" && s["fault"] == "network_timeout"));
    assert!(scripts.iter().any(|s| s["code"] == "*123#"));
    assert_eq!(deleted, 204);
    assert_eq!(after["requests"], serde_json::json!([]));
    let codes: Vec<&str> = after["scripts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["*123#", "*100#", "*124#"]);
    // The scripted code is gone: the network does not know it.
    assert!(c.cmd("AT+CUSD=1,\"*555#\",15").await.ends_with("OK\r\n"));
    c.read_until("+CUSD: 4\r\n").await;
    emu.shutdown();
}

#[test]
fn emulator_command_prints_json_and_serves_the_control_api() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .args([
            "emulator",
            "--modems",
            "2",
            "--control",
            "127.0.0.1:0",
            "--json",
            "--pin",
            "1234",
            "--cmgs-latency-ms",
            "5",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Whatever happens below, the emulator does not outlive the test.
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = child.stdout.take().unwrap();
    let pid = child.id();
    let mut guard = KillOnDrop(child);
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let modems = v["modems"].as_array().unwrap();
    assert_eq!(modems.len(), 2);
    assert_eq!(modems[0]["number"], "+18095550100");
    assert!(std::path::Path::new(modems[1]["path"].as_str().unwrap()).exists());
    let control = v["control"].as_str().unwrap();
    let listed = http_get(&format!("{control}/modems"));
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let modem = http_get(&format!("{control}/modems/1"));
    assert_eq!(modem["settings"]["pin"], "1234", "{modem}");
    assert_eq!(modem["settings"]["cmgs_latency_ms"], 5);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(guard.0.wait().unwrap().success(), "SIGTERM ends it cleanly");
}

#[test]
fn emulator_command_refuses_a_non_loopback_control_address() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .args(["emulator", "--control", "0.0.0.0:8081"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}

#[tokio::test]
async fn delivery_report_fails_for_an_unknown_number() {
    let emu = emulator(1).await;
    let addr = emu
        .serve_control("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let status = tokio::task::spawn_blocking(move || {
        ureq::post(&format!("http://{addr}/unknown-numbers"))
            .send_json(serde_json::json!({"number": "+18090000000"}))
            .unwrap()
            .status()
    })
    .await
    .unwrap();
    assert_eq!(status, 204);
    let mut c = Client::open(&emu.modems()[0].path);
    ready(&mut c).await;
    c.cmd("AT+CNMI=2,1,0,1,0").await;
    send_pdu(
        &mut c,
        &submit_pdus("+18090000000", "¿hay alguien?", true)[0],
    )
    .await;
    c.read_until("+CDS: ").await;
    c.read_until("\r\n").await;
    let pdu = c.read_until("\r\n").await;
    let (_, Pdu::StatusReport(r)) = sms::decode_hex(pdu.trim(), true).unwrap() else {
        panic!("{pdu:?}")
    };
    assert_eq!(r.classification(), sms::DeliveryStatus::FailedPermanent);
    assert!(emu.inbox("+18090000000").is_empty());
    emu.shutdown();
}
