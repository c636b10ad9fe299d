//! `smsgate probe` and discovery by IMEI against the emulated GSM network,
//! through real pseudo-terminals: what a technician sees when identifying
//! a modem (SPEC "Command line": `smsgate probe PORT`), and how a modem
//! configured with `port = "auto"` is found again.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::{emulator, emulator_with, Client, ANSWER_WITHIN};
use smsgate::emulator::dce::Settings;
use smsgate::emulator::faults::Fault;
use smsgate::emulator::EmulatorConfig;
use smsgate::modem::discovery::{find_by_imei, DiscoveryError};
use smsgate::modem::probe::{probe, ProbeError};

const BAUD: u32 = 115_200;

async fn run_probe_cli(args: &[&str]) -> Output {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .arg("probe")
        .args(args)
        .output();
    tokio::time::timeout(ANSWER_WITHIN, run)
        .await
        .expect("probe finishes")
        .expect("run smsgate")
}

#[tokio::test]
async fn probe_reports_the_emulated_modems_identity() {
    let emu = emulator(1).await;
    let modem = &emu.modems()[0];
    let report = probe(&modem.path, BAUD).await.expect("probe");
    assert_eq!(report.manufacturer.as_deref(), Some("smsgate"));
    assert_eq!(report.model.as_deref(), Some("Emulated GSM modem"));
    assert_eq!(report.imei.as_deref(), Some(modem.imei.as_str()));
    assert_eq!(report.imsi.as_deref(), Some(modem.imsi.as_str()));
    assert!(report
        .iccid
        .as_deref()
        .is_some_and(|i| i.starts_with("8918")));
    assert_eq!(report.sim, "READY");
    assert_eq!(report.registration.as_deref(), Some("home"));
    assert_eq!(report.operator.as_deref(), Some("Claro DO"));
    let signal = report.signal.expect("signal");
    assert_eq!((signal.rssi, signal.dbm), (20, Some(-73)));
    assert!(signal.bars <= 5);
    let storage = report.storage.expect("storage");
    assert_eq!((storage.mem1.name.as_str(), storage.mem1.total), ("SM", 30));
    assert_eq!(report.profile, "generic");
    emu.shutdown();
}

#[tokio::test]
async fn probe_json_from_the_binary_is_one_line_with_the_identity() {
    let emu = emulator(1).await;
    let modem = emu.modems()[0].clone();
    let path = modem.path.to_string_lossy().into_owned();
    let out = run_probe_cli(&[&path, "--json"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.trim_end().lines().count(), 1, "{stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(json["imei"], modem.imei.as_str());
    assert_eq!(json["imsi"], modem.imsi.as_str());
    assert_eq!(json["manufacturer"], "smsgate");
    assert_eq!(json["sim"], "READY");
    assert_eq!(json["profile"], "generic");
    assert_eq!(json["port"], path.as_str());
    assert!(json.get("ussd").is_none(), "no --ussd, no ussd key: {json}");
    emu.shutdown();
}

#[tokio::test]
async fn probe_text_from_the_binary_names_each_field() {
    let emu = emulator(1).await;
    let modem = emu.modems()[0].clone();
    let out = run_probe_cli(&[&modem.path.to_string_lossy()]).await;
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for want in [
        "manufacturer:  smsgate".to_string(),
        format!("IMEI:          {}", modem.imei),
        "registration:  home".into(),
        "profile:       generic".into(),
    ] {
        assert!(stdout.contains(&want), "{want:?} in {stdout}");
    }
    emu.shutdown();
}

#[tokio::test]
async fn probe_of_a_missing_port_says_it_does_not_exist_and_exits_1() {
    let out = run_probe_cli(&["/dev/smsgate-no-such-port"]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert!(out.stdout.is_empty());
}

async fn run_ussd_cli(args: &[&str]) -> Output {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .arg("ussd")
        .args(args)
        .output();
    tokio::time::timeout(ANSWER_WITHIN, run)
        .await
        .expect("ussd finishes")
        .expect("run smsgate")
}

/// `smsgate ussd` on a port that is not there: exit 1, the reason on
/// stderr, and with --json the same reason in the one JSON line.
#[tokio::test]
async fn ussd_of_a_missing_port_exits_1_with_the_reason() {
    let out = run_ussd_cli(&["/dev/smsgate-no-such-port", "*123#", "--json"]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does not exist"), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(
        json["error"]
            .as_str()
            .is_some_and(|e| e.contains("does not exist")),
        "{json}"
    );
}

/// A code with letters never reaches the network: exit 1, said plainly.
#[tokio::test]
async fn ussd_with_a_bad_code_is_refused_before_the_network() {
    let emu = emulator(1).await;
    let path = emu.modems()[0].path.to_string_lossy().into_owned();
    let out = run_ussd_cli(&[&path, "*12a#"]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid USSD code"), "{stderr}");
    emu.shutdown();
}

/// `probe --ussd CODE` reports what the code got: the network's answer, or
/// why there is none; the probe itself still succeeds.
#[tokio::test]
async fn probe_with_ussd_reports_the_code() {
    let emu = emulator(1).await;
    let path = emu.modems()[0].path.to_string_lossy().into_owned();
    let out = run_probe_cli(&[&path, "--json", "--ussd", "*123#"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["ussd"]["code"], "*123#", "{json}");
    assert_eq!(json["ussd"]["reply"], "Su balance es RD$45.50", "{json}");
    let out = run_probe_cli(&[&path, "--ussd", "*123#"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Su balance es RD$45.50"), "{text}");
    emu.shutdown();
}

/// `smsgate ussd` walks the emulated operator's two-level menu with
/// `--then`, on a generic modem (plain text, the menu across two lines)
/// and on a Huawei stick (packed GSM 7-bit hex both ways, `--profile
/// huawei`); the Huawei refuses plain text, as the real stick does.
#[tokio::test]
async fn ussd_walks_a_menu_on_a_generic_modem_and_a_huawei_stick() {
    for (model, profile) in [("generic", "generic"), ("huawei-e173", "huawei")] {
        let emu = emulator_with(EmulatorConfig {
            modems: 1,
            settings: Settings {
                model: model.into(),
                ..Settings::default()
            },
            ..EmulatorConfig::default()
        })
        .await;
        let path = emu.modems()[0].path.to_string_lossy().into_owned();
        let out = run_ussd_cli(&[
            &path,
            "*100#",
            "--then",
            "2",
            "--then",
            "1",
            "--json",
            "--profile",
            profile,
        ])
        .await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{model}: {stderr}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("1. Saldo\\n2. Paquetes"), "{model}: {text}");
        assert!(
            text.contains("Paquete de datos activado"),
            "{model}: {text}"
        );
        let log = emu.ussd(0).expect("the emulator's USSD log");
        let codes: Vec<&str> = log.requests.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["*100#", "2", "1"], "{model}: {:?}", log.requests);
        if profile == "huawei" {
            // Without --profile the stick's +CGMI picks the Huawei profile.
            let picked = run_ussd_cli(&[&path, "*123#"]).await;
            let text = String::from_utf8_lossy(&picked.stdout);
            assert!(text.contains("RD$45.50"), "{text}");
            let plain = run_ussd_cli(&[&path, "*123#", "--profile", "generic"]).await;
            assert_eq!(plain.status.code(), Some(1), "plain text on a Huawei");
        }
        emu.shutdown();
    }
}

#[tokio::test]
async fn probe_of_a_port_held_by_another_client_says_busy() {
    let emu = emulator(1).await;
    let path = emu.modems()[0].path.clone();
    // tokio-serial opens exclusively (TIOCEXCL and flock), as a running
    // gateway or ModemManager would hold the port.
    let _holder = Client::open(&path);
    let err = probe(&path, BAUD).await.expect_err("busy");
    assert!(matches!(err, ProbeError::Busy { .. }), "{err}");
    let out = run_probe_cli(&[&path.to_string_lossy()]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("busy") && stderr.contains("ModemManager"),
        "{stderr}"
    );
    emu.shutdown();
}

#[tokio::test]
async fn probe_of_a_silent_port_says_not_a_modem() {
    let emu = emulator(1).await;
    emu.inject_fault(0, Fault::NoAnswer).expect("fault");
    let path = emu.modems()[0].path.clone();
    let out = run_probe_cli(&[&path.to_string_lossy()]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not a modem") && stderr.contains("no answer to AT"),
        "{stderr}"
    );
    emu.shutdown();
}

#[tokio::test]
async fn probe_of_a_sim_waiting_for_its_pin_reports_sim_pin_without_imsi() {
    let emu = emulator_with(EmulatorConfig {
        modems: 1,
        settings: Settings {
            pin: Some("1234".into()),
            ..Settings::default()
        },
        ..EmulatorConfig::default()
    })
    .await;
    let modem = emu.modems()[0].clone();
    let report = probe(&modem.path, BAUD).await.expect("probe");
    assert_eq!(report.sim, "SIM PIN");
    assert_eq!(report.imsi, None);
    assert_eq!(report.storage, None);
    assert_eq!(report.imei.as_deref(), Some(modem.imei.as_str()));
    emu.shutdown();
}

#[tokio::test]
async fn find_by_imei_picks_the_right_modem_among_candidates() {
    let emu = emulator(2).await;
    let modems = emu.modems();
    let candidates = vec![
        PathBuf::from("/dev/smsgate-no-such-port"),
        modems[0].path.clone(),
        modems[1].path.clone(),
    ];
    let found = find_by_imei(&modems[1].imei, BAUD, candidates.clone())
        .await
        .expect("found");
    assert_eq!(found, modems[1].path);
    let found = find_by_imei(&modems[0].imei, BAUD, candidates)
        .await
        .expect("found");
    assert_eq!(found, modems[0].path);
    emu.shutdown();
}

#[tokio::test]
async fn find_by_imei_skips_busy_ports() {
    let emu = emulator(2).await;
    let modems = emu.modems();
    let _holder = Client::open(&modems[0].path);
    let candidates = vec![modems[0].path.clone(), modems[1].path.clone()];
    let found = find_by_imei(&modems[1].imei, BAUD, candidates)
        .await
        .expect("found");
    assert_eq!(found, modems[1].path);
    emu.shutdown();
}

#[tokio::test]
async fn find_by_unknown_imei_lists_what_was_tried() {
    let emu = emulator(2).await;
    let modems = emu.modems();
    let candidates = vec![
        modems[0].path.clone(),
        modems[1].path.clone(),
        PathBuf::from("/dev/smsgate-no-such-port"),
    ];
    let err = find_by_imei("490154203237518", BAUD, candidates)
        .await
        .expect_err("no such modem");
    assert!(matches!(err, DiscoveryError::NotFound { .. }));
    let text = err.to_string();
    assert!(text.contains("490154203237518"), "{text}");
    assert!(text.contains(&format!("IMEI {}", modems[0].imei)), "{text}");
    assert!(text.contains(&format!("IMEI {}", modems[1].imei)), "{text}");
    assert!(
        text.contains("/dev/smsgate-no-such-port (does not exist)"),
        "{text}"
    );
    emu.shutdown();
}

/// `smsgate probe --record FILE` writes the whole conversation both ways
/// as a transcript, the same bytes the emulator saw, and `smsgate
/// transcript show` reads it back with the modem's answers under their
/// commands.
#[tokio::test]
async fn probe_records_the_conversation_and_transcript_show_reads_it() {
    let emu = emulator(1).await;
    let modem = emu.modems()[0].clone();
    let path = modem.path.to_string_lossy().into_owned();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("probe.jsonl");
    let out = run_probe_cli(&[&path, "--record", file.to_str().unwrap()]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let entries = smsgate::transcript::read(&file).expect("a transcript");
    let sent: Vec<u8> = entries
        .iter()
        .filter(|e| e.dir == smsgate::transcript::Dir::ToModem)
        .flat_map(|e| e.bytes().unwrap())
        .collect();
    let got: Vec<u8> = entries
        .iter()
        .filter(|e| e.dir == smsgate::transcript::Dir::FromModem)
        .flat_map(|e| e.bytes().unwrap())
        .collect();
    let sent = String::from_utf8_lossy(&sent);
    let got = String::from_utf8_lossy(&got);
    assert!(sent.starts_with("AT\r"), "{sent}");
    assert!(sent.contains("AT+CGSN\r"), "{sent}");
    assert!(got.contains(&modem.imei), "{got}");
    // The emulator's own transcript of the same line holds the same
    // bytes the host wrote.
    let seen: String = emu
        .transcript(0)
        .unwrap()
        .iter()
        .filter(|e| e.dir == "to_modem")
        .map(|e| String::from_utf8(smsgate::transcript::unescape(&e.data).unwrap()).unwrap())
        .collect();
    assert_eq!(seen, sent);
    let show = std::process::Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .args(["transcript", "show", "--color", "never"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(show.status.success());
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(text.contains("→ AT+CGSN\\r"), "{text}");
    assert!(text.contains(&format!("← {}", modem.imei)), "{text}");
    // Not a transcript: exit 2 with the line named.
    std::fs::write(dir.path().join("bad.jsonl"), "{\"t_ms\":0}\n").unwrap();
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .args(["transcript", "show"])
        .arg(dir.path().join("bad.jsonl"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("bad.jsonl:1"));
    emu.shutdown();
}

/// `probe --record FILE --redact`: the recording keeps the commands and
/// the answers' shapes but not the modem's IMEI, IMSI or ICCID, and `smsgate
/// transcript redact` gives the same from the raw recording.
#[tokio::test]
async fn a_redacted_recording_keeps_the_behaviour_and_loses_the_identity() {
    let emu = emulator(1).await;
    let modem = emu.modems()[0].clone();
    let path = modem.path.to_string_lossy().into_owned();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("probe.jsonl");
    let out = run_probe_cli(&[&path, "--record", file.to_str().unwrap(), "--redact"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    for secret in [&modem.imei, &modem.imsi] {
        assert!(!text.contains(secret.as_str()), "{secret} in {text}");
    }
    assert!(text.contains("AT+CGSN"), "{text}");
    assert!(text.contains("+CSQ: 20,99"), "{text}");
    // The same from a raw recording.
    let raw = dir.path().join("raw.jsonl");
    let out = run_probe_cli(&[&path, "--record", raw.to_str().unwrap()]).await;
    assert!(out.status.success());
    assert!(std::fs::read_to_string(&raw).unwrap().contains(&modem.imei));
    let clean = dir.path().join("clean.jsonl");
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .args(["transcript", "redact"])
        .arg(&raw)
        .arg(&clean)
        .status()
        .unwrap();
    assert!(st.success());
    let clean_text = std::fs::read_to_string(&clean).unwrap();
    assert!(!clean_text.contains(&modem.imei));
    let (a, b) = (
        smsgate::transcript::read(&raw).unwrap(),
        smsgate::transcript::read(&clean).unwrap(),
    );
    assert_eq!(a.len(), b.len());
    emu.shutdown();
}
