//! `sockloop::codec::next_length_prefixed` against a naive reference, called
//! directly on every buffer a receiver could hold and through a protocol on
//! the reactor's own buffering, for any split of the input. A prefix over the
//! limit must be refused from its 4 bytes, before any payload is buffered.
//!
//! Input: byte 0 picks the limit, byte 1 how the rest is cut into reads.

#![no_main]

use std::cell::RefCell;
use std::rc::Rc;

use libfuzzer_sys::fuzz_target;
use sockloop::codec::{LENGTH_PREFIX, length_prefix, next_length_prefixed};
use sockloop::harness::Harness;
use sockloop::{Ctx, Protocol};
use sockloop_fuzz::{Reference, chunks, decode_all, from_codec, reference_length_prefixed};

/// Collects frames; closes on the first prefix over the limit.
struct Frames {
    max: usize,
    seen: Rc<RefCell<(Vec<Vec<u8>>, bool)>>,
}

impl Protocol for Frames {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        let mut used = 0;
        loop {
            match next_length_prefixed(&data[used..], self.max) {
                Ok(Some((frame, consumed))) => {
                    assert_eq!(consumed, LENGTH_PREFIX + frame.len());
                    self.seen.borrow_mut().0.push(frame.to_vec());
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
    let max = match limit {
        255 => usize::MAX,
        254 => u32::MAX as usize,
        253 => 1 << 20,
        _ => usize::from(limit % 32),
    };
    let expected = decode_all(data, |b| reference_length_prefixed(b, max));

    let mut buffer = Vec::new();
    let mut frames = Vec::new();
    let mut failed = false;
    'reads: for chunk in chunks(data, split) {
        buffer.extend_from_slice(chunk);
        loop {
            let got = from_codec(next_length_prefixed(&buffer, max));
            assert_eq!(got, reference_length_prefixed(&buffer, max), "max {max}");
            match got {
                Reference::Frame(frame, consumed) => {
                    // What the sender side would have written for it.
                    assert_eq!(
                        length_prefix(frame.len()).ok().as_ref().map(|p| &p[..]),
                        buffer.get(..LENGTH_PREFIX)
                    );
                    frames.push(frame.to_vec());
                    buffer.drain(..consumed);
                }
                Reference::Incomplete => break,
                Reference::TooLong => {
                    // Refused as soon as the prefix is in.
                    assert!(buffer.len() >= LENGTH_PREFIX);
                    failed = true;
                    break 'reads;
                }
            }
        }
    }
    assert_eq!((frames, failed), expected);

    let seen = Rc::new(RefCell::new((Vec::new(), false)));
    let mut harness = Harness::new(Frames {
        max,
        seen: seen.clone(),
    });
    for chunk in chunks(data, split) {
        harness.feed(chunk);
    }
    assert_eq!(*seen.borrow(), expected);
    assert_eq!(harness.is_closed(), expected.1);
});
