//! The systemd unit (`systemd-analyze verify` and `security`) and `smsgate
//! serve` under a fake systemd: its own NOTIFY_SOCKET, SIGHUP, SIGTERM.

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::eventually;
use crate::{repo, tool, BIN};

/// The unit with ExecStart pointing at the binary under test, so
/// `systemd-analyze verify` finds an executable.
fn unit_for_test(dir: &Path) -> PathBuf {
    let unit = std::fs::read_to_string(repo("systemd/smsgate.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/smsgate serve --config /etc/smsgate/config.toml"));
    let path = dir.join("smsgate.service");
    std::fs::write(&path, unit.replace("/usr/bin/smsgate", BIN)).unwrap();
    path
}

#[test]
fn unit_passes_systemd_analyze_verify() {
    let Some(analyze) = tool("systemd-analyze") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_for_test(dir.path());
    let out = Command::new(analyze)
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {stderr}");
    // verify also reports problems as warnings with success; none allowed
    // about our unit.
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("smsgate.service"))
        .collect();
    assert!(ours.is_empty(), "systemd-analyze verify warns: {ours:?}");
}

#[test]
fn unit_scores_ok_on_systemd_analyze_security() {
    let Some(analyze) = tool("systemd-analyze") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_for_test(dir.path());
    let out = Command::new(analyze)
        .args(["security", "--no-pager", "--offline=yes"])
        .arg(&unit)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| {
            panic!(
                "no score in: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let score: f64 = line
        .split(':')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the score of {line:?}"));
    eprintln!("{line}");
    // 0 is locked down, 10 is exposed; systemd calls < 2 "OK".
    assert!(score <= 2.0, "exposure {score} too high: {line}");
}

#[test]
fn unit_has_the_appliance_settings() {
    let unit = std::fs::read_to_string(repo("systemd/smsgate.service")).unwrap();
    for line in [
        "Type=notify",
        "WatchdogSec=30s",
        "Restart=on-failure",
        "User=smsgate",
        "SupplementaryGroups=dialout",
        "StateDirectory=smsgate",
        "ConfigurationDirectory=smsgate",
        "ProtectSystem=strict",
        "DevicePolicy=closed",
        "DeviceAllow=char-ttyUSB rw",
        "DeviceAllow=char-ttyACM rw",
        "DeviceAllow=/dev/ttyAMA0 rw",
        "DeviceAllow=/dev/serial0 rw",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "CapabilityBoundingSet=",
        "UMask=0077",
    ] {
        assert!(
            unit.lines().any(|l| l == line),
            "smsgate.service lacks `{line}`"
        );
    }
}

/// A running `smsgate serve` on the emulated network, with its own
/// NOTIFY_SOCKET, its stdout lines arriving on a channel.
struct Served {
    child: Child,
    lines: mpsc::Receiver<String>,
    notify: UnixDatagram,
    log: Vec<String>,
}

impl Served {
    fn start(dir: &Path, config: &Path) -> Served {
        let socket = dir.join("notify.sock");
        let notify = UnixDatagram::bind(&socket).unwrap();
        notify
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(config)
            .env("NOTIFY_SOCKET", &socket)
            .env("WATCHDOG_USEC", "600000")
            .env("RUST_LOG", "info")
            .env_remove("SMSGATE_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Served {
            child,
            lines,
            notify,
            log: Vec::new(),
        }
    }

    /// Waits for a stdout line containing `needle`.
    fn wait_line(&mut self, needle: &str, within: Duration) -> String {
        let end = Instant::now() + within;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "no line with {needle:?}; output so far:\n{}",
            self.log.join("\n")
        );
    }

    /// Collects notifications until every one of `wanted` has been seen.
    fn wait_notifications(&self, wanted: &[&str], within: Duration) -> Vec<String> {
        let end = Instant::now() + within;
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while Instant::now() < end {
            if let Ok(n) = self.notify.recv(&mut buf) {
                seen.extend(
                    String::from_utf8_lossy(&buf[..n])
                        .lines()
                        .map(str::to_string),
                );
            }
            if wanted.iter().all(|w| seen.iter().any(|s| s.starts_with(w))) {
                return seen;
            }
        }
        panic!("notifications {wanted:?} not all seen; got {seen:?}");
    }

    fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_config(path: &Path, store: &Path, max_parts: u32) {
    std::fs::write(
        path,
        format!(
            "[http]\nbind = \"127.0.0.1:0\"\n\n[store]\ndir = \"{}\"\n\n[limits]\nmax_parts = {max_parts}\n",
            store.display()
        ),
    )
    .unwrap();
}

/// Type=notify: READY=1 after the listener is bound, STATUS= with the
/// modems, WATCHDOG=1 while the gateway answers; SIGHUP re-reads the
/// config, names the changed key "restart needed" and keeps serving; the
/// store is locked against `store export` while it runs; SIGTERM ends it
/// cleanly.
#[test]
fn serve_notifies_systemd_survives_sighup_and_locks_its_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let config = dir.path().join("config.toml");
    write_config(&config, &store, 5);
    let mut served = Served::start(dir.path(), &config);
    served.wait_line("listening on http://", Duration::from_secs(30));

    let seen = served.wait_notifications(
        &["READY=1", "STATUS=3/3 modems up", "WATCHDOG=1"],
        Duration::from_secs(30),
    );
    assert!(seen.iter().any(|s| s.starts_with("STATUS=")), "{seen:?}");

    // SIGHUP with an unchanged file: re-read, no change.
    served.signal(nix::sys::signal::Signal::SIGHUP);
    served.wait_line(
        "SIGHUP: configuration re-read: no change",
        Duration::from_secs(10),
    );
    // SIGHUP after an edit: the key is named, smsgate keeps running.
    write_config(&config, &store, 3);
    served.signal(nix::sys::signal::Signal::SIGHUP);
    served.wait_line(
        "SIGHUP: changed limits.max_parts: restart needed",
        Duration::from_secs(10),
    );
    // A broken file is reported, and the running config kept.
    std::fs::write(&config, "[http]\ncolour = \"red\"\n").unwrap();
    served.signal(nix::sys::signal::Signal::SIGHUP);
    served.wait_line("keeping the running one", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    assert!(served.alive(), "smsgate serve died after SIGHUP");
    // Still feeding the watchdog after the reloads.
    served.wait_notifications(&["WATCHDOG=1"], Duration::from_secs(10));

    // Offline only: the running smsgate holds the store.
    let out = Command::new(BIN)
        .args(["store", "export"])
        .arg(dir.path().join("dump.jsonl"))
        .arg("--dir")
        .arg(&store)
        .output()
        .unwrap();
    assert!(!out.status.success(), "export of a store in use succeeded");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("stop it first"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    served.signal(nix::sys::signal::Signal::SIGTERM);
    let status = eventually(
        "smsgate serve to stop on SIGTERM",
        Duration::from_secs(30),
        || served.child.try_wait().unwrap(),
    );
    assert!(status.success(), "exit status {status}");
    served.wait_notifications(&["STOPPING=1"], Duration::from_secs(5));
}
