//! The one way a callback runs.
//!
//! A callback gets a [`Ctx`] that borrows the whole core, which is how a chat
//! room's callback can write to every other connection. That is only
//! possible because what the callback runs on (a stream's protocol, a
//! datagram socket's protocol, a signal handler) is *lent out* of its slab
//! slot for the duration of the call: the borrow checker then sees it and
//! the rest of the core apart. [`Core::run`] does the whole sequence, so no
//! caller can forget a step:
//!
//! 1. run the callback with a context for its token, catching a panic;
//! 2. give back what was lent (dropped if its slot is gone);
//! 3. send what the callback wrote to its own connection, in one write
//!    (a callback batches only writes to its own token);
//! 4. on a panic, pay its price: a stream protocol's connection is aborted,
//!    anything else is logged and the reactor goes on;
//! 5. settle: call `connection_made` for sources the callback added, then
//!    carry out the closes, flushes and flow control it asked for (see
//!    `settle.rs`).
//!
//! Callbacks never nest: nothing a callback can call runs another callback
//! at once (a source it adds gets `connection_made` when it returns), so
//! while a callback runs no settling happens and no slot it might need
//! vanishes.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

use log::error;
use mio::Token;

use super::Core;
use crate::context::Ctx;
use crate::sources::Source;

/// What a callback runs on, lent out of a slab slot for the call.
pub(crate) trait Lend<S: 'static>: Sized {
    /// Puts it back into `source`, its slot's source (if the slot is gone,
    /// it is dropped instead).
    fn give_back(self, source: &mut Source<S>);

    /// What a panic in the callback costs. Only a log line, unless a
    /// connection must pay for it.
    fn panicked(core: &mut Core<S>, token: Token, what: &str, message: &str) {
        let _ = (core, token);
        error!("{what} panicked: {message}; the reactor goes on");
    }
}

/// Nothing lent: a reactor timer, a posted closure, `with_ctx`.
pub(crate) struct Detached;

impl<S: 'static> Lend<S> for Detached {
    fn give_back(self, _: &mut Source<S>) {}
}

/// Something whose slot is already gone (a protocol handed to
/// `connection_lost` or `connection_failed`): dropped after the call.
pub(crate) struct Owned<P>(pub(crate) P);

impl<S: 'static, P> Lend<S> for Owned<P> {
    fn give_back(self, _: &mut Source<S>) {}
}

impl<S: 'static> Core<S> {
    /// Runs `f` on `lent` with a context for `token`, then gives `lent`
    /// back, sends the batch and settles (see the module documentation).
    /// `input` is what the callback reads (`data_received`'s data, else
    /// empty): writes of part of it are sent from it, uncopied. `what` names
    /// the callback in the log line of a panic. Returns `None` if it panicked.
    #[inline]
    pub(crate) fn run<L: Lend<S>, R>(
        &mut self,
        token: Token,
        mut lent: L,
        input: &[u8],
        what: &'static str,
        f: impl FnOnce(&mut L, &mut Ctx<'_, S>) -> R,
    ) -> Option<R> {
        if cfg!(debug_assertions) {
            assert!(!self.in_callback, "callbacks never nest");
            self.in_callback = true;
        }
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            f(&mut lent, &mut Ctx::new(self, token, input))
        }));
        if cfg!(debug_assertions) {
            self.in_callback = false;
        }
        // Giving back and sending the batch share one lookup.
        let sent = match self.table.get_mut(token) {
            Some(source) => {
                lent.give_back(source);
                match (self.batch.take(input), source.as_stream_mut()) {
                    (Some((_, bytes)), Some(s)) => {
                        let result = s.transport.send_or_queue(&mut self.pool, bytes);
                        // The output buffer alone: a layered stream's own
                        // backlog is settled on its next writable edge.
                        Some((result, s.transport.output_len(), bytes.len()))
                    }
                    _ => None,
                }
            }
            None => {
                // The slot is gone: what was lent, and written, is dropped.
                self.batch.take(input);
                None
            }
        };
        if let Some((result, queued, len)) = sent {
            // A batch is only opened on a connection with nothing queued.
            self.after_send(token, result, len, 0, queued);
        }
        let result = match result {
            Ok(r) => Some(r),
            Err(payload) => {
                L::panicked(self, token, what, &panic_message(&*payload));
                None
            }
        };
        self.settle_all();
        result
    }

    /// A source just added gets its `connection_made` at the next settle:
    /// at once if no callback runs, else as soon as the running callback
    /// returns (so callbacks never nest). `settle_all` pays it, before
    /// anything else it does.
    pub(crate) fn owe_made(&mut self, token: Token) {
        self.made_owed.push(token);
        self.pending = true;
    }
}

/// The text of a panic, for the log.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}
