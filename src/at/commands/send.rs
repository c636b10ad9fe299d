//! Sending and routing configuration: `+CMGS` (3GPP TS 27.005 §3.5.1,
//! PDU mode), `+CSCA` (§3.3.1) and `+CNMI` (§3.4.1).
//!
//! Owns: the two-phase `+CMGS` exchange (command, `> ` prompt, PDU hex +
//! Ctrl-Z) and its `+CMGS: <mr>` answer. May not touch: SMS encoding, or
//! the wire — the driver writes [`SendPdu::body`] when the digester
//! reports the prompt.

use std::time::Duration;

use super::pdu_hex::PduHex;
use super::{prefixed_line, query, set, AtCommand, Param, CMGS_TIMEOUT, PLAIN_TIMEOUT};
use crate::at::error::AtError;
use crate::at::fields::{int, opt_int, opt_string, split_params};

/// Ends the PDU after the prompt (TS 27.005 §3.5.1: `<ctrl-Z>`).
pub const CTRL_Z: u8 = 0x1A;

/// Longest PDU accepted: 12-octet SMSC address + 164-octet SMS-SUBMIT
/// (TS 23.040 §9.2.2.2, 140 octets of user data).
const MAX_PDU_OCTETS: usize = 176;

/// `AT+CMGS=<length>` then, after the prompt, `<pdu><ctrl-Z>`
/// (TS 27.005 §3.5.1). Sent once: a retry after a timeout may send the
/// message twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendPdu {
    pdu: PduHex,
    tpdu_length: u8,
}

impl SendPdu {
    /// Wraps a PDU that starts with its SMSC part (`00` = use the stored
    /// SMSC). `<length>` is computed as the TS 27.005 §3.5.1 rule says:
    /// the octets of the TPDU, SMSC part excluded.
    pub fn new(pdu: PduHex) -> Result<Self, AtError> {
        let total = pdu.octet_len();
        let smsc = usize::from(pdu.octet(0).unwrap_or(0));
        if total > MAX_PDU_OCTETS {
            return Err(AtError::InvalidArgument(format!(
                "PDU of {total} octets is longer than {MAX_PDU_OCTETS}"
            )));
        }
        let tpdu = total
            .checked_sub(1 + smsc)
            .filter(|n| *n > 0)
            .and_then(|n| u8::try_from(n).ok())
            .ok_or_else(|| {
                AtError::InvalidArgument("PDU has no TPDU after its SMSC part".into())
            })?;
        Ok(Self {
            pdu,
            tpdu_length: tpdu,
        })
    }

    /// `<length>` of the command.
    pub fn tpdu_length(&self) -> u8 {
        self.tpdu_length
    }

    /// What to write after [`crate::at::Event::Prompt`]: PDU hex then Ctrl-Z.
    pub fn body(&self) -> Vec<u8> {
        let mut out = self.pdu.as_str().as_bytes().to_vec();
        out.push(CTRL_Z);
        out
    }
}

impl AtCommand for SendPdu {
    /// `<mr>`: the TP-Message-Reference, matched later by the status report.
    type Response = u8;
    const TIMEOUT: Duration = CMGS_TIMEOUT;
    const ATTEMPTS: u8 = 1;
    fn to_bytes(&self) -> Vec<u8> {
        set("+CMGS", &[Param::Int(self.tpdu_length.into())])
    }
    fn response_prefix(&self) -> Option<&'static str> {
        Some("+CMGS")
    }
    fn waits_for_prompt(&self) -> bool {
        true
    }
    fn parse(&self, lines: &[String]) -> Result<u8, AtError> {
        let (line, rest) = prefixed_line(lines, "+CMGS")?;
        int(&split_params(rest), 0, line)
    }
}

/// `+CSCA: <sca>,<tosca>` (TS 27.005 §3.3.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SmscAddress {
    /// The service centre number, e.g. `+18095550000`.
    pub number: String,
    /// Type of address (145 international, 129 unknown).
    pub toa: Option<u8>,
}

/// `AT+CSCA?` (TS 27.005 §3.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SmscQuery;

impl AtCommand for SmscQuery {
    type Response = SmscAddress;
    const TIMEOUT: Duration = PLAIN_TIMEOUT;
    fn to_bytes(&self) -> Vec<u8> {
        query("+CSCA")
    }
    fn response_prefix(&self) -> Option<&'static str> {
        Some("+CSCA")
    }
    fn parse(&self, lines: &[String]) -> Result<SmscAddress, AtError> {
        let (line, rest) = prefixed_line(lines, "+CSCA")?;
        let p = split_params(rest);
        Ok(SmscAddress {
            number: opt_string(&p, 0).unwrap_or_default(),
            toa: opt_int(&p, 1, line)?,
        })
    }
}

/// `AT+CNMI=<mode>,<mt>,<bm>,<ds>,<bfr>` (TS 27.005 §3.4.1): how new
/// messages and status reports are indicated. The gateway uses
/// `2,1,0,2,0`: `+CMTI` for stored messages, `+CDSI` for stored reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetNewMessageIndications {
    /// `<mode>`: 2 = buffer URCs while the link is busy.
    pub mode: u8,
    /// `<mt>`: 1 = `+CMTI`, 2 = `+CMT`.
    pub mt: u8,
    /// `<bm>`: cell broadcast.
    pub bm: u8,
    /// `<ds>`: 1 = `+CDS`, 2 = `+CDSI`.
    pub ds: u8,
    /// `<bfr>`: 0 = flush buffered URCs.
    pub bfr: u8,
}

impl Default for SetNewMessageIndications {
    fn default() -> Self {
        Self {
            mode: 2,
            mt: 1,
            bm: 0,
            ds: 2,
            bfr: 0,
        }
    }
}

impl AtCommand for SetNewMessageIndications {
    type Response = ();
    const TIMEOUT: Duration = PLAIN_TIMEOUT;
    fn to_bytes(&self) -> Vec<u8> {
        let ints = [self.mode, self.mt, self.bm, self.ds, self.bfr].map(|n| Param::Int(n.into()));
        set("+CNMI", &ints)
    }
    fn parse(&self, _lines: &[String]) -> Result<(), AtError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SIMCom SIM800 AT manual §4.2.5 example PDU ("hellohello" to a
    /// national number), SMSC part `00`.
    const SIM800_PDU: &str = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37";

    #[test]
    fn cmgs_length_excludes_the_smsc_part() {
        let pdu = PduHex::parse(SIM800_PDU).unwrap_or_else(|e| panic!("{e}"));
        let cmd = SendPdu::new(pdu).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cmd.tpdu_length(), 23);
        assert_eq!(cmd.to_bytes(), b"AT+CMGS=23\r");
        let mut body = SIM800_PDU.as_bytes().to_vec();
        body.push(0x1A);
        assert_eq!(cmd.body(), body);
        assert!(cmd.waits_for_prompt());
        assert_eq!(cmd.attempts(), 1);
    }

    #[test]
    fn body_has_exactly_one_control_byte_whatever_the_octets() {
        // Octets 0x1A and 0x1B inside the message become "1A"/"1B" text.
        let pdu = PduHex::from_octets(&[0x00, 0x01, 0x1A, 0x1B, 0x0D]);
        let body = SendPdu::new(pdu).map(|c| c.body()).unwrap_or_default();
        assert_eq!(body, b"00011A1B0D\x1A");
        assert_eq!(body.iter().filter(|b| **b < 0x20).count(), 1);
    }

    #[test]
    fn smsc_longer_than_pdu_is_refused() {
        let pdu = PduHex::parse("0791").unwrap_or_else(|e| panic!("{e}"));
        assert!(SendPdu::new(pdu).is_err());
        let huge = PduHex::from_octets(&[0u8; 200]);
        assert!(SendPdu::new(huge).is_err());
    }

    #[test]
    fn cmgs_response_and_csca() {
        let cmd = SendPdu::new(PduHex::from_octets(&[0, 1, 2])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cmd.parse(&["+CMGS: 12".to_string()]), Ok(12));
        assert!(cmd.parse(&[]).is_err());
        let csca = SmscQuery.parse(&[r#"+CSCA: "+18095550000",145"#.to_string()]);
        assert_eq!(
            csca.map(|c| (c.number, c.toa)),
            Ok(("+18095550000".into(), Some(145)))
        );
        assert_eq!(
            SetNewMessageIndications::default().to_bytes(),
            b"AT+CNMI=2,1,0,2,0\r"
        );
    }
}
