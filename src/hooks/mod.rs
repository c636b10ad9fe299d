//! Webhooks and callback URLs of API keys: events written to the store in
//! the same flush as the change that made them (before that change is
//! acknowledged to anyone), then delivered by one worker thread:
//!
//! - in order per conversation (an event waits while an earlier one of
//!   its conversation is still to be delivered), at least once,
//!   de-duplicated by the receiver on `id`;
//! - retried on anything but a 2xx or after [`schedule::ATTEMPT_TIMEOUT`],
//!   first within seconds, then with backoff capped at an hour, for at
//!   least a day ([`schedule`]);
//! - then given up: kept, listed in the admin and re-sendable.
//!
//! The queue survives restarts: it is only the store. A pass over it
//! ([`Hooks::pass`]) takes the time and the transport as arguments, so it
//! is tested on virtual time with a fake receiver.

pub mod kannel;
pub mod schedule;
mod sign;

use std::collections::HashSet;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::keys::{ApiKeys, HookTarget};
use crate::store::{Store, StoreError, Table};

pub use sign::signature;

/// How an event reaches its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Delivery {
    /// A signed JSON POST to the key's `webhook_url` (as it is when sent).
    Webhook { body: String },
    /// A GET of a Kannel-style URL (`mo_url` or a message's `dlr-url`),
    /// rendered when the event happened.
    Get { url: String },
}

/// One event to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookEvent {
    /// `evt_…`: unique, increasing, the receivers' de-duplication key.
    pub id: String,
    /// The API key it is for.
    pub key: String,
    /// The conversation it belongs to (its order scope), if any.
    pub conversation: Option<String>,
    /// `reply.received`, `message.status`... or `mo`/`dlr` for GETs.
    #[serde(rename = "type")]
    pub kind: String,
    pub delivery: Delivery,
    pub created_at: DateTime<Utc>,
    pub attempts: u32,
    pub next_at: DateTime<Utc>,
    pub last_error: Option<String>,
}

/// An event as the admin lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HookInfo {
    pub id: String,
    pub key: String,
    pub conversation: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub created_at: DateTime<Utc>,
    pub attempts: u32,
    pub next_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// What the admin sees of the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HookQueue {
    /// Events still being tried, oldest first (at most 100 listed).
    pub pending: Vec<HookInfo>,
    pub pending_total: u64,
    /// Events given up after a day of attempts, oldest first.
    pub given_up: Vec<HookInfo>,
}

/// Sends one event to its receiver: `Ok` for a 2xx.
pub trait Transport {
    fn deliver(
        &self,
        event: &HookEvent,
        target: &HookTarget,
        now: DateTime<Utc>,
    ) -> Result<(), String>;
}

enum Wake {
    Now,
    Stop,
}

/// The queue and its worker. Cheap to clone.
#[derive(Clone)]
pub struct Hooks {
    pending: Table<HookEvent>,
    given_up: Table<HookEvent>,
    store: Store,
    keys: ApiKeys,
    wake: Arc<Mutex<Option<mpsc::Sender<Wake>>>>,
    /// The pending queue in memory, without the bodies: seq → (key,
    /// conversation, next attempt). Read from the store at the first pass
    /// and kept in step with it, so a pass decodes only the events it
    /// sends, however long the queue grew while a receiver was down.
    index: Arc<Mutex<Option<Index>>>,
}

/// What a pass needs to know of a pending event.
#[derive(Debug, Clone)]
struct Slot {
    key: String,
    conversation: Option<String>,
    next_at: DateTime<Utc>,
}

type Index = std::collections::BTreeMap<u64, Slot>;

fn slot(e: &HookEvent) -> Slot {
    Slot {
        key: e.key.clone(),
        conversation: e.conversation.clone(),
        next_at: e.next_at,
    }
}

fn info(e: &HookEvent, pending: bool) -> HookInfo {
    HookInfo {
        id: e.id.clone(),
        key: e.key.clone(),
        conversation: e.conversation.clone(),
        kind: e.kind.clone(),
        created_at: e.created_at,
        attempts: e.attempts,
        next_at: pending.then_some(e.next_at),
        last_error: e.last_error.clone(),
    }
}

/// Moves `next` to `t` if that is sooner.
fn soonest(t: DateTime<Utc>, next: &mut Option<DateTime<Utc>>) {
    *next = Some(next.map_or(t, |n| n.min(t)));
}

/// The table key of event `id` (`evt_N`): N zero-padded, so key order is
/// queue order.
fn table_key(seq: u64) -> String {
    format!("{seq:020}")
}

fn seq_of(id: &str) -> Option<u64> {
    id.strip_prefix("evt_")?.parse().ok()
}

impl Hooks {
    pub fn open(store: &Store, keys: ApiKeys) -> Result<Hooks, StoreError> {
        Ok(Hooks {
            pending: store.table("hook_events")?,
            given_up: store.table("hook_given_up")?,
            store: store.clone(),
            keys,
            wake: Arc::new(Mutex::new(None)),
            index: Arc::new(Mutex::new(None)),
        })
    }

    fn queue(
        &self,
        key: &str,
        conversation: Option<&str>,
        kind: &str,
        delivery: impl FnOnce(&str) -> Delivery,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let seq = self.store.next_id()?;
        let id = format!("evt_{seq}");
        let event = HookEvent {
            id: id.clone(),
            key: key.to_string(),
            conversation: conversation.map(str::to_string),
            kind: kind.to_string(),
            delivery: delivery(&id),
            created_at: now,
            attempts: 0,
            next_at: now,
            last_error: None,
        };
        self.pending.put(&table_key(seq), &event)?;
        self.indexed(|i| {
            i.insert(seq, slot(&event));
        });
        Ok(id)
    }

    /// Queues a webhook `{"id", "type", "created_at", "data"}` of type
    /// `kind` for `key`. Not durable until the store is flushed; the
    /// worker is woken by [`Hooks::wake`].
    pub fn webhook(
        &self,
        key: &str,
        conversation: Option<&str>,
        kind: &str,
        data: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        self.queue(
            key,
            conversation,
            kind,
            |id| Delivery::Webhook {
                body: serde_json::json!({
                    "id": id,
                    "type": kind,
                    "created_at": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    "data": data,
                })
                .to_string(),
            },
            now,
        )
    }

    /// Queues a GET of `url` for `key` (a Kannel `get-url` or `dlr-url`).
    pub fn get(
        &self,
        key: &str,
        conversation: Option<&str>,
        kind: &str,
        url: String,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        self.queue(key, conversation, kind, |_| Delivery::Get { url }, now)
    }

    /// Tells the worker there is something new.
    pub fn wake(&self) {
        if let Some(tx) = self.wake.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = tx.send(Wake::Now);
        }
    }

    /// Stops the worker after its current delivery.
    pub fn stop(&self) {
        if let Some(tx) = self.wake.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = tx.send(Wake::Stop);
        }
    }

    /// The queue as the admin sees it.
    pub fn list(&self) -> Result<HookQueue, StoreError> {
        let pending = self
            .pending
            .iter_range("", None)
            .take(100)
            .map(|r| r.map(|(_, e)| info(&e, true)))
            .collect::<Result<_, _>>()?;
        let given_up = self
            .given_up
            .iter_range("", None)
            .take(1000)
            .map(|r| r.map(|(_, e)| info(&e, false)))
            .collect::<Result<_, _>>()?;
        Ok(HookQueue {
            pending,
            pending_total: self.pending.count() as u64,
            given_up,
        })
    }

    /// Puts a given-up event back in the queue, tried at once and then
    /// for another day. `false` when there is no such given-up event.
    pub fn resend(&self, id: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let Some(seq) = seq_of(id) else {
            return Ok(false);
        };
        let k = table_key(seq);
        let Some(mut e) = self.given_up.get(&k)? else {
            return Ok(false);
        };
        e.attempts = 0;
        e.created_at = now;
        e.next_at = now;
        self.pending.put(&k, &e)?;
        self.given_up.remove(&k)?;
        self.indexed(|i| {
            i.insert(seq, slot(&e));
        });
        self.store.flush_blocking()?;
        self.wake();
        Ok(true)
    }

    /// Runs `f` on the index, if it was built (a pass builds it).
    fn indexed(&self, f: impl FnOnce(&mut Index)) {
        if let Some(i) = self
            .index
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            f(i);
        }
    }

    /// The index, read from the store the first time.
    fn snapshot(&self) -> Result<Vec<(u64, Slot)>, StoreError> {
        let mut guard = self.index.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            let mut index = Index::new();
            for item in self.pending.iter_range("", None) {
                let (k, e) = item?;
                if let Ok(seq) = k.parse() {
                    index.insert(seq, slot(&e));
                }
            }
            *guard = Some(index);
        }
        Ok(guard
            .as_ref()
            .map(|i| i.iter().map(|(s, v)| (*s, v.clone())).collect())
            .unwrap_or_default())
    }

    /// One pass over the queue at the clock's time: every event that is
    /// due, not behind an undelivered event of its conversation, and whose
    /// key's receiver has not just failed, is tried once. A failure defers
    /// the key's other due events to its retry time (one dead receiver
    /// costs one attempt per pass, not one per event). Returns when the
    /// next event falls due (`None`: the queue is empty).
    pub fn pass(
        &self,
        transport: &dyn Transport,
        clock: &dyn Clock,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut blocked: HashSet<String> = HashSet::new();
        let mut failed_keys: std::collections::HashMap<String, DateTime<Utc>> = Default::default();
        let mut next: Option<DateTime<Utc>> = None;
        let mut changed = false;
        for (seq, queued) in self.snapshot()? {
            if let Some(c) = &queued.conversation {
                if blocked.contains(c) {
                    continue;
                }
            }
            let now = clock.now();
            let held = failed_keys.get(&queued.key).copied();
            if queued.next_at > now || held.is_some() {
                if let Some(c) = &queued.conversation {
                    blocked.insert(c.clone());
                }
                soonest(
                    held.unwrap_or(queued.next_at).max(queued.next_at),
                    &mut next,
                );
                continue;
            }
            let k = table_key(seq);
            let Some(mut e) = self.pending.get(&k)? else {
                self.indexed(|i| {
                    i.remove(&seq);
                });
                continue;
            };
            let Some(target) = self.keys.hook_target(&e.key)? else {
                tracing::warn!(event = %e.id, key = %e.key, "the key was revoked; its event is dropped");
                self.pending.remove(&k)?;
                self.indexed(|i| {
                    i.remove(&seq);
                });
                changed = true;
                continue;
            };
            changed = true;
            match transport.deliver(&e, &target, now) {
                Ok(()) => {
                    tracing::debug!(event = %e.id, key = %e.key, kind = %e.kind, "webhook delivered");
                    self.pending.remove(&k)?;
                    self.indexed(|i| {
                        i.remove(&seq);
                    });
                }
                Err(why) => {
                    let now = clock.now();
                    e.attempts += 1;
                    e.last_error = Some(why.clone());
                    if schedule::given_up(e.created_at, now) {
                        tracing::error!(event = %e.id, key = %e.key, attempts = e.attempts, error = %why, "webhook given up after a day of attempts; kept for the admin");
                        self.given_up.put(&k, &e)?;
                        self.pending.remove(&k)?;
                        self.indexed(|i| {
                            i.remove(&seq);
                        });
                    } else {
                        e.next_at = now + schedule::delay(e.attempts, rand::thread_rng().gen());
                        tracing::info!(event = %e.id, key = %e.key, attempts = e.attempts, error = %why, next_at = %e.next_at, "webhook failed; it will be tried again");
                        self.pending.put(&k, &e)?;
                        self.indexed(|i| {
                            i.insert(seq, slot(&e));
                        });
                        soonest(e.next_at, &mut next);
                        failed_keys.insert(e.key.clone(), e.next_at);
                        if let Some(c) = &e.conversation {
                            blocked.insert(c.clone());
                        }
                    }
                }
            }
        }
        if changed {
            self.store.flush_blocking()?;
        }
        Ok(next)
    }

    /// Starts the worker thread: a pass whenever something is queued or
    /// falls due, asleep otherwise (no polling while the queue is empty).
    pub fn start(&self, clock: Arc<dyn Clock>) -> std::io::Result<()> {
        let (tx, rx) = mpsc::channel();
        *self.wake.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
        let hooks = self.clone();
        std::thread::Builder::new()
            .name("webhooks".into())
            .spawn(move || {
                let transport = HttpTransport::new();
                loop {
                    let next = match hooks.pass(&transport, &*clock) {
                        Ok(n) => n,
                        Err(e) => {
                            tracing::error!(error = %e, "cannot read or update the webhook queue; trying again shortly");
                            Some(clock.now() + chrono::Duration::seconds(5))
                        }
                    };
                    let wait = next
                        .map(|t| (t - clock.now()).to_std().unwrap_or_default())
                        .unwrap_or(std::time::Duration::from_secs(24 * 3600));
                    match rx.recv_timeout(wait) {
                        Ok(Wake::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
                        Ok(Wake::Now) | Err(mpsc::RecvTimeoutError::Timeout) => {
                            // One pass serves every wake-up queued meanwhile.
                            while let Ok(w) = rx.try_recv() {
                                if matches!(w, Wake::Stop) {
                                    return;
                                }
                            }
                        }
                    }
                }
            })?;
        Ok(())
    }
}

/// Webhooks and GETs over HTTP(S), one at a time, each bounded by
/// [`schedule::ATTEMPT_TIMEOUT`].
pub struct HttpTransport {
    agent: ureq::Agent,
}

impl HttpTransport {
    pub fn new() -> Self {
        HttpTransport {
            agent: ureq::AgentBuilder::new()
                .timeout(schedule::ATTEMPT_TIMEOUT)
                .user_agent(concat!("smsgate/", env!("CARGO_PKG_VERSION")))
                .build(),
        }
    }
}

impl Default for HttpTransport {
    fn default() -> Self {
        Self::new()
    }
}

fn outcome(r: Result<ureq::Response, ureq::Error>) -> Result<(), String> {
    match r {
        Ok(resp) if (200..300).contains(&resp.status()) => Ok(()),
        Ok(resp) => Err(format!("HTTP {}", resp.status())),
        Err(ureq::Error::Status(code, _)) => Err(format!("HTTP {code}")),
        Err(e) => Err(e.to_string()),
    }
}

impl Transport for HttpTransport {
    fn deliver(
        &self,
        event: &HookEvent,
        target: &HookTarget,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        match &event.delivery {
            Delivery::Webhook { body } => {
                let Some(url) = &target.webhook_url else {
                    return Err("the key has no webhook_url".into());
                };
                outcome(
                    self.agent
                        .post(url)
                        .set("Content-Type", "application/json")
                        .set("Smsgate-Event-Id", &event.id)
                        .set(
                            "Smsgate-Signature",
                            &signature(&target.webhook_secret, now.timestamp(), body),
                        )
                        .send_string(body),
                )
            }
            Delivery::Get { url } => outcome(self.agent.get(url).call()),
        }
    }
}

#[cfg(test)]
mod tests;
