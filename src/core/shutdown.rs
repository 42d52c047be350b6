//! The graceful shutdown: stop accepting, flush, close, within a deadline.
//!
//! `Handle::shutdown()` (any thread), `Ctx::shutdown()` or the first
//! SIGINT/SIGTERM start it: listeners close, datagram sockets close, every
//! connection closes once its output is flushed, and when none is left (or
//! `Config::shutdown_timeout` passes) the loop stops.

use std::io;
use std::time::Instant;

use log::{info, warn};

use super::{Core, Detached, TimerKind};
use crate::sources::{Source, datagram, stream};
use crate::transport::flag;

#[derive(Default)]
pub(super) struct State {
    /// Set once the shutdown began: when it must be over.
    pub(super) deadline: Option<Instant>,
    /// A callback asked for it; `settle_all` starts it.
    pub(super) requested: bool,
    /// It is over: `run` returns.
    pub(super) stopped: bool,
}

impl<S: 'static> Core<S> {
    /// Starts the graceful shutdown (once).
    pub(crate) fn begin_shutdown(&mut self) {
        if self.shutdown.deadline.is_some() {
            return;
        }
        info!(
            "shutting down: flushing queued output for up to {:?}",
            self.config.shutdown_timeout
        );
        let deadline = self.now() + self.config.shutdown_timeout;
        self.shutdown.deadline = Some(deadline);
        self.timers
            .insert(deadline, None, TimerKind::ShutdownDeadline);
        let tokens = self.token_list(|_| true);
        for &token in &tokens {
            match self.source(token) {
                Some(Source::Listener(_)) => drop(self.remove(token)),
                Some(Source::Datagram(_)) => datagram::close(self, token),
                // Lingering ones finish on the peer's EOF or the deadline.
                Some(Source::Stream(s)) if s.transport.has(flag::LINGERING) => {}
                Some(Source::Stream(s)) if s.transport.has(flag::CONNECTING) => {
                    stream::give_up_connecting(self, token)
                }
                Some(Source::Stream(_)) => self.close(token),
                Some(Source::Signals(_)) | None => {}
            }
        }
        self.put_token_list(tokens);
        self.settle_all();
        self.check_stopped();
    }

    /// The deadline for a lingering close: `from_now` later, and no later
    /// than the shutdown's deadline.
    pub(crate) fn linger_deadline(&self, from_now: std::time::Duration) -> Instant {
        let deadline = self.now() + from_now;
        self.shutdown.deadline.map_or(deadline, |d| deadline.min(d))
    }

    /// The shutdown deadline passed: close whatever is still flushing.
    pub(super) fn force_stop(&mut self) {
        let tokens = self.token_list(|s| matches!(s, Source::Stream(_)));
        if !tokens.is_empty() {
            warn!(
                "shutdown deadline passed with {} connections still flushing; closing them",
                tokens.len()
            );
        }
        for &token in &tokens {
            let e = io::Error::new(
                io::ErrorKind::TimedOut,
                "reactor shut down before the output was flushed",
            );
            self.abort(token, e);
        }
        self.put_token_list(tokens);
        self.settle_all();
        self.shutdown.stopped = true;
    }

    pub(super) fn check_stopped(&mut self) {
        if self.shutdown.deadline.is_some() && self.streams == 0 {
            self.shutdown.stopped = true;
        }
    }

    /// Whether a shutdown has completed: `run` has returned or would at once.
    pub(crate) fn is_stopped(&self) -> bool {
        self.shutdown.stopped
    }

    /// Whether a shutdown has begun (or a callback asked for one).
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutdown.deadline.is_some() || self.shutdown.requested
    }

    /// The waker fired: run posted closures and honour a shutdown request
    /// from another thread.
    pub(crate) fn on_wake(&mut self) {
        let mut posted = Vec::new();
        self.handle.take_posted(&mut posted);
        for f in posted {
            self.run(super::NO_TOKEN, Detached, "posted closure", |_, ctx| f(ctx));
        }
        if self.handle.shutdown_requested() {
            self.begin_shutdown();
        }
    }
}
