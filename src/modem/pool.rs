//! The modem pool: one `Modem` actor per configured short code. It routes
//! each outgoing message to the modem of its short code (the short code is
//! how replies find their session, so a message never changes modem: if
//! that modem is down, the message waits for it), and merges the modems'
//! events into one stream tagged with the short code.

use std::collections::BTreeMap;

use actix::prelude::*;
use tokio::sync::mpsc;

use super::actor::{Modem, SendSms, StopModem};
use super::driver::DriverConfig;
use super::types::{ModemEvent, ModemStatus, OutgoingSms, SendOutcome, SharedStatus};

/// An event of one modem of the pool.
#[derive(Debug)]
pub struct PoolEvent {
    pub short_code: String,
    pub event: ModemEvent,
}

/// Errors of the pool.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("no modem serves short code {0}")]
    NoSuchShortCode(String),
    #[error("the modem of {0} is not running")]
    Stopped(String),
}

struct Member {
    addr: Addr<Modem>,
    status: SharedStatus,
}

/// The running modems. Cheap to clone.
#[derive(Clone)]
pub struct ModemPool {
    members: std::sync::Arc<BTreeMap<String, Member>>,
}

impl ModemPool {
    /// Starts one actor per modem; events arrive on `events`. Must run
    /// inside an actix System.
    pub fn start(
        configs: Vec<DriverConfig>,
        events: mpsc::UnboundedSender<PoolEvent>,
    ) -> ModemPool {
        let mut members = BTreeMap::new();
        for cfg in configs {
            let short_code = cfg.short_code.clone();
            let status = SharedStatus::new(ModemStatus::new(&cfg.short_code, &cfg.port));
            let (tx, mut rx) = mpsc::unbounded_channel::<ModemEvent>();
            let out = events.clone();
            let tag = short_code.clone();
            actix::spawn(async move {
                while let Some(event) = rx.recv().await {
                    if out
                        .send(PoolEvent {
                            short_code: tag.clone(),
                            event,
                        })
                        .is_err()
                    {
                        break;
                    }
                }
            });
            let addr = Modem::new(cfg, tx, status.clone()).start();
            members.insert(short_code, Member { addr, status });
        }
        ModemPool {
            members: std::sync::Arc::new(members),
        }
    }

    /// The short codes of the pool, in order.
    pub fn short_codes(&self) -> Vec<String> {
        self.members.keys().cloned().collect()
    }

    /// Sends `sms` from `short_code`; waits while that modem is down.
    pub async fn send(&self, short_code: &str, sms: OutgoingSms) -> Result<SendOutcome, PoolError> {
        let member = self
            .members
            .get(short_code)
            .ok_or_else(|| PoolError::NoSuchShortCode(short_code.to_string()))?;
        member
            .addr
            .send(SendSms(sms))
            .await
            .map_err(|_| PoolError::Stopped(short_code.to_string()))
    }

    /// Every modem's status.
    pub fn statuses(&self) -> Vec<ModemStatus> {
        self.members.values().map(|m| m.status.get()).collect()
    }

    pub fn status(&self, short_code: &str) -> Option<ModemStatus> {
        self.members.get(short_code).map(|m| m.status.get())
    }

    /// Stops every modem and closes their ports.
    pub async fn shutdown(&self) {
        for m in self.members.values() {
            let _ = m.addr.send(StopModem).await;
        }
    }
}
