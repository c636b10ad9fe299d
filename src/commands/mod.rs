//! Command-line subcommands: each parses its options, prints to
//! stdout/stderr and returns an exit code; none panics on bad input.

pub mod config_check;
pub mod doctor;
pub mod emulator;
pub mod keys;
pub mod pdu;
pub mod probe;
pub mod reload;
pub mod sd;
pub mod serve;
pub mod signals;
pub mod store;
pub mod transcript;
pub mod ussd;
