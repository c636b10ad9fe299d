//! R13 abuse limits kept by the web layer with governor: sends per client
//! address per minute, and sends per recipient number per hour. A limit of
//! 0 means none. A refusal says how long until the next send may pass (the
//! `Retry-After` of the 429).
//!
//! The client key is the IPv4 address, or the /64 network of an IPv6
//! address: one IPv6 host usually holds a whole /64, so keying by address
//! would let it take a fresh quota with every address it picks.

use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::LimitsConfig;

/// Keyed limiters forget idle keys once they hold this many.
const RETAIN_ABOVE: usize = 10_000;

pub struct Limiters {
    per_client: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_recipient: Option<DefaultKeyedRateLimiter<String>>,
    /// Sends per API key per minute (the per-client quota, per key).
    per_key: Option<DefaultKeyedRateLimiter<String>>,
    /// Wrong admin tokens per client: 10 a minute, then 429.
    admin_failures: DefaultKeyedRateLimiter<IpAddr>,
    /// One log line per client and minute about its wrong tokens.
    admin_logs: DefaultKeyedRateLimiter<IpAddr>,
}

impl Limiters {
    pub fn new(limits: &LimitsConfig) -> Self {
        Limiters {
            per_client: NonZeroU32::new(limits.sends_per_minute_per_client)
                .map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            per_recipient: NonZeroU32::new(limits.sends_per_hour_per_recipient)
                .map(|n| RateLimiter::keyed(Quota::per_hour(n))),
            per_key: NonZeroU32::new(limits.sends_per_minute_per_client)
                .map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            admin_failures: RateLimiter::keyed(Quota::per_minute(NonZeroU32::new(10).unwrap())),
            admin_logs: RateLimiter::keyed(Quota::per_minute(NonZeroU32::new(1).unwrap())),
        }
    }

    /// Takes one send from `client`'s quota; when it is used up, how long
    /// until the next one passes.
    pub fn client_may_send(&self, client: IpAddr) -> Result<(), Duration> {
        take(self.per_client.as_ref(), &client_key(client))
    }

    /// Takes one send from API key `name`'s quota.
    pub fn key_may_send(&self, name: &str) -> Result<(), Duration> {
        take(self.per_key.as_ref(), &name.to_string())
    }

    /// Counts a wrong admin token from `client`; past 10 a minute, how
    /// long until it may try again. The second value says whether to log
    /// this one (one line per client and minute).
    pub fn admin_failed(&self, client: IpAddr) -> (Result<(), Duration>, bool) {
        let key = client_key(client);
        let log = self.admin_logs.check_key(&key).is_ok();
        (take(Some(&self.admin_failures), &key), log)
    }

    /// Takes one message to `number` (E.164) from its quota; when it is
    /// used up, how long until the next one passes.
    pub fn recipient_may_receive(&self, number: &str) -> Result<(), Duration> {
        take(self.per_recipient.as_ref(), &number.to_string())
    }
}

fn take<K: Hash + Eq + Clone>(
    limiter: Option<&DefaultKeyedRateLimiter<K>>,
    key: &K,
) -> Result<(), Duration> {
    let Some(l) = limiter else {
        return Ok(());
    };
    if l.len() > RETAIN_ABOVE {
        l.retain_recent();
    }
    l.check_key(key)
        .map_err(|not_until| not_until.wait_time_from(l.clock().now()))
}

/// The quota key of a client address: IPv4 as is (also when it comes
/// IPv4-mapped from a dual-stack socket), IPv6 by its /64 network.
pub(crate) fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_means_no_limit() {
        let l = Limiters::new(&LimitsConfig {
            sends_per_minute_per_client: 0,
            sends_per_hour_per_recipient: 0,
            ..LimitsConfig::default()
        });
        for _ in 0..100 {
            assert!(l.client_may_send([127, 0, 0, 1].into()).is_ok());
            assert!(l.recipient_may_receive("+18095551234").is_ok());
        }
    }

    #[test]
    fn quotas_are_per_key() {
        let l = Limiters::new(&LimitsConfig {
            sends_per_minute_per_client: 2,
            sends_per_hour_per_recipient: 1,
            ..LimitsConfig::default()
        });
        let a = [10, 0, 0, 1].into();
        assert!(l.client_may_send(a).is_ok());
        assert!(l.client_may_send(a).is_ok());
        assert!(l.client_may_send(a).is_err());
        assert!(l.client_may_send([10, 0, 0, 2].into()).is_ok());
        assert!(l.recipient_may_receive("+18095551234").is_ok());
        assert!(l.recipient_may_receive("+18095551234").is_err());
        assert!(l.recipient_may_receive("+18095550000").is_ok());
    }

    /// The refusal says when the next send passes: 2 a minute replenish
    /// one every 30 s; 1 an hour, after an hour.
    #[test]
    fn a_refusal_says_how_long_to_wait() {
        let l = Limiters::new(&LimitsConfig {
            sends_per_minute_per_client: 2,
            sends_per_hour_per_recipient: 1,
            ..LimitsConfig::default()
        });
        let a = [10, 0, 0, 1].into();
        let _ = (l.client_may_send(a), l.client_may_send(a));
        let wait = l.client_may_send(a).unwrap_err();
        assert!(wait > Duration::from_secs(29) && wait <= Duration::from_secs(30));
        let _ = l.recipient_may_receive("+18095551234");
        let wait = l.recipient_may_receive("+18095551234").unwrap_err();
        assert!(wait > Duration::from_secs(3599) && wait <= Duration::from_secs(3600));
    }

    /// R13: the addresses of one IPv6 /64 share one quota; another /64 and
    /// IPv4 clients have their own; an IPv4-mapped address is its IPv4.
    #[test]
    fn ipv6_clients_are_limited_per_64_network() {
        let l = Limiters::new(&LimitsConfig {
            sends_per_minute_per_client: 2,
            ..LimitsConfig::default()
        });
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(l.client_may_send(ip("2001:db8:1:2::1")).is_ok());
        assert!(l.client_may_send(ip("2001:db8:1:2:ffff:1:2:3")).is_ok());
        assert!(l.client_may_send(ip("2001:db8:1:2::beef")).is_err());
        assert!(l.client_may_send(ip("2001:db8:1:3::1")).is_ok());
        assert!(l.client_may_send(ip("192.0.2.7")).is_ok());
        assert!(l.client_may_send(ip("::ffff:192.0.2.7")).is_ok());
        assert!(l.client_may_send(ip("192.0.2.7")).is_err());
    }
}
