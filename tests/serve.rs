//! `smsgate serve` as an operator runs it: readiness, the phone simulator
//! only on the emulated network, and a graceful stop on SIGTERM that ends
//! live streams and keeps what was acknowledged.

mod common;

use std::io::Read;
use std::time::Duration;

use common::{eventually, serve_proc};
use serde_json::json;

const WITHIN: Duration = Duration::from_secs(20);

fn status(url: &str) -> u16 {
    match ureq::get(url).call() {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn with_real_modems_there_is_no_phone_simulator_and_readiness_needs_a_modem() {
    let store = tempfile::tempdir().unwrap();
    let cfg = store.path().join("config.toml");
    std::fs::write(
        &cfg,
        "[http]\nadmin_token = \"0123456789abcdef0123\"\n[[modem]]\nport = \"/dev/smsgate-no-such-modem\"\nshort_code = \"+18095550100\"\n",
    )
    .unwrap();
    let s = serve_proc::start(&store.path().join("data"), Some(&cfg), &[]);
    assert_eq!(status(&format!("{}/healthz", s.url)), 200);
    assert_eq!(status(&format!("{}/readyz", s.url)), 503, "no modem is up");
    assert_eq!(status(&format!("{}/dev/phones", s.url)), 404);
    let modems: serde_json::Value = ureq::get(&format!("{}/admin/api/modems", s.url))
        .set("Authorization", "Bearer 0123456789abcdef0123")
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(modems[0]["short_code"], "+18095550100");
    assert_ne!(modems[0]["state"], "up");
}

#[test]
fn sigterm_ends_live_streams_stops_cleanly_and_keeps_the_session() {
    let store = tempfile::tempdir().unwrap();
    let mut s = serve_proc::start(store.path(), None, &[]);
    eventually("ready", WITHIN, || {
        ureq::get(&format!("{}/readyz", s.url)).call().ok()
    });
    let agent = ureq::AgentBuilder::new().build();
    let answer = agent
        .post(&format!("{}/api/send", s.url))
        .set("Origin", &s.url)
        .send_json(json!({"to": ["8095551234"], "text": "antes de apagar"}))
        .unwrap();
    assert_eq!(answer.status(), 202);
    let cookie = answer
        .header("set-cookie")
        .expect("session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let body: serde_json::Value = answer.into_json().unwrap();
    let session = body["session"]["id"].as_str().unwrap().to_string();

    // An open live stream...
    let events = agent
        .get(&format!("{}/api/session/events", s.url))
        .set("Cookie", &cookie)
        .call()
        .unwrap();
    let reader = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = events.into_reader().read_to_string(&mut rest);
        rest
    });
    std::thread::sleep(Duration::from_millis(300));
    // ...does not hold up a graceful stop.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(s.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let code = eventually("serve to stop on SIGTERM", WITHIN, || {
        s.child.try_wait().unwrap()
    });
    assert!(code.success(), "{code:?}");
    reader.join().unwrap();

    // What was acknowledged is still there after a restart.
    let s2 = serve_proc::start(store.path(), None, &[]);
    let view: serde_json::Value = ureq::get(&format!("{}/api/session", s2.url))
        .set("Cookie", &cookie)
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(view["id"], session.as_str());
    assert_eq!(view["messages"][0]["text"], "antes de apagar");
}
