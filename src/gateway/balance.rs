//! The SIM balance watch: which USSD code asks for it, how the amount is
//! read out of the operator's answer, and when it is low.
//!
//! Plain Rust: the answer text in, an amount out. The amount is read with
//! `.` as the decimal point and `,` separating thousands (`RD$1,234.50`),
//! or the other way round with `balance_decimal = ","` (`45,50 ₽`).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::config::ModemConfig;

/// How one modem's balance is asked and read.
#[derive(Debug, Clone)]
pub struct BalanceRule {
    pub code: String,
    pattern: regex::Regex,
    pub every: std::time::Duration,
    pub warn: Option<Decimal>,
    decimal_comma: bool,
}

/// A balance key and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError(pub String, pub String);

impl BalanceRule {
    /// The rule of a configured modem; `Ok(None)` without `balance_ussd`.
    pub fn from_modem(m: &ModemConfig) -> Result<Option<BalanceRule>, RuleError> {
        let code = m.balance_ussd.trim();
        if code.is_empty() {
            return Ok(None);
        }
        if let Err(e) = crate::modem::ussd::classify(code, false) {
            return Err(RuleError("balance_ussd".into(), e.to_string()));
        }
        let pattern = regex::Regex::new(&m.balance_pattern)
            .map_err(|e| RuleError("balance_pattern".into(), e.to_string()))?;
        if pattern.captures_len() < 2 {
            return Err(RuleError(
                "balance_pattern".into(),
                "needs a group `( )` around the amount".into(),
            ));
        }
        let decimal_comma = match m.balance_decimal.trim() {
            "." => false,
            "," => true,
            other => {
                return Err(RuleError(
                    "balance_decimal".into(),
                    format!("`{other}` is neither \".\" nor \",\""),
                ))
            }
        };
        if m.balance_every < std::time::Duration::from_secs(1) {
            return Err(RuleError(
                "balance_every".into(),
                "must be at least 1s".into(),
            ));
        }
        let warn = match m.balance_warn.trim() {
            "" => None,
            w => Some(parse_amount(w, decimal_comma).ok_or_else(|| {
                RuleError("balance_warn".into(), format!("`{w}` is not an amount"))
            })?),
        };
        Ok(Some(BalanceRule {
            code: code.to_string(),
            pattern,
            every: m.balance_every,
            warn,
            decimal_comma,
        }))
    }

    /// Whether `code` (as a technician typed it) is this rule's code.
    pub fn is_code(&self, code: &str) -> bool {
        self.code == code.trim()
    }

    /// The amount in an answer, `None` when the pattern does not find one.
    pub fn read(&self, reply: &str) -> Option<Decimal> {
        let caps = self.pattern.captures(reply)?;
        let text = caps.get(1)?.as_str();
        parse_amount(text, self.decimal_comma)
    }

    /// Whether `amount` is below the warning level.
    pub fn is_low(&self, amount: Decimal) -> bool {
        self.warn.is_some_and(|w| amount < w)
    }
}

/// Reads `45.50`, `1,234.50`, `-3.2` (or `45,50`, `1.234,50` with a
/// decimal comma).
pub fn parse_amount(text: &str, decimal_comma: bool) -> Option<Decimal> {
    let (point, thousands) = if decimal_comma {
        (',', '.')
    } else {
        ('.', ',')
    };
    let t = text.trim().trim_end_matches([point, thousands]);
    if t.is_empty() || t.matches(point).count() > 1 {
        return None;
    }
    let plain: String = t
        .chars()
        .filter(|c| *c != thousands)
        .map(|c| if c == point { '.' } else { c })
        .collect();
    if !plain
        .trim_start_matches('-')
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.')
        || !plain.chars().any(|c| c.is_ascii_digit())
    {
        return None;
    }
    plain.parse().ok()
}

/// What the gateway knows of a SIM's balance.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Balance {
    /// The last amount read (kept when a later answer cannot be read).
    pub amount: Option<Decimal>,
    /// When `amount` was read.
    pub checked_at: Option<DateTime<Utc>>,
    /// When the balance was last asked, whatever came of it.
    pub asked_at: Option<DateTime<Utc>>,
    /// The last answer could not be read, or the question failed: `amount`
    /// is older than the last check.
    pub stale: bool,
    /// Below `balance_warn`.
    pub low: bool,
    /// The last answer, verbatim.
    pub raw: Option<String>,
    /// Why the last check failed, if it did.
    pub error: Option<String>,
}

impl Balance {
    /// An answer to the balance code at `at`.
    pub fn answered(&mut self, rule: &BalanceRule, reply: &str, at: DateTime<Utc>) {
        self.asked_at = Some(at);
        self.raw = Some(reply.to_string());
        match rule.read(reply) {
            Some(amount) => {
                self.amount = Some(amount);
                self.checked_at = Some(at);
                self.stale = false;
                self.low = rule.is_low(amount);
                self.error = None;
            }
            None => {
                self.stale = true;
                self.error = Some("the answer has no amount the pattern finds".into());
            }
        }
    }

    /// The balance question failed at `at`.
    pub fn failed(&mut self, error: &str, at: DateTime<Utc>) {
        self.asked_at = Some(at);
        self.stale = true;
        self.error = Some(error.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(pattern: &str, decimal: &str, warn: &str) -> BalanceRule {
        let mut m = ModemConfig::new("/dev/null", "+18095550100");
        m.balance_ussd = "*123#".into();
        m.balance_pattern = pattern.into();
        m.balance_decimal = decimal.into();
        m.balance_warn = warn.into();
        BalanceRule::from_modem(&m).unwrap().unwrap()
    }

    #[test]
    fn amounts_read_with_either_decimal_mark() {
        assert_eq!(parse_amount("45.50", false), Some(Decimal::new(4550, 2)));
        assert_eq!(
            parse_amount("1,234.50", false),
            Some(Decimal::new(123450, 2))
        );
        assert_eq!(parse_amount("45,50", true), Some(Decimal::new(4550, 2)));
        assert_eq!(
            parse_amount("1.234,50", true),
            Some(Decimal::new(123450, 2))
        );
        assert_eq!(parse_amount("12.", false), Some(Decimal::new(12, 0)));
        assert_eq!(parse_amount("-3.2", false), Some(Decimal::new(-32, 1)));
        assert_eq!(parse_amount("1.2.3", false), None);
        assert_eq!(parse_amount("abc", false), None);
        assert_eq!(parse_amount(",", false), None);
    }

    #[test]
    fn the_issue_example_reads_the_dominican_balance() {
        let r = rule(r"RD\$\s*([0-9.,]+)", ".", "20");
        assert_eq!(
            r.read("Su balance es RD$45.50"),
            Some(Decimal::new(4550, 2))
        );
        assert_eq!(
            r.read("Su balance es RD$ 1,045.50. Gracias"),
            Some(Decimal::new(104550, 2))
        );
        assert!(!r.is_low(Decimal::new(4550, 2)));
        assert!(r.is_low(Decimal::new(1999, 2)));
        assert_eq!(r.read("Servicio no disponible"), None);
    }

    #[test]
    fn an_unreadable_answer_keeps_the_last_amount_and_marks_it_stale() {
        let r = rule(r"RD\$\s*([0-9.,]+)", ".", "20");
        let t0 = DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z")
            .unwrap()
            .to_utc();
        let mut b = Balance::default();
        b.answered(&r, "Su balance es RD$15.00", t0);
        assert_eq!(b.amount, Some(Decimal::new(1500, 2)));
        assert!(b.low && !b.stale);
        let t1 = t0 + chrono::Duration::hours(6);
        b.answered(&r, "Sistema ocupado", t1);
        assert_eq!(b.amount, Some(Decimal::new(1500, 2)));
        assert_eq!(b.checked_at, Some(t0));
        assert_eq!(b.asked_at, Some(t1));
        assert!(b.stale);
        assert_eq!(b.raw.as_deref(), Some("Sistema ocupado"));
    }

    #[test]
    fn bad_rules_name_their_key() {
        let mut m = ModemConfig::new("/dev/null", "+18095550100");
        m.balance_ussd = "*123#".into();
        m.balance_pattern = "RD(".into();
        assert_eq!(
            BalanceRule::from_modem(&m).unwrap_err().0,
            "balance_pattern"
        );
        m.balance_pattern = "RD".into();
        assert_eq!(
            BalanceRule::from_modem(&m).unwrap_err().0,
            "balance_pattern"
        );
        m.balance_pattern = "RD([0-9]+)".into();
        m.balance_decimal = ";".into();
        assert_eq!(
            BalanceRule::from_modem(&m).unwrap_err().0,
            "balance_decimal"
        );
        m.balance_decimal = ",".into();
        m.balance_warn = "lots".into();
        assert_eq!(BalanceRule::from_modem(&m).unwrap_err().0, "balance_warn");
        m.balance_warn = "20,5".into();
        assert_eq!(
            BalanceRule::from_modem(&m).unwrap().unwrap().warn,
            Some(Decimal::new(205, 1))
        );
        m.balance_ussd = "hello".into();
        assert_eq!(BalanceRule::from_modem(&m).unwrap_err().0, "balance_ussd");
        m.balance_ussd = String::new();
        assert!(BalanceRule::from_modem(&m).unwrap().is_none());
    }
}
