//! The modem fault matrix (issue #8): each fault kind of the emulator is
//! injected into modem 0 of three while traffic flows both ways through the
//! whole gateway. For every fault:
//!
//! - nothing is lost: every send reaches its phone exactly once, or — only
//!   when the network refuses it for good — is reported failed with the
//!   reason; every reply reaches its session exactly once and is charged
//!   exactly once (R3, R10 of ../shared/SPEC.md);
//! - modem 0 recovers once the fault is over: a fresh send and a fresh
//!   reply both get through;
//! - modems 1 and 2 carry traffic both ways while modem 0 is faulted.
//!
//! Time-to-recover (from the fault clearing, or from a one-shot fault, to
//! the fresh send confirmed *and* the fresh reply in its session) is printed
//! per fault and recorded in docs/reliability.md; it is never asserted, as
//! the machines that run this are noisy: waits are bounded by [`WITHIN`].
//!
//! Each case has its own emulated network, store and gateway, and all cases
//! run at once, so the file takes about as long as its slowest case (the
//! 10 s `+CMGS`). The modems run with the generic profile's settings, as on
//! an appliance, and are opened through stable links as with
//! `/dev/serial/by-id`: the figures are the product's, not a test tuning's.
//!
//! `-- --nocapture` shows the table; `FAULTS_ONLY=<text>` runs the cases
//! whose name contains it; `FAULTS_TRANSCRIPT=1` prints modem 0's AT
//! transcript when a case fails; `RUST_LOG=smsgate=debug` the logs.

mod common;

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::rig::{Drivers, Rig, Setup};
use common::try_eventually_async;
use smsgate::emulator::dce::Settings;
use smsgate::emulator::faults::Fault;
use smsgate::emulator::network::PartOrder;
use smsgate::gateway::api::{GatewayApi, SendRequest, SessionView};
use tokio::time::Instant;

/// Bound of every wait (liveness, never a measurement).
const WITHIN: Duration = Duration::from_secs(30);
/// How long a fault that is cleared stays at least.
const HOLD: Duration = Duration::from_secs(3);
/// The phone served by modem 0 (its session is bound to short code 0).
const P: &str = "+18095551001";
/// A phone bound to all three short codes, by three sessions.
const Q: &str = "+18095552002";
const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// How a fault ends.
#[derive(Clone, Copy)]
enum Ends {
    /// `clear_faults` (and the default settings back) once held `hold` and
    /// once modems 1 and 2 are done.
    Cleared { hold: Duration },
    /// Over by itself `after` its injection (an unplug: when the port is
    /// back; a reboot: at once).
    OneShot { after: Duration },
}

/// One row of the matrix.
struct Case {
    name: &'static str,
    faults: Vec<Fault>,
    /// Settings of modem 0 while faulted.
    settings: Option<Settings>,
    /// Settings of modem 0 once the fault is over (default when absent).
    after: Option<Settings>,
    ends: Ends,
    /// Web sends to `P` (modem 0) and replies from `P` while faulted.
    sends: usize,
    replies: usize,
    /// How many of those sends the network refuses for good.
    refused: usize,
}

impl Case {
    fn fault(name: &'static str, fault: Fault, ends: Ends) -> Case {
        Case {
            name,
            faults: vec![fault],
            settings: None,
            after: None,
            ends,
            sends: 3,
            replies: 3,
            refused: 0,
        }
    }

    fn settings(name: &'static str, settings: Settings, ends: Ends) -> Case {
        Case {
            faults: vec![],
            settings: Some(settings),
            ..Case::fault(name, Fault::NoAnswer, ends)
        }
    }

    fn cms(name: &'static str, code: u16, count: u32, refused: usize) -> Case {
        Case {
            refused,
            ..Case::fault(
                name,
                Fault::CmsError {
                    code,
                    count: Some(count),
                },
                Ends::Cleared { hold: HOLD },
            )
        }
    }
}

fn matrix() -> Vec<Case> {
    let held = Ends::Cleared { hold: HOLD };
    let long = Ends::Cleared {
        hold: Duration::from_secs(20),
    };
    vec![
        Case::fault("no answer 3 s", Fault::NoAnswer, held),
        Case::fault("no answer 20 s", Fault::NoAnswer, long),
        Case::fault(
            "garbage before every result",
            Fault::Garbage {
                bytes: 24,
                count: None,
            },
            held,
        ),
        // One code per class of TS 27.005 §3.2.5 (see src/at/cms.rs).
        Case::cms("+CMS ERROR: 42 ×6 (network, temporary)", 42, 6, 0),
        Case::cms("+CMS ERROR: 21 ×1 (recipient, permanent)", 21, 1, 1),
        Case::cms("+CMS ERROR: 300 ×3 (ME failure)", 300, 3, 0),
        Case::cms("+CMS ERROR: 313 ×1 (SIM failure)", 313, 1, 0),
        Case::cms("+CMS ERROR: 500 ×3 (unknown)", 500, 3, 0),
        Case::fault(
            "unplug 3 s, replug",
            Fault::Unplug { duration_ms: 3000 },
            Ends::OneShot {
                after: Duration::from_secs(3),
            },
        ),
        Case::fault(
            "unplug 20 s, replug",
            Fault::Unplug {
                duration_ms: 20_000,
            },
            Ends::OneShot {
                after: Duration::from_secs(20),
            },
        ),
        Case::fault(
            "reboot",
            Fault::Reboot,
            Ends::OneShot {
                after: Duration::ZERO,
            },
        ),
        Case::fault(
            "URC noise every 100 ms",
            Fault::UrcNoise { interval_ms: 100 },
            held,
        ),
        Case::fault("URC inside the `> ` prompt", Fault::UrcInPrompt, held),
        Case::fault("deregistration", Fault::Deregister, held),
        Case::fault("SIM busy", Fault::SimBusy, held),
        // More replies than the SIM holds, while the modem answers slowly:
        // the network keeps the rest until the gateway makes room.
        Case {
            after: Some(Settings {
                sm_capacity: 2,
                me_capacity: 2,
                ..Settings::default()
            }),
            replies: 10,
            ..Case::settings(
                "full storage (SM 2, 10 replies, 300 ms latency)",
                Settings {
                    sm_capacity: 2,
                    me_capacity: 2,
                    latency_ms: 300,
                    ..Settings::default()
                },
                held,
            )
        },
        // Held 12 s, so the send made while faulted meets the full 10 s.
        Case {
            sends: 1,
            ..Case::settings(
                "slow +CMGS (10 s)",
                Settings {
                    cmgs_latency_ms: 10_000,
                    ..Settings::default()
                },
                Ends::Cleared {
                    hold: Duration::from_secs(12),
                },
            )
        },
    ]
}

/// What one case measured.
struct Row {
    name: &'static str,
    others: Duration,
    send: Duration,
    reply: Duration,
    reconnects: u64,
    rereads: u64,
    outcome: String,
}

#[actix::test]
async fn every_fault_loses_nothing_recovers_and_spares_the_other_modems() {
    let started = Instant::now();
    let only = std::env::var("FAULTS_ONLY").unwrap_or_default();
    let cases: Vec<Case> = matrix()
        .into_iter()
        .filter(|c| c.name.contains(only.as_str()))
        .collect();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    let results =
        futures_util::future::join_all(cases.iter().map(|c| async move { (c.name, run(c).await) }))
            .await;
    let mut table = String::new();
    let _ = writeln!(
        table,
        "\n| fault | modems 1+2 both ways | fresh send | fresh reply | time-to-recover | reconnects | re-read | outcome |\n|---|---|---|---|---|---|---|---|"
    );
    let mut failures = Vec::new();
    for (name, result) in &results {
        match result {
            Ok(r) => {
                let _ = writeln!(
                    table,
                    "| {} | {:.2} s | {:.1} s | {:.1} s | **{:.1} s** | {} | {} | {} |",
                    r.name,
                    r.others.as_secs_f64(),
                    r.send.as_secs_f64(),
                    r.reply.as_secs_f64(),
                    r.send.max(r.reply).as_secs_f64(),
                    r.reconnects,
                    r.rereads,
                    r.outcome
                );
            }
            Err(e) => {
                let _ = writeln!(table, "| {name} | FAILED: {e} |");
                failures.push(format!("{name}: {e}"));
            }
        }
    }
    eprintln!(
        "{table}\n{} cases in {:.1} s",
        results.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The gateway on its own emulated network, modems as on an appliance.
struct Bench(Rig);

impl std::ops::Deref for Bench {
    type Target = Rig;
    fn deref(&self) -> &Rig {
        &self.0
    }
}

async fn bench() -> Result<Bench, String> {
    let mut setup = Setup::new(3);
    setup.drivers = Drivers::Appliance;
    setup.config.limits.sends_per_minute_per_client = 0;
    setup.config.limits.sends_per_hour_per_recipient = 0;
    setup.within = WITHIN;
    Rig::try_start(setup).await.map(Bench)
}

fn req(to: &str, text: &str) -> SendRequest {
    SendRequest {
        to: vec![to.to_string()],
        text: text.to_string(),
        ..Default::default()
    }
}

/// The status of the message `text` to `to` in a session view.
fn status(view: &SessionView, text: &str, to: &str) -> Option<(String, Option<String>)> {
    let m = view.messages.iter().find(|m| m.text == text)?;
    let r = m.recipients.iter().find(|r| r.to == to)?;
    Some((r.status.to_string(), r.reason.clone()))
}

fn settled(status: &str) -> bool {
    matches!(status, "sent" | "delivered" | "failed")
}

impl Bench {
    /// Opens a session with one send to `to`; returns its id once the
    /// phone has it, checking the short code it went out from.
    async fn open(&self, to: &str, text: &str, code: usize) -> Result<String, String> {
        let answer = self
            .gw
            .send(None, req(to, text), CLIENT)
            .await
            .map_err(|e| e.to_string())?;
        let got = answer.recipients[0].short_code.clone();
        if got.as_deref() != Some(self.codes[code].as_str()) {
            return Err(format!("{text:?} bound to {got:?}, not short code {code}"));
        }
        self.on_phone(to, text).await?;
        Ok(answer.session.id)
    }

    async fn send(&self, session: &str, to: &str, text: &str) -> Result<(), String> {
        self.gw
            .send(Some(session.to_string()), req(to, text), CLIENT)
            .await
            .map(|_| ())
            .map_err(|e| format!("{text:?} refused: {e}"))
    }

    fn phone_send(&self, from: &str, code: usize, text: &str) -> Result<(), String> {
        self.emu
            .phone_send(from, &self.codes[code], text, PartOrder::InOrder)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn on_phone_count(&self, to: &str, text: &str) -> usize {
        self.emu
            .inbox(to)
            .iter()
            .filter(|m| m.text == text && m.complete)
            .count()
    }

    async fn on_phone(&self, to: &str, text: &str) -> Result<(), String> {
        try_eventually_async(&format!("{text:?} on {to}"), WITHIN, async || {
            (self.on_phone_count(to, text) > 0).then_some(())
        })
        .await
    }

    /// Waits for the send `text` to be confirmed sent by the gateway and
    /// on the phone.
    async fn confirmed(&self, session: &str, to: &str, text: &str) -> Result<(), String> {
        try_eventually_async(&format!("{text:?} confirmed"), WITHIN, async || {
            let v = self.gw.session(session).await?;
            let (s, _) = status(&v, text, to)?;
            (matches!(s.as_str(), "sent" | "delivered") && self.on_phone_count(to, text) > 0)
                .then_some(())
        })
        .await
    }

    async fn reply_in(&self, session: &str, text: &str) -> Result<(), String> {
        try_eventually_async(
            &format!("reply {text:?} in its session"),
            WITHIN,
            async || {
                let v = self.gw.session(session).await?;
                v.replies.iter().any(|r| r.text == text).then_some(())
            },
        )
        .await
    }

    async fn modem0(&self) -> Result<smsgate::modem::types::ModemStatus, String> {
        self.gw
            .modems()
            .await
            .into_iter()
            .find(|s| s.short_code == self.codes[0])
            .ok_or_else(|| "no modem 0".to_string())
    }
}

async fn run(case: &Case) -> Result<Row, String> {
    let b = bench().await?;
    let result = exercise(case, &b).await;
    if result.is_err() && std::env::var("FAULTS_TRANSCRIPT").is_ok() {
        for t in b.emu.transcript(0).unwrap_or_default() {
            eprintln!("{:>6} {:<10} {}", t.t_ms, t.dir, t.data);
        }
    }
    b.shutdown().await;
    result
}

async fn exercise(case: &Case, b: &Bench) -> Result<Row, String> {
    // R5: a phone's new session takes a short code it does not hold, the
    // one carrying the fewest conversations first. P talks to modem 0; Q
    // is then bound to modem 1 (0 carries P), 2, and last 0.
    let a = b.open(P, "hola P", 0).await?;
    let y = b.open(Q, "hola Q por 1", 1).await?;
    let z = b.open(Q, "hola Q por 2", 2).await?;
    b.open(Q, "hola Q por 0", 0).await?;
    let before = b.modem0().await?;

    let injected = Instant::now();
    if let Some(s) = &case.settings {
        b.emu
            .set_settings(0, s.clone())
            .map_err(|e| e.to_string())?;
    }
    for f in &case.faults {
        b.emu
            .inject_fault(0, f.clone())
            .map_err(|e| e.to_string())?;
    }

    // While faulted: web sends and replies on modem 0, and traffic both
    // ways on modems 1 and 2.
    let faulted_sends: Vec<String> = (0..case.sends).map(|i| format!("a P {i}")).collect();
    let faulted_replies: Vec<String> = (0..case.replies).map(|i| format!("de P {i}")).collect();
    let others = async {
        b.send(&y, Q, "a Q por 1").await?;
        b.send(&z, Q, "a Q por 2").await?;
        b.phone_send(Q, 1, "de Q por 1")?;
        b.phone_send(Q, 2, "de Q por 2")?;
        b.confirmed(&y, Q, "a Q por 1").await?;
        b.confirmed(&z, Q, "a Q por 2").await?;
        b.reply_in(&y, "de Q por 1").await?;
        b.reply_in(&z, "de Q por 2").await?;
        Ok::<Duration, String>(injected.elapsed())
    };
    let faulted = async {
        for (send, reply) in faulted_sends.iter().zip(faulted_replies.iter()) {
            b.send(&a, P, send).await?;
            b.phone_send(P, 0, reply)?;
        }
        for text in faulted_sends.iter().skip(faulted_replies.len()) {
            b.send(&a, P, text).await?;
        }
        for reply in faulted_replies.iter().skip(faulted_sends.len()) {
            b.phone_send(P, 0, reply)?;
        }
        Ok::<(), String>(())
    };
    let (others, faulted) = futures_util::future::join(others, faulted).await;
    let others = others.map_err(|e| format!("modems 1 and 2 while 0 is faulted: {e}"))?;
    faulted?;

    // The fault ends.
    let over = match case.ends {
        Ends::Cleared { hold } => {
            tokio::time::sleep_until(injected + hold).await;
            b.emu
                .set_settings(0, case.after.clone().unwrap_or_default())
                .map_err(|e| e.to_string())?;
            b.emu.clear_faults(0).map_err(|e| e.to_string())?;
            Instant::now()
        }
        Ends::OneShot { after } => {
            tokio::time::sleep_until(injected + after).await;
            injected + after
        }
    };

    // Recovery: a fresh send and a fresh reply on modem 0.
    b.send(&a, P, "a P tras la falla").await?;
    b.phone_send(P, 0, "de P tras la falla")?;
    let (send, reply) = futures_util::future::join(
        async {
            b.confirmed(&a, P, "a P tras la falla").await?;
            Ok::<Duration, String>(over.elapsed())
        },
        async {
            b.reply_in(&a, "de P tras la falla").await?;
            Ok::<Duration, String>(over.elapsed())
        },
    )
    .await;
    let (send, reply) = (send?, reply?);

    // Nothing lost: every send settled, every reply in.
    let view = try_eventually_async("every send settled", WITHIN, async || {
        let v = b.gw.session(&a).await?;
        faulted_sends
            .iter()
            .all(|t| status(&v, t, P).is_some_and(|(s, _)| settled(&s)))
            .then_some(v)
    })
    .await?;
    for text in &faulted_replies {
        b.reply_in(&a, text).await?;
    }
    let mut refused = Vec::new();
    for text in &faulted_sends {
        let (s, reason) = status(&view, text, P).unwrap_or_default();
        let copies = b.on_phone_count(P, text);
        match s.as_str() {
            "failed" => {
                if copies != 0 {
                    return Err(format!("{text:?} reported failed but on the phone"));
                }
                refused.push(reason.unwrap_or_default());
            }
            _ if copies != 1 => return Err(format!("{text:?} {s} but on the phone {copies}×")),
            _ => {}
        }
    }
    if refused.len() != case.refused {
        return Err(format!(
            "{} sends failed ({refused:?}), expected {}",
            refused.len(),
            case.refused
        ));
    }
    // Nothing twice: on the phones, in the sessions, in the charges.
    for phone in [P, Q] {
        let inbox = b.emu.inbox(phone);
        for m in &inbox {
            if inbox.iter().filter(|n| n.text == m.text).count() > 1 {
                return Err(format!("{:?} reached {phone} twice", m.text));
            }
        }
    }
    for session in [&a, &y, &z] {
        let v = b.gw.session(session).await.ok_or("session gone")?;
        for r in &v.replies {
            if v.replies.iter().filter(|s| s.text == r.text).count() > 1 {
                return Err(format!("reply {:?} twice in its session", r.text));
            }
        }
    }
    let mos = case.replies + 1 + 2;
    let charges = b.gw.charge_list(None, None).await.unwrap();
    if charges.len() != mos {
        return Err(format!("{} charges for {mos} replies", charges.len()));
    }
    let after = b.modem0().await?;
    let rereads = (after.received - before.received).saturating_sub(case.replies as u64 + 1);
    let delivered = case.sends - refused.len();
    let mut outcome = format!(
        "{delivered}/{} sends delivered once, {}/{} replies once",
        case.sends, case.replies, case.replies
    );
    if !refused.is_empty() {
        let _ = write!(
            outcome,
            "; {} reported failed: {}",
            refused.len(),
            refused[0]
        );
    }
    Ok(Row {
        name: case.name,
        others,
        send,
        reply,
        reconnects: after.reconnects - before.reconnects,
        rereads,
        outcome,
    })
}
