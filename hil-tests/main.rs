//! Hardware-in-the-loop suite: the modem scenarios (identify, send single,
//! concatenated and UCS-2 texts, delivery reports, receive, multipart
//! reassembly, missed notices, faults) against real USB modems — or, when
//! no hardware is named, against the emulated network, so the suite runs in
//! CI and never rots.
//!
//! Hardware (see hil-tests/README.md):
//!   HIL_PORTS=/dev/ttyUSB0[,/dev/ttyUSB3]   modems under test
//!   HIL_SHORT_CODES=+1809...[,+1809...]     their SIM numbers
//!   HIL_PHONE=+1809...                      a phone that receives the sends
//!   HIL_PIN, HIL_BAUD (default 115200), HIL_WAIT_S (reports, default 120)
//!   HIL_RECORD=DIR: record each modem's serial line to
//!   DIR/<model>-<short code>.jsonl
//!   HIL_USSD=*123#: a USSD code the first SIM's operator answers (the
//!   balance); the USSD case runs on real SIMs only when it is set
//! With two modems, the second sends to the first, so receiving needs no
//! human. Scenarios that need fault injection run on the emulator only.
//!
//! Progress shows as a bar on a terminal (indicatif, on stderr); the result
//! lines go to stdout either way, and a Markdown report is written to
//! `HIL_REPORT` (default `<target dir>/hil-report.md`).

// The emulated network and the waits of the integration tests.
#[path = "../tests/common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::rig::{Drivers, Network, Setup};
use common::try_eventually_async;
use smsgate::emulator::faults::Fault;
use smsgate::emulator::network::PartOrder;
use smsgate::emulator::Emulator;
use smsgate::modem::driver::DriverConfig;
use smsgate::modem::pool::{ModemPool, PoolEvent};
use smsgate::modem::types::{ModemEvent, ModemState, OutgoingSms, PartRef, SendOutcome};
use smsgate::sms::{Assembler, DeliveryStatus, IncomingPart};
use tokio::sync::mpsc;

/// What the suite runs against.
struct Bench {
    emulator: Option<Emulator>,
    pool: ModemPool,
    codes: Vec<String>,
    phone: String,
    wait: Duration,
    got: Arc<Mutex<Got>>,
    /// The emulated modems' links live here (as long as the bench).
    _links: Option<tempfile::TempDir>,
}

#[derive(Default)]
struct Got {
    texts: Vec<(String, String)>,
    reports: Vec<(String, PartRef, DeliveryStatus)>,
}

enum Verdict {
    Pass(String),
    Fail(String),
    Skip(String),
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn list(name: &str) -> Vec<String> {
    env(name)
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
        .unwrap_or_default()
}

/// The USSD quirk of the profile `HIL_PROFILE` names (real modems), or of
/// the vendor of the emulated model (`huawei-e173` → `huawei`).
fn ussd_packed_hex(model: Option<&str>) -> bool {
    let name = match model {
        Some(m) => m.split('-').next().unwrap_or(m).to_string(),
        None => env("HIL_PROFILE").unwrap_or_else(|| "generic".into()),
    };
    smsgate::modem::profile::Profile::builtin(&name).is_some_and(|p| p.quirks.ussd_packed_hex)
}

fn driver_config(code: &str, port: &str, baud: u32, pin: Option<String>) -> DriverConfig {
    DriverConfig {
        baud,
        pin,
        health_interval: Duration::from_secs(2),
        sweep_interval: Duration::from_secs(2),
        backoff_min: Duration::from_millis(200),
        backoff_max: Duration::from_secs(2),
        cmgs_timeout: Duration::from_secs(60),
        ..DriverConfig::new(code, port)
    }
}

async fn bench(model: Option<&str>) -> Result<Bench, String> {
    let (tx, rx) = mpsc::unbounded_channel();
    let ports = list("HIL_PORTS");
    let mut links = None;
    let (emulator, configs, phone, wait) = if ports.is_empty() {
        let net = Network::start(Setup {
            drivers: Drivers::Custom(|m| {
                // The stable link, as /dev/serial/by-id: an unplugged modem
                // comes back on another pseudo-terminal.
                let port = m.link.as_ref().unwrap_or(&m.path);
                driver_config(&m.number, &port.to_string_lossy(), 115_200, None)
            }),
            emulator: smsgate::emulator::dce::Settings {
                model: model.unwrap_or("generic").to_string(),
                ..Default::default()
            },
            ..Setup::new(2)
        })
        .await?;
        links = Some(net.dir);
        (
            Some(net.emu),
            net.drivers,
            "+18095551234".to_string(),
            // A command the modem swallowed during a fault waits for its own
            // bound before the driver moves on: the sweep's `AT+CMGL` (30 s)
            // is the longest one sent while idle, and a loaded machine can
            // land it inside the fault's window.
            smsgate::at::commands::CMGL_TIMEOUT + Duration::from_secs(15),
        )
    } else {
        let codes = list("HIL_SHORT_CODES");
        if codes.len() != ports.len() {
            return Err("HIL_SHORT_CODES must name one number per port of HIL_PORTS".into());
        }
        let phone = env("HIL_PHONE").ok_or("HIL_PHONE must name a test phone")?;
        let baud = env("HIL_BAUD")
            .and_then(|b| b.parse().ok())
            .unwrap_or(115_200);
        let wait = env("HIL_WAIT_S")
            .and_then(|w| w.parse().ok())
            .unwrap_or(120);
        let configs = ports
            .iter()
            .zip(&codes)
            .map(|(p, c)| driver_config(c, p, baud, env("HIL_PIN")))
            .collect();
        (None, configs, phone, Duration::from_secs(wait))
    };
    // USSD in the profile's encoding (a Huawei's is packed GSM 7-bit hex).
    let packed = ussd_packed_hex(model);
    let configs: Vec<DriverConfig> = configs
        .into_iter()
        .map(|c| DriverConfig {
            ussd_packed_hex: packed,
            ..c
        })
        .collect();
    // HIL_RECORD=DIR: every modem's serial line as a transcript,
    // DIR/<model>-<short code>.jsonl (`smsgate transcript show` reads it;
    // docs/hil.md says how to share it).
    let configs: Vec<DriverConfig> = match env("HIL_RECORD") {
        None => configs,
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(|e| format!("HIL_RECORD {dir}: {e}"))?;
            configs
                .into_iter()
                .map(|c| DriverConfig {
                    record: Some(smsgate::transcript::RecordTo::file(
                        PathBuf::from(&dir).join(format!(
                            "{}-{}.jsonl",
                            model.unwrap_or("hardware"),
                            c.short_code.trim_start_matches('+')
                        )),
                    )),
                    ..c
                })
                .collect()
        }
    };
    let codes: Vec<String> = configs
        .iter()
        .map(|c: &DriverConfig| c.short_code.clone())
        .collect();
    let pool = ModemPool::start(configs, tx);
    let got = Arc::new(Mutex::new(Got::default()));
    actix::spawn(collect(rx, got.clone()));
    Ok(Bench {
        emulator,
        pool,
        codes,
        phone,
        wait,
        got,
        _links: links,
    })
}

async fn collect(mut rx: mpsc::UnboundedReceiver<PoolEvent>, got: Arc<Mutex<Got>>) {
    let mut assembler = Assembler::new(Duration::from_secs(600));
    while let Some(PoolEvent { short_code, event }) = rx.recv().await {
        match event {
            ModemEvent::Received { deliver, ack } => {
                if let Some(done) = assembler.push(IncomingPart::from(&deliver), chrono::Utc::now())
                {
                    let mut g = got.lock().unwrap_or_else(|e| e.into_inner());
                    g.texts.push((short_code, done.text));
                }
                let _ = ack.send(());
            }
            ModemEvent::DeliveryReport {
                message_ref,
                status,
                ack,
                ..
            } => {
                let mut g = got.lock().unwrap_or_else(|e| e.into_inner());
                g.reports.push((short_code, message_ref, status));
                let _ = ack.send(());
            }
        }
    }
}

impl Bench {
    fn received(&self, code: &str, text: &str) -> bool {
        let g = self.got.lock().unwrap_or_else(|e| e.into_inner());
        g.texts.iter().any(|(c, t)| c == code && t == text)
    }

    async fn send(
        &self,
        from: usize,
        to: &str,
        text: &str,
        id: u64,
    ) -> Result<Vec<PartRef>, String> {
        let sms = OutgoingSms {
            message_id: id,
            recipient: to.to_string(),
            text: text.to_string(),
            concat_ref: (id % 250) as u8 + 1,
            validity_minutes: None,
            withdraw: Default::default(),
        };
        match tokio::time::timeout(self.wait, self.pool.send(&self.codes[from], sms)).await {
            Err(_) => Err(format!("no outcome within {:?}", self.wait)),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(SendOutcome::Sent { message_refs })) => Ok(message_refs),
            Ok(Ok(SendOutcome::Failed { reason, .. })) => Err(reason),
        }
    }

    /// Sends to the test phone; on the emulator also checks what it received.
    async fn send_to_phone(&self, text: &str, id: u64, parts: usize) -> Verdict {
        let refs = match self.send(0, &self.phone, text, id).await {
            Ok(r) => r,
            Err(e) => return Verdict::Fail(e),
        };
        if refs.len() != parts {
            return Verdict::Fail(format!("{} parts, expected {parts}", refs.len()));
        }
        if let Some(emu) = &self.emulator {
            if !emu
                .inbox(&self.phone)
                .iter()
                .any(|m| m.text == text && m.complete)
            {
                return Verdict::Fail("the phone's inbox lacks the text".into());
            }
            return Verdict::Pass(format!("{parts} part(s), refs {refs:?}"));
        }
        Verdict::Pass(format!(
            "{parts} part(s), refs {refs:?}; check the phone shows it"
        ))
    }

    /// Makes a text arrive at modem 0: from the emulated phone, or from the
    /// second modem on hardware.
    async fn inbound(&self, text: &str, order: PartOrder, id: u64) -> Result<(), Verdict> {
        match &self.emulator {
            Some(emu) => emu
                .phone_send(&self.phone, &self.codes[0], text, order)
                .map(|_| ())
                .map_err(|e| Verdict::Fail(e.to_string())),
            None if self.codes.len() >= 2 => self
                .send(1, &self.codes[0], text, id)
                .await
                .map(|_| ())
                .map_err(Verdict::Fail),
            None => Err(Verdict::Skip(
                "needs a second modem (HIL_PORTS with two ports)".into(),
            )),
        }
    }

    async fn receive(&self, text: &str, order: PartOrder, id: u64) -> Verdict {
        if let Err(v) = self.inbound(text, order, id).await {
            return v;
        }
        match try_eventually_async("the text at modem 0", self.wait, async || {
            self.received(&self.codes[0], text).then_some(())
        })
        .await
        {
            Ok(()) => Verdict::Pass("received and deleted from the SIM".into()),
            Err(_) => Verdict::Fail(format!("not received within {:?}", self.wait)),
        }
    }

    async fn fault_then_traffic(&self, fault: Fault, id: u64) -> Verdict {
        let Some(emu) = &self.emulator else {
            return Verdict::Skip("fault injection needs the emulator".into());
        };
        let clears = !matches!(fault, Fault::Reboot | Fault::Unplug { .. });
        if let Err(e) = emu.inject_fault(0, fault) {
            return Verdict::Fail(e.to_string());
        }
        if clears {
            tokio::time::sleep(Duration::from_millis(700)).await;
            let _ = emu.clear_faults(0);
        }
        let started = Instant::now();
        let text = format!("después de la falla {id}");
        if let Verdict::Fail(e) = self.send_to_phone(&text, id, 1).await {
            return Verdict::Fail(format!("send: {e}"));
        }
        if let Verdict::Fail(e) = self
            .receive(&format!("respuesta {id}"), PartOrder::InOrder, id)
            .await
        {
            return Verdict::Fail(format!("receive: {e}"));
        }
        Verdict::Pass(format!(
            "traffic both ways {:.1} s after the fault",
            started.elapsed().as_secs_f64()
        ))
    }
}

/// Scenarios run, for the progress bar: "modems up" and the 14 below.
const SCENARIOS: u64 = 16;

/// Where the Markdown report goes.
fn report_path() -> PathBuf {
    if let Some(p) = env("HIL_REPORT") {
        return PathBuf::from(p);
    }
    let target = env("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("hil-report.md")
}

/// The Markdown report: run facts, the modems, one row per scenario, totals.
fn markdown(
    mode: &str,
    modems: &[String],
    results: &[(&str, Verdict, Duration)],
    total: Duration,
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# smsgate HIL report\n");
    let _ = writeln!(md, "- date: {}", chrono::Utc::now().to_rfc3339());
    let _ = writeln!(md, "- smsgate {}", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(md, "- run on: {mode}");
    let _ = writeln!(md, "- total time: {:.1} s\n", total.as_secs_f64());
    let _ = writeln!(md, "## Modems\n");
    let _ = writeln!(
        md,
        "| short code | port | maker / model | IMEI | signal | registration | state |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    for m in modems {
        let _ = writeln!(md, "{m}");
    }
    let _ = writeln!(md, "\n## Scenarios\n");
    let _ = writeln!(md, "| result | scenario | time (s) | details |");
    let _ = writeln!(md, "|---|---|---:|---|");
    for (name, verdict, elapsed) in results {
        let (tag, note) = tag(verdict);
        let _ = writeln!(
            md,
            "| {tag} | {name} | {:.1} | {} |",
            elapsed.as_secs_f64(),
            note.replace('|', "\\|")
        );
    }
    let passed = results
        .iter()
        .filter(|r| matches!(r.1, Verdict::Pass(_)))
        .count();
    let failed = results
        .iter()
        .filter(|r| matches!(r.1, Verdict::Fail(_)))
        .count();
    let _ = writeln!(
        md,
        "\n**{passed} passed, {failed} failed, {} skipped**",
        results.len() - passed - failed
    );
    md
}

fn tag(v: &Verdict) -> (&'static str, &str) {
    match v {
        Verdict::Pass(n) => ("PASS", n),
        Verdict::Fail(n) => ("FAIL", n),
        Verdict::Skip(n) => ("SKIP", n),
    }
}

/// Runs the suite: on the modems of `HIL_PORTS`, or on the emulated
/// network once per modem model (`HIL_MODEL`: one name, a comma-separated
/// list, or `all`, the default).
async fn run() -> i32 {
    let hardware = env("HIL_PORTS").is_some();
    if hardware {
        let (code, md) = run_one(None).await;
        write_report(&md);
        return code;
    }
    let wanted = env("HIL_MODEL").unwrap_or_else(|| "all".into());
    let models: Vec<String> = if wanted.trim() == "all" {
        smsgate::emulator::model::Model::names()
            .into_iter()
            .map(String::from)
            .collect()
    } else {
        list("HIL_MODEL")
    };
    let mut code = 0;
    let mut report = String::new();
    for m in &models {
        let (c, md) = run_one(Some(m)).await;
        code = code.max(c);
        report.push_str(&md);
        report.push('\n');
    }
    write_report(&report);
    code
}

fn write_report(md: &str) {
    let path = report_path();
    let written = path
        .parent()
        .map(std::fs::create_dir_all)
        .unwrap_or(Ok(()))
        .and_then(|()| std::fs::write(&path, md));
    match written {
        Ok(()) => println!("report: {}", path.display()),
        Err(e) => println!("cannot write the report {}: {e}", path.display()),
    }
}

async fn run_one(model: Option<&str>) -> (i32, String) {
    let hardware = model.is_none();
    println!(
        "smsgate HIL suite: {}",
        match model {
            None => "real modems (HIL_PORTS)".to_string(),
            Some(m) => format!("emulated network, model {m} (set HIL_PORTS to run on hardware)"),
        }
    );
    let b = match bench(model).await {
        Ok(b) => b,
        Err(e) => {
            println!("cannot start: {e}");
            return (2, format!("cannot start: {e}\n"));
        }
    };
    let mut results: Vec<(&str, Verdict, Duration)> = Vec::new();
    let started = Instant::now();
    let progress = indicatif::ProgressBar::new(SCENARIOS);
    progress.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    progress.enable_steady_tick(Duration::from_millis(200));
    progress.set_message("modems coming up");
    let up = try_eventually_async(
        "every modem up",
        b.wait.max(Duration::from_secs(30)),
        async || {
            b.codes
                .iter()
                .all(|c| b.pool.status(c).is_some_and(|s| s.state == ModemState::Up))
                .then_some(())
        },
    )
    .await;
    let mut modems = Vec::new();
    for s in b.pool.statuses() {
        modems.push(format!(
            "| {} | {} | {} {} | {} | {} | {} | {:?} |",
            s.short_code,
            s.port,
            s.manufacturer.as_deref().unwrap_or("?"),
            s.model.as_deref().unwrap_or("?"),
            s.imei.as_deref().unwrap_or("?"),
            s.signal_dbm
                .map(|d| format!("{d} dBm"))
                .unwrap_or("?".into()),
            s.registration.as_deref().unwrap_or("?"),
            s.state
        ));
        progress.suspend(|| {
            println!(
                "  modem {} on {}: {} {} IMEI {} signal {} dBm, registration {}, state {:?}",
                s.short_code,
                s.port,
                s.manufacturer.as_deref().unwrap_or("?"),
                s.model.as_deref().unwrap_or("?"),
                s.imei.as_deref().unwrap_or("?"),
                s.signal_dbm.map(|d| d.to_string()).unwrap_or("?".into()),
                s.registration.as_deref().unwrap_or("?"),
                s.state
            )
        });
    }
    progress.inc(1);
    results.push((
        "modems up (identity, SIM, registration)",
        match up {
            Ok(()) => Verdict::Pass(String::new()),
            Err(_) => Verdict::Fail("not every modem came up".into()),
        },
        started.elapsed(),
    ));

    macro_rules! scenario {
        ($name:expr, $body:expr) => {{
            progress.set_message($name);
            let t = Instant::now();
            let v = $body;
            let elapsed = t.elapsed();
            let (tag, note) = tag(&v);
            progress.suspend(|| {
                println!(
                    "  {tag}  {:<44} {:>6.1} s  {}",
                    $name,
                    elapsed.as_secs_f64(),
                    note
                )
            });
            progress.inc(1);
            results.push(($name, v, elapsed));
        }};
    }

    scenario!(
        "send GSM 7-bit",
        b.send_to_phone("smsgate HIL: hola [GSM 7-bit] €", 1, 1)
            .await
    );
    let long = "smsgate HIL: texto largo en tres partes. ".repeat(9);
    scenario!(
        "send concatenated (3 parts)",
        b.send_to_phone(&long, 2, 3).await
    );
    scenario!(
        "send UCS-2",
        b.send_to_phone("smsgate HIL: ¿Cómo estás? Aquí 👍", 3, 1)
            .await
    );
    scenario!("delivery reports mapped back", {
        let refs = b
            .send(0, &b.phone, "smsgate HIL: informe de entrega", 4)
            .await;
        match refs {
            Err(e) => Verdict::Fail(e),
            Ok(refs) => {
                let code = b.codes[0].clone();
                let done = try_eventually_async("the reports", b.wait, async || {
                    let g = b.got.lock().unwrap_or_else(|e| e.into_inner());
                    refs.iter()
                        .all(|mr| g.reports.iter().any(|(c, r, _)| *c == code && r == mr))
                        .then_some(())
                })
                .await;
                match done {
                    Ok(()) => Verdict::Pass(format!("{} report(s)", refs.len())),
                    Err(_) => Verdict::Fail("reports missing".into()),
                }
            }
        }
    });
    scenario!(
        "receive single",
        b.receive("smsgate HIL: respuesta", PartOrder::InOrder, 5)
            .await
    );
    let long_in = "smsgate HIL: respuesta larga del teléfono. ".repeat(7);
    scenario!(
        "receive concatenated, out of order",
        b.receive(&long_in, PartOrder::Reversed, 6).await
    );
    scenario!("missed notice caught by the sweep", {
        match &b.emulator {
            None => Verdict::Skip("needs the emulator's drop_notices fault".into()),
            Some(emu) => {
                let _ = emu.inject_fault(0, Fault::DropNotices);
                let v = b
                    .receive("smsgate HIL: aviso perdido", PartOrder::InOrder, 7)
                    .await;
                let _ = emu.clear_faults(0);
                v
            }
        }
    });
    scenario!("USSD (balance) between sends", {
        // On the emulator its default balance code; on real SIMs only the
        // code a technician names (an operator's USSD may cost money or
        // change a plan: never guessed).
        let code = match (&b.emulator, env("HIL_USSD")) {
            (_, Some(code)) => Some(code),
            (Some(_), None) => Some("*123#".to_string()),
            (None, None) => None,
        };
        match code {
            None => Verdict::Skip("set HIL_USSD=<code> to ask the first SIM's operator".into()),
            Some(code) => {
                // A send and the USSD at once: the driver takes them one
                // after the other, never one inside the other.
                let send = b.send(0, &b.phone, "smsgate HIL: envío junto a un USSD", 8);
                let ussd = b.pool.ussd(&b.codes[0], &code);
                let (sent, answer) = tokio::join!(send, ussd);
                match (sent, answer) {
                    (Ok(_), Ok(a)) if !a.reply.trim().is_empty() => Verdict::Pass(format!(
                        "{code}: {:?}{}",
                        a.reply.chars().take(60).collect::<String>(),
                        if a.session_open { " (menu)" } else { "" }
                    )),
                    (Ok(_), Ok(_)) => Verdict::Fail(format!("{code}: an empty answer")),
                    (Err(e), _) => Verdict::Fail(format!("the send beside it: {e}")),
                    (_, Err(e)) => Verdict::Fail(format!("{code}: {e}")),
                }
            }
        }
    });
    scenario!(
        "fault: no answer",
        b.fault_then_traffic(Fault::NoAnswer, 10).await
    );
    scenario!(
        "fault: garbage",
        b.fault_then_traffic(
            Fault::Garbage {
                bytes: 32,
                count: Some(3)
            },
            11
        )
        .await
    );
    scenario!(
        "fault: +CMS ERROR 500 (retryable)",
        b.fault_then_traffic(
            Fault::CmsError {
                code: 500,
                count: Some(2)
            },
            12
        )
        .await
    );
    scenario!(
        "fault: unplug and replug",
        b.fault_then_traffic(Fault::Unplug { duration_ms: 1000 }, 13)
            .await
    );
    scenario!(
        "fault: reboot",
        b.fault_then_traffic(Fault::Reboot, 14).await
    );
    scenario!(
        "fault: URC noise",
        b.fault_then_traffic(Fault::UrcNoise { interval_ms: 50 }, 15)
            .await
    );
    scenario!(
        "fault: URC inside the prompt",
        b.fault_then_traffic(Fault::UrcInPrompt, 16).await
    );

    let passed = results
        .iter()
        .filter(|r| matches!(r.1, Verdict::Pass(_)))
        .count();
    let failed = results
        .iter()
        .filter(|r| matches!(r.1, Verdict::Fail(_)))
        .count();
    let skipped = results.len() - passed - failed;
    // The drivers go first: the next model's modems may get the same
    // pseudo-terminal numbers, and nobody else may open them.
    b.pool.shutdown().await;
    if let Some(emu) = &b.emulator {
        emu.shutdown();
    }
    progress.finish_and_clear();
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    let mode = if hardware {
        format!("real modems ({})", env("HIL_PORTS").unwrap_or_default())
    } else {
        format!("emulated network, model {}", model.unwrap_or("generic"))
    };
    (
        i32::from(failed > 0),
        markdown(&mode, &modems, &results, started.elapsed()),
    )
}

fn main() {
    let code = actix::System::new().block_on(run());
    std::process::exit(code);
}
