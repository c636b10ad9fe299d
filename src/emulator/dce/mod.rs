//! The emulated modem's DCE: an AT command interpreter with the state of a
//! real GSM modem (echo, error mode, SIM PIN, registration, SMS settings and
//! storage), driven by bytes from the DTE.
//!
//! Pure: bytes in, [`Step`] out (bytes to write, each after a delay, and
//! effects for the network). No port, no clock, no network: the transport
//! (`emulator::pty`) applies delays and pacing, the network
//! (`emulator::network`) routes what is sent.

mod cusd;
pub mod line;
mod sim;
mod sms;
pub mod storage;
pub mod ussd;

use std::time::Duration;

use serde::Serialize;

use self::line::{Cmd, Form};
use self::storage::Memory;
use super::faults::{ActiveFaults, Fault};
use super::model::Model;

const CTRL_Z: u8 = 0x1a;
const ESC: u8 = 0x1b;
/// Longest command line accepted before the modem discards it (real modems
/// accept a few hundred characters).
const MAX_LINE: usize = 1024;
/// Longest `AT+CMGS` body: a 176-octet PDU in hex, with room for spaces.
const MAX_PROMPT_BODY: usize = 1024;

/// Who the emulated modem says it is.
#[derive(Debug, Clone, Serialize)]
pub struct Identity {
    pub manufacturer: String,
    pub model: String,
    pub revision: String,
    pub imei: String,
    pub imsi: String,
    pub iccid: String,
    /// The subscriber number (the short code phones see).
    pub number: String,
    pub smsc: String,
    pub operator: String,
}

/// Knobs of one modem that the control API can change at run time.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Delay before each final result.
    pub latency_ms: u64,
    /// Delay before the `+CMGS` result (a real radio takes 1–5 s).
    pub cmgs_latency_ms: u64,
    /// Serial pacing: bytes on the wire take 10 bits each at this rate;
    /// 0 means no pacing.
    pub baud: u32,
    /// Capacity of the SIM storage (`SM`).
    pub sm_capacity: u16,
    /// Capacity of the phone storage (`ME`).
    pub me_capacity: u16,
    /// `+CSQ` rssi (0–31, 99 unknown).
    pub rssi: u8,
    /// SIM PIN the modem asks for at start and after a reboot.
    pub pin: Option<String>,
    /// The modem model (`firmware-config/models/`): whose documented
    /// behaviour it has.
    pub model: String,
    /// The model's heartbeat period, compressed for tests (0: the model's).
    pub heartbeat_ms: u64,
    /// Delivery reports reach this modem this long after the phone got
    /// the message (a real network takes seconds).
    pub report_delay_ms: u64,
    /// Each SMS part a phone sends reaches the modem after a random delay
    /// of up to this long (parts may overtake each other).
    pub mo_jitter_ms: u64,
    /// The network's USSD answer comes this long after `AT+CUSD` (a real
    /// one takes a second or more).
    pub ussd_delay_ms: u64,
    /// A USSD menu left unanswered this long is ended by the network
    /// (`+CUSD: 2`).
    pub ussd_timeout_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            latency_ms: 0,
            cmgs_latency_ms: 0,
            baud: 0,
            sm_capacity: 30,
            me_capacity: 100,
            rssi: 20,
            pin: None,
            model: "generic".into(),
            heartbeat_ms: 0,
            report_delay_ms: 0,
            mo_jitter_ms: 0,
            ussd_delay_ms: 200,
            ussd_timeout_ms: 60_000,
        }
    }
}

/// Bytes to write after `delay` (counted from the previous chunk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub delay: Duration,
    pub bytes: Vec<u8>,
}

/// What the DCE asks of the world beyond its port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// The DTE sent an SMS-SUBMIT (TPDU without SMSC field) that the modem
    /// accepted with message reference `mr`.
    Submit { tpdu: Vec<u8>, mr: u8 },
    /// Storage space was freed: messages the network holds back may come.
    StorageFreed,
}

/// The outcome of feeding bytes or an event to the DCE.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Step {
    /// For the port the input came from (the first port for events).
    pub out: Vec<Chunk>,
    /// For the modem's other port, if it has one: unsolicited lines go to
    /// the port `AT^PORTSEL` chose.
    pub other: Vec<Chunk>,
    pub effects: Vec<Effect>,
}

impl Step {
    fn write(&mut self, delay: Duration, bytes: impl Into<Vec<u8>>) {
        let bytes = bytes.into();
        if !bytes.is_empty() || !delay.is_zero() {
            self.out.push(Chunk { delay, bytes });
        }
    }
}

/// `+CNMI` settings (TS 27.005 §3.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Cnmi {
    pub mode: u8,
    pub mt: u8,
    pub bm: u8,
    pub ds: u8,
    pub bfr: u8,
}

/// Registration status (`<stat>` of `+CREG`, TS 27.007 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RegStat {
    NotSearching = 0,
    Home = 1,
    Searching = 2,
    Denied = 3,
}

/// An outcome of one command.
enum Outcome {
    /// Information lines, then `OK`.
    Ok(Vec<String>),
    /// `+CME ERROR: n` (or `ERROR` with `+CMEE=0`).
    Cme(u16),
    /// `+CMS ERROR: n` (or `ERROR` with `+CMEE=0`).
    Cms(u16),
    /// Plain `ERROR`: unknown command or bad syntax.
    Error,
    /// A final result as the model words it (`COMMAND NOT SUPPORT`...).
    Final(String),
    /// `> ` was written; the body follows.
    Prompt,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    Command,
    /// After `AT+CMGS`: collecting the body up to Ctrl-Z.
    Prompt(PromptFor),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PromptFor {
    /// PDU mode, with the announced TPDU length.
    Pdu(usize),
    /// Text mode, to this destination.
    Text(String),
}

/// A boot sequence being played: when it started (stamped at the first
/// tick after the restart) and the next line to write.
#[derive(Debug, Clone)]
struct BootRun {
    started: Option<Duration>,
    next: usize,
}

/// What belongs to one AT port of a modem with two: its command line,
/// echo, result format and open prompt. (Message format and character set
/// are the modem's, shared by both ports.)
#[derive(Debug, Clone)]
struct PortLocal {
    echo: bool,
    verbose: bool,
    quiet: bool,
    cmee: u8,
    line: Vec<u8>,
    last_line: Vec<u8>,
    mode: Mode,
    body: Vec<u8>,
    held_urcs: Vec<Vec<u8>>,
}

impl PortLocal {
    fn fresh() -> PortLocal {
        PortLocal {
            echo: true,
            verbose: true,
            quiet: false,
            cmee: 0,
            line: Vec::new(),
            last_line: Vec::new(),
            mode: Mode::Command,
            body: Vec::new(),
            held_urcs: Vec::new(),
        }
    }
}

/// One emulated modem's command interpreter and state.
#[derive(Debug)]
pub struct Dce {
    pub identity: Identity,
    pub settings: Settings,
    pub faults: ActiveFaults,
    echo: bool,
    verbose: bool,
    quiet: bool,
    cmee: u8,
    cmgf: u8,
    cscs: String,
    csmp: [u8; 4],
    creg_n: u8,
    cgreg_n: u8,
    cfun: u8,
    pin_ok: bool,
    reg: RegStat,
    cnmi: Cnmi,
    /// `+CPMS` memories: read/delete, write/send, receive.
    mems: [&'static str; 3],
    pub sm: Memory,
    pub me: Memory,
    /// Status-report memory, for models that keep reports apart.
    pub sr: Memory,
    model: Model,
    /// The boot sequence in progress, if any.
    boot: Option<BootRun>,
    /// SMS commands work (the boot got far enough).
    sms_up: bool,
    /// The heartbeat runs (until the model's stopping command).
    heartbeat_on: bool,
    heartbeat_seq: usize,
    heartbeat_last: Option<Duration>,
    next_mr: u8,
    line: Vec<u8>,
    last_line: Vec<u8>,
    mode: Mode,
    body: Vec<u8>,
    /// URCs held while the link is reserved (a prompt is open).
    held_urcs: Vec<Vec<u8>>,
    garbage_seq: u32,
    /// The second port's own state while the first port's is in the
    /// fields above (models with `second_port`).
    aux: Option<PortLocal>,
    /// The port whose state is in the fields above: 0, or 1 while the
    /// second port's input runs.
    active: usize,
    /// The port unsolicited lines go to (`AT^PORTSEL`, Huawei: 0 the PC UI
    /// port, 1 the modem port).
    urc_port: usize,
    /// Restarts so far (a restart asked on one port resets both).
    restarts: u64,
    /// A recording this modem answers from (`smsgate emulator --replay`).
    pub replay: Option<super::replay::Replay>,
    /// The emulator's time at the last tick (for the replay's schedule).
    now: Duration,
    /// The network's USSD service for this modem.
    pub ussd: ussd::Ussd,
    /// `+CUSD` `<n>`: 1 presents the network's answers.
    cusd_n: u8,
    /// USSD answers on their way, due at the time given.
    ussd_due: Vec<(Duration, ussd::Answer)>,
}

impl Dce {
    /// A modem of the model its settings name (the generic one when the
    /// name is unknown: the emulator checks names before they get here).
    pub fn new(identity: Identity, settings: Settings) -> Self {
        let model = Model::builtin(&settings.model).unwrap_or_else(|_| Model::generic());
        let sm = Memory::new("SM", settings.sm_capacity, 0);
        let me = Memory::new("ME", settings.me_capacity, 0);
        let sr = Memory::new("SR", 20, 0);
        let powering_on =
            model.boot.at_power_on && !model.boot.lines.is_empty() || model.boot.sms_ready_ms > 0;
        let mut dce = Dce {
            identity,
            faults: ActiveFaults::default(),
            echo: true,
            verbose: true,
            quiet: false,
            cmee: 0,
            cmgf: 0,
            cscs: "IRA".into(),
            csmp: [17, 167, 0, 0],
            creg_n: 0,
            cgreg_n: 0,
            cfun: 1,
            pin_ok: settings.pin.is_none(),
            reg: RegStat::Home,
            cnmi: Cnmi {
                mode: 0,
                mt: 0,
                bm: 0,
                ds: 0,
                bfr: 0,
            },
            mems: ["SM", "SM", "SM"],
            sm,
            me,
            sr,
            sms_up: !(powering_on && model.boot.sms_ready_ms > 0),
            boot: powering_on.then_some(BootRun {
                started: None,
                next: 0,
            }),
            heartbeat_on: true,
            heartbeat_seq: 0,
            heartbeat_last: None,
            model,
            next_mr: 0,
            line: Vec::new(),
            last_line: Vec::new(),
            mode: Mode::Command,
            body: Vec::new(),
            held_urcs: Vec::new(),
            garbage_seq: 0,
            aux: None,
            active: 0,
            urc_port: 0,
            restarts: 0,
            replay: None,
            now: Duration::ZERO,
            ussd: ussd::Ussd::default(),
            cusd_n: 1,
            ussd_due: Vec::new(),
            settings,
        };
        if dce.model.second_port {
            dce.aux = Some(PortLocal::fresh());
        }
        dce.reset_settings();
        dce
    }

    /// Settings a reboot or `ATZ` brings back (storage survives).
    fn reset_settings(&mut self) {
        self.echo = true;
        self.verbose = true;
        self.quiet = false;
        self.cmee = 0;
        self.cmgf = 0;
        self.cscs = "IRA".into();
        self.csmp = [17, 167, 0, 0];
        self.creg_n = 0;
        self.cgreg_n = 0;
        self.cnmi = Cnmi {
            mode: 0,
            mt: 0,
            bm: 0,
            ds: 0,
            bfr: 0,
        };
        self.mems = ["SM", "SM", "SM"];
        // The emulated modem presents USSD answers from the start (the
        // contract its driver is built against), though TS 27.007 §7.15
        // makes 0 the default.
        self.cusd_n = 1;
        self.mode = Mode::Command;
        self.line.clear();
        self.body.clear();
    }

    /// Current `+CNMI` settings.
    pub fn cnmi(&self) -> Cnmi {
        self.cnmi
    }

    /// `true` while the modem is registered (it can send).
    pub fn registered(&self) -> bool {
        self.reg == RegStat::Home && self.cfun == 1
    }

    /// The model this modem follows.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Applies changed settings (capacities and the model take effect at
    /// once; a new model's boot sequence is not played).
    pub fn apply_settings(&mut self, settings: Settings) -> Step {
        if settings.model != self.model.name {
            self.model = Model::builtin(&settings.model).unwrap_or_else(|_| Model::generic());
            self.heartbeat_on = true;
            // A second port exists only if the modem was started with a
            // model that has one (the emulator opens ports at start).
            if !self.model.second_port {
                self.aux = None;
                self.urc_port = 0;
            }
        }
        self.sm.capacity = settings.sm_capacity;
        self.me.capacity = settings.me_capacity;
        let freed = !self.sm.is_full() || !self.me.is_full();
        self.settings = settings;
        let mut step = Step::default();
        if freed {
            step.effects.push(Effect::StorageFreed);
        }
        step
    }

    /// Whether the model has a second AT port.
    pub fn has_second_port(&self) -> bool {
        self.model.second_port
    }

    /// Exchanges the port-local fields with `other`.
    fn swap_port(&mut self, other: &mut PortLocal) {
        use std::mem::swap;
        swap(&mut self.echo, &mut other.echo);
        swap(&mut self.verbose, &mut other.verbose);
        swap(&mut self.quiet, &mut other.quiet);
        swap(&mut self.cmee, &mut other.cmee);
        swap(&mut self.line, &mut other.line);
        swap(&mut self.last_line, &mut other.last_line);
        swap(&mut self.mode, &mut other.mode);
        swap(&mut self.body, &mut other.body);
        swap(&mut self.held_urcs, &mut other.held_urcs);
    }

    /// Bytes from the DTE on `port` (0: the first port; 1: the second,
    /// for models that have one). The step's `out` is for that port.
    pub fn input_on(&mut self, port: usize, bytes: &[u8]) -> Step {
        let Some(mut aux) = self.aux.take().filter(|_| port == 1) else {
            return self.input(bytes);
        };
        let restarts = self.restarts;
        self.swap_port(&mut aux);
        self.active = 1;
        let step = self.input(bytes);
        self.swap_port(&mut aux);
        self.active = 0;
        if self.restarts != restarts {
            // A restart asked on the second port resets the first too.
            let mut first = PortLocal::fresh();
            self.swap_port(&mut first);
            aux = PortLocal::fresh();
        }
        self.aux = Some(aux);
        step
    }

    /// Bytes from the DTE.
    pub fn input(&mut self, bytes: &[u8]) -> Step {
        let mut step = Step::default();
        if self.faults.no_answer() {
            return step;
        }
        for &b in bytes {
            match self.mode.clone() {
                Mode::Command => self.command_byte(b, &mut step),
                Mode::Prompt(target) => self.prompt_byte(b, target, &mut step),
            }
        }
        step
    }

    fn command_byte(&mut self, b: u8, step: &mut Step) {
        // A replay's answers carry the recorded modem's echo.
        if self.echo && self.replay.is_none() {
            step.write(Duration::ZERO, [b]);
        }
        match b {
            b'\r' => {
                let line = std::mem::take(&mut self.line);
                self.command_line(&line, step);
            }
            b'\n' => {}
            0x08 => {
                self.line.pop();
            }
            _ if self.line.len() >= MAX_LINE => self.line.clear(),
            _ => {
                self.line.push(b);
                // `A/` repeats the last command line without a CR (V.250 §5.2.4).
                if self.line.eq_ignore_ascii_case(b"A/") {
                    self.line.clear();
                    let last = self.last_line.clone();
                    self.command_line(&last, step);
                }
            }
        }
    }

    fn prompt_byte(&mut self, b: u8, target: PromptFor, step: &mut Step) {
        match b {
            CTRL_Z => {
                if self.echo && self.replay.is_none() {
                    step.write(Duration::ZERO, [b]);
                }
                let body = std::mem::take(&mut self.body);
                self.mode = Mode::Command;
                let now = self.now;
                if let Some(answer) = self.replay.as_mut().and_then(|r| r.answer_pdu(now)) {
                    // The message goes into the emulated network (the
                    // phone gets it); the modem answers as recorded.
                    let mut scratch = Step::default();
                    let outcome = self.finish_cmgs(target, &body, &mut scratch);
                    self.final_result(outcome, Duration::ZERO, &mut scratch);
                    step.effects.append(&mut scratch.effects);
                    for (d, bytes) in answer {
                        step.write(d, bytes);
                    }
                    return;
                }
                let outcome = self.finish_cmgs(target, &body, step);
                let delay =
                    Duration::from_millis(self.settings.latency_ms + self.settings.cmgs_latency_ms);
                self.final_result(outcome, delay, step);
                self.release_urcs(step);
            }
            ESC => {
                // ESC cancels the message (TS 27.005 §3.5.1).
                self.body.clear();
                self.mode = Mode::Command;
                self.final_result(Outcome::Ok(vec![]), Duration::ZERO, step);
                self.release_urcs(step);
            }
            _ => {
                if self.echo {
                    step.write(Duration::ZERO, [b]);
                }
                if self.body.len() < MAX_PROMPT_BODY {
                    self.body.push(b);
                } else {
                    self.body.clear();
                    self.mode = Mode::Command;
                    self.final_result(Outcome::Cms(304), Duration::ZERO, step);
                    self.release_urcs(step);
                }
            }
        }
    }

    fn command_line(&mut self, raw: &[u8], step: &mut Step) {
        if self.replay.is_some() && raw.to_ascii_uppercase().windows(2).any(|w| w == b"AT") {
            let now = self.now;
            if let Some(answer) = self.replay.as_mut().and_then(|r| r.answer(raw, now)) {
                // The emulated modem runs the command too, so that its
                // state (echo, prompt, storage, the network) follows;
                // what the host reads is the recording's.
                let mut scratch = Step::default();
                self.execute_line(raw, &mut scratch);
                step.effects.append(&mut scratch.effects);
                for (d, bytes) in answer {
                    step.write(d, bytes);
                }
                return;
            }
        }
        self.execute_line(raw, step);
    }

    fn execute_line(&mut self, raw: &[u8], step: &mut Step) {
        let text = String::from_utf8_lossy(raw);
        // Anything before `AT` (a stray Ctrl-Z, noise) is ignored, as modems do.
        let Some(at) = text.to_ascii_uppercase().find("AT") else {
            return;
        };
        self.last_line = raw.to_vec();
        let body = &text[at + 2..];
        let cmds = match line::split(body) {
            Some(c) => c,
            None => {
                self.final_result(Outcome::Error, self.latency(), step);
                return;
            }
        };
        let mut info: Vec<String> = Vec::new();
        for cmd in cmds {
            let typed = cmd.typed();
            if let Some(answer) = self.model.refusal(&typed) {
                let answer = answer.to_string();
                self.write_info(&info, step);
                self.final_result(Outcome::Final(answer), self.latency(), step);
                return;
            }
            if self.model.heartbeat.as_ref().is_some_and(|h| {
                h.stopped_by
                    .as_deref()
                    .is_some_and(|c| c.eq_ignore_ascii_case(&typed))
            }) {
                self.heartbeat_on = false;
            }
            match self.execute(&cmd, step) {
                Outcome::Ok(lines) => info.extend(lines),
                Outcome::Prompt => {
                    self.write_info(&info, step);
                    return;
                }
                other => {
                    self.write_info(&info, step);
                    self.final_result(other, self.latency(), step);
                    return;
                }
            }
        }
        self.write_info(&info, step);
        self.final_result(Outcome::Ok(vec![]), self.latency(), step);
    }

    fn latency(&self) -> Duration {
        Duration::from_millis(self.settings.latency_ms)
    }

    fn write_info(&mut self, lines: &[String], step: &mut Step) {
        if lines.is_empty() {
            return;
        }
        let mut out = Vec::new();
        for l in lines {
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(l.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        step.write(Duration::ZERO, out);
    }

    fn final_result(&mut self, outcome: Outcome, delay: Duration, step: &mut Step) {
        let mut bytes = self.faults.garbage(&mut self.garbage_seq);
        let text = match outcome {
            Outcome::Ok(lines) => {
                self.write_info(&lines, step);
                "OK".to_string()
            }
            Outcome::Error => "ERROR".to_string(),
            Outcome::Final(text) => text,
            Outcome::Cme(n) => match self.cmee {
                0 => "ERROR".into(),
                1 => format!("+CME ERROR: {n}"),
                _ => format!("+CME ERROR: {}", cme_text(n)),
            },
            Outcome::Cms(n) => match self.cmee {
                0 => "ERROR".into(),
                _ => format!("+CMS ERROR: {n}"),
            },
            Outcome::Prompt => return,
        };
        if self.quiet {
            return;
        }
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(text.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        step.write(delay, bytes);
    }

    /// Writes a URC now, or holds it while a prompt is open.
    pub fn urc(&mut self, text: &str, step: &mut Step) {
        if self.faults.drop_notices() && (text.starts_with("+CMTI") || text.starts_with("+CDSI")) {
            return;
        }
        let bytes = format!("\r\n{text}\r\n").into_bytes();
        if self.urc_port != self.active {
            // The other port gets unsolicited lines (`AT^PORTSEL`).
            step.other.push(Chunk {
                delay: Duration::ZERO,
                bytes,
            });
        } else if matches!(self.mode, Mode::Prompt(_)) {
            self.held_urcs.push(bytes);
        } else {
            step.write(Duration::ZERO, bytes);
        }
    }

    fn release_urcs(&mut self, step: &mut Step) {
        for u in std::mem::take(&mut self.held_urcs) {
            step.write(Duration::ZERO, u);
        }
    }

    /// Huawei-style status noise (`^RSSI`, `^MODE`, `^DSFLOWRPT`), one line
    /// per call, cycling.
    pub fn noise(&mut self, seq: u32) -> Step {
        let mut step = Step::default();
        let line = match seq % 3 {
            0 => format!("^RSSI:{}", self.settings.rssi),
            1 => "^MODE:5,4".to_string(),
            _ => "^DSFLOWRPT:0000001E,00000000,00000000,0000000000000000,0000000000000000,0003E800,0003E800".to_string(),
        };
        self.urc(&line, &mut step);
        step
    }

    /// The modem restarts: settings reset, the PIN is asked again, storage
    /// survives (the `SR` memory too: the emulator keeps it, as Wavecom's
    /// SIM-backed one does); it announces itself as its model's boot
    /// sequence says, the lines due at once now and the rest as
    /// [`Dce::tick`] reaches them.
    pub fn reboot(&mut self) -> Step {
        self.reset_settings();
        self.held_urcs.clear();
        // A restart drops the radio link: no USSD session survives it.
        self.ussd.cancel();
        self.ussd_due.clear();
        self.restarts += 1;
        self.urc_port = 0;
        if self.aux.is_some() {
            self.aux = Some(PortLocal::fresh());
        }
        self.pin_ok = self.settings.pin.is_none();
        self.cfun = 1;
        self.heartbeat_on = true;
        self.sms_up = self.model.boot.sms_ready_ms == 0;
        let mut step = Step::default();
        let mut next = 0;
        while let Some(l) = self.model.boot.lines.get(next) {
            if l.after_ms > 0 {
                break;
            }
            let line = self.boot_line(&l.line.clone());
            step.write(Duration::ZERO, format!("\r\n{line}\r\n").into_bytes());
            next += 1;
        }
        self.boot = (next < self.model.boot.lines.len() || !self.sms_up).then_some(BootRun {
            started: None,
            next,
        });
        step
    }

    fn boot_line(&self, template: &str) -> String {
        let cpin = if self.pin_ok { "READY" } else { "SIM PIN" };
        template.replace("{cpin}", cpin)
    }

    /// Answers from `script` from now on (see [`super::replay`]).
    pub fn start_replay(&mut self, script: std::sync::Arc<super::replay::Script>) {
        self.replay = Some(super::replay::Replay::new(script, self.now));
    }

    /// Time passes: `now` is the emulator's time since it started. Plays
    /// the boot sequence and the model's heartbeat.
    pub fn tick(&mut self, now: Duration) -> Step {
        let mut step = Step::default();
        self.now = now;
        if let Some(r) = &mut self.replay {
            for bytes in r.due(now) {
                step.write(Duration::ZERO, bytes);
            }
        }
        if let Some(run) = &mut self.boot {
            let started = *run.started.get_or_insert(now);
            let elapsed = now.saturating_sub(started).as_millis() as u64;
            let mut lines = Vec::new();
            while let Some(l) = self.model.boot.lines.get(run.next) {
                if l.after_ms > elapsed {
                    break;
                }
                lines.push(l.line.clone());
                run.next += 1;
            }
            let done = run.next >= self.model.boot.lines.len();
            if elapsed >= self.model.boot.sms_ready_ms {
                self.sms_up = true;
            }
            if done && self.sms_up {
                self.boot = None;
            }
            for l in lines {
                let line = self.boot_line(&l);
                self.urc(&line, &mut step);
            }
        }
        self.ussd_tick(now, &mut step);
        if let Some(h) = self.model.heartbeat.clone() {
            let every = match self.settings.heartbeat_ms {
                0 => h.every_ms,
                ms => ms,
            };
            let due = self
                .heartbeat_last
                .is_none_or(|t| now.saturating_sub(t) >= Duration::from_millis(every));
            if self.heartbeat_on && due && !self.faults.no_answer() {
                self.heartbeat_last = Some(now);
                let line = h.line(self.heartbeat_seq, self.settings.rssi, &self.identity.imei);
                self.heartbeat_seq += 1;
                if let Some(line) = line {
                    self.urc(&line, &mut step);
                }
            }
        }
        step
    }

    /// Network registration changes (deregistration fault and its end).
    pub fn set_registration(&mut self, stat: RegStat) -> Step {
        let mut step = Step::default();
        if self.reg == stat {
            return step;
        }
        self.reg = stat;
        match self.creg_n {
            1 => self.urc(&format!("+CREG: {}", stat as u8), &mut step),
            2 => self.urc(
                &format!("+CREG: {},\"1A2B\",\"00C3D4E5\"", stat as u8),
                &mut step,
            ),
            _ => {}
        }
        step
    }

    /// A fault was injected or cleared.
    pub fn set_fault(&mut self, fault: &Fault) -> Step {
        self.faults.add(fault.clone());
        match fault {
            Fault::Reboot => self.reboot(),
            Fault::Deregister => self.set_registration(RegStat::Searching),
            _ => Step::default(),
        }
    }

    pub fn clear_faults(&mut self) -> Step {
        self.faults = ActiveFaults::default();
        self.set_registration(RegStat::Home)
    }

    fn execute(&mut self, cmd: &Cmd, step: &mut Step) -> Outcome {
        if self.faults.sim_busy() && is_sim_command(&cmd.name) {
            return if cmd.name.starts_with("+CMG") || cmd.name == "+CPMS" {
                Outcome::Cms(314)
            } else {
                Outcome::Cme(14)
            };
        }
        if let Some(outcome) = self.execute_sim(cmd) {
            return outcome;
        }
        let set = match &cmd.form {
            Form::Set(v) => Some(v.as_str()),
            _ => None,
        };
        let num = set.and_then(|v| line::params(v).first()?.parse::<u8>().ok());
        let id = &self.identity;
        match (cmd.name.as_str(), &cmd.form) {
            ("E", _) => self.echo = num_or_zero(set) == 1,
            ("V", _) => self.verbose = num_or_zero(set) == 1,
            ("Q", _) => self.quiet = num_or_zero(set) == 1,
            ("Z", _) | ("&F", _) => self.reset_settings(),
            ("&W", _) | ("&C", _) | ("&D", _) | ("&K", _) | ("H", _) | ("X", _) => {}
            (s, _) if s.starts_with('S') && s.len() > 1 => {
                if cmd.form == Form::Read {
                    return Outcome::Ok(vec![match s {
                        "S3" => "013",
                        "S4" => "010",
                        _ => "000",
                    }
                    .into()]);
                }
            }
            ("I", _) => {
                return Outcome::Ok(vec![
                    format!("Manufacturer: {}", id.manufacturer),
                    format!("Model: {}", id.model),
                    format!("Revision: {}", id.revision),
                    format!("IMEI: {}", id.imei),
                    "+GCAP: +CGSM,+DS,+ES".into(),
                ])
            }
            ("+CGMI" | "+GMI", Form::Action) => return Outcome::Ok(vec![id.manufacturer.clone()]),
            ("+CGMM" | "+GMM", Form::Action) => return Outcome::Ok(vec![id.model.clone()]),
            ("+CGMR" | "+GMR", Form::Action) => return Outcome::Ok(vec![id.revision.clone()]),
            ("+CGSN" | "+GSN", Form::Action) => return Outcome::Ok(vec![id.imei.clone()]),
            ("+CIMI", Form::Action) => {
                if !self.pin_ok {
                    return Outcome::Cme(11);
                }
                return Outcome::Ok(vec![id.imsi.clone()]);
            }
            ("+CUSD", _) => return self.execute_cusd(cmd),
            (
                "+CGMI" | "+CGMM" | "+CGMR" | "+CGSN" | "+CIMI" | "+GMI" | "+GMM" | "+GMR" | "+GSN",
                Form::Test,
            ) => {}
            ("+CNUM", Form::Action) => {
                return Outcome::Ok(vec![format!("+CNUM: \"\",\"{}\",145", id.number)])
            }
            ("+CPIN", Form::Read) => {
                let s = if self.pin_ok { "READY" } else { "SIM PIN" };
                return Outcome::Ok(vec![format!("+CPIN: {s}")]);
            }
            ("+CPIN", Form::Set(v)) => {
                let given = line::params(v).first().cloned().unwrap_or_default();
                match &self.settings.pin {
                    _ if self.pin_ok => return Outcome::Cme(3),
                    Some(pin) if *pin == given => {
                        self.pin_ok = true;
                        self.urc("+CPIN: READY", step);
                    }
                    _ => return Outcome::Cme(16),
                }
            }
            ("+CPIN", Form::Test) => {}
            ("+CSQ", Form::Action) => {
                let rssi = if self.cfun == 1 {
                    self.settings.rssi
                } else {
                    99
                };
                return Outcome::Ok(vec![format!("+CSQ: {rssi},99")]);
            }
            ("+CSQ", Form::Test) => return Outcome::Ok(vec!["+CSQ: (0-31,99),(0-7,99)".into()]),
            ("+CREG" | "+CGREG", Form::Read) => {
                let n = if cmd.name == "+CREG" {
                    self.creg_n
                } else {
                    self.cgreg_n
                };
                let stat = self.reg_stat() as u8;
                return Outcome::Ok(vec![if n == 2 && stat == 1 {
                    format!("{}: {n},{stat},\"1A2B\",\"00C3D4E5\"", cmd.name)
                } else {
                    format!("{}: {n},{stat}", cmd.name)
                }]);
            }
            ("+CREG" | "+CGREG", Form::Set(_)) => match num {
                Some(n @ 0..=2) if cmd.name == "+CREG" => self.creg_n = n,
                Some(n @ 0..=2) => self.cgreg_n = n,
                _ => return Outcome::Cme(50),
            },
            ("+CREG" | "+CGREG", Form::Test) => {
                return Outcome::Ok(vec![format!("{}: (0-2)", cmd.name)])
            }
            ("+COPS", Form::Read) => {
                return Outcome::Ok(vec![if self.registered() {
                    format!("+COPS: 0,0,\"{}\",0", id.operator)
                } else {
                    "+COPS: 0".into()
                }])
            }
            ("+COPS", Form::Set(_)) => {}
            ("+COPS", Form::Test) => {
                return Outcome::Ok(vec![format!(
                    "+COPS: (2,\"{}\",\"{}\",\"37002\",0),,(0-4),(0-2)",
                    id.operator, id.operator
                )])
            }
            ("+CFUN", Form::Read) => return Outcome::Ok(vec![format!("+CFUN: {}", self.cfun)]),
            ("+CFUN", Form::Set(v)) => {
                let p = line::params(v);
                match p.first().and_then(|s| s.parse::<u8>().ok()) {
                    Some(f @ (0 | 1 | 4)) => {
                        if p.get(1).map(String::as_str) == Some("1") {
                            let boot = self.reboot();
                            step.out.extend(boot.out);
                        } else {
                            self.cfun = f;
                        }
                    }
                    _ => return Outcome::Cme(50),
                }
            }
            ("+CFUN", Form::Test) => return Outcome::Ok(vec!["+CFUN: (0,1,4),(0-1)".into()]),
            ("+CMEE", Form::Set(_)) => match num {
                Some(n @ 0..=2) => self.cmee = n,
                _ => return Outcome::Error,
            },
            ("+CMEE", Form::Read) => return Outcome::Ok(vec![format!("+CMEE: {}", self.cmee)]),
            ("+CMEE", Form::Test) => return Outcome::Ok(vec!["+CMEE: (0-2)".into()]),
            ("+CSCS", Form::Read) => return Outcome::Ok(vec![format!("+CSCS: \"{}\"", self.cscs)]),
            ("+CSCS", Form::Test) => {
                return Outcome::Ok(vec!["+CSCS: (\"IRA\",\"GSM\",\"UCS2\")".into()])
            }
            ("+CSCS", Form::Set(v)) => {
                let cs = line::params(v)
                    .first()
                    .cloned()
                    .unwrap_or_default()
                    .to_uppercase();
                if !["IRA", "GSM", "UCS2"].contains(&cs.as_str()) {
                    return Outcome::Cme(4);
                }
                self.cscs = cs;
            }
            // ModemManager's Huawei plugin: "With ^PORTSEL we specify
            // whether we want the PCUI port (0) or the modem port (1) to
            // receive the unsolicited messages"
            // (src/plugins/huawei/mm-broadband-modem-huawei.c,
            // unsolicited_enable_sequence).
            ("^PORTSEL", Form::Set(_)) if self.model.second_port => match num {
                Some(n @ 0..=1) => self.urc_port = n as usize,
                _ => return Outcome::Cme(50),
            },
            ("^PORTSEL", Form::Read) if self.model.second_port => {
                return Outcome::Ok(vec![format!("^PORTSEL: {}", self.urc_port)])
            }
            ("^CURC" | "^PORTSEL" | "+CLIP" | "+CRC" | "+CMUX", _) if cmd.form != Form::Read => {}
            _ => return self.execute_sms(cmd, step),
        }
        Outcome::Ok(vec![])
    }

    fn reg_stat(&self) -> RegStat {
        if self.cfun != 1 {
            RegStat::NotSearching
        } else {
            self.reg
        }
    }

    fn next_message_ref(&mut self) -> u8 {
        let mr = self.next_mr;
        self.next_mr = self.next_mr.wrapping_add(1);
        mr
    }
}

fn num_or_zero(set: Option<&str>) -> u8 {
    set.and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn is_sim_command(name: &str) -> bool {
    matches!(
        name,
        "+CPIN" | "+CIMI" | "+CPMS" | "+CNUM" | "+CCID" | "+QCCID" | "^ICCID" | "+CRSM"
    ) || name.starts_with("+CMG")
        || name == "+CSCA"
}

/// Verbose `+CME ERROR` texts (TS 27.007 §9.2.1) for `+CMEE=2`.
fn cme_text(n: u16) -> &'static str {
    match n {
        3 => "operation not allowed",
        4 => "operation not supported",
        10 => "SIM not inserted",
        11 => "SIM PIN required",
        14 => "SIM busy",
        16 => "incorrect password",
        30 => "no network service",
        100 => "unknown",
        50 => "incorrect parameters",
        _ => "unknown",
    }
}
#[cfg(test)]
mod tests;
