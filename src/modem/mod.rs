//! Driving real GSM modems: one AT conversation per serial port, modem
//! profiles, probing and the `Modem` actor with its pool.
//!
//! - [`conversation`]: a port plus the pure digester: typed commands in,
//!   typed answers out, URCs set aside.
//! - [`types`]: messages, outcomes, events and status shared by the rest.
//! - [`driver`]: the task that owns one port: init, send, receive, health,
//!   reconnect.
//! - [`actor`]: the actix `Modem` shell that restarts a panicked driver.
//! - [`pool`]: one modem per short code, events merged.

pub mod actor;
pub mod conversation;
pub mod driver;
pub mod pool;
pub mod types;
