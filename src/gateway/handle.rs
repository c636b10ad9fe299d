//! [`GatewayHandle`]: the running gateway behind the [`GatewayApi`] trait.
//! Session calls are messages to the supervisor actor; admin reads of the
//! outbox and the ledger go straight to the store, so a long range never
//! holds up the actor.

use std::net::IpAddr;
use std::sync::Arc;

use actix::Addr;
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use tokio::sync::broadcast;

use crate::modem::driver::DriverConfig;
use crate::modem::pool::{ModemPool, Reconfigured};
use crate::modem::types::{ModemState, ModemStatus};
use crate::session::ShortCode;

use super::api::{
    ChargeStream, GatewayApi, GatewayCounters, OutOfSessionItem, OutboxItem, SendAnswer, SendError,
    SendRequest, SessionEvent, SessionSummary, SessionView, SimView, StoreUnavailable,
};
use super::ledger::Ledger;
use super::outbound::Outbound;
use super::supervisor::{
    Counters, EndSession, Gateway, GetSession, ListSessions, Subscribe, WebSend,
};

/// The gateway as the web layer holds it.
#[derive(Clone)]
pub struct GatewayHandle {
    addr: Addr<Gateway>,
    pool: ModemPool,
    ledger: Ledger,
    outbound: Outbound,
    keys: crate::keys::ApiKeys,
    hooks: crate::hooks::Hooks,
    mqtt: Option<crate::mqtt::Outbox>,
    sims: super::sims::SimOps,
    watching: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Charges read per blocking step of a stream.
const CHARGES_PER_CHUNK: usize = 256;

impl GatewayHandle {
    pub fn new(
        addr: Addr<Gateway>,
        pool: ModemPool,
        ledger: Ledger,
        outbound: Outbound,
        keys: crate::keys::ApiKeys,
        hooks: crate::hooks::Hooks,
        mqtt: Option<crate::mqtt::Outbox>,
    ) -> Self {
        let sims = super::sims::SimOps::new(
            pool.clone(),
            std::sync::Arc::new(crate::clock::SystemClock),
            Vec::new(),
        );
        GatewayHandle {
            addr,
            pool,
            ledger,
            outbound,
            keys,
            hooks,
            mqtt,
            sims,
            watching: Default::default(),
        }
    }

    /// Watches the balances of the modems of `cfg` that have a
    /// `balance_ussd` (again on SIGHUP, with the new rules).
    pub fn watch_balances(&self, cfg: &crate::config::Config) {
        self.sims.set_rules(super::sims::SimOps::rules_of(cfg));
        if !self
            .watching
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            self.sims.start();
        }
    }

    /// What waits to be published on MQTT (with `[mqtt]`).
    pub fn mqtt_outbox(&self) -> Option<crate::mqtt::Outbox> {
        self.mqtt.clone()
    }

    /// SIGHUP changed the `[[modem]]` or `[[smpp]]` list: new modems and
    /// binds start and take new conversations, changed ones restart,
    /// removed ones take no new conversation, hand what they have not
    /// started to live short codes, and stop once no live conversation is
    /// bound to them.
    pub async fn reconfigure(
        &self,
        drivers: Vec<DriverConfig>,
        binds: Vec<crate::config::SmppConfig>,
    ) -> Reconfigured {
        let codes = drivers
            .iter()
            .map(|d| ShortCode(d.short_code.clone()))
            .chain(
                binds
                    .iter()
                    .flat_map(|b| b.short_codes.iter().map(|c| ShortCode(c.clone()))),
            )
            .collect();
        let mut done = self.pool.reconfigure(drivers).await;
        let binds = self.pool.reconfigure_smpp(binds).await;
        done.added.extend(binds.added);
        done.restarted.extend(binds.restarted);
        done.removed.extend(binds.removed);
        let _ = self.addr.send(super::supervisor::SetPool(codes)).await;
        done
    }

    /// SIGHUP: the modems' caps and keep-alives as configured now.
    pub async fn reconfigure_sims(&self, cfg: &crate::config::Config) {
        let caps = crate::session::CoreConfig::caps_of_config(cfg);
        let _ = self
            .addr
            .send(super::supervisor::SetSims {
                keepalive: super::supervisor::KeepAlive::from_config(cfg),
                caps,
            })
            .await;
        self.watch_balances(cfg);
    }

    /// Saves, flushes and stops the supervisor, then stops the modems.
    pub async fn shutdown(&self) {
        self.hooks.stop();
        let _ = self.addr.send(super::supervisor::Shutdown).await;
        self.pool.shutdown().await;
    }
}

fn logged<T>(what: &str, r: Result<T, crate::store::StoreError>) -> Result<T, StoreUnavailable> {
    r.map_err(|e| {
        tracing::error!(error = %e, "cannot read {what}");
        StoreUnavailable
    })
}

impl GatewayApi for GatewayHandle {
    fn send(
        &self,
        session: Option<String>,
        req: SendRequest,
        client: IpAddr,
    ) -> BoxFuture<'_, Result<SendAnswer, SendError>> {
        Box::pin(async move {
            tracing::debug!(%client, recipients = req.to.len(), "web send");
            self.addr
                .send(WebSend {
                    session,
                    request: req,
                })
                .await
                .unwrap_or(Err(SendError::Unavailable))
        })
    }

    fn session(&self, id: &str) -> BoxFuture<'_, Option<SessionView>> {
        let id = id.to_string();
        Box::pin(async move { self.addr.send(GetSession(id)).await.ok().flatten() })
    }

    fn subscribe(&self, id: &str) -> BoxFuture<'_, Option<broadcast::Receiver<Arc<SessionEvent>>>> {
        let id = id.to_string();
        Box::pin(async move { self.addr.send(Subscribe(id)).await.ok().flatten() })
    }

    fn sessions(&self) -> BoxFuture<'_, Vec<SessionSummary>> {
        Box::pin(async move { self.addr.send(ListSessions).await.unwrap_or_default() })
    }

    fn admin_session(&self, id: &str) -> BoxFuture<'_, Option<SessionView>> {
        self.session(id)
    }

    fn end_session(&self, id: &str) -> BoxFuture<'_, bool> {
        let id = id.to_string();
        Box::pin(async move { self.addr.send(EndSession(id)).await.unwrap_or(false) })
    }

    fn modems(&self) -> BoxFuture<'_, Vec<ModemStatus>> {
        Box::pin(async move { self.pool.statuses() })
    }

    fn api_keys(&self) -> crate::keys::ApiKeys {
        self.keys.clone()
    }

    fn hooks(&self) -> crate::hooks::Hooks {
        self.hooks.clone()
    }

    fn outbox(&self) -> BoxFuture<'_, Result<Vec<OutboxItem>, StoreUnavailable>> {
        let outbound = self.outbound.clone();
        Box::pin(async move {
            let r = tokio::task::spawn_blocking(move || outbound.list())
                .await
                .map_err(|_| StoreUnavailable)?;
            logged("the outbox", r)
        })
    }

    fn out_of_session(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> BoxFuture<'_, Result<Vec<OutOfSessionItem>, StoreUnavailable>> {
        let ledger = self.ledger.clone();
        Box::pin(async move {
            let r = tokio::task::spawn_blocking(move || {
                ledger
                    .out_of_session(from, to)
                    .collect::<Result<Vec<_>, _>>()
            })
            .await
            .map_err(|_| StoreUnavailable)?;
            logged("out-of-session records", r)
        })
    }

    fn charges(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> BoxFuture<'_, Result<ChargeStream, StoreUnavailable>> {
        let iter = self.ledger.charges(from, to);
        Box::pin(async move {
            // Read in chunks off the async threads; a record that cannot
            // be read ends the stream with an error.
            let chunks = futures_util::stream::unfold(Some(iter), |state| async move {
                let mut iter = state?;
                let joined = tokio::task::spawn_blocking(move || {
                    let chunk: Vec<_> = iter.by_ref().take(CHARGES_PER_CHUNK).collect();
                    (chunk, iter)
                })
                .await;
                let Ok((chunk, iter)) = joined else {
                    // The reader died: the answer ends with an error, never
                    // as if it were complete.
                    tracing::error!("the charge reader stopped");
                    let failed: Vec<Result<_, StoreUnavailable>> = vec![Err(StoreUnavailable)];
                    return Some((futures_util::stream::iter(failed), None));
                };
                if chunk.is_empty() {
                    return None;
                }
                let failed = chunk.iter().any(Result::is_err);
                let items: Vec<Result<_, StoreUnavailable>> = chunk
                    .into_iter()
                    .map(|r| logged("a charge record", r))
                    .collect();
                Some((futures_util::stream::iter(items), (!failed).then_some(iter)))
            });
            Ok(chunks.flatten().boxed())
        })
    }

    fn sims(&self) -> BoxFuture<'_, Vec<SimView>> {
        Box::pin(async move {
            let usages = self
                .addr
                .send(super::supervisor::SimUsages)
                .await
                .unwrap_or_default();
            let mut balances = self.sims.balances();
            usages
                .into_iter()
                .map(|usage| SimView {
                    balance: balances.remove(&usage.short_code),
                    usage,
                })
                .collect()
        })
    }

    fn ussd_asked(&self) -> std::collections::BTreeMap<(String, &'static str), u64> {
        self.sims.asked()
    }

    fn lift_caps(&self, short_code: &str) -> BoxFuture<'_, Result<(), String>> {
        let code = short_code.to_string();
        Box::pin(async move {
            self.addr
                .send(super::supervisor::LiftCaps(code))
                .await
                .unwrap_or_else(|_| Err("the gateway is stopping".into()))
        })
    }

    fn ussd(
        &self,
        short_code: &str,
        code: &str,
    ) -> BoxFuture<'_, Result<crate::modem::types::UssdAnswer, crate::modem::types::UssdError>>
    {
        let (short_code, code) = (short_code.to_string(), code.to_string());
        Box::pin(async move { self.sims.ussd(&short_code, &code).await })
    }

    fn counters(&self) -> BoxFuture<'_, GatewayCounters> {
        Box::pin(async move { self.addr.send(Counters).await.unwrap_or_default() })
    }

    fn ready(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            let store_open = self
                .addr
                .send(Counters)
                .await
                .map(|c| c.store_open)
                .unwrap_or(false);
            store_open
                && self
                    .pool
                    .statuses()
                    .iter()
                    .any(|s| s.state == ModemState::Up)
        })
    }
}
