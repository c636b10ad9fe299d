//! systemd integration of `smsgate serve` (`Type=notify`): READY=1 once the
//! store is open and HTTP listens, a periodic `STATUS=` line (modems up /
//! total, live sessions, queue), and the watchdog: WATCHDOG=1 is sent only
//! when the gateway actor answers a health query within [`HEALTH_TIMEOUT`],
//! so a stuck actor system stops feeding it and systemd restarts the
//! service. Without `NOTIFY_SOCKET` (not under systemd) every notification
//! is a no-op. Owns nothing but these notifications.

use std::time::Duration;

use sd_notify::NotifyState;

use crate::gateway::api::GatewayApi;
use crate::modem::types::ModemState;

/// How long the gateway may take to answer the health query.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);
/// How often STATUS= is refreshed when there is no watchdog.
pub const STATUS_INTERVAL: Duration = Duration::from_secs(10);

/// Tells systemd the service is ready.
pub fn ready(status: &str) {
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Tells systemd the service is stopping.
pub fn stopping() {
    notify(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

fn notify(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!(error = %e, "sd_notify failed");
    }
}

/// The check interval: a third of the watchdog period (systemd advises at
/// most half), or [`STATUS_INTERVAL`] without a watchdog.
pub fn interval(watchdog: Option<Duration>) -> Duration {
    match watchdog {
        Some(w) => (w / 3).clamp(Duration::from_millis(100), STATUS_INTERVAL),
        None => STATUS_INTERVAL,
    }
}

/// One health check: `Some(status line)` when the gateway answered within
/// `within` with its store open, `None` when it is stuck or broken.
pub async fn check(gateway: &dyn GatewayApi, within: Duration) -> Option<String> {
    let counters = tokio::time::timeout(within, gateway.counters())
        .await
        .ok()?;
    if !counters.store_open {
        return None;
    }
    let modems = gateway.modems().await;
    let up = modems.iter().filter(|m| m.state == ModemState::Up).count();
    Some(format!(
        "{up}/{} modems up, {} live sessions, {} queued",
        modems.len(),
        counters.live_sessions,
        counters.queue_depth
    ))
}

/// Runs forever: every [`interval`], checks the gateway; healthy → STATUS=
/// and (with a watchdog) WATCHDOG=1; unhealthy → a logged warning and no
/// WATCHDOG=1, so systemd restarts us once the watchdog period runs out.
pub async fn supervise(gateway: &dyn GatewayApi) {
    let watchdog = sd_notify::watchdog_enabled();
    if watchdog.is_none() && std::env::var_os("NOTIFY_SOCKET").is_none() {
        // Not run by systemd: nobody reads STATUS=, and an idle appliance
        // should not wake for it.
        return;
    }
    if let Some(w) = watchdog {
        tracing::info!(watchdog = ?w, "systemd watchdog enabled");
    }
    let mut ticks = tokio::time::interval(interval(watchdog));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match check(gateway, HEALTH_TIMEOUT).await {
            Some(status) => {
                if watchdog.is_some() {
                    notify(&[NotifyState::Watchdog, NotifyState::Status(&status)]);
                } else {
                    notify(&[NotifyState::Status(&status)]);
                }
            }
            None => {
                tracing::warn!("health check failed: the gateway did not answer in time");
                notify(&[NotifyState::Status(
                    "unhealthy: the gateway does not answer",
                )]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::sync::Arc;

    use chrono::{DateTime, Utc};
    use futures_util::future::BoxFuture;
    use tokio::sync::broadcast;

    use super::*;
    use crate::gateway::api::*;
    use crate::modem::types::ModemStatus;

    /// A gateway whose actor answers (or is stuck, never answering).
    struct Probe {
        stuck: bool,
        store_open: bool,
    }

    impl GatewayApi for Probe {
        fn send(
            &self,
            _: Option<String>,
            _: SendRequest,
            _: IpAddr,
        ) -> BoxFuture<'_, Result<SendAnswer, SendError>> {
            Box::pin(async { Err(SendError::Unavailable) })
        }
        fn session(&self, _: &str) -> BoxFuture<'_, Option<SessionView>> {
            Box::pin(async { None })
        }
        fn api_keys(&self) -> crate::keys::ApiKeys {
            crate::keys::ApiKeys::open(&crate::store::Store::temporary().unwrap()).unwrap()
        }
        fn hooks(&self) -> crate::hooks::Hooks {
            let store = crate::store::Store::temporary().unwrap();
            crate::hooks::Hooks::open(&store, self.api_keys()).unwrap()
        }
        fn subscribe(
            &self,
            _: &str,
        ) -> BoxFuture<'_, Option<broadcast::Receiver<Arc<SessionEvent>>>> {
            Box::pin(async { None })
        }
        fn sessions(&self) -> BoxFuture<'_, Vec<SessionSummary>> {
            Box::pin(async { Vec::new() })
        }
        fn admin_session(&self, _: &str) -> BoxFuture<'_, Option<SessionView>> {
            Box::pin(async { None })
        }
        fn end_session(&self, _: &str) -> BoxFuture<'_, bool> {
            Box::pin(async { false })
        }
        fn modems(&self) -> BoxFuture<'_, Vec<ModemStatus>> {
            Box::pin(async { Vec::new() })
        }
        fn outbox(&self) -> BoxFuture<'_, Result<Vec<OutboxItem>, StoreUnavailable>> {
            Box::pin(async { Ok(Vec::new()) })
        }
        fn out_of_session(
            &self,
            _: Option<DateTime<Utc>>,
            _: Option<DateTime<Utc>>,
        ) -> BoxFuture<'_, Result<Vec<OutOfSessionItem>, StoreUnavailable>> {
            Box::pin(async { Ok(Vec::new()) })
        }
        fn charges(
            &self,
            _: Option<DateTime<Utc>>,
            _: Option<DateTime<Utc>>,
        ) -> BoxFuture<'_, Result<ChargeStream, StoreUnavailable>> {
            Box::pin(async { Err(StoreUnavailable) })
        }
        fn counters(&self) -> BoxFuture<'_, GatewayCounters> {
            Box::pin(async move {
                if self.stuck {
                    std::future::pending::<()>().await;
                }
                GatewayCounters {
                    live_sessions: 2,
                    queue_depth: 1,
                    store_open: self.store_open,
                    ..Default::default()
                }
            })
        }
        fn ready(&self) -> BoxFuture<'_, bool> {
            Box::pin(async { true })
        }
    }

    #[tokio::test]
    async fn a_stuck_gateway_does_not_feed_the_watchdog() {
        let within = Duration::from_millis(50);
        let healthy = Probe {
            stuck: false,
            store_open: true,
        };
        assert_eq!(
            check(&healthy, within).await.as_deref(),
            Some("0/0 modems up, 2 live sessions, 1 queued")
        );
        let stuck = Probe {
            stuck: true,
            store_open: true,
        };
        assert_eq!(check(&stuck, within).await, None);
        let closed = Probe {
            stuck: false,
            store_open: false,
        };
        assert_eq!(check(&closed, within).await, None);
    }

    #[test]
    fn watchdog_is_fed_three_times_per_period() {
        assert_eq!(
            interval(Some(Duration::from_secs(30))),
            Duration::from_secs(10)
        );
        assert_eq!(
            interval(Some(Duration::from_secs(3))),
            Duration::from_secs(1)
        );
        assert_eq!(interval(None), STATUS_INTERVAL);
    }
}
