//! Stream connections: accepted, outgoing, or over a pipe.
//!
//! A stream is registered once for both directions, edge-triggered, and
//! never re-registered. When the poller reports it readable the reactor
//! reads until `WouldBlock` (or, on Linux's epoll, a short read, which means
//! the same there and saves the extra `read` that would only say so; see
//! [`SHORT_READ_DRAINS`]), handing each chunk to the protocol's
//! `data_received`. When it reports it writable, the
//! output the socket refused earlier goes out. Stopping early (a spent read
//! budget) puts the connection on the ready list, because no second edge
//! will come for what was left unread.
//!
//! Most events of a busy server are the same: data arrived on a connection
//! with nothing queued for it. That case is the head of the one read path:
//! one lookup, one `recv` into the shared buffer, the callback, and the
//! callback's writes in one `send`. Everything unusual (leftover input, a
//! hang-up, a paused reader, a backlog, a connect in progress) is a cold
//! branch off it.

use std::io;
use std::mem;
use std::net::SocketAddr;
use std::path::Path;

use log::{debug, error, trace, warn};
use mio::net::{TcpStream, UnixStream};
use mio::{Registry, Token};

use super::{Event, Source};
use crate::batch::Batch;
use crate::buffer::Buffer;
use crate::context::Ctx;
use crate::core::{Core, Lend, Owned, TimerKind, show};
use crate::protocol::Protocol;
use crate::sys::Io;
use crate::transport::{Stream, Transport, flag};

/// A stream connection in the table: its transport and its protocol.
pub(crate) struct StreamSource<S> {
    pub(crate) transport: Transport,
    /// `None` only while one of its callbacks runs (the reactor lends it out
    /// so the callback can reach every other connection through the
    /// context) and after it was handed to `connection_lost`.
    protocol: Option<Box<dyn Protocol<S>>>,
}

impl<S: 'static> StreamSource<S> {
    /// Whether the connection is open: established and no close begun.
    pub(crate) fn is_open(&self) -> bool {
        self.transport.has(flag::MADE) && !self.transport.has(flag::CLOSED)
    }

    /// Lends the protocol out for a callback. When nothing is queued and
    /// nothing asked to stop output, the callback's writes may join the batch
    /// without a lookup: the batch is armed for this connection (`core/write.rs`).
    #[inline(always)]
    fn lend(&mut self, token: Token, batch: &mut Batch) -> Option<Box<dyn Protocol<S>>> {
        let protocol = self.protocol.take()?;
        let t = &self.transport;
        // A layered stream (TLS) may hold output of its own: no shortcut.
        if t.output_len() == 0
            && !t.has(flag::CONNECTING | flag::REFUSES_OUTPUT | flag::DIRTY | flag::LAYERED)
        {
            batch.arm(token);
        }
        Some(protocol)
    }

    pub(crate) fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        if self.transport.has(flag::ALWAYS_READY) {
            return Ok(()); // the poller refused it: nothing to undo
        }
        self.transport.stream.deregister(registry)
    }
}

/// A stream protocol goes back into its connection's slot after a callback.
impl<S: 'static> Lend<S> for Box<dyn Protocol<S>> {
    #[inline(always)]
    fn give_back(self, source: &mut Source<S>) {
        if let Source::Stream(s) = source {
            // The slot was emptied when the protocol was lent out: nothing
            // there to drop.
            mem::forget(s.protocol.replace(self));
        }
    }

    /// A panic costs only this connection, logged with its peer address (as
    /// socketserver's `handle_error` would).
    #[cold]
    fn panicked(core: &mut Core<S>, token: Token, what: &str, message: &str) {
        error!(
            "protocol callback {what} panicked for {}: {message}; closing that connection",
            core.describe(token)
        );
        core.abort(token, io::Error::other("protocol callback panicked"));
    }
}

// ----- adding -------------------------------------------------------------------

/// Registers an accepted, connecting or pipe stream. An established one gets
/// `connection_made` at the next settle: now, or as soon as the running
/// callback returns.
pub(crate) fn add<S: 'static>(
    core: &mut Core<S>,
    stream: Stream,
    protocol: Box<dyn Protocol<S>>,
    connecting: bool,
) -> io::Result<Token> {
    if let (Stream::Tcp(s), true) = (&stream, core.config().nodelay) {
        // Best effort: a socket that already failed reports it on first use.
        let _ = s.set_nodelay(true);
    }
    let flags = if connecting {
        flag::CONNECTING
    } else {
        flag::MADE
    };
    add_with(core, stream, protocol, flags)
}

/// Registers a stream with the given flags: `MADE` (it gets
/// `connection_made` at the next settle), `CONNECTING`, or a TLS layer's
/// `HANDSHAKING` (it gets it once the handshake is done).
pub(crate) fn add_with<S: 'static>(
    core: &mut Core<S>,
    stream: Stream,
    protocol: Box<dyn Protocol<S>>,
    flags: u32,
) -> io::Result<Token> {
    let source = StreamSource {
        transport: Transport::new(stream, flags),
        protocol: Some(protocol),
    };
    let token = core.insert(Source::Stream(source))?;
    if flags & flag::MADE != 0 {
        core.owe_made(token);
    }
    Ok(token)
}

/// Opens an outgoing TCP connection; the protocol hears how it went.
pub(crate) fn connect_tcp<S: 'static>(
    core: &mut Core<S>,
    addr: SocketAddr,
    protocol: Box<dyn Protocol<S>>,
) -> io::Result<Token> {
    let stream = TcpStream::connect(addr)?;
    add(core, Stream::Tcp(stream), protocol, true)
}

/// Opens an outgoing Unix stream connection.
pub(crate) fn connect_unix<S: 'static>(
    core: &mut Core<S>,
    path: &Path,
    protocol: Box<dyn Protocol<S>>,
) -> io::Result<Token> {
    let stream = UnixStream::connect(path)?;
    add(core, Stream::Other(Box::new(stream)), protocol, true)
}

/// Calls `connection_made`.
pub(crate) fn made<S: 'static>(core: &mut Core<S>, token: Token) {
    call(core, token, "connection_made", |p, ctx| {
        p.connection_made(ctx)
    });
}

/// Runs one of the protocol's callbacks other than `data_received`.
pub(crate) fn call<S: 'static>(
    core: &mut Core<S>,
    token: Token,
    what: &'static str,
    f: impl FnOnce(&mut dyn Protocol<S>, &mut Ctx<'_, S>),
) {
    let Some(r) = core.reading(token) else {
        return;
    };
    let Some(protocol) = r.stream.lend(token, r.batch) else {
        return;
    };
    core.run(token, protocol, &[], what, |p, ctx| f(&mut **p, ctx));
}

// ----- events -------------------------------------------------------------------

/// Handles one readiness event if `token` is a stream; returns false if it
/// is not. The common event goes straight into the read path.
#[inline(always)]
pub(crate) fn on_event<S: 'static>(
    core: &mut Core<S>,
    buf: &mut [u8],
    token: Token,
    event: Event,
) -> bool {
    read(core, buf, token, event)
}

/// A hang-up, a connect in progress, or a writable socket with output
/// waiting for it.
#[cold]
#[inline(never)]
fn unusual_event<S: 'static>(core: &mut Core<S>, buf: &mut [u8], token: Token, event: Event) {
    if event.is_closed() {
        on_hang_up(core, token);
    }
    if event.is_writable() || event.is_closed() {
        on_writable(core, token);
    }
    if event.is_readable() || event.is_closed() {
        read(core, buf, token, Event::READABLE);
    }
}

/// The poller reported a hang-up or an error along with (or instead of)
/// readability. Remember it, because a short read no longer proves the
/// socket drained: the EOF may be right behind the data. A reset is fatal
/// even while reading is paused, else a paused connection would never learn
/// that its peer is gone.
fn on_hang_up<S: 'static>(core: &mut Core<S>, token: Token) {
    let Some(s) = core.stream_mut(token) else {
        return;
    };
    s.transport.set(flag::HUP);
    if s.transport.has(flag::CONNECTING) {
        // finish_connect reads the socket error itself (reading it clears it).
        return;
    }
    if let Ok(Some(e)) = s.transport.stream.take_error() {
        debug!("{}: {e}", core.describe(token));
        core.abort(token, e);
        core.settle_all();
    }
}

fn on_writable<S: 'static>(core: &mut Core<S>, token: Token) {
    let Some(s) = core.stream_mut(token) else {
        return;
    };
    if s.transport.has(flag::CONNECTING) {
        return finish_connect(core, token);
    }
    s.transport.clear(flag::WRITE_BLOCKED);
    if s.transport.queued() > 0 || s.transport.has(flag::FILE) {
        core.mark_dirty(token);
        core.settle_all();
    }
}

/// An outgoing connection became writable (or failed): find out which.
fn finish_connect<S: 'static>(core: &mut Core<S>, token: Token) {
    let Some(s) = core.stream_mut(token) else {
        return;
    };
    match s.transport.stream.connect_outcome() {
        Ok(()) => {
            s.transport.clear(flag::CONNECTING);
            #[cfg(feature = "tls")]
            if s.transport.has(flag::HANDSHAKING) {
                debug!("{} connected; TLS handshake", core.describe(token));
                crate::tls::handshake::connected(core, token);
                return;
            }
            s.transport.set(flag::MADE);
            debug!("{} connected", core.describe(token));
            made(core, token);
        }
        // Spurious wake-up: still connecting.
        Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
        Err(e) => {
            debug!("{}: connect failed: {e}", show(token));
            failed(core, token, e);
        }
    }
}

/// An outgoing connection that will never be made: removed, and its
/// protocol told why.
pub(crate) fn failed<S: 'static>(core: &mut Core<S>, token: Token, error: io::Error) {
    if let Some(Source::Stream(mut s)) = core.remove(token) {
        if let Some(protocol) = s.protocol.take() {
            core.run(
                token,
                Owned(protocol),
                &[],
                "connection_failed",
                |p, ctx| p.0.connection_failed(ctx, error),
            );
        }
    }
    core.settle_all();
}

/// The reactor shuts down before an outgoing connection was established.
pub(crate) fn give_up_connecting<S: 'static>(core: &mut Core<S>, token: Token) {
    let error = io::Error::new(
        io::ErrorKind::Interrupted,
        "the reactor shut down before the connection was established",
    );
    failed(core, token, error);
}

// ----- the read path ------------------------------------------------------------

/// Whether a short read may be taken to mean "drained", without the `read`
/// that would only say `WouldBlock`. mio promises an edge-triggered event
/// only after `WouldBlock`, and calls a reported hang-up a hint. Linux's
/// epoll promises more: epoll(7) says a short read on a stream exhausts it,
/// and whatever arrives later (bytes or the peer's FIN) is a new edge. Its
/// one exception, a FIN that came with the last bytes and so with the same
/// edge, is reported there as `EPOLLRDHUP`, which sets the `HUP` flag that
/// makes the reactor read on to the EOF. Elsewhere (kqueue, and mio's
/// portable `poll(2)` backend, which re-arms a socket only when an I/O call
/// returns `WouldBlock`) the reactor reads until `WouldBlock`.
const SHORT_READ_DRAINS: bool = cfg!(all(
    any(target_os = "linux", target_os = "android"),
    not(mio_unsupported_force_poll_poll)
));

/// Any of these and the read takes a cold branch first.
const UNUSUAL: u32 = flag::NOT_READING | flag::LINGERING | flag::REDELIVER | flag::HANDSHAKING;

/// Reads until `WouldBlock`, a short read, EOF, an error or the read
/// budget, handing each chunk to the protocol. It first sees to the
/// `event` (what the poller reported): the common one, data on a connection
/// with nothing queued, goes on into the read with the lookup already
/// made; anything else takes the cold branch. `buf` is the loop's read
/// buffer, where a connection with no leftover input reads: it needs no
/// buffer of its own. Returns false if `token` is not a stream.
#[inline(always)]
fn read<S: 'static>(core: &mut Core<S>, buf: &mut [u8], token: Token, mut event: Event) -> bool {
    let mut first = true;
    let mut total = 0;
    let tracing = core.tracing();
    loop {
        let Some(r) = core.reading(token) else {
            return !first;
        };
        first = false;
        let t = &mut r.stream.transport;
        if event.is_closed()
            || (event.is_writable()
                && (t.has(flag::CONNECTING | flag::FILE | flag::LAYERED) || t.output_len() > 0))
        {
            unusual_event(core, buf, token, event);
            return true;
        }
        if event.is_writable() {
            t.clear(flag::WRITE_BLOCKED);
        }
        if !event.is_readable() {
            return true;
        }
        // Later rounds only read on.
        event = Event::READABLE;
        if t.has(UNUSUAL) {
            match before_reading(core, buf, token) {
                Before::Read => continue,
                Before::Stop => return true,
            }
        }
        // A short read means "drained" only where the poller promises it
        // (SHORT_READ_DRAINS), and there only while no hang-up is pending.
        let read_to_end = !SHORT_READ_DRAINS || t.has(flag::ALWAYS_READY | flag::HUP);
        let from_buf = !t.has_input();
        let (outcome, room) = if from_buf {
            (t.stream.recv(buf), buf.len())
        } else {
            t.read_into_input(r.pool)
        };
        match outcome {
            Io::Done(0) => {
                on_eof(core, token);
                return true;
            }
            Io::Done(n) => {
                if tracing {
                    trace!("{} read {n} bytes", show(token));
                }
                if let Some(extra) = t.extra.as_mut() {
                    extra.last_active = r.clock.now();
                }
                let protocol = r.stream.lend(token, r.batch);
                if from_buf {
                    deliver_read(core, token, protocol, &buf[..n]);
                } else {
                    let input = r.stream.transport.take_input();
                    deliver_buffer(core, token, protocol, input);
                }
                if n < room && !read_to_end {
                    return true;
                }
                // The read budget is spent: others get their turn, and
                // this connection reads on from the ready list.
                total += n;
                if total >= core.config().read_budget {
                    core.push_ready(token);
                    return true;
                }
            }
            Io::WouldBlock => return true,
            Io::Failed(e) => {
                on_read_error(core, token, e);
                return true;
            }
        }
    }
}

enum Before {
    /// Go on reading.
    Read,
    /// Stop here.
    Stop,
}

/// The cold branch of the read path: a lingering close drains, resumed
/// reading delivers the input kept from before, and a connection that does
/// not read now stops.
#[cold]
#[inline(never)]
fn before_reading<S: 'static>(core: &mut Core<S>, buf: &mut [u8], token: Token) -> Before {
    let Some(s) = core.stream_mut(token) else {
        return Before::Stop;
    };
    let t = &mut s.transport;
    if t.has(flag::LINGERING) {
        drain_lingering(core, buf, token);
        return Before::Stop;
    }
    #[cfg(feature = "tls")]
    if t.has(flag::HANDSHAKING) && !t.has(flag::CONNECTING | flag::CLOSED) {
        return if crate::tls::handshake::step(core, token) {
            Before::Read
        } else {
            Before::Stop
        };
    }
    if t.has(flag::REDELIVER) {
        t.clear(flag::REDELIVER);
        if t.has_input() && t.wants_read() {
            let input = t.take_input();
            let Some(r) = core.reading(token) else {
                return Before::Stop;
            };
            let protocol = r.stream.lend(token, r.batch);
            deliver_buffer(core, token, protocol, input);
        }
        return Before::Read;
    }
    if t.wants_read() {
        Before::Read
    } else {
        Before::Stop
    }
}

/// Hands `data`, just read into the loop's buffer, to `protocol` (already
/// lent out); what it leaves unconsumed is kept in the connection's own
/// buffer.
#[inline(always)]
fn deliver_read<S: 'static>(
    core: &mut Core<S>,
    token: Token,
    protocol: Option<Box<dyn Protocol<S>>>,
    data: &[u8],
) {
    // No protocol: the connection is being closed; the bytes are dropped.
    let Some(protocol) = protocol else {
        return;
    };
    let n = data.len();
    let used = core
        .run(token, protocol, data, "data_received", |p, ctx| {
            p.data_received(ctx, data)
        })
        .unwrap_or(n);
    if used < n {
        keep_leftover(core, token, &data[used..]);
    }
}

/// Hands the connection's buffered input to the protocol (after more
/// arrived, or reading resumed), keeping what it leaves unconsumed.
fn deliver_buffer<S: 'static>(
    core: &mut Core<S>,
    token: Token,
    protocol: Option<Box<dyn Protocol<S>>>,
    input: Buffer,
) {
    let used = match protocol {
        Some(protocol) => {
            let data = input.as_slice();
            core.run(token, protocol, data, "data_received", |p, ctx| {
                p.data_received(ctx, data)
            })
        }
        None => None,
    };
    let Some(r) = core.reading(token) else {
        return;
    };
    let t = &mut r.stream.transport;
    t.restore_input(r.pool, input, used.unwrap_or(usize::MAX));
    if t.has(flag::CLOSED) {
        t.drop_input(r.pool);
    }
    check_max_input(core, token);
}

/// Keeps what `data_received` left unconsumed of the loop's buffer, unless
/// the connection is being closed.
#[cold]
fn keep_leftover<S: 'static>(core: &mut Core<S>, token: Token, bytes: &[u8]) {
    let Some(r) = core.reading(token) else {
        return;
    };
    if !r.stream.transport.has(flag::CLOSED) {
        r.stream.transport.keep_input(r.pool, bytes);
        check_max_input(core, token);
    }
}

/// A peer whose unconsumed input passed `max_input` is cut off.
fn check_max_input<S: 'static>(core: &mut Core<S>, token: Token) {
    let max_input = core.config().max_input;
    if core
        .stream(token)
        .is_some_and(|s| s.transport.input().len() > max_input)
    {
        let e = io::Error::new(
            io::ErrorKind::InvalidData,
            format!("more than {max_input} bytes of unconsumed input"),
        );
        warn!("{}: {e}; closing it", core.describe(token));
        core.abort(token, e);
    }
}

/// The peer sent EOF: no more reading; the protocol decides what follows.
#[cold]
#[inline(never)]
fn on_eof<S: 'static>(core: &mut Core<S>, token: Token) {
    trace!("{} read EOF", show(token));
    if let Some(r) = core.reading(token) {
        r.stream.transport.set(flag::EOF);
        r.stream.transport.release_input(r.pool);
    }
    call(core, token, "eof_received", |p, ctx| p.eof_received(ctx));
}

/// A read failed (a reset, say): the connection is closed with that error.
#[cold]
#[inline(never)]
fn on_read_error<S: 'static>(core: &mut Core<S>, token: Token, e: io::Error) {
    debug!("{}: read error: {e}", core.describe(token));
    core.abort(token, e);
    core.settle_all();
}

// ----- closing ------------------------------------------------------------------

/// Closes a connection: removes it from the table and the poller and calls
/// `connection_lost` exactly once. A socket closed in good order whose peer
/// may still be sending lingers first (see `Config::linger_timeout`).
pub(crate) fn close_now<S: 'static>(core: &mut Core<S>, token: Token, reason: Option<io::Error>) {
    let Some(s) = core.stream(token) else {
        return;
    };
    let made = s.transport.has(flag::MADE);
    let is_socket = s.transport.is_socket();
    let linger = reason.is_none() && is_socket && !s.transport.has(flag::EOF);
    // Sockets are the news at info level; pipes (stdin, a child's output) are detail.
    let level = if is_socket {
        log::Level::Info
    } else {
        log::Level::Debug
    };
    if log::log_enabled!(level) {
        let describe = core.describe(token);
        match &reason {
            None => log::log!(level, "{describe} closed"),
            Some(e) => log::log!(level, "{describe} closed: {e}"),
        }
    }
    if reason.is_none() {
        // A TLS layer says goodbye (close_notify) before the socket closes.
        if let Some(s) = core.stream_mut(token) {
            s.transport.stream.finish();
        }
    }
    if linger {
        return start_lingering(core, token, made);
    }
    let Some(Source::Stream(mut s)) = core.remove(token) else {
        return;
    };
    if let Some(id) = s.transport.extra.as_ref().and_then(|x| x.idle_timer) {
        core.cancel_timer(id);
    }
    let protocol = s.protocol.take();
    s.transport.release_buffers(core.pool());
    drop(s);
    if let (true, Some(protocol)) = (made, protocol) {
        lost(core, token, protocol, reason);
    }
}

/// Closing a socket with unread input makes the kernel send a reset, which
/// can destroy our last reply before the peer reads it. So the protocol is
/// told the connection is lost, our side is shut down, and what the peer
/// still sends is read and discarded until its EOF or the linger timeout
/// (nginx's lingering close).
fn start_lingering<S: 'static>(core: &mut Core<S>, token: Token, made: bool) {
    let Some(r) = core.reading(token) else {
        return;
    };
    let t = &mut r.stream.transport;
    t.set(flag::LINGERING);
    let _ = t.stream.shutdown_write();
    t.drop_input(r.pool);
    let protocol = r.stream.protocol.take();
    if let (true, Some(protocol)) = (made, protocol) {
        lost(core, token, protocol, None);
    }
    let deadline = core.linger_deadline(core.config().linger_timeout);
    core.add_timer_at(deadline, TimerKind::Linger(token));
    drain_lingering(core, &mut [0; 4096], token);
}

fn lost<S: 'static>(
    core: &mut Core<S>,
    token: Token,
    protocol: Box<dyn Protocol<S>>,
    reason: Option<io::Error>,
) {
    core.run(token, Owned(protocol), &[], "connection_lost", |p, ctx| {
        p.0.connection_lost(ctx, reason)
    });
}

/// Reads (into `buf`) and discards what a lingering peer still sends;
/// closes for good on its EOF or error.
fn drain_lingering<S: 'static>(core: &mut Core<S>, buf: &mut [u8], token: Token) {
    let Some(s) = core.stream_mut(token) else {
        return;
    };
    loop {
        match s.transport.stream.recv(buf) {
            Io::Done(0) | Io::Failed(_) => break,
            Io::Done(_) => continue,
            Io::WouldBlock => return,
        }
    }
    core.remove(token);
}

/// The linger timeout passed: close for good.
pub(crate) fn linger_over<S: 'static>(core: &mut Core<S>, token: Token) {
    if core
        .stream(token)
        .is_some_and(|s| s.transport.has(flag::LINGERING))
    {
        core.remove(token);
    }
}
