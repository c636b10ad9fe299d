//! `modems`: each configured modem asked, read-only, what `smsgate probe`
//! asks ([`crate::modem::probe`]): does it answer, is the SIM ready, is it
//! registered, how is the signal, how full is the SIM's SMS storage. A port
//! another program holds is not opened; one the running service holds is
//! left to it (its state is on /admin).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::checks::{PortFact, Ports, NO_MODEM, PLUG_IN};
use super::{Check, Env, Finding, Status};
use crate::config::Config;
use crate::modem::probe::{probe, ProbeError, ProbeReport};

/// The longest one modem may take (a silent port takes 3 s to give up;
/// a slow modem answers each command within a few seconds).
const PER_MODEM: Duration = Duration::from_secs(20);

/// What to do about one modem.
enum Plan {
    /// Nothing to probe: the finding says why.
    Done(Finding),
    /// Probe this port (under the root).
    Probe { label: String, path: PathBuf },
    /// `port = "auto"`: find the port with this IMEI, then probe it.
    Find {
        label: String,
        imei: String,
        candidates: Vec<(String, PathBuf)>,
    },
}

/// `modems`.
pub(super) fn check(env: &Env, cfg: Option<&Config>, ports: Option<&Ports>) -> Check {
    const ID: &str = "modems";
    let (Some(cfg), Some(ports)) = (cfg, ports) else {
        return Check::skipped(ID, "the configuration could not be loaded (see `config`)");
    };
    if cfg.modem.is_empty() {
        return Check::skipped(ID, NO_MODEM);
    }
    let mut plans = Vec::new();
    for (i, m) in cfg.modem.iter().enumerate() {
        let facts: Vec<&PortFact> = ports
            .facts
            .iter()
            .filter(|f| f.modems.contains(&i))
            .collect();
        let label = format!("modem[{i}] {}", m.short_code);
        let plan = if m.port == "auto" {
            plan_auto(&label, m.imei.clone().unwrap_or_default(), &facts)
        } else {
            match facts.first() {
                Some(fact) => plan_port(&format!("{label} on {}", fact.shown), fact),
                None => Plan::Done(Finding::new(
                    Status::Error,
                    format!("{label} on {}: not probed (port not looked at)", m.port),
                    Some(PLUG_IN.into()),
                )),
            }
        };
        plans.push((i, plan));
    }
    let findings = run_plans(cfg, plans, env.probe_budget);
    Check::combine(ID, findings, NO_MODEM)
}

fn held_by_service(label: &str) -> Finding {
    Finding::new(
        Status::Skipped,
        format!("{label}: held by the running service; see /admin"),
        None,
    )
}

fn plan_port(label: &str, fact: &PortFact) -> Plan {
    if fact.meta.is_none() {
        return Plan::Done(Finding::new(
            Status::Error,
            format!("{label}: does not exist, not probed"),
            Some(PLUG_IN.into()),
        ));
    }
    if let Some(h) = fact.foreign_holders().next() {
        return Plan::Done(Finding::new(
            Status::Error,
            format!(
                "{label}: held open by {} (pid {}), not probed",
                h.comm, h.pid
            ),
            Some(format!("stop {} (pid {}); see `ports`", h.comm, h.pid)),
        ));
    }
    if fact.holders.iter().any(|h| h.is_smsgate()) {
        return Plan::Done(held_by_service(label));
    }
    Plan::Probe {
        label: label.to_string(),
        path: fact.path.clone(),
    }
}

fn plan_auto(label: &str, imei: String, facts: &[&PortFact]) -> Plan {
    let label = format!("{label} (auto, IMEI {imei})");
    if facts.is_empty() {
        return Plan::Done(Finding::new(
            Status::Error,
            format!("{label}: no USB serial port to look for it on"),
            Some(PLUG_IN.into()),
        ));
    }
    if facts
        .iter()
        .any(|f| f.holders.iter().any(|h| h.is_smsgate()))
    {
        return Plan::Done(held_by_service(&label));
    }
    let candidates: Vec<(String, PathBuf)> = facts
        .iter()
        .filter(|f| f.meta.is_some() && f.foreign_holders().next().is_none())
        .map(|f| (f.shown.clone(), f.path.clone()))
        .collect();
    if candidates.is_empty() {
        return Plan::Done(Finding::new(
            Status::Error,
            format!("{label}: every USB serial port is held open by another program, not probed"),
            Some("see `ports`".into()),
        ));
    }
    Plan::Find {
        label,
        imei,
        candidates,
    }
}

/// Runs the probes on a runtime of their own (in a thread of its own, so
/// the caller may be inside a runtime or not), within `budget` in all.
fn run_plans(cfg: &Config, plans: Vec<(usize, Plan)>, budget: Duration) -> Vec<Finding> {
    std::thread::scope(|s| {
        let worker = s.spawn(|| {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    return vec![Finding::new(
                        Status::Skipped,
                        format!("cannot start the runtime to probe: {e}"),
                        None,
                    )]
                }
            };
            rt.block_on(async {
                let start = Instant::now();
                let mut findings = Vec::new();
                for (i, plan) in plans {
                    let m = &cfg.modem[i];
                    let remaining = budget.saturating_sub(start.elapsed());
                    findings.push(match plan {
                        Plan::Done(f) => f,
                        Plan::Probe { label, .. } | Plan::Find { label, .. }
                            if remaining.is_zero() =>
                        {
                            Finding::new(
                                Status::Error,
                                format!("{label}: not probed, the other modems took all the time"),
                                Some("run `smsgate probe PORT` on it".into()),
                            )
                        }
                        Plan::Probe { label, path } => {
                            let limit = remaining.min(PER_MODEM);
                            match tokio::time::timeout(limit, probe(&path, m.baud)).await {
                                Ok(r) => verdict(&label, r, m.pin.is_some()),
                                Err(_) => too_slow(&label, limit),
                            }
                        }
                        Plan::Find {
                            label,
                            imei,
                            candidates,
                        } => {
                            let limit = remaining.min(PER_MODEM);
                            let paths = candidates.iter().map(|(_, p)| p.clone()).collect();
                            let found = async {
                                let path = crate::modem::discovery::find_by_imei(&imei, m.baud, paths)
                                    .await?;
                                Ok::<_, crate::modem::discovery::DiscoveryError>(path)
                            };
                            match tokio::time::timeout(limit, found).await {
                                Err(_) => too_slow(&label, limit),
                                Ok(Err(e)) => Finding::new(
                                    Status::Error,
                                    format!("{label}: {e}"),
                                    Some("check `imei` of this [[modem]] against `smsgate probe PORT` of each port, and that the modem is plugged in".into()),
                                ),
                                Ok(Ok(path)) => {
                                    let shown = candidates
                                        .iter()
                                        .find(|(_, p)| *p == path)
                                        .map_or_else(|| path.display().to_string(), |(s, _)| s.clone());
                                    let label = format!("{label} on {shown}");
                                    let left = budget.saturating_sub(start.elapsed()).min(PER_MODEM);
                                    match tokio::time::timeout(left, probe(&path, m.baud)).await {
                                        Ok(r) => verdict(&label, r, m.pin.is_some()),
                                        Err(_) => too_slow(&label, left),
                                    }
                                }
                            }
                        }
                    });
                }
                findings
            })
        });
        worker.join().unwrap_or_else(|_| {
            vec![Finding::new(
                Status::Error,
                "the probe failed unexpectedly",
                Some("run `smsgate probe PORT` on each modem".into()),
            )]
        })
    })
}

/// Whether this process runs as root (effective uid 0).
fn running_as_root() -> bool {
    // SAFETY: geteuid(2) takes nothing and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn too_slow(label: &str, limit: Duration) -> Finding {
    Finding::new(
        Status::Error,
        format!("{label}: no complete answer within {} s", limit.as_secs()),
        Some("unplug and replug the modem (a hung modem often needs power: see `power`); then `smsgate probe PORT`".into()),
    )
}

/// The finding for one probe.
fn verdict(label: &str, result: Result<ProbeReport, ProbeError>, pin_configured: bool) -> Finding {
    match result {
        Ok(report) => assess(label, &report, pin_configured),
        Err(e) => {
            let (status, fix) = match &e {
                ProbeError::NotFound { .. } => (Status::Error, PLUG_IN.to_string()),
                ProbeError::Busy { .. } => (
                    Status::Error,
                    "stop the program that holds it (`ports` names it when run as root; ModemManager? `systemctl stop ModemManager`)".to_string(),
                ),
                // The doctor's own user may not be the service's.
                ProbeError::PermissionDenied { .. } if !running_as_root() => (
                    Status::Warn,
                    "run it as root: `sudo smsgate doctor`".to_string(),
                ),
                ProbeError::PermissionDenied { .. } => (
                    Status::Error,
                    "see `ports` and `dialout`".to_string(),
                ),
                ProbeError::NotAModem { .. } => (
                    Status::Error,
                    "the wrong interface of a multi-port stick (try the next -ifNN of /dev/serial/by-id/), or the wrong `baud` (HATs: often 115200 or 9600); a modem that stopped answering needs power cycling".to_string(),
                ),
                ProbeError::Io { .. } => (
                    Status::Error,
                    "unplug and replug the modem, then `smsgate probe PORT`".to_string(),
                ),
            };
            // The error names the port under the doctor's root; say it once.
            let text = e.to_string();
            let reason = text.split_once(": ").map_or(text.as_str(), |(_, r)| r);
            Finding::new(status, format!("{label}: {reason}"), Some(fix))
        }
    }
}

/// Registration states of `+CREG` (TS 27.007 §7.2) in which SMS work.
fn registered(reg: &str) -> bool {
    matches!(
        reg,
        "home" | "roaming" | "home (SMS only)" | "roaming (SMS only)"
    )
}

/// The finding for a modem that answered.
fn assess(label: &str, r: &ProbeReport, pin_configured: bool) -> Finding {
    let mut status = Status::Ok;
    let mut fixes: Vec<String> = Vec::new();
    let mut raise = |s: Status, fix: String, status: &mut Status| {
        *status = (*status).max(s);
        if !fixes.contains(&fix) {
            fixes.push(fix);
        }
    };
    let who = [r.manufacturer.as_deref(), r.model.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let mut parts = vec![if who.is_empty() {
        "answers".to_string()
    } else {
        format!("{who} answers")
    }];
    parts.push(format!("SIM {}", r.sim));
    let ready = r.sim == "READY";
    match r.sim.as_str() {
        "READY" => {}
        // The service enters the configured PIN when it starts the modem.
        "SIM PIN" if pin_configured => {}
        "SIM PIN" => raise(
            Status::Error,
            "set `pin = \"...\"` on this [[modem]] (the service enters it at start)".into(),
            &mut status,
        ),
        "SIM PUK" => raise(
            Status::Error,
            "unlock the SIM with its PUK in a phone (three wrong PINs locked it), then correct `pin`".into(),
            &mut status,
        ),
        "NOT INSERTED" => raise(
            Status::Error,
            "power off and reseat the SIM (or insert one)".into(),
            &mut status,
        ),
        _ => raise(
            Status::Error,
            "check the SIM in a phone".into(),
            &mut status,
        ),
    }
    const ANTENNA: &str = "antenna and coverage: move the modem (a USB extension cable) or fit an external antenna; `denied` is the operator refusing the SIM";
    if ready {
        match r.registration.as_deref() {
            Some(reg) if registered(reg) => parts.push(match &r.operator {
                Some(op) => format!("registered {reg} ({op})"),
                None => format!("registered {reg}"),
            }),
            Some(reg @ ("searching" | "unknown")) => {
                parts.push(format!("registration {reg}"));
                raise(Status::Warn, ANTENNA.into(), &mut status);
            }
            Some(reg) => {
                parts.push(format!("registration {reg}"));
                raise(Status::Error, ANTENNA.into(), &mut status);
            }
            None => parts.push("registration unknown".into()),
        }
    }
    match r.signal {
        Some(s) if s.rssi == 99 => {
            parts.push("signal unknown (rssi 99)".into());
            if ready {
                raise(Status::Warn, ANTENNA.into(), &mut status);
            }
        }
        Some(s) => {
            let dbm = s.dbm.map_or_else(String::new, |d| format!("{d} dBm, "));
            parts.push(format!("signal {dbm}{}/5 bars", s.bars));
            if s.bars <= 1 {
                raise(Status::Warn, ANTENNA.into(), &mut status);
            }
        }
        None => parts.push("signal -".into()),
    }
    if let Some(storage) = &r.storage {
        // Where received messages go (mem3), else the read storage.
        let mem = storage.mem3.as_ref().unwrap_or(&storage.mem1);
        parts.push(format!(
            "SMS storage {} {}/{}",
            mem.name, mem.used, mem.total
        ));
        if mem.total > 0 && mem.used >= mem.total {
            raise(
                Status::Warn,
                "the SIM's SMS storage is full, so new messages wait in the network: smsgate empties it as it reads; if it stays full, see docs/operations.md (`AT+CMGD=1,4`)".into(),
                &mut status,
            );
        }
    }
    Finding::new(
        status,
        format!("{label}: {}", parts.join(", ")),
        (!fixes.is_empty()).then(|| fixes.join("; ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modem::probe::{MemReport, Signal, Storage};

    fn report() -> ProbeReport {
        ProbeReport {
            port: "/dev/ttyUSB0".into(),
            manufacturer: Some("huawei".into()),
            model: Some("E173".into()),
            firmware: None,
            imei: Some("350000000000001".into()),
            imsi: None,
            iccid: None,
            sim: "READY".into(),
            signal: Some(Signal::from_rssi(20)),
            registration: Some("home".into()),
            operator: Some("Claro DO".into()),
            storage: Some(Storage {
                mem1: MemReport {
                    name: "SM".into(),
                    used: 3,
                    total: 30,
                },
                mem2: None,
                mem3: None,
            }),
            profile: "huawei".into(),
            ussd: None,
        }
    }

    #[test]
    fn a_healthy_modem_is_ok_with_what_it_said() {
        let f = assess("modem[0]", &report(), false);
        assert_eq!(f.status, Status::Ok, "{f:?}");
        assert_eq!(
            f.message,
            "modem[0]: huawei E173 answers, SIM READY, registered home (Claro DO), signal -73 dBm, 4/5 bars, SMS storage SM 3/30"
        );
        assert_eq!(f.fix, None);
    }

    #[test]
    fn full_storage_warns() {
        let mut r = report();
        r.storage.as_mut().unwrap().mem1.used = 30;
        let f = assess("m", &r, false);
        assert_eq!(f.status, Status::Warn);
        assert!(f.message.contains("SM 30/30"));
        assert!(f.fix.unwrap().contains("full"));
    }

    #[test]
    fn sim_and_registration_faults() {
        let mut r = report();
        r.sim = "SIM PIN".into();
        let f = assess("m", &r, false);
        assert_eq!(f.status, Status::Error);
        assert!(f.fix.unwrap().contains("pin = "));
        // With a PIN configured the service enters it: not a fault.
        assert_eq!(assess("m", &r, true).status, Status::Ok);
        r.sim = "NOT INSERTED".into();
        assert!(assess("m", &r, false).fix.unwrap().contains("reseat"));

        let mut r = report();
        r.registration = Some("denied".into());
        assert_eq!(assess("m", &r, false).status, Status::Error);
        r.registration = Some("searching".into());
        assert_eq!(assess("m", &r, false).status, Status::Warn);
        r.registration = Some("roaming (SMS only)".into());
        assert_eq!(assess("m", &r, false).status, Status::Ok);

        let mut r = report();
        r.signal = Some(Signal::from_rssi(3));
        assert_eq!(assess("m", &r, false).status, Status::Warn);
        r.signal = Some(Signal::from_rssi(99));
        assert_eq!(assess("m", &r, false).status, Status::Warn);
    }

    #[test]
    fn probe_errors_name_the_reason_once() {
        let f = verdict(
            "modem[0] on /dev/ttyUSB0",
            Err(ProbeError::NotAModem {
                port: "/tmp/root/dev/ttyUSB0".into(),
            }),
            false,
        );
        assert_eq!(f.status, Status::Error);
        assert_eq!(
            f.message,
            "modem[0] on /dev/ttyUSB0: not a modem: no answer to AT within 3s"
        );
        assert!(f.fix.unwrap().contains("baud"));
    }
}
