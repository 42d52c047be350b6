//! The alarm: the reactor's fd made readable when its loop has work that no
//! event announces, for a reactor nested in another event loop.
//!
//! A reactor running its own loop needs no alarm: it passes the time to its
//! next timer to the poller as the wait's timeout, and does not wait at all
//! while sources are on the ready list. A loop that nests the reactor waits
//! on the reactor's fd instead (epoll's or kqueue's own fd, readable when
//! one of the sources inside is), and that fd says nothing about timers or
//! the ready list. So once the fd has been handed out, the reactor keeps an
//! alarm in its own poller, set for its next deadline after every turn and
//! every call from outside ([`Reactor::backend_timeout`] says what that
//! deadline is):
//!
//! - on Linux, a timerfd registered in the epoll set: readable at the
//!   deadline, which makes the epoll fd readable;
//! - elsewhere, the cross-thread waker when the work is due now (the ready
//!   list); a timer there wakes an outer loop only if that loop also honours
//!   `backend_timeout`, which is the rule anyway (libuv's and GLib's).
//!
//! What it costs: nothing until the fd is handed out. After that, at most
//! one `timerfd_settime` per turn, made only when the next deadline is
//! earlier than the one the alarm is set for, or that one has passed. A
//! deadline that moved later (a cancelled timer) leaves the alarm as it is:
//! an early wake-up costs the outer loop one empty turn, less than keeping
//! the alarm exact would cost a busy one.
//!
//! [`Reactor::backend_timeout`]: crate::Reactor::backend_timeout

use std::cell::Cell;
use std::sync::Arc;
use std::time::Instant;

use mio::Registry;

use crate::handle;

/// The alarm of a nested reactor (see the module documentation).
pub(crate) struct Alarm {
    /// `None` if the system refused one: the outer loop then has only
    /// `backend_timeout` to go by.
    imp: Option<imp::Imp>,
    /// The deadline it is set for.
    armed: Cell<Option<Instant>>,
}

impl Alarm {
    /// Sets up the alarm in the poller of `registry`, whose waker `handle`
    /// holds.
    pub(crate) fn new<S: 'static>(registry: &Registry, handle: &Arc<handle::Inner<S>>) -> Alarm {
        let imp = match imp::Imp::new(registry, handle) {
            Ok(imp) => Some(imp),
            Err(e) => {
                log::warn!(
                    "no alarm for the nested reactor ({e}): the outer loop must wait \
                     no longer than Reactor::backend_timeout"
                );
                None
            }
        };
        Alarm {
            imp,
            armed: Cell::new(None),
        }
    }

    /// Makes sure the fd is readable by `deadline` (`None`: no deadline).
    pub(crate) fn arm(&self, deadline: Option<Instant>) {
        let (Some(imp), Some(deadline)) = (&self.imp, deadline) else {
            return;
        };
        let now = Instant::now();
        if self
            .armed
            .get()
            .is_some_and(|armed| armed > now && armed <= deadline)
        {
            return; // an alarm at or before it is still to come
        }
        match imp.set(deadline.saturating_duration_since(now)) {
            Ok(()) => self.armed.set(Some(deadline)),
            Err(e) => log::warn!("cannot set the nested reactor's alarm: {e}"),
        }
    }

    /// Makes the fd readable as soon as possible.
    pub(crate) fn ring_now(&self) {
        self.armed.set(None);
        self.arm(Some(Instant::now()));
    }
}

/// Linux: a timerfd in the epoll set.
#[cfg(any(target_os = "linux", target_os = "android"))]
mod imp {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::time::Duration;

    use std::sync::Arc;

    use mio::unix::SourceFd;
    use mio::{Interest, Registry};

    use crate::core::ALARM;
    use crate::handle;

    pub(crate) struct Imp {
        timer: OwnedFd,
    }

    impl Imp {
        /// The waker in `_handle` is not needed: the timerfd rings for work
        /// due now too.
        pub(crate) fn new<S>(
            registry: &Registry,
            _handle: &Arc<handle::Inner<S>>,
        ) -> io::Result<Imp> {
            let flags = libc::TFD_NONBLOCK | libc::TFD_CLOEXEC;
            // SAFETY: integer arguments only; the result is checked.
            let fd = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, flags) };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: a fresh fd that nothing else owns.
            let timer = unsafe { OwnedFd::from_raw_fd(fd) };
            // Edge-triggered, like every mio registration: one event per
            // expiry, and never read, because setting the timer again
            // clears its expiry count.
            let raw = timer.as_raw_fd();
            registry.register(&mut SourceFd(&raw), ALARM, Interest::READABLE)?;
            Ok(Imp { timer })
        }

        /// Rings `after` from now (at once for zero: a timerfd set to zero
        /// would be disarmed, so it gets a nanosecond).
        pub(crate) fn set(&self, after: Duration) -> io::Result<()> {
            let after = after.max(Duration::from_nanos(1));
            let spec = libc::itimerspec {
                it_interval: libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: libc::timespec {
                    tv_sec: after.as_secs().try_into().unwrap_or(libc::time_t::MAX),
                    tv_nsec: after.subsec_nanos().into(),
                },
            };
            // SAFETY: a valid itimerspec; the old value is not asked for.
            let r = unsafe {
                libc::timerfd_settime(self.timer.as_raw_fd(), 0, &spec, std::ptr::null_mut())
            };
            if r < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }
    }
}

/// Elsewhere: the waker, for work due now.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod imp {
    use std::io;
    use std::sync::Arc;
    use std::time::Duration;

    use mio::Registry;

    use crate::handle;

    pub(crate) struct Imp {
        /// Wakes the reactor's poller (its waker, through the handle's state).
        wake: Box<dyn Fn() -> io::Result<()>>,
    }

    impl Imp {
        pub(crate) fn new<S: 'static>(
            _registry: &Registry,
            handle: &Arc<handle::Inner<S>>,
        ) -> io::Result<Imp> {
            let handle = Arc::clone(handle);
            Ok(Imp {
                wake: Box::new(move || handle.wake()),
            })
        }

        /// Rings now if `after` is zero; a later deadline is left to the
        /// outer loop's `backend_timeout`.
        pub(crate) fn set(&self, after: Duration) -> io::Result<()> {
            if after.is_zero() {
                (self.wake)()
            } else {
                Ok(())
            }
        }
    }
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    use super::*;
    use std::time::Duration;

    use mio::{Events, Poll, Waker};

    fn alarm(poll: &Poll) -> Alarm {
        let waker = Waker::new(poll.registry(), crate::core::WAKER).unwrap();
        let handle: Arc<handle::Inner<()>> = Arc::new(handle::Inner::new(waker));
        Alarm::new(poll.registry(), &handle)
    }

    #[test]
    fn the_alarm_rings_at_its_deadline_and_not_before() {
        let mut poll = Poll::new().unwrap();
        let mut events = Events::with_capacity(4);
        let alarm = alarm(&poll);
        alarm.arm(Some(Instant::now() + Duration::from_millis(30)));
        poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
        assert!(events.is_empty(), "rang before its deadline");
        poll.poll(&mut events, Some(Duration::from_secs(5)))
            .unwrap();
        assert!(events.iter().any(|e| e.token() == crate::core::ALARM));
        // Edge-triggered and never read: it does not ring again by itself.
        poll.poll(&mut events, Some(Duration::from_millis(50)))
            .unwrap();
        assert!(events.is_empty(), "rang twice for one deadline");
    }

    #[test]
    fn a_later_deadline_keeps_the_earlier_alarm_and_none_keeps_it_too() {
        let mut poll = Poll::new().unwrap();
        let mut events = Events::with_capacity(4);
        let alarm = alarm(&poll);
        alarm.arm(Some(Instant::now() + Duration::from_millis(20)));
        alarm.arm(Some(Instant::now() + Duration::from_secs(3600)));
        alarm.arm(None);
        poll.poll(&mut events, Some(Duration::from_secs(5)))
            .unwrap();
        assert!(events.iter().any(|e| e.token() == crate::core::ALARM));
        alarm.ring_now();
        poll.poll(&mut events, Some(Duration::from_secs(5)))
            .unwrap();
        assert!(!events.is_empty(), "ring_now did not ring");
    }
}
