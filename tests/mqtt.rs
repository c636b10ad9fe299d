//! smsgate on a real broker: Debian's `mosquitto` on a free loopback port,
//! its own clients (`mosquitto_pub`, `mosquitto_sub`) as the automations,
//! `smsgate serve` on the embedded emulated network. Sends, replies,
//! statuses and Home Assistant discovery through the whole gateway; the
//! broker stopped for a minute while phones reply, then started again:
//! every reply arrives once, in order; TLS with a CA the test makes; bad
//! payloads answered on `{prefix}/sent`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::phones::{inbox, phone_sends};
use common::{eventually, serve_proc};
use serde_json::{json, Value};

const WITHIN: Duration = Duration::from_secs(30);

/// Started as root, mosquitto becomes user `mosquitto`, which cannot read
/// the test's temporary files; as any other user this line does nothing.
const USER: &str = "user root\n";

fn tool(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

fn tools() -> Option<(PathBuf, PathBuf, PathBuf)> {
    Some((
        tool("mosquitto")?,
        tool("mosquitto_pub")?,
        tool("mosquitto_sub")?,
    ))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A mosquitto; killed when dropped.
struct Broker {
    child: Child,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Broker {
    fn start(mosquitto: &Path, conf: &Path, port: u16) -> Broker {
        let child = Command::new(mosquitto)
            .arg("-c")
            .arg(conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        eventually("mosquitto listening", WITHIN, || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        Broker { child }
    }

    /// SIGTERM: mosquitto saves its persistent sessions and stops.
    fn stop(mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

/// `mosquitto_sub` writing `topic payload` lines to a file; killed when
/// dropped.
struct Sub {
    child: Child,
    out: PathBuf,
}

impl Drop for Sub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sub {
    /// A persistent session (`-c` with a fixed id, QoS 1): what the broker
    /// takes while this client is away is kept for it.
    fn start(
        sub: &Path,
        port: u16,
        id: &str,
        topics: &[&str],
        out: PathBuf,
        extra: &[&str],
    ) -> Sub {
        let mut cmd = Command::new(sub);
        cmd.args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1", "-v"])
            .args(["-c", "-i", id])
            .args(extra);
        for t in topics {
            cmd.args(["-t", t]);
        }
        let file = std::fs::File::create(&out).unwrap();
        let child = cmd
            .stdout(file)
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto_sub");
        Sub { child, out }
    }

    /// (topic, JSON payload) of every line so far.
    fn got(&self) -> Vec<(String, Value)> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(t, p)| {
                (
                    t.to_string(),
                    serde_json::from_str(p).unwrap_or(Value::String(p.into())),
                )
            })
            .collect()
    }
}

fn publish(pub_: &Path, port: u16, topic: &str, payload: &str, extra: &[&str]) {
    let st = Command::new(pub_)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-q",
            "1",
            "-t",
            topic,
            "-m",
            payload,
        ])
        .args(extra)
        .status()
        .unwrap();
    assert!(st.success());
}

fn serve(dir: &Path, mqtt: &str) -> serve_proc::Serve {
    let cfg = dir.join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[session]\nidle_timeout = \"10m\"\n\
             [limits]\nsends_per_minute_per_client = 0\nsends_per_hour_per_recipient = 0\n\
             [mqtt]\n{mqtt}notify_to = [\"+18095551234\"]\n"
        ),
    )
    .unwrap();
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

/// What an automation sees: a send on `sms2mqtt/send` (two numbers, one
/// of them not a number) reaches the phone and is answered on `sent` and
/// `status`; the phone's reply on `received`; a second send to the same
/// number continues its conversation on the same short code; garbage is
/// answered with an error; Home Assistant finds its entities, retained,
/// available while smsgate is connected.
#[test]
fn sms2mqtt_topics_and_discovery_through_a_real_broker() {
    let Some((mosquitto, pub_, sub)) = tools() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\n{USER}"),
    )
    .unwrap();
    let _broker = Broker::start(&mosquitto, &conf, port);
    let events = Sub::start(
        &sub,
        port,
        "automation",
        &["sms2mqtt/#"],
        dir.path().join("events"),
        &[],
    );
    let s = serve(dir.path(), &format!("url = \"mqtt://127.0.0.1:{port}\"\n"));
    let url = s.url.clone();
    eventually("connected", WITHIN, || {
        events
            .got()
            .iter()
            .any(|(t, v)| t == "sms2mqtt/connected" && *v == json!(1))
            .then_some(())
    });
    publish(
        &pub_,
        port,
        "sms2mqtt/send",
        r#"{"number": "+18095551234;hola", "text": "¿Llegas a las 8?"}"#,
        &[],
    );
    publish(&pub_, port, "sms2mqtt/send", "esto no es JSON", &[]);
    let got = eventually("on the phone", WITHIN, || {
        inbox(&url, "+18095551234").into_iter().next()
    });
    assert_eq!(got.1, "¿Llegas a las 8?");
    let code = got.0;
    phone_sends(&url, "+18095551234", &code, "Sí, a las 8");
    let all = eventually("sent, statuses and the reply", WITHIN, || {
        let all = events.got();
        let has = |t: &str, f: &dyn Fn(&Value) -> bool| all.iter().any(|(x, v)| x == t && f(v));
        (has("sms2mqtt/sent", &|v| {
            v["result"] == "success" && v["number"] == "+18095551234"
        }) && has("sms2mqtt/status", &|v| v["status"] == "delivered")
            && has("sms2mqtt/received", &|v| v["text"] == "Sí, a las 8"))
        .then_some(all)
    });
    let of = |t: &str| -> Vec<Value> {
        all.iter()
            .filter(|(x, _)| x == t)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let sent = of("sms2mqtt/sent");
    assert!(
        sent.iter().any(|v| v["result"] == "error"
            && v["number"] == "hola"
            && v["reason"] == "invalid_number"),
        "{sent:?}"
    );
    assert!(
        sent.iter().any(|v| v["result"] == "error"
            && v["reason"].as_str().unwrap().starts_with("invalid_payload")),
        "garbage is answered: {sent:?}"
    );
    let ok = sent.iter().find(|v| v["result"] == "success").unwrap();
    assert_eq!(ok["text"], "¿Llegas a las 8?");
    assert!(ok["datetime"].as_str().is_some());
    let received = &of("sms2mqtt/received")[0];
    assert_eq!(received["number"], "+18095551234");
    assert_eq!(received["short_code"], code.as_str());
    assert_eq!(received["in_session"], true);
    let statuses: Vec<String> = of("sms2mqtt/status")
        .iter()
        .map(|v| v["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(statuses, ["sent", "delivered"]);
    // The same number again: its live MQTT conversation, the same code.
    publish(
        &pub_,
        port,
        "sms2mqtt/send",
        r#"{"number": "+18095551234", "text": "Te espero"}"#,
        &[],
    );
    eventually("the second message, from the same code", WITHIN, || {
        inbox(&url, "+18095551234")
            .iter()
            .any(|(from, t)| t == "Te espero" && *from == code)
            .then_some(())
    });
    // Per-modem state, retained.
    let signal = eventually("the modems' state, registered", WITHIN, || {
        events
            .got()
            .into_iter()
            .find(|(t, v)| t.starts_with("sms2mqtt/signal/") && v["registration"].is_string())
    });
    assert!(signal.1["signal_dbm"].is_number(), "{signal:?}");
    assert!(
        signal.1["storage_total"].is_number(),
        "SIM storage: {signal:?}"
    );
    // Home Assistant's view: a new client gets the retained configs.
    let ha = Sub::start(
        &sub,
        port,
        "home-assistant",
        &["homeassistant/#"],
        dir.path().join("ha"),
        &["-W", "3"],
    );
    let configs = eventually("the discovery configs", WITHIN, || {
        let c = ha.got();
        (c.len() >= 3 * 7 + 2).then_some(c)
    });
    let notify = configs
        .iter()
        .find(|(t, _)| t == "homeassistant/notify/smsgate/send/config")
        .expect("the notify entity");
    assert_eq!(notify.1["command_topic"], "sms2mqtt/send");
    for (t, v) in &configs {
        assert_eq!(v["availability_topic"], "sms2mqtt/connected", "{t}");
    }
    assert!(configs
        .iter()
        .any(|(t, v)| t.ends_with("/signal/config") && v["device_class"] == "signal_strength"));
    println!(
        "mqtt: {} publications, {} discovery configs",
        all.len(),
        configs.len()
    );
}

/// The broker is stopped for a minute while phones reply, then started
/// again: every reply arrives once, in order (the outbox kept them; the
/// automation's persistent session gets them).
#[test]
fn a_minute_without_the_broker_loses_no_reply() {
    let Some((mosquitto, pub_, sub)) = tools() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\n{USER}",
            dir.path().display()
        ),
    )
    .unwrap();
    let broker = Broker::start(&mosquitto, &conf, port);
    let events = Sub::start(
        &sub,
        port,
        "automation",
        &["sms2mqtt/received"],
        dir.path().join("events"),
        &[],
    );
    // MQTT 3.1.1 here (the other tests speak 5).
    let s = serve(
        dir.path(),
        &format!("url = \"mqtt://127.0.0.1:{port}\"\nversion = 3\n"),
    );
    let url = s.url.clone();
    publish(
        &pub_,
        port,
        "sms2mqtt/send",
        r#"{"number": "+18095551234", "text": "¿Cuántos son?"}"#,
        &[],
    );
    let code = eventually("on the phone", WITHIN, || {
        inbox(&url, "+18095551234")
            .into_iter()
            .next()
            .map(|(f, _)| f)
    });
    drop(events);
    broker.stop();
    let down = std::time::Instant::now();
    for n in 1..=5 {
        phone_sends(&url, "+18095551234", &code, &format!("respuesta {n}"));
        std::thread::sleep(Duration::from_millis(300));
    }
    // Each reply reached the conversation (and was acknowledged to the
    // modem) while no broker was there.
    std::thread::sleep(Duration::from_secs(60).saturating_sub(down.elapsed()));
    let broker = Broker::start(&mosquitto, &conf, port);
    let events = Sub::start(
        &sub,
        port,
        "automation",
        &["sms2mqtt/received"],
        dir.path().join("events2"),
        &[],
    );
    let texts = eventually(
        "every reply, after the outage",
        Duration::from_secs(90),
        || {
            let texts: Vec<String> = events
                .got()
                .iter()
                .map(|(_, v)| v["text"].as_str().unwrap_or_default().to_string())
                .collect();
            (texts.len() >= 5).then_some(texts)
        },
    );
    std::thread::sleep(Duration::from_secs(2));
    let texts_after: Vec<String> = events
        .got()
        .iter()
        .map(|(_, v)| v["text"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(texts, texts_after, "nothing more came");
    let want: Vec<String> = (1..=5).map(|n| format!("respuesta {n}")).collect();
    assert_eq!(texts, want, "once each, in order");
    println!(
        "mqtt: 5 replies during a {:?} broker outage, all delivered in order",
        down.elapsed()
    );
    drop(broker);
}

/// `mqtts://` with a CA the test makes (openssl) and a broker that wants
/// a username and password: smsgate checks the broker's certificate
/// against `ca_file`, logs in and works over TLS; with another CA it does
/// not connect.
#[test]
fn tls_with_a_test_ca() {
    let Some((mosquitto, pub_, sub)) = tools() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for ca in ["ca", "other-ca"] {
        common::pki::ca(d, ca);
    }
    common::pki::server_cert(d, "ca", "server");
    let port = free_port();
    let conf = d.join("mosquitto.conf");
    // Anonymous clients refused: smsgate logs in with its username.
    let passwd = d.join("passwd");
    let st = Command::new(tool("mosquitto_passwd").expect("mosquitto_passwd"))
        .arg("-b")
        .arg("-c")
        .arg(&passwd)
        .args(["smsgate", "s3cret-broker"])
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {0}/passwd\ncafile {0}/ca.pem\ncertfile {0}/server.pem\nkeyfile {0}/server.key\n{USER}",
            d.display()
        ),
    )
    .unwrap();
    let _broker = Broker::start(&mosquitto, &conf, port);
    let ca = d.join("ca.pem").display().to_string();
    let tls = [
        "--cafile",
        ca.as_str(),
        "-u",
        "smsgate",
        "-P",
        "s3cret-broker",
    ];
    let events = Sub::start(
        &sub,
        port,
        "automation",
        &["sms2mqtt/#"],
        d.join("events"),
        &tls,
    );
    // A wrong CA first: no connection.
    let wrong = tempfile::tempdir().unwrap();
    let w = serve(
        wrong.path(),
        &format!(
            "url = \"mqtts://127.0.0.1:{port}\"\nca_file = \"{}/other-ca.pem\"\n\
             username = \"smsgate\"\npassword = \"s3cret-broker\"\nclient_id = \"wrong-ca\"\n",
            d.display()
        ),
    );
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !events.got().iter().any(|(t, _)| t == "sms2mqtt/connected"),
        "a broker the CA does not vouch for is refused"
    );
    drop(w);
    let s = serve(
        d,
        &format!(
            "url = \"mqtts://127.0.0.1:{port}\"\nca_file = \"{ca}\"\n\
             username = \"smsgate\"\npassword = \"s3cret-broker\"\n"
        ),
    );
    eventually("connected over TLS", WITHIN, || {
        events
            .got()
            .iter()
            .any(|(t, v)| t == "sms2mqtt/connected" && *v == json!(1))
            .then_some(())
    });
    publish(
        &pub_,
        port,
        "sms2mqtt/send",
        r#"{"number": "+18095551234", "text": "por TLS"}"#,
        &tls,
    );
    eventually("sent over TLS", WITHIN, || {
        inbox(&s.url, "+18095551234")
            .iter()
            .any(|(_, t)| t == "por TLS")
            .then_some(())
    });
}
