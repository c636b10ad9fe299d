//! Addresses: TP-OA / TP-DA / TP-RA (3GPP TS 23.040 §9.1.2.5) and the
//! leading SMSC address of TS 27.005 §3 / TS 24.011 §8.2.5.2.
//!
//! Owns [`Address`], its parsing from user input, and the semi-octet and
//! alphanumeric (GSM 7-bit packed) wire forms. Knows nothing of PDU layout.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::PduError;
use super::gsm7;
use super::reader::Reader;

/// Type of number (TS 23.040 §9.1.2.5, bits 6..4 of the type-of-address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddressKind {
    /// TON 001: shown with a leading `+`.
    International,
    /// TON 010.
    National,
    /// TON 000 and the other numeric types.
    Unknown,
    /// TON 101: GSM 7-bit packed text such as a brand name.
    Alphanumeric,
}

impl AddressKind {
    /// The JSON/CLI name: `international`, `national`, `unknown`, `alphanumeric`.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressKind::International => "international",
            AddressKind::National => "national",
            AddressKind::Unknown => "unknown",
            AddressKind::Alphanumeric => "alphanumeric",
        }
    }

    /// Type-of-address octet, numbering plan ISDN/E.164 for numbers
    /// (TS 23.040 §9.1.2.5).
    fn toa(self) -> u8 {
        match self {
            AddressKind::International => 0x91,
            AddressKind::National => 0xA1,
            AddressKind::Unknown => 0x81,
            AddressKind::Alphanumeric => 0xD0,
        }
    }

    fn from_toa(toa: u8) -> Self {
        match (toa >> 4) & 0x07 {
            0b001 => AddressKind::International,
            0b010 => AddressKind::National,
            0b101 => AddressKind::Alphanumeric,
            _ => AddressKind::Unknown,
        }
    }
}

/// A phone number or alphanumeric sender. `number` holds digits only
/// (no `+`); [`fmt::Display`] adds `+` to international numbers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Address {
    pub number: String,
    pub kind: AddressKind,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind == AddressKind::International {
            write!(f, "+{}", self.number)
        } else {
            f.write_str(&self.number)
        }
    }
}

/// Longest address value: 10 octets, 20 semi-octets (TS 23.040 §9.1.2.5).
const MAX_DIGITS: usize = 20;
/// 10 octets of packed septets hold 11 characters.
const MAX_ALPHA_SEPTETS: usize = 11;

impl Address {
    pub fn international(digits: &str) -> Self {
        Address {
            number: digits.to_string(),
            kind: AddressKind::International,
        }
    }

    pub fn national(digits: &str) -> Self {
        Address {
            number: digits.to_string(),
            kind: AddressKind::National,
        }
    }

    /// Reads user input: `+` and digits is international, digits alone is
    /// of unknown type (the network applies the national plan), anything
    /// else is an alphanumeric sender of at most 11 GSM 7-bit septets.
    pub fn parse(s: &str) -> Result<Self, PduError> {
        let s = s.trim();
        let (kind, body) = match s.strip_prefix('+') {
            Some(rest) => (AddressKind::International, rest),
            None => (AddressKind::Unknown, s),
        };
        // "+1 (809) 555-1234" is a number written for people.
        let body: String = body
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        if !body.is_empty() && body.chars().all(|c| c.is_ascii_digit()) {
            if body.len() > MAX_DIGITS {
                return Err(PduError::BadAddress(format!(
                    "{s:?} has more than {MAX_DIGITS} digits"
                )));
            }
            return Ok(Address { number: body, kind });
        }
        if s.is_empty() || kind == AddressKind::International {
            return Err(PduError::BadAddress(format!("{s:?} is not a number")));
        }
        let addr = Address {
            number: s.to_string(),
            kind: AddressKind::Alphanumeric,
        };
        addr.value_octets()?;
        Ok(addr)
    }

    /// The address value and its length in semi-octets.
    fn value_octets(&self) -> Result<(Vec<u8>, usize), PduError> {
        if self.kind == AddressKind::Alphanumeric {
            let septets = gsm7::encode(&self.number)
                .map_err(|e| PduError::BadAddress(format!("{:?}: {e}", self.number)))?;
            if septets.len() > MAX_ALPHA_SEPTETS {
                return Err(PduError::BadAddress(format!(
                    "{:?} is longer than {MAX_ALPHA_SEPTETS} GSM septets",
                    self.number
                )));
            }
            let semi_octets = (septets.len() * 7).div_ceil(4);
            return Ok((gsm7::pack(&septets, 0), semi_octets));
        }
        let digits = self.number.as_bytes();
        if digits.len() > MAX_DIGITS {
            return Err(PduError::BadAddress(format!(
                "{:?} has more than {MAX_DIGITS} digits",
                self.number
            )));
        }
        let mut nibbles = Vec::with_capacity(digits.len() + 1);
        for &d in digits {
            nibbles.push(bcd_nibble(d).ok_or_else(|| {
                PduError::BadAddress(format!("{:?} holds {:?}", self.number, d as char))
            })?);
        }
        let len = nibbles.len();
        if len % 2 == 1 {
            nibbles.push(0x0F);
        }
        let octets = nibbles
            .chunks(2)
            .map(|p| match p {
                [lo, hi] => lo | (hi << 4),
                _ => 0xFF,
            })
            .collect();
        Ok((octets, len))
    }

    /// TP address field: semi-octet count, type of address, value
    /// (TS 23.040 §9.1.2.5).
    pub(crate) fn encode_tp(&self, out: &mut Vec<u8>) -> Result<(), PduError> {
        let (value, semi_octets) = self.value_octets()?;
        out.push(semi_octets as u8);
        out.push(self.kind.toa());
        out.extend(value);
        Ok(())
    }

    /// Reads a TP address field (TS 23.040 §9.1.2.5).
    pub(crate) fn decode_tp(r: &mut Reader<'_>, what: &'static str) -> Result<Self, PduError> {
        let semi_octets = usize::from(r.u8(what)?);
        if semi_octets > MAX_DIGITS {
            return Err(PduError::BadLength(format!(
                "{what} length {semi_octets} semi-octets is more than {MAX_DIGITS}"
            )));
        }
        let toa = r.u8(what)?;
        let value = r.take(semi_octets.div_ceil(2), what)?;
        Ok(Self::from_value(toa, value, semi_octets))
    }

    fn from_value(toa: u8, value: &[u8], semi_octets: usize) -> Self {
        let kind = AddressKind::from_toa(toa);
        let number = if kind == AddressKind::Alphanumeric {
            let septets = gsm7::unpack(value, semi_octets * 4 / 7);
            gsm7::decode(&septets)
        } else {
            value
                .iter()
                .flat_map(|b| [b & 0x0F, b >> 4])
                .take(semi_octets)
                .filter(|&n| n != 0x0F)
                .map(bcd_char)
                .collect()
        };
        Address { number, kind }
    }

    /// Leading SMSC field: `00` for "the SIM's SMSC", else an octet count,
    /// type of address and semi-octets (TS 24.011 §8.2.5.2).
    pub(crate) fn encode_smsc(smsc: Option<&Address>, out: &mut Vec<u8>) -> Result<(), PduError> {
        match smsc {
            None => out.push(0),
            Some(a) if a.kind == AddressKind::Alphanumeric => {
                return Err(PduError::BadAddress(format!(
                    "SMSC {:?} must be a number",
                    a.number
                )))
            }
            Some(a) => {
                let (value, _) = a.value_octets()?;
                out.push(value.len() as u8 + 1);
                out.push(a.kind.toa());
                out.extend(value);
            }
        }
        Ok(())
    }

    /// Reads the leading SMSC field; `None` when its length is 0.
    pub(crate) fn decode_smsc(r: &mut Reader<'_>) -> Result<Option<Self>, PduError> {
        let octets = usize::from(r.u8("SMSC length")?);
        if octets == 0 {
            return Ok(None);
        }
        if octets > 12 {
            return Err(PduError::BadLength(format!(
                "SMSC length {octets} octets is more than 12"
            )));
        }
        let toa = r.u8("SMSC type of address")?;
        let value = r.take(octets - 1, "SMSC address")?;
        Ok(Some(Self::from_value(toa, value, value.len() * 2)))
    }
}

/// TS 23.040 §9.1.2.3: digits, then `*`, `#`, `a`, `b`, `c`.
fn bcd_nibble(d: u8) -> Option<u8> {
    match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'*' => Some(0x0A),
        b'#' => Some(0x0B),
        b'a' | b'A' => Some(0x0C),
        b'b' | b'B' => Some(0x0D),
        b'c' | b'C' => Some(0x0E),
        _ => None,
    }
}

fn bcd_char(n: u8) -> char {
    match n {
        0..=9 => char::from(b'0' + n),
        0x0A => '*',
        0x0B => '#',
        0x0C => 'a',
        0x0D => 'b',
        _ => 'c',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(hex_str: &str) -> Address {
        let b = hex::decode(hex_str).unwrap();
        Address::decode_tp(&mut Reader::new(&b), "address").unwrap()
    }

    #[test]
    fn international_3gpp_23040_example() {
        // "0B917238880900F1": +27838890001 from the well-known deliver example.
        let a = decode("0B917238880900F1");
        assert_eq!(a, Address::international("27838890001"));
        assert_eq!(a.to_string(), "+27838890001");
        let mut out = Vec::new();
        a.encode_tp(&mut out).unwrap();
        assert_eq!(hex::encode_upper(out), "0B917238880900F1");
    }

    #[test]
    fn alphanumeric_sender_google() {
        // Alphanumeric "Google" as operators send it: 11 semi-octets, TOA D0.
        let mut out = Vec::new();
        Address::parse("Google")
            .unwrap()
            .encode_tp(&mut out)
            .unwrap();
        assert_eq!(hex::encode_upper(&out), "0BD0C7F7FBCC2E03");
        let a = decode("0BD0C7F7FBCC2E03");
        assert_eq!(a.number, "Google");
        assert_eq!(a.kind, AddressKind::Alphanumeric);
    }

    #[test]
    fn parse_rules() {
        assert_eq!(
            Address::parse("+18095551234").unwrap().kind,
            AddressKind::International
        );
        assert_eq!(
            Address::parse("8095551234").unwrap().kind,
            AddressKind::Unknown
        );
        assert!(Address::parse("+1809abc").is_err());
        assert_eq!(
            Address::parse("+1 (809) 555-1234").unwrap(),
            Address::international("18095551234")
        );
        assert_eq!(
            Address::parse("809-5551234").unwrap(),
            Address {
                number: "8095551234".into(),
                kind: AddressKind::Unknown
            }
        );
        assert!(Address::parse("").is_err());
        assert!(Address::parse("ThisIsTooLongForAnAlpha").is_err());
        assert!(Address::parse(&"1".repeat(21)).is_err());
    }

    #[test]
    fn smsc_both_ways() {
        let mut out = Vec::new();
        Address::encode_smsc(None, &mut out).unwrap();
        assert_eq!(out, vec![0]);
        let smsc = Address::international("27381000015");
        out.clear();
        Address::encode_smsc(Some(&smsc), &mut out).unwrap();
        assert_eq!(hex::encode_upper(&out), "07917283010010F5");
        assert_eq!(
            Address::decode_smsc(&mut Reader::new(&out)).unwrap(),
            Some(smsc)
        );
    }

    #[test]
    fn national_and_odd_digits() {
        let mut out = Vec::new();
        Address::national("8095551").encode_tp(&mut out).unwrap();
        assert_eq!(hex::encode_upper(&out), "07A1085955F1");
    }
}
