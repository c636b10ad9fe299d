//! [`PduHex`]: the only form in which message content reaches the wire
//! (3GPP TS 27.005 §3.1 `<pdu>`: hexadecimal, two IRA characters per
//! octet).
//!
//! Owns: validating and building PDU hex. May not touch: SMS encoding (the
//! `sms` module builds the octets). Because a `PduHex` holds only
//! `[0-9A-F]`, Ctrl-Z (0x1A), ESC (0x1B), CR or a quote can never be
//! smuggled into a command by message text.

use crate::at::error::AtError;

/// Upper-case hex of an even length, nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PduHex(String);

impl PduHex {
    /// Hex of `octets` (what the `sms` module produces).
    pub fn from_octets(octets: &[u8]) -> Self {
        let mut s = String::with_capacity(octets.len() * 2);
        for b in octets {
            for nibble in [b >> 4, b & 0x0F] {
                let digit = char::from_digit(u32::from(nibble), 16).unwrap_or('0');
                s.push(digit.to_ascii_uppercase());
            }
        }
        Self(s)
    }

    /// Validates existing hex: only `[0-9A-F]`, non-empty, even length.
    pub fn parse(text: &str) -> Result<Self, AtError> {
        if text.is_empty() || text.len() % 2 != 0 {
            return Err(AtError::InvalidArgument(
                "PDU hex must have an even, non-zero length".into(),
            ));
        }
        if !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F')) {
            return Err(AtError::InvalidArgument(
                "PDU hex may only contain 0-9 and A-F".into(),
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Number of octets.
    pub fn octet_len(&self) -> usize {
        self.0.len() / 2
    }

    /// The octet at `i`, if any.
    pub fn octet(&self, i: usize) -> Option<u8> {
        let pair = self.0.get(i * 2..i * 2 + 2)?;
        u8::from_str_radix(pair, 16).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let h = PduHex::from_octets(&[0x00, 0x1A, 0xFF]);
        assert_eq!(h.as_str(), "001AFF");
        assert_eq!(PduHex::parse("001AFF"), Ok(h.clone()));
        assert_eq!(
            (h.octet_len(), h.octet(1), h.octet(3)),
            (3, Some(0x1A), None)
        );
    }

    #[test]
    fn text_with_ctrl_z_or_esc_is_refused() {
        for bad in [
            "00\u{1a}", "0\u{1b}", "HOLA", "abcd", "0", "", "00\r\nAT", "0011\"", "00 11",
        ] {
            assert!(PduHex::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn built_hex_is_only_hex_digits(octets in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let h = PduHex::from_octets(&octets);
            proptest::prop_assert!(h.as_str().bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase()));
            proptest::prop_assert_eq!(h.octet_len(), octets.len());
        }
    }
}
