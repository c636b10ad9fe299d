//! The digester: modem bytes in, typed [`Event`]s out (ITU-T V.250 §5.7,
//! 3GPP TS 27.005 §3.1 / §3.4, TS 27.007 §4.1, §9.2).
//!
//! Owns: line framing (`\r\n`, `\r\r\n`, bare `\r` or `\n`), the `> `
//! prompt (which has no line end), dropping the echo of the command in
//! flight, telling URCs from response lines, pairing `+CMT`/`+CDS`/`+CMGR`/
//! `+CMGL` headers with their PDU line, and bounding every buffer.
//! May not touch: I/O, clocks, timeouts or retries — the driver owns those
//! and tells the digester what is in flight with [`Digester::expect`].
//!
//! Modelled on FactbirdHQ/atat's digester (URCs are separated from
//! responses in exactly one place) but line-oriented and stateful, so the
//! events never depend on how the input was chunked.

use std::collections::VecDeque;

use super::error::AtError;
use super::fields::{is_hex_line, strip_prefix};
use super::result::FinalResult;
use super::urc::{recognise, ussd, PduUrcHeader, Recognised, Urc};
use super::ussd::string_is_open;

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

/// Longest line kept (bytes). A modem that streams bytes without a line
/// end has them dropped and reported as [`Event::Garbage`] in pieces of
/// this size.
pub const MAX_LINE: usize = 4096;

/// Most information lines collected for one response (a full `+CMGL` of a
/// 255-slot store is 510 lines). Extra lines are reported as garbage.
pub const MAX_RESPONSE_LINES: usize = 1024;

/// Most lines one `+CUSD:` string may span (a USSD menu is at most 182
/// characters, TS 23.038 §6.1.2.3, so a few dozen lines at most). A string
/// still open after them was never going to close: it is handed over
/// verbatim.
pub const MAX_USSD_LINES: usize = 32;

/// What the driver tells the digester about the command it just sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InFlight {
    echo: Vec<u8>,
    prefix: Option<String>,
    prompt: bool,
    pdu_lines: bool,
}

impl InFlight {
    /// A command as written to the port (its echo, if the modem echoes,
    /// is dropped; V.250 §6.2.4 `E1`).
    pub fn new(command: &[u8]) -> Self {
        let end = command
            .iter()
            .rposition(|b| !matches!(b, b'\r' | b'\n'))
            .map_or(0, |i| i + 1);
        Self {
            echo: command.get(..end).unwrap_or_default().to_vec(),
            ..Self::default()
        }
    }

    /// The response prefix (e.g. `+CREG`): lines with it belong to the
    /// response even if the same text could be a URC; other `+X:`/`^X:`
    /// lines are URCs.
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = Some(prefix.to_owned());
        self
    }

    /// The command answers with the `> ` prompt first (TS 27.005 §3.5.1).
    pub fn with_prompt(mut self) -> Self {
        self.prompt = true;
        self
    }

    /// Each prefixed line is followed by a PDU line that belongs to the
    /// response (`+CMGR`, `+CMGL`: TS 27.005 §3.4.2, §3.4.3).
    pub fn with_pdu_lines(mut self) -> Self {
        self.pdu_lines = true;
        self
    }
}

/// A complete answer to the command in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Information lines, in order, without URCs or echo.
    pub lines: Vec<String>,
    /// How it ended.
    pub result: FinalResult,
}

impl Response {
    /// The lines if the result is `OK`, else the error.
    pub fn into_lines(self) -> Result<Vec<String>, AtError> {
        match AtError::from_final(&self.result) {
            None => Ok(self.lines),
            Some(e) => Err(e),
        }
    }
}

/// Something the modem said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An unsolicited result code.
    Urc(Urc),
    /// The `> ` prompt: send the PDU and Ctrl-Z now (TS 27.005 §3.5.1).
    Prompt,
    /// The command in flight finished.
    Response(Response),
    /// A final result with no command in flight (e.g. a late answer after
    /// the driver gave up on a command).
    Stray(FinalResult),
    /// Bytes that are not text: non-UTF-8, control characters, or an
    /// overlong line.
    Garbage(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pending {
    Nothing,
    UrcPdu(PduUrcHeader, String),
    ResponsePdu,
    /// A `+CUSD:` whose quoted string has not closed yet: the lines so
    /// far, joined with `\n`, and how many.
    Ussd(String, usize),
}

/// The stateful, sans-IO digester. Feed it bytes as they arrive and drain
/// events after each feed.
#[derive(Debug)]
pub struct Digester {
    buf: Vec<u8>,
    discarding: bool,
    skip_space: bool,
    in_flight: Option<InFlight>,
    prompt_seen: bool,
    lines: Vec<String>,
    pending: Pending,
    events: VecDeque<Event>,
}

impl Default for Digester {
    fn default() -> Self {
        Self::new()
    }
}

fn is_line_end(b: u8) -> bool {
    matches!(b, b'\r' | b'\n')
}

impl Digester {
    /// A digester with nothing in flight.
    pub fn new() -> Self {
        Self {
            buf: Vec::new(),
            discarding: false,
            skip_space: false,
            in_flight: None,
            prompt_seen: false,
            lines: Vec::new(),
            pending: Pending::Nothing,
            events: VecDeque::new(),
        }
    }

    /// Declares the command just written. Any unfinished previous response
    /// is forgotten.
    pub fn expect(&mut self, in_flight: InFlight) {
        self.command_done();
        self.in_flight = Some(in_flight);
    }

    /// Forgets the command in flight (the driver timed out or cancelled);
    /// its late final result will come out as [`Event::Stray`].
    /// Gives the command up (no final result came): the information
    /// lines it had collected, then as [`Digester::command_done`].
    pub fn abandon(&mut self) -> Vec<String> {
        let lines = std::mem::take(&mut self.lines);
        self.command_done();
        lines
    }

    pub fn command_done(&mut self) {
        self.in_flight = None;
        self.prompt_seen = false;
        self.skip_space = false;
        self.lines.clear();
        if self.pending == Pending::ResponsePdu {
            self.pending = Pending::Nothing;
        }
    }

    /// Whether a command is in flight.
    pub fn is_busy(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Digests `bytes`; the events are then available from
    /// [`Digester::next_event`].
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        let mut pos = 0;
        while pos < self.buf.len() {
            let rest = self.buf.get(pos..).unwrap_or_default();
            if self.discarding {
                match rest.iter().position(|b| is_line_end(*b)) {
                    Some(i) => {
                        pos += i + 1;
                        self.discarding = false;
                        continue;
                    }
                    None => {
                        pos = self.buf.len();
                        break;
                    }
                }
            }
            if std::mem::take(&mut self.skip_space) && rest.first() == Some(&b' ') {
                pos += 1;
                continue;
            }
            if rest.first() == Some(&b'>') && self.awaiting_prompt() {
                pos += 1;
                self.prompt_seen = true;
                self.skip_space = true;
                self.events.push_back(Event::Prompt);
                continue;
            }
            let window = rest.get(..MAX_LINE).unwrap_or(rest);
            match window.iter().position(|b| is_line_end(*b)) {
                Some(i) => {
                    let raw = rest.get(..i).unwrap_or_default().to_vec();
                    pos += i + 1;
                    self.on_line(raw);
                }
                None if rest.len() >= MAX_LINE => {
                    self.events.push_back(Event::Garbage(window.to_vec()));
                    pos += MAX_LINE;
                    self.discarding = true;
                }
                None => break,
            }
        }
        self.buf.drain(..pos.min(self.buf.len()));
    }

    /// The next event, oldest first.
    pub fn next_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn awaiting_prompt(&self) -> bool {
        self.in_flight.as_ref().is_some_and(|f| f.prompt) && !self.prompt_seen
    }

    fn on_line(&mut self, raw: Vec<u8>) {
        match clean(&raw) {
            Clean::Empty => {}
            Clean::Garbage => self.events.push_back(Event::Garbage(raw)),
            Clean::Text(line) => self.on_text(line),
        }
    }

    fn on_text(&mut self, line: String) {
        let mut keep_response_pdu = false;
        match std::mem::replace(&mut self.pending, Pending::Nothing) {
            Pending::Nothing => {}
            Pending::UrcPdu(header, header_line) => {
                if is_hex_line(&line) {
                    self.events.push_back(Event::Urc(header.complete(line)));
                    return;
                }
                if let Recognised::Urc(urc) = recognise(&line, true) {
                    self.events.push_back(Event::Urc(urc));
                    self.pending = Pending::UrcPdu(header, header_line);
                    return;
                }
                self.events.push_back(Event::Urc(Urc::Other(header_line)));
            }
            Pending::ResponsePdu => {
                if is_hex_line(&line) {
                    self.push_line(line);
                    return;
                }
                keep_response_pdu = true;
            }
            Pending::Ussd(mut text, lines) => {
                // A final result cannot be part of the text: the string
                // was never closed (a broken modem). What came is handed
                // over verbatim and the line is read as usual.
                if FinalResult::parse(&line).is_some() || lines >= MAX_USSD_LINES {
                    self.events.push_back(Event::Urc(Urc::Other(text)));
                } else {
                    text.push('\n');
                    text.push_str(&line);
                    if !string_is_open(&text) {
                        self.events.push_back(Event::Urc(ussd(&text)));
                    } else if text.len() > MAX_LINE {
                        self.events.push_back(Event::Garbage(text.into_bytes()));
                    } else {
                        self.pending = Pending::Ussd(text, lines + 1);
                    }
                    return;
                }
            }
        }
        if self.is_echo(&line) {
            return;
        }
        let in_flight = self.in_flight.as_ref();
        if let Some(f) = in_flight {
            if let Some(prefix) = &f.prefix {
                if strip_prefix(&line, prefix).is_some() {
                    if f.pdu_lines {
                        self.pending = Pending::ResponsePdu;
                    }
                    self.push_line(line);
                    return;
                }
            }
        }
        if let Some(result) = FinalResult::parse(&line) {
            self.finish(result);
            return;
        }
        let unknown_prefixed = in_flight.is_none_or(|f| f.prefix.is_some());
        match recognise(&line, unknown_prefixed) {
            Recognised::Urc(urc) => {
                if keep_response_pdu {
                    self.pending = Pending::ResponsePdu;
                }
                self.events.push_back(Event::Urc(urc));
            }
            Recognised::NeedsPdu(header) => self.pending = Pending::UrcPdu(header, line),
            Recognised::UssdContinues => self.pending = Pending::Ussd(line, 1),
            Recognised::No if self.in_flight.is_some() => self.push_line(line),
            Recognised::No => self.events.push_back(Event::Urc(Urc::Other(line))),
        }
    }

    /// The echo of the command line, or (after the prompt) of the PDU body
    /// with its Ctrl-Z (0x1A) or ESC (0x1B).
    fn is_echo(&self, line: &str) -> bool {
        let Some(f) = &self.in_flight else {
            return false;
        };
        if !f.echo.is_empty() && line.as_bytes().eq_ignore_ascii_case(&f.echo) {
            return true;
        }
        if self.prompt_seen {
            let body = line.trim_end_matches(['\u{1a}', '\u{1b}']);
            return body.len() < line.len() || is_hex_line(body);
        }
        false
    }

    fn push_line(&mut self, line: String) {
        if self.lines.len() < MAX_RESPONSE_LINES {
            self.lines.push(line);
        } else {
            self.events.push_back(Event::Garbage(line.into_bytes()));
        }
    }

    fn finish(&mut self, result: FinalResult) {
        if self.in_flight.is_some() {
            let lines = std::mem::take(&mut self.lines);
            self.events
                .push_back(Event::Response(Response { lines, result }));
            self.command_done();
        } else {
            self.events.push_back(Event::Stray(result));
        }
    }
}

enum Clean {
    Empty,
    Garbage,
    Text(String),
}

/// NULs are line noise (modems emit them at power-up) and are dropped; any
/// other control character except TAB, Ctrl-Z and ESC, or invalid UTF-8,
/// makes the whole line garbage.
fn clean(raw: &[u8]) -> Clean {
    let bytes: Vec<u8> = raw.iter().copied().filter(|b| *b != 0).collect();
    let bad_control = bytes
        .iter()
        .any(|b| (*b < 0x20 && !matches!(b, b'\t' | 0x1A | 0x1B)) || *b == 0x7F);
    match String::from_utf8(bytes) {
        Ok(_) if bad_control => Clean::Garbage,
        Ok(text) => {
            let text = text.trim_matches([' ', '\t']);
            if !text.is_empty() {
                Clean::Text(text.to_owned())
            } else if raw.is_empty() || raw.iter().all(|b| matches!(b, b' ' | b'\t')) {
                Clean::Empty
            } else {
                Clean::Garbage
            }
        }
        Err(_) => Clean::Garbage,
    }
}
