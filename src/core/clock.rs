//! The reactor's clock: read at most once per turn of the loop.
//!
//! Every deadline the reactor computes in a turn (a timer set by a callback,
//! an idle timeout, a linger) starts from the same instant, and a turn that
//! needs no time makes no clock call at all: a busy echo server's turns
//! never read it. The harness can stop the clock and move it by hand, so a
//! protocol's timers can be tested without waiting.

use std::cell::Cell;
use std::time::{Duration, Instant};

pub(crate) struct Clock {
    /// This turn's time, once someone asked for it.
    turn: Cell<Option<Instant>>,
    /// Set when the clock is driven by hand (the harness): the time it shows.
    manual: Option<Instant>,
    /// The last time it showed, where stopping it starts from.
    last: Cell<Option<Instant>>,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Clock {
            turn: Cell::new(None),
            manual: None,
            last: Cell::new(None),
        }
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
}
