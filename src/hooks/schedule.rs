//! When a webhook that failed is tried again: pure arithmetic over
//! attempt counts, tested on its own (no clock, no sleep).
//!
//! The first retry comes within [`FIRST_RETRY`]; each later one waits
//! twice as long, capped at [`CAP`], with jitter taking up to half of the
//! wait off (so receivers coming back are not hit by every event at
//! once). An event is given up only once it has been tried for at least
//! [`GIVE_UP_AFTER`].

use chrono::Duration;

/// The wait before the first retry (at most; jitter shortens it).
pub const FIRST_RETRY: Duration = Duration::seconds(5);
/// The longest wait between two attempts.
pub const CAP: Duration = Duration::hours(1);
/// How long an event is tried before it is given up (kept for the admin).
pub const GIVE_UP_AFTER: Duration = Duration::hours(24);
/// The answer time of one attempt (a slower receiver counts as failed).
pub const ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The wait after the `failures`-th failed attempt (1 for the first),
/// `jitter` in `[0, 1)` taking up to half of it off.
pub fn delay(failures: u32, jitter: f64) -> Duration {
    let doublings = failures.saturating_sub(1).min(20);
    let full = (FIRST_RETRY * (1i32 << doublings)).min(CAP);
    let keep = 1.0 - 0.5 * jitter.clamp(0.0, 1.0);
    Duration::milliseconds((full.num_milliseconds() as f64 * keep) as i64)
}

/// Whether an event first queued at `created_at` that failed again at
/// `now` is given up.
pub fn given_up(
    created_at: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    now - created_at >= GIVE_UP_AFTER
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn first_within_ten_seconds_then_doubling_capped_at_an_hour() {
        assert!(delay(1, 0.0) <= Duration::seconds(10));
        assert_eq!(delay(1, 0.0), Duration::seconds(5));
        assert_eq!(delay(2, 0.0), Duration::seconds(10));
        assert_eq!(delay(3, 0.0), Duration::seconds(20));
        assert_eq!(delay(12, 0.0), CAP);
        assert_eq!(delay(u32::MAX, 0.0), CAP);
    }

    /// Tried for at least a day: the sum of the waits before the event is
    /// given up covers 24 h, however the jitter falls, in a bounded number
    /// of attempts.
    #[test]
    fn a_day_of_attempts_whatever_the_jitter() {
        for jitter in [0.0, 0.5, 0.999] {
            let start = crate::gateway::t(0);
            let mut now = start;
            let mut failures = 0;
            loop {
                failures += 1;
                if given_up(start, now) {
                    break;
                }
                now += delay(failures, jitter);
            }
            assert!(now - start >= GIVE_UP_AFTER);
            assert!(failures < 80, "{failures} attempts at jitter {jitter}");
        }
    }

    proptest! {
        #[test]
        fn never_longer_than_the_cap_nor_shorter_than_half(failures in 1u32..10_000, jitter in 0.0f64..1.0) {
            let d = delay(failures, jitter);
            prop_assert!(d <= CAP);
            prop_assert!(d >= Duration::milliseconds(2_500));
        }
    }
}
