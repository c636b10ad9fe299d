//! The performance benchmark: `cargo bench --bench gateway`.
//!
//! Runs the real `smsgate serve` (optimised build) against modems of a
//! separate `smsgate emulator` process on loopback, measures the scenarios
//! of docs/performance.md, then runs the peer gateways (`benches/peers/`)
//! against the same emulator, prints one table and writes
//! `target/bench/results.json`. Nothing here asserts a timing: it measures.
//!
//! Scenario 11 runs the same gateway on one `[[smpp]]` bind to the
//! emulated SMSC (`smsgate emulator --smsc`) instead of modems.
//!
//! Environment: `BENCH_ONLY=1,5` runs only those scenarios; `BENCH_PEERS=0`
//! skips the peers, `BENCH_PEERS=reuse` takes their last
//! `target/bench/peers.json`; `BENCH_SCALE=0.2` shrinks every message count
//! (a quick look; the recorded figures use 1); `BENCH_STRACE=FILE` writes
//! an `strace` of scenario 8's idle minute (its writing system calls) to
//! FILE, for a profile.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_smsgate");
const TOKEN: &str = "bench-admin-token";
/// One byte on a serial line at 115 200 baud is 10 bits: 11 520 bytes/s.
const LINK_BYTES_PER_S: f64 = 11_520.0;
const TEXT: &str = "Your table is ready. Reply YES to keep it or NO to release it.";
/// BENCH_PI's memory cap (a Raspberry Pi 3 has 1 GiB for everything).
const PI_MEMORY_MIB: u64 = 256;
/// BENCH_PI's memory cgroup (v1).
const PI_CGROUP: &str = "/sys/fs/cgroup/memory/smsgate-bench-pi";
/// Default of BENCH_COMPARE_N: messages each system sends in the
/// like-for-like comparison. kannel's `at` driver sends one message per
/// 2 s, so 100 messages are ~200 s per row for it (two rows: ~7 min).
const COMPARE_N: usize = 100;

fn main() {
    let only: Option<Vec<u32>> = std::env::var("BENCH_ONLY")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect());
    let want = |n: u32| only.as_ref().is_none_or(|o| o.contains(&n));
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out_dir = root.join("target/bench");
    std::fs::create_dir_all(&out_dir).expect("create target/bench");
    let work = tempfile::tempdir().expect("temporary directory");
    let pi = std::env::var("BENCH_PI").as_deref() == Ok("1");

    let mut results = BTreeMap::<String, Value>::new();
    let mut table = Vec::<(String, String, String)>::new();
    let mut row = |name: &str, value: String, target: &str| {
        println!("{name:<58} {value:>24}   {target}");
        table.push((name.into(), value, target.into()));
    };
    println!("smsgate benchmark: {} cores", num_cpus());
    if pi {
        println!("BENCH_PI=1: smsgate serve on one core (taskset -c 0), memory capped at {PI_MEMORY_MIB} MiB: a simulation of a Pi 3-class budget");
    }

    if want(1) {
        let r = outbound(work.path(), 1, &[], scaled(3000), 1);
        row(
            "1. outbound, 1 modem, zero latency, durable, to +CMGS answered (msg/s)",
            format!("{:.0}", r["msgs_per_s"].as_f64().unwrap()),
            ">= 1000 (no regression)",
        );
        results.insert("1_outbound_zero_latency".into(), r);
    }
    if want(2) || want(3) {
        let mut scaling = serde_json::Map::new();
        let mut one = 0.0;
        for modems in [1usize, 2, 4, 8] {
            if modems > 1 && !want(3) {
                break;
            }
            let r = outbound(work.path(), modems, &["--baud", "115200"], scaled(400), 4);
            let rate = r["msgs_per_s"].as_f64().unwrap();
            if modems == 1 {
                one = rate;
                let frac = r["link_fraction"].as_f64().unwrap_or(0.0);
                row(
                    "2. outbound, 1 modem paced 115200 baud (% of link limit)",
                    format!(
                        "{:.1} % ({rate:.1} of {:.1} msg/s)",
                        frac * 100.0,
                        r["link_limit_msgs_per_s"].as_f64().unwrap_or(0.0)
                    ),
                    ">= 90 %",
                );
                results.insert("2_outbound_paced".into(), r.clone());
            } else {
                row(
                    &format!("3. outbound, {modems} paced modems (x one modem)"),
                    format!("{:.2}x ({rate:.1} msg/s)", rate / one),
                    if modems == 8 { ">= 7x" } else { "" },
                );
            }
            scaling.insert(modems.to_string(), r);
        }
        if want(3) {
            results.insert("3_scaling_paced".into(), Value::Object(scaling));
        }
    }
    if want(4) {
        let r = radio(work.path(), 2, scaled(8).max(3));
        row(
            "4. radio 3 s per +CMGS, 2 modems (% of modem-bound ceiling)",
            format!("{:.1} %", r["ceiling_fraction"].as_f64().unwrap() * 100.0),
            ">= 99 %",
        );
        results.insert("4_radio".into(), r);
    }
    if want(5) {
        let mut lat = serde_json::Map::new();
        let mut sizes = vec![100usize, 1000, scaled(10_000)];
        sizes.sort_unstable();
        sizes.dedup();
        for live in sizes {
            let r = mo_latency(work.path(), live, 200);
            row(
                &format!("5. MO -> SSE at {live} live sessions (p50 / p99 ms)"),
                format!(
                    "{:.2} / {:.2}",
                    r["p50_ms"].as_f64().unwrap(),
                    r["p99_ms"].as_f64().unwrap()
                ),
                "p99 <= 5 ms at 10 000",
            );
            lat.insert(live.to_string(), r);
        }
        results.insert("5_mo_to_sse".into(), Value::Object(lat));
    }
    if want(6) || want(7) {
        let r = memory_and_send_api(work.path(), scaled(10_000));
        row(
            "6. RSS idle (MiB: anonymous + file-backed)",
            format!(
                "{:.1} ({:.1} + {:.1})",
                r["rss_idle_kib"].as_f64().unwrap() / 1024.0,
                r["rss_idle_anon_kib"].as_f64().unwrap() / 1024.0,
                r["rss_idle_file_kib"].as_f64().unwrap() / 1024.0
            ),
            "<= 8 MiB",
        );
        row(
            &format!(
                "6. RSS with {} live sessions (MiB; KiB/session)",
                r["sessions"]
            ),
            format!(
                "{:.1}; {:.2}",
                r["rss_sessions_kib"].as_f64().unwrap() / 1024.0,
                r["kib_per_session"].as_f64().unwrap()
            ),
            "<= 48 MiB at 10 000",
        );
        row(
            "6. ... and each with its live stream open (MiB; KiB/stream)",
            format!(
                "{:.1}; {:.2}",
                r["rss_streams_kib"].as_f64().unwrap() / 1024.0,
                r["kib_per_stream"].as_f64().unwrap()
            ),
            "<= 8 KiB per stream",
        );
        row(
            "7. send API under load, durable (accepted sends/s)",
            format!("{:.0}", r["send_api_per_s"].as_f64().unwrap()),
            "",
        );
        results.insert("6_7_memory_and_send_api".into(), r);
    }
    if want(8) {
        let r = disk_writes(work.path(), scaled(2000));
        let kib = |k: &str| r[k].as_f64().unwrap_or(f64::NAN) / 1024.0;
        row(
            "8. bytes written per outbound web message, 16 clients (KiB)",
            format!("{:.2}", kib("write_bytes_per_msg_16_clients")),
            "<= 4 KiB",
        );
        row(
            "8. bytes written per outbound web message, 1 at a time (KiB)",
            format!("{:.2}", kib("write_bytes_per_msg_1_client")),
            "<= 4 KiB",
        );
        row(
            "8. bytes written per routed reply (KiB)",
            format!("{:.2}", kib("write_bytes_per_reply")),
            "<= 4 KiB",
        );
        row(
            "8. bytes written per idle minute",
            format!(
                "{:.0}",
                r["write_bytes_per_idle_minute"]
                    .as_f64()
                    .unwrap_or(f64::NAN)
            ),
            "0",
        );
        results.insert("8_disk_writes".into(), r);
    }
    if want(9) && std::env::var("BENCH_COMPARE").as_deref() != Ok("0") {
        let compare = run_compare(&root, &out_dir);
        for line in compare_markdown(&compare).lines() {
            println!("{line}");
        }
        results.insert("9_compare".into(), compare);
    }
    if want(10) && std::env::var("BENCH_ARM64").as_deref() == Ok("1") {
        let r = arm64_idle(&root, work.path());
        if let Some(kib) = r["qemu_rss_kib"].as_u64() {
            row(
                "10. aarch64 build, idle RSS under qemu-aarch64 (MiB)",
                format!(
                    "{:.1} (guest binary pages {:.1}, x86-64 {:.1})",
                    kib as f64 / 1024.0,
                    r["guest_binary_rss_kib"].as_f64().unwrap_or(f64::NAN) / 1024.0,
                    r["x86_64_rss_kib"].as_f64().unwrap_or(f64::NAN) / 1024.0
                ),
                if r["modem_state_under_qemu"] == "up" {
                    "includes qemu's own memory"
                } else {
                    "includes qemu's own memory; modem down under qemu-user"
                },
            );
        } else {
            row(
                "10. aarch64 build under qemu-aarch64",
                "error".into(),
                r["error"].as_str().unwrap_or("?"),
            );
        }
        results.insert("10_arm64".into(), r);
    }

    if want(11) {
        let mark = |ok: bool| if ok { "✔" } else { "✘" };
        let r = smpp_outbound(work.path(), scaled(3000), None);
        let rate = r["msgs_per_s"].as_f64().unwrap();
        row(
            "11. SMPP outbound, 1 bind, zero latency, durable, to submit_sm_resp (msg/s)",
            format!("{rate:.0} {}", mark(rate >= 1000.0)),
            ">= 1000",
        );
        let mut all = serde_json::Map::new();
        all.insert("zero_latency".into(), r);
        let r = smpp_outbound(work.path(), scaled(1000).max(200), Some(50));
        let frac = r["ceiling_fraction"].as_f64().unwrap();
        row(
            "11. SMPP outbound, 50 ms SMSC, window 10 (% of window/latency)",
            format!(
                "{:.1} % ({:.1} of {:.0} msg/s) {}",
                frac * 100.0,
                r["msgs_per_s"].as_f64().unwrap(),
                r["ceiling_msgs_per_s"].as_f64().unwrap(),
                mark(frac >= 0.9)
            ),
            ">= 90 %",
        );
        all.insert("slow_50ms_window_10".into(), r);
        let live = scaled(1000).max(10);
        let r = smpp_mo_latency(work.path(), live, 200);
        let p99 = r["p99_ms"].as_f64().unwrap();
        row(
            &format!("11. SMPP MO -> SSE at {live} live sessions (p50 / p99 ms)"),
            format!(
                "{:.2} / {p99:.2} {}",
                r["p50_ms"].as_f64().unwrap(),
                mark(p99 <= 5.0)
            ),
            "p99 <= 5 ms",
        );
        all.insert("mo_to_sse".into(), r);
        results.insert("11_smpp".into(), Value::Object(all));
    }

    let doc = json!({
        "when": chrono::Utc::now().to_rfc3339(),
        "cores": num_cpus(),
        "smsgate": env!("CARGO_PKG_VERSION"),
        "machine": machine(),
        "filesystem": filesystem(work.path()),
        "versions": versions(&root, results.get("9_compare")),
        "settings": settings(pi),
        "results": results,
        "table": table.iter().map(|(n, v, t)| json!({"scenario": n, "value": v, "target": t})).collect::<Vec<_>>(),
    });
    if pi {
        // Empty once every gateway it held has ended.
        let _ = std::fs::remove_dir(PI_CGROUP);
    }
    let md = markdown(&doc);
    println!("\n{md}");
    std::fs::write(out_dir.join("results.md"), &md).expect("write results.md");
    let path = out_dir.join("results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).expect("write results");
    println!("wrote {} and results.md", path.display());
}

fn scaled(n: usize) -> usize {
    let f: f64 = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    ((n as f64 * f) as usize).max(1)
}

fn num_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

// ---------------------------------------------------------------- processes

// The same process starters and waits as the integration tests.
#[path = "../tests/common/mod.rs"]
mod common;

use common::emulator_proc::{rss_kib, EmulatorProc};
use common::serve_proc;

/// A separate `smsgate emulator` with `modems` modems and `options`.
struct Emu(EmulatorProc);

impl Emu {
    fn start(dir: &Path, modems: usize, options: &[&str]) -> Emu {
        Emu(EmulatorProc::start_with(modems, dir, options))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.0.control)
    }

    fn transcript(&self, id: usize) -> Vec<(String, String)> {
        let v: Value = ureq::get(&self.url(&format!("/modems/{id}/transcript")))
            .call()
            .expect("transcript")
            .into_json()
            .unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["dir"].as_str().unwrap().to_string(),
                    e["data"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

/// `smsgate serve` on the emulator's modems, without rate limits, once
/// every modem is up.
struct Serve {
    proc: serve_proc::Serve,
    url: String,
}

impl Serve {
    fn start(dir: &Path, emu: &Emu) -> Serve {
        let config = format!(
            "[http]\nadmin_token = \"{TOKEN}\"\nmax_connections_per_client = 0\nmax_streams_per_client = 0\n[session]\nidle_timeout = \"1h\"\n\
             [limits]\nsends_per_minute_per_client = 0\nsends_per_hour_per_recipient = 0\n{}",
            emu.0.modem_config()
        );
        let cfg = dir.join("smsgate.toml");
        std::fs::write(&cfg, config).unwrap();
        let proc = serve_proc::start(&dir.join("store"), Some(&cfg), &[]);
        if std::env::var("BENCH_PI").as_deref() == Ok("1") {
            pi_budget(proc.child.id());
        }
        let s = Serve {
            url: proc.url.clone(),
            proc,
        };
        common::eventually("every modem up", Duration::from_secs(60), || {
            let r = ureq::get(&format!("{}/admin/api/modems", s.url))
                .set("Authorization", &format!("Bearer {TOKEN}"))
                .call()
                .ok()?;
            let v: Value = r.into_json().unwrap_or(Value::Null);
            let all = v.as_array().map(|a| a.len()).unwrap_or(0);
            let up = v
                .as_array()
                .into_iter()
                .flatten()
                .filter(|m| m["state"].as_str() == Some("up"))
                .count();
            (all == emu.0.codes.len() && up == all).then_some(())
        });
        s
    }

    fn pid(&self) -> u32 {
        self.proc.child.id()
    }

    fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }

    /// Sum of a counter over its labels, from `/metrics`.
    fn metric(&self, name: &str) -> f64 {
        let text = ureq::get(&format!("{}/metrics", self.url))
            .call()
            .map(|r| r.into_string().unwrap_or_default())
            .unwrap_or_default();
        text.lines()
            .filter(|l| l.starts_with(name) && !l.starts_with('#'))
            .filter(|l| l[name.len()..].starts_with(['{', ' ']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    fn wait_sent(&self, n: usize, within: Duration) -> Instant {
        let t = Instant::now();
        loop {
            if self.metric("smsgate_modem_sent_total") as usize >= n {
                return Instant::now();
            }
            assert!(t.elapsed() < within, "only part of {n} messages sent");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// `POST /api/send` one message to one phone (a new browser each time);
/// returns the session cookie and the short code.
fn web_send(url: &str, to: &str, text: &str) -> (String, String) {
    let resp = ureq::post(&format!("{url}/api/send"))
        .set("Origin", url)
        .send_json(json!({"to": [to], "text": text}))
        .expect("send accepted");
    assert_eq!(resp.status(), 202);
    let cookie = resp
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .unwrap_or_default()
        .to_string();
    let body: Value = resp.into_json().unwrap();
    let code = body["recipients"][0]["short_code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (cookie, code)
}

/// Sends `n` messages from `clients` browsers at once, each to its own
/// phone; returns the sessions (cookie, phone, short code) and the time.
fn burst(
    url: &str,
    n: usize,
    clients: usize,
    base: usize,
) -> (Vec<(String, String, String)>, Duration) {
    let out = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let next = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (url, out, next) = (url.to_string(), out.clone(), next.clone());
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return;
                }
                let to = format!("+1809{:07}", base + i);
                let (cookie, code) = web_send(&url, &to, TEXT);
                out.lock().unwrap().push((cookie, to, code));
            })
        })
        .collect();
    for w in workers {
        w.join().expect("sender");
    }
    let took = t.elapsed();
    let v = std::mem::take(&mut *out.lock().unwrap());
    (v, took)
}

// ---------------------------------------------------------------- scenarios

/// Scenarios 1–3: `n` messages per modem from `POST /api/send` to `+CMGS`
/// answered.
fn outbound(
    work: &Path,
    modems: usize,
    emu_args: &[&str],
    per_modem: usize,
    clients: usize,
) -> Value {
    let dir = tempfile::tempdir_in(work).unwrap();
    let emu = Emu::start(dir.path(), modems, emu_args);
    let serve = Serve::start(dir.path(), &emu);
    let n = per_modem * modems;
    let t0 = Instant::now();
    let (_, accepted) = burst(&serve.url, n, clients.max(modems), 2_000_000);
    let done = serve.wait_sent(n, Duration::from_secs(600));
    let secs = (done - t0).as_secs_f64();
    let mut r = json!({
        "modems": modems,
        "messages": n,
        "seconds": secs,
        "msgs_per_s": n as f64 / secs,
        "msgs_per_s_per_modem": n as f64 / secs / modems as f64,
        "all_accepted_after_s": accepted.as_secs_f64(),
        "emulator": emu_args.join(" "),
    });
    if emu_args.contains(&"115200") {
        let bytes = wire_bytes_per_message(&emu.transcript(0));
        let limit = LINK_BYTES_PER_S / bytes;
        r["wire_bytes_per_message"] = json!(bytes);
        r["link_limit_msgs_per_s"] = json!(limit);
        r["link_fraction"] = json!(n as f64 / secs / modems as f64 / limit);
    }
    r
}

/// Bytes on the line, both directions, per message sent, over the stretch
/// of the transcript from the first `AT+CMGS=` it holds to its last result.
fn wire_bytes_per_message(t: &[(String, String)]) -> f64 {
    let start = t
        .iter()
        .position(|(d, data)| d == "to_modem" && data.contains("AT+CMGS="))
        .unwrap_or(0);
    let mut bytes = 0usize;
    let mut sent = 0usize;
    let mut last_bytes = 0usize;
    for (dir, data) in &t[start..] {
        bytes += unescaped_len(data);
        if dir == "from_modem" && data.contains("+CMGS:") {
            sent += data.matches("+CMGS:").count();
            last_bytes = bytes;
        }
    }
    last_bytes as f64 / sent.max(1) as f64
}

/// Length of a transcript entry's bytes (`\r`, `\n`, `\x1a` escaped).
fn unescaped_len(s: &str) -> usize {
    let mut n = 0;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.next() == Some('x') {
            chars.next();
            chars.next();
        }
        n += 1;
    }
    n
}

/// Scenario 4: a 3 s radio per `+CMGS`; the ceiling is one message per
/// 3 s per modem.
fn radio(work: &Path, modems: usize, per_modem: usize) -> Value {
    let dir = tempfile::tempdir_in(work).unwrap();
    let emu = Emu::start(dir.path(), modems, &["--cmgs-latency-ms", "3000"]);
    let serve = Serve::start(dir.path(), &emu);
    let n = per_modem * modems;
    let t0 = Instant::now();
    burst(&serve.url, n, modems, 3_000_000);
    let done = serve.wait_sent(n, Duration::from_secs(600));
    let secs = (done - t0).as_secs_f64();
    let ceiling = modems as f64 / 3.0;
    json!({
        "modems": modems,
        "messages": n,
        "seconds": secs,
        "msgs_per_s": n as f64 / secs,
        "ceiling_msgs_per_s": ceiling,
        "ceiling_fraction": n as f64 / secs / ceiling,
    })
}

/// An open live stream (SSE) of one session.
struct Stream {
    sock: TcpStream,
    seen: String,
}

impl Stream {
    fn open(addr: &str, cookie: &str) -> Stream {
        let mut sock = TcpStream::connect(addr).expect("connect");
        write!(
            sock,
            "GET /api/session/events HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n"
        )
        .unwrap();
        let mut s = Stream {
            sock,
            seen: String::new(),
        };
        s.read_until("\r\n\r\n", Duration::from_secs(30));
        assert!(s.seen.starts_with("HTTP/1.1 200"), "{}", s.seen);
        s.seen.clear();
        s
    }

    fn read_until(&mut self, want: &str, within: Duration) {
        let deadline = Instant::now() + within;
        let mut buf = [0u8; 4096];
        while !self.seen.contains(want) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "stream: {want:?} never came");
            self.sock.set_read_timeout(Some(left)).unwrap();
            let n = self.sock.read(&mut buf).expect("read stream");
            assert!(n > 0, "stream closed");
            self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Scenario 5: with `live` sessions and their streams open, phones reply
/// one at a time; latency from the phone's send (the emulator writes
/// `+CMTI` as it takes it) to the `reply` event read from the stream.
fn mo_latency(work: &Path, live: usize, samples: usize) -> Value {
    let dir = tempfile::tempdir_in(work).unwrap();
    let emu = Emu::start(dir.path(), 1, &[]);
    let serve = Serve::start(dir.path(), &emu);
    mo_samples(&emu, &serve, live, samples, 5_000_000)
}

/// Opens `live` sessions (numbers from `first`) with their streams on
/// `serve`, then phones reply one at a time: the latency from the phone's
/// send to the `reply` event read from its stream (scenarios 5 and 11).
fn mo_samples(emu: &Emu, serve: &Serve, live: usize, samples: usize, first: usize) -> Value {
    let (sessions, _) = burst(&serve.url, live, 8, first);
    serve.wait_sent(live, Duration::from_secs(300));
    let addr = serve.addr();
    let mut streams: Vec<Stream> = sessions
        .iter()
        .map(|(c, _, _)| Stream::open(&addr, c))
        .collect();
    let mut lat = Vec::with_capacity(samples);
    for k in 0..samples {
        let i = (k * 7919) % live;
        let (_, phone, code) = &sessions[i];
        let text = format!("reply number {k}");
        let t0 = Instant::now();
        ureq::post(&emu.url(&format!("/phones/{phone}/send")))
            .send_json(json!({"to": code, "text": text}))
            .expect("phone sends");
        streams[i].read_until(&text, Duration::from_secs(30));
        lat.push(t0.elapsed().as_secs_f64() * 1000.0);
        streams[i].seen.clear();
    }
    lat.sort_by(f64::total_cmp);
    json!({
        "live_sessions": live,
        "samples": samples,
        "p50_ms": percentile(&lat, 0.50),
        "p90_ms": percentile(&lat, 0.90),
        "p99_ms": percentile(&lat, 0.99),
        "max_ms": lat[lat.len() - 1],
    })
}

/// `smsgate serve` with one `[[smpp]]` bind (short code 2222, `window`)
/// to the emulated SMSC and no modem, once the bind is up.
fn smpp_serve(dir: &Path, emu: &Emu, window: usize) -> Serve {
    let (host, port) = emu
        .0
        .smsc
        .as_deref()
        .expect("the emulated SMSC")
        .rsplit_once(':')
        .unwrap();
    let config = format!(
        "[http]\nadmin_token = \"{TOKEN}\"\nmax_connections_per_client = 0\nmax_streams_per_client = 0\n[session]\nidle_timeout = \"1h\"\n\
         [limits]\nsends_per_minute_per_client = 0\nsends_per_hour_per_recipient = 0\n\
         [[smpp]]\nhost = \"{host}\"\nport = {port}\nsystem_id = \"smsgate\"\npassword = \"secret\"\n\
         short_codes = [\"2222\"]\nwindow = {window}\n"
    );
    let cfg = dir.join("smsgate.toml");
    std::fs::write(&cfg, config).unwrap();
    let proc = serve_proc::start(&dir.join("store"), Some(&cfg), &[]);
    let s = Serve {
        url: proc.url.clone(),
        proc,
    };
    common::eventually("the SMPP bind up", Duration::from_secs(60), || {
        let v: Value = ureq::get(&format!("{}/admin/api/modems", s.url))
            .set("Authorization", &format!("Bearer {TOKEN}"))
            .call()
            .ok()?
            .into_json()
            .ok()?;
        v.as_array()?
            .iter()
            .any(|m| m["transport"] == "smpp" && m["state"] == "up")
            .then_some(())
    });
    s
}

/// Scenario 11, outbound: `n` messages from `POST /api/send` (4 browsers)
/// to the SMSC's submit_sm_resp (the bind's `sent`, as scenario 1 counts
/// `+CMGS` answered), through one bind of window 10; with `slow_ms`, every
/// PDU the SMSC writes leaves that much later (the ceiling is then
/// window / latency).
fn smpp_outbound(work: &Path, n: usize, slow_ms: Option<u64>) -> Value {
    let dir = tempfile::tempdir_in(work).unwrap();
    let emu = Emu(EmulatorProc::start_smsc(dir.path(), &[]));
    let window = 10;
    let serve = smpp_serve(dir.path(), &emu, window);
    if let Some(ms) = slow_ms {
        ureq::post(&emu.url("/smsc/faults"))
            .send_json(json!({"kind": "slow", "delay_ms": ms}))
            .expect("slow SMSC");
    }
    let t0 = Instant::now();
    let (_, accepted) = burst(&serve.url, n, 4, 9_000_000);
    let done = serve.wait_sent(n, Duration::from_secs(600));
    let secs = (done - t0).as_secs_f64();
    let mut r = json!({
        "binds": 1,
        "window": window,
        "messages": n,
        "seconds": secs,
        "msgs_per_s": n as f64 / secs,
        "all_accepted_after_s": accepted.as_secs_f64(),
    });
    if let Some(ms) = slow_ms {
        let ceiling = window as f64 * 1000.0 / ms as f64;
        r["smsc_delay_ms"] = json!(ms);
        r["ceiling_msgs_per_s"] = json!(ceiling);
        r["ceiling_fraction"] = json!(n as f64 / secs / ceiling);
    }
    r
}

/// Scenario 11, inbound: scenario 5 through the bind: `live` sessions on
/// 2222 with their streams open, phones reply one at a time; latency from
/// the phone's send (the SMSC writes the deliver_sm) to the `reply` event
/// read from the stream.
fn smpp_mo_latency(work: &Path, live: usize, samples: usize) -> Value {
    let dir = tempfile::tempdir_in(work).unwrap();
    let emu = Emu(EmulatorProc::start_smsc(dir.path(), &[]));
    let serve = smpp_serve(dir.path(), &emu, 10);
    mo_samples(&emu, &serve, live, samples, 9_500_000)
}

/// Scenarios 6 and 7: idle RSS; `n` sends from 16 browsers at once (the
/// send API under load, every 202 durable); RSS with `n` live sessions,
/// then with each session's live stream open.
fn memory_and_send_api(work: &Path, n: usize) -> Value {
    let dir = tempfile::tempdir_in(work).unwrap();
    let emu = Emu::start(dir.path(), 4, &[]);
    let serve = Serve::start(dir.path(), &emu);
    std::thread::sleep(Duration::from_secs(2));
    let idle = rss_kib(serve.pid());
    let (idle_anon, idle_file) = (
        status_kib(serve.pid(), "RssAnon"),
        status_kib(serve.pid(), "RssFile"),
    );
    let (sessions, took) = burst(&serve.url, n, 16, 7_000_000);
    serve.wait_sent(n, Duration::from_secs(600));
    std::thread::sleep(Duration::from_secs(2));
    let with_sessions = rss_kib(serve.pid());
    let addr = serve.addr();
    let streams: Vec<Stream> = sessions
        .iter()
        .map(|(c, _, _)| Stream::open(&addr, c))
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    let with_streams = rss_kib(serve.pid());
    drop(streams);
    json!({
        "rss_idle_kib": idle,
        "rss_idle_anon_kib": idle_anon,
        "rss_idle_file_kib": idle_file,
        "sessions": n,
        "rss_sessions_kib": with_sessions,
        "kib_per_session": (with_sessions.saturating_sub(idle)) as f64 / n as f64,
        "rss_streams_kib": with_streams,
        "kib_per_session_with_stream": (with_streams.saturating_sub(idle)) as f64 / n as f64,
        "kib_per_stream": (with_streams.saturating_sub(with_sessions)) as f64 / n as f64,
        "send_api_clients": 16,
        "send_api_per_s": n as f64 / took.as_secs_f64(),
    })
}

/// One `/proc/PID/status` figure in KiB (`RssAnon`, `RssFile`), 0 when
/// the process is gone.
fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// BENCH_PI=1: `smsgate serve` (process `pid`, all its threads) pinned to
/// core 0 and capped in memory: a cgroup v1 memory limit when writable,
/// else `prlimit --as`. A simulation of a Pi 3-class budget, not a Pi.
fn pi_budget(pid: u32) -> Value {
    let _ = Command::new("taskset")
        .args(["-a", "-p", "-c", "0", &pid.to_string()])
        .stdout(Stdio::null())
        .status();
    let cg = Path::new(PI_CGROUP);
    let joined = std::fs::create_dir_all(cg)
        .and_then(|_| {
            std::fs::write(
                cg.join("memory.limit_in_bytes"),
                (PI_MEMORY_MIB << 20).to_string(),
            )
        })
        .and_then(|_| std::fs::write(cg.join("cgroup.procs"), pid.to_string()));
    let limit = match joined {
        Ok(()) => format!("cgroup v1 {}", cg.display()),
        Err(e) => {
            let _ = Command::new("prlimit")
                .arg(format!("--pid={pid}"))
                .arg(format!("--as={}", PI_MEMORY_MIB << 20))
                .status();
            format!("prlimit --as (no cgroup: {e})")
        }
    };
    json!({"simulation": true, "core": 0, "memory_mib": PI_MEMORY_MIB, "memory_limit": limit})
}

/// Bytes the process has caused to be written to the block layer
/// (`/proc/PID/io` write_bytes: counted when a page is dirtied).
fn write_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("write_bytes:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Scenario 8: bytes written to disk per outbound web message (16 browsers
/// at once, then one at a time), per routed reply, and during an idle
/// minute (`BENCH_IDLE_S`, default 60, scaled to a minute).
fn disk_writes(work: &Path, n: usize) -> Value {
    const SETTLE: Duration = Duration::from_millis(1500);
    let dir = tempfile::tempdir_in(work).unwrap();
    let emu = Emu::start(dir.path(), 1, &[]);
    let serve = Serve::start(dir.path(), &emu);
    let pid = serve.pid();
    std::thread::sleep(Duration::from_secs(2));
    let w0 = write_bytes(pid);
    let (sessions, _) = burst(&serve.url, n, 16, 8_000_000);
    serve.wait_sent(n, Duration::from_secs(600));
    std::thread::sleep(SETTLE);
    let w1 = write_bytes(pid);
    burst(&serve.url, n, 1, 8_500_000);
    serve.wait_sent(2 * n, Duration::from_secs(600));
    std::thread::sleep(SETTLE);
    let w2 = write_bytes(pid);
    // Each phone of the first burst replies once, one after another.
    let charged0 = serve.metric("smsgate_mo_charges_total") as usize;
    for (k, (_, phone, code)) in sessions.iter().enumerate() {
        ureq::post(&emu.url(&format!("/phones/{phone}/send")))
            .send_json(json!({"to": code, "text": format!("reply {k}")}))
            .expect("phone sends");
    }
    common::eventually("every reply routed", Duration::from_secs(600), || {
        (serve.metric("smsgate_mo_charges_total") as usize >= charged0 + n).then_some(())
    });
    std::thread::sleep(SETTLE);
    let w3 = write_bytes(pid);
    let idle_s: f64 = std::env::var("BENCH_IDLE_S")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60.0);
    std::thread::sleep(Duration::from_secs(5));
    // BENCH_STRACE=FILE: what the idle minute writes, call by call, for a
    // profile (`strace -f -tt -y` of the writing system calls).
    let strace = std::env::var("BENCH_STRACE").ok().map(|out| {
        Command::new("strace")
            .args(["-f", "-tt", "-y", "-e"])
            .arg("trace=write,pwrite64,pwritev,fsync,fdatasync,sync_file_range,openat,rename,renameat,renameat2,unlink,ftruncate,fallocate")
            .args(["-o", &out, "-p", &pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("strace")
    });
    let w4 = write_bytes(pid);
    std::thread::sleep(Duration::from_secs_f64(idle_s));
    let w5 = write_bytes(pid);
    if let Some(mut s) = strace {
        let _ = Command::new("kill")
            .args(["-INT", &s.id().to_string()])
            .status();
        let _ = s.wait();
    }
    json!({
        "messages": n,
        "settle_ms": SETTLE.as_millis() as u64,
        "write_bytes_per_msg_16_clients": (w1 - w0) as f64 / n as f64,
        "write_bytes_per_msg_1_client": (w2 - w1) as f64 / n as f64,
        "replies": n,
        "write_bytes_per_reply": (w3 - w2) as f64 / n as f64,
        "idle_seconds": idle_s,
        "write_bytes_idle": w5 - w4,
        "write_bytes_per_idle_minute": (w5 - w4) as f64 * 60.0 / idle_s,
        "note": "/proc/PID/io write_bytes of smsgate serve: bytes sent to the block layer \
                 (counted when a page is dirtied), delivery reports included; each phase \
                 read 1.5 s after its last message",
    })
}

/// Scenario 9: the like-for-like comparison (`benches/peers/run.py`):
/// smsgate, gammu-smsd, smstools and kannel, each on a fresh emulator, the
/// same `BENCH_COMPARE_N` messages with the same texts timed to the phones'
/// inboxes, delivery reports on then off, the same 200 MO samples at the
/// same pacing, CPU, disk writes and wake-ups of each process tree, and
/// idle. `BENCH_PEERS=0` runs smsgate alone, `BENCH_PEERS=reuse` takes the
/// last `target/bench/peers.json`.
fn run_compare(root: &Path, out_dir: &Path) -> Value {
    let file = out_dir.join("peers.json");
    let peers_env = std::env::var("BENCH_PEERS").unwrap_or_default();
    if peers_env == "reuse" {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        return serde_json::from_str(&text).unwrap_or(Value::Null);
    }
    let peers = root.join("benches/peers");
    let mut cmd = Command::new("python3");
    cmd.arg(peers.join("run.py")).env("SMSGATE_BIN", BIN);
    if peers_env == "0" {
        cmd.env("PEERS_ONLY", "smsgate");
    } else {
        let installed = Command::new("bash")
            .arg(peers.join("install.sh"))
            .stdout(Stdio::null())
            .status();
        if !matches!(installed, Ok(s) if s.success()) {
            eprintln!("peers: install.sh failed (it needs root); running what is installed");
        }
    }
    let n = std::env::var("BENCH_COMPARE_N")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or_else(|| scaled(COMPARE_N));
    cmd.env("PEERS_N", n.to_string());
    for (ours, theirs) in [
        ("BENCH_COMPARE_MO", "PEERS_MO"),
        ("BENCH_IDLE_S", "PEERS_IDLE_S"),
    ] {
        if let Ok(v) = std::env::var(ours) {
            cmd.env(theirs, v);
        }
    }
    match (cmd.status(), std::fs::read_to_string(&file)) {
        (Ok(_), Ok(text)) => serde_json::from_str(&text).unwrap_or(Value::Null),
        (Err(e), _) => json!({"peers": [{"name": "peers", "errors": [e.to_string()]}]}),
        (_, Err(e)) => {
            json!({"peers": [{"name": "peers", "errors": [format!("no peers.json: {e}")]}]})
        }
    }
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// `a` as a multiple of `b` ("3.2×"), "–" when either is missing.
fn ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() && b > 0.0 && a > 0.0 {
        let r = a / b;
        if r >= 10.0 {
            format!("{r:.0}×")
        } else {
            format!("{r:.2}×")
        }
    } else {
        "–".into()
    }
}

fn num(v: f64, digits: usize) -> String {
    if v.is_finite() {
        format!("{v:.digits$}")
    } else {
        "–".into()
    }
}

/// The comparison as markdown: one table per delivery-report row, each
/// system's figure and smsgate's advantage side by side (how many times
/// faster, or how many times less CPU, bytes, wake-ups).
fn compare_markdown(c: &Value) -> String {
    let peers = c["peers"].as_array().cloned().unwrap_or_default();
    let n = c["outbound_messages"].as_u64().unwrap_or(0);
    let mo = c["mo_messages"].as_u64().unwrap_or(0);
    let mut s = String::new();
    for reports in ["on", "off"] {
        let rows: Vec<&Value> = peers
            .iter()
            .filter(|p| p["delivery_reports"].as_str() == Some(reports))
            .collect();
        let Some(ours) = rows.iter().find(|p| p["name"] == "smsgate") else {
            continue;
        };
        s += &format!(
            "\nDelivery reports {}: {n} messages per system to the phones' inboxes{}\n\n",
            reports.to_uppercase(),
            if reports == "on" {
                format!("; MO → application {mo} samples; idle 1 modem, no traffic")
            } else {
                String::new()
            }
        );
        let first = reports == "on";
        s += "| system | msg/s | smsgate × | CPU ms/msg | smsgate ÷ | bytes written/msg | smsgate ÷ | wake-ups/msg | smsgate ÷ |";
        if first {
            s += " MO p50 / p99 ms | smsgate ÷ (p50) | idle wake-ups/s | idle CPU ms/s |";
        }
        s += "\n|---|---|---|---|---|---|---|---|---|";
        if first {
            s += "---|---|---|---|";
        }
        s += "\n";
        let ou = &ours["outbound_usage"];
        for p in &rows {
            let name = p["name"].as_str().unwrap_or("?");
            let version = p["version"].as_str().unwrap_or("");
            if p["errors"].as_array().is_some_and(|e| !e.is_empty()) {
                s += &format!(
                    "| {name} {version} | error: {} |\n",
                    p["errors"][0].as_str().unwrap_or("?").replace('|', "/")
                );
                continue;
            }
            let u = &p["outbound_usage"];
            let rate = f(&p["outbound_msgs_per_s"]);
            s += &format!(
                "| {name} {version} | {} | {} | {} | {} | {} | {} | {} | {} |",
                num(rate, 2),
                ratio(f(&ours["outbound_msgs_per_s"]), rate),
                num(f(&u["cpu_ms_per_msg"]), 2),
                ratio(f(&u["cpu_ms_per_msg"]), f(&ou["cpu_ms_per_msg"])),
                num(f(&u["write_bytes_per_msg"]), 0),
                ratio(f(&u["write_bytes_per_msg"]), f(&ou["write_bytes_per_msg"])),
                num(f(&u["wakeups_per_msg"]), 1),
                ratio(f(&u["wakeups_per_msg"]), f(&ou["wakeups_per_msg"])),
            );
            if first {
                let m = &p["mo_latency_ms"];
                let i = &p["idle"];
                s += &format!(
                    " {} / {} | {} | {} | {} |",
                    num(f(&m["p50"]), 2),
                    num(f(&m["p99"]), 2),
                    ratio(f(&m["p50"]), f(&ours["mo_latency_ms"]["p50"])),
                    num(f(&i["wakeups_per_s"]), 1),
                    num(f(&i["cpu_ms_per_s"]), 2),
                );
            }
            s += "\n";
        }
    }
    s
}

/// Scenario 10 (BENCH_ARM64=1): the aarch64 build (`scripts/build-arm64`,
/// or `CARGO_TARGET_DIR=target/cross-arm64 cargo build --release --target
/// aarch64-unknown-linux-gnu`) run as `smsgate serve` under qemu-aarch64
/// against the emulator, one modem, idle: its RSS (qemu's own code, heap
/// and translation cache included), the part of it that is the guest
/// binary's pages, the binary's text size, and the x86-64 build's idle RSS
/// in the same setting.
fn arm64_idle(root: &Path, work: &Path) -> Value {
    let target_dir = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    let triple = "aarch64-unknown-linux-gnu";
    let candidates = [
        std::env::var("BENCH_ARM64_BIN").map(PathBuf::from).ok(),
        Some(target_dir.join(format!("cross-arm64/{triple}/release/smsgate"))),
        Some(target_dir.join(format!("{triple}/release/smsgate"))),
        Some(root.join(format!("target/cross-arm64/{triple}/release/smsgate"))),
    ];
    let Some(bin) = candidates.into_iter().flatten().find(|p| p.exists()) else {
        return json!({"error": "no aarch64 release build (scripts/build-arm64, or set BENCH_ARM64_BIN)"});
    };
    let settle = Duration::from_secs(10);
    let dir = tempfile::tempdir_in(work).unwrap();
    let emu = Emu::start(dir.path(), 1, &[]);
    let config = format!(
        "[http]\nadmin_token = \"{TOKEN}\"\n{}",
        emu.0.modem_config()
    );
    let cfg = dir.path().join("smsgate.toml");
    std::fs::write(&cfg, config).unwrap();
    let mut child = match Command::new("qemu-aarch64")
        .args(["-L", "/usr/aarch64-linux-gnu"])
        .arg(&bin)
        .arg("serve")
        .arg("--config")
        .arg(&cfg)
        .env("SMSGATE_HTTP__BIND", "127.0.0.1:0")
        .env("SMSGATE_STORE__DIR", dir.path().join("store-arm64"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return json!({"error": format!("qemu-aarch64: {e}")}),
    };
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let mut url = None;
    while std::io::BufRead::read_line(&mut out, &mut line).unwrap_or(0) > 0 {
        if let Some(rest) = line.strip_prefix("smsgate listening on ") {
            url = Some(rest.trim().to_string());
            break;
        }
        line.clear();
    }
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let Some(url) = url else {
        let _ = child.kill();
        return json!({"error": "the aarch64 smsgate printed no address"});
    };
    // qemu-user may lack an ioctl the serial port needs (the termios2
    // calls answer ENOSYS): the gateway then runs with its modem down,
    // retrying; record the state either way.
    let mut modem = Value::Null;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        modem = ureq::get(&format!("{url}/admin/api/modems"))
            .set("Authorization", &format!("Bearer {TOKEN}"))
            .call()
            .ok()
            .and_then(|r| r.into_json::<Value>().ok())
            .map(|v| v[0].clone())
            .unwrap_or(Value::Null);
        if modem["state"] == "up" {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(settle);
    let pid = child.id();
    let qemu_rss = rss_kib(pid);
    let (guest_rss, guest_anon_rss) = smaps_of(pid, &bin);
    let _ = child.kill();
    let _ = child.wait();
    drop(emu);
    // The x86-64 build, same setting, for scale.
    let dir = tempfile::tempdir_in(work).unwrap();
    let emu = Emu::start(dir.path(), 1, &[]);
    let serve = Serve::start(dir.path(), &emu);
    std::thread::sleep(settle);
    let x86 = rss_kib(serve.pid());
    drop(serve);
    let text = Command::new("aarch64-linux-gnu-size")
        .arg("-A")
        .arg(&bin)
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .find(|l| l.starts_with(".text "))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        });
    let qemu_version = Command::new("qemu-aarch64")
        .arg("--version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default();
    json!({
        "binary": bin.display().to_string(),
        "binary_bytes": std::fs::metadata(&bin).map(|m| m.len()).unwrap_or(0),
        "text_bytes": text,
        "qemu": qemu_version,
        "settle_s": settle.as_secs(),
        "qemu_rss_kib": qemu_rss,
        "guest_binary_rss_kib": guest_rss,
        "guest_anon_rss_kib": guest_anon_rss,
        "x86_64_rss_kib": x86,
        "modem_state_under_qemu": modem["state"],
        "modem_error_under_qemu": modem["last_error"],
        "note": "qemu-user RSS includes qemu's own code, heap and translated-code cache; \
                 guest_binary_rss_kib is the resident part of the aarch64 binary's own \
                 mappings (from /proc/PID/smaps); anonymous memory cannot be split between \
                 guest and qemu",
    })
}

/// (resident KiB of `file`'s mappings, resident anonymous KiB) of `pid`.
fn smaps_of(pid: u32, file: &Path) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let name = file.canonicalize().unwrap_or(file.to_path_buf());
    let name = name.to_string_lossy();
    let (mut ours, mut anon, mut in_file) = (0, 0, false);
    for l in text.lines() {
        let mut parts = l.split_whitespace();
        let first = parts.next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            in_file = l.ends_with(name.as_ref());
        } else if first == "Rss:" && in_file {
            ours += parts
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        } else if first == "Anonymous:" {
            anon += parts
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    (ours, anon)
}

fn command_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// CPU model, cores, memory and kernel of this machine.
fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string());
    let mem_kib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
    });
    json!({
        "cpu_model": model,
        "cores": num_cpus(),
        "memory_mib": mem_kib.map(|k| k / 1024),
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "load_average_at_end": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
    })
}

/// The filesystem the stores and spools live on (the system temporary
/// directory): `findmnt` and `stat -f`.
fn filesystem(dir: &Path) -> Value {
    let d = dir.to_string_lossy();
    json!({
        "work_dir": d,
        "findmnt": command_line("findmnt", &["-n", "-o", "TARGET,SOURCE,FSTYPE,OPTIONS", "-T", &d]),
        "stat_f_type": command_line("stat", &["-f", "-c", "%T", &d]),
        "block_size": command_line("stat", &["-f", "-c", "%S", &d]),
    })
}

/// smsgate's git revision, rustc, each peer's package version.
fn versions(root: &Path, compare: Option<&Value>) -> Value {
    let r = root.to_string_lossy();
    let dirty = !command_line(
        "git",
        &["-C", &r, "status", "--porcelain", "--untracked-files=no"],
    )
    .is_empty();
    let mut peers = serde_json::Map::new();
    for p in compare
        .and_then(|c| c["peers"].as_array())
        .into_iter()
        .flatten()
    {
        if let (Some(n), v) = (p["name"].as_str(), &p["version"]) {
            peers.insert(n.to_string(), v.clone());
        }
    }
    json!({
        "smsgate": env!("CARGO_PKG_VERSION"),
        "smsgate_git": format!(
            "{}{}",
            command_line("git", &["-C", &r, "rev-parse", "HEAD"]),
            if dirty { " (with uncommitted changes)" } else { "" }
        ),
        "rustc": command_line("rustc", &["--version"]),
        "systems": peers,
    })
}

/// What the run was asked to do.
fn settings(pi: bool) -> Value {
    let env: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("BENCH_") || k.starts_with("PEERS_"))
        .collect();
    json!({
        "environment": env,
        "scale": std::env::var("BENCH_SCALE").unwrap_or_else(|_| "1".into()),
        "build": "cargo bench profile (release)",
        "emulator": "a separate smsgate emulator process on loopback; zero latency unless a scenario says otherwise",
        "pi_budget": if pi {
            json!({"simulation": true, "core": 0, "memory_mib": PI_MEMORY_MIB,
                   "what": "smsgate serve pinned with taskset to one core and capped by a cgroup v1 memory limit (prlimit --as when no cgroup is writable); the emulator, the load clients and the peers are not restricted; x86-64 cores, not a Pi"})
        } else {
            Value::Null
        },
    })
}

/// The summary of a run as markdown: the targets of issue #19 with ✔/✘,
/// the like-for-like comparison, and what was measured. Pasted into
/// docs/performance.md as it is.
fn markdown(doc: &Value) -> String {
    let r = &doc["results"];
    let m = &doc["machine"];
    let mut s = format!(
        "Run {} on {} ({} cores, {} MiB, Linux {}), {} on {}; smsgate {}{}.\n",
        doc["when"].as_str().unwrap_or("?").get(..10).unwrap_or("?"),
        m["cpu_model"].as_str().unwrap_or("?"),
        m["cores"],
        m["memory_mib"],
        m["kernel"].as_str().unwrap_or("?"),
        doc["filesystem"]["findmnt"]
            .as_str()
            .unwrap_or("?")
            .split_whitespace()
            .nth(2)
            .unwrap_or("?"),
        doc["filesystem"]["findmnt"]
            .as_str()
            .unwrap_or("?")
            .split_whitespace()
            .nth(1)
            .unwrap_or("?"),
        doc["versions"]["smsgate_git"]
            .as_str()
            .unwrap_or("?")
            .get(..10)
            .unwrap_or("?"),
        if doc["settings"]["pi_budget"].is_null() {
            String::new()
        } else {
            format!("; BENCH_PI=1: smsgate on 1 core with {PI_MEMORY_MIB} MiB (a simulation)")
        }
    );
    // Targets.
    let ours = r["9_compare"]["peers"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|p| p["name"] == "smsgate" && p["idle"].is_object())
                .cloned()
        })
        .unwrap_or(Value::Null);
    let mem = &r["6_7_memory_and_send_api"];
    let disk = &r["8_disk_writes"];
    let mo = &r["5_mo_to_sse"];
    let big_mo = mo
        .as_object()
        .and_then(|o| o.values().max_by_key(|v| v["live_sessions"].as_u64()))
        .cloned()
        .unwrap_or(Value::Null);
    let mib = |v: &Value| f(v) / 1024.0;
    type Target<'a> = (&'a str, String, &'a str, Option<bool>, &'a str);
    let check = |v: f64, ok: bool| if v.is_finite() { Some(ok) } else { None };
    let idle_w = f(&ours["idle"]["wakeups_per_s"]);
    let idle_c = f(&ours["idle"]["cpu_ms_per_s"]);
    let d16 = f(&disk["write_bytes_per_msg_16_clients"]);
    let d1 = f(&disk["write_bytes_per_msg_1_client"]);
    let drep = f(&disk["write_bytes_per_reply"]);
    let didle = f(&disk["write_bytes_per_idle_minute"]);
    let rss_idle = mib(&mem["rss_idle_kib"]);
    let sessions = mem["sessions"].as_u64().unwrap_or(0);
    let rss_s = mib(&mem["rss_sessions_kib"]);
    let stream = f(&mem["kib_per_stream"]);
    let out = f(&r["1_outbound_zero_latency"]["msgs_per_s"]);
    let link = f(&r["2_outbound_paced"]["link_fraction"]) * 100.0;
    let radio = f(&r["4_radio"]["ceiling_fraction"]) * 100.0;
    let p99 = f(&big_mo["p99_ms"]);
    let smpp = &r["11_smpp"];
    let smpp_out = f(&smpp["zero_latency"]["msgs_per_s"]);
    let smpp_slow = f(&smpp["slow_50ms_window_10"]["ceiling_fraction"]) * 100.0;
    let smpp_p99 = f(&smpp["mo_to_sse"]["p99_ms"]);
    let targets: Vec<Target> = vec![
        (
            "idle wake-ups (1 modem, no traffic)",
            format!("{} /s", num(idle_w, 1)),
            "≤ 5 /s",
            check(idle_w, idle_w <= 5.0),
            "sled 0.34's thread pool: 7 threads waking each second (0.58/s without them, docs)",
        ),
        (
            "idle CPU",
            format!("{} ms/s", num(idle_c, 2)),
            "≤ 0.5 ms/s",
            check(idle_c, idle_c <= 0.5),
            "the same wake-ups",
        ),
        (
            "written per outbound web message, 16 clients",
            format!("{} KiB", num(d16 / 1024.0, 2)),
            "≤ 4 KiB",
            check(d16, d16 <= 4096.0),
            "sled's write amplification (leaf rewrites every 10 deltas, whole-state snapshots) and a page per flush",
        ),
        (
            "written per outbound web message, one at a time",
            format!("{} KiB", num(d1 / 1024.0, 2)),
            "≤ 4 KiB",
            check(d1, d1 <= 4096.0),
            "one flush each for the acceptance, the sent status and the report: a page each",
        ),
        (
            "written per routed reply",
            format!("{} KiB", num(drep / 1024.0, 2)),
            "≤ 4 KiB",
            check(drep, drep <= 4096.0),
            "journal entry, fingerprint, assembly state, charge record; sled's leaf rewrites",
        ),
        (
            "written per idle minute",
            format!("{} bytes", num(didle, 0)),
            "0",
            check(didle, didle == 0.0),
            "sled's segment cleaner finishing the burst before it (0 bytes from 85 s on, docs)",
        ),
        (
            "idle RSS",
            format!("{} MiB", num(rss_idle, 1)),
            "≤ 8 MiB",
            check(rss_idle, rss_idle <= 8.0),
            "file-backed code pages (fault-around), every country's phone metadata",
        ),
        (
            "RSS with 10 000 live sessions",
            format!("{} MiB ({sessions} sessions)", num(rss_s, 1)),
            "≤ 48 MiB",
            check(rss_s, rss_s <= 48.0 && sessions >= 10_000),
            "heap fragmented by a concurrent burst: the same live heap as one send at a time (heaptrack, docs)",
        ),
        (
            "each open live stream",
            format!("{} KiB", num(stream, 1)),
            "≤ 8 KiB",
            check(stream, stream <= 8.0),
            "hyper's two 8 KiB per-connection buffers (no setting below 8 KiB)",
        ),
        (
            "durable outbound, zero latency (to +CMGS answered)",
            format!("{} msg/s", num(out, 0)),
            "≥ 1000 msg/s",
            check(out, out >= 1000.0),
            "the store's group commit (fdatasync), 2 cores shared with the emulator",
        ),
        (
            "one 115 200-baud link",
            format!("{} %", num(link, 1)),
            "≥ 90 %",
            check(link, link >= 90.0),
            "bytes on the wire",
        ),
        (
            "radio-bound ceiling (3 s per +CMGS, 2 modems)",
            format!("{} %", num(radio, 1)),
            "≥ 99 %",
            check(radio, radio >= 99.0),
            "the radio",
        ),
        (
            "MO → SSE p99 at 10 000 live sessions",
            format!("{} ms ({} sessions)", num(p99, 2), big_mo["live_sessions"]),
            "≤ 5 ms",
            check(
                p99,
                p99 <= 5.0 && big_mo["live_sessions"].as_u64() >= Some(10_000),
            ),
            "the modem read, the journal write before routing",
        ),
        (
            "SMPP (#20): durable outbound through one bind, zero latency (to submit_sm_resp)",
            format!("{} msg/s", num(smpp_out, 0)),
            "≥ 1000 msg/s",
            check(smpp_out, smpp_out >= 1000.0),
            "the store's group commit (fdatasync), 2 cores shared with the emulated SMSC",
        ),
        (
            "SMPP (#20): 50 ms SMSC, window 10 (of window / latency = 200 msg/s)",
            format!("{} %", num(smpp_slow, 1)),
            "≥ 90 %",
            check(smpp_slow, smpp_slow >= 90.0),
            "the window: 10 submit_sm per 50 ms round trip",
        ),
        (
            "SMPP (#20): MO → SSE p99",
            format!(
                "{} ms ({} sessions)",
                num(smpp_p99, 2),
                smpp["mo_to_sse"]["live_sessions"]
            ),
            "≤ 5 ms",
            check(smpp_p99, smpp_p99 <= 5.0),
            "the deliver_sm made durable before routing and before its deliver_sm_resp",
        ),
    ];
    s += "\n| target (#19) | measured | target | met | what limits it |\n|---|---|---|---|---|\n";
    for (name, value, target, ok, limit) in targets {
        let mark = match ok {
            Some(true) => "✔",
            Some(false) => "✘",
            None => "not measured",
        };
        s += &format!("| {name} | {value} | {target} | {mark} | {limit} |\n");
    }
    if r["9_compare"].is_object() {
        s += &compare_markdown(&r["9_compare"]);
    }
    s += "\n| scenario | measured | target |\n|---|---|---|\n";
    for t in doc["table"].as_array().into_iter().flatten() {
        s += &format!(
            "| {} | {} | {} |\n",
            t["scenario"].as_str().unwrap_or(""),
            t["value"].as_str().unwrap_or(""),
            t["target"].as_str().unwrap_or("")
        );
    }
    s
}
