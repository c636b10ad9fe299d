//! Charges (R10): the tariff of mobile-originated messages and the charge
//! record (CDR) each one yields.
//!
//! Owns money arithmetic: `rust_decimal::Decimal` only, never floats, every
//! line rounded to 2 places half away from zero. It never stores CDRs.

use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use super::allocator::ShortCode;
use super::numbers::Msisdn;
use crate::config::TariffConfig;

/// A tariff value in the configuration that is not a decimal number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tariff: {key}: {message}")]
pub struct TariffError {
    pub key: String,
    pub message: String,
}

/// One tax line of a tariff (`ITBIS`, 0.18).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxRate {
    pub name: String,
    pub rate: Decimal,
}

/// R10: what a mobile user pays for each message to a short code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tariff {
    pub currency: String,
    pub mo_price: Decimal,
    pub taxes: Vec<TaxRate>,
}

impl Default for Tariff {
    /// RD$1.00 plus ITBIS 18 %.
    fn default() -> Self {
        Tariff {
            currency: "DOP".into(),
            mo_price: Decimal::new(100, 2),
            taxes: vec![TaxRate {
                name: "ITBIS".into(),
                rate: Decimal::new(18, 2),
            }],
        }
    }
}

/// One tax line of a CDR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxLine {
    pub name: String,
    pub rate: Decimal,
    pub amount: Decimal,
}

/// R10: the charge record of one message a mobile user sent to a short code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cdr {
    pub time: DateTime<Utc>,
    pub number: Msisdn,
    pub short_code: ShortCode,
    pub base: Decimal,
    pub taxes: Vec<TaxLine>,
    pub total: Decimal,
    pub currency: String,
    /// Whether the message reached a live session (R7 keeps the others out).
    pub in_session: bool,
}

/// Money is rounded per line to cents, half away from zero (1.005 → 1.01).
fn cents(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

impl Tariff {
    /// The tariff of the `[tariff]` section.
    pub fn from_config(cfg: &TariffConfig) -> Result<Tariff, TariffError> {
        let mo_price = cfg.mo_price.parse().map_err(|message| TariffError {
            key: "mo_price".into(),
            message,
        })?;
        let taxes = cfg
            .taxes
            .iter()
            .enumerate()
            .map(|(i, t)| {
                Ok(TaxRate {
                    name: t.name.clone(),
                    rate: t.rate.parse().map_err(|message| TariffError {
                        key: format!("taxes[{i}].rate"),
                        message,
                    })?,
                })
            })
            .collect::<Result<_, TariffError>>()?;
        Ok(Tariff {
            currency: cfg.currency.clone(),
            mo_price,
            taxes,
        })
    }

    /// R10: the CDR of one message from `from` to `short_code` at `at`.
    pub fn charge(
        &self,
        from: &Msisdn,
        short_code: &ShortCode,
        at: DateTime<Utc>,
        in_session: bool,
    ) -> Cdr {
        let base = cents(self.mo_price);
        let taxes: Vec<TaxLine> = self
            .taxes
            .iter()
            .map(|t| TaxLine {
                name: t.name.clone(),
                rate: t.rate,
                amount: cents(base * t.rate),
            })
            .collect();
        let total = base + taxes.iter().map(|t| t.amount).sum::<Decimal>();
        Cdr {
            time: at,
            number: from.clone(),
            short_code: short_code.clone(),
            base,
            taxes,
            total,
            currency: self.currency.clone(),
            in_session,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::config::{DecimalString, TaxConfig};

    fn cdr(t: &Tariff) -> Cdr {
        t.charge(
            &Msisdn("+18095551234".into()),
            &ShortCode("+18095550100".into()),
            DateTime::UNIX_EPOCH,
            true,
        )
    }

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    // R10: the default tariff is RD$1.00 + ITBIS 18 % = 1.18 DOP.
    #[test]
    fn default_tariff_charges_one_eighteen() {
        let t = Tariff::from_config(&TariffConfig::default()).unwrap();
        assert_eq!(t, Tariff::default());
        let c = cdr(&t);
        assert_eq!(c.base, dec("1.00"));
        assert_eq!(c.taxes[0].amount, dec("0.18"));
        assert_eq!(c.total.to_string(), "1.18");
        assert_eq!(c.currency, "DOP");
    }

    // R10: totals of 1, 3 and 1000 messages are exact (never floats).
    #[test]
    fn totals_of_many_messages_are_exact() {
        let t = Tariff::default();
        for (n, want) in [(1, "1.18"), (3, "3.54"), (1000, "1180.00")] {
            let sum: Decimal = (0..n).map(|_| cdr(&t).total).sum();
            assert_eq!(sum.to_string(), want);
        }
    }

    // R10: each line rounds half away from zero to cents.
    #[test]
    fn lines_round_half_up_to_cents() {
        let t = Tariff {
            currency: "USD".into(),
            mo_price: dec("0.125"),
            taxes: vec![
                TaxRate {
                    name: "A".into(),
                    rate: dec("0.5"),
                },
                TaxRate {
                    name: "B".into(),
                    rate: dec("0.07"),
                },
            ],
        };
        let c = cdr(&t);
        assert_eq!(c.base, dec("0.13"));
        assert_eq!(c.taxes[0].amount, dec("0.07")); // 0.065 → 0.07
        assert_eq!(c.taxes[1].amount, dec("0.01")); // 0.0091 → 0.01
        assert_eq!(c.total, dec("0.21"));
    }

    // R10: a tariff value that is not a decimal is named.
    #[test]
    fn bad_tax_rate_is_named() {
        let cfg = TariffConfig {
            taxes: vec![TaxConfig {
                name: "X".into(),
                rate: DecimalString("lots".into()),
            }],
            ..TariffConfig::default()
        };
        assert_eq!(Tariff::from_config(&cfg).unwrap_err().key, "taxes[0].rate");
    }
}
