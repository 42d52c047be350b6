//! The reactor: one poller, one events buffer, one slab of sources, and the
//! loop that turns readiness into protocol callbacks.

#[cfg(not(mio_unsupported_force_poll_poll))]
use std::cell::OnceCell;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::OwnedFd;
#[cfg(not(mio_unsupported_force_poll_poll))]
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{info, trace, warn};
use mio::{Events, Poll, Token};

use crate::addr::Addr;
#[cfg(not(mio_unsupported_force_poll_poll))]
use crate::alarm::Alarm;
use crate::config::Config;
use crate::context::Ctx;
use crate::core::{ALARM, Core, Detached, NO_TOKEN, WAKER, show};
use crate::handle::{self, Handle};
use crate::protocol::{DatagramProtocol, Protocol};
use crate::sources::{self, Event};
use crate::timer::TimerId;

/// A single-threaded event loop over mio.
///
/// Register sources (listeners, connections, datagram sockets, pipes,
/// signals), then [`run`](Reactor::run) it. `S` is the reactor-wide shared
/// state every callback can reach through [`Ctx::shared`] (socketserver's
/// server object); use `()` when there is none.
///
/// ```no_run
/// use sockloop::{Ctx, Protocol, Reactor};
///
/// struct Echo;
/// impl Protocol for Echo {
///     fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
///         ctx.write(data);
///         data.len()
///     }
/// }
///
/// let mut reactor = Reactor::new()?;
/// reactor.listen_tcp("127.0.0.1:8888", || Echo)?;
/// reactor.shutdown_on_signals()?; // Ctrl-C: flush, close, return
/// reactor.run()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Reactor<S = ()> {
    poll: Poll,
    events: Events,
    core: Core<S>,
    /// The ready list being serviced, swapped with the one being filled.
    ready_spare: Vec<Token>,
    /// The loop's read buffer: a connection with no leftover input reads
    /// here, so it needs no buffer of its own.
    read_buf: Box<[u8]>,
    /// Set up when the poller's fd is first handed out (the reactor is being
    /// nested in another loop): keeps that fd readable while work waits
    /// that no event announces (`src/alarm.rs`).
    #[cfg(not(mio_unsupported_force_poll_poll))]
    alarm: OnceCell<Alarm>,
    /// The reading end of the waker on mio's `poll(2)` backend (see `src/handle.rs`).
    #[cfg(mio_unsupported_force_poll_poll)]
    wake_receiver: handle::WakeReceiver,
}

/// Size of the loop's read buffer: one read of up to this much per call, and
/// the largest datagram received whole.
const READ_BUF: usize = 64 * 1024;

impl Reactor<()> {
    /// A reactor with no shared state and the default [`Config`].
    pub fn new() -> io::Result<Self> {
        Reactor::with_config((), Config::default())
    }
}

impl<S: 'static> Reactor<S> {
    /// A reactor whose callbacks share `state`.
    pub fn with_state(state: S) -> io::Result<Self> {
        Reactor::with_config(state, Config::default())
    }

    /// A reactor with shared `state` and the given limits.
    pub fn with_config(state: S, config: Config) -> io::Result<Self> {
        let poll = Poll::new()?;
        #[cfg(not(mio_unsupported_force_poll_poll))]
        let waker = handle::Waker::new(poll.registry(), WAKER)?;
        #[cfg(mio_unsupported_force_poll_poll)]
        let (waker, wake_receiver) = handle::Waker::pair(poll.registry(), WAKER)?;
        let registry = poll.registry().try_clone()?;
        let events = Events::with_capacity(config.events_capacity.max(1));
        let inner = Arc::new(handle::Inner::new(waker));
        Ok(Reactor {
            poll,
            events,
            core: Core::new(registry, state, config, inner),
            ready_spare: Vec::new(),
            read_buf: vec![0; READ_BUF].into_boxed_slice(),
            #[cfg(not(mio_unsupported_force_poll_poll))]
            alarm: OnceCell::new(),
            #[cfg(mio_unsupported_force_poll_poll)]
            wake_receiver,
        })
    }

    // ----- sources (the same as on `Ctx`) ------------------------------------

    /// Listens on a TCP address; each accepted connection gets a protocol
    /// from `factory`. Returns the listener's token (see [`Reactor::local_addr`]).
    pub fn listen_tcp<P, F>(&mut self, addr: impl ToSocketAddrs, factory: F) -> io::Result<Token>
    where
        P: Protocol<S>,
        F: FnMut() -> P + 'static,
    {
        self.with_ctx(|ctx| ctx.listen_tcp(addr, factory))
    }

    /// Listens on an already bound std listener, for sockets configured by
    /// the caller (SO_REUSEPORT, a socket inherited from a supervisor).
    pub fn listen_tcp_std<P, F>(
        &mut self,
        listener: std::net::TcpListener,
        factory: F,
    ) -> io::Result<Token>
    where
        P: Protocol<S>,
        F: FnMut() -> P + 'static,
    {
        self.with_ctx(|ctx| ctx.listen_tcp_std(listener, factory))
    }

    /// Listens on a Unix stream socket at `path`. A stale socket file left by
    /// a dead server is replaced; a live server's is not. The file is removed
    /// when the listener closes.
    pub fn listen_unix<P, F>(&mut self, path: impl AsRef<Path>, factory: F) -> io::Result<Token>
    where
        P: Protocol<S>,
        F: FnMut() -> P + 'static,
    {
        self.with_ctx(|ctx| ctx.listen_unix(path, factory))
    }

    /// Only keeps accepted peers for which `filter` returns true
    /// (socketserver's `verify_request`); the others are closed at once.
    pub fn set_accept_filter(
        &mut self,
        listener: Token,
        filter: impl FnMut(&Addr) -> bool + 'static,
    ) -> io::Result<()> {
        self.with_ctx(|ctx| ctx.set_accept_filter(listener, filter))
    }

    /// Opens an outgoing TCP connection (non-blocking); `protocol` gets
    /// `connection_made` once it is established, or `connection_failed`.
    pub fn connect_tcp(
        &mut self,
        addr: SocketAddr,
        protocol: impl Protocol<S>,
    ) -> io::Result<Token> {
        self.with_ctx(|ctx| ctx.connect_tcp(addr, protocol))
    }

    /// Opens an outgoing Unix stream connection.
    pub fn connect_unix(
        &mut self,
        path: impl AsRef<Path>,
        protocol: impl Protocol<S>,
    ) -> io::Result<Token> {
        self.with_ctx(|ctx| ctx.connect_unix(path, protocol))
    }

    /// Binds a UDP socket for a datagram protocol.
    pub fn bind_udp(
        &mut self,
        addr: impl ToSocketAddrs,
        protocol: impl DatagramProtocol<S>,
    ) -> io::Result<Token> {
        self.with_ctx(|ctx| ctx.bind_udp(addr, protocol))
    }

    /// Binds a Unix datagram socket at `path` (a stale file is replaced, and
    /// the file is removed on close).
    pub fn bind_unix_datagram(
        &mut self,
        path: impl AsRef<Path>,
        protocol: impl DatagramProtocol<S>,
    ) -> io::Result<Token> {
        self.with_ctx(|ctx| ctx.bind_unix_datagram(path, protocol))
    }

    /// Adds a raw fd (a pipe, a child's stdout, a terminal) as a stream
    /// driven by `protocol`: `data_received` for what it reads, `ctx.write`
    /// to write to it, `eof_received` at its end. The fd is made
    /// non-blocking while the reactor owns it and restored on close.
    pub fn add_fd(&mut self, fd: OwnedFd, protocol: impl Protocol<S>) -> io::Result<Token> {
        self.with_ctx(|ctx| ctx.add_fd(fd, protocol))
    }

    /// Reads this process's standard input with `protocol`. Works for a
    /// terminal or a pipe (polled) and for a regular file or `/dev/null`
    /// (which epoll refuses: read without waiting). Stdin's blocking mode is
    /// restored when the source closes or the reactor is dropped.
    pub fn add_stdin(&mut self, protocol: impl Protocol<S>) -> io::Result<Token> {
        self.with_ctx(|ctx| ctx.add_stdin(protocol))
    }

    /// Calls `handler` on the loop thread for each of `signals` that arrives.
    pub fn add_signals(
        &mut self,
        signals: &[i32],
        handler: impl FnMut(&mut Ctx<'_, S>, i32) + 'static,
    ) -> io::Result<Token> {
        self.with_ctx(|ctx| ctx.add_signals(signals, handler))
    }

    /// The conventional server behaviour for SIGINT and SIGTERM: the first
    /// starts a graceful shutdown, a second one exits the process at once.
    pub fn shutdown_on_signals(&mut self) -> io::Result<Token> {
        self.add_signals(&[libc::SIGINT, libc::SIGTERM], |ctx, signal| {
            if ctx.is_shutting_down() {
                warn!("second signal {signal}: exiting now");
                std::process::exit(128 + signal);
            }
            info!("signal {signal}: shutting down");
            ctx.shutdown();
        })
    }

    /// The local address of a listener, datagram socket or connection (the
    /// port actually bound when you asked for port 0).
    pub fn local_addr(&self, token: Token) -> io::Result<Addr> {
        sources::local_addr(&self.core, token)
    }

    // ----- timers, state, control (the same as on `Ctx`) ------------------------

    /// Runs `f` once after `delay`.
    pub fn call_later(
        &mut self,
        delay: Duration,
        f: impl FnOnce(&mut Ctx<'_, S>) + 'static,
    ) -> TimerId {
        self.with_ctx(|ctx| ctx.call_later(delay, f))
    }

    /// Runs `f` every `period` until cancelled (socketserver's `service_actions`).
    pub fn call_every(
        &mut self,
        period: Duration,
        f: impl FnMut(&mut Ctx<'_, S>) + 'static,
    ) -> TimerId {
        self.with_ctx(|ctx| ctx.call_every(period, f))
    }

    /// Cancels a timer; returns whether it was still pending.
    pub fn cancel_timer(&mut self, id: TimerId) -> bool {
        self.core.cancel_timer(id)
    }

    /// Runs `f` now with a context that belongs to no source: write to
    /// connections, start timers, open connections from outside a callback.
    /// Like every callback, what it asks for is carried out when it returns.
    ///
    /// # Panics
    /// If `f` panics (after the reactor has put itself back in order).
    pub fn with_ctx<R>(&mut self, f: impl FnOnce(&mut Ctx<'_, S>) -> R) -> R {
        // Outside the loop the clock still shows the last turn's time, which
        // may be long past: a timer set now must count from now.
        self.core.next_turn();
        let result = self
            .core
            .run(NO_TOKEN, Detached, &[], "with_ctx closure", |_, ctx| f(ctx));
        // A timer set or a source added from outside the loop: a nested
        // reactor's fd must say so.
        self.set_alarm();
        result.unwrap_or_else(|| panic!("the closure given to Reactor::with_ctx panicked"))
    }

    /// The shared state.
    pub fn shared(&mut self) -> &mut S {
        self.core.shared()
    }

    /// A cross-thread handle: shut down or post closures from any thread.
    pub fn handle(&self) -> Handle<S> {
        Handle::new(self.core.handle().clone())
    }

    /// Starts a graceful shutdown from the reactor's own thread.
    pub fn shutdown(&mut self) {
        self.core.next_turn(); // its deadline counts from now (see `with_ctx`)
        self.core.begin_shutdown();
        self.set_alarm();
    }

    /// Whether a shutdown has completed: `run` has returned or would at once.
    pub fn is_stopped(&self) -> bool {
        self.core.is_stopped()
    }

    /// Open socket connections (what `Config::max_connections` counts).
    pub fn connection_count(&self) -> usize {
        self.core.socket_count()
    }

    /// The limits this reactor runs with.
    pub fn config(&self) -> &Config {
        self.core.config()
    }

    // ----- the loop ----------------------------------------------------------

    /// Runs until shut down (socketserver's `serve_forever`).
    pub fn run(&mut self) -> io::Result<()> {
        while !self.core.is_stopped() {
            self.turn(None)?;
        }
        info!("reactor stopped");
        Ok(())
    }

    /// One turn of the loop (socketserver's `handle_request(timeout)`):
    /// wait up to `timeout` (`None`: until something happens) for readiness,
    /// dispatch every event, then service the ready list and due timers.
    ///
    /// To drive a reactor from another event loop, call it with a zero
    /// timeout whenever the reactor's fd is readable or its
    /// [`backend_timeout`](Reactor::backend_timeout) has passed.
    pub fn run_once(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.turn(timeout)?;
        self.set_alarm();
        Ok(())
    }

    /// How long a loop that nests this reactor may wait on the reactor's fd
    /// before calling [`run_once`](Reactor::run_once) (libuv's
    /// `uv_backend_timeout`, what a GLib source's `prepare` returns):
    /// `Some(Duration::ZERO)` when work is waiting now (sources on the ready
    /// list, or a finished shutdown), the time to the nearest timer,
    /// or `None` when only an event on the fd can bring work.
    ///
    /// # Nesting a reactor in another event loop
    ///
    /// The whole rule, after libuv's `uv_backend_fd` / `uv_backend_timeout`:
    ///
    /// 1. Watch the reactor's fd ([`AsRawFd`](std::os::fd::AsRawFd)) for
    ///    readability in your loop. It is the poller's own fd (epoll's,
    ///    kqueue's), readable whenever a source inside is ready.
    /// 2. Wait no longer than `backend_timeout()`, asked afresh before every
    ///    wait (round it *up* to your loop's resolution: rounding down wakes
    ///    you a little early, to an empty turn).
    /// 3. When the fd is readable or that time has passed, call
    ///    `run_once(Some(Duration::ZERO))`, which never blocks.
    /// 4. Stop when [`is_stopped`](Reactor::is_stopped) says so.
    ///
    /// On Linux, rule 2 may be skipped: once its fd has been handed out, the
    /// reactor also makes that fd readable itself when a timer falls due or
    /// sources wait on the ready list (a timerfd in its epoll set, set after
    /// every turn and every call from outside), so a loop that only watches
    /// the fd (tokio's `AsyncFd`, say) is woken in time. Elsewhere it does
    /// so for the ready list only (through the waker), and a loop must
    /// honour the timeout. With mio's portable `poll(2)` backend there is no
    /// fd at all (`Reactor` does not implement `AsRawFd` there): step the
    /// reactor with `run_once` and this timeout, or run it on its own thread.
    ///
    /// `examples/nest_poll.rs` (a bare `poll(2)` loop) and
    /// `examples/nest_tokio.rs` (tokio's `AsyncFd`) do it, and the guide's
    /// chapter on embedding (`sockloop::guide::embedding`) explains it.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mut reactor = sockloop::Reactor::new()?;
    /// assert_eq!(reactor.backend_timeout(), None); // nothing to wait for
    /// reactor.call_later(Duration::from_millis(50), |_| {});
    /// let timeout = reactor.backend_timeout().expect("a timer is pending");
    /// assert!(timeout <= Duration::from_millis(50));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn backend_timeout(&mut self) -> Option<Duration> {
        let deadline = self.core.next_deadline()?;
        Some(deadline.saturating_duration_since(Instant::now()))
    }

    /// Sets a nested reactor's alarm for its next deadline (nothing until
    /// the fd was handed out; see `src/alarm.rs`).
    #[inline]
    fn set_alarm(&mut self) {
        #[cfg(not(mio_unsupported_force_poll_poll))]
        if let Some(alarm) = self.alarm.get() {
            // A full events buffer may have left events in the poller, and
            // an outer loop that is edge-triggered itself (tokio's) would
            // not hear of them again: ring for another turn at once.
            let full = self.events.iter().count() >= self.events.capacity();
            let deadline = if full {
                Some(Instant::now())
            } else {
                self.core.next_deadline()
            };
            alarm.arm(deadline);
        }
    }

    /// One turn of the loop; what `run` repeats and `run_once` makes.
    fn turn(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let timeout = self.core.poll_timeout(timeout);
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            // A signal interrupted the wait: its handler's pipe is readable
            // now and the next turn will see it.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => self.events.clear(),
            Err(e) => return Err(e),
        }
        self.core.next_turn();
        let tracing = self.core.tracing();
        if tracing {
            trace!(
                "poll returned {} events (timeout {timeout:?})",
                self.events.iter().count()
            );
        }
        for event in self.events.iter() {
            let token = event.token();
            // The waker and the alarm: tokens above any slot (one compare).
            if token >= ALARM {
                if token == WAKER {
                    trace!("event: waker");
                    #[cfg(mio_unsupported_force_poll_poll)]
                    self.wake_receiver.drain();
                    self.core.on_wake();
                } else {
                    trace!("event: alarm"); // what is due runs at the end of the turn
                }
                continue;
            }
            let event = Event::new(
                event.is_readable(),
                event.is_writable(),
                event.is_read_closed() || event.is_error(),
            );
            if tracing {
                trace_event(token, event);
            }
            sources::dispatch(&mut self.core, &mut self.read_buf, token, event);
        }
        self.core
            .end_turn(&mut self.ready_spare, &mut self.read_buf);
        Ok(())
    }
}

/// One line per event at `trace` level (kept out of the loop's body).
#[cold]
#[inline(never)]
fn trace_event(token: Token, event: Event) {
    trace!(
        "event {}: readable={} writable={} closed={}",
        show(token),
        event.is_readable(),
        event.is_writable(),
        event.is_closed()
    );
}

/// What the harness drives a reactor with, event by event.
impl<S: 'static> Reactor<S> {
    pub(crate) fn core(&self) -> &Core<S> {
        &self.core
    }

    pub(crate) fn core_mut(&mut self) -> &mut Core<S> {
        &mut self.core
    }

    /// Services the sources on the ready list.
    pub(crate) fn run_ready(&mut self) {
        self.core
            .run_ready(&mut self.ready_spare, &mut self.read_buf);
    }

    /// Hands `token` one event, as if the poller had reported it.
    pub(crate) fn dispatch(&mut self, token: Token, event: Event) {
        sources::dispatch(&mut self.core, &mut self.read_buf, token, event);
    }
}

/// The poller's fd, so a reactor can be nested in another event loop: wait
/// for this fd to be readable (and no longer than
/// [`Reactor::backend_timeout`]), then call [`Reactor::run_once`] with a
/// zero timeout. The whole rule is on [`Reactor::backend_timeout`].
///
/// Handing the fd out marks the reactor as nested: from then on it keeps
/// the fd readable while work waits that no event announces (on Linux, a
/// timerfd in its epoll set; elsewhere the waker, for the ready list). The
/// first call also makes the fd readable at once, so that the outer loop's
/// first wait runs a turn for whatever was set up before. Not available
/// with mio's portable `poll(2)` backend, which has no fd to hand out.
#[cfg(not(mio_unsupported_force_poll_poll))]
impl<S: 'static> AsRawFd for Reactor<S> {
    fn as_raw_fd(&self) -> RawFd {
        self.alarm.get_or_init(|| {
            let alarm = Alarm::new(self.poll.registry(), self.core.handle());
            alarm.ring_now();
            alarm
        });
        self.poll.as_raw_fd()
    }
}
