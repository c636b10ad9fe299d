//! From a text to ready-to-send PDUs: SMS-SUBMIT parts for `AT+CMGS`
//! (3GPP TS 23.040 §9.2.2.2) and SMS-DELIVER parts for the modem emulator
//! (§9.2.2.1), with concatenation headers (§9.2.3.24.1) when a text needs
//! several parts.
//!
//! Owns [`SubmitOptions`] and the per-part numbering. Alphabet choice and
//! cutting are `split`'s; field layouts are the PDU modules'.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use super::address::Address;
use super::deliver::Deliver;
use super::error::PduError;
use super::pdu::{EncodedPdu, Pdu};
use super::split::{split, Part};
use super::submit::{Submit, Validity};
use super::udh::Udh;
use super::user_data::UserData;

/// How to send: TP-SRR, TP-VP (relative), TP-MR of the first part, and the
/// SMSC to name in the leading field (`None`: the SIM's, field `00`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitOptions {
    pub status_report: bool,
    /// Relative validity in minutes (rounded up to the TS 23.040 §9.2.3.12.1
    /// scale), `None` for the service centre's default.
    pub validity: Option<u32>,
    /// TP-MR of the first part; later parts count up from it.
    pub message_ref: u8,
    pub smsc: Option<String>,
}

fn numbered(parts: Vec<Part>, concat_ref: u8) -> Result<Vec<(Part, Option<Udh>)>, PduError> {
    let total = u8::try_from(parts.len()).map_err(|_| PduError::TooManyParts(parts.len()))?;
    Ok(parts
        .into_iter()
        .zip(1..=total)
        .map(|(part, seq)| {
            let udh = (total > 1).then(|| Udh::concat(u16::from(concat_ref), total, seq));
            (part, udh)
        })
        .collect())
}

/// SMS-SUBMIT PDUs for `text` to `to` (`+` international, digits, or an
/// alphanumeric name), one per part. Reject-duplicates is off. Several
/// parts share the 8-bit concatenation reference `concat_ref`.
pub fn encode_submit(
    to: &str,
    text: &str,
    opts: &SubmitOptions,
    concat_ref: u8,
) -> Result<Vec<EncodedPdu>, PduError> {
    let destination = Address::parse(to)?;
    let smsc = opts.smsc.as_deref().map(Address::parse).transpose()?;
    let validity = opts.validity.map_or(Validity::None, Validity::Relative);
    numbered(split(text), concat_ref)?
        .into_iter()
        .enumerate()
        .map(|(i, (part, udh))| {
            let submit = Submit {
                reject_duplicates: false,
                validity: validity.clone(),
                status_report_request: opts.status_report,
                reply_path: false,
                message_ref: opts.message_ref.wrapping_add(i as u8),
                destination: destination.clone(),
                pid: 0,
                dcs: part.encoding.dcs(),
                user_data: UserData {
                    udh,
                    ..UserData::text(&part.text)
                },
            };
            Pdu::Submit(submit).encode(smsc.as_ref())
        })
        .collect()
}

/// SMS-DELIVER values for `text` from `from`, one per part, as a phone
/// would receive them (the emulator's inbound side).
pub fn deliver_parts(
    from: &Address,
    text: &str,
    scts: DateTime<FixedOffset>,
    concat_ref: u8,
) -> Result<Vec<Deliver>, PduError> {
    Ok(numbered(split(text), concat_ref)?
        .into_iter()
        .map(|(part, udh)| {
            let ud = UserData {
                udh,
                ..UserData::text(&part.text)
            };
            Deliver::new(from.clone(), scts, part.encoding, ud)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sms::pdu::decode_hex;

    #[test]
    fn submit_python_gsmmodem_hello_world() {
        // python-gsmmodem test_pdu.py: '+27820001111', 'Hello World!', MR 0.
        let pdus =
            encode_submit("+27820001111", "Hello World!", &SubmitOptions::default(), 0).unwrap();
        assert_eq!(pdus.len(), 1);
        assert_eq!(
            pdus[0].hex,
            "0001000B917228001011F100000CC8329BFD065DDF72363904"
        );
        assert_eq!(pdus[0].tpdu_length, pdus[0].hex.len() / 2 - 1);
    }

    #[test]
    fn submit_with_smsc_report_and_validity() {
        let opts = SubmitOptions {
            status_report: true,
            validity: Some(3 * 24 * 60),
            message_ref: 7,
            smsc: Some("+27381000015".into()),
        };
        let pdus = encode_submit("+18095551234", "Hola", &opts, 0).unwrap();
        assert!(pdus[0].hex.starts_with("07917283010010F5"));
        assert_eq!(pdus[0].tpdu_length, pdus[0].hex.len() / 2 - 8);
        let (smsc, pdu) = decode_hex(&pdus[0].hex, true).unwrap();
        assert_eq!(smsc.unwrap().to_string(), "+27381000015");
        let Pdu::Submit(s) = pdu else {
            panic!("not a submit")
        };
        assert!(s.status_report_request && !s.reject_duplicates);
        assert_eq!(s.validity_minutes(), Some(3 * 24 * 60));
        assert_eq!(s.message_ref, 7);
        assert_eq!(s.destination.to_string(), "+18095551234");
    }

    #[test]
    fn ctrl_z_and_escape_reach_the_wire_only_as_hex() {
        let pdus = encode_submit("+1809", "a\u{1A}b\u{1B}c", &SubmitOptions::default(), 0).unwrap();
        assert!(pdus[0].hex.bytes().all(|b| b.is_ascii_hexdigit()));
        let (_, Pdu::Submit(s)) = decode_hex(&pdus[0].hex, true).unwrap() else {
            panic!("not a submit")
        };
        assert_eq!(s.user_data.text.as_deref(), Some("a\u{1A}b\u{1B}c"));
    }

    #[test]
    fn multipart_gets_concat_headers() {
        let text = "x".repeat(400);
        let pdus = encode_submit("+1809", &text, &SubmitOptions::default(), 0x42).unwrap();
        assert_eq!(pdus.len(), 3);
        for (i, p) in pdus.iter().enumerate() {
            let (_, Pdu::Submit(s)) = decode_hex(&p.hex, true).unwrap() else {
                panic!("not a submit")
            };
            let c = s.user_data.udh.unwrap().concat.unwrap();
            assert_eq!((c.reference, c.total, usize::from(c.seq)), (0x42, 3, i + 1));
            assert_eq!(s.message_ref, i as u8);
        }
    }

    #[test]
    fn too_many_parts_is_an_error() {
        let text = "a".repeat(153 * 256);
        assert_eq!(
            encode_submit("+1809", &text, &SubmitOptions::default(), 0),
            Err(PduError::TooManyParts(256))
        );
    }
}
