//! The slab of sources and the tokens that name them.
//!
//! A slab key lives in the low half of a token, a generation in the high
//! half, so that an event still in flight for a closed source never reaches
//! the source that reuses its slot: one poll can return an event for
//! connection A after an earlier event in the same batch closed A and
//! accepted B into A's slot. Every lookup compares the generation.

use mio::Token;
use slab::Slab;

use crate::sources::Source;

const SLOT_BITS: u32 = usize::BITS / 2;
const SLOT_MASK: usize = (1 << SLOT_BITS) - 1;
const GEN_MASK: u64 = (usize::MAX >> SLOT_BITS) as u64;

/// The token of the cross-thread waker: a slot number the slab never reaches.
pub(crate) const WAKER: Token = Token(usize::MAX);
/// The token of the alarm that keeps a nested reactor's fd readable while
/// work waits (`src/alarm.rs`): another slot number the slab never reaches.
pub(crate) const ALARM: Token = Token(usize::MAX - 2);
/// The token callbacks see when they do not belong to any source (reactor
/// timers, posted closures).
pub(crate) const NO_TOKEN: Token = Token(usize::MAX - 1);

fn token_of(slot: usize, generation: u32) -> Token {
    Token(slot | ((generation as usize) << SLOT_BITS))
}

fn split(token: Token) -> (usize, u32) {
    (token.0 & SLOT_MASK, (token.0 >> SLOT_BITS) as u32)
}

/// A token as logs show it: `#slot` (the generation only matters to the reactor).
pub(crate) fn show(token: Token) -> String {
    format!("#{}", split(token).0)
}

/// One slot of the slab: a source and the generation its token carries.
pub(crate) struct Entry<S> {
    generation: u32,
    pub(crate) source: Source<S>,
}

/// Every registered source, by token.
pub(crate) struct Table<S> {
    entries: Slab<Entry<S>>,
    next_generation: u64,
}

impl<S> Table<S> {
    pub(crate) fn new() -> Self {
        Table {
            entries: Slab::new(),
            next_generation: 0,
        }
    }

    /// The token the next [`Table::insert`] will return.
    pub(crate) fn next_token(&self) -> Token {
        let generation = (self.next_generation & GEN_MASK) as u32;
        token_of(self.entries.vacant_key(), generation)
    }

    /// Stores `source` under [`Table::next_token`].
    pub(crate) fn insert(&mut self, source: Source<S>) -> Token {
        let token = self.next_token();
        self.next_generation += 1;
        let generation = split(token).1;
        self.entries.insert(Entry { generation, source });
        token
    }

    #[inline(always)]
    pub(crate) fn get(&self, token: Token) -> Option<&Source<S>> {
        let (slot, generation) = split(token);
        match self.entries.get(slot) {
            Some(e) if e.generation == generation => Some(&e.source),
            _ => None,
        }
    }

    #[inline(always)]
    pub(crate) fn get_mut(&mut self, token: Token) -> Option<&mut Source<S>> {
        let (slot, generation) = split(token);
        match self.entries.get_mut(slot) {
            Some(e) if e.generation == generation => Some(&mut e.source),
            _ => None,
        }
    }

    pub(crate) fn remove(&mut self, token: Token) -> Option<Source<S>> {
        self.get(token)?;
        Some(self.entries.remove(split(token).0).source)
    }

    /// Every source with its token, in slot order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Token, &Source<S>)> + '_ {
        self.entries
            .iter()
            .map(|(slot, e)| (token_of(slot, e.generation), &e.source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_slot_and_generation() {
        let token = token_of(5, 7);
        assert_eq!(split(token), (5, 7));
        assert_ne!(token_of(5, 8), token);
        assert_ne!(token, WAKER);
        assert_ne!(token, NO_TOKEN);
        assert_eq!(show(token), "#5");
    }
}

#[cfg(test)]
mod size {
    /// The slab's own slot around an entry (as in the slab crate: vacant
    /// slots hold the next free key).
    #[allow(dead_code)]
    enum SlabSlot<T> {
        Vacant(usize),
        Occupied(T),
    }

    /// An idle connection is its slab slot and nothing else, so this size is
    /// the user-space cost of an idle connection (budget: 128 bytes). 104 in
    /// a release build; 112 in a debug one, where mio's sockets carry a
    /// registration check.
    #[test]
    fn an_idle_connection_is_one_slab_slot_of_at_most_112_bytes() {
        let size = std::mem::size_of::<SlabSlot<super::Entry<()>>>();
        let budget = if cfg!(debug_assertions) { 112 } else { 104 };
        assert!(size <= budget, "{size} bytes");
    }
}
