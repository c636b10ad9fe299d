//! USSD commands: `AT+CUSD=1,"<str>",15` and `AT+CUSD=2` (3GPP TS 27.007
//! §7.15). The answer itself is the unsolicited `+CUSD:` that follows the
//! `OK` ([`crate::at::Urc::Ussd`]); these commands only start and end it.
//!
//! Owns: the two command types and checking what goes inside the quotes.
//! May not touch: the digester, I/O or the session (the modem layer keeps
//! it).

use std::time::Duration;

use super::{set, AtCommand, Param, PLAIN_TIMEOUT};
use crate::at::error::AtError;
use crate::at::ussd::{encode_request, REQUEST_DCS};

/// How long `AT+CUSD=1` may take to give its `OK`. Most modems answer at
/// once and send `+CUSD:` later; some hold the `OK` until the network has
/// answered (python-gsmmodem `sendUssd` waits its whole response timeout
/// for the `OK`, and notes modems that print `+CUSD:` before it).
pub const CUSD_TIMEOUT: Duration = Duration::from_secs(30);

/// `AT+CUSD=1,"<str>",15`: send a USSD string with result codes enabled
/// (`<n>`=1). Sent once: a second try would be a second request to the
/// network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UssdRequest {
    on_the_wire: String,
}

impl UssdRequest {
    /// The request for `text` (a code such as `*123#`, or an answer to a
    /// menu), plain or (`packed`, the Huawei quirk) as packed GSM 7-bit
    /// hex.
    pub fn new(text: &str, packed: bool) -> Result<Self, AtError> {
        let on_the_wire =
            encode_request(text, packed).map_err(|e| AtError::InvalidArgument(e.to_string()))?;
        Ok(Self { on_the_wire })
    }
}

impl AtCommand for UssdRequest {
    type Response = ();
    const TIMEOUT: Duration = CUSD_TIMEOUT;
    const ATTEMPTS: u8 = 1;
    fn to_bytes(&self) -> Vec<u8> {
        set(
            "+CUSD",
            &[
                Param::Int(1),
                Param::Str(&self.on_the_wire),
                Param::Int(REQUEST_DCS.into()),
            ],
        )
    }
    fn parse(&self, _lines: &[String]) -> Result<(), AtError> {
        Ok(())
    }
}

/// `AT+CUSD=2`: cancel the open USSD session (TS 27.007 §7.15, `<n>`=2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UssdCancel;

impl AtCommand for UssdCancel {
    type Response = ();
    const TIMEOUT: Duration = PLAIN_TIMEOUT;
    fn to_bytes(&self) -> Vec<u8> {
        set("+CUSD", &[Param::Int(2)])
    }
    fn parse(&self, _lines: &[String]) -> Result<(), AtError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_on_the_wire() {
        let plain = UssdRequest::new("*123#", false).map(|c| c.to_bytes());
        assert_eq!(plain, Ok(b"AT+CUSD=1,\"*123#\",15\r".to_vec()));
        let huawei = UssdRequest::new("*100#", true).map(|c| c.to_bytes());
        assert_eq!(huawei, Ok(b"AT+CUSD=1,\"AA180C3602\",15\r".to_vec()));
        assert_eq!(UssdCancel.to_bytes(), b"AT+CUSD=2\r");
        assert_eq!(UssdRequest::ATTEMPTS, 1);
    }

    #[test]
    fn nothing_can_break_out_of_the_quotes() {
        assert!(UssdRequest::new("*1\"#", false).is_err());
        assert!(UssdRequest::new("*1#\r\nAT+CFUN=0", false).is_err());
        assert!(UssdRequest::new("", false).is_err());
    }
}
