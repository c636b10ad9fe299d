//! Timers on a `timerfd`, awaited through the reactor.
//!
//! - [`FineTimer::new`]: sub-millisecond sleeps for the emulator's serial
//!   pacing. tokio's timer has a 1 ms grain: a paced write of six bytes
//!   (0.5 ms at 115 200 baud) would wait up to two, and a modem's line would
//!   look far slower than a real one. A `timerfd` armed with the exact delay
//!   wakes within tens of microseconds.
//! - [`FineTimer::wall`]: a sleep until a wall-clock time
//!   (`CLOCK_REALTIME`, absolute), for the gateway's deadlines. It also ends
//!   when the clock is set (`TFD_TIMER_CANCEL_ON_SET`): a Raspberry Pi has
//!   no real-time clock and jumps forward when NTP first answers, and a
//!   session's end must not wait for the monotonic time that was left.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Instant;

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

struct Fd(TimerFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// One reusable fine-grained timer (one per paced line).
pub struct FineTimer {
    fd: AsyncFd<Fd>,
}

impl FineTimer {
    pub fn new() -> io::Result<FineTimer> {
        let fd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        // SAFETY: `Fd` owns the timer's descriptor, which stays open, and
        // the same, until the `AsyncFd` holding it is dropped.
        let fd = unsafe { AsyncFd::register_with_interest(Fd(fd), Interest::READABLE) }?;
        Ok(FineTimer { fd })
    }

    /// Waits until `due` (returns at once when it has passed).
    pub async fn sleep_until(&self, due: Instant) -> io::Result<()> {
        let Some(wait) = due
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
        else {
            return Ok(());
        };
        self.fd.get_ref().0.set(
            Expiration::OneShot(TimeSpec::from_duration(wait)),
            TimerSetTimeFlags::empty(),
        )?;
        self.fired().await
    }

    /// Waits until the wall clock reads `at` (time since the Unix epoch),
    /// or until the clock is set: the caller looks at the time again.
    pub async fn wall(at: std::time::Duration) -> io::Result<()> {
        let fd = TimerFd::new(
            ClockId::CLOCK_REALTIME,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        fd.set(
            Expiration::OneShot(TimeSpec::from_duration(at)),
            TimerSetTimeFlags::TFD_TIMER_ABSTIME | TimerSetTimeFlags::TFD_TIMER_CANCEL_ON_SET,
        )?;
        // SAFETY: as in `new`.
        let fd = unsafe { AsyncFd::register_with_interest(Fd(fd), Interest::READABLE) }?;
        match (FineTimer { fd }).fired().await {
            // The clock was set: ECANCELED.
            Err(e) if e.raw_os_error() == Some(libc::ECANCELED) => Ok(()),
            other => other,
        }
    }

    async fn fired(&self) -> io::Result<()> {
        loop {
            let mut ready = self.fd.readable().await?;
            let fired = ready.try_io(|fd| {
                let mut count = [0u8; 8];
                match nix::unistd::read(fd.as_raw_fd(), &mut count) {
                    Ok(_) => Ok(()),
                    Err(e) => Err(io::Error::from(e)),
                }
            });
            match fired {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FineTimer;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn wakes_after_the_deadline_and_not_before() {
        let timer = FineTimer::new().unwrap();
        for micros in [0u64, 300, 1_500] {
            let due = Instant::now() + Duration::from_micros(micros);
            timer.sleep_until(due).await.unwrap();
            assert!(Instant::now() >= due);
        }
        // A deadline in the past returns at once.
        timer
            .sleep_until(Instant::now() - Duration::from_millis(5))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_wall_clock_sleep_ends_at_its_time() {
        let now = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
        };
        let at = now() + Duration::from_millis(30);
        FineTimer::wall(at).await.unwrap();
        assert!(now() >= at);
        // A time in the past: at once.
        FineTimer::wall(now() - Duration::from_secs(1))
            .await
            .unwrap();
    }
}
