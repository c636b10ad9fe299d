//! The one test harness, shared by tests/, benches/ and hil-tests/:
//!
//! - here: an emulator in-process and a serial client on its modems' real
//!   pseudo-terminals (tokio-serial), as a gateway or gammu would talk;
//!   [`eventually`] and [`eventually_async`], the one way to wait for a
//!   condition within a bound;
//! - [`rig`]: the gateway on the emulated network, in-process;
//! - [`tools`]: [`require_tool`], the one decision to skip or fail when an
//!   external tool is missing;
//! - [`emulator_proc`], [`serve_proc`]: `smsgate emulator` and `smsgate
//!   serve` as child processes;
//! - [`receiver`]: a loopback HTTP receiver for callbacks;
//! - [`esme`]: a bare SMPP client (rusmpp's codec) for the emulated SMSC;
//! - [`phones`]: the embedded network's phones through `serve`'s `/dev/phones`;
//! - [`pki`]: a test CA and certificates for 127.0.0.1 (openssl).
#![allow(dead_code)]

pub mod emulator_proc;
pub mod esme;
pub mod phones;
pub mod pki;
pub mod receiver;
pub mod rig;
pub mod serve_proc;
pub mod tools;

#[allow(unused_imports)]
pub use tools::require_tool;

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

/// How often [`eventually`] looks again.
const POLL_SYNC: Duration = Duration::from_millis(50);
/// How often [`eventually_async`] looks again.
const POLL_ASYNC: Duration = Duration::from_millis(25);

/// Calls `f` until it returns `Some`, for at most `bound` (a bound, never a
/// measurement), and returns its value; panics when `bound` passes first.
/// Blocks the thread between looks: for plain `#[test]`s.
#[track_caller]
pub fn eventually<T>(what: &str, bound: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + bound;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            timed_out(what, bound)
        );
        std::thread::sleep(POLL_SYNC);
    }
}

/// [`eventually`] for async code: awaits `f` and sleeps on the runtime
/// between looks.
pub async fn eventually_async<T>(
    what: &str,
    bound: Duration,
    f: impl AsyncFnMut() -> Option<T>,
) -> T {
    try_eventually_async(what, bound, f)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// [`eventually_async`] that hands the timeout back as an error instead of
/// panicking, for runs that report a failure and go on.
pub async fn try_eventually_async<T>(
    what: &str,
    bound: Duration,
    mut f: impl AsyncFnMut() -> Option<T>,
) -> Result<T, String> {
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        if let Some(v) = f().await {
            return Ok(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(timed_out(what, bound));
        }
        tokio::time::sleep(POLL_ASYNC).await;
    }
}

fn timed_out(what: &str, bound: Duration) -> String {
    format!("timed out waiting for {what} (bound {bound:?})")
}

/// A tiny deterministic generator (xorshift): repeatable "random" moments
/// (kill -9 times in the crash tests).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// An HTTP request with a bearer `token` and extra `headers`: its status
/// and JSON body (`null` when none). 4xx and 5xx are answers, not errors.
pub fn call(
    method: &str,
    url: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut req = ureq::request(method, url)
        .set("Authorization", &format!("Bearer {token}"))
        .timeout(Duration::from_secs(60));
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let r = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    match r {
        Ok(r) | Err(ureq::Error::Status(_, r)) => {
            (r.status(), r.into_json().unwrap_or(serde_json::Value::Null))
        }
        Err(e) => panic!("{method} {url}: {e}"),
    }
}
