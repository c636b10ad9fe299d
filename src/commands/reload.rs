//! SIGHUP for `smsgate serve`: re-reads and checks the configuration and
//! says, key by key, what changed. The `[[modem]]` and `[[smpp]]` lists
//! are applied by the caller when real transports run (added modems and
//! binds start, removed ones drain and stop); every other change is logged as "restart needed" (the web layer
//! and the gateway take their settings at start-up). A broken file is
//! reported and the running configuration is kept. Owns only that
//! comparison.

use std::path::Path;

use serde_json::Value;

use crate::config::Config;

/// The dotted keys (`limits.max_parts`, `modem`) whose values differ
/// between `running` and `new`, in order.
pub fn changed_keys(running: &Config, new: &Config) -> Vec<String> {
    let (Ok(a), Ok(b)) = (serde_json::to_value(running), serde_json::to_value(new)) else {
        return vec!["(configuration)".to_string()];
    };
    let mut out = Vec::new();
    diff("", &a, &b, &mut out);
    out
}

fn diff(prefix: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => diff(&path, x, y, out),
                    _ => out.push(path),
                }
            }
        }
        // Lists (modems, taxes, fleet prefixes) count as one value.
        (a, b) if a != b => out.push(prefix.to_string()),
        _ => {}
    }
}

/// Handles one SIGHUP: re-reads `file` (and the environment), logs the
/// outcome, and returns the new configuration with the keys that changed
/// (`None` when the new configuration is invalid). `live_modems`: the
/// `[[modem]]` list is applied without a restart (the caller does it), so
/// only the other keys are logged as needing one.
pub fn on_hangup(
    file: Option<&Path>,
    running: &Config,
    live_modems: bool,
) -> Option<(Config, Vec<String>)> {
    let source = file
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "defaults and environment".to_string());
    match Config::load(file) {
        Err(e) => {
            for p in &e.problems {
                tracing::warn!(problem = %p, "SIGHUP: configuration invalid");
            }
            tracing::warn!(
                %source,
                "SIGHUP: configuration invalid, keeping the running one"
            );
            None
        }
        Ok(new) => {
            let changed = changed_keys(running, &new);
            let restart: Vec<&String> = changed
                .iter()
                .filter(|k| !(live_modems && (*k == MODEMS || *k == BINDS)))
                .collect();
            if changed.is_empty() {
                tracing::info!(%source, "SIGHUP: configuration re-read: no change");
            } else if restart.is_empty() {
                tracing::info!(%source, "SIGHUP: configuration re-read: modems or binds changed");
            } else {
                for key in &restart {
                    tracing::warn!(%source, "SIGHUP: changed {key}: restart needed");
                }
                tracing::warn!(
                    %source,
                    changed = restart.len(),
                    "SIGHUP: configuration re-read; changes take effect after `systemctl restart smsgate`"
                );
            }
            Some((new, changed))
        }
    }
}

/// The key of the `[[modem]]` list.
pub const MODEMS: &str = "modem";
/// The key of the `[[smpp]]` list (applied like the modems').
pub const BINDS: &str = "smpp";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_change_no_keys() {
        assert!(changed_keys(&Config::default(), &Config::default()).is_empty());
    }

    #[test]
    fn nested_keys_are_named_with_their_section() {
        let mut new = Config::default();
        new.limits.max_parts = 3;
        new.http.bind = "0.0.0.0:80".to_string();
        assert_eq!(
            changed_keys(&Config::default(), &new),
            vec!["http.bind".to_string(), "limits.max_parts".to_string()]
        );
    }

    #[test]
    fn a_list_is_one_key() {
        let mut new = Config::default();
        new.numbers.fleet_prefixes = vec!["+1809200".into(), "+1829300".into()];
        assert_eq!(
            changed_keys(&Config::default(), &new),
            vec!["numbers.fleet_prefixes".to_string()]
        );
    }
}
