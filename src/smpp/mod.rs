//! SMPP 3.4: smsgate as an ESME bound to an operator's SMSC, so that real
//! operator short codes (`2222`) join the pool beside the modems' SIM
//! numbers. The session core (R1–R13) is the same; only the transport
//! differs.
//!
//! - [`message`]: submit_sm and deliver_sm as plain data (pure).
//! - [`bind`]: one transceiver bind, its window, rate, keep-alive and
//!   reconnection (the I/O shell).
//!
//! The pool ([`crate::modem::pool::ModemPool`]) holds a bind's short codes
//! like modems, so R5/R6 allocation, admin, metrics and readiness see both.

pub mod bind;
pub mod message;
