//! From readiness to callbacks: what the reactor does for each kind of
//! source when the poller says it is readable or writable, and when a timer
//! or a cross-thread request comes due.
//!
//! Every handler here works edge-triggered: it reads, accepts or writes until
//! the kernel says `WouldBlock`, or, when it stops early (a budget spent so
//! others get their turn, reading paused), it puts the source on the ready
//! list, because no second edge will come for what it left behind.

use std::io;
use std::mem;
use std::time::Instant;

use log::{debug, error, info, trace, warn};
use mio::Token;

use crate::conn::{Stream, flag};
use crate::core::{Core, Entry, NO_TOKEN, Source, TimerKind, conn_in, entry_in, now_of, show};
use crate::listener;
use crate::protocol::Protocol;
use crate::sys::Io;

/// Datagrams received from one socket per turn before others get their turn.
const DATAGRAM_BUDGET: usize = 256;

impl<S: 'static> Core<S> {
    /// Handles one readiness event.
    #[inline]
    pub(crate) fn dispatch(&mut self, token: Token, readable: bool, writable: bool, closed: bool) {
        if closed || !self.on_busy_connection(token, readable, writable) {
            self.dispatch_other(token, readable, writable, closed);
        }
    }

    /// The event of a busy connection: data arrived (the poller reports the
    /// socket writable too) and nothing waits to be written. One slab lookup,
    /// one read into the shared buffer, the protocol's callback, one write.
    /// Returns false, having done nothing, for any other kind of event.
    #[inline]
    fn on_busy_connection(&mut self, token: Token, readable: bool, writable: bool) -> bool {
        let Some(conn) = conn_in(&mut self.entries, token) else {
            return false;
        };
        if !conn.output.is_empty() || conn.has(flag::CONNECTING) {
            return false;
        }
        if writable {
            conn.clear(flag::WRITE_BLOCKED);
        }
        if !readable {
            return true;
        }
        // Anything unusual (leftover input, a flag that changes how to read)
        // goes through the general read loop.
        const UNUSUAL: u16 =
            flag::LINGERING | flag::REDELIVER | flag::ALWAYS_READY | flag::HUP | flag::NOT_READING;
        if conn.has(UNUSUAL) || !conn.input.is_empty() {
            self.read_stream(token);
            return true;
        }
        match conn.stream.recv(&mut self.scratch_in) {
            Io::Done(n) if n > 0 => {
                trace!("{} read {n} bytes", show(token));
                if let Some(extra) = conn.extra.as_mut() {
                    extra.last_active = now_of(&self.now);
                }
                let protocol = conn.protocol.take();
                // Nothing queued, no close or half-close asked for: the
                // callback about to run may batch its writes unchecked
                // (`invoke_with` disarms when it returns).
                if protocol.is_some() && !conn.has(flag::REFUSES_OUTPUT | flag::DIRTY) {
                    self.batch.arm(token);
                }
                self.deliver_scratch(token, protocol, n);
                self.settle_all();
                // A full buffer: more may be waiting. A short read drained it.
                if n == self.scratch_in.len() {
                    self.read_stream(token);
                }
            }
            Io::WouldBlock => {}
            Io::Done(_) => self.on_eof(token),
            Io::Failed(e) => self.on_read_error(token, e),
        }
        true
    }

    /// The peer sent EOF: no more reading; the protocol decides what follows.
    #[cold]
    fn on_eof(&mut self, token: Token) {
        trace!("{} read EOF", show(token));
        if let Some(conn) = conn_in(&mut self.entries, token) {
            conn.set(flag::EOF);
            conn.input.release(&mut self.pool);
        }
        self.invoke(token, |p, ctx| p.eof_received(ctx));
        self.settle_all();
    }

    /// A read failed (a reset, say): the connection is closed with that error.
    #[cold]
    fn on_read_error(&mut self, token: Token, e: io::Error) {
        debug!("{}: read error: {e}", self.describe(token));
        self.abort(token, e);
        self.settle_all();
    }

    #[inline(never)]
    fn dispatch_other(&mut self, token: Token, readable: bool, writable: bool, closed: bool) {
        match self.entry(token).map(|e| &e.source) {
            Some(Source::Conn(_)) => {
                if closed {
                    self.on_hang_up(token);
                }
                self.on_stream(token, readable || closed, writable || closed)
            }
            Some(Source::Listener(_)) => self.on_listener(token),
            Some(Source::Datagram(_)) => self.on_datagram(token, readable, writable),
            Some(Source::Signals(_)) => self.on_signals(token),
            // A stale event for a source closed earlier in this turn: the
            // generation in the token no longer matches, so it is dropped here.
            None => trace!("stale event for {}", show(token)),
        }
    }

    /// Services the sources that stopped short of `WouldBlock` last turn.
    pub(crate) fn run_ready(&mut self, spare: &mut Vec<Token>) {
        if self.ready.is_empty() {
            return;
        }
        mem::swap(&mut self.ready, spare);
        for &token in spare.iter() {
            trace!("ready list: {}", show(token));
            self.dispatch(token, true, false, false);
        }
        spare.clear();
    }

    /// The poller reported a hang-up or an error along with (or instead of)
    /// readability. Remember it, because a short read no longer proves the
    /// socket drained: the EOF may be right behind the data. A reset is
    /// fatal even while reading is paused, else a paused connection would
    /// never learn that its peer is gone.
    fn on_hang_up(&mut self, token: Token) {
        let Some(conn) = self.conn_mut(token) else {
            return;
        };
        conn.set(flag::HUP);
        if conn.has(flag::CONNECTING) {
            // finish_connect reads the socket error itself (reading it clears it).
            return;
        }
        let error = match &conn.stream {
            Stream::Tcp(s) => s.take_error().ok().flatten(),
            Stream::Unix(s) => s.take_error().ok().flatten(),
            _ => None,
        };
        if let Some(e) = error {
            debug!("{}: {e}", self.describe(token));
            self.abort(token, e);
            self.settle_all();
        }
    }

    fn on_stream(&mut self, token: Token, readable: bool, writable: bool) {
        if writable {
            let Some(conn) = self.conn_mut(token) else {
                return;
            };
            if conn.has(flag::CONNECTING) {
                self.finish_connect(token);
            } else {
                conn.clear(flag::WRITE_BLOCKED);
                if !conn.output.is_empty() {
                    self.mark_dirty(token);
                    self.settle_all();
                }
            }
        }
        if readable {
            self.read_stream(token);
        }
    }

    /// Reads until `WouldBlock` (or a short read, which means the same for a
    /// stream and saves the extra `read` that would only say so), handing
    /// each chunk to the protocol. The general loop: leftovers, budgets,
    /// hang-ups, EOF and errors (the common case has its own short path,
    /// [`Core::on_busy_connection`]).
    #[inline(never)]
    pub(crate) fn read_stream(&mut self, token: Token) {
        let mut budget = self.config.read_budget;
        loop {
            let Some(conn) = conn_in(&mut self.entries, token) else {
                return;
            };
            if conn.has(flag::LINGERING | flag::REDELIVER) {
                if conn.has(flag::LINGERING) {
                    return self.drain_lingering(token);
                }
                conn.clear(flag::REDELIVER);
                if !conn.input.is_empty() {
                    self.deliver(token);
                    self.settle_all();
                    continue;
                }
            }
            if !conn.wants_read() {
                return;
            }
            if budget == 0 {
                self.ready.push(token);
                return;
            }
            // A short read means "drained" only when no hang-up is pending.
            let read_to_end = conn.has(flag::ALWAYS_READY | flag::HUP);
            // With no leftover input the connection reads into the shared
            // buffer and needs no buffer of its own.
            let from_scratch = conn.input.is_empty();
            let mut room = self.scratch_in.len();
            let outcome = if from_scratch {
                conn.stream.recv(&mut self.scratch_in)
            } else {
                match conn.input.read_from(&mut self.pool, &mut conn.stream) {
                    Ok((n, r)) => {
                        room = r;
                        Io::Done(n)
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Io::WouldBlock,
                    Err(e) => Io::Failed(e),
                }
            };
            match outcome {
                Io::Done(0) => return self.on_eof(token),
                Io::Done(n) => {
                    trace!("{} read {n} bytes", show(token));
                    if let Some(extra) = conn.extra.as_mut() {
                        extra.last_active = now_of(&self.now);
                    }
                    budget = budget.saturating_sub(n);
                    if from_scratch {
                        let protocol = conn.protocol.take();
                        self.deliver_scratch(token, protocol, n);
                    } else {
                        self.deliver(token);
                    }
                    self.settle_all();
                    if n < room && !read_to_end {
                        return;
                    }
                }
                Io::WouldBlock => return,
                Io::Failed(e) => return self.on_read_error(token, e),
            }
        }
    }

    /// Hands `n` bytes in the shared read buffer to `protocol` (already taken
    /// out of the connection); what it leaves unconsumed is kept in the
    /// connection's own buffer.
    #[inline(always)]
    fn deliver_scratch(&mut self, token: Token, protocol: Option<Box<dyn Protocol<S>>>, n: usize) {
        // No protocol: the connection is being closed; the bytes are dropped.
        let Some(protocol) = protocol else {
            return;
        };
        let scratch = mem::take(&mut self.scratch_in);
        let data = &scratch[..n];
        let used = self
            .invoke_with(token, protocol, data, |p, ctx| p.data_received(ctx, data))
            .unwrap_or(n);
        if used < n {
            if let Some(conn) = conn_in(&mut self.entries, token) {
                if !conn.has(flag::ABORT) {
                    conn.input.extend(&mut self.pool, &scratch[used..n]);
                }
            }
            self.check_max_input(token);
        }
        self.scratch_in = scratch;
    }

    /// Hands the connection's buffered input to the protocol again (after
    /// more arrived, or reading resumed), keeping what it leaves unconsumed.
    pub(crate) fn deliver(&mut self, token: Token) {
        let Some(conn) = self.conn_mut(token) else {
            return;
        };
        let mut input = mem::take(&mut conn.input);
        let used = match conn.protocol.take() {
            Some(protocol) => {
                let data = input.as_slice();
                self.invoke_with(token, protocol, data, |p, ctx| p.data_received(ctx, data))
            }
            None => None,
        };
        input.consume(used.unwrap_or(usize::MAX));
        match self.conn_mut(token) {
            Some(conn) => conn.input = input,
            None => input.consume(usize::MAX),
        }
        if let Some(conn) = conn_in(&mut self.entries, token) {
            conn.input.release(&mut self.pool);
        }
        self.check_max_input(token);
    }

    /// A peer whose unconsumed input passed `max_input` is cut off.
    fn check_max_input(&mut self, token: Token) {
        let max_input = self.config.max_input;
        if let Some(conn) = self.conn_mut(token) {
            if conn.input.len() > max_input {
                let e = io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("more than {max_input} bytes of unconsumed input"),
                );
                warn!("{}: {e}; closing it", self.describe(token));
                self.abort(token, e);
            }
        }
    }

    /// An outgoing connection became writable (or failed): find out which.
    fn finish_connect(&mut self, token: Token) {
        let Some(conn) = self.conn_mut(token) else {
            return;
        };
        let outcome = match &conn.stream {
            Stream::Tcp(s) => s
                .take_error()
                .and_then(|e| e.map_or_else(|| s.peer_addr().map(drop), Err)),
            Stream::Unix(s) => s
                .take_error()
                .and_then(|e| e.map_or_else(|| s.peer_addr().map(drop), Err)),
            _ => Ok(()),
        };
        match outcome {
            Ok(()) => {
                conn.clear(flag::CONNECTING);
                conn.set(flag::MADE);
                debug!("{} connected", self.describe(token));
                self.invoke(token, |p, ctx| p.connection_made(ctx));
                self.settle_all();
            }
            // Spurious wake-up: still connecting.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
            Err(e) => {
                debug!("{}: connect failed: {e}", show(token));
                if let Some(Source::Conn(mut conn)) = self.remove(token) {
                    if let Some(mut protocol) = conn.protocol.take() {
                        self.run_guarded(token, "connection_failed", |ctx| {
                            protocol.connection_failed(ctx, e)
                        });
                    }
                }
                self.settle_all();
            }
        }
    }

    /// Accepts until `WouldBlock`, the per-turn budget, the connection limit,
    /// or fd exhaustion, which backs off on a timer instead of spinning.
    fn on_listener(&mut self, token: Token) {
        let delay = self.config.accept_backoff;
        for _ in 0..self.config.accept_budget {
            if self.shutdown_deadline.is_some() || self.connection_limit_reached() {
                return;
            }
            let Some(Entry {
                source: Source::Listener(l),
                ..
            }) = self.entry_mut(token)
            else {
                return;
            };
            if l.backing_off {
                return;
            }
            match l.acceptor.accept() {
                Ok((stream, addr)) => {
                    if let Some(filter) = l.filter.as_mut() {
                        if !filter(&addr) {
                            info!("refused connection from {addr} (accept filter)");
                            continue;
                        }
                    }
                    let protocol = (l.factory)();
                    match self.add_stream(stream, protocol, false) {
                        Ok(conn) => info!("accepted {addr} as {}", show(conn)),
                        Err(e) => error!("cannot register connection from {addr}: {e}"),
                    }
                    self.settle_all();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(e) => {
                    // EMFILE and friends leave the connection in the backlog, so
                    // accepting again at once would spin. Keep serving the
                    // connections we have and retry after a pause.
                    if listener::is_resource_exhaustion(&e) {
                        warn!("accept failed: {e}; retrying in {delay:?}");
                    } else {
                        error!("accept failed: {e}; retrying in {delay:?}");
                    }
                    l.backing_off = true;
                    self.add_timer(delay, None, TimerKind::AcceptRetry(token));
                    return;
                }
            }
        }
        self.ready.push(token);
    }

    fn on_datagram(&mut self, token: Token, readable: bool, writable: bool) {
        if writable {
            if let Some(Entry {
                source: Source::Datagram(d),
                ..
            }) = self.entry_mut(token)
            {
                if let Err(e) = d.flush() {
                    self.invoke_datagram(token, |p, ctx| p.error_received(ctx, e));
                }
            }
        }
        if !readable {
            return;
        }
        for _ in 0..DATAGRAM_BUDGET {
            let Some(Entry {
                source: Source::Datagram(d),
                ..
            }) = entry_in(&mut self.entries, token)
            else {
                return;
            };
            match d.socket.recv_from(&mut self.scratch_in) {
                Ok((n, from)) => {
                    trace!("{} received a {n}-byte datagram from {from}", show(token));
                    let scratch = mem::take(&mut self.scratch_in);
                    self.invoke_datagram(token, |p, ctx| {
                        p.datagram_received(ctx, &scratch[..n], &from)
                    });
                    self.scratch_in = scratch;
                    self.settle_all();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.invoke_datagram(token, |p, ctx| p.error_received(ctx, e));
                    self.settle_all();
                }
            }
        }
        self.ready.push(token);
    }

    fn on_signals(&mut self, token: Token) {
        let Some(Entry {
            source: Source::Signals(s),
            ..
        }) = self.entry_mut(token)
        else {
            return;
        };
        let pending: Vec<i32> = s.signals.pending().collect();
        for signal in pending {
            let Some(Entry {
                source: Source::Signals(s),
                ..
            }) = self.entry_mut(token)
            else {
                return;
            };
            let Some(mut handler) = s.handler.take() else {
                return;
            };
            debug!("signal {signal}");
            self.run_guarded(token, "signal handler", |ctx| handler(ctx, signal));
            if let Some(Entry {
                source: Source::Signals(s),
                ..
            }) = self.entry_mut(token)
            {
                s.handler = Some(handler);
            }
            self.settle_all();
        }
    }

    /// Fires every timer that is due.
    pub(crate) fn fire_timers(&mut self) {
        // No timers, no clock read: the common turn of a busy server.
        if self.timers.next_deadline().is_none() {
            return;
        }
        let now = Instant::now();
        while let Some((id, what)) = self.timers.pop_due(now) {
            match what {
                TimerKind::Call(token, f) => self.run_guarded(token, "timer callback", f),
                TimerKind::Every(token, mut f) => {
                    self.run_guarded(token, "periodic timer callback", &mut f);
                    self.timers.restore(id, TimerKind::Every(token, f), now);
                }
                TimerKind::Protocol(token, user_id) => {
                    // Only between connection_made and connection_lost, as the trait promises.
                    if self.conn(token).is_some_and(|c| c.has(flag::MADE)) {
                        self.invoke(token, |p, ctx| p.timer_fired(ctx, user_id));
                    }
                }
                TimerKind::Idle(token) => self.check_idle(token),
                TimerKind::AcceptRetry(token) => {
                    if let Some(Entry {
                        source: Source::Listener(l),
                        ..
                    }) = self.entry_mut(token)
                    {
                        l.backing_off = false;
                        self.on_listener(token);
                    }
                }
                TimerKind::Linger(token) => {
                    if self.conn(token).is_some_and(|c| c.has(flag::LINGERING)) {
                        self.remove(token);
                    }
                }
                TimerKind::ShutdownDeadline => self.force_stop(),
            }
            self.settle_all();
        }
    }

    /// The waker fired: run posted closures and honour a shutdown request.
    pub(crate) fn on_wake(&mut self) {
        let mut posted = Vec::new();
        self.handle.take_posted(&mut posted);
        for f in posted {
            self.run_guarded(NO_TOKEN, "posted closure", f);
            self.settle_all();
        }
        if self.handle.shutdown_requested() {
            self.begin_shutdown();
        }
    }
}
