//! The performance benchmark: `cargo bench --bench gateway`.
//!
//! Runs the real `smsgate serve` (optimised build) against modems of a
//! separate `smsgate emulator` process on loopback, measures the scenarios
//! of docs/performance.md, then runs the peer gateways (`benches/peers/`)
//! against the same emulator, prints one table and writes
//! `target/bench/results.json`. Nothing here asserts a timing: it measures.
//!
//! Environment: `BENCH_ONLY=1,5` runs only those scenarios; `BENCH_PEERS=0`
//! skips the peers, `BENCH_PEERS=reuse` takes their last
//! `target/bench/peers.json`; `BENCH_SCALE=0.2` shrinks every message count
//! (a quick look; the recorded figures use 1).

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

fn main() {
    let only: Option<Vec<u32>> = std::env::var("BENCH_ONLY")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect());
    let want = |n: u32| only.as_ref().is_none_or(|o| o.contains(&n));
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out_dir = root.join("target/bench");
    std::fs::create_dir_all(&out_dir).expect("create target/bench");
    let work = tempfile::tempdir().expect("temporary directory");

    let mut results = BTreeMap::<String, Value>::new();
    let mut table = Vec::<(String, String, String)>::new();
    let mut row = |name: &str, value: String, target: &str| {
        println!("{name:<58} {value:>24}   {target}");
        table.push((name.into(), value, target.into()));
    };
    println!("smsgate benchmark: {} cores", num_cpus());

    if want(1) {
        let r = outbound(work.path(), 1, &[], scaled(3000), 1);
        row(
            "1. outbound, 1 modem, zero latency, durable (msg/s)",
            format!("{:.0}", r["msgs_per_s"].as_f64().unwrap()),
            ">= 220 and >= 100x best peer",
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
            ">= 95 %",
        );
        results.insert("4_radio".into(), r);
    }
    if want(5) {
        let mut lat = serde_json::Map::new();
        for live in [100usize, 1000] {
            let r = mo_latency(work.path(), live, 200);
            row(
                &format!("5. MO -> SSE at {live} live sessions (p50 / p99 ms)"),
                format!(
                    "{:.1} / {:.1}",
                    r["p50_ms"].as_f64().unwrap(),
                    r["p99_ms"].as_f64().unwrap()
                ),
                "p99 <= 20 ms at 1000",
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
    if std::env::var("BENCH_PEERS").as_deref() != Ok("0") {
        let peers = run_peers(&root, &out_dir);
        let ours_out = results
            .get("1_outbound_zero_latency")
            .and_then(|r| r["msgs_per_s"].as_f64());
        let ours_mo = results
            .get("5_mo_to_sse")
            .and_then(|r| r["100"]["p50_ms"].as_f64());
        let mut best = 0.0f64;
        for p in peers.as_array().into_iter().flatten() {
            let name = p["name"].as_str().unwrap_or("?");
            let errors = p["errors"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            if !errors.is_empty() {
                let first = errors[0].as_str().unwrap_or("?");
                row(&format!("peer {name}"), "error".into(), first);
                continue;
            }
            let rate = p["outbound_msgs_per_s"].as_f64().unwrap_or(0.0);
            best = best.max(rate);
            let mo = p["mo_latency_ms"]["p50"].as_f64().unwrap_or(f64::NAN);
            row(
                &format!("peer {name}: outbound msg/s (smsgate x)"),
                format!(
                    "{rate:.2} ({:.0}x)",
                    ours_out.map(|o| o / rate).unwrap_or(f64::NAN)
                ),
                "",
            );
            row(
                &format!("peer {name}: MO -> application p50 ms (x smsgate)"),
                format!(
                    "{mo:.0} ({:.0}x)",
                    ours_mo.map(|o| mo / o).unwrap_or(f64::NAN)
                ),
                "",
            );
        }
        if let (Some(o), true) = (ours_out, best > 0.0) {
            row(
                "smsgate outbound / best peer",
                format!("{:.0}x", o / best),
                ">= 100x",
            );
        }
        results.insert("peers".into(), peers);
    }

    let doc = json!({
        "when": chrono::Utc::now().to_rfc3339(),
        "cores": num_cpus(),
        "smsgate": env!("CARGO_PKG_VERSION"),
        "results": results,
        "table": table.iter().map(|(n, v, t)| json!({"scenario": n, "value": v, "target": t})).collect::<Vec<_>>(),
    });
    let path = out_dir.join("results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).expect("write results");
    println!("wrote {}", path.display());
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
    let (_, accepted) = burst(&serve.url, n, clients.max(modems), 1_000_000);
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
    let (sessions, _) = burst(&serve.url, live, 8, 5_000_000);
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

/// The peers (`benches/peers/`, installed by its `install.sh`): their own
/// JSON, or an error entry.
fn run_peers(root: &Path, out_dir: &Path) -> Value {
    let file = out_dir.join("peers.json");
    if std::env::var("BENCH_PEERS").as_deref() == Ok("reuse") {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        return v.get("peers").cloned().unwrap_or(v);
    }
    let peers = root.join("benches/peers");
    let installed = Command::new("bash")
        .arg(peers.join("install.sh"))
        .stdout(Stdio::null())
        .status();
    if !matches!(installed, Ok(s) if s.success()) {
        eprintln!("peers: install.sh failed (it needs root); running what is installed");
    }
    let n = std::env::var("PEERS_N").unwrap_or_else(|_| scaled(100).to_string());
    let status = Command::new("python3")
        .arg(peers.join("run.py"))
        .env("SMSGATE_BIN", BIN)
        .env("PEERS_N", n)
        .status();
    match (status, std::fs::read_to_string(&file)) {
        (Ok(_), Ok(text)) => {
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            v.get("peers").cloned().unwrap_or(v)
        }
        (Err(e), _) => json!([{"name": "peers", "errors": [e.to_string()]}]),
        (_, Err(e)) => json!([{"name": "peers", "errors": [format!("no peers.json: {e}")]}]),
    }
}
