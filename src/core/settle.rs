//! What callbacks ask for, carried out once no protocol is lent out.
//!
//! A callback never sees its own connection vanish under it: a close, an
//! abort, a half-close or a backlog is only *marked* during the callback
//! (the connection joins the dirty list), and [`Core::settle_all`] carries
//! it out when the callback returns — [`Core::run`] ends with it, and so
//! does every turn of the loop. Every change to a connection's state that a
//! callback asks for goes through [`Core::mark_dirty`], which also disarms
//! the batch for it (see `write.rs`), so a write after a close in the same
//! callback is checked and dropped.

use std::io;
use std::mem;

use log::{trace, warn};
use mio::Token;

use super::{Core, show};
use crate::sources::{self, Source, stream};
use crate::transport::flag;

impl<S: 'static> Core<S> {
    /// Queues the connection for settling. Whatever made it dirty may change
    /// whether it takes output, so its writes go through the checks again.
    pub(crate) fn mark_dirty(&mut self, token: Token) {
        self.batch.disarm(token);
        if let Some(s) = self.table.get_mut(token).and_then(|s| s.as_stream_mut()) {
            if !s.transport.has(flag::DIRTY) {
                s.transport.set(flag::DIRTY);
                self.dirty.push(token);
                self.pending = true;
            }
        }
    }

    /// Sets `bits` on a connection's transport and queues it for settling:
    /// the one way a callback changes a connection's state.
    pub(crate) fn request(&mut self, token: Token, bits: u32) {
        if let Some(s) = self.stream_mut(token) {
            s.transport.set(bits);
            self.mark_dirty(token);
        }
    }

    /// Marks a connection to be closed now, dropping its queued output;
    /// `connection_lost` gets `reason`.
    pub(crate) fn abort(&mut self, token: Token, reason: io::Error) {
        if let Some(s) = self.stream_mut(token) {
            if !s.transport.has(flag::ABORT) {
                s.transport.set(flag::ABORT);
                self.doomed.push((token, reason));
            }
            self.mark_dirty(token);
        }
    }

    /// The reason an aborted connection is closed, taken.
    pub(crate) fn take_doom(&mut self, token: Token) -> Option<io::Error> {
        let i = self.doomed.iter().position(|(t, _)| *t == token)?;
        Some(self.doomed.swap_remove(i).1)
    }

    /// Closes a connection once its queued output is flushed, or a datagram
    /// socket at the next settle.
    pub(crate) fn close(&mut self, token: Token) {
        match self.table.get_mut(token) {
            Some(Source::Stream(_)) => self.request(token, flag::CLOSING),
            Some(Source::Datagram(d)) => {
                d.closing = true;
                self.dirty.push(token);
                self.pending = true;
            }
            _ => {}
        }
    }

    /// Stops reading from a connection until [`Core::resume_reading`].
    pub(crate) fn pause_reading(&mut self, token: Token) {
        if let Some(s) = self.stream_mut(token) {
            s.transport.set(flag::READ_PAUSED);
        }
    }

    /// Resumes reading; input left unconsumed is delivered again first.
    pub(crate) fn resume_reading(&mut self, token: Token) {
        if let Some(s) = self.stream_mut(token) {
            if s.transport.has(flag::READ_PAUSED) {
                s.transport.clear(flag::READ_PAUSED);
                s.transport.set(flag::REDELIVER);
                self.ready.push(token);
            }
        }
    }

    /// Carries out every write, flow-control change and close that callbacks
    /// asked for, after calling `connection_made` for the sources they
    /// added. Callbacks it runs (`pause_writing`, `connection_lost`...) add
    /// to the work it is doing rather than start another pass.
    #[inline]
    pub(crate) fn settle_all(&mut self) {
        if self.pending {
            self.settle_pending();
        }
    }

    #[inline(never)]
    fn settle_pending(&mut self) {
        if self.settling {
            return;
        }
        self.settling = true;
        while mem::take(&mut self.pending) {
            while !self.made_owed.is_empty() {
                let token = self.made_owed.remove(0);
                sources::connection_made(self, token);
            }
            while let Some(token) = self.dirty.pop() {
                match self.table.get_mut(token) {
                    Some(Source::Stream(s)) => {
                        s.transport.clear(flag::DIRTY);
                        self.settle_stream(token);
                    }
                    Some(Source::Datagram(d)) if d.closing => sources::datagram::close(self, token),
                    _ => {}
                }
            }
            if mem::take(&mut self.shutdown.requested) {
                self.begin_shutdown();
            }
        }
        self.settling = false;
    }

    /// Flushes, applies the watermarks and the output limit, half-closes
    /// and closes one connection, as its flags ask.
    fn settle_stream(&mut self, token: Token) {
        let config = &self.config;
        let (high, low, max_output) = (
            config.high_watermark,
            config.low_watermark,
            config.max_output,
        );
        let Some(s) = self.table.get_mut(token).and_then(|s| s.as_stream_mut()) else {
            return;
        };
        let t = &mut s.transport;
        if t.has(flag::ABORT) {
            let reason = self.take_doom(token);
            stream::close_now(self, token, reason);
            return;
        }
        if t.has(flag::LINGERING) {
            return;
        }
        if (t.queued() > 0 || t.has(flag::FILE)) && !t.has(flag::WRITE_BLOCKED | flag::CONNECTING) {
            let before = self.unsent(token);
            if let Err(e) = self.flush_output(token) {
                self.abort(token, e);
                return; // abort queued it again: closed in this same pass
            }
            if self.tracing {
                trace_flush(token, before, self.unsent(token));
            }
        }
        // The limit is on memory: the bytes held in the output buffer. A
        // queued file's bytes wait in the file, not here (`sendfile.rs`).
        let buffered = self.stream(token).map_or(0, |s| s.transport.queued());
        if buffered > max_output {
            warn!(
                "{}: {buffered} bytes queued for a peer that does not read; closing it",
                self.describe(token)
            );
            let e = io::Error::other(format!("output limit exceeded ({buffered} bytes queued)"));
            self.abort(token, e);
            return;
        }
        // Flow control counts every byte not yet sent, files included.
        let queued = self.unsent(token);
        let Some(s) = self.table.get_mut(token).and_then(|s| s.as_stream_mut()) else {
            return;
        };
        let t = &mut s.transport;
        if queued > high && !t.has(flag::WRITE_PAUSED) {
            t.set(flag::WRITE_PAUSED);
            stream::call(self, token, "pause_writing", |p, ctx| p.pause_writing(ctx));
            self.mark_dirty(token);
            return;
        }
        if queued <= low && t.has(flag::WRITE_PAUSED) {
            t.clear(flag::WRITE_PAUSED);
            self.ready.push(token);
            stream::call(self, token, "resume_writing", |p, ctx| {
                p.resume_writing(ctx)
            });
            self.mark_dirty(token);
            return;
        }
        if queued == 0 {
            t.release_output(&mut self.pool);
            if t.has(flag::SHUT_WRITE) && !t.has(flag::WRITE_DONE) {
                t.set(flag::WRITE_DONE);
                let _ = t.stream.shutdown_write();
            }
            if t.has(flag::CLOSING) {
                stream::close_now(self, token, None);
            }
        }
    }

    /// Asks for a graceful shutdown from inside a callback; it starts at the
    /// next settle, when no protocol is lent out, so every `connection_lost`
    /// is still called.
    pub(crate) fn request_shutdown(&mut self) {
        self.shutdown.requested = true;
        self.pending = true;
    }
}

/// The queued output went out (some or all) on a writable edge.
#[cold]
#[inline(never)]
fn trace_flush(token: Token, before: usize, after: usize) {
    if before > after {
        trace!("{} wrote {} bytes", show(token), before - after);
    }
    if after == 0 {
        trace!("{} drained", show(token));
    }
}
