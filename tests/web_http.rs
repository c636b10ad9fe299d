//! The web layer over HTTP: every endpoint and error answer through
//! `app(...).oneshot(...)`, and live events over a real socket on
//! 127.0.0.1. Rules cited are those of ../shared/SPEC.md.

mod support_web;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use smsgate::config::LimitsConfig;
use smsgate::gateway::api::GatewayApi;
use smsgate::web::testing::FakeGateway;
use smsgate::web::WebConfig;
use support_web::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn app_with(config: WebConfig) -> (std::sync::Arc<FakeGateway>, axum::Router) {
    let gw = FakeGateway::new();
    let router = app_of(state(&gw, config));
    (gw, router)
}

fn send_body(to: &[&str], text: &str) -> String {
    json!({"to": to, "text": text}).to_string()
}

async fn send_ok(router: &axum::Router, to: &[&str], text: &str) -> (String, Value) {
    let (res, body) = call(router, json_post("/api/send", &send_body(to, text))).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED, "{body}");
    (cookie_of(&res), serde_json::from_str(&body).unwrap())
}

fn error_of(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("JSON error: {body}"));
    v["error"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn page_is_spanish_by_default_and_english_on_request() {
    let (_, router) = app_with(config());
    let (res, body) = call(&router, get("/")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body.contains("<html lang=\"es\""));
    assert!(body.contains("Aquí recibirás tu respuesta"));
    assert!(body.contains("<label for=\"to-input\""));
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!body.contains("<script>"), "no inline script");

    let req = Request::get("/")
        .header("accept-language", "en-US,en;q=0.9")
        .body(Body::empty())
        .unwrap();
    let (_, body) = call(&router, req).await;
    assert!(body.contains("<html lang=\"en\""));
    let (_, body) = call(&router, get("/?lang=en")).await;
    assert!(body.contains("Messages to mobile phones"));
    // The box keeps its title in both languages (R3).
    assert!(body.contains("Aquí recibirás tu respuesta"));
}

#[tokio::test]
async fn assets_are_served_as_files() {
    let (_, router) = app_with(config());
    let (res, js) = call(&router, get("/assets/app.js")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(js.contains("textContent") && !js.contains("innerHTML ="));
    let (res, _) = call(&router, get("/assets/app.css")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (res, body) = call(&router, get("/admin")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body.contains("/assets/admin.js"));
}

/// R1, R2, R9: a send answers 202 per recipient and sets the session cookie.
#[tokio::test]
async fn send_answers_per_recipient_and_sets_a_strict_http_only_cookie() {
    let (gw, router) = app_with(config());
    let req = json_post(
        "/api/send",
        &send_body(&["8095551234", "+18495559991", "hola"], "Hola"),
    );
    let (res, body) = call(&router, req).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED, "{body}");
    let set_cookie = res.headers()["set-cookie"].to_str().unwrap();
    assert!(set_cookie.starts_with("smsgate_session="));
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(flag), "{set_cookie} lacks {flag}");
    }
    let v: Value = serde_json::from_str(&body).unwrap();
    // The secret is in the cookie only; the body has the public id.
    let secret = gw.session_ids()[0].clone();
    assert!(set_cookie.contains(&format!("smsgate_session={secret};")));
    assert!(!body.contains(&secret), "the secret never in a JSON body");
    assert_eq!(
        v["session"]["id"],
        smsgate::web::public_id(&secret).as_str()
    );
    let r = &v["recipients"];
    assert_eq!(r[0]["to"], "+18095551234");
    assert_eq!(r[0]["status"], "queued");
    assert_eq!(r[0]["short_code"], "+18095550100");
    assert_eq!(r[0]["can_reply"], true);
    assert_eq!(r[1]["can_reply"], false, "fleet number (R9)");
    assert_eq!(r[2]["status"], "refused");
    assert_eq!(r[2]["reason"], "invalid_number");
}

/// R2: the session belongs to the browser holding the cookie only.
#[tokio::test]
async fn another_browser_cannot_read_the_session() {
    let (_, router) = app_with(config());
    let (cookie, _) = send_ok(&router, &["8095551234"], "Hola").await;
    let mine = Request::get("/api/session")
        .header("cookie", &cookie)
        .body(Body::empty())
        .unwrap();
    let (res, body) = call(&router, mine).await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["messages"][0]["text"], "Hola");
    assert_eq!(v["messages"][0]["recipients"][0]["status"], "queued");

    let (res, body) = call(&router, get("/api/session")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_of(&body), "no_session");
    let other = Request::get("/api/session")
        .header("cookie", "smsgate_session=guess")
        .body(Body::empty())
        .unwrap();
    let (res, body) = call(&router, other).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_of(&body), "no_session");
    let events = Request::get("/api/session/events")
        .header("cookie", "smsgate_session=guess")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        call(&router, events).await.0.status(),
        StatusCode::NOT_FOUND
    );
}

/// R4: after the session ended, `GET /api/session` is 404.
#[tokio::test]
async fn ended_session_is_gone() {
    let (gw, router) = app_with(config());
    let (cookie, _) = send_ok(&router, &["8095551234"], "Hola").await;
    assert!(gw.expire(&gw.session_ids()[0]));
    let req = Request::get("/api/session")
        .header("cookie", &cookie)
        .body(Body::empty())
        .unwrap();
    let (res, body) = call(&router, req).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_of(&body), "no_session");
}

#[tokio::test]
async fn bad_input_gets_a_4xx_with_a_reason_never_a_500() {
    let (_, router) = app_with(config());
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (
            json_post("/api/send", "{not json"),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            json_post("/api/send", r#"{"to": "x"}"#),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            json_post("/api/send", r#"{"to": [], "text": "a", "x": 1}"#),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            Request::post("/api/send")
                .header("content-type", "text/plain")
                .body(Body::from(send_body(&["8095551234"], "a")))
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            json_post(
                "/api/send",
                &send_body(&["8095551234"], &"a".repeat(70 * 1024)),
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            json_post("/api/send", &send_body(&["8095551234"], "")),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json_post("/api/send", &send_body(&[], "Hola")),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            // 5 parts of 153 septets is the cap (R13).
            json_post(
                "/api/send",
                &send_body(&["8095551234"], &"a".repeat(153 * 5 + 1)),
            ),
            StatusCode::BAD_REQUEST,
            "text_too_long",
        ),
        (
            json_post("/api/send", &send_body(&vec!["8095551234"; 51], "Hola")),
            StatusCode::BAD_REQUEST,
            "too_many_recipients",
        ),
        (
            Request::post("/api/send")
                .header("content-type", "application/json")
                .header("origin", "http://evil.example")
                .header("host", "127.0.0.1:8080")
                .body(Body::from(send_body(&["8095551234"], "a")))
                .unwrap(),
            StatusCode::FORBIDDEN,
            "cross_origin",
        ),
        (
            Request::post("/api/send")
                .header("content-type", "application/json")
                .header("sec-fetch-site", "cross-site")
                .body(Body::from(send_body(&["8095551234"], "a")))
                .unwrap(),
            StatusCode::FORBIDDEN,
            "cross_origin",
        ),
        (get("/no/such/page"), StatusCode::NOT_FOUND, "not_found"),
    ];
    for (i, (req, status, reason)) in cases.into_iter().enumerate() {
        let (res, body) = call(&router, req).await;
        assert_eq!(res.status(), status, "case {i}: {body}");
        assert_eq!(error_of(&body), reason, "case {i}");
    }
    // A same-origin POST (as the page's fetch sends it) is fine.
    let req = Request::post("/api/send")
        .header("content-type", "application/json")
        .header("origin", "http://127.0.0.1:8080")
        .header("host", "127.0.0.1:8080")
        .header("sec-fetch-site", "same-origin")
        .body(Body::from(send_body(&["8095551234"], "a")))
        .unwrap();
    assert_eq!(call(&router, req).await.0.status(), StatusCode::ACCEPTED);
}

fn from_client(ip: [u8; 4], body: &str) -> Request<Body> {
    let mut req = json_post("/api/send", body);
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip, 40000))));
    req
}

/// R13: sends per client address per minute; the 429 says when to retry
/// (2 a minute: one comes back every 30 s).
#[tokio::test]
async fn client_over_its_quota_gets_429() {
    let limits = LimitsConfig {
        sends_per_minute_per_client: 2,
        ..LimitsConfig::default()
    };
    let (gw, router) = app_with(WebConfig { limits, ..config() });
    let body = send_body(&["8095551234"], "Hola");
    for _ in 0..2 {
        assert_eq!(
            call(&router, from_client([10, 0, 0, 1], &body))
                .await
                .0
                .status(),
            StatusCode::ACCEPTED
        );
    }
    let (res, text) = call(&router, from_client([10, 0, 0, 1], &body)).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error_of(&text), "rate_limited");
    assert_eq!(res.headers()["retry-after"], "30");
    // Another client still may; the gateway saw the real addresses.
    assert_eq!(
        call(&router, from_client([10, 0, 0, 2], &body))
            .await
            .0
            .status(),
        StatusCode::ACCEPTED
    );
    let clients: Vec<String> = gw.sends().iter().map(|s| s.2.to_string()).collect();
    assert_eq!(clients, ["10.0.0.1", "10.0.0.1", "10.0.0.2"]);
}

/// R13: sends per recipient per hour; the other recipients still go.
#[tokio::test]
async fn recipient_over_its_quota_is_refused_alone() {
    let limits = LimitsConfig {
        sends_per_hour_per_recipient: 1,
        ..LimitsConfig::default()
    };
    let (gw, router) = app_with(WebConfig { limits, ..config() });
    send_ok(&router, &["8095551234"], "uno").await;
    let (_, v) = send_ok(&router, &["+18095550000", "809-555-1234"], "dos").await;
    assert_eq!(v["recipients"][0]["status"], "queued");
    assert_eq!(v["recipients"][1]["to"], "+18095551234");
    assert_eq!(v["recipients"][1]["status"], "refused");
    assert_eq!(v["recipients"][1]["reason"], "rate_limited");
    assert_eq!(gw.sends()[1].1.to, ["+18095550000"]);
    // Nobody left to send to: 429.
    let (res, body) = call(
        &router,
        json_post("/api/send", &send_body(&["8095551234"], "tres")),
    )
    .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error_of(&body), "rate_limited");
    assert_eq!(res.headers()["retry-after"], "3600");
}

/// R13 on the no-JavaScript path: the same quota as `POST /api/send`, and
/// the 429 page carries `Retry-After` too.
#[tokio::test]
async fn html_form_shares_the_client_quota_and_says_when_to_retry() {
    let limits = LimitsConfig {
        sends_per_minute_per_client: 1,
        ..LimitsConfig::default()
    };
    let (_, router) = app_with(WebConfig { limits, ..config() });
    let body = send_body(&["8095551234"], "Hola");
    let (res, _) = call(&router, from_client([10, 0, 0, 9], &body)).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let mut req = Request::post("/send")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("to=8095550000&text=Hola"))
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 9], 40001))));
    let (res, page) = call(&router, req).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "60");
    assert!(page.contains("server-error"), "{page}");
}

/// The counter's rules are the codec's: `/api/measure` is `sms::measure`.
#[tokio::test]
async fn measure_is_the_codecs_measure() {
    let (_, router) = app_with(config());
    for text in [
        "",
        "Hola",
        "¿Cómo estás?",
        "€€€",
        &"a".repeat(161),
        &"á".repeat(71),
        "😀 hi",
    ] {
        let uri = format!(
            "/api/measure?text={}",
            form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>()
        );
        let (res, body) = call(&router, get(&uri)).await;
        assert_eq!(res.status(), StatusCode::OK);
        let v: Value = serde_json::from_str(&body).unwrap();
        let info = smsgate::sms::measure(text);
        assert_eq!(v["parts"], info.parts, "{text}");
        assert_eq!(v["units"], info.units_used, "{text}");
        assert_eq!(v["units_left"], info.units_left_in_part, "{text}");
        assert_eq!(v["encoding"], info.encoding.as_str(), "{text}");
        assert_eq!(v["max_parts"], 5);
    }
}

fn admin(method: &str, uri: &str, token: Option<&str>) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::empty()).unwrap()
}

const ADMIN_GETS: [&str; 8] = [
    "/admin/api/sessions",
    "/admin/api/keys",
    "/admin/api/sessions/x",
    "/admin/api/modems",
    "/admin/api/outbox",
    "/admin/api/out-of-session",
    "/admin/api/charges",
    "/admin/api/openapi.json",
];

#[tokio::test]
async fn admin_api_is_401_without_the_right_token() {
    let (_, router) = app_with(config());
    for uri in ADMIN_GETS {
        for token in [None, Some("wrong"), Some("")] {
            let (res, body) = call(&router, admin("GET", uri, token)).await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{uri} {token:?}");
            assert_eq!(res.headers()["www-authenticate"], "Bearer");
            assert!(body.is_empty(), "nothing else: {body}");
        }
    }
    let (res, _) = call(
        &router,
        admin("DELETE", "/admin/api/sessions/x", Some("wrong")),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // No token configured: always 401.
    let (_, router) = app_with(WebConfig {
        admin_token: None,
        ..config()
    });
    let (res, _) = call(&router, admin("GET", "/admin/api/sessions", Some(""))).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let (res, _) = call(&router, admin("GET", "/admin/api/sessions", Some(TOKEN))).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn admin_api_answers_with_the_token() {
    let (gw, router) = app_with(config());
    let (_, v) = send_ok(&router, &["8095551234"], "Hola").await;
    let id = v["session"]["id"].as_str().unwrap().to_string();
    let t = Some(TOKEN);

    let (res, body) = call(&router, admin("GET", "/admin/api/sessions", t)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let s: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(s[0]["id"], id.as_str());
    assert_eq!(s[0]["bindings"][0], json!(["+18095551234", "+18095550100"]));
    let (res, body) = call(
        &router,
        admin("GET", &format!("/admin/api/sessions/{id}"), t),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    let (res, _) = call(
        &router,
        admin("DELETE", &format!("/admin/api/sessions/{id}"), t),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(gw.session_ids().is_empty());
    let (res, body) = call(
        &router,
        admin("DELETE", &format!("/admin/api/sessions/{id}"), t),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_of(&body), "no_session");
    let (res, _) = call(
        &router,
        admin("GET", &format!("/admin/api/sessions/{id}"), t),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let (_, body) = call(&router, admin("GET", "/admin/api/modems", t)).await;
    let m: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(m[0]["short_code"], "+18095550100");
    assert_eq!(m[0]["state"], "initialising");
    let (_, body) = call(&router, admin("GET", "/admin/api/outbox", t)).await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()[0]["status"],
        "failed"
    );
    let (_, body) = call(&router, admin("GET", "/admin/api/out-of-session", t)).await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()[0]["text"],
        "¿sigues ahí?"
    );
}

/// R10: charges as JSON or CSV, amounts as decimal text, RFC 3339 bounds.
#[tokio::test]
async fn charges_as_json_and_csv() {
    let (_, router) = app_with(config());
    let t = Some(TOKEN);
    let (_, body) = call(&router, admin("GET", "/admin/api/charges?format=json", t)).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v[0]["total"], "1.18");
    let (res, csv) = call(
        &router,
        admin(
            "GET",
            "/admin/api/charges?format=csv&from=2026-01-01T00:00:00Z",
            t,
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "id,time,number,short_code,base,taxes,total,currency,in_session,message,part,parts"
    );
    assert_eq!(lines[1], "cdr-1,2026-01-02T03:04:05+00:00,+18095551234,+18095550100,1.00,ITBIS:0.18:0.18,1.18,DOP,true,cdr-1,1,1");
    let (_, body) = call(
        &router,
        admin(
            "GET",
            "/admin/api/charges?to=2026-01-01T00:00:00%2B01:00",
            t,
        ),
    )
    .await;
    assert_eq!(body, "[]");
    for bad in [
        "/admin/api/charges?from=yesterday",
        "/admin/api/charges?format=xml",
    ] {
        let (res, body) = call(&router, admin("GET", bad, t)).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(error_of(&body), "invalid_query");
    }
}

#[tokio::test]
async fn openapi_documents_every_endpoint() {
    let (_, router) = app_with(config());
    let (res, body) = call(
        &router,
        admin("GET", "/admin/api/openapi.json", Some(TOKEN)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = serde_json::from_str(&body).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/send",
        "/api/session",
        "/api/session/events",
        "/api/measure",
        "/admin/api/sessions",
        "/admin/api/sessions/{id}",
        "/admin/api/modems",
        "/admin/api/outbox",
        "/admin/api/out-of-session",
        "/admin/api/charges",
        "/admin/api/openapi.json",
        "/admin/api/keys",
        "/admin/api/keys/{name}",
        "/api/v1/conversations",
        "/api/v1/conversations/{id}",
        "/api/v1/conversations/{id}/messages",
        "/api/v1/conversations/{id}/events",
        "/admin/api/webhooks",
        "/admin/api/webhooks/{id}/resend",
        "/cgi-bin/sendsms",
        "/metrics",
        "/healthz",
        "/readyz",
    ] {
        assert!(paths.contains_key(p), "{p} undocumented");
    }
    assert!(paths["/admin/api/sessions/{id}"].get("delete").is_some());
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for s in [
        "SendRequest",
        "SendAnswer",
        "SessionView",
        "ModemStatus",
        "ChargeItem",
        "ErrorBody",
    ] {
        assert!(schemas.contains_key(s), "schema {s} missing");
    }
    // The mirrors name every field the real JSON has.
    let answer: Value = serde_json::to_value(smsgate::gateway::api::RecipientAnswer {
        to: "a".into(),
        status: smsgate::gateway::api::RecipientState::Queued,
        short_code: None,
        can_reply: true,
        reason: None,
    })
    .unwrap();
    let props = schemas["RecipientAnswer"]["properties"]
        .as_object()
        .unwrap();
    for k in answer.as_object().unwrap().keys() {
        assert!(props.contains_key(k), "RecipientAnswer.{k}");
    }
}

#[tokio::test]
async fn metrics_health_and_readiness() {
    let (gw, router) = app_with(config());
    send_ok(&router, &["8095551234"], "Hola").await;
    let (res, body) = call(&router, get("/healthz")).await;
    assert_eq!((res.status(), body.as_str()), (StatusCode::OK, "ok\n"));
    assert_eq!(
        call(&router, get("/readyz")).await.0.status(),
        StatusCode::OK
    );
    gw.set_ready(false);
    assert_eq!(
        call(&router, get("/readyz")).await.0.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );

    let (res, text) = call(&router, get("/metrics")).await;
    assert_eq!(res.status(), StatusCode::OK);
    for needle in [
        "smsgate_http_requests_total{route=\"/api/send\",method=\"POST\",status=\"202\"} 1",
        "smsgate_http_requests_total{route=\"/readyz\",method=\"GET\",status=\"503\"} 1",
        "smsgate_live_sessions 1",
        "smsgate_out_of_session_replies_total 1",
        "smsgate_modem_sent_total{short_code=\"+18095550101\"} 20",
        "smsgate_modem_failed_total{short_code=\"+18095550102\"} 2",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
}

/// The form works without JavaScript: a plain POST and a server page.
#[tokio::test]
async fn html_form_works_without_javascript() {
    let (gw, router) = app_with(config());
    let req = Request::post("/send")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(
            "lang=es&to=809-555-1234%2C+829+555+0000&text=%3Cb%3EHola%3C%2Fb%3E",
        ))
        .unwrap();
    let (res, body) = call(&router, req).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    assert!(res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("HttpOnly"));
    assert!(body.contains("+18095551234") && body.contains("+18295550000"));
    assert!(body.contains("+18095550100") && body.contains("+18095550101"));
    assert!(body.contains("en cola"));
    assert_eq!(gw.sends()[0].1.text, "<b>Hola</b>");

    // The page of that browser shows replies, escaped (R3).
    let cookie = cookie_of(&res);
    let id = gw.session_ids()[0].clone();
    gw.push_reply(&id, "+18095551234", "<script>window.__pwned=1</script>");
    let req = Request::get("/")
        .header("cookie", &cookie)
        .body(Body::empty())
        .unwrap();
    let (_, body) = call(&router, req).await;
    assert!(body.contains("&lt;script&gt;window.__pwned=1&lt;/script&gt;"));
    assert!(!body.contains("<script>window"));

    // Errors come back as a page too, in the chosen language.
    let req = Request::post("/send")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("lang=en&to=8095551234&text="))
        .unwrap();
    let (res, body) = call(&router, req).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(body.contains("Could not send"));
    let req = Request::post("/send")
        .header("content-type", "application/json")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(
        call(&router, req).await.0.status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
}

// ---- over a real socket ----

/// One HTTP/1.1 exchange with `Connection: close`; everything read until the
/// server closes, or until `until` appears.
async fn raw(addr: SocketAddr, request: String, until: Option<&str>) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(TIMEOUT, s.read(&mut buf))
            .await
            .expect("read in time")
            .unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        if until.is_some_and(|u| String::from_utf8_lossy(&out).contains(u)) {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn post_send(addr: SocketAddr, body: &str) -> String {
    format!(
        "POST /api/send HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn cookie_from_raw(response: &str) -> String {
    let line = response
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("cookie");
    line.split_once(':')
        .unwrap()
        .1
        .trim()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// R3, R4 over a real connection: a reply arrives on the stream, which
/// ends after `expired`.
#[tokio::test]
async fn live_events_over_a_real_socket() {
    let gw = FakeGateway::new();
    let server = start(state(&gw, config())).await;
    let addr = server.addr;
    let answer = raw(
        addr,
        post_send(addr, &send_body(&["8095551234"], "Hola")),
        None,
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    let cookie = cookie_from_raw(&answer);
    let id = gw.session_ids()[0].clone();

    let req = format!("GET /api/session/events HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n");
    let reader = tokio::spawn(async move { raw(addr, req, None).await });
    // Push once the stream is subscribed.
    let gw2 = gw.clone();
    let pusher = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(gw2.push_reply(&id, "+18095551234", "Sí, dime"));
        gw2.push_status(&id, "+18095551234", "delivered", None);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(gw2.expire(&id));
    });
    let stream = tokio::time::timeout(TIMEOUT, reader)
        .await
        .expect("stream ends after expired")
        .unwrap();
    pusher.await.unwrap();
    assert!(stream.starts_with("HTTP/1.1 200"), "{stream}");
    assert!(stream.contains("content-type: text/event-stream"));
    assert!(stream.contains("event: reply"), "{stream}");
    assert!(stream.contains("\"text\":\"Sí, dime\""));
    assert!(stream.contains("\"from\":\"+18095551234\""));
    assert!(stream.contains("event: status") && stream.contains("\"status\":\"delivered\""));
    assert!(stream.contains("event: expired"));

    // The session is gone for this browser (R4).
    let req = format!("GET /api/session HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n");
    assert!(raw(addr, req, None).await.starts_with("HTTP/1.1 404"));
    server.shutdown.cancel();
    tokio::time::timeout(TIMEOUT, server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

/// A session's fifth live stream (tabs) makes its oldest give way: that
/// one gets `reconnect` and ends; the others stay.
#[tokio::test]
async fn the_oldest_stream_of_a_session_gives_way() {
    let gw = FakeGateway::new();
    let server = start(state(&gw, config())).await;
    let addr = server.addr;
    let answer = raw(
        addr,
        post_send(addr, &send_body(&["8095551234"], "Hola")),
        None,
    )
    .await;
    let cookie = cookie_from_raw(&answer);
    let req = format!("GET /api/session/events HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n");
    let mut readers = Vec::new();
    for _ in 0..4 {
        let r = req.clone();
        readers.push(tokio::spawn(async move { raw(addr, r, None).await }));
        // In order: the first opened is the oldest.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let fifth = {
        let r = req.clone();
        tokio::spawn(async move { raw(addr, r, None).await })
    };
    let oldest = tokio::time::timeout(TIMEOUT, readers.remove(0))
        .await
        .expect("the oldest ends")
        .unwrap();
    assert!(oldest.contains("event: reconnect"), "{oldest}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(readers.iter().all(|r| !r.is_finished()), "the others stay");
    assert!(!fifth.is_finished());
    server.shutdown.cancel();
    tokio::time::timeout(TIMEOUT, server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

/// An open event stream does not hold up graceful shutdown.
#[tokio::test]
async fn shutdown_ends_open_event_streams() {
    let gw = FakeGateway::new();
    let server = start(state(&gw, config())).await;
    let addr = server.addr;
    let answer = raw(
        addr,
        post_send(addr, &send_body(&["8095551234"], "Hola")),
        None,
    )
    .await;
    let cookie = cookie_from_raw(&answer);
    let req = format!("GET /api/session/events HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n");
    let reader = tokio::spawn(async move { raw(addr, req, None).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.shutdown.cancel();
    tokio::time::timeout(TIMEOUT, server.task)
        .await
        .expect("server stops in time")
        .unwrap()
        .unwrap();
    let stream = tokio::time::timeout(TIMEOUT, reader)
        .await
        .unwrap()
        .unwrap();
    assert!(stream.starts_with("HTTP/1.1 200"));
    assert!(!stream.contains("event: expired"));
}

/// The per-client limit sees the socket peer when served for real.
#[tokio::test]
async fn real_socket_send_is_rate_limited_per_peer() {
    let gw = FakeGateway::new();
    let limits = LimitsConfig {
        sends_per_minute_per_client: 1,
        ..LimitsConfig::default()
    };
    let server = start(state(&gw, WebConfig { limits, ..config() })).await;
    let addr = server.addr;
    let body = send_body(&["8095551234"], "Hola");
    assert!(raw(addr, post_send(addr, &body), None)
        .await
        .starts_with("HTTP/1.1 202"));
    let second = raw(addr, post_send(addr, &body), None).await;
    assert!(second.starts_with("HTTP/1.1 429"), "{second}");
    assert!(second.contains("\"error\":\"rate_limited\""));
    assert!(
        second.to_ascii_lowercase().contains("retry-after: 60"),
        "{second}"
    );
    assert_eq!(gw.sends()[0].2.to_string(), "127.0.0.1");
    server.shutdown.cancel();
}

fn admin_json(method: &str, uri: &str, body: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// API keys through the admin API: made (token and webhook secret shown
/// once), listed without secrets, refused when the name is taken or bad,
/// revoked; all of it behind the admin token.
#[tokio::test]
async fn api_keys_are_made_listed_and_revoked() {
    let (gw, router) = app_with(config());
    let (res, body) = call(
        &router,
        admin_json(
            "POST",
            "/admin/api/keys",
            r#"{"name": "crm", "webhook_url": "http://127.0.0.1:9/hook"}"#,
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{body}");
    let made: Value = serde_json::from_str(&body).unwrap();
    let token = made["token"].as_str().unwrap().to_string();
    assert!(token.len() >= 32);
    assert!(made["webhook_secret"].as_str().unwrap().len() >= 32);
    let (res, body) = call(&router, admin("GET", "/admin/api/keys", Some(TOKEN))).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!body.contains(&token), "no secret in the list");
    let list: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list[0]["name"], "crm");
    assert_eq!(list[0]["webhook_url"], "http://127.0.0.1:9/hook");
    assert_eq!(list[0]["uses"], 0);
    for (body, status, reason) in [
        (r#"{"name": "crm"}"#, 409, "key_exists"),
        (r#"{"name": "a b"}"#, 400, "invalid_request"),
        (
            r#"{"name": "x", "webhook_url": "ftp://x"}"#,
            400,
            "invalid_request",
        ),
        (r#"{"nombre": "x"}"#, 400, "invalid_json"),
    ] {
        let (res, text) = call(&router, admin_json("POST", "/admin/api/keys", body)).await;
        assert_eq!(res.status().as_u16(), status, "{body}: {text}");
        assert_eq!(error_of(&text), reason);
    }
    let (res, _) = call(
        &router,
        admin("DELETE", "/admin/api/keys/crm", Some("wrong")),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let (res, _) = call(&router, admin("DELETE", "/admin/api/keys/crm", Some(TOKEN))).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(gw
        .api_keys()
        .authenticate(None, &token, chrono::Utc::now())
        .unwrap()
        .is_none());
    let (res, _) = call(&router, admin("DELETE", "/admin/api/keys/crm", Some(TOKEN))).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

/// Guessing the admin token is rate-limited per client: ten wrong tries a
/// minute are 401, then 429 with `Retry-After`; the right token still
/// works, and a missing token (a page asking for it) is not counted.
#[tokio::test]
async fn wrong_admin_tokens_are_rate_limited() {
    let (_, router) = app_with(config());
    for _ in 0..5 {
        let (res, _) = call(&router, admin("GET", "/admin/api/sessions", None)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    for i in 0..10 {
        let (res, _) = call(&router, admin("GET", "/admin/api/sessions", Some("guess"))).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "try {i}");
    }
    let (res, body) = call(&router, admin("GET", "/admin/api/sessions", Some("guess"))).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(res.headers().get("retry-after").is_some());
    let (res, _) = call(&router, admin("GET", "/admin/api/sessions", Some(TOKEN))).await;
    assert_eq!(res.status(), StatusCode::OK);
}
