//! The modem pool: one `Modem` actor per configured short code. It routes
//! each outgoing message to the modem of its short code (the short code is
//! how replies find their session, so a message never changes modem by
//! itself: if that modem is down, the message waits for it, and only the
//! supervisor may move it), and merges the modems' events into one stream
//! tagged with the short code.
//!
//! The members change at run time ([`ModemPool::reconfigure`], on SIGHUP):
//! a new modem starts, a changed one restarts with its new settings, and
//! one no longer configured keeps running until the supervisor has drained
//! it and calls [`ModemPool::stop`].

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use actix::prelude::*;
use tokio::sync::{mpsc, watch};

use super::actor::{Modem, SendSms, StopModem, Ussd};
use super::driver::DriverConfig;
use super::types::{
    ModemEvent, ModemStatus, OutgoingSms, SendOutcome, SharedStatus, UssdAnswer, UssdError,
};
use crate::config::SmppConfig;
use crate::smpp::bind::BindHandle;

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
    link: Link,
    status: SharedStatus,
}

/// What serves a short code.
enum Link {
    Modem {
        cfg: Box<DriverConfig>,
        addr: Addr<Modem>,
    },
    /// A short code of an SMPP bind (one bind may serve several).
    Smpp(BindHandle),
}

impl Member {
    fn modem(&self) -> Option<(&DriverConfig, &Addr<Modem>)> {
        match &self.link {
            Link::Modem { cfg, addr } => Some((cfg, addr)),
            Link::Smpp(_) => None,
        }
    }

    fn status(&self) -> ModemStatus {
        let mut s = self.status.get();
        if let Link::Smpp(bind) = &self.link {
            s.smpp = Some(bind.stats());
        }
        s
    }
}

/// What [`ModemPool::reconfigure`] did, by short code.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reconfigured {
    /// Modems started.
    pub added: Vec<String>,
    /// Modems restarted with new settings (port, profile, PIN...).
    pub restarted: Vec<String>,
    /// Running modems no longer configured: left running for the
    /// supervisor to drain.
    pub removed: Vec<String>,
}

/// The running modems. Cheap to clone.
#[derive(Clone)]
pub struct ModemPool {
    members: Arc<RwLock<BTreeMap<String, Member>>>,
    events: mpsc::UnboundedSender<PoolEvent>,
    /// Bumped whenever a modem's state changes (see [`Self::state_changes`]).
    changes: Arc<watch::Sender<u64>>,
}

fn start_member(
    cfg: DriverConfig,
    events: &mpsc::UnboundedSender<PoolEvent>,
    changes: &Arc<watch::Sender<u64>>,
) -> Member {
    let status = SharedStatus::new(ModemStatus::new(&cfg.short_code, &cfg.port))
        .reporting_to(changes.clone());
    let (tx, mut rx) = mpsc::unbounded_channel::<ModemEvent>();
    let out = events.clone();
    let tag = cfg.short_code.clone();
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
    let addr = Modem::new(cfg.clone(), tx, status.clone()).start();
    Member {
        link: Link::Modem {
            cfg: Box::new(cfg),
            addr,
        },
        status,
    }
}

impl ModemPool {
    /// Starts one actor per modem; events arrive on `events`. Must run
    /// inside an actix System.
    pub fn start(
        configs: Vec<DriverConfig>,
        events: mpsc::UnboundedSender<PoolEvent>,
    ) -> ModemPool {
        let changes = Arc::new(watch::Sender::new(0));
        let members = configs
            .into_iter()
            .map(|cfg| (cfg.short_code.clone(), start_member(cfg, &events, &changes)))
            .collect();
        ModemPool {
            members: Arc::new(RwLock::new(members)),
            events,
            changes,
        }
    }

    /// Starts the SMPP binds of `binds`; their short codes join the pool.
    /// Must run inside an actix System (or a tokio runtime).
    pub fn add_smpp(&self, binds: Vec<SmppConfig>) {
        let mut members = self.members_mut();
        for cfg in binds {
            self.start_bind(cfg, &mut members);
        }
        drop(members);
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// SIGHUP: the `[[smpp]]` binds as configured now. A bind whose
    /// settings did not change keeps running; a new one starts; a changed
    /// one starts anew and takes over its short codes, and the old one
    /// stops once no code is left to it (what it still held fails as a
    /// passing error, and the gateway sends it again through the new one).
    /// A short code no longer configured keeps its bind until the gateway
    /// has drained it and calls [`ModemPool::stop`], as a removed modem
    /// does.
    pub async fn reconfigure_smpp(&self, binds: Vec<SmppConfig>) -> Reconfigured {
        let mut done = Reconfigured::default();
        let mut stale_modems = Vec::new();
        {
            let mut members = self.members_mut();
            let mut running: Vec<BindHandle> = Vec::new();
            for m in members.values() {
                if let Link::Smpp(b) = &m.link {
                    if !running.iter().any(|r| r.same(b)) {
                        running.push(b.clone());
                    }
                }
            }
            let configured: Vec<&String> = binds.iter().flat_map(|b| &b.short_codes).collect();
            done.removed = members
                .iter()
                .filter(|(code, m)| matches!(m.link, Link::Smpp(_)) && !configured.contains(code))
                .map(|(code, _)| code.clone())
                .collect();
            for cfg in binds {
                if running.iter().any(|b| *b.config() == cfg) {
                    continue;
                }
                for code in &cfg.short_codes {
                    match members.get(code).map(|m| &m.link) {
                        None => done.added.push(code.clone()),
                        Some(Link::Smpp(_)) => done.restarted.push(code.clone()),
                        // A code that moves from a modem to a bind: the
                        // modem stops (its port is free for another).
                        Some(Link::Modem { addr, .. }) => {
                            stale_modems.push(addr.clone());
                            done.restarted.push(code.clone());
                        }
                    }
                }
                self.start_bind(cfg, &mut members);
            }
            // A bind no code is left to stops.
            for old in running {
                let kept = members.values().any(|m| match &m.link {
                    Link::Smpp(b) => b.same(&old),
                    Link::Modem { .. } => false,
                });
                if !kept {
                    old.stop();
                }
            }
        }
        for addr in stale_modems {
            let _ = addr.send(StopModem).await;
        }
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
        done
    }

    /// Finds the pool's short code for a destination an SMSC wrote (a
    /// deliver_sm for another bind's code may come on any bind of the
    /// account).
    fn code_lookup(&self) -> crate::smpp::bind::CodeLookup {
        let members = Arc::downgrade(&self.members);
        Arc::new(move |dest: &str| {
            let members = members.upgrade()?;
            let members = members.read().unwrap_or_else(|e| e.into_inner());
            members
                .keys()
                .find(|c| crate::smpp::message::same_code(c, dest))
                .cloned()
        })
    }

    /// Starts the bind of `cfg`; its short codes become `members`, each
    /// with a fresh status.
    fn start_bind(&self, cfg: SmppConfig, members: &mut BTreeMap<String, Member>) {
        let statuses: Vec<SharedStatus> = cfg
            .short_codes
            .iter()
            .map(|code| {
                let mut st = ModemStatus::new(
                    code,
                    &format!("smpp://{}@{}:{}", cfg.system_id, cfg.host, cfg.port),
                );
                st.transport = "smpp";
                SharedStatus::new(st).reporting_to(self.changes.clone())
            })
            .collect();
        let codes = cfg.short_codes.clone();
        let bind = crate::smpp::bind::start(
            cfg,
            statuses.clone(),
            self.events.clone(),
            self.code_lookup(),
        );
        for (code, status) in codes.into_iter().zip(statuses) {
            members.insert(
                code,
                Member {
                    link: Link::Smpp(bind.clone()),
                    status,
                },
            );
        }
    }

    /// Changes each time a modem's state changes (up, down, not
    /// registered...), or a modem is added or removed: watchers wake then
    /// rather than poll the states.
    pub fn state_changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn members(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Member>> {
        // A panic never happens while the lock is held (plain map
        // operations), so a poisoned lock still holds a sound map.
        self.members.read().unwrap_or_else(|e| e.into_inner())
    }

    fn members_mut(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Member>> {
        self.members.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Brings the pool in line with `configs` (SIGHUP): modems not running
    /// start, modems whose settings changed restart (a send in progress
    /// there fails for a passing reason and is tried again on the new one),
    /// and running modems missing from `configs` are reported as removed
    /// but keep running: [`Self::stop`] ends them once drained.
    pub async fn reconfigure(&self, configs: Vec<DriverConfig>) -> Reconfigured {
        let mut done = Reconfigured::default();
        let mut stale = Vec::new();
        {
            let mut members = self.members_mut();
            for cfg in &configs {
                match members.get(&cfg.short_code).map(|m| m.modem()) {
                    Some(Some((old, _))) if old == cfg => {}
                    // A short code that moves from an SMPP bind to this
                    // modem (a code is configured once): the bind lets it
                    // go, and stops if it was its last.
                    Some(None) => {
                        done.restarted.push(cfg.short_code.clone());
                        if let Some(Member {
                            link: Link::Smpp(bind),
                            ..
                        }) = members.remove(&cfg.short_code)
                        {
                            let shared = members.values().any(|o| match &o.link {
                                Link::Smpp(b) => b.same(&bind),
                                Link::Modem { .. } => false,
                            });
                            if !shared {
                                bind.stop();
                            }
                        }
                    }
                    Some(Some(_)) => {
                        done.restarted.push(cfg.short_code.clone());
                        stale.extend(
                            members
                                .remove(&cfg.short_code)
                                .and_then(|m| m.modem().map(|(_, a)| a.clone())),
                        );
                    }
                    None => done.added.push(cfg.short_code.clone()),
                }
            }
            done.removed = members
                .iter()
                .filter(|(code, m)| {
                    m.modem().is_some() && !configs.iter().any(|c| &c.short_code == *code)
                })
                .map(|(code, _)| code.clone())
                .collect();
        }
        // The old actor closes its port before the new one opens it
        // (serial ports open exclusively).
        for addr in stale {
            let _ = addr.send(StopModem).await;
        }
        let mut members = self.members_mut();
        for cfg in configs {
            if !members.contains_key(&cfg.short_code) {
                let code = cfg.short_code.clone();
                let member = start_member(cfg, &self.events, &self.changes);
                members.insert(code, member);
            }
        }
        drop(members);
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
        done
    }

    /// Stops the modem of `short_code` and forgets it (a drained modem
    /// removed from the configuration).
    pub fn stop(&self, short_code: &str) {
        let removed = self.members_mut().remove(short_code);
        if let Some(m) = removed {
            match &m.link {
                Link::Modem { addr, .. } => addr.do_send(StopModem),
                Link::Smpp(bind) => {
                    // The bind stops with its last short code.
                    let shared = self.members().values().any(|o| match &o.link {
                        Link::Smpp(b) => b.same(bind),
                        Link::Modem { .. } => false,
                    });
                    if !shared {
                        bind.stop();
                    }
                }
            }
            self.changes.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// The short codes served by SMPP binds, in order.
    pub fn smpp_short_codes(&self) -> Vec<String> {
        self.members()
            .iter()
            .filter(|(_, m)| m.modem().is_none())
            .map(|(code, _)| code.clone())
            .collect()
    }

    /// The short codes of the pool, in order.
    pub fn short_codes(&self) -> Vec<String> {
        self.members().keys().cloned().collect()
    }

    /// Sends `sms` from `short_code`; waits while that modem or bind is
    /// down.
    pub async fn send(&self, short_code: &str, sms: OutgoingSms) -> Result<SendOutcome, PoolError> {
        enum To {
            Modem(Addr<Modem>),
            Smpp(BindHandle),
        }
        let to = self
            .members()
            .get(short_code)
            .map(|m| match &m.link {
                Link::Modem { addr, .. } => To::Modem(addr.clone()),
                Link::Smpp(b) => To::Smpp(b.clone()),
            })
            .ok_or_else(|| PoolError::NoSuchShortCode(short_code.to_string()))?;
        match to {
            To::Modem(addr) => addr
                .send(SendSms(sms))
                .await
                .map_err(|_| PoolError::Stopped(short_code.to_string())),
            To::Smpp(bind) => Ok(bind.send(short_code, sms).await),
        }
    }

    /// Sends the USSD `code` (`*123#`), or the answer to the open menu,
    /// through the modem of `short_code`. Fails at once when that modem is
    /// not up; never waits for it to come back.
    pub async fn ussd(&self, short_code: &str, code: &str) -> Result<UssdAnswer, UssdError> {
        let addr = self
            .members()
            .get(short_code)
            .map(|m| m.modem().map(|(_, a)| a.clone()))
            .ok_or_else(|| UssdError::NoSuchModem(short_code.to_string()))?
            .ok_or_else(|| {
                UssdError::NotReady(format!(
                    "{short_code} is a short code of an SMPP bind: no SIM"
                ))
            })?;
        addr.send(Ussd(code.to_string()))
            .await
            .map_err(|_| UssdError::NotReady(format!("the modem of {short_code} is not running")))?
    }

    /// Every modem's status.
    pub fn statuses(&self) -> Vec<ModemStatus> {
        self.members().values().map(Member::status).collect()
    }

    pub fn status(&self, short_code: &str) -> Option<ModemStatus> {
        self.members().get(short_code).map(Member::status)
    }

    /// Stops every modem and closes their ports.
    pub async fn shutdown(&self) {
        let addrs: Vec<Addr<Modem>> = self
            .members()
            .values()
            .filter_map(|m| m.modem().map(|(_, a)| a.clone()))
            .collect();
        for m in self.members().values() {
            if let Link::Smpp(bind) = &m.link {
                bind.stop();
            }
        }
        for addr in addrs {
            let _ = addr.send(StopModem).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix::test]
    async fn ussd_for_an_unknown_short_code_says_so() {
        let (events, _) = mpsc::unbounded_channel();
        let pool = ModemPool::start(Vec::new(), events);
        assert_eq!(
            pool.ussd("9999", "*123#").await,
            Err(UssdError::NoSuchModem("9999".into()))
        );
    }
}
