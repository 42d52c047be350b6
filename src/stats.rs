//! What the loop has done: [`Stats`] for the whole reactor, and
//! [`ConnectionStats`] for one connection.
//!
//! A reactor is a black box until something is slow. These figures open it:
//! how many events each turn handles (the loop batches by itself as load
//! grows), how much of the time it sleeps, how many callbacks it ran and
//! whether one of them held the loop, how many bytes went through and how
//! many still wait. They are plain integers the loop's thread bumps where it
//! already does the work: once per turn, once per callback, once per read
//! and per send. Nothing reads a clock for them unless
//! [`Config::timing`](crate::Config::timing) asks for it.
//!
//! ```
//! let mut reactor = sockloop::Reactor::new()?;
//! reactor.run_once(Some(std::time::Duration::ZERO))?;
//! let stats = reactor.stats();
//! assert_eq!(stats.turns, 1);
//! println!("{stats}"); // one line: turns=1 events=0 ...
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fmt;
use std::time::Duration;

/// How many buckets [`Stats::events_per_turn`] has.
pub const EVENT_BUCKETS: usize = 12;

/// The bucket of [`Stats::events_per_turn`] that a turn of `events` events
/// falls in: 0 for none, then one per power of two, the last one open.
#[inline(always)]
pub(crate) fn bucket(events: usize) -> usize {
    ((usize::BITS - events.leading_zeros()) as usize).min(EVENT_BUCKETS - 1)
}

/// A snapshot of a reactor's statistics: [`Reactor::stats`](crate::Reactor::stats)
/// or [`Ctx::stats`](crate::Ctx::stats). Its `Display` is one line of
/// `name=value` pairs, for a log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// How long the reactor has existed (by the time of the current turn).
    pub uptime: Duration,
    /// Turns of the loop: each is one poll and what follows it.
    pub turns: u64,
    /// Readiness events the polls returned (the ready list's services, which
    /// need no event, are not counted).
    pub events: u64,
    /// Turns by how many events their poll returned: `[0]` none, `[1]` one,
    /// `[2]` two or three, `[3]` four to seven, ... `[i]` from 2^(i-1) to
    /// 2^i - 1, and the last bucket everything from 1,024 up. See
    /// [`Stats::bucket_range`].
    pub events_per_turn: [u64; EVENT_BUCKETS],
    /// Time spent waiting in poll; `None` unless
    /// [`Config::timing`](crate::Config::timing).
    pub poll_time: Option<Duration>,
    /// Time spent working: from poll's return to the end of the turn (the
    /// events, the ready list, the timers, settling); `None` unless
    /// [`Config::timing`](crate::Config::timing).
    pub work_time: Option<Duration>,
    /// Callbacks run: every protocol callback, timer, signal handler and
    /// posted closure.
    pub callbacks: u64,
    /// Callbacks that held the loop for [`Config::slow_callback`](crate::Config::slow_callback)
    /// or longer (counted only with [`Config::timing`](crate::Config::timing)).
    pub slow_callbacks: u64,
    /// Socket connections open now (what `Config::max_connections` counts).
    pub connections: usize,
    /// Connections accepted by listeners.
    pub accepted: u64,
    /// Socket connections closed.
    pub closed: u64,
    /// Bytes read from streams (sockets and pipes) and datagram sockets
    /// (for a TLS connection, the plaintext).
    pub bytes_read: u64,
    /// Bytes the streams and datagram sockets took, files sent with
    /// `send_file` included (output still queued is not written yet; for a
    /// TLS connection, the plaintext).
    pub bytes_written: u64,
    /// Bytes queued for streams now, waiting for their peers to read.
    pub queued: usize,
    /// The most that was ever queued for all streams at once.
    pub queued_peak: usize,
    /// Timers pending: the ones callbacks set, and the reactor's own (idle
    /// timeouts, lingering closes, the shutdown deadline).
    pub timers: usize,
}

impl Stats {
    /// The events a turn must have had to fall in bucket `i` of
    /// [`Stats::events_per_turn`]: `(low, high)`, both included (`high`
    /// is `usize::MAX` for the last bucket).
    pub fn bucket_range(i: usize) -> (usize, usize) {
        match i {
            0 => (0, 0),
            i if i >= EVENT_BUCKETS - 1 => (1 << (EVENT_BUCKETS - 2), usize::MAX),
            i => (1 << (i - 1), (1 << i) - 1),
        }
    }

    /// Events per turn, on average (0 before the first turn).
    pub fn mean_events_per_turn(&self) -> f64 {
        if self.turns == 0 {
            0.0
        } else {
            self.events as f64 / self.turns as f64
        }
    }

    /// The share of the time the loop worked rather than waited in poll,
    /// from 0 to 1; `None` unless [`Config::timing`](crate::Config::timing).
    pub fn busy(&self) -> Option<f64> {
        let (poll, work) = (self.poll_time?, self.work_time?);
        let total = (poll + work).as_secs_f64();
        Some(if total > 0.0 {
            work.as_secs_f64() / total
        } else {
            0.0
        })
    }
}

/// One line: `uptime=12.0s turns=5021 events=50210 events/turn=10.0
/// hist=1:3,2-3:10,... callbacks=...`, every field of [`Stats`] in order.
impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "uptime={:.1}s turns={} events={} events/turn={:.1} hist=",
            self.uptime.as_secs_f64(),
            self.turns,
            self.events,
            self.mean_events_per_turn()
        )?;
        let mut first = true;
        for (i, &turns) in self.events_per_turn.iter().enumerate() {
            if turns == 0 {
                continue;
            }
            let sep = if first { "" } else { "," };
            first = false;
            match Stats::bucket_range(i) {
                (low, high) if low == high => write!(f, "{sep}{low}:{turns}")?,
                (low, usize::MAX) => write!(f, "{sep}{low}+:{turns}")?,
                (low, high) => write!(f, "{sep}{low}-{high}:{turns}")?,
            }
        }
        if first {
            write!(f, "-")?;
        }
        match (self.poll_time, self.work_time, self.busy()) {
            (Some(poll), Some(work), Some(busy)) => write!(
                f,
                " poll={:.3}s work={:.3}s busy={:.1}%",
                poll.as_secs_f64(),
                work.as_secs_f64(),
                busy * 100.0
            )?,
            _ => write!(f, " timing=off")?,
        }
        write!(
            f,
            " callbacks={} slow={} conns={} accepted={} closed={} read={} written={} \
             queued={} queued_peak={} timers={}",
            self.callbacks,
            self.slow_callbacks,
            self.connections,
            self.accepted,
            self.closed,
            self.bytes_read,
            self.bytes_written,
            self.queued,
            self.queued_peak,
            self.timers
        )
    }
}

/// One connection's figures: [`Connection::stats`](crate::Connection::stats).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionStats {
    /// Bytes read from it.
    pub bytes_read: u64,
    /// Bytes its socket took.
    pub bytes_written: u64,
    /// Bytes queued for it now, the running callback's own writes included.
    pub queued: usize,
    /// How long it has been open, in whole seconds.
    pub age: Duration,
    /// How long since bytes last arrived from it (or since it opened), by
    /// the loop's clock; `None` unless [`Config::timing`](crate::Config::timing)
    /// (or an idle timeout, which keeps the same time) made it note each
    /// read.
    pub idle: Option<Duration>,
}

/// One line: `age=3s idle=1s read=120 written=120 queued=0`.
impl fmt::Display for ConnectionStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "age={}s", self.age.as_secs())?;
        if let Some(idle) = self.idle {
            write!(f, " idle={}s", idle.as_secs())?;
        }
        write!(
            f,
            " read={} written={} queued={}",
            self.bytes_read, self.bytes_written, self.queued
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_count_of_events_falls_in_its_power_of_two_bucket() {
        for events in [0usize, 1, 2, 3, 4, 7, 8, 1023, 1024, 5000, usize::MAX] {
            let i = bucket(events);
            let (low, high) = Stats::bucket_range(i);
            assert!(
                low <= events && events <= high,
                "{events} in bucket {i} ({low}..={high})"
            );
        }
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(1), 1);
        assert_eq!(bucket(3), 2);
        assert_eq!(bucket(1024), EVENT_BUCKETS - 1);
    }

    #[test]
    fn the_line_names_every_figure_and_says_when_timing_is_off() {
        let mut stats = Stats {
            turns: 4,
            events: 10,
            callbacks: 12,
            bytes_read: 640,
            ..Stats::default()
        };
        stats.events_per_turn[1] = 1;
        stats.events_per_turn[2] = 3;
        let line = stats.to_string();
        assert!(line.contains("turns=4 events=10 events/turn=2.5"), "{line}");
        assert!(line.contains("hist=1:1,2-3:3 "), "{line}");
        assert!(line.contains("timing=off"), "{line}");
        assert!(line.contains("callbacks=12"), "{line}");
        assert!(line.contains("read=640 "), "{line}");
        stats.poll_time = Some(Duration::from_millis(750));
        stats.work_time = Some(Duration::from_millis(250));
        let line = stats.to_string();
        assert!(
            line.contains("poll=0.750s work=0.250s busy=25.0%"),
            "{line}"
        );
    }
}
