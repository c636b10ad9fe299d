//! The DCE fed byte by byte, as a serial client would, with the answers
//! real modems give (3GPP TS 27.005 / 27.007, V.250).

use super::storage::Kind;
use super::*;
use crate::emulator::faults::Fault;

fn dce() -> Dce {
    Dce::new(
        Identity {
            manufacturer: "smsgate".into(),
            model: "Emulated GSM modem".into(),
            revision: "1".into(),
            imei: "356938035643809".into(),
            imsi: "370020000001000".into(),
            iccid: "8918020000000001000".into(),
            number: "+18095550100".into(),
            smsc: "+18095550000".into(),
            operator: "Claro DO".into(),
        },
        Settings::default(),
    )
}

/// Feeds `input` one byte at a time; returns everything written and the effects.
fn feed(d: &mut Dce, input: &str) -> (String, Vec<Effect>) {
    let mut out = Vec::new();
    let mut effects = Vec::new();
    for b in input.bytes() {
        let step = d.input(&[b]);
        for c in step.out {
            out.extend(c.bytes);
        }
        effects.extend(step.effects);
    }
    (String::from_utf8_lossy(&out).into_owned(), effects)
}

fn quiet(d: &mut Dce) {
    feed(d, "ATE0\r");
}

#[test]
fn echo_is_on_by_default_and_ate0_turns_it_off() {
    let mut d = dce();
    assert_eq!(feed(&mut d, "AT\r").0, "AT\r\r\nOK\r\n");
    assert_eq!(feed(&mut d, "ATE0\r").0, "ATE0\r\r\nOK\r\n");
    assert_eq!(feed(&mut d, "AT\r").0, "\r\nOK\r\n");
}

#[test]
fn identification_commands() {
    let mut d = dce();
    quiet(&mut d);
    assert_eq!(feed(&mut d, "AT+CGMI\r").0, "\r\nsmsgate\r\n\r\nOK\r\n");
    assert_eq!(
        feed(&mut d, "AT+CGSN\r").0,
        "\r\n356938035643809\r\n\r\nOK\r\n"
    );
    assert_eq!(
        feed(&mut d, "AT+CIMI\r").0,
        "\r\n370020000001000\r\n\r\nOK\r\n"
    );
    assert!(feed(&mut d, "ATI\r").0.contains("IMEI: 356938035643809"));
}

#[test]
fn joined_commands_answer_once_and_stop_at_the_first_error() {
    let mut d = dce();
    quiet(&mut d);
    assert_eq!(
        feed(&mut d, "AT+CMEE=1;+CSQ;+CREG?\r").0,
        "\r\n+CSQ: 20,99\r\n+CREG: 0,1\r\n\r\nOK\r\n"
    );
    assert_eq!(
        feed(&mut d, "AT+CSQ;+NOPE;+CGMI\r").0,
        "\r\n+CSQ: 20,99\r\n\r\nERROR\r\n"
    );
}

#[test]
fn error_modes_follow_cmee() {
    let mut d = dce();
    quiet(&mut d);
    assert_eq!(feed(&mut d, "AT+CSCS=\"KLINGON\"\r").0, "\r\nERROR\r\n");
    feed(&mut d, "AT+CMEE=1\r");
    assert_eq!(
        feed(&mut d, "AT+CSCS=\"KLINGON\"\r").0,
        "\r\n+CME ERROR: 4\r\n"
    );
    feed(&mut d, "AT+CMEE=2\r");
    assert_eq!(
        feed(&mut d, "AT+CSCS=\"KLINGON\"\r").0,
        "\r\n+CME ERROR: operation not supported\r\n"
    );
}

#[test]
fn sim_pin_is_asked_and_entered() {
    let mut d = Dce::new(
        dce().identity,
        Settings {
            pin: Some("1234".into()),
            ..Settings::default()
        },
    );
    quiet(&mut d);
    feed(&mut d, "AT+CMEE=1\r");
    assert_eq!(
        feed(&mut d, "AT+CPIN?\r").0,
        "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n"
    );
    assert_eq!(feed(&mut d, "AT+CIMI\r").0, "\r\n+CME ERROR: 11\r\n");
    assert_eq!(feed(&mut d, "AT+CMGL=4\r").0, "\r\n+CMS ERROR: 311\r\n");
    assert_eq!(
        feed(&mut d, "AT+CPIN=\"0000\"\r").0,
        "\r\n+CME ERROR: 16\r\n"
    );
    let (out, _) = feed(&mut d, "AT+CPIN=\"1234\"\r");
    assert!(
        out.contains("+CPIN: READY") && out.ends_with("OK\r\n"),
        "{out:?}"
    );
    assert_eq!(
        feed(&mut d, "AT+CPIN?\r").0,
        "\r\n+CPIN: READY\r\n\r\nOK\r\n"
    );
}

#[test]
fn registration_urcs_follow_creg_n() {
    let mut d = dce();
    quiet(&mut d);
    feed(&mut d, "AT+CREG=1\r");
    let step = d.set_fault(&Fault::Deregister);
    let out: Vec<u8> = step.out.into_iter().flat_map(|c| c.bytes).collect();
    assert_eq!(out, b"\r\n+CREG: 2\r\n");
    assert_eq!(feed(&mut d, "AT+CREG?\r").0, "\r\n+CREG: 1,2\r\n\r\nOK\r\n");
    assert_eq!(feed(&mut d, "AT+COPS?\r").0, "\r\n+COPS: 0\r\n\r\nOK\r\n");
    let step = d.clear_faults();
    let out: Vec<u8> = step.out.into_iter().flat_map(|c| c.bytes).collect();
    assert_eq!(out, b"\r\n+CREG: 1\r\n");
    feed(&mut d, "AT+CREG=2\r");
    assert_eq!(
        feed(&mut d, "AT+CREG?\r").0,
        "\r\n+CREG: 2,1,\"1A2B\",\"00C3D4E5\"\r\n\r\nOK\r\n"
    );
}

#[test]
fn cpms_reports_storages_with_counts() {
    let mut d = dce();
    quiet(&mut d);
    assert_eq!(
        feed(&mut d, "AT+CPMS?\r").0,
        "\r\n+CPMS: \"SM\",0,30,\"SM\",0,30,\"SM\",0,30\r\n\r\nOK\r\n"
    );
    assert_eq!(
        feed(&mut d, "AT+CPMS=\"ME\",\"ME\",\"ME\"\r").0,
        "\r\n+CPMS: 0,100,0,100,0,100\r\n\r\nOK\r\n"
    );
}

#[test]
fn cmgs_pdu_mode_checks_length_and_answers_with_reference() {
    let mut d = dce();
    quiet(&mut d);
    feed(&mut d, "AT+CMEE=1\r");
    // SMS-SUBMIT to +18095551234, "Hola" (GSM 7-bit), SMSC 00.
    let pdu = "0021000B918190551532F4000004C8373B0C";
    let (out, _) = feed(&mut d, "AT+CMGS=17\r");
    assert_eq!(out, "\r\n> ");
    let (out, effects) = feed(&mut d, &format!("{pdu}\u{1a}"));
    assert_eq!(out, "\r\n+CMGS: 0\r\n\r\nOK\r\n");
    assert!(matches!(&effects[..], [Effect::Submit { mr: 0, .. }]));
    // A wrong length is refused after the body.
    feed(&mut d, "AT+CMGS=18\r");
    let (out, effects) = feed(&mut d, &format!("{pdu}\u{1a}"));
    assert_eq!(out, "\r\n+CMS ERROR: 304\r\n");
    assert!(effects.is_empty());
}

#[test]
fn escape_cancels_the_prompt() {
    let mut d = dce();
    quiet(&mut d);
    feed(&mut d, "AT+CMGS=17\r");
    let (out, effects) = feed(&mut d, "0011\u{1b}");
    assert_eq!(out, "\r\nOK\r\n");
    assert!(effects.is_empty());
    assert_eq!(feed(&mut d, "AT\r").0, "\r\nOK\r\n");
}

#[test]
fn urcs_wait_while_the_prompt_is_open() {
    let mut d = dce();
    quiet(&mut d);
    feed(&mut d, "AT+CNMI=2,1,0,0,0\r");
    feed(&mut d, "AT+CMGS=17\r");
    let pdu = crate::emulator::codec::phone_delivers(
        "+18095551234",
        "hola",
        1,
        chrono::DateTime::parse_from_rfc3339("2026-11-25T10:00:00+00:00").unwrap(),
        "+18095550000",
    )
    .unwrap();
    let step = d.arrive(Kind::Deliver, &pdu[0]).unwrap();
    assert!(step.out.is_empty(), "a URC inside the prompt");
    let (out, _) = feed(&mut d, "\u{1b}");
    assert_eq!(out, "\r\nOK\r\n\r\n+CMTI: \"SM\",0\r\n");
}

#[test]
fn urc_in_prompt_fault_writes_one_after_the_prompt() {
    let mut d = dce();
    quiet(&mut d);
    d.set_fault(&Fault::UrcInPrompt);
    let (out, _) = feed(&mut d, "AT+CMGS=17\r");
    assert!(out.starts_with("\r\n> \r\n+CREG: 1\r\n"), "{out:?}");
}

#[test]
fn no_answer_fault_swallows_everything() {
    let mut d = dce();
    d.set_fault(&Fault::NoAnswer);
    assert_eq!(feed(&mut d, "AT\r").0, "");
    d.clear_faults();
    assert_eq!(feed(&mut d, "AT\r").0, "AT\r\r\nOK\r\n");
}

#[test]
fn sim_busy_fault_answers_busy_for_sim_commands_only() {
    let mut d = dce();
    quiet(&mut d);
    feed(&mut d, "AT+CMEE=1\r");
    d.set_fault(&Fault::SimBusy);
    assert_eq!(feed(&mut d, "AT+CPIN?\r").0, "\r\n+CME ERROR: 14\r\n");
    assert_eq!(feed(&mut d, "AT+CMGL=4\r").0, "\r\n+CMS ERROR: 314\r\n");
    assert_eq!(feed(&mut d, "AT+CSQ\r").0, "\r\n+CSQ: 20,99\r\n\r\nOK\r\n");
}

#[test]
fn reboot_announces_itself_and_resets_settings() {
    let mut d = dce();
    quiet(&mut d);
    let out: Vec<u8> = d.reboot().out.into_iter().flat_map(|c| c.bytes).collect();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("RDY") && out.contains("+CPIN: READY"), "{out}");
    // Echo is back on.
    assert_eq!(feed(&mut d, "AT\r").0, "AT\r\r\nOK\r\n");
}

#[test]
fn garbage_on_the_line_before_at_is_ignored() {
    let mut d = dce();
    quiet(&mut d);
    assert_eq!(feed(&mut d, "\u{1a}\u{0}xxAT\r").0, "\r\nOK\r\n");
    assert_eq!(feed(&mut d, "hello\r").0, "");
}

#[test]
fn incoming_sms_is_stored_indicated_read_listed_and_deleted() {
    let mut d = dce();
    quiet(&mut d);
    feed(&mut d, "AT+CNMI=2,1,0,2,0\r");
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-25T10:00:00-04:00").unwrap();
    let pdus =
        crate::emulator::codec::phone_delivers("+18095551234", "hola", 1, now, "+18095550000")
            .unwrap();
    let step = d.arrive(Kind::Deliver, &pdus[0]).unwrap();
    let out: Vec<u8> = step.out.into_iter().flat_map(|c| c.bytes).collect();
    assert_eq!(out, b"\r\n+CMTI: \"SM\",0\r\n");
    let hex = hex::encode_upper(&pdus[0]);
    let tpdu_len = pdus[0].len() - 1 - pdus[0][0] as usize;
    assert_eq!(
        feed(&mut d, "AT+CMGL=0\r").0,
        format!("\r\n+CMGL: 0,0,,{tpdu_len}\r\n{hex}\r\n\r\nOK\r\n")
    );
    // Now read: CMGR shows stat 1.
    assert_eq!(
        feed(&mut d, "AT+CMGR=0\r").0,
        format!("\r\n+CMGR: 1,,{tpdu_len}\r\n{hex}\r\n\r\nOK\r\n")
    );
    feed(&mut d, "AT+CMGF=1\r");
    let (text, _) = feed(&mut d, "AT+CMGR=0\r");
    assert_eq!(
        text,
        "\r\n+CMGR: \"REC READ\",\"+18095551234\",,\"26/11/25,10:00:00-16\"\r\nhola\r\n\r\nOK\r\n"
    );
    let (_, effects) = feed(&mut d, "AT+CMGD=0\r");
    assert_eq!(effects, vec![Effect::StorageFreed]);
    assert_eq!(feed(&mut d, "AT+CMGL=\"ALL\"\r").0, "\r\nOK\r\n");
}

#[test]
fn direct_delivery_modes_cmt_and_cds() {
    let mut d = dce();
    quiet(&mut d);
    feed(&mut d, "AT+CNMI=2,2,0,1,0\r");
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-25T10:00:00+00:00").unwrap();
    let pdus =
        crate::emulator::codec::phone_delivers("+18095551234", "hola", 1, now, "+18095550000")
            .unwrap();
    let out: Vec<u8> = d
        .arrive(Kind::Deliver, &pdus[0])
        .unwrap()
        .out
        .into_iter()
        .flat_map(|c| c.bytes)
        .collect();
    let tpdu_len = pdus[0].len() - 1 - pdus[0][0] as usize;
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!(
            "\r\n+CMT: ,{tpdu_len}\r\n{}\r\n",
            hex::encode_upper(&pdus[0])
        )
    );
    let report =
        crate::emulator::codec::status_report(7, "+18095551234", now, now, 0, "+18095550000")
            .unwrap();
    let out: Vec<u8> = d
        .arrive(Kind::StatusReport, &report)
        .unwrap()
        .out
        .into_iter()
        .flat_map(|c| c.bytes)
        .collect();
    assert!(String::from_utf8(out).unwrap().starts_with("\r\n+CDS: "));
    assert_eq!(d.sm.used(), 0, "direct modes store nothing");
}

#[test]
fn full_storage_holds_messages_and_stops_cmti() {
    let mut d = Dce::new(
        dce().identity,
        Settings {
            sm_capacity: 1,
            ..Settings::default()
        },
    );
    quiet(&mut d);
    feed(&mut d, "AT+CNMI=2,1,0,0,0\r");
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-25T10:00:00+00:00").unwrap();
    let pdus =
        crate::emulator::codec::phone_delivers("+18095551234", "uno", 1, now, "+18095550000")
            .unwrap();
    assert!(d.arrive(Kind::Deliver, &pdus[0]).is_ok());
    assert_eq!(
        d.arrive(Kind::Deliver, &pdus[0]),
        Err(sms::Held::StorageFull)
    );
    feed(&mut d, "AT+CMGD=0\r");
    assert!(d.arrive(Kind::Deliver, &pdus[0]).is_ok());
}

#[test]
fn text_mode_send_builds_a_submit() {
    let mut d = dce();
    quiet(&mut d);
    feed(&mut d, "AT+CMGF=1\r");
    feed(&mut d, "AT+CSMP=49,167,0,0\r");
    let (out, _) = feed(&mut d, "AT+CMGS=\"+18095551234\"\r");
    assert_eq!(out, "\r\n> ");
    let (out, effects) = feed(&mut d, "Hola mundo\u{1a}");
    assert_eq!(out, "\r\n+CMGS: 0\r\n\r\nOK\r\n");
    let Effect::Submit { tpdu, .. } = &effects[0] else {
        panic!("no submit")
    };
    let submit = crate::emulator::codec::decode_submit(tpdu).unwrap();
    assert_eq!(submit.user_data.text.as_deref(), Some("Hola mundo"));
    assert!(submit.status_report_request, "CSMP fo 49 asks for a report");
}

#[test]
fn cms_error_fault_fails_the_next_send() {
    let mut d = dce();
    quiet(&mut d);
    feed(&mut d, "AT+CMEE=1\r");
    d.set_fault(&Fault::CmsError {
        code: 500,
        count: Some(1),
    });
    feed(&mut d, "AT+CMGS=17\r");
    let (out, effects) = feed(&mut d, "0021000B918190551532F4000004C8373B0C\u{1a}");
    assert_eq!(out, "\r\n+CMS ERROR: 500\r\n");
    assert!(effects.is_empty());
    feed(&mut d, "AT+CMGS=17\r");
    let (out, _) = feed(&mut d, "0021000B918190551532F4000004C8373B0C\u{1a}");
    assert!(out.contains("+CMGS: 0"));
}

// ---- modem models (firmware-config/models/): each quirk as documented ----

fn model_dce(model: &str) -> Dce {
    Dce::new(
        dce().identity,
        Settings {
            model: model.into(),
            ..Settings::default()
        },
    )
}

fn text(step: Step) -> String {
    String::from_utf8(step.out.into_iter().flat_map(|c| c.bytes).collect()).unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Huawei E173: ^CURC=0 refused, unknown commands end in COMMAND NOT
/// SUPPORT, and ^RSSI/^BOOT/^MODE/^DSFLOWRPT keep coming whatever was
/// asked.
#[test]
fn huawei_e173_refuses_curc_and_keeps_its_heartbeat() {
    let mut d = model_dce("huawei-e173");
    quiet(&mut d);
    assert_eq!(feed(&mut d, "AT^CURC=0\r").0, "\r\nERROR\r\n");
    assert_eq!(
        feed(&mut d, "AT$TSSPCSW=?\r").0,
        "\r\nCOMMAND NOT SUPPORT\r\n"
    );
    let mut beats = String::new();
    for t in (0..=9_000).step_by(100) {
        beats.push_str(&text(d.tick(ms(t))));
    }
    for l in [
        "^RSSI:20",
        "^BOOT:35643809,0,0,0,75",
        "^MODE:5,4",
        "^DSFLOWRPT:",
    ] {
        assert!(beats.contains(l), "{l} in {beats:?}");
    }
    assert_eq!(
        beats.matches("\r\n^").count(),
        4,
        "one line every 3 s: {beats:?}"
    );
    assert_eq!(feed(&mut d, "AT\r").0, "\r\nOK\r\n", "still answering");
}

/// SIMCom SIM800: the boot lines come over seconds, SMS commands fail
/// until SMS Ready, and +CNMI takes <ds> 0 or 1 only.
#[test]
fn simcom_sim800_boots_slowly_and_has_no_cdsi() {
    let mut d = model_dce("simcom-sim800");
    let mut boot = text(d.tick(ms(0)));
    quiet(&mut d);
    assert_eq!(feed(&mut d, "AT+CMGF=0\r").0, "\r\nERROR\r\n");
    feed(&mut d, "AT+CMEE=1\r");
    assert_eq!(
        feed(&mut d, "AT+CPMS=\"SM\"\r").0,
        "\r\n+CMS ERROR: 302\r\n"
    );
    for t in (100..=1_900).step_by(100) {
        boot.push_str(&text(d.tick(ms(t))));
    }
    assert!(!boot.contains("SMS Ready"));
    assert_eq!(feed(&mut d, "AT+CMGF=0\r").0, "\r\n+CMS ERROR: 302\r\n");
    boot.push_str(&text(d.tick(ms(2_000))));
    let order: Vec<usize> = ["RDY", "+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready"]
        .iter()
        .map(|l| boot.find(l).unwrap_or_else(|| panic!("{l} in {boot:?}")))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{boot:?}");
    assert_eq!(feed(&mut d, "AT+CMGF=0\r").0, "\r\nOK\r\n");
    assert_eq!(
        feed(&mut d, "AT+CNMI=2,1,0,2,0\r").0,
        "\r\n+CMS ERROR: 303\r\n"
    );
    assert_eq!(feed(&mut d, "AT+CNMI=2,1,0,1,0\r").0, "\r\nOK\r\n");
    assert!(feed(&mut d, "AT+CNMI=?\r").0.contains("(0,1),(0,1)"));
}

/// Quectel EC25: status reports go to "SR" but +CDSI names "SM"; reading
/// "SM" finds nothing, reading "SR" finds the report.
#[test]
fn quectel_ec25_stores_reports_in_sr_and_announces_sm() {
    let mut d = model_dce("quectel-ec25");
    for t in (0..=2_500).step_by(100) {
        d.tick(ms(t));
    }
    quiet(&mut d);
    feed(&mut d, "AT+CMGF=0;+CNMI=2,1,0,2,0\r");
    assert!(feed(&mut d, "AT+CPMS=?\r")
        .0
        .contains("(\"SM\",\"ME\",\"SR\")"));
    let now = chrono::Utc::now().fixed_offset();
    let report =
        crate::emulator::codec::status_report(7, "+18095551234", now, now, 0, "+18095550000")
            .unwrap();
    let urc = text(d.arrive(Kind::StatusReport, &report).unwrap());
    assert_eq!(urc, "\r\n+CDSI: \"SM\",0\r\n");
    assert_eq!(feed(&mut d, "AT+CMGR=0\r").0, "\r\nOK\r\n", "nothing in SM");
    assert!(feed(&mut d, "AT+CPMS=\"SR\"\r").0.contains("+CPMS: 1,20"));
    assert!(feed(&mut d, "AT+CMGR=0\r").0.starts_with("\r\n+CMGR: 0,,"));
}

/// Quectel EC25 before +QIND: SMS DONE: +CMS ERROR: 500.
#[test]
fn quectel_ec25_refuses_sms_before_sms_done() {
    let mut d = model_dce("quectel-ec25");
    let boot = text(d.tick(ms(0)));
    assert!(boot.contains("RDY"));
    quiet(&mut d);
    feed(&mut d, "AT+CMEE=1\r");
    assert_eq!(feed(&mut d, "AT+CMGF=0\r").0, "\r\n+CMS ERROR: 500\r\n");
    let later = text(d.tick(ms(1_500)));
    assert!(later.contains("+QIND: SMS DONE"), "{later:?}");
    assert_eq!(feed(&mut d, "AT+CMGF=0\r").0, "\r\nOK\r\n");
}

/// ZTE MF: +ZDONR/+ZPASR before the prompt; the +ZUSIMR flood stops at
/// the first AT+CPMS?.
#[test]
fn zte_mf_talks_before_the_prompt_and_floods_until_cpms() {
    let mut d = model_dce("zte-mf");
    quiet(&mut d);
    assert!(text(d.tick(ms(0))).contains("+ZUSIMR:2"));
    feed(&mut d, "AT+CMGF=0\r");
    let prompt = feed(&mut d, "AT+CMGS=20\r").0;
    assert!(
        prompt.starts_with("\r\n+ZDONR: ")
            && prompt.contains("+ZPASR: \"UMTS\"")
            && prompt.ends_with("> "),
        "{prompt:?}"
    );
    feed(&mut d, "\u{1b}");
    feed(&mut d, "AT+CPMS?\r");
    let mut after = String::new();
    for t in (1_000..=5_000).step_by(100) {
        after.push_str(&text(d.tick(ms(t))));
    }
    assert_eq!(after, "", "no more floods");
}

/// Wavecom: +CGMR is refused; the boot sequence is +WIND lines.
#[test]
fn wavecom_winds_up_and_refuses_cgmr() {
    let mut d = model_dce("wavecom");
    let mut boot = String::new();
    for t in (0..=1_500).step_by(100) {
        boot.push_str(&text(d.tick(ms(t))));
    }
    for w in ["+WIND: 1", "+WIND: 3", "+WIND: 4", "+WIND: 16"] {
        assert!(boot.contains(w), "{w}");
    }
    quiet(&mut d);
    assert_eq!(feed(&mut d, "AT+CGMR\r").0, "\r\nERROR\r\n");
}

/// Feeds `input` on `port`; returns what that port and the other got.
fn feed_on(d: &mut Dce, port: usize, input: &str) -> (String, String) {
    let step = d.input_on(port, input.as_bytes());
    let mine = step.out.iter().flat_map(|c| c.bytes.clone()).collect();
    let other = step.other.iter().flat_map(|c| c.bytes.clone()).collect();
    (
        String::from_utf8(mine).unwrap(),
        String::from_utf8(other).unwrap(),
    )
}

/// Huawei's two ports: each has its own echo and result format; the
/// unsolicited lines go to the PC UI port (the first) only, until
/// `AT^PORTSEL=1` sends them to the modem port; the SIM is one.
#[test]
fn huawei_e173_has_a_modem_port_that_hears_no_unsolicited_lines() {
    let mut d = model_dce("huawei-e173");
    assert!(d.has_second_port());
    quiet(&mut d);
    // The modem port still echoes: its settings are its own.
    assert_eq!(feed_on(&mut d, 1, "AT\r").0, "AT\r\r\nOK\r\n");
    assert_eq!(feed_on(&mut d, 1, "ATE0\r").0, "ATE0\r\r\nOK\r\n");
    feed_on(&mut d, 1, "AT+CNMI=2,1,0,2,0\r");
    // An SMS arrives: +CMTI on the PC UI port only.
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-25T10:00:00-04:00").unwrap();
    let deliver =
        crate::emulator::codec::phone_delivers("+18095551234", "hola", 1, now, "+18095550000")
            .unwrap()
            .remove(0);
    let step = d.arrive(Kind::Deliver, &deliver).unwrap();
    assert!(text(step.clone()).contains("+CMTI: \"SM\",0"));
    assert!(step.other.is_empty());
    // The modem port reads it from the shared SIM.
    let (listed, elsewhere) = feed_on(&mut d, 1, "AT+CMGL=4\r");
    assert!(listed.contains("+CMGL: 0,0"), "{listed:?}");
    assert!(elsewhere.is_empty());
    // ^PORTSEL=1: the lines go to the modem port.
    assert_eq!(feed_on(&mut d, 1, "AT^PORTSEL=1\r").0, "\r\nOK\r\n");
    assert_eq!(
        feed_on(&mut d, 0, "AT^PORTSEL?\r").0,
        "\r\n^PORTSEL: 1\r\n\r\nOK\r\n"
    );
    let step = d.arrive(Kind::Deliver, &deliver).unwrap();
    assert!(step.out.is_empty());
    let other: Vec<u8> = step.other.iter().flat_map(|c| c.bytes.clone()).collect();
    assert!(String::from_utf8(other)
        .unwrap()
        .contains("+CMTI: \"SM\",1"));
    // A restart brings the default back.
    d.reboot();
    assert_eq!(
        feed_on(&mut d, 1, "AT^PORTSEL?\r").0,
        "AT^PORTSEL?\r\r\n^PORTSEL: 0\r\n\r\nOK\r\n"
    );
    // A one-port model has no second port: input there is the first's.
    assert!(!model_dce("generic").has_second_port());
}

// ---- USSD (3GPP TS 27.007 §7.15) and the SIM's identity ----

/// Feeds a command line and lets time pass to `at_ms`: (the immediate
/// answer, what came by `at_ms`).
fn cusd(d: &mut Dce, line: &str, at_ms: u64) -> (String, String) {
    let (now, _) = feed(d, &format!("{line}\r"));
    (now, text(d.tick(ms(at_ms))))
}

const BALANCE: &str = "\r\n+CUSD: 0,\"Su balance es RD$45.50\",15\r\n";

#[test]
fn cusd_answers_ok_then_the_network_reply_after_the_delay() {
    let mut d = dce();
    quiet(&mut d);
    let (now, soon) = cusd(&mut d, "AT+CUSD=1,\"*123#\",15", 150);
    assert_eq!(now, "\r\nOK\r\n");
    assert_eq!(soon, "", "the network takes ussd_delay_ms (200)");
    assert_eq!(text(d.tick(ms(200))), BALANCE);
    assert_eq!(text(d.tick(ms(400))), "", "only once");
    // Without <dcs>, the same.
    let (now, later) = cusd(&mut d, "AT+CUSD=1,\"*123#\"", 600);
    assert_eq!((now.as_str(), later.as_str()), ("\r\nOK\r\n", BALANCE));
    let codes: Vec<&str> = d.ussd.log().iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["*123#", "*123#"]);
    assert_eq!(d.ussd.log()[1].at, ms(400));
}

#[test]
fn cusd_read_test_and_enable_forms() {
    let mut d = dce();
    quiet(&mut d);
    assert_eq!(
        feed(&mut d, "AT+CUSD=?\r").0,
        "\r\n+CUSD: (0-2)\r\n\r\nOK\r\n"
    );
    assert_eq!(feed(&mut d, "AT+CUSD=1\r").0, "\r\nOK\r\n");
    assert_eq!(feed(&mut d, "AT+CUSD?\r").0, "\r\n+CUSD: 1\r\n\r\nOK\r\n");
    assert_eq!(feed(&mut d, "AT+CUSD=2\r").0, "\r\nOK\r\n");
    feed(&mut d, "AT+CMEE=1\r");
    assert_eq!(feed(&mut d, "AT+CUSD=7\r").0, "\r\n+CME ERROR: 50\r\n");
    assert_eq!(
        feed(&mut d, "AT+CUSD=1,\"*123#\",99\r").0,
        "\r\n+CME ERROR: 50\r\n"
    );
    // <n>=0: result codes off, the network's answer is not shown.
    assert_eq!(feed(&mut d, "AT+CUSD=0\r").0, "\r\nOK\r\n");
    assert_eq!(feed(&mut d, "AT+CUSD?\r").0, "\r\n+CUSD: 0\r\n\r\nOK\r\n");
}

/// The `*100#` menu: two levels, menus span lines (CR LF inside the
/// quotes, as SIM800 and Quectel modems send them), a choice the menu
/// lacks gets the same menu again.
#[test]
fn cusd_menu_two_levels_multi_line() {
    let mut d = dce();
    quiet(&mut d);
    let menu = "\r\n+CUSD: 1,\"1. Saldo\r\n2. Paquetes\",15\r\n";
    let bundles = "\r\n+CUSD: 1,\"1. Datos 1GB\r\n2. Minutos\",15\r\n";
    assert_eq!(cusd(&mut d, "AT+CUSD=1,\"*100#\",15", 200).1, menu);
    assert_eq!(cusd(&mut d, "AT+CUSD=1,\"2\",15", 400).1, bundles);
    assert_eq!(cusd(&mut d, "AT+CUSD=1,\"7\",15", 600).1, bundles);
    assert_eq!(
        cusd(&mut d, "AT+CUSD=1,\"1\",15", 800).1,
        "\r\n+CUSD: 0,\"Paquete de datos activado\",15\r\n"
    );
    // The session is over: "1" is now a top-level code nobody knows.
    assert_eq!(
        cusd(&mut d, "AT+CUSD=1,\"1\",15", 1000).1,
        "\r\n+CUSD: 4\r\n"
    );
    // Saldo from the top menu; a new code inside a menu starts afresh.
    assert_eq!(cusd(&mut d, "AT+CUSD=1,\"*100#\",15", 1200).1, menu);
    assert_eq!(cusd(&mut d, "AT+CUSD=1,\"1\",15", 1400).1, BALANCE);
    cusd(&mut d, "AT+CUSD=1,\"*100#\",15", 1600);
    assert_eq!(cusd(&mut d, "AT+CUSD=1,\"*123#\",15", 1800).1, BALANCE);
    let log = d.ussd.log();
    assert_eq!(log[1].session.as_deref(), Some("*100#"));
    assert_eq!(log[7].session, None);
}

#[test]
fn cusd_ucs2_answer_is_ucs2_hex() {
    let mut d = dce();
    quiet(&mut d);
    // "Баланс: 45,50 ₽": Cyrillic and U+20BD are not GSM 7-bit.
    assert_eq!(
        cusd(&mut d, "AT+CUSD=1,\"*124#\",15", 200).1,
        "\r\n+CUSD: 0,\"04110430043B0430043D0441003A002000340035002C00350030002020BD\",72\r\n"
    );
}

/// Under `+CSCS="UCS2"` the request and a dcs-15 answer are UCS-2 hex
/// (TS 27.007 §7.15: the ME converts into the TE character set).
#[test]
fn cusd_follows_cscs_ucs2() {
    let mut d = dce();
    quiet(&mut d);
    feed(&mut d, "AT+CMEE=1\r");
    feed(&mut d, "AT+CSCS=\"UCS2\"\r");
    // "*123#" in UCS-2 hex; the answer "Su balance es RD$45.50" too.
    assert_eq!(
        cusd(&mut d, "AT+CUSD=1,\"002A0031003200330023\",15", 200),
        (
            "\r\nOK\r\n".into(),
            "\r\n+CUSD: 0,\"00530075002000620061006C0061006E00630065002000650073002000520044002400340035002E00350030\",15\r\n".into()
        )
    );
    assert_eq!(
        feed(&mut d, "AT+CUSD=1,\"*123#\",15\r").0,
        "\r\n+CME ERROR: 100\r\n"
    );
}

/// Huawei: requests and dcs-15 answers are packed GSM 7-bit hex
/// (ModemManager's Huawei plugin: "*100#" is "AA180C3602"); plain text is
/// refused by the stick; UCS-2 answers stay UCS-2 hex.
#[test]
fn cusd_huawei_packs_gsm7_both_ways() {
    let mut d = Dce::new(
        dce().identity,
        Settings {
            model: "huawei-e173".into(),
            heartbeat_ms: 3_600_000,
            ..Settings::default()
        },
    );
    // The first ^RSSI of its heartbeat goes now, the next in an hour.
    assert!(text(d.tick(ms(0))).contains("^RSSI"));
    quiet(&mut d);
    feed(&mut d, "AT+CMEE=1\r");
    assert_eq!(
        cusd(&mut d, "AT+CUSD=1,\"AA986C3602\",15", 200),
        (
            "\r\nOK\r\n".into(),
            "\r\n+CUSD: 0,\"D33A481C6687DDE332A83C074989025ACD558301\",15\r\n".into()
        )
    );
    assert_eq!(
        cusd(&mut d, "AT+CUSD=1,\"AA180C3602\",15", 400).1,
        "\r\n+CUSD: 1,\"3117681A6693DF0A990B040DC7EB657A790E\",15\r\n"
    );
    // The choice "1" packed is 31.
    assert_eq!(
        cusd(&mut d, "AT+CUSD=1,\"31\",15", 600).1,
        "\r\n+CUSD: 0,\"D33A481C6687DDE332A83C074989025ACD558301\",15\r\n"
    );
    assert_eq!(
        cusd(&mut d, "AT+CUSD=1,\"*123#\",15", 800),
        ("\r\n+CME ERROR: 100\r\n".into(), String::new())
    );
    assert_eq!(
        cusd(&mut d, "AT+CUSD=1,\"AA988C3602\",15", 1000).1,
        "\r\n+CUSD: 0,\"04110430043B0430043D0441003A002000340035002C00350030002020BD\",72\r\n"
    );
    let codes: Vec<&str> = d.ussd.log().iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["*123#", "*100#", "1", "*124#"]);
}

#[test]
fn cusd_packing_pads_seven_spare_bits_with_cr() {
    use crate::emulator::codec::{gsm7_packed_hex, gsm7_unpack_hex};
    // Seven characters leave seven spare bits: CR, not '@' (TS 23.038
    // §6.1.2.3.1).
    let hex = gsm7_packed_hex("*101*1#").unwrap();
    assert_eq!(hex.len(), 14);
    assert_eq!(&hex[12..], "1A");
    assert_eq!(gsm7_unpack_hex(&hex).unwrap(), "*101*1#");
    assert_eq!(gsm7_unpack_hex("AA180C3602").unwrap(), "*100#");
    assert_eq!(gsm7_unpack_hex("*123#"), None);
}

/// A menu left unanswered for `ussd_timeout_ms` ends with `+CUSD: 2`.
#[test]
fn cusd_menu_times_out_with_m2() {
    let mut d = dce();
    quiet(&mut d);
    cusd(&mut d, "AT+CUSD=1,\"*100#\",15", 200);
    assert_eq!(text(d.tick(ms(59_999))), "");
    assert_eq!(text(d.tick(ms(60_000))), "\r\n+CUSD: 2\r\n");
    assert_eq!(text(d.tick(ms(70_000))), "");
    // No session: the choice is an unknown code.
    assert_eq!(
        cusd(&mut d, "AT+CUSD=1,\"1\",15", 70_200).1,
        "\r\n+CUSD: 4\r\n"
    );
}

#[test]
fn cusd_2_ends_the_menu() {
    let mut d = dce();
    quiet(&mut d);
    cusd(&mut d, "AT+CUSD=1,\"*100#\",15", 200);
    assert_eq!(
        cusd(&mut d, "AT+CUSD=2", 400),
        ("\r\nOK\r\n".into(), String::new())
    );
    assert_eq!(
        cusd(&mut d, "AT+CUSD=1,\"1\",15", 600).1,
        "\r\n+CUSD: 4\r\n"
    );
    // No +CUSD: 2 later either: the user ended it.
    assert_eq!(text(d.tick(ms(120_000))), "");
}

#[test]
fn cusd_faults_per_code_and_unknown_codes() {
    use super::ussd::{Dcs, Script, UssdFault};
    let mut d = dce();
    quiet(&mut d);
    feed(&mut d, "AT+CMEE=1\r");
    for (code, fault) in [
        ("*1#", UssdFault::NotSupported),
        ("*2#", UssdFault::NetworkTimeout),
        ("*3#", UssdFault::CmeError),
        ("*4#", UssdFault::NoAnswer),
    ] {
        d.ussd
            .set(Script {
                code: code.into(),
                reply: String::new(),
                dcs: Dcs::Gsm7,
                menu: Default::default(),
                fault: Some(fault),
            })
            .unwrap();
    }
    let ok = "\r\nOK\r\n".to_string();
    assert_eq!(
        cusd(&mut d, "AT+CUSD=1,\"*1#\",15", 200),
        (ok.clone(), "\r\n+CUSD: 4\r\n".into())
    );
    assert_eq!(
        cusd(&mut d, "AT+CUSD=1,\"*2#\",15", 400),
        (ok.clone(), "\r\n+CUSD: 5\r\n".into())
    );
    assert_eq!(
        cusd(&mut d, "AT+CUSD=1,\"*3#\",15", 600),
        ("\r\n+CME ERROR: 30\r\n".into(), String::new())
    );
    assert_eq!(
        cusd(&mut d, "AT+CUSD=1,\"*4#\",15", 800),
        (ok.clone(), String::new())
    );
    assert_eq!(text(d.tick(ms(100_000))), "");
    assert_eq!(
        cusd(&mut d, "AT+CUSD=1,\"*999#\",15", 100_200),
        (ok, "\r\n+CUSD: 4\r\n".into())
    );
    // Off the network, the modem refuses at once.
    d.set_fault(&Fault::Deregister);
    assert_eq!(
        feed(&mut d, "AT+CUSD=1,\"*123#\",15\r").0,
        "\r\n+CME ERROR: 30\r\n"
    );
}

/// USSD between SMS sends: an answer due while the `> ` prompt is open
/// waits until the send is over, and the prompt is not disturbed.
#[test]
fn cusd_between_cmgs_exchanges_keeps_the_prompt() {
    let mut d = dce();
    quiet(&mut d);
    let pdu = "0021000B918190551532F4000004C8373B0C";
    assert_eq!(feed(&mut d, "AT+CUSD=1,\"*123#\",15\r").0, "\r\nOK\r\n");
    assert_eq!(feed(&mut d, "AT+CMGS=17\r").0, "\r\n> ");
    assert_eq!(text(d.tick(ms(300))), "", "held inside the prompt");
    let (out, effects) = feed(&mut d, &format!("{pdu}\u{1a}"));
    assert_eq!(out, format!("\r\n+CMGS: 0\r\n\r\nOK\r\n{BALANCE}"));
    assert_eq!(effects.len(), 1);
    // Then a send, a USSD menu, another send.
    let (out, _) = feed(&mut d, "AT+CMGS=17\r");
    assert_eq!(out, "\r\n> ");
    assert!(feed(&mut d, &format!("{pdu}\u{1a}")).0.contains("+CMGS: 1"));
    assert_eq!(
        cusd(&mut d, "AT+CUSD=1,\"*100#\",15", 600).1,
        "\r\n+CUSD: 1,\"1. Saldo\r\n2. Paquetes\",15\r\n"
    );
    assert_eq!(feed(&mut d, "AT+CMGS=17\r").0, "\r\n> ");
    assert!(feed(&mut d, &format!("{pdu}\u{1a}")).0.contains("+CMGS: 2"));
    assert_eq!(cusd(&mut d, "AT+CUSD=1,\"1\",15", 800).1, BALANCE);
}

#[test]
fn crsm_reads_ef_iccid_nibble_swapped() {
    let mut d = dce();
    quiet(&mut d);
    feed(&mut d, "AT+CMEE=1\r");
    // ICCID 8918020000000001000 (19 digits) + F, each octet's digits
    // swapped, as ModemManager's mm-base-sim.c reads it.
    assert_eq!(
        feed(&mut d, "AT+CRSM=176,12258,0,0,10\r").0,
        "\r\n+CRSM: 144,0,\"988120000000001000F0\"\r\n\r\nOK\r\n"
    );
    assert_eq!(
        feed(&mut d, "AT+CRSM=176,12258,0,2,3\r").0,
        "\r\n+CRSM: 144,0,\"200000\"\r\n\r\nOK\r\n"
    );
    assert_eq!(
        feed(&mut d, "AT+CRSM=176,28486,0,0,17\r").0,
        "\r\n+CRSM: 148,4\r\n\r\nOK\r\n"
    );
    assert_eq!(feed(&mut d, "AT+CRSM=242\r").0, "\r\n+CME ERROR: 50\r\n");
}

/// ICCID by model: generic `+CCID: `, SIMCom a bare line (SIM800
/// manual), Quectel `+QCCID` only, Huawei `^ICCID?` nibble-swapped; a
/// vendor command the model lacks is an unknown command.
#[test]
fn iccid_through_each_models_command() {
    let iccid = "8918020000000001000";
    let ok = |line: &str| format!("\r\n{line}\r\n\r\nOK\r\n");
    let cases: &[(&str, &str, String)] = &[
        ("generic", "AT+CCID", ok(&format!("+CCID: {iccid}"))),
        ("generic", "AT+QCCID", "\r\nERROR\r\n".into()),
        ("generic", "AT^ICCID?", "\r\nERROR\r\n".into()),
        ("simcom-sim800", "AT+CCID", ok(iccid)),
        ("quectel-ec25", "AT+QCCID", ok(&format!("+QCCID: {iccid}"))),
        ("quectel-ec25", "AT+CCID", "\r\nERROR\r\n".into()),
        (
            "huawei-e173",
            "AT^ICCID?",
            ok("^ICCID: 988120000000001000F0"),
        ),
        (
            "huawei-e173",
            "AT+QCCID",
            "\r\nCOMMAND NOT SUPPORT\r\n".into(),
        ),
    ];
    for (model, cmd, expect) in cases {
        let mut d = model_dce(model);
        quiet(&mut d);
        assert_eq!(
            &feed(&mut d, &format!("{cmd}\r")).0,
            expect,
            "{model} {cmd}"
        );
        assert_eq!(
            feed(&mut d, "AT+CIMI\r").0,
            ok("370020000001000"),
            "{model}: AT+CIMI"
        );
    }
}
