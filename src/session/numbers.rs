//! Phone numbers: normalisation of what a web user types into E.164 (R13),
//! and the fleet/VPN plan that marks receive-only numbers (R9).
//!
//! Owns number parsing (through the `phonenumber` crate) and fleet matching.
//! It never decides about sessions or short codes.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A mobile number in E.164 form (`+18095551234`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Msisdn(pub String);

impl Msisdn {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a typed number is not a phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("`{0}` contains characters that are not part of a phone number")]
    BadCharacters(String),
    #[error("`{0}` is not a valid phone number")]
    Invalid(String),
    #[error("`{0}` is not a country code (ISO 3166, e.g. DO)")]
    UnknownCountry(String),
}

/// Separators people type inside numbers; anything else but digits and a
/// leading `+` makes the number invalid (no letters: no vanity numbers).
const SEPARATORS: &[char] = &[' ', '-', '.', '(', ')'];

/// The `phonenumber` country id of an ISO 3166 code.
pub fn country_id(country: &str) -> Result<phonenumber::country::Id, NumberError> {
    country
        .parse::<phonenumber::country::Id>()
        .map_err(|_| NumberError::UnknownCountry(country.to_string()))
}

/// The country calling code of an ISO 3166 code (`DO` → 1).
pub fn calling_code(country: &str) -> Result<u16, NumberError> {
    phonenumber::metadata::DATABASE
        .by_id(country)
        .map(|m| m.country_code())
        .ok_or_else(|| NumberError::UnknownCountry(country.to_string()))
}

/// R13: `+E.164` is validated as it is; a national number of `country`
/// (default DO: 809/829/849 and 10 digits) becomes E.164. Spaces, dashes,
/// dots and parentheses are ignored; anything else is an invalid number.
pub fn normalize(raw: &str, country: &str) -> Result<Msisdn, NumberError> {
    let trimmed = raw.trim();
    let body = trimmed.strip_prefix('+').unwrap_or(trimmed);
    if body.is_empty()
        || !body
            .chars()
            .all(|c| c.is_ascii_digit() || SEPARATORS.contains(&c))
    {
        return Err(NumberError::BadCharacters(raw.to_string()));
    }
    let digits: String = body.chars().filter(char::is_ascii_digit).collect();
    let compact = if trimmed.starts_with('+') {
        format!("+{digits}")
    } else {
        digits
    };
    let id = country_id(country)?;
    let parsed = phonenumber::parse(Some(id), &compact)
        .map_err(|_| NumberError::Invalid(raw.to_string()))?;
    // A national number must be one of the country's own: in the North
    // American plan `6125551234` parses as a valid US number.
    let foreign = !trimmed.starts_with('+') && parsed.country().id() != Some(id);
    if !parsed.is_valid() || foreign {
        return Err(NumberError::Invalid(raw.to_string()));
    }
    Ok(Msisdn(
        parsed.format().mode(phonenumber::Mode::E164).to_string(),
    ))
}

/// The owner's money: whether `to` (E.164) may receive a web message:
/// its country is one of `allowed` (ISO 3166 codes) and it is not a number
/// that costs more than an SMS to a phone (premium rate, shared cost,
/// toll-free, UAN or voicemail ranges, as the `phonenumber` metadata
/// classifies them). Anyone on the web can make the box send, and the SIM
/// owner pays for every SMS.
pub fn destination_allowed(to: &Msisdn, allowed: &[String]) -> bool {
    use phonenumber::metadata::DATABASE;
    use phonenumber::Type;
    let Ok(parsed) = phonenumber::parse(None, to.as_str()) else {
        return false;
    };
    let Some(region) = parsed.country().id() else {
        return false;
    };
    let region: &str = region.as_ref();
    if !allowed.iter().any(|c| c.eq_ignore_ascii_case(region)) {
        return false;
    }
    !matches!(
        parsed.number_type(&DATABASE),
        Type::PremiumRate | Type::SharedCost | Type::TollFree | Type::Uan | Type::Voicemail
    )
}

/// R9: which numbers are on fleet/VPN plans (they receive but cannot reply).
/// Everything is kept in E.164 form; see [`FleetPlan::build`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetPlan {
    /// E.164 prefixes (`+1809555`).
    pub prefixes: Vec<String>,
    /// Inclusive ranges of numbers of the same length.
    pub ranges: Vec<(Msisdn, Msisdn)>,
    /// Single numbers.
    pub numbers: Vec<Msisdn>,
}

impl FleetPlan {
    /// Builds a plan from configured text: prefixes given as E.164 (`+1809555`)
    /// or national (`809555`, gets the country calling code), ranges and a
    /// list normalised like any recipient.
    pub fn build(
        country: &str,
        prefixes: &[String],
        ranges: &[(String, String)],
        numbers: &[String],
    ) -> Result<FleetPlan, NumberError> {
        let code = calling_code(country)?;
        let prefixes = prefixes
            .iter()
            .map(|p| {
                let digits: String = p.chars().filter(char::is_ascii_digit).collect();
                if digits.is_empty() {
                    Err(NumberError::Invalid(p.clone()))
                } else if p.trim().starts_with('+') {
                    Ok(format!("+{digits}"))
                } else {
                    Ok(format!("+{code}{digits}"))
                }
            })
            .collect::<Result<_, _>>()?;
        let ranges = ranges
            .iter()
            .map(|(a, b)| Ok((normalize(a, country)?, normalize(b, country)?)))
            .collect::<Result<_, NumberError>>()?;
        let numbers = numbers
            .iter()
            .map(|n| normalize(n, country))
            .collect::<Result<_, _>>()?;
        Ok(FleetPlan {
            prefixes,
            ranges,
            numbers,
        })
    }

    /// R9: true when `number` is on a fleet/VPN plan.
    pub fn contains(&self, number: &Msisdn) -> bool {
        let n = number.as_str();
        self.prefixes.iter().any(|p| n.starts_with(p.as_str()))
            || self.numbers.contains(number)
            || self.ranges.iter().any(|(from, to)| {
                // Same-length E.164 strings of digits order like the numbers.
                n.len() == from.0.len()
                    && n.len() == to.0.len()
                    && from.as_str() <= n
                    && n <= to.as_str()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The owner's money: only allowed countries, never premium ranges.
    #[test]
    fn destinations_of_allowed_countries_only_and_never_premium() {
        let m = |s: &str| Msisdn(s.to_string());
        let dr = ["DO".to_string()];
        assert!(destination_allowed(&m("+18095551234"), &dr));
        assert!(destination_allowed(&m("+18295551234"), &dr));
        // Same calling code (+1), another country.
        assert!(!destination_allowed(&m("+12125551234"), &dr));
        assert!(!destination_allowed(&m("+34612345678"), &dr));
        let both = ["DO".to_string(), "us".to_string()];
        assert!(destination_allowed(&m("+12015550123"), &both));
        // North American premium rate (900) and toll-free (800).
        assert!(!destination_allowed(&m("+19002345678"), &both));
        assert!(!destination_allowed(&m("+18002345678"), &both));
        assert!(!destination_allowed(&m("not a number"), &both));
    }

    // R13: national DR numbers with the usual separators become E.164.
    #[test]
    fn dominican_national_numbers_normalise_to_e164() {
        for (raw, want) in [
            ("8095551234", "+18095551234"),
            ("829-555-1234", "+18295551234"),
            ("(849) 555.1234", "+18495551234"),
            (" 809 555 1234 ", "+18095551234"),
            ("+1 809 555 1234", "+18095551234"),
            ("1-809-555-1234", "+18095551234"),
        ] {
            assert_eq!(normalize(raw, "DO").unwrap().as_str(), want, "{raw}");
        }
    }

    // R13: valid foreign E.164 passes; junk, letters and wrong lengths do not.
    #[test]
    fn foreign_e164_validated_and_junk_refused() {
        assert_eq!(
            normalize("+34 612 345 678", "DO").unwrap().as_str(),
            "+34612345678"
        );
        for raw in [
            "",
            "+",
            "hello",
            "809-FLOWERS",
            "80955512",
            "809555123456",
            "+999123456",
            "12345",
            "809555123;4",
            "+34 12",
            "6123456789",
        ] {
            assert!(normalize(raw, "DO").is_err(), "{raw:?} accepted");
        }
        assert!(matches!(
            normalize("8095551234", "XX"),
            Err(NumberError::UnknownCountry(_))
        ));
    }

    // R9: prefixes (national or E.164), ranges and single numbers.
    #[test]
    fn fleet_plan_matches_prefixes_ranges_and_list() {
        let plan = FleetPlan::build(
            "DO",
            &["809777".into(), "+1829666".into()],
            &[("8495550100".into(), "8495550199".into())],
            &["8095550001".into()],
        )
        .unwrap();
        let yes = [
            "+18097771234",
            "+18296660000",
            "+18495550150",
            "+18095550001",
        ];
        let no = ["+18095551234", "+18495550200", "+18095550002"];
        for n in yes {
            assert!(plan.contains(&Msisdn(n.into())), "{n}");
        }
        for n in no {
            assert!(!plan.contains(&Msisdn(n.into())), "{n}");
        }
    }
}
