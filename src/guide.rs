//! The guide: learning I/O multiplexing, from a blocking socket to the
//! reactor.
//!
//! Nine short chapters, each built around a program you can run and an
//! experiment whose result you can see. They start where the Python socket
//! tutorials start (a blocking server, threads, `select`) and end at the
//! reactor this crate is, and at a table that maps Python's `socketserver`
//! onto it. The chapters live in `docs/guide/` as Markdown; this module only
//! includes them, so that they render here and every Rust snippet in them is
//! compiled and run as a doctest.
//!
//! 1. [A blocking echo server](blocking): one client at a time.
//! 2. [A thread per client](threads): it works; what 10,000 idle clients cost.
//! 3. [Non-blocking sockets and the busy loop](nonblocking): `WouldBlock`,
//!    and why spinning burns a core.
//! 4. [select, poll, epoll](select_poll_epoll): readiness, interest sets,
//!    level and edge triggering.
//! 5. [The reactor](reactor): tokens and the slab, buffers, write interest,
//!    protocols, with a trace of a real run.
//! 6. [Framing](framing): why `recv(1024)` is not a message.
//! 7. [Flow control and limits](flow_control): a client that never reads,
//!    watermarks, connection limits, `EMFILE`.
//! 8. [Timers and shutdown](timers_shutdown): `call_later`, idle timeouts,
//!    graceful shutdown from another thread.
//! 9. [From socketserver to sockloop](socketserver): the mapping, name by
//!    name.
//!
//! The diagrams are SVG files in `docs/guide/img/`; open them from the
//! Markdown chapters on GitHub or in any browser.

#[doc = include_str!("../docs/guide/01-blocking.md")]
pub mod blocking {}

#[doc = include_str!("../docs/guide/02-threads.md")]
pub mod threads {}

#[doc = include_str!("../docs/guide/03-nonblocking.md")]
pub mod nonblocking {}

#[doc = include_str!("../docs/guide/04-select-poll-epoll.md")]
pub mod select_poll_epoll {}

#[doc = include_str!("../docs/guide/05-reactor.md")]
pub mod reactor {}

#[doc = include_str!("../docs/guide/06-framing.md")]
pub mod framing {}

#[doc = include_str!("../docs/guide/07-flow-control.md")]
pub mod flow_control {}

#[doc = include_str!("../docs/guide/08-timers-shutdown.md")]
pub mod timers_shutdown {}

#[doc = include_str!("../docs/guide/09-socketserver.md")]
pub mod socketserver {}
