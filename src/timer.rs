//! A timer heap with cancellation: one-shot and periodic timers ordered by deadline.
//!
//! The reactor asks [`Timers::next_deadline`] for its poll timeout, then pops
//! every due timer after the poll. Cancelling only removes the timer's slot;
//! the heap entry goes stale and is skipped when it reaches the top, which
//! keeps cancellation O(1) (the same trick as Twisted's and asyncio's
//! "cancelled handle" flags). A protocol that sets and cancels a long timer
//! per request would leave its stale entries in the heap until their
//! deadlines, so once stale entries outnumber live ones the heap is rebuilt
//! from the live ones: amortised O(1), and the heap never holds more than
//! about twice the pending timers (asyncio does the same).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use slab::Slab;

/// Names a scheduled timer so it can be cancelled.
///
/// Returned by `call_later`, `call_every` and `set_timer`. An id stays unique
/// for the reactor's lifetime: cancelling an id whose timer already fired is a
/// harmless no-op, even if its slot was reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId {
    key: usize,
    seq: u64,
}

struct Slot<T> {
    seq: u64,
    deadline: Instant,
    period: Option<Duration>,
    /// `None` while a periodic timer's callback is running.
    what: Option<T>,
}

/// Pending timers, each carrying a `T` that says what to do when it fires.
pub(crate) struct Timers<T> {
    heap: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    slots: Slab<Slot<T>>,
    next_seq: u64,
}

impl<T> Default for Timers<T> {
    fn default() -> Self {
        Timers {
            heap: BinaryHeap::new(),
            slots: Slab::new(),
            next_seq: 0,
        }
    }
}

impl<T> Timers<T> {
    /// Schedules `what` at `deadline`, repeating every `period` if given.
    pub(crate) fn insert(
        &mut self,
        deadline: Instant,
        period: Option<Duration>,
        what: T,
    ) -> TimerId {
        let seq = self.next_seq;
        self.next_seq += 1;
        let key = self.slots.insert(Slot {
            seq,
            deadline,
            period,
            what: Some(what),
        });
        self.heap.push(Reverse((deadline, seq, key)));
        TimerId { key, seq }
    }

    /// Cancels a timer; returns whether it was still pending.
    pub(crate) fn cancel(&mut self, id: TimerId) -> bool {
        match self.slots.get(id.key) {
            Some(slot) if slot.seq == id.seq => {
                self.slots.remove(id.key);
                self.compact_if_mostly_stale();
                true
            }
            _ => false,
        }
    }

    /// Rebuilds the heap from its live entries once stale ones (cancelled
    /// timers) are more than half of it. Each rebuild of n entries follows at
    /// least n/2 cancellations, so it costs O(1) per cancellation.
    fn compact_if_mostly_stale(&mut self) {
        const MIN_HEAP: usize = 64;
        if self.heap.len() <= MIN_HEAP || self.heap.len() <= 2 * self.slots.len() {
            return;
        }
        let slots = &self.slots;
        self.heap
            .retain(|&Reverse((_, seq, key))| is_live(slots, seq, key));
    }

    /// Entries in the heap, stale ones included (for tests).
    #[cfg(test)]
    pub(crate) fn heap_len(&self) -> usize {
        self.heap.len()
    }

    /// Number of pending timers.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The earliest live deadline, dropping stale heap entries on the way.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(&Reverse((deadline, seq, key))) = self.heap.peek() {
            if self.is_live(seq, key) {
                return Some(deadline);
            }
            self.heap.pop();
        }
        None
    }

    /// Takes the next timer due at `now`. A periodic timer's slot stays
    /// reserved; hand its `what` back with [`Timers::restore`] after running it.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(TimerId, T)> {
        loop {
            let &Reverse((deadline, seq, key)) = self.heap.peek()?;
            if !self.is_live(seq, key) {
                self.heap.pop();
                continue;
            }
            if deadline > now {
                return None;
            }
            self.heap.pop();
            let id = TimerId { key, seq };
            let slot = &mut self.slots[key];
            if slot.period.is_some() {
                let what = slot.what.take()?;
                return Some((id, what));
            }
            let what = self.slots.remove(key).what?;
            return Some((id, what));
        }
    }

    /// The timers due at `now`, earliest first, each with `key(what)`: for
    /// the harness, which fires them in an order of its own
    /// ([`Timers::take`]). Walks every pending timer: not for the loop.
    pub(crate) fn due<K>(&self, now: Instant, key: impl Fn(&T) -> K) -> Vec<(TimerId, K)> {
        let mut due: Vec<_> = self
            .slots
            .iter()
            .filter(|(_, slot)| slot.deadline <= now)
            .filter_map(|(key_, slot)| {
                let what = slot.what.as_ref()?;
                Some((
                    (slot.deadline, slot.seq),
                    TimerId {
                        key: key_,
                        seq: slot.seq,
                    },
                    key(what),
                ))
            })
            .collect();
        due.sort_by_key(|(order, _, _)| *order);
        due.into_iter().map(|(_, id, k)| (id, k)).collect()
    }

    /// Takes the pending timer `id` as if it were due now, whatever its
    /// place in the heap (see [`Timers::due`]); a periodic one is handed
    /// back with [`Timers::restore`] as after [`Timers::pop_due`].
    pub(crate) fn take(&mut self, id: TimerId) -> Option<T> {
        if !self.is_live(id.seq, id.key) {
            return None;
        }
        // Its heap entry must go: a periodic timer's slot lives on, and the
        // entry would fire it again at the old deadline.
        self.heap
            .retain(|&Reverse((_, seq, key))| (seq, key) != (id.seq, id.key));
        let slot = &mut self.slots[id.key];
        if slot.period.is_some() {
            return slot.what.take();
        }
        self.slots.remove(id.key).what
    }

    /// Re-arms a periodic timer after its callback ran, unless it was
    /// cancelled meanwhile. The next deadline keeps the period's rhythm but
    /// never lands in the past (no burst of catch-up calls after a stall).
    pub(crate) fn restore(&mut self, id: TimerId, what: T, now: Instant) {
        let Some(slot) = self.slots.get_mut(id.key) else {
            return;
        };
        if slot.seq != id.seq {
            return;
        }
        let Some(period) = slot.period else { return };
        let mut next = slot.deadline + period;
        if next <= now {
            next = now + period;
        }
        slot.deadline = next;
        slot.what = Some(what);
        self.heap.push(Reverse((next, id.seq, id.key)));
    }

    fn is_live(&self, seq: u64, key: usize) -> bool {
        is_live(&self.slots, seq, key)
    }
}

/// Whether a heap entry still stands for a pending timer (not cancelled, not
/// fired, and not a periodic timer whose callback is running).
fn is_live<T>(slots: &Slab<Slot<T>>, seq: u64, key: usize) -> bool {
    matches!(slots.get(key), Some(slot) if slot.seq == seq && slot.what.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(timers: &mut Timers<&'static str>, now: Instant) -> Vec<&'static str> {
        let mut fired = Vec::new();
        while let Some((_, what)) = timers.pop_due(now) {
            fired.push(what);
        }
        fired
    }

    #[test]
    fn fire_in_deadline_order_then_insertion_order() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        timers.insert(t0 + Duration::from_millis(30), None, "c");
        timers.insert(t0 + Duration::from_millis(10), None, "a");
        timers.insert(t0 + Duration::from_millis(20), None, "b1");
        timers.insert(t0 + Duration::from_millis(20), None, "b2");
        assert_eq!(timers.next_deadline(), Some(t0 + Duration::from_millis(10)));
        assert_eq!(
            drain(&mut timers, t0 + Duration::from_millis(5)),
            Vec::<&str>::new()
        );
        assert_eq!(
            drain(&mut timers, t0 + Duration::from_millis(25)),
            ["a", "b1", "b2"]
        );
        assert_eq!(drain(&mut timers, t0 + Duration::from_millis(30)), ["c"]);
        assert_eq!(timers.next_deadline(), None);
        assert_eq!(timers.len(), 0);
    }

    #[test]
    fn cancelled_timers_never_fire_and_stale_ids_are_harmless() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        let a = timers.insert(t0, None, "a");
        let b = timers.insert(t0, None, "b");
        assert!(timers.cancel(a));
        assert!(!timers.cancel(a));
        assert_eq!(drain(&mut timers, t0), ["b"]);
        // b's slot is reused by c; cancelling the old id must not touch c.
        let c = timers.insert(t0, None, "c");
        assert!(!timers.cancel(b));
        assert_ne!(b, c);
        assert_eq!(drain(&mut timers, t0), ["c"]);
    }

    #[test]
    fn setting_and_cancelling_a_long_timer_per_request_keeps_the_heap_small() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        let keep: Vec<_> = (0..10)
            .map(|_| timers.insert(t0 + Duration::from_secs(3600), None, "kept"))
            .collect();
        let mut largest = 0;
        for _ in 0..100_000 {
            let id = timers.insert(t0 + Duration::from_secs(60), None, "request");
            assert!(timers.cancel(id));
            largest = largest.max(timers.heap_len());
        }
        assert!(largest <= 65, "the heap grew to {largest} entries");
        // The timers that were never cancelled are all still there, in order.
        assert_eq!(timers.len(), keep.len());
        assert_eq!(
            drain(&mut timers, t0 + Duration::from_secs(3600)),
            ["kept"; 10]
        );
    }

    #[test]
    fn periodic_timers_rearm_until_cancelled() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut timers = Timers::default();
        let id = timers.insert(t0 + ms(10), Some(ms(10)), "tick");
        let (fired, what) = timers.pop_due(t0 + ms(10)).unwrap();
        assert_eq!(fired, id);
        assert!(timers.pop_due(t0 + ms(10)).is_none());
        timers.restore(id, what, t0 + ms(10));
        assert_eq!(timers.next_deadline(), Some(t0 + ms(20)));
        // A stall past several periods re-arms one period after now.
        let (_, what) = timers.pop_due(t0 + ms(55)).unwrap();
        timers.restore(id, what, t0 + ms(55));
        assert_eq!(timers.next_deadline(), Some(t0 + ms(65)));
        // Cancelled while its callback runs: it is not re-armed.
        let (_, what) = timers.pop_due(t0 + ms(65)).unwrap();
        assert!(timers.cancel(id));
        timers.restore(id, what, t0 + ms(65));
        assert_eq!(timers.next_deadline(), None);
    }
}
