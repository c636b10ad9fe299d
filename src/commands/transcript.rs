//! `smsgate transcript show FILE [--color auto|always|never]`: a
//! recording of a modem's serial line (`probe --record`, `[[modem]]
//! record`, `HIL_RECORD`, the emulator's transcript API) for a technician
//! to read: one line per line of the conversation with its time and
//! direction, unsolicited result codes marked, and every PDU decoded.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::Path;

use crate::sms::{decode_hex, Pdu};
use crate::transcript::{read, Dir, Entry};

/// When to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    /// When stdout is a terminal.
    Auto,
    Always,
    Never,
}

/// Prints `path` as text; 0, or 2 for a file that is not a transcript.
pub fn show(path: &Path, color: Color) -> i32 {
    let entries = match read(path) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("smsgate transcript: {e}");
            return 2;
        }
    };
    let colored = match color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stdout().is_terminal(),
    };
    print!("{}", render(&entries, colored));
    0
}

/// Writes `input` redacted to `output` (see
/// [`crate::transcript::redact`]); 0, or 2 when `input` is not a
/// transcript, 1 when `output` cannot be written.
pub fn redact_file(input: &Path, output: &Path) -> i32 {
    let entries = match read(input) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("smsgate transcript: {e}");
            return 2;
        }
    };
    let redacted = match crate::transcript::redact::redact(&entries) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("smsgate transcript: {}: {e}", input.display());
            return 2;
        }
    };
    let mut text = String::new();
    for e in &redacted {
        text.push_str(&serde_json::to_string(e).unwrap_or_default());
        text.push('\n');
    }
    if let Err(e) = std::fs::write(output, text) {
        eprintln!("smsgate transcript: {}: {e}", output.display());
        return 1;
    }
    0
}

/// One line about a decoded PDU.
fn describe(hex: &str, with_smsc: bool) -> Option<String> {
    let (_, pdu) = decode_hex(hex, with_smsc).ok()?;
    Some(match pdu {
        Pdu::Deliver(d) => format!(
            "SMS-DELIVER from {} at {}: {:?}{}",
            d.originator,
            d.scts,
            d.user_data.text.clone().unwrap_or_default(),
            part(&d.user_data)
        ),
        Pdu::Submit(s) => format!(
            "SMS-SUBMIT to {}{}: {:?}{}",
            s.destination,
            if s.status_report_request {
                ", report asked"
            } else {
                ""
            },
            s.user_data.text.clone().unwrap_or_default(),
            part(&s.user_data)
        ),
        Pdu::StatusReport(r) => format!(
            "SMS-STATUS-REPORT for message {} to {}: status {:#04x}",
            r.message_ref, r.recipient, r.status
        ),
    })
}

/// "(part 2 of 3, ref 66)" for a part of a concatenated message.
fn part(ud: &crate::sms::UserData) -> String {
    ud.udh
        .as_ref()
        .and_then(|h| h.concat.as_ref())
        .map(|c| format!(" (part {} of {}, ref {})", c.seq, c.total, c.reference))
        .unwrap_or_default()
}

/// The transcript as text, coloured or not.
pub fn render(entries: &[Entry], colored: bool) -> String {
    let paint = |code: &str, text: &str| {
        if colored {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    };
    let mut out = String::new();
    // A command has been written and its final result not yet seen: what
    // comes is its answer; otherwise it is unsolicited.
    let mut pending = false;
    let mut partial = String::new();
    for e in entries {
        let Ok(bytes) = e.bytes() else { continue };
        let t = format!("{:>9.3}", e.t_ms as f64 / 1000.0);
        match e.dir {
            Dir::ToModem => {
                let text = String::from_utf8_lossy(&bytes);
                if let Some(body) = text.strip_suffix('\x1a') {
                    let body = body.trim();
                    let _ = writeln!(
                        out,
                        "{t} {} {}",
                        paint("36", "→"),
                        paint("36", &format!("{body}<Ctrl-Z>"))
                    );
                    if let Some(d) = describe(body, true) {
                        let _ = writeln!(out, "{:>9} {}", "", paint("2", &format!("  {d}")));
                    }
                } else {
                    let shown = crate::transcript::escape(&bytes);
                    let _ = writeln!(out, "{t} {} {}", paint("36", "→"), paint("36", &shown));
                }
                pending = true;
            }
            Dir::FromModem => {
                partial.push_str(&String::from_utf8_lossy(&bytes));
                // Whole lines; the `> ` prompt has no line end.
                loop {
                    if partial.trim_start_matches(['\r', '\n']).starts_with("> ") {
                        let _ = writeln!(
                            out,
                            "{t} {} {}",
                            paint("33", "←"),
                            paint("33", "> (prompt)")
                        );
                        let rest = partial.trim_start_matches(['\r', '\n'])[2..].to_string();
                        partial = rest;
                        continue;
                    }
                    let Some(end) = partial.find(['\r', '\n']) else {
                        break;
                    };
                    let line = partial[..end].to_string();
                    partial = partial[end + 1..].to_string();
                    let raw = line.trim();
                    if raw.is_empty() {
                        continue;
                    }
                    // Control bytes (an echoed ESC) shown escaped.
                    let shown = if raw.chars().any(char::is_control) {
                        crate::transcript::escape(raw.as_bytes())
                    } else {
                        raw.to_string()
                    };
                    let line = shown.as_str();
                    if pending {
                        let _ = writeln!(out, "{t} {} {}", paint("33", "←"), line);
                        if crate::transcript::is_final(line) {
                            pending = false;
                        }
                    } else {
                        let _ = writeln!(
                            out,
                            "{t} {} {} {}",
                            paint("35", "⇠"),
                            line,
                            paint("35", "(unsolicited)")
                        );
                    }
                    if crate::transcript::looks_like_pdu(line) {
                        if let Some(d) = describe(line, true) {
                            let _ = writeln!(out, "{:>9} {}", "", paint("2", &format!("  {d}")));
                        }
                    }
                }
            }
        }
    }
    if !partial.trim().is_empty() {
        let _ = writeln!(out, "{:>9} {} {}", "", paint("33", "←"), partial.trim());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::escape;

    fn e(t_ms: u64, dir: Dir, data: &[u8]) -> Entry {
        Entry {
            t_ms,
            dir,
            data: escape(data),
        }
    }

    /// A send, a receive announced by `+CMTI`, and a Huawei `^RSSI`: the
    /// answers follow their commands, URCs are marked, PDUs decoded.
    #[test]
    fn a_session_reads_as_a_technician_wants() {
        let submit = "0011000B918190551532F40000AA05E8329BFD06";
        let deliver = "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37";
        let entries = vec![
            e(0, Dir::ToModem, b"AT+CMGS=19\r"),
            e(5, Dir::FromModem, b"\r\n> "),
            e(6, Dir::ToModem, format!("{submit}\x1a").as_bytes()),
            e(900, Dir::FromModem, b"\r\n+CMGS: 7\r\n\r\nOK\r\n"),
            e(2000, Dir::FromModem, b"\r\n^RSSI:14\r\n"),
            e(2100, Dir::FromModem, b"\r\n+CMTI: \"SM\",3\r\n"),
            e(2110, Dir::ToModem, b"AT+CMGR=3\r"),
            e(
                2120,
                Dir::FromModem,
                format!("\r\n+CMGR: 0,,24\r\n{deliver}\r\n\r\nOK\r\n").as_bytes(),
            ),
        ];
        let text = render(&entries, false);
        assert!(text.contains("→ AT+CMGS=19\\r"), "{text}");
        assert!(text.contains("← > (prompt)"), "{text}");
        assert!(text.contains("SMS-SUBMIT to +18095551234"), "{text}");
        assert!(text.contains("hello"), "{text}");
        assert!(text.contains("← +CMGS: 7"), "{text}");
        assert!(text.contains("⇠ ^RSSI:14 (unsolicited)"), "{text}");
        assert!(text.contains("⇠ +CMTI: \"SM\",3 (unsolicited)"), "{text}");
        assert!(text.contains("← +CMGR: 0,,24"), "{text}");
        assert!(text.contains("SMS-DELIVER from 27838890001"), "{text}");
        assert!(text.contains("hellohello"), "{text}");
        assert!(!text.contains('\x1b'));
        assert!(render(&entries, true).contains("\x1b[35m"));
    }
}
