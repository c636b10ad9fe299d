//! Data coding scheme TP-DCS (3GPP TS 23.038 §4) reduced to the alphabet
//! that matters for text: [`Encoding`].
//!
//! Owns the mapping DCS octet <-> alphabet. Message classes and waiting
//! indications are left in the raw octet for callers that care.

use serde::{Deserialize, Serialize};

/// The alphabet of the user data (TS 23.038 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Encoding {
    /// GSM 7-bit default alphabet (TS 23.038 §6.2.1), septets packed.
    Gsm7,
    /// UCS-2, read and written as UTF-16 big endian so emoji survive.
    Ucs2,
    /// 8-bit data, handed over as bytes.
    Eightbit,
}

impl Encoding {
    /// The JSON/CLI name: `gsm7`, `ucs2`, `8bit`.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "gsm7",
            Encoding::Ucs2 => "ucs2",
            Encoding::Eightbit => "8bit",
        }
    }

    /// The plain DCS octet for this alphabet: general data coding, no
    /// class, uncompressed (TS 23.038 §4, coding group 00xx).
    pub fn dcs(self) -> u8 {
        match self {
            Encoding::Gsm7 => 0x00,
            Encoding::Eightbit => 0x04,
            Encoding::Ucs2 => 0x08,
        }
    }

    /// The alphabet a DCS octet selects (TS 23.038 §4). Compressed text and
    /// reserved alphabets are handed over as 8-bit data; reserved coding
    /// groups fall back to GSM 7-bit as §4 asks.
    pub fn from_dcs(dcs: u8) -> Self {
        match dcs >> 4 {
            0x0..=0x7 => {
                if dcs & 0x20 != 0 {
                    return Encoding::Eightbit;
                }
                match (dcs >> 2) & 0x03 {
                    0b00 => Encoding::Gsm7,
                    0b01 => Encoding::Eightbit,
                    0b10 => Encoding::Ucs2,
                    _ => Encoding::Gsm7,
                }
            }
            0xE => Encoding::Ucs2,
            0xF => {
                if dcs & 0x04 != 0 {
                    Encoding::Eightbit
                } else {
                    Encoding::Gsm7
                }
            }
            _ => Encoding::Gsm7,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coding_groups() {
        assert_eq!(Encoding::from_dcs(0x00), Encoding::Gsm7);
        assert_eq!(Encoding::from_dcs(0x08), Encoding::Ucs2);
        assert_eq!(Encoding::from_dcs(0x04), Encoding::Eightbit);
        // Class 0 ("flash") GSM text.
        assert_eq!(Encoding::from_dcs(0x10), Encoding::Gsm7);
        // Compressed: not decodable as text.
        assert_eq!(Encoding::from_dcs(0x28), Encoding::Eightbit);
        // Message waiting, UCS-2 group.
        assert_eq!(Encoding::from_dcs(0xE0), Encoding::Ucs2);
        // Data coding/message class group.
        assert_eq!(Encoding::from_dcs(0xF0), Encoding::Gsm7);
        assert_eq!(Encoding::from_dcs(0xF5), Encoding::Eightbit);
        for e in [Encoding::Gsm7, Encoding::Ucs2, Encoding::Eightbit] {
            assert_eq!(Encoding::from_dcs(e.dcs()), e);
        }
    }
}
