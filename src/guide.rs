//! The guide: learning I/O multiplexing, from a blocking socket to the
//! reactor.
//!
//! Ten short chapters for people who learned sockets from the Python
//! tutorials, each built around a program you can run and an experiment
//! whose result you can see. They start where the tutorials start (a
//! blocking server, threads, `select`) and end at the reactor this crate
//! is, and at a table that maps Python's `socketserver` onto it.
//!
//! 1. [A blocking echo server](blocking): one client at a time.
//! 2. [A thread per client](threads): it works; what 10,000 idle clients
//!    cost.
//! 3. [Non-blocking sockets and the busy loop](nonblocking): `WouldBlock`,
//!    and why spinning burns a core.
//! 4. [select, poll, epoll](select_poll_epoll): readiness, interest sets,
//!    level and edge triggering.
//! 5. [The reactor](reactor): tokens and the slab, buffers, write interest,
//!    protocols, and a trace of a real run.
//! 6. [Framing](framing): why `recv(1024)` is not a message.
//! 7. [Flow control and limits](flow_control): a client that never reads,
//!    watermarks, connection limits, `EMFILE`.
//! 8. [Timers and shutdown](timers_shutdown): `call_later`, idle timeouts,
//!    graceful shutdown from another thread.
//! 9. [From socketserver to sockloop](socketserver): the mapping, name by
//!    name.
//! 10. [TLS in a reactor](tls): why a sans-I/O library fits, where the
//!     handshake sits, STARTTLS.
//!
//! The chapters are Markdown files in `docs/guide/` (read them there on a
//! forge); this module includes them so that they render here too and
//! every Rust snippet in them is compiled and run as a doctest. Their
//! diagrams are SVG files in `docs/guide/img/`, shown inline at the end of
//! the chapters that use them. The Python programs the chapters run are in
//! `docs/guide/py/`.
//!
//! Each chapter ends with a `[next]` link to the following file; the
//! definition placed before each chapter here comes first, so it wins, and
//! sends the link to the next module instead.

#[doc = "[next]: crate::guide::threads"]
#[doc = include_str!("../docs/guide/01-blocking.md")]
pub mod blocking {}

#[doc = "[next]: crate::guide::nonblocking"]
#[doc = include_str!("../docs/guide/02-threads.md")]
pub mod threads {}

#[doc = "[next]: crate::guide::select_poll_epoll"]
#[doc = include_str!("../docs/guide/03-nonblocking.md")]
pub mod nonblocking {}

#[doc = "[next]: crate::guide::reactor"]
#[doc = include_str!("../docs/guide/04-select-poll-epoll.md")]
pub mod select_poll_epoll {}

#[doc = "[next]: crate::guide::framing"]
#[doc = include_str!("../docs/guide/05-reactor.md")]
#[doc = "\n\n## The diagrams\n\n"]
#[doc = include_str!("../docs/guide/img/event-loop.svg")]
#[doc = "\n\n"]
#[doc = include_str!("../docs/guide/img/connection-states.svg")]
pub mod reactor {}

#[doc = "[next]: crate::guide::flow_control"]
#[doc = include_str!("../docs/guide/06-framing.md")]
#[doc = "\n\n## The diagram\n\n"]
#[doc = include_str!("../docs/guide/img/cmd-protocol.svg")]
pub mod framing {}

#[doc = "[next]: crate::guide::timers_shutdown"]
#[doc = include_str!("../docs/guide/07-flow-control.md")]
pub mod flow_control {}

#[doc = "[next]: crate::guide::socketserver"]
#[doc = include_str!("../docs/guide/08-timers-shutdown.md")]
pub mod timers_shutdown {}

#[doc = "[index]: crate::guide"]
#[doc = include_str!("../docs/guide/09-socketserver.md")]
pub mod socketserver {}

#[doc = "[index]: crate::guide"]
#[doc = include_str!("../docs/guide/10-tls.md")]
pub mod tls {}
