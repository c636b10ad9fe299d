//! Crash safety: `smsgate serve` on modems of a separate `smsgate emulator`
//! process is killed with SIGKILL at pseudo-random moments while web sends
//! and phone replies flow, restarted, and killed again — 20 times. Then,
//! from the emulator's records: every send answered 202 reached its phone at
//! least once, duplicates are bounded by what can be in flight at a crash,
//! every reply a phone sent was taken in exactly once (one charge each),
//! and the store opened cleanly every time.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::emulator_proc::EmulatorProc;
use common::{eventually, serve_proc};
use serde_json::{json, Value};

const CRASHES: usize = 20;
const SENDS_PER_ROUND: usize = 100;
const MODEMS: usize = 3;
const SENDERS: usize = 5;
const TOKEN: &str = "crash-test-admin-token-0123";

fn get(url: &str) -> Value {
    ureq::get(url).call().unwrap().into_json().unwrap()
}

fn admin(url: &str) -> Value {
    ureq::get(url)
        .set("Authorization", &format!("Bearer {TOKEN}"))
        .call()
        .unwrap()
        .into_json()
        .unwrap()
}

#[test]
fn kill_9_twenty_times_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let emu = EmulatorProc::start(MODEMS, dir.path());
    let control = emu.control.clone();
    let cfg = emu.crash_config(dir.path(), TOKEN);
    let store = dir.path().join("store");

    let acknowledged: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let mut replies_sent = 0usize;
    let mut rng = common::Rng(0x5eed_cafe_f00d);
    for round in 0..CRASHES {
        let s = serve_proc::start(&store, Some(&cfg), &[]);
        let url = s.url.clone();
        eventually("ready after restart", Duration::from_secs(30), || {
            ureq::get(&format!("{url}/readyz")).call().ok()
        });
        // Web sends, each from its own browser to its own phone, from a
        // few browsers at once.
        let senders: Vec<_> = (0..SENDERS)
            .map(|t| {
                let url = url.clone();
                let acked = acknowledged.clone();
                std::thread::spawn(move || {
                    for k in (t..SENDS_PER_ROUND).step_by(SENDERS) {
                        let to = format!("+1809{:07}", 2_000_000 + round * 100 + k);
                        let text = format!("msg-{round}-{k}");
                        let r = ureq::post(&format!("{url}/api/send"))
                            .set("Origin", &url)
                            .send_json(json!({"to": [to], "text": text}));
                        match r {
                            Ok(resp) if resp.status() == 202 => {
                                acked.lock().unwrap().push((to, text))
                            }
                            Ok(resp) => {
                                eprintln!("send answered {}", resp.status());
                                return;
                            }
                            Err(ureq::Error::Status(code, resp)) => {
                                eprintln!(
                                    "send refused {code}: {}",
                                    resp.into_string().unwrap_or_default()
                                );
                                return;
                            }
                            Err(_) => return, // the server was killed
                        }
                    }
                })
            })
            .collect();
        // Phones that got a message earlier reply, while sends go on.
        let earlier: Vec<(String, String)> = acknowledged
            .lock()
            .unwrap()
            .iter()
            .rev()
            .take(5)
            .cloned()
            .collect();
        for (to, _) in &earlier {
            let inbox = get(&format!("{control}/phones/{to}/inbox"));
            if let Some(from) = inbox
                .as_array()
                .and_then(|a| a.first())
                .and_then(|m| m["from"].as_str())
            {
                let r = ureq::post(&format!("{control}/phones/{to}/send"))
                    .send_json(json!({"to": from, "text": format!("reply-{round}-{to}")}));
                if r.is_ok() {
                    replies_sent += 1;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(300 + rng.next() % 1200));
        drop(s); // SIGKILL
        for t in senders {
            let _ = t.join();
        }
    }

    // A last start drains everything.
    let s = serve_proc::start(&store, Some(&cfg), &[]);
    let url = s.url.clone();
    eventually("outbox drained", Duration::from_secs(60), || {
        admin(&format!("{url}/admin/api/outbox"))
            .as_array()
            .is_some_and(|a| a.is_empty())
            .then_some(())
    });
    eventually("every reply taken in", Duration::from_secs(60), || {
        let charges = admin(&format!("{url}/admin/api/charges"));
        charges
            .as_array()
            .is_some_and(|a| a.len() >= replies_sent)
            .then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));

    let acked = acknowledged.lock().unwrap().clone();
    assert!(
        acked.len() >= CRASHES * 5,
        "too few sends got through: {}",
        acked.len()
    );
    let mut duplicates = 0;
    for (to, text) in &acked {
        let inbox = get(&format!("{control}/phones/{to}/inbox"));
        let n = inbox
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["text"] == text.as_str())
            .count();
        assert!(
            n >= 1,
            "acknowledged {text} to {to} never reached the phone"
        );
        duplicates += n - 1;
    }
    // A message is sent twice only when the crash fell between the modem's
    // +CMGS answer and the flush that records it: at most one per modem per
    // crash.
    assert!(duplicates <= CRASHES * MODEMS, "{duplicates} duplicates");
    let charges = admin(&format!("{url}/admin/api/charges"))
        .as_array()
        .unwrap()
        .len();
    assert_eq!(charges, replies_sent, "one charge per reply, none twice");
    for m in 0..MODEMS {
        let modem = get(&format!("{control}/modems/{m}"));
        assert_eq!(modem["storage"]["sm"][0], 0, "SIM of modem {m} drained");
        assert_eq!(modem["storage"]["held_in_network"], 0);
    }
    println!(
        "crash safety: {CRASHES} SIGKILLs, {} sends acknowledged, {duplicates} duplicates, {replies_sent} replies, {charges} charges",
        acked.len()
    );
}
