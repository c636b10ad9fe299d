//! The one test harness for "emulated network + serial client": starts an
//! emulator in-process and talks to its modems through their real
//! pseudo-terminals with tokio-serial, as a gateway or gammu would.
#![allow(dead_code)]

pub mod emulator_proc;
pub mod serve_proc;

use std::time::Duration;

use smsgate::emulator::{Emulator, EmulatorConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_serial::{SerialPortBuilderExt, SerialStream};

/// Longest wait for any answer in these tests (a bound, never a measurement).
pub const ANSWER_WITHIN: Duration = Duration::from_secs(10);

pub async fn emulator(modems: usize) -> Emulator {
    emulator_with(EmulatorConfig {
        modems,
        ..EmulatorConfig::default()
    })
    .await
}

pub async fn emulator_with(config: EmulatorConfig) -> Emulator {
    Emulator::start(config).await.expect("start the emulator")
}

/// A serial client on one emulated modem.
pub struct Client {
    pub port: SerialStream,
    pub seen: Vec<u8>,
}

impl Client {
    pub fn open(path: &std::path::Path) -> Client {
        let port = tokio_serial::new(path.to_string_lossy(), 115_200)
            .timeout(Duration::from_secs(1))
            .open_native_async()
            .expect("open the pseudo-terminal");
        Client {
            port,
            seen: Vec::new(),
        }
    }

    pub async fn write(&mut self, bytes: &[u8]) {
        self.port.write_all(bytes).await.expect("write");
    }

    /// Reads until `needle` has been seen since the last call; returns all
    /// bytes read up to and including it.
    pub async fn read_until(&mut self, needle: &str) -> String {
        self.read_to(&format!("{needle:?}"), |seen| {
            find(seen, needle.as_bytes()).map(|pos| pos + needle.len())
        })
        .await
    }

    /// Reads until `end_of(seen)` finds where the wanted answer ends; hands
    /// out what comes before that and keeps the rest.
    async fn read_to(&mut self, what: &str, end_of: impl Fn(&[u8]) -> Option<usize>) -> String {
        let deadline = tokio::time::Instant::now() + ANSWER_WITHIN;
        loop {
            if let Some(end) = end_of(&self.seen) {
                let out: Vec<u8> = self.seen.drain(..end).collect();
                return String::from_utf8_lossy(&out).into_owned();
            }
            let mut buf = [0u8; 512];
            let n = tokio::time::timeout_at(deadline, self.port.read(&mut buf))
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "no {what} within {ANSWER_WITHIN:?}; seen {:?}",
                        String::from_utf8_lossy(&self.seen)
                    )
                })
                .expect("read");
            self.seen.extend_from_slice(&buf[..n]);
        }
    }

    /// Sends a command line and returns the answer up to its final result.
    pub async fn cmd(&mut self, line: &str) -> String {
        self.write(format!("{line}\r").as_bytes()).await;
        self.read_final().await
    }

    /// Reads up to the next final result (OK, ERROR, +CMS/+CME ERROR).
    pub async fn read_final(&mut self) -> String {
        self.read_to("final result", final_end).await
    }
}

/// End (exclusive) of the first final result in `seen`, in bytes.
fn final_end(seen: &[u8]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for fin in [&b"\r\nOK\r\n"[..], b"\r\nERROR\r\n"] {
        if let Some(pos) = find(seen, fin) {
            best = Some(best.map_or(pos + fin.len(), |b| b.min(pos + fin.len())));
        }
    }
    for fin in [&b"+CMS ERROR: "[..], b"+CME ERROR: "] {
        if let Some(pos) = find(seen, fin) {
            if let Some(nl) = find(&seen[pos..], b"\r\n") {
                let end = pos + nl + 2;
                best = Some(best.map_or(end, |b| b.min(end)));
            }
        }
    }
    best
}

/// The PDU line that follows the `+CMGR:`/`+CMGL:` header in an answer.
pub fn pdu_after(answer: &str, header: &str) -> String {
    let mut lines = answer.lines();
    lines
        .by_ref()
        .find(|l| l.starts_with(header))
        .unwrap_or_else(|| panic!("no {header} in {answer:?}"));
    lines.next().expect("a PDU line").trim().to_string()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Polls `f` until it returns `Some`, for at most [`ANSWER_WITHIN`].
pub async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + ANSWER_WITHIN;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
