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

/// The configured keywords (R12). Matching ignores case, accents and
/// surrounding spaces and punctuation; the whole message must be the word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OptOutWords {
    pub stop: Vec<String>,
    pub start: Vec<String>,
}

impl Default for OptOutWords {
    fn default() -> Self {
        Self {
            stop: vec!["STOP".into(), "BAJA".into()],
            start: vec!["START".into(), "ALTA".into()],
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
}

/// Lower case, accents removed, everything but letters and digits trimmed
/// from both ends.
fn fold(text: &str) -> String {
    text.trim_matches(|c: char| !c.is_alphanumeric())
        .chars()
        .flat_map(char::to_lowercase)
        .map(strip_accent)
        .collect()
}

/// Latin letters with diacritics as Spanish, Portuguese and French phones
/// type them, without the diacritic.
fn strip_accent(c: char) -> char {
    match c {
        'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' => 'a',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'í' | 'ì' | 'î' | 'ï' => 'i',
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' => 'o',
        'ú' | 'ù' | 'û' | 'ü' => 'u',
        'ñ' => 'n',
        'ç' => 'c',
        'ý' | 'ÿ' => 'y',
        other => other,
    }
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
            "STOP", "stop", " Stop! ", "baja", "BÁJA", "¡Baja!", "...stop.",
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

    // R12: configured words replace the defaults.
    #[test]
    fn configured_words_are_used() {
        let w = OptOutWords {
            stop: vec!["Cancelar".into()],
            start: vec!["Volver".into()],
        };
        assert_eq!(w.classify("CANCELAR"), Some(Keyword::Stop));
        assert_eq!(w.classify("volver"), Some(Keyword::Start));
        assert_eq!(w.classify("stop"), None);
    }
}
