//! Drive a protocol with bytes and no socket (Twisted's `StringTransport`,
//! Netty's `EmbeddedChannel`), to test it on every split of its input.
//!
//! The harness runs the protocol through the reactor's own machinery (the
//! same buffering, the same close path), with an in-memory stream in place of
//! the socket.
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

use mio::{Poll, Token, Waker};

use crate::addr::Addr;
use crate::config::Config;
use crate::conn::{MemoryStream, Stream, flag};
use crate::context::Ctx;
use crate::core::{Core, WAKER, conn_in};
use crate::handle;
use crate::protocol::Protocol;

/// One protocol instance on an in-memory connection.
pub struct Harness<S: 'static = ()> {
    core: Core<S>,
    token: Token,
    written: Rc<RefCell<Vec<u8>>>,
    // The core's registry belongs to this poller; keep it alive.
    _poll: Poll,
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
            .expect("creating a poller for the harness")
    }

    /// Starts `protocol` with shared state and limits of your choice.
    pub fn build(state: S, config: Config, protocol: impl Protocol<S>) -> io::Result<Self> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        let registry = poll.registry().try_clone()?;
        let mut core = Core::new(
            registry,
            state,
            config,
            std::sync::Arc::new(handle::Inner::new(waker)),
        );
        let written = Rc::new(RefCell::new(Vec::new()));
        let peer = Addr::Inet(SocketAddr::from(([127, 0, 0, 1], 50000)));
        let stream = Stream::Memory(Box::new(MemoryStream {
            written: written.clone(),
            peer,
        }));
        let token = core.add_stream(stream, Box::new(protocol), false)?;
        core.settle_all();
        Ok(Harness {
            core,
            token,
            written,
            _poll: poll,
        })
    }

    /// Delivers `data` as if one read had returned it: appended to what the
    /// protocol left unconsumed, then `data_received`. Ignored once the
    /// connection is closed or while reading is paused (it is then buffered).
    pub fn feed(&mut self, data: &[u8]) {
        self.core.now.set(None); // a new turn: `Ctx::now` reads the clock again
        let Some(conn) = conn_in(&mut self.core.entries, self.token) else {
            return;
        };
        if conn.has(flag::EOF | flag::CLOSING | flag::ABORT) {
            return;
        }
        conn.input.extend(&mut self.core.pool, data);
        if conn.wants_read() || conn.has(flag::WRITE_PAUSED) {
            self.core.deliver(self.token);
        }
        self.core.settle_all();
    }

    /// Feeds `data` one byte per read: the harshest split there is.
    pub fn feed_bytewise(&mut self, data: &[u8]) {
        for byte in data {
            self.feed(std::slice::from_ref(byte));
        }
    }

    /// The peer half-closes: calls `eof_received`.
    pub fn feed_eof(&mut self) {
        self.core.now.set(None); // a new turn: `Ctx::now` reads the clock again
        let Some(conn) = self.core.conn_mut(self.token) else {
            return;
        };
        conn.set(flag::EOF);
        self.core.invoke(self.token, |p, ctx| p.eof_received(ctx));
        self.core.settle_all();
    }

    /// Everything the protocol wrote since the last call.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut *self.written.borrow_mut())
    }

    /// Whether the connection was closed (and `connection_lost` called).
    pub fn is_closed(&self) -> bool {
        self.core.conn(self.token).is_none()
    }

    /// Runs timers that are due now (for protocols that set timers with
    /// short delays).
    pub fn run_due_timers(&mut self) {
        self.core.now.set(None); // a new turn: `Ctx::now` reads the clock again
        self.core.fire_timers();
        self.core.settle_all();
    }

    /// Runs `f` with the connection's context, as a callback would.
    pub fn with_ctx<R>(&mut self, f: impl FnOnce(&mut Ctx<'_, S>) -> R) -> R {
        self.core.now.set(None); // a new turn: `Ctx::now` reads the clock again
        let result = f(&mut Ctx::new(&mut self.core, self.token, &[]));
        self.core.flush_batch();
        self.core.mark_dirty(self.token);
        self.core.settle_all();
        result
    }

    /// The shared state.
    pub fn shared(&mut self) -> &mut S {
        &mut self.core.shared
    }
}
