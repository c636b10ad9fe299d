//! Choosing the alphabet for a text and splitting it into concatenated parts
//! (3GPP TS 23.040 §9.2.3.24.1, TS 23.038 §6.2.1), plus [`measure`] for the
//! web form's "characters left" counter.
//!
//! Owns the part limits. Splits on character boundaries only, so an escape
//! pair (two septets) or a surrogate pair (two UTF-16 units) never straddles
//! two parts. Knows nothing of headers' octets or PDUs.

use serde::{Deserialize, Serialize};

use super::dcs::Encoding;
use super::gsm7;

/// One SMS of GSM 7-bit text without a header.
pub const SINGLE_SEPTETS: usize = 160;
/// One part of a concatenated GSM 7-bit text: 160 minus the 6-octet header
/// (7 septets with its fill bit).
pub const MULTI_SEPTETS: usize = 153;
/// One SMS of UCS-2 text: 140 octets.
pub const SINGLE_UCS2_UNITS: usize = 70;
/// One part of a concatenated UCS-2 text: 134 octets.
pub const MULTI_UCS2_UNITS: usize = 67;

/// One part of a split text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub encoding: Encoding,
    pub text: String,
    /// Septets (GSM 7-bit) or UTF-16 units (UCS-2) this part takes.
    pub units: usize,
}

/// What a text costs, for the send form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextInfo {
    pub encoding: Encoding,
    pub parts: usize,
    /// Septets or UTF-16 units of the whole text.
    pub units_used: usize,
    /// Units still free in the last part before another part is needed.
    pub units_left_in_part: usize,
}

/// GSM 7-bit when every character fits the default alphabet or its
/// extension table, else UCS-2.
pub fn choose_encoding(text: &str) -> Encoding {
    if gsm7::fits(text) {
        Encoding::Gsm7
    } else {
        Encoding::Ucs2
    }
}

fn cost(encoding: Encoding, c: char) -> usize {
    match encoding {
        Encoding::Gsm7 => gsm7::septet_cost(c).unwrap_or(1),
        _ => c.len_utf16(),
    }
}

fn limits(encoding: Encoding) -> (usize, usize) {
    match encoding {
        Encoding::Gsm7 => (SINGLE_SEPTETS, MULTI_SEPTETS),
        _ => (SINGLE_UCS2_UNITS, MULTI_UCS2_UNITS),
    }
}

/// Splits `text` into parts: one part if it fits a single SMS, else parts
/// of at most 153 septets / 67 UTF-16 units, cut between characters. An
/// empty text is one empty part.
pub fn split(text: &str) -> Vec<Part> {
    let encoding = choose_encoding(text);
    let (single, multi) = limits(encoding);
    let total: usize = text.chars().map(|c| cost(encoding, c)).sum();
    if total <= single {
        return vec![Part {
            encoding,
            text: text.to_string(),
            units: total,
        }];
    }
    let mut parts = Vec::new();
    let mut current = Part {
        encoding,
        text: String::new(),
        units: 0,
    };
    for c in text.chars() {
        let n = cost(encoding, c);
        if current.units + n > multi {
            let next = Part {
                encoding,
                text: String::new(),
                units: 0,
            };
            parts.push(std::mem::replace(&mut current, next));
        }
        current.text.push(c);
        current.units += n;
    }
    parts.push(current);
    parts
}

/// How many parts `text` takes and how much room the last one has left.
pub fn measure(text: &str) -> TextInfo {
    let parts = split(text);
    let encoding = parts.first().map_or(Encoding::Gsm7, |p| p.encoding);
    let (single, multi) = limits(encoding);
    let units_used = parts.iter().map(|p| p.units).sum();
    let last = parts.last().map_or(0, |p| p.units);
    let limit = if parts.len() > 1 { multi } else { single };
    TextInfo {
        encoding,
        parts: parts.len(),
        units_used,
        units_left_in_part: limit.saturating_sub(last),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_for_gsm7() {
        let info = measure(&"a".repeat(160));
        assert_eq!((info.parts, info.units_left_in_part), (1, 0));
        let info = measure(&"a".repeat(161));
        assert_eq!(info.encoding, Encoding::Gsm7);
        assert_eq!((info.parts, info.units_left_in_part), (2, 153 - 8));
        assert_eq!(measure(&"a".repeat(306)).parts, 2);
        assert_eq!(measure(&"a".repeat(307)).parts, 3);
        assert_eq!(measure("").parts, 1);
        assert_eq!(measure("").units_left_in_part, 160);
    }

    #[test]
    fn extension_characters_count_two_septets() {
        let info = measure(&"€".repeat(80));
        assert_eq!((info.units_used, info.parts), (160, 1));
        assert_eq!(measure(&"€".repeat(81)).parts, 2);
    }

    #[test]
    fn escape_pair_never_straddles_a_part() {
        // 152 septets then '€' (2 septets): the euro moves to part 2 whole.
        let text = format!("{}€{}", "a".repeat(152), "b".repeat(10));
        let parts = split(&text);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].units, 152);
        assert!(parts[1].text.starts_with('€'));
    }

    #[test]
    fn limits_for_ucs2_and_surrogates() {
        let info = measure(&"á".repeat(70));
        assert_eq!((info.encoding, info.parts), (Encoding::Ucs2, 1));
        assert_eq!(measure(&"á".repeat(71)).parts, 2);
        // 66 units then an emoji (2 units): it moves to part 2 whole.
        let text = format!("{}😀{}", "á".repeat(66), "é".repeat(10));
        let parts = split(&text);
        assert_eq!(parts[0].units, 66);
        assert!(parts[1].text.starts_with('😀'));
    }

    #[test]
    fn ctrl_z_and_escape_force_ucs2() {
        assert_eq!(choose_encoding("ok\u{1A}"), Encoding::Ucs2);
        assert_eq!(choose_encoding("ok\u{1B}"), Encoding::Ucs2);
        assert_eq!(choose_encoding("ok [x]"), Encoding::Gsm7);
    }
}
