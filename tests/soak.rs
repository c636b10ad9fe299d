//! The soak (documented in docs/reliability.md, not in CI: it is ignored):
//! `smsgate serve` drives the modems of a separate `smsgate emulator` for
//! `SOAK_SECS` seconds (default 600) while browsers send over HTTP, watch
//! their live streams and phones reply, and a fault is injected into one
//! modem every 15 s (unplug, reboot, garbage, no answer, `+CMS ERROR`).
//! Every 10 s the gateway's RSS and the size of its store are sampled.
//!
//! At the end, from the emulator's side: every send answered 202 reached
//! its phone, every reply reached its session's live stream or the
//! out-of-session records (one charge each; a reply held up past its
//! session's end may reach the later session holding the same pair, R6),
//! no answer was a 5xx, and RSS did not keep growing. The store's size on disk is reported next to the
//! size of the data it keeps (an export of every record).
//!
//! ```sh
//! cargo test --release --test soak -- --ignored --nocapture
//! SOAK_SECS=60 cargo test --release --test soak -- --ignored --nocapture
//! ```

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::emulator_proc::{rss_kib, EmulatorProc};
use common::{eventually, serve_proc};
use serde_json::{json, Value};

const MODEMS: usize = 3;
const BROWSERS: usize = 4;
/// Phones the browsers write to, in turn: a bounded population, so the
/// state kept per phone (R6 retired pairs) is bounded too.
const PHONES: usize = 300;
const IDLE_TIMEOUT: &str = "20s";
/// Each browser's pause between two sends: a steady few sends a second.
const PAUSE: Duration = Duration::from_millis(500);
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
const FAULT_EVERY: Duration = Duration::from_secs(15);
/// How long a browser waits for its phone, then for the reply on its
/// stream, before moving on (the final checks still look for both).
const WAIT_PHONE: Duration = Duration::from_secs(30);
const WAIT_LIVE: Duration = Duration::from_secs(15);
/// Bound on draining everything after the traffic stops.
const DRAIN_WITHIN: Duration = Duration::from_secs(180);
const TOKEN: &str = "soak-test-admin-token-0123456789";
const LONG: &str = "Árbol, canción, pingüino: ¿llegó todo? Esto ocupa varias partes \
                    para probar el reensamblado con acentos y eñes en UCS-2. ";

fn soak_duration() -> Duration {
    let secs = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    Duration::from_secs(secs)
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn admin(url: &str) -> Value {
    ureq::get(url)
        .set("Authorization", &format!("Bearer {TOKEN}"))
        .call()
        .unwrap()
        .into_json()
        .unwrap()
}

/// A live stream (SSE) read on a plain socket: whatever arrived is kept.
struct Stream {
    sock: TcpStream,
    seen: Vec<u8>,
}

impl Stream {
    fn open(addr: &str, cookie: &str) -> Option<Stream> {
        let mut sock = TcpStream::connect(addr).ok()?;
        sock.set_read_timeout(Some(Duration::from_millis(500)))
            .ok()?;
        let req = format!(
            "GET /api/session/events HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n\
             Accept: text/event-stream\r\n\r\n"
        );
        sock.write_all(req.as_bytes()).ok()?;
        Some(Stream {
            sock,
            seen: Vec::new(),
        })
    }

    fn contains(&self, marker: &str) -> bool {
        self.seen
            .windows(marker.len())
            .any(|w| w == marker.as_bytes())
    }

    /// Reads until `marker` arrived, the stream ended or `bound` passed.
    fn wait_for(&mut self, marker: &str, bound: Duration) -> bool {
        let deadline = Instant::now() + bound;
        let mut buf = [0u8; 4096];
        while !self.contains(marker) && Instant::now() < deadline {
            match self.sock.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => self.seen.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => break,
            }
        }
        self.contains(marker)
    }
}

/// What the browsers and phones did, for the final checks.
#[derive(Default)]
struct Tally {
    /// (phone, text) of every send answered 202 with the recipient queued.
    acked: Mutex<Vec<(String, String)>>,
    /// Marker of every reply a phone sent.
    replies: Mutex<Vec<String>>,
    /// Replies not seen live within WAIT_LIVE: their streams, read again
    /// at the end.
    late: Mutex<Vec<(String, Stream)>>,
    seen_live: AtomicU64,
    refused: AtomicU64,
    conflicts: AtomicU64,
    server_errors: AtomicU64,
    other_errors: AtomicU64,
    long_sends: AtomicU64,
}

fn browser(b: usize, url: String, control: String, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    let addr = url.trim_start_matches("http://").to_string();
    let mut i = 0usize;
    while !stop.load(Relaxed) {
        std::thread::sleep(PAUSE);
        let n = b + BROWSERS * i;
        i += 1;
        // Consecutive sends of one browser go to phones far apart.
        let to = format!("+1809{:07}", 3_000_000 + (n * 7) % PHONES);
        let long = n % 10 == 0;
        let text = if long {
            tally.long_sends.fetch_add(1, Relaxed);
            format!("soak-{n}: {}", LONG.repeat(2))
        } else {
            format!("soak-{n}")
        };
        let resp = ureq::post(&format!("{url}/api/send"))
            .set("Origin", &url)
            .send_json(json!({"to": [to], "text": text}));
        let resp = match resp {
            Ok(r) => r,
            Err(ureq::Error::Status(code, _)) if code >= 500 => {
                tally.server_errors.fetch_add(1, Relaxed);
                continue;
            }
            Err(ureq::Error::Status(409, _)) => {
                tally.conflicts.fetch_add(1, Relaxed);
                continue;
            }
            Err(e) => {
                eprintln!("soak: send {n}: {e}");
                tally.other_errors.fetch_add(1, Relaxed);
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
        };
        let cookie = resp
            .header("set-cookie")
            .and_then(|c| c.split(';').next())
            .unwrap_or_default()
            .to_string();
        let body: Value = resp.into_json().unwrap();
        let r = &body["recipients"][0];
        if r["status"] != "queued" {
            // R5: every short code is busy with this phone; not acknowledged.
            tally.refused.fetch_add(1, Relaxed);
            continue;
        }
        let code = r["short_code"].as_str().unwrap().to_string();
        tally.acked.lock().unwrap().push((to.clone(), text.clone()));
        let Some(mut stream) = Stream::open(&addr, &cookie) else {
            tally.other_errors.fetch_add(1, Relaxed);
            continue;
        };
        // The phone reads it, then answers.
        let deadline = Instant::now() + WAIT_PHONE;
        let arrived = loop {
            let inbox: Value = ureq::get(&format!("{control}/phones/{to}/inbox"))
                .call()
                .ok()
                .and_then(|r| r.into_json().ok())
                .unwrap_or(Value::Null);
            let got = inbox.as_array().is_some_and(|a| {
                a.iter()
                    .any(|m| m["text"] == text.as_str() && m["from"] == code.as_str())
            });
            if got || Instant::now() > deadline || stop.load(Relaxed) {
                break got;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        if !arrived {
            continue;
        }
        let marker = format!("re-{n}:");
        let reply = if n % 20 == 0 {
            format!("{marker} {LONG}")
        } else {
            format!("{marker} gracias")
        };
        let sent = ureq::post(&format!("{control}/phones/{to}/send"))
            .send_json(json!({"to": code, "text": reply}));
        if sent.is_err() {
            tally.other_errors.fetch_add(1, Relaxed);
            continue;
        }
        tally.replies.lock().unwrap().push(marker.clone());
        if stream.wait_for(&marker, WAIT_LIVE) {
            tally.seen_live.fetch_add(1, Relaxed);
        } else {
            tally.late.lock().unwrap().push((marker, stream));
        }
    }
}

/// The faults, in turn, each on the next modem.
fn fault(k: usize, control: &str) -> &'static str {
    let modem = k % MODEMS;
    let url = format!("{control}/modems/{modem}/faults");
    let post = |f: Value| {
        ureq::post(&url).send_json(f).expect("inject a fault");
    };
    match k % 5 {
        0 => {
            post(json!({"kind": "unplug", "duration_ms": 2000}));
            "unplug 2 s"
        }
        1 => {
            post(json!({"kind": "reboot"}));
            "reboot"
        }
        2 => {
            post(json!({"kind": "garbage", "bytes": 16, "count": 5}));
            "garbage ×5"
        }
        3 => {
            post(json!({"kind": "no_answer"}));
            std::thread::sleep(Duration::from_secs(3));
            ureq::delete(&url).call().expect("clear the fault");
            "no answer 3 s"
        }
        _ => {
            post(json!({"kind": "cms_error", "code": 500, "count": 2}));
            "+CMS ERROR: 500 ×2"
        }
    }
}

struct Sample {
    at: Duration,
    rss_kib: u64,
    store_bytes: u64,
    acked: usize,
}

fn mean(xs: &[u64]) -> f64 {
    xs.iter().sum::<u64>() as f64 / xs.len().max(1) as f64
}

#[test]
#[ignore = "10 minutes; run by hand (docs/reliability.md)"]
fn soak_with_traffic_both_ways_and_faults() {
    let duration = soak_duration();
    let dir = tempfile::tempdir().unwrap();
    let emu = EmulatorProc::start(MODEMS, dir.path());
    let control = emu.control.clone();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[http]\nadmin_token = \"{TOKEN}\"\nmax_connections_per_client = 0\nmax_streams_per_client = 0\n[session]\nidle_timeout = \"{IDLE_TIMEOUT}\"\n\
             [limits]\nsends_per_minute_per_client = 0\nsends_per_hour_per_recipient = 0\n{}",
            emu.modem_config()
        ),
    )
    .unwrap();
    let store = dir.path().join("store");
    let serve = serve_proc::start(&store, Some(&cfg), &[]);
    let url = serve.url.clone();
    let pid = serve.child.id();
    eventually("ready", Duration::from_secs(30), || {
        ureq::get(&format!("{url}/readyz")).call().ok()
    });

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let browsers: Vec<_> = (0..BROWSERS)
        .map(|b| {
            let (url, control, stop, tally) =
                (url.clone(), control.clone(), stop.clone(), tally.clone());
            std::thread::spawn(move || browser(b, url, control, stop, tally))
        })
        .collect();
    let faults = {
        let (control, stop) = (control.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut done: Vec<&'static str> = Vec::new();
            let mut next = Instant::now() + FAULT_EVERY;
            while !stop.load(Relaxed) {
                if Instant::now() >= next {
                    done.push(fault(done.len(), &control));
                    next += FAULT_EVERY;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            done
        })
    };
    let mut samples = Vec::new();
    while started.elapsed() < duration {
        samples.push(Sample {
            at: started.elapsed(),
            rss_kib: rss_kib(pid),
            store_bytes: dir_bytes(&store),
            acked: tally.acked.lock().unwrap().len(),
        });
        let s = samples.last().unwrap();
        assert!(s.rss_kib > 0, "smsgate serve is gone");
        println!(
            "soak: {:>4} s  RSS {:>6} KiB  store {:>9} B  acknowledged sends {}",
            s.at.as_secs(),
            s.rss_kib,
            s.store_bytes,
            s.acked
        );
        std::thread::sleep(SAMPLE_EVERY.min(duration.saturating_sub(started.elapsed())));
    }
    stop.store(true, Relaxed);
    for b in browsers {
        b.join().unwrap();
    }
    let faults = faults.join().unwrap();
    let traffic_time = started.elapsed();
    samples.push(Sample {
        at: traffic_time,
        rss_kib: rss_kib(pid),
        store_bytes: dir_bytes(&store),
        acked: tally.acked.lock().unwrap().len(),
    });

    // Everything drains.
    for m in 0..MODEMS {
        ureq::delete(&format!("{control}/modems/{m}/faults"))
            .call()
            .unwrap();
    }
    eventually("outbox drained", DRAIN_WITHIN, || {
        admin(&format!("{url}/admin/api/outbox"))
            .as_array()
            .is_some_and(|a| a.is_empty())
            .then_some(())
    });
    let replies = tally.replies.lock().unwrap().clone();
    eventually("a charge per reply", DRAIN_WITHIN, || {
        admin(&format!("{url}/admin/api/charges"))
            .as_array()
            .is_some_and(|a| a.len() >= replies.len())
            .then_some(())
    });

    // Every acknowledged send reached its phone.
    let acked = tally.acked.lock().unwrap().clone();
    let mut by_phone: HashMap<&str, Vec<&str>> = HashMap::new();
    for (to, text) in &acked {
        by_phone.entry(to).or_default().push(text);
    }
    let mut lost_sends = Vec::new();
    let mut delivered_parts = 0u64;
    for (to, texts) in &by_phone {
        let inbox: Value = ureq::get(&format!("{control}/phones/{to}/inbox"))
            .call()
            .unwrap()
            .into_json()
            .unwrap();
        let got: HashSet<&str> = inbox
            .as_array()
            .unwrap()
            .iter()
            .inspect(|m| delivered_parts += m["parts"].as_u64().unwrap_or(1))
            .filter(|m| m["complete"] == true)
            .filter_map(|m| m["text"].as_str())
            .collect();
        lost_sends.extend(texts.iter().filter(|t| !got.contains(*t)).map(|t| (to, t)));
    }
    // Every reply reached its session's stream or the out-of-session records.
    let late = std::mem::take(&mut *tally.late.lock().unwrap());
    let late_count = late.len();
    let records: Vec<String> = admin(&format!("{url}/admin/api/out-of-session"))
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["text"].as_str().map(str::to_string))
        .collect();
    let mut late_live = 0;
    let mut to_records = 0;
    let mut lost_replies = Vec::new();
    for (marker, mut stream) in late {
        if stream.wait_for(&marker, Duration::from_secs(2)) {
            late_live += 1;
        } else if records.iter().any(|t| t.starts_with(&marker)) {
            to_records += 1;
        } else {
            lost_replies.push(marker);
        }
    }
    let charges = admin(&format!("{url}/admin/api/charges"));
    let charges = charges.as_array().unwrap();
    let in_session = charges.iter().filter(|c| c["in_session"] == true).count();
    // A reply held up past its session's end (a stalled modem) reaches the
    // session that holds the same (phone, short code) pair by then, if
    // any (R6 reuses a cooling pair when every code is cooling): charged
    // in session, though not on the stream that asked.
    let seen_live = tally.seen_live.load(Relaxed) as usize;
    let rebound = in_session.saturating_sub(seen_live + late_live);
    let charges = charges.len();
    let rss: Vec<u64> = samples.iter().map(|s| s.rss_kib).collect();
    let third = rss.len() / 3;
    let (middle, last) = (mean(&rss[third..2 * third]), mean(&rss[2 * third..]));
    let store_now = dir_bytes(&store);
    drop(serve);

    // The data the store keeps: every record, exported.
    let export = dir.path().join("export.jsonl");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .args(["store", "export"])
        .arg(&export)
        .arg("--dir")
        .arg(&store)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exported = std::fs::read_to_string(&export).unwrap();
    let mut per_tree: HashMap<String, (usize, usize)> = HashMap::new();
    for line in exported.lines().skip(1) {
        let v: Value = serde_json::from_str(line).unwrap();
        let e = per_tree
            .entry(v["tree"].as_str().unwrap_or("?").to_string())
            .or_default();
        e.0 += 1;
        e.1 += line.len();
    }
    let mut trees: Vec<_> = per_tree.into_iter().collect();
    trees.sort();

    println!(
        "soak: {:.0} s of traffic, {BROWSERS} browsers, {MODEMS} modems, {PHONES} phones",
        traffic_time.as_secs_f64()
    );
    println!(
        "soak: sends answered 202 and queued {} ({} long), refused (R5) {}, 409 {}, \
         5xx {}, other errors {}",
        acked.len(),
        tally.long_sends.load(Relaxed),
        tally.refused.load(Relaxed),
        tally.conflicts.load(Relaxed),
        tally.server_errors.load(Relaxed),
        tally.other_errors.load(Relaxed)
    );
    println!(
        "soak: SMS parts received by phones {delivered_parts}; replies {}: live within {} s {}, \
         live later {late_live}, out-of-session records {to_records}, to a later session of the \
         same pair {rebound}, lost {}; charges {charges} ({in_session} in session)",
        replies.len(),
        WAIT_LIVE.as_secs(),
        seen_live,
        lost_replies.len().saturating_sub(rebound)
    );
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for f in &faults {
        match counts.iter_mut().find(|(k, _)| k == f) {
            Some(c) => c.1 += 1,
            None => counts.push((f, 1)),
        }
    }
    println!("soak: {} faults injected: {counts:?}", faults.len());
    println!(
        "soak: RSS KiB first {} min {} max {} last {}; mean of middle third {middle:.0}, \
         of last third {last:.0} ({:+.1} %)",
        rss[0],
        rss.iter().min().unwrap(),
        rss.iter().max().unwrap(),
        rss[rss.len() - 1],
        (last - middle) / middle * 100.0
    );
    let sizes: Vec<u64> = samples.iter().map(|s| s.store_bytes).collect();
    println!(
        "soak: store on disk first {} B, max {} B, at the end {} B; data kept (export) {} B in {} records: {:?}",
        sizes[0],
        sizes.iter().max().unwrap(),
        store_now,
        exported.len(),
        exported.lines().count().saturating_sub(1),
        trees
    );

    assert_eq!(tally.server_errors.load(Relaxed), 0, "5xx answers");
    assert!(
        lost_sends.is_empty(),
        "{} acknowledged sends never reached their phone: {:?}",
        lost_sends.len(),
        &lost_sends[..lost_sends.len().min(10)]
    );
    assert_eq!(
        lost_replies.len(),
        rebound,
        "replies lost: {lost_replies:?} (late {late_count})"
    );
    assert_eq!(in_session + to_records, replies.len(), "every reply routed");
    assert_eq!(charges, replies.len(), "one charge per reply, none twice");
    assert!(
        last <= middle * 1.15 + 4096.0,
        "RSS keeps growing: middle third {middle:.0} KiB, last third {last:.0} KiB"
    );
}
