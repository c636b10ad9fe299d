//! The session supervisor: an actix actor that owns the session core, the
//! store tables, the modem pool handle, the multipart assemblers and the
//! per-session event channels. Business rules live in the pure core
//! ([`crate::session`]); this actor only sequences them with I/O:
//!
//! - a web send is answered only after its outbox entries and the session
//!   state are flushed to disk;
//! - an SMS part is acknowledged to its modem (which then deletes it from
//!   the SIM) only after the part, its routing and its charge are flushed;
//! - the outbox is dispatched to the modem of each entry's short code, and
//!   delivery reports come back through the TP-MR references.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use crate::clock::Clock;
use crate::modem::pool::{ModemPool, PoolEvent};
use crate::modem::types::{ModemEvent, OutgoingSms, SendOutcome};
use crate::session::{
    Decision, DeliveryStatus, MessageId, Msisdn, Routed, SessionCore, SessionId, ShortCode,
};
use crate::sms::{Assembler, DeliveryStatus as ReportStatus, IncomingPart};
use crate::store::{Store, StoreError, Table};

use super::api::{
    ChargeItem, GatewayCounters, OutOfSessionItem, OutboxItem, RecipientAnswer, SendAnswer,
    SendError, SendRequest, SessionEvent, SessionRef, SessionSummary, SessionView,
};
use super::journal::{apply, Applied, Entry, Journal, Snapshot};
use super::records::{outbox_key, ref_key, OutboxRecord, Progress, RefRecord};
use super::views;

/// How often ended sessions are collected.
const EXPIRY_TICK: Duration = Duration::from_millis(250);
/// How long a multipart message may wait for its missing parts.
const ASSEMBLY_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// Pause before a send that failed for a passing reason is tried again.
const REDISPATCH_AFTER: Duration = Duration::from_secs(5);
/// Events kept per session channel for a slow reader. Each slot costs
/// ~150 bytes per live stream; a reader that falls further behind has its
/// stream ended and the browser re-reads the session when it reconnects.
const CHANNEL_CAPACITY: usize = 64;

/// The tables of the gateway.
#[derive(Clone)]
pub struct Tables {
    pub journal: Table<Entry>,
    pub snapshots: Table<Snapshot>,
    pub outbox: Table<OutboxRecord>,
    pub refs: Table<RefRecord>,
    pub progress: Table<Progress>,
    pub assembly: Table<Assembler>,
    pub out_of_session: Table<OutOfSessionItem>,
    pub charges: Table<ChargeItem>,
    /// Fingerprints of SMS parts already taken in: a part read again after
    /// a crash between its flush and its `AT+CMGD` is not taken twice.
    pub seen: Table<DateTime<Utc>>,
}

impl Tables {
    pub fn open(store: &Store) -> Result<Tables, StoreError> {
        Ok(Tables {
            journal: store.table("journal")?,
            snapshots: store.table("snapshots")?,
            outbox: store.table("outbox")?,
            refs: store.table("refs")?,
            progress: store.table("progress")?,
            assembly: store.table("assembly")?,
            out_of_session: store.table("out_of_session")?,
            charges: store.table("charges")?,
            seen: store.table("seen")?,
        })
    }
}

/// The supervisor.
pub struct Gateway {
    core: SessionCore,
    journal: Journal,
    store: Store,
    tables: Tables,
    pool: ModemPool,
    clock: Arc<dyn Clock>,
    assemblers: HashMap<String, Assembler>,
    channels: HashMap<String, broadcast::Sender<SessionEvent>>,
    events: Option<tokio::sync::mpsc::UnboundedReceiver<PoolEvent>>,
}

impl Gateway {
    /// A supervisor over `store` (its persisted state restored) driving
    /// `pool`, whose events arrive on `events`.
    pub fn new(
        core: SessionCore,
        store: Store,
        pool: ModemPool,
        clock: Arc<dyn Clock>,
        events: tokio::sync::mpsc::UnboundedReceiver<PoolEvent>,
    ) -> Result<Gateway, StoreError> {
        let tables = Tables::open(&store)?;
        let mut core = core;
        let journal =
            Journal::restore(tables.journal.clone(), tables.snapshots.clone(), &mut core)?;
        let mut assemblers = HashMap::new();
        for (code, a) in tables.assembly.all()? {
            assemblers.insert(code, a);
        }
        Ok(Gateway {
            core,
            journal,
            store,
            tables,
            pool,
            clock,
            assemblers,
            channels: HashMap::new(),
            events: Some(events),
        })
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Applies one change to the core and journals it.
    fn change(&mut self, entry: Entry) -> Applied {
        let applied = apply(&mut self.core, &entry);
        let journaled = match &applied {
            // An expiry that ended nothing changed nothing worth replaying.
            Applied::Ended(e) if e.is_empty() => Ok(()),
            _ => self.journal.append(&entry),
        };
        if let Err(e) = journaled {
            tracing::error!(error = %e, "cannot journal a session change");
        }
        if self.journal.snapshot_due() {
            self.snapshot();
        }
        applied
    }

    fn snapshot(&mut self) {
        if let Err(e) = self.journal.snapshot(self.core.state()) {
            tracing::error!(error = %e, "cannot snapshot the session state");
        }
        // The snapshot copied and serialised the whole state: give the
        // transient memory back rather than keep it as a high-water mark.
        crate::memory::give_back_free_memory();
    }

    fn publish(&mut self, session: &str, event: SessionEvent) {
        if let Some(tx) = self.channels.get(session) {
            let _ = tx.send(event);
        }
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

    fn dispatch(&self, record: OutboxRecord, ctx: &mut Context<Self>) {
        let pool = self.pool.clone();
        let addr = ctx.address();
        actix::spawn(async move {
            let sms = OutgoingSms {
                message_id: record.message_id,
                recipient: record.to.clone(),
                text: record.text.clone(),
                concat_ref: record.concat_ref,
            };
            let outcome = match pool.send(&record.short_code, sms).await {
                Ok(o) => o,
                Err(e) => SendOutcome::Failed {
                    reason: e.to_string(),
                    permanent: true,
                },
            };
            addr.do_send(Dispatched { record, outcome });
        });
    }

    fn set_status(
        &mut self,
        message_id: u64,
        session: &str,
        to: &str,
        status: DeliveryStatus,
        reason: Option<String>,
    ) {
        let at = self.now();
        let Applied::Status(result) = self.change(Entry::Status {
            message: MessageId(message_id),
            to: Msisdn(to.to_string()),
            status,
            reason: reason.clone(),
            at,
        }) else {
            return;
        };
        match result {
            Ok(true) => {
                self.publish(
                    session,
                    SessionEvent::Status {
                        message_id: message_id.to_string(),
                        to: to.to_string(),
                        status: views::status_text(status).into(),
                        reason,
                    },
                );
            }
            Ok(false) => {}
            // The session ended meanwhile: nobody can see the status.
            Err(e) => tracing::debug!(error = %e, "status of an ended session"),
        }
    }

    fn sweep_expired(&mut self) {
        let at = self.now();
        let Applied::Ended(ended) = self.change(Entry::Expire { at }) else {
            return;
        };
        if ended.is_empty() {
            return;
        }
        for e in ended {
            self.publish(
                &e.session.0,
                SessionEvent::Expired {
                    ended_at: e.ended_at,
                },
            );
            self.channels.remove(&e.session.0);
        }
        self.flush_later();
        crate::memory::give_back_free_memory();
    }

    /// One SMS part arrived at `short_code`. Returns whether it may be
    /// acknowledged once flushed.
    fn receive(
        &mut self,
        short_code: &str,
        deliver: &crate::sms::Deliver,
        ctx: &mut Context<Self>,
    ) -> bool {
        let now = self.now();
        let fingerprint = fingerprint(short_code, deliver);
        if self.tables.seen.contains(&fingerprint).unwrap_or(false) {
            tracing::info!(%short_code, "SMS part taken in before; deleted again");
            return true;
        }
        let assembler = self
            .assemblers
            .entry(short_code.to_string())
            .or_insert_with(|| Assembler::new(ASSEMBLY_TIMEOUT));
        let mut done = assembler
            .push(IncomingPart::from(deliver), now)
            .into_iter()
            .collect::<Vec<_>>();
        done.extend(assembler.expire(now));
        let snapshot = assembler.clone();
        for message in done {
            self.route(short_code, &message.sender.to_string(), &message.text, ctx);
        }
        let persisted = self
            .tables
            .assembly
            .put(short_code, &snapshot)
            .and_then(|()| self.tables.seen.put(&fingerprint, &now));
        match persisted {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, "cannot persist an incoming part; it stays on the modem");
                false
            }
        }
    }

    /// R3, R7, R10, R12 for one complete message.
    fn route(&mut self, short_code: &str, from: &str, text: &str, ctx: &mut Context<Self>) {
        let now = self.now();
        let outcome = self
            .core
            .route_reply(from, &ShortCode(short_code.to_string()), text, now);
        match outcome.routed {
            Routed::ToSession { session, reply } => {
                let expires_at = self
                    .core
                    .get(&session, now)
                    .map(|s| s.deadline)
                    .unwrap_or(now);
                self.publish(
                    &session.0,
                    SessionEvent::Reply {
                        reply: views::reply_view(&reply),
                        expires_at,
                    },
                );
            }
            Routed::OutOfSession { record } => {
                let id = self.store.next_id().unwrap_or_default();
                let item = OutOfSessionItem {
                    from: record.from.0.clone(),
                    short_code: record.short_code.0.clone(),
                    text: record.text.clone(),
                    received_at: record.received_at,
                    auto_replied: record.auto_reply.is_some(),
                };
                if let Err(e) = self.tables.out_of_session.put(&format!("{id:020}"), &item) {
                    tracing::error!(error = %e, "cannot keep an out-of-session reply");
                }
                if let Some(text) = record.auto_reply {
                    // R7: the optional notice that the conversation ended.
                    self.dispatch(
                        OutboxRecord {
                            message_id: id,
                            session_id: String::new(),
                            to: record.from.0,
                            short_code: record.short_code.0,
                            text,
                            concat_ref: (id % 255) as u8 + 1,
                            queued_at: now,
                            failed: None,
                        },
                        ctx,
                    );
                }
            }
        }
        let id = self.store.next_id().unwrap_or_default();
        if let Err(e) = self
            .tables
            .charges
            .put(&format!("{id:020}"), &views::charge_item(id, &outcome.cdr))
        {
            tracing::error!(error = %e, "cannot record a charge");
        }
    }

    fn report(&mut self, short_code: &str, mr: u8, status: ReportStatus) {
        let key = ref_key(short_code, mr);
        let Ok(Some(r)) = self.tables.refs.get(&key) else {
            return;
        };
        let pkey = outbox_key(r.message_id, &r.to);
        match status {
            ReportStatus::Pending => {}
            ReportStatus::Delivered => {
                let _ = self.tables.refs.remove(&key);
                let mut p = self
                    .tables
                    .progress
                    .get(&pkey)
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                p.delivered_parts += 1;
                if p.delivered_parts >= r.parts {
                    let _ = self.tables.progress.remove(&pkey);
                    self.set_status(
                        r.message_id,
                        &r.session_id,
                        &r.to,
                        DeliveryStatus::Delivered,
                        None,
                    );
                } else {
                    let _ = self.tables.progress.put(&pkey, &p);
                }
            }
            ReportStatus::FailedPermanent | ReportStatus::FailedTemporary => {
                let _ = self.tables.refs.remove(&key);
                let _ = self.tables.progress.remove(&pkey);
                self.set_status(
                    r.message_id,
                    &r.session_id,
                    &r.to,
                    DeliveryStatus::Failed,
                    Some("the network could not deliver it".into()),
                );
            }
        }
    }
}

/// What identifies one SMS part: the short code it reached, its sender,
/// its service-centre time stamp, its concatenation header and its text.
fn fingerprint(short_code: &str, d: &crate::sms::Deliver) -> String {
    let concat = d
        .user_data
        .udh
        .as_ref()
        .and_then(|u| u.concat.as_ref())
        .map(|c| format!("{}/{}/{}", c.reference, c.total, c.seq))
        .unwrap_or_default();
    let body = d
        .user_data
        .text
        .clone()
        .unwrap_or_else(|| hex::encode(&d.user_data.data));
    format!(
        "{short_code}|{}|{}|{concat}|{body}",
        d.originator,
        d.scts.to_rfc3339()
    )
}

/// How long part fingerprints are kept (a modem re-reads a part within
/// seconds of a restart; a week covers a box left off for days).
const SEEN_FOR: chrono::Duration = chrono::Duration::days(7);
/// How often old fingerprints are dropped.
const SEEN_PRUNE_EVERY: Duration = Duration::from_secs(3600);

impl Gateway {
    fn prune_seen(&mut self) {
        let cutoff = self.now() - SEEN_FOR;
        if let Ok(all) = self.tables.seen.all() {
            for (k, at) in all {
                if at < cutoff {
                    let _ = self.tables.seen.remove(&k);
                }
            }
        }
    }
}

impl Actor for Gateway {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Whatever the outbox held at the last stop goes out now.
        match self.tables.outbox.all() {
            Ok(records) => {
                for (_, r) in records.into_iter().filter(|(_, r)| r.failed.is_none()) {
                    self.dispatch(r, ctx);
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read the outbox"),
        }
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
        ctx.run_interval(EXPIRY_TICK, |act, _| act.sweep_expired());
        ctx.run_interval(SEEN_PRUNE_EVERY, |act, _| act.prune_seen());
    }

    fn stopping(&mut self, _: &mut Context<Self>) -> Running {
        self.snapshot();
        let _ = self.store.flush_blocking();
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

    fn handle(&mut self, msg: WebSend, _ctx: &mut Context<Self>) -> Self::Result {
        let now = self.now();
        let Applied::Send(result) = self.change(Entry::Send {
            existing: msg.session.map(SessionId),
            new_id: SessionId(fresh_session_id()),
            to: msg.request.to.clone(),
            text: msg.request.text.clone(),
            at: now,
        }) else {
            return Box::pin(fut::ready(Err(SendError::Unavailable)));
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
        let mut records = Vec::new();
        let recipients: Vec<RecipientAnswer> = plan
            .recipients
            .iter()
            .map(|r| {
                let to =
                    r.to.as_ref()
                        .map(|m| m.0.clone())
                        .unwrap_or_else(|| r.input.clone());
                match &r.decision {
                    Decision::Queued {
                        short_code,
                        can_reply,
                    } => {
                        if let (Some(message), Some(session)) =
                            (plan.message, plan.session.as_ref())
                        {
                            records.push(OutboxRecord {
                                message_id: message.0,
                                session_id: session.0.clone(),
                                to: to.clone(),
                                short_code: short_code.0.clone(),
                                text: msg.request.text.clone(),
                                concat_ref: (message.0 % 255) as u8 + 1,
                                queued_at: now,
                                failed: None,
                            });
                        }
                        RecipientAnswer {
                            to,
                            status: "queued".into(),
                            short_code: Some(short_code.0.clone()),
                            can_reply: *can_reply,
                            reason: None,
                        }
                    }
                    Decision::Refused { reason } => RecipientAnswer {
                        to,
                        status: "refused".into(),
                        short_code: None,
                        can_reply: false,
                        reason: Some(reason.to_string()),
                    },
                }
            })
            .collect();
        let session_ref = plan.session.as_ref().map(|id| SessionRef {
            id: id.0.clone(),
            expires_at: plan.deadline.unwrap_or(now),
        });
        let Some(session_ref) = session_ref else {
            // Every recipient was refused: no session, nothing to send.
            return Box::pin(fut::ready(Ok(SendAnswer {
                session: SessionRef {
                    id: String::new(),
                    expires_at: now,
                },
                recipients,
            })));
        };
        let mut stored = true;
        for r in &records {
            if let Err(e) = self.tables.outbox.put(&r.key(), r) {
                tracing::error!(error = %e, "cannot write the outbox");
                stored = false;
            }
        }
        let session_id = SessionId(session_ref.id.clone());
        let store = self.store.clone();
        Box::pin(
            async move { stored && store.flush().await.is_ok() }
                .into_actor(self)
                .map(move |durable, act, ctx| {
                    let at = act.now();
                    act.change(Entry::Finish {
                        session: session_id,
                        at,
                    });
                    if !durable {
                        return Err(SendError::Unavailable);
                    }
                    for r in records {
                        act.dispatch(r, ctx);
                    }
                    Ok(SendAnswer {
                        session: session_ref,
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
    outcome: SendOutcome,
}

impl Handler<Dispatched> for Gateway {
    type Result = ();

    fn handle(&mut self, msg: Dispatched, ctx: &mut Context<Self>) {
        let r = msg.record;
        match msg.outcome {
            SendOutcome::Sent { message_refs } => {
                for mr in &message_refs {
                    let rec = RefRecord {
                        message_id: r.message_id,
                        session_id: r.session_id.clone(),
                        to: r.to.clone(),
                        parts: message_refs.len(),
                    };
                    let _ = self.tables.refs.put(&ref_key(&r.short_code, *mr), &rec);
                }
                let _ = self.tables.outbox.remove(&r.key());
                self.set_status(
                    r.message_id,
                    &r.session_id,
                    &r.to,
                    DeliveryStatus::Sent,
                    None,
                );
                self.flush_later();
            }
            SendOutcome::Failed {
                reason,
                permanent: false,
            } => {
                tracing::info!(to = %r.to, %reason, "send will be tried again");
                ctx.run_later(REDISPATCH_AFTER, move |act, ctx| act.dispatch(r, ctx));
            }
            SendOutcome::Failed {
                reason,
                permanent: true,
            } => {
                let failed = OutboxRecord {
                    failed: Some(reason.clone()),
                    ..r.clone()
                };
                let _ = self.tables.outbox.put(&r.key(), &failed);
                self.set_status(
                    r.message_id,
                    &r.session_id,
                    &r.to,
                    DeliveryStatus::Failed,
                    Some(reason),
                );
                self.flush_later();
            }
        }
    }
}

/// An event of the modem pool.
#[derive(Message)]
#[rtype(result = "()")]
struct Incoming(PoolEvent);

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
                self.report(&short_code, message_ref, status);
                (true, ack)
            }
        };
        if !ok {
            return;
        }
        // Only once durable may the modem delete the SMS from its storage.
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
        self.core
            .get(&SessionId(msg.0), self.now())
            .map(views::session_view)
    }
}

/// Live events of session `id`.
#[derive(Message)]
#[rtype(result = "Option<broadcast::Receiver<SessionEvent>>")]
pub struct Subscribe(pub String);

impl Handler<Subscribe> for Gateway {
    type Result = Option<broadcast::Receiver<SessionEvent>>;
    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) -> Self::Result {
        self.core.get(&SessionId(msg.0.clone()), self.now())?;
        let tx = self
            .channels
            .entry(msg.0)
            .or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0);
        Some(tx.subscribe())
    }
}

/// Admin: every live session.
#[derive(Message)]
#[rtype(result = "Vec<SessionSummary>")]
pub struct ListSessions;

impl Handler<ListSessions> for Gateway {
    type Result = Vec<SessionSummary>;
    fn handle(&mut self, _: ListSessions, _: &mut Context<Self>) -> Self::Result {
        self.core
            .live_sessions(self.now())
            .map(views::session_summary)
            .collect()
    }
}

/// Admin: end a session now.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct EndSession(pub String);

impl Handler<EndSession> for Gateway {
    type Result = bool;
    fn handle(&mut self, msg: EndSession, _: &mut Context<Self>) -> bool {
        let at = self.now();
        let Applied::Ended(ended) = self.change(Entry::End {
            session: SessionId(msg.0.clone()),
            at,
        }) else {
            return false;
        };
        match ended.first() {
            Some(e) => {
                self.publish(
                    &msg.0,
                    SessionEvent::Expired {
                        ended_at: e.ended_at,
                    },
                );
                self.channels.remove(&msg.0);
                self.flush_later();
                true
            }
            None => false,
        }
    }
}

/// Admin: the outbox.
#[derive(Message)]
#[rtype(result = "Vec<OutboxItem>")]
pub struct ListOutbox;

impl Handler<ListOutbox> for Gateway {
    type Result = Vec<OutboxItem>;
    fn handle(&mut self, _: ListOutbox, _: &mut Context<Self>) -> Self::Result {
        self.tables
            .outbox
            .all()
            .unwrap_or_default()
            .into_iter()
            .map(|(_, r)| OutboxItem {
                message_id: r.message_id.to_string(),
                session_id: r.session_id,
                to: r.to,
                short_code: r.short_code,
                status: if r.failed.is_some() {
                    "failed"
                } else {
                    "queued"
                }
                .into(),
                queued_at: r.queued_at,
                reason: r.failed,
            })
            .collect()
    }
}

/// Admin: replies that reached no session.
#[derive(Message)]
#[rtype(result = "Vec<OutOfSessionItem>")]
pub struct ListOutOfSession;

impl Handler<ListOutOfSession> for Gateway {
    type Result = Vec<OutOfSessionItem>;
    fn handle(&mut self, _: ListOutOfSession, _: &mut Context<Self>) -> Self::Result {
        self.tables
            .out_of_session
            .all()
            .unwrap_or_default()
            .into_iter()
            .map(|(_, r)| r)
            .collect()
    }
}

/// Admin: charges between two times.
#[derive(Message)]
#[rtype(result = "Vec<ChargeItem>")]
pub struct ListCharges {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl Handler<ListCharges> for Gateway {
    type Result = Vec<ChargeItem>;
    fn handle(&mut self, msg: ListCharges, _: &mut Context<Self>) -> Self::Result {
        self.tables
            .charges
            .all()
            .unwrap_or_default()
            .into_iter()
            .map(|(_, c)| c)
            .filter(|c| msg.from.is_none_or(|f| c.time >= f) && msg.to.is_none_or(|t| c.time < t))
            .collect()
    }
}

/// Numbers for `/metrics`.
#[derive(Message)]
#[rtype(result = "GatewayCounters")]
pub struct Counters;

impl Handler<Counters> for Gateway {
    type Result = MessageResult<Counters>;
    fn handle(&mut self, _: Counters, _: &mut Context<Self>) -> Self::Result {
        MessageResult(GatewayCounters {
            live_sessions: self.core.live_sessions(self.now()).count() as u64,
            queue_depth: self.pool.statuses().iter().map(|s| s.queued as u64).sum(),
            out_of_session_replies: self.tables.out_of_session.len() as u64,
            mo_charges: self.tables.charges.len() as u64,
            store_open: true,
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
