//! The checks of `smsgate doctor` but `modems` ([`super::modems`]), each a
//! function of what [`super::host`] read, with the parsing of what the
//! firmware and systemd print kept pure for tests.

use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::host::{self, Accounts, Process, Ran};
use super::{Check, Env, Finding, Status, SERVICE_USER};
use crate::config::Config;

/// Why a check that needs the configuration did not run.
const NEEDS_CONFIG: &str = "the configuration could not be loaded (see `config`)";

/// With no `[[modem]]`, `serve` runs the embedded emulated network.
pub(super) const NO_MODEM: &str = "no modem configured: serve runs the embedded emulated network";

/// What to do about a port that is missing or a modem that is silent.
pub(super) const PLUG_IN: &str = "plug the modem in (through a powered USB hub), check `ls -l /dev/serial/by-id/` and `dmesg | tail`, and that `[[modem]] port` names that device";

/// What to do about ModemManager grabbing the modems.
const MM_FIX: &str = "reinstall smsgate (its /lib/udev/rules.d/90-smsgate.rules sets ID_MM_DEVICE_IGNORE=1 on the modems) and run `udevadm control --reload-rules && udevadm trigger`; for a maker the rule does not list, add its vendor id in a copy in /etc/udev/rules.d/; or, if nothing else needs it, `systemctl disable --now ModemManager`";

// ---------------------------------------------------------------- config

/// `config`: the configuration loads and validates, as `smsgate config
/// check` does. Gives the configuration to the checks that need it.
pub(super) fn config(env: &Env) -> (Check, Option<Config>) {
    const ID: &str = "config";
    let file = env.config.clone().or_else(|| {
        let default = env.at("/etc/smsgate/config.toml");
        default.exists().then_some(default)
    });
    let name = file
        .as_deref()
        .map(|p| env.shown(p).display().to_string())
        .unwrap_or_else(|| "defaults (no config file)".into());
    if let Some(f) = &file {
        // The packaged file is 0640 root:smsgate (it holds the admin token).
        if let Err(e) = std::fs::File::open(f) {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                return (
                    Check::warn(
                        ID,
                        format!(
                            "{name}: cannot read it ({e}); the checks that need it are skipped"
                        ),
                        "run it as root: `sudo smsgate doctor`",
                    ),
                    None,
                );
            }
        }
    }
    let fix = match &file {
        Some(_) => format!("correct each key named in {name} (`smsgate config check {name}` lists every problem), then `systemctl restart smsgate`"),
        None => "correct the SMSGATE_SECTION__KEY variables named (`smsgate config check` lists every problem)".to_string(),
    };
    match Config::load_with_env(file.as_deref(), env.vars.clone()) {
        Ok(cfg) => {
            // What the session core makes of it (numbers, tariff), as
            // `config check` does.
            if let Err(e) = crate::session::CoreConfig::from_config(&cfg) {
                return (Check::error(ID, format!("{name}: {e}"), fix), None);
            }
            let modems = match cfg.modem.len() {
                0 => NO_MODEM.to_string(),
                1 => "1 modem".to_string(),
                n => format!("{n} modems"),
            };
            (
                Check::ok(ID, format!("{name}: valid ({modems})")),
                Some(cfg),
            )
        }
        Err(e) => {
            let problems = e
                .problems
                .iter()
                .map(|p| {
                    if p.source.starts_with("environment") {
                        format!("{} (from {}): {}", p.key, p.source, p.message)
                    } else {
                        format!("{}: {}", p.key, p.message)
                    }
                })
                .collect::<Vec<_>>()
                .join("; ");
            (Check::error(ID, format!("{name}: {problems}"), fix), None)
        }
    }
}

// ----------------------------------------------------------------- ports

/// A process holding a port open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Holder {
    pub pid: u32,
    pub comm: String,
}

impl Holder {
    /// The service itself (its `comm` is the binary's name).
    pub fn is_smsgate(&self) -> bool {
        self.comm == "smsgate"
    }
}

/// One serial port the configuration uses.
#[derive(Debug, Clone)]
pub(super) struct PortFact {
    /// The `[[modem]]` entries (indexes) that use it.
    pub modems: Vec<usize>,
    /// Found by listing USB serial ports, for `port = "auto"`.
    pub auto: bool,
    /// How many `[[modem]]` name it as their `port` (not `auto`).
    pub explicit: usize,
    /// As on the box (`/dev/ttyUSB0`).
    pub shown: String,
    /// Where it is read (under the root).
    pub path: PathBuf,
    /// `None` when it does not exist.
    pub meta: Option<std::fs::Metadata>,
    pub holders: Vec<Holder>,
}

impl PortFact {
    fn label(&self) -> String {
        let modems = self
            .modems
            .iter()
            .map(|i| format!("modem[{i}]"))
            .collect::<Vec<_>>()
            .join(", ");
        if self.auto {
            format!("{modems} (auto) {}", self.shown)
        } else {
            format!("{modems} {}", self.shown)
        }
    }

    /// Another program than smsgate holds it.
    pub fn foreign_holders(&self) -> impl Iterator<Item = &Holder> {
        self.holders.iter().filter(|h| !h.is_smsgate())
    }
}

/// The ports of every `[[modem]]`, and what could not be looked at.
#[derive(Debug, Clone, Default)]
pub(super) struct Ports {
    pub facts: Vec<PortFact>,
    /// `port = "auto"` modems for which no USB serial port exists.
    pub auto_without_ports: Vec<usize>,
    /// Why open files were not (all) checked, if so.
    pub holders_note: Option<String>,
}

/// The USB serial ports that exist: `/dev/serial/by-id/*` (stable names)
/// first, then `/dev/ttyUSB*` and `/dev/ttyACM*` not already seen through a
/// by-id link. (shown, path under the root).
pub(super) fn usb_serial_ports(env: &Env) -> Vec<(String, PathBuf)> {
    let sorted = |dir: &Path, keep: &dyn Fn(&str) -> bool| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| keep(n))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let by_id = env.at("/dev/serial/by-id");
    for name in sorted(&by_id, &|_| true) {
        out.push((format!("/dev/serial/by-id/{name}"), by_id.join(&name)));
    }
    let dev = env.at("/dev");
    for name in sorted(&dev, &|n| {
        n.starts_with("ttyUSB") || n.starts_with("ttyACM")
    }) {
        out.push((format!("/dev/{name}"), dev.join(&name)));
    }
    out.retain(|(_, path)| {
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        seen.insert(key)
    });
    out
}

/// Every configured port: present or not, its metadata, who holds it.
pub(super) fn port_facts(env: &Env, cfg: &Config, procs: &Result<Vec<Process>, String>) -> Ports {
    let mut ports = Ports::default();
    let mut by_key: BTreeMap<PathBuf, usize> = BTreeMap::new();
    let mut auto_ports: Option<Vec<(String, PathBuf)>> = None;
    for (i, m) in cfg.modem.iter().enumerate() {
        let (auto, candidates) = if m.port == "auto" {
            let found = auto_ports
                .get_or_insert_with(|| usb_serial_ports(env))
                .clone();
            if found.is_empty() {
                ports.auto_without_ports.push(i);
            }
            (true, found)
        } else {
            (false, vec![(m.port.clone(), env.at(&m.port))])
        };
        for (shown, path) in candidates {
            let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if let Some(&k) = by_key.get(&key) {
                let fact: &mut PortFact = &mut ports.facts[k];
                if !fact.modems.contains(&i) {
                    fact.modems.push(i);
                }
                fact.explicit += usize::from(!auto);
                continue;
            }
            by_key.insert(key, ports.facts.len());
            ports.facts.push(PortFact {
                modems: vec![i],
                auto,
                explicit: usize::from(!auto),
                shown,
                meta: std::fs::metadata(&path).ok(),
                path,
                holders: Vec::new(),
            });
        }
    }
    match procs {
        Ok(procs) => {
            let own = std::process::id();
            for fact in &mut ports.facts {
                // The same file under each name /proc may show for it.
                let mut names = vec![PathBuf::from(&fact.shown), fact.path.clone()];
                if let Ok(real) = std::fs::canonicalize(&fact.path) {
                    names.push(env.shown(&real));
                    names.push(real);
                }
                fact.holders = host::holders(procs, &names)
                    .into_iter()
                    .filter(|p| !(env.is_real_root() && p.pid == own))
                    .map(|p| Holder {
                        pid: p.pid,
                        comm: p.comm.clone(),
                    })
                    .collect();
            }
            let hidden = procs.iter().filter(|p| p.fds.is_none()).count();
            if hidden > 0 {
                ports.holders_note = Some(format!(
                    "the open files of {hidden} process(es) could not be read (run as root to see them all)"
                ));
            }
        }
        Err(e) => ports.holders_note = Some(format!("open files not checked ({e})")),
    }
    ports
}

/// `ports`: each configured port exists, the service user may read and
/// write it, and no other program holds it open.
pub(super) fn ports(
    cfg: Option<&Config>,
    ports: Option<&Ports>,
    accounts: &Result<Accounts, String>,
) -> Check {
    const ID: &str = "ports";
    let (Some(cfg), Some(ports)) = (cfg, ports) else {
        return Check::skipped(ID, NEEDS_CONFIG);
    };
    if cfg.modem.is_empty() {
        return Check::skipped(ID, NO_MODEM);
    }
    let user = accounts
        .as_ref()
        .ok()
        .and_then(|a| a.user(SERVICE_USER).map(|u| (a, u)));
    let mut findings = Vec::new();
    for &i in &ports.auto_without_ports {
        findings.push(Finding::new(
            Status::Error,
            format!("modem[{i}] port = \"auto\": no USB serial port (/dev/serial/by-id/*, /dev/ttyUSB*, /dev/ttyACM*)"),
            Some(PLUG_IN.into()),
        ));
    }
    for fact in &ports.facts {
        let label = fact.label();
        let Some(meta) = &fact.meta else {
            findings.push(Finding::new(
                Status::Error,
                format!("{label}: does not exist"),
                Some(PLUG_IN.into()),
            ));
            continue;
        };
        // What is wrong with this port first, then what is fine.
        let mut problems: Vec<String> = Vec::new();
        let mut fixes: Vec<String> = Vec::new();
        let mut notes: Vec<String> = vec!["present".into()];
        if fact.explicit > 1 {
            problems.push("configured for more than one modem".into());
            fixes.push(
                "give each [[modem]] its own port (`udevadm info` tells a stick's ports apart)"
                    .into(),
            );
        }
        for h in &fact.holders {
            if h.is_smsgate() {
                notes.push(format!("in use by the running smsgate (pid {})", h.pid));
            } else {
                problems.push(format!("held open by {} (pid {})", h.comm, h.pid));
                fixes.push(if h.comm == "ModemManager" {
                    MM_FIX.to_string()
                } else {
                    format!(
                        "close {} (pid {}) or `kill {}`: a modem port serves one program at a time",
                        h.comm, h.pid, h.pid
                    )
                });
            }
        }
        if fact.holders.is_empty() {
            notes.push("no other program has it open".into());
        }
        match user {
            Some((accounts, u)) => {
                let owner = format!(
                    "{}:{} {:04o}",
                    accounts.user_name(meta.uid()),
                    accounts.group_name(meta.gid()),
                    meta.mode() & 0o7777
                );
                let gids = accounts.gids_of(u);
                if host::may_read_write(meta.mode(), meta.uid(), meta.gid(), u.uid, &gids) {
                    notes.push(format!(
                        "user {SERVICE_USER} may read and write it ({owner})"
                    ));
                } else {
                    problems.push(format!(
                        "user {SERVICE_USER} may not read and write it ({owner})"
                    ));
                    fixes.push(format!("`adduser {SERVICE_USER} dialout`; the package's udev rule gives modem ports GROUP=\"dialout\", MODE=\"0660\": for a maker it does not list, add the vendor id in a copy in /etc/udev/rules.d/ and run `udevadm control --reload-rules && udevadm trigger`"));
                }
            }
            None => notes.push(format!("access not checked (no user {SERVICE_USER})")),
        }
        let status = if problems.is_empty() {
            Status::Ok
        } else {
            Status::Error
        };
        problems.extend(notes);
        findings.push(Finding::new(
            status,
            format!("{label}: {}", problems.join(", ")),
            (!fixes.is_empty()).then(|| fixes.join("; ")),
        ));
    }
    if let Some(note) = &ports.holders_note {
        findings.push(Finding::new(Status::Ok, note.clone(), None));
    }
    // Problems first, so the line starts with what matters.
    findings.sort_by_key(|f| std::cmp::Reverse(f.status));
    Check::combine(ID, findings, "no port")
}

// ---------------------------------------------------------- modemmanager

/// Udev rule directories, highest priority first: a file in /etc hides
/// one of the same name in /run, /usr/lib or /lib (udev(7) "Rules Files").
const RULE_DIRS: [&str; 4] = [
    "/etc/udev/rules.d",
    "/run/udev/rules.d",
    "/usr/lib/udev/rules.d",
    "/lib/udev/rules.d",
];

/// ModemManager's own rules (`77-mm-usb-device-blacklist.rules`,
/// `80-mm-candidate.rules`...) name ID_MM_DEVICE_IGNORE for other devices.
fn is_modemmanager_rule(name: &str) -> bool {
    name.trim_start_matches(|c: char| c.is_ascii_digit())
        .starts_with("-mm-")
}

/// The rules file (as on the box) that sets ID_MM_DEVICE_IGNORE, the udev
/// property ModemManager's filter obeys: "If the filter finds this tag,
/// the device and/or device ports will be automatically ignored"
/// (ModemManager API reference, "Common udev tags" and "Modem filter",
/// MM_FILTER_RULE_EXPLICIT_BLACKLIST,
/// <https://www.freedesktop.org/software/ModemManager/api/latest/ref-overview-modem-filter.html>).
pub(super) fn ignore_rule(env: &Env) -> Option<String> {
    let mut seen = HashSet::new();
    for dir in RULE_DIRS {
        let Ok(rd) = std::fs::read_dir(env.at(dir)) else {
            continue;
        };
        let mut names: Vec<String> = rd
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.ends_with(".rules"))
            .collect();
        names.sort();
        for name in names {
            // A name seen in a higher directory hides (or, as a link to
            // /dev/null, masks) this one.
            if !seen.insert(name.clone()) || is_modemmanager_rule(&name) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(env.at(dir).join(&name)) else {
                continue;
            };
            let sets_it = text
                .lines()
                .map(str::trim_start)
                .any(|l| !l.starts_with('#') && l.contains("ID_MM_DEVICE_IGNORE"));
            if sets_it {
                return Some(format!("{dir}/{name}"));
            }
        }
    }
    None
}

/// `modemmanager`: ModemManager running while no udev rule keeps it away
/// from the modems.
pub(super) fn modemmanager(
    env: &Env,
    cfg: Option<&Config>,
    procs: &Result<Vec<Process>, String>,
) -> Check {
    const ID: &str = "modemmanager";
    let procs = match procs {
        Ok(p) => p,
        Err(e) => return Check::skipped(ID, format!("{e}: cannot tell whether ModemManager runs")),
    };
    let pids: Vec<String> = procs
        .iter()
        .filter(|p| p.comm == "ModemManager")
        .map(|p| p.pid.to_string())
        .collect();
    if pids.is_empty() {
        return Check::ok(ID, "ModemManager is not running");
    }
    let pids = pids.join(", ");
    match ignore_rule(env) {
        Some(rule) => Check::ok(
            ID,
            format!("ModemManager is running (pid {pids}); {rule} sets ID_MM_DEVICE_IGNORE, so it leaves the modems of the makers listed there alone"),
        ),
        None => {
            let message = format!("ModemManager is running (pid {pids}) and no udev rule sets ID_MM_DEVICE_IGNORE: it opens modem ports, sends AT commands and may read and delete the SMS");
            // With modems configured it is a fault now; on the emulated
            // network it is one as soon as a modem is plugged in.
            if cfg.is_some_and(|c| !c.modem.is_empty()) {
                Check::error(ID, message, MM_FIX)
            } else {
                Check::warn(ID, message, MM_FIX)
            }
        }
    }
}

// --------------------------------------------------------------- dialout

/// `dialout`: the service user exists and is in group `dialout`, which the
/// package's udev rule gives the modem ports.
pub(super) fn dialout(accounts: &Result<Accounts, String>) -> Check {
    const ID: &str = "dialout";
    let accounts = match accounts {
        Ok(a) => a,
        Err(e) => return Check::skipped(ID, e.clone()),
    };
    let Some(user) = accounts.user(SERVICE_USER) else {
        return Check::warn(
            ID,
            format!("no system user {SERVICE_USER} in /etc/passwd"),
            format!("reinstall the package (its postinst creates the user), or `adduser --system --group {SERVICE_USER}` and `adduser {SERVICE_USER} dialout`"),
        );
    };
    if accounts.group("dialout").is_none() {
        return Check::error(
            ID,
            "no group dialout in /etc/group",
            format!("`addgroup --system dialout && adduser {SERVICE_USER} dialout`"),
        );
    }
    if accounts.in_group(user, "dialout") {
        Check::ok(
            ID,
            format!("user {SERVICE_USER} (uid {}) is in group dialout", user.uid),
        )
    } else {
        Check::error(
            ID,
            format!("user {SERVICE_USER} is not in group dialout: it cannot open the modems' serial ports"),
            format!("`adduser {SERVICE_USER} dialout`, then `systemctl restart smsgate`"),
        )
    }
}

// ----------------------------------------------------------------- power

/// The firmware's throttling flags, as `vcgencmd get_throttled` prints
/// them. Bits per the Raspberry Pi documentation ("vcgencmd",
/// `get_throttled`,
/// <https://www.raspberrypi.com/documentation/computers/os.html#get_throttled>):
/// 0 under-voltage detected, 1 ARM frequency capped,
/// 2 currently throttled, 3 soft temperature limit active; 16..=19 the
/// same "has occurred" since boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled(pub u32);

impl Throttled {
    pub const UNDER_VOLTAGE_NOW: u32 = 1 << 0;
    pub const CAPPED_NOW: u32 = 1 << 1;
    pub const THROTTLED_NOW: u32 = 1 << 2;
    pub const SOFT_TEMP_NOW: u32 = 1 << 3;
    pub const UNDER_VOLTAGE_OCCURRED: u32 = 1 << 16;
    pub const CAPPED_OCCURRED: u32 = 1 << 17;
    pub const THROTTLED_OCCURRED: u32 = 1 << 18;
    pub const SOFT_TEMP_OCCURRED: u32 = 1 << 19;

    const NAMES: [(u32, &'static str); 8] = [
        (Self::UNDER_VOLTAGE_NOW, "under-voltage now"),
        (Self::CAPPED_NOW, "ARM frequency capped now"),
        (Self::THROTTLED_NOW, "throttled now"),
        (Self::SOFT_TEMP_NOW, "soft temperature limit now"),
        (Self::UNDER_VOLTAGE_OCCURRED, "under-voltage since boot"),
        (Self::CAPPED_OCCURRED, "frequency capped since boot"),
        (Self::THROTTLED_OCCURRED, "throttled since boot"),
        (
            Self::SOFT_TEMP_OCCURRED,
            "soft temperature limit since boot",
        ),
    ];

    /// The set flags in words.
    pub fn flags(self) -> Vec<&'static str> {
        Self::NAMES
            .iter()
            .filter(|(bit, _)| self.0 & bit != 0)
            .map(|(_, name)| *name)
            .collect()
    }

    pub fn has(self, bit: u32) -> bool {
        self.0 & bit != 0
    }
}

/// The number in `throttled=0x50005` (vcgencmd) or `50005` (the sysfs
/// file, which the kernel's raspberrypi firmware driver prints with
/// `%x`: hex without `0x`).
pub fn parse_throttled(text: &str) -> Option<u32> {
    let t = text.trim();
    let t = t.strip_prefix("throttled=").unwrap_or(t).trim();
    let hex = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if hex.is_empty() {
        return None;
    }
    u32::from_str_radix(hex, 16).ok()
}

/// Power on a Pi is the first suspect when a modem hangs: a GSM burst
/// draws up to 2 A, and the first answer of the SMS Server Tools 3 FAQ
/// (<http://smstools3.kekekasvi.com/index.php?p=faq>) to a modem that hangs
/// is its power supply.
const POWER_FIX: &str = "use a proper supply (the official 5.1 V 3 A Raspberry Pi PSU, 5 A for a Pi 5) and short, thick USB cables, and power the modems from a powered USB hub rather than the Pi's ports";

/// `power` from the flags; `source` says where they were read.
pub fn power_check(bits: u32, source: &str) -> Check {
    const ID: &str = "power";
    let t = Throttled(bits);
    let flags = t.flags();
    if flags.is_empty() {
        return Check::ok(
            ID,
            format!("no under-voltage or throttling since boot ({source}: {bits:#x})"),
        );
    }
    let message = format!("{} ({source}: {bits:#x})", flags.join(", "));
    let under_voltage = t.has(Throttled::UNDER_VOLTAGE_NOW | Throttled::UNDER_VOLTAGE_OCCURRED);
    let fix = if under_voltage {
        POWER_FIX.to_string()
    } else {
        format!("cool the Pi (a heatsink or fan, air around the case; `vcgencmd measure_temp`); if that is not it, {POWER_FIX}")
    };
    if t.has(Throttled::UNDER_VOLTAGE_NOW) {
        Check::error(ID, message, fix)
    } else {
        Check::warn(ID, message, fix)
    }
}

/// `power` (Raspberry Pi): the firmware's throttled flags from sysfs, else
/// from `vcgencmd get_throttled`.
pub(super) fn power(env: &Env) -> Check {
    const ID: &str = "power";
    const SYSFS: &str = "/sys/devices/platform/soc/soc:firmware/get_throttled";
    let mut unreadable = None;
    match std::fs::read_to_string(env.at(SYSFS)) {
        Ok(text) => match parse_throttled(&text) {
            Some(bits) => return power_check(bits, SYSFS),
            None => unreadable = Some(format!("{SYSFS} holds `{}`", text.trim())),
        },
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            unreadable = Some(format!("{SYSFS}: {e}"))
        }
        Err(_) => {}
    }
    match host::run_command("vcgencmd", &["get_throttled"], env.command_timeout) {
        Ran::Output(text) => match parse_throttled(&text) {
            Some(bits) => power_check(bits, "vcgencmd get_throttled"),
            None => Check::skipped(
                ID,
                format!("vcgencmd get_throttled printed `{}`", text.trim()),
            ),
        },
        Ran::Absent => Check::skipped(
            ID,
            unreadable.unwrap_or_else(|| {
                "not a Raspberry Pi (no get_throttled in sysfs, no vcgencmd)".into()
            }),
        ),
        Ran::Failed(e) => Check::skipped(ID, format!("vcgencmd get_throttled failed: {e}")),
        Ran::TimedOut => Check::skipped(ID, "vcgencmd get_throttled did not answer"),
    }
}

// ----------------------------------------------------------------- clock

const CLOCK_FIX: &str = "`timedatectl set-ntp true` (systemd-timesyncd) and let the box reach an NTP server (UDP port 123); a Pi has no battery-backed clock and boots at the last saved time";

/// `clock` from whether the clock is synchronised and the time zone.
pub fn clock_check(synchronised: bool, timezone: &str, source: &str) -> Check {
    const ID: &str = "clock";
    if synchronised {
        Check::ok(ID, format!("synchronised ({source}); time zone {timezone}"))
    } else {
        Check::warn(
            ID,
            format!("not synchronised ({source}); time zone {timezone}: SMS timestamps and session deadlines go wrong"),
            CLOCK_FIX,
        )
    }
}

/// The time zone from `/etc/timezone`, else the `/etc/localtime` link.
fn timezone_from_files(env: &Env) -> String {
    if let Ok(tz) = std::fs::read_to_string(env.at("/etc/timezone")) {
        if !tz.trim().is_empty() {
            return tz.trim().to_string();
        }
    }
    std::fs::read_link(env.at("/etc/localtime"))
        .ok()
        .and_then(|l| {
            let l = l.to_string_lossy().into_owned();
            l.split_once("zoneinfo/").map(|(_, tz)| tz.to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Whether the kernel clock is synchronised: adjtimex(2) with no modes
/// only reads; `STA_UNSYNC` in `status`, or the `TIME_ERROR` state, means
/// it is not.
fn kernel_synchronised() -> Option<bool> {
    // SAFETY: `timex` is plain integers, valid all zero; with `modes` 0
    // adjtimex only fills it in.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    let state = unsafe { libc::adjtimex(&mut tx) };
    if state < 0 {
        return None;
    }
    Some(state != libc::TIME_ERROR && tx.status & libc::STA_UNSYNC == 0)
}

/// `clock`: `timedatectl show` (NTPSynchronized, Timezone; timedatectl(1)
/// "show" prints them as `key=value`), else the kernel's view through
/// adjtimex.
pub(super) fn clock(env: &Env) -> Check {
    let ran = host::run_command(
        "timedatectl",
        &["show", "-p", "NTPSynchronized", "-p", "Timezone"],
        env.command_timeout,
    );
    if let Ran::Output(text) = &ran {
        let kv = host::key_values(text);
        if let Some(synced) = kv.get("NTPSynchronized") {
            let tz = kv
                .get("Timezone")
                .filter(|t| !t.is_empty())
                .cloned()
                .unwrap_or_else(|| timezone_from_files(env));
            return clock_check(synced == "yes", &tz, "timedatectl");
        }
    }
    let tz = timezone_from_files(env);
    match kernel_synchronised() {
        Some(synced) => clock_check(synced, &tz, "kernel adjtimex"),
        None => Check::skipped(
            "clock",
            format!("cannot tell whether the clock is synchronised; time zone {tz}"),
        ),
    }
}

// ----------------------------------------------------------------- store

/// The store directory of the configuration.
fn store_dir(cfg: &Config) -> PathBuf {
    let dir = cfg.store.resolved_dir();
    if dir.is_relative() {
        std::env::current_dir()
            .map(|cwd| cwd.join(&dir))
            .unwrap_or(dir)
    } else {
        dir
    }
}

/// Bytes and files under `dir` (symlinks not followed), to a bounded depth.
fn tree_size(dir: &Path, depth: usize) -> (u64, u64) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return (0, 0);
    };
    let mut total = (0, 0);
    for entry in rd.flatten() {
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        if meta.is_dir() && depth > 0 {
            let (b, n) = tree_size(&entry.path(), depth - 1);
            total = (total.0 + b, total.1 + n);
        } else if meta.is_file() {
            total = (total.0 + meta.len(), total.1 + 1);
        }
    }
    total
}

/// `1.5 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// `store`: the store directory exists and is writable; its size.
pub(super) fn store(cfg: Option<&Config>) -> Check {
    const ID: &str = "store";
    let Some(cfg) = cfg else {
        return Check::skipped(ID, NEEDS_CONFIG);
    };
    let dir = store_dir(cfg);
    let shown = dir.display();
    match std::fs::metadata(&dir) {
        Ok(meta) if !meta.is_dir() => Check::error(
            ID,
            format!("{shown} is not a directory"),
            "point store.dir at a directory (the package uses /var/lib/smsgate)",
        ),
        Ok(_) => {
            let probe = dir.join(format!(".smsgate-doctor-{}", std::process::id()));
            let written = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&probe);
            match written {
                Ok(_) => {
                    let _ = std::fs::remove_file(&probe);
                    let (bytes, files) = tree_size(&dir, 8);
                    Check::ok(
                        ID,
                        format!("{shown}: writable, {} in {files} file(s)", human_bytes(bytes)),
                    )
                }
                Err(e) => Check::error(
                    ID,
                    format!("{shown}: cannot create a file in it ({e})"),
                    format!("`chown -R {SERVICE_USER}:{SERVICE_USER} {shown}` (and a read-only or full filesystem: see `disk`)"),
                ),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = dir.parent().unwrap_or(Path::new("/"));
            let parent_writable = parent.is_dir()
                && nix::unistd::access(parent, nix::unistd::AccessFlags::W_OK).is_ok();
            if parent_writable {
                Check::warn(
                    ID,
                    format!("{shown} does not exist yet (smsgate creates it at first start)"),
                    "`systemctl restart smsgate` creates it; or `smsgate serve` once",
                )
            } else {
                Check::error(
                    ID,
                    format!("{shown} does not exist and {} is not writable, so it cannot be created", parent.display()),
                    format!("`install -d -o {SERVICE_USER} -g {SERVICE_USER} -m 0750 {shown}`, or point store.dir at a writable place"),
                )
            }
        }
        Err(e) => Check::error(
            ID,
            format!("{shown}: {e}"),
            "run it as root: `sudo smsgate doctor`",
        ),
    }
}

// ------------------------------------------------------------------ disk

pub const DISK_WARN_BYTES: u64 = 200 * 1024 * 1024;
pub const DISK_WARN_PERCENT: f64 = 10.0;
pub const DISK_ERROR_BYTES: u64 = 50 * 1024 * 1024;
pub const DISK_ERROR_PERCENT: f64 = 2.0;

/// The verdict for `free` of `total` bytes: error under 2 % or 50 MiB,
/// warn under 10 % or 200 MiB.
pub fn disk_status(free: u64, total: u64) -> Status {
    let percent = if total == 0 {
        100.0
    } else {
        free as f64 * 100.0 / total as f64
    };
    if free < DISK_ERROR_BYTES || percent < DISK_ERROR_PERCENT {
        Status::Error
    } else if free < DISK_WARN_BYTES || percent < DISK_WARN_PERCENT {
        Status::Warn
    } else {
        Status::Ok
    }
}

/// (free, total) bytes of the filesystem holding `path` (statvfs(3):
/// free is what unprivileged users may use, `f_bavail`).
// The block counts are 32-bit on 32-bit targets (armhf), 64-bit elsewhere.
#[allow(clippy::unnecessary_cast)]
pub fn free_space(path: &Path) -> nix::Result<(u64, u64)> {
    let st = nix::sys::statvfs::statvfs(path)?;
    let frsize = st.fragment_size() as u64;
    Ok((
        (st.blocks_available() as u64).saturating_mul(frsize),
        (st.blocks() as u64).saturating_mul(frsize),
    ))
}

/// `disk`: free space of the filesystem that holds (or will hold) the
/// store, from statvfs(3): blocks available to unprivileged users.
pub(super) fn disk(cfg: Option<&Config>) -> Check {
    const ID: &str = "disk";
    let Some(cfg) = cfg else {
        return Check::skipped(ID, NEEDS_CONFIG);
    };
    let dir = store_dir(cfg);
    let Some(existing) = dir.ancestors().find(|p| p.exists()) else {
        return Check::skipped(ID, format!("no existing directory above {}", dir.display()));
    };
    let (free, total) = match free_space(existing) {
        Ok(space) => space,
        Err(e) => return Check::skipped(ID, format!("statvfs {}: {e}", existing.display())),
    };
    let percent = if total == 0 {
        100.0
    } else {
        free as f64 * 100.0 / total as f64
    };
    let message = format!(
        "{} free of {} ({percent:.0} %) on the filesystem of {}",
        human_bytes(free),
        human_bytes(total),
        existing.display()
    );
    let fix = "free space (`journalctl --vacuum-size=100M`, `apt clean`, old files), or move store.dir to a larger disk (with `ReadWritePaths=` in `systemctl edit smsgate`)";
    match disk_status(free, total) {
        Status::Error => Check::error(ID, message, fix),
        Status::Warn => Check::warn(ID, message, fix),
        _ => Check::ok(ID, message),
    }
}

// --------------------------------------------------------------- service

/// Whether `WatchdogUSec` of `systemctl show` means no watchdog: `0`,
/// `infinity` or empty (systemd.service(5) `WatchdogSec=`: "0", the
/// default, disables it). systemctl prints it as a time span (`30s`) or,
/// in older versions, in microseconds.
pub fn watchdog_is_off(value: &str) -> bool {
    let v = value.trim();
    v.is_empty()
        || v == "infinity"
        || v.parse::<u64>().is_ok_and(|n| n == 0)
        || humantime::parse_duration(v).is_ok_and(|d| d.is_zero())
}

/// `service` from the properties of `systemctl show smsgate.service`.
pub fn service_check(kv: &BTreeMap<String, String>) -> Check {
    const ID: &str = "service";
    let get = |k: &str| kv.get(k).map(String::as_str).unwrap_or("");
    if get("LoadState") == "not-found" {
        return Check::warn(
            ID,
            "smsgate.service is not installed",
            "install the smsgate package (`apt install ./smsgate_<version>_arm64.deb`)",
        );
    }
    let Some(active) = kv.get("ActiveState") else {
        return Check::skipped(ID, "systemctl show printed no ActiveState");
    };
    let state = format!("{active} ({})", get("SubState"));
    let mut findings = Vec::new();
    if active == "active" {
        let since = get("ExecMainStartTimestamp");
        findings.push(Finding::new(
            Status::Ok,
            if since.is_empty() || since == "n/a" {
                format!("smsgate.service {state}")
            } else {
                format!("smsgate.service {state} since {since}")
            },
            None,
        ));
    } else {
        findings.push(Finding::new(
            Status::Warn,
            format!("smsgate.service is {state}"),
            Some("`systemctl enable --now smsgate`; if it does not stay up, `journalctl -u smsgate -e` says why".into()),
        ));
    }
    let watchdog = get("WatchdogUSec");
    if watchdog_is_off(watchdog) {
        findings.push(Finding::new(
            Status::Warn,
            "no watchdog (WatchdogUSec is 0): a hung gateway would not be restarted".to_string(),
            Some("the unit sets WatchdogSec=30s: look for a drop-in that clears it (`systemctl cat smsgate`), then `systemctl daemon-reload && systemctl restart smsgate`".into()),
        ));
    } else {
        findings.push(Finding::new(
            Status::Ok,
            format!("watchdog {watchdog}"),
            None,
        ));
    }
    match get("NRestarts").parse::<u64>() {
        Ok(0) => findings.push(Finding::new(Status::Ok, "no restarts", None)),
        Ok(n) => findings.push(Finding::new(
            Status::Warn,
            format!("restarted {n} time(s) by systemd (crash or watchdog timeout)"),
            Some("see why in the journal before each restart: `journalctl -u smsgate -b`; then `systemctl reset-failed smsgate`".into()),
        )),
        Err(_) => {}
    }
    Check::combine(ID, findings, "")
}

/// `service`: `systemctl show smsgate.service`.
pub(super) fn service(env: &Env) -> Check {
    const ID: &str = "service";
    let ran = host::run_command(
        "systemctl",
        &[
            "show",
            "smsgate.service",
            "-p",
            "LoadState",
            "-p",
            "ActiveState",
            "-p",
            "SubState",
            "-p",
            "NRestarts",
            "-p",
            "WatchdogUSec",
            "-p",
            "ExecMainStartTimestamp",
        ],
        env.command_timeout,
    );
    match ran {
        Ran::Output(text) => service_check(&host::key_values(&text)),
        Ran::Absent => Check::skipped(ID, "no systemctl: not a systemd system"),
        Ran::Failed(e) => Check::skipped(ID, format!("not a systemd system? systemctl: {e}")),
        Ran::TimedOut => Check::skipped(ID, "systemctl did not answer"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttled_numbers_from_sysfs_and_vcgencmd() {
        assert_eq!(parse_throttled("throttled=0x50005\n"), Some(0x50005));
        assert_eq!(parse_throttled("0x0"), Some(0));
        // The sysfs file: `%x`, no prefix.
        assert_eq!(parse_throttled("50005\n"), Some(0x50005));
        assert_eq!(parse_throttled("0\n"), Some(0));
        assert_eq!(parse_throttled(""), None);
        assert_eq!(parse_throttled("throttled="), None);
        assert_eq!(
            parse_throttled("error=1 error_msg=\"Command not registered\""),
            None
        );
        assert_eq!(parse_throttled("0x1ffffffff"), None);
    }

    #[test]
    fn throttled_bits_in_words() {
        assert_eq!(
            Throttled(0x50005).flags(),
            vec![
                "under-voltage now",
                "throttled now",
                "under-voltage since boot",
                "throttled since boot"
            ]
        );
        assert_eq!(
            Throttled(0x80008).flags(),
            vec![
                "soft temperature limit now",
                "soft temperature limit since boot"
            ]
        );
        assert!(Throttled(0).flags().is_empty());
        // Bits outside the documented ones name nothing.
        assert!(Throttled(0x10).flags().is_empty());
    }

    #[test]
    fn power_verdicts() {
        let now = power_check(0x50005, "vcgencmd get_throttled");
        assert_eq!(now.status, Status::Error);
        assert!(now.message.contains("under-voltage now"), "{}", now.message);
        assert!(now.message.contains("0x50005"), "{}", now.message);
        let fix = now.fix.unwrap();
        assert!(
            fix.contains("5.1 V 3 A") && fix.contains("powered USB hub"),
            "{fix}"
        );
        assert!(fix.contains("short, thick USB cables"), "{fix}");

        let since_boot = power_check(0x50000, "x");
        assert_eq!(since_boot.status, Status::Warn);
        assert!(since_boot.fix.unwrap().contains("5.1 V 3 A"));

        let hot = power_check(0x80008, "x");
        assert_eq!(hot.status, Status::Warn);
        assert!(hot.fix.unwrap().contains("heatsink"));

        let fine = power_check(0, "x");
        assert_eq!((fine.status, fine.fix), (Status::Ok, None));
    }

    #[test]
    fn clock_verdicts() {
        let ok = clock_check(true, "America/Santo_Domingo", "timedatectl");
        assert_eq!(ok.status, Status::Ok);
        assert!(ok.message.contains("America/Santo_Domingo"));
        let off = clock_check(false, "Etc/UTC", "timedatectl");
        assert_eq!(off.status, Status::Warn);
        assert!(off.message.contains("Etc/UTC"));
        assert!(off.fix.unwrap().contains("timedatectl set-ntp true"));
    }

    #[test]
    fn kernel_clock_read_does_not_fail() {
        // Whatever the answer, adjtimex with no modes reads without error.
        assert!(kernel_synchronised().is_some());
    }

    fn kv(text: &str) -> BTreeMap<String, String> {
        host::key_values(text)
    }

    #[test]
    fn watchdog_values() {
        for off in ["0", "", "infinity", "0s", "  0 "] {
            assert!(watchdog_is_off(off), "{off:?}");
        }
        for on in ["30s", "30000000", "1min 30s"] {
            assert!(!watchdog_is_off(on), "{on:?}");
        }
    }

    #[test]
    fn service_verdicts() {
        let healthy = service_check(&kv(
            "ActiveState=active\nSubState=running\nNRestarts=0\nWatchdogUSec=30s\nExecMainStartTimestamp=Tue 2024-01-02 10:00:00 UTC\n",
        ));
        assert_eq!(healthy.status, Status::Ok, "{healthy:?}");
        assert!(healthy
            .message
            .contains("active (running) since Tue 2024-01-02"));
        assert_eq!(healthy.fix, None);

        let restarted = service_check(&kv(
            "ActiveState=active\nSubState=running\nNRestarts=3\nWatchdogUSec=30s\n",
        ));
        assert_eq!(restarted.status, Status::Warn);
        assert!(
            restarted.message.contains("restarted 3 time"),
            "{}",
            restarted.message
        );
        assert!(restarted.fix.unwrap().contains("journalctl -u smsgate"));

        let stopped = service_check(&kv(
            "ActiveState=inactive\nSubState=dead\nNRestarts=0\nWatchdogUSec=30s\n",
        ));
        assert_eq!(stopped.status, Status::Warn);
        assert!(stopped
            .fix
            .unwrap()
            .contains("systemctl enable --now smsgate"));

        let no_watchdog = service_check(&kv(
            "ActiveState=active\nSubState=running\nNRestarts=0\nWatchdogUSec=infinity\n",
        ));
        assert_eq!(no_watchdog.status, Status::Warn);
        assert!(no_watchdog.message.contains("no watchdog"));

        let missing = service_check(&kv("LoadState=not-found\nActiveState=inactive\n"));
        assert_eq!(missing.status, Status::Warn);
        assert!(missing.message.contains("not installed"));

        assert_eq!(service_check(&kv("garbage")).status, Status::Skipped);
    }

    #[test]
    fn disk_thresholds() {
        const MIB: u64 = 1024 * 1024;
        const GIB: u64 = 1024 * MIB;
        assert_eq!(disk_status(10 * GIB, 30 * GIB), Status::Ok);
        // Under 10 %.
        assert_eq!(disk_status(2 * GIB, 30 * GIB), Status::Warn);
        // Under 200 MiB on a small disk with a large share free.
        assert_eq!(disk_status(150 * MIB, 500 * MIB), Status::Warn);
        // Under 2 %.
        assert_eq!(disk_status(500 * MIB, 30 * GIB), Status::Error);
        // Under 50 MiB.
        assert_eq!(disk_status(40 * MIB, 100 * MIB), Status::Error);
        assert_eq!(disk_status(0, 0), Status::Error);
    }

    #[test]
    fn sizes_in_words() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(200 * 1024 * 1024), "200.0 MiB");
    }

    fn fake_root() -> (tempfile::TempDir, Env) {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::new(dir.path(), None);
        (dir, env)
    }

    fn write(env: &Env, path: &str, text: &str) {
        let p = env.at(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn the_ignore_rule_is_found_and_modemmanagers_own_rules_are_not_it() {
        let (_dir, env) = fake_root();
        write(
            &env,
            "/lib/udev/rules.d/77-mm-usb-device-blacklist.rules",
            "ATTRS{idVendor}==\"0403\", ENV{ID_MM_DEVICE_IGNORE}=\"1\"\n",
        );
        write(
            &env,
            "/lib/udev/rules.d/60-other.rules",
            "# ID_MM_DEVICE_IGNORE in a comment\n",
        );
        assert_eq!(ignore_rule(&env), None);
        write(
            &env,
            "/usr/lib/udev/rules.d/90-smsgate.rules",
            "ENV{ID_MM_DEVICE_IGNORE}=\"1\", GROUP=\"dialout\"\n",
        );
        assert_eq!(
            ignore_rule(&env).as_deref(),
            Some("/usr/lib/udev/rules.d/90-smsgate.rules")
        );
        // A file of the same name in /etc hides it.
        write(&env, "/etc/udev/rules.d/90-smsgate.rules", "");
        assert_eq!(ignore_rule(&env), None);
        assert!(is_modemmanager_rule("80-mm-candidate.rules"));
        assert!(!is_modemmanager_rule("90-smsgate.rules"));
    }

    fn procs(list: &[(u32, &str)]) -> Result<Vec<Process>, String> {
        Ok(list
            .iter()
            .map(|&(pid, comm)| Process {
                pid,
                comm: comm.into(),
                fds: Some(Vec::new()),
            })
            .collect())
    }

    #[test]
    fn modemmanager_verdicts() {
        let (_dir, env) = fake_root();
        let with_modem: Config =
            toml::from_str("[[modem]]\nport = \"/dev/ttyUSB0\"\nshort_code = \"+18095550100\"\n")
                .unwrap();
        let none = Config::default();
        let c = modemmanager(&env, Some(&none), &procs(&[(1, "systemd")]));
        assert_eq!(
            (c.status, c.message.as_str()),
            (Status::Ok, "ModemManager is not running")
        );
        let c = modemmanager(&env, Some(&with_modem), &procs(&[(812, "ModemManager")]));
        assert_eq!(c.status, Status::Error);
        assert!(c.message.contains("pid 812"));
        assert!(c
            .fix
            .unwrap()
            .contains("systemctl disable --now ModemManager"));
        let c = modemmanager(&env, Some(&none), &procs(&[(812, "ModemManager")]));
        assert_eq!(c.status, Status::Warn);
        write(
            &env,
            "/lib/udev/rules.d/90-smsgate.rules",
            "ENV{ID_MM_DEVICE_IGNORE}=\"1\"\n",
        );
        let c = modemmanager(&env, Some(&with_modem), &procs(&[(812, "ModemManager")]));
        assert_eq!(c.status, Status::Ok);
        assert!(c.message.contains("/lib/udev/rules.d/90-smsgate.rules"));
        let c = modemmanager(&env, None, &Err("cannot list /proc".into()));
        assert_eq!(c.status, Status::Skipped);
    }

    #[test]
    fn dialout_verdicts() {
        let acc = |passwd: &str, group: &str| -> Result<Accounts, String> {
            Ok(Accounts {
                users: host::parse_passwd(passwd),
                groups: host::parse_group(group),
            })
        };
        let user = "smsgate:x:999:996::/var/lib/smsgate:/usr/sbin/nologin\n";
        let ok = dialout(&acc(user, "dialout:x:20:smsgate\nsmsgate:x:996:\n"));
        assert_eq!(ok.status, Status::Ok);
        let out = dialout(&acc(user, "dialout:x:20:pi\nsmsgate:x:996:\n"));
        assert_eq!(out.status, Status::Error);
        assert_eq!(
            out.fix.as_deref(),
            Some("`adduser smsgate dialout`, then `systemctl restart smsgate`")
        );
        let no_user = dialout(&acc("root:x:0:0::/:/bin/sh\n", "dialout:x:20:\n"));
        assert_eq!(no_user.status, Status::Warn);
        assert!(no_user
            .fix
            .unwrap()
            .contains("adduser --system --group smsgate"));
        let no_group = dialout(&acc(user, "smsgate:x:996:\n"));
        assert_eq!(no_group.status, Status::Error);
        assert_eq!(
            dialout(&Err("cannot read /etc/passwd".into())).status,
            Status::Skipped
        );
    }

    #[test]
    fn usb_ports_are_listed_once_by_id_first() {
        let (_dir, env) = fake_root();
        write(&env, "/dev/ttyUSB0", "");
        write(&env, "/dev/ttyUSB1", "");
        write(&env, "/dev/ttyACM0", "");
        write(&env, "/dev/ttyS0", "");
        std::fs::create_dir_all(env.at("/dev/serial/by-id")).unwrap();
        std::os::unix::fs::symlink(
            "../../ttyUSB1",
            env.at("/dev/serial/by-id/usb-HUAWEI_Mobile-if00-port0"),
        )
        .unwrap();
        let shown: Vec<String> = usb_serial_ports(&env).into_iter().map(|(s, _)| s).collect();
        assert_eq!(
            shown,
            vec![
                "/dev/serial/by-id/usb-HUAWEI_Mobile-if00-port0",
                "/dev/ttyACM0",
                "/dev/ttyUSB0"
            ]
        );
    }

    #[test]
    fn ports_of_the_configuration_with_holders_and_access() {
        use std::fs::Permissions;
        use std::os::unix::fs::PermissionsExt;
        let (_dir, env) = fake_root();
        write(&env, "/dev/ttyUSB0", "");
        let meta = std::fs::metadata(env.at("/dev/ttyUSB0")).unwrap();
        let proc_dir = env.at("/proc/4242");
        std::fs::create_dir_all(proc_dir.join("fd")).unwrap();
        std::fs::write(proc_dir.join("comm"), "minicom\n").unwrap();
        // As the real /proc shows it: the path on the box.
        std::os::unix::fs::symlink("/dev/ttyUSB0", proc_dir.join("fd/3")).unwrap();
        let cfg: Config = toml::from_str(
            "[[modem]]\nport = \"/dev/ttyUSB0\"\nshort_code = \"+18095550100\"\n[[modem]]\nport = \"/dev/ttyUSB9\"\nshort_code = \"+18095550101\"\n",
        )
        .unwrap();
        let procs = host::scan_processes(&env.root);
        let facts = port_facts(&env, &cfg, &procs);
        assert_eq!(facts.facts.len(), 2);
        assert_eq!(
            facts.facts[0].holders,
            vec![Holder {
                pid: 4242,
                comm: "minicom".into()
            }]
        );
        let accounts = Ok(Accounts {
            users: host::parse_passwd("smsgate:x:999:999::/:/bin/false\n"),
            groups: host::parse_group(&format!("dialout:x:{}:smsgate\n", meta.gid())),
        });
        std::fs::set_permissions(env.at("/dev/ttyUSB0"), Permissions::from_mode(0o660)).unwrap();
        let facts = port_facts(&env, &cfg, &procs);
        let c = ports(Some(&cfg), Some(&facts), &accounts);
        assert_eq!(c.status, Status::Error);
        assert!(
            c.message.contains("held open by minicom (pid 4242)"),
            "{}",
            c.message
        );
        assert!(
            c.message.contains("modem[1] /dev/ttyUSB9: does not exist"),
            "{}",
            c.message
        );
        assert!(
            c.message.contains("user smsgate may read and write it"),
            "{}",
            c.message
        );
        assert!(c.fix.unwrap().contains("kill 4242"));

        // Mode 0600 of another owner: smsgate may not.
        std::fs::set_permissions(env.at("/dev/ttyUSB0"), Permissions::from_mode(0o600)).unwrap();
        let facts = port_facts(&env, &cfg, &procs);
        let c = ports(Some(&cfg), Some(&facts), &accounts);
        assert!(
            c.message.contains("may not read and write"),
            "{}",
            c.message
        );

        assert_eq!(
            ports(Some(&Config::default()), Some(&Ports::default()), &accounts).message,
            NO_MODEM
        );
        assert_eq!(ports(None, None, &accounts).status, Status::Skipped);
    }

    #[test]
    fn one_port_for_two_modems_is_an_error_but_auto_listing_it_is_not() {
        let (_dir, env) = fake_root();
        write(&env, "/dev/ttyUSB0", "");
        let accounts = Err("no accounts".to_string());
        let twice: Config = toml::from_str(
            "[[modem]]\nport = \"/dev/ttyUSB0\"\nshort_code = \"+18095550100\"\n[[modem]]\nport = \"/dev/ttyUSB0\"\nshort_code = \"+18095550101\"\n",
        )
        .unwrap();
        let facts = port_facts(&env, &twice, &Ok(Vec::new()));
        let c = ports(Some(&twice), Some(&facts), &accounts);
        assert_eq!(c.status, Status::Error, "{c:?}");
        assert!(
            c.message.contains("configured for more than one modem"),
            "{}",
            c.message
        );
        let with_auto: Config = toml::from_str(
            "[[modem]]\nport = \"/dev/ttyUSB0\"\nshort_code = \"+18095550100\"\n[[modem]]\nport = \"auto\"\nimei = \"350000000000001\"\nshort_code = \"+18095550101\"\n",
        )
        .unwrap();
        let facts = port_facts(&env, &with_auto, &Ok(Vec::new()));
        assert_eq!(facts.facts.len(), 1);
        assert_eq!(facts.facts[0].modems, vec![0, 1]);
        let c = ports(Some(&with_auto), Some(&facts), &accounts);
        assert_eq!(c.status, Status::Ok, "{c:?}");
        assert!(
            c.message.contains("access not checked (no user smsgate)"),
            "{}",
            c.message
        );
    }

    #[test]
    fn store_missing_writable_and_sized() {
        let dir = tempfile::tempdir().unwrap();
        let store_at = dir.path().join("store");
        let cfg: Config =
            toml::from_str(&format!("[store]\ndir = \"{}\"\n", store_at.display())).unwrap();
        let missing = store(Some(&cfg));
        assert_eq!(missing.status, Status::Warn, "{missing:?}");
        assert!(missing.message.contains("does not exist yet"));
        std::fs::create_dir(&store_at).unwrap();
        std::fs::write(store_at.join("db"), vec![0u8; 2048]).unwrap();
        let there = store(Some(&cfg));
        assert_eq!(there.status, Status::Ok, "{there:?}");
        assert!(
            there.message.contains("2.0 KiB in 1 file"),
            "{}",
            there.message
        );
        // The probe file is gone again.
        assert_eq!(std::fs::read_dir(&store_at).unwrap().count(), 1);
        let d = disk(Some(&cfg));
        assert_ne!(d.status, Status::Skipped, "{d:?}");
        assert!(d.message.contains("free of"), "{}", d.message);
        assert_eq!(store(None).status, Status::Skipped);
    }
}
