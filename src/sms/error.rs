//! The one error type of the SMS codec layer ([`PduError`]).
//!
//! Owns the error messages a technician reads when a PDU does not decode or a
//! text cannot be encoded. Touches nothing else: no I/O, no logging.

use thiserror::Error;

/// Everything that can go wrong while decoding or encoding an SMS PDU
/// (3GPP TS 23.040 §9.2). Decoding untrusted bytes returns one of these,
/// never panics.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PduError {
    /// The input is not an even-length string of hexadecimal digits.
    #[error("bad hex: {0}")]
    BadHex(String),
    /// The PDU ends before a field that TS 23.040 §9.2.2 says must be there.
    #[error("PDU truncated at octet {at}: missing {what}")]
    Truncated {
        /// Zero-based offset of the first missing octet.
        at: usize,
        /// The field being read.
        what: &'static str,
    },
    /// A length field is out of its allowed range.
    #[error("bad length: {0}")]
    BadLength(String),
    /// TP-MTI names a message type this codec does not handle
    /// (TS 23.040 §9.2.3.1).
    #[error("unsupported message type (TP-MTI {0:#04x})")]
    UnsupportedMessageType(u8),
    /// A TP service-centre time stamp (TS 23.040 §9.2.3.11) is not a valid
    /// date, time or time zone.
    #[error("bad timestamp (SCTS): {0}")]
    BadTimestamp(String),
    /// An address (TS 23.040 §9.1.2.5) cannot be decoded or encoded.
    #[error("bad address: {0}")]
    BadAddress(String),
    /// The user data header (TS 23.040 §9.2.3.24) is malformed.
    #[error("bad user data header: {0}")]
    BadUdh(String),
    /// A text holds a character that the chosen alphabet cannot carry.
    #[error("character {0:?} is not in the GSM 7-bit default alphabet")]
    NotGsm7(char),
    /// The text needs more than 255 concatenated parts (TS 23.040 §9.2.3.24.1).
    #[error("text too long: needs {0} parts, at most 255")]
    TooManyParts(usize),
}
