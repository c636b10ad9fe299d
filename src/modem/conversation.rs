//! One AT conversation over one port: write a typed command, feed what comes
//! back to the pure digester, and return the typed answer — with URCs that
//! arrive meanwhile set aside for the caller, never lost.
//!
//! Owns the port's bytes and the digester; knows nothing of SMS routing,
//! profiles or actors. Generic over the port so tests may use any byte pipe.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use crate::at::commands::{SendPdu, PROMPT_TIMEOUT};
use crate::at::{AtCommand, AtError, Digester, Event, InFlight, Urc};

/// Errors of a conversation.
#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    #[error("port error: {0}")]
    Io(#[from] std::io::Error),
    #[error("the port was closed")]
    Closed,
    #[error("no answer to {command} within {timeout:?}")]
    Timeout {
        command: String,
        timeout: Duration,
        /// Information lines that came before the wait ran out (a modem
        /// that leaves out the final result).
        partial: Vec<String>,
    },
    #[error(transparent)]
    At(#[from] AtError),
}

impl ConversationError {
    /// Whether the modem should be treated as gone (reconnect) rather than
    /// as having refused one command.
    pub fn is_link_failure(&self) -> bool {
        matches!(self, ConversationError::Io(_) | ConversationError::Closed)
    }
}

/// A port with a digester on it.
pub struct Conversation<P> {
    port: P,
    digester: Digester,
    urcs: VecDeque<Urc>,
    /// Garbage chunks skipped so far (a modem's noise, logged and counted).
    pub garbage: u64,
    /// How long a command with a body waits for the `> ` prompt.
    pub prompt_timeout: Duration,
    /// Commands in a row that got no answer at all; any answer (`OK`, an
    /// error) sets it back to 0.
    pub unanswered: u32,
}

impl<P: AsyncRead + AsyncWrite + Unpin> Conversation<P> {
    pub fn new(port: P) -> Self {
        Conversation {
            port,
            digester: Digester::new(),
            urcs: VecDeque::new(),
            garbage: 0,
            prompt_timeout: PROMPT_TIMEOUT,
            unanswered: 0,
        }
    }

    /// URCs that arrived since the last call, oldest first.
    pub fn take_urcs(&mut self) -> Vec<Urc> {
        self.urcs.drain(..).collect()
    }

    /// Takes the oldest waiting URC that `wanted` picks (a `+CUSD:` the
    /// caller waits for); the others stay, in order, for
    /// [`Conversation::take_urcs`].
    pub fn take_urc(&mut self, wanted: impl Fn(&Urc) -> bool) -> Option<Urc> {
        let i = self.urcs.iter().position(wanted)?;
        self.urcs.remove(i)
    }

    /// Drops the waiting URCs that `stale` picks; how many.
    pub fn drop_urcs(&mut self, stale: impl Fn(&Urc) -> bool) -> usize {
        let before = self.urcs.len();
        self.urcs.retain(|u| !stale(u));
        before - self.urcs.len()
    }

    /// Whether URCs wait to be taken.
    pub fn has_urcs(&self) -> bool {
        !self.urcs.is_empty()
    }

    /// `AT+CPIN?`, also for a modem that sends its `+CPIN:` line and no
    /// final result: Wavecom's (python-gsmmodem issue #19, and its
    /// test/fakemodems.py: "missing 'OK'"). The line counts as the answer,
    /// and as an answer for [`Conversation::unanswered`].
    pub async fn pin_status(&mut self) -> Result<crate::at::PinStatus, ConversationError> {
        match self.exec(&crate::at::commands::PinQuery).await {
            Err(ConversationError::Timeout { partial, .. })
                if partial.iter().any(|l| l.trim_start().starts_with("+CPIN:")) =>
            {
                self.unanswered = 0;
                let line = partial
                    .iter()
                    .find(|l| l.trim_start().starts_with("+CPIN:"))
                    .map(|l| l.trim_start()["+CPIN:".len()..].to_string())
                    .unwrap_or_default();
                Ok(crate::at::PinStatus::parse(&line))
            }
            other => other,
        }
    }

    /// Runs one command and parses its answer.
    pub async fn exec<C: AtCommand>(&mut self, cmd: &C) -> Result<C::Response, ConversationError> {
        let response = self
            .run(cmd.in_flight(), &cmd.to_bytes(), None, cmd.timeout())
            .await?;
        Ok(cmd.parse_response(response)?)
    }

    /// `AT+CMGS`: the command, the PDU after the prompt, the message
    /// reference from the answer. No prompt within [`Self::prompt_timeout`]
    /// is a timeout with nothing written after the command (safe to retry);
    /// the answer after the PDU may take the command's whole timeout.
    pub async fn send_pdu(&mut self, cmd: &SendPdu) -> Result<u8, ConversationError> {
        let body = cmd.body();
        let response = self
            .run(cmd.in_flight(), &cmd.to_bytes(), Some(&body), cmd.timeout())
            .await?;
        Ok(cmd.parse_response(response)?)
    }

    /// A command given as text (profile init lines): its information lines.
    pub async fn raw(
        &mut self,
        line: &str,
        timeout: Duration,
    ) -> Result<Vec<String>, ConversationError> {
        let mut bytes = line.trim().as_bytes().to_vec();
        bytes.push(b'\r');
        let response = self
            .run(InFlight::new(&bytes), &bytes, None, timeout)
            .await?;
        Ok(response.into_lines()?)
    }

    /// Reads for at most `wait`, collecting URCs (used while idle).
    pub async fn idle(&mut self, wait: Duration) -> Result<(), ConversationError> {
        let deadline = Instant::now() + wait;
        let mut buf = [0u8; 1024];
        match tokio::time::timeout_at(deadline, self.port.read(&mut buf)).await {
            Err(_elapsed) => Ok(()),
            Ok(Ok(0)) => Err(ConversationError::Closed),
            Ok(Ok(n)) => {
                self.digester.feed(&buf[..n]);
                self.take_buffered_urcs();
                Ok(())
            }
            Ok(Err(e)) => Err(e.into()),
        }
    }

    /// Writes raw bytes (an ESC to leave a stuck prompt, a wake-up `AT`).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), ConversationError> {
        self.port.write_all(bytes).await?;
        self.port.flush().await?;
        Ok(())
    }

    async fn run(
        &mut self,
        in_flight: InFlight,
        bytes: &[u8],
        body: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<crate::at::Response, ConversationError> {
        let command = String::from_utf8_lossy(bytes).trim().to_string();
        self.digester.expect(in_flight);
        self.write_raw(bytes).await?;
        let started = Instant::now();
        let deadline = started + timeout;
        let prompt_deadline = deadline.min(started + self.prompt_timeout);
        let mut body = body;
        let mut answer = None;
        let mut buf = [0u8; 1024];
        loop {
            self.drain_events(&mut body, &mut answer);
            match answer.take() {
                Some(Answer::Response(r)) => {
                    self.unanswered = 0;
                    // What followed the answer in the same read (a `+CMTI`
                    // right after `OK`) is taken now: nothing else would
                    // read it out of the digester until more bytes come.
                    self.take_buffered_urcs();
                    return Ok(r);
                }
                Some(Answer::WriteBody(b)) => {
                    self.write_raw(&b).await?;
                    continue;
                }
                None => {}
            }
            // Until the prompt has come, the body is still ours to keep.
            let (until, waited) = match body {
                Some(_) => (prompt_deadline, self.prompt_timeout.min(timeout)),
                None => (deadline, timeout),
            };
            match tokio::time::timeout_at(until, self.port.read(&mut buf)).await {
                Err(_elapsed) => {
                    let partial = self.digester.abandon();
                    self.unanswered += 1;
                    let command = match body {
                        Some(_) => format!("{command} (the `> ` prompt)"),
                        None => command,
                    };
                    return Err(ConversationError::Timeout {
                        command,
                        timeout: waited,
                        partial,
                    });
                }
                Ok(Ok(0)) => return Err(ConversationError::Closed),
                Ok(Ok(n)) => self.digester.feed(&buf[..n]),
                Ok(Err(e)) => return Err(e.into()),
            }
        }
    }

    /// Takes every event already complete in the digester while no command
    /// waits for an answer: URCs aside; a prompt or result nobody asked for
    /// is skipped.
    fn take_buffered_urcs(&mut self) {
        let mut unasked = None;
        loop {
            self.drain_events(&mut None, &mut unasked);
            if unasked.take().is_none() {
                return;
            }
        }
    }

    /// Moves the digester's events: URCs aside, the response (or the
    /// prompt's body to write) into `answer`.
    fn drain_events(&mut self, body: &mut Option<&[u8]>, answer: &mut Option<Answer>) {
        while let Some(event) = self.digester.next_event() {
            match event {
                Event::Urc(u) => self.urcs.push_back(u),
                Event::Prompt => {
                    match body.take() {
                        Some(b) => {
                            *answer = Some(Answer::WriteBody(b.to_vec()));
                            return;
                        }
                        None => {
                            // A prompt nobody asked for: leave it with ESC.
                            *answer = Some(Answer::WriteBody(vec![0x1b]));
                            return;
                        }
                    }
                }
                Event::Response(r) => {
                    *answer = Some(Answer::Response(r));
                    return;
                }
                Event::Stray(result) => {
                    // A late answer to a command that already timed out.
                    tracing::debug!(?result, "stray final result skipped");
                }
                Event::Garbage(bytes) => {
                    self.garbage += 1;
                    tracing::debug!(len = bytes.len(), "modem garbage skipped");
                }
            }
        }
    }
}

enum Answer {
    Response(crate::at::Response),
    WriteBody(Vec<u8>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::at::commands::{PduHex, CTRL_Z};
    use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream};

    /// SIMCom SIM800 AT manual §4.2.5 example PDU ("hellohello").
    const SIM800_PDU: &str = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37";

    fn cmgs() -> SendPdu {
        let pdu = PduHex::parse(SIM800_PDU).unwrap_or_else(|e| panic!("{e}"));
        SendPdu::new(pdu).unwrap_or_else(|e| panic!("{e}"))
    }

    async fn read_some(modem: &mut DuplexStream) -> Vec<u8> {
        let mut buf = [0u8; 256];
        let n = modem.read(&mut buf).await.unwrap_or(0);
        buf[..n].to_vec()
    }

    /// A Wavecom answers `AT+CPIN?` with its `+CPIN:` line and no `OK`:
    /// the line is the answer.
    #[tokio::test]
    async fn a_cpin_line_without_ok_is_the_answer() {
        let (port, mut modem) = duplex(1024);
        let mut conv = Conversation::new(port);
        let answer = async {
            let _ = read_some(&mut modem).await;
            modem.write_all(b"\r\n+CPIN: READY\r\n").await.unwrap_or(());
            modem
        };
        let (status, _modem) = tokio::join!(conv.pin_status(), answer);
        assert_eq!(status.unwrap(), crate::at::PinStatus::Ready);
        assert_eq!(conv.unanswered, 0);
    }

    /// Only commands in a row without any answer count towards giving the
    /// modem up: an answer in between, even `ERROR`, starts again at 0
    /// (two timeouts hours apart are not a dead modem).
    #[tokio::test]
    async fn unanswered_counts_only_commands_in_a_row() {
        let (port, mut modem) = duplex(1024);
        let mut conv = Conversation::new(port);
        let short = Duration::from_millis(50);
        assert!(conv.raw("AT+CSQ", short).await.is_err());
        assert!(conv.raw("AT+CSQ", short).await.is_err());
        assert_eq!(conv.unanswered, 2);
        let _ = read_some(&mut modem).await;
        let answer = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            modem.write_all(b"\r\nERROR\r\n").await.unwrap_or(());
            modem
        };
        let (result, mut modem) =
            tokio::join!(conv.raw("AT+CREG?", Duration::from_secs(5)), answer);
        assert!(
            matches!(result, Err(ConversationError::At(_))),
            "{result:?}"
        );
        assert_eq!(conv.unanswered, 0, "an error is an answer");
        assert!(conv.raw("AT+COPS?", short).await.is_err());
        assert_eq!(conv.unanswered, 1);
        let _ = read_some(&mut modem).await;
    }

    /// A modem that swallows `AT+CMGS=` (hung, or deaf after a fault) is
    /// given up on after the prompt timeout, not after the network's 120 s,
    /// and nothing of the message was written: a retry sends it once.
    #[tokio::test]
    async fn no_prompt_times_out_quickly_with_the_pdu_unwritten() {
        let (port, mut modem) = duplex(1024);
        let mut conv = Conversation::new(port);
        conv.prompt_timeout = Duration::from_millis(100);
        let result = tokio::time::timeout(Duration::from_secs(5), conv.send_pdu(&cmgs()))
            .await
            .expect("gave up within the prompt timeout");
        assert!(
            matches!(&result, Err(ConversationError::Timeout { command, .. }) if command.contains("prompt")),
            "{result:?}"
        );
        assert_eq!(read_some(&mut modem).await, b"AT+CMGS=23\r");
        drop(conv);
        assert!(read_some(&mut modem).await.is_empty(), "no PDU written");
    }

    /// Once the PDU is written, the answer may take the network's time
    /// (a real radio takes seconds), far beyond the prompt timeout.
    #[tokio::test]
    async fn a_slow_answer_after_the_pdu_is_waited_for() {
        let (port, mut modem) = duplex(1024);
        let mut conv = Conversation::new(port);
        conv.prompt_timeout = Duration::from_millis(50);
        let network = async {
            assert_eq!(read_some(&mut modem).await, b"AT+CMGS=23\r");
            modem.write_all(b"\r\n> ").await.unwrap_or_default();
            let mut body = Vec::new();
            while !body.ends_with(&[CTRL_Z]) {
                body.extend(read_some(&mut modem).await);
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            modem
                .write_all(b"\r\n+CMGS: 7\r\n\r\nOK\r\n")
                .await
                .unwrap_or_default();
            body
        };
        let cmd = cmgs();
        let (sent, body) = tokio::join!(conv.send_pdu(&cmd), network);
        assert_eq!(sent.ok(), Some(7));
        assert_eq!(body, cmgs().body());
    }

    /// A notice the modem writes right after `OK`, in the same chunk, is
    /// waiting for the driver when the command returns: it is not left in
    /// the digester until the next command reads the port (the driver
    /// idles on the port meanwhile, so it would wait for the health check).
    #[tokio::test]
    async fn a_notice_right_after_the_answer_is_ready_when_the_command_returns() {
        use crate::at::commands::SignalQualityQuery;
        let (port, mut modem) = duplex(1024);
        let mut conv = Conversation::new(port);
        let network = async {
            assert_eq!(read_some(&mut modem).await, b"AT+CSQ\r");
            modem
                .write_all(b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n\r\n+CMTI: \"SM\",3\r\n")
                .await
                .unwrap_or_default();
        };
        let (answer, ()) = tokio::join!(conv.exec(&SignalQualityQuery), network);
        assert_eq!(answer.map(|q| q.rssi).ok(), Some(20));
        assert_eq!(
            conv.take_urcs(),
            vec![Urc::MessageStored {
                mem: "SM".into(),
                index: 3
            }]
        );
    }
}
