//! Final result codes that end a command (ITU-T V.250 §5.7.1, 3GPP TS
//! 27.007 §9.2, TS 27.005 §3.2.5) and the typed [`FinalResult`].
//!
//! Owns: recognising a final-result line. May not touch: line framing or
//! the command in flight (the digester decides when a line can be final).

use super::cme::CmeError;
use super::cms::CmsError;

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FinalResult {
    /// `OK` (V.250 §5.7.1, result code 0).
    Ok,
    /// `ERROR` (V.250 §5.7.1, result code 4).
    Error,
    /// `+CME ERROR: <err>` (TS 27.007 §9.2).
    Cme(CmeError),
    /// `+CMS ERROR: <err>` (TS 27.005 §3.2.5).
    Cms(CmsError),
    /// `NO CARRIER` (V.250 §5.7.1, result code 3).
    NoCarrier,
    /// `BUSY` (V.250 §5.7.1, result code 7).
    Busy,
    /// `NO ANSWER` (V.250 §5.7.1, result code 8).
    NoAnswer,
    /// `NO DIALTONE` (V.250 §5.7.1, result code 6).
    NoDialtone,
    /// `COMMAND NOT SUPPORT` (Huawei quirk for an unknown command).
    CommandNotSupported,
    /// `TOO MANY PARAMETERS` (Huawei quirk).
    TooManyParameters,
    /// `ABORTED` (TS 27.007 §5.5 / V.250 §5.6.1: a command aborted by a
    /// character sent while it ran).
    Aborted,
}

impl FinalResult {
    /// Recognises a final-result line, or `None` if `line` is not one.
    pub fn parse(line: &str) -> Option<Self> {
        let line = line.trim();
        let upper = line.to_ascii_uppercase();
        if let Some(rest) = upper.strip_prefix("+CME ERROR:") {
            let text = line.get(line.len() - rest.len()..).unwrap_or(rest);
            return Some(Self::Cme(CmeError::parse(text)));
        }
        if let Some(rest) = upper.strip_prefix("+CMS ERROR:") {
            let text = line.get(line.len() - rest.len()..).unwrap_or(rest);
            return Some(Self::Cms(CmsError::parse(text)));
        }
        Some(match upper.as_str() {
            "OK" => Self::Ok,
            "ERROR" => Self::Error,
            "NO CARRIER" => Self::NoCarrier,
            "BUSY" => Self::Busy,
            "NO ANSWER" => Self::NoAnswer,
            "NO DIALTONE" | "NO DIAL TONE" => Self::NoDialtone,
            "COMMAND NOT SUPPORT" => Self::CommandNotSupported,
            "TOO MANY PARAMETERS" => Self::TooManyParameters,
            "ABORTED" => Self::Aborted,
            _ => return None,
        })
    }

    /// Whether the command succeeded.
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Ok)
    }
}

impl std::fmt::Display for FinalResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ok => f.write_str("OK"),
            Self::Error => f.write_str("ERROR"),
            Self::Cme(e) => write!(f, "+CME ERROR: {e}"),
            Self::Cms(e) => write!(f, "+CMS ERROR: {e}"),
            Self::NoCarrier => f.write_str("NO CARRIER"),
            Self::Busy => f.write_str("BUSY"),
            Self::NoAnswer => f.write_str("NO ANSWER"),
            Self::NoDialtone => f.write_str("NO DIALTONE"),
            Self::CommandNotSupported => f.write_str("COMMAND NOT SUPPORT"),
            Self::TooManyParameters => f.write_str("TOO MANY PARAMETERS"),
            Self::Aborted => f.write_str("ABORTED"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_codes() {
        assert_eq!(FinalResult::parse("OK"), Some(FinalResult::Ok));
        assert_eq!(FinalResult::parse("ERROR"), Some(FinalResult::Error));
        assert_eq!(
            FinalResult::parse("NO CARRIER"),
            Some(FinalResult::NoCarrier)
        );
        assert_eq!(FinalResult::parse("OKAY"), None);
        assert_eq!(FinalResult::parse("+CMGS: 5"), None);
    }

    #[test]
    fn command_not_support_huawei_e173() {
        assert_eq!(
            FinalResult::parse("COMMAND NOT SUPPORT"),
            Some(FinalResult::CommandNotSupported)
        );
    }

    #[test]
    fn cms_and_cme_numeric_and_verbose() {
        assert_eq!(
            FinalResult::parse("+CMS ERROR: 500"),
            Some(FinalResult::Cms(CmsError::UnknownError))
        );
        assert_eq!(
            FinalResult::parse("+CME ERROR: SIM not inserted"),
            Some(FinalResult::Cme(CmeError::SimNotInserted))
        );
        assert_eq!(
            FinalResult::parse("+cme error: 14"),
            Some(FinalResult::Cme(CmeError::SimBusy))
        );
    }

    #[test]
    fn non_ascii_does_not_panic() {
        assert_eq!(
            FinalResult::parse("+CME ERROR: ñandú"),
            Some(FinalResult::Cme(CmeError::Text("ñandú".into())))
        );
        assert_eq!(FinalResult::parse("ıok"), None);
    }
}
