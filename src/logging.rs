//! Logging set-up: plain text to stdout (journald captures it), filtered by
//! `RUST_LOG` (default `info`). Owns nothing else.

use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global subscriber. Safe to call more than once (later calls
/// are ignored), so tests and subcommands may call it freely.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = fmt()
        .with_env_filter(filter)
        .with_target(true)
        .with_ansi(false)
        .with_writer(std::io::stdout)
        .try_init();
}
