//! The context handed to every callback: the connection's transport and a
//! window onto the rest of the reactor.

use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::{Duration, Instant};

use mio::Token;

use crate::addr::Addr;
use crate::conn::flag;
use crate::core::{Core, NO_TOKEN, TimerKind};
use crate::handle::Handle;
use crate::protocol::{DatagramProtocol, Protocol};
use crate::timer::TimerId;

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
    /// What the callback is reading (`data_received`'s data; empty for other
    /// callbacks): writes of part of it need not be copied.
    input: &'a [u8],
}

impl<'a, S: 'static> Ctx<'a, S> {
    pub(crate) fn new(core: &'a mut Core<S>, token: Token, input: &'a [u8]) -> Self {
        Ctx { core, token, input }
    }

    /// The token of the connection (or datagram socket, or pipe) this
    /// callback is about. Stable for the connection's life and never reused
    /// for another connection while any copy of it could still be in use.
    pub fn token(&self) -> Token {
        self.token
    }

    /// Queues `data` for this connection's peer. Writes made during one
    /// callback leave in one system call when it returns; a write of 8 KiB
    /// or more is sent at once (with what was queued before it) instead of
    /// being copied, so join many large pieces into one write. A callback's
    /// first write of part of the `data` it is reading (an echo) is not
    /// copied either: it is sent from there.
    pub fn write(&mut self, data: &[u8]) {
        self.core.write_to(self.token, self.token, data, self.input);
    }

    /// Queues `data` for another connection. Returns false if `token` names
    /// no open connection (it closed, or never existed).
    pub fn write_to(&mut self, token: Token, data: &[u8]) -> bool {
        self.core.write_to(token, self.token, data, self.input)
    }

    /// Writes `data` to every open socket connection except `except`;
    /// returns how many received it. Pipes (stdin, child processes) are not
    /// included.
    pub fn broadcast(&mut self, data: &[u8], except: Option<Token>) -> usize {
        let mut tokens = self.core.take_token_list();
        tokens.extend(self.core.live_connections().filter(|t| Some(*t) != except));
        let mut sent = 0;
        for &token in &tokens {
            sent += usize::from(self.core.write_to(token, self.token, data, self.input));
        }
        self.core.put_token_list(tokens);
        sent
    }

    /// The open socket connections, in slot order (a chat room's members).
    pub fn connections(&self) -> impl Iterator<Item = Token> + '_ {
        self.core.live_connections()
    }

    /// Whether `token` names an open connection.
    pub fn is_open(&self, token: Token) -> bool {
        self.core
            .conn(token)
            .is_some_and(|c| c.has(flag::MADE) && !c.has(flag::ABORT | flag::LINGERING))
    }

    /// Closes this connection once everything queued is sent (asyncio's
    /// `transport.close()`). Further writes are dropped. On a datagram
    /// socket: closes the socket after this callback.
    pub fn close(&mut self) {
        self.core.close(self.token);
    }

    /// Closes another connection once its queued output is sent.
    pub fn close_other(&mut self, token: Token) {
        self.core.close(token);
    }

    /// Closes this connection now, dropping queued output
    /// (`transport.abort()`). `connection_lost` gets an error naming `reason`.
    pub fn abort(&mut self, reason: &str) {
        self.core.abort(
            self.token,
            io::Error::new(io::ErrorKind::ConnectionAborted, reason.to_string()),
        );
    }

    /// Shuts down our writing side once queued output is sent (a half-close:
    /// the peer reads EOF, and can still send to us).
    pub fn shutdown_write(&mut self) {
        if let Some(conn) = self.core.conn_mut(self.token) {
            conn.set(flag::SHUT_WRITE);
            self.core.mark_dirty(self.token);
        }
    }

    /// Stops reading from this connection until [`Ctx::resume_reading`]
    /// (asyncio's `pause_reading`). Bytes already buffered stay buffered.
    pub fn pause_reading(&mut self) {
        if let Some(conn) = self.core.conn_mut(self.token) {
            conn.set(flag::READ_PAUSED);
        }
    }

    /// Resumes reading; input left unconsumed is delivered again first.
    pub fn resume_reading(&mut self) {
        self.resume_reading_of(self.token);
    }

    /// Resumes reading on another connection (e.g. a pipe's owner).
    pub fn resume_reading_of(&mut self, token: Token) {
        if let Some(conn) = self.core.conn_mut(token) {
            if conn.has(flag::READ_PAUSED) {
                conn.clear(flag::READ_PAUSED);
                conn.set(flag::REDELIVER);
                self.core.ready.push(token);
            }
        }
    }

    /// Bytes queued for this connection that the peer has not taken yet.
    pub fn queued(&self) -> usize {
        self.core.queued(self.token)
    }

    /// Bytes queued for another connection.
    pub fn queued_for(&self, token: Token) -> usize {
        self.core.queued(token)
    }

    /// The peer's address (not stored: asked of the socket).
    pub fn peer_addr(&self) -> io::Result<Addr> {
        self.peer_addr_of(self.token)
    }

    /// Another connection's peer address.
    pub fn peer_addr_of(&self, token: Token) -> io::Result<Addr> {
        match self.core.conn(token) {
            Some(conn) => conn.stream.peer_addr(),
            None => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "no such connection",
            )),
        }
    }

    /// The local address of this connection.
    pub fn local_addr(&self) -> io::Result<Addr> {
        match self.core.conn(self.token) {
            Some(conn) => conn.stream.local_addr(),
            None => self.core.local_addr(self.token),
        }
    }

    /// The reactor-wide shared state (socketserver's server object).
    pub fn shared(&mut self) -> &mut S {
        &mut self.core.shared
    }

    /// The shared state, read-only.
    pub fn shared_ref(&self) -> &S {
        &self.core.shared
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

    /// Runs `f` every `period` until cancelled (socketserver's `service_actions`).
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

    /// Calls this connection's [`Protocol::timer_fired`] with `id` after
    /// `delay`. Forgotten if the connection closes first.
    pub fn set_timer(&mut self, delay: Duration, id: u64) -> TimerId {
        self.core
            .add_timer(delay, None, TimerKind::Protocol(self.token, id))
    }

    /// Calls *another* connection's [`Protocol::timer_fired`] with `id` after
    /// `delay` (zero: at the end of this turn). This is how one source wakes
    /// another's state machine, e.g. a child's pipe telling the client
    /// connection that the command finished.
    pub fn set_timer_on(&mut self, token: Token, delay: Duration, id: u64) -> TimerId {
        self.core
            .add_timer(delay, None, TimerKind::Protocol(token, id))
    }

    /// Cancels a timer; returns whether it was still pending.
    pub fn cancel_timer(&mut self, id: TimerId) -> bool {
        self.core.timers.cancel(id)
    }

    /// Closes this connection (with a `TimedOut` error) when nothing has been
    /// received from it for `timeout`; `None` removes the timeout.
    pub fn set_idle_timeout(&mut self, timeout: Option<Duration>) {
        self.core.set_idle_timeout(self.token, timeout);
    }

    /// The time of this turn of the loop: the clock is read once per turn,
    /// by the first caller, so this is cheaper than `Instant::now()` and the
    /// same for every callback of the turn.
    pub fn now(&self) -> Instant {
        self.core.now()
    }

    /// Sends a datagram from this datagram socket. Queued if the socket is
    /// full; an error if the queue is full too or the address does not fit
    /// the socket.
    pub fn send_to(&mut self, data: &[u8], to: &Addr) -> io::Result<()> {
        self.core.send_datagram(self.token, data, to)
    }

    /// Sends a datagram from the datagram socket `socket`, from any callback
    /// (a stdin line forwarded to a UDP peer, say).
    pub fn send_from(&mut self, socket: Token, data: &[u8], to: &Addr) -> io::Result<()> {
        self.core.send_datagram(socket, data, to)
    }

    /// Opens an outgoing TCP connection; `protocol` gets `connection_made`
    /// once it is established or `connection_failed` if it cannot be.
    pub fn connect_tcp(
        &mut self,
        addr: SocketAddr,
        protocol: impl Protocol<S>,
    ) -> io::Result<Token> {
        self.core.connect_tcp(addr, Box::new(protocol))
    }

    /// Opens an outgoing Unix stream connection.
    pub fn connect_unix(&mut self, path: &Path, protocol: impl Protocol<S>) -> io::Result<Token> {
        self.core.connect_unix(path, Box::new(protocol))
    }

    /// Adds a raw fd (a pipe, a terminal) as a stream source for `protocol`.
    pub fn add_fd(&mut self, fd: OwnedFd, protocol: impl Protocol<S>) -> io::Result<Token> {
        self.core.add_fd(fd, Box::new(protocol))
    }

    /// Binds a UDP socket for a datagram protocol, from inside a callback
    /// (see [`Reactor::bind_udp`](crate::Reactor::bind_udp)).
    pub fn bind_udp(
        &mut self,
        addr: SocketAddr,
        protocol: impl DatagramProtocol<S>,
    ) -> io::Result<Token> {
        self.core.bind_udp(addr, Box::new(protocol))
    }

    /// Starts a graceful shutdown of the whole reactor once this callback
    /// returns: stop accepting, flush, close every connection (each gets its
    /// `connection_lost`), then `run` returns.
    pub fn shutdown(&mut self) {
        self.core.request_shutdown();
    }

    /// Whether a shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.core.shutdown_deadline.is_some() || self.core.shutdown_requested()
    }

    /// A cross-thread handle on this reactor.
    pub fn handle(&self) -> Handle<S> {
        Handle::new(self.core.handle.clone())
    }

    /// True when this callback belongs to no source (a reactor timer or a
    /// posted closure).
    pub fn is_detached(&self) -> bool {
        self.token == NO_TOKEN
    }
}
