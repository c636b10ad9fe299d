//! SIM identity: the ICCID through `AT+CRSM=176,12258,0,0,10` (3GPP TS
//! 27.007 §8.18 restricted SIM access, READ BINARY of EF_ICCID 0x2FE2,
//! TS 31.102 §4.1.1 / TS 11.11 §10.1.1), and `AT+CCID` where `+CRSM` is
//! refused (not in TS 27.007; SIMCom, Quectel, Telit know it). The IMSI
//! is [`super::Imsi`] (`+CIMI`).
//!
//! Owns: these commands and the nibble-swapped BCD decoding of EF_ICCID.
//! May not touch: the digester or any I/O.

use std::time::Duration;

use super::{execute, prefixed_line, set, AtCommand, Param, PLAIN_TIMEOUT};
use crate::at::error::AtError;
use crate::at::fields::{int, parse_err, split_params, strip_prefix, unquote};

/// READ BINARY (TS 27.007 §8.18 `<command>` 176).
const READ_BINARY: i32 = 176;
/// EF_ICCID, file id 0x2FE2 (TS 11.11 §10.1.1).
const EF_ICCID: i32 = 0x2FE2;
/// EF_ICCID is 10 octets.
const ICCID_OCTETS: i32 = 10;

/// `AT+CRSM=176,12258,0,0,10`: the ICCID as stored on the card, as
/// ModemManager reads it first (`src/mm-base-sim.c`,
/// `load_sim_identifier`, then `mm_3gpp_parse_iccid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadIccid;

impl AtCommand for ReadIccid {
    type Response = String;
    const TIMEOUT: Duration = PLAIN_TIMEOUT;
    fn to_bytes(&self) -> Vec<u8> {
        set(
            "+CRSM",
            &[
                Param::Int(READ_BINARY),
                Param::Int(EF_ICCID),
                Param::Int(0),
                Param::Int(0),
                Param::Int(ICCID_OCTETS),
            ],
        )
    }
    fn response_prefix(&self) -> Option<&'static str> {
        Some("+CRSM")
    }
    /// `+CRSM: <sw1>,<sw2>[,<response>]`: `<sw1>` 144 (0x90) is success
    /// (TS 11.11 §9.4.1; ModemManager also takes 0x91, 0x92 and 0x9F).
    fn parse(&self, lines: &[String]) -> Result<String, AtError> {
        let (line, rest) = prefixed_line(lines, "+CRSM")?;
        let p = split_params(rest);
        let sw1 = int::<u8>(&p, 0, line)?;
        if !matches!(sw1, 0x90 | 0x91 | 0x92 | 0x9F) {
            return Err(parse_err(line, "the SIM refused the read"));
        }
        let raw = p.get(2).map(|r| unquote(r)).unwrap_or_default();
        iccid_from_bcd(raw).ok_or_else(|| parse_err(line, "not an ICCID"))
    }
}

/// EF_ICCID contents (hex) to the ICCID: each octet holds two digits,
/// low nibble first; `F` fills an odd length (TS 11.11 §10.1.1,
/// ModemManager `mm_3gpp_parse_iccid`). `None` unless 18 to 20 digits.
pub fn iccid_from_bcd(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.len() % 2 != 0 || !raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut digits = String::with_capacity(raw.len());
    for pair in raw.as_bytes().chunks_exact(2) {
        digits.push(char::from(pair[1]));
        digits.push(char::from(pair[0]));
    }
    iccid(&digits)
}

/// `text` as an ICCID: 18 to 20 digits once the `F` padding is dropped.
fn iccid(text: &str) -> Option<String> {
    let digits = text.trim_end_matches(['F', 'f']);
    let ok = (18..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| digits.to_owned())
}

/// `AT+CCID`: the ICCID as `+CCID: <iccid>` (Quectel, Telit, SIMCom
/// SIM7600) or a bare line of digits (SIMCom SIM800 manual §6.2.23).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CcidQuery;

impl AtCommand for CcidQuery {
    type Response = String;
    const TIMEOUT: Duration = PLAIN_TIMEOUT;
    fn to_bytes(&self) -> Vec<u8> {
        execute("+CCID")
    }
    fn response_prefix(&self) -> Option<&'static str> {
        Some("+CCID")
    }
    fn parse(&self, lines: &[String]) -> Result<String, AtError> {
        lines
            .iter()
            .find_map(|l| {
                let text = strip_prefix(l, "+CCID").unwrap_or(l);
                iccid(unquote(text.trim()))
            })
            .ok_or_else(|| AtError::Unexpected(format!("no ICCID in {lines:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn bytes_on_the_wire() {
        assert_eq!(ReadIccid.to_bytes(), b"AT+CRSM=176,12258,0,0,10\r");
        assert_eq!(CcidQuery.to_bytes(), b"AT+CCID\r");
    }

    /// ModemManager's `test-modem-helpers.c` ICCID vectors: swapped BCD,
    /// with and without the `F` filler.
    #[test]
    fn crsm_iccid_is_nibble_swapped() {
        assert_eq!(
            ReadIccid
                .parse(&lines(&[r#"+CRSM: 144,0,"98101430121181157002""#]))
                .ok()
                .as_deref(),
            Some("89014103211118510720")
        );
        assert_eq!(
            iccid_from_bcd("981020300000001000F0").as_deref(),
            Some("8901020300000001000")
        );
        assert!(ReadIccid.parse(&lines(&["+CRSM: 106,130"])).is_err());
        assert!(ReadIccid
            .parse(&lines(&[r#"+CRSM: 144,0,"98AB""#]))
            .is_err());
        assert_eq!(iccid_from_bcd("981"), None);
        assert_eq!(iccid_from_bcd("98101430121181157Z02"), None);
    }

    #[test]
    fn ccid_with_prefix_or_bare_simcom() {
        assert_eq!(
            CcidQuery
                .parse(&lines(&["+CCID: 89014103211118510720"]))
                .ok()
                .as_deref(),
            Some("89014103211118510720")
        );
        assert_eq!(
            CcidQuery
                .parse(&lines(&["8901410321111851072F"]))
                .ok()
                .as_deref(),
            Some("8901410321111851072")
        );
        assert!(CcidQuery.parse(&lines(&["+CCID: ERROR"])).is_err());
    }
}
