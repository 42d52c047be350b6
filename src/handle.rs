//! A cross-thread handle on a reactor: shut it down or run a closure on its
//! thread, from any thread.
//!
//! Built on `mio::Waker`: the handle pushes its request under a mutex and
//! wakes the poll; the reactor drains the requests on its own thread.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::context::Ctx;

#[cfg(not(mio_unsupported_force_poll_poll))]
pub(crate) use mio::Waker;
#[cfg(mio_unsupported_force_poll_poll)]
pub(crate) use self_pipe::Waker;

/// A closure posted to the reactor thread.
pub(crate) type Posted<S> = Box<dyn FnOnce(&mut Ctx<'_, S>) + Send>;

pub(crate) struct Inner<S> {
    waker: Waker,
    posted: Mutex<Vec<Posted<S>>>,
    shutdown: AtomicBool,
}

impl<S> Inner<S> {
    pub(crate) fn new(waker: Waker) -> Self {
        Inner {
            waker,
            posted: Mutex::new(Vec::new()),
            shutdown: AtomicBool::new(false),
        }
    }

    /// Takes the posted closures, leaving `into` (emptied) in their place so
    /// the two vectors keep their capacity.
    pub(crate) fn take_posted(&self, into: &mut Vec<Posted<S>>) {
        let mut posted = self.posted.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::swap(&mut *posted, into);
    }

    /// Wakes the reactor's poller: its fd becomes readable.
    #[cfg_attr(any(target_os = "linux", target_os = "android"), allow(dead_code))]
    pub(crate) fn wake(&self) -> io::Result<()> {
        self.waker.wake()
    }

    pub(crate) fn shutdown_requested(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }
}

/// Controls a [`Reactor`](crate::Reactor) from other threads. `Send`, `Sync`
/// and cheap to clone.
///
/// ```
/// use std::time::Duration;
///
/// let mut reactor = sockloop::Reactor::new().unwrap();
/// let handle = reactor.handle();
/// let stopper = std::thread::spawn(move || {
///     std::thread::sleep(Duration::from_millis(10));
///     handle.shutdown(); // graceful: stop accepting, flush, close
/// });
/// reactor.run().unwrap(); // returns once shut down
/// stopper.join().unwrap();
/// ```
pub struct Handle<S = ()> {
    inner: Arc<Inner<S>>,
}

/// The waker on mio's portable `poll(2)` backend. mio's own waker there
/// shares one eventfd with the poller's bookkeeping, and a registration
/// change made by the reactor thread (closing a connection, say) empties
/// that eventfd, so a wake-up from another thread that lands just before it
/// is lost, and the reactor sleeps on with a shutdown request pending. This
/// one is a socket pair of its own, registered like any other source.
#[cfg(mio_unsupported_force_poll_poll)]
mod self_pipe {
    use std::io::{self, Read, Write};

    use mio::net::UnixStream;
    use mio::{Interest, Registry, Token};

    /// The writing end, held by every handle.
    pub(crate) struct Waker(UnixStream);

    /// The reading end, registered in the poller under the waker's token.
    pub(crate) struct WakeReceiver(UnixStream);

    impl Waker {
        /// A waker and the receiver the reactor keeps, registered as `token`.
        pub(crate) fn pair(registry: &Registry, token: Token) -> io::Result<(Waker, WakeReceiver)> {
            let (tx, mut rx) = UnixStream::pair()?;
            registry.register(&mut rx, token, Interest::READABLE)?;
            Ok((Waker(tx), WakeReceiver(rx)))
        }

        pub(crate) fn wake(&self) -> io::Result<()> {
            match (&self.0).write(&[1]) {
                // Full: the reactor has many wake-ups to read already.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
                other => other.map(drop),
            }
        }
    }

    impl WakeReceiver {
        /// Reads every pending wake-up, to `WouldBlock` (which re-arms it).
        pub(crate) fn drain(&mut self) {
            let mut buf = [0; 64];
            while matches!((&self.0).read(&mut buf), Ok(1..)) {}
        }
    }
}

#[cfg(mio_unsupported_force_poll_poll)]
pub(crate) use self_pipe::WakeReceiver;

impl<S> Clone for Handle<S> {
    fn clone(&self) -> Self {
        Handle {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S> Handle<S> {
    pub(crate) fn new(inner: Arc<Inner<S>>) -> Self {
        Handle { inner }
    }

    /// Asks the reactor to shut down gracefully: stop accepting, flush queued
    /// output (up to `Config::shutdown_timeout`), close every connection,
    /// then return from `run`.
    pub fn shutdown(&self) {
        self.inner.shutdown.store(true, Ordering::Release);
        if let Err(e) = self.inner.waker.wake() {
            log::error!("cannot wake the reactor for shutdown: {e}");
        }
    }

    /// Runs `f` on the reactor thread at its next turn, with a context that
    /// belongs to no connection (write to connections with
    /// `ctx.connection(token).write(..)`, see [`Ctx::connection`]).
    pub fn post(&self, f: impl FnOnce(&mut Ctx<'_, S>) + Send + 'static) -> io::Result<()> {
        self.inner
            .posted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(f));
        self.inner.waker.wake()
    }
}
