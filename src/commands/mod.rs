//! Command-line subcommands that do their work and exit (as opposed to the
//! long-running services). Each prints to stdout/stderr and returns an exit
//! code; none of them panics on bad input.

pub mod config_check;
pub mod pdu;
