//! Redaction of a transcript, so that a technician can publish it: the
//! modem's behaviour stays, the people's data goes.
//!
//! - Every PDU (an answer line of `+CMGR`, `+CMGL`, `+CMT`, `+CDS`, or
//!   the body written after `AT+CMGS`'s prompt) is decoded, its numbers
//!   and text replaced, and encoded again with the same alphabet, the same
//!   concatenation header and the same lengths, so `AT+CMGS=<n>` and
//!   `+CMGR: …,<n>` still match it.
//! - Every other run of six or more digits (numbers in `+CNUM`, `+CSCA`,
//!   `+CLIP`; IMEI, IMSI, ICCID answers) becomes a run of the same length.
//!   The same number gets the same placeholder everywhere, so a
//!   conversation still reads as one.
//! - Text becomes `x` (GSM 7-bit, the same septets) or `ж` (UCS-2, the
//!   same UTF-16 units); binary user data becomes zeros.
//!
//! Every replacement keeps the byte length, so the entries keep their
//! boundaries and times: each direction is redacted as one stream and cut
//! again where it was cut.
//!
//! Not recognised: message texts in text mode (`AT+CMGF=1`), which
//! smsgate does not use; such a transcript keeps their words (the numbers
//! in their headers are replaced).

use std::collections::HashMap;

use super::{escape, Dir, Entry};
use crate::sms::{decode_hex, septet_cost, Address, AddressKind, Encoding, Pdu, UserData};

/// Placeholders given so far, so that one number is one placeholder.
#[derive(Default)]
struct Names {
    numbers: HashMap<String, String>,
}

impl Names {
    /// A run of digits of the same length, the same for the same input:
    /// `5550100…`, then the placeholder's serial in its last digits.
    fn digits(&mut self, original: &str) -> String {
        let n = self.numbers.len();
        self.numbers
            .entry(original.to_string())
            .or_insert_with(|| {
                let serial = format!("{:02}", n + 1);
                let mut s: String = "5550100".chars().cycle().take(original.len()).collect();
                if s.len() >= serial.len() {
                    s.replace_range(s.len() - serial.len().., &serial);
                }
                s
            })
            .clone()
    }

    fn address(&mut self, a: &mut Address) {
        if matches!(
            a.kind,
            AddressKind::International | AddressKind::National | AddressKind::Unknown
        ) && a.number.chars().all(|c| c.is_ascii_digit())
            && a.number.len() >= 3
        {
            a.number = self.digits(&a.number);
        }
    }

    /// Text of the same encoded length; binary data zeroed.
    fn user_data(ud: &mut UserData, dcs: u8) {
        if let Some(text) = &ud.text {
            let placeholder = match Encoding::from_dcs(dcs) {
                Encoding::Gsm7 => {
                    let septets: usize = text.chars().map(|c| septet_cost(c).unwrap_or(1)).sum();
                    "x".repeat(septets)
                }
                Encoding::Ucs2 => "ж".repeat(text.encode_utf16().count()),
                _ => text.clone(),
            };
            ud.text = Some(placeholder);
        } else {
            for b in &mut ud.data {
                *b = 0;
            }
        }
    }

    /// A PDU in hex, redacted and encoded again at the same length; `None`
    /// when it is not a PDU this codec reads back exactly.
    fn pdu(&mut self, hex: &str) -> Option<String> {
        let (smsc, pdu) = decode_hex(hex, true).ok()?;
        // Only what the codec encodes back to the same octets is touched.
        if !pdu
            .encode(smsc.as_ref())
            .ok()?
            .hex
            .eq_ignore_ascii_case(hex)
        {
            return None;
        }
        let mut smsc = smsc;
        if let Some(a) = &mut smsc {
            self.address(a);
        }
        let mut pdu = pdu;
        match &mut pdu {
            Pdu::Deliver(d) => {
                self.address(&mut d.originator);
                Self::user_data(&mut d.user_data, d.dcs);
            }
            Pdu::Submit(s) => {
                self.address(&mut s.destination);
                Self::user_data(&mut s.user_data, s.dcs);
            }
            Pdu::StatusReport(r) => {
                self.address(&mut r.recipient);
                if let (Some(ud), Some(dcs)) = (&mut r.user_data, r.dcs) {
                    Self::user_data(ud, dcs);
                }
            }
        }
        let out = pdu.encode(smsc.as_ref()).ok()?.hex;
        (out.len() == hex.len()).then_some(out)
    }

    /// Digit runs of six or more in `text` replaced, length kept.
    fn numbers_in(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut run = String::new();
        for c in text.chars().chain(std::iter::once('\u{0}')) {
            if c.is_ascii_digit() {
                run.push(c);
                continue;
            }
            if run.len() >= 6 {
                out.push_str(&self.digits(&run));
            } else {
                out.push_str(&run);
            }
            run.clear();
            if c != '\u{0}' {
                out.push(c);
            }
        }
        out
    }
}

/// One direction's bytes, redacted at the same length.
fn redact_stream(bytes: &[u8], names: &mut Names) -> Vec<u8> {
    // Split into tokens at line ends and Ctrl-Z, keeping the separators.
    let mut out = Vec::with_capacity(bytes.len());
    let mut start = 0;
    for i in 0..=bytes.len() {
        let at_end = i == bytes.len();
        if !at_end && !matches!(bytes[i], b'\r' | b'\n' | 0x1a) {
            continue;
        }
        let piece = &bytes[start..i];
        match std::str::from_utf8(piece) {
            Ok(text) => {
                let trimmed = text.trim_start_matches("> ");
                let lead = text.len() - trimmed.len();
                let redacted = if crate::transcript::looks_like_pdu(trimmed) {
                    names
                        .pdu(trimmed)
                        .unwrap_or_else(|| names.numbers_in(trimmed))
                } else {
                    names.numbers_in(trimmed)
                };
                out.extend_from_slice(&text.as_bytes()[..lead]);
                if redacted.len() == trimmed.len() {
                    out.extend_from_slice(redacted.as_bytes());
                } else {
                    out.extend_from_slice(trimmed.as_bytes());
                }
            }
            Err(_) => out.extend_from_slice(piece),
        }
        if !at_end {
            out.push(bytes[i]);
        }
        start = i + 1;
    }
    out
}

/// The transcript with its people's data replaced (see the module's
/// words); the same entries, times and directions, the same byte lengths.
pub fn redact(entries: &[Entry]) -> Result<Vec<Entry>, String> {
    let mut names = Names::default();
    let mut out = entries.to_vec();
    for dir in [Dir::ToModem, Dir::FromModem] {
        let mut joined = Vec::new();
        let mut cuts = Vec::new();
        for (i, e) in entries.iter().enumerate().filter(|(_, e)| e.dir == dir) {
            let b = e.bytes()?;
            cuts.push((i, joined.len(), b.len()));
            joined.extend_from_slice(&b);
        }
        let red = redact_stream(&joined, &mut names);
        debug_assert_eq!(red.len(), joined.len());
        if red.len() != joined.len() {
            return Err("redaction changed a length".into());
        }
        for (i, at, len) in cuts {
            out[i].data = escape(&red[at..at + len]);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sms::{encode_deliver, Deliver};

    fn e(t_ms: u64, dir: Dir, data: &[u8]) -> Entry {
        Entry {
            t_ms,
            dir,
            data: escape(data),
        }
    }

    fn joined(entries: &[Entry], dir: Dir) -> String {
        let b: Vec<u8> = entries
            .iter()
            .filter(|e| e.dir == dir)
            .flat_map(|e| e.bytes().unwrap())
            .collect();
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn numbers_identities_and_texts_go_and_the_shapes_stay() {
        // TS 27.005 / SIM800 manual examples and a Deliver of our own.
        let submit = "0011000B918190551532F40000AA05E8329BFD06";
        let deliver = {
            let d = Deliver {
                more_messages: false,
                status_report_indication: false,
                reply_path: false,
                originator: Address::parse("+18095551234").unwrap(),
                pid: 0,
                dcs: 8,
                scts: chrono::DateTime::parse_from_rfc3339("2026-11-30T10:00:00-04:00").unwrap(),
                user_data: UserData::text("¿Me llamas? 👍"),
            };
            encode_deliver(&d, Some(&Address::parse("+18095550000").unwrap()))
                .unwrap()
                .hex
        };
        let entries = vec![
            e(0, Dir::ToModem, b"AT+CGSN\r"),
            e(5, Dir::FromModem, b"\r\n356938035640003\r\n\r\nOK\r\n"),
            e(10, Dir::ToModem, b"AT+CMGS=19\r"),
            e(12, Dir::FromModem, b"\r\n> "),
            e(13, Dir::ToModem, format!("{submit}\x1a").as_bytes()),
            e(900, Dir::FromModem, b"\r\n+CMGS: 7\r\n\r\nOK\r\n"),
            e(1000, Dir::ToModem, b"AT+CMGR=3\r"),
            // A PDU line cut in two reads.
            e(
                1010,
                Dir::FromModem,
                format!(
                    "\r\n+CMGR: 0,,{}\r\n{}",
                    deliver.len() / 2 - 8,
                    &deliver[..20]
                )
                .as_bytes(),
            ),
            e(
                1011,
                Dir::FromModem,
                format!("{}\r\n\r\nOK\r\n", &deliver[20..]).as_bytes(),
            ),
            e(
                1100,
                Dir::FromModem,
                b"\r\n+CNUM: \"\",\"+18095551234\",145\r\n",
            ),
        ];
        let red = redact(&entries).unwrap();
        assert_eq!(red.len(), entries.len());
        for (a, b) in entries.iter().zip(&red) {
            assert_eq!(a.t_ms, b.t_ms);
            assert_eq!(a.dir, b.dir);
            assert_eq!(a.bytes().unwrap().len(), b.bytes().unwrap().len());
        }
        let host = joined(&red, Dir::ToModem);
        let modem = joined(&red, Dir::FromModem);
        for secret in [
            "18095551234",
            "356938035640003",
            "hello",
            "llamas",
            "8095551234",
        ] {
            assert!(
                !host.contains(secret) && !modem.contains(secret),
                "{secret} left"
            );
        }
        // The commands and the modem's behaviour stay.
        assert!(host.contains("AT+CMGS=19\r") && host.contains("AT+CMGR=3\r"));
        assert!(modem.contains("+CMGS: 7") && modem.contains("\r\n> "));
        // The PDUs still decode, with the same lengths and alphabets, and
        // the same number is the same placeholder in both.
        let body = host
            .split(['\r', '\x1a'])
            .find(|l| crate::transcript::looks_like_pdu(l))
            .unwrap();
        let (_, Pdu::Submit(s)) = decode_hex(body, true).unwrap() else {
            panic!()
        };
        assert_eq!(s.user_data.text.as_deref(), Some("xxxxx"));
        let line = modem
            .lines()
            .find(|l| crate::transcript::looks_like_pdu(l.trim()))
            .unwrap()
            .trim();
        let (smsc, Pdu::Deliver(d)) = decode_hex(line, true).unwrap() else {
            panic!()
        };
        assert_eq!(d.originator.to_string(), s.destination.to_string());
        assert_eq!(d.originator.to_string().len(), "+18095551234".len());
        assert_ne!(smsc.unwrap().to_string(), "+18095550000");
        assert_eq!(d.dcs, 8);
        assert_eq!(
            d.user_data
                .text
                .as_deref()
                .map(|t| t.encode_utf16().count()),
            Some("¿Me llamas? 👍".encode_utf16().count())
        );
        assert!(modem.contains(&format!("+CNUM: \"\",\"+{}\",145", &d.originator.number)));
        // Redacting again changes nothing more.
        assert_eq!(redact(&red).unwrap().len(), red.len());
    }
}
