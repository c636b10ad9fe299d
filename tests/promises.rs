//! The page keeps the service's promises, proven on the real gateway:
//! `smsgate serve` on its embedded emulated network, over HTTP, with the
//! phone simulator playing the phones.
//!
//! - A send that reaches no one opens nothing: 422 with each number's
//!   reason, no session, no cookie (JSON and the no-JavaScript form).
//! - The owner's money: the pool's own short codes, numbers of countries
//!   not allowed and premium-rate ones are refused.
//! - Behind a reverse proxy: only a trusted one names the client (rate
//!   limits key on it) and says HTTPS (the cookie is then `Secure`).
//! - Charges per SMS: a three-part reply is three charge records of one
//!   message; a reply whose last part is lost is released after `[sms]
//!   reassembly_timeout` with a marker, charged for the parts received.
//! - Polite automation: BAJA/ALTA (accents composed or not, punctuation)
//!   are confirmed by SMS naming the word that undoes them; the R7
//!   auto-reply goes once per (number, short code) per cool-down.

mod common;

use std::time::Duration;

use common::phones::{inbox, phone_sends};
use common::{eventually, serve_proc};
use serde_json::{json, Value};

const WITHIN: Duration = Duration::from_secs(20);

const CONFIG: &str =
    "[session]\nidle_timeout = \"3s\"\nauto_reply = \"Esta conversación ya terminó.\"\n\
     [limits]\nsends_per_minute_per_client = 0\nsends_per_hour_per_recipient = 0\n\
     [numbers]\nallowed_countries = [\"DO\", \"US\"]\n";

fn start(dir: &std::path::Path) -> serve_proc::Serve {
    start_with(dir, CONFIG)
}

fn start_with(dir: &std::path::Path, config: &str) -> serve_proc::Serve {
    let cfg = dir.join("config.toml");
    std::fs::write(&cfg, config).unwrap();
    let s = serve_proc::start(
        &dir.join("store"),
        Some(&cfg),
        &[("SMSGATE_EMULATOR__REPORT_DELAY_MS", "0")],
    );
    let url = s.url.clone();
    eventually("ready", WITHIN, || {
        ureq::get(&format!("{url}/readyz")).call().ok()
    });
    s
}

/// `POST /api/send`: status, Set-Cookie (if any), body.
fn send(url: &str, to: &[&str], text: &str) -> (u16, Option<String>, Value) {
    let r = ureq::post(&format!("{url}/api/send"))
        .set("Origin", url)
        .send_json(json!({"to": to, "text": text}));
    let r = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let status = r.status();
    let cookie = r.header("set-cookie").map(str::to_string);
    (status, cookie, r.into_json().unwrap())
}

fn short_codes(url: &str) -> Vec<String> {
    let v: Value = ureq::get(&format!("{url}/dev/phones/api/short-codes"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| c["number"].as_str().unwrap().to_string())
        })
        .collect()
}

#[test]
fn a_send_that_reaches_no_one_opens_nothing_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path());
    let url = s.url.clone();
    let own = short_codes(&url)[0].clone();

    let (status, cookie, body) = send(&url, &["hola"], "¿Hay alguien?");
    assert_eq!(status, 422, "{body}");
    assert_eq!(cookie, None, "no cookie for a send that reached no one");
    assert_eq!(body["error"], "no_recipient_accepted");
    assert_eq!(body["recipients"][0]["reason"], "invalid_number");
    assert!(body.get("session").is_none());

    // The owner's money: the box's own number, a Spanish mobile (a country
    // not allowed), a US premium-rate and a toll-free number.
    let (status, cookie, body) = send(
        &url,
        &[&own, "+34612345678", "+19002345678", "+18002345678"],
        "¿Hay alguien?",
    );
    assert_eq!((status, cookie), (422, None), "{body}");
    let reasons: Vec<&str> = body["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "invalid_number",
            "destination_not_allowed",
            "destination_not_allowed",
            "destination_not_allowed"
        ]
    );
    // A US mobile is allowed here (allowed_countries = DO, US); with one
    // recipient accepted the send is 202 and says who was refused.
    let (status, cookie, body) = send(&url, &["+34612345678", "8095551234"], "Hola");
    assert_eq!(status, 202, "{body}");
    assert!(cookie.is_some());
    assert_eq!(body["recipients"][0]["reason"], "destination_not_allowed");
    assert_eq!(body["recipients"][1]["status"], "queued");
    // The session keeps the refused recipient with its reason: in the API
    // and in the page as the server renders it (no JavaScript).
    let cookie = cookie.unwrap().split(';').next().unwrap().to_string();
    let view: Value = ureq::get(&format!("{url}/api/session"))
        .set("Cookie", &cookie)
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    let recipients = view["messages"][0]["recipients"].as_array().unwrap();
    assert_eq!(recipients.len(), 2, "{view}");
    assert!(recipients.iter().any(|r| r["to"] == "+34612345678"
        && r["status"] == "refused"
        && r["reason"] == "destination_not_allowed"));
    assert_eq!(view["messages"][0]["text"], "Hola");
    let page = ureq::get(&format!("{url}/?lang=es"))
        .set("Cookie", &cookie)
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(
        page.contains("<li class=\"sent\""),
        "the thread, server-rendered"
    );
    assert!(page.contains("desde aquí solo se puede escribir a teléfonos del país del servicio"));

    // Without JavaScript: the page answers 422 in Spanish, each number with
    // its reason, and sets no cookie.
    let r = ureq::post(&format!("{url}/send"))
        .set("Origin", &url)
        .set("Accept-Language", "es")
        .send_form(&[("to", "hola, +34612345678"), ("text", "¿Hay alguien?")]);
    let Err(ureq::Error::Status(422, r)) = r else {
        panic!("the form answers 422")
    };
    assert!(r.header("set-cookie").is_none());
    let page = r.into_string().unwrap();
    assert!(
        page.contains("ninguno de los números puede recibir este mensaje"),
        "{page}"
    );
    assert!(page.contains("hola (número no válido)"), "{page}");
    assert!(
        page.contains(
            "+34612345678 (desde aquí solo se puede escribir a teléfonos del país del servicio)"
        ),
        "{page}"
    );
}

#[test]
fn keywords_are_confirmed_and_automation_is_polite() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path());
    let url = s.url.clone();
    let phone = "+18095551234";
    let (status, _, body) = send(&url, &[phone], "Hola");
    assert_eq!(status, 202, "{body}");
    let code = body["recipients"][0]["short_code"]
        .as_str()
        .unwrap()
        .to_string();
    eventually("the phone got it", WITHIN, || {
        (inbox(&url, phone).len() == 1).then_some(())
    });

    // BAJA with a decomposed accent and punctuation: opted out, confirmed
    // from the same short code, naming the word that undoes it.
    phone_sends(&url, phone, &code, "BA\u{301}JA!!");
    let confirmation = eventually("the opt-out confirmed", WITHIN, || {
        inbox(&url, phone).get(1).cloned()
    });
    assert_eq!(confirmation.0, code);
    assert!(confirmation.1.contains("responde ALTA"), "{confirmation:?}");
    let (status, _, body) = send(&url, &[phone], "¿Sigues ahí?");
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["recipients"][0]["reason"], "opted_out");
    // ALTA. (with a full stop): in again, confirmed.
    phone_sends(&url, phone, &code, "alta.");
    let confirmation = eventually("the opt-in confirmed", WITHIN, || {
        inbox(&url, phone).get(2).cloned()
    });
    assert!(confirmation.1.contains("responde BAJA"), "{confirmation:?}");
    // The same keyword again within the cool-down: no second SMS (an
    // automat answering every SMS with ALTA gets one).
    phone_sends(&url, phone, &code, "ALTA");

    // R7: after the session ended (3 s idle), late replies get the
    // auto-reply once per cool-down, however many come.
    std::thread::sleep(Duration::from_secs(4));
    for text in ["¿hola?", "¿hay alguien?", "¿hola?"] {
        phone_sends(&url, phone, &code, text);
    }
    eventually("the auto-reply", WITHIN, || {
        inbox(&url, phone)
            .iter()
            .any(|(_, t)| t == "Esta conversación ya terminó.")
            .then_some(())
    });
    // Time for any second one to arrive, then count.
    std::thread::sleep(Duration::from_secs(2));
    let got = inbox(&url, phone);
    let auto = got
        .iter()
        .filter(|(_, t)| t == "Esta conversación ya terminó.")
        .count();
    assert_eq!(auto, 1, "one auto-reply for three late replies: {got:?}");
    let confirmations = got.iter().filter(|(_, t)| t.starts_with("Listo")).count();
    assert_eq!(confirmations, 2, "BAJA and the first ALTA only: {got:?}");
}

/// A send from `client` as a proxy at 127.0.0.1 forwards it.
fn send_via_proxy(url: &str, client: &str, proto: &str) -> (u16, Option<String>) {
    let r = ureq::post(&format!("{url}/api/send"))
        .set("Origin", url)
        .set("X-Forwarded-For", &format!("6.6.6.6, {client}"))
        .set("X-Forwarded-Proto", proto)
        .send_json(json!({"to": ["8095551234"], "text": "hola"}));
    match r {
        Ok(r) | Err(ureq::Error::Status(_, r)) => {
            (r.status(), r.header("set-cookie").map(str::to_string))
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn behind_a_trusted_proxy_the_real_client_counts_and_https_makes_the_cookie_secure() {
    let limited = "[limits]\nsends_per_minute_per_client = 1\nsends_per_hour_per_recipient = 0\n";
    // Trusted: each forwarded client has its own quota; HTTPS is believed.
    let dir = tempfile::tempdir().unwrap();
    let s = start_with(
        dir.path(),
        &format!("[http]\ntrusted_proxies = [\"127.0.0.1\"]\n{limited}"),
    );
    let (status, cookie) = send_via_proxy(&s.url, "203.0.113.7", "https");
    assert_eq!(status, 202);
    let cookie = cookie.unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert_eq!(send_via_proxy(&s.url, "203.0.113.7", "https").0, 429);
    let (status, cookie) = send_via_proxy(&s.url, "203.0.113.8", "http");
    assert_eq!(status, 202, "another client behind the same proxy");
    assert!(!cookie.unwrap().contains("Secure"));
    drop(s);

    // Not trusted: the headers are the peer's claims, ignored.
    let dir = tempfile::tempdir().unwrap();
    let s = start_with(dir.path(), limited);
    let (status, cookie) = send_via_proxy(&s.url, "203.0.113.7", "https");
    assert_eq!(status, 202);
    assert!(!cookie.unwrap().contains("Secure"), "a claim is not HTTPS");
    assert_eq!(
        send_via_proxy(&s.url, "203.0.113.8", "https").0,
        429,
        "one peer, one quota, whatever it forwards"
    );
}

#[test]
fn charges_are_per_sms_and_a_lost_part_is_not_charged() {
    let dir = tempfile::tempdir().unwrap();
    let s = start_with(
        dir.path(),
        "[http]\nadmin_token = \"0123456789abcdef0123\"\n[sms]\nreassembly_timeout = \"2s\"\n\
         [limits]\nsends_per_minute_per_client = 0\nsends_per_hour_per_recipient = 0\n",
    );
    let url = s.url.clone();
    let phone = "+18095551234";
    let (status, cookie, body) = send(&url, &[phone], "Hola");
    assert_eq!(status, 202, "{body}");
    let cookie = cookie.unwrap().split(';').next().unwrap().to_string();
    let code = body["recipients"][0]["short_code"]
        .as_str()
        .unwrap()
        .to_string();
    let replies = || -> Vec<String> {
        let v: Value = ureq::get(&format!("{url}/api/session"))
            .set("Cookie", &cookie)
            .call()
            .unwrap()
            .into_json()
            .unwrap();
        v["replies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["text"].as_str().unwrap().to_string())
            .collect()
    };
    let long = "una respuesta larga ".repeat(20);
    phone_sends(&url, phone, &code, &long);
    eventually("the whole reply", WITHIN, || {
        replies().contains(&long).then_some(())
    });
    ureq::post(&format!("{url}/dev/phones/api/send"))
        .send_json(json!({"from": phone, "to": code, "text": long, "order": "last_lost"}))
        .unwrap();
    let released = eventually("the reply released without its last part", WITHIN, || {
        replies().into_iter().find(|t| t.ends_with("[…]"))
    });
    assert!(released.starts_with("una respuesta larga"));
    let charges: Vec<Value> = ureq::get(&format!("{url}/admin/api/charges"))
        .set("Authorization", "Bearer 0123456789abcdef0123")
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    let rows: Vec<(String, u64, u64)> = charges
        .iter()
        .map(|c| {
            (
                c["message"].as_str().unwrap().to_string(),
                c["part"].as_u64().unwrap(),
                c["parts"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows.len(),
        5,
        "3 SMS of the whole reply, 2 of the other: {rows:?}"
    );
    let (first, second) = (&rows[0].0, &rows[3].0);
    assert_ne!(first, second);
    assert_eq!(
        rows,
        vec![
            (first.clone(), 1, 3),
            (first.clone(), 2, 3),
            (first.clone(), 3, 3),
            (second.clone(), 1, 2),
            (second.clone(), 2, 2),
        ]
    );
    assert!(charges.iter().all(|c| c["in_session"] == true));
}

/// FAQ 6 on the page, and the FAQ answered from the live configuration,
/// as the server renders them (no JavaScript).
#[test]
fn the_page_states_the_price_and_the_help_answers_from_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let s = start_with(
        dir.path(),
        "[session]\nidle_timeout = \"2m\"\n[limits]\nmax_recipients = 20\n",
    );
    let get = |path: &str| {
        ureq::get(&format!("{}{path}", s.url))
            .call()
            .unwrap()
            .into_string()
            .unwrap()
    };
    let page = get("/?lang=es");
    assert!(
        page.contains("Enviar y recibir mensajes en la web es gratis"),
        "{page}"
    );
    assert!(page.contains("RD$1.00 más impuestos"), "{page}");
    assert!(page.contains("href=\"/ayuda\""));
    let page = get("/?lang=en");
    assert!(page.contains("RD$1.00 plus taxes"));
    assert!(page.contains("href=\"/help\""));

    let ayuda = get("/ayuda");
    assert!(ayuda.contains("<html lang=\"es\""));
    for words in [
        "Si durante 2 minutos no has enviado ni recibido mensajes",
        "cuesta RD$1.00 más impuestos",
        "a hasta 20 personas",
        "flotas VPN reciben los mensajes, pero no pueden contestarlos",
        "esa respuesta ya no llega a la sesión web",
    ] {
        assert!(ayuda.contains(words), "{words}: {ayuda}");
    }
    let help = get("/help");
    assert!(help.contains("<html lang=\"en\""));
    assert!(help.contains("for 2 minutes") && help.contains("RD$1.00 plus taxes"));
}

/// A failure reaches the page by kind (a code with words in every
/// language), never as the modem's raw text: the network refused the SMS
/// with `+CMS ERROR: 21`, the page reads `send_failed`.
#[test]
fn a_failure_is_shown_by_kind_never_as_modem_text() {
    let dir = tempfile::tempdir().unwrap();
    let emu = common::emulator_proc::EmulatorProc::start(1, dir.path());
    let s = start_with(
        dir.path(),
        &format!(
            "[limits]\nsends_per_minute_per_client = 0\nsends_per_hour_per_recipient = 0\n{}",
            emu.modem_config()
        ),
    );
    ureq::post(&format!("{}/modems/0/faults", emu.control))
        .send_json(json!({"kind": "cms_error", "code": 21, "count": 10}))
        .unwrap();
    let (status, cookie, body) = send(&s.url, &["8095551234"], "Hola");
    assert_eq!(status, 202, "{body}");
    let cookie = cookie.unwrap().split(';').next().unwrap().to_string();
    let recipient = eventually("the send failed", WITHIN, || {
        let v: Value = ureq::get(&format!("{}/api/session", s.url))
            .set("Cookie", &cookie)
            .call()
            .ok()?
            .into_json()
            .ok()?;
        let r = v["messages"][0]["recipients"][0].clone();
        (r["status"] == "failed").then_some(r)
    });
    assert_eq!(recipient["reason"], "send_failed", "{recipient}");
}

/// A recipient over its quota is refused by the web layer, before the
/// gateway; the session's message keeps it with its reason all the same.
#[test]
fn a_recipient_over_its_quota_stays_in_the_conversation() {
    let dir = tempfile::tempdir().unwrap();
    let s = start_with(
        dir.path(),
        "[limits]\nsends_per_minute_per_client = 0\nsends_per_hour_per_recipient = 1\n",
    );
    let (status, cookie, _) = send(&s.url, &["8095551234"], "uno");
    assert_eq!(status, 202);
    let cookie = cookie.unwrap().split(';').next().unwrap().to_string();
    let r = ureq::post(&format!("{}/api/send", s.url))
        .set("Origin", &s.url)
        .set("Cookie", &cookie)
        .send_json(json!({"to": ["8095551234", "8295557777"], "text": "dos"}))
        .unwrap();
    assert_eq!(r.status(), 202);
    let view: Value = ureq::get(&format!("{}/api/session", s.url))
        .set("Cookie", &cookie)
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    let second = &view["messages"][1];
    assert_eq!(second["text"], "dos");
    let over = second["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["to"] == "+18095551234")
        .expect("the number over its quota is in the message");
    assert_eq!(
        (over["status"].as_str(), over["reason"].as_str()),
        (Some("refused"), Some("rate_limited"))
    );
}

/// A program holds a conversation over the API, on the real gateway: an
/// API key opens it (one message, two numbers), a phone's reply shows in
/// it, a follow-up goes out on the same pairs (R5), another key cannot see
/// it, a wrong or revoked token gets 401, and after the idle timeout the
/// conversation answers 410.
#[test]
fn a_program_holds_a_conversation_over_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let s = start_with(
        dir.path(),
        "[http]\nadmin_token = \"0123456789abcdef0123\"\n[session]\nidle_timeout = \"4s\"\n\
         [limits]\nsends_per_minute_per_client = 0\nsends_per_hour_per_recipient = 0\n",
    );
    let url = s.url.clone();
    let make_key = |name: &str| -> String {
        let v: Value = ureq::post(&format!("{url}/admin/api/keys"))
            .set("Authorization", "Bearer 0123456789abcdef0123")
            .send_json(json!({"name": name}))
            .unwrap()
            .into_json()
            .unwrap();
        v["token"].as_str().unwrap().to_string()
    };
    let (crm, other) = (make_key("crm"), make_key("other"));
    let call = |method: &str, path: &str, token: &str, body: Option<Value>| -> (u16, Value) {
        let req = ureq::request(method, &format!("{url}{path}"))
            .set("Authorization", &format!("Bearer {token}"));
        let r = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        match r {
            Ok(r) | Err(ureq::Error::Status(_, r)) => {
                (r.status(), r.into_json().unwrap_or(Value::Null))
            }
            Err(e) => panic!("{e}"),
        }
    };
    let (status, opened) = call(
        "POST",
        "/api/v1/conversations",
        &crm,
        Some(json!({"to": ["8095551234", "8295557777"], "text": "¿Confirmas la cita?"})),
    );
    assert_eq!(status, 202, "{opened}");
    let id = opened["conversation"]["id"].as_str().unwrap().to_string();
    let code = opened["recipients"][0]["short_code"]
        .as_str()
        .unwrap()
        .to_string();
    eventually("the phone got it", WITHIN, || {
        (inbox(&url, "+18095551234").len() == 1).then_some(())
    });
    phone_sends(&url, "+18095551234", &code, "Sí, confirmo");
    let path = format!("/api/v1/conversations/{id}");
    eventually("the reply in the conversation", WITHIN, || {
        let (_, v) = call("GET", &path, &crm, None);
        (v["replies"][0]["text"] == "Sí, confirmo").then_some(())
    });
    let (status, more) = call(
        "POST",
        &format!("{path}/messages"),
        &crm,
        Some(json!({"text": "Gracias"})),
    );
    assert_eq!(status, 202, "{more}");
    assert_eq!(more["conversation"]["id"], id.as_str());
    assert_eq!(more["recipients"].as_array().unwrap().len(), 2);
    assert_eq!(
        more["recipients"][0]["short_code"],
        code.as_str(),
        "same pair (R5)"
    );
    eventually(
        "the follow-up on the phone, from the same code",
        WITHIN,
        || {
            inbox(&url, "+18095551234")
                .iter()
                .any(|(from, t)| t == "Gracias" && *from == code)
                .then_some(())
        },
    );
    // Another key does not see it; bad tokens are refused.
    assert_eq!(call("GET", &path, &other, None).0, 404);
    assert_eq!(call("GET", &path, "sg_not_a_token", None).0, 401);
    let r = ureq::get(&format!("{url}{path}")).call();
    assert!(matches!(r, Err(ureq::Error::Status(401, _))));
    let (status, v) = call(
        "POST",
        "/api/v1/conversations",
        &crm,
        Some(json!({"to": ["hola"], "text": "x"})),
    );
    assert_eq!(
        (status, v["error"].as_str()),
        (422, Some("no_recipient_accepted"))
    );
    // Four quiet seconds: ended.
    eventually("the conversation ended", Duration::from_secs(20), || {
        (call("GET", &path, &crm, None).0 == 410).then_some(())
    });
    assert_eq!(
        call(
            "POST",
            &format!("{path}/messages"),
            &crm,
            Some(json!({"text": "¿sigues?"}))
        )
        .0,
        410
    );
    // Revoked: the token stops working at once.
    ureq::delete(&format!("{url}/admin/api/keys/crm"))
        .set("Authorization", "Bearer 0123456789abcdef0123")
        .call()
        .unwrap();
    assert_eq!(call("GET", &path, &crm, None).0, 401);
}
