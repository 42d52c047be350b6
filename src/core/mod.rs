//! The reactor's state apart from the poller: the table of sources, the
//! clock and timers, the ready list, and the one path every callback, every
//! write and every close goes through.
//!
//! - `table.rs`: the slab and the tokens that name its slots;
//! - `runner.rs`: the one way a callback runs (lend, catch a panic, send the
//!   batch, settle);
//! - `write.rs`: a callback's writes, batched and sent;
//! - `settle.rs`: what callbacks ask for (close, abort, flow control),
//!   carried out once no protocol is lent out;
//! - `timers.rs`: what a timer does when it fires, and the idle timeout;
//! - `shutdown.rs`: the graceful shutdown and its deadline;
//! - `clock.rs`: one reading of the clock per turn;
//! - `stats.rs`: the counters behind `Reactor::stats`, and the
//!   slow-callback detector.
//!
//! What happens to each kind of source when the poller reports it ready is
//! in `src/sources/`; the core asks each kind to register and deregister
//! itself.

mod clock;
mod runner;
mod settle;
mod shutdown;
mod stats;
mod table;
mod timers;
mod write;

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::warn;
use mio::{Registry, Token};

use crate::batch::Batch;
use crate::buffer::Pool;
use crate::config::Config;
use crate::handle;
use crate::sendfile::Files;
use crate::sources::{Source, StreamSource};
use crate::timer::Timers;

pub(crate) use clock::Clock;
pub(crate) use runner::{Detached, Lend, Owned, panic_message};
pub(crate) use table::{ALARM, NO_TOKEN, WAKER, show};
pub(crate) use timers::TimerKind;

pub(crate) struct Core<S> {
    registry: Registry,
    table: table::Table<S>,
    shared: S,
    config: Config,
    clock: Clock,
    timers: Timers<TimerKind<S>>,
    /// Where every buffer's storage comes from and goes back to.
    pool: Pool,
    /// Files queued with `send_file`, by connection (`sendfile.rs`).
    files: Files,
    /// What the running callback wrote to its own connection, sent in one
    /// write when it returns.
    batch: Batch,
    /// Sources to service next turn without waiting for an event: edge
    /// triggering sends no second edge for data we left unread.
    ready: Vec<Token>,
    /// Connections whose writes, flow control or close must be settled.
    dirty: Vec<Token>,
    /// Why each aborted connection is being closed.
    doomed: Vec<(Token, io::Error)>,
    /// Sources added while a callback ran, owed their `connection_made`
    /// (callbacks never nest: it runs as soon as that callback returns).
    made_owed: Vec<Token>,
    /// A callback is running (kept in debug builds, to check they never nest).
    in_callback: bool,
    /// Something waits in `dirty`, `made_owed` or a shutdown request: the
    /// one flag the end of every callback checks.
    pending: bool,
    /// `settle_all` is running (callbacks it runs must not start another).
    settling: bool,
    /// Stream sources (sockets and pipes) in the table.
    streams: usize,
    /// Socket connections, the number `max_connections` limits.
    sockets: usize,
    /// The listeners stopped at the connection limit.
    listeners_full: bool,
    shutdown: shutdown::State,
    handle: Arc<handle::Inner<S>>,
    /// A reusable list of tokens (to walk the table while changing it).
    token_list: Vec<Token>,
    /// `trace` logging is on (see [`Core::next_turn`]).
    tracing: bool,
    /// What the loop has done (`stats.rs`).
    counters: stats::Counters,
}

/// What the read path works with at once: the connection, the pool, the
/// clock and the batch (borrowed together from the core).
pub(crate) struct Reading<'a, S> {
    pub(crate) stream: &'a mut StreamSource<S>,
    pub(crate) pool: &'a mut Pool,
    pub(crate) clock: &'a Clock,
    pub(crate) batch: &'a mut Batch,
}

impl<S: 'static> Core<S> {
    pub(crate) fn new(
        registry: Registry,
        shared: S,
        config: Config,
        handle: Arc<handle::Inner<S>>,
    ) -> Self {
        let counters = stats::Counters::new(&config);
        Core {
            registry,
            table: table::Table::new(),
            shared,
            config,
            clock: Clock::new(),
            timers: Timers::default(),
            pool: Pool::default(),
            files: Files::default(),
            batch: Batch::new(),
            ready: Vec::new(),
            dirty: Vec::new(),
            doomed: Vec::new(),
            made_owed: Vec::new(),
            in_callback: false,
            pending: false,
            settling: false,
            streams: 0,
            sockets: 0,
            listeners_full: false,
            shutdown: shutdown::State::default(),
            handle,
            token_list: Vec::new(),
            tracing: false,
            counters,
        }
    }

    // ----- the loop's view --------------------------------------------------

    /// A new turn of the loop begins: the clock is read afresh when asked,
    /// and the log level once. (Also called from outside the loop, so that
    /// a timer set there counts from now.)
    #[inline]
    pub(crate) fn next_turn(&mut self) {
        self.clock.next_turn();
        self.tracing = log::log_enabled!(log::Level::Trace);
    }

    /// The loop's poll returned `events` events: the turn is counted and,
    /// with `Config::timing`, timed from here (that reading is the turn's
    /// time).
    #[inline]
    pub(crate) fn poll_returned(&mut self, events: usize) {
        self.next_turn();
        self.counters.turn(events);
        if self.config.timing {
            self.time_wake();
        }
    }

    /// Whether `trace` lines are wanted this turn (asked of the logger once
    /// per turn, not once per event).
    #[inline(always)]
    pub(crate) fn tracing(&self) -> bool {
        self.tracing
    }

    /// How long the poll may wait: zero while sources wait on the ready list
    /// or the reactor has stopped, else until the nearest timer, capped by
    /// `cap`.
    pub(crate) fn poll_timeout(&mut self, cap: Option<Duration>) -> Option<Duration> {
        match self.next_deadline() {
            Some(deadline) => {
                let until = deadline.saturating_duration_since(Instant::now());
                Some(cap.map_or(until, |t| t.min(until)))
            }
            None => cap,
        }
    }

    /// When the loop next has work without any event: now while sources
    /// wait on the ready list (or a shutdown finished), else the nearest
    /// timer's deadline; `None` when only an event can bring work.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        if !self.ready.is_empty() || self.shutdown.stopped {
            return Some(Instant::now());
        }
        self.timers.next_deadline()
    }

    /// The end of a turn: the ready list, due timers, whatever is left to
    /// settle, and whether a shutdown has finished.
    pub(crate) fn end_turn(&mut self, spare: &mut Vec<Token>, buf: &mut [u8]) {
        self.run_ready(spare, buf);
        self.fire_timers();
        self.settle_all();
        self.check_stopped();
        if self.config.timing {
            self.time_end();
        }
    }

    /// [`Core::end_turn`] with the due timers fired in the order `pick`
    /// chooses (see [`Core::fire_timers_in`]): the harness' fault simulation.
    pub(crate) fn end_turn_in(
        &mut self,
        spare: &mut Vec<Token>,
        buf: &mut [u8],
        pick: &mut dyn FnMut(usize) -> usize,
    ) {
        self.run_ready(spare, buf);
        self.fire_timers_in(pick);
        self.settle_all();
        self.check_stopped();
    }

    /// Services the sources that stopped short of `WouldBlock` last turn.
    pub(crate) fn run_ready(&mut self, spare: &mut Vec<Token>, buf: &mut [u8]) {
        if self.ready.is_empty() {
            return;
        }
        std::mem::swap(&mut self.ready, spare);
        for &token in spare.iter() {
            log::trace!("ready list: {}", show(token));
            crate::sources::dispatch(self, buf, token, crate::sources::Event::READABLE);
        }
        spare.clear();
    }

    // ----- the table ----------------------------------------------------------

    /// Registers `source` with the poller (the source registers itself) and
    /// stores it. A stream that cannot be polled goes on the ready list.
    pub(crate) fn insert(&mut self, mut source: Source<S>) -> io::Result<Token> {
        let token = self.table.next_token();
        let always_ready = source.register(&self.registry, token)?;
        if let Source::Stream(stream) = &mut source {
            self.streams += 1;
            if stream.transport.is_socket() {
                self.sockets += 1;
            }
            if always_ready {
                stream.transport.set(crate::transport::flag::ALWAYS_READY);
                self.ready.push(token);
            }
            if self.config.timing {
                // Where each read notes its time (see `stats.rs`).
                let now = self.clock.now();
                stream.transport.extra = Some(Box::new(crate::transport::Extra::new(now)));
            }
        }
        let since = self.clock.stamp();
        Ok(self.table.insert(source, since))
    }

    /// Takes a source out of the table and the poller (the source
    /// deregisters itself). Dropping what is returned closes it.
    pub(crate) fn remove(&mut self, token: Token) -> Option<Source<S>> {
        let mut source = self.table.remove(token)?;
        source.deregister(&self.registry);
        self.count_removed(&source);
        if let Source::Stream(stream) = &source {
            if stream.transport.has(crate::transport::flag::FILE) {
                self.files.remove(token);
            }
            self.streams -= 1;
            if stream.transport.is_socket() {
                self.sockets -= 1;
                if self.listeners_full {
                    // A slot is free: the listeners may accept again. They
                    // stopped short of WouldBlock, so no edge will tell them.
                    self.listeners_full = false;
                    self.wake_listeners();
                }
            }
        }
        Some(source)
    }

    #[inline(always)]
    pub(crate) fn source(&self, token: Token) -> Option<&Source<S>> {
        self.table.get(token)
    }

    /// Registers the signals' pipe `token` again (see `SignalSource::rearm`).
    #[cfg(mio_unsupported_force_poll_poll)]
    pub(crate) fn rearm_signals(&mut self, token: Token) {
        if let Some(Source::Signals(s)) = self.table.get_mut(token) {
            if let Err(e) = s.rearm(&self.registry, token) {
                warn!("{}: signals not watched any more: {e}", show(token));
            }
        }
    }

    #[inline(always)]
    pub(crate) fn source_mut(&mut self, token: Token) -> Option<&mut Source<S>> {
        self.table.get_mut(token)
    }

    #[inline(always)]
    pub(crate) fn stream(&self, token: Token) -> Option<&StreamSource<S>> {
        match self.table.get(token) {
            Some(Source::Stream(s)) => Some(s),
            _ => None,
        }
    }

    #[inline(always)]
    pub(crate) fn stream_mut(&mut self, token: Token) -> Option<&mut StreamSource<S>> {
        match self.table.get_mut(token) {
            Some(Source::Stream(s)) => Some(s),
            _ => None,
        }
    }

    /// The stream `token` with the pool, the clock and the batch, for the
    /// read path.
    #[inline(always)]
    pub(crate) fn reading(&mut self, token: Token) -> Option<Reading<'_, S>> {
        match self.table.get_mut(token) {
            Some(Source::Stream(stream)) => Some(Reading {
                stream,
                pool: &mut self.pool,
                clock: &self.clock,
                batch: &mut self.batch,
            }),
            _ => None,
        }
    }

    /// The tokens of every source, into a reusable list (give it back with
    /// [`Core::put_token_list`]).
    pub(crate) fn token_list(&mut self, keep: impl Fn(&Source<S>) -> bool) -> Vec<Token> {
        let mut tokens = std::mem::take(&mut self.token_list);
        tokens.clear();
        tokens.extend(
            self.table
                .iter()
                .filter(|(_, s)| keep(s))
                .map(|(token, _)| token),
        );
        tokens
    }

    pub(crate) fn put_token_list(&mut self, tokens: Vec<Token>) {
        self.token_list = tokens;
    }

    /// Tokens of the open socket connections: established, no close begun.
    pub(crate) fn open_connections(&self) -> impl Iterator<Item = Token> + '_ {
        self.table
            .iter()
            .filter_map(|(token, source)| match source {
                Source::Stream(s) if s.transport.is_socket() && s.is_open() => Some(token),
                _ => None,
            })
    }

    /// Whether another connection may be accepted; warns once when not.
    pub(crate) fn connection_limit_reached(&mut self) -> bool {
        if self.sockets >= self.config.max_connections {
            if !self.listeners_full {
                warn!(
                    "connection limit of {} reached: not accepting until one closes",
                    self.config.max_connections
                );
            }
            self.listeners_full = true;
        }
        self.listeners_full
    }

    fn wake_listeners(&mut self) {
        let listeners = self.token_list(|s| matches!(s, Source::Listener(_)));
        self.ready.extend_from_slice(&listeners);
        self.put_token_list(listeners);
    }

    /// Open socket connections (what `Config::max_connections` counts).
    pub(crate) fn socket_count(&self) -> usize {
        self.sockets
    }

    // ----- small shared pieces --------------------------------------------------

    /// Services `token` next turn without waiting for an event.
    #[inline]
    pub(crate) fn push_ready(&mut self, token: Token) {
        self.ready.push(token);
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn clock_mut(&mut self) -> &mut Clock {
        &mut self.clock
    }

    /// The time of this turn of the loop.
    #[inline]
    pub(crate) fn now(&self) -> Instant {
        self.clock.now()
    }

    pub(crate) fn shared(&mut self) -> &mut S {
        &mut self.shared
    }

    pub(crate) fn shared_ref(&self) -> &S {
        &self.shared
    }

    pub(crate) fn pool(&mut self) -> &mut Pool {
        &mut self.pool
    }

    pub(crate) fn handle(&self) -> &Arc<handle::Inner<S>> {
        &self.handle
    }

    /// A short description for logs: `#3 (127.0.0.1:5555)`.
    pub(crate) fn describe(&self, token: Token) -> String {
        match self.stream(token).map(|s| s.transport.stream.peer_addr()) {
            Some(Ok(peer)) => format!("{} ({peer})", show(token)),
            _ => show(token),
        }
    }
}
