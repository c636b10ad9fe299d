//! Network commands: `+CSQ` (3GPP TS 27.007 §8.5), `+CREG` (§7.2) and
//! `+COPS?` (§7.3).
//!
//! Owns: these command types, [`SignalQuality`] with its dBm/bars helpers,
//! and [`Operator`]. May not touch: the digester or any I/O.

use std::time::Duration;

use super::{execute, prefixed_line, query, set, AtCommand, Param, COPS_TIMEOUT, PLAIN_TIMEOUT};
use crate::at::error::AtError;
use crate::at::fields::{int, opt_int, opt_string, split_params};
use crate::at::registration::Registration;

/// `+CSQ: <rssi>,<ber>` (TS 27.007 §8.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalQuality {
    /// 0..=31 on the TS 27.007 scale, 99 = not known.
    pub rssi: u8,
    /// 0..=7 (RXQUAL, TS 45.008 §8.2.4), 99 = not known.
    pub ber: u8,
}

impl SignalQuality {
    /// Received power in dBm: 0 → -113, 1 → -111, 2..=30 → -109..=-53 in
    /// steps of 2, 31 → -51 (or better); `None` for 99 or out of range.
    pub fn dbm(&self) -> Option<i16> {
        match self.rssi {
            0..=31 => Some(-113 + 2 * i16::from(self.rssi)),
            _ => None,
        }
    }

    /// Bars 0..=4 as phones show them (0 also when unknown).
    pub fn bars(&self) -> u8 {
        match self.rssi {
            2..=9 => 1,
            10..=14 => 2,
            15..=19 => 3,
            20..=31 => 4,
            _ => 0,
        }
    }
}

/// `AT+CSQ` (TS 27.007 §8.5; an action command, not a read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SignalQualityQuery;

impl AtCommand for SignalQualityQuery {
    type Response = SignalQuality;
    const TIMEOUT: Duration = PLAIN_TIMEOUT;
    fn to_bytes(&self) -> Vec<u8> {
        execute("+CSQ")
    }
    fn response_prefix(&self) -> Option<&'static str> {
        Some("+CSQ")
    }
    fn parse(&self, lines: &[String]) -> Result<SignalQuality, AtError> {
        let (line, rest) = prefixed_line(lines, "+CSQ")?;
        let p = split_params(rest);
        Ok(SignalQuality {
            rssi: int(&p, 0, line)?,
            ber: int(&p, 1, line)?,
        })
    }
}

/// `AT+CREG?` (TS 27.007 §7.2). While it is in flight, `+CREG:` lines are
/// its response, not URCs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegistrationQuery;

impl AtCommand for RegistrationQuery {
    type Response = Registration;
    const TIMEOUT: Duration = PLAIN_TIMEOUT;
    fn to_bytes(&self) -> Vec<u8> {
        query("+CREG")
    }
    fn response_prefix(&self) -> Option<&'static str> {
        Some("+CREG")
    }
    fn parse(&self, lines: &[String]) -> Result<Registration, AtError> {
        let (line, rest) = prefixed_line(lines, "+CREG")?;
        Registration::parse(rest, line)
    }
}

/// `AT+CREG=<n>`: 0 no URC, 1 `+CREG: <stat>`, 2 with `<lac>,<ci>`
/// (TS 27.007 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetRegistrationReporting(pub u8);

impl AtCommand for SetRegistrationReporting {
    type Response = ();
    const TIMEOUT: Duration = PLAIN_TIMEOUT;
    fn to_bytes(&self) -> Vec<u8> {
        set("+CREG", &[Param::Int(self.0.into())])
    }
    fn parse(&self, _lines: &[String]) -> Result<(), AtError> {
        Ok(())
    }
}

/// `+COPS: <mode>[,<format>,<oper>[,<AcT>]]` (TS 27.007 §7.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Operator {
    /// `<mode>`: 0 automatic, 1 manual, 2 deregistered, 4 manual/automatic.
    pub mode: u8,
    /// `<format>`: 0 long name, 1 short name, 2 numeric MCC+MNC.
    pub format: Option<u8>,
    /// `<oper>`, unquoted.
    pub name: Option<String>,
    /// `<AcT>`: 0 GSM, 2 UTRAN, 7 E-UTRAN, ...
    pub act: Option<u8>,
}

/// `AT+COPS?` (TS 27.007 §7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OperatorQuery;

impl AtCommand for OperatorQuery {
    type Response = Operator;
    const TIMEOUT: Duration = COPS_TIMEOUT;
    fn to_bytes(&self) -> Vec<u8> {
        query("+COPS")
    }
    fn response_prefix(&self) -> Option<&'static str> {
        Some("+COPS")
    }
    fn parse(&self, lines: &[String]) -> Result<Operator, AtError> {
        let (line, rest) = prefixed_line(lines, "+COPS")?;
        let p = split_params(rest);
        Ok(Operator {
            mode: int(&p, 0, line)?,
            format: opt_int(&p, 1, line)?,
            name: opt_string(&p, 2),
            act: opt_int(&p, 3, line)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::at::registration::RegStatus;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn csq_sim800_and_unknown() {
        let q = SignalQualityQuery.parse(&lines(&["+CSQ: 21,0"]));
        assert_eq!(q, Ok(SignalQuality { rssi: 21, ber: 0 }));
        let q = SignalQuality { rssi: 21, ber: 0 };
        assert_eq!((q.dbm(), q.bars()), (Some(-71), 4));
        let unknown = SignalQuality { rssi: 99, ber: 99 };
        assert_eq!((unknown.dbm(), unknown.bars()), (None, 0));
        assert_eq!(SignalQuality { rssi: 0, ber: 0 }.dbm(), Some(-113));
        assert_eq!(SignalQuality { rssi: 31, ber: 0 }.dbm(), Some(-51));
        assert!(SignalQualityQuery.parse(&lines(&["+CSQ: ,"])).is_err());
        assert_eq!(SignalQualityQuery.to_bytes(), b"AT+CSQ\r");
    }

    #[test]
    fn creg_query_quectel_ec25() {
        let r = RegistrationQuery.parse(&lines(&[r#"+CREG: 2,1,"1A2B","01C3D4E5",7"#]));
        let r = r.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((r.n, r.stat, r.act), (Some(2), RegStatus::Home, Some(7)));
        assert_eq!(SetRegistrationReporting(2).to_bytes(), b"AT+CREG=2\r");
    }

    #[test]
    fn cops_forms() {
        let op = OperatorQuery.parse(&lines(&[r#"+COPS: 0,0,"CLARO DOM",2"#]));
        assert_eq!(op.map(|o| o.name), Ok(Some("CLARO DOM".into())));
        let op = OperatorQuery.parse(&lines(&["+COPS: 0"]));
        assert_eq!(op.map(|o| (o.mode, o.name)), Ok((0, None)));
    }
}
