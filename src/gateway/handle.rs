//! [`GatewayHandle`]: the running gateway behind the [`GatewayApi`] trait,
//! each call a message to the supervisor actor.

use std::net::IpAddr;

use actix::Addr;
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use tokio::sync::broadcast;

use crate::modem::pool::ModemPool;
use crate::modem::types::{ModemState, ModemStatus};

use super::api::{
    ChargeItem, GatewayApi, GatewayCounters, OutOfSessionItem, OutboxItem, SendAnswer, SendError,
    SendRequest, SessionEvent, SessionSummary, SessionView,
};
use super::supervisor::{
    Counters, EndSession, Gateway, GetSession, ListCharges, ListOutOfSession, ListOutbox,
    ListSessions, Subscribe, WebSend,
};

/// The gateway as the web layer holds it.
#[derive(Clone)]
pub struct GatewayHandle {
    addr: Addr<Gateway>,
    pool: ModemPool,
}

impl GatewayHandle {
    pub fn new(addr: Addr<Gateway>, pool: ModemPool) -> Self {
        GatewayHandle { addr, pool }
    }

    /// Saves, flushes and stops the supervisor, then stops the modems.
    pub async fn shutdown(&self) {
        let _ = self.addr.send(super::supervisor::Shutdown).await;
        self.pool.shutdown().await;
    }
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

    fn subscribe(&self, id: &str) -> BoxFuture<'_, Option<broadcast::Receiver<SessionEvent>>> {
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

    fn outbox(&self) -> BoxFuture<'_, Vec<OutboxItem>> {
        Box::pin(async move { self.addr.send(ListOutbox).await.unwrap_or_default() })
    }

    fn out_of_session(&self) -> BoxFuture<'_, Vec<OutOfSessionItem>> {
        Box::pin(async move { self.addr.send(ListOutOfSession).await.unwrap_or_default() })
    }

    fn charges(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> BoxFuture<'_, Vec<ChargeItem>> {
        Box::pin(async move {
            self.addr
                .send(ListCharges { from, to })
                .await
                .unwrap_or_default()
        })
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
