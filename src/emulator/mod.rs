//! The emulated GSM network, running: modems on pseudo-terminals speaking
//! AT like real hardware, phones with inboxes, and the control API to play
//! the phones, inject faults and read transcripts.
//!
//! - [`dce`]: one modem's AT interpreter and state (pure).
//! - [`network`]: phones, routing, status reports (pure).
//! - [`faults`]: the fault kinds (pure data).
//! - [`codec`]: the emulator's use of the SMS codec.
//! - [`pty`]: pseudo-terminals (the only file that touches descriptors).
//! - [`control`]: the JSON control API (axum, loopback).
//! - [`phones`]: the phone simulator page of `smsgate serve` (`/dev/phones`).
//! - [`smsc`]: the emulated SMSC, an SMPP 3.4 server whose short codes
//!   reach the same phones.
//!
//! This file is the runtime shell: one task per modem port, one lock over
//! the pure state, time from the [`Clock`].

pub mod codec;
pub mod control;
pub mod dce;
pub mod faults;
pub mod model;
pub mod network;
pub mod phones;
pub mod pty;
pub mod replay;
pub mod smsc;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::clock::{Clock, SystemClock};
use dce::storage::Kind;
use dce::{Chunk, Dce, Effect, Identity, Settings, Step};
use faults::Fault;
use network::{InboxMessage, NetEvent, Network, PartOrder, Record, SendRefused};

/// How often held messages are offered again to modems that could not take
/// them (storage full, off the network).
const RETRY_HELD: Duration = Duration::from_millis(100);
/// Transcript entries kept per modem (oldest dropped first).
const TRANSCRIPT_LIMIT: usize = 20_000;

/// How to build the emulated network.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub modems: usize,
    /// Subscriber number of the first modem; the others follow (+1 each).
    pub first_number: u64,
    /// Keep a stable symlink `modemN` per modem in this directory.
    pub link_dir: Option<PathBuf>,
    pub settings: Settings,
    pub fleet_prefixes: Vec<String>,
    pub smsc: String,
    /// Also run the emulated SMSC (SMPP), with these options.
    pub smpp: Option<smsc::SmscOptions>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            modems: 3,
            first_number: 18_095_550_100,
            link_dir: None,
            settings: Settings::default(),
            fleet_prefixes: Vec::new(),
            smsc: "+18095550000".into(),
            smpp: None,
        }
    }
}

/// Errors of the emulator's API.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("no modem with id {0}")]
    NoSuchModem(usize),
    #[error(transparent)]
    Refused(#[from] SendRefused),
    #[error("cannot open a pseudo-terminal: {0}")]
    Pty(#[from] std::io::Error),
    #[error(transparent)]
    Model(#[from] model::ModelError),
    #[error("replay: {0}")]
    Replay(String),
    #[error("USSD script: {0}")]
    Ussd(#[from] dce::ussd::ScriptError),
    #[error("SMSC: {0}")]
    Smsc(String),
    #[error("this emulator runs no SMSC (start it with --smsc)")]
    NoSmsc,
}

/// What the outside world sees of one modem.
#[derive(Debug, Clone, Serialize)]
pub struct ModemInfo {
    pub id: usize,
    pub number: String,
    /// The current pseudo-terminal (changes after an unplug).
    pub path: PathBuf,
    /// The stable link, if a link directory was given.
    pub link: Option<PathBuf>,
    /// The second AT port of a model that has one (Huawei's "modem" port;
    /// `path` is its "PC UI" port, the one that gets unsolicited lines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub second_path: Option<PathBuf>,
    /// Its stable link: `modemN-modem`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub second_link: Option<PathBuf>,
    pub imei: String,
    pub imsi: String,
    /// The SIM's ICCID (19 digits), as `AT+CCID` tells it.
    pub iccid: String,
    pub manufacturer: String,
    pub model: String,
    pub plugged: bool,
}

/// One transcript entry: bytes in one direction.
#[derive(Debug, Clone, Serialize)]
pub struct TranscriptEntry {
    /// Milliseconds since the emulator started.
    pub t_ms: u64,
    /// `to_modem` (written by the client) or `from_modem`.
    pub dir: &'static str,
    /// The bytes, with control characters escaped (`\r`, `\n`, `\x1a`).
    pub data: String,
}

/// A modem's USSD service as the control API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct UssdState {
    pub scripts: Vec<dce::ussd::Script>,
    pub requests: Vec<UssdRequest>,
}

/// One USSD request a modem received.
#[derive(Debug, Clone, Serialize)]
pub struct UssdRequest {
    /// The code, or the menu choice.
    pub code: String,
    /// The code whose menu the choice answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// When it came (RFC 3339).
    pub at: String,
}

/// The state of one modem behind the lock.
struct ModemState {
    dce: Dce,
    held: VecDeque<(Kind, Vec<u8>)>,
    /// Messages on their way through the network (report delay, MO
    /// jitter), due at the instant given.
    in_transit: Vec<(Instant, Kind, Vec<u8>)>,
    transcript: VecDeque<TranscriptEntry>,
    noise_seq: u32,
    last_noise: Option<Instant>,
}

struct State {
    network: Network,
    modems: Vec<ModemState>,
    smsc: Option<smsc::Smsc>,
}

enum PortCommand {
    Unplug(Duration),
}

struct Port {
    writer: mpsc::UnboundedSender<Chunk>,
    /// The second AT port's, for models that have one.
    second: Option<mpsc::UnboundedSender<Chunk>>,
    control: mpsc::UnboundedSender<PortCommand>,
    info: Mutex<ModemInfo>,
}

struct Inner {
    state: Mutex<State>,
    ports: Vec<Port>,
    clock: Arc<dyn Clock>,
    started: Instant,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    smsc: smsc::Links,
}

/// A running emulated network. Cheap to clone; stops when
/// [`Emulator::shutdown`] is called.
#[derive(Clone)]
pub struct Emulator {
    inner: Arc<Inner>,
}

impl Emulator {
    /// Starts the network with the system clock. Needs a tokio runtime.
    pub async fn start(config: EmulatorConfig) -> Result<Emulator, EmulatorError> {
        Self::start_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn start_with_clock(
        config: EmulatorConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Emulator, EmulatorError> {
        let numbers: Vec<String> = (0..config.modems)
            .map(|i| format!("+{}", config.first_number + i as u64))
            .collect();
        let model = model::Model::builtin(&config.settings.model)?;
        let mut network = Network::new(numbers.clone(), config.smsc.clone());
        network.set_fleet_prefixes(config.fleet_prefixes.clone());
        let smsc = config.smpp.as_ref().map(|o| {
            network.set_smsc_codes(o.config.short_codes.clone());
            smsc::Smsc::new(o.config.clone(), o.settings.clone())
        });
        let mut modems = Vec::new();
        let mut ports = Vec::new();
        let mut receivers = Vec::new();
        if let Some(dir) = &config.link_dir {
            std::fs::create_dir_all(dir)?;
        }
        for (i, number) in numbers.iter().enumerate() {
            let mut identity = identity(i, number, &config.smsc);
            if let Some(m) = &model.manufacturer {
                identity.manufacturer = m.clone();
            }
            if let Some(m) = &model.model {
                identity.model = m.clone();
            }
            if let Some(r) = &model.revision {
                identity.revision = r.clone();
            }
            let pty = pty::Pty::open()?;
            let link = config
                .link_dir
                .as_ref()
                .map(|d| d.join(format!("modem{i}")));
            if let Some(link) = &link {
                pty::relink(link, pty.path())?;
            }
            let (wtx, wrx) = mpsc::unbounded_channel();
            let (ctx, crx) = mpsc::unbounded_channel();
            let mut second = None;
            let (mut second_path, mut second_link, mut second_tx) = (None, None, None);
            if model.second_port {
                let pty = pty::Pty::open()?;
                let link = config
                    .link_dir
                    .as_ref()
                    .map(|d| d.join(format!("modem{i}-modem")));
                if let Some(link) = &link {
                    pty::relink(link, pty.path())?;
                }
                let (tx, rx) = mpsc::unbounded_channel();
                second_path = Some(pty.path().to_path_buf());
                second_link = link;
                second_tx = Some(tx);
                second = Some((pty, rx));
            }
            ports.push(Port {
                writer: wtx,
                second: second_tx,
                control: ctx,
                info: Mutex::new(ModemInfo {
                    id: i,
                    number: number.clone(),
                    path: pty.path().to_path_buf(),
                    link,
                    second_path,
                    second_link,
                    imei: identity.imei.clone(),
                    imsi: identity.imsi.clone(),
                    iccid: identity.iccid.clone(),
                    manufacturer: identity.manufacturer.clone(),
                    model: identity.model.clone(),
                    plugged: true,
                }),
            });
            receivers.push((pty, wrx, crx, second));
            modems.push(ModemState {
                dce: Dce::new(identity, config.settings.clone()),
                held: VecDeque::new(),
                in_transit: Vec::new(),
                transcript: VecDeque::new(),
                noise_seq: 0,
                last_noise: None,
            });
        }
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                network,
                modems,
                smsc,
            }),
            ports,
            clock,
            started: Instant::now(),
            tasks: Mutex::new(Vec::new()),
            smsc: smsc::Links::default(),
        });
        let emulator = Emulator { inner };
        let mut tasks = Vec::new();
        for (i, (pty, wrx, crx, second)) in receivers.into_iter().enumerate() {
            let e = emulator.clone();
            tasks.push(tokio::spawn(async move {
                e.run_port(i, pty, wrx, crx, second).await
            }));
        }
        let e = emulator.clone();
        tasks.push(tokio::spawn(async move { e.run_ticker().await }));
        *lock(&emulator.inner.tasks) = tasks;
        if let Some(o) = &config.smpp {
            if let Err(e) = emulator.serve_smsc(o.listen).await {
                emulator.shutdown();
                return Err(e);
            }
        }
        Ok(emulator)
    }

    /// Stops every task and removes the links.
    pub fn shutdown(&self) {
        for t in lock(&self.inner.tasks).drain(..) {
            t.abort();
        }
        for p in &self.inner.ports {
            let info = lock(&p.info);
            for link in info.link.iter().chain(&info.second_link) {
                let _ = std::fs::remove_file(link);
            }
        }
    }

    pub fn modems(&self) -> Vec<ModemInfo> {
        self.inner
            .ports
            .iter()
            .map(|p| lock(&p.info).clone())
            .collect()
    }

    /// Phone `from` sends `text` to short code `to`; returns the number of
    /// PDUs the network carried.
    pub fn phone_send(
        &self,
        from: &str,
        to: &str,
        text: &str,
        order: PartOrder,
    ) -> Result<usize, EmulatorError> {
        let now = self.inner.clock.now_fixed();
        let mut st = lock(&self.inner.state);
        let events = st.network.phone_send(from, to, text, order, now)?;
        let n = events.len();
        self.deliver(&mut st, events);
        Ok(n)
    }

    /// What phone `number` received, reassembled.
    pub fn inbox(&self, number: &str) -> Vec<InboxMessage> {
        lock(&self.inner.state).network.inbox(number)
    }

    pub fn phones(&self) -> Vec<String> {
        lock(&self.inner.state).network.phone_numbers()
    }

    pub fn records(&self) -> Vec<Record> {
        lock(&self.inner.state).network.records().to_vec()
    }

    pub fn add_unknown_number(&self, number: &str) {
        lock(&self.inner.state).network.add_unknown_number(number);
    }

    /// Injects a fault into modem `id`.
    pub fn inject_fault(&self, id: usize, fault: Fault) -> Result<(), EmulatorError> {
        let port = self
            .inner
            .ports
            .get(id)
            .ok_or(EmulatorError::NoSuchModem(id))?;
        if let Fault::Unplug { duration_ms } = fault {
            let _ = port
                .control
                .send(PortCommand::Unplug(Duration::from_millis(duration_ms)));
            return Ok(());
        }
        let mut st = lock(&self.inner.state);
        let step = st.modems[id].dce.set_fault(&fault);
        self.process(&mut st, id, step);
        Ok(())
    }

    pub fn clear_faults(&self, id: usize) -> Result<(), EmulatorError> {
        self.inner
            .ports
            .get(id)
            .ok_or(EmulatorError::NoSuchModem(id))?;
        let mut st = lock(&self.inner.state);
        let step = st.modems[id].dce.clear_faults();
        self.process(&mut st, id, step);
        Ok(())
    }

    pub fn faults(&self, id: usize) -> Result<Vec<Fault>, EmulatorError> {
        let st = lock(&self.inner.state);
        let m = st.modems.get(id).ok_or(EmulatorError::NoSuchModem(id))?;
        Ok(m.dce.faults.list.clone())
    }

    pub fn settings(&self, id: usize) -> Result<Settings, EmulatorError> {
        let st = lock(&self.inner.state);
        let m = st.modems.get(id).ok_or(EmulatorError::NoSuchModem(id))?;
        Ok(m.dce.settings.clone())
    }

    pub fn set_settings(&self, id: usize, settings: Settings) -> Result<(), EmulatorError> {
        model::Model::builtin(&settings.model)?;
        let mut st = lock(&self.inner.state);
        let m = st
            .modems
            .get_mut(id)
            .ok_or(EmulatorError::NoSuchModem(id))?;
        let step = m.dce.apply_settings(settings);
        self.process(&mut st, id, step);
        Ok(())
    }

    /// Storage use of modem `id`: (SM used, SM capacity, ME used, ME capacity,
    /// messages the network holds for it).
    pub fn storage(&self, id: usize) -> Result<(u16, u16, u16, u16, usize), EmulatorError> {
        let st = lock(&self.inner.state);
        let m = st.modems.get(id).ok_or(EmulatorError::NoSuchModem(id))?;
        Ok((
            m.dce.sm.used(),
            m.dce.sm.capacity,
            m.dce.me.used(),
            m.dce.me.capacity,
            m.held.len(),
        ))
    }

    /// Modem `id` answers from the recording at `path` from now on (see
    /// [`replay`]); what it lacks, the emulated modem answers.
    pub fn replay(&self, id: usize, path: &std::path::Path) -> Result<(), EmulatorError> {
        let entries = crate::transcript::read(path).map_err(EmulatorError::Replay)?;
        let script = replay::Script::new(&path.display().to_string(), &entries)
            .map_err(EmulatorError::Replay)?;
        let mut st = lock(&self.inner.state);
        let m = st
            .modems
            .get_mut(id)
            .ok_or(EmulatorError::NoSuchModem(id))?;
        m.dce.start_replay(std::sync::Arc::new(script));
        Ok(())
    }

    /// The replay of modem `id`: what it answered and what the recording
    /// lacked; `None` when it does not replay.
    pub fn replay_status(&self, id: usize) -> Result<Option<replay::ReplayStatus>, EmulatorError> {
        let st = lock(&self.inner.state);
        let m = st.modems.get(id).ok_or(EmulatorError::NoSuchModem(id))?;
        Ok(m.dce.replay.as_ref().map(replay::Replay::status))
    }

    /// Modem `id`'s USSD scripts and the requests it received.
    pub fn ussd(&self, id: usize) -> Result<UssdState, EmulatorError> {
        let st = lock(&self.inner.state);
        let m = st.modems.get(id).ok_or(EmulatorError::NoSuchModem(id))?;
        let now = self.inner.clock.now_fixed();
        let elapsed = self.inner.started.elapsed();
        let requests = m
            .dce
            .ussd
            .log()
            .iter()
            .map(|r| {
                let ago =
                    chrono::Duration::from_std(elapsed.saturating_sub(r.at)).unwrap_or_default();
                UssdRequest {
                    code: r.code.clone(),
                    session: r.session.clone(),
                    at: (now - ago).to_rfc3339(),
                }
            })
            .collect();
        Ok(UssdState {
            scripts: m.dce.ussd.scripts().to_vec(),
            requests,
        })
    }

    /// Sets (or replaces) the USSD script of one code on modem `id`.
    pub fn set_ussd(&self, id: usize, script: dce::ussd::Script) -> Result<(), EmulatorError> {
        let mut st = lock(&self.inner.state);
        let m = st
            .modems
            .get_mut(id)
            .ok_or(EmulatorError::NoSuchModem(id))?;
        Ok(m.dce.ussd.set(script)?)
    }

    /// Modem `id`'s USSD service back to the default scripts, its log empty.
    pub fn reset_ussd(&self, id: usize) -> Result<(), EmulatorError> {
        let mut st = lock(&self.inner.state);
        let m = st
            .modems
            .get_mut(id)
            .ok_or(EmulatorError::NoSuchModem(id))?;
        m.dce.ussd.reset();
        Ok(())
    }

    pub fn transcript(&self, id: usize) -> Result<Vec<TranscriptEntry>, EmulatorError> {
        let st = lock(&self.inner.state);
        let m = st.modems.get(id).ok_or(EmulatorError::NoSuchModem(id))?;
        Ok(m.transcript.iter().cloned().collect())
    }

    /// Serves the control API on `addr` (loopback); returns the bound address.
    pub async fn serve_control(&self, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        let app = control::router(self.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        lock(&self.inner.tasks).push(task);
        Ok(bound)
    }

    // ---- runtime internals ------------------------------------------------

    fn transcript_push(&self, st: &mut State, id: usize, dir: &'static str, bytes: &[u8]) {
        let t = &mut st.modems[id].transcript;
        if t.len() >= TRANSCRIPT_LIMIT {
            t.pop_front();
        }
        t.push_back(TranscriptEntry {
            t_ms: self.inner.started.elapsed().as_millis() as u64,
            dir,
            data: crate::transcript::escape(bytes),
        });
    }

    /// Sends a step's output to the first port and carries out its effects.
    fn process(&self, st: &mut State, id: usize, step: Step) {
        self.process_on(st, id, 0, step);
    }

    /// Sends a step's output to `port` (0: the first, 1: the second) and
    /// what it has for the other port there, and carries out its effects.
    fn process_on(&self, st: &mut State, id: usize, port: usize, step: Step) {
        let p = &self.inner.ports[id];
        let (mine, other) = if port == 1 {
            (p.second.as_ref(), Some(&p.writer))
        } else {
            (Some(&p.writer), p.second.as_ref())
        };
        for chunk in step.out {
            if let Some(w) = mine {
                let _ = w.send(chunk);
            }
        }
        for chunk in step.other {
            if let Some(w) = other {
                let _ = w.send(chunk);
            }
        }
        for effect in step.effects {
            match effect {
                Effect::Submit { tpdu, mr } => {
                    let now = self.inner.clock.now_fixed();
                    let events = st.network.submit(id, &tpdu, mr, now);
                    self.deliver(st, events);
                }
                Effect::StorageFreed => self.retry_held(st, id),
            }
        }
    }

    fn deliver(&self, st: &mut State, events: Vec<NetEvent>) {
        use rand::Rng;
        let now = Instant::now();
        for event in events {
            let (modem, kind, pdu) = match event {
                NetEvent::ToModem { modem, kind, pdu } => (modem, kind, pdu),
                NetEvent::ToSmsc {
                    from,
                    to,
                    text,
                    order,
                } => {
                    let at = self.inner.clock.now_fixed();
                    if let Some(smsc) = st.smsc.as_mut() {
                        let outs = smsc.mo(&from, &to, &text, order, at);
                        self.apply_smsc(outs);
                    }
                    continue;
                }
            };
            if modem >= st.modems.len() {
                continue;
            }
            let s = &st.modems[modem].dce.settings;
            let delay_ms = match kind {
                Kind::StatusReport => s.report_delay_ms,
                Kind::Deliver if s.mo_jitter_ms > 0 => {
                    rand::thread_rng().gen_range(0..=s.mo_jitter_ms)
                }
                Kind::Deliver => 0,
            };
            if delay_ms > 0 {
                let due = now + Duration::from_millis(delay_ms);
                st.modems[modem].in_transit.push((due, kind, pdu));
                continue;
            }
            st.modems[modem].held.push_back((kind, pdu));
            self.retry_held(st, modem);
        }
    }

    /// Messages whose time in the network is over reach their modem.
    fn arrive_due(&self, st: &mut State, id: usize) {
        let now = Instant::now();
        let m = &mut st.modems[id];
        if m.in_transit.is_empty() {
            return;
        }
        m.in_transit.sort_by_key(|(due, _, _)| *due);
        let n = m
            .in_transit
            .iter()
            .take_while(|(due, _, _)| *due <= now)
            .count();
        for (_, kind, pdu) in m.in_transit.drain(..n) {
            m.held.push_back((kind, pdu));
        }
        if n > 0 {
            self.retry_held(st, id);
        }
    }

    /// Offers held messages to modem `id`, in order, until it refuses one.
    fn retry_held(&self, st: &mut State, id: usize) {
        while let Some((kind, pdu)) = st.modems[id].held.front().cloned() {
            match st.modems[id].dce.arrive(kind, &pdu) {
                Ok(step) => {
                    st.modems[id].held.pop_front();
                    self.process(st, id, step);
                }
                Err(_) => break,
            }
        }
    }

    async fn run_port(
        &self,
        id: usize,
        mut pty: pty::Pty,
        mut writes: mpsc::UnboundedReceiver<Chunk>,
        mut commands: mpsc::UnboundedReceiver<PortCommand>,
        second: Option<(pty::Pty, mpsc::UnboundedReceiver<Chunk>)>,
    ) {
        let mut buf = [0u8; 1024];
        let mut buf2 = [0u8; 1024];
        let (mut second_pty, mut second_writes) = match second {
            Some((p, w)) => (Some(p), Some(w)),
            None => (None, None),
        };
        // When the host-to-modem direction of the line is next free: bytes
        // the host writes take 10 bits each at the paced baud rate to arrive.
        let mut line_free = Instant::now();
        // When the modem-to-host direction is next free.
        let mut out_free = Instant::now();
        let timer = match crate::timer::FineTimer::new() {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(modem = id, error = %e, "emulator: no timer for the line pacing");
                return;
            }
        };
        loop {
            tokio::select! {
                biased;
                cmd = commands.recv() => match cmd {
                    Some(PortCommand::Unplug(d)) => {
                        pty = match self.unplug(id, pty, d, &mut writes, &mut second_pty, &mut second_writes).await {
                            Some(p) => p,
                            None => return,
                        };
                    }
                    None => return,
                },
                chunk = writes.recv() => {
                    let Some(chunk) = chunk else { return };
                    if !chunk.delay.is_zero() {
                        // A modem may be unplugged while its answer is
                        // still on its way (a slow network): the answer is
                        // lost with the port.
                        tokio::select! {
                            () = tokio::time::sleep(chunk.delay) => {}
                            cmd = commands.recv() => match cmd {
                                Some(PortCommand::Unplug(d)) => {
                                    pty = match self.unplug(id, pty, d, &mut writes, &mut second_pty, &mut second_writes).await {
                                        Some(p) => p,
                                        None => return,
                                    };
                                    continue;
                                }
                                None => return,
                            },
                        }
                    }
                    let baud = lock(&self.inner.state).modems[id].dce.settings.baud;
                    if let Err(e) = write_paced(&pty, &chunk.bytes, baud, &mut out_free, &timer).await {
                        tracing::warn!(modem = id, error = %e, "emulator: write failed");
                    }
                    let mut st = lock(&self.inner.state);
                    self.transcript_push(&mut st, id, "from_modem", &chunk.bytes);
                }
                n = pty.read(&mut buf) => match n {
                    Ok(0) => tokio::time::sleep(Duration::from_millis(5)).await,
                    Ok(n) => {
                        let baud = lock(&self.inner.state).modems[id].dce.settings.baud;
                        if let Some(due) = arrival(&mut line_free, n, baud, Instant::now()) {
                            let _ = timer.sleep_until(due).await;
                        }
                        let mut st = lock(&self.inner.state);
                        self.transcript_push(&mut st, id, "to_modem", &buf[..n]);
                        let unseen = st.modems[id].dce.replay.as_ref().map_or(0, |r| r.unseen.len());
                        let step = st.modems[id].dce.input(&buf[..n]);
                        // A command the recording never saw is noted in
                        // the transcript too.
                        let new: Vec<String> = st.modems[id]
                            .dce
                            .replay
                            .as_ref()
                            .map(|r| r.unseen[unseen..].to_vec())
                            .unwrap_or_default();
                        for cmd in new {
                            self.transcript_push(&mut st, id, "unseen", cmd.as_bytes());
                        }
                        self.process(&mut st, id, step);
                    }
                    Err(e) => {
                        tracing::warn!(modem = id, error = %e, "emulator: read failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                // The second AT port (models with one): unpaced.
                chunk = next_chunk(&mut second_writes) => {
                    let Some(chunk) = chunk else { return };
                    tokio::time::sleep(chunk.delay).await;
                    if let Some(p) = &second_pty {
                        if let Err(e) = p.write_all(&chunk.bytes).await {
                            tracing::warn!(modem = id, error = %e, "emulator: write to the second port failed");
                        }
                    }
                    let mut st = lock(&self.inner.state);
                    self.transcript_push(&mut st, id, "from_modem_2", &chunk.bytes);
                }
                n = read_from(&second_pty, &mut buf2) => match n {
                    Ok(0) => tokio::time::sleep(Duration::from_millis(5)).await,
                    Ok(n) => {
                        let mut st = lock(&self.inner.state);
                        self.transcript_push(&mut st, id, "to_modem_2", &buf2[..n]);
                        let step = st.modems[id].dce.input_on(1, &buf2[..n]);
                        self.process_on(&mut st, id, 1, step);
                    }
                    Err(e) => {
                        tracing::warn!(modem = id, error = %e, "emulator: read from the second port failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            }
        }
    }

    /// The port disappears for `duration`, then a new one appears (same link).
    async fn unplug(
        &self,
        id: usize,
        pty: pty::Pty,
        duration: Duration,
        writes: &mut mpsc::UnboundedReceiver<Chunk>,
        second: &mut Option<pty::Pty>,
        second_writes: &mut Option<mpsc::UnboundedReceiver<Chunk>>,
    ) -> Option<pty::Pty> {
        let (link, second_link) = {
            let mut info = lock(&self.inner.ports[id].info);
            info.plugged = false;
            (info.link.clone(), info.second_link.clone())
        };
        drop(pty);
        let had_second = second.take().is_some();
        for link in link.iter().chain(&second_link) {
            let _ = std::fs::remove_file(link);
        }
        tokio::time::sleep(duration).await;
        // What was queued for the old ports is lost with them.
        while writes.try_recv().is_ok() {}
        if let Some(w) = second_writes {
            while w.try_recv().is_ok() {}
        }
        if had_second {
            match pty::Pty::open() {
                Ok(p) => {
                    if let Some(link) = &second_link {
                        if let Err(e) = pty::relink(link, p.path()) {
                            tracing::error!(modem = id, error = %e, "emulator: cannot relink the second port");
                        }
                    }
                    lock(&self.inner.ports[id].info).second_path = Some(p.path().to_path_buf());
                    *second = Some(p);
                }
                Err(e) => {
                    tracing::error!(modem = id, error = %e, "emulator: cannot replug the second port")
                }
            }
        }
        let pty = match pty::Pty::open() {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(modem = id, error = %e, "emulator: cannot replug");
                return None;
            }
        };
        if let Some(link) = &link {
            if let Err(e) = pty::relink(link, pty.path()) {
                tracing::error!(modem = id, error = %e, "emulator: cannot relink");
            }
        }
        {
            let mut info = lock(&self.inner.ports[id].info);
            info.path = pty.path().to_path_buf();
            info.plugged = true;
        }
        // A replugged modem has rebooted.
        let mut st = lock(&self.inner.state);
        let step = st.modems[id].dce.reboot();
        self.process(&mut st, id, step);
        Some(pty)
    }

    async fn run_ticker(&self) {
        let mut tick = tokio::time::interval(RETRY_HELD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let mut st = lock(&self.inner.state);
            let now = self.inner.started.elapsed();
            for id in 0..st.modems.len() {
                self.arrive_due(&mut st, id);
                self.retry_held(&mut st, id);
                if lock(&self.inner.ports[id].info).plugged {
                    let step = st.modems[id].dce.tick(now);
                    self.process(&mut st, id, step);
                }
                let m = &mut st.modems[id];
                if let Some(ms) = m.dce.faults.noise_interval_ms() {
                    let due = m
                        .last_noise
                        .is_none_or(|t| t.elapsed() >= Duration::from_millis(ms));
                    if due {
                        m.last_noise = Some(Instant::now());
                        m.noise_seq = m.noise_seq.wrapping_add(1);
                        let seq = m.noise_seq;
                        let step = m.dce.noise(seq);
                        self.process(&mut st, id, step);
                    }
                }
            }
        }
    }
}

/// The next chunk for a port that may not exist (never, if it does not).
async fn next_chunk(writes: &mut Option<mpsc::UnboundedReceiver<Chunk>>) -> Option<Chunk> {
    match writes {
        Some(w) => w.recv().await,
        None => std::future::pending().await,
    }
}

/// Reads from a port that may not exist (never returns, if it does not).
async fn read_from(pty: &Option<pty::Pty>, buf: &mut [u8]) -> std::io::Result<usize> {
    match pty {
        Some(p) => p.read(buf).await,
        None => std::future::pending().await,
    }
}

/// When `n` bytes the host wrote at `now` have crossed a line at `baud`
/// (10 bits a byte) that is busy until `line_free`; `None` when there is no
/// pacing or they are (within 20 µs, below what a wake-up costs) already
/// there. The line's time is accounted in `line_free` either way, so short
/// waits skipped now are owed by the next one.
fn arrival(line_free: &mut Instant, n: usize, baud: u32, now: Instant) -> Option<Instant> {
    if baud == 0 {
        return None;
    }
    let start = (*line_free).max(now);
    *line_free = start + Duration::from_secs_f64(n as f64 * 10.0 / baud as f64);
    (*line_free > now + Duration::from_micros(20)).then_some(*line_free)
}

/// Writes `bytes` as a serial line at `baud` would (10 bits a byte; 0 means
/// no pacing): each slice of about 2 ms reaches the host when it has crossed
/// the modem-to-host direction of the line, busy until `line_free`.
async fn write_paced(
    pty: &pty::Pty,
    bytes: &[u8],
    baud: u32,
    line_free: &mut Instant,
    timer: &crate::timer::FineTimer,
) -> std::io::Result<()> {
    if baud == 0 {
        return pty.write_all(bytes).await;
    }
    let per_slice = ((baud as usize / 10) / 500).max(1);
    for slice in bytes.chunks(per_slice) {
        if let Some(due) = arrival(line_free, slice.len(), baud, Instant::now()) {
            timer.sleep_until(due).await?;
        }
        pty.write_all(slice).await?;
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take the whole network down with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Identity of modem `i`: a valid IMEI (Luhn), a Dominican IMSI (MCC 370,
/// MNC 02: Claro, the operator it names) and ICCID (19 digits: 89 for
/// telecom, 1 for the Dominican Republic's +1, then issuer and SIM number).
fn identity(i: usize, number: &str, smsc: &str) -> Identity {
    let body = format!("35693803{:06}", 564_000 + i);
    Identity {
        manufacturer: "smsgate".into(),
        model: "Emulated GSM modem".into(),
        revision: format!("smsgate-emulator {}", env!("CARGO_PKG_VERSION")),
        imei: format!("{body}{}", luhn(&body)),
        imsi: format!("37002{:010}", 1_000 + i),
        iccid: format!("891802{:013}", 1_000 + i),
        number: number.to_string(),
        smsc: smsc.to_string(),
        operator: "Claro DO".into(),
    }
}

fn luhn(digits: &str) -> u32 {
    let sum: u32 = digits
        .chars()
        .rev()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    (10 - sum % 10) % 10
}

#[cfg(test)]
mod pacing_tests {
    use super::arrival;
    use std::time::{Duration, Instant};

    #[test]
    fn input_takes_the_line_time_and_short_waits_are_owed() {
        let t0 = Instant::now();
        let mut free = t0;
        // No pacing: never waits, the line is not accounted.
        assert_eq!(arrival(&mut free, 1000, 0, t0), None);
        // 1 152 bytes at 115 200 baud: 100 ms.
        let due = arrival(&mut free, 1152, 115_200, t0).unwrap();
        assert_eq!(due - t0, Duration::from_millis(100));
        // Bytes written while the line is busy queue behind it.
        let due = arrival(&mut free, 1152, 115_200, t0 + Duration::from_millis(10)).unwrap();
        assert_eq!(due - t0, Duration::from_millis(200));
        // One byte at 921 600 baud on an idle line is due in 11 µs: no
        // sleep now...
        let later = t0 + Duration::from_secs(1);
        assert_eq!(arrival(&mut free, 1, 921_600, later), None);
        // ...but its time is owed by the next write.
        let due = arrival(&mut free, 1152, 921_600, later).unwrap();
        let owed = Duration::from_secs_f64(1153.0 * 10.0 / 921_600.0);
        assert!((due - later).abs_diff(owed) < Duration::from_micros(1));
    }
}
