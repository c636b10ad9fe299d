//! The session core's own configuration, built from the one
//! [`crate::config::Config`] plus the keys that file does not have yet
//! (opt-out words, auto-reply, fleet ranges and list), which default here.
//!
//! Owns turning configuration text into typed values (durations, E.164
//! prefixes, decimals). It never reads files or the environment.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::allocator::ShortCode;
use super::numbers::{country_id, FleetPlan, NumberError};
use super::optout::OptOutWords;
use super::tariff::{Tariff, TariffError};
use crate::config::Config;

/// A configuration value the session core cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreConfigError {
    #[error(transparent)]
    Tariff(#[from] TariffError),
    #[error("{key}: {source}")]
    Number { key: String, source: NumberError },
    #[error("{key}: must be more than 0")]
    ZeroDuration { key: String },
}

/// Everything the session core needs to decide (R4–R12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CoreConfig {
    /// R4: a session ends after this long without a sent or received message.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// R6: how long a retired (number, short code) pair is avoided.
    #[serde(with = "humantime_serde")]
    pub retired_cooldown: Duration,
    /// R1: recipients per send; 0 means no limit.
    pub max_recipients: usize,
    /// R13: ISO 3166 country of national numbers.
    pub country: String,
    /// R5: the short codes (one per modem) in pool order.
    pub pool: Vec<ShortCode>,
    /// R9: receive-only numbers.
    pub fleet: FleetPlan,
    /// R12: opt-out and opt-in words.
    pub opt_out: OptOutWords,
    /// R7: text sent back to a late reply, when set (off by default).
    pub auto_reply: Option<String>,
    /// R10: the tariff of mobile-originated messages.
    pub tariff: Tariff,
    /// ISO 3166 countries whose numbers may be recipients.
    pub allowed_countries: Vec<String>,
    /// Per-SIM sending caps, by short code (none when absent).
    pub caps: std::collections::BTreeMap<ShortCode, super::caps::Caps>,
}

impl CoreConfig {
    /// The caps of `code` (none when not configured).
    pub fn caps_of(&self, code: &ShortCode) -> super::caps::Caps {
        self.caps.get(code).copied().unwrap_or_default()
    }
}

impl Default for CoreConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(5 * 60),
            retired_cooldown: Duration::from_secs(24 * 3600),
            max_recipients: 50,
            country: "DO".into(),
            pool: Vec::new(),
            fleet: FleetPlan::default(),
            opt_out: OptOutWords::default(),
            auto_reply: None,
            tariff: Tariff::default(),
            allowed_countries: vec!["DO".into()],
            caps: Default::default(),
        }
    }
}

impl CoreConfig {
    /// The core configuration of `cfg`. The pool is the short codes of
    /// `[[modem]]`; with none configured the caller sets [`CoreConfig::pool`]
    /// to the embedded emulated network's numbers.
    pub fn from_config(cfg: &Config) -> Result<CoreConfig, CoreConfigError> {
        if cfg.session.idle_timeout.is_zero() {
            return Err(CoreConfigError::ZeroDuration {
                key: "session.idle_timeout".into(),
            });
        }
        let country = cfg.numbers.country.clone();
        country_id(&country).map_err(|source| CoreConfigError::Number {
            key: "numbers.country".into(),
            source,
        })?;
        let ranges: Vec<(String, String)> = cfg
            .numbers
            .fleet_ranges
            .iter()
            .map(|r| (r.from.clone(), r.to.clone()))
            .collect();
        let fleet = FleetPlan::build(
            &country,
            &cfg.numbers.fleet_prefixes,
            &ranges,
            &cfg.numbers.fleet_numbers,
        )
        .map_err(|source| CoreConfigError::Number {
            key: "numbers.fleet_prefixes".into(),
            source,
        })?;
        let allowed_countries = if cfg.numbers.allowed_countries.is_empty() {
            vec![country.clone()]
        } else {
            cfg.numbers.allowed_countries.clone()
        };
        Ok(CoreConfig {
            idle_timeout: cfg.session.idle_timeout,
            retired_cooldown: cfg.session.retired_cooldown,
            max_recipients: cfg.limits.max_recipients as usize,
            country,
            pool: cfg
                .modem
                .iter()
                .map(|m| ShortCode(m.short_code.clone()))
                .collect(),
            fleet,
            opt_out: OptOutWords {
                stop: cfg.numbers.opt_out_words.clone(),
                start: cfg.numbers.opt_in_words.clone(),
                stop_reply: cfg.numbers.opt_out_reply.clone(),
                start_reply: cfg.numbers.opt_in_reply.clone(),
            },
            auto_reply: cfg.session.auto_reply.clone(),
            tariff: Tariff::from_config(&cfg.tariff)?,
            allowed_countries,
            caps: Self::caps_of_config(cfg),
        })
    }

    /// The per-SIM caps of the configured modems that have any.
    pub fn caps_of_config(
        cfg: &Config,
    ) -> std::collections::BTreeMap<ShortCode, super::caps::Caps> {
        cfg.modem
            .iter()
            .map(|m| {
                (
                    ShortCode(m.short_code.clone()),
                    super::caps::Caps {
                        per_day: m.max_per_day,
                        per_month: m.max_per_month,
                        recipients_per_month: m.max_recipients_per_month,
                    },
                )
            })
            .filter(|(_, c)| !c.is_none())
            .collect()
    }

    /// R4 idle timeout as a `chrono` duration.
    pub fn idle(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.idle_timeout).unwrap_or(chrono::Duration::MAX)
    }

    /// R6 cool-down as a `chrono` duration.
    pub fn cooldown(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.retired_cooldown).unwrap_or(chrono::Duration::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModemConfig;

    // R4, R6, R1, R9, R10: the defaults of the one config carry over.
    #[test]
    fn built_from_the_one_config() {
        let mut cfg = Config::default();
        cfg.numbers.fleet_prefixes = vec!["809777".into()];
        cfg.modem.push(ModemConfig {
            profile: "generic".into(),
            ..ModemConfig::new("/dev/ttyUSB0", "+18095550100")
        });
        let core = CoreConfig::from_config(&cfg).unwrap();
        assert_eq!(core.idle(), chrono::Duration::minutes(5));
        assert_eq!(core.cooldown(), chrono::Duration::hours(24));
        assert_eq!(core.max_recipients, 50);
        assert_eq!(core.pool, vec![ShortCode("+18095550100".into())]);
        assert_eq!(core.fleet.prefixes, vec!["+1809777".to_string()]);
        assert_eq!(core.tariff, Tariff::default());
        assert_eq!(core.auto_reply, None);

        cfg.numbers.country = "ZZ".into();
        assert!(CoreConfig::from_config(&cfg).is_err());
    }
}
