//! The running callback's writes to its own connection, collected and sent
//! in one system call when it returns.
//!
//! Two shortcuts keep the common echo-like callback cheap:
//!
//! - **Armed**: the read path has the connection in hand and has just seen
//!   that nothing is queued for it and it takes output. It arms the batch for
//!   that connection, so the callback's writes skip the slab lookup and the
//!   checks. Anything that could change that answer during the callback (a
//!   close, an abort, a half-close, a backlog) marks the connection dirty,
//!   and marking it dirty disarms (`Core::mark_dirty`).
//! - **Borrowed from the input**: a first write whose bytes lie inside the
//!   input being delivered (`data_received`'s `data`, or part of it) is not
//!   copied; the batch remembers where in the input it is. The input cannot
//!   change while the callback runs (the callback holds it shared), and the
//!   batch is sent before the input is given back, so the bytes sent are the
//!   bytes written. A second write copies the borrowed part first.

use mio::Token;

/// No token: an empty batch's owner, a disarmed batch's connection (the
/// waker's token, which no connection has).
const NOBODY: Token = Token(usize::MAX);

/// See the module documentation.
pub(crate) struct Batch {
    /// Whose bytes these are (`NOBODY`: the batch is empty).
    owner: Token,
    /// The connection whose writes may join the batch without a lookup.
    armed: Token,
    /// Bytes copied into the batch.
    copied: Vec<u8>,
    /// Or, while nothing is copied, the bytes in the input: where they
    /// start, and how many (0: none borrowed).
    borrowed_at: usize,
    borrowed_len: usize,
}

impl Batch {
    pub(crate) fn new() -> Self {
        Batch {
            owner: NOBODY,
            armed: NOBODY,
            copied: Vec::new(),
            borrowed_at: 0,
            borrowed_len: 0,
        }
    }

    /// Whether the batch holds bytes for `token`.
    #[inline]
    pub(crate) fn is_for(&self, token: Token) -> bool {
        self.owner == token && token != NOBODY
    }

    /// Whether the batch holds bytes for anyone.
    #[inline]
    pub(crate) fn is_open(&self) -> bool {
        self.owner != NOBODY
    }

    /// Whether a write to `token` may join the batch without a lookup.
    #[inline]
    pub(crate) fn is_armed_for(&self, token: Token) -> bool {
        self.armed == token
    }

    /// Lets `token`'s writes join the batch without a lookup, until
    /// [`Batch::disarm`] or the end of the callback.
    #[inline]
    pub(crate) fn arm(&mut self, token: Token) {
        self.armed = token;
    }

    /// Writes to `token` must go through the checks again.
    #[inline]
    pub(crate) fn disarm(&mut self, token: Token) {
        if self.armed == token {
            self.armed = NOBODY;
        }
    }

    /// Adds `data`, written to `token` by a callback reading `input`.
    /// The caller has checked that the batch is empty or already `token`'s.
    #[inline]
    pub(crate) fn push(&mut self, token: Token, data: &[u8], input: &[u8]) {
        if self.owner == NOBODY {
            if let Some(start) = offset_in(input, data) {
                self.owner = token;
                self.borrowed_at = start;
                self.borrowed_len = data.len();
                return;
            }
        }
        self.push_copy(token, data, input);
    }

    /// [`Batch::push`] when the bytes must be copied (kept out of line, so
    /// that the inlined common case stays small).
    #[inline(never)]
    fn push_copy(&mut self, token: Token, data: &[u8], input: &[u8]) {
        if self.owner == NOBODY {
            self.owner = token;
            self.copied.clear();
        } else if self.borrowed_len > 0 {
            // What the buffer holds is an earlier batch's: start afresh.
            let (start, len) = (self.borrowed_at, self.borrowed_len);
            self.borrowed_len = 0;
            self.copied.clear();
            self.copied.extend_from_slice(&input[start..start + len]);
        }
        self.copied.extend_from_slice(data);
    }

    /// Bytes in the batch.
    pub(crate) fn len(&self) -> usize {
        if self.owner == NOBODY {
            0
        } else if self.borrowed_len > 0 {
            self.borrowed_len
        } else {
            self.copied.len()
        }
    }

    /// Ends the batch: returns its owner and its bytes (borrowed from
    /// `input`, or from the batch's own buffer until the next push).
    /// Disarms too.
    #[inline]
    pub(crate) fn take<'b>(&'b mut self, input: &'b [u8]) -> Option<(Token, &'b [u8])> {
        self.armed = NOBODY;
        if self.owner == NOBODY {
            return None;
        }
        let owner = std::mem::replace(&mut self.owner, NOBODY);
        let bytes = if self.borrowed_len > 0 {
            // The bytes were borrowed from this same `input`: the batch is
            // taken by the run of the callback that was lent it, and no
            // other call borrows (every other context's input is empty).
            let (start, len) = (self.borrowed_at, self.borrowed_len);
            self.borrowed_len = 0;
            &input[start..start + len]
        } else {
            &self.copied[..]
        };
        Some((owner, bytes))
    }
}

/// Where `data` starts inside `input`, if it lies wholly inside it.
#[inline]
fn offset_in(input: &[u8], data: &[u8]) -> Option<usize> {
    let start = (data.as_ptr() as usize).wrapping_sub(input.as_ptr() as usize);
    (start <= input.len() && data.len() <= input.len() - start && !data.is_empty()).then_some(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Token = Token(1);

    fn taken(batch: &mut Batch, input: &[u8]) -> Option<(Token, Vec<u8>)> {
        batch.take(input).map(|(t, b)| (t, b.to_vec()))
    }

    #[test]
    fn a_write_of_part_of_the_input_is_borrowed_not_copied() {
        let input = b"hello world".to_vec();
        let mut batch = Batch::new();
        batch.push(A, &input[6..], &input);
        assert!(batch.copied.is_empty());
        assert_eq!((batch.borrowed_at, batch.borrowed_len), (6, 5));
        assert_eq!(batch.len(), 5);
        assert_eq!(taken(&mut batch, &input), Some((A, b"world".to_vec())));
        assert_eq!(taken(&mut batch, &input), None);
    }

    #[test]
    fn a_second_write_copies_the_borrowed_part_first_and_keeps_the_order() {
        let input = b"abc".to_vec();
        let mut batch = Batch::new();
        batch.push(A, &input, &input);
        batch.push(A, b"-", &input);
        batch.push(A, &input[..1], &input);
        assert_eq!(batch.len(), 5);
        assert_eq!(taken(&mut batch, &input), Some((A, b"abc-a".to_vec())));
    }

    #[test]
    fn a_batch_that_starts_borrowed_holds_nothing_of_the_batch_before() {
        let input = b"abc".to_vec();
        let mut batch = Batch::new();
        batch.push(A, b"old", &input);
        assert_eq!(taken(&mut batch, &input), Some((A, b"old".to_vec())));
        batch.push(A, &input[..2], &input);
        batch.push(A, b"!", &input);
        assert_eq!(taken(&mut batch, &input), Some((A, b"ab!".to_vec())));
    }

    #[test]
    fn bytes_from_outside_the_input_are_copied() {
        let input = b"abc".to_vec();
        let other = b"abcdef".to_vec();
        let mut batch = Batch::new();
        batch.push(A, &other[..3], &input);
        assert_eq!(batch.borrowed_len, 0);
        assert_eq!(taken(&mut batch, &input), Some((A, b"abc".to_vec())));
        assert_eq!(batch.len(), 0);
        batch.push(A, b"x", &input);
        assert_eq!(taken(&mut batch, &input), Some((A, b"x".to_vec())));
    }

    #[test]
    fn a_slice_reaching_past_the_input_is_not_inside_it() {
        let both = b"abcdef".to_vec();
        let input = &both[..3];
        assert_eq!(offset_in(input, &both[1..3]), Some(1));
        assert_eq!(offset_in(input, &both[2..4]), None);
        assert_eq!(offset_in(input, &both[3..5]), None);
        assert_eq!(offset_in(&both[3..], &both[..2]), None);
        assert_eq!(offset_in(&[], &both[..1]), None);
        assert_eq!(offset_in(input, &both[1..1]), None);
    }

    #[test]
    fn arming_is_per_connection_and_ends_with_the_batch() {
        let mut batch = Batch::new();
        batch.arm(A);
        assert!(batch.is_armed_for(A));
        assert!(!batch.is_armed_for(Token(2)));
        batch.disarm(Token(2));
        assert!(batch.is_armed_for(A));
        batch.disarm(A);
        assert!(!batch.is_armed_for(A));
        batch.arm(A);
        assert_eq!(taken(&mut batch, &[]), None);
        assert!(!batch.is_armed_for(A));
    }
}
