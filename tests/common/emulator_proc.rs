//! `smsgate emulator` as a child process (so the phones' records outlive
//! the gateway), and the `smsgate serve` configuration that drives its
//! modems.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running `smsgate emulator`; killed when dropped.
pub struct EmulatorProc {
    pub child: Child,
    /// Base URL of the control API.
    pub control: String,
    /// The modems' SIM numbers (the short codes), in modem order.
    pub codes: Vec<String>,
    /// The stable symlink of each modem's pseudo-terminal, in modem order.
    pub links: Vec<PathBuf>,
    /// The emulated SMSC's address (`127.0.0.1:PORT`), with `--smsc`.
    pub smsc: Option<String>,
    /// Its short codes.
    pub smsc_codes: Vec<String>,
}

impl Drop for EmulatorProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl EmulatorProc {
    /// Starts an emulator with `modems` modems, its links under `dir`.
    pub fn start(modems: usize, dir: &Path) -> EmulatorProc {
        Self::start_with(modems, dir, &[])
    }

    /// The same with more `smsgate emulator` options (`--baud 115200`...).
    pub fn start_with(modems: usize, dir: &Path, options: &[&str]) -> EmulatorProc {
        let link_dir = dir.join("links");
        let mut child = Command::new(env!("CARGO_BIN_EXE_smsgate"))
            .args([
                "emulator",
                "--modems",
                &modems.to_string(),
                "--control",
                "127.0.0.1:0",
                "--json",
            ])
            .args(options)
            .arg("--link-dir")
            .arg(&link_dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start smsgate emulator");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read the emulator's modems");
        let info: serde_json::Value = serde_json::from_str(&line).expect("the emulator's JSON");
        let control = info["control"].as_str().unwrap().to_string();
        let codes: Vec<String> = info["modems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["number"].as_str().unwrap().to_string())
            .collect();
        let links = (0..codes.len())
            .map(|i| link_dir.join(format!("modem{i}")))
            .collect();
        let smsc = info["smsc"]["address"].as_str().map(str::to_string);
        let smsc_codes = info["smsc"]["short_codes"]
            .as_array()
            .map(|a| a.iter().map(|c| c.as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        EmulatorProc {
            child,
            control,
            codes,
            links,
            smsc,
            smsc_codes,
        }
    }

    /// An emulator with no modem and the emulated SMSC on a free loopback
    /// port (short codes 2222 and 2223, system id `smsgate`, password
    /// `secret`), with more `options`.
    pub fn start_smsc(dir: &Path, options: &[&str]) -> EmulatorProc {
        let mut all = vec!["--smsc", "127.0.0.1:0"];
        all.extend_from_slice(options);
        Self::start_with(0, dir, &all)
    }

    /// A configuration for the crash tests, written to `dir/config.toml`:
    /// `admin_token`, sessions that last an hour, no rate limits (the
    /// bursts are the point), and these modems.
    pub fn crash_config(&self, dir: &Path, admin_token: &str) -> PathBuf {
        let config = format!(
            "[http]\nadmin_token = \"{admin_token}\"\n[session]\nidle_timeout = \"1h\"\n\
             [limits]\nsends_per_minute_per_client = 0\nsends_per_hour_per_recipient = 0\n{}",
            self.modem_config()
        );
        let path = dir.join("config.toml");
        std::fs::write(&path, config).expect("write the configuration");
        path
    }

    /// `[[modem]]` sections for `smsgate serve`, one per emulated modem.
    pub fn modem_config(&self) -> String {
        self.modem_config_with("")
    }

    /// The same with `extra` keys (TOML lines) in every section.
    pub fn modem_config_with(&self, extra: &str) -> String {
        self.codes
            .iter()
            .zip(&self.links)
            .map(|(code, link)| {
                format!(
                    "[[modem]]\nport = \"{}\"\nshort_code = \"{code}\"\n{extra}",
                    link.display()
                )
            })
            .collect()
    }
}

/// Resident memory of process `pid` in KiB (`VmRSS`), 0 when it is gone.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
