//! The outbound side of the gateway: the outbox (one record per message
//! and recipient until a modem took it), the retry policy, and the TP-MR
//! references that map delivery reports back to (message, recipient),
//! across the parts of a long message.
//!
//! Plain parts over the store, depending on the modems only through
//! [`SmsSender`]. The supervisor journals each status change first and
//! then calls these, so that after a crash [`Outbound::reconcile`] can
//! bring the outbox in line with the journaled state.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;

use crate::modem::pool::ModemPool;
use crate::modem::types::{OutgoingSms, PartRef, SendOutcome};
use crate::session::{Decision, DeliveryStatus, MessageId, Msisdn, SendPlan, SessionCore};
use crate::sms::DeliveryStatus as ReportStatus;
use crate::store::{Store, StoreError, Table};

use super::api::{OutboxItem, OutboxStatus};
use super::records::{outbox_key, ref_key, OutboxRecord, Progress, RefRecord};

/// "Send this SMS from that short code": what the gateway needs of the
/// modems (or of a fake, in tests).
pub trait SmsSender: Send + Sync + 'static {
    /// Sends `sms` from `short_code`; resolves when it was sent or failed.
    fn send(&self, short_code: &str, sms: OutgoingSms) -> BoxFuture<'static, SendOutcome>;
    /// Messages waiting at the modems.
    fn queued(&self) -> u64;
    /// Short codes whose modem is not up, registered with its SIM: no new
    /// conversation goes there.
    fn down(&self) -> Vec<String>;
    /// Stops the modem of `short_code` for good: it was removed from the
    /// configuration and nothing waits for it any more.
    fn stop(&self, short_code: &str);
    /// Changes whenever a modem's state changes, so that the supervisor
    /// wakes then instead of polling [`Self::down`].
    fn state_changes(&self) -> tokio::sync::watch::Receiver<u64>;
}

impl SmsSender for ModemPool {
    fn send(&self, short_code: &str, sms: OutgoingSms) -> BoxFuture<'static, SendOutcome> {
        let pool = self.clone();
        let code = short_code.to_string();
        Box::pin(async move {
            match ModemPool::send(&pool, &code, sms).await {
                Ok(o) => o,
                // A modem missing for a moment (SIGHUP restarts it with new
                // settings): tried again; its conversation's end withdraws
                // it if it never comes.
                Err(e) => SendOutcome::Failed {
                    reason: e.to_string(),
                    permanent: false,
                },
            }
        })
    }

    fn queued(&self) -> u64 {
        self.statuses().iter().map(|s| s.queued as u64).sum()
    }

    fn state_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        ModemPool::state_changes(self)
    }

    fn down(&self) -> Vec<String> {
        self.statuses()
            .into_iter()
            .filter(|s| s.state != crate::modem::types::ModemState::Up)
            .map(|s| s.short_code)
            .collect()
    }

    fn stop(&self, short_code: &str) {
        ModemPool::stop(self, short_code);
    }
}

/// First pause before a send that failed for a passing reason is tried
/// again; it doubles with each try up to [`RETRY_AT_MOST`].
pub const RETRY_FIRST: Duration = Duration::from_secs(5);
pub const RETRY_AT_MOST: Duration = Duration::from_secs(60);

/// What the web user sees when the network reports a part undelivered.
pub const UNDELIVERED: &str = "the network could not deliver it";
/// Why a message of an ended conversation was never sent.
pub const ENDED_UNSENT: &str = "the conversation ended before a modem could send it";

/// What the page and the API say of a failure, by kind: a code with words
/// in every language (`web::i18n`), never a modem's raw text (that stays
/// in the outbox for the admin).
pub fn failure_code(reason: &str) -> &'static str {
    match reason {
        UNDELIVERED => "undelivered",
        ENDED_UNSENT => "ended_unsent",
        _ => "send_failed",
    }
}

/// The pause before try number `attempts + 1`.
pub fn retry_after(attempts: u32) -> Duration {
    let doubled = RETRY_FIRST.saturating_mul(1 << attempts.saturating_sub(1).min(8));
    doubled.min(RETRY_AT_MOST)
}

/// A recipient's status to journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    pub message_id: u64,
    pub session_id: String,
    pub to: String,
    pub status: DeliveryStatus,
    pub reason: Option<String>,
}

impl StatusUpdate {
    /// `r`'s recipient is queued (or waiting for its modem).
    pub fn queued(r: &OutboxRecord, status: DeliveryStatus) -> Self {
        Self::of(r, status, None)
    }

    fn of(r: &OutboxRecord, status: DeliveryStatus, reason: Option<String>) -> Self {
        StatusUpdate {
            message_id: r.message_id,
            session_id: r.session_id.clone(),
            to: r.to.clone(),
            status,
            reason,
        }
    }

    /// The journal change that records it.
    pub fn change(&self, at: DateTime<Utc>) -> crate::session::Change {
        crate::session::Change::Status {
            message: MessageId(self.message_id),
            to: Msisdn(self.to.clone()),
            status: self.status,
            reason: self.reason.clone(),
            at,
        }
    }
}

/// What one delivery report changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportStep {
    ref_key: String,
    progress_key: String,
    /// Parts delivered so far, while some are still out.
    progress: Option<Progress>,
    /// The status to journal, once decided.
    pub update: Option<StatusUpdate>,
}

/// What to do after a modem's answer to one outbox record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Journal the status, then [`Outbound::sent`].
    Sent(StatusUpdate, Vec<PartRef>),
    /// Try again after the pause, with the record's tries counted.
    Retry(Duration, OutboxRecord),
    /// Journal the status, then [`Outbound::failed`].
    Failed(StatusUpdate),
}

/// The retry policy: a passing failure is tried again, later each time; a
/// permanent one fails the message.
pub fn decide(record: &OutboxRecord, outcome: SendOutcome) -> Next {
    match outcome {
        SendOutcome::Sent { message_refs } => Next::Sent(
            StatusUpdate::of(record, DeliveryStatus::Sent, None),
            message_refs,
        ),
        SendOutcome::Failed {
            permanent: false, ..
        } => {
            let attempts = record.attempts.saturating_add(1);
            Next::Retry(
                retry_after(attempts),
                OutboxRecord {
                    attempts,
                    ..record.clone()
                },
            )
        }
        SendOutcome::Failed {
            reason,
            permanent: true,
        } => Next::Failed(StatusUpdate::of(
            record,
            DeliveryStatus::Failed,
            Some(reason),
        )),
    }
}

/// The outbox, the report references and multipart progress.
#[derive(Clone)]
pub struct Outbound {
    outbox: Table<OutboxRecord>,
    refs: Table<RefRecord>,
    progress: Table<Progress>,
}

impl Outbound {
    pub fn open(store: &Store) -> Result<Outbound, StoreError> {
        Ok(Outbound {
            outbox: store.table("outbox")?,
            refs: store.table("refs")?,
            progress: store.table("progress")?,
        })
    }

    /// The outbox records of a send plan: one per queued recipient.
    pub fn records(plan: &SendPlan, text: &str, now: DateTime<Utc>) -> Vec<OutboxRecord> {
        let (Some(message), Some(session)) = (plan.message, plan.session.as_ref()) else {
            return Vec::new();
        };
        plan.recipients
            .iter()
            .filter_map(|r| match (&r.to, &r.decision) {
                (Some(to), Decision::Queued { short_code, .. }) => Some(OutboxRecord {
                    message_id: message.0,
                    session_id: session.0.clone(),
                    to: to.0.clone(),
                    short_code: short_code.0.clone(),
                    text: text.to_string(),
                    concat_ref: concat_ref(message.0),
                    queued_at: now,
                    failed: None,
                    attempts: 0,
                }),
                _ => None,
            })
            .collect()
    }

    pub fn queue(&self, records: &[OutboxRecord]) -> Result<(), StoreError> {
        for r in records {
            self.outbox.put(&r.key(), r)?;
        }
        Ok(())
    }

    /// Records still to send, oldest message first.
    pub fn pending(&self) -> Result<Vec<OutboxRecord>, StoreError> {
        let mut out = Vec::new();
        for item in self.outbox.iter_range("", None) {
            let (_, r) = item?;
            if r.failed.is_none() {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// `r` moves to `code` (its conversation's binding moved): queued
    /// there afresh.
    pub fn moved(&self, r: &OutboxRecord, code: &str) -> Result<OutboxRecord, StoreError> {
        let moved = OutboxRecord {
            short_code: code.to_string(),
            attempts: 0,
            ..r.clone()
        };
        self.outbox.put(&r.key(), &moved)?;
        Ok(moved)
    }

    /// The record under `key` while it is still queued, or the store's
    /// error.
    pub fn queued_record(&self, key: &str) -> Result<Option<OutboxRecord>, StoreError> {
        Ok(self.outbox.get(key)?.filter(|r| r.failed.is_none()))
    }

    /// The record under `key`, while it is still queued.
    pub fn pending_record(&self, key: &str) -> Option<OutboxRecord> {
        self.outbox
            .get(key)
            .ok()
            .flatten()
            .filter(|r| r.failed.is_none())
    }

    /// Whether `r` is still queued (not sent, failed or withdrawn). A store
    /// error counts as queued: sending twice beats not sending.
    pub fn is_pending(&self, r: &OutboxRecord) -> bool {
        match self.outbox.get(&r.key()) {
            Ok(Some(rec)) => rec.failed.is_none(),
            Ok(None) => false,
            Err(_) => true,
        }
    }

    /// The admin's view of the outbox.
    pub fn list(&self) -> Result<Vec<OutboxItem>, StoreError> {
        self.outbox
            .iter_range("", None)
            .map(|item| {
                item.map(|(_, r)| OutboxItem {
                    message_id: r.message_id.to_string(),
                    session_id: r.session_id,
                    to: r.to,
                    short_code: r.short_code,
                    status: if r.failed.is_some() {
                        OutboxStatus::Failed
                    } else {
                        OutboxStatus::Queued
                    },
                    queued_at: r.queued_at,
                    reason: r.failed,
                })
            })
            .collect()
    }

    /// A modem sent `r` as parts with these TP-MRs: reports can find it,
    /// and it leaves the outbox.
    pub fn sent(&self, r: &OutboxRecord, message_refs: &[PartRef]) -> Result<(), StoreError> {
        for mr in message_refs {
            let rec = RefRecord {
                message_id: r.message_id,
                session_id: r.session_id.clone(),
                to: r.to.clone(),
                parts: message_refs.len(),
            };
            self.refs.put(&ref_key(&r.short_code, mr), &rec)?;
        }
        self.outbox.remove(&r.key())?;
        Ok(())
    }

    /// Whether a recorded send has part `part` from `short_code`.
    pub fn has_ref(&self, short_code: &str, part: &PartRef) -> Result<bool, StoreError> {
        Ok(self.refs.get(&ref_key(short_code, part))?.is_some())
    }

    /// The form under which a recorded send has `part`: some SMSCs answer
    /// submit_sm with the message id in hexadecimal and write it in decimal
    /// in the receipt, or the other way round (Kannel's `msg-id-type`
    /// setting exists for them). An id no send knows is tried in the other
    /// base; `part` itself when no form is known (or the store fails: the
    /// report then says so).
    pub fn recorded_form(&self, short_code: &str, part: PartRef) -> PartRef {
        let known = |p: &PartRef| !matches!(self.has_ref(short_code, p), Ok(false));
        let PartRef::Id(id) = &part else {
            return part;
        };
        if known(&part) {
            return part;
        }
        let mut alternatives = Vec::new();
        if let Ok(n) = id.parse::<u64>() {
            alternatives.push(format!("{n:x}"));
            alternatives.push(format!("{n:X}"));
        }
        if let Ok(n) = u64::from_str_radix(id.trim_start_matches("0x"), 16) {
            alternatives.push(n.to_string());
        }
        alternatives
            .into_iter()
            .map(PartRef::Id)
            .find(|alt| matches!(self.has_ref(short_code, alt), Ok(true)))
            .unwrap_or(part)
    }

    /// `r` failed for good: kept, marked, for the admin.
    pub fn failed(&self, r: &OutboxRecord, reason: &str) -> Result<(), StoreError> {
        let failed = OutboxRecord {
            failed: Some(reason.to_string()),
            ..r.clone()
        };
        self.outbox.put(&r.key(), &failed)
    }

    /// A delivery report for part `mr` sent from `short_code`: what it
    /// changes. Nothing is written yet: the caller journals
    /// [`ReportStep::update`] (when every part is delivered, or at the
    /// first failure), then [`Outbound::apply_report`]s the step.
    pub fn report(
        &self,
        short_code: &str,
        mr: &PartRef,
        status: ReportStatus,
    ) -> Result<Option<ReportStep>, StoreError> {
        let key = ref_key(short_code, mr);
        let Some(r) = self.refs.get(&key)? else {
            return Ok(None);
        };
        let pkey = outbox_key(r.message_id, &r.to);
        let update = |status, reason| StatusUpdate {
            message_id: r.message_id,
            session_id: r.session_id.clone(),
            to: r.to.clone(),
            status,
            reason,
        };
        Ok(match status {
            ReportStatus::Pending => None,
            ReportStatus::Delivered => {
                let mut p = self.progress.get(&pkey)?.unwrap_or_default();
                p.delivered_parts += 1;
                let all = p.delivered_parts >= r.parts;
                Some(ReportStep {
                    ref_key: key,
                    progress_key: pkey,
                    progress: (!all).then_some(p),
                    update: all.then(|| update(DeliveryStatus::Delivered, None)),
                })
            }
            ReportStatus::FailedPermanent | ReportStatus::FailedTemporary => Some(ReportStep {
                ref_key: key,
                progress_key: pkey,
                progress: None,
                update: Some(update(
                    DeliveryStatus::Failed,
                    Some(UNDELIVERED.to_string()),
                )),
            }),
        })
    }

    /// Writes what a report changed: its reference is used up, and the
    /// multipart progress is kept (or dropped once decided).
    pub fn apply_report(&self, step: &ReportStep) -> Result<(), StoreError> {
        self.refs.remove(&step.ref_key)?;
        match &step.progress {
            Some(p) => self.progress.put(&step.progress_key, p)?,
            None => {
                self.progress.remove(&step.progress_key)?;
            }
        }
        Ok(())
    }

    /// After a restart: the outbox as the journaled state says it must
    /// be. A queued recipient of a live session whose record a crash lost
    /// gets it back; a record whose status was journaled as sent or
    /// failed leaves the queue. Returns how many records changed.
    pub fn reconcile(&self, core: &SessionCore, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut changed = 0;
        for session in core.live_sessions(now) {
            for m in &session.messages {
                for r in &m.recipients {
                    let key = outbox_key(m.id.0, &r.to.0);
                    let record = self.outbox.get(&key)?;
                    match (r.status, record) {
                        (
                            DeliveryStatus::Queued
                            | DeliveryStatus::WaitingForModem
                            | DeliveryStatus::WaitingForCap,
                            None,
                        ) => {
                            self.outbox.put(
                                &key,
                                &OutboxRecord {
                                    message_id: m.id.0,
                                    session_id: session.id.0.clone(),
                                    to: r.to.0.clone(),
                                    short_code: r.short_code.0.clone(),
                                    text: m.text.clone(),
                                    concat_ref: concat_ref(m.id.0),
                                    queued_at: m.sent_at,
                                    failed: None,
                                    attempts: 0,
                                },
                            )?;
                            changed += 1;
                        }
                        (DeliveryStatus::Sent | DeliveryStatus::Delivered, Some(rec))
                            if rec.failed.is_none() =>
                        {
                            self.outbox.remove(&key)?;
                            changed += 1;
                        }
                        (DeliveryStatus::Failed, Some(rec)) if rec.failed.is_none() => {
                            let reason = r.reason.clone().unwrap_or_default();
                            self.failed(&rec, &reason)?;
                            changed += 1;
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(changed)
    }
}

/// The concatenation reference of a message's parts (1–255).
pub fn concat_ref(message_id: u64) -> u8 {
    (message_id % 255) as u8 + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::gateway::t;
    use crate::session::{Applied, Change, CoreConfig, SessionId, ShortCode};

    fn core() -> SessionCore {
        let mut cfg = CoreConfig::from_config(&Config::default()).unwrap();
        cfg.pool = vec![
            ShortCode("+18095550100".into()),
            ShortCode("+18095550101".into()),
        ];
        SessionCore::new(cfg)
    }

    fn send(core: &mut SessionCore, to: &[&str], at: i64) -> SendPlan {
        let Applied::Send(plan) = core.apply(&Change::Send {
            existing: None,
            new_id: SessionId(format!("s{at}")),
            to: to.iter().map(|s| s.to_string()).collect(),
            text: "hola".into(),
            live: None,
            refused: Vec::new(),
            at: t(at),
        }) else {
            panic!("a plan")
        };
        plan.unwrap()
    }

    #[test]
    fn one_record_per_queued_recipient_none_for_refused() {
        let mut c = core();
        let plan = send(&mut c, &["8095551234", "nope", "8295550000"], 0);
        let records = Outbound::records(&plan, "hola", t(0));
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].to, "+18095551234");
        assert_eq!(records[0].concat_ref, concat_ref(records[0].message_id));
        assert!(records
            .iter()
            .all(|r| r.failed.is_none() && r.attempts == 0));
    }

    /// A passing failure is tried again later each time, up to a minute; a
    /// permanent one fails the message with its reason.
    #[test]
    fn retry_policy() {
        assert_eq!(retry_after(1), Duration::from_secs(5));
        assert_eq!(retry_after(2), Duration::from_secs(10));
        assert_eq!(retry_after(3), Duration::from_secs(20));
        assert_eq!(retry_after(40), RETRY_AT_MOST);
        let mut c = core();
        let plan = send(&mut c, &["8095551234"], 0);
        let r = Outbound::records(&plan, "hola", t(0)).remove(0);
        let passing = SendOutcome::Failed {
            reason: "busy".into(),
            permanent: false,
        };
        let Next::Retry(after, again) = decide(&r, passing.clone()) else {
            panic!("retry")
        };
        assert_eq!((after, again.attempts), (RETRY_FIRST, 1));
        let Next::Retry(after, _) = decide(&again, passing) else {
            panic!("retry")
        };
        assert_eq!(after, Duration::from_secs(10));
        let permanent = SendOutcome::Failed {
            reason: "+CMS ERROR: 21".into(),
            permanent: true,
        };
        let Next::Failed(u) = decide(&r, permanent) else {
            panic!("failed")
        };
        assert_eq!(u.status, DeliveryStatus::Failed);
        assert_eq!(u.reason.as_deref(), Some("+CMS ERROR: 21"));
    }

    /// A three-part message is delivered when its third report comes, not
    /// before; a failed part fails it at once; unknown references are
    /// ignored.
    #[test]
    fn reports_are_tracked_across_parts() {
        let store = Store::temporary().unwrap();
        let out = Outbound::open(&store).unwrap();
        let mut c = core();
        let plan = send(&mut c, &["8095551234", "8295550000"], 0);
        let records = Outbound::records(&plan, "hola", t(0));
        out.queue(&records).unwrap();
        out.sent(
            &records[0],
            &[PartRef::Mr(7), PartRef::Mr(8), PartRef::Id("9-abc".into())],
        )
        .unwrap();
        out.sent(&records[1], &[PartRef::Mr(10), PartRef::Mr(11)])
            .unwrap();
        let code = records[0].short_code.clone();
        let code1 = records[1].short_code.clone();
        assert!(out.pending().unwrap().is_empty());
        let step = |code: &str, mr: PartRef, status| {
            let s = out.report(code, &mr, status).unwrap();
            if let Some(s) = &s {
                out.apply_report(s).unwrap();
            }
            s.and_then(|s| s.update)
        };
        assert_eq!(step(&code, PartRef::Mr(7), ReportStatus::Delivered), None);
        assert_eq!(
            step(&code, PartRef::Mr(7), ReportStatus::Delivered),
            None,
            "used up"
        );
        assert_eq!(step(&code, PartRef::Mr(8), ReportStatus::Pending), None);
        assert_eq!(step(&code, PartRef::Mr(8), ReportStatus::Delivered), None);
        let done = step(&code, PartRef::Id("9-abc".into()), ReportStatus::Delivered).unwrap();
        assert_eq!(
            (done.to.as_str(), done.status),
            ("+18095551234", DeliveryStatus::Delivered)
        );
        let failed = step(&code1, PartRef::Mr(10), ReportStatus::FailedPermanent).unwrap();
        assert_eq!(failed.status, DeliveryStatus::Failed);
        assert_eq!(failed.reason.as_deref(), Some(UNDELIVERED));
        assert_eq!(step(&code1, PartRef::Mr(99), ReportStatus::Delivered), None);
    }

    #[test]
    fn a_receipt_id_in_the_other_base_finds_its_send() {
        let store = Store::temporary().unwrap();
        let out = Outbound::open(&store).unwrap();
        let mut c = core();
        let plan = send(&mut c, &["8095551234"], 0);
        let records = Outbound::records(&plan, "hola", t(0));
        out.queue(&records).unwrap();
        out.sent(&records[0], &[PartRef::Id("5a0001".into())])
            .unwrap();
        let code = records[0].short_code.clone();
        let id = |s: &str| PartRef::Id(s.into());
        // Decimal in the receipt, hexadecimal in submit_sm_resp.
        assert_eq!(out.recorded_form(&code, id("5898241")), id("5a0001"));
        assert_eq!(out.recorded_form(&code, id("5a0001")), id("5a0001"));
        // Unknown in any base: as it came.
        assert_eq!(out.recorded_form(&code, id("77")), id("77"));
        assert_eq!(out.recorded_form(&code, PartRef::Mr(7)), PartRef::Mr(7));
    }

    /// After a crash the outbox follows the journal: a queued recipient
    /// whose record was lost gets it back, a record journaled as sent
    /// leaves (no second send), one journaled as failed is marked.
    #[test]
    fn reconcile_brings_the_outbox_in_line_with_the_journal() {
        let store = Store::temporary().unwrap();
        let out = Outbound::open(&store).unwrap();
        let mut c = core();
        let plan = send(&mut c, &["8095551234", "8295550000", "8495550000"], 0);
        let records = Outbound::records(&plan, "hola", t(0));
        // Lost: records[0]. Kept: [1] (but journaled as sent), [2] (failed).
        out.queue(&records[1..]).unwrap();
        for (r, status) in [
            (&records[1], DeliveryStatus::Sent),
            (&records[2], DeliveryStatus::Failed),
        ] {
            c.apply(
                &StatusUpdate::of(
                    r,
                    status,
                    (status == DeliveryStatus::Failed).then(|| "x".into()),
                )
                .change(t(1)),
            );
        }
        assert_eq!(out.reconcile(&c, t(2)).unwrap(), 3);
        let pending = out.pending().unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].to, records[0].to);
        assert_eq!(pending[0].text, "hola");
        let listed = out.list().unwrap();
        assert_eq!(listed.len(), 2);
        assert!(listed
            .iter()
            .any(|i| i.to == records[2].to && i.status == OutboxStatus::Failed));
        assert_eq!(out.reconcile(&c, t(3)).unwrap(), 0, "once is enough");
    }
}
