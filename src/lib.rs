//! smsgate: a web-to-SMS gateway appliance with live two-way conversations.
//!
//! A tour of the crate, from the wire up:
//!
//! - [`sms`]: pure SMS codec (3GPP TS 23.040 / 23.038): PDUs, GSM 7-bit and
//!   UCS-2, concatenation headers, the splitter and the multipart assembler.
//! - [`at`]: pure AT protocol core (3GPP TS 27.005 / 27.007): the digester
//!   that turns modem bytes into typed events, typed commands, URCs and
//!   `+CMS`/`+CME` error codes.
//! - [`emulator`]: the emulated GSM network: modems on pseudo-terminals
//!   speaking AT, phones, fault injection and its control API.
//! - [`modem`]: driving GSM modems over serial ports (conversation,
//!   profiles, probe, the `Modem` actor and the pool).
//! - [`session`]: pure session core: web sessions and idle deadlines,
//!   short-code bindings, reply routing, opt-out, fleet numbers, charges.
//! - [`gateway`]: wires modems, sessions and the store; serves the web
//!   layer through one trait.
//! - [`web`]: axum: the public send page with live replies (SSE), the
//!   public and admin JSON APIs, `/metrics`, health; depends on the
//!   gateway only through `GatewayApi`.
//! - [`store`]: persistence in sled (the only module that imports it).
//! - [`keys`]: API keys (tokens kept as digests, webhook secrets).
//! - [`hooks`]: the durable webhook queue of API keys and its worker.
//! - [`mqtt`]: sms2mqtt's topics and Home Assistant discovery on a broker.
//! - [`clock`]: the one clock abstraction (system or manual time).
//! - [`config`]: the one configuration struct (TOML file plus
//!   `SMSGATE_SECTION__KEY` environment overrides) and its validation.
//! - [`commands`]: the command-line subcommands (`pdu`, `config check`,
//!   `emulator`, `probe`, `doctor`).
//! - [`doctor`]: `smsgate doctor`'s checks of the box (ports, ModemManager,
//!   power, clock, store, service), each with what to do about it.
//! - [`logging`]: tracing set-up (plain text on stdout, for journald).
//! - [`memory`]: giving freed heap pages back to the system.
//!
//! The pure cores (`sms`, `at`, `emulator::dce`, `emulator::network`) take bytes or values and return typed values;
//! they never touch a port, a socket, a clock or a file.

pub mod at;
pub mod clock;
pub mod commands;
pub mod config;
pub mod doctor;
pub mod emulator;
pub mod gateway;
pub mod hooks;
pub mod keys;
pub mod logging;
pub mod manual;
pub mod memory;
pub mod modem;
pub mod mqtt;
pub mod session;
pub mod smpp;
pub mod sms;
pub mod store;
pub mod timer;
pub mod transcript;
pub mod web;
