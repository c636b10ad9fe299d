//! The machine interface on the real gateway (`smsgate serve` on the
//! embedded emulated network): signed webhooks that survive a kill -9 and
//! a receiver that was down, `Idempotency-Key` across a kill -9, Kannel
//! clients' `sendsms` requests as RapidPro's courier, playSMS and RaspiSMS
//! make them (with their DLRs and MOs), the development key, and hostile
//! input on every new endpoint.

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::phones::{inbox, phone_sends};
use common::{call, eventually, receiver::Receiver, serve_proc};
use serde_json::{json, Value};

const ADMIN: &str = "machine-api-admin-token-01";
const WITHIN: Duration = Duration::from_secs(30);

fn config(extra: &str) -> String {
    format!(
        "[http]\nadmin_token = \"{ADMIN}\"\n\
         [limits]\nsends_per_minute_per_client = 0\nsends_per_hour_per_recipient = 0\n{extra}"
    )
}

fn start(dir: &std::path::Path, config: &str) -> serve_proc::Serve {
    let cfg = dir.join("config.toml");
    std::fs::write(&cfg, config).unwrap();
    let s = serve_proc::start(
        &dir.join("store"),
        Some(&cfg),
        &[
            ("SMSGATE_EMULATOR__REPORT_DELAY_MS", "0"),
            ("SMSGATE_EMULATOR__MO_JITTER_MS", "0"),
        ],
    );
    let url = s.url.clone();
    eventually("ready", WITHIN, || {
        ureq::get(&format!("{url}/readyz")).call().ok()
    });
    s
}

/// Makes key `name`: (token, webhook secret).
fn make_key(url: &str, body: Value) -> (String, String) {
    let v: Value = ureq::post(&format!("{url}/admin/api/keys"))
        .set("Authorization", &format!("Bearer {ADMIN}"))
        .send_json(body)
        .unwrap()
        .into_json()
        .unwrap();
    (
        v["token"].as_str().unwrap().to_string(),
        v["webhook_secret"].as_str().unwrap().to_string(),
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn python() -> Option<std::path::PathBuf> {
    Command::new("python3")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| "python3".into())
}

/// A conversation's webhooks while the receiver is down, smsgate killed
/// (SIGKILL) and restarted meanwhile: once the receiver (the documented
/// Python example, which checks every signature independently) is up,
/// every event arrives, signed, once, in order for the conversation: the
/// statuses of both recipients, the reply, and the expiry last.
#[test]
fn webhooks_survive_a_kill_and_a_receiver_that_was_down() {
    let Some(python) = common::require_tool("python3", python(), "apt-get install python3") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = config("[session]\nidle_timeout = \"8s\"\n");
    let mut s = start(dir.path(), &cfg);
    let url = s.url.clone();
    let port = free_port();
    let (token, secret) = make_key(
        &url,
        json!({"name": "crm", "webhook_url": format!("http://127.0.0.1:{port}/hook")}),
    );
    let (status, opened) = call(
        "POST",
        &format!("{url}/api/v1/conversations"),
        &token,
        &[],
        Some(json!({"to": ["8095551234", "8295557777"], "text": "¿Vienes?"})),
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
    phone_sends(&url, "+18095551234", &code, "Sí, voy");
    let conv = format!("{url}/api/v1/conversations/{id}");
    eventually("the reply in the conversation", WITHIN, || {
        let (_, v) = call("GET", &conv, &token, &[], None);
        (v["replies"][0]["text"] == "Sí, voy").then_some(())
    });
    // Nothing reached the receiver: it is not there. The queue says so.
    let (_, q) = call(
        "GET",
        &format!("{url}/admin/api/webhooks"),
        ADMIN,
        &[],
        None,
    );
    assert!(q["pending_total"].as_u64().unwrap() >= 3, "{q}");
    // kill -9, and start again on the same store.
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    drop(s);
    let s = start(dir.path(), &cfg);
    let url = s.url.clone();
    // The receiver comes up.
    let events = dir.path().join("events.jsonl");
    let mut receiver = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/examples/webhook_receiver.py"
        ))
        .arg(port.to_string())
        .arg(&events)
        .env("SMSGATE_WEBHOOK_SECRET", &secret)
        .stdout(Stdio::null())
        .spawn()
        .expect("start the Python receiver");
    let got: Vec<Value> = eventually(
        "every event, the expiry last",
        Duration::from_secs(120),
        || {
            let text = std::fs::read_to_string(&events).ok()?;
            let got: Vec<Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            got.iter()
                .any(|e| e["type"] == "conversation.expired")
                .then_some(got)
        },
    );
    let kinds: Vec<&str> = got.iter().map(|e| e["type"].as_str().unwrap()).collect();
    // In order: the queue's order is the id's number.
    let numbers: Vec<u64> = got
        .iter()
        .map(|e| e["id"].as_str().unwrap()["evt_".len()..].parse().unwrap())
        .collect();
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "in order: {kinds:?} {numbers:?}"
    );
    assert_eq!(kinds.last(), Some(&"conversation.expired"), "{kinds:?}");
    for e in &got {
        assert_eq!(e["data"]["conversation"], id.as_str(), "{e}");
    }
    let reply = got
        .iter()
        .find(|e| e["type"] == "reply.received")
        .expect("the reply");
    assert_eq!(reply["data"]["from"], "+18095551234");
    assert_eq!(reply["data"]["short_code"], code.as_str());
    assert_eq!(reply["data"]["text"], "Sí, voy");
    for phone in ["+18095551234", "+18295557777"] {
        let statuses: Vec<&str> = got
            .iter()
            .filter(|e| e["type"] == "message.status" && e["data"]["to"] == phone)
            .map(|e| e["data"]["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses, ["sent", "delivered"], "{phone}: {kinds:?}");
    }
    // R7 for programs: a late reply to the pair goes to the key too.
    phone_sends(&url, "+18095551234", &code, "¿Sigues ahí?");
    let late: Value = eventually("the late reply", WITHIN, || {
        let text = std::fs::read_to_string(&events).ok()?;
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|e| e["type"] == "reply.out_of_session")
    });
    assert_eq!(late["data"]["conversation"], id.as_str());
    assert_eq!(late["data"]["text"], "¿Sigues ahí?");
    assert_eq!(late["data"]["late"], true);
    let _ = receiver.kill();
    let _ = receiver.wait();
    // Nothing left, nothing given up.
    eventually("the queue empty", WITHIN, || {
        let (_, q) = call(
            "GET",
            &format!("{url}/admin/api/webhooks"),
            ADMIN,
            &[],
            None,
        );
        (q["pending_total"] == 0 && q["given_up"].as_array().unwrap().is_empty()).then_some(())
    });
    println!(
        "webhooks: {} events after a kill -9 and a down receiver: {kinds:?}",
        got.len()
    );
}

/// A retried POST with the same `Idempotency-Key` answers as the first did
/// and sends nothing, before and after a kill -9; the same key with
/// another request is refused.
#[test]
fn an_idempotent_retry_never_sends_twice_even_across_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config("");
    let mut s = start(dir.path(), &cfg);
    let url = s.url.clone();
    let (token, _) = make_key(&url, json!({"name": "crm"}));
    let body = json!({"to": ["8095551234"], "text": "Tu cita es mañana"});
    let post = |url: &str, idem: &str, body: &Value| {
        call(
            "POST",
            &format!("{url}/api/v1/conversations"),
            &token,
            &[("Idempotency-Key", idem)],
            Some(body.clone()),
        )
    };
    let (status, first) = post(&url, "order-42", &body);
    assert_eq!(status, 202, "{first}");
    let (status, again) = post(&url, "order-42", &body);
    assert_eq!((status, &again), (202, &first));
    let (status, other) = post(
        &url,
        "order-42",
        &json!({"to": ["8095551234"], "text": "otra"}),
    );
    assert_eq!(
        (status, other["error"].as_str()),
        (422, Some("idempotency_key_reused"))
    );
    let (status, bad) = post(&url, "", &body);
    assert_eq!(
        (status, bad["error"].as_str()),
        (400, Some("invalid_idempotency_key"))
    );
    eventually("the phone got it", WITHIN, || {
        (!inbox(&url, "+18095551234").is_empty()).then_some(())
    });
    // Its "sent" flushed (a kill before that may send it once more: at
    // least once, by design), then kill -9.
    std::thread::sleep(Duration::from_secs(1));
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    drop(s);
    let s = start(dir.path(), &cfg);
    let (status, after) = post(&s.url, "order-42", &body);
    assert_eq!(
        (status, &after),
        (202, &first),
        "the first answer, after a kill -9"
    );
    // A continuation is idempotent too.
    let id = first["conversation"]["id"].as_str().unwrap();
    let more = |idem: &str| {
        call(
            "POST",
            &format!("{}/api/v1/conversations/{id}/messages", s.url),
            &token,
            &[("Idempotency-Key", idem)],
            Some(json!({"text": "¿Confirmas?"})),
        )
    };
    let (status, m1) = more("order-42-confirm");
    assert_eq!(status, 202, "{m1}");
    assert_eq!(more("order-42-confirm"), (202, m1.clone()));
    std::thread::sleep(Duration::from_secs(2));
    // The phone's inbox: one of each, never two. (The emulator restarted
    // with serve, so it holds what came after the restart.)
    let got = inbox(&s.url, "+18095551234");
    assert_eq!(
        got.iter().filter(|(_, t)| t == "¿Confirmas?").count(),
        1,
        "{got:?}"
    );
    assert!(
        got.iter().all(|(_, t)| t != "Tu cita es mañana"),
        "not sent again after the restart: {got:?}"
    );
}

/// An HTTP/1.0 request on a raw socket, as playSMS sends it (no Host
/// header): the whole answer, read until the server closes.
fn raw_http10(url: &str, target: &str) -> String {
    let addr = url.trim_start_matches("http://");
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(WITHIN)).unwrap();
    write!(c, "GET {target} HTTP/1.0\r\n\r\n").unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    out
}

/// GET `target`: status, Content-Type, body.
fn kannel_get(url: &str, target: &str) -> (u16, String, String) {
    match ureq::get(&format!("{url}{target}")).call() {
        Ok(r) | Err(ureq::Error::Status(_, r)) => (
            r.status(),
            r.header("content-type").unwrap_or_default().to_string(),
            r.into_string().unwrap(),
        ),
        Err(e) => panic!("{e}"),
    }
}

fn enc(s: &str) -> String {
    url_encode(s)
}

/// What a PHP/Go query encoder makes of a value: space `+`, `+` `%2B`.
fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Kannel clients send through `/cgi-bin/sendsms` unchanged: the answers
/// are smsbox's byte for byte, a second send to the same number continues
/// its conversation on the same pair (with `from` pinned to one short
/// code, a new conversation could not have it), DLRs reach the dlr-url
/// with Kannel's `%d`, and the reply reaches the key's MO URL.
#[test]
fn kannel_clients_send_unchanged_and_get_their_dlrs_and_mos() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), &config("[session]\nidle_timeout = \"60s\"\n"));
    let url = s.url.clone();
    let rx = Receiver::start();
    let (token, _) = make_key(
        &url,
        json!({
            "name": "rapidpro",
            "mo_url": format!("{}/mo?from=%p&to=%P&text=%a&ts=%T&t=%t", rx.url()),
            "webhook_url": format!("{}/hook", rx.url()),
        }),
    );
    let codes: Vec<String> = {
        let (_, v) = call("GET", &format!("{url}/admin/api/modems"), ADMIN, &[], None);
        v.as_array()
            .unwrap()
            .iter()
            .map(|m| m["short_code"].as_str().unwrap().to_string())
            .collect()
    };
    let from = codes[1].clone();
    // courier (nyaruka/courier handlers/kannel `Send`): GET, parameters
    // sorted by Go's url.Values.Encode, dlr-mask 27, dlr-url with %d.
    let dlr = format!("{}/dlr?uuid=u-1&status=%d", rx.url());
    let courier = format!(
        "/cgi-bin/sendsms?dlr-mask=27&dlr-url={}&from={}&password={}&text={}&to={}&username=rapidpro",
        enc(&dlr),
        enc(&from),
        enc(&token),
        enc("¿Vienes a la reunión?"),
        enc("+18095551234"),
    );
    let (status, kind, body) = kannel_get(&url, &courier);
    assert_eq!(
        (status, kind.as_str(), body.as_str()),
        (202, "text/html", "0: Accepted for delivery")
    );
    eventually("the DLRs: sent (8), then delivered (1)", WITHIN, || {
        let got = rx.targets("/dlr");
        (got == ["/dlr?uuid=u-1&status=8", "/dlr?uuid=u-1&status=1"]).then_some(())
    });
    // RaspiSMS (adapters/KannelAdapter.php `send`): http_build_query order,
    // dlr-mask 19, coding=1 with UTF-8 bytes for a non-GSM text; success
    // means HTTP 202 only.
    let raspisms = format!(
        "/cgi-bin/sendsms?username=rapidpro&password={}&text={}&to={}&from={}&dlr-mask=19&dlr-url={}&coding=1",
        enc(&token),
        enc("Otra vez 😀"),
        enc("+18095551234"),
        enc(&from),
        enc(&format!("{}/dlr2?sms_uid=9&type=%d", rx.url())),
    );
    let (status, _, body) = kannel_get(&url, &raspisms);
    assert_eq!((status, body.as_str()), (202, "0: Accepted for delivery"));
    eventually(
        "both on the phone, from the same short code",
        WITHIN,
        || {
            let got = inbox(&url, "+18095551234");
            (got.len() == 2 && got.iter().all(|(f, _)| *f == from)).then_some(())
        },
    );
    assert!(inbox(&url, "+18095551234")
        .iter()
        .any(|(_, t)| t == "Otra vez 😀"));
    eventually(
        "RaspiSMS's failure-only mask: no DLR for a success",
        Duration::from_secs(3),
        || rx.targets("/dlr2").is_empty().then_some(()),
    );
    // One conversation: the second send continued the first.
    let (_, sessions) = call(
        "GET",
        &format!("{url}/admin/api/sessions"),
        ADMIN,
        &[],
        None,
    );
    assert_eq!(sessions.as_array().unwrap().len(), 1, "{sessions}");
    // The phone answers: the key's MO URL, Kannel's escapes.
    phone_sends(&url, "+18095551234", &from, "Sí  voy");
    let mo = eventually("the MO GET", WITHIN, || {
        rx.targets("/mo").into_iter().next()
    });
    assert!(
        mo.starts_with(&format!(
            "/mo?from=%2B18095551234&to={}&text=S%C3%AD+voy&ts=",
            enc(&from)
        )),
        "{mo}"
    );
    assert!(mo.contains("&t=20"), "{mo}");
    // A key's webhooks carry its Kannel conversations' events too.
    let hooks: Vec<Value> = eventually("the webhooks of the Kannel conversation", WITHIN, || {
        let got: Vec<Value> = rx
            .requests()
            .into_iter()
            .filter(|r| r.target == "/hook")
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect();
        got.iter()
            .any(|e| e["type"] == "reply.received")
            .then_some(got)
    });
    assert!(hooks
        .iter()
        .any(|e| e["type"] == "message.status" && e["data"]["status"] == "delivered"));
    // playSMS (plugin/gateway/kannel/fn.php): a raw HTTP/1.0 GET with no
    // Host header; success only when a line is exactly the answer.
    let playsms = format!(
        "/cgi-bin/sendsms?username=rapidpro&password={}&from={}&to={}&dlr-mask=27&dlr-url={}&account=admin&text={}",
        enc(&token),
        enc(&codes[0]),
        enc("+18295557777"),
        enc(&format!("{}/dlr3?type=%d&smslog_id=1", rx.url())),
        enc("Hola desde playSMS")
    );
    let raw = raw_http10(&url, &playsms);
    assert!(raw.starts_with("HTTP/1.0 202"), "{raw}");
    assert!(raw.ends_with("\r\n\r\n0: Accepted for delivery"), "{raw:?}");
    // Kannel's POST: a text/plain body and X-Kannel-* headers.
    let r = ureq::post(&format!("{url}/cgi-bin/sendsms"))
        .set("Content-Type", "text/plain")
        .set("X-Kannel-Username", "rapidpro")
        .set("X-Kannel-Password", &token)
        .set("X-Kannel-To", "+18295558888")
        .send_string("Por POST");
    assert_eq!(
        r.unwrap().into_string().unwrap(),
        "0: Accepted for delivery"
    );
    eventually("the POSTed text on the phone", WITHIN, || {
        inbox(&url, "+18295558888")
            .iter()
            .any(|(_, t)| t == "Por POST")
            .then_some(())
    });
    // smsbox's refusals, byte for byte.
    let base = format!(
        "/cgi-bin/sendsms?username=rapidpro&password={}",
        enc(&token)
    );
    for (target, status, text) in [
        (
            "/cgi-bin/sendsms?username=rapidpro&password=wrong&to=8095551234&text=x".to_string(),
            403,
            "Authorization failed for sendsms",
        ),
        (
            "/cgi-bin/sendsms?to=8095551234&text=x".to_string(),
            403,
            "Authorization failed for sendsms",
        ),
        (
            format!("{base}&text=x"),
            400,
            "Missing receiver number, rejected",
        ),
        (
            format!("{base}&to=&text=x"),
            400,
            "Empty receiver number not allowed, rejected",
        ),
        (
            format!("{base}&to=hola&text=x"),
            400,
            "Number(s) has/have been denied by white/black lists, or allowed/denied rules.",
        ),
        (
            format!("{base}&to=8095559999&text=x&coding=3"),
            400,
            "Coding field misformed, rejected",
        ),
        (
            format!("{base}&to=8095559999&text=x&dlr-mask=99"),
            400,
            "DLR-Mask field misformed, rejected",
        ),
        (
            format!("{base}&to=8095559999&text=x&dlr-url=ftp://x"),
            400,
            "DLR-URL field misformed, rejected",
        ),
        (
            format!("{base}&to=8095559999&text=x&charset=KOI8-Q"),
            400,
            "Charset or body misformed, rejected",
        ),
        (
            format!("{base}&to=8095559999&text=x&udh=%05%00%03%01%02%01"),
            400,
            "UDH field not supported, rejected",
        ),
        (
            format!("{base}&to=8095559999&text=x&from=9999"),
            403,
            "Not routable. Do not try again.",
        ),
        (
            format!("{base}&to=8095559999"),
            400,
            "Empty text not allowed, rejected",
        ),
    ] {
        let (got, kind, body) = kannel_get(&url, &target);
        assert_eq!((got, body.as_str()), (status, text), "{target}");
        assert_eq!(kind, "text/html");
    }
    let r = ureq::post(&format!("{url}/cgi-bin/sendsms"))
        .set("Content-Type", "application/json")
        .send_string("{}");
    match r {
        Err(ureq::Error::Status(400, r)) => {
            assert_eq!(r.into_string().unwrap(), "Invalid content-type")
        }
        other => panic!("{other:?}"),
    }
}

/// `serve` on the embedded network makes a development key at start and
/// prints it with ready commands; a configured token is used as given.
#[test]
fn the_sandbox_prints_a_development_key_that_works() {
    let dir = tempfile::tempdir().unwrap();
    let token = "sg_dev_token_for_ci_0123456789abcdef";
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!("[emulator]\ndev_token = \"{token}\"\nreport_delay_ms = 0\n"),
    )
    .unwrap();
    let s = serve_proc::start(&dir.path().join("store"), Some(&cfg), &[]);
    let url = s.url.clone();
    eventually("ready", WITHIN, || {
        ureq::get(&format!("{url}/readyz")).call().ok()
    });
    let (status, _, body) = kannel_get(
        &url,
        &format!("/cgi-bin/sendsms?username=dev&password={token}&to=%2B18095551234&text=hola"),
    );
    assert_eq!((status, body.as_str()), (202, "0: Accepted for delivery"));
    let (status, v) = call(
        "POST",
        &format!("{url}/api/v1/conversations"),
        token,
        &[],
        Some(json!({"to": ["+18295551234"], "text": "hola"})),
    );
    assert_eq!(status, 202, "{v}");
    // Home Assistant's RESTful notify (`method: POST_JSON`,
    // `message_param_name: text`, `target_param_name: to`) posts its
    // first target as a string (homeassistant/components/rest/notify.py:
    // `data[self._target_param_name] = kwargs[ATTR_TARGET][0]`).
    let (status, v) = call(
        "POST",
        &format!("{url}/api/v1/conversations"),
        token,
        &[],
        Some(json!({"text": "Alarma: la puerta del garaje está abierta", "to": "+18495551234"})),
    );
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["recipients"][0]["to"], "+18495551234");
}

/// Hostile input on the new endpoints changes nothing and never gets a
/// 5xx: broken tokens and headers, bodies of the wrong shape, odd query
/// strings, ids that are not ids.
#[test]
fn hostile_input_on_the_machine_interface_gets_4xx() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), &config(""));
    let url = s.url.clone();
    let (token, _) = make_key(&url, json!({"name": "crm"}));
    let bearer = format!("Bearer {token}");
    let long = "x".repeat(5000);
    type Case<'a> = (&'a str, String, Vec<(&'a str, String)>, Option<String>);
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/api/v1/conversations".into(),
            vec![("Authorization", "Bearer".into())],
            Some("{}".into()),
        ),
        (
            "POST",
            "/api/v1/conversations".into(),
            vec![("Authorization", "Basic Zm9vOmJhcg==".into())],
            Some("{}".into()),
        ),
        (
            "POST",
            "/api/v1/conversations".into(),
            vec![("Authorization", bearer.clone())],
            Some("[]".into()),
        ),
        (
            "POST",
            "/api/v1/conversations".into(),
            vec![("Authorization", bearer.clone())],
            Some("{\"to\":\"x\",\"text\":1}".into()),
        ),
        (
            "POST",
            "/api/v1/conversations".into(),
            vec![("Authorization", bearer.clone())],
            Some("{\"to\":[],\"text\":\"\"}".into()),
        ),
        (
            "POST",
            "/api/v1/conversations".into(),
            vec![
                ("Authorization", bearer.clone()),
                ("Idempotency-Key", long.clone()),
            ],
            Some("{\"to\":[\"8095551234\"],\"text\":\"x\"}".into()),
        ),
        (
            "POST",
            "/api/v1/conversations".into(),
            vec![("Authorization", bearer.clone())],
            Some(format!("{{\"to\":[\"{long}\"],\"text\":\"x\"}}")),
        ),
        (
            "GET",
            "/api/v1/conversations/..%2F..%2Fetc".into(),
            vec![("Authorization", bearer.clone())],
            None,
        ),
        (
            "GET",
            format!("/api/v1/conversations/{long}"),
            vec![("Authorization", bearer.clone())],
            None,
        ),
        (
            "POST",
            "/api/v1/conversations/nope/messages".into(),
            vec![("Authorization", bearer.clone())],
            Some("{\"text\":\"x\"}".into()),
        ),
        (
            "GET",
            "/api/v1/conversations/nope/events".into(),
            vec![("Authorization", bearer.clone())],
            None,
        ),
        (
            "GET",
            "/cgi-bin/sendsms?%%%&&&==&username=%ff%fe&password=%00".into(),
            vec![],
            None,
        ),
        (
            "GET",
            format!("/cgi-bin/sendsms?username=crm&password={token}&to=%2B1809{long}&text=x"),
            vec![],
            None,
        ),
        (
            "GET",
            format!("/cgi-bin/sendsms?username=crm&password={token}&to=8095551234&text=%ff%fe%fd"),
            vec![],
            None,
        ),
        (
            "GET",
            format!(
                "/cgi-bin/sendsms?username=crm&password={token}&to=8095551234&text=%00&coding=2"
            ),
            vec![],
            None,
        ),
        (
            "GET",
            format!(
                "/cgi-bin/sendsms?username=crm&password={token}&to=8095551234&text={long}{long}"
            ),
            vec![],
            None,
        ),
        (
            "POST",
            "/cgi-bin/sendsms".into(),
            vec![
                ("Content-Type", "text/plain".into()),
                ("X-Kannel-Username", "crm".into()),
                ("X-Kannel-Password", token.clone()),
            ],
            Some("sin destinatario".into()),
        ),
        (
            "POST",
            "/admin/api/webhooks/evt_x/resend".into(),
            vec![("Authorization", format!("Bearer {ADMIN}"))],
            None,
        ),
        (
            "POST",
            "/admin/api/keys".into(),
            vec![("Authorization", format!("Bearer {ADMIN}"))],
            Some("{\"name\":\"x\",\"webhook_url\":\"javascript:alert(1)\"}".into()),
        ),
    ];
    for (method, target, headers, body) in cases {
        let mut req = ureq::request(method, &format!("{url}{target}"));
        for (k, v) in &headers {
            req = req.set(k, v);
        }
        let r = match &body {
            Some(b) if headers.iter().any(|(k, _)| *k == "Content-Type") => req.send_string(b),
            Some(b) => req.set("Content-Type", "application/json").send_string(b),
            None => req.call(),
        };
        let status = match r {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(code, _)) => code,
            Err(e) => panic!("{method} {target}: {e}"),
        };
        assert!(
            (400..500).contains(&status),
            "{method} {} → {status}",
            &target[..target.len().min(120)]
        );
    }
    // Nothing was sent.
    let (_, sessions) = call(
        "GET",
        &format!("{url}/admin/api/sessions"),
        ADMIN,
        &[],
        None,
    );
    assert_eq!(sessions.as_array().unwrap().len(), 0, "{sessions}");
}
