//! Hostile input at the front door: the public API answers 4xx or a correct
//! send — never a 5xx, never a panic — and a refused request changes
//! nothing. The normal run keeps the counts small; the dedicated run
//! (`cargo test --release --test hostile -- --ignored`) sends 1 000 000.

mod support_web;

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, TestRunner};
use smsgate::config::LimitsConfig;
use smsgate::web::testing::FakeGateway;
use smsgate::web::WebConfig;
use support_web::*;

fn no_limits() -> WebConfig {
    WebConfig {
        admin_token: Some(TOKEN.into()),
        limits: LimitsConfig {
            sends_per_minute_per_client: 0,
            sends_per_hour_per_recipient: 0,
            ..LimitsConfig::default()
        },
        country: "DO".into(),
        trusted_proxies: Vec::new(),
        promises: Default::default(),
        conn: Default::default(),
    }
}

/// Named payloads of the issue: every one is refused with a 4xx or sent
/// correctly, and a refusal leaves no session behind.
#[tokio::test]
async fn named_hostile_payloads_get_4xx_or_a_correct_send() {
    let gw = Arc::new(FakeGateway::new());
    let app = app_of(state(&gw, no_limits()));
    let many: Vec<String> = (0..10_000).map(|i| format!("+1809{:07}", i)).collect();
    let cases: Vec<(&str, String, &str)> = vec![
        ("malformed json", "{\"to\": [".into(), "application/json"),
        ("wrong type", "{\"to\": \"8095551234\", \"text\": 5}".into(), "application/json"),
        ("text/plain", "{\"to\":[\"8095551234\"],\"text\":\"x\"}".into(), "text/plain"),
        ("10 000 recipients", serde_json::json!({"to": many, "text": "x"}).to_string(), "application/json"),
        ("100 KB text", serde_json::json!({"to": ["8095551234"], "text": "a".repeat(100_000)}).to_string(), "application/json"),
        ("ctrl-z esc nul", serde_json::json!({"to": ["8095551234"], "text": "a\u{1a}b\u{1b}c\u{0}d"}).to_string(), "application/json"),
        ("emoji and RTL", serde_json::json!({"to": ["8095551234"], "text": "🙂 مرحبا שלום"}).to_string(), "application/json"),
        ("sql", serde_json::json!({"to": ["8095551234'; DROP TABLE x;--"], "text": "' OR 1=1 --"}).to_string(), "application/json"),
        ("html", serde_json::json!({"to": ["<script>alert(1)</script>"], "text": "<img src=x onerror=alert(1)>"}).to_string(), "application/json"),
        ("empty", String::new(), "application/json"),
    ];
    for (name, body, ctype) in cases {
        let before = gw.session_ids().len();
        let req = Request::post("/api/send")
            .header("content-type", ctype)
            .body(Body::from(body))
            .unwrap();
        let (res, text) = call(&app, req).await;
        let status = res.status().as_u16();
        assert!(status < 500, "{name}: {status} {text}");
        if status >= 400 {
            assert_eq!(
                gw.session_ids().len(),
                before,
                "{name}: a refusal changed something"
            );
        }
    }
    // Invalid UTF-8 in a JSON body and in a form body.
    for (uri, ctype) in [
        ("/api/send", "application/json"),
        ("/send", "application/x-www-form-urlencoded"),
    ] {
        let before = gw.session_ids().len();
        let req = Request::post(uri)
            .header("content-type", ctype)
            .body(Body::from(vec![b'{', 0xff, 0xfe, b'}']))
            .unwrap();
        let (res, _) = call(&app, req).await;
        assert!(res.status().is_client_error(), "{uri}: {}", res.status());
        assert_eq!(gw.session_ids().len(), before);
    }
}

/// Random bodies (bytes, and JSON-shaped fragments) to the JSON API and to
/// the no-JavaScript form.
async fn fuzz(cases: u32) {
    let gw = Arc::new(FakeGateway::new());
    let app = app_of(state(&gw, no_limits()));
    let rt = tokio::runtime::Handle::current();
    let body = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..96),
        "[\\[\\]{}\",:0-9a-z+ \\\\]{0,64}".prop_map(|s| s.into_bytes()),
        ("[0-9+ ]{0,14}", ".{0,40}").prop_map(|(to, text)| {
            serde_json::json!({"to": [to], "text": text})
                .to_string()
                .into_bytes()
        }),
    ];
    let mut runner = TestRunner::new(PtConfig {
        cases,
        failure_persistence: None,
        ..PtConfig::default()
    });
    let result = tokio::task::block_in_place(|| {
        runner.run(&(body, any::<bool>()), |(bytes, form)| {
            let (uri, ctype) = if form {
                ("/send", "application/x-www-form-urlencoded")
            } else {
                ("/api/send", "application/json")
            };
            let req = Request::post(uri)
                .header("content-type", ctype)
                .body(Body::from(bytes))
                .unwrap();
            let (res, text) = rt.block_on(call(&app, req));
            prop_assert!(res.status().as_u16() < 500, "{} {}", res.status(), text);
            Ok(())
        })
    });
    result.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bodies_never_get_a_5xx() {
    fuzz(3_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "dedicated run: cargo test --release --test hostile -- --ignored"]
async fn a_million_random_bodies_never_get_a_5xx() {
    fuzz(1_000_000).await;
}
