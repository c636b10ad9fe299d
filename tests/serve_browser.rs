//! The whole product in a real headless Chromium: `smsgate serve` on its
//! embedded emulated network, the send page, a reply typed on the phone
//! simulator, the session ending after a 3 s idle timeout. Rules cited are
//! those of ../shared/SPEC.md. Under CI (`CI` set to `true`, `1` or `yes`)
//! a missing chromium fails the test; elsewhere it is skipped with a note.

mod common;
mod support_web;

use std::time::Duration;

use serde_json::json;
use support_web::webdriver::{find_browser, Driver};

const WAIT: Duration = Duration::from_secs(15);

fn count(css: &str) -> String {
    format!("return document.querySelectorAll({css:?}).length")
}

#[test]
fn the_whole_service_in_a_real_browser() {
    let Some((chromium, chromedriver)) = common::require_tool(
        "chromium and chromedriver",
        find_browser(),
        "apt-get install chromium chromium-driver; scripts/test installs them",
    ) else {
        return;
    };
    let store = tempfile::tempdir().unwrap();
    let serve = common::serve_proc::start(
        store.path(),
        None,
        // The embedded network answers as a real one does (delivery
        // reports seconds late); the 3 s idle timeout wants them sooner.
        &[
            ("SMSGATE_SESSION__IDLE_TIMEOUT", "3s"),
            ("SMSGATE_EMULATOR__REPORT_DELAY_MS", "500"),
        ],
    );
    let url = serve.url.clone();
    // Ready: the emulated modems are up.
    common::eventually("serve to be ready", WAIT, || {
        ureq::get(&format!("{url}/readyz")).call().ok()
    });

    let d = Driver::start(&chromium, &chromedriver);
    d.goto(&format!("{url}/?lang=es"));
    assert_eq!(d.text("#replies-title"), "Aquí recibirás tu respuesta");
    // R1: two recipients, one message.
    d.type_into("#to-input", "8095551234");
    d.click("#add-recipient");
    d.type_into("#to-input", "8295557777");
    d.click("#add-recipient");
    d.type_into("#text", "Hola, ¿me respondes?");
    d.click("#send-button");
    d.wait_for(
        "two results",
        &format!("{} === 2", count("#result-list li")),
        WAIT,
    );
    // The phones got it, from the short code the page shows.
    let inbox: serde_json::Value = common::eventually("the phone has it", WAIT, || {
        let v: serde_json::Value = ureq::get(&format!("{url}/dev/phones/api/inbox/+18095551234"))
            .call()
            .ok()?
            .into_json()
            .ok()?;
        (!v[0].is_null()).then_some(v)
    });
    assert_eq!(inbox[0]["text"], "Hola, ¿me respondes?");
    let code = inbox[0]["from"].as_str().unwrap().to_string();
    assert!(d.text("#result-list").contains(&code));
    d.wait_for(
        "delivered",
        "return document.getElementById('result-list').textContent.indexOf('entregado') >= 0",
        WAIT,
    );

    // R3: a reply typed on the phone simulator appears without reload.
    d.js("window.__sameDocument = true", json!([]));
    let evil = "Sí <script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=1\">";
    let status = ureq::post(&format!("{url}/dev/phones/api/send"))
        .send_json(json!({"from": "+18095551234", "to": code, "text": evil}))
        .unwrap()
        .status();
    assert_eq!(status, 202);
    d.wait_for(
        "the reply",
        "return document.getElementById('replies').textContent.indexOf('Sí <script>') >= 0",
        WAIT,
    );
    assert_eq!(d.js("return window.__sameDocument", json!([])), true);
    assert_eq!(d.js("return typeof window.__pwned", json!([])), "undefined");
    assert_eq!(d.js(&count("#replies img, #replies script"), json!([])), 0);
    assert!(d.text("#replies").contains("+18095551234"));

    d.js(
        "document.getElementById('replies').scrollIntoView({block: 'end'})",
        json!([]),
    );
    let png = d.screenshot_png();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("serve.png"), &png).unwrap();

    // R4: 3 s without messages end the session; the messages vanish.
    d.wait_for(
        "the ended notice",
        "return !document.getElementById('session-ended').hidden",
        WAIT,
    );
    assert_eq!(d.js(&count("#replies li"), json!([])), 0);
    assert_eq!(d.js(&count("#result-list li"), json!([])), 0);

    // The phone simulator page itself renders (and escapes) the inbox.
    d.goto(&format!("{url}/dev/phones"));
    d.js("document.getElementById('phone').value = '+18095551234'; document.getElementById('phone').dispatchEvent(new Event('change'))", json!([]));
    d.wait_for(
        "the simulator inbox",
        "return document.getElementById('inbox').textContent.indexOf('¿me respondes?') >= 0",
        WAIT,
    );
}
