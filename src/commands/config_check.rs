//! `smsgate config check [FILE]`: load a configuration and say what is wrong.

use std::path::Path;

use crate::config::Config;

/// Prints `ok` or one line per problem (`FILE: KEY: PROBLEM`) on stderr.
/// Returns the process exit code: 0 when valid, 1 otherwise.
pub fn run(file: Option<&Path>) -> i32 {
    let name = file
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "defaults".into());
    match Config::load(file) {
        Ok(cfg) => {
            // What the session core makes of it (numbers, tariff).
            if let Err(e) = crate::session::CoreConfig::from_config(&cfg) {
                eprintln!("{name}: {e}");
                return 1;
            }
            let modems = if cfg.modem.is_empty() && cfg.smpp.is_empty() {
                "no modem configured: `serve` runs the embedded emulated network".to_string()
            } else {
                format!(
                    "{} modem(s), {} SMPP bind(s)",
                    cfg.modem.len(),
                    cfg.smpp.len()
                )
            };
            println!("{name}: ok ({modems})");
            0
        }
        Err(e) => {
            for p in &e.problems {
                eprintln!("{p}");
            }
            1
        }
    }
}
