//! The reactor's statistics, kept where the work is done.
//!
//! Every counter is a plain integer on the loop's thread, bumped where the
//! loop already has the number in hand:
//!
//! - per turn: the events and the histogram of events per turn (the poll
//!   just said how many; the turns are the histogram's sum), in
//!   [`Core::poll_returned`];
//! - per callback: one increment in the one runner, [`Core::run`];
//! - per read and per send: each connection's own byte counters
//!   (`Transport::count_in`, `count_out`); the reactor's totals are those of
//!   the open connections, summed when asked, plus what closed ones left
//!   here, so the hot path adds to one counter, not two;
//! - on the cold paths only: accepts, closes, and the output queued for all
//!   connections (it grows only when a socket refuses bytes, and shrinks
//!   on a flush or a close).
//!
//! With `Config::timing`, the clock is read when poll returns (that reading
//! is also the turn's time, which the turn would otherwise read if it needed
//! it) and when the turn ends; the coarse clock when poll returns and after
//! each callback, for the slow-callback detector; and every stream gets the
//! rarely used state where an idle timeout notes the time of each read.
//!
//! The detector costs an untimed loop nothing: it hangs off the one test
//! every callback's end already makes (is anything to be settled?), which a
//! timed loop keeps answering yes. A callback is measured from the previous
//! reading (the end of the callback before it, or poll's return) to its own
//! end, so the reactor's work between two callbacks (a `recv`, a lookup:
//! microseconds) counts towards the second; against a threshold of 100 ms
//! that is nothing, and it needs one reading per callback instead of two.

use std::time::{Duration, Instant};

use log::warn;
use mio::Token;

use super::clock::coarse;
use super::{Core, NO_TOKEN};
use crate::config::Config;
use crate::sources::Source;
use crate::stats::{ConnectionStats, EVENT_BUCKETS, Stats, bucket};

/// What the core counts (see the module documentation).
#[derive(Default)]
pub(crate) struct Counters {
    /// Events, and turns by their events (the turns are their sum).
    events: u64,
    events_per_turn: [u64; EVENT_BUCKETS],
    pub(super) callbacks: u64,
    slow_callbacks: u64,
    accepted: u64,
    closed: u64,
    /// Bytes read and written by sources that are gone (open ones keep
    /// their own counts).
    bytes_read: u64,
    bytes_written: u64,
    /// Output queued for all streams now, and the most there ever was.
    queued: usize,
    queued_peak: usize,
    /// With `Config::timing`: time asleep in poll and awake.
    poll_time: Duration,
    work_time: Duration,
    /// When this turn woke (poll returned), and when the last one ended.
    woke: Option<Instant>,
    ended: Option<Instant>,
    /// The coarse clock's last reading in this turn (nanoseconds), where
    /// the next callback's time starts (`None` between turns: a callback
    /// run from outside the loop holds no loop).
    mark: Option<u64>,
    /// `Config::slow_callback` in nanoseconds.
    slow_ns: u64,
}

impl Counters {
    pub(super) fn new(config: &Config) -> Self {
        Counters {
            slow_ns: u64::try_from(config.slow_callback.as_nanos()).unwrap_or(u64::MAX),
            // Until the first poll the loop does no work of its own: the
            // time counts as waiting.
            ended: config.timing.then(Instant::now),
            ..Counters::default()
        }
    }

    /// A turn whose poll returned `events` events.
    #[inline(always)]
    pub(super) fn turn(&mut self, events: usize) {
        self.events += events as u64;
        self.events_per_turn[bucket(events)] += 1;
    }

    /// The output queued for one stream went from `before` to `after` bytes.
    #[inline]
    pub(super) fn queued_changed(&mut self, before: usize, after: usize) {
        self.queued = (self.queued + after).saturating_sub(before);
        self.queued_peak = self.queued_peak.max(self.queued);
    }
}

impl<S: 'static> Core<S> {
    /// With `Config::timing`: poll returned. Its reading is this turn's time.
    /// (Out of line: an untimed loop never calls it; a timed one, always.)
    #[inline(never)]
    pub(super) fn time_wake(&mut self) {
        let now = Instant::now();
        self.clock.next_turn_at(now);
        let c = &mut self.counters;
        if let Some(ended) = c.ended {
            c.poll_time += now.saturating_duration_since(ended);
        }
        c.woke = Some(now);
        c.mark = Some(coarse());
        // Every callback's end goes through settling (see `settle_after`).
        self.pending = true;
    }

    /// With `Config::timing`: the turn's work is done.
    #[inline(never)]
    pub(super) fn time_end(&mut self) {
        let now = Instant::now();
        let c = &mut self.counters;
        if let Some(woke) = c.woke.take() {
            c.work_time += now.saturating_duration_since(woke);
        }
        c.ended = Some(now);
        c.mark = None;
    }

    /// With `Config::timing`: the callback `what` for `token` returned. If
    /// it held the loop for `Config::slow_callback` or longer, say so and
    /// count it.
    #[inline(never)]
    pub(super) fn callback_done(&mut self, token: Token, what: &str) {
        let Some(mark) = self.counters.mark else {
            return;
        };
        let now = coarse();
        self.counters.mark = Some(now);
        let took = now.saturating_sub(mark);
        if took >= self.counters.slow_ns {
            self.slow_callback(Duration::from_nanos(took), token, what);
        }
    }

    #[cold]
    #[inline(never)]
    fn slow_callback(&mut self, took: Duration, token: Token, what: &str) {
        self.counters.slow_callbacks += 1;
        let name = crate::sources::protocol_name(self, token);
        let whose = if token == NO_TOKEN {
            String::new()
        } else {
            format!(" on {}", self.describe(token))
        };
        let callback = if name.is_empty() {
            what.to_string()
        } else {
            format!("{name}::{what}")
        };
        warn!(
            "slow callback: {callback}{whose} held the loop for {} ms (threshold {:?})",
            took.as_millis(),
            self.config.slow_callback
        );
    }

    /// `n` bytes of a stream's queued output left its buffer for a layer
    /// under it (STARTTLS: the plaintext owed ahead of the first record).
    #[cfg(feature = "tls")]
    pub(crate) fn output_handed_over(&mut self, n: usize) {
        self.counters.queued_changed(n, 0);
    }

    /// A listener accepted a connection.
    pub(crate) fn count_accepted(&mut self) {
        self.counters.accepted += 1;
    }

    /// A source is leaving the table: what it read and wrote stays in the
    /// totals, and a stream's queued output leaves them.
    pub(super) fn count_removed(&mut self, source: &Source<S>) {
        let (read, written) = bytes_of(source);
        let c = &mut self.counters;
        c.bytes_read += read;
        c.bytes_written += written;
        if let Source::Stream(s) = source {
            c.queued_changed(s.transport.queued(), 0);
            if s.transport.is_socket() {
                c.closed += 1;
            }
        }
    }

    /// The reactor's statistics now. Walks the open connections for their
    /// byte counts: cheap next to anything that would report them.
    pub(crate) fn stats(&self) -> Stats {
        let c = &self.counters;
        let (mut bytes_read, mut bytes_written) = (c.bytes_read, c.bytes_written);
        for (_, source) in self.table.iter() {
            let (read, written) = bytes_of(source);
            bytes_read += read;
            bytes_written += written;
        }
        let timing = self.config.timing;
        Stats {
            uptime: self.clock.uptime(),
            turns: c.events_per_turn.iter().sum(),
            events: c.events,
            events_per_turn: c.events_per_turn,
            poll_time: timing.then_some(c.poll_time),
            work_time: timing.then_some(c.work_time),
            callbacks: c.callbacks,
            slow_callbacks: c.slow_callbacks,
            connections: self.sockets,
            accepted: c.accepted,
            closed: c.closed,
            bytes_read,
            bytes_written,
            queued: c.queued,
            queued_peak: c.queued_peak,
            timers: self.timers.len(),
        }
    }

    /// One connection's figures; `None` if `token` is not a stream.
    pub(crate) fn connection_stats(&self, token: Token) -> Option<ConnectionStats> {
        let s = self.stream(token)?;
        let t = &s.transport;
        let since = self.table.since(token)?;
        Some(ConnectionStats {
            bytes_read: t.bytes_read(),
            bytes_written: t.bytes_written(),
            queued: self.queued(token),
            age: self.clock.since_stamp(since),
            // Kept by every read while an idle timeout or the timed loop
            // asks for it (see the read path).
            idle: t
                .extra
                .as_ref()
                .filter(|x| self.config.timing || x.idle_timer.is_some())
                .map(|x| self.now().saturating_duration_since(x.last_active)),
        })
    }
}

/// Bytes a source has read and written so far.
fn bytes_of<S>(source: &Source<S>) -> (u64, u64) {
    match source {
        Source::Stream(s) => (s.transport.bytes_read(), s.transport.bytes_written()),
        Source::Datagram(d) => (d.bytes_read, d.bytes_written),
        _ => (0, 0),
    }
}
