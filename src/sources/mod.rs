//! The kinds of source a reactor watches, one file each: what a kind is, how
//! it registers with the poller, what it does when the poller reports it
//! ready, and how it closes.
//!
//! - `stream.rs`: stream connections (TCP, Unix, pipes), accepted or outgoing;
//!   `closing.rs`: how they close (at once, or lingering first);
//! - `listener.rs`: TCP and Unix listeners;
//! - `datagram.rs`: UDP and Unix datagram sockets;
//! - `signals.rs`: Unix signals;
//! - `fd.rs`: raw fds (stdin, a child's pipes), which become streams.

mod closing;
pub(crate) mod datagram;
pub(crate) mod fd;
pub(crate) mod listener;
pub(crate) mod signals;
pub(crate) mod stream;

use std::io;

use log::trace;
use mio::{Registry, Token};

use crate::addr::Addr;
use crate::core::{Core, show};

pub(crate) use closing::{close_now, linger_over};
pub(crate) use stream::StreamSource;

/// Everything that can sit in the reactor's table.
pub(crate) enum Source<S> {
    Stream(StreamSource<S>),
    Listener(Box<listener::Listener<S>>),
    Datagram(Box<datagram::Datagram<S>>),
    Signals(Box<signals::SignalSource<S>>),
}

/// What the poller reported for a source, as bits (one register on the
/// hot path).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Event(u8);

impl Event {
    const READ: u8 = 1;
    const WRITE: u8 = 2;
    const CLOSED: u8 = 4;

    /// What the ready list replays: "read on".
    pub(crate) const READABLE: Event = Event(Event::READ);
    /// The socket takes output again.
    pub(crate) const WRITABLE: Event = Event(Event::WRITE);

    /// An event with these readinesses; `closed`: a hang-up or an error
    /// came with it.
    #[inline(always)]
    pub(crate) fn new(readable: bool, writable: bool, closed: bool) -> Event {
        Event(readable as u8 | (writable as u8) << 1 | (closed as u8) << 2)
    }

    #[inline(always)]
    pub(crate) fn is_readable(self) -> bool {
        self.0 & Event::READ != 0
    }

    #[inline(always)]
    pub(crate) fn is_writable(self) -> bool {
        self.0 & Event::WRITE != 0
    }

    /// A hang-up or an error came with it.
    #[inline(always)]
    pub(crate) fn is_closed(self) -> bool {
        self.0 & Event::CLOSED != 0
    }
}

impl<S: 'static> Source<S> {
    /// Registers with the poller under `token`. Returns true for a stream the
    /// poller cannot watch, which is then always ready.
    pub(crate) fn register(&mut self, registry: &Registry, token: Token) -> io::Result<bool> {
        match self {
            Source::Stream(s) => s.transport.stream.register(registry, token),
            Source::Listener(l) => l.register(registry, token).map(|()| false),
            Source::Datagram(d) => d.register(registry, token).map(|()| false),
            Source::Signals(s) => s.register(registry, token).map(|()| false),
        }
    }

    /// Undoes [`Source::register`], before the fd is closed, as mio asks.
    /// Errors only mean it was never registered (a file the poller refused).
    pub(crate) fn deregister(&mut self, registry: &Registry) {
        let _ = match self {
            Source::Stream(s) => s.deregister(registry),
            Source::Listener(l) => l.deregister(registry),
            Source::Datagram(d) => d.deregister(registry),
            Source::Signals(s) => s.deregister(registry),
        };
    }

    #[inline(always)]
    pub(crate) fn as_stream_mut(&mut self) -> Option<&mut StreamSource<S>> {
        match self {
            Source::Stream(s) => Some(s),
            _ => None,
        }
    }
}

/// Hands one readiness event to its source; `buf` is the loop's read
/// buffer. Streams come first: most events of a busy server are theirs.
#[inline(always)]
pub(crate) fn dispatch<S: 'static>(core: &mut Core<S>, buf: &mut [u8], token: Token, event: Event) {
    if !stream::on_event(core, buf, token, event) {
        dispatch_other(core, buf, token, event);
    }
}

#[inline(never)]
fn dispatch_other<S: 'static>(core: &mut Core<S>, buf: &mut [u8], token: Token, event: Event) {
    match core.source(token) {
        Some(Source::Listener(_)) => listener::on_event(core, token),
        Some(Source::Datagram(_)) => datagram::on_event(core, buf, token, event),
        Some(Source::Signals(_)) => signals::on_event(core, token),
        Some(Source::Stream(_)) => {}
        // A stale event for a source closed earlier in this turn: the
        // generation in the token no longer matches, so it is dropped here.
        None => trace!("stale event for {}", show(token)),
    }
}

/// Calls `connection_made` for a source added while a callback ran.
pub(crate) fn connection_made<S: 'static>(core: &mut Core<S>, token: Token) {
    match core.source(token) {
        Some(Source::Stream(_)) => stream::made(core, token),
        Some(Source::Datagram(_)) => datagram::made(core, token),
        _ => {}
    }
}

/// The name of the protocol of `token` (a stream or a datagram socket),
/// for the logs; empty for any other source, or one that is gone.
pub(crate) fn protocol_name<S: 'static>(core: &Core<S>, token: Token) -> &'static str {
    match core.source(token) {
        Some(Source::Stream(s)) => s.protocol_name(),
        Some(Source::Datagram(d)) => d.protocol_name(),
        _ => None,
    }
    .unwrap_or("")
}

/// The local address of any socket source.
pub(crate) fn local_addr<S: 'static>(core: &Core<S>, token: Token) -> io::Result<Addr> {
    match core.source(token) {
        Some(Source::Listener(l)) => l.local_addr(),
        Some(Source::Datagram(d)) => d.local_addr(),
        Some(Source::Stream(s)) => s.transport.stream.local_addr(),
        _ => Err(io::Error::new(
            io::ErrorKind::NotFound,
            "no socket with this token",
        )),
    }
}
