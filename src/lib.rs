//! # sockloop
//!
//! A small, single-threaded event-loop reactor on [mio]: the thing between
//! "a `select()` loop in a tutorial" and "an async runtime".
//!
//! One [`Reactor`] owns one poller and a slab of sources: TCP and Unix
//! listeners, stream connections (accepted or outgoing), UDP and Unix datagram
//! sockets, raw fds such as stdin or a child's pipes, and Unix signals. Each
//! turn it waits for readiness, then calls the source's protocol, a state
//! machine in asyncio's vocabulary:
//!
//! ```text
//! connection_made -> data_received* -> eof_received? -> connection_lost
//! ```
//!
//! Callbacks get a [`Ctx`] to write (buffered, never blocking), close, set
//! timers, reach other connections and the reactor-wide shared state.
//!
//! ```no_run
//! use sockloop::{Ctx, Protocol, Reactor};
//!
//! struct Echo;
//! impl Protocol for Echo {
//!     fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
//!         ctx.write(data);
//!         data.len()
//!     }
//! }
//!
//! fn main() -> std::io::Result<()> {
//!     let mut reactor = Reactor::new()?;
//!     let listener = reactor.listen_tcp("127.0.0.1:8888", || Echo)?;
//!     println!("listening on {}", reactor.local_addr(listener)?);
//!     reactor.shutdown_on_signals()?;
//!     reactor.run()
//! }
//! ```
//!
//! ## How it behaves
//! - **Edge-triggered, registered once.** Every stream is registered for
//!   reading and writing when it is added and never re-registered. Reads go
//!   until `WouldBlock` (on Linux's epoll, a short read counts too unless a
//!   hang-up came with it); what a callback writes is sent in
//!   one `send` when it returns (a write of 8 KiB or more goes out at once,
//!   together with what was batched before it, rather than being copied;
//!   echoing the input sends it from where it was read), and only what the
//!   socket refuses waits for the next writable edge. No `epoll_ctl` on the
//!   hot path.
//! - **No allocation per message.** A connection reads into a shared buffer
//!   and owns buffers only while bytes wait in them; their storage comes from
//!   a pool.
//! - **Fair.** A source gets a bounded share per turn ([`Config::read_budget`],
//!   [`Config::accept_budget`]); one that stops before `WouldBlock` stays on a
//!   ready list, since no second edge would come.
//! - **Bounded.** Output beyond the high watermark pauses reading from that
//!   peer; beyond [`Config::max_output`] it costs the peer its connection. A
//!   connection limit, EMFILE back-off, idle timeouts.
//! - **Isolated.** A panic in a protocol callback closes only its connection;
//!   a panic in a timer is logged and the loop goes on.
//! - **Nestable.** A reactor runs in another event loop through its fd and
//!   [`Reactor::backend_timeout`] (the rule is there; the guide's chapter
//!   14 shows it in a bare `poll(2)` loop and in tokio).
//!
//! Logging goes through [`log`]: `info` for listen, accept and close, `debug`
//! for peer errors, and at `trace` one line per poll turn and per event, so
//! `RUST_LOG=sockloop=trace` shows the multiplexing as it happens.
#![deny(missing_docs)]

mod addr;
#[cfg(not(mio_unsupported_force_poll_poll))]
mod alarm;
mod batch;
mod buffer;
pub mod codec;
mod config;
mod context;
mod core;
pub mod guide;
mod handle;
pub mod harness;
mod protocol;
mod reactor;
mod sendfile;
mod sources;
mod sys;
mod timer;
#[cfg(feature = "tls")]
pub mod tls;
mod transport;
mod workers;

pub use addr::Addr;
pub use config::Config;
pub use context::{Connection, Ctx};
pub use handle::Handle;
pub use mio::Token;
pub use protocol::{DatagramProtocol, Protocol};
pub use reactor::Reactor;
pub use timer::TimerId;
pub use workers::{Workers, reuseport_listener};

/// The README's code samples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
