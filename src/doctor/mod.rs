//! `smsgate doctor`: the box checked for the usual field faults, each
//! finding with what is wrong and the one thing to do about it.
//!
//! Owns the checks and their verdicts ([`run`] gives a [`Report`]; the
//! command in [`crate::commands::doctor`] prints it). Every file is read
//! under [`Env::root`] (`/`, or a fake tree in tests) and every external
//! command (`vcgencmd`, `timedatectl`, `systemctl`) is found through
//! `PATH`, so each check is tested with fakes of what it reads. It changes
//! nothing on the box: the only write is a temporary file in the store
//! directory, removed at once, and the modems are only asked read-only
//! questions ([`crate::modem::probe`]).

mod checks;
pub mod host;
mod modems;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

pub use checks::{
    clock_check, disk_status, free_space, human_bytes, parse_throttled, power_check, service_check,
    watchdog_is_off, Throttled, DISK_ERROR_BYTES, DISK_ERROR_PERCENT, DISK_WARN_BYTES,
    DISK_WARN_PERCENT,
};

/// The checks, in the order they run and are printed.
pub const CHECK_IDS: [&str; 10] = [
    "config",
    "ports",
    "modemmanager",
    "dialout",
    "modems",
    "power",
    "clock",
    "store",
    "disk",
    "service",
];

/// The system user the service runs as (`User=` of smsgate.service).
pub const SERVICE_USER: &str = "smsgate";

/// Environment variable naming the fake root tests read the host from.
pub const ROOT_ENV: &str = "SMSGATE_DOCTOR_ROOT";

/// A check's verdict. Ordered from the least to the most serious, so that
/// the worst of several findings is their maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Could not be checked here (not a Pi, no systemd, nothing configured).
    Skipped,
    Ok,
    Warn,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Skipped => "skipped",
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Error => "error",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub status: Status,
    pub message: String,
    /// What to do about it; `None` when there is nothing to do.
    pub fix: Option<String>,
}

impl Check {
    pub fn ok(id: &'static str, message: impl Into<String>) -> Check {
        Check {
            id,
            status: Status::Ok,
            message: message.into(),
            fix: None,
        }
    }

    pub fn skipped(id: &'static str, message: impl Into<String>) -> Check {
        Check {
            id,
            status: Status::Skipped,
            message: message.into(),
            fix: None,
        }
    }

    pub fn warn(id: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            id,
            status: Status::Warn,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn error(id: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            id,
            status: Status::Error,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }

    /// One check of several findings (one per modem or port): the worst
    /// status, the messages joined, the distinct fixes joined. Empty: `ok`
    /// with `empty`.
    fn combine(id: &'static str, findings: Vec<Finding>, empty: &str) -> Check {
        let Some(status) = findings.iter().map(|f| f.status).max() else {
            return Check::ok(id, empty);
        };
        let message = findings
            .iter()
            .map(|f| f.message.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        let mut fixes: Vec<&str> = Vec::new();
        for f in findings.iter().filter(|f| f.status >= Status::Warn) {
            if let Some(fix) = f.fix.as_deref() {
                if !fixes.contains(&fix) {
                    fixes.push(fix);
                }
            }
        }
        Check {
            id,
            status,
            message,
            fix: (status >= Status::Warn && !fixes.is_empty()).then(|| fixes.join("; ")),
        }
    }
}

/// One part of a check made of several (a port, a modem).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Finding {
    status: Status,
    message: String,
    fix: Option<String>,
}

impl Finding {
    fn new(status: Status, message: impl Into<String>, fix: Option<String>) -> Finding {
        Finding {
            status,
            message: message.into(),
            fix,
        }
    }
}

/// Every check, in [`CHECK_IDS`] order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    /// 0 when every check is ok or skipped, 1 with a warning and no error,
    /// 2 with an error.
    pub fn exit_code(&self) -> i32 {
        match self.checks.iter().map(|c| c.status).max() {
            Some(Status::Error) => 2,
            Some(Status::Warn) => 1,
            _ => 0,
        }
    }
}

/// Where and how the doctor looks.
#[derive(Debug, Clone)]
pub struct Env {
    /// `/proc`, `/sys`, `/dev`, `/etc/passwd`, `/etc/group`, the udev rule
    /// directories and `/etc/smsgate/config.toml` are read under this.
    pub root: PathBuf,
    /// `--config` (or `SMSGATE_CONFIG`); else `/etc/smsgate/config.toml`
    /// under the root if it exists, else the defaults.
    pub config: Option<PathBuf>,
    /// Environment for `SMSGATE_SECTION__KEY` overrides of the config.
    pub vars: Vec<(String, String)>,
    /// The longest an external command may run.
    pub command_timeout: Duration,
    /// The longest the `modems` check may take in all.
    pub probe_budget: Duration,
}

impl Env {
    pub fn new(root: impl Into<PathBuf>, config: Option<PathBuf>) -> Env {
        Env {
            root: root.into(),
            config,
            vars: Vec::new(),
            command_timeout: Duration::from_secs(5),
            probe_budget: Duration::from_secs(45),
        }
    }

    /// The process's view: the root from [`ROOT_ENV`] (tests) or `/`, and
    /// the process environment for config overrides.
    pub fn from_process(config: Option<PathBuf>) -> Env {
        let root = std::env::var_os(ROOT_ENV)
            .filter(|r| !r.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/"));
        Env {
            vars: std::env::vars().collect(),
            ..Env::new(root, config)
        }
    }

    /// `path` (absolute, as on the box) under the root; a relative path is
    /// left as it is.
    pub fn at(&self, path: impl AsRef<Path>) -> PathBuf {
        let path = path.as_ref();
        match path.strip_prefix("/") {
            Ok(rest) => self.root.join(rest),
            Err(_) => path.to_path_buf(),
        }
    }

    /// The other way: a path under the root as it is on the box.
    fn shown(&self, path: &Path) -> PathBuf {
        match path.strip_prefix(&self.root) {
            Ok(rest) if self.root != Path::new("/") => Path::new("/").join(rest),
            _ => path.to_path_buf(),
        }
    }

    /// Whether this is the real box (not a fake root).
    fn is_real_root(&self) -> bool {
        self.root == Path::new("/")
    }
}

/// Runs every check.
pub fn run(env: &Env) -> Report {
    let (config_check, config) = checks::config(env);
    let accounts = host::Accounts::read(&env.root);
    let procs = host::scan_processes(&env.root);
    let ports = config.as_ref().map(|c| checks::port_facts(env, c, &procs));
    let checks = vec![
        config_check,
        checks::ports(config.as_ref(), ports.as_ref(), &accounts),
        checks::modemmanager(env, config.as_ref(), &procs),
        checks::dialout(&accounts),
        modems::check(env, config.as_ref(), ports.as_ref()),
        checks::power(env),
        checks::clock(env),
        checks::store(config.as_ref()),
        checks::disk(config.as_ref()),
        checks::service(env),
    ];
    debug_assert!(checks.iter().map(|c| c.id).eq(CHECK_IDS));
    Report { checks }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_code_is_the_worst_status() {
        let report = |statuses: &[Status]| Report {
            checks: statuses
                .iter()
                .map(|&status| Check {
                    id: "x",
                    status,
                    message: String::new(),
                    fix: None,
                })
                .collect(),
        };
        assert_eq!(report(&[]).exit_code(), 0);
        assert_eq!(report(&[Status::Ok, Status::Skipped]).exit_code(), 0);
        assert_eq!(report(&[Status::Ok, Status::Warn]).exit_code(), 1);
        assert_eq!(
            report(&[Status::Warn, Status::Error, Status::Ok]).exit_code(),
            2
        );
    }

    #[test]
    fn combined_findings_keep_the_worst_and_each_fix_once() {
        let c = Check::combine(
            "ports",
            vec![
                Finding::new(Status::Ok, "a fine", None),
                Finding::new(Status::Warn, "b odd", Some("do x".into())),
                Finding::new(Status::Error, "c bad", Some("do x".into())),
            ],
            "nothing",
        );
        assert_eq!(c.status, Status::Error);
        assert_eq!(c.message, "a fine; b odd; c bad");
        assert_eq!(c.fix.as_deref(), Some("do x"));
        let all_skipped = Check::combine(
            "modems",
            vec![Finding::new(Status::Skipped, "held", None)],
            "",
        );
        assert_eq!(
            (all_skipped.status, all_skipped.fix),
            (Status::Skipped, None)
        );
        assert_eq!(Check::combine("ports", vec![], "none").status, Status::Ok);
    }

    #[test]
    fn paths_go_under_the_root_and_back() {
        let env = Env::new("/tmp/fake", None);
        assert_eq!(env.at("/dev/ttyUSB0"), Path::new("/tmp/fake/dev/ttyUSB0"));
        assert_eq!(env.at("relative"), Path::new("relative"));
        assert_eq!(
            env.shown(Path::new("/tmp/fake/dev/ttyUSB0")),
            Path::new("/dev/ttyUSB0")
        );
        let real = Env::new("/", None);
        assert_eq!(real.at("/dev/ttyUSB0"), Path::new("/dev/ttyUSB0"));
        assert_eq!(
            real.shown(Path::new("/dev/ttyUSB0")),
            Path::new("/dev/ttyUSB0")
        );
    }

    #[test]
    fn statuses_serialize_in_lower_case() {
        let c = Check::warn("clock", "m", "f");
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["status"], "warn");
        assert_eq!(v["fix"], "f");
        assert_eq!(
            serde_json::to_value(Check::ok("x", "m")).unwrap()["fix"],
            serde_json::Value::Null
        );
    }
}
