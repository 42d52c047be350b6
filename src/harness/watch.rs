//! The protocol under simulation, watched: every callback the reactor makes
//! is checked against the order the [`Protocol`] trait promises, and a
//! panic inside one is recorded (then goes on to the reactor, which
//! contains it as it would in production).

use std::io;
use std::panic::{self, AssertUnwindSafe};

use super::net::Shared;
use crate::context::Ctx;
use crate::core::panic_message;
use crate::protocol::Protocol;

/// A protocol and the wire it speaks over.
pub(super) struct Watched<P> {
    pub(super) inner: P,
    pub(super) net: Shared,
    pub(super) wire: usize,
}

/// Which callback is being made, for the order checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    Made,
    Data,
    Eof,
    Lost,
    PauseWriting,
    ResumeWriting,
    Timer,
}

impl<P> Watched<P> {
    /// Checks that `call` may come now, and notes it.
    fn before(&mut self, call: Call, detail: Option<&io::Error>) {
        let mut net = self.net.borrow_mut();
        let i = self.wire;
        let w = &mut net.wires[i];
        let c = &mut w.calls;
        let mut wrong = None;
        if call != Call::Made && c.made == 0 {
            wrong = Some("before connection_made");
        } else if c.lost > 0 {
            wrong = Some("after connection_lost");
        }
        match call {
            Call::Made if c.made > 0 => wrong = Some("a second time"),
            Call::Made => c.made = 1,
            Call::Data if c.eof > 0 => wrong = Some("after eof_received"),
            Call::Eof if c.eof > 0 => wrong = Some("a second time"),
            Call::Eof => c.eof = 1,
            Call::PauseWriting if c.write_paused => wrong = Some("while paused"),
            Call::PauseWriting => c.write_paused = true,
            Call::ResumeWriting if !c.write_paused => wrong = Some("while not paused"),
            Call::ResumeWriting => c.write_paused = false,
            Call::Lost => {
                c.lost += 1;
                c.lost_reason = Some(detail.map(ToString::to_string));
            }
            Call::Data | Call::Timer => {}
        }
        // An orderly close comes only once every byte owed went out.
        let owed = w.offered.len() - w.delivered + w.discarded;
        let orderly = call == Call::Lost && detail.is_none() && !w.reset;
        if let Some(wrong) = wrong {
            net.violate(format!("wire {i}: {call:?} called {wrong}"));
        } else if orderly && owed > 0 {
            net.violate(format!(
                "wire {i}: closed in good order with {owed} bytes offered and never sent"
            ));
        }
    }

    /// Runs one callback of the protocol; a panic is recorded, then passed on.
    fn guard<R>(&mut self, what: &str, f: impl FnOnce(&mut P) -> R) -> R {
        match panic::catch_unwind(AssertUnwindSafe(|| f(&mut self.inner))) {
            Ok(r) => r,
            Err(payload) => {
                let message = panic_message(&*payload);
                self.net.borrow_mut().violate(format!(
                    "wire {}: the protocol panicked in {what}: {message}",
                    self.wire
                ));
                panic::resume_unwind(payload)
            }
        }
    }
}

impl<S: 'static, P: Protocol<S>> Protocol<S> for Watched<P> {
    fn connection_made(&mut self, ctx: &mut Ctx<'_, S>) {
        self.before(Call::Made, None);
        self.guard("connection_made", |p| p.connection_made(ctx));
    }

    fn data_received(&mut self, ctx: &mut Ctx<'_, S>, data: &[u8]) -> usize {
        self.before(Call::Data, None);
        let used = self.guard("data_received", |p| p.data_received(ctx, data));
        if used > data.len() {
            self.net.borrow_mut().violate(format!(
                "wire {}: data_received consumed {used} of {} bytes",
                self.wire,
                data.len()
            ));
        }
        used
    }

    fn eof_received(&mut self, ctx: &mut Ctx<'_, S>) {
        self.before(Call::Eof, None);
        self.guard("eof_received", |p| p.eof_received(ctx));
    }

    fn connection_lost(&mut self, ctx: &mut Ctx<'_, S>, reason: Option<io::Error>) {
        self.before(Call::Lost, reason.as_ref());
        self.guard("connection_lost", |p| p.connection_lost(ctx, reason));
    }

    fn pause_writing(&mut self, ctx: &mut Ctx<'_, S>) {
        self.before(Call::PauseWriting, None);
        self.guard("pause_writing", |p| p.pause_writing(ctx));
    }

    fn resume_writing(&mut self, ctx: &mut Ctx<'_, S>) {
        self.before(Call::ResumeWriting, None);
        self.guard("resume_writing", |p| p.resume_writing(ctx));
    }

    fn timer_fired(&mut self, ctx: &mut Ctx<'_, S>, id: u64) {
        self.before(Call::Timer, None);
        self.guard("timer_fired", |p| p.timer_fired(ctx, id));
    }
}
