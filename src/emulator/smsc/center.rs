//! The emulated SMSC's decisions: binds and their credentials, submit_sm
//! checked and carried to the phones of the emulated network, delivery
//! receipts, a phone's texts to a short code handed to the bound ESME
//! (at least once), enquire_link both ways, and the faults in force.
//!
//! Pure: bytes, the [`Network`] and `now` in, [`Out`]s (bytes to write on
//! a connection, connections to close) out. It never reads a clock, never
//! touches a socket: `emulator::smsc` (the shell) owns the listener and
//! the tasks, applies the delays and calls [`Smsc::tick`].
//!
//! Follows SMPP 3.4 (interface_version 0x34): session states §2.3, bind
//! §4.1, unbind §4.2, generic_nack §4.3, submit_sm §4.4, deliver_sm §4.6,
//! enquire_link §4.11, esm_class §5.2.12, registered_delivery §5.2.17,
//! data_coding §5.2.19, SAR TLVs §5.3.2.22-24, message_payload §5.3.2.32,
//! receipted_message_id §5.3.2.12, message_state §5.3.2.35, time format
//! §7.1.1, delivery receipt Appendix B.
//!
//! [`submit`] holds submit_sm and its receipt; [`deliver`] the deliver_sm
//! queue (a phone's texts, receipts) and the ESME's answers.

use std::collections::{BTreeMap, VecDeque};
use std::str::FromStr;

use chrono::{DateTime, Duration, FixedOffset};
use rusmpp::pdus::{BindReceiverResp, BindTransceiverResp, BindTransmitterResp, DeliverSm};
use rusmpp::types::COctetString;
use rusmpp::values::InterfaceVersion;
use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use serde::{Deserialize, Serialize};

mod deliver;
mod submit;

use super::faults::{ActiveSmscFaults, SmscFault};
use super::receipt::FinalState;
use super::text::MoConcat;
use super::wire::{self, Framer};
use crate::emulator::network::Network;

/// A connection, numbered by the SMSC.
pub type ConnId = u64;

/// The system_id the SMSC gives in its bind responses.
const SMSC_SYSTEM_ID: &str = "smsgate-smsc";
/// Submits kept for `GET /smsc/submits` (oldest dropped first).
const SUBMIT_LOG_LIMIT: usize = 10_000;
/// Sequence numbers run 1..=0x7FFFFFFF (§4.7.24).
const MAX_SEQUENCE: u32 = 0x7FFF_FFFF;

// command_status values (§5.1.3).
const ROK: u32 = 0x00;
const RINVMSGLEN: u32 = 0x01;
const RINVCMDLEN: u32 = 0x02;
const RINVCMDID: u32 = 0x03;
const RINVBNDSTS: u32 = 0x04;
const RALYBND: u32 = 0x05;
const RINVSRCADR: u32 = 0x0A;
const RINVDSTADR: u32 = 0x0B;
const RBINDFAIL: u32 = 0x0D;
const RINVPASWD: u32 = 0x0E;
const RINVSYSID: u32 = 0x0F;
const RINVESMCLASS: u32 = 0x43;
const RINVEXPIRY: u32 = 0x62;
const RTLVNOTALLWD: u32 = 0xC1;
const RINVTLVVAL: u32 = 0xC4;
/// ESME_RX_P_APPN: the ESME rejects a deliver_sm for good (§5.1.3).
const RX_P_APPN: u32 = 0x65;

/// Who may bind, and the short codes the SMSC serves.
#[derive(Debug, Clone)]
pub struct SmscConfig {
    pub short_codes: Vec<String>,
    pub system_id: String,
    pub password: String,
    /// Message ids count up from here (the shell passes the start time in
    /// milliseconds, so ids stay unique across restarts of the emulator).
    pub message_id_base: u64,
}

impl Default for SmscConfig {
    fn default() -> Self {
        SmscConfig {
            short_codes: vec!["2222".into(), "2223".into()],
            system_id: "smsgate".into(),
            password: "secret".into(),
            message_id_base: 0,
        }
    }
}

/// Knobs of the SMSC (`GET`/`PUT /smsc/settings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmscSettings {
    /// The SMSC's own enquire_link on each bind, this often (0: never).
    pub enquire_link_ms: u64,
    /// A deliver_sm not answered within this is sent again.
    pub deliver_timeout_ms: u64,
    /// deliver_sm in flight per bind.
    pub window: usize,
    /// Receipts leave this long after the submit.
    pub receipt_delay_ms: u64,
    /// How a phone's long text reaches the ESME.
    pub mo_concat: MoConcat,
    /// A bind the SMSC unbinds is closed after this if it does not answer.
    pub unbind_grace_ms: u64,
}

impl Default for SmscSettings {
    fn default() -> Self {
        SmscSettings {
            enquire_link_ms: 30_000,
            deliver_timeout_ms: 10_000,
            window: 10,
            receipt_delay_ms: 0,
            mo_concat: MoConcat::Udh,
            unbind_grace_ms: 2_000,
        }
    }
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// Write `bytes` on `conn`, `delay` after now (a slow SMSC).
    Send {
        conn: ConnId,
        bytes: Vec<u8>,
        delay: std::time::Duration,
    },
    /// Close `conn`: after what was written before, or `at_once` (a
    /// dropped line: what waited to be written is lost with it).
    Close { conn: ConnId, at_once: bool },
}

/// The three kinds of bind (§4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BindKind {
    Transmitter,
    Receiver,
    Transceiver,
}

impl BindKind {
    fn transmits(self) -> bool {
        self != BindKind::Receiver
    }

    fn receives(self) -> bool {
        self != BindKind::Transmitter
    }
}

struct Bind {
    kind: BindKind,
    system_id: String,
}

struct Conn {
    framer: Framer,
    bind: Option<Bind>,
    next_seq: u32,
    /// deliver_sm sequence number → pending key.
    in_flight: BTreeMap<u32, u64>,
    last_enquire: DateTime<FixedOffset>,
    /// When the SMSC sent its own unbind.
    unbinding: Option<DateTime<FixedOffset>>,
}

impl Conn {
    fn seq(&mut self) -> u32 {
        let s = self.next_seq;
        self.next_seq = if s >= MAX_SEQUENCE { 1 } else { s + 1 };
        s
    }
}

/// What a queued deliver_sm carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Carried {
    /// Part `part` of a phone's text.
    Mo { from: String, to: String, part: u8 },
    /// The receipt of a submitted message.
    Receipt { message_id: String },
}

struct Pending {
    key: u64,
    carried: Carried,
    deliver: DeliverSm,
    due: DateTime<FixedOffset>,
    attempts: u32,
    /// In flight: (connection, sequence number, sent at).
    on: Option<(ConnId, u32, DateTime<FixedOffset>)>,
}

/// One submit_sm as the SMSC saw it (`GET /smsc/submits`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubmitRecord {
    pub at: DateTime<FixedOffset>,
    /// Empty when refused.
    pub message_id: String,
    /// The command_status answered.
    pub status: u32,
    pub source: String,
    pub source_ton: u8,
    pub destination: String,
    pub dest_ton: u8,
    pub dest_npi: u8,
    pub esm_class: u8,
    pub data_coding: u8,
    pub registered_delivery: u8,
    pub validity_period: String,
    pub text: String,
    /// (reference, total, sequence), by UDH or SAR.
    pub concat: Option<(u16, u8, u8)>,
    pub outcome: Option<FinalState>,
}

/// One bind as `GET /smsc` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct BindInfo {
    pub conn: ConnId,
    pub kind: BindKind,
    pub system_id: String,
    pub in_flight: usize,
    pub unbinding: bool,
}

/// One queued deliver_sm as `GET /smsc` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct QueuedInfo {
    pub carried: Carried,
    /// Times it was sent.
    pub attempts: u32,
    pub in_flight: bool,
}

/// The SMSC's state as `GET /smsc` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SmscStatus {
    pub short_codes: Vec<String>,
    pub system_id: String,
    pub connections: usize,
    pub binds: Vec<BindInfo>,
    /// deliver_sm waiting for a bind or for their answer.
    pub queued: Vec<QueuedInfo>,
    pub faults: Vec<SmscFault>,
    pub settings: SmscSettings,
}

/// The emulated SMSC.
pub struct Smsc {
    config: SmscConfig,
    settings: SmscSettings,
    faults: ActiveSmscFaults,
    conns: BTreeMap<ConnId, Conn>,
    next_conn: ConnId,
    queue: Vec<Pending>,
    next_key: u64,
    next_message: u64,
    next_mo_ref: u16,
    /// Round-robin position among receiving binds.
    rr: usize,
    submits: VecDeque<SubmitRecord>,
}

impl Smsc {
    pub fn new(config: SmscConfig, settings: SmscSettings) -> Self {
        Smsc {
            config,
            settings,
            faults: ActiveSmscFaults::default(),
            conns: BTreeMap::new(),
            next_conn: 1,
            queue: Vec::new(),
            next_key: 1,
            next_message: 0,
            next_mo_ref: 1,
            rr: 0,
            submits: VecDeque::new(),
        }
    }

    pub fn short_codes(&self) -> &[String] {
        &self.config.short_codes
    }

    pub fn settings(&self) -> &SmscSettings {
        &self.settings
    }

    pub fn set_settings(&mut self, settings: SmscSettings) {
        self.settings = settings;
    }

    pub fn submits(&self) -> Vec<SubmitRecord> {
        self.submits.iter().cloned().collect()
    }

    pub fn status(&self) -> SmscStatus {
        SmscStatus {
            short_codes: self.config.short_codes.clone(),
            system_id: self.config.system_id.clone(),
            connections: self.conns.len(),
            binds: self
                .conns
                .iter()
                .filter_map(|(id, c)| {
                    c.bind.as_ref().map(|b| BindInfo {
                        conn: *id,
                        kind: b.kind,
                        system_id: b.system_id.clone(),
                        in_flight: c.in_flight.len(),
                        unbinding: c.unbinding.is_some(),
                    })
                })
                .collect(),
            queued: self
                .queue
                .iter()
                .map(|p| QueuedInfo {
                    carried: p.carried.clone(),
                    attempts: p.attempts,
                    in_flight: p.on.is_some(),
                })
                .collect(),
            faults: self.faults.list.clone(),
            settings: self.settings.clone(),
        }
    }

    /// A new TCP connection (open, not bound: §2.3).
    pub fn connect(&mut self, now: DateTime<FixedOffset>) -> ConnId {
        let id = self.next_conn;
        self.next_conn += 1;
        self.conns.insert(
            id,
            Conn {
                framer: Framer::default(),
                bind: None,
                next_seq: 1,
                in_flight: BTreeMap::new(),
                last_enquire: now,
                unbinding: None,
            },
        );
        id
    }

    /// The connection is gone: what was in flight on it waits for the
    /// next bind. Unknown connections (already closed) are ignored.
    pub fn disconnect(&mut self, conn: ConnId, net: &mut Network, now: DateTime<FixedOffset>) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        for p in &mut self.queue {
            if matches!(p.on, Some((on, _, _)) if on == conn) {
                p.on = None;
            }
        }
        if let Some(b) = c.bind {
            net.note(now, &b.system_id, "smsc", "smpp connection closed");
        }
    }

    /// Bytes from `conn`.
    pub fn input(
        &mut self,
        conn: ConnId,
        bytes: &[u8],
        net: &mut Network,
        now: DateTime<FixedOffset>,
    ) -> Vec<Out> {
        let mut out = Vec::new();
        let Some(c) = self.conns.get_mut(&conn) else {
            return out;
        };
        match c.framer.push(bytes) {
            Ok(frames) => {
                for frame in frames {
                    if !self.conns.contains_key(&conn) {
                        break;
                    }
                    self.frame(conn, &frame, net, now, &mut out);
                }
            }
            Err(bad) => {
                // The stream cannot be resynchronised (§3.3: generic_nack
                // for an invalid header), so the connection goes.
                tracing::debug!(conn, error = %bad, "smsc: garbage on the connection");
                self.send_raw(
                    conn,
                    wire::header_only(CommandId::GenericNack.into(), RINVCMDLEN, 0),
                    &mut out,
                );
                self.close(conn, net, now, &mut out);
            }
        }
        self.pump(now, &mut out);
        out
    }

    /// Timers: the SMSC's enquire_link, unanswered deliver_sm sent again,
    /// unbinds not answered closed, queued messages whose time came.
    pub fn tick(&mut self, net: &mut Network, now: DateTime<FixedOffset>) -> Vec<Out> {
        let mut out = Vec::new();
        let enquire = ms(self.settings.enquire_link_ms);
        let grace = ms(self.settings.unbind_grace_ms);
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for id in ids {
            let Some(c) = self.conns.get_mut(&id) else {
                continue;
            };
            if c.unbinding.is_some_and(|t| now - t >= grace) {
                self.close(id, net, now, &mut out);
                continue;
            }
            if c.bind.is_some() && enquire > Duration::zero() && now - c.last_enquire >= enquire {
                c.last_enquire = now;
                let seq = c.seq();
                self.send(
                    id,
                    Command::new(CommandStatus::EsmeRok, seq, Pdu::EnquireLink),
                    &mut out,
                );
            }
        }
        let timeout = ms(self.settings.deliver_timeout_ms);
        for p in &mut self.queue {
            let Some((conn, seq, at)) = p.on else {
                continue;
            };
            if now - at >= timeout {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.in_flight.remove(&seq);
                }
                p.on = None;
                p.due = now;
                net.note(now, "smsc", &conn.to_string(), "smpp deliver_sm unanswered");
            }
        }
        self.pump(now, &mut out);
        out
    }

    /// A fault from the control API.
    pub fn inject(
        &mut self,
        fault: SmscFault,
        net: &mut Network,
        now: DateTime<FixedOffset>,
    ) -> Vec<Out> {
        let mut out = Vec::new();
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        match &fault {
            SmscFault::Unbind => {
                for id in ids {
                    let Some(c) = self.conns.get_mut(&id) else {
                        continue;
                    };
                    if c.bind.is_none() {
                        continue;
                    }
                    c.unbinding = Some(now);
                    let seq = c.seq();
                    self.send(
                        id,
                        Command::new(CommandStatus::EsmeRok, seq, Pdu::Unbind),
                        &mut out,
                    );
                }
                net.note(now, "smsc", "all binds", "smpp fault: unbind");
            }
            SmscFault::Drop => {
                for id in ids {
                    if self.conns.contains_key(&id) {
                        self.disconnect(id, net, now);
                        out.push(Out::Close {
                            conn: id,
                            at_once: true,
                        });
                    }
                }
                net.note(now, "smsc", "all binds", "smpp fault: connections dropped");
            }
            other => {
                net.note(now, "smsc", "all binds", &format!("smpp fault: {other:?}"));
            }
        }
        self.faults.add(fault);
        out
    }

    pub fn clear_faults(&mut self) {
        self.faults = ActiveSmscFaults::default();
    }

    pub fn faults(&self) -> Vec<SmscFault> {
        self.faults.list.clone()
    }

    // ---- one PDU ---------------------------------------------------------

    fn frame(
        &mut self,
        conn: ConnId,
        frame: &[u8],
        net: &mut Network,
        now: DateTime<FixedOffset>,
        out: &mut Vec<Out>,
    ) {
        let (_, status, seq) = wire::header(frame);
        let Some(cmd) = wire::decode(frame) else {
            // A header we can read around a body we cannot (§4.3).
            self.send_raw(
                conn,
                wire::header_only(CommandId::GenericNack.into(), RINVCMDLEN, seq),
                out,
            );
            return;
        };
        let bound = self
            .conns
            .get(&conn)
            .and_then(|c| c.bind.as_ref().map(|b| b.kind));
        match (cmd.id(), cmd.pdu()) {
            (CommandId::BindTransmitter, Some(Pdu::BindTransmitter(b))) => self.bind(
                conn,
                seq,
                BindKind::Transmitter,
                b.system_id.as_str(),
                b.password.as_str(),
                net,
                now,
                out,
            ),
            (CommandId::BindReceiver, Some(Pdu::BindReceiver(b))) => self.bind(
                conn,
                seq,
                BindKind::Receiver,
                b.system_id.as_str(),
                b.password.as_str(),
                net,
                now,
                out,
            ),
            (CommandId::BindTransceiver, Some(Pdu::BindTransceiver(b))) => self.bind(
                conn,
                seq,
                BindKind::Transceiver,
                b.system_id.as_str(),
                b.password.as_str(),
                net,
                now,
                out,
            ),
            (CommandId::EnquireLink, _) => self.send(
                conn,
                Command::new(CommandStatus::EsmeRok, seq, Pdu::EnquireLinkResp),
                out,
            ),
            (CommandId::EnquireLinkResp, _) => {}
            (CommandId::Unbind, _) => {
                self.send(
                    conn,
                    Command::new(CommandStatus::EsmeRok, seq, Pdu::UnbindResp),
                    out,
                );
                self.close(conn, net, now, out);
            }
            (CommandId::UnbindResp, _) => self.close(conn, net, now, out),
            (CommandId::SubmitSm, Some(Pdu::SubmitSm(s))) => match bound {
                Some(kind) if kind.transmits() => {
                    let s = s.clone();
                    self.submit(conn, seq, &s, net, now, out);
                }
                _ => self.send_raw(
                    conn,
                    wire::header_only(CommandId::SubmitSmResp.into(), RINVBNDSTS, seq),
                    out,
                ),
            },
            (CommandId::DeliverSmResp, _) => self.delivered(conn, seq, status, net, now),
            (CommandId::GenericNack, _) => {
                // The ESME could not read a deliver_sm: it goes again later.
                self.delivered(conn, seq, status.max(1), net, now);
            }
            (id, _) => {
                let raw: u32 = id.into();
                if raw & 0x8000_0000 == 0 {
                    // A request this SMSC does not offer (query_sm,
                    // data_sm, submit_multi...).
                    self.send_raw(
                        conn,
                        wire::header_only(CommandId::GenericNack.into(), RINVCMDID, seq),
                        out,
                    );
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn bind(
        &mut self,
        conn: ConnId,
        seq: u32,
        kind: BindKind,
        system_id: &str,
        password: &str,
        net: &mut Network,
        now: DateTime<FixedOffset>,
        out: &mut Vec<Out>,
    ) {
        let resp_id: u32 = match kind {
            BindKind::Transmitter => CommandId::BindTransmitterResp,
            BindKind::Receiver => CommandId::BindReceiverResp,
            BindKind::Transceiver => CommandId::BindTransceiverResp,
        }
        .into();
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let status = if c.bind.is_some() {
            RALYBND
        } else if self.faults.refuse_binds() {
            RBINDFAIL
        } else if system_id != self.config.system_id {
            RINVSYSID
        } else if password != self.config.password {
            RINVPASWD
        } else {
            ROK
        };
        if status != ROK {
            net.note(
                now,
                system_id,
                "smsc",
                &format!("smpp bind refused ({status:#04x})"),
            );
            self.send_raw(conn, wire::header_only(resp_id, status, seq), out);
            return;
        }
        c.bind = Some(Bind {
            kind,
            system_id: system_id.to_string(),
        });
        c.last_enquire = now;
        net.note(now, system_id, "smsc", &format!("smpp bind {kind:?}"));
        let sid = cstr::<1, 16>(SMSC_SYSTEM_ID);
        let version = Some(InterfaceVersion::Smpp3_4);
        let pdu: Pdu = match kind {
            BindKind::Transmitter => BindTransmitterResp::new(sid, version).into(),
            BindKind::Receiver => BindReceiverResp::new(sid, version).into(),
            BindKind::Transceiver => BindTransceiverResp::new(sid, version).into(),
        };
        self.send(conn, Command::new(CommandStatus::EsmeRok, seq, pdu), out);
    }

    // ---- plumbing --------------------------------------------------------

    /// Hands due deliver_sm to receiving binds, round robin, within each
    /// bind's window.
    fn pump(&mut self, now: DateTime<FixedOffset>, out: &mut Vec<Out>) {
        let window = self.settings.window.max(1);
        let delay = std::time::Duration::from_millis(self.faults.delay_ms());
        for p in &mut self.queue {
            if p.on.is_some() || p.due > now {
                continue;
            }
            let receivers: Vec<ConnId> = self
                .conns
                .iter()
                .filter(|(_, c)| {
                    c.unbinding.is_none()
                        && c.in_flight.len() < window
                        && c.bind.as_ref().is_some_and(|b| {
                            b.kind.receives() && b.system_id == self.config.system_id
                        })
                })
                .map(|(id, _)| *id)
                .collect();
            if receivers.is_empty() {
                break;
            }
            let conn = receivers[self.rr % receivers.len()];
            self.rr = self.rr.wrapping_add(1);
            let Some(c) = self.conns.get_mut(&conn) else {
                continue;
            };
            let seq = c.seq();
            c.in_flight.insert(seq, p.key);
            p.on = Some((conn, seq, now));
            p.attempts += 1;
            let cmd = Command::new(CommandStatus::EsmeRok, seq, p.deliver.clone());
            out.push(Out::Send {
                conn,
                bytes: wire::encode(&cmd),
                delay,
            });
        }
    }

    fn send(&self, conn: ConnId, cmd: Command, out: &mut Vec<Out>) {
        self.send_raw(conn, wire::encode(&cmd), out);
    }

    fn send_raw(&self, conn: ConnId, bytes: Vec<u8>, out: &mut Vec<Out>) {
        out.push(Out::Send {
            conn,
            bytes,
            delay: std::time::Duration::from_millis(self.faults.delay_ms()),
        });
    }

    fn close(
        &mut self,
        conn: ConnId,
        net: &mut Network,
        now: DateTime<FixedOffset>,
        out: &mut Vec<Out>,
    ) {
        if self.conns.contains_key(&conn) {
            self.disconnect(conn, net, now);
            out.push(Out::Close {
                conn,
                at_once: false,
            });
        }
    }
}

fn ms(n: u64) -> Duration {
    Duration::milliseconds(i64::try_from(n).unwrap_or(i64::MAX / 2))
}

/// A C-octet string of at most MAX-1 characters (longer text is cut).
fn cstr<const MIN: usize, const MAX: usize>(s: &str) -> COctetString<MIN, MAX> {
    let cut: String = s.chars().filter(char::is_ascii).take(MAX - 1).collect();
    COctetString::from_str(&cut).unwrap_or_else(|_| COctetString::empty())
}
