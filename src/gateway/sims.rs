//! SIM operations over the running modems: USSD for technicians (admin
//! API and page), and the balance watch of prepaid SIMs.
//!
//! A USSD goes through the modem's own driver, queued with its SMS
//! traffic (never in the middle of a send). The balance is asked once the
//! modem is up, then every `balance_every`; an admin USSD of the same code
//! updates it too. An answer the pattern cannot read keeps the last good
//! amount, marked stale, and is logged verbatim.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::Notify;

use super::balance::{Balance, BalanceRule};
use crate::clock::Clock;
use crate::modem::pool::ModemPool;
use crate::modem::types::{ModemState, UssdAnswer, UssdError};

/// While a watched modem is not up yet, how often the watch looks again.
const READY_POLL: Duration = Duration::from_secs(2);
/// A balance question that failed is asked again this soon (or after
/// `balance_every`, if that is sooner).
const FAILED_RETRY: chrono::Duration = chrono::Duration::minutes(5);
/// The longest the watch sleeps (a clock set forward is noticed by then).
const LONGEST_SLEEP: Duration = Duration::from_secs(3600);

struct Watched {
    rule: BalanceRule,
    balance: Balance,
    /// When to ask next; `None`: as soon as the modem is up.
    next: Option<DateTime<Utc>>,
}

/// One SIM's balance as the admin and `/metrics` see it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BalanceView {
    /// The USSD code that asks for it.
    pub code: String,
    #[serde(flatten)]
    pub balance: Balance,
    /// The warning level, if any.
    pub warn: Option<rust_decimal::Decimal>,
    /// When it is asked next (`None`: once the modem is up).
    pub next_check: Option<DateTime<Utc>>,
}

/// USSD and balance over a modem pool. Cheap to clone.
#[derive(Clone)]
pub struct SimOps {
    pool: ModemPool,
    clock: Arc<dyn Clock>,
    watched: Arc<Mutex<BTreeMap<String, Watched>>>,
    wake: Arc<Notify>,
    /// USSD questions asked, by short code and outcome (`/metrics`).
    asked: Arc<Mutex<BTreeMap<(String, &'static str), u64>>>,
}

impl SimOps {
    /// SIM operations over `pool`, watching the balances of `rules` (by
    /// short code). Call [`SimOps::start`] to run the watch.
    pub fn new(
        pool: ModemPool,
        clock: Arc<dyn Clock>,
        rules: Vec<(String, BalanceRule)>,
    ) -> SimOps {
        let ops = SimOps {
            pool,
            clock,
            watched: Arc::default(),
            wake: Arc::default(),
            asked: Arc::default(),
        };
        ops.set_rules(rules);
        ops
    }

    /// The balance rules of each configured modem.
    pub fn rules_of(cfg: &crate::config::Config) -> Vec<(String, BalanceRule)> {
        cfg.modem
            .iter()
            .filter_map(|m| match BalanceRule::from_modem(m) {
                Ok(Some(rule)) => Some((m.short_code.clone(), rule)),
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(short_code = %m.short_code, key = %e.0, "balance watch off: {}", e.1);
                    None
                }
            })
            .collect()
    }

    /// The rules changed (SIGHUP): a modem whose code stayed keeps what
    /// it knows of its balance.
    pub fn set_rules(&self, rules: Vec<(String, BalanceRule)>) {
        {
            let mut watched = self.watched.lock().unwrap_or_else(|e| e.into_inner());
            let mut old = std::mem::take(&mut *watched);
            for (code, rule) in rules {
                let kept = old.remove(&code).filter(|w| w.rule.code == rule.code);
                let (balance, next) = match kept {
                    Some(w) => (w.balance, w.next),
                    None => (Balance::default(), None),
                };
                watched.insert(
                    code,
                    Watched {
                        rule,
                        balance,
                        next,
                    },
                );
            }
        }
        self.wake.notify_one();
    }

    /// Runs the balance watch (inside an actix System or a tokio runtime).
    pub fn start(&self) {
        let ops = self.clone();
        actix::spawn(async move { ops.watch().await });
    }

    async fn watch(self) {
        loop {
            let now = self.clock.now();
            let due: Vec<(String, String)> = {
                let watched = self.watched.lock().unwrap_or_else(|e| e.into_inner());
                watched
                    .iter()
                    .filter(|(_, w)| w.next.is_none_or(|n| n <= now))
                    .filter(|(code, _)| {
                        self.pool
                            .status(code)
                            .is_some_and(|s| s.state == ModemState::Up)
                    })
                    .map(|(code, w)| (code.clone(), w.rule.code.clone()))
                    .collect()
            };
            for (code, ussd) in due {
                // The outcome updates the balance (see `ussd`).
                let _ = self.ussd(&code, &ussd).await;
            }
            let sleep = self.next_sleep();
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    /// How long the watch may sleep: until the next check is due, or a
    /// short while when a modem not yet checked may be up.
    fn next_sleep(&self) -> Duration {
        let now = self.clock.now();
        let watched = self.watched.lock().unwrap_or_else(|e| e.into_inner());
        watched
            .values()
            .map(|w| match w.next {
                None => READY_POLL,
                Some(n) => (n - now).to_std().unwrap_or(Duration::ZERO),
            })
            .min()
            .unwrap_or(LONGEST_SLEEP)
            .clamp(Duration::from_millis(100), LONGEST_SLEEP)
    }

    /// A USSD `code` through the modem of `short_code`. An answer to that
    /// modem's balance code updates its balance.
    pub async fn ussd(&self, short_code: &str, code: &str) -> Result<UssdAnswer, UssdError> {
        let result = self.pool.ussd(short_code, code).await;
        let outcome: &'static str = match &result {
            Ok(_) => "answered",
            Err(UssdError::NoSuchModem(_)) => return result,
            Err(UssdError::Invalid(_)) => return result,
            Err(UssdError::NotReady(_)) => "not_ready",
            Err(UssdError::Refused(_)) => "refused",
            Err(UssdError::NotSupported) => "not_supported",
            Err(UssdError::NetworkTimeout) => "network_timeout",
            Err(UssdError::NoAnswer) => "no_answer",
            Err(UssdError::Garbled(_)) => "garbled",
        };
        *self
            .asked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((short_code.to_string(), outcome))
            .or_default() += 1;
        let now = self.clock.now();
        let mut watched = self.watched.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = watched.get_mut(short_code).filter(|w| w.rule.is_code(code)) {
            let every = chrono::Duration::from_std(w.rule.every).unwrap_or(chrono::Duration::MAX);
            match &result {
                Ok(answer) => {
                    w.balance.answered(&w.rule, &answer.reply, now);
                    match (w.balance.stale, w.balance.amount) {
                        (true, _) => {
                            tracing::warn!(%short_code, reply = %answer.reply, "the balance answer has no amount the pattern finds; the last one is kept, marked stale")
                        }
                        (false, Some(amount)) if w.balance.low => {
                            tracing::warn!(%short_code, %amount, "the SIM's balance is low")
                        }
                        (false, amount) => {
                            tracing::info!(%short_code, amount = ?amount, "SIM balance")
                        }
                    }
                    w.next = now.checked_add_signed(every);
                }
                // Not up (yet): asked once it is.
                Err(UssdError::NotReady(_)) => {}
                Err(e) => {
                    tracing::warn!(%short_code, error = %e, "the balance question failed");
                    w.balance.failed(&e.to_string(), now);
                    w.next = now.checked_add_signed(every.min(FAILED_RETRY));
                }
            }
        }
        drop(watched);
        self.wake.notify_one();
        result
    }

    /// Every watched SIM's balance, by short code.
    pub fn balances(&self) -> BTreeMap<String, BalanceView> {
        let watched = self.watched.lock().unwrap_or_else(|e| e.into_inner());
        watched
            .iter()
            .map(|(code, w)| {
                (
                    code.clone(),
                    BalanceView {
                        code: w.rule.code.clone(),
                        balance: w.balance.clone(),
                        warn: w.rule.warn,
                        next_check: w.next,
                    },
                )
            })
            .collect()
    }

    /// USSD questions asked so far, by short code and outcome.
    pub fn asked(&self) -> BTreeMap<(String, &'static str), u64> {
        self.asked.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
