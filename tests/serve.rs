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

const TOKEN: &str = "0123456789abcdef0123";

fn admin_get(url: &str) -> serde_json::Value {
    ureq::get(url)
        .set("Authorization", &format!("Bearer {TOKEN}"))
        .call()
        .unwrap()
        .into_json()
        .unwrap()
}

/// The short codes the gateway's modems serve, with their states.
fn modem_states(url: &str) -> Vec<(String, String)> {
    admin_get(&format!("{url}/admin/api/modems"))
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["short_code"].as_str().unwrap().to_string(),
                m["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The senders of the SMS `phone` received, in order.
fn inbox_from(control: &str, phone: &str) -> Vec<String> {
    let inbox: serde_json::Value = ureq::get(&format!("{control}/phones/{phone}/inbox"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    inbox
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["from"].as_str().unwrap().to_string())
        .collect()
}

/// SIGHUP re-reads the `[[modem]]` list on a running gateway: an added
/// modem starts and takes new conversations; a removed one takes none,
/// hands the messages it has not started to the live modem at once (the
/// phones get them from the live short code), keeps the conversation whose
/// phone already replied (its next reply still reaches the page), and
/// stops once that conversation ended.
#[test]
fn sighup_adds_and_drains_modems_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let emu = common::emulator_proc::EmulatorProc::start(2, dir.path());
    let control = emu.control.clone();
    let (code0, code1) = (emu.codes[0].clone(), emu.codes[1].clone());
    let modem = |i: usize| {
        format!(
            "[[modem]]\nport = \"{}\"\nshort_code = \"{}\"\n",
            emu.links[i].display(),
            emu.codes[i]
        )
    };
    let head = format!(
        "[http]\nadmin_token = \"{TOKEN}\"\n[session]\nidle_timeout = \"20s\"\n\
         [limits]\nsends_per_minute_per_client = 0\nsends_per_hour_per_recipient = 0\n"
    );
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, format!("{head}{}", modem(0))).unwrap();
    let s = serve_proc::start(&dir.path().join("store"), Some(&cfg), &[]);
    let url = s.url.clone();
    eventually("modem 0 up", WITHIN, || {
        (modem_states(&url) == vec![(code0.clone(), "up".to_string())]).then_some(())
    });
    let send = |to: &[&str], text: &str| -> (String, serde_json::Value) {
        let r = ureq::post(&format!("{url}/api/send"))
            .set("Origin", &url)
            .send_json(json!({"to": to, "text": text}))
            .unwrap();
        assert_eq!(r.status(), 202);
        let cookie = r
            .header("set-cookie")
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        (cookie, r.into_json().unwrap())
    };

    // P1 talks with modem 0 and replies.
    let p1 = "+18095550001";
    let (cookie1, _) = send(&[p1], "hola uno");
    eventually("P1 got it from modem 0", WITHIN, || {
        (inbox_from(&control, p1) == vec![code0.clone()]).then_some(())
    });
    ureq::post(&format!("{control}/phones/{p1}/send"))
        .send_json(json!({"to": code0, "text": "respuesta uno"}))
        .unwrap();
    let replies = |cookie: &str| -> usize {
        let v: serde_json::Value = ureq::get(&format!("{url}/api/session"))
            .set("Cookie", cookie)
            .call()
            .unwrap()
            .into_json()
            .unwrap();
        v["replies"].as_array().map_or(0, Vec::len)
    };
    eventually("P1's reply in the page", WITHIN, || {
        (replies(&cookie1) == 1).then_some(())
    });

    // Modem 0 becomes slow: one message is on its way for 15 s, the two
    // others wait behind it.
    ureq::put(&format!("{control}/modems/0/settings"))
        .send_json(json!({"cmgs_latency_ms": 15_000}))
        .unwrap();
    let (_, answer) = send(&["+18095550002", "+18095550003", "+18095550004"], "varios");
    for r in answer["recipients"].as_array().unwrap() {
        assert_eq!(
            r["short_code"],
            code0.as_str(),
            "only modem 0 is configured"
        );
    }
    std::thread::sleep(Duration::from_millis(500));

    // SIGHUP: modem 1 replaces modem 0.
    std::fs::write(&cfg, format!("{head}{}", modem(1))).unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(s.child.id() as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    eventually(
        "modem 1 started beside the draining modem 0",
        WITHIN,
        || {
            let states = modem_states(&url);
            (states.len() == 2 && states.contains(&(code1.clone(), "up".to_string()))).then_some(())
        },
    );
    // The two messages modem 0 had not started come from modem 1, long
    // before modem 0 would have sent them; the one it started comes from
    // modem 0.
    let started = Duration::from_secs(12);
    // Who each of the three phones got an SMS from.
    let senders = || -> Vec<Vec<String>> {
        ["+18095550002", "+18095550003", "+18095550004"]
            .iter()
            .map(|p| inbox_from(&control, p))
            .collect()
    };
    let moved = eventually("not-started messages moved to modem 1", started, || {
        let senders = senders();
        (senders
            .iter()
            .filter(|s| *s == &vec![code1.clone()])
            .count()
            == 2)
            .then_some(senders)
    });
    eventually(
        "the started one finished on modem 0",
        Duration::from_secs(30),
        || {
            (senders()
                .iter()
                .filter(|s| *s == &vec![code0.clone()])
                .count()
                == 1)
                .then_some(())
        },
    );
    assert!(
        moved.iter().all(|s| s.len() <= 1),
        "no phone got a message twice: {moved:?}"
    );
    // A new conversation goes to modem 1 only.
    let (_, answer) = send(&["+18095550005"], "nueva");
    assert_eq!(answer["recipients"][0]["short_code"], code1.as_str());
    // P1 still reaches its page through the draining modem 0.
    ureq::post(&format!("{control}/phones/{p1}/send"))
        .send_json(json!({"to": code0, "text": "respuesta dos"}))
        .unwrap();
    eventually("P1's second reply in the page", WITHIN, || {
        (replies(&cookie1) == 2).then_some(())
    });
    // Once every conversation bound to modem 0 ended, it is stopped.
    eventually(
        "modem 0 stopped after draining",
        Duration::from_secs(60),
        || (modem_states(&url) == vec![(code1.clone(), "up".to_string())]).then_some(()),
    );
}

/// API keys on the real gateway, online and offline: made through the
/// admin API (token shown once, kept as a digest), `smsgate keys` refused
/// while `serve` holds the store, then used offline after a stop; a key
/// made either way survives a restart and is revoked for good.
#[test]
fn api_keys_online_and_offline() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, format!("[http]\nadmin_token = \"{TOKEN}\"\n")).unwrap();
    let store = dir.path().join("store");
    let keys_cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_smsgate"))
            .arg("keys")
            .args(args)
            .arg("--dir")
            .arg(&store)
            .output()
            .unwrap()
    };
    let mut s = serve_proc::start(&store, Some(&cfg), &[]);
    let made: serde_json::Value = ureq::post(&format!("{}/admin/api/keys", s.url))
        .set("Authorization", &format!("Bearer {TOKEN}"))
        .send_json(json!({"name": "crm", "webhook_url": "http://127.0.0.1:9/hook"}))
        .unwrap()
        .into_json()
        .unwrap();
    let token = made["token"].as_str().unwrap().to_string();
    let busy = keys_cli(&["list"]);
    assert!(!busy.status.success(), "the store is held by serve");
    assert!(String::from_utf8_lossy(&busy.stderr).contains("/admin/api/keys"));

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(s.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    eventually("serve to stop", WITHIN, || s.child.try_wait().unwrap());
    let added = keys_cli(&["add", "kannel-client"]);
    assert!(added.status.success(), "{added:?}");
    let out = String::from_utf8_lossy(&added.stdout).into_owned();
    assert!(out.contains("token:          sg_"), "{out}");
    let listed = String::from_utf8_lossy(&keys_cli(&["list"]).stdout).into_owned();
    assert!(
        listed.contains("crm") && listed.contains("kannel-client"),
        "{listed}"
    );
    assert!(!listed.contains(&token), "no token in the list");
    // The token is nowhere on disk in the clear.
    let export = dir.path().join("dump.jsonl");
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .args(["store", "export"])
        .arg(&export)
        .arg("--dir")
        .arg(&store)
        .status()
        .unwrap();
    assert!(st.success());
    assert!(!std::fs::read_to_string(&export).unwrap().contains(&token));

    let s = serve_proc::start(&store, Some(&cfg), &[]);
    let names: Vec<String> = admin_get(&format!("{}/admin/api/keys", s.url))
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap().to_string())
        .collect();
    // `dev`: the embedded network's development key, made at each start.
    assert_eq!(names, ["crm", "dev", "kannel-client"]);
    let r = ureq::delete(&format!("{}/admin/api/keys/crm", s.url))
        .set("Authorization", &format!("Bearer {TOKEN}"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        admin_get(&format!("{}/admin/api/keys", s.url))
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
