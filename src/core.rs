//! The reactor's state apart from the poller: the slab of sources, timers,
//! buffers, and the one path every write and every close goes through.
//!
//! Protocol callbacks get a [`Ctx`] that borrows this whole struct, which is
//! how a chat room's callback can write to every other connection: while a
//! callback runs, its own protocol is *lent out* of the slab (see
//! [`Core::invoke`]), so the borrow checker sees the protocol and the
//! transports apart.
//!
//! Nothing a callback asks for is done behind its back: closes and flow
//! control are only *marked* during the callback and carried out by
//! [`Core::settle_all`] once no protocol is lent out.

use std::any::Any;
use std::cell::Cell;
use std::io;
use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, error, info, warn};
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use slab::Slab;

use crate::batch::Batch;
use crate::buffer::Pool;
use crate::config::Config;
use crate::conn::{Conn, Extra, Stream, flag};
use crate::context::Ctx;
use crate::datagram::Datagram;
use crate::handle;
use crate::listener::Listener;
use crate::protocol::{DatagramProtocol, Protocol};
use crate::signals::SignalSource;
use crate::sys::Io;
use crate::timer::{TimerId, Timers};

/// Size of the shared read buffer: one read of up to this much per call, and
/// the largest datagram received whole.
const SCRATCH: usize = 64 * 1024;

/// A callback's own writes are batched (copied) up to this size; a larger
/// write is sent at once with the batch before it, since copying it would
/// cost more than the system call it saves.
const WRITE_THROUGH: usize = 8 * 1024;

/// The slab key lives in the low half of a token, a generation in the high
/// half, so that an event still in flight for a closed connection never
/// reaches the connection that reuses its slot.
const SLOT_BITS: u32 = usize::BITS / 2;
const SLOT_MASK: usize = (1 << SLOT_BITS) - 1;
const GEN_MASK: u64 = (usize::MAX >> SLOT_BITS) as u64;

/// The token of the cross-thread waker: a slot number the slab never reaches.
pub(crate) const WAKER: Token = Token(usize::MAX);
/// The token callbacks see when they do not belong to any source (reactor
/// timers, posted closures).
pub(crate) const NO_TOKEN: Token = Token(usize::MAX - 1);

pub(crate) fn token_of(slot: usize, generation: u32) -> Token {
    Token(slot | ((generation as usize) << SLOT_BITS))
}

/// The entry for `token`, borrowing only the slab (so other fields of the
/// core stay usable).
pub(crate) fn entry_in<S>(entries: &mut Slab<Entry<S>>, token: Token) -> Option<&mut Entry<S>> {
    let (slot, generation) = split(token);
    entries.get_mut(slot).filter(|e| e.generation == generation)
}

fn split(token: Token) -> (usize, u32) {
    (token.0 & SLOT_MASK, (token.0 >> SLOT_BITS) as u32)
}

/// A token as logs show it: `#slot` (the generation only matters to the reactor).
pub(crate) fn show(token: Token) -> String {
    format!("#{}", split(token).0)
}

/// Everything that can sit in the slab.
pub(crate) enum Source<S> {
    Conn(Conn<S>),
    Listener(Box<Listener<S>>),
    Datagram(Box<Datagram<S>>),
    Signals(Box<SignalSource<S>>),
}

pub(crate) struct Entry<S> {
    pub(crate) generation: u32,
    pub(crate) source: Source<S>,
}

/// A one-shot reactor callback.
pub(crate) type Callback<S> = Box<dyn FnOnce(&mut Ctx<'_, S>)>;
/// A periodic reactor callback.
pub(crate) type Repeating<S> = Box<dyn FnMut(&mut Ctx<'_, S>)>;

/// What a timer does when it fires.
pub(crate) enum TimerKind<S> {
    Call(Token, Callback<S>),
    Every(Token, Repeating<S>),
    Protocol(Token, u64),
    Idle(Token),
    AcceptRetry(Token),
    Linger(Token),
    ShutdownDeadline,
}

pub(crate) struct Core<S> {
    pub(crate) registry: Registry,
    pub(crate) entries: Slab<Entry<S>>,
    next_generation: u64,
    pub(crate) shared: S,
    pub(crate) config: Config,
    pub(crate) timers: Timers<TimerKind<S>>,
    pub(crate) pool: Pool,
    /// Shared read buffer: a connection with no leftover input reads here,
    /// so it needs no buffer of its own.
    pub(crate) scratch_in: Box<[u8]>,
    /// What the running callback wrote to its own connection, sent in one
    /// write when the callback returns.
    pub(crate) batch: Batch,
    /// Connections whose writes, flow control or close must be settled.
    dirty: Vec<Token>,
    /// Sources to service next turn without waiting for an event: edge
    /// triggering sends no second edge for data we left unread.
    pub(crate) ready: Vec<Token>,
    /// Why each aborted connection is being closed.
    doomed: Vec<(Token, io::Error)>,
    pub(crate) tokens: Vec<Token>,
    /// Stream connections (sockets and pipes) in the slab.
    pub(crate) conns: usize,
    /// Socket connections, the number `max_connections` limits.
    pub(crate) sockets: usize,
    listeners_full: bool,
    pub(crate) shutdown_deadline: Option<Instant>,
    /// A callback asked for shutdown; `settle_all` starts it.
    shutdown_requested: bool,
    pub(crate) stopped: bool,
    /// The time of this turn, read from the clock the first time someone
    /// asks (a turn that needs no time makes no clock call).
    pub(crate) now: Cell<Option<Instant>>,
    pub(crate) handle: Arc<handle::Inner<S>>,
}

/// The turn's time from its cell, reading the clock only the first time in a
/// turn. A free function so it can be called while the slab is borrowed.
pub(crate) fn now_of(cell: &Cell<Option<Instant>>) -> Instant {
    match cell.get() {
        Some(now) => now,
        None => {
            let now = Instant::now();
            cell.set(Some(now));
            now
        }
    }
}

pub(crate) fn conn_in<S>(entries: &mut Slab<Entry<S>>, token: Token) -> Option<&mut Conn<S>> {
    let (slot, generation) = split(token);
    match entries.get_mut(slot) {
        Some(Entry {
            generation: g,
            source: Source::Conn(conn),
        }) if *g == generation => Some(conn),
        _ => None,
    }
}

impl<S: 'static> Core<S> {
    pub(crate) fn new(
        registry: Registry,
        shared: S,
        config: Config,
        handle: Arc<handle::Inner<S>>,
    ) -> Self {
        Core {
            registry,
            entries: Slab::new(),
            next_generation: 0,
            shared,
            config,
            timers: Timers::default(),
            pool: Pool::default(),
            scratch_in: vec![0; SCRATCH].into_boxed_slice(),
            batch: Batch::new(),
            dirty: Vec::new(),
            ready: Vec::new(),
            doomed: Vec::new(),
            tokens: Vec::new(),
            conns: 0,
            sockets: 0,
            listeners_full: false,
            shutdown_deadline: None,
            shutdown_requested: false,
            stopped: false,
            now: Cell::new(None),
            handle,
        }
    }

    /// The time of this turn of the loop (see [`now_of`]).
    pub(crate) fn now(&self) -> Instant {
        now_of(&self.now)
    }

    // ----- the slab -------------------------------------------------------

    pub(crate) fn entry_mut(&mut self, token: Token) -> Option<&mut Entry<S>> {
        let (slot, generation) = split(token);
        self.entries
            .get_mut(slot)
            .filter(|e| e.generation == generation)
    }

    pub(crate) fn entry(&self, token: Token) -> Option<&Entry<S>> {
        let (slot, generation) = split(token);
        self.entries
            .get(slot)
            .filter(|e| e.generation == generation)
    }

    pub(crate) fn conn_mut(&mut self, token: Token) -> Option<&mut Conn<S>> {
        conn_in(&mut self.entries, token)
    }

    pub(crate) fn conn(&self, token: Token) -> Option<&Conn<S>> {
        match self.entry(token) {
            Some(Entry {
                source: Source::Conn(conn),
                ..
            }) => Some(conn),
            _ => None,
        }
    }

    /// Registers `source` with the poller and stores it. A stream connection
    /// is registered once, edge-triggered, for both directions, and never
    /// re-registered: what it writes goes out at once, and only the edges
    /// tell us when the socket takes more.
    pub(crate) fn insert(&mut self, mut source: Source<S>) -> io::Result<Token> {
        let vacant = self.entries.vacant_entry();
        let generation = (self.next_generation & GEN_MASK) as u32;
        self.next_generation += 1;
        let token = token_of(vacant.key(), generation);
        let both = Interest::READABLE | Interest::WRITABLE;
        let registry = &self.registry;
        let result = match &mut source {
            Source::Conn(conn) => match &mut conn.stream {
                Stream::Tcp(s) => registry.register(s, token, both),
                Stream::Unix(s) => registry.register(s, token, both),
                Stream::Fd(f) => match registry.register(&mut SourceFd(&f.raw_fd()), token, both) {
                    // epoll refuses regular files and /dev/null: they are always
                    // ready, so read them without waiting for an event.
                    Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                        conn.set(flag::ALWAYS_READY);
                        self.ready.push(token);
                        Ok(())
                    }
                    other => other,
                },
                Stream::Memory(_) => Ok(()),
            },
            Source::Listener(l) => match &mut l.acceptor {
                crate::listener::Acceptor::Tcp(a) => {
                    registry.register(a, token, Interest::READABLE)
                }
                crate::listener::Acceptor::Unix(a, _) => {
                    registry.register(a, token, Interest::READABLE)
                }
            },
            Source::Datagram(d) => match &mut d.socket {
                crate::datagram::DgramSocket::Udp(s) => registry.register(s, token, both),
                crate::datagram::DgramSocket::Unix(s, _) => registry.register(s, token, both),
            },
            Source::Signals(s) => registry.register(&mut s.signals, token, Interest::READABLE),
        };
        result?;
        if let Source::Conn(conn) = &source {
            self.conns += 1;
            if conn.stream.is_socket() {
                self.sockets += 1;
            }
        }
        vacant.insert(Entry { generation, source });
        Ok(token)
    }

    /// Takes a source out of the slab and the poller. Dropping what is
    /// returned closes it.
    pub(crate) fn remove(&mut self, token: Token) -> Option<Source<S>> {
        self.entry(token)?;
        let entry = self.entries.remove(split(token).0);
        let registry = &self.registry;
        let mut source = entry.source;
        // Deregister before the fd is closed, as mio asks; errors only mean it
        // was never registered (a pipe epoll refused, the harness's memory stream).
        let _ = match &mut source {
            Source::Conn(conn) => {
                let polled = !conn.has(flag::ALWAYS_READY);
                match &mut conn.stream {
                    Stream::Tcp(s) => registry.deregister(s),
                    Stream::Unix(s) => registry.deregister(s),
                    Stream::Fd(f) if polled => registry.deregister(&mut SourceFd(&f.raw_fd())),
                    Stream::Fd(_) | Stream::Memory(_) => Ok(()),
                }
            }
            Source::Listener(l) => match &mut l.acceptor {
                crate::listener::Acceptor::Tcp(a) => registry.deregister(a),
                crate::listener::Acceptor::Unix(a, _) => registry.deregister(a),
            },
            Source::Datagram(d) => match &mut d.socket {
                crate::datagram::DgramSocket::Udp(s) => registry.deregister(s),
                crate::datagram::DgramSocket::Unix(s, _) => registry.deregister(s),
            },
            Source::Signals(s) => registry.deregister(&mut s.signals),
        };
        if let Source::Conn(conn) = &source {
            self.conns -= 1;
            if conn.stream.is_socket() {
                self.sockets -= 1;
                if self.listeners_full {
                    // A slot is free: the listeners may accept again. They stopped
                    // short of WouldBlock, so no edge will tell them.
                    self.listeners_full = false;
                    self.wake_listeners();
                }
            }
        }
        Some(source)
    }

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
        for (slot, entry) in &self.entries {
            if let Source::Listener(_) = entry.source {
                self.ready.push(token_of(slot, entry.generation));
            }
        }
    }

    /// Tokens of the live, established socket connections.
    pub(crate) fn live_connections(&self) -> impl Iterator<Item = Token> + '_ {
        self.entries
            .iter()
            .filter_map(|(slot, entry)| match &entry.source {
                Source::Conn(c)
                    if c.stream.is_socket()
                        && c.has(flag::MADE)
                        && !c.has(flag::CLOSING | flag::ABORT | flag::LINGERING) =>
                {
                    Some(token_of(slot, entry.generation))
                }
                _ => None,
            })
    }

    // ----- callbacks ------------------------------------------------------

    /// Lends the connection's protocol to `f` together with a context for
    /// `token`, puts it back, and sends what the callback wrote to its own
    /// connection in one write. A panic is caught here: it costs only this
    /// connection, which is aborted and logged with its peer address.
    pub(crate) fn invoke<R>(
        &mut self,
        token: Token,
        f: impl FnOnce(&mut dyn Protocol<S>, &mut Ctx<'_, S>) -> R,
    ) -> Option<R> {
        let protocol = self.conn_mut(token)?.protocol.take()?;
        self.invoke_with(token, protocol, &[], f)
    }

    /// [`Core::invoke`] with the protocol already taken out of the
    /// connection (the read path has the connection at hand and saves a
    /// lookup). Putting the protocol back and sending the callback's writes
    /// share one lookup too. `input` is what the callback reads (empty for
    /// callbacks other than `data_received`): writes of part of it are sent
    /// from it, uncopied (see `batch.rs`).
    #[inline]
    pub(crate) fn invoke_with<R>(
        &mut self,
        token: Token,
        mut protocol: Box<dyn Protocol<S>>,
        input: &[u8],
        f: impl FnOnce(&mut dyn Protocol<S>, &mut Ctx<'_, S>) -> R,
    ) -> Option<R> {
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            let mut ctx = Ctx::new(self, token, input);
            f(&mut *protocol, &mut ctx)
        }));
        // The batch is for this connection or empty: a callback batches only
        // its own writes. If the connection is gone, what it wrote is dropped.
        let batch = self.batch.take(input);
        if let Some(conn) = conn_in(&mut self.entries, token) {
            // The slot was emptied when the protocol was lent out; nothing
            // there to drop.
            mem::forget(conn.protocol.replace(protocol));
            if let Some((owner, bytes)) = batch {
                debug_assert_eq!(owner, token, "a callback batches only its own writes");
                let result = send_or_queue(conn, &mut self.pool, bytes);
                // Only what the callback asked for needs settling (a close, a
                // backlog): those mark the connection dirty, so the common
                // case of a write that went out whole costs no settle at all.
                let backlog = !conn.output.is_empty();
                self.after_send(token, result, backlog);
            }
        }
        match result {
            Ok(r) => Some(r),
            Err(payload) => {
                self.callback_panicked(token, &*payload);
                None
            }
        }
    }

    #[cold]
    fn callback_panicked(&mut self, token: Token, payload: &(dyn Any + Send)) {
        let peer = self.conn(token).and_then(|c| c.stream.peer_addr().ok());
        let peer = peer.map_or_else(|| show(token), |p| p.to_string());
        error!(
            "protocol callback panicked for {peer}: {}; closing that connection",
            panic_message(payload)
        );
        self.abort(token, io::Error::other("protocol callback panicked"));
    }

    /// Like [`Core::invoke`] for a datagram socket's protocol.
    pub(crate) fn invoke_datagram<R>(
        &mut self,
        token: Token,
        f: impl FnOnce(&mut dyn DatagramProtocol<S>, &mut Ctx<'_, S>) -> R,
    ) -> Option<R> {
        let mut protocol = match self.entry_mut(token) {
            Some(Entry {
                source: Source::Datagram(d),
                ..
            }) => d.protocol.take()?,
            _ => return None,
        };
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            f(&mut *protocol, &mut Ctx::new(self, token, &[]))
        }));
        if let Some(Entry {
            source: Source::Datagram(d),
            ..
        }) = self.entry_mut(token)
        {
            d.protocol = Some(protocol);
        }
        self.flush_batch();
        result
            .map_err(|payload| error!("datagram callback panicked: {}", panic_message(&*payload)))
            .ok()
    }

    /// Runs a reactor-level callback (timer, posted closure, signal handler),
    /// logging a panic instead of letting it reach the loop.
    pub(crate) fn run_guarded(
        &mut self,
        token: Token,
        what: &str,
        f: impl FnOnce(&mut Ctx<'_, S>),
    ) {
        let result = panic::catch_unwind(AssertUnwindSafe(|| f(&mut Ctx::new(self, token, &[]))));
        self.flush_batch();
        if let Err(payload) = result {
            error!(
                "{what} panicked: {}; the reactor goes on",
                panic_message(&*payload)
            );
        }
    }

    // ----- writing --------------------------------------------------------

    /// Queues `data` for `token`, on behalf of a callback running for
    /// `current`. Returns false if there is no such connection or it no
    /// longer takes output.
    ///
    /// The common case, a callback writing to its own connection with
    /// nothing queued, is inlined into the callback: it joins the batch that
    /// is sent when the callback returns, without a lookup when the read path
    /// armed the batch, and without a copy when it is part of `input`, what
    /// the callback is reading (see `batch.rs`).
    #[inline]
    pub(crate) fn write_to(
        &mut self,
        token: Token,
        current: Token,
        data: &[u8],
        input: &[u8],
    ) -> bool {
        if token == current && !data.is_empty() {
            if data.len() < WRITE_THROUGH && self.batch.is_armed_for(token) {
                self.batch.push(token, data, input);
                return true;
            }
            return self.write_own(token, data, input);
        }
        self.write_to_slow(token, data)
    }

    /// A write to the callback's own connection that was not armed (or is
    /// large): with nothing queued, it joins the batch, or a large one is
    /// written through; otherwise it queues behind what is queued.
    #[inline(never)]
    fn write_own(&mut self, token: Token, data: &[u8], input: &[u8]) -> bool {
        if self.batch.is_open() && !self.batch.is_for(token) {
            return self.write_to_slow(token, data);
        }
        match conn_in(&mut self.entries, token) {
            Some(conn)
                if conn.output.is_empty() && !conn.has(flag::CONNECTING | flag::REFUSES_OUTPUT) =>
            {
                if data.len() >= WRITE_THROUGH {
                    self.write_through(token, data, input);
                } else {
                    self.batch.push(token, data, input);
                }
                true
            }
            _ => self.write_to_slow(token, data),
        }
    }

    /// A large write to the callback's own connection, with nothing queued:
    /// sent at once together with what the callback batched before it, in
    /// one `sendmsg`, instead of being copied into the batch. Ordering holds:
    /// the batch goes first, and whatever the socket refuses is queued, so
    /// later writes queue behind it.
    #[inline(never)]
    fn write_through(&mut self, token: Token, data: &[u8], input: &[u8]) {
        let batched: &[u8] = match self.batch.take(input) {
            Some((owner, bytes)) if owner == token => bytes,
            _ => &[],
        };
        let Some(conn) = conn_in(&mut self.entries, token) else {
            return;
        };
        let total = batched.len() + data.len();
        let sent = if conn.has(flag::WRITE_BLOCKED) {
            Io::WouldBlock
        } else {
            conn.stream.send2(batched, data)
        };
        let sent = match sent {
            Io::Done(n) => n,
            Io::WouldBlock => {
                conn.set(flag::WRITE_BLOCKED);
                0
            }
            Io::Failed(e) => {
                self.abort(token, e);
                return;
            }
        };
        if sent < total {
            // Queue the rest; settling goes on writing it until the socket
            // refuses, and applies the watermarks.
            if sent < batched.len() {
                conn.output.extend(&mut self.pool, &batched[sent..]);
                conn.output.extend(&mut self.pool, data);
            } else {
                conn.output
                    .extend(&mut self.pool, &data[sent - batched.len()..]);
            }
            self.mark_dirty(token);
        }
    }

    /// Every other write: to another connection, to one with output queued
    /// (it queues behind), or refused.
    #[inline(never)]
    fn write_to_slow(&mut self, token: Token, data: &[u8]) -> bool {
        let Some(conn) = conn_in(&mut self.entries, token) else {
            return false;
        };
        if !conn.accepts_output() {
            return false;
        }
        if data.is_empty() {
            return true;
        }
        let result = send_or_queue(conn, &mut self.pool, data);
        let backlog = !conn.output.is_empty();
        self.after_send(token, result, backlog);
        true
    }

    /// What a send leaves to do: a backlog waits to be settled (flushed on
    /// the next writable edge, watermarks applied), an error closes the
    /// connection.
    #[inline]
    fn after_send(&mut self, token: Token, result: io::Result<()>, backlog: bool) {
        match result {
            Ok(()) if backlog => self.mark_dirty(token),
            Ok(()) => {}
            Err(e) => self.abort(token, e),
        }
    }

    /// Sends what a callback that `invoke_with` did not run (a connection's
    /// timer, `with_ctx`) wrote to its own connection.
    #[inline]
    pub(crate) fn flush_batch(&mut self) {
        if self.batch.is_open() {
            self.flush_batch_slow();
        }
    }

    #[inline(never)]
    fn flush_batch_slow(&mut self) {
        let Some((token, bytes)) = self.batch.take(&[]) else {
            return;
        };
        if let Some(conn) = conn_in(&mut self.entries, token) {
            let result = send_or_queue(conn, &mut self.pool, bytes);
            let backlog = !conn.output.is_empty();
            self.after_send(token, result, backlog);
        }
    }

    /// Bytes queued for `token` and not yet accepted by its socket.
    pub(crate) fn queued(&self, token: Token) -> usize {
        let batched = if self.batch.is_for(token) {
            self.batch.len()
        } else {
            0
        };
        self.conn(token).map_or(0, |c| c.output.len()) + batched
    }

    // ----- closing and flow control ----------------------------------------

    /// Queues the connection for settling. Whatever made it dirty (a close, a
    /// backlog, a half-close) may change whether it takes output, so its
    /// writes go through the checks again from here on (see `batch.rs`).
    pub(crate) fn mark_dirty(&mut self, token: Token) {
        self.batch.disarm(token);
        if let Some(conn) = self.conn_mut(token) {
            if !conn.has(flag::DIRTY) {
                conn.set(flag::DIRTY);
                self.dirty.push(token);
            }
        }
    }

    /// Marks a connection to be closed now; `settle_all` carries it out.
    pub(crate) fn abort(&mut self, token: Token, reason: io::Error) {
        if let Some(conn) = self.conn_mut(token) {
            if !conn.has(flag::ABORT) {
                conn.set(flag::ABORT);
                self.doomed.push((token, reason));
            }
            self.mark_dirty(token);
        }
    }

    /// Marks a connection to be closed once its output is flushed.
    /// A datagram socket closes at the next settle (its protocol may be lent out now).
    pub(crate) fn close(&mut self, token: Token) {
        match self.entry_mut(token).map(|e| &mut e.source) {
            Some(Source::Conn(conn)) => {
                conn.set(flag::CLOSING);
                self.mark_dirty(token);
            }
            Some(Source::Datagram(d)) => {
                d.closing = true;
                self.dirty.push(token);
            }
            _ => {}
        }
    }

    /// Asks for a graceful shutdown from inside a callback; it starts at the
    /// next settle, when no protocol is lent out, so every `connection_lost`
    /// is still called.
    pub(crate) fn request_shutdown(&mut self) {
        self.shutdown_requested = true;
    }

    pub(crate) fn shutdown_requested(&self) -> bool {
        self.shutdown_requested
    }

    /// Carries out every write, flow-control change and close that callbacks
    /// asked for. Runs only while no protocol is lent out.
    #[inline]
    pub(crate) fn settle_all(&mut self) {
        if !self.dirty.is_empty() || self.shutdown_requested {
            self.settle_dirty();
        }
    }

    #[inline(never)]
    fn settle_dirty(&mut self) {
        loop {
            while let Some(token) = self.dirty.pop() {
                match self.entry_mut(token).map(|e| &mut e.source) {
                    Some(Source::Conn(conn)) => {
                        conn.clear(flag::DIRTY);
                        self.settle(token);
                    }
                    Some(Source::Datagram(d)) if d.closing => self.close_datagram(token),
                    _ => {}
                }
            }
            if !mem::take(&mut self.shutdown_requested) {
                return;
            }
            self.begin_shutdown();
        }
    }

    fn settle(&mut self, token: Token) {
        let Config {
            high_watermark,
            low_watermark,
            max_output,
            ..
        } = self.config;
        let Some(conn) = conn_in(&mut self.entries, token) else {
            return;
        };
        if conn.has(flag::ABORT) {
            let reason = self
                .doomed
                .iter()
                .position(|(t, _)| *t == token)
                .map(|i| self.doomed.swap_remove(i).1);
            self.close_now(token, reason);
            return;
        }
        if conn.has(flag::LINGERING) {
            return;
        }
        if !conn.output.is_empty() && !conn.has(flag::WRITE_BLOCKED | flag::CONNECTING) {
            if let Err(e) = flush_output(conn) {
                self.abort(token, e);
                return; // abort re-queued it: closed in this same pass
            }
        }
        let queued = conn.output.len();
        if queued > max_output {
            warn!(
                "{}: {queued} bytes queued for a peer that does not read; closing it",
                self.describe(token)
            );
            let e = io::Error::other(format!("output limit exceeded ({queued} bytes queued)"));
            self.abort(token, e);
            return; // abort re-queued it: closed in this same pass
        }
        if queued > high_watermark && !conn.has(flag::WRITE_PAUSED) {
            conn.set(flag::WRITE_PAUSED);
            self.invoke(token, |p, ctx| p.pause_writing(ctx));
            self.mark_dirty(token);
            return;
        }
        if queued <= low_watermark && conn.has(flag::WRITE_PAUSED) {
            conn.clear(flag::WRITE_PAUSED);
            self.ready.push(token);
            self.invoke(token, |p, ctx| p.resume_writing(ctx));
            self.mark_dirty(token);
            return;
        }
        if queued == 0 {
            conn.output.release(&mut self.pool);
            if conn.has(flag::SHUT_WRITE) && !conn.has(flag::WRITE_DONE) {
                conn.set(flag::WRITE_DONE);
                let _ = conn.stream.shutdown_write();
            }
            if conn.has(flag::CLOSING) {
                self.close_now(token, None);
            }
        }
    }

    /// Closes a connection: removes it from the slab and the poller and calls
    /// `connection_lost` exactly once. A socket closed in good order whose
    /// peer may still be sending lingers first (see `Config::linger_timeout`).
    fn close_now(&mut self, token: Token, reason: Option<io::Error>) {
        let Some(conn) = self.conn_mut(token) else {
            return;
        };
        let made = conn.has(flag::MADE);
        let is_socket = conn.stream.is_socket();
        let linger = reason.is_none()
            && is_socket
            && !conn.has(flag::EOF)
            && !matches!(conn.stream, Stream::Memory(_));
        // Sockets are the news at info level; pipes (stdin, a child's output) are detail.
        let level = if is_socket {
            log::Level::Info
        } else {
            log::Level::Debug
        };
        if log::log_enabled!(level) {
            let describe = self.describe(token);
            match &reason {
                None => log::log!(level, "{describe} closed"),
                Some(e) => log::log!(level, "{describe} closed: {e}"),
            }
        }
        if linger {
            let conn = conn_in(&mut self.entries, token).expect("checked above");
            conn.set(flag::LINGERING);
            let _ = conn.stream.shutdown_write();
            let protocol = conn.protocol.take();
            conn.input.consume(usize::MAX);
            conn.input.release(&mut self.pool);
            if let (true, Some(protocol)) = (made, protocol) {
                self.call_lost(token, protocol, None);
            }
            // During a shutdown the lingering ends by the shutdown deadline at the latest.
            let mut deadline = Instant::now() + self.config.linger_timeout;
            if let Some(shutdown) = self.shutdown_deadline {
                deadline = deadline.min(shutdown);
            }
            self.timers.insert(deadline, None, TimerKind::Linger(token));
            self.drain_lingering(token);
            return;
        }
        let Some(Source::Conn(mut conn)) = self.remove(token) else {
            return;
        };
        if let Some(id) = conn.extra.as_ref().and_then(|x| x.idle_timer) {
            self.timers.cancel(id);
        }
        let protocol = conn.protocol.take();
        conn.input.consume(usize::MAX);
        conn.input.release(&mut self.pool);
        conn.output.consume(usize::MAX);
        conn.output.release(&mut self.pool);
        drop(conn);
        if let (true, Some(protocol)) = (made, protocol) {
            self.call_lost(token, protocol, reason);
        }
    }

    fn call_lost(
        &mut self,
        token: Token,
        mut protocol: Box<dyn Protocol<S>>,
        reason: Option<io::Error>,
    ) {
        self.run_guarded(token, "connection_lost", |ctx| {
            protocol.connection_lost(ctx, reason)
        });
    }

    /// Reads and discards what a lingering peer still sends; closes for good
    /// on its EOF or error.
    pub(crate) fn drain_lingering(&mut self, token: Token) {
        let Some(conn) = conn_in(&mut self.entries, token) else {
            return;
        };
        loop {
            match conn.stream.recv(&mut self.scratch_in) {
                Io::Done(0) | Io::Failed(_) => break,
                Io::Done(_) => continue,
                Io::WouldBlock => return,
            }
        }
        self.remove(token);
    }

    /// A short description for logs: `#3 (127.0.0.1:5555)`.
    pub(crate) fn describe(&self, token: Token) -> String {
        match self.conn(token).map(|c| c.stream.peer_addr()) {
            Some(Ok(peer)) => format!("{} ({peer})", show(token)),
            _ => show(token),
        }
    }

    // ----- timers -----------------------------------------------------------

    pub(crate) fn add_timer(
        &mut self,
        delay: Duration,
        period: Option<Duration>,
        what: TimerKind<S>,
    ) -> TimerId {
        self.timers.insert(Instant::now() + delay, period, what)
    }

    /// Sets, replaces or (with `None`) removes the idle timeout of `token`.
    pub(crate) fn set_idle_timeout(&mut self, token: Token, timeout: Option<Duration>) {
        let now = self.now();
        let Some(conn) = self.conn_mut(token) else {
            return;
        };
        let old = conn.extra.take();
        if let Some(id) = old.and_then(|x| x.idle_timer) {
            self.timers.cancel(id);
        }
        if let Some(timeout) = timeout {
            let id = self
                .timers
                .insert(now + timeout, None, TimerKind::Idle(token));
            let extra = Extra {
                idle_timeout: timeout,
                last_active: now,
                idle_timer: Some(id),
            };
            if let Some(conn) = self.conn_mut(token) {
                conn.extra = Some(Box::new(extra));
            }
        }
    }

    /// The idle timer fired: close the connection if it really was idle for
    /// the whole timeout, else re-arm for the rest of it.
    pub(crate) fn check_idle(&mut self, token: Token) {
        let now = Instant::now();
        let Some(conn) = conn_in(&mut self.entries, token) else {
            return;
        };
        let Some(extra) = conn.extra.as_mut() else {
            return;
        };
        let due = extra.last_active + extra.idle_timeout;
        if due <= now {
            extra.idle_timer = None;
            let timeout = extra.idle_timeout;
            debug!("{} idle for {timeout:?}; closing", self.describe(token));
            let e = io::Error::new(io::ErrorKind::TimedOut, format!("idle for {timeout:?}"));
            self.abort(token, e);
        } else {
            extra.idle_timer = Some(self.timers.insert(due, None, TimerKind::Idle(token)));
        }
    }

    // ----- shutdown -----------------------------------------------------------

    /// Graceful shutdown: stop accepting, close datagram sockets, and close
    /// every connection once its queued output is flushed, within
    /// `Config::shutdown_timeout`.
    pub(crate) fn begin_shutdown(&mut self) {
        if self.shutdown_deadline.is_some() {
            return;
        }
        info!(
            "shutting down: flushing queued output for up to {:?}",
            self.config.shutdown_timeout
        );
        let deadline = Instant::now() + self.config.shutdown_timeout;
        self.shutdown_deadline = Some(deadline);
        self.timers
            .insert(deadline, None, TimerKind::ShutdownDeadline);
        let mut tokens = mem::take(&mut self.tokens);
        tokens.clear();
        tokens.extend(
            self.entries
                .iter()
                .map(|(slot, e)| token_of(slot, e.generation)),
        );
        for &token in &tokens {
            match self.entry(token).map(|e| &e.source) {
                Some(Source::Listener(_)) => drop(self.remove(token)),
                Some(Source::Datagram(_)) => self.close_datagram(token),
                // Lingering ones finish on the peer's EOF or the deadline.
                Some(Source::Conn(c)) if c.has(flag::LINGERING) => {}
                Some(Source::Conn(c)) if c.has(flag::CONNECTING) => self.give_up_connecting(token),
                Some(Source::Conn(_)) => self.close(token),
                Some(Source::Signals(_)) | None => {}
            }
        }
        self.tokens = tokens;
        self.settle_all();
        self.check_stopped();
    }

    /// An outgoing connection still in progress when the reactor shuts down
    /// gets `connection_failed`, so its protocol knows it was given up.
    fn give_up_connecting(&mut self, token: Token) {
        if let Some(Source::Conn(mut conn)) = self.remove(token) {
            if let Some(mut protocol) = conn.protocol.take() {
                let error = io::Error::new(
                    io::ErrorKind::Interrupted,
                    "the reactor shut down before the connection was established",
                );
                self.run_guarded(token, "connection_failed", |ctx| {
                    protocol.connection_failed(ctx, error)
                });
            }
        }
    }

    /// The shutdown deadline passed: close whatever is still flushing.
    pub(crate) fn force_stop(&mut self) {
        let mut tokens = mem::take(&mut self.tokens);
        tokens.clear();
        tokens.extend(self.entries.iter().filter_map(|(slot, e)| match e.source {
            Source::Conn(_) => Some(token_of(slot, e.generation)),
            _ => None,
        }));
        if !tokens.is_empty() {
            warn!(
                "shutdown deadline passed with {} connections still flushing; closing them",
                tokens.len()
            );
        }
        for &token in &tokens {
            let e = io::Error::new(
                io::ErrorKind::TimedOut,
                "reactor shut down before the output was flushed",
            );
            self.abort(token, e);
        }
        self.tokens = tokens;
        self.settle_all();
        self.stopped = true;
    }

    pub(crate) fn check_stopped(&mut self) {
        if self.shutdown_deadline.is_some() && self.conns == 0 {
            self.stopped = true;
        }
    }

    pub(crate) fn close_datagram(&mut self, token: Token) {
        if let Some(Source::Datagram(mut d)) = self.remove(token) {
            let _ = d.flush();
            if let Some(mut protocol) = d.protocol.take() {
                self.run_guarded(token, "connection_lost", |ctx| {
                    protocol.connection_lost(ctx, None)
                });
            }
        }
    }
}

/// Sends `data` now if nothing is waiting ahead of it and the socket is not
/// known to be full; queues whatever the socket refuses. The whole send is
/// the inlined common case; a short or refused send takes the slow path.
#[inline]
fn send_or_queue<S>(conn: &mut Conn<S>, pool: &mut Pool, data: &[u8]) -> io::Result<()> {
    if conn.output.is_empty() && !conn.has(flag::WRITE_BLOCKED | flag::CONNECTING) {
        match conn.stream.send(data) {
            Io::Done(n) if n == data.len() => Ok(()),
            first => send_rest(conn, pool, data, first),
        }
    } else {
        conn.output.extend(pool, data);
        Ok(())
    }
}

/// After a first `send` that did not take everything: keep sending what is
/// left until the socket refuses, then queue the rest.
#[cold]
#[inline(never)]
fn send_rest<S>(conn: &mut Conn<S>, pool: &mut Pool, data: &[u8], first: Io) -> io::Result<()> {
    let sent = match first {
        Io::Done(0) => return Err(io::ErrorKind::WriteZero.into()),
        Io::Done(n) => {
            let (more, blocked) = conn.stream.write_some(&data[n..])?;
            if blocked {
                conn.set(flag::WRITE_BLOCKED);
            }
            n + more
        }
        Io::WouldBlock => {
            conn.set(flag::WRITE_BLOCKED);
            0
        }
        Io::Failed(e) => return Err(e),
    };
    if sent < data.len() {
        conn.output.extend(pool, &data[sent..]);
    }
    Ok(())
}

/// Writes queued output until it is gone or the socket refuses.
fn flush_output<S>(conn: &mut Conn<S>) -> io::Result<()> {
    while !conn.output.is_empty() {
        match conn.output.write_to(&mut conn.stream) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                conn.set(flag::WRITE_BLOCKED);
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle connection is its slab entry and nothing else, so this size is
    /// the user-space cost of an idle connection (budget: 128 bytes; 104 in a
    /// release build, 112 in a debug one where mio's sockets carry a
    /// registration check).
    #[test]
    fn an_idle_connection_fits_in_112_bytes() {
        assert!(
            mem::size_of::<Entry<()>>() <= 112,
            "{}",
            mem::size_of::<Entry<()>>()
        );
    }

    #[test]
    fn tokens_carry_slot_and_generation() {
        let token = token_of(5, 7);
        assert_eq!(split(token), (5, 7));
        assert_ne!(token_of(5, 8), token);
        assert_ne!(token, WAKER);
        assert_ne!(token, NO_TOKEN);
    }
}
