//! The context handed to every callback: its own connection's transport, and
//! a window onto the rest of the reactor.
//!
//! A thin facade: each method is one call into the core. Acting on another
//! connection follows one rule: take it with [`Ctx::connection`] and call the
//! same method there (`ctx.connection(other).write(b"hi")`).

use std::fs::File;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::{Duration, Instant};

use mio::Token;

use crate::addr::Addr;
use crate::core::{Core, NO_TOKEN, TimerKind};
use crate::handle::Handle;
use crate::protocol::{DatagramProtocol, Protocol};
use crate::sources::{self, datagram, fd, listener, signals, stream};
use crate::stats::{ConnectionStats, Stats};
use crate::timer::TimerId;
use crate::transport::flag;

/// What a callback can do: write to its connection or any other, close,
/// set timers, reach the reactor-wide shared state `S`.
///
/// Writes never block and never fail at the call: bytes are queued, the
/// callback's own writes go out in one `write` when it returns, and only what
/// the socket refuses waits for it to drain. Closes happen after the callback
/// returns, so a callback never sees its connection vanish under it.
pub struct Ctx<'a, S = ()> {
    core: &'a mut Core<S>,
    token: Token,
}

/// Another connection (or datagram socket, or pipe), to act on from a
/// callback: `ctx.connection(token).write(b"hi")`. Its methods are those of
/// [`Ctx`] for the callback's own connection.
pub struct Connection<'c, 'a, S> {
    ctx: &'c mut Ctx<'a, S>,
    token: Token,
}

impl<'a, S: 'static> Ctx<'a, S> {
    pub(crate) fn new(core: &'a mut Core<S>, token: Token) -> Self {
        Ctx { core, token }
    }

    /// The core and this callback's token, for the methods other modules
    /// add (`src/tls/api.rs`).
    #[cfg(feature = "tls")]
    pub(crate) fn parts(&mut self) -> (&mut Core<S>, Token) {
        (self.core, self.token)
    }

    /// The token of the connection (or datagram socket, or pipe) this
    /// callback is about. Stable for the connection's life and never reused
    /// for another connection while any copy of it could still be in use.
    pub fn token(&self) -> Token {
        self.token
    }

    /// True when this callback belongs to no source (a reactor timer or a
    /// posted closure).
    pub fn is_detached(&self) -> bool {
        self.token == NO_TOKEN
    }

    /// The connection `token`, to write to, close, or ask about.
    pub fn connection(&mut self, token: Token) -> Connection<'_, 'a, S> {
        Connection { ctx: self, token }
    }

    // ----- this connection ----------------------------------------------------

    /// Queues `data` for this connection's peer. Writes made during one
    /// callback leave in one system call when it returns; a write of 8 KiB
    /// or more is sent at once (with what was queued before it) instead of
    /// being copied, so join many large pieces into one write.
    #[inline]
    pub fn write(&mut self, data: &[u8]) {
        self.core.write(self.token, self.token, data);
    }

    /// Queues `len` bytes of `file`, from byte `offset`, for this
    /// connection's peer, after everything written so far; what is written
    /// afterwards follows the file (asyncio's `loop.sendfile`). On TCP the
    /// bytes go from the file to the socket with `sendfile(2)`, never
    /// through this process's memory; on other streams, or where the kernel
    /// refuses it, the file is read and written 64 KiB at a time. Either
    /// way it goes out as the socket takes it, like any queued output. For
    /// a file over 64 KiB sent with `sendfile`, the TCP socket is told to
    /// hold at most 64 KiB not yet sent (`TCP_NOTSENT_LOWAT`, kept for the
    /// rest of the connection), so the file goes out from the loop's own
    /// calls rather than from the peer's acknowledgements (BENCHMARKS.md,
    /// "Large files").
    ///
    /// The file's unsent bytes count in [`Ctx::queued`] and for flow
    /// control: a file larger than the high watermark brings
    /// [`Protocol::pause_writing`] at once and `resume_writing` when it has
    /// nearly gone. They do not count against [`Config::max_output`] (a
    /// limit on memory, and a file holds none), so a peer that stops reading
    /// a large file is for the protocol to cut off, by a timer of its own
    /// started in `pause_writing` that checks [`Ctx::queued`] for progress.
    ///
    /// The file is closed once sent, or when the connection closes or is
    /// aborted before. If it ends before `len` bytes, the connection is
    /// aborted (`UnexpectedEof`): the peer was promised them. Returns false,
    /// dropping the file, if the connection no longer takes output.
    ///
    /// [`Config::max_output`]: crate::Config::max_output
    pub fn send_file(&mut self, file: File, offset: u64, len: u64) -> bool {
        let token = self.token;
        self.core.send_file(token, token, file, (offset, len))
    }

    /// Closes this connection once everything queued is sent (asyncio's
    /// `transport.close()`). Further writes are dropped. On a datagram
    /// socket: closes the socket after this callback.
    pub fn close(&mut self) {
        self.core.close(self.token);
    }

    /// Closes this connection now, dropping queued output
    /// (`transport.abort()`). `connection_lost` gets an error naming `reason`.
    pub fn abort(&mut self, reason: &str) {
        self.connection(self.token).abort(reason);
    }

    /// Shuts down our writing side once queued output is sent (a half-close:
    /// the peer reads EOF, and can still send to us).
    pub fn shutdown_write(&mut self) {
        self.core.request(self.token, flag::SHUT_WRITE);
    }

    /// Stops reading from this connection until [`Ctx::resume_reading`]
    /// (asyncio's `pause_reading`). Bytes already buffered stay buffered.
    pub fn pause_reading(&mut self) {
        self.core.pause_reading(self.token);
    }

    /// Resumes reading; input left unconsumed is delivered again first.
    pub fn resume_reading(&mut self) {
        self.core.resume_reading(self.token);
    }

    /// Bytes queued for this connection that the peer has not taken yet,
    /// the unsent part of files queued with [`Ctx::send_file`] included.
    pub fn queued(&self) -> usize {
        self.core.queued(self.token)
    }

    /// The peer's address (not stored: asked of the socket).
    pub fn peer_addr(&self) -> io::Result<Addr> {
        peer_addr(self.core, self.token)
    }

    /// The local address of this connection or datagram socket.
    pub fn local_addr(&self) -> io::Result<Addr> {
        sources::local_addr(self.core, self.token)
    }

    /// Calls this connection's [`Protocol::timer_fired`] with `id` after
    /// `delay`. Forgotten if the connection closes first.
    pub fn set_timer(&mut self, delay: Duration, id: u64) -> TimerId {
        self.core
            .add_timer(delay, None, TimerKind::Protocol(self.token, id))
    }

    /// Closes this connection (with a `TimedOut` error) when nothing has been
    /// received from it for `timeout`; `None` removes the timeout.
    pub fn set_idle_timeout(&mut self, timeout: Option<Duration>) {
        self.core.set_idle_timeout(self.token, timeout);
    }

    /// Sends a datagram from this datagram socket. Queued if the socket is
    /// full; an error if the queue is full too or the address does not fit
    /// the socket.
    pub fn send_to(&mut self, data: &[u8], to: &Addr) -> io::Result<()> {
        datagram::send_to(self.core, self.token, data, to)
    }

    // ----- every connection ---------------------------------------------------

    /// Writes `data` to every open socket connection except `except`;
    /// returns how many received it. Pipes (stdin, child processes) are not
    /// included.
    pub fn broadcast(&mut self, data: &[u8], except: Option<Token>) -> usize {
        let mut tokens = self.core.token_list(|_| false);
        tokens.extend(self.core.open_connections().filter(|t| Some(*t) != except));
        let mut sent = 0;
        for &token in &tokens {
            sent += usize::from(self.core.write(token, self.token, data));
        }
        self.core.put_token_list(tokens);
        sent
    }

    /// The open socket connections (established, no close begun), in slot
    /// order: a chat room's members. Pipes are not included.
    pub fn connections(&self) -> impl Iterator<Item = Token> + '_ {
        self.core.open_connections()
    }

    // ----- the reactor --------------------------------------------------------

    /// The reactor-wide shared state (socketserver's server object).
    pub fn shared(&mut self) -> &mut S {
        self.core.shared()
    }

    /// The shared state, read-only.
    pub fn shared_ref(&self) -> &S {
        self.core.shared_ref()
    }

    /// Runs `f` once after `delay`, with a context for this same token.
    pub fn call_later(
        &mut self,
        delay: Duration,
        f: impl FnOnce(&mut Ctx<'_, S>) + 'static,
    ) -> TimerId {
        self.core
            .add_timer(delay, None, TimerKind::Call(self.token, Box::new(f)))
    }

    /// Runs `f` every `period` until cancelled (socketserver's
    /// `service_actions`), with a context for this same token.
    pub fn call_every(
        &mut self,
        period: Duration,
        f: impl FnMut(&mut Ctx<'_, S>) + 'static,
    ) -> TimerId {
        self.core.add_timer(
            period,
            Some(period),
            TimerKind::Every(self.token, Box::new(f)),
        )
    }

    /// Cancels a timer; returns whether it was still pending.
    pub fn cancel_timer(&mut self, id: TimerId) -> bool {
        self.core.cancel_timer(id)
    }

    /// The time of this turn of the loop: the clock is read once per turn,
    /// by the first caller, so this is cheaper than `Instant::now()` and the
    /// same for every callback of the turn. Timers count from it.
    pub fn now(&self) -> Instant {
        self.core.now()
    }

    /// Starts a graceful shutdown of the whole reactor once this callback
    /// returns: stop accepting, flush, close every connection (each gets its
    /// `connection_lost`), then `run` returns.
    pub fn shutdown(&mut self) {
        self.core.request_shutdown();
    }

    /// Whether a shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.core.is_shutting_down()
    }

    /// The reactor's statistics (see [`Reactor::stats`](crate::Reactor::stats)).
    pub fn stats(&self) -> Stats {
        self.core.stats()
    }

    /// A cross-thread handle on this reactor.
    pub fn handle(&self) -> Handle<S> {
        Handle::new(self.core.handle().clone())
    }

    // ----- new sources (the same as on `Reactor`) -------------------------------

    /// Listens on a TCP address; each accepted connection gets a protocol
    /// from `factory`. Returns the listener's token.
    pub fn listen_tcp<P, F>(
        &mut self,
        addr: impl ToSocketAddrs,
        mut factory: F,
    ) -> io::Result<Token>
    where
        P: Protocol<S>,
        F: FnMut() -> P + 'static,
    {
        let acceptor = listener::Acceptor::bind_tcp(addr)?;
        listener::add(self.core, acceptor, Box::new(move || Box::new(factory())))
    }

    /// Listens on an already bound std listener, for sockets configured by
    /// the caller (SO_REUSEPORT, a socket inherited from a supervisor).
    pub fn listen_tcp_std<P, F>(
        &mut self,
        listener: std::net::TcpListener,
        mut factory: F,
    ) -> io::Result<Token>
    where
        P: Protocol<S>,
        F: FnMut() -> P + 'static,
    {
        let acceptor = listener::Acceptor::from_std_tcp(listener)?;
        listener::add(self.core, acceptor, Box::new(move || Box::new(factory())))
    }

    /// Listens on a Unix stream socket at `path`. A stale socket file left by
    /// a dead server is replaced; a live server's is not. The file is removed
    /// when the listener closes.
    pub fn listen_unix<P, F>(&mut self, path: impl AsRef<Path>, mut factory: F) -> io::Result<Token>
    where
        P: Protocol<S>,
        F: FnMut() -> P + 'static,
    {
        let acceptor = listener::Acceptor::bind_unix(path.as_ref())?;
        listener::add(self.core, acceptor, Box::new(move || Box::new(factory())))
    }

    /// Only keeps peers accepted by `listener` for which `filter` returns
    /// true (socketserver's `verify_request`); the others are closed at once.
    pub fn set_accept_filter(
        &mut self,
        listener: Token,
        filter: impl FnMut(&Addr) -> bool + 'static,
    ) -> io::Result<()> {
        listener::set_filter(self.core, listener, Box::new(filter))
    }

    /// Opens an outgoing TCP connection (non-blocking); `protocol` gets
    /// `connection_made` once it is established, or `connection_failed`.
    pub fn connect_tcp(
        &mut self,
        addr: SocketAddr,
        protocol: impl Protocol<S>,
    ) -> io::Result<Token> {
        stream::connect_tcp(self.core, addr, Box::new(protocol))
    }

    /// Opens an outgoing Unix stream connection.
    pub fn connect_unix(
        &mut self,
        path: impl AsRef<Path>,
        protocol: impl Protocol<S>,
    ) -> io::Result<Token> {
        stream::connect_unix(self.core, path.as_ref(), Box::new(protocol))
    }

    /// Binds a UDP socket for a datagram protocol.
    pub fn bind_udp(
        &mut self,
        addr: impl ToSocketAddrs,
        protocol: impl DatagramProtocol<S>,
    ) -> io::Result<Token> {
        let addr = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind"))?;
        datagram::bind_udp(self.core, addr, Box::new(protocol))
    }

    /// Binds a Unix datagram socket at `path` (a stale file is replaced, and
    /// the file is removed on close).
    pub fn bind_unix_datagram(
        &mut self,
        path: impl AsRef<Path>,
        protocol: impl DatagramProtocol<S>,
    ) -> io::Result<Token> {
        datagram::bind_unix(self.core, path.as_ref(), Box::new(protocol))
    }

    /// Adds a raw fd (a pipe, a child's stdout, a terminal) as a stream
    /// driven by `protocol`: `data_received` for what it reads, `write` to
    /// write to it, `eof_received` at its end. The fd is made non-blocking
    /// while the reactor owns it and restored on close.
    pub fn add_fd(&mut self, fd: OwnedFd, protocol: impl Protocol<S>) -> io::Result<Token> {
        fd::add(self.core, fd, Box::new(protocol))
    }

    /// Reads this process's standard input with `protocol`. Works for a
    /// terminal or a pipe (polled) and for a regular file or `/dev/null`
    /// (which epoll refuses: read without waiting). Stdin's blocking mode is
    /// restored when the source closes or the reactor is dropped.
    pub fn add_stdin(&mut self, protocol: impl Protocol<S>) -> io::Result<Token> {
        fd::add_stdin(self.core, Box::new(protocol))
    }

    /// Calls `handler` on the loop thread for each of `signals` that arrives.
    pub fn add_signals(
        &mut self,
        signals: &[i32],
        handler: impl FnMut(&mut Ctx<'_, S>, i32) + 'static,
    ) -> io::Result<Token> {
        signals::add(self.core, signals, Box::new(handler))
    }
}

impl<S: 'static> Connection<'_, '_, S> {
    /// The core and the token this view acts on (see [`Ctx::parts`]).
    #[cfg(feature = "tls")]
    pub(crate) fn parts(&mut self) -> (&mut Core<S>, Token) {
        (self.ctx.core, self.token)
    }

    /// The token this view acts on.
    pub fn token(&self) -> Token {
        self.token
    }

    /// Whether it names an open connection: established, no close begun
    /// (what [`Ctx::connections`] lists, pipes included).
    pub fn is_open(&self) -> bool {
        self.ctx
            .core
            .stream(self.token)
            .is_some_and(|s| s.is_open())
    }

    /// Queues `data` for it (see [`Ctx::write`]). Returns false if it is not
    /// open, or no longer takes output.
    pub fn write(&mut self, data: &[u8]) -> bool {
        let ctx = &mut *self.ctx;
        ctx.core.write(self.token, ctx.token, data)
    }

    /// Queues part of a file for it (see [`Ctx::send_file`]). Returns false
    /// if it is not open, or no longer takes output.
    pub fn send_file(&mut self, file: File, offset: u64, len: u64) -> bool {
        let ctx = &mut *self.ctx;
        ctx.core
            .send_file(self.token, ctx.token, file, (offset, len))
    }

    /// Closes it once its queued output is sent (see [`Ctx::close`]).
    pub fn close(&mut self) {
        self.ctx.core.close(self.token);
    }

    /// Closes it now, dropping its queued output (see [`Ctx::abort`]).
    pub fn abort(&mut self, reason: &str) {
        let e = io::Error::new(io::ErrorKind::ConnectionAborted, reason.to_string());
        self.ctx.core.abort(self.token, e);
    }

    /// Half-closes it once its queued output is sent (see [`Ctx::shutdown_write`]).
    pub fn shutdown_write(&mut self) {
        self.ctx.core.request(self.token, flag::SHUT_WRITE);
    }

    /// Stops reading from it (see [`Ctx::pause_reading`]).
    pub fn pause_reading(&mut self) {
        self.ctx.core.pause_reading(self.token);
    }

    /// Resumes reading from it (see [`Ctx::resume_reading`]).
    pub fn resume_reading(&mut self) {
        self.ctx.core.resume_reading(self.token);
    }

    /// Bytes queued for it that its peer has not taken yet.
    pub fn queued(&self) -> usize {
        self.ctx.core.queued(self.token)
    }

    /// Its figures: bytes in and out, queued output, age, time since it
    /// last sent anything. `None` if it is not a stream connection (or
    /// pipe). For the callback's own connection:
    /// `ctx.connection(ctx.token()).stats()`.
    pub fn stats(&self) -> Option<ConnectionStats> {
        self.ctx.core.connection_stats(self.token)
    }

    /// Its peer's address.
    pub fn peer_addr(&self) -> io::Result<Addr> {
        peer_addr(self.ctx.core, self.token)
    }

    /// Its local address.
    pub fn local_addr(&self) -> io::Result<Addr> {
        sources::local_addr(self.ctx.core, self.token)
    }

    /// Calls its [`Protocol::timer_fired`] with `id` after `delay` (zero: at
    /// the end of this turn). This is how one source wakes another's state
    /// machine, e.g. a child's pipe telling the client connection that the
    /// command finished.
    pub fn set_timer(&mut self, delay: Duration, id: u64) -> TimerId {
        self.ctx
            .core
            .add_timer(delay, None, TimerKind::Protocol(self.token, id))
    }

    /// Sends a datagram from it, a datagram socket (see [`Ctx::send_to`]):
    /// a stdin line forwarded to a UDP peer, say.
    pub fn send_to(&mut self, data: &[u8], to: &Addr) -> io::Result<()> {
        datagram::send_to(self.ctx.core, self.token, data, to)
    }
}

fn peer_addr<S: 'static>(core: &Core<S>, token: Token) -> io::Result<Addr> {
    match core.stream(token) {
        Some(s) => s.transport.stream.peer_addr(),
        None => Err(io::Error::new(
            io::ErrorKind::NotConnected,
            "no such connection",
        )),
    }
}
