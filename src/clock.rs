//! The one clock abstraction. Pure cores take `now` as an argument; the
//! runtimes that call them read it from a [`Clock`], so tests can drive
//! time by hand with [`ManualClock`]. Timers wait on the clock too
//! ([`Clock::sleep_until`]), so a deadline on virtual time fires when the
//! test moves the time past it, and an idle hour takes no real hour.

use std::sync::Mutex;

use chrono::{DateTime, Duration, FixedOffset, Utc};
use futures_util::future::BoxFuture;
use tokio::sync::watch;

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;

    /// Resolves once the clock reads `at` or later (at once when it
    /// already does). One wait, one wake-up: nothing polls meanwhile.
    fn sleep_until(&self, at: DateTime<Utc>) -> BoxFuture<'static, ()>;

    /// The current time with a zero offset (SMS time stamps carry one).
    fn now_fixed(&self) -> DateTime<FixedOffset> {
        self.now().fixed_offset()
    }
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    /// A `CLOCK_REALTIME` timer for `at` ([`crate::timer::FineTimer::wall`]):
    /// it follows the wall clock when it is set, and then wakes early so
    /// that the caller looks at the time again. Should the timer fail, a
    /// tokio sleep for the time left.
    fn sleep_until(&self, at: DateTime<Utc>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let since_epoch = (at - DateTime::UNIX_EPOCH).to_std().unwrap_or_default();
            if let Err(e) = crate::timer::FineTimer::wall(since_epoch).await {
                tracing::warn!(error = %e, "no wall-clock timer; sleeping for the time left");
                tokio::time::sleep((at - Utc::now()).to_std().unwrap_or_default()).await;
            }
        })
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
    /// The time as sleepers see it: each move wakes them.
    moved: watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock {
            now: Mutex::new(start),
            moved: watch::Sender::new(start),
        }
    }

    pub fn advance(&self, by: Duration) {
        let mut t = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *t += by;
        self.moved.send_replace(*t);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> BoxFuture<'static, ()> {
        let mut moved = self.moved.subscribe();
        Box::pin(async move {
            while *moved.borrow_and_update() < at {
                if moved.changed().await.is_err() {
                    // The clock is gone: its time never comes.
                    std::future::pending::<()>().await;
                }
            }
        })
    }
}
