//! Typed AT commands: each a type that builds its bytes, names its
//! response type, timeout and attempts, and parses its information lines
//! (3GPP TS 27.007, TS 27.005, ITU-T V.250).
//!
//! Owns: the [`AtCommand`] trait, the timeout table, and command building
//! (through the `at-commands` crate's `CommandBuilder`). May not touch: the
//! port, the clock, or the digester's state — a driver glues them.

use std::time::Duration;

use at_commands::builder::CommandBuilder;

use super::digester::{InFlight, Response};
use super::error::AtError;

mod general;
mod network;
mod pdu_hex;
mod send;
mod sim;
mod storage;
mod ussd;

pub use general::{
    Attention, EchoOff, EnterPin, FunctionalityQuery, IdentificationInfo, Imei, Imsi, Manufacturer,
    Model, PinQuery, Revision, SetFunctionality, SetMessageFormat, SetReportErrors,
};
pub use network::{
    Operator, OperatorQuery, RegistrationQuery, SetRegistrationReporting, SignalQuality,
    SignalQualityQuery,
};
pub use pdu_hex::PduHex;
pub use send::{SendPdu, SetNewMessageIndications, SmscAddress, SmscQuery, CTRL_Z};
pub use sim::{iccid_from_bcd, CcidQuery, ReadIccid};
pub use storage::{
    DeleteFlag, DeleteMessage, ListMessages, MemUsage, MessageStat, ReadMessage, SetStorage,
    StorageQuery, StorageUsage, StoredPdu,
};
pub use ussd::{UssdCancel, UssdRequest, CUSD_TIMEOUT};

/// Plain commands: V.250 and TS 27.007 queries answer within a few hundred
/// milliseconds (SIMCom SIM800 manual: "max response time 300 ms" for most).
pub const PLAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// `+CPIN` (SIM800 manual §3.2.28: 5 s).
pub const PIN_TIMEOUT: Duration = Duration::from_secs(5);
/// `+CFUN=` (Quectel EC25 AT manual §2.21: 15 s).
pub const CFUN_TIMEOUT: Duration = Duration::from_secs(15);
/// `+COPS?` (SIM800 manual: 120 s for the search form; the query is quick,
/// but Huawei firmware blocks on it while searching).
pub const COPS_TIMEOUT: Duration = Duration::from_secs(10);
/// `+CMGS` (Quectel EC25 manual §9.10: 120 s; SIM800 §4.2.5: 60 s).
pub const CMGS_TIMEOUT: Duration = Duration::from_secs(120);
/// The `> ` prompt of `+CMGS` (TS 27.005 §3.5.1). The long wait of
/// [`CMGS_TIMEOUT`] is the network's, after the PDU; the prompt comes from
/// the modem's own command parser, as quickly as a plain command's answer.
/// A modem that gives no prompt has taken nothing, so the command may be
/// sent again without sending the message twice.
pub const PROMPT_TIMEOUT: Duration = PLAIN_TIMEOUT;
/// `+CMGR` (SIM800 manual §4.2.3: 5 s).
pub const CMGR_TIMEOUT: Duration = Duration::from_secs(5);
/// `+CMGL` (SIM800 manual §4.2.2: 20 s; a full SIM on a slow card takes
/// longer).
pub const CMGL_TIMEOUT: Duration = Duration::from_secs(30);
/// `+CMGD` (SIM800 manual §4.2.1: 5 s for one, 25 s for all).
pub const CMGD_TIMEOUT: Duration = Duration::from_secs(25);
/// `+CPMS` (SIM800 manual §4.2.4: 5 s).
pub const CPMS_TIMEOUT: Duration = Duration::from_secs(5);

/// A typed AT command.
pub trait AtCommand {
    /// What a successful answer parses into.
    type Response;
    /// How long to wait for the final result.
    const TIMEOUT: Duration;
    /// How often to send it in total when the error is retryable. Commands
    /// that must not run twice (`+CMGS`) use 1.
    const ATTEMPTS: u8 = 3;

    /// The command line, terminated by CR (V.250 §5.2.1, S3).
    fn to_bytes(&self) -> Vec<u8>;

    /// Parses the information lines of an `OK` response.
    fn parse(&self, lines: &[String]) -> Result<Self::Response, AtError>;

    /// The prefix of its information lines (`+CSQ`), if it has one.
    fn response_prefix(&self) -> Option<&'static str> {
        None
    }

    /// Whether the modem answers with the `> ` prompt first (TS 27.005
    /// §3.5.1).
    fn waits_for_prompt(&self) -> bool {
        false
    }

    /// Whether each prefixed line is followed by a PDU line (TS 27.005
    /// §3.4.2, §3.4.3).
    fn pdu_lines(&self) -> bool {
        false
    }

    /// [`AtCommand::TIMEOUT`], callable on a value.
    fn timeout(&self) -> Duration {
        Self::TIMEOUT
    }

    /// [`AtCommand::ATTEMPTS`], callable on a value.
    fn attempts(&self) -> u8 {
        Self::ATTEMPTS
    }

    /// What to tell the digester when this command is written.
    fn in_flight(&self) -> InFlight {
        let mut f = InFlight::new(&self.to_bytes());
        if let Some(prefix) = self.response_prefix() {
            f = f.with_prefix(prefix);
        }
        if self.waits_for_prompt() {
            f = f.with_prompt();
        }
        if self.pdu_lines() {
            f = f.with_pdu_lines();
        }
        f
    }

    /// Turns the digester's response into the typed answer or the error.
    fn parse_response(&self, response: Response) -> Result<Self::Response, AtError> {
        let lines = response.into_lines()?;
        self.parse(&lines)
    }
}

/// One parameter of a set command.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Param<'a> {
    Int(i32),
    Str(&'a str),
}

/// V.250 §5.2.1: commands end with S3 (CR), not CRLF.
const TERMINATOR: &[u8] = b"\r";

fn with_buffer(f: impl Fn(&mut [u8]) -> Result<&[u8], usize>) -> Vec<u8> {
    let mut small = [0u8; 96];
    match f(&mut small) {
        Ok(bytes) => bytes.to_vec(),
        Err(needed) => {
            let mut big = vec![0u8; needed];
            f(&mut big).map(<[u8]>::to_vec).unwrap_or_default()
        }
    }
}

/// `AT<name>` (V.250 §5.3.1 basic / TS 27.007 §4.1 extended action).
pub(crate) fn execute(name: &str) -> Vec<u8> {
    with_buffer(|buf| {
        CommandBuilder::create_execute(buf, true)
            .named(name)
            .finish_with(TERMINATOR)
    })
}

/// `AT<name>?` (TS 27.007 §4.1 read command).
pub(crate) fn query(name: &str) -> Vec<u8> {
    with_buffer(|buf| {
        CommandBuilder::create_query(buf, true)
            .named(name)
            .finish_with(TERMINATOR)
    })
}

/// `AT<name>=<p1>,<p2>...` (TS 27.007 §4.1 set command). String
/// parameters are checked by the command constructors.
pub(crate) fn set(name: &str, params: &[Param<'_>]) -> Vec<u8> {
    with_buffer(|buf| {
        let mut b = CommandBuilder::create_set(buf, true).named(name);
        for p in params {
            b = match *p {
                Param::Int(i) => b.with_int_parameter(i),
                Param::Str(s) => b.with_string_parameter(s),
            };
        }
        b.finish_with(TERMINATOR)
    })
}

/// The one line that carries `prefix` (e.g. the `+CSQ:` line), or an error.
pub(crate) fn prefixed_line<'a>(
    lines: &'a [String],
    prefix: &str,
) -> Result<(&'a str, &'a str), AtError> {
    lines
        .iter()
        .find_map(|l| super::fields::strip_prefix(l, prefix).map(|rest| (l.as_str(), rest)))
        .ok_or_else(|| AtError::Unexpected(format!("no {prefix} line in {lines:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_with_at_commands_crate_and_cr() {
        assert_eq!(execute("E0"), b"ATE0\r");
        assert_eq!(query("+CREG"), b"AT+CREG?\r");
        assert_eq!(
            set(
                "+CPMS",
                &[Param::Str("SM"), Param::Str("SM"), Param::Str("SM")]
            ),
            b"AT+CPMS=\"SM\",\"SM\",\"SM\"\r"
        );
        assert_eq!(
            set("+CMGD", &[Param::Int(1), Param::Int(4)]),
            b"AT+CMGD=1,4\r"
        );
    }

    #[test]
    fn long_commands_grow_the_buffer() {
        let long = "A".repeat(300);
        assert_eq!(set("+X", &[Param::Str(&long)]).len(), 3 + 2 + 302 + 1);
    }
}
