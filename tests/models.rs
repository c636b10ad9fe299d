//! The model × scenario matrix (issue "field-true modems"): every modem
//! model of the emulator (`firmware-config/models/`, the documented
//! behaviour of a real family) drives the whole gateway — store, sessions,
//! outbox, the modem pool with its driver — through the same scenarios,
//! on a network that takes time (delivery reports 300 ms late, phone
//! parts up to 200 ms apart):
//!
//! init; a send in GSM 7-bit, one in UCS-2 and one of three parts, each
//! delivered (report) and on the phone; a single and a multipart reply in
//! the session; a full SIM drained; an unplug and replug; a restart; and
//! a stretch of the model's heartbeat (compressed to 100 ms) with no
//! re-initialisation.
//!
//! The models run at once, each with its own emulator, store and gateway.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use smsgate::clock::SystemClock;
use smsgate::config::{Config, ModemConfig};
use smsgate::emulator::dce::Settings;
use smsgate::emulator::faults::Fault;
use smsgate::emulator::network::PartOrder;
use smsgate::emulator::{Emulator, EmulatorConfig};
use smsgate::gateway::api::{GatewayApi, SendRequest, SessionView};
use smsgate::gateway::handle::GatewayHandle;
use smsgate::modem::driver::DriverConfig;
use smsgate::modem::pool::ModemPool;
use smsgate::modem::profile::Profile;
use smsgate::modem::types::ModemState;
use smsgate::session::{CoreConfig, SessionCore, ShortCode};
use smsgate::store::{Store, DEFAULT_CACHE_BYTES};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Bound of every wait (never a measurement).
const WITHIN: Duration = Duration::from_secs(40);
const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Each model with the driver profile an operator would pick for it.
const MATRIX: &[(&str, &str)] = &[
    ("generic", "generic"),
    ("huawei-e173", "huawei"),
    ("quectel-ec25", "quectel"),
    ("simcom-sim800", "simcom"),
    ("zte-mf", "generic"),
    ("wavecom", "generic"),
];

struct Rig {
    emu: Emulator,
    gw: GatewayHandle,
    code: String,
    _dir: tempfile::TempDir,
}

async fn until<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> Result<T, String> {
    let deadline = Instant::now() + WITHIN;
    loop {
        if let Some(v) = f().await {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            return Err(format!("no {what} within {WITHIN:?}"));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn rig(model: &str, profile: &str) -> Result<Rig, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let emu = Emulator::start(EmulatorConfig {
        modems: 1,
        link_dir: Some(dir.path().join("by-id")),
        settings: Settings {
            model: model.into(),
            heartbeat_ms: 100,
            report_delay_ms: 300,
            mo_jitter_ms: 200,
            ..Settings::default()
        },
        ..EmulatorConfig::default()
    })
    .await
    .map_err(|e| e.to_string())?;
    let profile = Profile::load(profile, None).map_err(|e| e.to_string())?;
    let m = &emu.modems()[0];
    let port = m.link.as_ref().unwrap().to_string_lossy().into_owned();
    let code = m.number.clone();
    let gw = gateway_on(&port, &code, &profile, dir.path())?;
    Ok(Rig {
        emu,
        gw,
        code,
        _dir: dir,
    })
}

/// The whole gateway on one modem at `port` (a path that may not exist
/// yet), its store under `dir`.
fn gateway_on(
    port: &str,
    code: &str,
    profile: &Profile,
    dir: &std::path::Path,
) -> Result<GatewayHandle, String> {
    let modem = ModemConfig {
        profile: profile.name.clone(),
        ..ModemConfig::new(port, code)
    };
    let driver = DriverConfig::from_config(&modem, profile);
    let store = Store::open(&dir.join("store"), DEFAULT_CACHE_BYTES).map_err(|e| e.to_string())?;
    let (tx, rx) = mpsc::unbounded_channel();
    let pool = ModemPool::start(vec![driver], tx);
    let mut cfg = Config::default();
    cfg.limits.sends_per_minute_per_client = 0;
    cfg.limits.sends_per_hour_per_recipient = 0;
    let mut core = CoreConfig::from_config(&cfg).map_err(|e| e.to_string())?;
    core.pool = vec![ShortCode(code.to_string())];
    smsgate::gateway::start(
        SessionCore::new(core),
        store,
        pool,
        rx,
        Arc::new(SystemClock),
        Default::default(),
    )
    .map_err(|e| e.to_string())
}

fn req(to: &str, text: &str) -> SendRequest {
    SendRequest {
        to: vec![to.to_string()],
        text: text.to_string(),
        ..Default::default()
    }
}

fn status(view: &SessionView, text: &str) -> Option<String> {
    let m = view.messages.iter().find(|m| m.text == text)?;
    Some(m.recipients.first()?.status.to_string())
}

impl Rig {
    async fn up(&self) -> Result<(), String> {
        until("the modem up", async || {
            let m = self.gw.modems().await;
            (m[0].state == ModemState::Up).then_some(())
        })
        .await
    }

    async fn reconnects(&self) -> u64 {
        self.gw.modems().await[0].reconnects
    }

    /// Sends `text` to `phone` in `session`; waits for it on the phone and
    /// for its delivery report.
    async fn send(
        &self,
        session: Option<String>,
        phone: &str,
        text: &str,
    ) -> Result<String, String> {
        let a = self
            .gw
            .send(session, req(phone, text), CLIENT)
            .await
            .map_err(|e| format!("send {text:?}: {e}"))?;
        let id = a.session.id;
        until(&format!("{text:?} on the phone"), async || {
            self.emu
                .inbox(phone)
                .iter()
                .any(|m| m.text == text && m.complete && m.from == self.code)
                .then_some(())
        })
        .await?;
        until(&format!("{text:?} delivered"), async || {
            let v = self.gw.session(&id).await?;
            (status(&v, text)? == "delivered").then_some(())
        })
        .await?;
        Ok(id)
    }

    /// The phone answers; waits for the reply in the session.
    async fn reply(&self, session: &str, phone: &str, text: &str) -> Result<(), String> {
        self.emu
            .phone_send(phone, &self.code, text, PartOrder::Reversed)
            .map_err(|e| e.to_string())?;
        until(
            &format!("reply {:.20}… in the session", text),
            async || {
                let v = self.gw.session(session).await?;
                v.replies.iter().any(|r| r.text == text).then_some(())
            },
        )
        .await
    }
}

async fn scenario(model: &'static str, profile: &'static str) -> Result<String, String> {
    let r = rig(model, profile).await?;
    let t0 = Instant::now();
    r.up().await?;
    let init = t0.elapsed();
    let phone = "+18095553001";
    // Sends: GSM 7-bit, UCS-2, three parts — each delivered.
    let s = r.send(None, phone, "Hola, mesa lista").await?;
    r.send(Some(s.clone()), phone, "¿Confirmas? Sí ✔").await?;
    let long = "Tres partes: ".to_string() + &"abcdefghij".repeat(40);
    r.send(Some(s.clone()), phone, &long).await?;
    let sent = r.emu.records().len();
    // Replies: single and multipart.
    r.reply(&s, phone, "Sí, confirmo").await?;
    r.reply(&s, phone, &"respuesta larga ".repeat(15)).await?;
    // SIM full: two slots, five replies.
    let mut settings = r.emu.settings(0).map_err(|e| e.to_string())?;
    settings.sm_capacity = 2;
    r.emu
        .set_settings(0, settings.clone())
        .map_err(|e| e.to_string())?;
    for i in 0..5 {
        r.reply(&s, phone, &format!("lleno {i}")).await?;
    }
    settings.sm_capacity = 30;
    r.emu.set_settings(0, settings).map_err(|e| e.to_string())?;
    // A stretch of heartbeats (every 100 ms): never a re-initialisation.
    let before = r.reconnects().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    r.send(Some(s.clone()), phone, "tras el latido").await?;
    let after = r.reconnects().await;
    if after != before {
        return Err(format!(
            "{} re-initialisations during the heartbeat",
            after - before
        ));
    }
    // Unplug and replug; a restart.
    r.emu
        .inject_fault(0, Fault::Unplug { duration_ms: 1000 })
        .map_err(|e| e.to_string())?;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    r.up().await?;
    r.send(Some(s.clone()), phone, "tras desenchufar").await?;
    r.reply(&s, phone, "aquí sigo").await?;
    let restarts_before = r.reconnects().await;
    r.emu
        .inject_fault(0, Fault::Reboot)
        .map_err(|e| e.to_string())?;
    until("the restart noticed", async || {
        (r.reconnects().await > restarts_before).then_some(())
    })
    .await?;
    r.up().await?;
    r.send(Some(s.clone()), phone, "tras reiniciar").await?;
    r.reply(&s, phone, "otra vez aquí").await?;
    // Nothing doubled: each text once on the phone, each reply once.
    let inbox = r.emu.inbox(phone);
    for t in [
        "Hola, mesa lista",
        "¿Confirmas? Sí ✔",
        long.as_str(),
        "tras el latido",
        "tras desenchufar",
        "tras reiniciar",
    ] {
        let n = inbox.iter().filter(|m| m.text == t).count();
        if n != 1 {
            return Err(format!("{t:.20}… {n} times on the phone"));
        }
    }
    let v = r.gw.session(&s).await.ok_or("session gone")?;
    for reply in &v.replies {
        if v.replies.iter().filter(|x| x.text == reply.text).count() != 1 {
            return Err(format!("reply {:.20}… twice", reply.text));
        }
    }
    if v.replies.len() != 9 {
        return Err(format!("{} replies, 9 sent", v.replies.len()));
    }
    let m = &r.gw.modems().await[0];
    r.emu.shutdown();
    Ok(format!(
        "{model:14} profile {profile:8} up in {:5.2} s, {sent} parts sent before the replies, {} reconnect attempts (unplug, restart), garbage {}",
        init.as_secs_f64(),
        m.reconnects,
        m.garbage
    ))
}

#[actix::test]
async fn every_model_passes_every_scenario() {
    let results = futures_util::future::join_all(
        MATRIX
            .iter()
            .map(|(m, p)| async move { (*m, scenario(m, p).await) }),
    )
    .await;
    let mut failed = Vec::new();
    for (model, r) in results {
        match r {
            Ok(line) => println!("{line}"),
            Err(e) => failed.push(format!("{model}: {e}")),
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// A modem plugged in after the gateway started (its `/dev/serial/by-id`
/// link appears later) starts working without a restart.
#[actix::test]
async fn a_modem_plugged_in_later_starts_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(EmulatorConfig {
        modems: 1,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let m = emu.modems()[0].clone();
    let by_id = dir.path().join("by-id");
    let link = by_id.join("usb-Emulated_GSM_modem-if00-port0");
    let profile = Profile::load("generic", None).unwrap();
    let gw = gateway_on(&link.to_string_lossy(), &m.number, &profile, dir.path()).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_ne!(
        gw.modems().await[0].state,
        ModemState::Up,
        "nothing plugged"
    );
    // udev makes the link when the stick is plugged in.
    std::fs::create_dir_all(&by_id).unwrap();
    std::os::unix::fs::symlink(&m.path, &link).unwrap();
    let plugged = Instant::now();
    until("the modem up", async || {
        (gw.modems().await[0].state == ModemState::Up).then_some(())
    })
    .await
    .unwrap();
    println!(
        "plugged in later: up {:.2} s after its link appeared",
        plugged.elapsed().as_secs_f64()
    );
    gw.send(None, req("+18095553002", "ya conectado"), CLIENT)
        .await
        .unwrap();
    until("the phone has it", async || {
        emu.inbox("+18095553002")
            .iter()
            .any(|m| m.text == "ya conectado")
            .then_some(())
    })
    .await
    .unwrap();
    emu.shutdown();
}

/// A modem unplugged while the network takes its time over an `AT+CMGS`
/// is noticed at once (its port closes under the read), not when the
/// answer times out a minute later. (The emulator used to hold the unplug
/// until it had written the delayed answer.)
#[actix::test]
async fn an_unplug_during_a_long_send_is_noticed_at_once() {
    let r = rig("generic", "generic").await.unwrap();
    r.up().await.unwrap();
    let mut slow = r.emu.settings(0).unwrap();
    slow.cmgs_latency_ms = 60_000;
    r.emu.set_settings(0, slow).unwrap();
    r.gw.send(None, req("+18095553003", "lento"), CLIENT)
        .await
        .unwrap();
    until("the send on the air", async || {
        (!r.emu.inbox("+18095553003").is_empty()).then_some(())
    })
    .await
    .unwrap();
    r.emu
        .inject_fault(
            0,
            Fault::Unplug {
                duration_ms: 600_000,
            },
        )
        .unwrap();
    let gone = Instant::now();
    until("the modem down", async || {
        (r.gw.modems().await[0].state != ModemState::Up).then_some(())
    })
    .await
    .unwrap();
    let noticed = gone.elapsed();
    println!(
        "unplug during a 60 s +CMGS noticed after {:.2} s",
        noticed.as_secs_f64()
    );
    assert!(noticed < Duration::from_secs(10), "{noticed:?}");
    r.emu.shutdown();
}

/// Huawei's two ports: configured on the PC UI port (the matrix above)
/// every notice arrives there; configured on the stick's "modem" port,
/// which hears no `+CMTI`/`+CDSI`, the huawei profile's sweep still finds
/// replies and reports (within its 10 s), and nothing is re-initialised.
#[actix::test]
async fn a_huawei_stick_on_its_modem_port_still_gets_replies_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(EmulatorConfig {
        modems: 1,
        link_dir: Some(dir.path().join("by-id")),
        settings: Settings {
            model: "huawei-e173".into(),
            heartbeat_ms: 100,
            ..Settings::default()
        },
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let m = emu.modems()[0].clone();
    let modem_port = m.second_link.clone().expect("the stick's modem port");
    let profile = Profile::load("huawei", None).unwrap();
    let gw = gateway_on(
        &modem_port.to_string_lossy(),
        &m.number,
        &profile,
        dir.path(),
    )
    .unwrap();
    let r = Rig {
        emu,
        gw,
        code: m.number.clone(),
        _dir: dir,
    };
    r.up().await.unwrap();
    let phone = "+18095553010";
    let t = Instant::now();
    let s = r.send(None, phone, "por el otro puerto").await.unwrap();
    println!(
        "modem port: sent and delivered (report found by the sweep) in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let before = r.reconnects().await;
    let t = Instant::now();
    r.reply(&s, phone, "te escucho").await.unwrap();
    r.reply(&s, phone, &"respuesta larga ".repeat(15))
        .await
        .unwrap();
    println!(
        "modem port: two replies (one multipart) in the session after {:.2} s",
        t.elapsed().as_secs_f64()
    );
    // The notices went to the PC UI port, nobody's.
    let heard_elsewhere = r
        .emu
        .transcript(0)
        .unwrap()
        .iter()
        .any(|e| e.dir == "from_modem" && e.data.contains("+CMTI"));
    assert!(heard_elsewhere, "the PC UI port got the +CMTI");
    assert!(
        !r.emu
            .transcript(0)
            .unwrap()
            .iter()
            .any(|e| e.dir == "from_modem_2" && e.data.contains("+CMTI")),
        "the modem port never hears +CMTI"
    );
    assert_eq!(r.reconnects().await, before, "no re-initialisation");
    r.emu.shutdown();
}
