//! Driving real GSM modems: one AT conversation per serial port, modem
//! profiles, probing and the `Modem` actor with its pool.
//!
//! - [`conversation`]: a port plus the pure digester: typed commands in,
//!   typed answers out, URCs set aside.
//! - [`profile`]: per-vendor data (init lines, `+CNMI`, storage, quirks)
//!   from `firmware-config/profiles/`, and picking one for a modem.
//! - [`probe`]: identifying the modem on one port for a technician.
//! - [`discovery`]: finding a modem's port again by its IMEI.

pub mod conversation;
pub mod discovery;
pub mod probe;
pub mod profile;
