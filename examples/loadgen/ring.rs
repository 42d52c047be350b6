//! Send times of the messages in flight, in the order they were sent.

use std::time::Instant;

/// Send times of the messages in flight on one connection: a ring
/// allocated once with room for `--depth`.
pub(crate) struct Ring {
    slots: Box<[Instant]>,
    head: usize,
    pub(crate) len: usize,
}

impl Ring {
    pub(crate) fn new(capacity: usize, now: Instant) -> Ring {
        Ring {
            slots: vec![now; capacity].into_boxed_slice(),
            head: 0,
            len: 0,
        }
    }

    pub(crate) fn push(&mut self, t: Instant) {
        debug_assert!(self.len < self.slots.len());
        let i = (self.head + self.len) % self.slots.len();
        self.slots[i] = t;
        self.len += 1;
    }

    pub(crate) fn pop(&mut self) -> Option<Instant> {
        if self.len == 0 {
            return None;
        }
        let t = self.slots[self.head];
        self.head = (self.head + 1) % self.slots.len();
        self.len -= 1;
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ring_keeps_send_order() {
        let t0 = Instant::now();
        let mut r = Ring::new(3, t0);
        for k in 0..10u64 {
            r.push(t0 + Duration::from_nanos(k));
            if k % 2 == 1 {
                r.pop();
            }
            if r.len == 3 {
                r.pop();
            }
        }
        let mut last = None;
        while let Some(t) = r.pop() {
            assert!(last.is_none_or(|l| t > l));
            last = Some(t);
        }
    }
}
