//! The listener's connection budget and timeouts on `smsgate serve`
//! (loopback only, bounded in count and time): one client cannot hold
//! more than its share of connections while another still gets answers,
//! a client that never finishes its headers is dropped, an idle kept-alive
//! connection is closed, a live stream outlives the idle bound, and each
//! refusal is counted in `/metrics`.

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{eventually, serve_proc};

const WITHIN: Duration = Duration::from_secs(20);

/// A connection from `from` (any 127/8 address: Linux routes them all to
/// `lo`).
fn connect_from(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::new(IpAddr::V4(from), 0).into())
        .unwrap();
    socket.connect(&to.into()).unwrap();
    let s: TcpStream = socket.into();
    s.set_read_timeout(Some(WITHIN)).unwrap();
    s
}

/// Whether the server closed `s` (read gives 0 bytes or a reset) within
/// `bound`, and after how long.
fn closed_within(s: &mut TcpStream, bound: Duration) -> Option<Duration> {
    let start = Instant::now();
    s.set_read_timeout(Some(bound)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => continue, // an answer, then the close
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(start.elapsed())
            }
            Err(_) => return None, // timed out: still open
        }
    }
}

/// `smsgate serve` with `config` as its configuration file (and `env`),
/// ready: its directory (kept while the server runs), the process, its URL
/// and its address.
fn serve_with(
    config: &str,
    env: &[(&str, &str)],
) -> (tempfile::TempDir, serve_proc::Serve, String, SocketAddr) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, config).unwrap();
    let s = serve_proc::start(&dir.path().join("store"), Some(&cfg), env);
    let url = s.url.clone();
    let addr: SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    eventually("ready", WITHIN, || {
        ureq::get(&format!("{url}/readyz")).call().ok()
    });
    (dir, s, url, addr)
}

fn get(s: &mut TcpStream, path: &str) -> String {
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = vec![0u8; 65536];
    let n = s.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn one_client_cannot_take_every_connection_and_slow_ones_are_dropped() {
    let (_dir, _s, url, addr) = serve_with(
        "[http]\nmax_connections_per_client = 8\nheader_timeout = \"1s\"\nkeepalive_timeout = \"20s\"\n",
        &[],
    );
    let hog = Ipv4Addr::new(127, 0, 0, 2);
    // Eight connections from one client, each with its headers unfinished:
    // all taken.
    let mut held: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut c = connect_from(hog, addr);
            write!(
                c,
                "GET /api/v1/conversations/x/events HTTP/1.1\r\nHost: x\r\n"
            )
            .unwrap();
            c
        })
        .collect();
    // The ninth is refused at once: 503 with Retry-After, then closed.
    let mut ninth = connect_from(hog, addr);
    let mut answer = String::new();
    ninth.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("Retry-After: 1"), "{answer}");
    assert!(answer.contains("too_many_connections"), "{answer}");
    // Another client is served meanwhile.
    let mut other = connect_from(Ipv4Addr::new(127, 0, 0, 3), addr);
    assert!(get(&mut other, "/healthz").starts_with("HTTP/1.1 200"));
    // The hog's unfinished headers are dropped after `header_timeout`,
    // which frees its slots.
    let took = closed_within(&mut held[0], Duration::from_secs(5)).expect("closed");
    println!("unfinished headers closed after {took:?} (header_timeout 1 s)");
    assert!(
        took >= Duration::from_millis(500),
        "not before the timeout: {took:?}"
    );
    for c in held.iter_mut().skip(1) {
        assert!(closed_within(c, Duration::from_secs(5)).is_some());
    }
    let mut again = connect_from(hog, addr);
    assert!(get(&mut again, "/healthz").starts_with("HTTP/1.1 200"));
    // Counted.
    let metrics = ureq::get(&format!("{url}/metrics"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let refused = metrics
        .lines()
        .find(|l| l.starts_with("smsgate_http_connections_refused_total"))
        .expect("the refusal counter");
    assert!(!refused.ends_with(" 0"), "{refused}");
}

#[test]
fn idle_connections_close_but_live_streams_stay() {
    let (_dir, _s, url, addr) = serve_with(
        "[http]\nheader_timeout = \"3s\"\nkeepalive_timeout = \"20s\"\nbody_timeout = \"4s\"\n",
        &[],
    );
    // A browser with a session and its live stream.
    let r = ureq::post(&format!("{url}/api/send"))
        .set("Origin", &url)
        .send_json(serde_json::json!({"to": ["8095551234"], "text": "hola"}))
        .unwrap();
    let cookie = r
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let mut stream = connect_from(Ipv4Addr::LOCALHOST, addr);
    write!(
        stream,
        "GET /api/session/events HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    // A request whose body stops coming, then trickles a byte at a time
    // (slowloris): it must be whole within `body_timeout`, else 408 with
    // the reason, and the connection closes.
    let mut stalled = connect_from(Ipv4Addr::LOCALHOST, addr);
    write!(
        stalled,
        "POST /api/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"to\""
    )
    .unwrap();
    let body_sent = Instant::now();
    let mut trickle = stalled.try_clone().unwrap();
    let trickler = std::thread::spawn(move || {
        for _ in 0..12 {
            std::thread::sleep(Duration::from_millis(500));
            if trickle.write_all(b" ").is_err() {
                break;
            }
        }
    });
    // A kept-alive connection that asked once and went quiet: its wait for
    // the next request is bounded by `header_timeout`.
    let mut idle = connect_from(Ipv4Addr::LOCALHOST, addr);
    assert!(get(&mut idle, "/healthz").starts_with("HTTP/1.1 200"));
    let took =
        closed_within(&mut idle, Duration::from_secs(15)).expect("the idle connection closed");
    println!("idle kept-alive connection closed after {took:?} (header_timeout 3 s)");
    assert!(took >= Duration::from_secs(2), "{took:?}");
    stalled
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = stalled.read_to_end(&mut answer);
    let took = body_sent.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    println!("trickled request body answered 408 and closed after {took:?} (body_timeout 4 s)");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive within 4s"), "{answer}");
    assert!(took >= Duration::from_secs(3), "{took:?}");
    assert!(took < Duration::from_secs(12), "{took:?}");
    trickler.join().unwrap();
    // The live stream, quiet but for its keep-alive comments (every
    // 15 s), is open past both bounds.
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 4096];
    let mut seen = Vec::new();
    let still_open = loop {
        match stream.read(&mut buf) {
            Ok(0) => break false,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e) => {
                break matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                )
            }
        }
    };
    assert!(
        still_open,
        "the live stream outlives the idle bounds: {}",
        String::from_utf8_lossy(&seen)
    );
    assert!(String::from_utf8_lossy(&seen).contains("200 OK"));
}

/// `[http] write_timeout`: a client that asks and asks but never reads
/// its answers is dropped once a write has waited that long, and it gets
/// less than it asked for; a client that reads gets everything.
#[test]
fn a_client_that_does_not_read_is_dropped() {
    let (_dir, _s, url, addr) = serve_with(
        "[http]\nwrite_timeout = \"2s\"\nkeepalive_timeout = \"20s\"\n",
        &[],
    );
    let one = ureq::get(&format!("{url}/assets/app.js"))
        .call()
        .unwrap()
        .into_string()
        .unwrap()
        .len();
    const ASKS: usize = 400;
    let pipelined = "GET /assets/app.js HTTP/1.1\r\nHost: x\r\n\r\n".repeat(ASKS);
    // A small receive window, so the server's writes wait soon.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let mut lazy: TcpStream = socket.into();
    lazy.write_all(pipelined.as_bytes()).unwrap();
    // It does not read for a while.
    std::thread::sleep(Duration::from_secs(6));
    let started = Instant::now();
    lazy.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let ended = loop {
        match lazy.read(&mut buf) {
            Ok(0) => break "closed",
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break "reset",
            Err(e) => panic!("still open after {:?}: {e}", started.elapsed()),
        }
    };
    println!(
        "a client that did not read got {got} of {} bytes asked for, then the connection was {ended} (write_timeout 2 s)",
        one * ASKS
    );
    assert!(got < one * ASKS / 2, "{got} of {}", one * ASKS);
    // A client that reads gets all its answers on one connection.
    let mut reader = connect_from(Ipv4Addr::LOCALHOST, addr);
    reader
        .write_all(
            "GET /assets/app.js HTTP/1.1\r\nHost: x\r\n\r\n"
                .repeat(40)
                .as_bytes(),
        )
        .unwrap();
    let mut total = 0usize;
    while total < one * 40 {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(total >= one * 40, "{total} of {}", one * 40);
}

/// A live stream whose client stops reading (a phone whose browser froze,
/// or that left the network) while replies keep coming: once a write has
/// waited `write_timeout` the connection is closed, well before the idle
/// bound, and the page's other visitors are served meanwhile. (With
/// `write_timeout` at 60 s the same stream is still open 27 s later.)
#[test]
fn a_live_stream_the_client_does_not_read_is_closed() {
    let (_dir, _s, url, addr) = serve_with(
        "[http]\nwrite_timeout = \"2s\"\nkeepalive_timeout = \"30s\"\n",
        &[("SMSGATE_EMULATOR__MO_JITTER_MS", "0")],
    );
    let phone = "+18095551234";
    let r = ureq::post(&format!("{url}/api/send"))
        .set("Origin", &url)
        .send_json(serde_json::json!({"to": ["8095551234"], "text": "hola"}))
        .unwrap();
    let cookie = r
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let code = eventually("the phone has it", WITHIN, || {
        common::phones::inbox(&url, phone)
            .first()
            .map(|(from, _)| from.clone())
    });
    // The stream, on a socket with a small receive window, read once (its
    // headers) and then never again.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let mut lazy: TcpStream = socket.into();
    write!(
        lazy,
        "GET /api/session/events HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let mut buf = vec![0u8; 1 << 16];
    lazy.set_read_timeout(Some(WITHIN)).unwrap();
    let n = lazy.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // Replies, more than the socket buffers hold.
    let text = "respuesta larga para llenar el búfer del navegador que no lee ".repeat(2);
    const REPLIES: usize = 300;
    for i in 0..REPLIES {
        common::phones::phone_sends(&url, phone, &code, &format!("{i} {text}"));
    }
    let started = Instant::now();
    // Everyone else is served meanwhile.
    assert!(ureq::get(&format!("{url}/healthz")).call().is_ok());
    std::thread::sleep(Duration::from_secs(8));
    lazy.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = 0usize;
    let ended = loop {
        match lazy.read(&mut buf) {
            Ok(0) => break "closed",
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break "reset",
            Err(e) => panic!(
                "the stream is still open {:?} after the replies: {e}",
                started.elapsed()
            ),
        }
    };
    println!(
        "a live stream that was not read: {ended} after the replies, with {got} bytes still in flight (write_timeout 2 s, keepalive_timeout 30 s)"
    );
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "{:?}",
        started.elapsed()
    );
}

/// `[http] admin_bind`: the admin page, its API and `/metrics` answer on
/// their own address only; the page's address keeps the page, the API
/// and the health checks.
#[test]
fn the_admin_surface_on_its_own_address() {
    let dir = tempfile::tempdir().unwrap();
    let admin_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[http]\nadmin_token = \"admin-bind-token-0123456789\"\nadmin_bind = \"127.0.0.1:{admin_port}\"\n"
        ),
    )
    .unwrap();
    let s = serve_proc::start(&dir.path().join("store"), Some(&cfg), &[]);
    let url = s.url.clone();
    let admin = format!("http://127.0.0.1:{admin_port}");
    eventually("ready", WITHIN, || {
        ureq::get(&format!("{url}/readyz")).call().ok()
    });
    let status = |u: String| match ureq::get(&u)
        .set("Authorization", "Bearer admin-bind-token-0123456789")
        .call()
    {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(c, _)) => c,
        Err(e) => panic!("{u}: {e}"),
    };
    assert_eq!(status(format!("{url}/admin/api/sessions")), 404);
    assert_eq!(status(format!("{url}/admin")), 404);
    assert_eq!(status(format!("{url}/metrics")), 404);
    assert_eq!(status(format!("{url}/")), 200);
    assert_eq!(status(format!("{url}/healthz")), 200);
    assert_eq!(status(format!("{admin}/admin/api/sessions")), 200);
    assert_eq!(status(format!("{admin}/admin")), 200);
    assert_eq!(status(format!("{admin}/metrics")), 200);
    assert_eq!(status(format!("{admin}/assets/app.css")), 200);
    assert_eq!(
        status(format!("{admin}/")),
        404,
        "no page on the admin address"
    );
}
