//! What goes in and out of a modem: messages to send and their outcome,
//! what a modem reports (received SMS, delivery reports), and its status
//! as the admin sees it. Plain data shared by the driver, the actor and the
//! pool.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::oneshot;

use crate::sms::{Deliver, DeliveryStatus};

/// One message to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingSms {
    /// The caller's id of the message (for logs and report mapping).
    pub message_id: u64,
    /// E.164 recipient.
    pub recipient: String,
    pub text: String,
    /// Concatenation reference shared by its parts.
    pub concat_ref: u8,
    /// TP-VP, relative, in minutes: the network drops the message when it
    /// cannot deliver it in time (`None`: the service centre's default).
    pub validity_minutes: Option<u32>,
    /// Set by the sender to take the message back while no part of it has
    /// gone out (its conversation ended while the modem was down).
    pub withdraw: Withdraw,
}

/// Who has a message: shared by the sender and the modem, decided once.
/// The sender may take it back ([`Withdraw::take_back`]) until the modem
/// starts its first part ([`Withdraw::start`]); after that the modem
/// finishes it (the phone must get all of it). Equal to any other: it is
/// not part of the message.
#[derive(Debug, Clone, Default)]
pub struct Withdraw(std::sync::Arc<std::sync::atomic::AtomicU8>);

const IDLE: u8 = 0;
const STARTED: u8 = 1;
const TAKEN_BACK: u8 = 2;

impl Withdraw {
    fn claim(&self, to: u8) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        match self.0.compare_exchange(IDLE, to, SeqCst, SeqCst) {
            Ok(_) => true,
            Err(now) => now == to,
        }
    }

    /// The sender takes the message back; `false` when the modem already
    /// started it.
    pub fn take_back(&self) -> bool {
        self.claim(TAKEN_BACK)
    }

    /// The modem starts the first part; `false` when it was taken back.
    pub fn start(&self) -> bool {
        self.claim(STARTED)
    }

    /// Takes it back (tests).
    pub fn set(&self) {
        self.take_back();
    }

    /// Whether it was taken back.
    pub fn is_set(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst) == TAKEN_BACK
    }
}

impl PartialEq for Withdraw {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Withdraw {}

/// How the network names one sent part, so its delivery report finds it:
/// a modem's TP-MR (TS 23.040 §9.2.3.6) or an SMSC's message_id (SMPP 3.4
/// §4.4.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PartRef {
    Mr(u8),
    Id(String),
}

impl std::fmt::Display for PartRef {
    /// The form stored in report keys: a TP-MR as three digits (the form
    /// stores have always had), a message id as given.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PartRef::Mr(mr) => write!(f, "{mr:03}"),
            PartRef::Id(id) => f.write_str(id),
        }
    }
}

/// How a send ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Every part was accepted by the network; one reference per part, in
    /// order, for mapping delivery reports back.
    Sent { message_refs: Vec<PartRef> },
    /// The network refused it for good, or retries ran out.
    Failed { reason: String, permanent: bool },
}

/// What a modem reports.
#[derive(Debug)]
pub enum ModemEvent {
    /// An SMS (one part) arrived. The modem deletes it from its storage only
    /// after `ack` is answered: answer once it is safely persisted.
    Received {
        deliver: Deliver,
        ack: oneshot::Sender<()>,
    },
    /// A delivery report for the part sent as `message_ref`.
    DeliveryReport {
        message_ref: PartRef,
        recipient: String,
        status: DeliveryStatus,
        /// TP-ST, for the record.
        tp_status: u8,
        ack: oneshot::Sender<()>,
    },
}

/// The state of a modem, as the admin API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModemState {
    Initialising,
    Up,
    NoSim,
    NotRegistered,
    Down,
}

/// Everything the admin sees of one modem.
#[derive(Debug, Clone, Serialize)]
pub struct ModemStatus {
    pub short_code: String,
    pub port: String,
    pub state: ModemState,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub imei: Option<String>,
    /// `+CSQ` rssi (0–31, 99 unknown) and its dBm.
    pub rssi: Option<u8>,
    pub signal_dbm: Option<i32>,
    pub registration: Option<String>,
    pub operator: Option<String>,
    pub sent: u64,
    pub received: u64,
    pub failed: u64,
    pub reconnects: u64,
    pub restarts: u64,
    pub garbage: u64,
    pub last_error: Option<String>,
    /// SIM storage (`+CPMS?` first memory): messages kept, and room.
    pub storage_used: Option<u32>,
    pub storage_total: Option<u32>,
    /// Messages waiting for this modem and how long the oldest has waited.
    pub queued: usize,
    pub oldest_wait_secs: Option<u64>,
    /// The SIM's IMSI (`+CIMI`, TS 27.007 §5.6), read at start.
    pub imsi: Option<String>,
    /// The SIM's ICCID (`+CRSM` EF_ICCID, else `+CCID`), read at start.
    pub iccid: Option<String>,
    /// The last [`SIGNAL_HISTORY`] signal readings of the health poll,
    /// oldest first.
    pub signal_history: Vec<SignalSample>,
    /// `modem`, or `smpp` for a short code of an SMPP bind.
    pub transport: &'static str,
    /// The bind's figures, for a short code of an SMPP bind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smpp: Option<crate::smpp::bind::BindStats>,
}

/// How many signal readings [`ModemStatus::signal_history`] keeps.
pub const SIGNAL_HISTORY: usize = 24;

/// One `+CSQ` reading of the health poll (TS 27.007 §8.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SignalSample {
    /// When, in Unix seconds.
    pub at: u64,
    /// 0–31, 99 unknown.
    pub rssi: u8,
    /// `rssi` in dBm, when known.
    pub dbm: Option<i32>,
}

impl ModemStatus {
    /// Records a signal reading, keeping the last [`SIGNAL_HISTORY`].
    pub fn push_signal(&mut self, sample: SignalSample) {
        self.signal_history.push(sample);
        let extra = self.signal_history.len().saturating_sub(SIGNAL_HISTORY);
        self.signal_history.drain(..extra);
    }
}

/// The answer to a USSD request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UssdAnswer {
    /// The network's text, decoded.
    pub reply: String,
    /// A menu waits for an answer (`+CUSD: 1`): send it with the same call
    /// within the session timeout.
    pub session_open: bool,
    /// `<m>` of `+CUSD:` (TS 27.007 §7.15): 0 done, 1 menu, 2 ended by the
    /// network.
    pub status: u8,
}

/// Why a USSD request gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UssdError {
    #[error("no modem serves short code {0}")]
    NoSuchModem(String),
    #[error("the modem is not ready for USSD: {0}")]
    NotReady(String),
    #[error("the modem refused the USSD request: {0}")]
    Refused(String),
    #[error("the network does not support this USSD operation (+CUSD: 4)")]
    NotSupported,
    #[error("the network timed out the USSD session (+CUSD: 5)")]
    NetworkTimeout,
    #[error("no USSD answer in time")]
    NoAnswer,
    #[error("undecodable USSD answer: {0}")]
    Garbled(String),
    #[error("invalid USSD code: {0}")]
    Invalid(String),
}

impl ModemStatus {
    pub fn new(short_code: &str, port: &str) -> Self {
        ModemStatus {
            short_code: short_code.to_string(),
            port: port.to_string(),
            state: ModemState::Initialising,
            manufacturer: None,
            model: None,
            imei: None,
            rssi: None,
            signal_dbm: None,
            registration: None,
            operator: None,
            sent: 0,
            received: 0,
            failed: 0,
            reconnects: 0,
            restarts: 0,
            garbage: 0,
            last_error: None,
            storage_used: None,
            storage_total: None,
            queued: 0,
            oldest_wait_secs: None,
            imsi: None,
            iccid: None,
            signal_history: Vec::new(),
            transport: "modem",
            smpp: None,
        }
    }
}

/// A modem's status shared between its driver, its actor and the pool,
/// with the enqueue times of waiting messages.
#[derive(Debug, Clone)]
pub struct SharedStatus {
    inner: Arc<Mutex<(ModemStatus, VecDeque<Instant>)>>,
    /// Bumped each time the state changes (the pool's watchers wake).
    changes: Option<Arc<tokio::sync::watch::Sender<u64>>>,
}

impl SharedStatus {
    pub fn new(status: ModemStatus) -> Self {
        SharedStatus {
            inner: Arc::new(Mutex::new((status, VecDeque::new()))),
            changes: None,
        }
    }

    /// Reports each change of [`ModemStatus::state`] on `changes`.
    pub fn reporting_to(mut self, changes: Arc<tokio::sync::watch::Sender<u64>>) -> Self {
        self.changes = Some(changes);
        self
    }

    /// A snapshot, with the queue figures filled in.
    pub fn get(&self) -> ModemStatus {
        let guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut s = guard.0.clone();
        s.queued = guard.1.len();
        s.oldest_wait_secs = guard.1.front().map(|t| t.elapsed().as_secs());
        s
    }

    pub fn update(&self, f: impl FnOnce(&mut ModemStatus)) {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let before = guard.0.state;
        f(&mut guard.0);
        let changed = guard.0.state != before;
        drop(guard);
        if let (true, Some(tx)) = (changed, &self.changes) {
            tx.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    pub fn enqueued(&self) {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        guard.1.push_back(Instant::now());
    }

    pub fn dequeued(&self) {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        guard.1.pop_front();
    }

    /// How long the oldest waiting message has waited.
    pub fn oldest_wait(&self) -> Option<Duration> {
        let guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        guard.1.front().map(|t| t.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_history_keeps_the_last_24() {
        let mut s = ModemStatus::new("1234", "/dev/null");
        for at in 0..30 {
            s.push_signal(SignalSample {
                at,
                rssi: 20,
                dbm: Some(-73),
            });
        }
        assert_eq!(s.signal_history.len(), SIGNAL_HISTORY);
        assert_eq!(s.signal_history.first().map(|x| x.at), Some(6));
        assert_eq!(s.signal_history.last().map(|x| x.at), Some(29));
    }
}
