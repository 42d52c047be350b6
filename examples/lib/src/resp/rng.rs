//! `Rng`: the small random number generator that picks samples for the
//! expiry cycle, members for SPOP and SRANDMEMBER, keys for RANDOMKEY and
//! priorities for sorted sets. Not for secrets: xorshift64*, seeded from
//! std's per-process random hash keys.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

/// A xorshift64* generator.
#[derive(Clone, Copy, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded differently in every process (and every call).
    pub fn new() -> Rng {
        Rng::from_seed(RandomState::new().hash_one(0x5eed_u64))
    }

    /// Seeded with `seed` (any value; 0 is changed to 1).
    pub fn from_seed(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

impl Default for Rng {
    fn default() -> Self {
        Rng::new()
    }
}
