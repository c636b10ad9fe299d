//! The gateway: wires the modem pool, the session core and the store, and
//! serves the web layer through [`api::GatewayApi`].
//!
//! - [`api`]: the trait the web layer depends on and its data.

pub mod api;
