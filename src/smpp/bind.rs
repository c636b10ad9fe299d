//! One transceiver bind to an SMSC: connect, bind, send the submit_sm of
//! waiting messages within a window and the agreed rate, hand deliver_sm
//! to the gateway and answer each only once the gateway says it is
//! durable, keep the line alive, and bind again with backoff when it
//! breaks.
//!
//! The message building and reading is in [`super::message`] (pure);
//! this file is the I/O shell.
//!
//! What the SMSC may do and how it is met (SMPP 3.4):
//! - §2.3: a transceiver bind carries both directions.
//! - §4.11 enquire_link: sent after `enquire_link` of silence; the SMSC's
//!   own are answered at once. No answer to ours within the same period:
//!   the line is dead, bind again.
//! - §5.1.3 ESME_RTHROTTLED / ESME_RMSGQFUL: the bind stops submitting for
//!   a pause that doubles (1 s up to 30 s) and sends the part again;
//!   Kannel's smsc_smpp.c (`throttling-err-time`) does the same.
//! - §4.6.2 deliver_sm_resp: answered after the gateway has the part on
//!   disk; if the store fails it is answered ESME_RX_T_APPN (temporary
//!   application error) so the SMSC delivers it again later.
//! - A submit_sm whose answer never comes (the line broke) is sent again
//!   on the next bind: the phone may get that part twice, the bound
//!   documented in docs/smpp.md.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::stream::FuturesUnordered;
use futures_util::{SinkExt, StreamExt};
use rusmpp::pdus::{BindTransceiver, DeliverSmResp, SubmitSm};
use rusmpp::tokio_codec::CommandCodec;
use rusmpp::types::COctetString;
use rusmpp::values::{InterfaceVersion, Npi, Ton};
use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::codec::Framed;

use super::message::{self, Incoming, Verdict};
use crate::config::{SmppConfig, SmppSplit};
use crate::modem::pool::PoolEvent;
use crate::modem::types::{
    ModemEvent, ModemState, OutgoingSms, PartRef, SendOutcome, SharedStatus,
};

/// The longest a bind or a response is waited for.
const ANSWER_WAIT: Duration = Duration::from_secs(10);
/// The longest a submit_sm waits for its answer before the line counts
/// as broken.
const SUBMIT_WAIT: Duration = Duration::from_secs(30);
/// First pause before binding again; doubles up to [`BACKOFF_MAX`].
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// First pause after ESME_RTHROTTLED; doubles up to [`THROTTLE_MAX`].
const THROTTLE_FIRST: Duration = Duration::from_secs(1);
const THROTTLE_MAX: Duration = Duration::from_secs(30);

/// One message for this bind to send.
pub struct Job {
    pub short_code: String,
    pub sms: OutgoingSms,
    pub reply: oneshot::Sender<SendOutcome>,
}

/// What the admin sees of a bind beyond a modem's fields.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct BindStats {
    /// `host:port` and system id.
    pub smsc: String,
    pub system_id: String,
    /// submit_sm allowed in flight, and in flight now.
    pub window: u32,
    pub in_flight: u32,
    /// submit_sm accepted over the last ten seconds, per second.
    pub submits_per_second: f64,
    pub submitted: u64,
    /// Answers ESME_RTHROTTLED / ESME_RMSGQFUL.
    pub throttled: u64,
    /// Refused submit_sm, broken lines and unreadable deliver_sm.
    pub errors: u64,
    /// Binds made since start.
    pub binds: u64,
}

/// A running bind. Cheap to clone.
#[derive(Clone)]
pub struct BindHandle {
    cfg: Arc<SmppConfig>,
    jobs: mpsc::UnboundedSender<Job>,
    stop: Arc<watch::Sender<bool>>,
    pub stats: Arc<Mutex<BindStats>>,
}

impl BindHandle {
    /// Queues `sms` from `short_code`; resolves when the SMSC accepted
    /// every part or the message failed.
    pub async fn send(&self, short_code: &str, sms: OutgoingSms) -> SendOutcome {
        let (reply, outcome) = oneshot::channel();
        let job = Job {
            short_code: short_code.to_string(),
            sms,
            reply,
        };
        if self.jobs.send(job).is_err() {
            return SendOutcome::Failed {
                reason: "the SMPP bind is stopped".into(),
                permanent: false,
            };
        }
        outcome.await.unwrap_or(SendOutcome::Failed {
            reason: "the SMPP bind stopped during the send".into(),
            permanent: false,
        })
    }

    pub fn stats(&self) -> BindStats {
        self.stats.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The `[[smpp]]` settings this bind runs with.
    pub fn config(&self) -> &SmppConfig {
        &self.cfg
    }

    /// Whether `other` is this same bind.
    pub fn same(&self, other: &BindHandle) -> bool {
        Arc::ptr_eq(&self.stop, &other.stop)
    }

    /// Unbinds and ends the task.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// The pool's short code for a destination an SMSC wrote, if the pool
/// has one (see [`message::incoming_in_pool`]).
pub type CodeLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Starts the bind of `cfg` on the current runtime. `statuses` are those
/// of its short codes, in `cfg.short_codes` order; events go to `events`
/// tagged with their short code; `pool` finds the short code of a
/// deliver_sm meant for another bind of the same SMSC account.
pub fn start(
    cfg: SmppConfig,
    statuses: Vec<SharedStatus>,
    events: mpsc::UnboundedSender<PoolEvent>,
    pool: CodeLookup,
) -> BindHandle {
    let (jobs, rx) = mpsc::unbounded_channel();
    let (stop, stop_rx) = watch::channel(false);
    let stats = Arc::new(Mutex::new(BindStats {
        smsc: format!("{}:{}", cfg.host, cfg.port),
        system_id: cfg.system_id.clone(),
        window: cfg.window,
        ..BindStats::default()
    }));
    let config = Arc::new(cfg.clone());
    let task = Task {
        cfg,
        statuses,
        events,
        pool,
        stats: stats.clone(),
        queue: Queue::default(),
        jobs: rx,
        stop: stop_rx,
    };
    tokio::spawn(task.run());
    BindHandle {
        cfg: config,
        jobs,
        stop: Arc::new(stop),
        stats,
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Line = Framed<Box<dyn Io>, CommandCodec>;

/// A message being sent: its PDUs and the message id of each part the
/// SMSC accepted.
struct Work {
    job: Job,
    pdus: Vec<SubmitSm>,
    ids: Vec<Option<String>>,
    /// Parts not yet sent on this line, in order.
    todo: VecDeque<usize>,
    started: bool,
}

/// Messages waiting or in progress, kept across binds.
#[derive(Default)]
struct Queue {
    works: HashMap<u64, Work>,
    /// Works with parts to send, oldest first.
    ready: VecDeque<u64>,
    next_id: u64,
    /// Short codes of works taken back while they waited (their status
    /// counts them out).
    withdrawn: Vec<String>,
}

impl Queue {
    fn add(&mut self, job: Job, split: SmppSplit) -> Option<(Job, String)> {
        match message::submits(&job.short_code, &job.sms, split) {
            Ok(pdus) => {
                let id = self.next_id;
                self.next_id += 1;
                let n = pdus.len();
                self.works.insert(
                    id,
                    Work {
                        job,
                        pdus,
                        ids: vec![None; n],
                        todo: (0..n).collect(),
                        started: false,
                    },
                );
                self.ready.push_back(id);
                None
            }
            Err(e) => Some((job, e.to_string())),
        }
    }

    /// The next part to send: (work, part index).
    fn next_part(&mut self) -> Option<(u64, usize)> {
        while let Some(&id) = self.ready.front() {
            let Some(work) = self.works.get_mut(&id) else {
                self.ready.pop_front();
                continue;
            };
            if !work.started {
                if work.job.reply.is_closed() || !work.job.sms.withdraw.start() {
                    // Taken back while it waited (its conversation ended):
                    // nothing of it went out.
                    self.ready.pop_front();
                    if let Some(w) = self.works.remove(&id) {
                        self.withdrawn.push(w.job.short_code.clone());
                        let _ = w.job.reply.send(SendOutcome::Failed {
                            reason: "withdrawn".into(),
                            permanent: true,
                        });
                    }
                    continue;
                }
                work.started = true;
            }
            match work.todo.pop_front() {
                Some(part) => {
                    if work.todo.is_empty() {
                        self.ready.pop_front();
                    }
                    return Some((id, part));
                }
                None => {
                    self.ready.pop_front();
                }
            }
        }
        None
    }

    /// Part `part` of `id` must go again (throttled, or the line broke).
    fn again(&mut self, id: u64, part: usize) {
        if let Some(work) = self.works.get_mut(&id) {
            if work.todo.is_empty() {
                self.ready.push_front(id);
            }
            work.todo.push_front(part);
            work.todo.make_contiguous().sort_unstable();
        }
    }
}

struct Task {
    cfg: SmppConfig,
    statuses: Vec<SharedStatus>,
    events: mpsc::UnboundedSender<PoolEvent>,
    pool: CodeLookup,
    stats: Arc<Mutex<BindStats>>,
    queue: Queue,
    jobs: mpsc::UnboundedReceiver<Job>,
    stop: watch::Receiver<bool>,
}

/// Why a line ended.
enum End {
    Stopped,
    Broken(String),
}

impl Task {
    fn set_state(&self, state: ModemState, error: Option<String>) {
        for s in &self.statuses {
            let error = error.clone();
            s.update(|m| {
                m.state = state;
                if error.is_some() {
                    m.last_error = error;
                }
            });
        }
    }

    fn status_of(&self, short_code: &str) -> Option<&SharedStatus> {
        self.cfg
            .short_codes
            .iter()
            .position(|c| c == short_code)
            .and_then(|i| self.statuses.get(i))
    }

    fn stat(&self, f: impl FnOnce(&mut BindStats)) {
        f(&mut self.stats.lock().unwrap_or_else(|e| e.into_inner()));
    }

    async fn run(mut self) {
        let mut backoff = BACKOFF_FIRST;
        loop {
            if *self.stop.borrow() {
                break;
            }
            self.set_state(ModemState::Initialising, None);
            let end = match self.bind().await {
                Ok(line) => {
                    backoff = BACKOFF_FIRST;
                    self.stat(|s| s.binds += 1);
                    self.set_state(ModemState::Up, None);
                    tracing::info!(smsc = %self.cfg.host, port = self.cfg.port, system_id = %self.cfg.system_id, "SMPP bound");
                    self.session(line).await
                }
                Err(e) => End::Broken(e),
            };
            match end {
                End::Stopped => break,
                End::Broken(why) => {
                    tracing::warn!(smsc = %self.cfg.host, port = self.cfg.port, error = %why, retry_in = ?backoff, "SMPP bind down");
                    self.stat(|s| s.errors += 1);
                    self.set_state(ModemState::Down, Some(why));
                    for s in &self.statuses {
                        s.update(|m| m.reconnects += 1);
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = self.stop.changed() => {}
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
        self.set_state(ModemState::Down, Some("stopped".into()));
        let works: Vec<Work> = self.queue.works.drain().map(|(_, w)| w).collect();
        for w in works {
            if let Some(s) = self.status_of(&w.job.short_code) {
                s.dequeued();
            }
            let _ = w.job.reply.send(SendOutcome::Failed {
                reason: "the SMPP bind stopped".into(),
                permanent: false,
            });
        }
    }

    async fn connect(&self) -> Result<Box<dyn Io>, String> {
        let addr = format!("{}:{}", self.cfg.host, self.cfg.port);
        let tcp = tokio::time::timeout(ANSWER_WAIT, TcpStream::connect(&addr))
            .await
            .map_err(|_| format!("no answer from {addr}"))?
            .map_err(|e| format!("{addr}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        if !self.cfg.tls {
            return Ok(Box::new(tcp));
        }
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(c);
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from(self.cfg.host.clone())
            .map_err(|e| format!("{}: {e}", self.cfg.host))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS to {addr}: {e}"))?;
        Ok(Box::new(tls))
    }

    /// Connects and binds as a transceiver (§4.1.5), SMPP 3.4.
    async fn bind(&mut self) -> Result<Line, String> {
        let io = self.connect().await?;
        let mut line = Framed::new(io, CommandCodec::new());
        fn text<const N: usize>(s: &str, what: &str) -> Result<COctetString<1, N>, String> {
            COctetString::from_string(s.to_string()).map_err(|e| format!("{what}: {e:?}"))
        }
        let pdu = BindTransceiver::builder()
            .system_id(text(&self.cfg.system_id, "system_id")?)
            .password(text(&self.cfg.password, "password")?)
            .system_type(text(&self.cfg.system_type, "system_type")?)
            .interface_version(InterfaceVersion::Smpp3_4)
            .addr_ton(Ton::Unknown)
            .addr_npi(Npi::Unknown)
            .address_range(COctetString::empty())
            .build();
        line.send(Command::new(
            CommandStatus::EsmeRok,
            1,
            Pdu::BindTransceiver(pdu),
        ))
        .await
        .map_err(|e| format!("bind: {e}"))?;
        let answer = tokio::time::timeout(ANSWER_WAIT, async {
            loop {
                match line.next().await {
                    // A refused bind may come without a body.
                    Some(Ok(c)) if c.id() == CommandId::BindTransceiverResp => {
                        return Ok(c.status())
                    }
                    // Anything before the answer (an early enquire_link)
                    // is not for an unbound ESME: skipped.
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(format!("bind: {e}")),
                    None => return Err("the SMSC closed the line during the bind".to_string()),
                }
            }
        })
        .await
        .map_err(|_| "no answer to bind_transceiver".to_string())??;
        if answer != CommandStatus::EsmeRok {
            return Err(format!(
                "the SMSC refused the bind: {answer:?} (0x{:08X})",
                u32::from(answer)
            ));
        }
        Ok(line)
    }

    /// Runs a bound line until it breaks or the bind is stopped.
    async fn session(&mut self, mut line: Line) -> End {
        let mut seq: u32 = 1;
        let mut next_seq = || {
            seq = if seq >= 0x7FFF_FFFF { 2 } else { seq + 1 };
            seq
        };
        // seq → (work, part, sent at)
        let mut in_flight: HashMap<u32, (u64, usize, Instant)> = HashMap::new();
        let mut acks = FuturesUnordered::new();
        let mut throttle = THROTTLE_FIRST;
        let mut paused_until: Option<tokio::time::Instant> = None;
        let pace = (self.cfg.max_per_second > 0)
            .then(|| Duration::from_secs_f64(1.0 / f64::from(self.cfg.max_per_second)));
        let mut next_slot = tokio::time::Instant::now();
        let mut last_heard = tokio::time::Instant::now();
        let mut enquiry: Option<(u32, tokio::time::Instant)> = None;
        let mut rate: VecDeque<Instant> = VecDeque::new();
        let window = self.cfg.window as usize;
        let end = loop {
            let now = tokio::time::Instant::now();
            let may_send = in_flight.len() < window
                && paused_until.is_none_or(|t| t <= now)
                && !self.queue.ready.is_empty();
            // The next moment something is due: a paced slot, the end of a
            // throttle pause, an enquire_link, a late answer.
            let mut due = last_heard + self.cfg.enquire_link;
            if let Some((_, at)) = enquiry {
                due = due.min(at + self.cfg.enquire_link);
            }
            if let Some(t) = paused_until.filter(|t| *t > now) {
                due = due.min(t);
            }
            if let Some(oldest) = in_flight.values().map(|(_, _, t)| *t).min() {
                due = due.min(tokio::time::Instant::from_std(oldest + SUBMIT_WAIT));
            }
            if may_send && pace.is_some() && next_slot > now {
                due = due.min(next_slot);
            }
            let send_now = may_send && (pace.is_none() || next_slot <= now);
            if send_now {
                let next = self.queue.next_part();
                for code in std::mem::take(&mut self.queue.withdrawn) {
                    if let Some(s) = self.status_of(&code) {
                        s.dequeued();
                    }
                }
                if let Some((id, part)) = next {
                    let Some(pdu) = self.queue.works.get(&id).map(|w| w.pdus[part].clone()) else {
                        continue;
                    };
                    let s = next_seq();
                    if let Err(e) = line
                        .send(Command::new(CommandStatus::EsmeRok, s, Pdu::SubmitSm(pdu)))
                        .await
                    {
                        self.queue.again(id, part);
                        break End::Broken(format!("submit_sm: {e}"));
                    }
                    in_flight.insert(s, (id, part, Instant::now()));
                    if let Some(p) = pace {
                        next_slot = next_slot.max(now) + p;
                    }
                    self.stat(|st| st.in_flight = in_flight.len() as u32);
                    continue;
                }
            }
            tokio::select! {
                biased;
                _ = self.stop.changed() => {
                    let s = next_seq();
                    let _ = line.send(Command::new(CommandStatus::EsmeRok, s, Pdu::Unbind)).await;
                    let _ = tokio::time::timeout(Duration::from_secs(2), async {
                        while let Some(Ok(c)) = line.next().await {
                            if c.id() == CommandId::UnbindResp { break; }
                        }
                    }).await;
                    break End::Stopped;
                }
                Some((seq, status)) = acks.next(), if !acks.is_empty() => {
                    let status: CommandStatus = status;
                    let resp = DeliverSmResp::builder().build();
                    if let Err(e) = line.send(Command::new(status, seq, Pdu::DeliverSmResp(resp))).await {
                        break End::Broken(format!("deliver_sm_resp: {e}"));
                    }
                }
                frame = line.next() => {
                    last_heard = tokio::time::Instant::now();
                    let command = match frame {
                        Some(Ok(c)) => c,
                        Some(Err(e)) => {
                            // An undecodable PDU: the codec cannot resync a
                            // stream of length-prefixed PDUs after garbage.
                            break End::Broken(format!("unreadable PDU: {e}"));
                        }
                        None => break End::Broken("the SMSC closed the line".into()),
                    };
                    let cseq = command.sequence_number();
                    let status = command.status();
                    // A refusal may come without a body (SMPP 3.4 §4.4.2:
                    // "the submit_sm_resp PDU body is not returned" on
                    // error), so responses are told apart by command id.
                    let is = |id: CommandId| command.id() == id;
                    match command.pdu() {
                        _ if is(CommandId::SubmitSmResp) => {
                            let message_id = match command.pdu() {
                                Some(Pdu::SubmitSmResp(resp)) => resp.message_id().as_str().to_string(),
                                _ => String::new(),
                            };
                            let Some((id, part, _)) = in_flight.remove(&cseq) else { continue };
                            self.stat(|st| st.in_flight = in_flight.len() as u32);
                            match message::verdict(status) {
                                Verdict::Accepted => {
                                    throttle = THROTTLE_FIRST;
                                    let now = Instant::now();
                                    rate.push_back(now);
                                    while rate.front().is_some_and(|t| now.duration_since(*t) > Duration::from_secs(10)) {
                                        rate.pop_front();
                                    }
                                    let per_s = rate.len() as f64 / 10.0;
                                    self.stat(|st| { st.submitted += 1; st.submits_per_second = per_s; });
                                    self.accepted(id, part, message_id);
                                }
                                Verdict::Later => {
                                    self.stat(|st| st.throttled += 1);
                                    tracing::info!(smsc = %self.cfg.host, pause = ?throttle, status = ?status, "SMSC busy; submits paused");
                                    paused_until = Some(tokio::time::Instant::now() + throttle);
                                    throttle = (throttle * 2).min(THROTTLE_MAX);
                                    self.queue.again(id, part);
                                }
                                Verdict::Transient(reason) => {
                                    self.stat(|st| st.errors += 1);
                                    self.fail(id, reason, false);
                                }
                                Verdict::Permanent(reason) => {
                                    self.stat(|st| st.errors += 1);
                                    self.fail(id, reason, true);
                                }
                            }
                        }
                        Some(Pdu::DeliverSm(pdu)) => {
                            let codes = &self.cfg.short_codes;
                            match message::incoming_in_pool(pdu, codes, &*self.pool, chrono::Utc::now().fixed_offset()) {
                                Ok(incoming) => {
                                    let (tx, rx) = oneshot::channel();
                                    let (code, event) = match incoming {
                                        Incoming::Mo { short_code, deliver } => {
                                            if let Some(s) = self.status_of(&short_code) {
                                                s.update(|m| m.received += 1);
                                            }
                                            (short_code, ModemEvent::Received { deliver, ack: tx })
                                        }
                                        Incoming::Receipt { short_code, recipient, message_id, status, state, error } => {
                                            tracing::debug!(%message_id, %state, ?error, "SMPP receipt");
                                            (short_code, ModemEvent::DeliveryReport {
                                                message_ref: PartRef::Id(message_id),
                                                recipient,
                                                status,
                                                tp_status: 0,
                                                ack: tx,
                                            })
                                        }
                                    };
                                    if self.events.send(PoolEvent { short_code: code, event }).is_err() {
                                        break End::Stopped;
                                    }
                                    acks.push(async move {
                                        match rx.await {
                                            Ok(()) => (cseq, CommandStatus::EsmeRok),
                                            // Not durable: the SMSC keeps it
                                            // and delivers it again.
                                            Err(_) => (cseq, CommandStatus::EsmeRxTAppn),
                                        }
                                    });
                                }
                                Err(e) => {
                                    tracing::warn!(smsc = %self.cfg.host, error = %e, "unreadable deliver_sm; refused");
                                    self.stat(|st| st.errors += 1);
                                    let resp = DeliverSmResp::builder().build();
                                    // ESME_RX_R_APPN: permanent, do not retry it.
                                    if let Err(e) = line.send(Command::new(CommandStatus::EsmeRxRAppn, cseq, Pdu::DeliverSmResp(resp))).await {
                                        break End::Broken(format!("deliver_sm_resp: {e}"));
                                    }
                                }
                            }
                        }
                        Some(Pdu::EnquireLink) => {
                            if let Err(e) = line.send(Command::new(CommandStatus::EsmeRok, cseq, Pdu::EnquireLinkResp)).await {
                                break End::Broken(format!("enquire_link_resp: {e}"));
                            }
                        }
                        _ if is(CommandId::EnquireLinkResp) => {
                            if enquiry.is_some_and(|(s, _)| s == cseq) {
                                enquiry = None;
                            }
                        }
                        Some(Pdu::Unbind) => {
                            let _ = line.send(Command::new(CommandStatus::EsmeRok, cseq, Pdu::UnbindResp)).await;
                            break End::Broken("the SMSC unbound".into());
                        }
                        _ if is(CommandId::GenericNack) => {
                            // A nack of one of our submits: the SMSC could
                            // not read it (§4.3); count it as a refusal.
                            if let Some((id, _, _)) = in_flight.remove(&cseq) {
                                self.stat(|st| st.errors += 1);
                                self.fail(id, format!("the SMSC could not read the message (generic_nack {status:?})"), true);
                            }
                        }
                        _ => {
                            // A request an ESME does not take (§4.3): nacked.
                            // An unexpected response: ignored.
                            if u32::from(command.id()) & 0x8000_0000 == 0 {
                                let _ = line.send(Command::new(CommandStatus::EsmeRinvcmdid, cseq, Pdu::GenericNack)).await;
                            }
                        }
                    }
                }
                job = self.jobs.recv() => {
                    match job {
                        Some(job) => self.enqueue(job),
                        None => break End::Stopped,
                    }
                }
                _ = tokio::time::sleep_until(due) => {
                    let now = tokio::time::Instant::now();
                    if let Some((_, at)) = enquiry {
                        if now >= at + self.cfg.enquire_link {
                            break End::Broken("no answer to enquire_link".into());
                        }
                    }
                    if in_flight.values().any(|(_, _, t)| t.elapsed() >= SUBMIT_WAIT) {
                        break End::Broken("no answer to submit_sm".into());
                    }
                    if enquiry.is_none() && now >= last_heard + self.cfg.enquire_link {
                        let s = next_seq();
                        if let Err(e) = line.send(Command::new(CommandStatus::EsmeRok, s, Pdu::EnquireLink)).await {
                            break End::Broken(format!("enquire_link: {e}"));
                        }
                        enquiry = Some((s, now));
                        last_heard = now;
                    }
                }
            }
        };
        // Parts sent whose answer never came go again on the next line.
        for (_, (id, part, _)) in in_flight.drain() {
            self.queue.again(id, part);
        }
        self.stat(|st| st.in_flight = 0);
        // deliver_sm not answered yet: the SMSC delivers them again.
        drop(acks);
        end
    }

    fn enqueue(&mut self, job: Job) {
        if let Some(s) = self.status_of(&job.short_code) {
            s.enqueued();
        }
        if let Some((job, reason)) = self.queue.add(job, self.cfg.split) {
            if let Some(s) = self.status_of(&job.short_code) {
                s.dequeued();
                s.update(|m| m.failed += 1);
            }
            let _ = job.reply.send(SendOutcome::Failed {
                reason,
                permanent: true,
            });
        }
    }

    fn accepted(&mut self, id: u64, part: usize, message_id: String) {
        let Some(work) = self.queue.works.get_mut(&id) else {
            return;
        };
        work.ids[part] = Some(message_id);
        if work.ids.iter().all(Option::is_some) {
            let work = self.queue.works.remove(&id).expect("present");
            if let Some(s) = self.status_of(&work.job.short_code) {
                s.dequeued();
                s.update(|m| m.sent += 1);
            }
            let refs = work.ids.into_iter().flatten().map(PartRef::Id).collect();
            let _ = work
                .job
                .reply
                .send(SendOutcome::Sent { message_refs: refs });
        }
    }

    fn fail(&mut self, id: u64, reason: String, permanent: bool) {
        let Some(work) = self.queue.works.remove(&id) else {
            return;
        };
        self.queue.ready.retain(|w| *w != id);
        tracing::warn!(smsc = %self.cfg.host, to = %work.job.sms.recipient, %reason, permanent, "SMPP submit refused");
        if let Some(s) = self.status_of(&work.job.short_code) {
            s.dequeued();
            s.update(|m| {
                m.failed += 1;
                m.last_error = Some(reason.clone());
            });
        }
        let _ = work
            .job
            .reply
            .send(SendOutcome::Failed { reason, permanent });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(to: &str, text: &str) -> (Job, oneshot::Receiver<SendOutcome>) {
        let (reply, rx) = oneshot::channel();
        let sms = OutgoingSms {
            message_id: 1,
            recipient: to.into(),
            text: text.into(),
            concat_ref: 9,
            validity_minutes: None,
            withdraw: Default::default(),
        };
        (
            Job {
                short_code: "2222".into(),
                sms,
                reply,
            },
            rx,
        )
    }

    #[test]
    fn parts_go_in_order_and_a_throttled_part_goes_first_again() {
        let mut q = Queue::default();
        let (a, _ra) = job("+18095550001", &"x".repeat(400));
        let (b, _rb) = job("+18095550002", "hola");
        assert!(q.add(a, SmppSplit::Udh).is_none());
        assert!(q.add(b, SmppSplit::Udh).is_none());
        assert_eq!(q.next_part(), Some((0, 0)));
        assert_eq!(q.next_part(), Some((0, 1)));
        // Part 0 was throttled: it goes before the rest.
        q.again(0, 0);
        assert_eq!(q.next_part(), Some((0, 0)));
        assert_eq!(q.next_part(), Some((0, 2)));
        assert_eq!(q.next_part(), Some((1, 0)));
        assert_eq!(q.next_part(), None);
        // The line broke with part 1 of the first message in flight.
        q.again(0, 1);
        assert_eq!(q.next_part(), Some((0, 1)));
    }

    #[test]
    fn a_message_taken_back_before_its_first_part_is_not_sent() {
        let mut q = Queue::default();
        let (a, mut ra) = job("+18095550001", "hola");
        let (b, _rb) = job("+18095550002", "adiós");
        a.sms.withdraw.set();
        q.add(a, SmppSplit::Udh);
        q.add(b, SmppSplit::Udh);
        assert_eq!(q.next_part(), Some((1, 0)));
        assert_eq!(q.withdrawn, ["2222"]);
        assert_eq!(
            ra.try_recv().unwrap(),
            SendOutcome::Failed {
                reason: "withdrawn".into(),
                permanent: true
            }
        );
        // Once its first part is out, a message can no longer be taken
        // back: the phone gets all of it.
        let (c, _rc) = job("+18095550003", &"y".repeat(200));
        q.add(c, SmppSplit::Udh);
        assert_eq!(q.next_part(), Some((2, 0)));
        assert!(!q.works[&2].job.sms.withdraw.take_back());
    }
}
