//! The byte pattern every connection sends: a pseudo-random period each
//! connection starts at a point of its own, so a byte that comes back
//! wrong, late or twice is caught.

use std::rc::Rc;

/// The pattern repeats every `PERIOD` bytes: a prime, so that messages of
/// any power-of-two size start at ever different points of it.
pub(crate) const PERIOD: u64 = 65_521;

/// `data` is what the pattern holds at stream offset `offset` of a
/// connection whose stream starts at `seed`.
pub(crate) fn matches(pattern: &[u8], seed: u64, offset: u64, data: &[u8]) -> bool {
    let mut offset = offset;
    let mut rest = data;
    while !rest.is_empty() {
        let start = ((seed + offset) % PERIOD) as usize;
        let n = rest.len().min(pattern.len() - start);
        if rest[..n] != pattern[start..start + n] {
            return false;
        }
        rest = &rest[n..];
        offset += n as u64;
    }
    true
}

/// The pattern, long enough that every message is one contiguous slice.
pub(crate) fn make_pattern(size: u64) -> Rc<[u8]> {
    let mut x: u32 = 0x9e37_79b9;
    let period: Vec<u8> = (0..PERIOD)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect();
    let len = (PERIOD + size) as usize;
    period.iter().copied().cycle().take(len).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_check_holds_on_every_split_and_across_the_wrap() {
        let pattern = make_pattern(100);
        let seed = PERIOD - 37;
        let stream: Vec<u8> = (0..300u64)
            .map(|o| pattern[((seed + o) % PERIOD) as usize])
            .collect();
        for split in 0..=stream.len() {
            assert!(matches(&pattern, seed, 0, &stream[..split]));
            assert!(matches(&pattern, seed, split as u64, &stream[split..]));
        }
        let mut bad = stream.clone();
        bad[150] ^= 1;
        assert!(!matches(&pattern, seed, 0, &bad));
    }
}
