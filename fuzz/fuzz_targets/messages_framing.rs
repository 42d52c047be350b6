//! `sockloop::codec::Messages`, the framing the tutorial's clients need (a
//! message ends at a newline or when the sender pauses), against a naive
//! byte-at-a-time reference: through a protocol on the reactor (the
//! harness, its clock moved by hand so the quiet-period timer fires or
//! not), and through the clockless `push` / `flush`, for any split of the
//! input and any pattern of pauses.
//!
//! Input: byte 0 the limit (low 6 bits; 63 stands for no real limit),
//! whether a long message is skipped rather than ending the stream (bit 6)
//! and whether the protocol has a timer of its own (bit 7); byte 1 how the
//! rest is cut into reads; byte 2 how long the sender waits after each read
//! (two bits a read: none, a third of the quiet period, the period, more).
//!
//! Invariants: no panic; the messages and limit errors, in order, are the
//! reference's, the same on the reactor as without it; `pending` is the
//! reference's after every read; `timer_fired` claims only its own timer;
//! the end of the input delivers what is pending and closes.

#![no_main]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use sockloop::codec::{FrameError, Messages};
use sockloop::harness::Harness;
use sockloop::{Ctx, Protocol};
use sockloop_fuzz::chunks;

const QUIET: Duration = Duration::from_millis(100);
/// The protocol's own timer, which `Messages` must leave alone.
const OWN_TIMER: u64 = 7;

/// A message, or `None` for one over the limit.
type Said = Option<Vec<u8>>;

fn said(message: Result<&[u8], FrameError>) -> Said {
    message.ok().map(<[u8]>::to_vec)
}

/// The rules read one byte at a time: a newline ends a message (one `\r`
/// before it dropped), a pause ends the pending bytes (one trailing `\r`
/// dropped), more than `max` bytes of content is an error as soon as it is
/// certain (a last `\r` not counted), after which the message is skipped to
/// its newline or nothing more is heard.
struct Reference {
    max: usize,
    skip: bool,
    pending: Vec<u8>,
    skipping: bool,
    stopped: bool,
    out: Vec<Said>,
}

impl Reference {
    fn byte(&mut self, b: u8) {
        if self.stopped {
            return;
        }
        if self.skipping {
            self.skipping = b != b'\n';
            return;
        }
        if b == b'\n' {
            let line = std::mem::take(&mut self.pending);
            self.out
                .push(Some(line.strip_suffix(b"\r").unwrap_or(&line).to_vec()));
            return;
        }
        self.pending.push(b);
        let content = self.pending.len() - usize::from(b == b'\r');
        if content > self.max {
            self.pending.clear();
            self.out.push(None);
            if self.skip {
                self.skipping = true;
            } else {
                self.stopped = true;
            }
        }
    }

    fn pause(&mut self) {
        if !self.pending.is_empty() {
            let tail = std::mem::take(&mut self.pending);
            self.out
                .push(Some(tail.strip_suffix(b"\r").unwrap_or(&tail).to_vec()));
        }
    }
}

/// Frames with `Messages` and records what it says.
struct Recorder {
    messages: Messages,
    own_timer: bool,
    heard: Rc<RefCell<Vec<Said>>>,
}

impl Protocol for Recorder {
    fn connection_made(&mut self, ctx: &mut Ctx) {
        if self.own_timer {
            ctx.set_timer(Duration::ZERO, OWN_TIMER);
        }
    }
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        let heard = &self.heard;
        self.messages
            .data_received(ctx, data, |_, m| heard.borrow_mut().push(said(m)))
    }
    fn timer_fired(&mut self, ctx: &mut Ctx, id: u64) {
        let heard = &self.heard;
        let mine = self
            .messages
            .timer_fired(ctx, id, |_, m| heard.borrow_mut().push(said(m)));
        assert_eq!(mine, id != OWN_TIMER, "timer {id} claimed wrongly");
        if id == OWN_TIMER {
            // Keep one going, so the two kinds of timer meet often.
            ctx.set_timer(QUIET / 2, OWN_TIMER);
        }
    }
    fn eof_received(&mut self, ctx: &mut Ctx) {
        let heard = &self.heard;
        self.messages
            .finish(ctx, |_, m| heard.borrow_mut().push(said(m)));
        ctx.close();
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&[limit, split, waits], data)) = input.split_first_chunk::<3>() else {
        return;
    };
    let max = match limit & 63 {
        63 => usize::MAX,
        n => usize::from(n),
    };
    let skip = limit & 64 != 0;
    let own_timer = limit & 128 != 0;
    let framing = || {
        let m = Messages::new(max).quiet_period(QUIET);
        if skip { m.skip_too_long() } else { m }
    };

    let mut reference = Reference {
        max,
        skip,
        pending: Vec::new(),
        skipping: false,
        stopped: false,
        out: Vec::new(),
    };
    let mut direct = framing();
    let mut direct_out = Vec::new();
    let heard = Rc::new(RefCell::new(Vec::new()));
    let mut h = Harness::new(Recorder {
        messages: framing(),
        own_timer,
        heard: heard.clone(),
    });
    // The clock moves only by hand from here.
    h.advance(Duration::ZERO);

    for (i, read) in chunks(data, split).into_iter().enumerate() {
        read.iter().for_each(|&b| reference.byte(b));
        direct.push(read, |m| direct_out.push(said(m)));
        h.feed(read);
        let wait = match (waits >> (2 * (i % 4))) & 3 {
            0 => Duration::ZERO,
            1 => QUIET / 3,
            2 => QUIET,
            _ => QUIET * 5 / 2,
        };
        h.advance(wait);
        if wait >= QUIET {
            reference.pause();
            direct.flush(|m| direct_out.push(said(m)));
        }
        assert_eq!(
            direct.pending(),
            &reference.pending[..],
            "pending after read {i}"
        );
        assert_eq!(
            *heard.borrow(),
            reference.out,
            "on the reactor, after read {i}"
        );
        assert_eq!(direct_out, reference.out, "push and flush, after read {i}");
    }
    reference.pause();
    direct.flush(|m| direct_out.push(said(m)));
    h.feed_eof();
    assert!(h.is_closed(), "still open after the end of the input");
    assert_eq!(*heard.borrow(), reference.out, "on the reactor, at the end");
    assert_eq!(direct_out, reference.out, "push and flush, at the end");
});
