//! A schema-driven fuzzer (schemathesis, from PyPI) against the OpenAPI
//! document of a running `smsgate serve`, loopback only, a bounded number of
//! cases: zero 5xx. The venv is made by scripts/test (target/st-venv);
//! under CI (`CI` set to `true`, `1` or `yes`) a missing venv fails the
//! test, elsewhere it is skipped.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const TOKEN: &str = "schemathesis-admin-token-01";

fn st() -> Option<PathBuf> {
    let path = std::env::var_os("SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/st-venv/bin/st"));
    path.exists().then_some(path)
}

#[test]
fn openapi_fuzzing_finds_no_server_error() {
    let Some(st) = common::require_tool("schemathesis", st(), "scripts/test makes target/st-venv")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[http]\nadmin_token = \"{TOKEN}\"\n[limits]\nsends_per_minute_per_client = 0\nsends_per_hour_per_recipient = 0\n"
        ),
    )
    .unwrap();
    let serve = common::serve_proc::start(&dir.path().join("store"), Some(&cfg), &[]);
    let url = serve.url.clone();
    common::eventually("serve to be ready", Duration::from_secs(20), || {
        ureq::get(&format!("{url}/readyz")).call().ok()
    });
    let out = Command::new(&st)
        .args(["run", &format!("{url}/admin/api/openapi.json")])
        .args(["--url", &url])
        .args(["--checks", "not_a_server_error"])
        .args(["--max-examples", "30"])
        .args(["--seed", "20261125"])
        .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
        .args(["-H", &format!("Origin: {url}")])
        .env("NO_COLOR", "1")
        .output()
        .expect("run schemathesis");
    passed("admin token", &out);
    // The machine interface again, with an API key's token: past the
    // authentication, into the handlers.
    let key: serde_json::Value = ureq::post(&format!("{url}/admin/api/keys"))
        .set("Authorization", &format!("Bearer {TOKEN}"))
        .send_json(serde_json::json!({"name": "fuzz"}))
        .unwrap()
        .into_json()
        .unwrap();
    // The document itself is behind the admin token: read from a file.
    let doc = dir.path().join("openapi.json");
    let text = ureq::get(&format!("{url}/admin/api/openapi.json"))
        .set("Authorization", &format!("Bearer {TOKEN}"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    std::fs::write(&doc, text).unwrap();
    let out = Command::new(st)
        .arg("run")
        .arg(&doc)
        .args(["--url", &url])
        .args(["--include-path-regex", "^/(api/v1|cgi-bin)/"])
        .args(["--checks", "not_a_server_error"])
        .args(["--max-examples", "30"])
        .args(["--seed", "20261130"])
        .args([
            "-H",
            &format!("Authorization: Bearer {}", key["token"].as_str().unwrap()),
        ])
        .env("NO_COLOR", "1")
        .output()
        .expect("run schemathesis");
    passed("API key", &out);
}

/// Asserts schemathesis found nothing, and reports its summary.
fn passed(what: &str, out: &std::process::Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis ({what}) found failures:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.contains(" generated, "))
        .unwrap_or_default()
        .trim()
        .to_string();
    assert!(line.contains("passed"), "{stdout}");
    println!("schemathesis ({what}): {line}");
}
