//! Operations endpoints: `/metrics` (Prometheus text), `/healthz`,
//! `/readyz`, and the middleware that counts HTTP requests by route.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::Shared;

pub(crate) fn router() -> Router<Shared> {
    Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// Counts each routed request by route template, method and status.
pub(crate) async fn count_requests(
    State(ctx): State<Shared>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    ctx.state.metrics.record(|| {
        metrics::counter!("smsgate_http_requests_total",
            "route" => route, "method" => method, "status" => status)
        .increment(1);
    });
    res
}

/// Prometheus text: HTTP requests, gateway counters, per-modem counters.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String)))]
pub(crate) async fn metrics_text(State(ctx): State<Shared>) -> Response {
    let gw = &ctx.state.gateway;
    let counters = gw.counters().await;
    let modems = gw.modems().await;
    let sims = gw.sims().await;
    let asked = gw.ussd_asked();
    ctx.state.metrics.record(|| {
        metrics::gauge!("smsgate_live_sessions").set(counters.live_sessions as f64);
        metrics::gauge!("smsgate_queue_depth").set(counters.queue_depth as f64);
        metrics::counter!("smsgate_out_of_session_replies_total")
            .absolute(counters.out_of_session_replies);
        metrics::counter!("smsgate_mo_charges_total").absolute(counters.mo_charges);
        metrics::gauge!("smsgate_store_open").set(if counters.store_open { 1.0 } else { 0.0 });
        metrics::counter!("smsgate_store_errors_total").absolute(counters.store_errors);
        metrics::counter!("smsgate_timer_wakeups_total").absolute(counters.timer_wakeups);
        metrics::counter!("smsgate_store_flushes_total").absolute(counters.store_flushes);
        let conns = &ctx.state.conns;
        metrics::gauge!("smsgate_http_connections_open").set(conns.total() as f64);
        metrics::counter!("smsgate_http_connections_refused_total")
            .absolute(conns.refused.load(std::sync::atomic::Ordering::Relaxed));
        for m in &modems {
            let sc = m.short_code.clone();
            metrics::counter!("smsgate_modem_sent_total", "short_code" => sc.clone())
                .absolute(m.sent);
            metrics::counter!("smsgate_modem_received_total", "short_code" => sc.clone())
                .absolute(m.received);
            metrics::counter!("smsgate_modem_failed_total", "short_code" => sc.clone())
                .absolute(m.failed);
            metrics::gauge!("smsgate_modem_up", "short_code" => sc.clone(), "transport" => m.transport)
                .set(if m.state == crate::modem::types::ModemState::Up { 1.0 } else { 0.0 });
            if let Some(b) = &m.smpp {
                metrics::gauge!("smsgate_smpp_in_flight", "short_code" => sc.clone())
                    .set(f64::from(b.in_flight));
                metrics::gauge!("smsgate_smpp_window", "short_code" => sc.clone())
                    .set(f64::from(b.window));
                metrics::gauge!("smsgate_smpp_submits_per_second", "short_code" => sc.clone())
                    .set(b.submits_per_second);
                metrics::counter!("smsgate_smpp_throttled_total", "short_code" => sc.clone())
                    .absolute(b.throttled);
                metrics::counter!("smsgate_smpp_errors_total", "short_code" => sc.clone())
                    .absolute(b.errors);
                metrics::counter!("smsgate_smpp_binds_total", "short_code" => sc).absolute(b.binds);
            }
        }
        for s in &sims {
            let u = &s.usage;
            let sc = u.short_code.clone();
            metrics::gauge!("smsgate_sim_sent_today", "short_code" => sc.clone())
                .set(f64::from(u.sent_today));
            metrics::gauge!("smsgate_sim_sent_this_month", "short_code" => sc.clone())
                .set(f64::from(u.sent_this_month));
            metrics::gauge!("smsgate_sim_recipients_this_month", "short_code" => sc.clone())
                .set(f64::from(u.recipients_this_month));
            metrics::gauge!("smsgate_sim_waiting_for_cap", "short_code" => sc.clone())
                .set(u.waiting_for_cap as f64);
            for (kind, cap) in [
                (crate::session::CapKind::Day, u.caps.per_day),
                (crate::session::CapKind::Month, u.caps.per_month),
                (crate::session::CapKind::Recipients, u.caps.recipients_per_month),
            ] {
                if cap == 0 {
                    continue;
                }
                let labels = [("short_code", sc.clone()), ("cap", kind.as_str().to_string())];
                metrics::gauge!("smsgate_sim_cap", &labels).set(f64::from(cap));
                metrics::gauge!("smsgate_sim_cap_reached", &labels)
                    .set(if u.reached.contains(&kind) { 1.0 } else { 0.0 });
                metrics::counter!("smsgate_sim_cap_reached_total", &labels)
                    .absolute(u.crossings.get(&kind).copied().unwrap_or(0));
            }
            metrics::counter!("smsgate_sim_keepalives_total", "short_code" => sc.clone(), "result" => "sent")
                .absolute(u.keepalives_sent);
            metrics::counter!("smsgate_sim_keepalives_total", "short_code" => sc.clone(), "result" => "failed")
                .absolute(u.keepalives_failed);
            if let Some(b) = &s.balance {
                if let Some(amount) = b.balance.amount {
                    use rust_decimal::prelude::ToPrimitive;
                    metrics::gauge!("smsgate_sim_balance", "short_code" => sc.clone())
                        .set(amount.to_f64().unwrap_or(f64::NAN));
                }
                if let Some(at) = b.balance.checked_at {
                    metrics::gauge!("smsgate_sim_balance_checked_timestamp_seconds", "short_code" => sc.clone())
                        .set(at.timestamp() as f64);
                }
                metrics::gauge!("smsgate_sim_balance_low", "short_code" => sc.clone())
                    .set(if b.balance.low { 1.0 } else { 0.0 });
                metrics::gauge!("smsgate_sim_balance_stale", "short_code" => sc.clone())
                    .set(if b.balance.stale { 1.0 } else { 0.0 });
            }
        }
        for ((sc, outcome), n) in &asked {
            metrics::counter!("smsgate_ussd_requests_total", "short_code" => sc.clone(), "outcome" => *outcome)
                .absolute(*n);
        }
    });
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        ctx.state.metrics.render(),
    )
        .into_response()
}

/// 200 while the process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "up", body = String)))]
pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

/// 200 when the gateway is ready (store open, a modem up), else 503.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "ready", body = String), (status = 503, description = "not ready", body = String)))]
pub(crate) async fn readyz(State(ctx): State<Shared>) -> Response {
    if ctx.state.gateway.ready().await {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}
