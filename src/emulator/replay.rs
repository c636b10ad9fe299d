//! A modem played back from a recording (a transcript: see
//! [`crate::transcript`]): each command is answered as the recorded one
//! was, matched by its content, not by its position, with the recorded
//! delays; the unsolicited codes that followed a recorded command come at
//! the same times after the replayed one.
//!
//! - A command the recording saw more than once gets its answers in the
//!   recorded order, then the last one again.
//! - A PDU written after the `> ` prompt is answered with the recording's
//!   answers to PDUs, in order (a PDU's content differs from run to run).
//! - A command the recording never saw is answered by the emulated modem
//!   ([`super::dce::Dce`]) and listed in [`Replay::unseen`].
//! - Unsolicited codes before the recording's first command come with the
//!   answer to the first command.
//!
//! Pure: no clock of its own; the DCE passes the time in.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::transcript::{Dir, Entry};

/// What followed one recorded command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    /// The answer's bytes (echo, information, final result or prompt),
    /// each at its time after the command.
    pub chunks: Vec<(Duration, Vec<u8>)>,
    /// Unsolicited codes after the final result and before the next
    /// command, each at its time after the command.
    pub urcs: Vec<(Duration, Vec<u8>)>,
}

/// A recording, indexed by command.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// The file it came from (for the status).
    pub source: String,
    answers: HashMap<String, Vec<Answer>>,
    pdus: Vec<Answer>,
    /// Lines before the first command: boot lines (at their times from the
    /// start, usually before any host listens) and message notices (after
    /// the host's `AT+CNMI`, which asks for them).
    boot: Vec<(Duration, Vec<u8>)>,
    notices: Vec<(Duration, Vec<u8>)>,
}

/// Whether `bytes` announce a message or report (TS 27.005 §3.4.1).
fn is_notice(bytes: &[u8]) -> bool {
    let t = String::from_utf8_lossy(bytes);
    ["+CMTI:", "+CDSI:", "+CMT:", "+CDS:"]
        .iter()
        .any(|p| t.contains(p))
}

const CMGS: &str = "AT+CMGS=";
/// How long after the host's `AT+CNMI` the recording's early notices come.
const NOTICE_AFTER_CNMI: Duration = Duration::from_millis(500);
/// Where every recorded `AT+CMGS=<n>` answer is also kept.
const ANY_CMGS: &str = "AT+CMGS=*";

/// The key a command is matched by: its text without the line end,
/// without spaces around it, in upper case.
pub fn key(command: &[u8]) -> String {
    String::from_utf8_lossy(command)
        .trim_matches(|c: char| c.is_whitespace() || c == '\r' || c == '\n')
        .to_ascii_uppercase()
}

impl Script {
    /// Indexes `entries` (from [`crate::transcript::read`]).
    pub fn new(source: &str, entries: &[Entry]) -> Result<Script, String> {
        let mut script = Script {
            source: source.to_string(),
            ..Default::default()
        };
        // (key or None for a PDU, time, answer so far, final result seen)
        let mut current: Option<(Option<String>, u64, Answer, bool)> = None;
        let mut lead: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut pending_line: Vec<u8> = Vec::new();
        fn finish(script: &mut Script, cur: Option<(Option<String>, u64, Answer, bool)>) {
            if let Some((k, _, answer, _)) = cur {
                match k {
                    Some(k) => {
                        // A send's length changes with its text: any
                        // recorded `AT+CMGS=<n>` answers any other.
                        if k.starts_with(CMGS) {
                            script
                                .answers
                                .entry(ANY_CMGS.into())
                                .or_default()
                                .push(answer.clone());
                        }
                        script.answers.entry(k).or_default().push(answer)
                    }
                    None => script.pdus.push(answer),
                }
            }
        }
        for e in entries {
            let bytes = e.bytes()?;
            match e.dir {
                Dir::ToModem => {
                    pending_line.extend_from_slice(&bytes);
                    // Whole commands (`\r`) or a PDU body (Ctrl-Z).
                    while let Some(end) = pending_line.iter().position(|&b| b == b'\r' || b == 0x1a)
                    {
                        let is_pdu = pending_line[end] == 0x1a;
                        let cmd: Vec<u8> = pending_line.drain(..=end).collect();
                        let k = key(&cmd[..cmd.len() - 1]);
                        if !is_pdu && !k.starts_with("AT") {
                            continue;
                        }
                        finish(&mut script, current.take());
                        let answer = Answer::default();
                        for (t, b) in lead.drain(..) {
                            let at = Duration::from_millis(t);
                            if is_notice(&b) {
                                script.notices.push((at, b));
                            } else {
                                script.boot.push((at, b));
                            }
                        }
                        current = Some(((!is_pdu).then_some(k), e.t_ms, answer, false));
                    }
                }
                Dir::FromModem => match &mut current {
                    None => lead.push((e.t_ms, bytes)),
                    Some((_, t0, answer, done)) => {
                        let at = Duration::from_millis(e.t_ms.saturating_sub(*t0));
                        if *done {
                            answer.urcs.push((at, bytes));
                        } else {
                            let text = String::from_utf8_lossy(&bytes).to_string();
                            // The chunk that holds the final result (or the
                            // prompt) ends the answer; what follows it in the
                            // same chunk is the answer's too (as it came).
                            if text.lines().any(crate::transcript::is_final) || text.ends_with("> ")
                            {
                                *done = true;
                            }
                            answer.chunks.push((at, bytes));
                        }
                    }
                },
            }
        }
        finish(&mut script, current.take());
        if script.answers.is_empty() && script.pdus.is_empty() {
            return Err(format!("{source}: no command in the recording"));
        }
        Ok(script)
    }

    /// The commands it knows (for a status).
    pub fn commands(&self) -> usize {
        self.answers.len()
    }
}

/// A script being played: where each command's answers are, the
/// unsolicited codes due, what was asked that the recording lacks.
#[derive(Debug, Clone)]
pub struct Replay {
    script: Arc<Script>,
    next: HashMap<String, usize>,
    next_pdu: usize,
    /// Unsolicited codes due at these times (the DCE's clock).
    due: Vec<(Duration, Vec<u8>)>,
    pub answered: u64,
    pub unseen: Vec<String>,
    notices_sent: bool,
}

/// The replay's state for the control API.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReplayStatus {
    pub source: String,
    /// Distinct commands in the recording.
    pub commands: usize,
    /// Commands answered from it.
    pub answered: u64,
    /// Commands it never saw (answered by the emulated modem), in the
    /// order first asked.
    pub unseen: Vec<String>,
}

impl Replay {
    /// Starts playing `script` at `now` (the boot lines come at their
    /// recorded times from here).
    pub fn new(script: Arc<Script>, now: Duration) -> Self {
        let due = script
            .boot
            .iter()
            .map(|(t, b)| (now + *t, b.clone()))
            .collect();
        Replay {
            script,
            next: HashMap::new(),
            next_pdu: 0,
            due,
            answered: 0,
            unseen: Vec::new(),
            notices_sent: false,
        }
    }

    pub fn status(&self) -> ReplayStatus {
        ReplayStatus {
            source: self.script.source.clone(),
            commands: self.script.commands(),
            answered: self.answered,
            unseen: self.unseen.clone(),
        }
    }

    /// The answer to `command` asked at `now` (its chunks with delays from
    /// the previous chunk, as the DCE writes them); `None` when the
    /// recording never saw it (noted in [`Replay::unseen`]).
    pub fn answer(&mut self, command: &[u8], now: Duration) -> Option<Vec<(Duration, Vec<u8>)>> {
        let k = key(command);
        if k.starts_with("AT+CNMI=") && !self.notices_sent {
            // The notices recorded before any command come once the host
            // has asked for notices, as far apart as they were.
            self.notices_sent = true;
            let first = self.script.notices.first().map_or(Duration::ZERO, |n| n.0);
            for (t, b) in &self.script.notices {
                self.due
                    .push((now + NOTICE_AFTER_CNMI + t.saturating_sub(first), b.clone()));
            }
        }
        let found = self.script.answers.get(&k).map(|_| k.clone()).or_else(|| {
            (k.starts_with(CMGS) && self.script.answers.contains_key(ANY_CMGS))
                .then(|| ANY_CMGS.to_string())
        });
        let Some(list) = found.and_then(|f| self.script.answers.get(&f).map(|l| (f, l))) else {
            if !self.unseen.contains(&k) {
                self.unseen.push(k);
            }
            return None;
        };
        let (k, list) = list;
        let i = self.next.entry(k).or_insert(0);
        let answer = list[(*i).min(list.len() - 1)].clone();
        *i += 1;
        Some(self.play(answer, now))
    }

    /// The answer to a PDU written after the prompt, or `None` when the
    /// recording has none.
    pub fn answer_pdu(&mut self, now: Duration) -> Option<Vec<(Duration, Vec<u8>)>> {
        if self.script.pdus.is_empty() {
            return None;
        }
        let i = self.next_pdu.min(self.script.pdus.len() - 1);
        self.next_pdu += 1;
        let answer = self.script.pdus[i].clone();
        Some(self.play(answer, now))
    }

    fn play(&mut self, answer: Answer, now: Duration) -> Vec<(Duration, Vec<u8>)> {
        self.answered += 1;
        for (at, bytes) in answer.urcs {
            self.due.push((now + at, bytes));
        }
        let mut last = Duration::ZERO;
        answer
            .chunks
            .into_iter()
            .map(|(at, bytes)| {
                let d = at.saturating_sub(last);
                last = at;
                (d, bytes)
            })
            .collect()
    }

    /// Unsolicited codes due by `now`, oldest first.
    pub fn due(&mut self, now: Duration) -> Vec<Vec<u8>> {
        self.due.sort_by_key(|(t, _)| *t);
        let n = self.due.iter().take_while(|(t, _)| *t <= now).count();
        self.due.drain(..n).map(|(_, b)| b).collect()
    }
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

    fn recording() -> Vec<Entry> {
        vec![
            e(0, Dir::FromModem, b"\r\nRDY\r\n"),
            e(100, Dir::ToModem, b"AT+CSQ\r"),
            e(130, Dir::FromModem, b"\r\n+CSQ: 14,99\r\n"),
            e(140, Dir::FromModem, b"\r\nOK\r\n"),
            e(2140, Dir::FromModem, b"\r\n^RSSI:14\r\n"),
            e(3000, Dir::ToModem, b"at+csq\r"),
            e(3010, Dir::FromModem, b"\r\n+CSQ: 9,99\r\n\r\nOK\r\n"),
            e(4000, Dir::ToModem, b"AT+CMGS=19\r"),
            e(4010, Dir::FromModem, b"\r\n> "),
            e(
                4020,
                Dir::ToModem,
                b"0011000B918190551532F40000AA05E8329BFD06\x1a",
            ),
            e(5020, Dir::FromModem, b"\r\n+CMGS: 7\r\n\r\nOK\r\n"),
            e(6000, Dir::FromModem, b"\r\n+CMTI: \"SM\",3\r\n"),
        ]
    }

    #[test]
    fn commands_are_answered_by_content_in_order_then_the_last_again() {
        let script = Arc::new(Script::new("t", &recording()).unwrap());
        let mut r = Replay::new(script, Duration::from_secs(10));
        let first = r.answer(b"AT+CSQ", Duration::from_secs(10)).unwrap();
        assert_eq!(
            first,
            vec![
                (Duration::from_millis(30), b"\r\n+CSQ: 14,99\r\n".to_vec()),
                (Duration::from_millis(10), b"\r\nOK\r\n".to_vec()),
            ]
        );
        // The boot line at the start, and the ^RSSI 2.04 s after the command.
        assert_eq!(
            r.due(Duration::from_secs(10)),
            vec![b"\r\nRDY\r\n".to_vec()]
        );
        assert!(r.due(Duration::from_millis(12_000)).is_empty());
        assert_eq!(
            r.due(Duration::from_millis(12_040)),
            vec![b"\r\n^RSSI:14\r\n".to_vec()]
        );
        let second = r.answer(b" at+CSQ ", Duration::from_secs(20)).unwrap();
        assert_eq!(second[0].1, b"\r\n+CSQ: 9,99\r\n\r\nOK\r\n".to_vec());
        let third = r.answer(b"AT+CSQ", Duration::from_secs(21)).unwrap();
        assert_eq!(third, second, "then the last one again");
        assert_eq!(r.answered, 3);
    }

    #[test]
    fn a_send_gets_its_prompt_then_the_pdus_answer_and_the_urc_after() {
        let script = Arc::new(Script::new("t", &recording()).unwrap());
        let mut r = Replay::new(script, Duration::ZERO);
        let _ = r.due(Duration::ZERO);
        // A send of another length is answered as the recorded send was.
        let prompt = r.answer(b"AT+CMGS=23", Duration::ZERO).unwrap();
        assert_eq!(prompt[0].1, b"\r\n> ".to_vec());
        assert!(r.unseen.is_empty());
        assert!(r.answer(b"AT+CMGR=9", Duration::ZERO).is_none());
        assert_eq!(r.unseen, vec!["AT+CMGR=9".to_string()]);
        let done = r.answer_pdu(Duration::from_secs(1)).unwrap();
        assert_eq!(done[0].0, Duration::from_millis(1000));
        assert_eq!(done[0].1, b"\r\n+CMGS: 7\r\n\r\nOK\r\n".to_vec());
        assert_eq!(
            r.due(Duration::from_millis(2980)),
            vec![b"\r\n+CMTI: \"SM\",3\r\n".to_vec()]
        );
        assert_eq!(r.status().unseen, vec!["AT+CMGR=9".to_string()]);
    }

    #[test]
    fn a_recording_without_commands_is_refused() {
        let only_urcs = vec![e(0, Dir::FromModem, b"\r\nRDY\r\n")];
        assert!(Script::new("t", &only_urcs).is_err());
    }
}

#[cfg(test)]
mod notice_tests {
    use super::*;
    use crate::transcript::escape;

    /// A notice recorded before any command (a fragment of a log) comes
    /// once the host asks for notices, not before anyone listens.
    #[test]
    fn early_notices_wait_for_the_hosts_cnmi() {
        let rec = vec![
            Entry {
                t_ms: 0,
                dir: Dir::FromModem,
                data: escape(b"\r\n+CDSI: \"SM\",0\r\n"),
            },
            Entry {
                t_ms: 100,
                dir: Dir::ToModem,
                data: escape(b"AT+CMGR=0\r"),
            },
            Entry {
                t_ms: 130,
                dir: Dir::FromModem,
                data: escape(b"\r\nOK\r\n"),
            },
        ];
        let mut r = Replay::new(Arc::new(Script::new("t", &rec).unwrap()), Duration::ZERO);
        assert!(r.due(Duration::from_secs(60)).is_empty());
        assert!(r
            .answer(b"AT+CNMI=2,1,0,2,0", Duration::from_secs(60))
            .is_none());
        assert!(r.due(Duration::from_millis(60_400)).is_empty());
        assert_eq!(r.due(Duration::from_millis(60_500)).len(), 1);
        assert_eq!(
            r.answer(b"AT+CMGR=0", Duration::from_secs(61)).unwrap()[0].1,
            b"\r\nOK\r\n".to_vec()
        );
    }
}
