//! R13 abuse limits kept by the web layer with governor: sends per client
//! address per minute, and sends per recipient number per hour. A limit of
//! 0 means none.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::LimitsConfig;

/// Keyed limiters forget idle keys once they hold this many.
const RETAIN_ABOVE: usize = 10_000;

pub(crate) struct Limiters {
    per_client: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_recipient: Option<DefaultKeyedRateLimiter<String>>,
}

impl Limiters {
    pub fn new(limits: &LimitsConfig) -> Self {
        Limiters {
            per_client: NonZeroU32::new(limits.sends_per_minute_per_client)
                .map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            per_recipient: NonZeroU32::new(limits.sends_per_hour_per_recipient)
                .map(|n| RateLimiter::keyed(Quota::per_hour(n))),
        }
    }

    /// Takes one send from `client`'s quota; `false` when it is used up.
    pub fn client_may_send(&self, client: IpAddr) -> bool {
        let Some(l) = &self.per_client else {
            return true;
        };
        if l.len() > RETAIN_ABOVE {
            l.retain_recent();
        }
        l.check_key(&client).is_ok()
    }

    /// Takes one message to `number` (E.164) from its quota.
    pub fn recipient_may_receive(&self, number: &str) -> bool {
        let Some(l) = &self.per_recipient else {
            return true;
        };
        if l.len() > RETAIN_ABOVE {
            l.retain_recent();
        }
        l.check_key(&number.to_string()).is_ok()
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
            assert!(l.client_may_send([127, 0, 0, 1].into()));
            assert!(l.recipient_may_receive("+18095551234"));
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
        assert!(l.client_may_send(a));
        assert!(l.client_may_send(a));
        assert!(!l.client_may_send(a));
        assert!(l.client_may_send([10, 0, 0, 2].into()));
        assert!(l.recipient_may_receive("+18095551234"));
        assert!(!l.recipient_may_receive("+18095551234"));
        assert!(l.recipient_may_receive("+18095550000"));
    }
}
