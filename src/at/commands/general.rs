//! General and SIM commands: `AT`, `ATE0`, `ATI` (ITU-T V.250 §6.1, §6.2),
//! `+CGMI`/`+CGMM`/`+CGMR`/`+CGSN`/`+CIMI` (3GPP TS 27.007 §5), `+CPIN`
//! (§8.3), `+CFUN` (§8.2), `+CMEE` (§9.1) and `+CMGF` (TS 27.005 §3.2.3).
//!
//! Owns: these command types and their response parsers. May not touch:
//! the digester or any I/O.

use std::time::Duration;

use super::{execute, prefixed_line, query, set, AtCommand, Param, PIN_TIMEOUT, PLAIN_TIMEOUT};
use crate::at::error::AtError;
use crate::at::fields::{parse_err, strip_prefix, unquote};
use crate::at::pin::PinStatus;

/// Declares a unit command whose response is only `OK`.
macro_rules! ok_command {
    ($(#[$m:meta])* $name:ident, $bytes:expr, $timeout:expr) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name;

        impl AtCommand for $name {
            type Response = ();
            const TIMEOUT: Duration = $timeout;
            fn to_bytes(&self) -> Vec<u8> {
                $bytes
            }
            fn parse(&self, _lines: &[String]) -> Result<(), AtError> {
                Ok(())
            }
        }
    };
}

ok_command!(
    /// `AT`: is anyone there? (V.250 §5.2.1)
    Attention,
    b"AT\r".to_vec(),
    PLAIN_TIMEOUT
);
ok_command!(
    /// `ATE0`: echo off (V.250 §6.2.4).
    EchoOff,
    execute("E0"),
    PLAIN_TIMEOUT
);

/// The single text line of an identification command, with an optional
/// `+NAME:` prefix removed (Quectel EC25 prints `+CGMR: ...` on some
/// firmware; most print the bare text).
fn single_text(lines: &[String], prefix: &str) -> Result<String, AtError> {
    let line = lines
        .iter()
        .find(|l| !l.is_empty())
        .ok_or_else(|| AtError::Unexpected(format!("no {prefix} text")))?;
    let text = strip_prefix(line, prefix).unwrap_or(line);
    Ok(unquote(text.trim()).to_owned())
}

/// Declares a text-answer identification command.
macro_rules! text_command {
    ($(#[$m:meta])* $name:ident, $cmd:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name;

        impl AtCommand for $name {
            type Response = String;
            const TIMEOUT: Duration = PLAIN_TIMEOUT;
            fn to_bytes(&self) -> Vec<u8> {
                execute($cmd)
            }
            fn parse(&self, lines: &[String]) -> Result<String, AtError> {
                single_text(lines, $cmd)
            }
        }
    };
}

text_command!(
    /// `AT+CGMI`: manufacturer (TS 27.007 §5.1).
    Manufacturer,
    "+CGMI"
);
text_command!(
    /// `AT+CGMM`: model (TS 27.007 §5.2).
    Model,
    "+CGMM"
);
text_command!(
    /// `AT+CGMR`: firmware revision (TS 27.007 §5.3).
    Revision,
    "+CGMR"
);

/// Declares a digits-answer command (IMEI, IMSI).
macro_rules! digits_command {
    ($(#[$m:meta])* $name:ident, $cmd:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name;

        impl AtCommand for $name {
            type Response = String;
            const TIMEOUT: Duration = PLAIN_TIMEOUT;
            fn to_bytes(&self) -> Vec<u8> {
                execute($cmd)
            }
            fn parse(&self, lines: &[String]) -> Result<String, AtError> {
                let text = single_text(lines, $cmd)?;
                if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(parse_err(&text, "expected digits"));
                }
                Ok(text)
            }
        }
    };
}

digits_command!(
    /// `AT+CGSN`: IMEI (TS 27.007 §5.4).
    Imei,
    "+CGSN"
);
digits_command!(
    /// `AT+CIMI`: IMSI (TS 27.007 §5.6).
    Imsi,
    "+CIMI"
);

/// `ATI`: product identification, all lines verbatim (V.250 §6.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IdentificationInfo;

impl AtCommand for IdentificationInfo {
    type Response = Vec<String>;
    const TIMEOUT: Duration = PLAIN_TIMEOUT;
    fn to_bytes(&self) -> Vec<u8> {
        execute("I")
    }
    fn parse(&self, lines: &[String]) -> Result<Vec<String>, AtError> {
        Ok(lines.to_vec())
    }
}

/// `AT+CPIN?`: what the SIM waits for (TS 27.007 §8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PinQuery;

impl AtCommand for PinQuery {
    type Response = PinStatus;
    const TIMEOUT: Duration = PIN_TIMEOUT;
    fn to_bytes(&self) -> Vec<u8> {
        query("+CPIN")
    }
    fn response_prefix(&self) -> Option<&'static str> {
        Some("+CPIN")
    }
    fn parse(&self, lines: &[String]) -> Result<PinStatus, AtError> {
        let (_, rest) = prefixed_line(lines, "+CPIN")?;
        Ok(PinStatus::parse(rest))
    }
}

/// `AT+CPIN="<pin>"`: unlock the SIM (TS 27.007 §8.3). Tried once: a
/// wrong PIN retried burns the SIM's attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnterPin(String);

impl EnterPin {
    /// A PIN of 4 to 8 digits (3GPP TS 31.101 §9.4.1 limits).
    pub fn new(pin: &str) -> Result<Self, AtError> {
        if (4..=8).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(pin.to_owned()))
        } else {
            Err(AtError::InvalidArgument("PIN must be 4 to 8 digits".into()))
        }
    }
}

impl AtCommand for EnterPin {
    type Response = ();
    const TIMEOUT: Duration = PIN_TIMEOUT;
    const ATTEMPTS: u8 = 1;
    fn to_bytes(&self) -> Vec<u8> {
        set("+CPIN", &[Param::Str(&self.0)])
    }
    fn parse(&self, _lines: &[String]) -> Result<(), AtError> {
        Ok(())
    }
}

/// `AT+CFUN?`: the functionality level `<fun>` (TS 27.007 §8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FunctionalityQuery;

impl AtCommand for FunctionalityQuery {
    type Response = u8;
    const TIMEOUT: Duration = PLAIN_TIMEOUT;
    fn to_bytes(&self) -> Vec<u8> {
        query("+CFUN")
    }
    fn response_prefix(&self) -> Option<&'static str> {
        Some("+CFUN")
    }
    fn parse(&self, lines: &[String]) -> Result<u8, AtError> {
        let (line, rest) = prefixed_line(lines, "+CFUN")?;
        let first = rest.split(',').next().unwrap_or_default().trim();
        first.parse().map_err(|_| parse_err(line, "bad <fun>"))
    }
}

/// `AT+CFUN=<fun>`: 0 minimum, 1 full, 4 flight mode (TS 27.007 §8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetFunctionality(pub u8);

impl AtCommand for SetFunctionality {
    type Response = ();
    const TIMEOUT: Duration = super::CFUN_TIMEOUT;
    const ATTEMPTS: u8 = 2;
    fn to_bytes(&self) -> Vec<u8> {
        set("+CFUN", &[Param::Int(self.0.into())])
    }
    fn parse(&self, _lines: &[String]) -> Result<(), AtError> {
        Ok(())
    }
}

/// `AT+CMEE=<n>`: 0 plain `ERROR`, 1 numeric codes, 2 verbose text
/// (TS 27.007 §9.1). The gateway uses 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetReportErrors(pub u8);

impl AtCommand for SetReportErrors {
    type Response = ();
    const TIMEOUT: Duration = PLAIN_TIMEOUT;
    fn to_bytes(&self) -> Vec<u8> {
        set("+CMEE", &[Param::Int(self.0.into())])
    }
    fn parse(&self, _lines: &[String]) -> Result<(), AtError> {
        Ok(())
    }
}

/// `AT+CMGF=<mode>`: 0 PDU mode, 1 text mode (TS 27.005 §3.2.3). The
/// gateway only uses 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetMessageFormat(pub u8);

impl AtCommand for SetMessageFormat {
    type Response = ();
    const TIMEOUT: Duration = PLAIN_TIMEOUT;
    fn to_bytes(&self) -> Vec<u8> {
        set("+CMGF", &[Param::Int(self.0.into())])
    }
    fn parse(&self, _lines: &[String]) -> Result<(), AtError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn bytes_on_the_wire() {
        assert_eq!(Attention.to_bytes(), b"AT\r");
        assert_eq!(EchoOff.to_bytes(), b"ATE0\r");
        assert_eq!(IdentificationInfo.to_bytes(), b"ATI\r");
        assert_eq!(Imei.to_bytes(), b"AT+CGSN\r");
        assert_eq!(PinQuery.to_bytes(), b"AT+CPIN?\r");
        assert_eq!(SetFunctionality(1).to_bytes(), b"AT+CFUN=1\r");
        assert_eq!(SetReportErrors(1).to_bytes(), b"AT+CMEE=1\r");
        assert_eq!(SetMessageFormat(0).to_bytes(), b"AT+CMGF=0\r");
        assert_eq!(
            EnterPin::new("1234").map(|c| c.to_bytes()),
            Ok(b"AT+CPIN=\"1234\"\r".to_vec())
        );
    }

    #[test]
    fn pin_cannot_carry_anything_but_digits() {
        assert!(EnterPin::new("12\"4").is_err());
        assert!(EnterPin::new("1234\r").is_err());
        assert!(EnterPin::new("123").is_err());
    }

    #[test]
    fn identification_huawei_e173_and_quectel_ec25() {
        assert_eq!(
            Manufacturer.parse(&lines(&["huawei"])).ok(),
            Some("huawei".into())
        );
        assert_eq!(
            Revision.parse(&lines(&["+CGMR: EC25EFAR06A03M4G"])).ok(),
            Some("EC25EFAR06A03M4G".into())
        );
        assert_eq!(
            Imei.parse(&lines(&["867223012345678"])).ok(),
            Some("867223012345678".into())
        );
        assert!(Imei.parse(&lines(&["ERRORISH"])).is_err());
        assert!(Imsi.parse(&[]).is_err());
    }

    #[test]
    fn cpin_and_cfun_sim800() {
        assert_eq!(
            PinQuery.parse(&lines(&["+CPIN: SIM PIN"])).ok(),
            Some(PinStatus::SimPin)
        );
        assert_eq!(
            FunctionalityQuery.parse(&lines(&["+CFUN: 1"])).ok(),
            Some(1)
        );
        assert!(FunctionalityQuery.parse(&lines(&["+CFUN: x"])).is_err());
    }
}
