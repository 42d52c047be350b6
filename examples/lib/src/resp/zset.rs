//! `ZSet`: a sorted set, members ordered by (score, member), as Redis's
//! skip list orders them.
//!
//! Two structures, as Redis keeps two: a [`Dict`] from member to score for
//! ZSCORE and membership, and an ordered tree for everything about order.
//! The tree is a treap (a binary search tree kept balanced by random
//! priorities, heap-ordered) whose nodes count their subtree, so rank,
//! the element at a rank, and the bounds of a score or lex range are all a
//! walk from the root: O(log n) expected, no sort per call. Its nodes
//! live in one vector, linked by index, and vacant ones are reused.

use std::cmp::Ordering;

use crate::resp::bytes::Bytes;
use crate::resp::dict::Dict;
use crate::resp::rng::Rng;

const NIL: u32 = u32::MAX;

struct Node {
    member: Bytes,
    score: f64,
    left: u32,
    right: u32,
    /// Nodes in this subtree, this one included.
    size: u32,
    priority: u32,
}

/// (score, member) order, scores first. No score is NaN.
fn order(score: f64, member: &[u8], other_score: f64, other: &[u8]) -> Ordering {
    score
        .partial_cmp(&other_score)
        .unwrap_or(Ordering::Equal)
        .then_with(|| member.cmp(other))
}

/// A sorted set.
pub struct ZSet {
    scores: Dict<f64>,
    nodes: Vec<Node>,
    free: Vec<u32>,
    root: u32,
    rng: Rng,
}

impl ZSet {
    /// An empty set; `seed` starts its priorities (any value but 0).
    pub fn new(seed: u64) -> ZSet {
        ZSet {
            scores: Dict::new(),
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
            rng: Rng::from_seed(seed),
        }
    }

    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// Bytes the set takes, roughly.
    pub fn heap_size(&self) -> usize {
        self.scores.table_size()
            + self.nodes.capacity() * std::mem::size_of::<Node>()
            + self
                .nodes
                .iter()
                .map(|n| 2 * n.member.heap_size())
                .sum::<usize>()
    }

    /// The member → score table (for ZSCAN-style walks).
    pub fn scores(&self) -> &Dict<f64> {
        &self.scores
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Sets `member`'s score; returns the score it had.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        // Redis never stores -0: it is 0.
        let score = if score == 0.0 { 0.0 } else { score };
        match self.scores.find(member) {
            Some(at) => {
                let old = *self.scores.value_at(at);
                if old != score {
                    *self.scores.value_at_mut(at) = score;
                    self.unlink(old, member);
                    self.link(member, score);
                }
                Some(old)
            }
            None => {
                self.scores.insert_new(Bytes::new(member), score);
                self.link(member, score);
                None
            }
        }
    }

    /// Removes `member`; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (_, score) = self.scores.remove(member)?;
        self.unlink(score, member);
        Some(score)
    }

    /// `member`'s rank, 0 for the lowest score.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(self.count_while(|m, s| order(s, m, score, member) == Ordering::Less))
    }

    /// How many elements from the lowest on satisfy `before`, which must
    /// hold for a (possibly empty) prefix of the order and not after it:
    /// the rank at which a range bound falls.
    pub fn count_while(&self, before: impl Fn(&[u8], f64) -> bool) -> usize {
        let mut t = self.root;
        let mut count = 0;
        while t != NIL {
            let n = &self.nodes[t as usize];
            if before(&n.member, n.score) {
                count += self.size(n.left) + 1;
                t = n.right;
            } else {
                t = n.left;
            }
        }
        count
    }

    /// The element at `rank`.
    pub fn at(&self, mut rank: usize) -> Option<(&Bytes, f64)> {
        let mut t = self.root;
        while t != NIL {
            let n = &self.nodes[t as usize];
            let left = self.size(n.left);
            match rank.cmp(&left) {
                Ordering::Less => t = n.left,
                Ordering::Equal => return Some((&n.member, n.score)),
                Ordering::Greater => {
                    rank -= left + 1;
                    t = n.right;
                }
            }
        }
        None
    }

    /// Calls `f` for the elements of ranks `start..end`, in order, or from
    /// `end - 1` down to `start` when `reverse`.
    pub fn range(&self, start: usize, end: usize, reverse: bool, mut f: impl FnMut(&Bytes, f64)) {
        if start < end {
            self.visit(self.root, start, end, 0, reverse, &mut f);
        }
    }

    fn visit(
        &self,
        t: u32,
        start: usize,
        end: usize,
        base: usize,
        reverse: bool,
        f: &mut impl FnMut(&Bytes, f64),
    ) {
        if t == NIL {
            return;
        }
        let n = &self.nodes[t as usize];
        let rank = base + self.size(n.left);
        let (first, second, first_base, second_base, first_wanted, second_wanted) = if reverse {
            (
                n.right,
                n.left,
                rank + 1,
                base,
                end > rank + 1,
                start < rank,
            )
        } else {
            (
                n.left,
                n.right,
                base,
                rank + 1,
                start < rank,
                end > rank + 1,
            )
        };
        if first_wanted {
            self.visit(first, start, end, first_base, reverse, f);
        }
        if (start..end).contains(&rank) {
            f(&n.member, n.score);
        }
        if second_wanted {
            self.visit(second, start, end, second_base, reverse, f);
        }
    }

    /// Removes and returns the lowest (or highest) element.
    pub fn pop(&mut self, highest: bool) -> Option<(Bytes, f64)> {
        let rank = if highest {
            self.len().checked_sub(1)?
        } else {
            0
        };
        let (member, score) = self.at(rank).map(|(m, s)| (m.clone(), s))?;
        self.remove(&member);
        Some((member, score))
    }

    fn size(&self, t: u32) -> usize {
        if t == NIL {
            0
        } else {
            self.nodes[t as usize].size as usize
        }
    }

    fn update(&mut self, t: u32) {
        let n = &self.nodes[t as usize];
        let size = 1 + self.size(n.left) + self.size(n.right);
        self.nodes[t as usize].size = size as u32;
    }

    /// Splits `t` into the nodes for which `left` holds (a prefix of the
    /// order) and the rest.
    fn split(&mut self, t: u32, left: &impl Fn(&Node) -> bool) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        if left(&self.nodes[t as usize]) {
            let (l, r) = self.split(self.nodes[t as usize].right, left);
            self.nodes[t as usize].right = l;
            self.update(t);
            (t, r)
        } else {
            let (l, r) = self.split(self.nodes[t as usize].left, left);
            self.nodes[t as usize].left = r;
            self.update(t);
            (l, t)
        }
    }

    /// Joins two treaps, every node of `a` before every node of `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].priority > self.nodes[b as usize].priority {
            let right = self.nodes[a as usize].right;
            self.nodes[a as usize].right = self.merge(right, b);
            self.update(a);
            a
        } else {
            let left = self.nodes[b as usize].left;
            self.nodes[b as usize].left = self.merge(a, left);
            self.update(b);
            b
        }
    }

    fn link(&mut self, member: &[u8], score: f64) {
        let node = Node {
            member: Bytes::new(member),
            score,
            left: NIL,
            right: NIL,
            size: 1,
            priority: (self.rng.next() >> 32) as u32,
        };
        let t = match self.free.pop() {
            Some(t) => {
                self.nodes[t as usize] = node;
                t
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        let (l, r) = self.split(self.root, &|n: &Node| {
            order(n.score, &n.member, score, member) == Ordering::Less
        });
        let l = self.merge(l, t);
        self.root = self.merge(l, r);
    }

    fn unlink(&mut self, score: f64, member: &[u8]) {
        let (l, rest) = self.split(self.root, &|n: &Node| {
            order(n.score, &n.member, score, member) == Ordering::Less
        });
        let (found, r) = self.split(rest, &|n: &Node| {
            order(n.score, &n.member, score, member) != Ordering::Greater
        });
        if found != NIL {
            self.nodes[found as usize].member = Bytes::default();
            self.free.push(found);
        }
        self.root = self.merge(l, r);
        if self.root == NIL {
            self.nodes = Vec::new();
            self.free = Vec::new();
        }
    }
}

impl Clone for ZSet {
    fn clone(&self) -> Self {
        let mut copy = ZSet::new(self.rng.clone().next());
        self.range(0, self.len(), false, |m, s| {
            copy.insert(m, s);
        });
        copy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(z: &ZSet, start: usize, end: usize, reverse: bool) -> Vec<String> {
        let mut out = Vec::new();
        z.range(start, end, reverse, |m, s| {
            out.push(format!("{}:{s}", String::from_utf8_lossy(m)))
        });
        out
    }

    #[test]
    fn order_rank_and_ranges_follow_score_then_member() {
        let mut z = ZSet::new(7);
        for (m, s) in [("c", 2.0), ("a", 1.0), ("b", 2.0), ("d", -1.0), ("e", 10.0)] {
            assert_eq!(z.insert(m.as_bytes(), s), None);
        }
        assert_eq!(
            members(&z, 0, 5, false),
            ["d:-1", "a:1", "b:2", "c:2", "e:10"]
        );
        assert_eq!(members(&z, 1, 3, true), ["b:2", "a:1"]);
        assert_eq!(z.rank(b"c"), Some(3));
        assert_eq!(z.at(0).map(|(m, _)| m.to_vec()), Some(b"d".to_vec()));
        // Moving a member re-sorts it.
        assert_eq!(z.insert(b"d", 5.0), Some(-1.0));
        assert_eq!(
            members(&z, 0, 5, false),
            ["a:1", "b:2", "c:2", "d:5", "e:10"]
        );
        // Score bounds as ranks: 2 <= score < 10.
        let start = z.count_while(|_, s| s < 2.0);
        let end = z.count_while(|_, s| s < 10.0);
        assert_eq!((start, end), (1, 4));
        assert_eq!(z.remove(b"b"), Some(2.0));
        assert_eq!(z.pop(false).map(|(m, _)| m.to_vec()), Some(b"a".to_vec()));
        assert_eq!(z.pop(true).map(|(m, _)| m.to_vec()), Some(b"e".to_vec()));
        assert_eq!(members(&z, 0, 9, false), ["c:2", "d:5"]);
    }

    #[test]
    fn a_large_set_stays_consistent_and_shallow() {
        let mut z = ZSet::new(1);
        let n = 20_000u32;
        for i in 0..n {
            // Scores in a scrambled order.
            let score = f64::from(i.wrapping_mul(7919) % n);
            z.insert(format!("m{i}").as_bytes(), score);
        }
        for i in (0..n).step_by(3) {
            z.remove(format!("m{i}").as_bytes());
        }
        let mut last = f64::NEG_INFINITY;
        let mut count = 0;
        z.range(0, z.len(), false, |m, s| {
            assert!(s >= last);
            last = s;
            assert_eq!(z.rank(m), Some(count));
            count += 1;
        });
        assert_eq!(count, z.len());
        fn depth(z: &ZSet, t: u32) -> usize {
            if t == NIL {
                return 0;
            }
            let n = &z.nodes[t as usize];
            1 + depth(z, n.left).max(depth(z, n.right))
        }
        let d = depth(&z, z.root);
        assert!(d < 60, "depth {d} for {} nodes", z.len());
    }
}
