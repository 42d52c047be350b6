//! Unix signals as a reactor source, through signal-hook's self-pipe.
//!
//! The handler that the kernel interrupts us with only writes a byte to a
//! pipe; the reactor sees the pipe readable and calls the user's callback on
//! the loop thread, where it may do anything a protocol callback may do.

use std::io;

use log::debug;
use mio::{Interest, Registry, Token};
use signal_hook_mio::v1_0::Signals;

use super::Source;
use crate::context::Ctx;
use crate::core::{Core, Lend};

/// What to do when a signal arrives, with the signal number.
pub(crate) type SignalHandler<S> = Box<dyn FnMut(&mut Ctx<'_, S>, i32)>;

/// A set of signals in the table, with their handler.
pub(crate) struct SignalSource<S> {
    signals: Signals,
    /// `None` only while the handler runs.
    handler: Option<SignalHandler<S>>,
}

impl<S> SignalSource<S> {
    pub(super) fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        registry.register(&mut self.signals, token, Interest::READABLE)
    }

    pub(super) fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        registry.deregister(&mut self.signals)
    }

    /// mio's portable poll(2) backend stops reporting a source after an
    /// event until an I/O call made through mio returns `WouldBlock`;
    /// signal-hook drains its pipe itself, so the pipe is registered again
    /// instead, or the second signal would never be heard.
    #[cfg(mio_unsupported_force_poll_poll)]
    pub(crate) fn rearm(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        registry.reregister(&mut self.signals, token, Interest::READABLE)
    }
}

/// The handler goes back after it ran; a panic in it is logged and the
/// reactor goes on.
impl<S: 'static> Lend<S> for SignalHandler<S> {
    fn give_back(self, source: &mut Source<S>) {
        if let Source::Signals(s) = source {
            s.handler = Some(self);
        }
    }
}

/// Starts watching `signals`, calling `handler` for each that arrives.
pub(crate) fn add<S: 'static>(
    core: &mut Core<S>,
    signals: &[i32],
    handler: SignalHandler<S>,
) -> io::Result<Token> {
    let signals = Signals::new(signals)?;
    let source = SignalSource {
        signals,
        handler: Some(handler),
    };
    core.insert(Source::Signals(Box::new(source)))
}

/// The self-pipe is readable: run the handler for each pending signal.
pub(super) fn on_event<S: 'static>(core: &mut Core<S>, token: Token) {
    let Some(Source::Signals(s)) = core.source_mut(token) else {
        return;
    };
    let pending: Vec<i32> = s.signals.pending().collect();
    #[cfg(mio_unsupported_force_poll_poll)]
    core.rearm_signals(token);
    for signal in pending {
        let Some(Source::Signals(s)) = core.source_mut(token) else {
            return;
        };
        let Some(handler) = s.handler.take() else {
            return;
        };
        debug!("signal {signal}");
        core.run(token, handler, "signal handler", |h, ctx| h(ctx, signal));
    }
}
