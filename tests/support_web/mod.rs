//! Helpers of the web tests: an app over the fake gateway, requests through
//! `oneshot`, and a real server on 127.0.0.1:0.
#![allow(dead_code)]

pub mod webdriver;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response};
use http_body_util::BodyExt;
use smsgate::config::LimitsConfig;
use smsgate::web::testing::FakeGateway;
use smsgate::web::{app, WebConfig, WebState};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

pub const TOKEN: &str = "s3cret-admin-token";
/// Every wait of these tests is bounded by this.
pub const TIMEOUT: Duration = Duration::from_secs(10);

pub fn config() -> WebConfig {
    WebConfig {
        admin_token: Some(TOKEN.into()),
        limits: LimitsConfig::default(),
        country: "DO".into(),
        trusted_proxies: Vec::new(),
        promises: Default::default(),
        conn: Default::default(),
    }
}

pub fn state(gw: &Arc<FakeGateway>, config: WebConfig) -> WebState {
    WebState::new(gw.clone(), config)
}

/// One request through the router, no socket; the body as text.
pub async fn call(router: &axum::Router, req: Request<Body>) -> (Response<()>, String) {
    let res = tokio::time::timeout(TIMEOUT, router.clone().oneshot(req))
        .await
        .expect("answer in time")
        .expect("infallible");
    let (parts, body) = res.into_parts();
    let bytes = tokio::time::timeout(TIMEOUT, body.collect())
        .await
        .expect("body in time")
        .expect("body")
        .to_bytes();
    (
        Response::from_parts(parts, ()),
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

pub fn json_post(uri: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

/// The `smsgate_session=...` pair of a `Set-Cookie` header.
pub fn cookie_of<B>(res: &Response<B>) -> String {
    let v = res
        .headers()
        .get("set-cookie")
        .expect("set-cookie")
        .to_str()
        .unwrap();
    v.split(';').next().unwrap().to_string()
}

/// A real server on 127.0.0.1:0; cancel the token to stop it.
pub struct Server {
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub async fn start(state: WebState) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = state.shutdown.clone();
    let task = tokio::spawn(smsgate::web::serve(listener, state));
    Server {
        addr,
        shutdown,
        task,
    }
}

pub fn app_of(state: WebState) -> axum::Router {
    app(state)
}
