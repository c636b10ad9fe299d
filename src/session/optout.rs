//! Opt-out (R12): recognising STOP/BAJA and START/ALTA in what a phone sends,
//! and the list of numbers that do not accept web messages.
//!
//! Owns keyword matching and the opted-out set. It never routes replies or
//! refuses sends itself: the session core asks it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::numbers::Msisdn;

/// A keyword a phone sent (R12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Keyword {
    /// STOP, BAJA...: the number is opted out.
    Stop,
    /// START, ALTA...: the opt-out is lifted.
    Start,
}

/// The default confirmation of an opt-out (`{word}`: the first opt-in
/// word). Plain GSM 7-bit and one SMS: the owner pays for it.
pub const DEFAULT_OPT_OUT_REPLY: &str =
    "Listo, ya no te enviaremos mensajes de este servicio. Para volver a recibirlos, responde {word}.";
/// The default confirmation of an opt-in (`{word}`: the first opt-out
/// word), one GSM 7-bit SMS as well.
pub const DEFAULT_OPT_IN_REPLY: &str =
    "Listo, vuelves a recibir mensajes de este servicio. Para dejar de recibirlos, responde {word}.";

/// The configured keywords (R12) and their confirmations. Matching ignores
/// case, accents (composed or not) and surrounding spaces and punctuation;
/// the whole message must be the word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OptOutWords {
    pub stop: Vec<String>,
    pub start: Vec<String>,
    /// Sent back after a STOP word; empty: nothing.
    pub stop_reply: String,
    /// Sent back after a START word; empty: nothing.
    pub start_reply: String,
}

impl Default for OptOutWords {
    fn default() -> Self {
        Self {
            stop: vec!["BAJA".into(), "STOP".into()],
            start: vec!["ALTA".into(), "START".into()],
            stop_reply: DEFAULT_OPT_OUT_REPLY.into(),
            start_reply: DEFAULT_OPT_IN_REPLY.into(),
        }
    }
}

impl OptOutWords {
    /// R12: the keyword `text` is, if it is one. `" Stop! "`, `"baja"` and
    /// `"BÁJA"` are STOP; `"stop it"` is not a keyword.
    pub fn classify(&self, text: &str) -> Option<Keyword> {
        let folded = fold(text);
        if folded.is_empty() {
            return None;
        }
        if self.stop.iter().any(|w| fold(w) == folded) {
            Some(Keyword::Stop)
        } else if self.start.iter().any(|w| fold(w) == folded) {
            Some(Keyword::Start)
        } else {
            None
        }
    }

    /// R12: the confirmation of `keyword`, naming the word that undoes it
    /// (`None` when none is configured).
    pub fn confirmation(&self, keyword: Keyword) -> Option<String> {
        let (template, undo) = match keyword {
            Keyword::Stop => (&self.stop_reply, self.start.first()),
            Keyword::Start => (&self.start_reply, self.stop.first()),
        };
        (!template.trim().is_empty())
            .then(|| template.replace("{word}", undo.map_or("", String::as_str)))
    }
}

/// Lower case, accents removed, everything but letters and digits trimmed
/// from both ends. Accents go by compatibility decomposition (NFKD, so a
/// precomposed `Á` and an `A` followed by U+0301 fold alike, as do
/// full-width letters) and dropping the combining marks.
fn fold(text: &str) -> String {
    let decomposed = icu_normalizer::DecomposingNormalizerBorrowed::new_nfkd().normalize(text);
    let bare: String = decomposed.chars().filter(|c| !is_combining(*c)).collect();
    bare.trim_matches(|c: char| !c.is_alphanumeric())
        .chars()
        .flat_map(char::to_lowercase)
        .collect()
}

/// Combining diacritical marks (the blocks Latin, Greek and Cyrillic
/// accents decompose into).
fn is_combining(c: char) -> bool {
    matches!(c as u32,
        0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

/// R12: numbers that sent STOP (with when), until they send START.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptOutList {
    opted_out: BTreeMap<Msisdn, DateTime<Utc>>,
}

impl OptOutList {
    /// Applies a keyword a phone sent. Returns true when the list changed.
    pub fn apply(&mut self, number: &Msisdn, keyword: Keyword, at: DateTime<Utc>) -> bool {
        match keyword {
            Keyword::Stop => self.opted_out.insert(number.clone(), at).is_none(),
            Keyword::Start => self.opted_out.remove(number).is_some(),
        }
    }

    pub fn is_opted_out(&self, number: &Msisdn) -> bool {
        self.opted_out.contains_key(number)
    }

    /// Every opted-out number with the time of its STOP (for the admin).
    pub fn iter(&self) -> impl Iterator<Item = (&Msisdn, &DateTime<Utc>)> {
        self.opted_out.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // R12: case, accents, spaces and punctuation do not matter.
    #[test]
    fn keywords_match_loosely_but_whole() {
        let w = OptOutWords::default();
        for t in [
            "STOP",
            "stop",
            " Stop! ",
            "baja",
            "BÁJA",
            "¡Baja!",
            "...stop.",
            "BA\u{301}JA",
            "ｓｔｏｐ",
            "Baja!!!",
            "báJa?",
        ] {
            assert_eq!(w.classify(t), Some(Keyword::Stop), "{t:?}");
        }
        for t in ["START", "alta", " Álta ", "Start."] {
            assert_eq!(w.classify(t), Some(Keyword::Start), "{t:?}");
        }
        for t in ["", "  ", "!!", "stop it", "bajar", "no stop", "hola"] {
            assert_eq!(w.classify(t), None, "{t:?}");
        }
    }

    // R12: a confirmation names the word that undoes the keyword; an
    // empty text sends none.
    #[test]
    fn confirmations_name_the_way_back() {
        let w = OptOutWords::default();
        assert!(w
            .confirmation(Keyword::Stop)
            .unwrap()
            .ends_with("responde ALTA."));
        assert!(w
            .confirmation(Keyword::Start)
            .unwrap()
            .ends_with("responde BAJA."));
        let quiet = OptOutWords {
            stop_reply: String::new(),
            ..OptOutWords::default()
        };
        assert_eq!(quiet.confirmation(Keyword::Stop), None);
        // Each default is one GSM 7-bit SMS.
        for k in [Keyword::Stop, Keyword::Start] {
            let m = crate::sms::measure(&w.confirmation(k).unwrap());
            assert_eq!((m.encoding.as_str(), m.parts), ("gsm7", 1));
        }
    }

    // R12: configured words replace the defaults.
    #[test]
    fn configured_words_are_used() {
        let w = OptOutWords {
            stop: vec!["Cancelar".into()],
            start: vec!["Volver".into()],
            ..OptOutWords::default()
        };
        assert_eq!(w.classify("CANCELAR"), Some(Keyword::Stop));
        assert_eq!(w.classify("volver"), Some(Keyword::Start));
        assert_eq!(w.classify("stop"), None);
    }
}
