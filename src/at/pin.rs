//! SIM PIN state `<code>` of `+CPIN` (3GPP TS 27.007 §8.3), shared by the
//! `AT+CPIN?` response and the `+CPIN: READY` URC.
//!
//! Owns: [`PinStatus`]. May not touch: anything else.

/// What the SIM is waiting for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PinStatus {
    /// `READY`: no password pending.
    Ready,
    /// `SIM PIN`.
    SimPin,
    /// `SIM PUK`.
    SimPuk,
    /// `SIM PIN2`.
    SimPin2,
    /// `SIM PUK2`.
    SimPuk2,
    /// `PH-SIM PIN`.
    PhSimPin,
    /// `NOT INSERTED` (SIMCom, Quectel: not in TS 27.007, but common).
    NotInserted,
    /// Anything else, verbatim.
    Other(String),
}

impl PinStatus {
    /// Parses the `<code>` text.
    pub fn parse(code: &str) -> Self {
        let code = code.trim().trim_matches('"');
        match code.to_ascii_uppercase().as_str() {
            "READY" => Self::Ready,
            "SIM PIN" => Self::SimPin,
            "SIM PUK" => Self::SimPuk,
            "SIM PIN2" => Self::SimPin2,
            "SIM PUK2" => Self::SimPuk2,
            "PH-SIM PIN" => Self::PhSimPin,
            "NOT INSERTED" | "SIM REMOVED" => Self::NotInserted,
            _ => Self::Other(code.to_owned()),
        }
    }
}
