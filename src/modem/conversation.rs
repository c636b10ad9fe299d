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

use crate::at::commands::SendPdu;
use crate::at::{AtCommand, AtError, Digester, Event, InFlight, Urc};

/// Errors of a conversation.
#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    #[error("port error: {0}")]
    Io(#[from] std::io::Error),
    #[error("the port was closed")]
    Closed,
    #[error("no answer to {command} within {timeout:?}")]
    Timeout { command: String, timeout: Duration },
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
}

impl<P: AsyncRead + AsyncWrite + Unpin> Conversation<P> {
    pub fn new(port: P) -> Self {
        Conversation {
            port,
            digester: Digester::new(),
            urcs: VecDeque::new(),
            garbage: 0,
        }
    }

    /// URCs that arrived since the last call, oldest first.
    pub fn take_urcs(&mut self) -> Vec<Urc> {
        self.urcs.drain(..).collect()
    }

    /// Whether URCs wait to be taken.
    pub fn has_urcs(&self) -> bool {
        !self.urcs.is_empty()
    }

    /// Runs one command and parses its answer.
    pub async fn exec<C: AtCommand>(&mut self, cmd: &C) -> Result<C::Response, ConversationError> {
        let response = self
            .run(cmd.in_flight(), &cmd.to_bytes(), None, cmd.timeout())
            .await?;
        Ok(cmd.parse_response(response)?)
    }

    /// `AT+CMGS`: the command, the PDU after the prompt, the message
    /// reference from the answer.
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
                self.drain_events(&mut None, &mut None);
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
        let deadline = Instant::now() + timeout;
        let mut body = body;
        let mut answer = None;
        let mut buf = [0u8; 1024];
        loop {
            self.drain_events(&mut body, &mut answer);
            match answer.take() {
                Some(Answer::Response(r)) => return Ok(r),
                Some(Answer::WriteBody(b)) => {
                    self.write_raw(&b).await?;
                    continue;
                }
                None => {}
            }
            match tokio::time::timeout_at(deadline, self.port.read(&mut buf)).await {
                Err(_elapsed) => {
                    self.digester.command_done();
                    return Err(ConversationError::Timeout { command, timeout });
                }
                Ok(Ok(0)) => return Err(ConversationError::Closed),
                Ok(Ok(n)) => self.digester.feed(&buf[..n]),
                Ok(Err(e)) => return Err(e.into()),
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
