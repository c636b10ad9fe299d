//! Probing one serial port for a technician: is there a modem, which one,
//! with which SIM, how is its signal, registration and SMS storage.
//!
//! Owns opening a port for a short, exclusive look ([`open_port`], shared
//! with discovery and `smsgate ussd`), the read-only query sequence and the
//! [`ProbeReport`] with its text rendering; on request one USSD code
//! (`--ussd`, through [`super::ussd`]). May not touch the modem's
//! configuration beyond echo and error verbosity (`ATE0`, `AT+CMEE=1`), and
//! knows nothing of the gateway.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_serial::{SerialPortBuilderExt, SerialStream};

use super::conversation::{Conversation, ConversationError};
use super::profile::Profile;
use super::ussd::{UssdSession, USSD_TIMEOUT};
use crate::at::commands::{
    EchoOff, Imei, Imsi, Manufacturer, MemUsage, Model, OperatorQuery, RegistrationQuery, Revision,
    SignalQualityQuery, StorageQuery,
};
use crate::at::{AtError, CmeError, PinStatus, RegStatus};

/// How long a silent port may take to answer the first `AT` (V.250 §5.2.1)
/// before it counts as "not a modem": two tries of this.
pub const WAKE_TIMEOUT: Duration = Duration::from_millis(1500);
/// Optional identity commands (ICCID variants) that some modems do not
/// know; a quick `ERROR` is the usual answer.
const OPTIONAL_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a port could not be probed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(
        "{port}: the port does not exist (is the modem plugged in? see `ls /dev/serial/by-id/`)"
    )]
    NotFound { port: String },
    #[error("{port}: the port is busy: another program holds it open (ModemManager? another smsgate? gammu? stop it, e.g. `systemctl stop ModemManager`)")]
    Busy { port: String },
    #[error("{port}: permission denied (add the user to group dialout, or run as root)")]
    PermissionDenied { port: String },
    #[error("{port}: not a modem: no answer to AT within {}s", 2 * WAKE_TIMEOUT.as_millis() / 1000)]
    NotAModem { port: String },
    #[error("{port}: I/O error: {message}")]
    Io { port: String, message: String },
}

impl ProbeError {
    /// A short form for lists (discovery's "what was tried").
    pub fn short(&self) -> &'static str {
        match self {
            ProbeError::NotFound { .. } => "does not exist",
            ProbeError::Busy { .. } => "busy",
            ProbeError::PermissionDenied { .. } => "permission denied",
            ProbeError::NotAModem { .. } => "no answer to AT",
            ProbeError::Io { .. } => "I/O error",
        }
    }
}

/// What a probe found. Fields a modem did not answer are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeReport {
    pub port: String,
    /// `+CGMI` (TS 27.007 §5.1).
    pub manufacturer: Option<String>,
    /// `+CGMM` (§5.2).
    pub model: Option<String>,
    /// `+CGMR` (§5.3).
    pub firmware: Option<String>,
    /// `+CGSN` (§5.4).
    pub imei: Option<String>,
    /// `+CIMI` (§5.6); needs the SIM unlocked.
    pub imsi: Option<String>,
    /// `+CCID`, Huawei `^ICCID?` or Quectel `+QCCID` (not in TS 27.007).
    pub iccid: Option<String>,
    /// `+CPIN?` `<code>` (§8.3): `READY`, `SIM PIN`, `SIM PUK`,
    /// `NOT INSERTED`..., or `unknown`.
    pub sim: String,
    pub signal: Option<Signal>,
    /// `+CREG?` `<stat>` in words (§7.2).
    pub registration: Option<String>,
    /// `+COPS?` `<oper>` (§7.3).
    pub operator: Option<String>,
    /// `+CPMS?` (TS 27.005 §3.2.2); needs the SIM unlocked.
    pub storage: Option<Storage>,
    /// The profile [`Profile::best_fit`] picks for this modem.
    pub profile: String,
    /// The answer to `--ussd CODE`, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ussd: Option<UssdReport>,
}

/// What one USSD code answered during a probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UssdReport {
    /// The code sent.
    pub code: String,
    /// The network's text, when it answered.
    pub reply: Option<String>,
    /// `<m>` of `+CUSD:` (TS 27.007 §7.15), when it answered.
    pub status: Option<u8>,
    /// Why there is no reply.
    pub error: Option<String>,
}

/// `+CSQ` (TS 27.007 §8.5) as numbers people read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Signal {
    /// 0..=31, 99 = not known.
    pub rssi: u8,
    pub dbm: Option<i16>,
    /// 0..=5.
    pub bars: u8,
}

impl Signal {
    pub fn from_rssi(rssi: u8) -> Signal {
        let q = crate::at::commands::SignalQuality { rssi, ber: 99 };
        Signal {
            rssi,
            dbm: q.dbm(),
            bars: bars_of_five(rssi),
        }
    }
}

/// Bars 0..=5 from `<rssi>`: five steps of about 10 dB above -111 dBm
/// (`<rssi>` 2); 0 when there is no usable signal or it is not known.
pub fn bars_of_five(rssi: u8) -> u8 {
    match rssi {
        2..=7 => 1,
        8..=12 => 2,
        13..=17 => 3,
        18..=22 => 4,
        23..=31 => 5,
        _ => 0,
    }
}

/// The three message storages of `+CPMS` (TS 27.005 §3.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Storage {
    /// Read and delete.
    pub mem1: MemReport,
    /// Write and send.
    pub mem2: Option<MemReport>,
    /// Where received messages go.
    pub mem3: Option<MemReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemReport {
    pub name: String,
    pub used: u32,
    pub total: u32,
}

impl From<MemUsage> for MemReport {
    fn from(m: MemUsage) -> Self {
        MemReport {
            name: m.name,
            used: m.used,
            total: m.total,
        }
    }
}

/// Opens `path` exclusively (TIOCEXCL and `flock`, as serialport does),
/// telling apart the failures a technician can fix.
pub fn open_port(path: &Path, baud: u32) -> Result<SerialStream, ProbeError> {
    let port = path.display().to_string();
    if !path.exists() {
        return Err(ProbeError::NotFound { port });
    }
    tokio_serial::new(path.to_string_lossy(), baud)
        .open_native_async()
        .map_err(|e| match e.kind {
            // serialport reports EBUSY (TIOCEXCL held) and a held flock as
            // `NoDevice`.
            tokio_serial::ErrorKind::NoDevice => ProbeError::Busy { port },
            tokio_serial::ErrorKind::Io(std::io::ErrorKind::NotFound) => {
                ProbeError::NotFound { port }
            }
            tokio_serial::ErrorKind::Io(std::io::ErrorKind::PermissionDenied) => {
                ProbeError::PermissionDenied { port }
            }
            _ => ProbeError::Io {
                port,
                message: e.description,
            },
        })
}

/// Sends `AT` until the modem answers (two tries of [`WAKE_TIMEOUT`]), then
/// turns echo off. Any final result, even `ERROR`, proves a modem.
pub async fn wake<P: AsyncRead + AsyncWrite + Unpin>(
    conv: &mut Conversation<P>,
    port: &str,
) -> Result<(), ProbeError> {
    let mut answered = false;
    for _ in 0..2 {
        match conv.raw("AT", WAKE_TIMEOUT).await {
            Ok(_) | Err(ConversationError::At(_)) => {
                answered = true;
                break;
            }
            Err(ConversationError::Timeout { .. }) => continue,
            Err(e) => return Err(link_error(port, e)),
        }
    }
    if !answered {
        return Err(ProbeError::NotAModem {
            port: port.to_string(),
        });
    }
    optional(port, conv.exec(&EchoOff).await)?;
    Ok(())
}

/// Identifies the modem on `path`: opens it exclusively, wakes it, and asks
/// everything a technician needs, read-only.
pub async fn probe(path: &Path, baud: u32) -> Result<ProbeReport, ProbeError> {
    probe_recorded(path, baud, None).await
}

/// [`probe`], with every byte of the conversation going to `recorder`
/// (`smsgate probe --record FILE`).
pub async fn probe_recorded(
    path: &Path,
    baud: u32,
    recorder: Option<std::sync::Arc<crate::transcript::Recorder>>,
) -> Result<ProbeReport, ProbeError> {
    probe_with(path, baud, recorder, None).await
}

/// [`probe_recorded`], and with `ussd` that USSD code too (`smsgate probe
/// --ussd CODE`); a menu it opens is cancelled.
pub async fn probe_with(
    path: &Path,
    baud: u32,
    recorder: Option<std::sync::Arc<crate::transcript::Recorder>>,
    ussd: Option<&str>,
) -> Result<ProbeReport, ProbeError> {
    let port = path.display().to_string();
    let mut conv = Conversation::new(crate::transcript::Recorded::new(
        open_port(path, baud)?,
        recorder,
    ));
    wake(&mut conv, &port).await?;
    // Numeric +CME ERROR codes (TS 27.007 §9.1) tell "SIM not inserted"
    // from "SIM PIN required".
    optional(&port, conv.raw("AT+CMEE=1", OPTIONAL_TIMEOUT).await)?;

    let manufacturer = optional(&port, conv.exec(&Manufacturer).await)?;
    let model = optional(&port, conv.exec(&Model).await)?;
    let firmware = optional(&port, conv.exec(&Revision).await)?;
    let imei = optional(&port, conv.exec(&Imei).await)?;
    let maker = manufacturer.clone().unwrap_or_default();
    let profile = Profile::best_fit(&maker, model.as_deref().unwrap_or("")).name;

    let sim = match conv.pin_status().await {
        Ok(status) => Some(status),
        Err(ConversationError::At(AtError::Cme(CmeError::SimNotInserted))) => {
            Some(PinStatus::NotInserted)
        }
        Err(e) => {
            fail_on_link(&port, e)?;
            None
        }
    };
    let ready = sim == Some(PinStatus::Ready);
    let imsi = if ready {
        optional(&port, conv.exec(&Imsi).await)?
    } else {
        None
    };
    let iccid = read_iccid(&mut conv, &port, &profile).await?;
    let signal =
        optional(&port, conv.exec(&SignalQualityQuery).await)?.map(|q| Signal::from_rssi(q.rssi));
    let registration =
        optional(&port, conv.exec(&RegistrationQuery).await)?.map(|r| registration_text(r.stat));
    let operator = optional(&port, conv.exec(&OperatorQuery).await)?.and_then(|o| o.name);
    let storage = if ready {
        optional(&port, conv.exec(&StorageQuery).await)?.map(|s| Storage {
            mem1: s.mem1.into(),
            mem2: s.mem2.map(Into::into),
            mem3: s.mem3.map(Into::into),
        })
    } else {
        None
    };
    let ussd = match ussd {
        Some(code) => Some(probe_ussd(&mut conv, &port, &profile, code).await?),
        None => None,
    };
    Ok(ProbeReport {
        port,
        manufacturer,
        model,
        firmware,
        imei,
        imsi,
        iccid,
        sim: sim.map_or_else(|| "unknown".to_string(), |s| pin_text(&s)),
        signal,
        registration,
        operator,
        storage,
        profile,
        ussd,
    })
}

/// Sends one USSD code with the profile's encoding and cancels a menu it
/// opens; a refusal is reported, not an error of the probe.
async fn probe_ussd(
    conv: &mut Conversation<impl AsyncRead + AsyncWrite + Unpin>,
    port: &str,
    profile: &str,
    code: &str,
) -> Result<UssdReport, ProbeError> {
    let packed = Profile::builtin(profile).is_some_and(|p| p.quirks.ussd_packed_hex);
    let mut session = UssdSession::new(packed, USSD_TIMEOUT);
    let answer = session
        .request(conv, code)
        .await
        .map_err(|e| link_error(port, e))?;
    if session.is_open() {
        session
            .cancel(conv)
            .await
            .map_err(|e| link_error(port, e))?;
    }
    Ok(match answer {
        Ok(a) => UssdReport {
            code: code.to_string(),
            reply: Some(a.reply),
            status: Some(a.status),
            error: None,
        },
        Err(e) => UssdReport {
            code: code.to_string(),
            reply: None,
            status: None,
            error: Some(e.to_string()),
        },
    })
}

/// The ICCID through whichever vendor command the modem knows, the
/// profile's own first (Huawei `^ICCID?`, Quectel `+QCCID`, else `+CCID`).
async fn read_iccid(
    conv: &mut Conversation<impl AsyncRead + AsyncWrite + Unpin>,
    port: &str,
    profile: &str,
) -> Result<Option<String>, ProbeError> {
    let order: [&str; 3] = match profile {
        "huawei" => ["AT^ICCID?", "AT+CCID", "AT+QCCID"],
        "quectel" => ["AT+QCCID", "AT+CCID", "AT^ICCID?"],
        _ => ["AT+CCID", "AT^ICCID?", "AT+QCCID"],
    };
    for line in order {
        let lines = optional(port, conv.raw(line, OPTIONAL_TIMEOUT).await)?;
        if let Some(iccid) = lines.as_deref().and_then(parse_iccid) {
            return Ok(Some(iccid));
        }
    }
    Ok(None)
}

/// The ICCID in `+CCID: 8918...`, `^ICCID: 8918...`, `+QCCID: ...` or a
/// bare line: 18 to 22 hex digits (the last may be the `F` filler).
pub fn parse_iccid(lines: &[String]) -> Option<String> {
    lines.iter().find_map(|l| {
        let text = l.rsplit(':').next().unwrap_or(l).trim().trim_matches('"');
        let ok = (18..=22).contains(&text.len()) && text.chars().all(|c| c.is_ascii_hexdigit());
        ok.then(|| text.trim_end_matches(['F', 'f']).to_string())
    })
}

/// `<stat>` of `+CREG` (TS 27.007 §7.2) in words.
pub fn registration_text(stat: RegStatus) -> String {
    match stat {
        RegStatus::Home => "home".into(),
        RegStatus::Roaming => "roaming".into(),
        RegStatus::Searching => "searching".into(),
        RegStatus::Denied => "denied".into(),
        RegStatus::NotRegistered => "not registered".into(),
        RegStatus::Unknown => "unknown".into(),
        RegStatus::Other(6) => "home (SMS only)".into(),
        RegStatus::Other(7) => "roaming (SMS only)".into(),
        RegStatus::Other(n) => format!("stat {n}"),
    }
}

/// `<code>` of `+CPIN` (TS 27.007 §8.3) as the modem prints it.
pub fn pin_text(status: &PinStatus) -> String {
    match status {
        PinStatus::Ready => "READY".into(),
        PinStatus::SimPin => "SIM PIN".into(),
        PinStatus::SimPuk => "SIM PUK".into(),
        PinStatus::SimPin2 => "SIM PIN2".into(),
        PinStatus::SimPuk2 => "SIM PUK2".into(),
        PinStatus::PhSimPin => "PH-SIM PIN".into(),
        PinStatus::NotInserted => "NOT INSERTED".into(),
        PinStatus::Other(s) => s.clone(),
    }
}

/// An answer the modem may refuse (`ERROR`, timeout): `None`. A port that
/// vanished is an error.
fn optional<T>(port: &str, r: Result<T, ConversationError>) -> Result<Option<T>, ProbeError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) => {
            fail_on_link(port, e)?;
            Ok(None)
        }
    }
}

fn fail_on_link(port: &str, e: ConversationError) -> Result<(), ProbeError> {
    if e.is_link_failure() {
        return Err(link_error(port, e));
    }
    tracing::debug!(port, error = %e, "probe: command refused");
    Ok(())
}

fn link_error(port: &str, e: ConversationError) -> ProbeError {
    ProbeError::Io {
        port: port.to_string(),
        message: e.to_string(),
    }
}

impl fmt::Display for ProbeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let na = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        writeln!(f, "port:          {}", self.port)?;
        writeln!(f, "manufacturer:  {}", na(&self.manufacturer))?;
        writeln!(f, "model:         {}", na(&self.model))?;
        writeln!(f, "firmware:      {}", na(&self.firmware))?;
        writeln!(f, "IMEI:          {}", na(&self.imei))?;
        writeln!(f, "IMSI:          {}", na(&self.imsi))?;
        writeln!(f, "ICCID:         {}", na(&self.iccid))?;
        writeln!(f, "SIM:           {}", self.sim)?;
        match self.signal {
            Some(Signal {
                rssi,
                dbm: Some(dbm),
                bars,
            }) => writeln!(f, "signal:        {dbm} dBm ({bars}/5 bars, rssi {rssi})")?,
            Some(Signal { rssi, .. }) => writeln!(f, "signal:        unknown (rssi {rssi})")?,
            None => writeln!(f, "signal:        -")?,
        }
        writeln!(f, "registration:  {}", na(&self.registration))?;
        writeln!(f, "operator:      {}", na(&self.operator))?;
        match &self.storage {
            Some(s) => {
                let mem = |role: &str, m: &MemReport| {
                    format!("{} {}/{} ({role})", m.name, m.used, m.total)
                };
                let mut parts = vec![mem("read", &s.mem1)];
                parts.extend(s.mem2.as_ref().map(|m| mem("write", m)));
                parts.extend(s.mem3.as_ref().map(|m| mem("receive", m)));
                writeln!(f, "SMS storage:   {}", parts.join(", "))?;
            }
            None => writeln!(f, "SMS storage:   -")?,
        }
        write!(f, "profile:       {}", self.profile)?;
        if let Some(u) = &self.ussd {
            let answer = match (&u.reply, &u.error) {
                (Some(reply), _) => reply.replace('\n', "\n               "),
                (None, Some(error)) => format!("- ({error})"),
                (None, None) => "-".into(),
            };
            write!(f, "\nUSSD {}:{}{answer}", u.code, pad(u.code.len()))?;
        }
        Ok(())
    }
}

/// Spaces that align a `USSD <code>:` label with the others (15 wide).
fn pad(code_len: usize) -> String {
    " ".repeat(15usize.saturating_sub(code_len + 6).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn iccid_from_each_vendor_form() {
        assert_eq!(
            parse_iccid(&lines(&["+CCID: 8918020000000001000"])).as_deref(),
            Some("8918020000000001000")
        );
        assert_eq!(
            parse_iccid(&lines(&["^ICCID: 89860114831010958217F"])).as_deref(),
            Some("89860114831010958217")
        );
        assert_eq!(
            parse_iccid(&lines(&["89014103211118510720"])).as_deref(),
            Some("89014103211118510720")
        );
        assert_eq!(parse_iccid(&lines(&["+CCID: ERROR"])), None);
        assert_eq!(parse_iccid(&[]), None);
    }

    #[test]
    fn bars_span_zero_to_five() {
        assert_eq!(bars_of_five(0), 0);
        assert_eq!(bars_of_five(99), 0);
        assert_eq!(bars_of_five(5), 1);
        assert_eq!(bars_of_five(20), 4);
        assert_eq!(bars_of_five(31), 5);
        assert_eq!(Signal::from_rssi(20).dbm, Some(-73));
    }

    #[test]
    fn registration_in_words() {
        assert_eq!(registration_text(RegStatus::Home), "home");
        assert_eq!(registration_text(RegStatus::Roaming), "roaming");
        assert_eq!(registration_text(RegStatus::Searching), "searching");
        assert_eq!(registration_text(RegStatus::Denied), "denied");
        assert_eq!(
            registration_text(RegStatus::NotRegistered),
            "not registered"
        );
    }

    #[test]
    fn busy_message_suggests_modemmanager_and_dialout() {
        let busy = ProbeError::Busy {
            port: "/dev/ttyUSB2".into(),
        }
        .to_string();
        assert!(
            busy.contains("busy") && busy.contains("ModemManager"),
            "{busy}"
        );
        let perm = ProbeError::PermissionDenied {
            port: "/dev/ttyUSB2".into(),
        }
        .to_string();
        assert!(perm.contains("dialout"), "{perm}");
        let silent = ProbeError::NotAModem {
            port: "/dev/ttyS0".into(),
        }
        .to_string();
        assert!(silent.contains("no answer to AT within 3s"), "{silent}");
    }
}
