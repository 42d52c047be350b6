//! Unix signals as a reactor source, through signal-hook's self-pipe.
//!
//! The handler that the kernel interrupts us with only writes a byte to a
//! pipe; the reactor sees the pipe readable and calls the user's callback on
//! the loop thread, where it may do anything a protocol callback may do.

use signal_hook_mio::v1_0::Signals;

use crate::context::Ctx;

/// What to do when a signal arrives, with the signal number.
pub(crate) type SignalHandler<S> = Box<dyn FnMut(&mut Ctx<'_, S>, i32)>;

pub(crate) struct SignalSource<S> {
    pub(crate) signals: Signals,
    /// `None` only while the handler runs.
    pub(crate) handler: Option<SignalHandler<S>>,
}
