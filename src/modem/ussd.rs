//! One modem's USSD session (3GPP TS 22.090, TS 27.007 §7.15): send a
//! code or a menu answer with `AT+CUSD=1`, wait for the `+CUSD:` that
//! answers it, remember an open menu, and cancel it with `AT+CUSD=2`.
//!
//! Owns the session rules: an answer inside an open menu continues it; a
//! new top-level code (`*`, `#`) while a menu is open cancels the old one
//! first; a menu left open for [`USSD_SESSION_TIMEOUT`] is to be cancelled
//! (the caller asks [`UssdSession::expires_at`]); no `+CUSD:` in time
//! cancels too. Used by the driver (between sends) and by the offline
//! `smsgate ussd` command, over any [`Conversation`]. May not touch: the
//! send queue, profiles or actors; other URCs stay in the conversation for
//! their owner.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use super::conversation::{Conversation, ConversationError};
use super::types::{UssdAnswer, UssdError};
use crate::at::commands::{UssdCancel, UssdRequest};
use crate::at::ussd::{self, status, MAX_USSD_LEN};
use crate::at::Urc;

/// How long to wait for the `+CUSD:` after the `OK` (networks answer in
/// seconds; python-gsmmodem's `sendUssd` waits 15 s by default, and a
/// slow USSD gateway takes longer).
pub const USSD_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a menu (`+CUSD: 1`) is kept open for its answer before the
/// modem cancels it. Networks drop an idle USSD dialogue after some tens
/// of seconds (TS 24.090 leaves the timer to the network); a menu kept
/// open longer only blocks the next request.
pub const USSD_SESSION_TIMEOUT: Duration = Duration::from_secs(60);

/// What a request does with the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Answer the open menu.
    Continue,
    /// Start a new session; `cancel_first` when a menu is still open.
    New { cancel_first: bool },
}

/// Checks `code` and decides what it does with the session: a top-level
/// code starts with `*` or `#`, or is any run of `0-9*#+` when no menu is
/// open; inside an open menu, anything else is the answer to it.
pub fn classify(code: &str, open: bool) -> Result<Step, UssdError> {
    if code.is_empty() {
        return Err(UssdError::Invalid("empty".into()));
    }
    if code.chars().count() > MAX_USSD_LEN {
        return Err(UssdError::Invalid(format!(
            "longer than {MAX_USSD_LEN} characters"
        )));
    }
    let dialable = |c: char| c.is_ascii_digit() || matches!(c, '*' | '#' | '+');
    let top_level = code.starts_with(['*', '#']);
    if top_level || !open {
        if let Some(bad) = code.chars().find(|c| !dialable(*c)) {
            return Err(UssdError::Invalid(format!(
                "{bad:?} in {code:?}: a USSD code has only 0-9 * # +"
            )));
        }
        return Ok(Step::New { cancel_first: open });
    }
    Ok(Step::Continue)
}

/// The answer a `+CUSD:` gives, decoded; `packed` is the Huawei quirk.
pub fn answer_of(
    m: u8,
    text: Option<&str>,
    dcs: Option<u8>,
    packed: bool,
) -> Result<UssdAnswer, UssdError> {
    match m {
        status::DONE | status::MENU | status::TERMINATED => {
            let reply = ussd::decode(text.unwrap_or_default(), dcs, packed)
                .map_err(|_| UssdError::Garbled(text.unwrap_or_default().to_owned()))?;
            Ok(UssdAnswer {
                reply,
                session_open: m == status::MENU,
                status: m,
            })
        }
        status::OTHER_CLIENT => Err(UssdError::Refused(
            "another local client answered (+CUSD: 3)".into(),
        )),
        status::NOT_SUPPORTED => Err(UssdError::NotSupported),
        status::NETWORK_TIMEOUT => Err(UssdError::NetworkTimeout),
        other => Err(UssdError::Garbled(format!(
            "+CUSD: {other},{}",
            text.unwrap_or_default()
        ))),
    }
}

fn is_ussd(u: &Urc) -> bool {
    matches!(u, Urc::Ussd { .. })
}

/// The USSD session of one modem.
#[derive(Debug, Clone)]
pub struct UssdSession {
    packed: bool,
    answer_timeout: Duration,
    open_since: Option<Instant>,
}

impl UssdSession {
    /// A closed session; `packed` is the profile's `ussd_packed_hex`.
    pub fn new(packed: bool, answer_timeout: Duration) -> Self {
        UssdSession {
            packed,
            answer_timeout,
            open_since: None,
        }
    }

    /// Whether a menu waits for an answer.
    pub fn is_open(&self) -> bool {
        self.open_since.is_some()
    }

    /// When an open menu is to be cancelled.
    pub fn expires_at(&self) -> Option<Instant> {
        self.open_since.map(|t| t + USSD_SESSION_TIMEOUT)
    }

    /// A `+CUSD:` nobody waited for (a network-initiated USSD, or the
    /// network ending the dialogue): anything but a menu ends ours.
    pub fn on_unsolicited(&mut self, m: u8) {
        if m != status::MENU {
            self.open_since = None;
        }
    }

    /// Sends `code` (a code, or the answer to the open menu) and waits for
    /// its `+CUSD:`. `Err` only when the port failed; the request's own
    /// failure is the inner `Err`. URCs other than `+CUSD:` that come
    /// meanwhile stay in `conv` for the caller.
    pub async fn request<P: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        conv: &mut Conversation<P>,
        code: &str,
    ) -> Result<Result<UssdAnswer, UssdError>, ConversationError> {
        let code = code.trim();
        let step = match classify(code, self.is_open()) {
            Ok(step) => step,
            Err(e) => return Ok(Err(e)),
        };
        let cmd = match UssdRequest::new(code, self.packed) {
            Ok(cmd) => cmd,
            Err(e) => return Ok(Err(UssdError::Invalid(e.to_string()))),
        };
        let cancelled = step == (Step::New { cancel_first: true });
        if cancelled {
            self.cancel(conv).await?;
        }
        // A late `+CUSD:` of an earlier request is not this one's answer.
        let stale = conv.drop_urcs(is_ussd);
        if stale > 0 {
            tracing::debug!(stale, "earlier USSD answers dropped");
        }
        // The bare `+CUSD: 2` some modems print for the session just
        // cancelled may still be on its way: it is not the new answer
        // (python-gsmmodem `_parseCusdResponse` skips such "session
        // release" notices too).
        let mut release_pending = cancelled && stale == 0;
        match conv.exec(&cmd).await {
            Ok(()) => {}
            Err(e) if e.is_link_failure() => return Err(e),
            Err(ConversationError::At(e)) => {
                self.open_since = None;
                return Ok(Err(UssdError::Refused(e.to_string())));
            }
            Err(_) => {
                self.open_since = None;
                return Ok(Err(UssdError::NoAnswer));
            }
        }
        let deadline = Instant::now() + self.answer_timeout;
        loop {
            if let Some(Urc::Ussd { status, text, dcs }) = conv.take_urc(is_ussd) {
                if release_pending && status == status::TERMINATED && text.is_none() {
                    release_pending = false;
                    continue;
                }
                self.open_since = (status == status::MENU).then(Instant::now);
                return Ok(answer_of(status, text.as_deref(), dcs, self.packed));
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            conv.idle(deadline - now).await?;
        }
        // Nothing came: end whatever the network may still hold open.
        self.cancel(conv).await?;
        Ok(Err(UssdError::NoAnswer))
    }

    /// `AT+CUSD=2`: ends the session. A refusal (no session to end) or no
    /// answer still leaves it closed; only a failed port is an error.
    pub async fn cancel<P: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        conv: &mut Conversation<P>,
    ) -> Result<(), ConversationError> {
        self.open_since = None;
        match conv.exec(&UssdCancel).await {
            Err(e) if e.is_link_failure() => Err(e),
            Err(e) => {
                tracing::debug!(error = %e, "USSD cancel refused");
                Ok(())
            }
            Ok(()) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
