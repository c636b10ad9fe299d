//! Driving real GSM modems: one AT conversation per serial port, modem
//! profiles, probing and the `Modem` actor with its pool.
//!
//! - [`conversation`]: a port plus the pure digester: typed commands in,
//!   typed answers out, URCs set aside.
//! - [`profile`]: per-vendor data (init lines, `+CNMI`, storage, quirks)
//!   from `firmware-config/profiles/`, and picking one for a modem.
//! - [`probe`]: identifying the modem on one port for a technician.
//! - [`discovery`]: finding a modem's port again by its IMEI.
//! - [`types`]: messages, outcomes, events and status shared by the rest.
//! - [`ussd`]: one modem's USSD session (`AT+CUSD`), for the driver and
//!   the offline `smsgate ussd`.
//! - [`driver`]: the task that owns one port: init, send, receive, health,
//!   reconnect.
//! - [`actor`]: the actix `Modem` shell that restarts a panicked driver.
//! - [`pool`]: one modem per short code, events merged.

pub mod actor;
pub mod conversation;
pub mod discovery;
pub mod driver;
pub mod pool;
pub mod probe;
pub mod profile;
pub mod types;
pub mod ussd;
