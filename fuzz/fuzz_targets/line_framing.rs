//! `sockloop::codec::next_line` against a naive reference, called directly
//! on every buffer a receiver could hold, and through a line protocol on the
//! reactor's own buffering (the harness), for any split of the input.
//!
//! Input: byte 0 picks the limit, byte 1 how the rest is cut into reads.

#![no_main]

use std::cell::RefCell;
use std::rc::Rc;

use libfuzzer_sys::fuzz_target;
use sockloop::codec::next_line;
use sockloop::harness::Harness;
use sockloop::{Ctx, Protocol};
use sockloop_fuzz::{Reference, chunks, decode_all, from_codec, reference_line};

/// Collects lines; closes on the first line over the limit.
struct Lines {
    max: usize,
    seen: Rc<RefCell<(Vec<Vec<u8>>, bool)>>,
}

impl Protocol for Lines {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        let mut used = 0;
        loop {
            match next_line(&data[used..], self.max) {
                Ok(Some((line, consumed))) => {
                    assert!(consumed > 0 && consumed <= data.len() - used);
                    self.seen.borrow_mut().0.push(line.to_vec());
                    used += consumed;
                }
                Ok(None) => return used,
                Err(_) => {
                    self.seen.borrow_mut().1 = true;
                    ctx.close();
                    return data.len();
                }
            }
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&[limit, split], data)) = input.split_first_chunk::<2>() else {
        return;
    };
    // Small limits reach the edges often; 255 stands for "no real limit".
    let max = if limit == 255 {
        usize::MAX
    } else {
        usize::from(limit % 64)
    };
    let expected = decode_all(data, |b| reference_line(b, max));

    // Direct: the buffer a receiver holds after each read, drained frame by frame.
    let mut buffer = Vec::new();
    let mut frames = Vec::new();
    let mut failed = false;
    'reads: for chunk in chunks(data, split) {
        buffer.extend_from_slice(chunk);
        loop {
            let got = from_codec(next_line(&buffer, max));
            assert_eq!(
                got,
                reference_line(&buffer, max),
                "buffer {buffer:?}, max {max}"
            );
            match got {
                Reference::Frame(frame, consumed) => {
                    frames.push(frame.to_vec());
                    buffer.drain(..consumed);
                }
                Reference::Incomplete => break,
                Reference::TooLong => {
                    failed = true;
                    break 'reads;
                }
            }
        }
    }
    assert_eq!((frames, failed), expected);

    // Through the reactor's input buffer: the same lines, the same verdict.
    let seen = Rc::new(RefCell::new((Vec::new(), false)));
    let mut harness = Harness::new(Lines {
        max,
        seen: seen.clone(),
    });
    for chunk in chunks(data, split) {
        harness.feed(chunk);
    }
    assert_eq!(*seen.borrow(), expected);
    assert_eq!(harness.is_closed(), expected.1);
});
