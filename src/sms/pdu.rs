//! Whole PDUs: the leading SMSC field (3GPP TS 27.005 §3.1, TS 24.011
//! §8.2.5.2) followed by one TPDU whose type TP-MTI names (TS 23.040
//! §9.2.3.1), in both directions, and the hex form modems use.
//!
//! Owns [`Pdu`], [`decode_pdu`], [`decode_hex`] and [`EncodedPdu`]. The
//! per-type layouts live in `deliver`, `submit` and `status_report`.

use serde::{Deserialize, Serialize};

use super::address::Address;
use super::deliver::{Deliver, MTI_DELIVER};
use super::error::PduError;
use super::reader::Reader;
use super::status_report::{StatusReport, MTI_STATUS_REPORT};
use super::submit::{Submit, MTI_SUBMIT};

/// One decoded TPDU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pdu {
    Deliver(Deliver),
    Submit(Submit),
    StatusReport(StatusReport),
}

/// A PDU ready for `AT+CMGS=<tpdu_length>` (TS 27.005 §3.5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncodedPdu {
    /// Uppercase hex, starting with the SMSC field (`00` for the SIM's).
    pub hex: String,
    /// Octets of the TPDU, not counting the SMSC field.
    pub tpdu_length: usize,
}

/// Decodes one PDU. With `with_smsc` the octets start with the SMSC field
/// (as `AT+CMGR`/`+CMGL`/`+CMT` print them); without it they are a bare
/// TPDU. The message type follows TP-MTI as seen by the phone
/// (TS 23.040 §9.2.3.1): 00 deliver, 01 submit, 10 status report.
/// Trailing octets after the user data are ignored.
pub fn decode_pdu(bytes: &[u8], with_smsc: bool) -> Result<(Option<Address>, Pdu), PduError> {
    let mut r = Reader::new(bytes);
    let smsc = if with_smsc {
        Address::decode_smsc(&mut r)?
    } else {
        None
    };
    let fo = r.u8("first octet")?;
    let pdu = match fo & 0x03 {
        MTI_DELIVER => Pdu::Deliver(Deliver::decode_body(fo, &mut r)?),
        MTI_SUBMIT => Pdu::Submit(Submit::decode_body(fo, &mut r)?),
        MTI_STATUS_REPORT => Pdu::StatusReport(StatusReport::decode_body(fo, &mut r)?),
        mti => return Err(PduError::UnsupportedMessageType(mti)),
    };
    Ok((smsc, pdu))
}

/// [`decode_pdu`] for hex text; whitespace around it is ignored.
pub fn decode_hex(hex: &str, with_smsc: bool) -> Result<(Option<Address>, Pdu), PduError> {
    decode_pdu(&parse_hex(hex)?, with_smsc)
}

/// Hex digits to octets, with a message that says what is wrong.
pub fn parse_hex(hex: &str) -> Result<Vec<u8>, PduError> {
    let hex = hex.trim();
    if hex.is_empty() {
        return Err(PduError::BadHex("empty input".into()));
    }
    hex::decode(hex).map_err(|e| PduError::BadHex(e.to_string()))
}

impl Pdu {
    /// The TPDU octets.
    pub fn to_tpdu(&self) -> Result<Vec<u8>, PduError> {
        let mut out = Vec::with_capacity(176);
        match self {
            Pdu::Deliver(d) => d.encode_tpdu(&mut out)?,
            Pdu::Submit(s) => s.encode_tpdu(&mut out)?,
            Pdu::StatusReport(s) => s.encode_tpdu(&mut out)?,
        }
        Ok(out)
    }

    /// The SMSC field (`00` when `smsc` is `None`) followed by the TPDU, as
    /// uppercase hex. Only hex digits ever come out, whatever the text held.
    pub fn encode(&self, smsc: Option<&Address>) -> Result<EncodedPdu, PduError> {
        let mut out = Vec::with_capacity(188);
        Address::encode_smsc(smsc, &mut out)?;
        let tpdu = self.to_tpdu()?;
        let tpdu_length = tpdu.len();
        out.extend(tpdu);
        Ok(EncodedPdu {
            hex: hex::encode_upper(out),
            tpdu_length,
        })
    }
}

/// Encodes one SMS-DELIVER (for the modem emulator).
pub fn encode_deliver(deliver: &Deliver, smsc: Option<&Address>) -> Result<EncodedPdu, PduError> {
    Pdu::Deliver(deliver.clone()).encode(smsc)
}

/// Encodes one SMS-STATUS-REPORT (for the modem emulator).
pub fn encode_status_report(
    report: &StatusReport,
    smsc: Option<&Address>,
) -> Result<EncodedPdu, PduError> {
    Pdu::StatusReport(report.clone()).encode(smsc)
}
