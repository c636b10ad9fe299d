//! The gateway: wires the modem pool, the session core and the store, and
//! serves the web layer through [`api::GatewayApi`].
//!
//! - [`api`]: the trait the web layer depends on and its data.
//! - [`supervisor`]: the actor that sequences the session core with the
//!   store, the modems and the live event channels.
//! - [`handle`]: the running gateway behind the [`api::GatewayApi`] trait.
//! - [`records`], [`views`]: what it persists, and the API's shapes.

pub mod api;
pub mod handle;
pub mod records;
pub mod supervisor;
pub mod views;
