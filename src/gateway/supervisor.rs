//! The session supervisor: an actix actor that keeps mailboxes, timers and
//! the order of effects, and nothing else. The decisions live in plain
//! parts, each tested on its own:
//!
//! - the session core behind its journal ([`super::journal::Durable`]):
//!   every change is journaled before it is applied;
//! - [`super::inbound`]: fingerprints and multipart assembly;
//! - [`super::outbound`]: outbox, retry policy, delivery-report tracking;
//! - [`super::ledger`]: charges and out-of-session records by time.
//!
//! The order of effects is the promise (docs/reliability.md):
//! - a web send is answered 202 only after its journal entry and outbox
//!   records are flushed;
//! - an SMS part is acknowledged to its modem (which then deletes it from
//!   the SIM) only after its routing (journal), charges, assembly state
//!   and fingerprint are flushed;
//! - a status is journaled before the outbox or the report references
//!   follow it, so that a restart can bring them in line
//!   ([`Outbound::reconcile`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use crate::clock::Clock;
use crate::hooks::{kannel, Hooks};
use crate::keys::{ApiKeys, Holder, Remembered};
use crate::modem::pool::PoolEvent;
use crate::modem::types::{ModemEvent, OutgoingSms, Withdraw};
use crate::session::{
    Applied, Change, DeliveryStatus, Msisdn, Routed, SessionCore, SessionId, ShortCode,
};
use crate::session::{CapKind, OutOfSession};
use crate::sms::Deliver;
use crate::store::{Store, StoreError};
use serde::Serialize;

use super::api::{
    GatewayCounters, RecipientAnswer, RecipientState, SendAnswer, SendError, SendRequest,
    SessionEvent, SessionRef, SessionSummary, SessionView,
};
use super::inbound::{Inbound, Message, Taken};
use super::journal::Durable;
use super::ledger::Ledger;
use super::outbound::{self, Next, Outbound, SmsSender, StatusUpdate};
use super::records::OutboxRecord;
use super::views;

// The supervisor has no fixed tick. One alarm waits on the clock for the
// soonest thing due ([`Gateway::next_due`]): a session's end (R4), a
// multipart reply's release, a keep-alive, the hourly prune, and, only
// while something waits for a modem or a cap, the modem watch; a modem
// that changes state wakes the watch at once. An idle gateway with
// nothing due sleeps until the next prune.

/// How often old fingerprints and, with `keep_records`, old ledger records
/// are dropped.
const PRUNE_EVERY: chrono::Duration = chrono::Duration::hours(1);
/// How often the modems' states are looked at while something waits for
/// a modem or a SIM's cap (failover, `waiting_for_modem`, caps that turn).
const MODEM_WATCH: chrono::Duration = chrono::Duration::seconds(1);
/// A session waiting for the rest of a reply lives this long beyond the
/// reply's release time (the release runs at its deadline).
const RELEASE_GRACE: chrono::Duration = chrono::Duration::seconds(60);
/// How often an unhealthy store is tried again (a flush that works makes
/// it healthy, and what was held is sent).
const STORE_PROBE_EVERY: chrono::Duration = chrono::Duration::seconds(5);
/// Something due that could not be done (a store error) is tried again
/// this much later, not in a loop.
const RETRY_DUE: chrono::Duration = chrono::Duration::seconds(1);
/// Events kept per session channel for a slow reader (a send's burst of
/// statuses, up to `max_recipients`, fits). The events are shared, so a
/// slot costs ~40 bytes; a reader that falls further behind has its
/// stream ended and the browser re-reads the session when it reconnects.
const CHANNEL_CAPACITY: usize = 64;

/// Sends handed to one short code's modem or bind at most at once. A
/// modem sends about one a second and a bind's window is 10 by default,
/// so 64 keeps either busy; a burst of thousands waits in the outbox
/// (already durable) as keys, rather than as thousands of tasks whose
/// short-lived allocations, interleaved with the sessions' long-lived
/// ones, left ~20 MiB of fragmented heap behind after 10 000 sends
/// (heaptrack, docs/performance.md).
pub const DISPATCH_WINDOW: usize = 64;

/// What the supervisor is configured with besides the core.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// How long ledger records are kept (`None`: for ever).
    pub keep_records: Option<chrono::Duration>,
    /// TP-VP of every SMS, in minutes (`[sms] validity`).
    pub validity_minutes: Option<u32>,
    /// R5 refined: a conversation the phone has seen nothing of moves off
    /// a modem that is down this long (`[session] failover_after`); `None`
    /// never.
    pub failover_after: Option<chrono::Duration>,
    /// `[sms] reassembly_timeout` (`None`: the default).
    pub reassembly_timeout: Option<Duration>,
    /// `[mqtt]` is set: what the broker is told is queued durably.
    pub mqtt: bool,
    /// Keep-alive SMS of prepaid SIMs, by short code.
    pub keepalive: BTreeMap<String, KeepAlive>,
}

/// One SIM's keep-alive: after `every` without any outgoing SMS, one SMS
/// of `text` to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepAlive {
    pub every: chrono::Duration,
    pub to: Msisdn,
    pub text: String,
}

impl KeepAlive {
    /// The keep-alive of each configured modem that has one.
    pub fn from_config(cfg: &crate::config::Config) -> BTreeMap<String, KeepAlive> {
        cfg.modem
            .iter()
            .filter(|m| !m.keepalive_to.trim().is_empty())
            .filter_map(|m| {
                Some((
                    m.short_code.clone(),
                    KeepAlive {
                        every: chrono::Duration::from_std(m.keepalive_every).ok()?,
                        to: crate::session::normalize(&m.keepalive_to, &cfg.numbers.country)
                            .ok()?,
                        text: m.keepalive_text.clone(),
                    },
                ))
            })
            .collect()
    }
}

/// A keep-alive that failed is tried again this much later.
const KEEPALIVE_RETRY: chrono::Duration = chrono::Duration::hours(1);

/// The supervisor.
pub struct Gateway {
    durable: Durable,
    inbound: Inbound,
    outbound: Outbound,
    ledger: Ledger,
    store: Store,
    sender: Arc<dyn SmsSender>,
    clock: Arc<dyn Clock>,
    settings: Settings,
    channels: HashMap<String, broadcast::Sender<Arc<SessionEvent>>>,
    events: Option<tokio::sync::mpsc::UnboundedReceiver<PoolEvent>>,
    /// Sends handed to a modem and not answered yet, by outbox key: a
    /// session that ends withdraws its own (the modem then skips them).
    /// With the short code it was handed to (its window's count).
    in_flight: HashMap<String, (tokio::task::JoinHandle<()>, Withdraw, String)>,
    /// Sends in flight per short code (at most [`DISPATCH_WINDOW`]).
    at_code: HashMap<String, usize>,
    /// Outbox keys waiting for room in their short code's window, oldest
    /// first: the outbox holds them durably, so a backlog costs a key
    /// here rather than a task and its message each.
    backlog: HashMap<String, std::collections::VecDeque<String>>,
    /// The keys of [`Self::backlog`], to skip one taken back meanwhile.
    backlogged: std::collections::HashSet<String>,
    /// This actor, for sends released outside a handler's context.
    me: Option<Addr<Gateway>>,
    /// Sends waiting out a retry pause, by outbox key (not dispatched
    /// again meanwhile).
    retrying: std::collections::HashSet<String>,
    /// Delivery reports that came before their send's outcome was
    /// recorded (an SMSC may send the receipt right behind the
    /// submit_sm_resp, or before it): kept unacknowledged, applied when a
    /// send from their short code is recorded, dropped after
    /// [`EARLY_REPORT_WAIT`].
    early_reports: Vec<EarlyReport>,
    /// A send was held or an outbox write failed: once the store works
    /// again, the outbox is brought in line with the journal and sent.
    held: bool,
    /// Short codes whose modem is down, and since when.
    down_since: HashMap<String, DateTime<Utc>>,
    /// Short codes removed from the configuration at run time whose modem
    /// still runs: no new conversation goes there, what can move moves at
    /// once, and the modem stops when nothing is bound to it any more.
    draining: std::collections::BTreeSet<String>,
    /// API keys: who owns a session, and what its webhooks need.
    keys: ApiKeys,
    /// The webhook queue.
    hooks: Hooks,
    /// Live sessions an API key owns: secret → (key, public id).
    owners: HashMap<String, (String, String)>,
    /// What is published on MQTT (with `[mqtt]`).
    mqtt: Option<crate::mqtt::Outbox>,
    /// The caps each SIM has reached, as last seen (a new one is logged
    /// and counted once).
    reached: BTreeMap<String, Vec<CapKind>>,
    /// Caps reached so far, by short code and cap (`/metrics`).
    crossings: BTreeMap<(String, CapKind), u64>,
    /// Keep-alives sent, and those that failed, by short code; a failed
    /// one is tried again at the time kept here.
    keepalives: BTreeMap<String, (u64, u64)>,
    keepalive_retry: HashMap<String, DateTime<Utc>>,
    /// The armed alarm: when, and the handle that cancels it.
    alarm: Option<(DateTime<Utc>, SpawnHandle)>,
    /// Times the alarm fired (`/metrics`: an idle gateway should not wake).
    wakeups: u64,
    /// When the modem watch runs next: only while something waits for a
    /// modem, a cap or a drain, or right after a modem changed state.
    next_watch: Option<DateTime<Utc>>,
    next_prune: DateTime<Utc>,
}

impl Gateway {
    /// A supervisor over `store` (its persisted state restored) sending
    /// through `sender`, whose modems' events arrive on `events`.
    pub fn new(
        core: SessionCore,
        store: Store,
        sender: Arc<dyn SmsSender>,
        clock: Arc<dyn Clock>,
        events: tokio::sync::mpsc::UnboundedReceiver<PoolEvent>,
        settings: Settings,
    ) -> Result<Gateway, StoreError> {
        let now = clock.now();
        let ledger = Ledger::open(&store)?;
        let durable = Durable::restore(
            core,
            store.table("journal")?,
            store.table("snapshots")?,
            now,
            // A crash may have come between a reply's journal entry and its
            // ledger records: writing them again is harmless.
            |_, applied| match applied {
                Applied::Reply(outcome) => ledger.record(outcome),
                _ => Ok(()),
            },
        )?;
        let keys = ApiKeys::open(&store)?;
        let hooks = Hooks::open(&store, keys.clone())?;
        let mut owners = HashMap::new();
        for (key, public, secret) in keys.owned_conversations()? {
            if durable
                .core()
                .get(&SessionId(secret.clone()), now)
                .is_some()
            {
                owners.insert(secret, (key, public));
            }
        }
        let outbound = Outbound::open(&store)?;
        let fixed = outbound.reconcile(durable.core(), now)?;
        if fixed > 0 {
            tracing::info!(records = fixed, "outbox brought in line with the journal");
        }
        let settings_mqtt = settings.mqtt;
        let store_for_mqtt = store.clone();
        Ok(Gateway {
            durable,
            inbound: Inbound::open_with(
                &store,
                settings
                    .reassembly_timeout
                    .unwrap_or(super::inbound::ASSEMBLY_TIMEOUT),
            )?,
            outbound,
            ledger,
            store,
            sender,
            clock,
            settings,
            channels: HashMap::new(),
            events: Some(events),
            in_flight: HashMap::new(),
            at_code: HashMap::new(),
            backlog: HashMap::new(),
            backlogged: Default::default(),
            me: None,
            retrying: Default::default(),
            early_reports: Vec::new(),
            held: false,
            down_since: HashMap::new(),
            draining: Default::default(),
            keys,
            hooks,
            owners,
            mqtt: if settings_mqtt {
                Some(crate::mqtt::Outbox::open(&store_for_mqtt)?)
            } else {
                None
            },
            reached: BTreeMap::new(),
            crossings: BTreeMap::new(),
            keepalives: BTreeMap::new(),
            keepalive_retry: HashMap::new(),
            alarm: None,
            wakeups: 0,
            next_watch: Some(now),
            next_prune: now + PRUNE_EVERY,
        })
    }

    /// Records that `owner`'s key owns session `secret` and the pairs of
    /// `answer`, its DLR request, and the answer for its
    /// `Idempotency-Key`: all flushed with the send.
    fn own(
        &mut self,
        owner: &crate::gateway::api::ApiOwner,
        secret: &str,
        answer: &SendAnswer,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let public = views::public_id(secret);
        self.keys.own(&owner.key, &public, secret, now)?;
        let holder = Holder {
            key: owner.key.clone(),
            conversation: public.clone(),
            session: secret.to_string(),
        };
        for r in &answer.recipients {
            if let Some(code) = &r.short_code {
                self.keys.hold(&r.to, code, &holder)?;
            }
        }
        if let (Some(dlr), Some(m)) = (&owner.dlr, &answer.message) {
            self.keys.want_dlr(secret, m, dlr)?;
        }
        if let Some((idem, fingerprint)) = &owner.idempotency {
            self.keys.remember(
                &owner.key,
                idem,
                &Remembered {
                    fingerprint: fingerprint.clone(),
                    answer: answer.clone(),
                    at: now,
                },
            )?;
        }
        self.owners
            .insert(secret.to_string(), (owner.key.clone(), public));
        Ok(())
    }

    /// The MQTT outbox (with `[mqtt]`), for the bridge.
    pub fn mqtt_outbox(&self) -> Option<crate::mqtt::Outbox> {
        self.mqtt.clone()
    }

    /// The webhook queue (its worker is started beside the actor).
    pub fn hooks(&self) -> &Hooks {
        &self.hooks
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The ledger, for readers outside the actor (admin lists).
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The outbox, for readers outside the actor (admin list).
    pub fn outbound(&self) -> &Outbound {
        &self.outbound
    }

    /// Journals and applies one change. An error is logged here; the
    /// caller refuses or holds what depended on it.
    fn change(&mut self, change: Change) -> Result<Applied, StoreError> {
        let counts = matches!(
            change,
            Change::Send { .. }
                | Change::Reply { .. }
                | Change::Rebind { .. }
                | Change::Admit { .. }
                | Change::LiftCap { .. }
                | Change::KeepAlive { .. }
        );
        let at = change.at();
        let applied = self.durable.change(change);
        if let Err(e) = &applied {
            tracing::error!(error = %e, "cannot journal a session change; it was not made");
        } else if counts {
            self.note_caps(at);
        }
        applied
    }

    /// Logs and counts each cap a SIM newly reached.
    fn note_caps(&mut self, at: DateTime<Utc>) {
        let core = self.durable.core();
        let day = crate::session::local_day(at);
        let mut now_reached = BTreeMap::new();
        for (code, caps) in &core.config().caps {
            let reached = core
                .state()
                .usage
                .get(code)
                .map(|u| u.reached(caps, day))
                .unwrap_or_default();
            now_reached.insert(code.0.clone(), reached);
        }
        for (code, reached) in &now_reached {
            let before = self.reached.get(code);
            for kind in reached {
                if before.is_none_or(|b| !b.contains(kind)) {
                    tracing::warn!(short_code = %code, cap = %kind, "the SIM reached its sending cap: it takes no new conversation until the cap resets or an admin lifts it");
                    *self.crossings.entry((code.clone(), *kind)).or_default() += 1;
                }
            }
        }
        self.reached = now_reached;
    }

    /// The soonest thing due, if anything is: the alarm waits for it.
    fn next_due(&self) -> Option<DateTime<Utc>> {
        let now = self.now();
        let core = self.durable.core();
        let mut due = vec![Some(self.next_prune), core.next_deadline(), self.next_watch];
        if self.durable.snapshot_due() {
            due.push(Some(now));
        }
        due.push(self.inbound.next_release());
        if self.held || !self.store.health().is_healthy() {
            due.push(Some(now + STORE_PROBE_EVERY));
        }
        due.push(self.next_keep_alive());
        due.push(self.early_reports.iter().map(|r| r.until).min());
        due.into_iter().flatten().min()
    }

    /// Arms the alarm for the soonest thing due (called after every turn
    /// that may have changed what is due). `floor`: not before then (after
    /// the alarm fired, what is still due failed and waits [`RETRY_DUE`]).
    fn arm_from(&mut self, ctx: &mut Context<Self>, floor: Option<DateTime<Utc>>) {
        let Some(mut at) = self.next_due() else {
            if let Some((_, h)) = self.alarm.take() {
                ctx.cancel_future(h);
            }
            return;
        };
        if let Some(f) = floor {
            at = at.max(f);
        }
        if let Some((armed, h)) = &self.alarm {
            if *armed == at {
                return;
            }
            ctx.cancel_future(*h);
        }
        let sleep = self.clock.sleep_until(at);
        let handle = ctx.spawn(fut::wrap_future::<_, Self>(sleep).map(|_, act, ctx| {
            act.alarm = None;
            act.wakeups += 1;
            act.on_alarm(ctx);
        }));
        self.alarm = Some((at, handle));
    }

    fn arm(&mut self, ctx: &mut Context<Self>) {
        self.arm_from(ctx, None);
    }

    /// Whatever is due now.
    fn on_alarm(&mut self, ctx: &mut Context<Self>) {
        let now = self.now();
        self.settle_early_reports();
        self.sweep_expired();
        self.snapshot_if_due();
        if self.inbound.next_release().is_some_and(|t| t <= now) {
            self.release_incomplete(ctx);
        }
        if self.next_keep_alive().is_some_and(|t| t <= now) {
            self.keep_alive(ctx);
        }
        if self.next_watch.is_some_and(|t| t <= now) {
            self.watch(ctx);
        }
        if self.held || !self.store.health().is_healthy() {
            self.probe_store(ctx);
        }
        if self.next_prune <= now {
            self.prune();
            self.next_prune = now + PRUNE_EVERY;
        }
        self.arm_from(ctx, Some(now + RETRY_DUE));
    }

    /// The modem watch now, and again each [`MODEM_WATCH`] while something
    /// waits for a modem, a cap or a drain.
    fn watch(&mut self, ctx: &mut Context<Self>) {
        // Caps changed or removed, a day or month turned: what a cap held
        // may go (a scan of the live sessions, only while watching).
        let mut waiting = self.admit_waiting(ctx);
        waiting |= self.watch_modems(ctx);
        self.next_watch = waiting.then(|| self.now() + MODEM_WATCH);
    }

    /// A send may wait for a modem that is down, a cap or a drain (the
    /// watch looks soon), and may have made a session's end the soonest.
    fn after_send(&mut self, ctx: &mut Context<Self>) {
        if !self.draining.is_empty()
            || !self.durable.core().config().caps.is_empty()
            || !self.sender.down().is_empty()
        {
            self.watch_soon();
        }
        self.arm(ctx);
    }

    /// The watch runs at the next alarm (soon): a send, a pool or caps
    /// change may have left something waiting.
    fn watch_soon(&mut self) {
        let now = self.now();
        self.next_watch = Some(self.next_watch.map_or(now, |t| t.min(now)));
    }

    /// When the next keep-alive falls due (a SIM not yet seen: now; a
    /// modem that is down: when it is up again, which wakes the watch).
    fn next_keep_alive(&self) -> Option<DateTime<Utc>> {
        if self.settings.keepalive.is_empty() {
            return None;
        }
        let now = self.now();
        let down = self.sender.down();
        let usage = &self.durable.core().state().usage;
        self.settings
            .keepalive
            .keys()
            .filter_map(|code| {
                let Some(u) = usage.get(&ShortCode(code.clone())) else {
                    return Some(now);
                };
                if down.contains(code) {
                    return None;
                }
                self.keepalive_at(code, u)
            })
            .min()
    }

    /// When `code`'s keep-alive is due after what `usage` shows: a failed
    /// one's retry, else `keepalive_every` after its last SMS.
    fn keepalive_at(&self, code: &str, usage: &crate::session::SimUsage) -> Option<DateTime<Utc>> {
        let k = self.settings.keepalive.get(code)?;
        self.keepalive_retry
            .get(code)
            .copied()
            .or_else(|| usage.last_sent.or(usage.first_seen).map(|t| t + k.every))
    }

    /// Snapshots when due. Called between handler turns (the alarm),
    /// never inside one: a snapshot drops the journal entries it holds, so
    /// the records derived from them (charges, fingerprints) must be
    /// written first.
    fn snapshot_if_due(&mut self) {
        if self.durable.snapshot_due() {
            self.snapshot();
        }
    }

    fn snapshot(&mut self) {
        let store = self.store.clone();
        if let Err(e) = self.durable.snapshot(|| store.flush_blocking()) {
            tracing::error!(error = %e, "cannot snapshot the session state");
        }
        // The snapshot copied and serialised the whole state: give the
        // transient memory back rather than keep it as a high-water mark.
        crate::memory::give_back_free_memory();
    }

    /// The event to the session's live streams and, when an API key owns
    /// the session, to its webhook queue (written before the change that
    /// made it is acknowledged: an error refuses the acknowledgement).
    fn publish(&mut self, session: &str, event: SessionEvent) -> Result<(), StoreError> {
        let hooked = self.hook(session, &event);
        if let Err(e) = &hooked {
            tracing::error!(error = %e, "cannot queue a webhook event");
        }
        // A channel whose streams have all closed goes (its slots with
        // it); the next stream of the session makes a new one.
        if let Some(tx) = self.channels.get(session) {
            if tx.send(Arc::new(event)).is_err() {
                self.channels.remove(session);
            }
        }
        hooked
    }

    /// Queues the webhook (and Kannel callbacks) of `event` of `session`
    /// for the key that owns it, if one does.
    fn hook(&mut self, session: &str, event: &SessionEvent) -> Result<(), StoreError> {
        let Some((key, public)) = self.owners.get(session).cloned() else {
            return Ok(());
        };
        if let SessionEvent::Expired { .. } = event {
            self.owners.remove(session);
        }
        if key == crate::mqtt::OWNER {
            return self.mqtt_status(session, event);
        }
        let Some(target) = self.keys.hook_target(&key)? else {
            return Ok(()); // revoked
        };
        let now = self.now();
        let conv = Some(public.as_str());
        let mut queued = false;
        match event {
            SessionEvent::Reply { reply, expires_at } => {
                if target.webhook_url.is_some() {
                    let data = serde_json::json!({
                        "conversation": public,
                        "from": reply.from,
                        "short_code": reply.short_code,
                        "text": reply.text,
                        "received_at": reply.received_at,
                        "expires_at": expires_at,
                    });
                    self.hooks
                        .webhook(&key, conv, "reply.received", data, now)?;
                    queued = true;
                }
                if let Some(template) = &target.mo_url {
                    let url = kannel::render(template, &kannel::Mo::from(reply).fields());
                    self.hooks.get(&key, conv, "mo", url, now)?;
                    queued = true;
                }
            }
            SessionEvent::Status {
                message_id,
                to,
                status,
                reason,
                short_code,
            } => {
                if let Some(code) = short_code {
                    // The conversation moved to a live short code.
                    let holder = Holder {
                        key: key.clone(),
                        conversation: public.clone(),
                        session: session.to_string(),
                    };
                    self.keys.hold(to, code, &holder)?;
                }
                if target.webhook_url.is_some() {
                    let data = serde_json::json!({
                        "conversation": public,
                        "message": message_id,
                        "to": to,
                        "status": status,
                        "reason": reason,
                        "short_code": short_code,
                    });
                    self.hooks
                        .webhook(&key, conv, "message.status", data, now)?;
                    queued = true;
                }
                if let Some(dlr) = self.keys.dlr_of(session, message_id)? {
                    let report = kannel::Dlr {
                        status: *status,
                        reason: reason.as_deref(),
                        to,
                        short_code: short_code.as_deref(),
                        message: message_id,
                        at: now,
                    };
                    if let Some(value) = report.value().filter(|v| dlr.mask & v != 0) {
                        let url = kannel::render(&dlr.url, &report.fields(value));
                        self.hooks.get(&key, conv, "dlr", url, now)?;
                        queued = true;
                    }
                }
            }
            SessionEvent::Expired { ended_at } => {
                if target.webhook_url.is_some() {
                    let data = serde_json::json!({"conversation": public, "ended_at": ended_at});
                    self.hooks
                        .webhook(&key, conv, "conversation.expired", data, now)?;
                    queued = true;
                }
                self.keys.drop_dlrs(session)?;
            }
        }
        if queued {
            self.hooks.wake();
        }
        Ok(())
    }

    /// An MQTT conversation's status change: `{prefix}/status`, and
    /// `{prefix}/sent` when the modem took it or it failed.
    fn mqtt_status(&mut self, session: &str, event: &SessionEvent) -> Result<(), StoreError> {
        let (
            Some(outbox),
            SessionEvent::Status {
                message_id,
                to,
                status,
                reason,
                ..
            },
        ) = (&self.mqtt, event)
        else {
            return Ok(());
        };
        let now = self.now();
        outbox.push(
            "status",
            serde_json::json!({
                "number": to,
                "status": status,
                "reason": reason,
                "message_id": message_id,
                "datetime": now,
            }),
        )?;
        let result = match status {
            RecipientState::Sent => "success",
            RecipientState::Failed => "error",
            _ => return Ok(()),
        };
        let text = self
            .durable
            .core()
            .get(&SessionId(session.to_string()), now)
            .and_then(|s| {
                s.messages
                    .iter()
                    .find(|m| m.id.0.to_string() == *message_id)
                    .map(|m| m.text.clone())
            })
            .unwrap_or_default();
        let mut sent = serde_json::json!({
            "result": result,
            "datetime": now,
            "number": to,
            "text": text,
        });
        if let Some(r) = reason {
            sent["reason"] = serde_json::json!(r);
        }
        outbox.push("sent", sent)
    }

    /// R7 for programs: an out-of-session reply to a pair an API key's
    /// conversation held goes to that key (`late` as the core says).
    fn hook_out_of_session(&mut self, record: &OutOfSession) -> Result<(), StoreError> {
        let Some(holder) = self
            .keys
            .holder_of_pair(&record.from.0, &record.short_code.0)?
        else {
            return Ok(());
        };
        let Some(target) = self.keys.hook_target(&holder.key)? else {
            return Ok(());
        };
        let now = self.now();
        let mut queued = false;
        if target.webhook_url.is_some() {
            let data = serde_json::json!({
                "conversation": holder.conversation,
                "from": record.from.0,
                "short_code": record.short_code.0,
                "text": record.text,
                "received_at": record.received_at,
                "late": record.late,
            });
            self.hooks
                .webhook(&holder.key, None, "reply.out_of_session", data, now)?;
            queued = true;
        }
        if let Some(template) = &target.mo_url {
            let mo = kannel::Mo {
                from: &record.from.0,
                to: &record.short_code.0,
                text: &record.text,
                at: record.received_at,
            };
            let url = kannel::render(template, &mo.fields());
            self.hooks.get(&holder.key, None, "mo", url, now)?;
            queued = true;
        }
        if queued {
            self.hooks.wake();
        }
        Ok(())
    }

    /// Flushes the store in the background (for writes nobody waits on).
    fn flush_later(&self) {
        let store = self.store.clone();
        actix::spawn(async move {
            if let Err(e) = store.flush().await {
                tracing::error!(error = %e, "store flush failed");
            }
        });
    }

    fn dispatch(&mut self, record: OutboxRecord, ctx: &mut Context<Self>) {
        self.dispatch_to(record, ctx.address());
    }

    /// [`Self::dispatch`] with this actor's address.
    fn dispatch_to(&mut self, record: OutboxRecord, addr: Addr<Gateway>) {
        let sender = self.sender.clone();
        // Auto-replies (no session) are not tracked: nothing withdraws them.
        let key = (!record.session_id.is_empty()).then(|| record.key());
        if key.as_ref().is_some_and(|k| self.in_flight.contains_key(k)) {
            return; // already at its modem
        }
        if key.is_some() && self.recipient_status(&record) == Some(DeliveryStatus::WaitingForCap) {
            return; // its SIM is at a cap: it goes when the cap lets it
        }
        if key.is_some()
            && !self.configured(&record.short_code)
            && !self.draining.contains(&record.short_code)
        {
            // Its modem was removed from the configuration: it waits, moves
            // (failover) or is withdrawn when its conversation ends.
            return;
        }
        if let Some(k) = &key {
            if self.at_code.get(&record.short_code).copied().unwrap_or(0) >= DISPATCH_WINDOW {
                // Its short code has a window's worth at its modem or
                // bind: it goes when one of those is done.
                if self.backlogged.insert(k.clone()) {
                    self.backlog
                        .entry(record.short_code.clone())
                        .or_default()
                        .push_back(k.clone());
                }
                return;
            }
        }
        let record_code = record.short_code.clone();
        let validity_minutes = self.settings.validity_minutes;
        let withdraw = Withdraw::default();
        let flag = withdraw.clone();
        let task = actix::spawn(async move {
            let sms = OutgoingSms {
                message_id: record.message_id,
                recipient: record.to.clone(),
                text: record.text.clone(),
                concat_ref: record.concat_ref,
                validity_minutes,
                withdraw,
            };
            let outcome = sender.send(&record.short_code, sms).await;
            addr.do_send(Dispatched { record, outcome });
        });
        if let Some(key) = key {
            self.backlogged.remove(&key);
            *self.at_code.entry(record_code.clone()).or_default() += 1;
            self.in_flight.insert(key, (task, flag, record_code));
        }
    }

    /// `key` is no longer at its modem: its short code's window has room
    /// for the next waiting send.
    fn landed(&mut self, key: &str) {
        let Some((_, _, code)) = self.in_flight.remove(key) else {
            return;
        };
        if let Some(n) = self.at_code.get_mut(&code) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.at_code.remove(&code);
            }
        }
        self.release(&code);
    }

    /// Sends waiting for room in `code`'s window go, as the outbox has
    /// them now (one withdrawn or moved meanwhile is not there any more).
    fn release(&mut self, code: &str) {
        let Some(me) = self.me.clone() else { return };
        while self.at_code.get(code).copied().unwrap_or(0) < DISPATCH_WINDOW {
            let Some(key) = self.backlog.get_mut(code).and_then(|q| q.pop_front()) else {
                self.backlog.remove(code);
                break;
            };
            if !self.backlogged.remove(&key) || self.retrying.contains(&key) {
                continue;
            }
            if self.backlogged.is_empty() && self.backlogged.capacity() > 1024 {
                // A burst's table goes with it.
                self.backlogged.shrink_to_fit();
            }
            match self.outbound.queued_record(&key) {
                Ok(Some(r)) => {
                    let before = self.at_code.get(code).copied().unwrap_or(0);
                    self.dispatch_to(r, me.clone());
                    if self.at_code.get(code).copied().unwrap_or(0) == before
                        && self.backlogged.contains(&key)
                    {
                        break; // back in the backlog: no room after all
                    }
                }
                // Sent, failed, withdrawn or moved meanwhile.
                Ok(None) => {}
                Err(e) => {
                    // It stays first in line for the next send that ends.
                    tracing::error!(error = %e, "cannot read the outbox: a waiting send stays waiting");
                    self.backlogged.insert(key.clone());
                    self.backlog
                        .entry(code.to_string())
                        .or_default()
                        .push_front(key);
                    break;
                }
            }
        }
    }

    /// Whether `code` is one of the configured short codes.
    fn configured(&self, code: &str) -> bool {
        self.durable
            .core()
            .config()
            .pool
            .iter()
            .any(|c| c.0 == code)
    }

    /// Takes the send under `key` back from its modem; `false` when the
    /// modem already started it (it finishes there). Nothing at a modem:
    /// `true`.
    fn take_back(&mut self, key: &str) -> bool {
        // One waiting in its short code's backlog has not reached a modem.
        self.backlogged.remove(key);
        if let Some((task, flag, _)) = self.in_flight.get(key) {
            if !flag.take_back() {
                return false;
            }
            task.abort();
            self.landed(key);
        }
        true
    }

    /// The configured short codes whose modem is up and whose SIM takes
    /// new conversations (no cap reached).
    fn live_codes(&self) -> Vec<ShortCode> {
        let down = self.sender.down();
        let now = self.now();
        let core = self.durable.core();
        core.config()
            .pool
            .iter()
            .filter(|c| !down.contains(&c.0))
            .filter(|c| core.state().usage.takes_new(c, &core.caps_of(c), now))
            .cloned()
            .collect()
    }

    /// Per-SIM caps: what waits for a cap that has room now (a new day or
    /// month, a lift) goes.
    /// Returns whether messages still wait for a cap.
    fn admit_waiting(&mut self, ctx: &mut Context<Self>) -> bool {
        let now = self.now();
        if !self.durable.core().admission_due(now) {
            return self.durable.core().waiting_for_cap(now);
        }
        let Ok(Applied::Admitted(admitted)) = self.change(Change::Admit { at: now }) else {
            return true;
        };
        for a in admitted {
            tracing::info!(to = %a.to, short_code = %a.short_code, "the SIM's cap lets a waiting message through");
            let _ = self.publish(
                &a.session.0,
                SessionEvent::Status {
                    message_id: a.message.0.to_string(),
                    to: a.to.0.clone(),
                    status: RecipientState::Queued,
                    reason: None,
                    short_code: None,
                },
            );
            let key = crate::gateway::records::outbox_key(a.message.0, &a.to.0);
            if let Some(r) = self.outbound.pending_record(&key) {
                self.dispatch(r, ctx);
            }
        }
        self.flush_later();
        self.durable.core().waiting_for_cap(now)
    }

    /// Prepaid SIMs: one SMS after `keepalive_every` without any.
    fn keep_alive(&mut self, ctx: &mut Context<Self>) {
        if self.settings.keepalive.is_empty() {
            return;
        }
        let now = self.now();
        let down = self.sender.down();
        let unseen: Vec<ShortCode> = self
            .settings
            .keepalive
            .keys()
            .map(|c| ShortCode(c.clone()))
            .filter(|c| self.durable.core().state().usage.get(c).is_none())
            .collect();
        if !unseen.is_empty()
            && self
                .change(Change::Seen {
                    codes: unseen,
                    at: now,
                })
                .is_ok()
        {
            self.flush_later();
        }
        let due: Vec<(String, KeepAlive)> = self
            .settings
            .keepalive
            .iter()
            .filter(|(code, _)| !down.contains(code))
            .filter(|(code, _)| {
                self.durable
                    .core()
                    .state()
                    .usage
                    .get(&ShortCode((*code).clone()))
                    .and_then(|u| self.keepalive_at(code, u))
                    .is_some_and(|t| now >= t)
            })
            .map(|(c, k)| (c.clone(), k.clone()))
            .collect();
        let mut journaled = false;
        for (code, k) in due {
            if self
                .change(Change::KeepAlive {
                    code: ShortCode(code.clone()),
                    to: k.to.clone(),
                    at: now,
                })
                .is_err()
            {
                continue;
            }
            self.keepalive_retry.remove(&code);
            tracing::info!(short_code = %code, to = %k.to, "keep-alive SMS for a prepaid SIM that sent nothing for {}", humantime::format_duration(k.every.to_std().unwrap_or_default()));
            let sender = self.sender.clone();
            let addr = ctx.address();
            let id = now.timestamp().unsigned_abs();
            let sms = OutgoingSms {
                message_id: id,
                recipient: k.to.0.clone(),
                text: k.text.clone(),
                concat_ref: outbound::concat_ref(id),
                validity_minutes: self.settings.validity_minutes,
                withdraw: Withdraw::default(),
            };
            actix::spawn(async move {
                let outcome = sender.send(&code, sms).await;
                addr.do_send(KeptAlive { code, outcome });
            });
            journaled = true;
        }
        if journaled {
            self.flush_later();
        }
    }

    /// R4/R7: a session ended; whatever of it waits for a modem that is
    /// down, or waits out a retry pause, is withdrawn and failed, so that
    /// the phone never gets a message it can no longer answer inside a
    /// session. The modem is told (the [`Withdraw`] flag): it does not
    /// start it. (A live modem sends what it holds within moments: that is
    /// left alone rather than raced.)
    fn withdraw(&mut self, session: &str) {
        let down = self.sender.down();
        let records = match self.outbound.pending() {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the outbox");
                return;
            }
        };
        for r in records.into_iter().filter(|r| r.session_id == session) {
            let key = r.key();
            let waiting = self.retrying.contains(&key) || !self.in_flight.contains_key(&key);
            if !waiting && !down.contains(&r.short_code) {
                continue;
            }
            if !self.take_back(&key) {
                continue; // its modem started it: it finishes
            }
            self.retrying.remove(&key);
            tracing::info!(to = %r.to, short_code = %r.short_code, "the conversation ended before its modem could send; withdrawn");
            if let Err(e) = self.outbound.failed(&r, outbound::ENDED_UNSENT) {
                tracing::error!(to = %r.to, error = %e, "cannot record a withdrawn message");
            }
        }
    }

    /// Journals a status and publishes it when it changed something.
    fn set_status(&mut self, update: &StatusUpdate) -> Result<(), StoreError> {
        let at = self.now();
        let Applied::Status(result) = self.change(update.change(at))? else {
            unreachable!("a status change gives a status")
        };
        match result {
            Ok(true) => self.publish(
                &update.session_id,
                SessionEvent::Status {
                    message_id: update.message_id.to_string(),
                    to: update.to.clone(),
                    status: update.status.into(),
                    reason: update
                        .reason
                        .as_deref()
                        .map(|r| outbound::failure_code(r).to_string()),
                    short_code: None,
                },
            )?,
            Ok(false) => {}
            // The session ended meanwhile: nobody can see the status.
            Err(e) => tracing::debug!(error = %e, "status of an ended session"),
        }
        Ok(())
    }

    fn sweep_expired(&mut self) {
        let at = self.now();
        if !self.durable.core().expiry_due(at) {
            return;
        }
        let Ok(Applied::Ended(ended)) = self.change(Change::Expire { at }) else {
            return;
        };
        for e in ended {
            // Logged inside; the session ended all the same.
            let _ = self.publish(
                &e.session.0,
                SessionEvent::Expired {
                    ended_at: e.ended_at,
                },
            );
            self.channels.remove(&e.session.0);
            self.withdraw(&e.session.0);
        }
        self.flush_later();
        crate::memory::give_back_free_memory();
    }

    /// One SMS part arrived at `short_code`. Returns whether it may be
    /// acknowledged once flushed: not when anything it stands for could
    /// not be written (the modem keeps it and hands it over again).
    fn receive(&mut self, short_code: &str, deliver: &Deliver, ctx: &mut Context<Self>) -> bool {
        let now = self.now();
        let (messages, pending) = match self.inbound.take(short_code, deliver, now) {
            Ok(Taken::Again) => {
                tracing::info!(%short_code, "SMS part taken in before; deleted again");
                return true;
            }
            Ok(Taken::New(messages, pending)) => (messages, pending),
            Err(e) => {
                tracing::error!(%short_code, error = %e, "cannot read the inbound state; the SMS stays on the modem");
                return false;
            }
        };
        let multipart = deliver
            .user_data
            .udh
            .as_ref()
            .and_then(|u| u.concat.as_ref())
            .is_some_and(|c| c.total > 1);
        let sender = deliver.originator.to_string();
        if multipart && !messages.iter().any(|m| m.from == sender) {
            // More parts to come: the conversation is alive meanwhile.
            // Until the message is released, whole or not (the release
            // runs at its deadline: a minute's grace covers it).
            let wait = self
                .settings
                .reassembly_timeout
                .unwrap_or(super::inbound::ASSEMBLY_TIMEOUT);
            let until = now
                + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX / 2)
                + RELEASE_GRACE;
            let part = Change::Part {
                from: sender,
                short_code: ShortCode(short_code.to_string()),
                at: now,
                until,
            };
            if self.change(part).is_err() {
                return false;
            }
        }
        for message in messages {
            if self.route(short_code, message, ctx).is_err() {
                return false;
            }
        }
        match self.inbound.commit(pending, now) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(%short_code, error = %e, "cannot persist an incoming part; it stays on the modem");
                false
            }
        }
    }

    /// Multipart replies whose missing parts did not come within `[sms]
    /// reassembly_timeout` are routed as they are (a marker where each
    /// missing part would be, charged for the parts received). Their parts
    /// were acknowledged when taken in: the assembler state holds them
    /// until the routing is journaled.
    fn release_incomplete(&mut self, ctx: &mut Context<Self>) {
        let now = self.now();
        for (code, messages, assembler) in self.inbound.release_due(now) {
            let mut routed = true;
            for m in messages {
                tracing::info!(modem = %code, from = %m.from, parts = m.parts, "a multipart reply is released with parts missing");
                if self.route(&code, m, ctx).is_err() {
                    routed = false;
                    break;
                }
            }
            if !routed {
                continue; // tried again at the next check
            }
            if let Err(e) = self.inbound.commit_release(&code, assembler) {
                // Held in memory all the same (never routed twice while
                // running); the next part's commit persists it.
                tracing::error!(modem = %code, error = %e, "cannot persist the reassembly state");
                self.held = true;
            }
            self.flush_later();
        }
    }

    /// R3, R7, R10, R12 for one complete message: journaled, then its
    /// ledger records, then what the page and the phone see.
    fn route(
        &mut self,
        short_code: &str,
        m: Message,
        ctx: &mut Context<Self>,
    ) -> Result<(), StoreError> {
        let at = self.now();
        let Applied::Reply(outcome) = self.change(Change::Reply {
            from: m.from,
            short_code: ShortCode(short_code.to_string()),
            text: m.text,
            parts: m.parts,
            at,
        })?
        else {
            unreachable!("a reply change gives a reply")
        };
        if let Err(e) = self.ledger.record(&outcome) {
            // Not acknowledged, then: the part stays on the modem. (Read
            // again, it is routed again: a store failure may double a
            // reply, never lose a charge.)
            tracing::error!(error = %e, "cannot write a charge record; the SMS stays on the modem");
            return Err(e);
        }
        if let Some(outbox) = &self.mqtt {
            // Every incoming SMS, in session or not: queued before the
            // modem may delete it.
            let (number, text, at, in_session) = match &outcome.routed {
                Routed::ToSession { reply, .. } => (
                    reply.from.0.clone(),
                    reply.text.clone(),
                    reply.received_at,
                    true,
                ),
                Routed::OutOfSession { record } => (
                    record.from.0.clone(),
                    record.text.clone(),
                    record.received_at,
                    false,
                ),
            };
            let received = serde_json::json!({
                "datetime": at,
                "number": number,
                "text": text,
                "short_code": short_code,
                "in_session": in_session,
            });
            if let Err(e) = outbox.push("received", received) {
                tracing::error!(error = %e, "cannot queue an MQTT publication; the SMS stays on the modem");
                return Err(e);
            }
        }
        let notice = outcome.notice.clone();
        let notice_to = (outcome.cdr.number.0.clone(), short_code.to_string());
        match outcome.routed {
            Routed::ToSession { session, reply } => {
                let expires_at = self
                    .durable
                    .core()
                    .get(&session, at)
                    .map_or(at, |s| s.deadline);
                // Not acknowledged unless its webhook is queued: the part
                // stays on the modem and is routed again.
                self.publish(
                    &session.0,
                    SessionEvent::Reply {
                        reply: views::reply_view(&reply),
                        expires_at,
                    },
                )?;
            }
            Routed::OutOfSession { record } => {
                if let Err(e) = self.hook_out_of_session(&record) {
                    tracing::error!(error = %e, "cannot queue an out-of-session webhook; the SMS stays on the modem");
                    return Err(e);
                }
            }
        }
        if let Some(text) = notice {
            // R7's auto-reply or R12's confirmation (best effort: nobody
            // was promised it), from the code the phone wrote to. Its
            // outbox number is the charge's: unique, and the same on replay.
            let id = outcome.first_charge;
            self.dispatch(
                OutboxRecord {
                    message_id: id,
                    session_id: String::new(),
                    to: notice_to.0,
                    short_code: notice_to.1,
                    text,
                    concat_ref: outbound::concat_ref(id),
                    queued_at: at,
                    failed: None,
                    attempts: 0,
                },
                ctx,
            );
        }
        Ok(())
    }

    /// A delivery report: journaled status first, then the references.
    fn report(
        &mut self,
        short_code: &str,
        mr: &crate::modem::types::PartRef,
        status: crate::sms::DeliveryStatus,
    ) -> bool {
        let step = match self.outbound.report(short_code, mr, status) {
            Ok(Some(step)) => step,
            Ok(None) => return true,
            Err(e) => {
                tracing::error!(%short_code, error = %e, "cannot read the report references; the report stays on the modem");
                return false;
            }
        };
        if let Some(update) = &step.update {
            if self.set_status(update).is_err() {
                return false;
            }
        }
        match self.outbound.apply_report(&step) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(%short_code, error = %e, "cannot update the report references");
                false
            }
        }
    }

    /// Whatever the outbox holds goes out (at start, and when the store is
    /// healthy again after holding sends).
    fn send_pending(&mut self, ctx: &mut Context<Self>) {
        match self.outbound.pending() {
            Ok(records) => {
                for r in records {
                    if !self.retrying.contains(&r.key()) {
                        self.dispatch(r, ctx);
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read the outbox"),
        }
    }

    fn prune(&mut self) {
        let now = self.now();
        match self.inbound.prune_seen(now) {
            Ok(n) if n > 0 => tracing::debug!(dropped = n, "old part fingerprints dropped"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "cannot drop old part fingerprints"),
        }
        let core = self.durable.core();
        match self.keys.prune(now, |secret| {
            core.get(&SessionId(secret.to_string()), now).is_some()
        }) {
            Ok(n) if n > 0 => tracing::debug!(dropped = n, "old API records dropped"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "cannot drop old API records"),
        }
        if let Some(keep) = self.settings.keep_records {
            match self.ledger.prune(now - keep) {
                Ok(n) if n > 0 => {
                    tracing::info!(dropped = n, "ledger records past keep_records dropped")
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "cannot drop old ledger records"),
            }
        }
        self.flush_later();
    }

    /// The modems' states: what waits for a modem that is down shows
    /// `waiting_for_modem` (and `queued` again when it is back); a
    /// conversation whose phone has seen nothing from a modem down longer
    /// than `failover_after` moves to a live short code (R5 refined).
    /// Returns whether something still waits for a modem or a drain (the
    /// watch runs again shortly then).
    fn watch_modems(&mut self, ctx: &mut Context<Self>) -> bool {
        let now = self.now();
        let mut down: Vec<String> = self.sender.down();
        let pending = match self.outbound.pending() {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the outbox");
                return true;
            }
        };
        // A short code no longer configured (its modem removed) is a modem
        // that stays down, unless it still runs to drain.
        for r in &pending {
            if !self.configured(&r.short_code)
                && !self.draining.contains(&r.short_code)
                && !down.contains(&r.short_code)
            {
                down.push(r.short_code.clone());
            }
        }
        for code in &down {
            self.down_since.entry(code.clone()).or_insert(now);
        }
        self.down_since.retain(|c, _| down.contains(c));
        let mut moved: Vec<(String, String)> = Vec::new();
        for r in &pending {
            if r.session_id.is_empty() || moved.contains(&(r.session_id.clone(), r.to.clone())) {
                continue;
            }
            let status = self.recipient_status(r);
            let since = self.down_since.get(&r.short_code).copied();
            // A draining modem's conversations move at once; a dead one's
            // after `failover_after`.
            // A SIM at its cap holds a message like a modem that is down.
            let capped_since =
                (status == Some(DeliveryStatus::WaitingForCap)).then_some(r.queued_at);
            let due = self.draining.contains(&r.short_code)
                || since.or(capped_since).is_some_and(|since| {
                    self.settings
                        .failover_after
                        .is_some_and(|f| now - since >= f)
                });
            if due && self.failover(r, ctx) {
                moved.push((r.session_id.clone(), r.to.clone()));
                continue;
            }
            match (since, status) {
                // A modem seen down for a whole watch period, not one that
                // is coming up (a restart sets every modem up again); one
                // no longer configured at once.
                (Some(since), Some(DeliveryStatus::Queued))
                    if now - since >= MODEM_WATCH || !self.configured(&r.short_code) =>
                {
                    let _ =
                        self.set_status(&StatusUpdate::queued(r, DeliveryStatus::WaitingForModem));
                }
                (None, Some(DeliveryStatus::WaitingForModem)) => {
                    let _ = self.set_status(&StatusUpdate::queued(r, DeliveryStatus::Queued));
                }
                _ => {}
            }
        }
        if !moved.is_empty() {
            self.flush_later();
        }
        self.stop_drained(&pending);
        !self.draining.is_empty()
            || pending.iter().any(|r| {
                !moved.contains(&(r.session_id.clone(), r.to.clone()))
                    && (down.contains(&r.short_code)
                        || self.recipient_status(r) == Some(DeliveryStatus::WaitingForCap))
            })
    }

    /// Stops the draining modems nothing waits for any more: no message
    /// of theirs is pending and no live conversation is bound to them (a
    /// phone may still reply to one until its session ends).
    fn stop_drained(&mut self, pending: &[OutboxRecord]) {
        let drained: Vec<String> = self
            .draining
            .iter()
            .filter(|code| {
                !pending.iter().any(|r| &r.short_code == *code)
                    && self
                        .durable
                        .core()
                        .state()
                        .allocator
                        .load(&ShortCode((*code).clone()))
                        == 0
            })
            .cloned()
            .collect();
        for code in drained {
            tracing::info!(modem = %code, "removed modem drained: stopped");
            self.draining.remove(&code);
            self.sender.stop(&code);
        }
    }

    /// SIGHUP changed the modems: `pool` are the configured short codes
    /// now. New ones take new conversations at once; removed ones drain.
    fn set_pool(&mut self, pool: Vec<ShortCode>, ctx: &mut Context<Self>) {
        let old = self.durable.core().config().pool.clone();
        for code in old.iter().filter(|c| !pool.contains(c)) {
            tracing::info!(modem = %code, "modem removed from the configuration: draining it");
            self.draining.insert(code.0.clone());
        }
        for code in pool.iter().filter(|c| !old.contains(c)) {
            tracing::info!(modem = %code, "modem added to the configuration");
        }
        self.draining.retain(|c| !pool.iter().any(|p| &p.0 == c));
        self.durable.set_pool(pool);
        // What waited for a modem configured again (removed at the last
        // start) goes out; what is at a modem or waits out a retry stays.
        self.send_pending(ctx);
        self.watch(ctx);
    }

    /// The core's status of an outbox record's recipient.
    fn recipient_status(&self, r: &OutboxRecord) -> Option<DeliveryStatus> {
        let s = self
            .durable
            .core()
            .get(&SessionId(r.session_id.clone()), self.now())?;
        let m = s.messages.iter().find(|m| m.id.0 == r.message_id)?;
        m.recipients
            .iter()
            .find(|x| x.to.0 == r.to)
            .map(|x| x.status)
    }

    /// Moves `r`'s conversation with its phone to a live short code, if the
    /// phone has seen nothing from the old one: every queued message of
    /// that pair is taken back from its modem (none may have started), the
    /// binding moves (journaled; the core checks nothing was sent or
    /// replied), and they go out from the new code.
    fn failover(&mut self, r: &OutboxRecord, ctx: &mut Context<Self>) -> bool {
        let now = self.now();
        let to = Msisdn(r.to.clone());
        let live = self.live_codes();
        let core = self.durable.core();
        let Some(code) = core
            .state()
            .allocator
            .pick(&to, &live, now, core.config().cooldown())
        else {
            return false;
        };
        if !core.may_rebind(
            &SessionId(r.session_id.clone()),
            &to,
            &ShortCode(r.short_code.clone()),
            &code,
            now,
        ) {
            return false;
        }
        let Ok(records) = self.outbound.pending() else {
            return false;
        };
        let pair: Vec<OutboxRecord> = records
            .into_iter()
            .filter(|x| x.session_id == r.session_id && x.to == r.to)
            .collect();
        // Take every one back from its modem first; one already started
        // means the phone sees the old code: nothing moves.
        let mut taken = Vec::new();
        for x in &pair {
            if !self.take_back(&x.key()) {
                for y in taken {
                    self.dispatch(y, ctx);
                }
                return false;
            }
            taken.push(x.clone());
        }
        let rebound = self.change(Change::Rebind {
            session: SessionId(r.session_id.clone()),
            to,
            from: ShortCode(r.short_code.clone()),
            code: code.clone(),
            at: now,
        });
        if !matches!(rebound, Ok(Applied::Rebound(true))) {
            for y in taken {
                if !self.retrying.contains(&y.key()) {
                    self.dispatch(y, ctx);
                }
            }
            return false;
        }
        tracing::info!(to = %r.to, from = %r.short_code, code = %code, "modem down: the conversation moves to a live short code");
        for y in taken {
            match self.outbound.moved(&y, &code.0) {
                Ok(m) => {
                    self.retrying.remove(&m.key());
                    let _ = self.publish(
                        &m.session_id.clone(),
                        SessionEvent::Status {
                            message_id: m.message_id.to_string(),
                            to: m.to.clone(),
                            status: RecipientState::Queued,
                            reason: None,
                            short_code: Some(code.0.clone()),
                        },
                    );
                    self.dispatch(m, ctx);
                }
                Err(e) => {
                    tracing::error!(to = %y.to, error = %e, "cannot move an outbox record");
                    self.held = true;
                }
            }
        }
        true
    }

    /// While the store is unhealthy, try a flush; when it works again,
    /// reconcile the outbox with the journal and send what was held.
    fn probe_store(&mut self, ctx: &mut Context<Self>) {
        if !self.store.health().is_healthy() {
            if let Err(e) = self.store.flush_blocking() {
                tracing::warn!(error = %e, "the store is still failing");
                return;
            }
            tracing::info!("the store works again");
        }
        if !self.held {
            return;
        }
        let now = self.now();
        match self.outbound.reconcile(self.durable.core(), now) {
            Ok(_) => {
                self.held = false;
                self.send_pending(ctx);
            }
            Err(e) => tracing::error!(error = %e, "cannot reconcile the outbox"),
        }
    }
}

impl Actor for Gateway {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.me = Some(ctx.address());
        // Whatever the outbox held at the last stop goes out now.
        self.send_pending(ctx);
        if let Some(mut rx) = self.events.take() {
            let addr = ctx.address();
            actix::spawn(async move {
                while let Some(ev) = rx.recv().await {
                    if addr.send(Incoming(ev)).await.is_err() {
                        break;
                    }
                }
            });
        }
        // A modem that changes state wakes the watch (what waits for it
        // goes, or shows `waiting_for_modem`).
        let mut changes = self.sender.state_changes();
        let addr = ctx.address();
        actix::spawn(async move {
            while changes.changed().await.is_ok() {
                if addr.send(ModemsChanged).await.is_err() {
                    break;
                }
            }
        });
        // Messages a cap held when the caps changed while the gateway was
        // down (or were removed) are looked at once now, with the modems.
        self.admit_waiting(ctx);
        self.watch(ctx);
        self.keep_alive(ctx);
        self.arm(ctx);
    }

    fn stopping(&mut self, _: &mut Context<Self>) -> Running {
        self.snapshot();
        if let Err(e) = self.store.flush_blocking() {
            tracing::error!(error = %e, "cannot flush the store at stop; the journal replays at start");
        }
        Running::Stop
    }
}

/// A web send.
#[derive(Message)]
#[rtype(result = "Result<SendAnswer, SendError>")]
pub struct WebSend {
    pub session: Option<String>,
    pub request: SendRequest,
}

fn fresh_session_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

impl Handler<WebSend> for Gateway {
    type Result = ResponseActFuture<Self, Result<SendAnswer, SendError>>;

    fn handle(&mut self, msg: WebSend, ctx: &mut Context<Self>) -> Self::Result {
        let now = self.now();
        // A retried API request: its first answer, never a second send.
        if let Some((owner, (idem, fingerprint))) = msg
            .request
            .owner
            .as_ref()
            .and_then(|o| o.idempotency.as_ref().map(|i| (o, i)))
        {
            match self.keys.remembered(&owner.key, idem) {
                Ok(Some(r)) if r.fingerprint == *fingerprint => {
                    return Box::pin(fut::ready(Ok(r.answer)))
                }
                Ok(Some(_)) => return Box::pin(fut::ready(Err(SendError::IdempotencyKeyReused))),
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the idempotency records");
                    return Box::pin(fut::ready(Err(SendError::Unavailable)));
                }
            }
        }
        let result = match self.change(Change::Send {
            existing: msg.session.map(SessionId),
            new_id: SessionId(fresh_session_id()),
            to: msg.request.to.clone(),
            text: msg.request.text.clone(),
            // A Kannel client's `from` is the only code new pairs may take
            // (queued while its modem is down).
            live: Some(
                match msg.request.owner.as_ref().and_then(|o| o.from.as_ref()) {
                    Some(code) => vec![ShortCode(code.clone())],
                    None => self.live_codes(),
                },
            ),
            refused: msg.request.refused.clone(),
            at: now,
        }) {
            Ok(Applied::Send(result)) => result,
            Ok(_) => unreachable!("a send change gives a send plan"),
            Err(_) => return Box::pin(fut::ready(Err(SendError::Unavailable))),
        };
        let plan = match result {
            Ok(p) => p,
            Err(e) => {
                use crate::session::SendError as E;
                let err = match e {
                    E::TooManyRecipients { max, .. } => SendError::TooManyRecipients(max as u32),
                    E::NoRecipients => SendError::Invalid("no recipients".into()),
                    E::SendInProgress => SendError::SendInProgress,
                    E::SessionIdInUse { .. } => SendError::Unavailable,
                };
                return Box::pin(fut::ready(Err(err)));
            }
        };
        let records = Outbound::records(&plan, &msg.request.text, now);
        // Recipients whose SIM is at a cap wait for it (per-SIM caps).
        let held: Vec<String> = match (&plan.session, plan.message) {
            (Some(session), Some(message)) => self
                .durable
                .core()
                .get(session, now)
                .and_then(|s| s.messages.iter().find(|m| m.id == message))
                .map(|m| {
                    m.recipients
                        .iter()
                        .filter(|r| r.status == DeliveryStatus::WaitingForCap)
                        .map(|r| r.to.0.clone())
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let recipients: Vec<RecipientAnswer> = plan
            .recipients
            .iter()
            .map(|r| {
                let to =
                    r.to.as_ref()
                        .map(|m| m.0.clone())
                        .unwrap_or_else(|| r.input.clone());
                match &r.decision {
                    crate::session::Decision::Queued {
                        short_code,
                        can_reply,
                    } => RecipientAnswer {
                        status: if held.contains(&to) {
                            RecipientState::WaitingForCap
                        } else {
                            RecipientState::Queued
                        },
                        to,
                        short_code: Some(short_code.0.clone()),
                        can_reply: *can_reply,
                        reason: None,
                    },
                    crate::session::Decision::Refused { reason } => RecipientAnswer {
                        to,
                        status: RecipientState::Refused,
                        short_code: None,
                        can_reply: false,
                        reason: Some((*reason).into()),
                    },
                }
            })
            .collect();
        let Some(session_id) = plan.session.clone() else {
            // Every recipient was refused: no session, nothing to send.
            return Box::pin(fut::ready(Ok(SendAnswer {
                session: SessionRef {
                    id: String::new(),
                    expires_at: now,
                },
                message: None,
                recipients,
            })));
        };
        let session_ref = SessionRef {
            id: session_id.0.clone(),
            expires_at: plan.deadline.unwrap_or(now),
        };
        let message = plan.message.map(|m| m.0.to_string());
        if let Some(owner) = &msg.request.owner {
            let answer = SendAnswer {
                session: session_ref.clone(),
                message: message.clone(),
                recipients: recipients.clone(),
            };
            if let Err(e) = self.own(owner, &session_id.0, &answer, now) {
                // The journal has the send: it goes out once the store
                // works, but the program is told it failed.
                tracing::error!(error = %e, "cannot record an API key's conversation");
                self.held = true;
                self.arm(ctx);
                return Box::pin(fut::ready(Err(SendError::Unavailable)));
            }
        }
        let queued = self.outbound.queue(&records);
        if let Err(e) = &queued {
            tracing::error!(error = %e, "cannot write the outbox; the send is held");
            self.held = true;
        }
        let store = self.store.clone();
        Box::pin(
            async move { queued.is_ok() && store.flush().await.is_ok() }
                .into_actor(self)
                .map(move |durable, act, ctx| {
                    let at = act.now();
                    // A Finish that cannot be journaled is finished by the
                    // next start's recovery.
                    let _ = act.change(Change::Finish {
                        session: session_id,
                        at,
                    });
                    act.after_send(ctx);
                    if !durable {
                        // Held: the journal has the send; when the store
                        // works again the outbox is brought in line and it
                        // goes out (see probe_store).
                        act.held = true;
                        return Err(SendError::Unavailable);
                    }
                    for r in records {
                        // Withdrawn meanwhile (an admin ended the session)?
                        if act.outbound.is_pending(&r) {
                            act.dispatch(r, ctx);
                        }
                    }
                    Ok(SendAnswer {
                        session: session_ref,
                        message,
                        recipients,
                    })
                }),
        )
    }
}

/// The outcome of one outbox entry at its modem.
#[derive(Message)]
#[rtype(result = "()")]
struct Dispatched {
    record: OutboxRecord,
    outcome: crate::modem::types::SendOutcome,
}

impl Handler<Dispatched> for Gateway {
    type Result = ();

    fn handle(&mut self, msg: Dispatched, ctx: &mut Context<Self>) {
        let r = msg.record;
        if r.session_id.is_empty() {
            return; // an auto-reply: nothing to record
        }
        self.landed(&r.key());
        match outbound::decide(&r, msg.outcome) {
            Next::Sent(update, refs) => {
                // The status first: a restart then knows it was sent even
                // if the outbox still holds it. Without it, the record
                // stays (the journal still says queued; reconciling then
                // would only put it back).
                if self.set_status(&update).is_err() {
                    self.held = true;
                } else if let Err(e) = self.outbound.sent(&r, &refs) {
                    tracing::error!(to = %r.to, error = %e, "cannot record a sent message");
                    self.held = true;
                } else {
                    self.settle_early_reports();
                }
                self.flush_later();
            }
            Next::Retry(after, record) => {
                tracing::info!(to = %record.to, attempts = record.attempts, "send will be tried again in {after:?}");
                let key = record.key();
                self.retrying.insert(key.clone());
                ctx.run_later(after, move |act, ctx| {
                    act.retrying.remove(&key);
                    // As the outbox has it now: withdrawn meanwhile (its
                    // conversation ended) or moved to another short code.
                    if let Some(now) = act.outbound.pending_record(&key) {
                        act.dispatch(
                            OutboxRecord {
                                attempts: record.attempts,
                                ..now
                            },
                            ctx,
                        );
                    }
                });
            }
            Next::Failed(update) => {
                if self.set_status(&update).is_err() {
                    self.held = true;
                }
                let reason = update.reason.as_deref().unwrap_or_default();
                if let Err(e) = self.outbound.failed(&r, reason) {
                    tracing::error!(to = %r.to, error = %e, "cannot record a failed message");
                    self.held = true;
                }
                self.flush_later();
            }
        }
        self.arm(ctx);
    }
}

/// A modem changed state (up, down, registered...).
#[derive(Message)]
#[rtype(result = "()")]
struct ModemsChanged;

impl Handler<ModemsChanged> for Gateway {
    type Result = ();

    fn handle(&mut self, _: ModemsChanged, ctx: &mut Context<Self>) {
        self.watch(ctx);
        self.arm(ctx);
    }
}

/// An event of the modem pool.
#[derive(Message)]
#[rtype(result = "()")]
struct Incoming(PoolEvent);

/// How long a report for a send not recorded yet waits for it.
const EARLY_REPORT_WAIT: Duration = Duration::from_secs(30);

/// A delivery report waiting for its send to be recorded.
struct EarlyReport {
    short_code: String,
    part: crate::modem::types::PartRef,
    status: crate::sms::DeliveryStatus,
    ack: tokio::sync::oneshot::Sender<()>,
    until: DateTime<Utc>,
}

impl Handler<Incoming> for Gateway {
    type Result = ();

    fn handle(&mut self, msg: Incoming, ctx: &mut Context<Self>) {
        let PoolEvent { short_code, event } = msg.0;
        let (ok, ack) = match event {
            ModemEvent::Received { deliver, ack } => {
                (self.receive(&short_code, &deliver, ctx), ack)
            }
            ModemEvent::DeliveryReport {
                message_ref,
                status,
                ack,
                ..
            } => {
                let message_ref = self.known_form(&short_code, message_ref);
                if !self.in_flight.is_empty() && self.unknown_ref(&short_code, &message_ref) {
                    // Its send may be answered but not recorded yet.
                    self.early_reports.push(EarlyReport {
                        short_code,
                        part: message_ref,
                        status,
                        ack,
                        until: self.now()
                            + chrono::Duration::from_std(EARLY_REPORT_WAIT).unwrap_or_default(),
                    });
                    self.arm(ctx);
                    return;
                }
                (self.report(&short_code, &message_ref, status), ack)
            }
        };
        self.arm(ctx);
        if ok {
            self.ack_when_durable(ack);
        }
    }
}

impl Gateway {
    /// Whether no recorded send has part `part` from `short_code` (a
    /// store error counts as known: [`Gateway::report`] then says so).
    fn unknown_ref(&self, short_code: &str, part: &crate::modem::types::PartRef) -> bool {
        matches!(self.outbound.has_ref(short_code, part), Ok(false))
    }

    /// `part` as a recorded send has it (see [`Outbound::recorded_form`]).
    fn known_form(
        &self,
        short_code: &str,
        part: crate::modem::types::PartRef,
    ) -> crate::modem::types::PartRef {
        self.outbound.recorded_form(short_code, part)
    }

    /// Applies the early reports whose send is now recorded, and lets go
    /// (acknowledged, as a report of an unknown send always was) those
    /// that waited [`EARLY_REPORT_WAIT`] in vain.
    fn settle_early_reports(&mut self) {
        if self.early_reports.is_empty() {
            return;
        }
        let now = self.now();
        let parked = std::mem::take(&mut self.early_reports);
        for mut r in parked {
            r.part = self.known_form(&r.short_code, r.part);
            if !self.unknown_ref(&r.short_code, &r.part) || r.until <= now {
                if self.report(&r.short_code, &r.part, r.status) {
                    self.ack_when_durable(r.ack);
                }
            } else {
                self.early_reports.push(r);
            }
        }
    }

    /// Acknowledges a modem's SMS or an SMSC's deliver_sm once what it
    /// changed is on disk: only then may the modem delete it, or the SMSC
    /// forget it.
    fn ack_when_durable(&self, ack: tokio::sync::oneshot::Sender<()>) {
        let store = self.store.clone();
        actix::spawn(async move {
            match store.flush().await {
                Ok(()) => {
                    let _ = ack.send(());
                }
                Err(e) => tracing::error!(error = %e, "flush failed; the SMS stays on the modem"),
            }
        });
    }
}

/// The live session `id` (web: `GET /api/session`).
#[derive(Message)]
#[rtype(result = "Option<SessionView>")]
pub struct GetSession(pub String);

impl Handler<GetSession> for Gateway {
    type Result = Option<SessionView>;
    fn handle(&mut self, msg: GetSession, _: &mut Context<Self>) -> Self::Result {
        self.durable
            .core()
            .get(&SessionId(msg.0), self.now())
            .map(views::session_view)
    }
}

/// Live events of session `id`.
#[derive(Message)]
#[rtype(result = "Option<broadcast::Receiver<Arc<SessionEvent>>>")]
pub struct Subscribe(pub String);

impl Handler<Subscribe> for Gateway {
    type Result = Option<broadcast::Receiver<Arc<SessionEvent>>>;
    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) -> Self::Result {
        self.durable
            .core()
            .get(&SessionId(msg.0.clone()), self.now())?;
        let tx = self
            .channels
            .entry(msg.0)
            .or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0);
        Some(tx.subscribe())
    }
}

/// SIGHUP changed the modems: these short codes are configured now (the
/// pool already runs the new ones; removed ones are drained, then stopped).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetPool(pub Vec<ShortCode>);

impl Handler<SetPool> for Gateway {
    type Result = ();
    fn handle(&mut self, msg: SetPool, ctx: &mut Context<Self>) {
        self.set_pool(msg.0, ctx);
        self.arm(ctx);
    }
}

/// Admin: every live session.
#[derive(Message)]
#[rtype(result = "Vec<SessionSummary>")]
pub struct ListSessions;

impl Handler<ListSessions> for Gateway {
    type Result = Vec<SessionSummary>;
    fn handle(&mut self, _: ListSessions, _: &mut Context<Self>) -> Self::Result {
        self.durable
            .core()
            .live_sessions(self.now())
            .map(views::session_summary)
            .collect()
    }
}

/// Admin: end a session now. Answered once the end is durable.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct EndSession(pub String);

impl Handler<EndSession> for Gateway {
    type Result = ResponseActFuture<Self, bool>;
    fn handle(&mut self, msg: EndSession, ctx: &mut Context<Self>) -> Self::Result {
        let at = self.now();
        let session = SessionId(msg.0.clone());
        if self.durable.core().get(&session, at).is_none() {
            return Box::pin(fut::ready(false));
        }
        let Ok(Applied::Ended(ended)) = self.change(Change::End { session, at }) else {
            return Box::pin(fut::ready(false));
        };
        let Some(e) = ended.first() else {
            return Box::pin(fut::ready(false));
        };
        let _ = self.publish(
            &msg.0,
            SessionEvent::Expired {
                ended_at: e.ended_at,
            },
        );
        self.channels.remove(&msg.0);
        self.withdraw(&msg.0);
        // The ended session is swept (its pairs retired) at the next alarm.
        self.arm(ctx);
        let store = self.store.clone();
        Box::pin(async move { store.flush().await.is_ok() }.into_actor(self))
    }
}

/// Numbers for `/metrics`, `/readyz` and the watchdog: kept, not counted.
#[derive(Message)]
#[rtype(result = "GatewayCounters")]
pub struct Counters;

impl Handler<Counters> for Gateway {
    type Result = MessageResult<Counters>;
    fn handle(&mut self, _: Counters, _: &mut Context<Self>) -> Self::Result {
        let ledger = self.durable.core().state().ledger;
        MessageResult(GatewayCounters {
            live_sessions: self.durable.core().live_count() as u64,
            queue_depth: self.sender.queued() + self.backlogged.len() as u64,
            out_of_session_replies: ledger.out_of_session,
            mo_charges: ledger.charges,
            store_open: self.store.health().is_healthy(),
            store_errors: self.store.health().errors(),
            timer_wakeups: self.wakeups,
            store_flushes: self.store.flushes(),
        })
    }
}

/// Stops the supervisor after saving and flushing everything.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

impl Handler<Shutdown> for Gateway {
    type Result = ();
    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        for (_, tx) in self.channels.drain() {
            drop(tx);
        }
        ctx.stop();
    }
}

/// How a keep-alive SMS ended.
#[derive(Message)]
#[rtype(result = "()")]
struct KeptAlive {
    code: String,
    outcome: crate::modem::types::SendOutcome,
}

impl Handler<KeptAlive> for Gateway {
    type Result = ();
    fn handle(&mut self, msg: KeptAlive, ctx: &mut Context<Self>) {
        let entry = self.keepalives.entry(msg.code.clone()).or_default();
        match msg.outcome {
            crate::modem::types::SendOutcome::Sent { .. } => {
                entry.0 += 1;
                tracing::info!(short_code = %msg.code, "keep-alive SMS sent");
            }
            crate::modem::types::SendOutcome::Failed { reason, .. } => {
                entry.1 += 1;
                let retry = self.now() + KEEPALIVE_RETRY;
                tracing::warn!(short_code = %msg.code, %reason, %retry, "keep-alive SMS failed; tried again later");
                self.keepalive_retry.insert(msg.code, retry);
            }
        }
        self.arm(ctx);
    }
}

/// Each SIM's usage and caps, and what the gateway counted of them.
#[derive(Message)]
#[rtype(result = "Vec<SimUsageView>")]
pub struct SimUsages;

/// One SIM's usage as the admin sees it.
#[derive(Debug, Clone, Serialize)]
pub struct SimUsageView {
    pub short_code: String,
    pub caps: crate::session::Caps,
    pub sent_today: u32,
    pub sent_this_month: u32,
    /// Distinct recipients this month (counted only with a recipients cap).
    pub recipients_this_month: u32,
    /// The caps reached now (`day`, `month`, `recipients`).
    pub reached: Vec<CapKind>,
    /// The admin lifted the reached caps until their periods end.
    pub lifted: bool,
    pub last_sent: Option<DateTime<Utc>>,
    /// Messages waiting for this SIM's cap.
    pub waiting_for_cap: usize,
    /// Times each cap was reached since start.
    pub crossings: BTreeMap<CapKind, u64>,
    /// Keep-alive SMS sent and failed since start, and when the next is due.
    pub keepalives_sent: u64,
    pub keepalives_failed: u64,
    pub next_keepalive: Option<DateTime<Utc>>,
}

impl Handler<SimUsages> for Gateway {
    type Result = MessageResult<SimUsages>;
    fn handle(&mut self, _: SimUsages, _: &mut Context<Self>) -> Self::Result {
        let now = self.now();
        let day = crate::session::local_day(now);
        let core = self.durable.core();
        let mut waiting: BTreeMap<&str, usize> = BTreeMap::new();
        for s in core.live_sessions(now) {
            for r in s.messages.iter().flat_map(|m| m.recipients.iter()) {
                if r.status == DeliveryStatus::WaitingForCap {
                    *waiting.entry(r.short_code.as_str()).or_default() += 1;
                }
            }
        }
        let views = core
            .config()
            .pool
            .iter()
            .map(|code| {
                let caps = core.caps_of(code);
                let usage = core.state().usage.get(code).cloned().unwrap_or_default();
                let (sent, failed) = self.keepalives.get(&code.0).copied().unwrap_or_default();
                SimUsageView {
                    short_code: code.0.clone(),
                    caps,
                    sent_today: usage.sent_on(day),
                    sent_this_month: usage.sent_in_month(day),
                    recipients_this_month: usage.recipients_in_month(day),
                    reached: usage.reached(&caps, day),
                    lifted: usage.lifted_day == Some(day),
                    last_sent: usage.last_sent,
                    waiting_for_cap: waiting.get(code.as_str()).copied().unwrap_or(0),
                    crossings: self
                        .crossings
                        .iter()
                        .filter(|((c, _), _)| c == &code.0)
                        .map(|((_, k), n)| (*k, *n))
                        .collect(),
                    keepalives_sent: sent,
                    keepalives_failed: failed,
                    next_keepalive: self.keepalive_at(&code.0, &usage),
                }
            })
            .collect();
        MessageResult(views)
    }
}

/// Admin: lifts a SIM's reached caps until their periods end.
#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct LiftCaps(pub String);

impl Handler<LiftCaps> for Gateway {
    type Result = ResponseActFuture<Self, Result<(), String>>;
    fn handle(&mut self, msg: LiftCaps, _: &mut Context<Self>) -> Self::Result {
        let now = self.now();
        if !self.configured(&msg.0) {
            return Box::pin(fut::ready(Err(format!(
                "no modem has the short code {}",
                msg.0
            ))));
        }
        if self
            .change(Change::LiftCap {
                code: ShortCode(msg.0.clone()),
                at: now,
            })
            .is_err()
        {
            return Box::pin(fut::ready(Err("the store cannot take it".into())));
        }
        tracing::info!(short_code = %msg.0, "an admin lifted the SIM's caps until their periods end");
        self.reached.remove(&msg.0);
        let store = self.store.clone();
        Box::pin(
            async move { store.flush().await }
                .into_actor(self)
                .map(|flushed, act, ctx| {
                    act.watch_soon();
                    act.arm(ctx);
                    flushed.map_err(|e| e.to_string())
                }),
        )
    }
}

/// SIGHUP changed the modems' keep-alives and caps.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetSims {
    pub keepalive: BTreeMap<String, KeepAlive>,
    pub caps: BTreeMap<ShortCode, crate::session::Caps>,
}

impl Handler<SetSims> for Gateway {
    type Result = ();
    fn handle(&mut self, msg: SetSims, ctx: &mut Context<Self>) {
        self.settings.keepalive = msg.keepalive;
        self.durable.set_caps(msg.caps);
        self.watch(ctx);
        self.keep_alive(ctx);
        self.arm(ctx);
    }
}
