//! The modem driver: one task that owns one serial port and keeps one modem
//! useful — open, initialise (profile lines, PIN, PDU mode, storage, new
//! message indications), then serve sends, receive SMS and reports, poll
//! health between sends, and reconnect with capped exponential backoff
//! when the modem or its port fails.
//!
//! USSD requests are served by the same loop, between sends (an `AT+CMGS`
//! exchange always finishes first), through [`UssdSession`]; an open menu
//! is cancelled after [`super::ussd::USSD_SESSION_TIMEOUT`].
//!
//! Receiving follows one rule: `+CMTI` → `AT+CMGR` → decode → hand over →
//! wait for the acknowledgement (persisted) → only then `AT+CMGD`.
//!
//! Owns the port through [`Conversation`]; knows nothing of sessions or the
//! store: it talks to the rest through [`ModemEvent`]s and their acks.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio::time::{Instant, MissedTickBehavior};

use crate::at::commands::{
    Attention, CcidQuery, DeleteFlag, DeleteMessage, EnterPin, Imei, Imsi, ListMessages,
    Manufacturer, MessageStat, Model, OperatorQuery, PduHex, ReadIccid, ReadMessage,
    RegistrationQuery, SendPdu, SetMessageFormat, SetRegistrationReporting, SetStorage,
    SignalQualityQuery, StorageQuery,
};
use crate::at::{Failure, PinStatus, RegStatus, Urc};
use crate::sms::{self, Pdu, SubmitOptions};

use super::conversation::{Conversation, ConversationError};
use super::discovery;
use super::profile::Profile;
use super::types::{
    ModemEvent, ModemState, OutgoingSms, PartRef, SendOutcome, SharedStatus, SignalSample,
    UssdAnswer, UssdError,
};
use super::ussd::{UssdSession, USSD_TIMEOUT};

/// How long to wait for the wake-up `AT`.
const WAKE_TIMEOUT: Duration = Duration::from_secs(2);
/// How many unanswered wake-ups mean the modem is gone.
const WAKE_ATTEMPTS: u32 = 3;
/// Timeout of profile init lines.
const INIT_LINE_TIMEOUT: Duration = Duration::from_secs(10);
/// Stored SMS handed over and not yet acknowledged, at most: past it the
/// driver waits before reading more (a SIM holds 20–50; the network holds
/// what does not fit, and a full SIM delays every reply).
const MAX_AWAITING: usize = 8;
/// How long a hand-over may take before the message is left on the modem
/// (it is picked up again by the next sweep).
const ACK_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one idle read of the port may wait. The loop's other branches
/// (a send, a USSD, the health and sweep timers) end it as soon as they are
/// ready, so it is not a poll: an idle modem wakes the driver only for its
/// timers and for what the modem says (a short slice here cost an idle box
/// 20 wake-ups a second per modem).
const IDLE_SLICE: Duration = Duration::from_secs(3600);
/// Attempts of one part on retryable errors, and the first backoff.
const SEND_ATTEMPTS: u32 = 4;
const SEND_BACKOFF: Duration = Duration::from_millis(500);
/// Commands in a row without any answer after which the link is
/// considered dead (an answer to anything in between, even an error,
/// starts the count again).
const MAX_TIMEOUTS: u32 = 2;
/// While the port is missing (a modem unplugged), how often to look for it
/// between reconnect attempts: it is used as soon as it is back.
const PORT_POLL: Duration = Duration::from_millis(250);
/// A stored SMS that could not be read for a passing reason (SIM busy, no
/// answer in time) is looked for again this soon, not at the next sweep:
/// its `+CMTI` has been spent.
const READ_RETRY: Duration = Duration::from_secs(1);
/// How long after the wake-up the SMS commands may keep failing while the
/// modem's SMS service starts (SIMCom's `SMS Ready`, Quectel's `+QIND: SMS
/// DONE`, Wavecom's `+WIND: 4`): TinyGSM waits up to 30 s for `SMS Ready`
/// (`TinyGsmClientSIM70xx.h`, `restartImpl`).
const SMS_READY_WAIT: Duration = Duration::from_secs(30);
/// Pause between tries while the SMS service starts.
const SMS_READY_POLL: Duration = Duration::from_millis(500);

/// Everything the driver needs to know about its modem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverConfig {
    pub short_code: String,
    /// A serial device, or `auto` to find the modem by [`Self::imei`].
    pub port: String,
    pub imei: Option<String>,
    pub baud: u32,
    pub pin: Option<String>,
    /// Profile init lines, run in order after the wake-up.
    pub init: Vec<String>,
    /// `AT+CNMI` parameters.
    pub cnmi: String,
    /// `AT+CPMS` memory for all three uses.
    pub storage: String,
    pub cmgs_timeout: Duration,
    pub registration_timeout: Duration,
    pub post_pin_delay: Duration,
    /// Signal/registration/operator poll, between sends only.
    pub health_interval: Duration,
    /// `AT+CMGL=4` sweep for messages whose notice was missed.
    pub sweep_interval: Duration,
    /// Sends per minute (0: no limit), with jitter, to protect SIMs from
    /// operator blocking.
    pub sends_per_minute: u32,
    /// Reconnect backoff: first and cap. The cap bounds how long a modem
    /// that answers again waits to be used: a fault's end is noticed within
    /// it (an attempt costs a few `AT`s, nothing a modem minds).
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Every byte of the serial line goes to this transcript (`[[modem]]
    /// record`).
    pub record: Option<crate::transcript::RecordTo>,
    /// USSD strings go both ways as packed GSM 7-bit hex (the profile's
    /// `ussd_packed_hex`: Huawei).
    pub ussd_packed_hex: bool,
    /// How long to wait for the `+CUSD:` answer after the `OK`.
    pub ussd_timeout: Duration,
}

impl DriverConfig {
    /// Defaults of the generic profile for `port`.
    pub fn new(short_code: &str, port: &str) -> Self {
        DriverConfig {
            short_code: short_code.to_string(),
            port: port.to_string(),
            imei: None,
            baud: 115_200,
            pin: None,
            init: vec!["ATE0".into(), "AT+CMEE=1".into()],
            cnmi: "2,1,0,2,0".into(),
            storage: "SM".into(),
            cmgs_timeout: Duration::from_secs(60),
            registration_timeout: Duration::from_secs(60),
            post_pin_delay: Duration::from_secs(0),
            health_interval: Duration::from_secs(30),
            sweep_interval: Duration::from_secs(60),
            sends_per_minute: 0,
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(4),
            record: None,
            ussd_packed_hex: false,
            ussd_timeout: USSD_TIMEOUT,
        }
    }

    /// The driver settings of a configured modem with its profile.
    pub fn from_config(modem: &crate::config::ModemConfig, profile: &Profile) -> Self {
        DriverConfig {
            imei: modem.imei.clone(),
            baud: modem.baud,
            pin: modem.pin.clone(),
            init: profile.init.clone(),
            cnmi: profile.cnmi.clone(),
            storage: profile.storage.clone(),
            cmgs_timeout: Duration::from_secs(profile.quirks.cmgs_timeout_s.max(1)),
            registration_timeout: Duration::from_secs(profile.quirks.registration_timeout_s),
            post_pin_delay: Duration::from_millis(profile.quirks.post_pin_delay_ms),
            ussd_packed_hex: profile.quirks.ussd_packed_hex,
            record: (!modem.record.trim().is_empty()).then(|| crate::transcript::RecordTo {
                path: modem.record.trim().into(),
                max_bytes: u64::from(modem.record_max_mib) * 1024 * 1024,
                keep: 3,
            }),
            ..DriverConfig::new(&modem.short_code, &modem.port)
        }
        .sweeping_for(profile)
    }

    /// A modem whose URCs may go to another port than the configured one
    /// is swept more often (nothing announces its messages there).
    fn sweeping_for(mut self, profile: &Profile) -> Self {
        if profile.quirks.urc_port_only {
            self.sweep_interval = self.sweep_interval.min(super::profile::URC_PORT_SWEEP);
        }
        self
    }
}

/// A send request with the channel its outcome goes to.
pub struct SendRequest {
    pub sms: OutgoingSms,
    pub reply: oneshot::Sender<SendOutcome>,
}

/// A USSD request (a code, or the answer to an open menu) with the channel
/// its answer goes to.
pub struct UssdJob {
    pub code: String,
    pub reply: oneshot::Sender<Result<UssdAnswer, UssdError>>,
}

/// What the driver is asked to do: sends, and USSD requests (served first,
/// between sends).
pub struct Queues {
    pub sends: mpsc::Receiver<SendRequest>,
    pub ussd: mpsc::Receiver<UssdJob>,
}

/// The queues of requests, shared so they outlive a driver task that
/// panicked (the actor starts a new one on the same queues).
pub type SendQueue = Arc<Mutex<Queues>>;

/// Why a session with the modem ended.
#[derive(Debug, thiserror::Error)]
enum SessionEnd {
    #[error("the modem does not answer")]
    NoAnswer,
    #[error("the modem restarted")]
    Rebooted,
    #[error("SIM: {0}")]
    Sim(String),
    #[error(transparent)]
    Link(ConversationError),
    #[error("shut down")]
    Shutdown,
}

/// A send in progress, kept across reconnects so no part is sent twice
/// once confirmed.
struct InProgress {
    request: SendRequest,
    parts: Vec<sms::EncodedPdu>,
    refs: Vec<u8>,
}

/// Runs the driver until the send queue is closed.
pub async fn run(
    cfg: DriverConfig,
    queue: SendQueue,
    events: mpsc::UnboundedSender<ModemEvent>,
    status: SharedStatus,
) {
    let mut backoff = cfg.backoff_min;
    let mut current: Option<InProgress> = None;
    let mut first = true;
    // One recording across reconnects.
    let recorder = cfg.record.clone().and_then(|to| {
        crate::transcript::Recorder::open(to.clone())
            .map_err(|e| {
                tracing::warn!(modem = %cfg.short_code, path = %to.path.display(), error = %e, "cannot record the modem's serial line")
            })
            .ok()
    });
    loop {
        if !first {
            status.update(|s| s.reconnects += 1);
        }
        first = false;
        status.update(|s| s.state = ModemState::Initialising);
        let started = Instant::now();
        let end = match open(&cfg).await {
            Ok(port) => {
                let mut driver = Driver {
                    cfg: &cfg,
                    conv: Conversation::new(crate::transcript::Recorded::new(
                        port,
                        recorder.clone(),
                    )),
                    events: &events,
                    status: &status,
                    limiter: limiter(cfg.sends_per_minute),
                    sweep_soon: None,
                    has_sr: false,
                    ussd: UssdSession::new(cfg.ussd_packed_hex, cfg.ussd_timeout),
                    acks: Default::default(),
                    awaiting: Vec::new(),
                    reading: None,
                };
                driver.session(&queue, &mut current).await
            }
            Err(e) => SessionEnd::Link(ConversationError::Io(e)),
        };
        if matches!(end, SessionEnd::Shutdown) {
            return;
        }
        tracing::warn!(modem = %cfg.short_code, port = %cfg.port, reason = %end, "modem down");
        let state = match end {
            SessionEnd::Sim(_) => ModemState::NoSim,
            _ => ModemState::Down,
        };
        status.update(|s| {
            s.state = state;
            s.last_error = Some(end.to_string());
        });
        if started.elapsed() > Duration::from_secs(60) {
            backoff = cfg.backoff_min;
        }
        pause(&cfg.port, backoff).await;
        backoff = (backoff * 2).min(cfg.backoff_max);
    }
}

/// Seconds since the Unix epoch (0 before it: a clock not yet set).
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A failure that may pass if the command is sent again later.
fn passing(e: &ConversationError) -> bool {
    match e {
        ConversationError::At(a) => a.classify() == Failure::Passing,
        ConversationError::Timeout { .. } => true,
        _ => false,
    }
}

/// `+CNMI` settings to try, in order: the profile's, then the same with
/// status reports routed as `+CDS` (`<ds>=1`), then without reports.
fn cnmi_candidates(profile: &str) -> Vec<String> {
    let mut out = vec![profile.to_string()];
    let p: Vec<&str> = profile.split(',').map(str::trim).collect();
    if p.len() >= 4 {
        for ds in ["1", "0"] {
            let mut q = p.clone();
            q[3] = ds;
            let c = q.join(",");
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

/// The pause before reconnecting: `backoff`, cut short when `port` was
/// missing and has come back (a USB modem replugged, its by-id link
/// recreated by udev).
async fn pause(port: &str, backoff: Duration) {
    let path = std::path::Path::new(port);
    if port == "auto" || path.exists() {
        tokio::time::sleep(backoff).await;
        return;
    }
    let until = Instant::now() + backoff;
    while Instant::now() < until {
        tokio::time::sleep(PORT_POLL.min(until - Instant::now())).await;
        if path.exists() {
            return;
        }
    }
}

/// Opens the configured port; with `port = "auto"`, first finds the USB
/// serial port whose modem has the configured IMEI (it survives the kernel
/// renaming ttyUSB devices).
async fn open(cfg: &DriverConfig) -> std::io::Result<tokio_serial::SerialStream> {
    use tokio_serial::SerialPortBuilderExt;
    let path = if cfg.port == "auto" {
        let imei = cfg.imei.as_deref().unwrap_or_default();
        let found = discovery::find_by_imei(imei, cfg.baud, discovery::usb_serial_candidates())
            .await
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::NotFound, e.to_string()))?;
        found.to_string_lossy().into_owned()
    } else {
        cfg.port.clone()
    };
    tokio_serial::new(&path, cfg.baud)
        .timeout(Duration::from_secs(1))
        .open_native_async()
        .map_err(std::io::Error::from)
}

type Limiter = governor::DefaultDirectRateLimiter;

fn limiter(per_minute: u32) -> Option<Limiter> {
    let n = std::num::NonZeroU32::new(per_minute)?;
    Some(governor::RateLimiter::direct(governor::Quota::per_minute(
        n,
    )))
}

struct Driver<'a> {
    cfg: &'a DriverConfig,
    conv: Conversation<crate::transcript::Recorded<tokio_serial::SerialStream>>,
    events: &'a mpsc::UnboundedSender<ModemEvent>,
    status: &'a SharedStatus,
    limiter: Option<Limiter>,
    /// When to sweep early, after a stored SMS could not be read.
    sweep_soon: Option<Instant>,
    /// The modem keeps status reports in an `SR` memory of their own
    /// (`AT+CPMS=?` offers it): reports are read and swept there.
    has_sr: bool,
    /// The USSD menu open on this modem, if any.
    ussd: UssdSession,
    /// Hand-overs not yet acknowledged. The driver goes on meanwhile (it
    /// sends, reads the next SMS); each SMS is deleted from the modem once
    /// its acknowledgement comes, so consecutive SMS share the gateway's
    /// flush instead of paying one each.
    acks: futures_util::stream::FuturesUnordered<PendingAck>,
    /// The slots of those hand-overs: a sweep does not hand them over again.
    awaiting: Vec<Slot>,
    /// The memory being read when not the configured one (`SR`).
    reading: Option<String>,
}

/// Where an SMS handed over waits on the modem: its memory (`None`: the
/// configured one) and index.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Slot {
    mem: Option<String>,
    index: u32,
}

/// A hand-over's acknowledgement: resolves to the SMS's slot (`None`:
/// delivered directly, nothing to delete), whether it was an SMS (not a
/// report) and whether it was acknowledged within [`ACK_TIMEOUT`].
type PendingAck = futures_util::future::BoxFuture<'static, (Option<Slot>, bool, bool)>;

/// What became of an SMS offered to the gateway.
enum Offered {
    /// Garbage nobody can ever use: deleted at once.
    Delete,
    /// Not for the gateway (a stored submit) or nobody listens: kept.
    Keep,
    /// Handed over; deleted when acknowledged.
    Awaiting,
}

impl Driver<'_> {
    async fn session(&mut self, queue: &SendQueue, current: &mut Option<InProgress>) -> SessionEnd {
        if let Err(end) = self.initialise().await {
            return end;
        }
        let mut health = tokio::time::interval(self.cfg.health_interval);
        health.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut sweep = tokio::time::interval(self.cfg.sweep_interval);
        sweep.set_missed_tick_behavior(MissedTickBehavior::Delay);
        health.tick().await;
        sweep.tick().await;
        loop {
            if let Err(end) = self.handle_urcs().await {
                return end;
            }
            if let Err(end) = self.settle_ready().await {
                return end;
            }
            let registered = self.registered();
            if let Some(progress) = current.take() {
                if registered {
                    match self.send(progress).await {
                        Ok(None) => {}
                        Ok(Some(unfinished)) => *current = Some(unfinished),
                        Err((unfinished, end)) => {
                            *current = Some(unfinished);
                            return end;
                        }
                    }
                    continue;
                }
                *current = Some(progress);
            }
            let soon = self.sweep_soon;
            let menu_expiry = self.ussd.expires_at();
            let mut q = queue.lock().await;
            let Queues { sends, ussd } = &mut *q;
            tokio::select! {
                biased;
                done = self.acks.next(), if !self.acks.is_empty() => {
                    drop(q);
                    if let Some(done) = done {
                        if let Err(end) = self.settle(done).await {
                            return end;
                        }
                    }
                }
                job = ussd.recv() => {
                    drop(q);
                    let Some(job) = job else { return SessionEnd::Shutdown };
                    if let Err(end) = self.ussd(job).await {
                        return end;
                    }
                }
                _ = tokio::time::sleep_until(menu_expiry.unwrap_or_else(Instant::now)), if menu_expiry.is_some() => {
                    drop(q);
                    tracing::info!(modem = %self.cfg.short_code, "USSD menu left unanswered; cancelled");
                    if let Err(e) = self.ussd.cancel(&mut self.conv).await {
                        return SessionEnd::Link(e);
                    }
                }
                request = sends.recv(), if registered => {
                    drop(q);
                    let Some(request) = request else { return SessionEnd::Shutdown };
                    self.status.dequeued();
                    match self.prepare(request) {
                        Some(p) => *current = Some(p),
                        None => continue,
                    }
                }
                _ = health.tick() => {
                    drop(q);
                    if let Err(end) = self.health().await {
                        return end;
                    }
                }
                _ = sweep.tick() => {
                    drop(q);
                    if let Err(end) = self.sweep().await {
                        return end;
                    }
                }
                _ = tokio::time::sleep_until(soon.unwrap_or_else(Instant::now)), if soon.is_some() => {
                    drop(q);
                    if let Err(end) = self.sweep().await {
                        return end;
                    }
                }
                read = self.conv.idle(IDLE_SLICE) => {
                    drop(q);
                    if let Err(e) = read {
                        return SessionEnd::Link(e);
                    }
                }
            }
        }
    }

    fn registered(&self) -> bool {
        self.status.get().state == ModemState::Up
    }

    /// Serves one USSD request: at once `NotReady` when the modem is not
    /// up; else the exchange, with URCs that came meanwhile handled by the
    /// loop afterwards.
    async fn ussd(&mut self, job: UssdJob) -> Result<(), SessionEnd> {
        if job.reply.is_closed() {
            return Ok(());
        }
        let state = self.status.get().state;
        if state != ModemState::Up {
            let _ = job
                .reply
                .send(Err(UssdError::NotReady(format!("the modem is {state:?}"))));
            return Ok(());
        }
        match self.ussd.request(&mut self.conv, &job.code).await {
            Ok(answer) => {
                if let Err(e) = &answer {
                    tracing::info!(modem = %self.cfg.short_code, code = %job.code, error = %e, "USSD failed");
                }
                let _ = job.reply.send(answer);
                if self.conv.unanswered >= MAX_TIMEOUTS {
                    return Err(SessionEnd::NoAnswer);
                }
                Ok(())
            }
            Err(e) => {
                let _ = job
                    .reply
                    .send(Err(UssdError::NotReady(format!("the port failed: {e}"))));
                Err(SessionEnd::Link(e))
            }
        }
    }

    /// Classifies a command error: the link is gone, or the modem stopped
    /// answering, or just this command failed.
    fn check(&mut self, e: ConversationError) -> Result<ConversationError, SessionEnd> {
        if e.is_link_failure() {
            return Err(SessionEnd::Link(e));
        }
        if matches!(e, ConversationError::Timeout { .. }) && self.conv.unanswered >= MAX_TIMEOUTS {
            return Err(SessionEnd::NoAnswer);
        }
        Ok(e)
    }

    async fn initialise(&mut self) -> Result<(), SessionEnd> {
        // Leave a prompt a previous session may have left open.
        self.conv
            .write_raw(b"\x1b\r")
            .await
            .map_err(SessionEnd::Link)?;
        let mut awake = false;
        for _ in 0..WAKE_ATTEMPTS {
            match tokio::time::timeout(WAKE_TIMEOUT, self.conv.exec(&Attention)).await {
                Ok(Ok(())) => {
                    awake = true;
                    break;
                }
                Ok(Err(e)) if e.is_link_failure() => return Err(SessionEnd::Link(e)),
                _ => {}
            }
        }
        if !awake {
            return Err(SessionEnd::NoAnswer);
        }
        self.conv.take_urcs();
        for line in &self.cfg.init {
            if let Err(e) = self.conv.raw(line, INIT_LINE_TIMEOUT).await {
                let e = self.check(e)?;
                tracing::warn!(modem = %self.cfg.short_code, %line, error = %e, "init line refused");
            }
        }
        let manufacturer = self.conv.exec(&Manufacturer).await.ok();
        let model = self.conv.exec(&Model).await.ok();
        let imei = self.conv.exec(&Imei).await.ok();
        self.status.update(|s| {
            s.manufacturer = manufacturer;
            s.model = model;
            s.imei = imei;
        });
        self.unlock_sim().await?;
        self.sim_identity().await;
        self.exec_or_end(&SetRegistrationReporting(1)).await?;
        self.sms_setup().await?;
        self.wait_registration().await?;
        // A restart signal that came while the modem was being set up
        // belongs to the boot this set-up answers (SIMCom and Quectel print
        // their boot lines for seconds): it is not a restart. Messages
        // delivered directly are handed over; stored ones are swept now.
        for urc in self.conv.take_urcs() {
            match urc {
                u if u.is_restart() => {}
                Urc::MessageReceived { pdu, .. } | Urc::StatusReport { pdu, .. } => {
                    self.offer(&pdu, None);
                }
                Urc::Registration(r) => self.set_registration(r.stat),
                _ => {}
            }
        }
        self.sweep().await?;
        Ok(())
    }

    /// The SIM's IMSI and ICCID for the status: the ICCID from EF_ICCID
    /// (`+CRSM`, as ModemManager `mm-base-sim.c` reads it), else `+CCID`.
    /// A modem that knows neither simply shows none.
    async fn sim_identity(&mut self) {
        let imsi = self.conv.exec(&Imsi).await.ok();
        let iccid = match self.conv.exec(&ReadIccid).await {
            Ok(iccid) => Some(iccid),
            Err(_) => self.conv.exec(&CcidQuery).await.ok(),
        };
        self.status.update(|s| {
            s.imsi = imsi;
            s.iccid = iccid;
        });
    }

    /// PDU mode, storage and new-message notices, tried again while the
    /// modem's SMS service is still starting ([`SMS_READY_WAIT`]).
    async fn sms_setup(&mut self) -> Result<(), SessionEnd> {
        let deadline = Instant::now() + SMS_READY_WAIT;
        loop {
            match self.try_sms_setup().await? {
                Ok(()) => return Ok(()),
                Err(why) if Instant::now() < deadline => {
                    tracing::debug!(modem = %self.cfg.short_code, %why, "SMS service not ready yet");
                    tokio::time::sleep(SMS_READY_POLL).await;
                }
                Err(why) => return Err(SessionEnd::Sim(why)),
            }
        }
    }

    /// One try of the SMS set-up: `Ok(Err(why))` when the modem refused a
    /// step (perhaps not ready yet).
    async fn try_sms_setup(&mut self) -> Result<Result<(), String>, SessionEnd> {
        if let Err(e) = self.conv.exec(&SetMessageFormat(0)).await {
            return Ok(Err(format!("PDU mode refused: {}", self.check(e)?)));
        }
        let mem = self.cfg.storage.as_str();
        let storage =
            SetStorage::new(&[mem, mem, mem]).map_err(|e| SessionEnd::Sim(e.to_string()))?;
        if let Err(e) = self.conv.exec(&storage).await {
            return Ok(Err(format!("storage refused: {}", self.check(e)?)));
        }
        // Reports kept in "SR" (Quectel EC25, Wavecom, Telit) are read there.
        self.has_sr = match self.conv.raw("AT+CPMS=?", INIT_LINE_TIMEOUT).await {
            Ok(lines) => lines
                .iter()
                .find(|l| l.starts_with("+CPMS"))
                .and_then(|l| l.split(')').next())
                .is_some_and(|first| first.contains("\"SR\"")),
            Err(e) => {
                self.check(e)?;
                false
            }
        };
        // New-message notices: the profile's, else the same with status
        // reports as +CDS (<ds>=1: SIM800 offers only 0 and 1, SIM800 AT
        // manual section 4.2.8; python-gsmmodem falls back the same way,
        // gsmmodem/modem.py), else without reports.
        let mut last = String::new();
        for cnmi in cnmi_candidates(&self.cfg.cnmi) {
            match self
                .conv
                .raw(&format!("AT+CNMI={cnmi}"), INIT_LINE_TIMEOUT)
                .await
            {
                Ok(_) => {
                    if cnmi != self.cfg.cnmi {
                        tracing::warn!(modem = %self.cfg.short_code, wanted = %self.cfg.cnmi, used = %cnmi, "new message indications: the profile's were refused");
                    }
                    return Ok(Ok(()));
                }
                Err(e) => {
                    let e = self.check(e)?;
                    if passing(&e) {
                        // Not ready yet (busy, unknown error, no answer in
                        // time): try the whole set-up again, not a lesser
                        // +CNMI.
                        return Ok(Err(format!("new message indications: {e}")));
                    }
                    last = e.to_string();
                }
            }
        }
        Ok(Err(format!("new message indications refused: {last}")))
    }

    async fn exec_or_end<C: crate::at::AtCommand>(
        &mut self,
        cmd: &C,
    ) -> Result<C::Response, SessionEnd> {
        match self.conv.exec(cmd).await {
            Ok(r) => Ok(r),
            Err(e) => {
                let e = self.check(e)?;
                Err(SessionEnd::Sim(e.to_string()))
            }
        }
    }

    async fn unlock_sim(&mut self) -> Result<(), SessionEnd> {
        let mut tries = 0;
        loop {
            match self.conv.pin_status().await {
                Ok(PinStatus::Ready) => return Ok(()),
                Ok(PinStatus::SimPin) => {
                    let Some(pin) = self.cfg.pin.clone() else {
                        return Err(SessionEnd::Sim(
                            "the SIM asks for a PIN and none is configured".into(),
                        ));
                    };
                    let cmd = EnterPin::new(&pin).map_err(|e| SessionEnd::Sim(e.to_string()))?;
                    self.exec_or_end(&cmd).await?;
                    tokio::time::sleep(self.cfg.post_pin_delay).await;
                    return Ok(());
                }
                Ok(other) => return Err(SessionEnd::Sim(format!("SIM state {other:?}"))),
                Err(e) => {
                    let e = self.check(e)?;
                    // SIM busy right after boot: wait a little and ask again.
                    tries += 1;
                    if tries >= 5 || !matches!(&e, ConversationError::At(a) if a.is_retryable()) {
                        return Err(SessionEnd::Sim(e.to_string()));
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    async fn wait_registration(&mut self) -> Result<(), SessionEnd> {
        let deadline = Instant::now() + self.cfg.registration_timeout;
        loop {
            self.health().await?;
            if self.registered() || Instant::now() >= deadline {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    fn set_registration(&self, stat: RegStatus) {
        let up = matches!(stat, RegStatus::Home | RegStatus::Roaming);
        self.status.update(|s| {
            s.registration = Some(format!("{stat:?}").to_lowercase());
            s.state = if up {
                ModemState::Up
            } else {
                ModemState::NotRegistered
            };
        });
    }

    /// Signal, registration, operator, storage use.
    async fn health(&mut self) -> Result<(), SessionEnd> {
        match self.conv.exec(&SignalQualityQuery).await {
            Ok(q) => self.status.update(|s| {
                s.rssi = Some(q.rssi);
                s.signal_dbm = q.dbm().map(i32::from);
                s.push_signal(SignalSample {
                    at: unix_now(),
                    rssi: q.rssi,
                    dbm: s.signal_dbm,
                });
            }),
            Err(e) => {
                self.check(e)?;
            }
        }
        match self.conv.exec(&RegistrationQuery).await {
            Ok(r) => self.set_registration(r.stat),
            Err(e) => {
                self.check(e)?;
            }
        }
        if let Ok(op) = self.conv.exec(&OperatorQuery).await {
            self.status.update(|s| s.operator = op.name);
        }
        // SIM storage use (TS 27.005 §3.2.2 `+CPMS?`): shown to the
        // operator (admin, MQTT); a full SIM refuses new messages.
        if let Ok(u) = self.conv.exec(&StorageQuery).await {
            self.status.update(|s| {
                s.storage_used = Some(u.mem1.used);
                s.storage_total = Some(u.mem1.total);
            });
        }
        let garbage = self.conv.garbage;
        self.status.update(|s| s.garbage = garbage);
        Ok(())
    }

    async fn handle_urcs(&mut self) -> Result<(), SessionEnd> {
        while self.conv.has_urcs() {
            for urc in self.conv.take_urcs() {
                match urc {
                    u if u.is_restart() => return Err(SessionEnd::Rebooted),
                    Urc::MessageStored { index, .. } => {
                        self.read_and_delete(index).await?;
                        self.settle_ready().await?;
                    }
                    Urc::ReportStored { mem, index } => {
                        self.read_report(&mem, index).await?;
                        self.settle_ready().await?;
                    }
                    Urc::MessageReceived { pdu, .. } | Urc::StatusReport { pdu, .. } => {
                        // Direct delivery (+CMT/+CDS): nothing to delete.
                        self.offer(&pdu, None);
                    }
                    Urc::Registration(r) => self.set_registration(r.stat),
                    Urc::Ussd { status, text, .. } => {
                        // Nobody waits for it: the network's own USSD, or
                        // it ending the dialogue.
                        tracing::info!(modem = %self.cfg.short_code, status, text = ?text, "unsolicited USSD");
                        self.ussd.on_unsolicited(status);
                    }
                    // Heartbeats and status lines (^BOOT, ^RSSI, ^MODE,
                    // +ZUSIMR, +QIND: PB DONE...): nothing to do.
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// `AT+CMGL=4`: everything in storage, whatever its notice became.
    async fn sweep(&mut self) -> Result<(), SessionEnd> {
        self.sweep_soon = None;
        let stored = match self.conv.exec(&ListMessages(MessageStat::All)).await {
            Ok(list) => list,
            Err(e) => {
                let e = self.check(e)?;
                tracing::warn!(modem = %self.cfg.short_code, error = %e, "sweep refused");
                self.retry_read_if_passing(&e);
                return Ok(());
            }
        };
        self.take_listed(stored).await?;
        if self.has_sr {
            // Reports whose notice was lost, or announced in the wrong
            // memory, wait in "SR".
            self.in_memory("SR", |d| Box::pin(d.sweep_current()))
                .await?;
        }
        Ok(())
    }

    /// `AT+CMGL=4` in the current read memory, everything handed over.
    async fn sweep_current(&mut self) -> Result<(), SessionEnd> {
        match self.conv.exec(&ListMessages(MessageStat::All)).await {
            Ok(list) => self.take_listed(list).await,
            Err(e) => {
                self.check(e)?;
                Ok(())
            }
        }
    }

    async fn take_listed(
        &mut self,
        stored: Vec<crate::at::commands::StoredPdu>,
    ) -> Result<(), SessionEnd> {
        for m in stored {
            if matches!(m.stat, MessageStat::StoredSent | MessageStat::StoredUnsent) {
                continue;
            }
            let slot = Slot {
                mem: self.reading.clone(),
                index: m.index,
            };
            if self.awaiting.contains(&slot) {
                continue; // handed over already; deleted when acknowledged
            }
            self.make_room().await?;
            if let Offered::Delete = self.offer(&m.pdu, Some(slot)) {
                self.delete(m.index).await?;
            }
        }
        Ok(())
    }

    /// A status report announced at `index` of `mem`. A modem with an `SR`
    /// memory is read there first: Quectel EC25/EG25 store reports in "SR"
    /// but announce them as `+CDSI: "SM",n`, so reading "SM" gives an empty
    /// `OK` or an unrelated SMS (asterisk-chan-quectel PR #75); then the
    /// memory named. Kannel and python-gsmmodem also switch to the named
    /// memory before reading (`smsc_at.c`, `readStoredSms(idx, mem)`).
    async fn read_report(&mut self, mem: &str, index: u32) -> Result<(), SessionEnd> {
        let mut places: Vec<String> = Vec::new();
        if self.has_sr {
            places.push("SR".into());
        }
        let named = mem.trim().to_ascii_uppercase();
        if !named.is_empty() && !places.contains(&named) {
            places.push(named);
        }
        if places.is_empty() {
            places.push(self.cfg.storage.clone());
        }
        for place in places {
            if place == self.cfg.storage {
                if self.read_and_delete(index).await? {
                    return Ok(());
                }
                continue;
            }
            let found = self
                .in_memory(&place, |d| Box::pin(d.read_and_delete(index)))
                .await?;
            if found == Some(true) {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Runs `f` with `mem` as the read memory (`AT+CPMS="<mem>"`), then
    /// goes back to the configured one. `None` when the modem refused it.
    async fn in_memory<T>(
        &mut self,
        mem: &str,
        f: impl for<'d> FnOnce(
            &'d mut Self,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, SessionEnd>> + Send + 'd>,
        >,
    ) -> Result<Option<T>, SessionEnd> {
        // A memory name the modem made up is skipped, not fatal.
        let Ok(switch) = SetStorage::new(&[mem]) else {
            return Ok(None);
        };
        if let Err(e) = self.conv.exec(&switch).await {
            let e = self.check(e)?;
            tracing::debug!(modem = %self.cfg.short_code, %mem, error = %e, "memory refused");
            // A switch that timed out may have happened all the same.
            if matches!(e, ConversationError::Timeout { .. }) {
                self.back_to_storage().await?;
            }
            return Ok(None);
        }
        self.reading = Some(mem.to_string());
        let result = f(self).await;
        self.reading = None;
        let result = result?;
        self.back_to_storage().await?;
        Ok(Some(result))
    }

    /// The configured read memory again. If the modem does not confirm it,
    /// the session ends (it is set up again): reading `+CMTI` indices in
    /// the wrong memory would leave SMS on the SIM.
    async fn back_to_storage(&mut self) -> Result<(), SessionEnd> {
        let back = SetStorage::new(&[self.cfg.storage.as_str()])
            .map_err(|e| SessionEnd::Sim(e.to_string()))?;
        match self.conv.exec(&back).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = self.check(e)?;
                Err(SessionEnd::Sim(format!(
                    "cannot go back to the {} memory: {e}",
                    self.cfg.storage
                )))
            }
        }
    }

    /// Reads the message at `index` of the read memory, hands it over and
    /// deletes it once acknowledged. `false` when the slot was empty.
    async fn read_and_delete(&mut self, index: u32) -> Result<bool, SessionEnd> {
        let slot = Slot {
            mem: self.reading.clone(),
            index,
        };
        if self.awaiting.contains(&slot) {
            return Ok(true); // announced again; deleted when acknowledged
        }
        self.make_room().await?;
        let stored = match self.conv.exec(&ReadMessage(index)).await {
            Ok(Some(m)) => m,
            Ok(None) => return Ok(false),
            Err(e) => {
                let e = self.check(e)?;
                tracing::warn!(modem = %self.cfg.short_code, index, error = %e, "cannot read stored SMS");
                self.retry_read_if_passing(&e);
                return Ok(true);
            }
        };
        if let Offered::Delete = self.offer(&stored.pdu, Some(slot)) {
            self.delete(index).await?;
        }
        Ok(true)
    }

    /// Schedules an early sweep when a read failed for a reason that passes.
    fn retry_read_if_passing(&mut self, e: &ConversationError) {
        let passing = match e {
            ConversationError::At(a) => a.is_retryable(),
            ConversationError::Timeout { .. } => true,
            _ => false,
        };
        if passing && self.sweep_soon.is_none() {
            self.sweep_soon = Some(Instant::now() + READ_RETRY);
        }
    }

    async fn delete(&mut self, index: u32) -> Result<(), SessionEnd> {
        let cmd = DeleteMessage {
            index,
            flag: DeleteFlag::Index,
        };
        if let Err(e) = self.conv.exec(&cmd).await {
            let e = self.check(e)?;
            tracing::warn!(modem = %self.cfg.short_code, index, error = %e, "cannot delete stored SMS");
        }
        Ok(())
    }

    /// Decodes a PDU and hands it over without waiting: its
    /// acknowledgement (the gateway made it durable) is settled later by
    /// [`Self::settle`], which deletes it from `slot`.
    fn offer(&mut self, hex: &str, slot: Option<Slot>) -> Offered {
        let pdu = match sms::decode_hex(hex, true) {
            Ok((_, pdu)) => pdu,
            Err(e) => {
                tracing::warn!(modem = %self.cfg.short_code, %hex, error = %e, "undecodable PDU skipped");
                self.status.update(|s| s.garbage += 1);
                return Offered::Delete;
            }
        };
        let (ack, acked) = oneshot::channel();
        let event = match pdu {
            Pdu::Deliver(deliver) => ModemEvent::Received { deliver, ack },
            Pdu::StatusReport(r) => ModemEvent::DeliveryReport {
                message_ref: PartRef::Mr(r.message_ref),
                recipient: r.recipient.to_string(),
                status: r.classification(),
                tp_status: r.status,
                ack,
            },
            Pdu::Submit(_) => return Offered::Keep,
        };
        let received = matches!(event, ModemEvent::Received { .. });
        if self.events.send(event).is_err() {
            return Offered::Keep;
        }
        if let Some(slot) = &slot {
            self.awaiting.push(slot.clone());
        }
        self.acks.push(Box::pin(async move {
            let acked = matches!(tokio::time::timeout(ACK_TIMEOUT, acked).await, Ok(Ok(())));
            (slot, received, acked)
        }));
        Offered::Awaiting
    }

    /// Waits for acknowledgements while [`MAX_AWAITING`] stored SMS wait
    /// for theirs: the SIM must keep room for what the network delivers.
    /// (Not while another memory is being read: deleting there would
    /// switch memories under the reader.)
    async fn make_room(&mut self) -> Result<(), SessionEnd> {
        while self.reading.is_none() && self.awaiting.len() >= MAX_AWAITING {
            let Some(done) = self.acks.next().await else {
                break;
            };
            self.settle(done).await?;
        }
        Ok(())
    }

    /// Settles every acknowledgement that has come, without waiting.
    async fn settle_ready(&mut self) -> Result<(), SessionEnd> {
        use futures_util::FutureExt;
        while let Some(Some(done)) = self.acks.next().now_or_never() {
            self.settle(done).await?;
        }
        Ok(())
    }

    /// One hand-over answered: an acknowledged SMS is deleted from its
    /// slot; one never acknowledged stays on the modem (a sweep reads it
    /// again, and the gateway knows a part it took in before).
    async fn settle(&mut self, done: (Option<Slot>, bool, bool)) -> Result<(), SessionEnd> {
        let (slot, received, acked) = done;
        if let Some(slot) = &slot {
            self.awaiting.retain(|s| s != slot);
        }
        if !acked {
            tracing::warn!(modem = %self.cfg.short_code, "hand-over not acknowledged; SMS stays on the modem");
            return Ok(());
        }
        if received {
            self.status.update(|s| s.received += 1);
        }
        match slot {
            None => {}
            Some(Slot { mem: None, index }) => self.delete(index).await?,
            Some(Slot {
                mem: Some(mem),
                index,
            }) => {
                self.in_memory(&mem, |d| Box::pin(d.delete(index))).await?;
            }
        }
        Ok(())
    }

    fn prepare(&mut self, request: SendRequest) -> Option<InProgress> {
        if request.reply.is_closed() || request.sms.withdraw.is_set() {
            // Nobody waits for it any more (its conversation ended while
            // it queued): sending it now would only reach the phone late.
            tracing::info!(modem = %self.cfg.short_code, to = %request.sms.recipient, "queued send withdrawn; not sent");
            return None;
        }
        let opts = SubmitOptions {
            status_report: true,
            validity: request.sms.validity_minutes,
            ..SubmitOptions::default()
        };
        match sms::encode_submit(
            &request.sms.recipient,
            &request.sms.text,
            &opts,
            request.sms.concat_ref,
        ) {
            Ok(parts) => Some(InProgress {
                request,
                parts,
                refs: Vec::new(),
            }),
            Err(e) => {
                self.status.update(|s| s.failed += 1);
                let _ = request.reply.send(SendOutcome::Failed {
                    reason: format!("cannot encode: {e}"),
                    permanent: true,
                });
                None
            }
        }
    }

    /// Sends the remaining parts. `Ok(None)`: finished (outcome replied);
    /// `Ok(Some)`: paused (modem off the network); `Err`: the session ended.
    async fn send(
        &mut self,
        mut p: InProgress,
    ) -> Result<Option<InProgress>, (InProgress, SessionEnd)> {
        while p.refs.len() < p.parts.len() {
            if p.refs.is_empty() && !p.request.sms.withdraw.start() {
                // Taken back before any part went out (it waited here while
                // the modem was away): the phone gets nothing.
                tracing::info!(modem = %self.cfg.short_code, to = %p.request.sms.recipient, "send withdrawn before its first part");
                let _ = p.request.reply.send(SendOutcome::Failed {
                    reason: "withdrawn".into(),
                    permanent: true,
                });
                return Ok(None);
            }
            let part = &p.parts[p.refs.len()];
            let cmd = match PduHex::parse(&part.hex).and_then(SendPdu::new) {
                Ok(c) => c,
                Err(e) => return Ok(self.fail(p, format!("bad PDU: {e}"), true)),
            };
            let mut attempt = 0;
            let mr = loop {
                if let Some(l) = &self.limiter {
                    l.until_ready_with_jitter(governor::Jitter::up_to(Duration::from_millis(500)))
                        .await;
                }
                attempt += 1;
                let result =
                    tokio::time::timeout(self.cfg.cmgs_timeout, self.conv.send_pdu(&cmd)).await;
                let err = match result {
                    Ok(Ok(mr)) => break mr,
                    Ok(Err(e)) => e,
                    Err(_) => {
                        self.conv.unanswered += 1;
                        ConversationError::Timeout {
                            command: "AT+CMGS".into(),
                            timeout: self.cfg.cmgs_timeout,
                            partial: Vec::new(),
                        }
                    }
                };
                let err = match self.check(err) {
                    Ok(e) => e,
                    Err(end) => return Err((p, end)),
                };
                let retryable = match &err {
                    ConversationError::At(a) => match a.classify() {
                        Failure::NoNetwork => {
                            // Off the network: wait for it, keep the message.
                            self.status.update(|s| s.state = ModemState::NotRegistered);
                            return Ok(Some(p));
                        }
                        Failure::SimState => {
                            // The SIM, not the message: start the modem
                            // again (SIM state, PIN) and keep the message.
                            return Err((p, SessionEnd::Sim(err.to_string())));
                        }
                        Failure::Passing => true,
                        Failure::Permanent => false,
                    },
                    ConversationError::Timeout { .. } => true,
                    _ => false,
                };
                if !retryable || attempt >= SEND_ATTEMPTS {
                    return Ok(self.fail(p, err.to_string(), !retryable));
                }
                tracing::info!(modem = %self.cfg.short_code, attempt, error = %err, "send retry");
                tokio::time::sleep(SEND_BACKOFF * 2u32.pow(attempt - 1)).await;
                if let Err(end) = self.handle_urcs().await {
                    return Err((p, end));
                }
            };
            p.refs.push(mr);
        }
        self.status.update(|s| s.sent += 1);
        let _ = p.request.reply.send(SendOutcome::Sent {
            message_refs: p.refs.into_iter().map(PartRef::Mr).collect(),
        });
        Ok(None)
    }

    fn fail(&mut self, p: InProgress, reason: String, permanent: bool) -> Option<InProgress> {
        tracing::warn!(modem = %self.cfg.short_code, to = %p.request.sms.recipient, %reason, "send failed");
        self.status.update(|s| s.failed += 1);
        let _ = p
            .request
            .reply
            .send(SendOutcome::Failed { reason, permanent });
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cnmi_falls_back_to_cds_then_no_reports() {
        assert_eq!(
            cnmi_candidates("2,1,0,2,0"),
            vec!["2,1,0,2,0", "2,1,0,1,0", "2,1,0,0,0"]
        );
        assert_eq!(cnmi_candidates("2,1,0,1,0"), vec!["2,1,0,1,0", "2,1,0,0,0"]);
        assert_eq!(cnmi_candidates("2,1"), vec!["2,1"]);
    }

    /// A replugged modem is used as soon as its port is back, not after
    /// the rest of a long backoff.
    #[tokio::test]
    async fn the_pause_ends_when_a_missing_port_comes_back() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let port = dir.path().join("modem0");
        let back = port.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            std::fs::write(back, b"").unwrap_or_else(|e| panic!("{e}"));
        });
        let started = Instant::now();
        pause(&port.to_string_lossy(), Duration::from_secs(60)).await;
        assert!(port.exists());
        assert!(started.elapsed() < Duration::from_secs(30), "cut short");
    }
}
