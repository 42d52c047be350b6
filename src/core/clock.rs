//! The reactor's clock: read at most once per turn of the loop.
//!
//! Every deadline the reactor computes in a turn (a timer set by a callback,
//! an idle timeout, a linger) starts from the same instant, and a turn that
//! needs no time makes no clock call at all: a busy echo server's turns
//! never read it. The harness can stop the clock and move it by hand, so a
//! protocol's timers can be tested without waiting.
//!
//! Two more readings exist for the statistics, and only when
//! `Config::timing` asks for them: [`coarse`], the kernel's tick-resolution
//! clock that the slow-callback detector reads after each callback; and the
//! stamps in whole seconds since the reactor started, which record when a
//! source was added (its age).

use std::cell::Cell;
use std::time::{Duration, Instant};

pub(crate) struct Clock {
    /// This turn's time, once someone asked for it.
    turn: Cell<Option<Instant>>,
    /// Set when the clock is driven by hand (the harness): the time it shows.
    manual: Option<Instant>,
    /// When the reactor was made: what [`Clock::stamp`] counts from.
    start: Instant,
    /// The last time it showed, where stopping it starts from.
    last: Cell<Option<Instant>>,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Clock {
            turn: Cell::new(None),
            manual: None,
            start: Instant::now(),
            last: Cell::new(None),
        }
    }

    /// This turn's time as whole seconds since the reactor was made: four
    /// bytes, where an `Instant` takes sixteen (how the table stores when
    /// each source was added).
    pub(crate) fn stamp(&self) -> u32 {
        let secs = self.now().saturating_duration_since(self.start).as_secs();
        u32::try_from(secs).unwrap_or(u32::MAX)
    }

    /// How long before this turn's time the stamp `stamp` was taken.
    pub(crate) fn since_stamp(&self, stamp: u32) -> Duration {
        Duration::from_secs(u64::from(self.stamp().saturating_sub(stamp)))
    }

    /// How long the reactor has existed, by this turn's time.
    pub(crate) fn uptime(&self) -> Duration {
        self.now().saturating_duration_since(self.start)
    }

    /// A new turn begins at `now`, a reading the loop took anyway (see
    /// `Config::timing`): it is this turn's time, unless the clock is driven
    /// by hand.
    #[inline]
    pub(crate) fn next_turn_at(&self, now: Instant) {
        let now = self.manual.unwrap_or(now);
        self.turn.set(Some(now));
        self.last.set(Some(now));
    }

    /// The time of this turn: the system clock, read the first time a turn asks.
    #[inline]
    pub(crate) fn now(&self) -> Instant {
        if let Some(now) = self.turn.get() {
            return now;
        }
        let now = self.manual.unwrap_or_else(Instant::now);
        self.turn.set(Some(now));
        self.last.set(Some(now));
        now
    }

    /// A new turn begins: the next [`Clock::now`] reads the clock afresh.
    #[inline]
    pub(crate) fn next_turn(&self) {
        self.turn.set(None);
    }

    /// Stops the clock, if it runs, and moves it forward by `by` from the
    /// last time it showed: a timer set `d` from then falls due exactly when
    /// the clock has been moved by `d`, however long the test took between.
    pub(crate) fn advance(&mut self, by: Duration) {
        let base = self.manual.or(self.last.get()).unwrap_or_else(Instant::now);
        let at = base + by;
        self.manual = Some(at);
        self.turn.set(Some(at));
        self.last.set(Some(at));
    }
}

/// The kernel's coarse monotonic clock: the time at the last timer tick
/// (a resolution of 1 to 10 ms), read without asking the hardware, so about
/// a third of the cost of `Instant::now()`. Enough to tell whether a
/// callback held the loop for 100 ms. In nanoseconds: plain integers to
/// subtract and compare.
#[inline]
pub(crate) fn coarse() -> u64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const CLOCK: libc::clockid_t = libc::CLOCK_MONOTONIC_COARSE;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    const CLOCK: libc::clockid_t = libc::CLOCK_MONOTONIC;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id exists on
    // this platform, so the call cannot fail.
    unsafe { libc::clock_gettime(CLOCK, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_reading_per_turn_and_a_stopped_clock_moves_only_by_hand() {
        let mut clock = Clock::new();
        let first = clock.now();
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(clock.now(), first, "same turn, same time");
        clock.next_turn();
        assert!(clock.now() > first);
        clock.advance(Duration::from_secs(5));
        let stopped = clock.now();
        clock.next_turn();
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(clock.now(), stopped);
        clock.advance(Duration::from_millis(10));
        assert_eq!(clock.now(), stopped + Duration::from_millis(10));
    }

    #[test]
    fn stamps_count_whole_seconds_from_the_start() {
        let mut clock = Clock::new();
        assert_eq!(clock.stamp(), 0);
        clock.advance(Duration::from_millis(2_500));
        assert_eq!(clock.stamp(), 2);
        assert_eq!(clock.since_stamp(0), Duration::from_secs(2));
        assert_eq!(clock.since_stamp(5), Duration::ZERO, "never negative");
        assert!(clock.uptime() >= Duration::from_millis(2_500));
    }

    #[test]
    fn the_coarse_clock_moves_forward_with_the_real_one() {
        let before = coarse();
        std::thread::sleep(Duration::from_millis(30));
        let after = coarse();
        assert!(after > before, "{before} then {after}");
        assert!(after - before >= 15_000_000, "{} ns", after - before);
    }
}
