//! Driving real GSM modems: one AT conversation per serial port, modem
//! profiles, probing and the `Modem` actor with its pool.
//!
//! - [`conversation`]: a port plus the pure digester: typed commands in,
//!   typed answers out, URCs set aside.

pub mod conversation;
