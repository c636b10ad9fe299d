//! Network registration state: `+CREG` (3GPP TS 27.007 §7.2) and `+CGREG`
//! (§10.1.20), shared by the query response and the URC.
//!
//! Owns: [`RegStatus`], [`Registration`] and the one parser for both forms.
//! May not touch: deciding *whether* a line is a URC (the digester does).

use super::error::AtError;
use super::fields::{int, is_quoted, opt_hex, opt_int, parse_err, split_params};

/// `<stat>` of TS 27.007 §7.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegStatus {
    /// 0: not registered, not searching.
    NotRegistered,
    /// 1: registered, home network.
    Home,
    /// 2: not registered, searching.
    Searching,
    /// 3: registration denied.
    Denied,
    /// 4: unknown.
    Unknown,
    /// 5: registered, roaming.
    Roaming,
    /// 6..: SMS-only / emergency / CSFB variants of later releases.
    Other(u8),
}

impl RegStatus {
    /// The enum for a numeric `<stat>`.
    pub fn from_code(code: u8) -> Self {
        match code {
            0 => Self::NotRegistered,
            1 => Self::Home,
            2 => Self::Searching,
            3 => Self::Denied,
            4 => Self::Unknown,
            5 => Self::Roaming,
            other => Self::Other(other),
        }
    }

    /// Whether the modem can send SMS now (home, roaming, or the
    /// "SMS only" states 6 and 7 of TS 27.007 §7.2).
    pub fn is_registered(&self) -> bool {
        matches!(self, Self::Home | Self::Roaming | Self::Other(6 | 7))
    }
}

/// A registration report, from `AT+CREG?` or from the URC.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Registration {
    /// `<n>`: the URC mode; present in query responses only.
    pub n: Option<u8>,
    /// `<stat>`.
    pub stat: RegStatus,
    /// `<lac>` (location area code), when `<n>` is 2.
    pub lac: Option<u32>,
    /// `<ci>` (cell id), when `<n>` is 2.
    pub ci: Option<u32>,
    /// `<AcT>` (access technology), when reported.
    pub act: Option<u8>,
}

impl Registration {
    /// Parses the parameters after `+CREG:`/`+CGREG:`.
    ///
    /// The query response is `<n>,<stat>[,<lac>,<ci>[,<AcT>]]`; the URC is
    /// `<stat>[,<lac>,<ci>[,<AcT>]]`. Some firmware (SIMCom SIM800 after
    /// `AT+CREG=2`) sends the query form unsolicited, so the form is told by
    /// the shape: `<lac>` is always a quoted string.
    pub fn parse(params_text: &str, line: &str) -> Result<Self, AtError> {
        let p = split_params(params_text);
        let second_quoted = p.get(1).is_some_and(|raw| is_quoted(raw));
        let with_n = match p.len() {
            1 => false,
            2 => true,
            3 => false,
            4 => !second_quoted,
            5 => true,
            _ => return Err(parse_err(line, "wrong number of registration parameters")),
        };
        let base = usize::from(with_n);
        let stat: u8 = int(&p, base, line)?;
        Ok(Self {
            n: if with_n {
                Some(int(&p, 0, line)?)
            } else {
                None
            },
            stat: RegStatus::from_code(stat),
            lac: opt_hex(&p, base + 1, line)?,
            ci: opt_hex(&p, base + 2, line)?,
            act: opt_int(&p, base + 3, line)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(text: &str) -> Registration {
        Registration::parse(text, text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn urc_and_query_forms() {
        assert_eq!(reg("1").stat, RegStatus::Home);
        assert_eq!(reg("0,5").n, Some(0));
        assert_eq!(reg("0,5").stat, RegStatus::Roaming);
        let urc = reg(r#"1,"00C3","0000A1B2""#);
        assert_eq!((urc.n, urc.lac, urc.ci), (None, Some(0xC3), Some(0xA1B2)));
        let urc4 = reg(r#"5,"1A2B","3C4D",7"#);
        assert_eq!((urc4.stat, urc4.act), (RegStatus::Roaming, Some(7)));
        let q4 = reg(r#"2,1,"1A2B","3C4D""#);
        assert_eq!((q4.n, q4.stat), (Some(2), RegStatus::Home));
        let q5 = reg(r#"2,1,"1A2B","3C4D",2"#);
        assert_eq!(q5.act, Some(2));
    }

    #[test]
    fn malformed_is_an_error_not_a_panic() {
        assert!(Registration::parse("", "").is_err());
        assert!(Registration::parse("x", "x").is_err());
        assert!(Registration::parse("1,2,3,4,5,6", "").is_err());
        assert!(Registration::parse(r#"1,"zz","1""#, "").is_err());
    }
}
