//! Real modem software uses the emulated modems as if they were hardware:
//! gammu identifies them, sends GSM 7-bit, UCS-2 and three-part texts with a
//! delivery report, reads what a phone sent; gammu-smsd (files backend)
//! sends its outbox and writes an incoming SMS into its inbox; `gammu
//! getussd` reads the emulated operator's USSD answers.
//!
//! Needs Debian's `gammu` and `gammu-smsd` (scripts/test installs them).
//! Under CI (`CI` set to `true`, `1` or `yes`) a missing gammu fails these
//! tests; elsewhere they are skipped with a note.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::{emulator, eventually_async, require_tool};
use smsgate::emulator::network::PartOrder;

const PHONE: &str = "+18095551234";

fn have(tool: &str) -> bool {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    require_tool(
        &format!("`{tool}`"),
        found.then_some(()),
        "Debian package gammu / gammu-smsd; scripts/test run as root installs them",
    )
    .is_some()
}

fn gammurc(dir: &Path, device: &Path) -> std::path::PathBuf {
    let rc = dir.join("gammurc");
    std::fs::write(
        &rc,
        format!(
            "[gammu]\ndevice = {}\nconnection = at\nlogformat = textall\nlogfile = {}\n",
            device.display(),
            dir.join("gammu.log").display()
        ),
    )
    .unwrap();
    rc
}

async fn gammu(rc: &Path, args: &[&str]) -> Output {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new("gammu")
            .arg("-c")
            .arg(rc)
            .args(args)
            .output(),
    )
    .await
    .expect("gammu finished within 60 s")
    .expect("run gammu");
    assert!(
        out.status.success(),
        "gammu {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gammu_identify_sees_a_modem() {
    if !have("gammu") {
        return;
    }
    let emu = emulator(1).await;
    let m = emu.modems()[0].clone();
    let dir = tempfile::tempdir().unwrap();
    let rc = gammurc(dir.path(), &m.path);
    let out = gammu(&rc, &["identify"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Manufacturer         : smsgate"), "{text}");
    assert!(
        text.contains(&format!("IMEI                 : {}", m.imei)),
        "{text}"
    );
    assert!(
        text.contains(&format!("SIM IMSI             : {}", m.imsi)),
        "{text}"
    );
    emu.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gammu_sendsms_gsm7_ucs2_and_three_parts_with_report_reach_the_phone() {
    if !have("gammu") {
        return;
    }
    let emu = emulator(1).await;
    let m = emu.modems()[0].clone();
    let dir = tempfile::tempdir().unwrap();
    let rc = gammurc(dir.path(), &m.path);

    gammu(
        &rc,
        &["sendsms", "TEXT", PHONE, "-text", "Hola desde gammu [€]"],
    )
    .await;
    gammu(
        &rc,
        &[
            "sendsms",
            "TEXT",
            PHONE,
            "-unicode",
            "-text",
            "¿Cómo estás? 👍",
        ],
    )
    .await;
    let long = "Mensaje largo de tres partes. ".repeat(13);
    let out = gammu(
        &rc,
        &[
            "sendsms", "TEXT", PHONE, "-autolen", "600", "-report", "-text", &long,
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Sending SMS 3/3"), "{stdout}");

    let inbox = emu.inbox(PHONE);
    let texts: Vec<(&str, u8, bool)> = inbox
        .iter()
        .map(|m| (m.text.as_str(), m.parts, m.complete))
        .collect();
    assert_eq!(
        texts,
        vec![
            ("Hola desde gammu [€]", 1, true),
            ("¿Cómo estás? 👍", 1, true),
            (long.as_str(), 3, true),
        ]
    );
    assert!(inbox.iter().all(|msg| msg.from == m.number));
    emu.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gammu_getallsms_shows_what_a_phone_sent() {
    if !have("gammu") {
        return;
    }
    let emu = emulator(1).await;
    let m = emu.modems()[0].clone();
    emu.phone_send(
        PHONE,
        &m.number,
        "Respuesta del teléfono",
        PartOrder::InOrder,
    )
    .unwrap();
    emu.phone_send(
        PHONE,
        &m.number,
        &"respuesta larga ".repeat(15),
        PartOrder::Reversed,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rc = gammurc(dir.path(), &m.path);
    let out = gammu(&rc, &["getallsms"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Remote number        : \"+18095551234\""),
        "{text}"
    );
    assert!(text.contains("Respuesta del teléfono"), "{text}");
    assert!(text.contains("respuesta larga respuesta larga"), "{text}");
    emu.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gammu_smsd_sends_its_outbox_and_fills_its_inbox() {
    if !have("gammu-smsd") || !have("gammu-smsd-inject") {
        return;
    }
    let emu = emulator(1).await;
    let m = emu.modems()[0].clone();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for sub in ["inbox", "outbox", "sent", "error"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    let rc = d.join("smsdrc");
    std::fs::write(
        &rc,
        format!(
            "[gammu]\ndevice = {dev}\nconnection = at\n\n[smsd]\nservice = files\n\
             inboxpath = {d}/inbox/\noutboxpath = {d}/outbox/\nsentsmspath = {d}/sent/\n\
             errorsmspath = {d}/error/\nlogfile = {d}/smsd.log\ndebuglevel = 1\n\
             receivefrequency = 1\nstatusfrequency = 0\ncommtimeout = 1\nloopsleep = 1\n\
             checksecurity = 0\ncheckbattery = 0\nchecksignal = 0\nhangupcalls = 0\n",
            dev = m.path.display(),
            d = d.display()
        ),
    )
    .unwrap();
    let inject = tokio::process::Command::new("gammu-smsd-inject")
        .arg("-c")
        .arg(&rc)
        .args(["TEXT", "+18095557777", "-text", "Desde gammu-smsd"])
        .output()
        .await
        .unwrap();
    assert!(
        inject.status.success(),
        "{}",
        String::from_utf8_lossy(&inject.stderr)
    );

    let mut smsd = tokio::process::Command::new("gammu-smsd")
        .arg("-c")
        .arg(&rc)
        .kill_on_drop(true)
        .spawn()
        .expect("start gammu-smsd");
    emu.phone_send("+18095557777", &m.number, "Hola smsd", PartOrder::InOrder)
        .unwrap();

    let sent_to_phone = async || {
        emu.inbox("+18095557777")
            .iter()
            .any(|msg| msg.text == "Desde gammu-smsd")
            .then_some(())
    };
    eventually_async(
        "gammu-smsd sent its outbox",
        Duration::from_secs(40),
        sent_to_phone,
    )
    .await;
    let inbox_dir = d.join("inbox");
    let received = async || {
        std::fs::read_dir(&inbox_dir)
            .ok()?
            .filter_map(|e| e.ok())
            .find_map(|e| {
                let text = std::fs::read_to_string(e.path()).ok()?;
                (text == "Hola smsd").then_some(e.file_name())
            })
    };
    let name = eventually_async("gammu-smsd wrote the MO", Duration::from_secs(40), received).await;
    assert!(name.to_string_lossy().contains("+18095557777"), "{name:?}");
    let sent_dir = d.join("sent");
    let moved = async || (std::fs::read_dir(&sent_dir).ok()?.count() == 1).then_some(());
    eventually_async(
        "gammu-smsd moved the message to sent",
        Duration::from_secs(40),
        moved,
    )
    .await;
    let _ = smsd.kill().await;
    emu.shutdown();
}

/// gammu's own USSD client (`gammu getussd`, libgammu's AT driver) gets
/// the emulated operator's answers: the balance in GSM 7-bit and the
/// UCS-2 one, so the emulator's `+CUSD` is what real software reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gammu_getussd_reads_the_emulated_operators_answers() {
    if !have("gammu") {
        return;
    }
    let emu = emulator(1).await;
    let m = emu.modems()[0].clone();
    let dir = tempfile::tempdir().unwrap();
    let rc = gammurc(dir.path(), &m.path);
    let out = gammu(&rc, &["getussd", "*123#"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Su balance es RD$45.50"), "{text}");
    let out = gammu(&rc, &["getussd", "*124#"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Баланс: 45,50 ₽"), "{text}");
    let log = emu.ussd(0).expect("the emulator's USSD log");
    let codes: Vec<&str> = log.requests.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["*123#", "*124#"]);
    emu.shutdown();
}
