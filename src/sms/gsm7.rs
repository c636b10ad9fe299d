//! The GSM 7-bit default alphabet and its extension table
//! (3GPP TS 23.038 §6.2.1 and §6.2.1.1), and septet packing (§6.1.2.1.1).
//!
//! Owns the mapping between Unicode characters and septets and the packing
//! of septets into octets with leading fill bits. Knows nothing of PDUs,
//! headers or parts.

use super::error::PduError;

/// The escape septet that introduces a character of the extension table
/// (TS 23.038 §6.2.1.1).
pub const ESC: u8 = 0x1B;

/// TS 23.038 §6.2.1, in septet order. Index 0x1B is the escape, never a
/// character of its own.
const DEFAULT: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1B}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// TS 23.038 §6.2.1.1: the characters reached through [`ESC`].
const EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// The septets for one character: one for the default table, two (escape
/// first) for the extension table, `None` when the character is not in the
/// alphabet. U+001B (ESC) and U+001A (Ctrl-Z) are not GSM characters, so
/// they can never be passed through as raw septets.
pub fn septets_for(c: char) -> Option<([u8; 2], usize)> {
    if c == '\u{1B}' {
        return None;
    }
    if let Some(i) = DEFAULT.iter().position(|&d| d == c) {
        return Some(([i as u8, 0], 1));
    }
    EXTENSION
        .iter()
        .find(|&&(_, e)| e == c)
        .map(|&(s, _)| ([ESC, s], 2))
}

/// How many septets `c` takes (1 or 2), or `None` if it is not GSM 7-bit.
pub fn septet_cost(c: char) -> Option<usize> {
    septets_for(c).map(|(_, n)| n)
}

/// True when every character of `text` is in the default alphabet or its
/// extension table.
pub fn fits(text: &str) -> bool {
    text.chars().all(|c| septets_for(c).is_some())
}

/// Unpacked septets (one per `u8`, 0..=127) for `text`.
pub fn encode(text: &str) -> Result<Vec<u8>, PduError> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        let (s, n) = septets_for(c).ok_or(PduError::NotGsm7(c))?;
        out.extend_from_slice(s.get(..n).unwrap_or(&[]));
    }
    Ok(out)
}

/// Text for unpacked septets. An escape followed by a septet with no
/// extension character shows the default-table character, as TS 23.038
/// §6.2.1.1 asks; a trailing lone escape shows a space.
pub fn decode(septets: &[u8]) -> String {
    let mut out = String::with_capacity(septets.len());
    let mut iter = septets.iter().map(|s| s & 0x7F);
    while let Some(s) = iter.next() {
        if s == ESC {
            match iter.next() {
                Some(e) => match EXTENSION.iter().find(|&&(k, _)| k == e) {
                    Some(&(_, c)) => out.push(c),
                    None if e == ESC => out.push(' '),
                    None => out.push(default_char(e)),
                },
                None => out.push(' '),
            }
        } else {
            out.push(default_char(s));
        }
    }
    out
}

fn default_char(s: u8) -> char {
    DEFAULT.get(usize::from(s & 0x7F)).copied().unwrap_or(' ')
}

/// Packs septets into octets, least significant bit first, after
/// `fill_bits` zero bits (TS 23.038 §6.1.2.1.1; fill bits as in
/// TS 23.040 §9.2.3.24 when a user data header precedes the text).
pub fn pack(septets: &[u8], fill_bits: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity((septets.len() * 7).div_ceil(8) + 1);
    let mut acc: u32 = 0;
    let mut nbits = fill_bits % 8;
    for &s in septets {
        acc |= u32::from(s & 0x7F) << nbits;
        nbits += 7;
        while nbits >= 8 {
            out.push((acc & 0xFF) as u8);
            acc >>= 8;
            nbits -= 8;
        }
    }
    if nbits > 0 {
        out.push((acc & 0xFF) as u8);
    }
    out
}

/// Unpacks the first `count` septets of `octets` (least significant bit
/// first). Stops early if the octets run out.
pub fn unpack(octets: &[u8], count: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(count);
    let mut acc: u32 = 0;
    let mut nbits = 0;
    let mut bytes = octets.iter();
    while out.len() < count {
        if nbits < 7 {
            match bytes.next() {
                Some(&b) => {
                    acc |= u32::from(b) << nbits;
                    nbits += 8;
                }
                None => break,
            }
        }
        out.push((acc & 0x7F) as u8);
        acc >>= 7;
        nbits -= 7;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_3gpp_23038_example() {
        // "hellohello" packs to E8329BFD4697D9EC37 (TS 23.040 worked example).
        let septets = encode("hellohello").unwrap();
        let packed = pack(&septets, 0);
        assert_eq!(hex::encode_upper(&packed), "E8329BFD4697D9EC37");
        assert_eq!(decode(&unpack(&packed, 10)), "hellohello");
    }

    #[test]
    fn extension_characters_take_two_septets() {
        for c in ['€', '[', ']', '{', '}', '~', '\\', '^', '|', '\u{0C}'] {
            assert_eq!(septet_cost(c), Some(2), "{c:?}");
        }
        let s = encode("a€").unwrap();
        assert_eq!(s, vec![0x61, ESC, 0x65]);
        assert_eq!(decode(&s), "a€");
    }

    #[test]
    fn control_characters_are_not_gsm() {
        assert_eq!(septet_cost('\u{1A}'), None);
        assert_eq!(septet_cost('\u{1B}'), None);
        assert_eq!(encode("x\u{1A}"), Err(PduError::NotGsm7('\u{1A}')));
        assert!(!fits("á"));
        assert!(fits("é@£$¥"));
    }

    #[test]
    fn unknown_escape_shows_default_character() {
        assert_eq!(decode(&[ESC, 0x41]), "A");
        assert_eq!(decode(&[0x41, ESC]), "A ");
    }

    #[test]
    fn fill_bits_shift_the_text() {
        let packed = pack(&[0x41], 1);
        assert_eq!(packed, vec![0x82]);
    }

    #[test]
    fn whole_alphabet_round_trips_after_any_header_length() {
        let all: String = DEFAULT
            .iter()
            .filter(|&&c| c != '\u{1B}')
            .chain(EXTENSION.iter().map(|(_, c)| c))
            .collect();
        let s = encode(&all).unwrap();
        for header_octets in 1..=8usize {
            let header_septets = (header_octets * 8).div_ceil(7);
            let fill = (header_septets * 7 - header_octets * 8) as u32;
            let mut bytes = vec![0xAB; header_octets];
            bytes.extend(pack(&s, fill));
            let un = unpack(&bytes, header_septets + s.len());
            assert_eq!(decode(un.get(header_septets..).unwrap()), all);
        }
    }
}
