//! Short message octets ↔ text as the emulated SMSC reads and writes them:
//! the `data_coding` values of SMPP 3.4 §5.2.19, the user data header of
//! an `esm_class` with UDHI set (§5.2.12, 3GPP TS 23.040 §9.2.3.24), and
//! the parts of a phone's long text handed to the ESME.
//!
//! Pure. Reuses the SMS codec's alphabet (`sms::gsm7`), header
//! (`sms::udh`) and part limits (`sms::split`); owns only what SMPP does
//! differently: GSM 7-bit *unpacked* (one septet per octet, the "SMSC
//! default alphabet" of data_coding 0), and a header followed by septets
//! with no fill bits.

use crate::sms::{self, gsm7, Encoding, Udh};

/// `esm_class` bit 6: the short message begins with a user data header
/// (SMPP 3.4 §5.2.12, "UDHI Indicator").
pub const ESM_UDHI: u8 = 0x40;
/// `esm_class` bits 5-2 = 0001: the short message is an SMSC delivery
/// receipt (§5.2.12).
pub const ESM_RECEIPT: u8 = 0x04;

/// data_coding 0: SMSC default alphabet, here GSM 7-bit unpacked.
pub const DC_DEFAULT: u8 = 0x00;
/// data_coding 1: IA5 (CCITT T.50) / ASCII.
pub const DC_IA5: u8 = 0x01;
/// data_coding 3: Latin 1 (ISO-8859-1).
pub const DC_LATIN1: u8 = 0x03;
/// data_coding 8: UCS2 (ISO/IEC-10646), big-endian.
pub const DC_UCS2: u8 = 0x08;

/// Why a short message cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("the user data header claims {0} octets, the message has fewer")]
    ShortHeader(usize),
    #[error("bad user data header: {0}")]
    BadHeader(String),
    #[error("UCS-2 text of an odd number of octets")]
    OddUcs2,
    #[error("septet {0:#04x} is not GSM 7-bit")]
    NotSeptet(u8),
}

/// A short message as text, with its concatenation header if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    /// (reference, total, sequence) from a concatenation element.
    pub concat: Option<(u16, u8, u8)>,
}

/// The text of `octets` in `data_coding`; with `udhi`, the octets begin
/// with a user data header (UDHL first) whose concatenation element is
/// returned. data_coding 0 and the GSM class values (0xF0-0xF3) are GSM
/// 7-bit unpacked; 1 is ASCII; 3 is Latin-1; 8 is UCS-2; anything else is
/// binary and shows as upper-case hex, as the modem path shows 8-bit data.
pub fn decode(data_coding: u8, udhi: bool, octets: &[u8]) -> Result<Decoded, TextError> {
    let (concat, body) = if udhi {
        let (udh, body) = split_header(octets)?;
        (udh.concat.map(|c| (c.reference, c.total, c.seq)), body)
    } else {
        (None, octets)
    };
    let text = decode_body(data_coding, body)?;
    Ok(Decoded { text, concat })
}

fn split_header(octets: &[u8]) -> Result<(Udh, &[u8]), TextError> {
    let Some((&udhl, rest)) = octets.split_first() else {
        return Err(TextError::ShortHeader(1));
    };
    let udhl = usize::from(udhl);
    if rest.len() < udhl {
        return Err(TextError::ShortHeader(udhl + 1));
    }
    let udh = Udh::parse(&rest[..udhl]).map_err(|e| TextError::BadHeader(e.to_string()))?;
    Ok((udh, &rest[udhl..]))
}

fn decode_body(data_coding: u8, body: &[u8]) -> Result<String, TextError> {
    match data_coding {
        DC_DEFAULT | 0xF0..=0xF3 => gsm_unpacked_to_text(body),
        DC_IA5 => Ok(body.iter().map(|&b| char::from(b & 0x7F)).collect()),
        DC_LATIN1 => Ok(body.iter().map(|&b| char::from(b)).collect()),
        DC_UCS2 => {
            if body.len() % 2 != 0 {
                return Err(TextError::OddUcs2);
            }
            let units: Vec<u16> = body
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            Ok(String::from_utf16_lossy(&units))
        }
        _ => Ok(hex::encode_upper(body)),
    }
}

/// GSM 7-bit unpacked (one septet per octet) to text; an octet above 0x7F
/// is refused, as it cannot be a septet.
pub fn gsm_unpacked_to_text(septets: &[u8]) -> Result<String, TextError> {
    if let Some(&bad) = septets.iter().find(|&&b| b > 0x7F) {
        return Err(TextError::NotSeptet(bad));
    }
    Ok(gsm7::decode(septets))
}

/// Text to GSM 7-bit unpacked; `None` when a character is outside the
/// default alphabet and its extension table.
pub fn text_to_gsm_unpacked(text: &str) -> Option<Vec<u8>> {
    gsm7::encode(text).ok()
}

/// Text to UCS-2 big-endian (UTF-16 units: characters beyond the BMP take
/// a surrogate pair, as handsets send them).
pub fn text_to_ucs2(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// How the SMSC hands a phone's long text to the ESME.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MoConcat {
    /// Parts with a concatenation header (esm_class UDHI, 8-bit reference).
    #[default]
    Udh,
    /// Parts with the sar_msg_ref_num / sar_total_segments /
    /// sar_segment_seqnum TLVs (SMPP 3.4 §5.3.2.22-24).
    Sar,
    /// One deliver_sm carrying the whole text in message_payload
    /// (§5.3.2.32), short_message empty.
    Payload,
}

impl std::str::FromStr for MoConcat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "udh" => Ok(MoConcat::Udh),
            "sar" => Ok(MoConcat::Sar),
            "payload" => Ok(MoConcat::Payload),
            other => Err(format!("`{other}` is not udh, sar or payload")),
        }
    }
}

/// One deliver_sm's worth of a phone's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoPart {
    pub data_coding: u8,
    pub esm_class: u8,
    /// The short_message octets (header first when `esm_class` has UDHI).
    pub short_message: Vec<u8>,
    /// The whole text's octets for a message_payload TLV.
    pub payload: Option<Vec<u8>>,
    /// (reference, total, sequence) as SAR TLVs.
    pub sar: Option<(u16, u8, u8)>,
}

/// The deliver_sm parts of `text`: data_coding 0 (GSM 7-bit unpacked)
/// when every character is GSM, else 8 (UCS-2); split at 153 septets / 67
/// UTF-16 units as a handset splits (TS 23.040 §9.2.3.24.1), never inside
/// an escape or a surrogate pair. `reference` numbers the parts of one
/// text (8 bits in a header, 16 in SAR).
pub fn mo_parts(text: &str, reference: u16, mode: MoConcat) -> Vec<MoPart> {
    let encoding = sms::choose_encoding(text);
    let (data_coding, encode): (u8, fn(&str) -> Vec<u8>) = match encoding {
        Encoding::Gsm7 => (DC_DEFAULT, |t| text_to_gsm_unpacked(t).unwrap_or_default()),
        _ => (DC_UCS2, text_to_ucs2),
    };
    if mode == MoConcat::Payload {
        return vec![MoPart {
            data_coding,
            esm_class: 0,
            short_message: Vec::new(),
            payload: Some(encode(text)),
            sar: None,
        }];
    }
    let parts = sms::split(text);
    let total = parts.len();
    if total == 1 {
        return vec![MoPart {
            data_coding,
            esm_class: 0,
            short_message: encode(text),
            payload: None,
            sar: None,
        }];
    }
    // At most 255 parts fit a header's count; the network bounds the
    // text well below that.
    let total = u8::try_from(total).unwrap_or(u8::MAX);
    parts
        .iter()
        .take(usize::from(total))
        .enumerate()
        .map(|(i, part)| {
            let seq = (i + 1) as u8;
            let body = encode(&part.text);
            match mode {
                MoConcat::Sar => MoPart {
                    data_coding,
                    esm_class: 0,
                    short_message: body,
                    payload: None,
                    sar: Some((reference, total, seq)),
                },
                _ => {
                    // The 8-bit reference element (IEI 0x00): 6 octets
                    // with UDHL.
                    let mut sm = vec![0x05, 0x00, 0x03, reference as u8, total, seq];
                    sm.extend(body);
                    MoPart {
                        data_coding,
                        esm_class: ESM_UDHI,
                        short_message: sm,
                        payload: None,
                        sar: None,
                    }
                }
            }
        })
        .collect()
}
