//! smsgate's SMPP client against an SMSC it did not write: a whole
//! conversation through `smsgate serve` with an `[[smpp]]` bind to
//! tests/smpp_peer/smsc.py, whose PDUs are encoded and decoded by PyPI's
//! `smpp.pdu3` (Jasmin's SMPP codec) and whose GSM text by `gsm0338`.
//!
//! Covered: the bind (interface 3.4, credentials), GSM 7-bit unpacked
//! (data_coding 0, with extension characters), UCS-2 (data_coding 8), a
//! 3-part text joined by a concatenation UDH, TON/NPI of a short code and
//! of an E.164 number, a validity period, a throttle error retried, a
//! delivery receipt turning the recipient `delivered` (its id in decimal
//! where submit_sm_resp gave it in hexadecimal), and a phone's reply
//! (deliver_sm) reaching the page, answered only after it was stored.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::eventually;
use common::serve_proc;
use common::tools::require_tool;
use serde_json::{json, Value};

const TOKEN: &str = "smpp-peer-admin-token-0123";
const WITHIN: Duration = Duration::from_secs(30);
const PHONE: &str = "+18095551234";

fn peer_python() -> Option<PathBuf> {
    let path = std::env::var_os("XCHECK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/xcheck-venv/bin/python")
        });
    let ok = path.exists()
        && Command::new(&path)
            .args(["-c", "import smpp.pdu, gsm0338"])
            .status()
            .is_ok_and(|s| s.success());
    ok.then_some(path)
}

/// The Python SMSC: its events arrive on a channel.
struct Smsc {
    child: Child,
    stdin: ChildStdin,
    events: mpsc::Receiver<Value>,
    seen: Vec<Value>,
    port: u16,
}

impl Drop for Smsc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Smsc {
    fn start(python: &PathBuf, args: &[&str]) -> Smsc {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/smpp_peer/smsc.py");
        let mut child = Command::new(python)
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the Python SMSC");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
            }
        });
        let first = events
            .recv_timeout(WITHIN)
            .expect("the Python SMSC prints its port");
        let port = first["port"].as_u64().expect("port") as u16;
        Smsc {
            child,
            stdin,
            events,
            seen: Vec::new(),
            port,
        }
    }

    /// Waits for `n` events of `kind` in all, and returns them all.
    fn wait(&mut self, kind: &str, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + WITHIN;
        loop {
            let have: Vec<Value> = self
                .seen
                .iter()
                .filter(|e| e["event"] == kind)
                .cloned()
                .collect();
            if have.len() >= n {
                return have;
            }
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("{n} `{kind}` events; saw {:#?}", self.seen));
            match self.events.recv_timeout(left) {
                Ok(v) => self.seen.push(v),
                Err(_) => panic!("{n} `{kind}` events; saw {:#?}", self.seen),
            }
        }
    }

    fn command(&mut self, cmd: Value) {
        writeln!(self.stdin, "{cmd}").unwrap();
        self.stdin.flush().unwrap();
    }
}

struct Gw {
    url: String,
    cookie: Option<String>,
}

impl Gw {
    fn admin(&self, path: &str) -> Value {
        let (status, v) = common::call("GET", &format!("{}{path}", self.url), TOKEN, &[], None);
        assert_eq!(status, 200, "{path}: {v}");
        v
    }

    fn send(&mut self, text: &str) -> Value {
        let mut req = ureq::post(&format!("{}/api/send", self.url)).set("Origin", &self.url);
        if let Some(c) = &self.cookie {
            req = req.set("Cookie", &format!("smsgate_session={c}"));
        }
        let r = req
            .send_json(json!({"to": [PHONE], "text": text}))
            .expect("202");
        assert_eq!(r.status(), 202);
        if self.cookie.is_none() {
            self.cookie = r
                .header("set-cookie")
                .and_then(|c| c.split(';').next())
                .and_then(|kv| kv.strip_prefix("smsgate_session="))
                .map(str::to_string);
        }
        r.into_json().unwrap()
    }

    fn session(&self) -> Value {
        ureq::get(&format!("{}/api/session", self.url))
            .set(
                "Cookie",
                &format!("smsgate_session={}", self.cookie.as_deref().unwrap()),
            )
            .call()
            .unwrap()
            .into_json()
            .unwrap()
    }
}

#[test]
fn a_whole_conversation_through_an_independent_smsc() {
    let Some(python) = require_tool(
        "the smpp.pdu3/gsm0338 venv",
        peer_python(),
        "scripts/test makes target/xcheck-venv",
    ) else {
        return;
    };
    // Message ids in hexadecimal, receipts naming them in decimal.
    let mut smsc = Smsc::start(&python, &["--throttle-first", "1", "--receipt-decimal"]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("smsgate.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
[http]
admin_token = "{TOKEN}"

[[smpp]]
host = "127.0.0.1"
port = {port}
system_id = "smsgate"
password = "secret"
short_codes = ["2222"]
enquire_link = "2s"
"#,
            port = smsc.port
        ),
    )
    .unwrap();
    let serve = serve_proc::start(&dir.path().join("store"), Some(&cfg), &[]);
    let mut gw = Gw {
        url: serve.url.clone(),
        cookie: None,
    };
    let bind = smsc.wait("bind", 1);
    assert_eq!(bind[0]["ok"], true);
    assert_eq!(bind[0]["interface_version"], 0x34, "SMPP 3.4");
    eventually("the bind is up", WITHIN, || {
        let modems = gw.admin("/admin/api/modems");
        let m = modems
            .as_array()?
            .iter()
            .find(|m| m["short_code"] == "2222")?;
        assert_eq!(m["transport"], "smpp");
        (m["state"] == "up").then_some(())
    });

    // GSM 7-bit with extension characters: throttled once, then sent.
    let gsm = "Hola {amigos} [1] ~ €5 ^_^";
    let answer = gw.send(gsm);
    assert_eq!(answer["recipients"][0]["short_code"], "2222");
    assert_eq!(smsc.wait("throttled", 1).len(), 1);
    let submits = smsc.wait("submit", 1);
    let s = &submits[0];
    assert_eq!(s["coding"], "gsm");
    assert_eq!(s["text"], gsm);
    assert_eq!(s["source_addr"], "2222");
    assert_eq!(s["source_addr_ton"], "NETWORK_SPECIFIC");
    assert_eq!(s["destination_addr"], "18095551234");
    assert_eq!(s["dest_addr_ton"], "INTERNATIONAL");
    assert_eq!(s["dest_addr_npi"], "ISDN");
    assert_eq!(s["registered_delivery"], "SMSC_DELIVERY_RECEIPT_REQUESTED");
    assert_eq!(
        s["validity_period"],
        "SMPPRelativeTime(years=0, months=0, days=0, hours=0, minutes=5, seconds=0)",
        "the session's idle timeout (5 min), relative, as smpp.pdu reads it"
    );

    // UCS-2.
    let ucs2 = "Привет, друзья 👋";
    gw.send(ucs2);
    let submits = smsc.wait("submit", 2);
    assert_eq!(submits[1]["coding"], "ucs2");
    assert_eq!(submits[1]["text"], ucs2);

    // Three parts joined by a concatenation UDH.
    let long: String = (0..40).map(|i| format!("parte{i:02} ")).collect();
    assert!(long.len() > 306 && long.len() <= 459);
    gw.send(&long);
    let submits = smsc.wait("submit", 5);
    let parts = &submits[2..5];
    let reference = parts[0]["udh"][0].clone();
    let mut joined = String::new();
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(p["udh"][0], reference, "one reference for the message");
        assert_eq!(p["udh"][1], 3);
        assert_eq!(p["udh"][2], i + 1);
        joined.push_str(p["text"].as_str().unwrap());
    }
    assert_eq!(joined, long);

    // Every part's receipt arrives: each message turns delivered.
    smsc.wait("receipt", 5);
    eventually("every message delivered", WITHIN, || {
        let s = gw.session();
        let messages = s["messages"].as_array()?;
        (messages.len() == 3
            && messages
                .iter()
                .all(|m| m["recipients"][0]["status"] == "delivered"))
        .then_some(())
    });
    let acked = smsc.wait("deliver_sm_resp", 5);
    assert!(acked.iter().all(|a| a["status"] == "ESME_ROK"), "{acked:?}");

    // The phone replies to the short code: it shows in the page.
    smsc.command(
        json!({"mo": {"from": PHONE, "to": "2222", "text": "¡Si! Gracias @todos, señor"}}),
    );
    eventually("the reply shows in the page", WITHIN, || {
        let s = gw.session();
        let replies = s["replies"].as_array()?;
        (replies.len() == 1).then(|| replies[0].clone())
    });
    let s = gw.session();
    assert_eq!(s["replies"][0]["text"], "¡Si! Gracias @todos, señor");
    let acked = smsc.wait("deliver_sm_resp", 6);
    assert_eq!(acked[5]["status"], "ESME_ROK", "answered once stored");

    // A reply in UCS-2 too.
    smsc.command(json!({"mo": {"from": PHONE, "to": "2222", "text": "Спасибо 🙏", "ucs2": true}}));
    eventually("the second reply shows", WITHIN, || {
        let s = gw.session();
        (s["replies"].as_array()?.len() == 2).then_some(())
    });
    assert_eq!(gw.session()["replies"][1]["text"], "Спасибо 🙏");

    // The admin sees the bind's figures.
    let modems = gw.admin("/admin/api/modems");
    let m = modems
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["short_code"] == "2222")
        .unwrap()
        .clone();
    assert_eq!(m["smpp"]["submitted"], 5, "{m}");
    assert_eq!(m["smpp"]["throttled"], 1, "{m}");
    assert_eq!(m["smpp"]["window"], 10);
    assert_eq!(m["sent"], 3);
    assert_eq!(m["received"], 2);
    let metrics = ureq::get(&format!("{}/metrics", gw.url))
        .set("Authorization", &format!("Bearer {TOKEN}"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(
        metrics.contains("smsgate_smpp_throttled_total{short_code=\"2222\"} 1"),
        "{metrics}"
    );
    drop(serve);
}
