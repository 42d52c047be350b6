//! The fault simulation's one source of randomness: a seed in, the same
//! scenario out, on any machine.

use std::ops::RangeInclusive;

/// A small, fast pseudo-random generator (SplitMix64), all a scenario
/// needs: one seed gives one sequence, so one seed gives one scenario.
/// Not for anything secret.
///
/// ```
/// use sockloop::harness::Rng;
///
/// let mut a = Rng::new(42);
/// let mut b = Rng::new(42);
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert!(a.below(10) < 10);
/// ```
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// The sequence of `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        // Multiply-shift: no modulo bias worth the name for small n.
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// A number in `range`.
    pub fn range(&mut self, range: RangeInclusive<usize>) -> usize {
        let (lo, hi) = (*range.start(), *range.end());
        lo + self.below(hi.saturating_sub(lo).saturating_add(1))
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent as usize
    }

    /// One of `items` (which must not be empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A length that is mostly small and now and then large, up to `max`:
    /// where splits and windows find the edge cases.
    pub fn size(&mut self, max: usize) -> usize {
        match self.below(4) {
            0 => self.range(0..=max.min(1)),
            1 | 2 => self.range(1..=max.clamp(1, 16)),
            _ => self.range(1..=max.max(1)),
        }
    }

    /// `len` random bytes from `alphabet` (any byte if it is empty).
    pub fn bytes(&mut self, len: usize, alphabet: &[u8]) -> Vec<u8> {
        (0..len)
            .map(|_| {
                if alphabet.is_empty() {
                    self.next_u64() as u8
                } else {
                    *self.pick(alphabet)
                }
            })
            .collect()
    }

    /// A seed for a generator of its own (a client's, say), so that what
    /// one part of a scenario draws does not shift what the others draw.
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }
}
