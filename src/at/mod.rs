//! Pure AT protocol core (ITU-T V.250, 3GPP TS 27.007, TS 27.005).
//!
//! Owns: the [`Digester`] that turns modem bytes into typed [`Event`]s
//! (responses, the `> ` prompt, [`Urc`]s, garbage), typed commands
//! ([`commands`]) that build their bytes and parse their responses,
//! `+CMS`/`+CME` error codes, USSD strings ([`ussd`]: `+CUSD` and its
//! data coding schemes), and the layer error [`AtError`].
//! May not touch: serial ports, clocks, async runtimes, actors or storage.
//! A driver (the `Modem` actor) owns the port and the timers and calls in.
//!
//! How a driver uses it, step by step:
//! 1. `let cmd = commands::SignalQualityQuery;` then
//!    `digester.expect(cmd.in_flight())` and write `cmd.to_bytes()`.
//! 2. For every chunk read from the port: `digester.feed(chunk)`, then
//!    `while let Some(ev) = digester.next_event()` route it: `Urc` to the
//!    URC handler, `Prompt` → write the command's body (`SendPdu::body`),
//!    `Response(r)` → `cmd.parse_response(r)`, `Garbage`/`Stray` → log.
//! 3. If `cmd.timeout()` passes first: `digester.command_done()` and retry
//!    up to `cmd.attempts()` if the error is retryable.

mod cme;
mod cms;
mod codes;
pub mod commands;
mod digester;
mod error;
mod fields;
mod pin;
mod registration;
mod result;
mod urc;
pub mod ussd;

pub use cme::CmeError;
pub use cms::CmsError;
pub use commands::AtCommand;
pub use digester::{
    Digester, Event, InFlight, Response, MAX_LINE, MAX_RESPONSE_LINES, MAX_USSD_LINES,
};
pub use error::{AtError, Failure};
pub use pin::PinStatus;
pub use registration::{RegStatus, Registration};
pub use result::FinalResult;
pub use urc::Urc;
