//! SMPP on the wire: PDUs cut out of a byte stream by their command_length
//! (SMPP 3.4 §3.2), decoded and encoded with rusmpp's codec, and the
//! header-only responses rusmpp cannot express (an error `submit_sm_resp`
//! carries no body, §4.4.2).
//!
//! Pure: bytes in, frames and commands out. A bounded buffer; a length
//! that cannot be a PDU is an error the session answers by closing.

use bytes::BytesMut;
use rusmpp::tokio_codec::CommandCodec;
use rusmpp::Command;
use tokio_util::codec::{Decoder, Encoder};

/// The PDU header: command_length, command_id, command_status,
/// sequence_number (§3.2).
pub const HEADER_LEN: usize = 16;
/// The longest PDU accepted: room for a message_payload TLV of a long
/// text (Kannel's own bound is 7 424 octets); anything longer is taken
/// for garbage.
pub const MAX_PDU: usize = 16 * 1024;

/// A command_length that cannot be an SMPP PDU: the stream cannot be
/// resynchronised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("command_length {0} is not a PDU length")]
pub struct BadLength(pub u32);

/// Cuts whole PDUs out of a stream.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
}

impl Framer {
    /// Adds `bytes`; returns every whole PDU now complete, in order (each
    /// with its length field), or the bad length that ends the stream.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, BadLength> {
        self.buf.extend_from_slice(bytes);
        let mut frames = Vec::new();
        while let Some(head) = self.buf.get(..4) {
            let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
            let n = len as usize;
            if !(HEADER_LEN..=MAX_PDU).contains(&n) {
                self.buf.clear();
                return Err(BadLength(len));
            }
            if self.buf.len() < n {
                break;
            }
            frames.push(self.buf.drain(..n).collect());
        }
        Ok(frames)
    }
}

/// The header fields of a PDU (at least [`HEADER_LEN`] octets).
pub fn header(frame: &[u8]) -> (u32, u32, u32) {
    let word = |i: usize| {
        frame
            .get(i..i + 4)
            .map_or(0, |w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
    };
    (word(4), word(8), word(12))
}

/// Decodes one whole PDU; `None` when its body does not parse.
pub fn decode(frame: &[u8]) -> Option<Command> {
    let mut buf = BytesMut::from(frame);
    CommandCodec::new()
        .without_max_length()
        .decode(&mut buf)
        .ok()
        .flatten()
}

/// The octets of a command.
pub fn encode(command: &Command) -> Vec<u8> {
    let mut buf = BytesMut::new();
    // Encoding into memory cannot fail.
    let _ = CommandCodec::new().encode(command, &mut buf);
    buf.to_vec()
}

/// A PDU of header only: a response without body.
pub fn header_only(command_id: u32, status: u32, sequence: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    for word in [HEADER_LEN as u32, command_id, status, sequence] {
        out.extend_from_slice(&word.to_be_bytes());
    }
    out
}
