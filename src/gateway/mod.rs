//! The gateway: wires the modem pool, the session core and the store, and
//! serves the web layer through [`api::GatewayApi`].
//!
//! - [`api`]: the trait the web layer depends on and its data.
//! - [`supervisor`]: the actor that sequences the session core with the
//!   store, the modems and the live event channels.
//! - [`handle`]: the running gateway behind the [`api::GatewayApi`] trait.
//! - [`journal`]: the session core made durable by journal and snapshots:
//!   the one door to the session state.
//! - [`inbound`]: incoming parts: fingerprints and multipart assembly.
//! - [`outbound`]: outbox, retry policy, delivery-report tracking, and
//!   the [`outbound::SmsSender`] trait the modems are reached through.
//! - [`ledger`]: charges and out-of-session records by time.
//! - [`records`], [`views`]: what it persists, and the API's shapes.

pub mod api;
pub mod balance;
pub mod handle;
pub mod inbound;
pub mod journal;
pub mod ledger;
pub mod outbound;
pub mod records;
pub mod sims;
pub mod supervisor;
pub mod views;

#[cfg(test)]
mod tests;

/// 2026-11-25 10:00 UTC plus `s` seconds: the time unit tests of the
/// gateway's parts run at.
#[cfg(test)]
pub(crate) fn t(s: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
        .expect("a fixed time")
        .to_utc()
        + chrono::Duration::seconds(s)
}

use std::sync::Arc;

use actix::Actor;
use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::modem::pool::{ModemPool, PoolEvent};
use crate::session::SessionCore;
use crate::store::{Store, StoreError};

/// Starts the supervisor (inside an actix System) over `store`, restoring
/// what it holds, and returns its handle.
pub fn start(
    core: SessionCore,
    store: Store,
    pool: ModemPool,
    events: mpsc::UnboundedReceiver<PoolEvent>,
    clock: Arc<dyn Clock>,
    settings: supervisor::Settings,
) -> Result<handle::GatewayHandle, StoreError> {
    let keys = crate::keys::ApiKeys::open(&store)?;
    let gateway = supervisor::Gateway::new(
        core,
        store,
        Arc::new(pool.clone()),
        clock.clone(),
        events,
        settings,
    )?;
    let ledger = gateway.ledger().clone();
    let outbound = gateway.outbound().clone();
    let hooks = gateway.hooks().clone();
    let mqtt = gateway.mqtt_outbox();
    if let Err(e) = hooks.start(clock) {
        tracing::error!(error = %e, "cannot start the webhook worker; events stay queued");
    }
    Ok(handle::GatewayHandle::new(
        gateway.start(),
        pool,
        ledger,
        outbound,
        keys,
        hooks,
        mqtt,
    ))
}
