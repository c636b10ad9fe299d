//! SIM operations through the whole gateway (`smsgate serve` on the modems
//! of a separate `smsgate emulator`): USSD from the admin API (balance,
//! two-level menus, UCS-2, operator refusals, bad input), the balance
//! watch in `/metrics` (amount, low, an unreadable answer kept stale),
//! per-SIM caps against allocation with the admin's lift, USSD during SMS
//! traffic, and the keep-alive of a quiet prepaid SIM. The offline
//! `smsgate ussd` and `probe --ussd` run on a modem nobody else holds.

mod common;

use std::time::{Duration, Instant};

use common::emulator_proc::EmulatorProc;
use common::phones::control_inbox as inbox;
use common::{eventually, serve_proc};
use serde_json::{json, Value};

const ADMIN: &str = "sim-ops-admin-token-0123";
const WITHIN: Duration = Duration::from_secs(40);

fn start(dir: &std::path::Path, modems: &str) -> serve_proc::Serve {
    let config = format!(
        "[http]\nadmin_token = \"{ADMIN}\"\n[session]\nidle_timeout = \"1h\"\n\
         [limits]\nsends_per_minute_per_client = 0\nsends_per_hour_per_recipient = 0\n{modems}"
    );
    let cfg = dir.join("config.toml");
    std::fs::write(&cfg, config).unwrap();
    let s = serve_proc::start(&dir.join("store"), Some(&cfg), &[]);
    let url = s.url.clone();
    eventually("ready", WITHIN, || {
        ureq::get(&format!("{url}/readyz")).call().ok()
    });
    s
}

/// Status and JSON body of an admin request.
fn call(method: &str, url: &str, body: Option<Value>) -> (u16, Value) {
    common::call(method, url, ADMIN, &[], body)
}

fn ussd(url: &str, code: &str, text: &str) -> (u16, Value) {
    call(
        "POST",
        &format!("{url}/admin/api/modems/{code}/ussd"),
        Some(json!({ "code": text })),
    )
}

fn metrics(url: &str) -> String {
    ureq::get(&format!("{url}/metrics"))
        .set("Authorization", &format!("Bearer {ADMIN}"))
        .call()
        .unwrap()
        .into_string()
        .unwrap()
}

/// The value of the metric line starting with `series` (`name{labels}`).
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn sim(url: &str, code: &str) -> Value {
    let (status, modems) = call("GET", &format!("{url}/admin/api/modems"), None);
    assert_eq!(status, 200);
    modems
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["short_code"] == code)
        .cloned()
        .unwrap_or(Value::Null)
}

fn send(url: &str, session: Option<&str>, to: &[&str], text: &str) -> Value {
    let mut req = ureq::post(&format!("{url}/api/send")).set("Origin", url);
    if let Some(s) = session {
        req = req.set("Cookie", &format!("smsgate_session={s}"));
    }
    match req.send_json(json!({ "to": to, "text": text })) {
        Ok(r) => {
            let cookie = r
                .header("Set-Cookie")
                .and_then(|c| c.split(';').next())
                .and_then(|c| c.strip_prefix("smsgate_session="))
                .map(str::to_string);
            let mut v: Value = r.into_json().unwrap();
            if let Some(c) = cookie {
                v["cookie"] = Value::String(c);
            }
            v
        }
        Err(ureq::Error::Status(code, r)) => {
            panic!(
                "send answered {code}: {}",
                r.into_string().unwrap_or_default()
            )
        }
        Err(e) => panic!("{e}"),
    }
}

fn script(control: &str, modem: usize, body: Value) {
    ureq::put(&format!("{control}/modems/{modem}/ussd"))
        .send_json(body)
        .unwrap();
}

#[test]
fn ussd_balance_and_caps_through_the_whole_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let emu = EmulatorProc::start(2, dir.path());
    let (c0, c1) = (emu.codes[0].clone(), emu.codes[1].clone());
    let modems = format!(
        "[[modem]]\nport = \"{}\"\nshort_code = \"{c0}\"\n\
         balance_ussd = \"*123#\"\nbalance_pattern = 'RD\\$\\s*([0-9.,]+)'\n\
         balance_every = \"2s\"\nbalance_warn = \"20\"\nmax_per_day = 1\n\
         [[modem]]\nport = \"{}\"\nshort_code = \"{c1}\"\nmax_per_day = 1\n",
        emu.links[0].display(),
        emu.links[1].display()
    );
    let serve = start(dir.path(), &modems);
    let url = serve.url.clone();
    let control = emu.control.clone();

    // The balance watch asks once the modem is up: the default answer.
    let balance = format!("smsgate_sim_balance{{short_code=\"{c0}\"}}");
    let up = Instant::now();
    eventually("the first balance", WITHIN, || {
        (metric(&metrics(&url), &balance) == Some(45.5)).then_some(())
    });
    eprintln!("first balance in /metrics {:?} after ready", up.elapsed());
    let m = metrics(&url);
    assert_eq!(
        metric(
            &m,
            &format!("smsgate_sim_balance_low{{short_code=\"{c0}\"}}")
        ),
        Some(0.0)
    );
    assert!(metric(
        &m,
        &format!("smsgate_sim_balance_checked_timestamp_seconds{{short_code=\"{c0}\"}}")
    )
    .is_some_and(|t| t > 1.7e9));
    assert_eq!(
        metric(&m, &format!("smsgate_sim_balance{{short_code=\"{c1}\"}}")),
        None,
        "no balance watch without balance_ussd"
    );

    // A technician's USSD: a balance, then a two-level menu.
    let asked = Instant::now();
    let (status, a) = ussd(&url, &c1, "*123#");
    eprintln!("admin USSD answered in {:?}", asked.elapsed());
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["reply"], "Su balance es RD$45.50");
    assert_eq!(a["session_open"], false);
    let (status, a) = ussd(&url, &c1, "*100#");
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["session_open"], true);
    assert!(
        a["reply"]
            .as_str()
            .unwrap()
            .contains("1. Saldo\n2. Paquetes"),
        "{a}"
    );
    let (_, a) = ussd(&url, &c1, "2");
    assert_eq!(a["session_open"], true, "{a}");
    assert!(a["reply"].as_str().unwrap().contains("Datos"), "{a}");
    let (_, a) = ussd(&url, &c1, "1");
    assert_eq!(a["session_open"], false, "{a}");
    assert!(a["reply"].as_str().unwrap().contains("activado"), "{a}");
    // UCS-2 (dcs 72) comes back as text.
    let (status, a) = ussd(&url, &c1, "*124#");
    assert_eq!(status, 200, "{a}");
    assert!(a["reply"].as_str().unwrap().contains("Баланс"), "{a}");

    // Refusals and bad input: clear errors, nothing else changes.
    script(
        &control,
        1,
        json!({"code": "*555#", "fault": "not_supported"}),
    );
    script(&control, 1, json!({"code": "*556#", "fault": "cme_error"}));
    let (status, e) = ussd(&url, &c1, "*555#");
    assert_eq!(
        (status, e["error"].as_str()),
        (422, Some("ussd_not_supported")),
        "{e}"
    );
    let (status, e) = ussd(&url, &c1, "*556#");
    assert_eq!(
        (status, e["error"].as_str()),
        (422, Some("ussd_refused")),
        "{e}"
    );
    let (status, e) = ussd(&url, &c1, "hello");
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_ussd")),
        "{e}"
    );
    let (status, _) = ussd(&url, "+19999999999", "*123#");
    assert_eq!(status, 404);
    let (status, _) = call(
        "POST",
        &format!("{url}/admin/api/modems/{c1}/ussd"),
        Some(json!({"kode": "*123#"})),
    );
    assert_eq!(status, 400);
    let (status, _) = ussd(&url, &c1, "*123#");
    assert_eq!(status, 200, "the modem still answers");

    // A low balance, then an answer the pattern cannot read: the last
    // amount is kept, marked stale, and the raw answer shown.
    script(
        &control,
        0,
        json!({"code": "*123#", "reply": "Su balance es RD$15.00"}),
    );
    eventually("a low balance", WITHIN, || {
        let m = metrics(&url);
        (metric(&m, &balance) == Some(15.0)
            && metric(
                &m,
                &format!("smsgate_sim_balance_low{{short_code=\"{c0}\"}}"),
            ) == Some(1.0))
        .then_some(())
    });
    script(
        &control,
        0,
        json!({"code": "*123#", "reply": "Sistema ocupado, intente luego"}),
    );
    eventually("a stale balance", WITHIN, || {
        let m = metrics(&url);
        (metric(
            &m,
            &format!("smsgate_sim_balance_stale{{short_code=\"{c0}\"}}"),
        ) == Some(1.0))
        .then_some(())
    });
    let s = sim(&url, &c0);
    assert_eq!(
        metric(&metrics(&url), &balance),
        Some(15.0),
        "the last good amount"
    );
    assert_eq!(
        s["sim"]["balance"]["raw"], "Sistema ocupado, intente luego",
        "{s}"
    );
    assert_eq!(s["sim"]["balance"]["stale"], true);
    // An admin USSD of the balance code updates the balance too.
    script(
        &control,
        0,
        json!({"code": "*123#", "reply": "Su balance es RD$ 1,250.75"}),
    );
    let (status, _) = ussd(&url, &c0, "*123#");
    assert_eq!(status, 200);
    assert_eq!(metric(&metrics(&url), &balance), Some(1250.75));
    // The inventory: identity and a signal history.
    assert!(s["imsi"].as_str().is_some_and(|i| i.len() == 15), "{s}");
    assert!(
        s["iccid"].as_str().is_some_and(|i| i.starts_with("89")),
        "{s}"
    );
    assert!(
        s["signal_history"]
            .as_array()
            .is_some_and(|h| !h.is_empty()),
        "{s}"
    );

    // Caps: one SMS a day per SIM. Two new numbers take one SIM each; a
    // third finds no SIM with room; the first conversation's next message
    // waits for its SIM's cap until the admin lifts it.
    let a = send(&url, None, &["+18095551001"], "primero");
    let b = send(&url, None, &["+18095551002"], "segundo");
    let codes = [
        a["recipients"][0]["short_code"]
            .as_str()
            .unwrap()
            .to_string(),
        b["recipients"][0]["short_code"]
            .as_str()
            .unwrap()
            .to_string(),
    ];
    assert_ne!(codes[0], codes[1], "a capped SIM takes no new conversation");
    let c = ureq::post(&format!("{url}/api/send"))
        .set("Origin", &url)
        .send_json(json!({ "to": ["+18095551003"], "text": "tercero" }));
    let Err(ureq::Error::Status(422, c)) = c else {
        panic!("a third number with every SIM at its cap is refused")
    };
    let c: Value = c.into_json().unwrap();
    assert_eq!(c["recipients"][0]["reason"], "no_free_short_code", "{c}");
    let again = send(&url, a["cookie"].as_str(), &["+18095551001"], "otra vez");
    assert_eq!(
        again["recipients"][0]["status"], "waiting_for_cap",
        "{again}"
    );
    eventually("the first two delivered", WITHIN, || {
        (inbox(&control, "+18095551001").len() == 1 && inbox(&control, "+18095551002").len() == 1)
            .then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(inbox(&control, "+18095551001").len(), 1, "held by the cap");
    let s = sim(&url, &codes[0]);
    assert_eq!(s["sim"]["sent_today"], 1, "{s}");
    assert_eq!(s["sim"]["reached"], json!(["day"]), "{s}");
    assert_eq!(s["sim"]["waiting_for_cap"], 1, "{s}");
    let m = metrics(&url);
    let reached = format!(
        "smsgate_sim_cap_reached{{short_code=\"{}\",cap=\"day\"}}",
        codes[0]
    );
    assert_eq!(metric(&m, &reached), Some(1.0), "{m}");
    assert!(metric(
        &m,
        &format!(
            "smsgate_sim_cap_reached_total{{short_code=\"{}\",cap=\"day\"}}",
            codes[0]
        )
    )
    .is_some_and(|n| n >= 1.0));

    let (status, s) = call(
        "POST",
        &format!("{url}/admin/api/modems/{}/caps/reset", codes[0]),
        None,
    );
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["lifted"], true, "{s}");
    eventually(
        "the waiting message delivered after the lift",
        WITHIN,
        || {
            inbox(&control, "+18095551001")
                .iter()
                .any(|(from, text)| from == &codes[0] && text == "otra vez")
                .then_some(())
        },
    );
    let (status, _) = call(
        "POST",
        &format!("{url}/admin/api/modems/+19999999999/caps/reset"),
        None,
    );
    assert_eq!(status, 404);

    // USSD while SMS traffic flows: every SMS arrives whole and every
    // USSD is answered (the driver never puts one inside a send).
    let phones: Vec<String> = (0..8).map(|i| format!("+1809556{i:04}")).collect();
    let to: Vec<&str> = phones.iter().map(String::as_str).collect();
    let t = std::thread::spawn({
        let url = url.clone();
        let to: Vec<String> = to.iter().map(|s| s.to_string()).collect();
        move || {
            let to: Vec<&str> = to.iter().map(String::as_str).collect();
            send(&url, None, &to, "tráfico mientras hay USSD")
        }
    });
    for _ in 0..4 {
        let (status, a) = ussd(&url, &codes[0], "*124#");
        assert_eq!(status, 200, "{a}");
    }
    let answer = t.join().unwrap();
    assert!(
        answer["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "queued"),
        "{answer}"
    );
    eventually("all delivered whole", WITHIN, || {
        phones
            .iter()
            .all(|p| {
                inbox(&control, p)
                    .iter()
                    .any(|(_, text)| text == "tráfico mientras hay USSD")
            })
            .then_some(())
    });
    drop(serve);
}

/// A quiet prepaid SIM sends one keep-alive per `keepalive_every`, and
/// not more often.
#[test]
fn a_quiet_sim_keeps_itself_alive() {
    let dir = tempfile::tempdir().unwrap();
    let emu = EmulatorProc::start(1, dir.path());
    let c0 = emu.codes[0].clone();
    let modems = format!(
        "[[modem]]\nport = \"{}\"\nshort_code = \"{c0}\"\n\
         keepalive_every = \"4s\"\nkeepalive_to = \"+18095557777\"\nkeepalive_text = \"sigo vivo\"\n",
        emu.links[0].display()
    );
    let started = Instant::now();
    let serve = start(dir.path(), &modems);
    eventually("the first keep-alive", WITHIN, || {
        inbox(&emu.control, "+18095557777")
            .iter()
            .any(|(from, text)| from == &c0 && text == "sigo vivo")
            .then_some(())
    });
    let first = started.elapsed();
    assert!(
        first >= Duration::from_secs(4),
        "not before its period: {first:?}"
    );
    std::thread::sleep(Duration::from_secs(9));
    let n = inbox(&emu.control, "+18095557777").len();
    let bound = (started.elapsed().as_secs() / 4) as usize;
    assert!(
        (2..=bound).contains(&n),
        "{n} keep-alives in {:?}",
        started.elapsed()
    );
    let s = sim(&serve.url, &c0);
    assert!(
        s["sim"]["keepalives_sent"].as_u64().is_some_and(|k| k >= 2),
        "{s}"
    );
    assert!(s["sim"]["next_keepalive"].is_string(), "{s}");
    eprintln!(
        "keep-alive: first after {first:?}, {n} in {:?}",
        started.elapsed()
    );
}

/// Cap counts and a message waiting for a cap survive kill -9: they are
/// journaled with the send that the 202 acknowledged. After the restart
/// the SIMs have exactly the room left that the acknowledged sends left,
/// and the waiting message still waits, then goes when lifted.
#[test]
fn caps_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let emu = EmulatorProc::start(2, dir.path());
    let modems = emu.modem_config_with("max_per_day = 2\n");
    let mut serve = start(dir.path(), &modems);
    let url = serve.url.clone();
    let first = send(&url, None, &["+18095552001"], "uno");
    send(&url, None, &["+18095552002"], "dos");
    send(&url, None, &["+18095552003"], "tres");
    let held_code = first["recipients"][0]["short_code"]
        .as_str()
        .unwrap()
        .to_string();
    // The first conversation's SIM fills up; its third message waits.
    let cookie = first["cookie"].as_str().unwrap().to_string();
    send(&url, Some(&cookie), &["+18095552001"], "uno-2");
    let waiting = send(&url, Some(&cookie), &["+18095552001"], "uno-3");
    assert_eq!(
        waiting["recipients"][0]["status"], "waiting_for_cap",
        "{waiting}"
    );
    // What was acknowledged, per SIM: counts and waiting messages.
    let state = |url: &str| -> Vec<(u64, u64)> {
        emu.codes
            .iter()
            .map(|c| {
                let s = sim(url, c);
                (
                    s["sim"]["sent_today"].as_u64().unwrap(),
                    s["sim"]["waiting_for_cap"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let before = state(&url);
    assert!(before.iter().any(|s| s.1 >= 1), "{before:?}");
    assert!(
        (3..=4).contains(&before.iter().map(|s| s.0).sum::<u64>()),
        "{before:?}"
    );
    serve.child.kill().unwrap();
    serve.child.wait().unwrap();
    drop(serve);

    let serve = start(dir.path(), &modems);
    let url = serve.url.clone();
    assert_eq!(
        state(&url),
        before,
        "every acknowledged allocation counted, once"
    );
    let (status, _) = call(
        "POST",
        &format!("{url}/admin/api/modems/{held_code}/caps/reset"),
        None,
    );
    assert_eq!(status, 200);
    eventually(
        "the held message delivered after the restart and the lift",
        WITHIN,
        || {
            inbox(&emu.control, "+18095552001")
                .iter()
                .any(|(_, text)| text == "uno-3")
                .then_some(())
        },
    );
}
