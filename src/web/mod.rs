//! The web layer (axum): the public send page and its live replies, the
//! public JSON API, the admin API, `/metrics`, `/healthz` and `/readyz`.
//!
//! Only this module knows HTTP. It talks to the gateway through
//! [`GatewayApi`] alone (never to modems, sessions or the store), so its
//! tests put [`testing::FakeGateway`] behind it.
//!
//! - [`app`]: the whole router, built from one `router()` per resource.
//! - [`serve`]: runs it on a listener with graceful shutdown.
//! - [`error`]: the one `ApiError` of this layer.

mod admin;
mod api_v1;
mod assets;
mod client;
pub mod error;
pub mod help;
mod i18n;
mod kannel;
pub mod limits;
pub mod listener;
pub mod numbers;
mod openapi;
mod ops;
mod page;
mod public;
mod streams;
pub mod testing;
pub mod tls;

use std::sync::Arc;

use axum::Router;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, LimitsConfig};
use crate::gateway::api::GatewayApi;

pub use client::public_id;
pub use error::ApiError;
pub use openapi::openapi_json;
pub use public::{checked_send, live_conversation, SendQuota};

/// Name of the cookie that binds a browser to its web session (R2).
pub const SESSION_COOKIE: &str = "smsgate_session";
/// Largest request body accepted (413 beyond).
pub const BODY_LIMIT: usize = 64 * 1024;

/// The settings of `Config` the web layer uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebConfig {
    /// `http.admin_token`; the admin API answers 401 to everything while unset.
    pub admin_token: Option<String>,
    /// `limits.*` (R13).
    pub limits: LimitsConfig,
    /// `numbers.country`: national numbers of this country are accepted.
    pub country: String,
    /// `http.trusted_proxies`: only from these is `X-Forwarded-For` and
    /// `X-Forwarded-Proto` believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// What the page and the help page promise (price, idle timeout...).
    pub promises: help::Promises,
    /// The listener's connection caps and timeouts.
    pub conn: listener::ConnLimits,
}

impl WebConfig {
    pub fn from_config(config: &Config) -> Self {
        WebConfig {
            admin_token: config.http.admin_token.clone().filter(|t| !t.is_empty()),
            limits: config.limits.clone(),
            country: config.numbers.country.clone(),
            // `config check` refuses a bad entry; one that slips through
            // trusts nothing more.
            trusted_proxies: config
                .http
                .trusted_proxies
                .iter()
                .filter_map(|p| crate::config::parse_net(p).ok())
                .collect(),
            promises: help::Promises::from_config(config),
            conn: listener::ConnLimits {
                max_connections_per_client: config.http.max_connections_per_client as usize,
                max_connections: config.http.max_connections as usize,
                header_timeout: config.http.header_timeout,
                keepalive_timeout: config.http.keepalive_timeout,
                body_timeout: config.http.body_timeout,
                write_timeout: config.http.write_timeout,
                max_streams_per_session: config.http.max_streams_per_session as usize,
                max_streams_per_client: config.http.max_streams_per_client as usize,
            },
        }
    }
}

/// The Prometheus registry of the web layer: a local recorder (never the
/// global one, so tests can run many apps side by side).
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            recorder: Arc::new(PrometheusBuilder::new().build_recorder()),
        }
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `f` with this registry as the `metrics` recorder.
    pub(crate) fn record<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&*self.recorder, f)
    }

    /// The Prometheus text exposition of everything recorded.
    pub fn render(&self) -> String {
        self.recorder.handle().render()
    }
}

/// Everything the web layer needs; cheap to clone.
#[derive(Clone)]
pub struct WebState {
    pub gateway: Arc<dyn GatewayApi>,
    pub config: WebConfig,
    pub metrics: Metrics,
    /// Mounted at `/dev/phones` when set (the embedded emulator's phones).
    pub dev_phones: Option<Router>,
    /// R13's quotas, shared by every entry point (page, API, Kannel, MQTT).
    pub limiters: Arc<limits::Limiters>,
    /// Open connections per client, and refusals (`/metrics`).
    pub conns: Arc<listener::ConnCounts>,
    /// Open live streams, per session and client.
    pub streams: Arc<streams::Streams>,
    /// Cancelled on shutdown: ends every open SSE stream, so graceful
    /// shutdown is not held up by them.
    pub shutdown: CancellationToken,
}

impl WebState {
    /// A state with a fresh metrics registry, no dev phones and a new
    /// shutdown token.
    pub fn new(gateway: Arc<dyn GatewayApi>, config: WebConfig) -> Self {
        let limiters = Arc::new(limits::Limiters::new(&config.limits));
        WebState {
            gateway,
            config,
            metrics: Metrics::new(),
            dev_phones: None,
            limiters,
            conns: Arc::default(),
            streams: Arc::default(),
            shutdown: CancellationToken::new(),
        }
    }
}

/// What handlers share.
pub(crate) struct Ctx {
    pub state: WebState,
}

pub(crate) type Shared = Arc<Ctx>;

/// The whole web application. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` (see [`serve`]) so
/// the per-client limit sees the peer address.
pub fn app(state: WebState) -> Router {
    let (all, _) = apps(state, false);
    all
}

/// The application split for `[http] admin_bind`: with `split`, the first
/// router is the public one (no `/admin`, no `/metrics`) and the second
/// serves the admin page and API, `/metrics` and the health checks on
/// their own address; without it, the first is everything and the second
/// is empty.
pub fn apps(state: WebState, split: bool) -> (Router, Router) {
    let dev_phones = state.dev_phones.clone();
    let trusted = Arc::new(state.config.trusted_proxies.clone());
    let ctx: Shared = Arc::new(Ctx { state });
    let finish = |routes: Router<Shared>| {
        routes
            .route_layer(axum::middleware::from_fn_with_state(
                ctx.clone(),
                ops::count_requests,
            ))
            .fallback(|| async { ApiError::not_found() })
            .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
            .layer(axum::middleware::map_response(client::security_headers))
            .layer(axum::middleware::from_fn_with_state(
                trusted.clone(),
                client::resolve,
            ))
            .with_state(ctx.clone())
    };
    let public = Router::new()
        .merge(page::router())
        .merge(help::router())
        .merge(assets::router())
        .merge(public::router())
        .merge(api_v1::router())
        .merge(kannel::router());
    let admin = Router::new()
        .merge(admin::router(ctx.clone()))
        .merge(ops::router());
    let (first, second) = if split {
        // The page keeps its health checks (a load balancer asks there);
        // the admin page needs its stylesheet.
        let public = public
            .route("/healthz", axum::routing::get(ops::healthz))
            .route("/readyz", axum::routing::get(ops::readyz));
        (finish(public), finish(admin.merge(assets::router())))
    } else {
        (finish(public.merge(admin)), Router::new())
    };
    let first = match dev_phones {
        Some(phones) => first.nest("/dev/phones", phones),
        None => first,
    };
    (first, second)
}

/// Serves [`app`] on `listener` until `state.shutdown` is cancelled, then
/// shuts down gracefully (open SSE streams end on the same token).
pub async fn serve(listener: TcpListener, state: WebState) -> std::io::Result<()> {
    let shutdown = state.shutdown.clone();
    let limits = state.config.conn.clone();
    let counts = state.conns.clone();
    listener::serve(listener, app(state), limits, counts, shutdown, None).await
}

/// The plain-HTTP side of `[http] redirect_bind`: every request is sent to
/// the same path on HTTPS at `https_port` (308, so a POST stays a POST).
pub fn redirect_app(https_port: u16) -> Router {
    use axum::http::{header, StatusCode, Uri};
    use axum::response::IntoResponse;
    Router::new().fallback(move |headers: axum::http::HeaderMap, uri: Uri| async move {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| {
                // The host without its port (an IPv6 literal keeps its brackets).
                match h.rsplit_once(':') {
                    Some((name, port))
                        if !name.is_empty()
                            && port.bytes().all(|b| b.is_ascii_digit())
                            && !h.ends_with(']') =>
                    {
                        name.to_string()
                    }
                    _ => h.to_string(),
                }
            })
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
            .unwrap_or_else(|| "localhost".into());
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let port = if https_port == 443 {
            String::new()
        } else {
            format!(":{https_port}")
        };
        (
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, format!("https://{host}{port}{path}"))],
        )
            .into_response()
    })
}
