//! `smsgate pdu decode|encode`: the codec from the command line, for
//! technicians and for checking the codec against other implementations.
//!
//! Output is JSON on stdout; errors go to stderr with exit code 2.

/// Decodes `hex` and prints one JSON object. Returns the exit code.
pub fn decode(hex: &str, with_smsc: bool) -> i32 {
    let _ = (hex, with_smsc);
    eprintln!("pdu decode: not available in this build yet");
    2
}

/// Encodes `text` for `to` and prints a JSON array, one object per part.
pub fn encode(to: &str, text: &str, report: bool, smsc: Option<&str>, reference: u8) -> i32 {
    let _ = (to, text, report, smsc, reference);
    eprintln!("pdu encode: not available in this build yet");
    2
}
