//! HTTPS without a proxy, on `smsgate serve` with a CA and certificates
//! the test makes (openssl), checked with independent clients (curl,
//! `openssl s_client`): the page and API over TLS with a `Secure` cookie,
//! `redirect_bind` sending plain HTTP to HTTPS, and SIGHUP swapping the
//! certificate while a live stream opened before stays open.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{eventually, serve_proc};

const WITHIN: Duration = Duration::from_secs(20);

fn openssl(dir: &Path, args: &[&str]) {
    let st = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .expect("openssl");
    assert!(st.success(), "openssl {args:?}");
}

/// A certificate for 127.0.0.1 named `cn`, signed by the test CA.
fn server_cert(dir: &Path, cn: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            &format!("/CN={cn}"),
            "-keyout",
            &format!("{cn}.key"),
            "-out",
            &format!("{cn}.csr"),
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{cn}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            &format!("{cn}.pem"),
        ],
    );
}

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

#[test]
fn https_without_a_proxy_redirects_and_reloads_its_certificate() {
    let Some(_) = common::require_tool(
        "curl and openssl",
        Command::new("curl")
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success()),
        "apt-get install curl openssl",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=smsgate test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    std::fs::write(d.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    server_cert(d, "first");
    server_cert(d, "second");
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
