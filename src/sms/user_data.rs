//! User data TP-UDL + TP-UD (3GPP TS 23.040 §9.2.3.16, §9.2.3.24): the
//! header, the fill bits that align GSM 7-bit text after it, and the text in
//! GSM 7-bit, UCS-2 (as UTF-16) or 8-bit data.
//!
//! Owns the user data octets of one PDU. Splitting texts over several PDUs
//! lives in `split`; the alphabet tables in `gsm7`.

use serde::{Deserialize, Serialize};

use super::dcs::Encoding;
use super::error::PduError;
use super::gsm7;
use super::reader::Reader;
use super::udh::Udh;

/// Most septets of GSM 7-bit user data, header included (§9.2.3.16).
pub const MAX_SEPTETS: usize = 160;
/// Most octets of user data, header included (§9.2.3.16).
pub const MAX_OCTETS: usize = 140;

/// The user data of one PDU. `text` is set for GSM 7-bit and UCS-2, `data`
/// for 8-bit (and then `text` is `None`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UserData {
    pub text: Option<String>,
    pub data: Vec<u8>,
    pub udh: Option<Udh>,
}

impl UserData {
    /// Text user data without a header.
    pub fn text(text: &str) -> Self {
        UserData {
            text: Some(text.to_string()),
            data: Vec::new(),
            udh: None,
        }
    }

    /// Reads TP-UDL and TP-UD. `udhi` is the TP-UDHI bit of the first octet.
    pub(crate) fn decode(
        r: &mut Reader<'_>,
        encoding: Encoding,
        udhi: bool,
    ) -> Result<Self, PduError> {
        let udl = usize::from(r.u8("user data length")?);
        let max = match encoding {
            Encoding::Gsm7 => MAX_SEPTETS,
            _ => MAX_OCTETS,
        };
        let (udl, ud) = if udl > max {
            // An impossible length (some modems count the header twice):
            // read what is there, as python-gsmmodem and ModemManager do.
            let rest = r.take_rest();
            let units = match encoding {
                Encoding::Gsm7 => (rest.len() * 8 / 7).min(MAX_SEPTETS),
                _ => rest.len().min(MAX_OCTETS),
            };
            (units, rest)
        } else {
            let octets = match encoding {
                Encoding::Gsm7 => (udl * 7).div_ceil(8),
                _ => udl,
            };
            (udl, r.take(octets, "user data")?)
        };
        let octets = ud.len();
        let (udh, header_octets) = if udhi {
            let udhl = usize::from(*ud.first().ok_or_else(|| {
                PduError::BadUdh("header indicated but user data is empty".into())
            })?);
            let body = ud.get(1..=udhl).ok_or_else(|| {
                PduError::BadUdh(format!(
                    "header length {udhl} runs past the user data ({octets} octets)"
                ))
            })?;
            (Some(Udh::parse(body)?), udhl + 1)
        } else {
            (None, 0)
        };
        match encoding {
            Encoding::Gsm7 => {
                // The header plus fill bits take a whole number of septets
                // (§9.2.3.24), so unpacking from bit 0 and dropping them
                // lands on the first text septet.
                let header_septets = (header_octets * 8).div_ceil(7);
                let septets = gsm7::unpack(ud, udl);
                let text = septets.get(header_septets..).unwrap_or(&[]);
                Ok(UserData {
                    text: Some(gsm7::decode(text)),
                    data: Vec::new(),
                    udh,
                })
            }
            Encoding::Ucs2 => {
                let body = ud.get(header_octets..).unwrap_or(&[]);
                let units: Vec<u16> = body
                    .chunks_exact(2)
                    .map(|p| match p {
                        &[hi, lo] => u16::from_be_bytes([hi, lo]),
                        _ => 0xFFFD,
                    })
                    .collect();
                Ok(UserData {
                    text: Some(String::from_utf16_lossy(&units)),
                    data: Vec::new(),
                    udh,
                })
            }
            Encoding::Eightbit => Ok(UserData {
                text: None,
                data: ud.get(header_octets..).unwrap_or(&[]).to_vec(),
                udh,
            }),
        }
    }

    /// Writes TP-UDL and TP-UD in `encoding`. Returns an error when the text
    /// does not fit the alphabet or one PDU.
    pub(crate) fn encode(&self, encoding: Encoding, out: &mut Vec<u8>) -> Result<(), PduError> {
        let header = match &self.udh {
            Some(h) => h.to_bytes()?,
            None => Vec::new(),
        };
        let text = self.text.as_deref().unwrap_or("");
        match encoding {
            Encoding::Gsm7 => {
                let septets = gsm7::encode(text)?;
                let header_septets = (header.len() * 8).div_ceil(7);
                let fill = (header_septets * 7 - header.len() * 8) as u32;
                let udl = header_septets + septets.len();
                if udl > MAX_SEPTETS {
                    return Err(PduError::BadLength(format!(
                        "{udl} septets do not fit one PDU ({MAX_SEPTETS})"
                    )));
                }
                out.push(udl as u8);
                out.extend(header);
                out.extend(gsm7::pack(&septets, fill));
            }
            Encoding::Ucs2 | Encoding::Eightbit => {
                let body: Vec<u8> = if encoding == Encoding::Ucs2 {
                    text.encode_utf16().flat_map(u16::to_be_bytes).collect()
                } else {
                    self.data.clone()
                };
                let udl = header.len() + body.len();
                if udl > MAX_OCTETS {
                    return Err(PduError::BadLength(format!(
                        "{udl} octets do not fit one PDU ({MAX_OCTETS})"
                    )));
                }
                out.push(udl as u8);
                out.extend(header);
                out.extend(body);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(ud: &UserData, enc: Encoding) -> UserData {
        let mut out = Vec::new();
        ud.encode(enc, &mut out).unwrap();
        UserData::decode(&mut Reader::new(&out), enc, ud.udh.is_some()).unwrap()
    }

    #[test]
    fn gsm7_after_six_octet_header_has_one_fill_bit() {
        // 05 00 03 ref total seq = 48 bits; 7 septets = 49 bits, so 1 fill bit.
        let ud = UserData {
            udh: Some(Udh::concat(0x2A, 2, 1)),
            ..UserData::text("Hello")
        };
        let mut out = Vec::new();
        ud.encode(Encoding::Gsm7, &mut out).unwrap();
        assert_eq!(out[0], 7 + 5);
        // 'H' = 0x48 shifted left by one fill bit.
        assert_eq!(out[7], 0x90);
        assert_eq!(round_trip(&ud, Encoding::Gsm7), ud);
    }

    #[test]
    fn ucs2_surrogate_pairs_and_controls() {
        let ud = UserData::text("¡Hola! 😀 \u{1A}\u{1B}");
        assert_eq!(round_trip(&ud, Encoding::Ucs2), ud);
    }

    #[test]
    fn eight_bit_data_stays_bytes() {
        let ud = UserData {
            text: None,
            data: vec![0, 1, 0x1A, 0x1B, 0xFF],
            udh: Some(Udh::concat(300, 2, 2)),
        };
        assert_eq!(round_trip(&ud, Encoding::Eightbit), ud);
    }

    #[test]
    fn too_long_is_an_error() {
        let mut out = Vec::new();
        assert!(UserData::text(&"a".repeat(161))
            .encode(Encoding::Gsm7, &mut out)
            .is_err());
        assert!(UserData::text(&"á".repeat(71))
            .encode(Encoding::Ucs2, &mut out)
            .is_err());
    }

    #[test]
    fn header_longer_than_data_is_an_error() {
        let bytes = [3u8, 0x09, 0x00, 0x03];
        let r = UserData::decode(&mut Reader::new(&bytes), Encoding::Eightbit, true);
        assert!(matches!(r, Err(PduError::BadUdh(_))));
    }
}
