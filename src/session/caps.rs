//! Per-SIM sending caps: a prepaid plan's daily and monthly message
//! limits and its limit on distinct recipients a month (carriers refuse
//! past them: capcom6/android-sms-gateway issues #34, #148, #270), and
//! when each SIM last sent (keep-alive for prepaid SIMs).
//!
//! A message counts when it is allocated to a SIM, not when the modem
//! sends it, so a queue can never overshoot a cap. Periods are calendar
//! days and months in local time; a period that is over counts as 0
//! without anything being reset.
//!
//! Plain data, no clock: time comes in as an argument.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::allocator::ShortCode;
use super::numbers::Msisdn;

/// The caps of one SIM; 0 means no cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caps {
    pub per_day: u32,
    pub per_month: u32,
    pub recipients_per_month: u32,
}

impl Caps {
    pub fn is_none(&self) -> bool {
        self.per_day == 0 && self.per_month == 0 && self.recipients_per_month == 0
    }
}

/// Which cap a SIM reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapKind {
    Day,
    Month,
    Recipients,
}

impl CapKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CapKind::Day => "day",
            CapKind::Month => "month",
            CapKind::Recipients => "recipients",
        }
    }
}

impl fmt::Display for CapKind {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A calendar month, `YYYY-MM`.
fn month_of(day: NaiveDate) -> String {
    format!("{:04}-{:02}", day.year(), day.month())
}

/// The local calendar day of `at` (the box's time zone).
pub fn local_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&chrono::Local).date_naive()
}

/// What one SIM sent in the current periods.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SimUsage {
    /// The day `day_count` belongs to.
    pub day: Option<NaiveDate>,
    pub day_count: u32,
    /// The month (`YYYY-MM`) `month_count` and `recipients` belong to.
    pub month: Option<String>,
    pub month_count: u32,
    /// Distinct recipients this month (kept only while the SIM has a
    /// recipients cap: without one nothing needs them).
    pub recipients: BTreeSet<Msisdn>,
    /// Distinct recipients counted this month.
    pub recipient_count: u32,
    /// The admin lifted the day cap for this day, the month caps for this
    /// month.
    pub lifted_day: Option<NaiveDate>,
    pub lifted_month: Option<String>,
    /// When the SIM last had a message allocated (keep-alive).
    pub last_sent: Option<DateTime<Utc>>,
    /// When the gateway first knew this SIM (keep-alive before any send).
    pub first_seen: Option<DateTime<Utc>>,
}

impl SimUsage {
    /// Messages counted on `day`.
    pub fn sent_on(&self, day: NaiveDate) -> u32 {
        if self.day == Some(day) {
            self.day_count
        } else {
            0
        }
    }

    /// Messages counted in `day`'s month.
    pub fn sent_in_month(&self, day: NaiveDate) -> u32 {
        if self.month.as_deref() == Some(month_of(day).as_str()) {
            self.month_count
        } else {
            0
        }
    }

    /// Distinct recipients counted in `day`'s month.
    pub fn recipients_in_month(&self, day: NaiveDate) -> u32 {
        if self.month.as_deref() == Some(month_of(day).as_str()) {
            self.recipient_count
        } else {
            0
        }
    }

    fn known_recipient(&self, to: &Msisdn, day: NaiveDate) -> bool {
        self.month.as_deref() == Some(month_of(day).as_str()) && self.recipients.contains(to)
    }

    fn day_lifted(&self, day: NaiveDate) -> bool {
        self.lifted_day == Some(day)
    }

    fn month_lifted(&self, day: NaiveDate) -> bool {
        self.lifted_month.as_deref() == Some(month_of(day).as_str())
    }

    /// The caps reached on `day` (lifted ones do not count).
    pub fn reached(&self, caps: &Caps, day: NaiveDate) -> Vec<CapKind> {
        let mut out = Vec::new();
        if caps.per_day > 0 && !self.day_lifted(day) && self.sent_on(day) >= caps.per_day {
            out.push(CapKind::Day);
        }
        if !self.month_lifted(day) {
            if caps.per_month > 0 && self.sent_in_month(day) >= caps.per_month {
                out.push(CapKind::Month);
            }
            if caps.recipients_per_month > 0
                && self.recipients_in_month(day) >= caps.recipients_per_month
            {
                out.push(CapKind::Recipients);
            }
        }
        out
    }

    /// Whether one more message to `to` fits on `day`.
    pub fn has_room(&self, caps: &Caps, to: &Msisdn, day: NaiveDate) -> bool {
        self.reached(caps, day)
            .iter()
            .all(|k| *k == CapKind::Recipients && self.known_recipient(to, day))
    }

    /// Whether a new conversation (a number not counted yet) fits.
    pub fn takes_new(&self, caps: &Caps, day: NaiveDate) -> bool {
        self.reached(caps, day).is_empty()
    }

    /// Counts one message to `to` at `at`.
    pub fn count(&mut self, caps: &Caps, to: &Msisdn, at: DateTime<Utc>) {
        let day = local_day(at);
        let month = month_of(day);
        if self.day != Some(day) {
            self.day = Some(day);
            self.day_count = 0;
        }
        if self.month.as_deref() != Some(month.as_str()) {
            self.month = Some(month);
            self.month_count = 0;
            self.recipients.clear();
            self.recipient_count = 0;
        }
        self.day_count = self.day_count.saturating_add(1);
        self.month_count = self.month_count.saturating_add(1);
        if caps.recipients_per_month > 0 {
            if self.recipients.insert(to.clone()) {
                self.recipient_count = self.recipient_count.saturating_add(1);
            }
        } else {
            self.recipients.clear();
        }
        self.last_sent = Some(self.last_sent.map_or(at, |t| t.max(at)));
    }
}

/// Every SIM's usage, by short code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Usage(BTreeMap<ShortCode, SimUsage>);

impl Usage {
    pub fn get(&self, code: &ShortCode) -> Option<&SimUsage> {
        self.0.get(code)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&ShortCode, &SimUsage)> {
        self.0.iter()
    }

    fn entry(&mut self, code: &ShortCode, at: DateTime<Utc>) -> &mut SimUsage {
        self.0.entry(code.clone()).or_insert_with(|| SimUsage {
            first_seen: Some(at),
            ..SimUsage::default()
        })
    }

    /// Whether `code` may take one more message to `to` at `at`.
    pub fn has_room(&self, code: &ShortCode, caps: &Caps, to: &Msisdn, at: DateTime<Utc>) -> bool {
        caps.is_none()
            || self
                .0
                .get(code)
                .is_none_or(|u| u.has_room(caps, to, local_day(at)))
    }

    /// Whether `code` may take a new conversation at `at`.
    pub fn takes_new(&self, code: &ShortCode, caps: &Caps, at: DateTime<Utc>) -> bool {
        caps.is_none()
            || self
                .0
                .get(code)
                .is_none_or(|u| u.takes_new(caps, local_day(at)))
    }

    /// Counts a message to `to` from `code` when it fits; `false` (nothing
    /// counted) when a cap stops it.
    pub fn admit(&mut self, code: &ShortCode, caps: &Caps, to: &Msisdn, at: DateTime<Utc>) -> bool {
        if !self.has_room(code, caps, to, at) {
            return false;
        }
        self.entry(code, at).count(caps, to, at);
        true
    }

    /// Counts a message whatever the caps say (a notice a phone asked for,
    /// a keep-alive, a conversation moved here).
    pub fn count(&mut self, code: &ShortCode, caps: &Caps, to: &Msisdn, at: DateTime<Utc>) {
        self.entry(code, at).count(caps, to, at);
    }

    /// The admin lifts `code`'s reached caps until their periods end.
    pub fn lift(&mut self, code: &ShortCode, at: DateTime<Utc>) {
        let day = local_day(at);
        let u = self.entry(code, at);
        u.lifted_day = Some(day);
        u.lifted_month = Some(month_of(day));
    }

    /// Remembers when `code` was first seen (keep-alive counts from then
    /// while it has sent nothing).
    pub fn seen(&mut self, code: &ShortCode, at: DateTime<Utc>) {
        self.entry(code, at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        // Local noon of the given day, whatever the box's zone.
        let day: NaiveDate = s.parse().unwrap();
        day.and_hms_opt(12, 0, 0)
            .unwrap()
            .and_local_timezone(chrono::Local)
            .single()
            .unwrap()
            .to_utc()
    }

    fn n(s: &str) -> Msisdn {
        Msisdn(s.into())
    }

    #[test]
    fn the_day_cap_stops_the_next_message_and_the_next_day_takes_it() {
        let caps = Caps {
            per_day: 2,
            ..Caps::default()
        };
        let code = ShortCode("+1809".into());
        let mut u = Usage::default();
        assert!(u.admit(&code, &caps, &n("+1"), at("2026-11-30")));
        assert!(u.admit(&code, &caps, &n("+2"), at("2026-11-30")));
        assert!(!u.admit(&code, &caps, &n("+3"), at("2026-11-30")));
        assert!(!u.takes_new(&code, &caps, at("2026-11-30")));
        assert_eq!(
            u.get(&code)
                .unwrap()
                .reached(&caps, local_day(at("2026-11-30"))),
            vec![CapKind::Day]
        );
        assert!(u.admit(&code, &caps, &n("+3"), at("2026-12-01")));
        assert_eq!(
            u.get(&code).unwrap().sent_on(local_day(at("2026-12-01"))),
            1
        );
        assert_eq!(
            u.get(&code)
                .unwrap()
                .sent_in_month(local_day(at("2026-12-01"))),
            1
        );
    }

    #[test]
    fn the_month_cap_spans_days_and_ends_with_the_month() {
        let caps = Caps {
            per_month: 3,
            ..Caps::default()
        };
        let code = ShortCode("+1809".into());
        let mut u = Usage::default();
        for d in ["2026-11-01", "2026-11-15", "2026-11-30"] {
            assert!(u.admit(&code, &caps, &n("+1"), at(d)));
        }
        assert!(!u.admit(&code, &caps, &n("+1"), at("2026-11-30")));
        assert!(u.admit(&code, &caps, &n("+1"), at("2026-12-01")));
    }

    #[test]
    fn the_recipients_cap_still_lets_known_numbers_through() {
        let caps = Caps {
            recipients_per_month: 2,
            ..Caps::default()
        };
        let code = ShortCode("+1809".into());
        let mut u = Usage::default();
        assert!(u.admit(&code, &caps, &n("+1"), at("2026-11-02")));
        assert!(u.admit(&code, &caps, &n("+1"), at("2026-11-02")));
        assert!(u.admit(&code, &caps, &n("+2"), at("2026-11-03")));
        assert!(!u.admit(&code, &caps, &n("+3"), at("2026-11-03")));
        assert!(!u.takes_new(&code, &caps, at("2026-11-03")));
        assert!(u.admit(&code, &caps, &n("+1"), at("2026-11-04")), "known");
        assert_eq!(
            u.get(&code)
                .unwrap()
                .recipients_in_month(local_day(at("2026-11-04"))),
            2
        );
        assert!(u.admit(&code, &caps, &n("+3"), at("2026-12-01")));
    }

    #[test]
    fn a_lift_lasts_until_the_period_ends() {
        let caps = Caps {
            per_day: 1,
            per_month: 100,
            ..Caps::default()
        };
        let code = ShortCode("+1809".into());
        let mut u = Usage::default();
        assert!(u.admit(&code, &caps, &n("+1"), at("2026-11-10")));
        assert!(!u.admit(&code, &caps, &n("+2"), at("2026-11-10")));
        u.lift(&code, at("2026-11-10"));
        assert!(u.admit(&code, &caps, &n("+2"), at("2026-11-10")));
        assert!(u.admit(&code, &caps, &n("+3"), at("2026-11-10")));
        assert!(u.admit(&code, &caps, &n("+4"), at("2026-11-11")));
        assert!(
            !u.admit(&code, &caps, &n("+5"), at("2026-11-11")),
            "the lift ended with its day"
        );
    }

    #[test]
    fn no_caps_never_refuses_and_keeps_no_numbers() {
        let caps = Caps::default();
        let code = ShortCode("+1809".into());
        let mut u = Usage::default();
        for i in 0..100 {
            assert!(u.admit(&code, &caps, &n(&format!("+{i}")), at("2026-11-10")));
        }
        let s = u.get(&code).unwrap();
        assert_eq!(s.day_count, 100);
        assert!(s.recipients.is_empty());
        assert_eq!(s.last_sent, Some(at("2026-11-10")));
        assert_eq!(s.first_seen, Some(at("2026-11-10")));
    }
}
