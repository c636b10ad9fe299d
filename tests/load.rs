//! Load: 10 000 live sessions, each with its live stream (SSE) open on
//! loopback, against one `smsgate serve`; phones reply to a sample of them
//! and each reply reaches its own stream. No errors; the gateway's memory
//! is reported. Bounded in count and time.

mod common;

use common::emulator_proc::rss_kib;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SESSIONS: usize = 10_000;
const SENDERS: usize = 16;
const REPLIES: usize = 200;
const WITHIN: Duration = Duration::from_secs(300);

/// Opens the live stream of the session behind `cookie`; returns the socket
/// once the response head has arrived.
async fn open_stream(addr: &str, cookie: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let req = format!(
        "GET /api/session/events HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 512];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "stream closed before its head");
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_live_streams_with_replies_flowing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        // 10 000 browsers, all at 127.0.0.1: no per-client bounds.
        "[limits]\nsends_per_minute_per_client = 0\nsends_per_hour_per_recipient = 0\n\
         [http]\nmax_connections_per_client = 0\nmax_streams_per_client = 0\n",
    )
    .unwrap();
    let serve = common::serve_proc::start(&dir.path().join("store"), Some(&cfg), &[]);
    let url = serve.url.clone();
    let addr = url.trim_start_matches("http://").to_string();
    let pid = serve.child.id();
    common::eventually_async("ready", Duration::from_secs(20), async || {
        ureq::get(&format!("{url}/readyz")).call().ok()
    })
    .await;
    let idle_rss = rss_kib(pid);

    // 10 000 browsers each send one message: 10 000 live sessions.
    let sessions: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
    let t0 = Instant::now();
    let workers: Vec<_> = (0..SENDERS)
        .map(|w| {
            let url = url.clone();
            let sessions = sessions.clone();
            std::thread::spawn(move || {
                for i in (w..SESSIONS).step_by(SENDERS) {
                    let to = format!("+1809{:07}", 4_000_000 + i);
                    let resp = ureq::post(&format!("{url}/api/send"))
                        .set("Origin", &url)
                        .send_json(json!({"to": [to], "text": format!("carga {i}")}))
                        .expect("send accepted");
                    let cookie = resp
                        .header("set-cookie")
                        .unwrap()
                        .split(';')
                        .next()
                        .unwrap()
                        .to_string();
                    let body: serde_json::Value = resp.into_json().unwrap();
                    let code = body["recipients"][0]["short_code"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    sessions.lock().unwrap().push((cookie, to, code));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let send_time = t0.elapsed();
    let sessions = sessions.lock().unwrap().clone();
    assert_eq!(sessions.len(), SESSIONS);

    // Every session opens its live stream.
    let t1 = Instant::now();
    let mut streams = Vec::with_capacity(SESSIONS);
    for chunk in sessions.chunks(500) {
        let opened =
            futures_util::future::join_all(chunk.iter().map(|(c, _, _)| open_stream(&addr, c)))
                .await;
        streams.extend(opened);
    }
    let open_time = t1.elapsed();
    let loaded_rss = rss_kib(pid);

    // Phones reply to a sample; each reply reaches its own stream.
    let t2 = Instant::now();
    let step = SESSIONS / REPLIES;
    for k in 0..REPLIES {
        let (_, to, code) = &sessions[k * step];
        ureq::post(&format!("{url}/dev/phones/api/send"))
            .send_json(json!({"from": to, "to": code, "text": format!("respuesta {k}")}))
            .expect("phone reply");
    }
    let mut got = 0;
    for k in 0..REPLIES {
        let s = &mut streams[k * step];
        let want = format!("respuesta {k}");
        let mut seen = String::new();
        let mut buf = [0u8; 2048];
        let deadline = Instant::now() + WITHIN;
        while !seen.contains(&want) {
            let n = tokio::time::timeout_at(deadline.into(), s.read(&mut buf))
                .await
                .expect("reply in time")
                .unwrap();
            assert!(n > 0, "stream {k} closed");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        assert!(seen.contains("event: reply"), "{seen}");
        got += 1;
    }
    let reply_time = t2.elapsed();
    assert_eq!(got, REPLIES);
    assert!(ureq::get(&format!("{url}/healthz")).call().is_ok());
    println!(
        "load: {SESSIONS} sessions sent in {:.1} s ({:.0}/s over HTTP, {SENDERS} clients), \
         {SESSIONS} streams open in {:.1} s, {REPLIES} replies delivered live in {:.1} s; \
         RSS {} KiB idle, {} KiB with {SESSIONS} live streams ({:.1} KiB per session)",
        send_time.as_secs_f64(),
        SESSIONS as f64 / send_time.as_secs_f64(),
        open_time.as_secs_f64(),
        reply_time.as_secs_f64(),
        idle_rss,
        loaded_rss,
        (loaded_rss.saturating_sub(idle_rss)) as f64 / SESSIONS as f64
    );
}
