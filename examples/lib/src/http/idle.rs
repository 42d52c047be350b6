//! The idle keep-alive connections, oldest first: near the connection limit
//! the oldest make room for new ones.
//!
//! A connection parks here after every response and leaves at the first
//! byte of its next request, so both must cost next to nothing. Parking
//! appends to a queue, which is oldest first by construction; leaving only
//! marks the connection's ticket void and leaves its queue entry behind, to
//! be skipped when it reaches the front or dropped when the queue is
//! compacted (once it holds more void entries than connections, so the work
//! is constant per park and the queue's length stays bounded: no allocation
//! in the steady state).

use std::collections::VecDeque;

use slab::Slab;
use sockloop::Token;

/// A ticket number no park hands out: "not parked".
const VOID: u64 = u64::MAX;

/// A connection's place in the list, from [`IdleList::join`] to
/// [`IdleList::leave`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Member(usize);

/// Parked connections in the order they parked.
#[derive(Default)]
pub struct IdleList {
    /// Each member's ticket while parked, else `VOID`.
    tickets: Slab<u64>,
    /// (ticket, member, token) in the order parked; an entry whose ticket
    /// is no longer its member's is void.
    queue: VecDeque<(u64, Member, Token)>,
    next_ticket: u64,
    /// Members parked now.
    parked: usize,
}

impl IdleList {
    /// A new connection joins, not parked.
    pub fn join(&mut self) -> Member {
        Member(self.tickets.insert(VOID))
    }

    /// A connection leaves for good (closed).
    pub fn leave(&mut self, member: Member) {
        self.unpark(member);
        self.tickets.try_remove(member.0);
    }

    /// `member` (connection `token`) waits for its next request.
    pub fn park(&mut self, member: Member, token: Token) {
        self.unpark(member);
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.tickets[member.0] = ticket;
        self.parked += 1;
        if self.queue.len() > 2 * self.parked + 64 {
            self.compact();
        }
        self.queue.push_back((ticket, member, token));
    }

    /// `member` is busy again.
    pub fn unpark(&mut self, member: Member) {
        if let Some(ticket) = self.tickets.get_mut(member.0)
            && *ticket != VOID
        {
            *ticket = VOID;
            self.parked -= 1;
        }
    }

    /// Takes the connection parked longest off the list.
    pub fn pop_oldest(&mut self) -> Option<Token> {
        while let Some((ticket, member, token)) = self.queue.pop_front() {
            if self.is_current(ticket, member) {
                self.unpark(member);
                return Some(token);
            }
        }
        None
    }

    /// Connections parked now.
    pub fn len(&self) -> usize {
        self.parked
    }

    pub fn is_empty(&self) -> bool {
        self.parked == 0
    }

    fn is_current(&self, ticket: u64, member: Member) -> bool {
        self.tickets.get(member.0) == Some(&ticket)
    }

    /// Drops the void entries.
    fn compact(&mut self) {
        let tickets = &self.tickets;
        self.queue
            .retain(|&(ticket, member, _)| tickets.get(member.0) == Some(&ticket));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_parked_first_and_busy_ones_skipped() {
        let mut idle = IdleList::default();
        let [a, b, c] = [idle.join(), idle.join(), idle.join()];
        idle.park(a, Token(1));
        idle.park(b, Token(2));
        idle.park(c, Token(3));
        idle.unpark(b);
        idle.park(a, Token(1)); // a's second request: now the newest
        assert_eq!(idle.len(), 2);
        assert_eq!(idle.pop_oldest(), Some(Token(3)));
        assert_eq!(idle.pop_oldest(), Some(Token(1)));
        assert_eq!(idle.pop_oldest(), None, "b is busy");
        assert!(idle.is_empty());
    }

    #[test]
    fn a_member_that_left_is_never_popped_even_when_its_place_is_reused() {
        let mut idle = IdleList::default();
        let a = idle.join();
        idle.park(a, Token(1));
        idle.leave(a);
        let b = idle.join(); // may reuse a's slot
        assert_eq!(idle.pop_oldest(), None);
        idle.park(b, Token(2));
        assert_eq!(idle.pop_oldest(), Some(Token(2)));
    }

    #[test]
    fn the_queue_stays_bounded_under_endless_requests() {
        let mut idle = IdleList::default();
        let members: Vec<_> = (0..100).map(|_| idle.join()).collect();
        for round in 0..1000 {
            for (i, &m) in members.iter().enumerate() {
                idle.unpark(m);
                idle.park(m, Token(i));
            }
            assert!(idle.queue.len() <= 2 * 100 + 64 + 1, "round {round}");
        }
        assert_eq!(idle.len(), 100);
        assert_eq!(idle.pop_oldest(), Some(Token(0)));
    }
}
