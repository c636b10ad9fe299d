//! [`FakeGateway`]: an in-memory [`GatewayApi`] for the web layer's tests
//! (and for trying the page without modems). It keeps sessions in memory,
//! answers sends from short codes `+18095550100`.., refuses junk numbers
//! with `invalid_number`, and lets a test push session events.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::broadcast;

use crate::gateway::api::*;
use crate::modem::types::ModemStatus;

/// The short codes of the fake pool.
pub const SHORT_CODES: [&str; 3] = ["+18095550100", "+18095550101", "+18095550102"];

struct FakeSession {
    view: SessionView,
    created_at: DateTime<Utc>,
    tx: broadcast::Sender<Arc<SessionEvent>>,
}

/// An in-memory gateway. Numbers starting with one of `fleet_prefixes`
/// answer `can_reply = false` (R9).
pub struct FakeGateway {
    sessions: Mutex<HashMap<String, FakeSession>>,
    sends: Mutex<Vec<(Option<String>, SendRequest, IpAddr)>>,
    next: AtomicU64,
    ready: AtomicBool,
    pub idle_timeout: Duration,
    pub fleet_prefixes: Vec<String>,
    keys: crate::keys::ApiKeys,
    hooks: crate::hooks::Hooks,
}

impl Default for FakeGateway {
    fn default() -> Self {
        let store = crate::store::Store::temporary().expect("a temporary store");
        let keys = crate::keys::ApiKeys::open(&store).expect("the keys table");
        FakeGateway {
            hooks: crate::hooks::Hooks::open(&store, keys.clone()).expect("the hook tables"),
            keys,
            sessions: Mutex::default(),
            sends: Mutex::default(),
            next: AtomicU64::new(1),
            ready: AtomicBool::new(true),
            idle_timeout: Duration::from_secs(300),
            fleet_prefixes: vec!["+1849555999".into()],
        }
    }
}

impl FakeGateway {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn expiry(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + chrono::Duration::from_std(self.idle_timeout).expect("short timeout")
    }

    /// Ids of the live sessions, oldest first.
    pub fn session_ids(&self) -> Vec<String> {
        let s = self.sessions.lock().unwrap();
        let mut v: Vec<_> = s
            .values()
            .map(|f| (f.created_at, f.view.id.clone()))
            .collect();
        v.sort();
        v.into_iter().map(|(_, id)| id).collect()
    }

    /// Every send the gateway received: (session cookie, request, client).
    pub fn sends(&self) -> Vec<(Option<String>, SendRequest, IpAddr)> {
        self.sends.lock().unwrap().clone()
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// Applies `event` to session `id` and broadcasts it; `Expired` ends
    /// the session. `false` when the session is not live.
    pub fn push(&self, id: &str, event: SessionEvent) -> bool {
        let mut sessions = self.sessions.lock().unwrap();
        let Some(s) = sessions.get_mut(id) else {
            return false;
        };
        match &event {
            SessionEvent::Reply { reply, expires_at } => {
                s.view.replies.push(reply.clone());
                s.view.expires_at = *expires_at;
            }
            SessionEvent::Status {
                message_id,
                to,
                status,
                reason,
                ..
            } => {
                let recipients = s
                    .view
                    .messages
                    .iter_mut()
                    .filter(|m| &m.id == message_id)
                    .flat_map(|m| m.recipients.iter_mut())
                    .filter(|r| &r.to == to);
                for r in recipients {
                    r.status = *status;
                    r.reason = reason.clone();
                }
            }
            SessionEvent::Expired { .. } => {}
        }
        let _ = s.tx.send(Arc::new(event.clone()));
        if matches!(event, SessionEvent::Expired { .. }) {
            sessions.remove(id);
        }
        true
    }

    /// A phone `from` replies `text` to session `id` (R3).
    pub fn push_reply(&self, id: &str, from: &str, text: &str) -> bool {
        let now = Utc::now();
        let short_code = {
            let s = self.sessions.lock().unwrap();
            let Some(s) = s.get(id) else { return false };
            s.view
                .messages
                .iter()
                .flat_map(|m| &m.recipients)
                .find(|r| r.to == from)
                .and_then(|r| r.short_code.clone())
                .unwrap_or_else(|| SHORT_CODES[0].to_string())
        };
        self.push(
            id,
            SessionEvent::Reply {
                reply: ReplyView {
                    from: from.into(),
                    short_code,
                    text: text.into(),
                    received_at: now,
                },
                expires_at: self.expiry(now),
            },
        )
    }

    /// The status of `to` in the latest message of session `id` changes.
    pub fn push_status(&self, id: &str, to: &str, status: &str, reason: Option<&str>) -> bool {
        let message_id = {
            let s = self.sessions.lock().unwrap();
            let Some(s) = s.get(id) else { return false };
            match s.view.messages.last() {
                Some(m) => m.id.clone(),
                None => return false,
            }
        };
        self.push(
            id,
            SessionEvent::Status {
                message_id,
                to: to.into(),
                status: status.parse().expect("a recipient state"),
                reason: reason.map(Into::into),
                short_code: None,
            },
        )
    }

    /// Session `id` ends now (R4).
    pub fn expire(&self, id: &str) -> bool {
        self.push(
            id,
            SessionEvent::Expired {
                ended_at: Utc::now(),
            },
        )
    }

    fn do_send(&self, cookie: Option<String>, req: SendRequest) -> Result<SendAnswer, SendError> {
        if req.text.is_empty() || req.to.is_empty() {
            return Err(SendError::Invalid("empty".into()));
        }
        let now = Utc::now();
        let mut recipients = Vec::new();
        let mut seen = Vec::new();
        for (i, typed) in req.to.iter().enumerate() {
            let answer = match crate::session::normalize(typed, "DO").map(|m| m.0) {
                Err(_) => refused(typed, RefusalReason::InvalidNumber),
                Ok(n) if seen.contains(&n) => refused(&n, RefusalReason::DuplicateRecipient),
                Ok(n) => {
                    seen.push(n.clone());
                    RecipientAnswer {
                        can_reply: !self.fleet_prefixes.iter().any(|p| n.starts_with(p)),
                        to: n,
                        status: RecipientState::Queued,
                        short_code: Some(SHORT_CODES[i % SHORT_CODES.len()].into()),
                        reason: None,
                    }
                }
            };
            recipients.push(answer);
        }
        let mut sessions = self.sessions.lock().unwrap();
        let live = cookie.filter(|c| sessions.contains_key(c));
        if recipients
            .iter()
            .all(|r| r.status == RecipientState::Refused)
        {
            // As the real core: a send that reaches no one opens nothing.
            let expires_at = live
                .as_ref()
                .and_then(|id| sessions.get(id))
                .map_or(now, |s| s.view.expires_at);
            return Ok(SendAnswer {
                session: SessionRef {
                    id: live.unwrap_or_default(),
                    expires_at,
                },
                message: None,
                recipients,
            });
        }
        let id = match live {
            Some(id) => id,
            None => {
                let n = self.next.fetch_add(1, Ordering::SeqCst);
                let nanos = now.timestamp_nanos_opt().unwrap_or_default();
                let id = format!("fake{n}x{nanos:x}");
                let (tx, _) = broadcast::channel(64);
                let view = SessionView {
                    id: id.clone(),
                    expires_at: now,
                    messages: Vec::new(),
                    replies: Vec::new(),
                };
                sessions.insert(
                    id.clone(),
                    FakeSession {
                        view,
                        created_at: now,
                        tx,
                    },
                );
                id
            }
        };
        let s = sessions.get_mut(&id).expect("just made");
        s.view.expires_at = self.expiry(now);
        let message = format!("m{}", self.next.fetch_add(1, Ordering::SeqCst));
        s.view.messages.push(MessageView {
            id: message.clone(),
            text: req.text,
            sent_at: now,
            recipients: recipients
                .iter()
                .map(|r| RecipientView {
                    to: r.to.clone(),
                    short_code: r.short_code.clone(),
                    status: r.status,
                    reason: r.reason.map(|x| x.as_str().to_string()),
                    can_reply: r.can_reply,
                })
                .collect(),
        });
        Ok(SendAnswer {
            session: SessionRef {
                id,
                expires_at: s.view.expires_at,
            },
            message: Some(message),
            recipients,
        })
    }
}

fn refused(to: &str, reason: RefusalReason) -> RecipientAnswer {
    RecipientAnswer {
        to: to.into(),
        status: RecipientState::Refused,
        short_code: None,
        can_reply: false,
        reason: Some(reason),
    }
}

fn sample_modem(i: usize) -> ModemStatus {
    let mut m = ModemStatus::new(SHORT_CODES[i], &format!("/dev/pts/{}", 10 + i));
    m.sent = 10 * (i as u64 + 1);
    m.received = 3;
    m.failed = i as u64;
    m
}

fn sample_charge() -> ChargeItem {
    ChargeItem {
        id: "cdr-1".into(),
        time: DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .expect("literal")
            .with_timezone(&Utc),
        number: "+18095551234".into(),
        short_code: SHORT_CODES[0].into(),
        base: "1.00".into(),
        taxes: vec![TaxLine {
            name: "ITBIS".into(),
            rate: "0.18".into(),
            amount: "0.18".into(),
        }],
        total: "1.18".into(),
        currency: "DOP".into(),
        in_session: true,
        message: "cdr-1".into(),
        part: 1,
        parts: 1,
    }
}

impl GatewayApi for FakeGateway {
    fn send(
        &self,
        session: Option<String>,
        req: SendRequest,
        client: IpAddr,
    ) -> BoxFuture<'_, Result<SendAnswer, SendError>> {
        self.sends
            .lock()
            .unwrap()
            .push((session.clone(), req.clone(), client));
        let r = self.do_send(session, req);
        async move { r }.boxed()
    }

    fn session(&self, id: &str) -> BoxFuture<'_, Option<SessionView>> {
        let v = self
            .sessions
            .lock()
            .unwrap()
            .get(id)
            .map(|s| s.view.clone());
        async move { v }.boxed()
    }

    fn subscribe(&self, id: &str) -> BoxFuture<'_, Option<broadcast::Receiver<Arc<SessionEvent>>>> {
        let rx = self
            .sessions
            .lock()
            .unwrap()
            .get(id)
            .map(|s| s.tx.subscribe());
        async move { rx }.boxed()
    }

    fn api_keys(&self) -> crate::keys::ApiKeys {
        self.keys.clone()
    }

    fn hooks(&self) -> crate::hooks::Hooks {
        self.hooks.clone()
    }

    fn sessions(&self) -> BoxFuture<'_, Vec<SessionSummary>> {
        let v = self
            .sessions
            .lock()
            .unwrap()
            .values()
            .map(|s| SessionSummary {
                id: s.view.id.clone(),
                created_at: s.created_at,
                expires_at: s.view.expires_at,
                messages: s.view.messages.len(),
                replies: s.view.replies.len(),
                bindings: s
                    .view
                    .messages
                    .iter()
                    .flat_map(|m| &m.recipients)
                    .filter_map(|r| Some((r.to.clone(), r.short_code.clone()?)))
                    .collect(),
            })
            .collect();
        async move { v }.boxed()
    }

    fn admin_session(&self, id: &str) -> BoxFuture<'_, Option<SessionView>> {
        self.session(id)
    }

    fn end_session(&self, id: &str) -> BoxFuture<'_, bool> {
        let ended = self.expire(id);
        async move { ended }.boxed()
    }

    fn modems(&self) -> BoxFuture<'_, Vec<ModemStatus>> {
        async move { (0..SHORT_CODES.len()).map(sample_modem).collect() }.boxed()
    }

    fn outbox(&self) -> BoxFuture<'_, Result<Vec<OutboxItem>, StoreUnavailable>> {
        async move {
            Ok(vec![OutboxItem {
                message_id: "m1".into(),
                session_id: "s1".into(),
                to: "+18095551234".into(),
                short_code: SHORT_CODES[0].into(),
                status: OutboxStatus::Failed,
                queued_at: Utc::now(),
                reason: Some("network timeout".into()),
            }])
        }
        .boxed()
    }

    fn out_of_session(
        &self,
        _from: Option<DateTime<Utc>>,
        _to: Option<DateTime<Utc>>,
    ) -> BoxFuture<'_, Result<Vec<OutOfSessionItem>, StoreUnavailable>> {
        async move {
            Ok(vec![OutOfSessionItem {
                from: "+18095551234".into(),
                short_code: SHORT_CODES[1].into(),
                text: "¿sigues ahí?".into(),
                received_at: Utc::now(),
                auto_replied: false,
            }])
        }
        .boxed()
    }

    fn charges(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> BoxFuture<'_, Result<ChargeStream, StoreUnavailable>> {
        let c = sample_charge();
        let inside = from.is_none_or(|f| c.time >= f) && to.is_none_or(|t| c.time < t);
        async move {
            let items = if inside { vec![Ok(c)] } else { vec![] };
            Ok(futures_util::stream::iter(items).boxed())
        }
        .boxed()
    }

    fn counters(&self) -> BoxFuture<'_, GatewayCounters> {
        let live = self.sessions.lock().unwrap().len() as u64;
        async move {
            GatewayCounters {
                live_sessions: live,
                queue_depth: 1,
                out_of_session_replies: 1,
                mo_charges: 1,
                store_open: true,
                ..Default::default()
            }
        }
        .boxed()
    }

    fn ready(&self) -> BoxFuture<'_, bool> {
        let r = self.ready.load(Ordering::SeqCst);
        async move { r }.boxed()
    }
}
