//! R13 under a flood: `smsgate serve` on its embedded emulated network with
//! the default limits, flooded on loopback from 16 other client addresses
//! (127.0.0.2–17: Linux routes all of 127/8 to `lo`, so a socket bound to
//! one of them is another client to the server) — JSON and form sends to
//! many numbers and to one victim number, and the unlimited pages — while
//! a real headless Chromium on 127.0.0.1 sends a message, the phone
//! replies, and the reply appears live in its page.
//!
//! Checked: no answer is a 5xx (the flood's, the browser's: `/metrics`);
//! every 429 carries `Retry-After`; each flooding address had no more
//! sends accepted than `sends_per_minute_per_client` allows over the
//! flood's duration, and the victim no more than
//! `sends_per_hour_per_recipient` (counted by its phone too). Bounded: 3 000
//! requests a second, at most 30 s and 90 000 requests. Under CI (`CI` set
//! to `true`, `1` or `yes`) a missing chromium fails the test; elsewhere it
//! is skipped with a note.

mod common;
mod support_web;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support_web::webdriver::{find_browser, Driver};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};

const PER_CLIENT_PER_MINUTE: u64 = 6;
const PER_RECIPIENT_PER_HOUR: u64 = 20;
const FLOOD_ADDRS: u8 = 16;
const CONNECTIONS: usize = 32;
/// The flood's pace (all connections together) and its bounds.
const RATE_PER_SEC: f64 = 3_000.0;
const MAX_REQUESTS: usize = 90_000;
const MAX_FLOOD: Duration = Duration::from_secs(30);
const VICTIM: &str = "+18095550999";
const LEGIT_PHONE: &str = "+18095551234";
const WAIT: Duration = Duration::from_secs(20);

/// What the flood asks, in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    JsonSend,
    FormSend,
    VictimSend,
    Measure,
    Session,
    Page,
}

const KINDS: [Kind; 6] = [
    Kind::JsonSend,
    Kind::FormSend,
    Kind::VictimSend,
    Kind::Measure,
    Kind::Session,
    Kind::Page,
];

struct Answer {
    status: u16,
    retry_after: Option<u64>,
    body: Vec<u8>,
}

/// Reads one HTTP/1.1 answer (Content-Length or chunked).
async fn read_answer(r: &mut BufReader<TcpStream>) -> std::io::Result<Answer> {
    let mut line = String::new();
    r.read_line(&mut line).await?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let (mut length, mut chunked, mut retry_after) = (0usize, false, None);
    loop {
        line.clear();
        r.read_line(&mut line).await?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').unwrap_or((l, ""));
        let v = v.trim();
        match k.to_ascii_lowercase().as_str() {
            "content-length" => length = v.parse().unwrap_or(0),
            "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
            "retry-after" => retry_after = v.parse().ok(),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line).await?;
            let size = usize::from_str_radix(line.trim(), 16).map_err(std::io::Error::other)?;
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk).await?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length, 0);
        r.read_exact(&mut body).await?;
    }
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

/// A 503 was read on `s`: counted, and whether the rest of it says
/// `Retry-After: 1`.
async fn refusal(
    s: &mut BufReader<TcpStream>,
    refused: &AtomicUsize,
    refused_without_retry: &AtomicUsize,
) {
    refused.fetch_add(1, Relaxed);
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(1), s.read_to_end(&mut rest)).await;
    if !String::from_utf8_lossy(&rest).contains("Retry-After: 1") {
        refused_without_retry.fetch_add(1, Relaxed);
    }
}

async fn connect(from: Ipv4Addr, to: SocketAddr) -> std::io::Result<BufReader<TcpStream>> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((from, 0)))?;
    Ok(BufReader::new(socket.connect(to).await?))
}

fn request(kind: Kind, n: usize, from: Ipv4Addr, host: &str) -> Vec<u8> {
    let own = format!("+1809600{:02}{:02}", from.octets()[3], n % 100);
    let (method, path, ctype, body) = match kind {
        Kind::JsonSend => (
            "POST",
            "/api/send",
            "application/json",
            json!({"to": [own], "text": format!("flood {n}")}).to_string(),
        ),
        Kind::VictimSend => (
            "POST",
            "/api/send",
            "application/json",
            json!({"to": [VICTIM], "text": format!("flood {n}")}).to_string(),
        ),
        Kind::FormSend => (
            "POST",
            "/send",
            "application/x-www-form-urlencoded",
            format!("to=%2B{}&text=flood+{n}", &own[1..]),
        ),
        Kind::Measure => ("GET", "/api/measure?text=hola", "", String::new()),
        Kind::Session => ("GET", "/api/session", "", String::new()),
        Kind::Page => ("GET", "/", "", String::new()),
    };
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\n\
         Content-Length: {}\r\n",
        body.len()
    );
    if !ctype.is_empty() {
        head += &format!("Content-Type: {ctype}\r\n");
    }
    head += "\r\n";
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

/// What the flood saw.
#[derive(Default)]
struct Seen {
    by_status: HashMap<(Kind, u16), usize>,
    /// Sends accepted per flooding address (202 JSON, 200 form).
    accepted: HashMap<Ipv4Addr, u64>,
    victim_queued: u64,
    too_many: usize,
    too_many_without_retry_after: usize,
    retry_after_max: u64,
    server_errors: usize,
    io_errors: usize,
}

async fn flood_connection(
    c: usize,
    to: SocketAddr,
    started: Instant,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    seen: Arc<Mutex<Seen>>,
) {
    let from = Ipv4Addr::new(127, 0, 0, 2 + (c % FLOOD_ADDRS as usize) as u8);
    let host = to.to_string();
    let mut conn = None;
    let mut k = c;
    while !stop.load(Relaxed) {
        let n = sent.fetch_add(1, Relaxed);
        if n >= MAX_REQUESTS {
            break;
        }
        let due = started + Duration::from_secs_f64(n as f64 / RATE_PER_SEC);
        tokio::time::sleep_until(due.into()).await;
        k += 1;
        let kind = KINDS[k % KINDS.len()];
        if conn.is_none() {
            conn = connect(from, to).await.ok();
        }
        let Some(r) = conn.as_mut() else {
            seen.lock().unwrap().io_errors += 1;
            continue;
        };
        let answer = match r.get_mut().write_all(&request(kind, n, from, &host)).await {
            Ok(()) => read_answer(r).await,
            Err(e) => Err(e),
        };
        let a = match answer {
            Ok(a) => a,
            Err(_) => {
                conn = None;
                seen.lock().unwrap().io_errors += 1;
                continue;
            }
        };
        let mut s = seen.lock().unwrap();
        *s.by_status.entry((kind, a.status)).or_default() += 1;
        if a.status >= 500 {
            s.server_errors += 1;
        }
        if a.status == 429 {
            s.too_many += 1;
            match a.retry_after {
                Some(secs) if secs >= 1 => s.retry_after_max = s.retry_after_max.max(secs),
                _ => s.too_many_without_retry_after += 1,
            }
        }
        let accepted = match kind {
            Kind::JsonSend | Kind::VictimSend => a.status == 202,
            Kind::FormSend => a.status == 200,
            _ => false,
        };
        if accepted {
            *s.accepted.entry(from).or_default() += 1;
        }
        if kind == Kind::VictimSend && a.status == 202 {
            let v: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
            if v["recipients"][0]["status"] == "queued" {
                s.victim_queued += 1;
            }
        }
    }
}

fn count(css: &str) -> String {
    format!("return document.querySelectorAll({css:?}).length")
}

#[test]
fn limits_hold_under_a_flood_while_a_browser_works() {
    let Some((chromium, chromedriver)) = common::require_tool(
        "chromium and chromedriver",
        find_browser(),
        "apt-get install chromium chromium-driver; scripts/test installs them",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[limits]\nsends_per_minute_per_client = {PER_CLIENT_PER_MINUTE}\n\
             sends_per_hour_per_recipient = {PER_RECIPIENT_PER_HOUR}\n"
        ),
    )
    .unwrap();
    let serve = common::serve_proc::start(&dir.path().join("store"), Some(&cfg), &[]);
    let url = serve.url.clone();
    let addr: SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    common::eventually("serve to be ready", WAIT, || {
        ureq::get(&format!("{url}/readyz")).call().ok()
    });
    // The browser is up before the flood starts (its start is not timed).
    let d = Driver::start(&chromium, &chromedriver);

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let started = Instant::now();
    let flood = {
        let (stop, sent, seen) = (stop.clone(), sent.clone(), seen.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let tasks: Vec<_> = (0..CONNECTIONS)
                    .map(|c| {
                        tokio::spawn(flood_connection(
                            c,
                            addr,
                            started,
                            stop.clone(),
                            sent.clone(),
                            seen.clone(),
                        ))
                    })
                    .collect();
                let watchdog = async {
                    while !stop.load(Relaxed) && started.elapsed() < MAX_FLOOD {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    stop.store(true, Relaxed);
                };
                let (_, done) = tokio::join!(watchdog, futures_util::future::join_all(tasks));
                done.into_iter().for_each(|r| r.unwrap());
            });
            started.elapsed()
        })
    };
    // The flood is in full swing (every flooding address over its quota)
    // before the browser begins.
    while sent.load(Relaxed) < 2_000 {
        assert!(started.elapsed() < MAX_FLOOD, "the flood never got going");
        std::thread::sleep(Duration::from_millis(20));
    }

    let t0 = Instant::now();
    d.goto(&format!("{url}/?lang=en"));
    d.type_into("#to-input", "8095551234");
    d.click("#add-recipient");
    d.type_into("#text", "Hello through the flood");
    d.click("#send-button");
    d.wait_for(
        "the result",
        &format!("{} === 1", count("#result-list li")),
        WAIT,
    );
    let sent_after = t0.elapsed();
    let result = d.text("#result-list");
    assert!(!result.contains("refused"), "{result}");
    // The phone gets it from the short code the page shows.
    let inbox = common::eventually("the phone to get it", WAIT, || {
        let inbox: Value = ureq::get(&format!("{url}/dev/phones/api/inbox/{LEGIT_PHONE}"))
            .call()
            .unwrap()
            .into_json()
            .unwrap();
        (inbox[0]["text"] == "Hello through the flood").then_some(inbox)
    });
    let delivered_after = t0.elapsed();
    let code = inbox[0]["from"].as_str().unwrap().to_string();
    assert!(result.contains(&code), "{result}");
    let t1 = Instant::now();
    let status = ureq::post(&format!("{url}/dev/phones/api/send"))
        .send_json(json!({"from": LEGIT_PHONE, "to": code, "text": "Received, thanks"}))
        .unwrap()
        .status();
    assert_eq!(status, 202);
    d.wait_for(
        "the reply, live",
        "return document.getElementById('replies').textContent.indexOf('Received, thanks') >= 0",
        WAIT,
    );
    let reply_after = t1.elapsed();
    let flooding_still = !stop.load(Relaxed);
    stop.store(true, Relaxed);
    let elapsed = flood.join().unwrap();
    assert!(
        flooding_still,
        "the flood ended (bound reached) before the browser was done"
    );

    let s = seen.lock().unwrap();
    let requests = sent.load(Relaxed).min(MAX_REQUESTS);
    let secs = elapsed.as_secs_f64();
    // GCRA: a full burst, then one more every 60/limit seconds.
    let per_client_max =
        PER_CLIENT_PER_MINUTE + (secs * PER_CLIENT_PER_MINUTE as f64 / 60.0) as u64;
    let per_victim_max =
        PER_RECIPIENT_PER_HOUR + (secs * PER_RECIPIENT_PER_HOUR as f64 / 3600.0) as u64;
    let accepted: u64 = s.accepted.values().sum();
    let mut statuses: Vec<_> = s.by_status.iter().collect();
    statuses.sort_by_key(|((k, st), _)| (format!("{k:?}"), *st));
    println!(
        "flood: {requests} requests from {FLOOD_ADDRS} addresses on {CONNECTIONS} connections in \
         {secs:.1} s ({:.0}/s); 429s {} (max Retry-After {} s); sends accepted {accepted} \
         (at most {} allowed: {per_client_max} per address); victim queued {}; I/O errors {}",
        requests as f64 / secs,
        s.too_many,
        s.retry_after_max,
        per_client_max * FLOOD_ADDRS as u64,
        s.victim_queued,
        s.io_errors
    );
    println!("flood: answers {statuses:?}");
    println!(
        "flood: the browser's send shown after {:.2} s, on the phone after {:.2} s, the \
         phone's reply live in the page after {:.2} s",
        sent_after.as_secs_f64(),
        delivered_after.as_secs_f64(),
        reply_after.as_secs_f64()
    );

    assert_eq!(s.server_errors, 0, "5xx under the flood: {statuses:?}");
    assert!(s.too_many > 0, "the flood was never limited");
    assert_eq!(s.too_many_without_retry_after, 0, "429 without Retry-After");
    for (ip, n) in &s.accepted {
        assert!(
            *n <= per_client_max,
            "{ip} had {n} sends accepted in {secs:.1} s (limit allows {per_client_max})"
        );
    }
    assert!(s.victim_queued <= per_victim_max);
    let victim_inbox: Value = ureq::get(&format!("{url}/dev/phones/api/inbox/{VICTIM}"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert!(victim_inbox.as_array().unwrap().len() as u64 <= per_victim_max);
    assert!(s.io_errors * 100 <= requests, "{} I/O errors", s.io_errors);
    // Nothing anybody asked, the browser included, was answered 5xx.
    let metrics = ureq::get(&format!("{url}/metrics"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let errors: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("smsgate_http_requests_total") && l.contains("status=\"5"))
        // Not ready while the emulated modems came up: before the flood.
        .filter(|l| !l.contains("route=\"/readyz\""))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

/// Addresses of the connection flood (127.0.0.2–65) and what each tries:
/// more unfinished requests than its cap, and live streams without a
/// session (which end at once).
const CONN_FLOOD_ADDRS: u8 = 64;
/// `[http] max_connections_per_client`'s default.
const CONN_CAP: usize = 32;
const SLOW_PER_ADDR: usize = CONN_CAP + 2;
const CONNS_PER_ADDR: usize = SLOW_PER_ADDR + 4;

/// Issue #22's flood: 64 loopback addresses each open 34 connections that
/// never finish their headers (over their cap, the default 32) and 4 live
/// streams without a session; what is let in is held. Meanwhile a real Chromium on
/// 127.0.0.1 sends and sees the phone's reply live. Checked: the refusals
/// are 503 with `Retry-After` and counted; the server's RSS grows by a
/// bounded amount per held connection; the page answers the legitimate client (a generous 5 s bound;
/// the figure is reported); memory after the flood is reported.
#[test]
fn a_connection_flood_from_64_addresses_locks_no_one_out() {
    let Some((chromium, chromedriver)) = common::require_tool(
        "chromium and chromedriver",
        find_browser(),
        "apt-get install chromium chromium-driver; scripts/test installs them",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!("[http]\nmax_connections_per_client = {CONN_CAP}\n"),
    )
    .unwrap();
    let serve = common::serve_proc::start(&dir.path().join("store"), Some(&cfg), &[]);
    let url = serve.url.clone();
    let pid = serve.child.id();
    let addr: SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    common::eventually("serve to be ready", WAIT, || {
        ureq::get(&format!("{url}/readyz")).call().ok()
    });
    let d = Driver::start(&chromium, &chromedriver);
    d.goto(&format!("{url}/?lang=en"));
    let idle_kib = common::emulator_proc::rss_kib(pid);

    // The flood: every connection opened and held until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let held = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let refused_without_retry = Arc::new(AtomicUsize::new(0));
    let flood = {
        let (stop, held, refused, refused_without_retry) = (
            stop.clone(),
            held.clone(),
            refused.clone(),
            refused_without_retry.clone(),
        );
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut tasks = Vec::new();
                for a in 0..CONN_FLOOD_ADDRS {
                    for c in 0..CONNS_PER_ADDR {
                        let from = Ipv4Addr::new(127, 0, 0, 2 + a);
                        let (stop, held, refused, refused_without_retry) = (
                            stop.clone(),
                            held.clone(),
                            refused.clone(),
                            refused_without_retry.clone(),
                        );
                        tasks.push(tokio::spawn(async move {
                            let Ok(mut s) = connect(from, addr).await else {
                                return;
                            };
                            let ask: &[u8] = if c < SLOW_PER_ADDR {
                                b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "
                            } else {
                                b"GET /api/session/events HTTP/1.1\r\nHost: x\r\n\r\n"
                            };
                            let _ = s.get_mut().write_all(ask).await;
                            let mut first = String::new();
                            let read = tokio::time::timeout(
                                Duration::from_millis(500),
                                s.read_line(&mut first),
                            )
                            .await;
                            if first.starts_with("HTTP/1.1 503") {
                                refusal(&mut s, &refused, &refused_without_retry).await;
                                return;
                            }
                            if read.is_err() {
                                held.fetch_add(1, Relaxed);
                                // A 503 later than the first wait (a loaded
                                // machine) was a refusal after all.
                                while !stop.load(Relaxed) {
                                    match tokio::time::timeout(
                                        Duration::from_millis(100),
                                        s.read_line(&mut first),
                                    )
                                    .await
                                    {
                                        Err(_) => continue,
                                        Ok(Ok(n)) if n > 0 && first.starts_with("HTTP/1.1 503") => {
                                            held.fetch_sub(1, Relaxed);
                                            refusal(&mut s, &refused, &refused_without_retry).await;
                                            return;
                                        }
                                        Ok(_) => break,
                                    }
                                }
                            }
                            while !stop.load(Relaxed) {
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                        }));
                    }
                }
                for t in tasks {
                    let _ = t.await;
                }
            });
        })
    };
    // Peak memory while the flood holds its connections.
    let peak = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        std::thread::spawn(move || {
            while !stop.load(Relaxed) {
                peak.fetch_max(common::emulator_proc::rss_kib(pid) as usize, Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    common::eventually("the flood in place", WAIT, || {
        (refused.load(Relaxed) >= CONN_FLOOD_ADDRS as usize * (SLOW_PER_ADDR - CONN_CAP))
            .then_some(())
    });
    // The legitimate browser.
    let t0 = Instant::now();
    d.type_into("#to-input", "8095551234");
    d.click("#add-recipient");
    d.type_into("#text", "Hello through the connection flood");
    d.click("#send-button");
    d.wait_for(
        "the result",
        &format!("{} === 1", count("#result-list li")),
        WAIT,
    );
    let answered_after = t0.elapsed();
    let inbox = common::eventually("the phone to get it", WAIT, || {
        let inbox: Value = ureq::get(&format!("{url}/dev/phones/api/inbox/{LEGIT_PHONE}"))
            .call()
            .ok()?
            .into_json()
            .ok()?;
        (inbox[0]["text"] == "Hello through the connection flood").then_some(inbox)
    });
    let code = inbox[0]["from"].as_str().unwrap().to_string();
    let t1 = Instant::now();
    ureq::post(&format!("{url}/dev/phones/api/send"))
        .send_json(json!({"from": LEGIT_PHONE, "to": code, "text": "Got it"}))
        .unwrap();
    d.wait_for(
        "the reply, live",
        "return document.getElementById('replies').textContent.indexOf('Got it') >= 0",
        WAIT,
    );
    let reply_after = t1.elapsed();
    let during_kib = common::emulator_proc::rss_kib(pid);
    stop.store(true, Relaxed);
    flood.join().unwrap();
    sampler.join().unwrap();
    let peak_kib = (peak.load(Relaxed) as u64).max(during_kib);
    std::thread::sleep(Duration::from_secs(2));
    let after_kib = common::emulator_proc::rss_kib(pid);
    let metrics = ureq::get(&format!("{url}/metrics"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let counted = metrics
        .lines()
        .find(|l| l.starts_with("smsgate_http_connections_refused_total"))
        .and_then(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    println!(
        "connection flood: {} addresses × {CONNS_PER_ADDR} connections: {} held, {} refused \
         (503, counted {counted}); RSS idle {:.1} MiB, peak {:.1} MiB, after {:.1} MiB; the \
         browser's send answered in {:.2} s, the reply live after {:.2} s",
        CONN_FLOOD_ADDRS,
        held.load(Relaxed),
        refused.load(Relaxed),
        idle_kib as f64 / 1024.0,
        peak_kib as f64 / 1024.0,
        after_kib as f64 / 1024.0,
        answered_after.as_secs_f64(),
        reply_after.as_secs_f64()
    );
    assert_eq!(
        refused_without_retry.load(Relaxed),
        0,
        "a 503 without Retry-After"
    );
    assert!(
        held.load(Relaxed) <= CONN_FLOOD_ADDRS as usize * CONN_CAP,
        "no address held more than its cap"
    );
    assert!(
        after_kib <= idle_kib + 16 * 1024,
        "memory given back after the flood"
    );
    assert!(
        counted >= refused.load(Relaxed) as f64,
        "every refusal counted"
    );
    // What one held connection costs: hyper keeps an 8 KiB read buffer
    // and an 8 KiB header write buffer per connection
    // (hyper/src/proto/h1/io.rs, INIT_BUFFER_SIZE), plus the task. The
    // bound is per connection, as the crowd's size is set by the caps; this
    // debug build's figure is printed above (docs/reliability.md).
    let per_conn_kib = peak_kib.saturating_sub(idle_kib) / held.load(Relaxed).max(1) as u64;
    println!("connection flood: {per_conn_kib} KiB of RSS per held connection");
    assert!(per_conn_kib <= 28, "{per_conn_kib} KiB per held connection");
    assert!(peak_kib <= 96 * 1024, "RSS {peak_kib} KiB under the flood");
    assert!(
        answered_after <= Duration::from_secs(5),
        "{answered_after:?}"
    );
    assert!(reply_after <= Duration::from_secs(5), "{reply_after:?}");
}
