//! A cross-thread handle on a reactor: shut it down or run a closure on its
//! thread, from any thread.
//!
//! Built on `mio::Waker`: the handle pushes its request under a mutex and
//! wakes the poll; the reactor drains the requests on its own thread.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use mio::Waker;

use crate::context::Ctx;

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
