//! The send page in a real headless Chromium (chromedriver), against the
//! web app on 127.0.0.1 with the fake gateway. Under CI (`CI` set to
//! `true`, `1` or `yes`) a missing chromium/chromedriver fails the test;
//! elsewhere it is skipped with a note.
//! Rules cited are those of ../shared/SPEC.md.

mod common;
mod support_web;

use std::time::Duration;

use serde_json::{json, Value};
use smsgate::web::testing::FakeGateway;
use support_web::webdriver::{find_browser, Driver};
use support_web::*;

const WAIT: Duration = Duration::from_secs(10);

fn browser_or_skip() -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    common::require_tool(
        "chromium and chromedriver",
        find_browser(),
        "apt-get install chromium chromium-driver; scripts/test installs them",
    )
}

/// R1, R3, R4, R9 in a browser: two recipients, live counter, short codes,
/// a live reply, phone text shown as text only, and the session ending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_page_in_a_real_browser() {
    let Some((chromium, chromedriver)) = browser_or_skip() else {
        return;
    };
    let gw = FakeGateway::new();
    let server = start(state(&gw, config())).await;
    let url = format!("http://{}/", server.addr);
    let gw2 = gw.clone();
    let script = tokio::task::spawn_blocking(move || {
        let d = Driver::start(&chromium, &chromedriver);
        browse(&d, &url, &gw2);
    });
    let result = tokio::time::timeout(Duration::from_secs(120), script).await;
    server.shutdown.cancel();
    result
        .expect("browser test in time")
        .expect("browser test passed");
}

fn count(css: &str) -> String {
    format!("return document.querySelectorAll({css:?}).length")
}

fn browse(d: &Driver, url: &str, gw: &FakeGateway) {
    // This Chromium asks for English (Accept-Language); the toggle gives Spanish.
    d.goto(url);
    assert_eq!(
        d.js("return document.documentElement.lang", json!([])),
        "en"
    );
    d.click("#lang-toggle");
    d.wait_for(
        "the Spanish page",
        "return document.documentElement.lang === 'es'",
        WAIT,
    );
    assert_eq!(d.text("#replies-title"), "Aquí recibirás tu respuesta");

    // The counter's JavaScript agrees with the codec (one set of rules).
    let texts = [
        String::new(),
        "Hola".into(),
        "a".repeat(160),
        "a".repeat(161),
        "a".repeat(306),
        "a".repeat(307),
        "á".repeat(70),
        "á".repeat(71),
        "€".repeat(80),
        "€".repeat(81),
        "😀".repeat(35),
        "😀".repeat(36),
        "[{~}]|^\\ ¿Qué?".into(),
    ];
    let js = d.js(
        "return arguments[0].map(function (t) { return window.smsgate.measure(t); })",
        json!([texts]),
    );
    for (t, m) in texts.iter().zip(js.as_array().unwrap()) {
        let info = smsgate::sms::measure(t);
        assert_eq!(m["parts"], info.parts, "{t}");
        assert_eq!(m["units"], info.units_used, "{t}");
        assert_eq!(m["units_left"], info.units_left_in_part, "{t}");
        assert_eq!(m["encoding"], info.encoding.as_str(), "{t}");
    }

    // Two recipients, validated as typed; a bad one is refused.
    d.type_into("#to-input", "12345");
    d.click("#add-recipient");
    assert!(d.text("#to-error").contains("12345"));
    d.js("document.getElementById('to-input').value = ''", json!([]));
    d.type_into("#to-input", "809 555 1234");
    d.click("#add-recipient");
    d.type_into("#to-input", "+18495559991");
    d.click("#add-recipient");
    assert_eq!(d.js(&count("#recipients li"), json!([])), 2);

    // The counter updates as the message is typed.
    d.type_into("#text", "Hola, ¿cómo estás?");
    let counter = d.text("#counter");
    assert!(counter.starts_with("18 caracteres · 1 SMS"), "{counter}");
    assert!(counter.contains("UCS2"), "{counter}");

    d.click("#send-button");
    d.wait_for(
        "two results",
        &format!("{} === 2", count("#result-list li")),
        WAIT,
    );
    let results = d.text("#result-list");
    assert!(
        results.contains("+18095551234") && results.contains("+18095550100"),
        "{results}"
    );
    assert!(
        results.contains("+18495559991") && results.contains("+18095550101"),
        "{results}"
    );
    assert!(
        results.contains("este número no puede responder"),
        "R9: {results}"
    );
    d.wait_for(
        "the countdown",
        "return document.getElementById('countdown').textContent.indexOf('4:5') >= 0",
        WAIT,
    );

    // A reply appears live, without reload (R3); then a status change.
    let id = gw.session_ids()[0].clone();
    d.js("window.__sameDocument = true", json!([]));
    std::thread::sleep(Duration::from_millis(300)); // the stream is open by now
    assert!(gw.push_reply(&id, "+18095551234", "Hola desde el teléfono"));
    d.wait_for(
        "the reply",
        "return document.getElementById('replies').textContent.indexOf('Hola desde el teléfono') >= 0",
        WAIT,
    );
    assert!(d.text("#replies").contains("+18095551234"));
    assert_eq!(d.js("return window.__sameDocument", json!([])), true);
    gw.push_status(&id, "+18095551234", "delivered", None);
    d.wait_for(
        "delivered",
        "return document.getElementById('result-list').textContent.indexOf('entregado') >= 0",
        WAIT,
    );

    // What a phone sends is text, never markup.
    let evil = "<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=1\">";
    assert!(gw.push_reply(&id, "+18095551234", evil));
    d.wait_for(
        "the hostile reply",
        &format!("{} === 2", count("#replies li.reply")),
        WAIT,
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(d.js("return typeof window.__pwned", json!([])), "undefined");
    assert_eq!(d.js(&count("#replies img, #replies script"), json!([])), 0);
    let shown = d.js(
        "return document.querySelectorAll('#replies li.reply .text')[1].textContent",
        json!([]),
    );
    assert_eq!(shown, Value::String(evil.into()));

    d.js(
        "document.getElementById('results').scrollIntoView()",
        json!([]),
    );
    let png = d.screenshot_png();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("page.png"), &png).unwrap();
    assert!(png.starts_with(b"\x89PNG"));

    // The session ends: messages vanish, the page says so (R4).
    assert!(gw.expire(&id));
    d.wait_for(
        "the ended notice",
        "return !document.getElementById('session-ended').hidden",
        WAIT,
    );
    assert_eq!(d.js(&count("#replies li"), json!([])), 0);
    assert_eq!(d.js(&count("#result-list li"), json!([])), 0);
    assert!(d.text("#session-ended").contains("La sesión terminó"));
}
