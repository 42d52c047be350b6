//! A callback's writes: batched for its own connection, sent at once to
//! any other.
//!
//! What a callback writes to its own connection collects in one batch
//! (`src/batch.rs`), sent with one `send` when it returns ([`Core::run`]'s
//! step 3). The common case — a callback writing to its own connection,
//! which has nothing queued — is inlined into the callback: when the batch
//! was *armed* for the connection as its protocol was lent out
//! (`StreamSource::lend`), the write joins the batch with no lookup at all.
//! Anything that could change whether the connection takes output marks it
//! dirty, and marking it dirty disarms (`settle.rs`), so from then on its
//! writes go through the checks again.
//!
//! A write of [`WRITE_THROUGH`] bytes or more is not copied into the batch:
//! it goes out at once, after the batch, in one `sendmsg` with two buffers.

use std::fs::File;
use std::io;

use log::trace;
use mio::Token;

use super::{Core, show};
use crate::sendfile::Segment;
use crate::transport::flag;

/// A callback's own writes are batched (copied) up to this size; a larger
/// write is sent at once with the batch before it, since copying it would
/// cost more than the system call it saves.
const WRITE_THROUGH: usize = 8 * 1024;

impl<S: 'static> Core<S> {
    /// Queues `data` for `token`, on behalf of a callback running for
    /// `current` and reading `input`. Returns false if there is no such
    /// connection or it no longer takes output.
    #[inline]
    pub(crate) fn write(
        &mut self,
        token: Token,
        current: Token,
        data: &[u8],
        input: &[u8],
    ) -> bool {
        if token == current && !data.is_empty() {
            if data.len() < WRITE_THROUGH && self.batch.is_armed_for(token) {
                self.batch.push(token, data, input);
                return true;
            }
            return self.write_own(token, data, input);
        }
        self.write_now(token, data)
    }

    /// A write to the callback's own connection that was not armed (or is
    /// large): with nothing queued it joins the batch, or a large one is
    /// sent through; otherwise it queues behind what is queued.
    #[inline(never)]
    fn write_own(&mut self, token: Token, data: &[u8], input: &[u8]) -> bool {
        if self.batch.is_open() && !self.batch.is_for(token) {
            return self.write_now(token, data);
        }
        match self.stream(token) {
            Some(s) if s.transport.queued() == 0 && s.transport.accepts_output() => {}
            _ => return self.write_now(token, data),
        }
        if data.len() < WRITE_THROUGH {
            self.batch.push(token, data, input);
            return true;
        }
        // Ordering holds: the batch goes first, and whatever the socket
        // refuses is queued, so later writes queue behind it.
        let batched: &[u8] = match self.batch.take(input) {
            Some((owner, bytes)) if owner == token => bytes,
            _ => &[],
        };
        if let Some(s) = self.table.get_mut(token).and_then(|s| s.as_stream_mut()) {
            let (len, before) = (batched.len() + data.len(), s.transport.queued());
            let result = s.transport.send_both(&mut self.pool, batched, data);
            let queued = s.transport.queued();
            self.after_send(token, result, len, before, queued);
        }
        true
    }

    /// Sends what the running callback batched for `token` now, rather
    /// than when it returns (STARTTLS: what was written before the upgrade
    /// goes out as plaintext).
    #[cfg(feature = "tls")]
    pub(crate) fn send_batch_now(&mut self, token: Token, input: &[u8]) {
        let Some((owner, bytes)) = self.batch.take(input) else {
            return;
        };
        if owner != token {
            return; // a batch only ever holds the running callback's writes
        }
        if let Some(s) = self.table.get_mut(token).and_then(|s| s.as_stream_mut()) {
            let (before, len) = (s.transport.queued(), bytes.len());
            let result = s.transport.send_or_queue(&mut self.pool, bytes);
            let queued = s.transport.queued();
            self.after_send(token, result, len, before, queued);
        }
    }

    /// Every other write: to another connection, or to one with output
    /// queued (it queues behind), sent or queued now.
    #[inline(never)]
    fn write_now(&mut self, token: Token, data: &[u8]) -> bool {
        let Some(s) = self.table.get_mut(token).and_then(|s| s.as_stream_mut()) else {
            return false;
        };
        if !s.transport.accepts_output() {
            return false;
        }
        if data.is_empty() {
            return true;
        }
        let before = s.transport.queued();
        let result = s.transport.send_or_queue(&mut self.pool, data);
        let queued = s.transport.queued();
        self.after_send(token, result, data.len(), before, queued);
        true
    }

    /// The write half of `RUST_LOG=sockloop=trace`, as the read path shows
    /// the other: of `len` bytes written with `before` already queued and
    /// `after` queued now, what went out and what waits.
    #[cold]
    #[inline(never)]
    pub(super) fn trace_send(&self, token: Token, len: usize, before: usize, after: usize) {
        let queued = after.saturating_sub(before).min(len);
        if len > queued {
            trace!("{} wrote {} bytes", show(token), len - queued);
        }
        if queued > 0 {
            trace!("{} queued {queued} bytes", show(token));
        }
    }

    /// What a send of `len` bytes leaves to do, `before` bytes having been
    /// queued and `after` being queued now: a backlog waits to be settled
    /// (flushed on the next writable edge, watermarks applied), an error
    /// closes the connection; at `trace` level, a line says what went out
    /// and what waits. The common case, all sent, is one test.
    #[inline(always)]
    pub(super) fn after_send(
        &mut self,
        token: Token,
        result: io::Result<()>,
        len: usize,
        before: usize,
        after: usize,
    ) {
        if after == 0 && result.is_ok() && !self.tracing {
            return;
        }
        self.after_send_slow(token, result, len, before, after);
    }

    #[inline(never)]
    fn after_send_slow(
        &mut self,
        token: Token,
        result: io::Result<()>,
        len: usize,
        before: usize,
        after: usize,
    ) {
        if self.tracing {
            self.trace_send(token, len, before, after);
        }
        match result {
            Ok(()) if after > 0 => self.mark_dirty(token),
            Ok(()) => {}
            Err(e) => self.abort(token, e),
        }
    }

    /// Bytes queued for `token` and not yet taken by its socket, the running
    /// callback's batch and queued files included.
    pub(crate) fn queued(&self, token: Token) -> usize {
        let batched = if self.batch.is_for(token) {
            self.batch.len()
        } else {
            0
        };
        self.unsent(token) + batched
    }

    /// Bytes queued for `token` (in its output buffer and in files) that
    /// its socket has not taken yet.
    pub(crate) fn unsent(&self, token: Token) -> usize {
        let Some(s) = self.stream(token) else {
            return 0;
        };
        let files = if s.transport.has(flag::FILE) {
            usize::try_from(self.files.unsent(token)).unwrap_or(usize::MAX)
        } else {
            0
        };
        s.transport.queued().saturating_add(files)
    }

    /// Queues `len` bytes of `file` from `offset` for `token`, behind
    /// everything written to it so far (the running callback's batch
    /// included), on behalf of a callback running for `current` and reading
    /// `input`. Returns false if there is no such connection or it no
    /// longer takes output. See `sendfile.rs`.
    pub(crate) fn send_file(
        &mut self,
        token: Token,
        current: Token,
        file: File,
        (offset, len): (u64, u64),
        input: &[u8],
    ) -> bool {
        if !self
            .stream(token)
            .is_some_and(|s| s.transport.accepts_output())
        {
            return false;
        }
        if token == current && self.batch.is_for(token) {
            // What the callback wrote before the file goes before it.
            let batched: &[u8] = match self.batch.take(input) {
                Some((_, bytes)) => bytes,
                None => &[],
            };
            if let Some(s) = self.table.get_mut(token).and_then(|s| s.as_stream_mut()) {
                let (len, before) = (batched.len(), s.transport.queued());
                let result = s.transport.send_or_queue(&mut self.pool, batched);
                let queued = s.transport.queued();
                self.after_send(token, result, len, before, queued);
            }
        }
        let Some(s) = self.stream_mut(token) else {
            return false;
        };
        if !s.transport.accepts_output() {
            return false; // the batch's send failed: the connection is doomed
        }
        if len > 0 {
            let t = &mut s.transport;
            let segment = Segment::new(file, offset, len, t.queued(), &t.stream);
            t.set(flag::FILE);
            self.files.push(token, segment);
            self.mark_dirty(token);
        }
        true
    }

    /// Sends what `token` has queued, files included, until it is all sent
    /// or the socket refuses.
    pub(super) fn flush_output(&mut self, token: Token) -> io::Result<()> {
        let Some(s) = self.table.get_mut(token).and_then(|s| s.as_stream_mut()) else {
            return Ok(());
        };
        if s.transport.has(flag::FILE) {
            self.files.flush(token, &mut s.transport)
        } else {
            s.transport.flush()
        }
    }
}
