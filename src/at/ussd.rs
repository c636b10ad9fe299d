//! USSD strings on the AT line (3GPP TS 27.007 §7.15 `+CUSD`, TS 23.038
//! §5 for the data coding scheme, TS 22.090 / TS 24.090 for the service):
//! the `+CUSD:` result code, encoding a request and decoding an answer.
//!
//! Owns: parsing `+CUSD: <m>[,<str>,<dcs>]` (the digester hands it over
//! whole, multi-line ones joined), the request string in either form
//! (plain, or GSM 7-bit packed hex for Huawei), and [`decode`], which
//! turns `<str>` + `<dcs>` into text or a clear error, never a panic.
//! May not touch: I/O, clocks, sessions (the modem layer keeps those).
//!
//! `<dcs>` of USSD is the Cell Broadcast data coding scheme (TS 23.038 §5,
//! by reference from TS 23.038 §4 and TS 24.090), not the SMS one:
//! - `0x00`–`0x0F`, `0x20`–`0x3F` (language groups), `0x10` (GSM 7-bit
//!   with a language prefix), `0x40`–`0x7F` and `0x90`–`0x9F` with bits 3-2
//!   `00`, `0xF0`–`0xF3`: GSM 7-bit. With `+CSCS` left alone the modem
//!   prints these as plain characters of the TE character set, the usual
//!   `dcs` 15 answer (python-gsmmodem `gsmmodem/modem.py`, `sendUssd`).
//! - bits 3-2 `10` of groups `01xx`/`1001` (`0x48`, 72): UCS-2, printed as
//!   hex of big-endian code units (ModemManager `mm-broadband-modem.c`,
//!   `modem_3gpp_ussd_decode` with the UCS2 charset).
//! - `0x11`: UCS-2 preceded by a two-character language (TS 23.038 §5:
//!   two GSM 7-bit characters packed into the first two octets).
//! - bits 3-2 `01` (`0x44`) and `0xF4`–`0xF7`: 8-bit data, hex.
//!
//! Huawei sticks take and give GSM 7-bit text packed into octets and
//! printed as hex (`*100#` → `AA180C3602`): ModemManager
//! `src/plugins/huawei/mm-broadband-modem-huawei.c`,
//! `huawei_modem_3gpp_ussd_encode` / `..._decode`, which pack with
//! `mm_charset_gsm_pack` and unpack with `mm_charset_gsm_unpack`. That is
//! the `ussd_packed_hex` profile quirk.

use super::fields::{int, opt_int, split_params, strip_prefix, unquote};
use crate::sms::gsm7;

/// Longest USSD string (TS 23.038 §6.1.2.3: 182 septets on the air; the
/// gateway keeps requests within 160 characters, as most networks do).
pub const MAX_USSD_LEN: usize = 160;

/// The `<dcs>` smsgate sends requests with: 15, GSM 7-bit, no language
/// (TS 23.038 §5 group `0000`), as python-gsmmodem and ModemManager do.
pub const REQUEST_DCS: u8 = 15;

/// Why a USSD string could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UssdCodecError {
    /// The request cannot be sent as it is.
    #[error("cannot send {text:?} as USSD: {reason}")]
    Unsendable {
        /// The request.
        text: String,
        /// What was wrong.
        reason: &'static str,
    },
    /// The answer does not fit its `<dcs>`.
    #[error("undecodable USSD answer {raw:?} (dcs {dcs:?}): {reason}")]
    Garbled {
        /// `<str>` as the modem printed it.
        raw: String,
        /// `<dcs>`.
        dcs: Option<u8>,
        /// What was wrong.
        reason: &'static str,
    },
}

/// The `<m>` of `+CUSD:` (TS 27.007 §7.15).
pub mod status {
    /// No further user action required (the session is over).
    pub const DONE: u8 = 0;
    /// Further user action required: a menu waits for an answer.
    pub const MENU: u8 = 1;
    /// USSD terminated by the network.
    pub const TERMINATED: u8 = 2;
    /// Another local client has responded.
    pub const OTHER_CLIENT: u8 = 3;
    /// Operation not supported.
    pub const NOT_SUPPORTED: u8 = 4;
    /// Network time out.
    pub const NETWORK_TIMEOUT: u8 = 5;
}

/// The alphabet a USSD `<dcs>` selects (TS 23.038 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alphabet {
    Gsm7,
    Ucs2,
    /// UCS-2 after a two-character language (`0x11`).
    Ucs2WithLanguage,
    EightBit,
}

fn alphabet(dcs: u8) -> Alphabet {
    let general = |dcs: u8| match (dcs >> 2) & 0x03 {
        0b01 => Alphabet::EightBit,
        0b10 => Alphabet::Ucs2,
        // 00, and 11 (reserved: treated as the default alphabet, §5).
        _ => Alphabet::Gsm7,
    };
    match dcs >> 4 {
        0x1 if dcs & 0x0F == 0x01 => Alphabet::Ucs2WithLanguage,
        0x4..=0x7 | 0x9 => general(dcs),
        0xF if dcs & 0x04 != 0 => Alphabet::EightBit,
        // 0000, 0010, 0011 language groups, 0001 with GSM 7-bit, 1111
        // GSM 7-bit, and the reserved groups (default alphabet, §5).
        _ => Alphabet::Gsm7,
    }
}

/// Parses the parameters after `+CUSD:` into `(m, str, dcs)`; `None` when
/// they are not `<m>[,"<str>"[,<dcs>]]`.
pub(crate) fn parse_cusd(line: &str) -> Option<(u8, Option<String>, Option<u8>)> {
    let rest = strip_prefix(line, "+CUSD")?;
    let p = split_params(rest);
    let m = int::<u8>(&p, 0, line).ok()?;
    let text = p.get(1).map(|raw| unquote(raw).to_owned());
    let dcs = opt_int::<u8>(&p, 2, line).ok()?;
    (p.len() <= 3).then_some((m, text, dcs))
}

/// Whether a `+CUSD:` line has opened its quoted string and not yet closed
/// it: the answer goes on in the next line (python-gsmmodem issue #20:
/// some networks put CR LF inside the text; its `_parseCusdResponse` joins
/// the notification lines and matches `\+CUSD:\s*(\d),"(.*?)",(\d+)` with
/// `re.DOTALL`).
pub(crate) fn string_is_open(line: &str) -> bool {
    line.bytes().filter(|b| *b == b'"').count() % 2 == 1
}

/// The request string for `AT+CUSD=1,"<str>",15`: the text itself, or
/// (`packed`, Huawei) its GSM 7-bit septets packed and printed as hex.
pub fn encode_request(text: &str, packed: bool) -> Result<String, UssdCodecError> {
    let unsendable = |reason| UssdCodecError::Unsendable {
        text: text.to_owned(),
        reason,
    };
    if text.is_empty() {
        return Err(unsendable("empty"));
    }
    if text.chars().count() > MAX_USSD_LEN {
        return Err(unsendable("longer than 160 characters"));
    }
    // A quote would end the string early; a control character could end
    // the command line (CR) or open a prompt (Ctrl-Z, ESC).
    if text.chars().any(|c| c == '"' || c.is_control()) {
        return Err(unsendable("quotes and control characters cannot be sent"));
    }
    let septets = gsm7::encode(text).map_err(|_| unsendable("not in the GSM 7-bit alphabet"))?;
    if !packed {
        return Ok(text.to_owned());
    }
    let mut octets = gsm7::pack(&septets, 0);
    // TS 23.038 §6.1.2.3.1: seven spare bits at the end are filled with CR
    // so the receiver does not read an `@`.
    if septets.len() % 8 == 7 {
        if let Some(last) = octets.last_mut() {
            *last |= 0x0D << 1;
        }
    }
    Ok(hex::encode_upper(octets))
}

/// Turns `<str>` and `<dcs>` of a `+CUSD:` answer into text. `packed` is
/// the Huawei quirk: GSM 7-bit answers come as packed septets in hex.
/// Never panics; anything that does not fit its `<dcs>` is
/// [`UssdCodecError::Garbled`], naming the raw string.
pub fn decode(raw: &str, dcs: Option<u8>, packed: bool) -> Result<String, UssdCodecError> {
    let garbled = |reason| UssdCodecError::Garbled {
        raw: raw.to_owned(),
        dcs,
        reason,
    };
    let Some(dcs) = dcs else {
        // No <dcs>: the modem already made it text.
        return Ok(raw.to_owned());
    };
    match alphabet(dcs) {
        Alphabet::Gsm7 if !packed => Ok(raw.to_owned()),
        Alphabet::Gsm7 => {
            let octets = hex_octets(raw).ok_or_else(|| garbled("not packed GSM 7-bit hex"))?;
            let mut septets = gsm7::unpack(&octets, octets.len() * 8 / 7);
            // Seven spare bits at the end: CR fill (§6.1.2.3.1), or zeros
            // from a network that does not fill.
            if septets.len() % 8 == 0 && matches!(septets.last(), Some(0x0D | 0x00)) {
                septets.pop();
            }
            Ok(gsm7::decode(&septets))
        }
        Alphabet::Ucs2 => ucs2(raw).ok_or_else(|| garbled("not UCS-2 hex")),
        Alphabet::Ucs2WithLanguage => {
            let octets = hex_octets(raw).ok_or_else(|| garbled("not UCS-2 hex"))?;
            let body = match octets.get(..2) {
                Some(head) if is_language(head) => octets.get(2..).unwrap_or_default(),
                _ => octets.as_slice(),
            };
            utf16(body).ok_or_else(|| garbled("not UCS-2 hex"))
        }
        Alphabet::EightBit => {
            let octets = hex_octets(raw).ok_or_else(|| garbled("not 8-bit data hex"))?;
            // 8-bit data has no alphabet; UTF-8 if it is, else one
            // character per octet (ISO 8859-1), so nothing is lost.
            Ok(String::from_utf8(octets.clone())
                .unwrap_or_else(|_| octets.iter().map(|b| char::from(*b)).collect()))
        }
    }
}

/// Two octets that hold an ISO 639 language as two packed GSM 7-bit
/// letters (TS 23.038 §5, `dcs` `0x11`); the spare bits are CR fill.
fn is_language(head: &[u8]) -> bool {
    let letters = gsm7::unpack(head, 2);
    letters.len() == 2 && letters.iter().all(|s| s.is_ascii_lowercase())
}

fn hex_octets(raw: &str) -> Option<Vec<u8>> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Some(Vec::new());
    }
    hex::decode(raw).ok()
}

fn ucs2(raw: &str) -> Option<String> {
    utf16(&hex_octets(raw)?)
}

/// Big-endian UTF-16 (UCS-2 as written by modems; surrogate pairs kept).
fn utf16(octets: &[u8]) -> Option<String> {
    if octets.len() % 2 != 0 {
        return None;
    }
    let units: Vec<u16> = octets
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Huawei packing (TS 23.038 §6.1.2.1.1, least significant bit
    /// first): `*100#` is `AA180C3602`, `*123#` is `AA986C3602`.
    #[test]
    fn huawei_request_is_packed_hex() {
        assert_eq!(
            encode_request("*100#", true).ok().as_deref(),
            Some("AA180C3602")
        );
        assert_eq!(
            encode_request("*123#", true).ok().as_deref(),
            Some("AA986C3602")
        );
        assert_eq!(
            encode_request("*123#", false).ok().as_deref(),
            Some("*123#")
        );
        assert_eq!(encode_request("1", true).ok().as_deref(), Some("31"));
    }

    #[test]
    fn seven_septets_end_with_cr_fill_and_round_trip() {
        let hex = encode_request("*100*1#", true).unwrap_or_default();
        assert_eq!(hex.len(), 14);
        assert_eq!(
            decode(&hex, Some(15), true).ok().as_deref(),
            Some("*100*1#")
        );
    }

    #[test]
    fn requests_that_cannot_be_sent() {
        for bad in ["", "*1\"#", "*1\r#", "*\u{1a}#", "日本"] {
            assert!(encode_request(bad, false).is_err(), "{bad:?}");
        }
        assert!(encode_request(&"1".repeat(161), false).is_err());
        assert!(encode_request(&"1".repeat(160), false).is_ok());
    }

    #[test]
    fn dcs_15_is_plain_text() {
        assert_eq!(
            decode("Saldo: RD$ 25.00", Some(15), false).ok().as_deref(),
            Some("Saldo: RD$ 25.00")
        );
        assert_eq!(decode("x", None, false).ok().as_deref(), Some("x"));
        // Language groups (TS 23.038 §5 group 0000: German 0x00, Spanish 0x02).
        assert_eq!(
            decode("Hola", Some(0x02), false).ok().as_deref(),
            Some("Hola")
        );
        assert_eq!(
            decode("Hola", Some(0x40), false).ok().as_deref(),
            Some("Hola")
        );
    }

    #[test]
    fn huawei_answer_is_packed_hex() {
        let hex = encode_request("Saldo 25.00", true).unwrap_or_default();
        assert_eq!(
            decode(&hex, Some(15), true).ok().as_deref(),
            Some("Saldo 25.00")
        );
        assert!(matches!(
            decode("Saldo", Some(15), true),
            Err(UssdCodecError::Garbled { .. })
        ));
    }

    #[test]
    fn ucs2_dcs_72_and_0x11() {
        // "Añó €" as UTF-16BE.
        let hex = "0041 00F1 00F3 0020 20AC".replace(' ', "");
        assert_eq!(decode(&hex, Some(72), false).ok().as_deref(), Some("Añó €"));
        assert_eq!(
            decode(&hex, Some(0x48), true).ok().as_deref(),
            Some("Añó €")
        );
        // 0x11 with the language "es" packed first (CR fill in the spare bits).
        let lang = {
            let mut o = crate::sms::gsm7::pack(b"es", 0);
            o[1] |= 0x40; // the low two bits of CR
            hex::encode_upper(o)
        };
        assert_eq!(
            decode(&format!("{lang}{hex}"), Some(0x11), false)
                .ok()
                .as_deref(),
            Some("Añó €")
        );
        assert_eq!(
            decode(&hex, Some(0x11), false).ok().as_deref(),
            Some("Añó €")
        );
        // An emoji as a surrogate pair.
        assert_eq!(
            decode("D83DDE00", Some(72), false).ok().as_deref(),
            Some("😀")
        );
    }

    #[test]
    fn eight_bit_data_is_hex() {
        assert_eq!(
            decode("48690A", Some(0x44), false).ok().as_deref(),
            Some("Hi\n")
        );
        assert_eq!(decode("E9", Some(0x44), false).ok().as_deref(), Some("é"));
    }

    #[test]
    fn garbage_is_an_error_naming_the_raw_text() {
        for (raw, dcs) in [("0041004", 72), ("zz", 72), ("D800", 72), ("xyz", 0x44)] {
            match decode(raw, Some(dcs), false) {
                Err(UssdCodecError::Garbled { raw: r, .. }) => assert_eq!(r, raw),
                other => panic!("{raw}: {other:?}"),
            }
        }
    }

    #[test]
    fn cusd_parameters() {
        assert_eq!(
            parse_cusd(r#"+CUSD: 0,"Saldo, RD$ 5",15"#),
            Some((0, Some("Saldo, RD$ 5".into()), Some(15)))
        );
        assert_eq!(parse_cusd("+CUSD: 4"), Some((4, None, None)));
        assert_eq!(parse_cusd("+CUSD: x"), None);
        assert!(string_is_open(r#"+CUSD: 1,"1. Saldo"#));
        assert!(!string_is_open(r#"+CUSD: 1,"1. Saldo",15"#));
    }

    proptest::proptest! {
        /// Whatever a modem prints, decoding answers or errs; never panics.
        #[test]
        fn decode_never_panics(raw in ".{0,64}", dcs in proptest::option::of(0u8..=255), packed: bool) {
            let _ = decode(&raw, dcs, packed);
        }

        /// Packed requests decode back to themselves.
        #[test]
        fn packed_round_trip(code in "[0-9*#]{1,40}") {
            let hex = encode_request(&code, true).unwrap_or_default();
            proptest::prop_assert_eq!(decode(&hex, Some(15), true).ok(), Some(code));
        }
    }
}
