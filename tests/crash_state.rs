//! Crash consistency of the whole state, by SIGKILL (a Raspberry Pi's
//! power cut as far as the process can tell): `smsgate serve` drives the
//! modems of a separate `smsgate emulator` process (so the phones' records
//! survive it) and is killed with kill -9 while web sends, phone replies
//! (single and multipart) and STOPs flow.
//!
//! After every restart the state is compared with what was acknowledged,
//! not counted:
//! - every browser's session comes back under the same id, with every
//!   message it was answered 202 for;
//! - every reply a phone sent is in its session exactly once, once the
//!   SIMs are drained (a part not yet acknowledged when the process died
//!   is still on the SIM and is read again);
//! - a STOP stays in force (the next send to that number is refused with
//!   `opted_out`), an ended session stays ended (R4, R6);
//! - the charges are exactly one per SMS part the phones sent (R10), the
//!   out-of-session records exactly the messages that reached no session
//!   (R7);
//! - every acknowledged send reached its phone, duplicates within the
//!   bound of docs/reliability.md.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::emulator_proc::EmulatorProc;
use common::{eventually, serve_proc};
use serde_json::{json, Value};

const ROUNDS: usize = 10;
const MODEMS: usize = 2;
const BROWSERS: usize = 6;
const TOKEN: &str = "crash-state-admin-token-0123";

struct Gw {
    url: String,
}

impl Gw {
    fn admin(&self, path: &str) -> Value {
        ureq::get(&format!("{}{path}", self.url))
            .set("Authorization", &format!("Bearer {TOKEN}"))
            .call()
            .unwrap()
            .into_json()
            .unwrap()
    }

    /// A web send from the browser holding `cookie`; the answer and the
    /// session's secret (the cookie's value: the body names the session by
    /// its public id only), or `None` when the answer was not 202.
    fn send(&self, cookie: Option<&str>, to: &str, text: &str) -> Option<(Value, String)> {
        let mut req = ureq::post(&format!("{}/api/send", self.url)).set("Origin", &self.url);
        if let Some(c) = cookie {
            req = req.set("Cookie", &format!("smsgate_session={c}"));
        }
        match req.send_json(json!({"to": [to], "text": text})) {
            Ok(r) if r.status() == 202 => {
                let secret = r
                    .header("set-cookie")
                    .and_then(|c| c.split(';').next())
                    .and_then(|kv| kv.strip_prefix("smsgate_session="))
                    .expect("the session cookie")
                    .to_string();
                let v: Value = r.into_json().unwrap();
                assert_eq!(
                    v["session"]["id"],
                    smsgate::web::public_id(&secret).as_str(),
                    "the body names the session by its public id only"
                );
                Some((v, secret))
            }
            _ => None,
        }
    }

    /// A send's status and body, refused or not.
    fn send_answer(&self, cookie: Option<&str>, to: &str, text: &str) -> (u16, Value) {
        let mut req = ureq::post(&format!("{}/api/send", self.url)).set("Origin", &self.url);
        if let Some(c) = cookie {
            req = req.set("Cookie", &format!("smsgate_session={c}"));
        }
        match req.send_json(json!({"to": [to], "text": text})) {
            Ok(r) | Err(ureq::Error::Status(_, r)) => (r.status(), r.into_json().unwrap()),
            Err(e) => panic!("{e}"),
        }
    }

    /// The browser's session as its page reads it.
    fn session(&self, cookie: &str) -> Option<Value> {
        ureq::get(&format!("{}/api/session", self.url))
            .set("Cookie", &format!("smsgate_session={cookie}"))
            .call()
            .ok()?
            .into_json()
            .ok()
    }
}

struct Net {
    control: String,
}

impl Net {
    fn inbox(&self, phone: &str) -> Vec<Value> {
        ureq::get(&format!("{}/phones/{phone}/inbox", self.control))
            .call()
            .unwrap()
            .into_json::<Value>()
            .unwrap()
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn phone_send(&self, phone: &str, to: &str, text: &str) {
        ureq::post(&format!("{}/phones/{phone}/send", self.control))
            .send_json(json!({"to": to, "text": text}))
            .expect("the network takes the phone's message");
    }

    /// SMS waiting on the SIMs or in the network, over every modem.
    fn undelivered_mo(&self) -> u64 {
        (0..MODEMS)
            .map(|m| {
                let v: Value = ureq::get(&format!("{}/modems/{m}", self.control))
                    .call()
                    .unwrap()
                    .into_json()
                    .unwrap();
                v["storage"]["sm"][0].as_u64().unwrap()
                    + v["storage"]["held_in_network"].as_u64().unwrap()
            })
            .sum()
    }
}

fn start(store: &std::path::Path, cfg: &std::path::Path) -> (serve_proc::Serve, Gw) {
    let s = serve_proc::start(store, Some(cfg), &[]);
    let gw = Gw { url: s.url.clone() };
    eventually("ready", Duration::from_secs(30), || {
        ureq::get(&format!("{}/readyz", gw.url)).call().ok()
    });
    (s, gw)
}

/// SMS parts a text takes (GSM 7-bit, as the phones here write).
fn parts(text: &str) -> usize {
    if text.len() <= 160 {
        1
    } else {
        text.len().div_ceil(153)
    }
}

#[test]
fn kill_9_keeps_sessions_replies_stops_and_charges() {
    let dir = tempfile::tempdir().unwrap();
    let emu = EmulatorProc::start(MODEMS, dir.path());
    let net = Net {
        control: emu.control.clone(),
    };
    let cfg = emu.crash_config(dir.path(), TOKEN);
    let store = dir.path().join("store");
    let phone = |i: usize| format!("+1809{:07}", 3_000_000 + i);

    // Browser i writes to phone i; what each was answered 202 for.
    let mut cookies: Vec<Option<String>> = vec![None; BROWSERS];
    let mut acked: Vec<Vec<String>> = vec![Vec::new(); BROWSERS];
    // What each phone sent into its session, and every MO part sent.
    let mut replies: Vec<Vec<String>> = vec![Vec::new(); BROWSERS];
    let mut mo_parts: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut out_of_session = 0usize;

    // ---- The scenario of the issue, step by step. ----
    let (s, gw) = start(&store, &cfg);
    let (answer, id) = gw.send(None, &phone(0), "hola").expect("202");
    cookies[0] = Some(id.clone());
    acked[0].push("hola".into());
    let code0 = answer["recipients"][0]["short_code"]
        .as_str()
        .unwrap()
        .to_string();
    eventually("the phone has it", Duration::from_secs(20), || {
        (!net.inbox(&phone(0)).is_empty()).then_some(())
    });
    net.phone_send(&phone(0), &code0, "sí, recibido");
    *mo_parts.entry((phone(0), code0.clone())).or_default() += 1;
    replies[0].push("sí, recibido".into());
    let shown = eventually(
        "the reply shows in the page",
        Duration::from_secs(20),
        || {
            let v = gw.session(&id)?;
            (v["replies"].as_array()?.len() == 1).then_some(v)
        },
    );
    // Another phone sends STOP to a short code where it has no session.
    let stopper = phone(BROWSERS);
    net.phone_send(&stopper, &emu.codes[0], "STOP");
    *mo_parts
        .entry((stopper.clone(), emu.codes[0].clone()))
        .or_default() += 1;
    out_of_session += 1;
    eventually("the STOP is taken in", Duration::from_secs(20), || {
        (gw.admin("/admin/api/charges").as_array()?.len() == 2).then_some(())
    });
    // A session the admin ends (durable before the 204).
    let (ended_answer, ended) = gw.send(None, &phone(BROWSERS + 1), "adiós").expect("202");
    let ended_code = ended_answer["recipients"][0]["short_code"]
        .as_str()
        .unwrap()
        .to_string();
    let r = ureq::delete(&format!(
        "{}/admin/api/sessions/{}",
        gw.url,
        smsgate::web::public_id(&ended)
    ))
    .set("Authorization", &format!("Bearer {TOKEN}"))
    .call()
    .unwrap();
    assert_eq!(r.status(), 204);
    let charges_before = gw.admin("/admin/api/charges");
    drop(s); // kill -9

    let (s, gw) = start(&store, &cfg);
    let after = gw.session(&id).expect("the session is back under its id");
    assert_eq!(after["id"], shown["id"]);
    assert_eq!(after["replies"], shown["replies"], "the reply survived");
    assert_eq!(
        after["expires_at"], shown["expires_at"],
        "its idle clock too"
    );
    assert_eq!(after["messages"][0]["text"], "hola");
    let (status, refused) = gw.send_answer(cookies[0].as_deref(), &stopper, "¿sigues ahí?");
    assert_eq!(status, 422, "nobody to send to: {refused}");
    assert_eq!(refused["recipients"][0]["status"], "refused");
    assert_eq!(
        refused["recipients"][0]["reason"], "opted_out",
        "the STOP survived"
    );
    assert!(
        gw.session(&ended).is_none(),
        "the ended session stays ended"
    );
    let (again, _) = gw
        .send(None, &phone(BROWSERS + 1), "otra vez")
        .expect("202");
    assert_ne!(
        again["recipients"][0]["short_code"], ended_code,
        "R6: the retired pair is not reused"
    );
    assert_eq!(
        gw.admin("/admin/api/charges"),
        charges_before,
        "the same charge records, ids and times"
    );
    drop(s);

    // ---- Random kills during traffic both ways. ----
    let mut rng = common::Rng(0x0dd_ba11_cafe);
    let mut codes: Vec<Option<String>> = vec![None; BROWSERS];
    codes[0] = Some(code0);
    let mut stopped: Vec<String> = vec![stopper];
    for round in 0..ROUNDS {
        let (s, gw) = start(&store, &cfg);
        // Every session is back, with every message it was answered for.
        for b in 0..BROWSERS {
            let Some(c) = &cookies[b] else { continue };
            let v = gw
                .session(c)
                .unwrap_or_else(|| panic!("session of browser {b} lost"));
            let texts: Vec<&str> = v["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["text"].as_str().unwrap())
                .collect();
            for t in &acked[b] {
                assert!(texts.contains(&t.as_str()), "browser {b} lost {t:?}");
            }
        }
        // Phones whose message arrived answer; one long reply per round.
        for b in 0..BROWSERS {
            let Some(code) = &codes[b] else { continue };
            let text = if (round + b) % 4 == 0 {
                format!("respuesta larga {round}-{b} ").repeat(12)
            } else {
                format!("r-{round}-{b}")
            };
            net.phone_send(&phone(b), code, &text);
            *mo_parts.entry((phone(b), code.clone())).or_default() += parts(&text);
            replies[b].push(text);
        }
        // A new phone stops every other round.
        if round % 2 == 1 {
            let p = phone(100 + round);
            net.phone_send(&p, &emu.codes[round % MODEMS], "BAJA");
            *mo_parts
                .entry((p.clone(), emu.codes[round % MODEMS].clone()))
                .or_default() += 1;
            out_of_session += 1;
            stopped.push(p);
        }
        // Browsers send while the replies come in.
        for b in 0..BROWSERS {
            let text = format!("m-{round}-{b}");
            if let Some((answer, id)) = gw.send(cookies[b].as_deref(), &phone(b), &text) {
                cookies[b] = Some(id);
                acked[b].push(text);
                if codes[b].is_none() {
                    codes[b] = answer["recipients"][0]["short_code"]
                        .as_str()
                        .map(str::to_string);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(rng.next() % 1500));
        drop(s); // kill -9 at a pseudo-random moment
    }

    // ---- A last start drains everything; then the whole state. ----
    let (_s, gw) = start(&store, &cfg);
    eventually("SIMs drained", Duration::from_secs(60), || {
        (net.undelivered_mo() == 0).then_some(())
    });
    eventually("outbox drained", Duration::from_secs(60), || {
        gw.admin("/admin/api/outbox")
            .as_array()?
            .is_empty()
            .then_some(())
    });
    let total_parts: usize = mo_parts.values().sum();
    eventually("every part charged", Duration::from_secs(30), || {
        (gw.admin("/admin/api/charges").as_array()?.len() >= total_parts).then_some(())
    });
    std::thread::sleep(Duration::from_secs(1));

    let mut duplicates = 0;
    for b in 0..BROWSERS {
        let c = cookies[b].as_deref().unwrap();
        let v = gw.session(c).expect("session live");
        assert_eq!(v["id"], smsgate::web::public_id(c).as_str(), "same session");
        let got: Vec<&str> = v["replies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["text"].as_str().unwrap())
            .collect();
        for r in &replies[b] {
            let n = got.iter().filter(|g| **g == r.as_str()).count();
            assert_eq!(n, 1, "reply {r:?} of phone {b} is in its session {n} times");
        }
        assert_eq!(got.len(), replies[b].len(), "no reply from elsewhere");
        let inbox = net.inbox(&phone(b));
        for t in &acked[b] {
            let n = inbox.iter().filter(|m| m["text"] == t.as_str()).count();
            assert!(n >= 1, "acknowledged {t:?} never reached phone {b}");
            duplicates += n - 1;
        }
    }
    // A send is repeated only when the kill fell between the modem's
    // +CMGS answer and the flush that records it: ≤ 1 per modem per kill.
    assert!(
        duplicates <= (ROUNDS + 1) * MODEMS,
        "{duplicates} duplicates"
    );

    let charges = gw.admin("/admin/api/charges");
    let mut charged: BTreeMap<(String, String), usize> = BTreeMap::new();
    for c in charges.as_array().unwrap() {
        let key = (
            c["number"].as_str().unwrap().to_string(),
            c["short_code"].as_str().unwrap().to_string(),
        );
        *charged.entry(key).or_default() += 1;
    }
    assert_eq!(
        charged, mo_parts,
        "one charge per part sent, none twice (R10)"
    );
    let ids: std::collections::BTreeSet<&str> = charges
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), total_parts, "charge ids are unique");
    let late = gw
        .admin("/admin/api/out-of-session")
        .as_array()
        .unwrap()
        .len();
    assert_eq!(late, out_of_session, "R7 records");
    for p in &stopped {
        let (status, v) = gw.send_answer(None, p, "¿hola?");
        assert_eq!(status, 422, "a send to {p} alone reaches no one: {v}");
        assert_eq!(
            v["recipients"][0]["reason"], "opted_out",
            "{p} stays stopped"
        );
    }
    println!(
        "crash state: {} kills, {} sends acknowledged, {} replies, {total_parts} MO parts charged, {} STOPs, {duplicates} duplicates",
        ROUNDS + 1,
        acked.iter().map(Vec::len).sum::<usize>(),
        replies.iter().map(Vec::len).sum::<usize>(),
        stopped.len()
    );
}
