//! The short-code allocator (R5, R6, R8): which (mobile number, short code)
//! pairs live sessions hold, when pairs of ended sessions were retired, and
//! which short code a recipient gets next.
//!
//! Owns the pair index only. It knows session ids but not sessions: the
//! session core binds and retires pairs as sessions start and end.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::numbers::Msisdn;
use super::table::SessionId;
use super::vecmap::VecMap;

/// A short code: the SIM number of one modem, which phones see and reply to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ShortCode(pub String);

impl ShortCode {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ShortCode {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Pair maps are nested by number then short code so that they persist as
/// plain string-keyed maps (JSON and friends).
type PairMap<V> = BTreeMap<Msisdn, VecMap<ShortCode, V>>;

/// R5/R6: held and retired (number, short code) pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Pairs", into = "Pairs")]
pub struct Allocator {
    /// R5: each pair belongs to at most one live session.
    held: PairMap<SessionId>,
    /// R6: when each pair was last retired (its session ended).
    retired: PairMap<DateTime<Utc>>,
    /// Pairs held per short code, derived from `held` (never stored): how
    /// many live conversations each modem carries.
    load: BTreeMap<ShortCode, usize>,
}

/// What the allocator persists: the pairs; the load is derived.
#[derive(Serialize, Deserialize)]
struct Pairs {
    held: PairMap<SessionId>,
    retired: PairMap<DateTime<Utc>>,
}

impl From<Pairs> for Allocator {
    fn from(p: Pairs) -> Self {
        let mut load = BTreeMap::<ShortCode, usize>::new();
        for code in p.held.values().flat_map(VecMap::keys) {
            *load.entry(code.clone()).or_default() += 1;
        }
        Allocator {
            held: p.held,
            retired: p.retired,
            load,
        }
    }
}

impl From<Allocator> for Pairs {
    fn from(a: Allocator) -> Self {
        Pairs {
            held: a.held,
            retired: a.retired,
        }
    }
}

impl Allocator {
    /// The live session holding `(number, code)`, if any (R5, R3).
    pub fn holder(&self, number: &Msisdn, code: &ShortCode) -> Option<&SessionId> {
        self.held.get(number)?.get(code)
    }

    /// When `(number, code)` was last retired, if remembered.
    pub fn retired_at(&self, number: &Msisdn, code: &ShortCode) -> Option<DateTime<Utc>> {
        self.retired.get(number)?.get(code).copied()
    }

    /// Live conversations bound to `code`.
    pub fn load(&self, code: &ShortCode) -> usize {
        self.load.get(code).copied().unwrap_or(0)
    }

    /// Number of pairs held by live sessions.
    pub fn held_count(&self) -> usize {
        self.held.values().map(VecMap::len).sum()
    }

    /// R6/R8: the short code `number` should get from `pool` at `now`, or
    /// `None` when every code is held with that number by a live session.
    ///
    /// Free codes whose pair was retired less than `cooldown` ago come last
    /// (R6), the least recently retired of them first; among the others the
    /// code least recently used with that number wins (never used first),
    /// then the code carrying the fewest live conversations (so new numbers
    /// spread over the modems instead of queueing on the first), then pool
    /// order.
    pub fn pick(
        &self,
        number: &Msisdn,
        pool: &[ShortCode],
        now: DateTime<Utc>,
        cooldown: Duration,
    ) -> Option<ShortCode> {
        pool.iter()
            .enumerate()
            .filter(|(_, code)| self.holder(number, code).is_none())
            .min_by_key(|(i, code)| {
                let retired = self.retired_at(number, code);
                let cooling = retired.is_some_and(|t| now - t < cooldown);
                let load = self.load.get(*code).copied().unwrap_or(0);
                (cooling, retired, load, *i)
            })
            .map(|(_, code)| code.clone())
    }

    /// Binds `(number, code)` to `session`. The caller picked the code, so
    /// the pair is free or already this session's.
    pub fn bind(&mut self, number: &Msisdn, code: &ShortCode, session: &SessionId) {
        debug_assert!(self
            .holder(number, code)
            .is_none_or(|holder| holder == session));
        let before = self
            .held
            .entry(number.clone())
            .or_default()
            .insert(code.clone(), session.clone());
        if before.is_none() {
            *self.load.entry(code.clone()).or_default() += 1;
        }
    }

    /// R5 refined: `(number, code)` is let go without a retirement — the
    /// phone never saw anything from that code (its modem stayed down).
    pub fn release(&mut self, number: &Msisdn, code: &ShortCode) {
        if let Some(codes) = self.held.get_mut(number) {
            if codes.remove(code).is_some() {
                if let Some(n) = self.load.get_mut(code) {
                    *n -= 1;
                    if *n == 0 {
                        self.load.remove(code);
                    }
                }
            }
            if codes.is_empty() {
                self.held.remove(number);
            }
        }
    }

    /// R6: the session holding `(number, code)` ended at `at`; the pair is
    /// free again but cools down.
    pub fn retire(&mut self, number: &Msisdn, code: &ShortCode, at: DateTime<Utc>) {
        self.release(number, code);
        self.retired
            .entry(number.clone())
            .or_default()
            .insert(code.clone(), at);
    }

    /// Forgets retirements older than `cooldown`: they no longer restrict
    /// [`Allocator::pick`] beyond a preference, and the map must not grow
    /// with every number ever seen.
    pub fn prune(&mut self, now: DateTime<Utc>, cooldown: Duration) {
        self.retired.retain(|_, codes| {
            codes.retain(|_, at| now - *at < cooldown);
            !codes.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Msisdn {
        Msisdn(s.into())
    }

    fn pool(k: usize) -> Vec<ShortCode> {
        (0..k)
            .map(|i| ShortCode(format!("+1809555010{i}")))
            .collect()
    }

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::seconds(secs)
    }

    const DAY: i64 = 24 * 3600;

    // New numbers spread over the short codes (modems) by live load, and
    // the load survives a round trip through the store.
    #[test]
    fn new_numbers_spread_over_the_codes_and_the_load_is_rebuilt() {
        let mut a = Allocator::default();
        let p = pool(3);
        let mut counts = BTreeMap::<ShortCode, usize>::new();
        for k in 0..9 {
            let num = n(&format!("+1809555{k:04}"));
            let c = a.pick(&num, &p, t(0), Duration::days(1)).unwrap();
            a.bind(&num, &c, &SessionId(format!("s{k}")));
            *counts.entry(c).or_default() += 1;
        }
        assert_eq!(counts.values().copied().collect::<Vec<_>>(), vec![3, 3, 3]);
        let json = serde_json::to_string(&a).unwrap();
        assert!(!json.contains("load"), "{json}");
        let back: Allocator = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
        // Ending conversations on the first code makes it the least loaded.
        a.retire(&n("+18095550000"), &p[0], t(1));
        a.retire(&n("+18095550003"), &p[0], t(1));
        let c = a.pick(&n("+18095559999"), &p, t(2), Duration::days(1));
        assert_eq!(c, Some(p[0].clone()));
    }

    // R5/R8: a held pair is never picked; when all are held, none is.
    #[test]
    fn held_pairs_are_skipped_until_none_is_free() {
        let mut a = Allocator::default();
        let p = pool(2);
        let num = n("+18095551234");
        let c0 = a.pick(&num, &p, t(0), Duration::days(1)).unwrap();
        a.bind(&num, &c0, &SessionId("s1".into()));
        let c1 = a.pick(&num, &p, t(0), Duration::days(1)).unwrap();
        assert_ne!(c0, c1);
        a.bind(&num, &c1, &SessionId("s2".into()));
        assert_eq!(a.pick(&num, &p, t(0), Duration::days(1)), None);
        // Another number is not affected.
        assert!(a
            .pick(&n("+18295551234"), &p, t(0), Duration::days(1))
            .is_some());
    }

    // R6: a pair retired within the cool-down is avoided while another code
    // is free; if only cooling ones are free, the least recently retired.
    #[test]
    fn cooling_pairs_come_last_least_recently_retired_first() {
        let mut a = Allocator::default();
        let p = pool(3);
        let num = n("+18095551234");
        let cd = Duration::days(1);
        a.retire(&num, &p[0], t(100));
        assert_eq!(a.pick(&num, &p, t(200), cd), Some(p[1].clone()));
        a.retire(&num, &p[1], t(50));
        a.retire(&num, &p[2], t(150));
        assert_eq!(a.pick(&num, &p, t(200), cd), Some(p[1].clone()));
        // After the cool-down, least recently used wins.
        assert_eq!(a.pick(&num, &p, t(DAY + 160), cd), Some(p[1].clone()));
        a.prune(t(DAY + 75), cd);
        assert_eq!(a.retired_at(&num, &p[1]), None);
        assert_eq!(a.retired_at(&num, &p[0]), Some(t(100)));
    }
}
