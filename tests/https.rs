//! HTTPS without a proxy, on `smsgate serve` with a CA and certificates
//! the test makes (openssl), checked with independent clients (curl,
//! `openssl s_client`): the page and API over TLS with a `Secure` cookie,
//! `redirect_bind` sending plain HTTP to HTTPS, and SIGHUP swapping the
//! certificate while a live stream opened before stays open; and a real
//! Chromium that trusts the test's certificate sending from the page and
//! seeing the reply live over TLS.

mod common;
mod support_web;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{eventually, serve_proc};

const WITHIN: Duration = Duration::from_secs(20);

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The subject of the certificate the server at `addr` presents now.
fn presented(addr: &str, ca: &Path) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl s_client -connect {addr} -CAfile {} </dev/null 2>/dev/null | openssl x509 -noout -subject",
            ca.display()
        ))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A test CA (`ca.pem`), and certificates for 127.0.0.1 it signed:
/// `first` and `second`.
fn pki(d: &Path) {
    common::pki::ca(d, "ca");
    common::pki::server_cert(d, "ca", "first");
    common::pki::server_cert(d, "ca", "second");
}

fn curl_present() -> Option<()> {
    Command::new("curl")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| ())
}

/// The base64 SHA-256 of a certificate's public key, as Chromium's
/// `--ignore-certificate-errors-spki-list` names a key it is to trust.
fn spki_sha256(cert: &Path) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl x509 -in {} -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64",
            cert.display()
        ))
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn https_without_a_proxy_redirects_and_reloads_its_certificate() {
    let Some(_) = common::require_tool(
        "curl and openssl",
        curl_present(),
        "apt-get install curl openssl",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    pki(d);
    std::fs::copy(d.join("first.pem"), d.join("cert.pem")).unwrap();
    std::fs::copy(d.join("first.key"), d.join("key.pem")).unwrap();
    let redirect_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = d.join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[http]\ntls_cert = \"{0}/cert.pem\"\ntls_key = \"{0}/key.pem\"\nredirect_bind = \"127.0.0.1:{redirect_port}\"\n",
            d.display()
        ),
    )
    .unwrap();
    let s = serve_proc::start(&d.join("store"), Some(&cfg), &[]);
    let url = s.url.clone();
    assert!(url.starts_with("https://"), "{url}");
    let addr = url.trim_start_matches("https://").to_string();
    let ca = d.join("ca.pem");
    let ca_s = ca.display().to_string();
    eventually("ready over TLS", WITHIN, || {
        (curl(&["--cacert", &ca_s, &format!("{url}/readyz")]).trim() == "ready").then_some(())
    });
    assert!(
        presented(&addr, &ca).contains("CN = first") || presented(&addr, &ca).contains("CN=first")
    );
    // A send over TLS: the session cookie is Secure.
    let headers = curl(&[
        "--cacert",
        &ca_s,
        "-D",
        "-",
        "-o",
        "/dev/null",
        "-H",
        "Content-Type: application/json",
        "-H",
        &format!("Origin: {url}"),
        "-d",
        r#"{"to": ["8095551234"], "text": "hola por TLS"}"#,
        &format!("{url}/api/send"),
    ]);
    assert!(headers.starts_with("HTTP/1.1 202"), "{headers}");
    let cookie_line = headers
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("a session cookie");
    assert!(cookie_line.contains("Secure"), "{cookie_line}");
    let cookie = cookie_line
        .split_once(':')
        .unwrap()
        .1
        .split(';')
        .next()
        .unwrap()
        .trim()
        .to_string();
    // Its live stream, opened before the reload.
    let mut stream = Command::new("curl")
        .args([
            "-sS",
            "-N",
            "--cacert",
            &ca_s,
            "-H",
            &format!("Cookie: {cookie}"),
        ])
        .arg(format!("{url}/api/session/events"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // Plain HTTP is sent to HTTPS, path and query kept.
    let r = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{redirect_url}",
        &format!("http://127.0.0.1:{redirect_port}/ayuda?lang=es"),
    ]);
    assert_eq!(
        r,
        format!(
            "308 https://127.0.0.1:{}/ayuda?lang=es",
            addr.rsplit_once(':').unwrap().1
        )
    );
    // SIGHUP with a new certificate on disk: new connections get it.
    std::fs::copy(d.join("second.pem"), d.join("cert.pem")).unwrap();
    std::fs::copy(d.join("second.key"), d.join("key.pem")).unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(s.child.id() as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    eventually("the new certificate", WITHIN, || {
        let p = presented(&addr, &ca);
        (p.contains("CN = second") || p.contains("CN=second")).then_some(())
    });
    assert!(
        stream.try_wait().unwrap().is_none(),
        "the live stream stayed open through the reload"
    );
    let _ = stream.kill();
    let _ = stream.wait();
    // Without the CA, curl refuses: it really is the test's certificate.
    let refused = Command::new("curl")
        .args(["-sS", "--max-time", "5", &format!("{url}/healthz")])
        .output()
        .unwrap();
    assert!(!refused.status.success());
}

/// A real Chromium that trusts the test's certificate (its key pinned with
/// `--ignore-certificate-errors-spki-list`, Chromium's switch for a
/// certificate no public CA signed): the page loads over HTTPS as a
/// secure context, a send goes out, and the phone's reply comes live over
/// the TLS stream. Without the pin the same Chromium refuses the page.
#[test]
fn a_browser_trusting_the_certificate_sends_and_sees_the_reply() {
    let Some(_) = common::require_tool(
        "curl and openssl",
        curl_present(),
        "apt-get install curl openssl",
    ) else {
        return;
    };
    let Some((chromium, chromedriver)) = common::require_tool(
        "chromium and chromedriver",
        support_web::webdriver::find_browser(),
        "apt-get install chromium chromium-driver; scripts/test installs them",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    pki(d);
    let cfg = d.join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[http]\ntls_cert = \"{0}/first.pem\"\ntls_key = \"{0}/first.key\"\n",
            d.display()
        ),
    )
    .unwrap();
    let s = serve_proc::start(&d.join("store"), Some(&cfg), &[]);
    let url = s.url.clone();
    let ca_s = d.join("ca.pem").display().to_string();
    eventually("ready over TLS", WITHIN, || {
        (curl(&["--cacert", &ca_s, &format!("{url}/readyz")]).trim() == "ready").then_some(())
    });
    // Not trusted: Chromium shows its interstitial, not the page.
    let b = support_web::webdriver::Driver::start(&chromium, &chromedriver);
    b.goto(&format!("{url}/?lang=es"));
    let plain = b.js(
        "return document.getElementById('send-button') === null",
        serde_json::json!([]),
    );
    assert_eq!(plain, true, "an untrusted certificate was accepted");
    drop(b);
    let pin = spki_sha256(&d.join("first.pem"));
    let b = support_web::webdriver::Driver::start_with(
        &chromium,
        &chromedriver,
        &[format!("--ignore-certificate-errors-spki-list={pin}")],
    );
    b.goto(&format!("{url}/?lang=es"));
    assert_eq!(
        b.js(
            "return location.protocol + ' ' + window.isSecureContext",
            serde_json::json!([])
        ),
        "https: true"
    );
    b.type_into("#to-input", "8095551234");
    b.click("#add-recipient");
    b.type_into("#text", "Hola por HTTPS");
    b.click("#send-button");
    b.wait_for(
        "the result",
        "return document.querySelectorAll('#result-list li').length === 1",
        WITHIN,
    );
    // The phone got it; its reply comes back live to the page.
    let inbox = eventually("the phone has it", WITHIN, || {
        let v: serde_json::Value = serde_json::from_str(&curl(&[
            "--cacert",
            &ca_s,
            &format!("{url}/dev/phones/api/inbox/+18095551234"),
        ]))
        .ok()?;
        (!v[0].is_null()).then_some(v)
    });
    assert_eq!(inbox[0]["text"], "Hola por HTTPS");
    let code = inbox[0]["from"].as_str().unwrap().to_string();
    let sent = curl(&[
        "--cacert",
        &ca_s,
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        "Content-Type: application/json",
        "-d",
        &serde_json::json!({"from": "+18095551234", "to": code, "text": "Sí, por TLS"}).to_string(),
        &format!("{url}/dev/phones/api/send"),
    ]);
    assert_eq!(sent, "202");
    b.wait_for(
        "the reply over the TLS stream",
        "return document.getElementById('replies').textContent.indexOf('Sí, por TLS') >= 0",
        WITHIN,
    );
    // The session cookie the browser holds is Secure.
    let cookies = b.cookies();
    assert!(
        cookies
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["secure"] == true),
        "{cookies}"
    );
}
