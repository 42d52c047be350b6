//! The guide: learning I/O multiplexing, from a blocking socket to the
//! reactor.
//!
//! Sixteen short chapters for people who learned sockets from the Python
//! tutorials, each built around a program you can run and an experiment
//! whose result you can see. They start where the tutorials start (a
//! blocking server, threads, `select`), reach the reactor this crate is,
//! and go on to what the tutorials leave out: their own clients' framing,
//! datagrams, flow control, time, blocking work, clients, and nesting the
//! reactor in another event loop.
//!
//! 1. [A blocking echo server](blocking): one client at a time.
//! 2. [A thread per client](threads): it works; what 10,000 idle clients
//!    cost.
//! 3. [Non-blocking sockets and the busy loop](nonblocking): `WouldBlock`,
//!    and why spinning burns a core.
//! 4. [select, poll, epoll](select_poll_epoll): readiness, interest sets,
//!    the textbook server and its bug, the 1024 limit.
//! 5. [Level and edge triggering](edge_triggering): what epoll does, what
//!    mio promises, and the bugs in between.
//! 6. [The reactor](reactor): tokens and the slab, buffers, write interest,
//!    protocols, and a trace of a real run.
//! 7. [Framing](framing): why `recv(1024)` is not a message.
//! 8. [The tutorials' clients](tutorial_clients): why they hang, and the
//!    framing they need.
//! 9. [Datagrams](datagrams): UDP keeps the boundaries TCP does not.
//! 10. [Flow control and limits](flow_control): a client that never reads,
//!     watermarks, connection limits, `EMFILE`.
//! 11. [Timers and shutdown](timers_shutdown): `call_later`, idle timeouts,
//!     graceful shutdown from another thread.
//! 12. [Never block the loop](blocking_work): slow work on a thread, the
//!     answer posted back.
//! 13. [The reactor as a client](clients): outgoing connections, and
//!     half-close.
//! 14. [Nesting the reactor in another loop](embedding): its fd, its
//!     deadline, in a bare `poll(2)` loop and in tokio.
//! 15. [From socketserver to sockloop](socketserver): the mapping, name by
//!     name, and when to use sockloop, tokio or calloop.
//! 16. [TLS in a reactor](tls): why a sans-I/O library fits, where the
//!     handshake sits, STARTTLS.
//!
//! The chapters are Markdown files in `docs/guide/` (read them there on a
//! forge); this module includes them so that they render here too and
//! every Rust snippet in them is compiled and run as a doctest. Their
//! diagrams are SVG files in `docs/guide/img/`; the build script (`build.rs`)
//! puts each one into the chapter here as a `data:` URL, where the text
//! shows it. The Python programs the chapters run are in `docs/guide/py/`.
//!
//! Each chapter ends with a `[next]` link to the following file; the
//! definition placed before each chapter here comes first, so it wins, and
//! sends the link to the next module instead.

/// Includes a chapter as the build script wrote it (its diagrams inline).
macro_rules! chapter {
    ($file:literal) => {
        include_str!(concat!(env!("OUT_DIR"), "/guide/", $file))
    };
}

#[doc = "[next]: crate::guide::threads"]
#[doc = chapter!("01-blocking.md")]
pub mod blocking {}

#[doc = "[next]: crate::guide::nonblocking"]
#[doc = chapter!("02-threads.md")]
pub mod threads {}

#[doc = "[next]: crate::guide::select_poll_epoll"]
#[doc = chapter!("03-nonblocking.md")]
pub mod nonblocking {}

#[doc = "[next]: crate::guide::edge_triggering"]
#[doc = chapter!("04-select-poll-epoll.md")]
pub mod select_poll_epoll {}

#[doc = "[next]: crate::guide::reactor"]
#[doc = chapter!("05-edge-triggering.md")]
pub mod edge_triggering {}

#[doc = "[next]: crate::guide::framing"]
#[doc = chapter!("06-reactor.md")]
pub mod reactor {}

#[doc = "[next]: crate::guide::tutorial_clients"]
#[doc = chapter!("07-framing.md")]
pub mod framing {}

#[doc = "[next]: crate::guide::datagrams"]
#[doc = chapter!("08-tutorial-clients.md")]
pub mod tutorial_clients {}

#[doc = "[next]: crate::guide::flow_control"]
#[doc = chapter!("09-datagrams.md")]
pub mod datagrams {}

#[doc = "[next]: crate::guide::timers_shutdown"]
#[doc = chapter!("10-flow-control.md")]
pub mod flow_control {}

#[doc = "[next]: crate::guide::blocking_work"]
#[doc = chapter!("11-timers-shutdown.md")]
pub mod timers_shutdown {}

#[doc = "[next]: crate::guide::clients"]
#[doc = chapter!("12-blocking-work.md")]
pub mod blocking_work {}

#[doc = "[next]: crate::guide::embedding"]
#[doc = chapter!("13-clients.md")]
pub mod clients {}

#[doc = "[next]: crate::guide::socketserver"]
#[doc = chapter!("14-embedding.md")]
pub mod embedding {}

#[doc = "[next]: crate::guide::tls"]
#[doc = chapter!("15-socketserver.md")]
pub mod socketserver {}

#[doc = "[index]: crate::guide"]
#[doc = chapter!("16-tls.md")]
pub mod tls {}
