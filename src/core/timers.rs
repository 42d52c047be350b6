//! What a timer does when it fires.
//!
//! One heap (`src/timer.rs`) holds every timer: the callbacks users set, the
//! protocols' own timers, and the reactor's (idle timeouts, accept back-off,
//! lingering, the shutdown deadline). Deadlines count from the turn's time.
//! The idle timeout lives here too: it is a timer a connection re-arms.

use std::time::{Duration, Instant};

use std::io;

use log::debug;
use mio::Token;

use super::{Core, Detached};
use crate::context::Ctx;
use crate::sources::{listener, stream};
use crate::timer::TimerId;
use crate::transport::{Extra, flag};

/// A one-shot reactor callback.
pub(crate) type Callback<S> = Box<dyn FnOnce(&mut Ctx<'_, S>)>;
/// A periodic reactor callback.
pub(crate) type Repeating<S> = Box<dyn FnMut(&mut Ctx<'_, S>)>;

/// What a timer does when it fires.
pub(crate) enum TimerKind<S> {
    /// `call_later`: runs with a context for the token that set it.
    Call(Token, Callback<S>),
    /// `call_every`.
    Every(Token, Repeating<S>),
    /// A protocol's own timer (`Ctx::set_timer`): `timer_fired(id)`.
    Protocol(Token, u64),
    /// A connection's idle timeout is due for a check.
    Idle(Token),
    /// A listener backing off after EMFILE may accept again.
    AcceptRetry(Token),
    /// A lingering close has waited long enough.
    Linger(Token),
    /// The graceful shutdown's time is up.
    ShutdownDeadline,
    /// A TLS handshake has had its time.
    #[cfg(feature = "tls")]
    TlsHandshake(Token),
}

impl<S: 'static> Core<S> {
    /// Schedules `what` `delay` after this turn's time, repeating every
    /// `period` if given.
    pub(crate) fn add_timer(
        &mut self,
        delay: Duration,
        period: Option<Duration>,
        what: TimerKind<S>,
    ) -> TimerId {
        let deadline = self.now() + delay;
        self.timers.insert(deadline, period, what)
    }

    /// Schedules `what` at `deadline`.
    pub(crate) fn add_timer_at(&mut self, deadline: Instant, what: TimerKind<S>) -> TimerId {
        self.timers.insert(deadline, None, what)
    }

    /// Cancels a timer; returns whether it was still pending.
    pub(crate) fn cancel_timer(&mut self, id: TimerId) -> bool {
        self.timers.cancel(id)
    }

    /// Fires every timer that is due.
    pub(crate) fn fire_timers(&mut self) {
        // No timers, no clock read: the common turn of a busy server.
        if self.timers.next_deadline().is_none() {
            return;
        }
        let now = self.now();
        while let Some((id, what)) = self.timers.pop_due(now) {
            match what {
                TimerKind::Call(token, f) => {
                    self.run(token, Detached, &[], "timer callback", |_, ctx| f(ctx));
                }
                TimerKind::Every(token, mut f) => {
                    self.run(token, Detached, &[], "periodic timer callback", |_, ctx| {
                        f(ctx)
                    });
                    self.timers.restore(id, TimerKind::Every(token, f), now);
                }
                TimerKind::Protocol(token, user_id) => self.protocol_timer(token, user_id),
                TimerKind::Idle(token) => self.check_idle(token),
                TimerKind::AcceptRetry(token) => listener::retry(self, token),
                TimerKind::Linger(token) => stream::linger_over(self, token),
                TimerKind::ShutdownDeadline => self.force_stop(),
                #[cfg(feature = "tls")]
                TimerKind::TlsHandshake(token) => crate::tls::handshake::timed_out(self, token),
            }
            self.settle_all();
        }
    }

    /// A protocol's own timer fired: only between `connection_made` and
    /// `connection_lost`, as the trait promises.
    fn protocol_timer(&mut self, token: Token, id: u64) {
        if self
            .stream(token)
            .is_some_and(|s| s.transport.has(flag::MADE))
        {
            stream::call(self, token, "timer_fired", |p, ctx| p.timer_fired(ctx, id));
        }
    }

    /// Sets, replaces or (with `None`) removes the idle timeout of `token`.
    pub(crate) fn set_idle_timeout(&mut self, token: Token, timeout: Option<Duration>) {
        let now = self.now();
        let Some(s) = self.stream_mut(token) else {
            return;
        };
        if let Some(id) = s.transport.extra.take().and_then(|x| x.idle_timer) {
            self.cancel_timer(id);
        }
        let Some(timeout) = timeout else {
            return;
        };
        let id = self.add_timer(timeout, None, TimerKind::Idle(token));
        if let Some(s) = self.stream_mut(token) {
            s.transport.extra = Some(Box::new(Extra {
                idle_timeout: timeout,
                last_active: now,
                idle_timer: Some(id),
            }));
        }
    }

    /// The idle timer fired: close the connection if it really was idle for
    /// the whole timeout (the read path notes the time of each read), else
    /// check again when the rest of it has passed.
    fn check_idle(&mut self, token: Token) {
        let now = self.now();
        let Some(extra) = self
            .stream_mut(token)
            .and_then(|s| s.transport.extra.as_mut())
        else {
            return;
        };
        extra.idle_timer = None;
        let timeout = extra.idle_timeout;
        let due = extra.last_active + timeout;
        if due <= now {
            debug!("{} idle for {timeout:?}; closing", self.describe(token));
            let e = io::Error::new(io::ErrorKind::TimedOut, format!("idle for {timeout:?}"));
            self.abort(token, e);
            return;
        }
        let id = self.add_timer_at(due, TimerKind::Idle(token));
        if let Some(extra) = self
            .stream_mut(token)
            .and_then(|s| s.transport.extra.as_mut())
        {
            extra.idle_timer = Some(id);
        }
    }
}
