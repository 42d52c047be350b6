//! Drive a protocol with bytes and no socket (Twisted's `StringTransport`,
//! Netty's `EmbeddedChannel`), to test it on every split of its input.
//!
//! A harness is a real [`Reactor`] with one connection whose byte stream is
//! simulated: what the test feeds is what the connection's next `recv`
//! returns, and what the protocol writes is collected for the test. The
//! reactor does everything else as it would over a socket (the same read
//! path, buffering, batching, settling and close path), so a protocol that
//! passes here has been through the reactor's own machinery.
//!
//! ```
//! use sockloop::harness::Harness;
//! use sockloop::{Ctx, Protocol};
//!
//! /// Answers each complete line with its length.
//! struct LineLength;
//! impl Protocol for LineLength {
//!     fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
//!         let mut used = 0;
//!         while let Some(end) = data[used..].iter().position(|&b| b == b'\n') {
//!             ctx.write(format!("{}\n", end).as_bytes());
//!             used += end + 1;
//!         }
//!         used
//!     }
//! }
//!
//! let input = b"hello\nworld!\n";
//! for split in 0..=input.len() {
//!     let mut h = Harness::new(LineLength);
//!     h.feed(&input[..split]);
//!     h.feed(&input[split..]);
//!     assert_eq!(h.take_output(), b"5\n6\n");
//! }
//! ```

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use mio::{Registry, Token};

use crate::addr::Addr;
use crate::config::Config;
use crate::context::Ctx;
use crate::core::Detached;
use crate::protocol::Protocol;
use crate::reactor::Reactor;
use crate::sources::{Event, stream};
use crate::sys::Io;
use crate::transport::{ByteStream, Stream, flag};

/// One protocol instance on a simulated connection.
pub struct Harness<S: 'static = ()> {
    reactor: Reactor<S>,
    token: Token,
    peer: Rc<RefCell<Peer>>,
}

/// The far end of the simulated connection.
#[derive(Default)]
struct Peer {
    /// Bytes fed and not read yet by the reactor.
    inbox: Vec<u8>,
    /// How much of `inbox` the reactor has read.
    read: usize,
    /// The peer half-closed: once the inbox is read, `recv` says EOF.
    eof: bool,
    /// What the protocol wrote.
    outbox: Vec<u8>,
    /// How many bytes the peer takes before the test reads them (`None`:
    /// any number), like a socket's buffers.
    window: Option<usize>,
}

/// The simulated byte stream under the harness' connection.
struct SimStream {
    peer: Rc<RefCell<Peer>>,
}

impl ByteStream for SimStream {
    fn recv(&mut self, buf: &mut [u8]) -> Io {
        let mut peer = self.peer.borrow_mut();
        let Peer {
            inbox, read, eof, ..
        } = &mut *peer;
        let n = (inbox.len() - *read).min(buf.len());
        if n > 0 {
            buf[..n].copy_from_slice(&inbox[*read..*read + n]);
            *read += n;
            if *read == inbox.len() {
                inbox.clear();
                *read = 0;
            }
            Io::Done(n)
        } else if *eof {
            Io::Done(0)
        } else {
            Io::WouldBlock
        }
    }
    fn send(&mut self, buf: &[u8]) -> Io {
        self.send2(buf, &[])
    }
    fn send2(&mut self, first: &[u8], second: &[u8]) -> Io {
        let mut peer = self.peer.borrow_mut();
        let room = match peer.window {
            Some(window) => window.saturating_sub(peer.outbox.len()),
            None => usize::MAX,
        };
        if room == 0 {
            return Io::WouldBlock;
        }
        let a = first.len().min(room);
        let b = second.len().min(room - a);
        peer.outbox.extend_from_slice(&first[..a]);
        peer.outbox.extend_from_slice(&second[..b]);
        Io::Done(a + b)
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn peer_addr(&self) -> io::Result<Addr> {
        Ok(Addr::Inet(SocketAddr::from(([127, 0, 0, 1], 50000))))
    }
    fn local_addr(&self) -> io::Result<Addr> {
        Ok(Addr::Unix(None))
    }
    fn is_socket(&self) -> bool {
        true
    }
    /// The harness delivers the events itself.
    fn register(&mut self, _: &Registry, _: Token) -> io::Result<bool> {
        Ok(false)
    }
    fn deregister(&mut self, _: &Registry) -> io::Result<()> {
        Ok(())
    }
}

impl Harness<()> {
    /// Starts `protocol` (calls `connection_made`) with no shared state.
    pub fn new(protocol: impl Protocol<()>) -> Self {
        Harness::with_state((), protocol)
    }
}

impl<S: 'static> Harness<S> {
    /// Starts `protocol` with shared state `state`; the peer address is
    /// `127.0.0.1:50000`.
    pub fn with_state(state: S, protocol: impl Protocol<S>) -> Self {
        Harness::build(state, Config::default(), protocol)
            .expect("creating a reactor for the harness")
    }

    /// Starts `protocol` with shared state and limits of your choice.
    pub fn build(state: S, config: Config, protocol: impl Protocol<S>) -> io::Result<Self> {
        let mut reactor = Reactor::with_config(state, config)?;
        let peer = Rc::new(RefCell::new(Peer::default()));
        let sim = Stream::Other(Box::new(SimStream { peer: peer.clone() }));
        let token = stream::add(reactor.core_mut(), sim, Box::new(protocol), false)?;
        let mut harness = Harness {
            reactor,
            token,
            peer,
        };
        harness.finish_turn();
        Ok(harness)
    }

    /// The peer sends `data`: the connection's next reads return it, then
    /// the reactor finishes the turn (the ready list, what is left to
    /// settle). Timers run only when the test says so
    /// ([`Harness::run_due_timers`], [`Harness::advance`]). Read while the
    /// connection reads; kept for later while reading is paused.
    pub fn feed(&mut self, data: &[u8]) {
        self.peer.borrow_mut().inbox.extend_from_slice(data);
        self.readable();
    }

    /// Feeds `data` one byte per read: the harshest split there is.
    pub fn feed_bytewise(&mut self, data: &[u8]) {
        for byte in data {
            self.feed(std::slice::from_ref(byte));
        }
    }

    /// The peer half-closes: once what was fed is read, the connection
    /// reads EOF (`eof_received`).
    pub fn feed_eof(&mut self) {
        self.peer.borrow_mut().eof = true;
        self.readable();
    }

    /// Everything the protocol wrote since the last call. Reading it makes
    /// room in the peer's window (see [`Harness::set_peer_window`]), and the
    /// reactor sends what waited for it at the start of the next step.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.peer.borrow_mut().outbox)
    }

    /// Makes the simulated peer a slow reader: it takes at most `bytes` that
    /// the test has not read yet ([`Harness::take_output`]); the socket
    /// refuses the rest, which queues in the reactor as it would for a real
    /// peer (flow control, `pause_writing`, output limits). `None`, the
    /// default, takes any number.
    pub fn set_peer_window(&mut self, bytes: Option<usize>) {
        self.peer.borrow_mut().window = bytes;
    }

    /// Whether the connection was closed (and `connection_lost` called).
    pub fn is_closed(&self) -> bool {
        self.reactor
            .core()
            .stream(self.token)
            .is_none_or(|s| s.transport.has(flag::LINGERING))
    }

    /// Runs the timers that are due now, then finishes the turn.
    pub fn run_due_timers(&mut self) {
        self.begin_turn();
        self.reactor.core_mut().fire_timers();
        self.finish_turn();
    }

    /// Stops the reactor's clock (from then on it moves only by hand) and
    /// moves it forward by `by`: the timers that fall due run, and the turn
    /// finishes. Tests timeouts without waiting for them.
    pub fn advance(&mut self, by: Duration) {
        self.begin_turn();
        let core = self.reactor.core_mut();
        core.clock_mut().advance(by);
        core.fire_timers();
        self.finish_turn();
    }

    /// Runs `f` with the connection's context, as a callback would.
    pub fn with_ctx<R>(&mut self, f: impl FnOnce(&mut Ctx<'_, S>) -> R) -> R {
        self.begin_turn();
        let result = self
            .reactor
            .core_mut()
            .run(self.token, Detached, &[], "harness closure", |_, ctx| {
                f(ctx)
            })
            .unwrap_or_else(|| panic!("the closure given to Harness::with_ctx panicked"));
        self.finish_turn();
        result
    }

    /// The shared state.
    pub fn shared(&mut self) -> &mut S {
        self.reactor.shared()
    }

    /// The connection became readable: one event, as the poller would
    /// report it, then the rest of the turn.
    fn readable(&mut self) {
        self.begin_turn();
        self.reactor.dispatch(self.token, Event::READABLE);
        self.finish_turn();
    }

    /// A new turn: the clock is read afresh, and if the peer has read
    /// what filled its window, the connection is writable again.
    fn begin_turn(&mut self) {
        self.reactor.core_mut().next_turn();
        let blocked = self
            .reactor
            .core()
            .stream(self.token)
            .is_some_and(|s| s.transport.has(flag::WRITE_BLOCKED));
        let peer = self.peer.borrow();
        let room = peer.window.is_none_or(|w| peer.outbox.len() < w);
        drop(peer);
        if blocked && room {
            self.reactor.dispatch(self.token, Event::WRITABLE);
        }
    }

    /// The rest of a turn but the timers: the ready list, then settling.
    fn finish_turn(&mut self) {
        self.reactor.run_ready();
        self.reactor.core_mut().settle_all();
    }
}
