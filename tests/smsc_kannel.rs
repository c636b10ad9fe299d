//! The emulated SMSC proven by an implementation nobody here wrote:
//! Debian's Kannel (`bearerbox` with `smsc = smpp` in transceiver mode,
//! and `smsbox`) binds to `smsgate emulator --smsc`, sends through it with
//! smsbox's `sendsms` (GSM, UCS-2, a long text Kannel splits itself, a
//! delivery report by `dlr-mask`/`dlr-url`), and receives a phone's text
//! by an sms-service `get-url`. Issue #20, part 4(a).
//!
//! Everything on loopback, bounded in time; the Kannel processes run in
//! their own process group, killed at the end. Under `CI=true` a missing
//! Kannel fails the test (scripts/test installs the `kannel` package).

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::emulator_proc::EmulatorProc;
use common::receiver::Receiver;
use common::{eventually, require_tool};
use serde_json::{json, Value};

const PHONE: &str = "+18095551234";
/// Kannel starts, binds and retries on its own timers: a bound, not a
/// measurement.
const WITHIN: Duration = Duration::from_secs(60);

fn kannel() -> Option<(PathBuf, PathBuf)> {
    let bearerbox = Path::new("/usr/sbin/bearerbox");
    let smsbox = Path::new("/usr/sbin/smsbox");
    (bearerbox.exists() && smsbox.exists()).then(|| (bearerbox.into(), smsbox.into()))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Kannel box in its own process group; the group is killed when
/// dropped (a box may have forked).
struct KannelBox {
    child: Child,
}

impl KannelBox {
    fn start(program: &Path, conf: &Path, log: &Path) -> KannelBox {
        let out = std::fs::File::create(log).unwrap();
        let child = Command::new(program)
            .arg(conf)
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        KannelBox { child }
    }
}

impl Drop for KannelBox {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(-(self.child.id() as i32));
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// bearerbox, smsbox and their configuration (Kannel's user guide: the
/// `core`, `smsc` (SMPP), `smsbox`, `sendsms-user` and `sms-service`
/// groups).
struct Kannel {
    // Dropped smsbox first, then bearerbox.
    _smsbox: KannelBox,
    _bearerbox: KannelBox,
    sendsms: u16,
    dir: PathBuf,
}

impl Kannel {
    fn start(dir: &Path, smsc: &str, hook: &Receiver) -> Kannel {
        let (bearerbox, smsbox) = kannel().unwrap();
        let (admin, boxc, sendsms) = (free_port(), free_port(), free_port());
        let (host, port) = smsc.rsplit_once(':').unwrap();
        let d = dir.display();
        let hook = hook.url();
        let conf = format!(
            "group = core\n\
             admin-port = {admin}\nadmin-password = test\nadmin-allow-ip = \"127.0.0.1\"\n\
             smsbox-port = {boxc}\nbox-allow-ip = \"127.0.0.1\"\n\
             log-file = \"{d}/bearerbox.log\"\nlog-level = 0\n\
             access-log = \"{d}/access.log\"\n\
             dlr-storage = internal\n\n\
             group = smsc\nsmsc = smpp\nsmsc-id = emu\n\
             host = {host}\nport = {port}\ntransceiver-mode = true\n\
             smsc-username = smsgate\nsmsc-password = secret\nsystem-type = \"\"\n\
             interface-version = 34\nenquire-link-interval = 30\nreconnect-delay = 1\n\n\
             group = smsbox\nbearerbox-host = 127.0.0.1\nbearerbox-port = {boxc}\n\
             sendsms-port = {sendsms}\n\
             log-file = \"{d}/smsbox.log\"\nlog-level = 0\n\
             access-log = \"{d}/smsbox-access.log\"\n\n\
             group = sendsms-user\nusername = test\npassword = test\n\
             max-messages = 10\nconcatenation = true\n\n\
             group = sms-service\nkeyword = default\ncatch-all = true\n\
             get-url = \"{hook}/mo?text=%a&from=%p&to=%P\"\n\
             max-messages = 0\naccept-x-kannel-headers = false\n"
        );
        let path = dir.join("kannel.conf");
        std::fs::write(&path, conf).unwrap();
        let bearer = KannelBox::start(&bearerbox, &path, &dir.join("bearerbox.out"));
        // smsbox gives up at once when bearerbox is not listening yet.
        eventually("bearerbox's box port", WITHIN, || {
            std::net::TcpStream::connect(("127.0.0.1", boxc)).ok()
        });
        let sms = KannelBox::start(&smsbox, &path, &dir.join("smsbox.out"));
        Kannel {
            _smsbox: sms,
            _bearerbox: bearer,
            sendsms,
            dir: dir.to_path_buf(),
        }
    }

    /// smsbox's `/cgi-bin/sendsms` with these parameters; its status.
    fn sendsms(&self, params: &[(&str, &str)]) -> u16 {
        let mut req = ureq::get(&format!(
            "http://127.0.0.1:{}/cgi-bin/sendsms",
            self.sendsms
        ))
        .timeout(Duration::from_secs(10))
        .query("username", "test")
        .query("password", "test");
        for (k, v) in params {
            req = req.query(k, v);
        }
        match req.call() {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(code, r)) => {
                panic!(
                    "sendsms answered {code}: {}",
                    r.into_string().unwrap_or_default()
                )
            }
            Err(e) => panic!("sendsms: {e}"),
        }
    }

    /// Kannel's logs, for a failure's message.
    fn logs(&self) -> String {
        ["bearerbox.log", "smsbox.log", "bearerbox.out"]
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                format!(
                    "--- {f}\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn get(url: &str) -> Value {
    ureq::get(url).call().unwrap().into_json().unwrap()
}

fn inbox_has(emu: &EmulatorProc, kannel: &Kannel, from: &str, text: &str) {
    let url = format!("{}/phones/{PHONE}/inbox", emu.control);
    let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        eventually(
            &format!("{text:?} from {from} in the inbox"),
            WITHIN,
            || {
                get(&url)
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m["from"] == from && m["text"] == text && m["complete"] == true)
                    .then_some(())
            },
        )
    }));
    if found.is_err() {
        panic!(
            "{text:?} never reached {PHONE}: inbox {}\nsubmits {}\n{}",
            get(&url),
            get(&format!("{}/smsc/submits", emu.control)),
            kannel.logs()
        );
    }
}

/// Decodes a query string's value (`+` and `%XX`).
fn query_value(target: &str, key: &str) -> Option<String> {
    let query = target.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

#[test]
fn kannel_binds_sends_receives_and_gets_delivery_reports_through_the_emulated_smsc() {
    let Some(_) = require_tool(
        "Kannel (/usr/sbin/bearerbox, /usr/sbin/smsbox)",
        kannel(),
        "apt-get install kannel (scripts/test installs it)",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let emu = EmulatorProc::start_smsc(dir.path(), &[]);
    let hook = Receiver::start();
    let kannel = Kannel::start(dir.path(), emu.smsc.as_ref().unwrap(), &hook);

    // bearerbox binds as a transceiver with system-id/password.
    let status_url = format!("{}/smsc", emu.control);
    let bound = std::panic::catch_unwind(|| {
        eventually("Kannel's bind", WITHIN, || {
            let s = get(&status_url);
            (s["binds"].as_array().unwrap().len() == 1).then_some(s)
        })
    });
    let Ok(status) = bound else {
        panic!(
            "Kannel never bound: {}\n{}",
            get(&status_url),
            kannel.logs()
        );
    };
    assert_eq!(status["binds"][0]["kind"], "transceiver");
    assert_eq!(status["binds"][0]["system_id"], "smsgate");

    // sendsms: GSM, with a delivery report asked for. smsbox may not be
    // connected to bearerbox yet: the first call is retried until
    // accepted.
    let dlr_url = format!("{}/dlr?type=%d&to=%p&text=%A", hook.url());
    let first = [
        ("from", "2222"),
        ("to", PHONE),
        ("text", "Hola desde Kannel"),
        ("dlr-mask", "31"),
        ("dlr-url", dlr_url.as_str()),
    ];
    eventually("smsbox's sendsms", WITHIN, || {
        let url = format!("http://127.0.0.1:{}/cgi-bin/sendsms", kannel.sendsms);
        match ureq::get(&url).timeout(Duration::from_secs(5)).call() {
            Err(ureq::Error::Transport(_)) => None,
            _ => Some(()),
        }
    });
    assert!(matches!(kannel.sendsms(&first), 200 | 202));
    inbox_has(&emu, &kannel, "2222", "Hola desde Kannel");

    // The delivery report: Kannel matched the receipt to its message.
    let delivered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        eventually("a DLR of type 1 (delivered)", WITHIN, || {
            hook.targets("/dlr")
                .into_iter()
                .find(|t| query_value(t, "type").as_deref() == Some("1"))
        })
    }));
    let Ok(dlr) = delivered else {
        panic!("no DLR: {:?}\n{}", hook.targets("/dlr"), kannel.logs());
    };
    let report = query_value(&dlr, "text").unwrap();
    assert!(report.contains("stat:DELIVRD"), "{report}");

    // UCS-2 (coding=2), from the other short code.
    let ucs = "¿Cómo estás? ñandú";
    kannel.sendsms(&[
        ("from", "2223"),
        ("to", PHONE),
        ("text", ucs),
        ("coding", "2"),
        ("charset", "UTF-8"),
    ]);
    inbox_has(&emu, &kannel, "2223", ucs);

    // A long text: Kannel splits it with concatenation headers.
    let long: String = (1..=40).map(|i| format!("parte {i:02}; ")).collect();
    kannel.sendsms(&[("from", "2222"), ("to", PHONE), ("text", &long)]);
    inbox_has(&emu, &kannel, "2222", &long);
    let submits = get(&format!("{}/smsc/submits", emu.control));
    let parts = submits
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["concat"].is_array() && s["esm_class"].as_u64().unwrap() & 0x40 != 0)
        .count();
    assert!(parts >= 3, "Kannel split it with UDH: {submits}");

    // A phone's text to the short code: the sms-service's get-url.
    let sent = ureq::post(&format!("{}/phones/{PHONE}/send", emu.control))
        .send_json(json!({"to": "2222", "text": "Hola quiero info 42"}))
        .unwrap()
        .status();
    assert_eq!(sent, 202);
    let mo = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        eventually("the get-url request", WITHIN, || {
            hook.targets("/mo").into_iter().next()
        })
    }));
    let Ok(mo) = mo else {
        panic!("no get-url: {}\n{}", get(&status_url), kannel.logs());
    };
    assert_eq!(
        query_value(&mo, "text").as_deref(),
        Some("Hola quiero info 42")
    );
    assert_eq!(query_value(&mo, "from").as_deref(), Some(PHONE));
    assert_eq!(query_value(&mo, "to").as_deref(), Some("2222"));
    // Kannel answered the deliver_sm: nothing waits in the SMSC.
    eventually("the SMSC's queue empty", WITHIN, || {
        get(&status_url)["queued"]
            .as_array()
            .unwrap()
            .is_empty()
            .then_some(())
    });
}
