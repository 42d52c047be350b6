//! `Dict`: the hash table behind the keyspace, sets and hashes, chained as
//! Redis's `dict.c` is, so that SCAN can keep its promise.
//!
//! SCAN, SSCAN and HSCAN hand out a cursor between calls while the table
//! goes on changing, and must still return every element that was there
//! for the whole scan. An open-addressing table (std's) moves elements
//! between slots as it probes and grows, so no position in it is stable.
//! Here every element lives in the chain of its *home bucket* (its hash
//! masked by the table size), and the cursor walks the buckets in
//! reverse-binary order (Redis's `dictScan`): when the table doubles, the
//! buckets a cursor has passed split into buckets it has also passed, so a
//! scan never misses an element, and returns one twice only when the table
//! shrank under it.
//!
//! The chains are indices into one vector of nodes (no allocation per
//! element beyond what a key needs), each node keeping 32 bits of its hash
//! so that growing rehashes nothing and a lookup compares keys only when
//! those bits match. New nodes always go at the end and a removal leaves a
//! hole until holes are half the vector (then it is packed, in order), so
//! iterating the vector gives the elements in insertion order: HGETALL
//! lists a hash's fields as they were added, as Redis does for small
//! hashes. Hashing is std's SipHash with a random key per table:
//! keys come from the network, and a fixed fast hash would let a client
//! choose keys that all collide (Redis makes the same choice).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use crate::resp::bytes::Bytes;

const NIL: u32 = u32::MAX;

struct Node<V> {
    key: Bytes,
    hash: u32,
    /// The next node in the same bucket, or `NIL`.
    next: u32,
    value: V,
}

/// A hash table from binary-safe keys to `V`, with stable scan cursors.
pub struct Dict<V> {
    /// The first node of each bucket's chain; the length is 0 or a power of 2.
    buckets: Vec<u32>,
    /// In insertion order, with holes where elements were removed.
    nodes: Vec<Option<Node<V>>>,
    len: usize,
    hasher: RandomState,
}

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Dict::new()
    }
}

impl<V> Dict<V> {
    /// An empty table; it allocates on the first insert.
    pub fn new() -> Dict<V> {
        Dict {
            buckets: Vec::new(),
            nodes: Vec::new(),
            len: 0,
            hasher: RandomState::new(),
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Buckets in the table (SCAN's cursor space).
    pub fn buckets(&self) -> usize {
        self.buckets.len()
    }

    /// Bytes the table itself takes (buckets and nodes, not the heap parts
    /// of keys and values).
    pub fn table_size(&self) -> usize {
        self.buckets.capacity() * 4 + self.nodes.capacity() * std::mem::size_of::<Option<Node<V>>>()
    }

    #[inline]
    fn hash(&self, key: &[u8]) -> u32 {
        self.hasher.hash_one(key) as u32
    }

    #[inline]
    fn node(&self, i: u32) -> &Node<V> {
        self.nodes[i as usize]
            .as_ref()
            .expect("a linked node is occupied")
    }

    /// Where `key` is: a handle for [`Dict::key_at`] and friends, valid
    /// until the table is next changed.
    #[inline]
    pub fn find(&self, key: &[u8]) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let hash = self.hash(key);
        let mut i = self.buckets[(hash as usize) & (self.buckets.len() - 1)];
        while i != NIL {
            let node = self.node(i);
            if node.hash == hash && *node.key == *key {
                return Some(i as usize);
            }
            i = node.next;
        }
        None
    }

    /// The value under `key`.
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.find(key).map(|i| self.value_at(i))
    }

    /// The value under `key`, to change in place.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        self.find(key).map(|i| self.value_at_mut(i))
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.find(key).is_some()
    }

    /// The key at a handle from [`Dict::find`].
    pub fn key_at(&self, i: usize) -> &Bytes {
        &self.node(i as u32).key
    }

    /// The value at a handle.
    pub fn value_at(&self, i: usize) -> &V {
        &self.node(i as u32).value
    }

    /// The value at a handle, to change in place.
    pub fn value_at_mut(&mut self, i: usize) -> &mut V {
        &mut self.nodes[i].as_mut().expect("a handle names a node").value
    }

    /// Inserts or replaces; returns the value replaced.
    pub fn insert(&mut self, key: &[u8], value: V) -> Option<V> {
        match self.find(key) {
            Some(i) => Some(std::mem::replace(self.value_at_mut(i), value)),
            None => {
                self.insert_new(Bytes::new(key), value);
                None
            }
        }
    }

    /// The handle of `key`, inserting `make()` first if it is missing; the
    /// flag says whether it was inserted. One hash of the key either way.
    #[inline]
    pub fn entry(&mut self, key: &[u8], make: impl FnOnce() -> V) -> (usize, bool) {
        let hash = self.hash(key);
        if self.len > 0 {
            let mut i = self.buckets[(hash as usize) & (self.buckets.len() - 1)];
            while i != NIL {
                let node = self.node(i);
                if node.hash == hash && *node.key == *key {
                    return (i as usize, false);
                }
                i = node.next;
            }
        }
        (self.link(Bytes::new(key), hash, make()), true)
    }

    /// Inserts a key the caller knows is absent; returns its handle.
    pub fn insert_new(&mut self, key: Bytes, value: V) -> usize {
        let hash = self.hash(&key);
        self.link(key, hash, value)
    }

    fn link(&mut self, key: Bytes, hash: u32, value: V) -> usize {
        if self.len >= self.buckets.len() {
            self.resize((self.buckets.len() * 2).max(4));
        }
        let bucket = (hash as usize) & (self.buckets.len() - 1);
        let node = Node {
            key,
            hash,
            next: self.buckets[bucket],
            value,
        };
        self.nodes.push(Some(node));
        let i = (self.nodes.len() - 1) as u32;
        self.buckets[bucket] = i;
        self.len += 1;
        i as usize
    }

    /// Removes `key`; returns it and its value.
    pub fn remove(&mut self, key: &[u8]) -> Option<(Bytes, V)> {
        let i = self.find(key)?;
        Some(self.remove_at(i))
    }

    /// Removes the element at a handle.
    pub fn remove_at(&mut self, i: usize) -> (Bytes, V) {
        let i = i as u32;
        let bucket = (self.node(i).hash as usize) & (self.buckets.len() - 1);
        // Unlink it from its chain.
        if self.buckets[bucket] == i {
            self.buckets[bucket] = self.node(i).next;
        } else {
            let mut p = self.buckets[bucket];
            while self.node(p).next != i {
                p = self.node(p).next;
            }
            let next = self.node(i).next;
            self.nodes[p as usize].as_mut().expect("linked").next = next;
        }
        let node = self.nodes[i as usize].take().expect("linked");
        self.len -= 1;
        // A table under an eighth full shrinks (Redis: under a tenth); one
        // half holes is packed.
        if self.len == 0 {
            *self = Dict {
                hasher: self.hasher.clone(),
                ..Dict::new()
            };
        } else if self.buckets.len() > 4 && self.len * 8 < self.buckets.len() {
            self.resize(self.buckets.len() / 4);
        } else if self.len * 2 < self.nodes.len() {
            self.resize(self.buckets.len());
        }
        (node.key, node.value)
    }

    /// Rebuilds the chains for `size` buckets. The nodes are packed at the
    /// same time (keeping their order), so a table that shrank gives its
    /// memory back.
    fn resize(&mut self, size: usize) {
        if self.nodes.len() > self.len {
            self.nodes.retain(Option::is_some);
        }
        if self.nodes.capacity() > 2 * self.nodes.len().max(4) {
            self.nodes.shrink_to(self.nodes.len() * 3 / 2);
        }
        self.buckets = vec![NIL; size];
        let mask = size - 1;
        for (i, slot) in self.nodes.iter_mut().enumerate() {
            let node = slot.as_mut().expect("packed");
            let bucket = (node.hash as usize) & mask;
            node.next = self.buckets[bucket];
            self.buckets[bucket] = i as u32;
        }
    }

    /// Every element, in table order.
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &V)> {
        self.nodes.iter().flatten().map(|n| (&n.key, &n.value))
    }

    /// Every key, in table order.
    pub fn keys(&self) -> impl Iterator<Item = &Bytes> {
        self.iter().map(|(k, _)| k)
    }

    /// Empties the table, handing over every element.
    pub fn drain(&mut self) -> impl Iterator<Item = (Bytes, V)> {
        let nodes = std::mem::take(&mut self.nodes);
        self.buckets = Vec::new();
        self.len = 0;
        nodes.into_iter().flatten().map(|n| (n.key, n.value))
    }

    /// One step of a scan: visits every element of the bucket `cursor`
    /// names and returns the next cursor (0 when the scan is complete).
    /// Start with 0.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&Bytes, &V)) -> u64 {
        if self.len == 0 {
            return 0;
        }
        let mask = (self.buckets.len() - 1) as u64;
        let mut i = self.buckets[(cursor & mask) as usize];
        while i != NIL {
            let node = self.node(i);
            visit(&node.key, &node.value);
            i = node.next;
        }
        // Increment the cursor's bits above the mask... in reverse: set the
        // unmasked bits, reverse, add one, reverse back.
        let v = cursor | !mask;
        v.reverse_bits().wrapping_add(1).reverse_bits()
    }

    /// A random element's handle: a random non-empty bucket, then a random
    /// node of its chain (Redis's `dictGetRandomKey`).
    pub fn random(&self, mut rng: impl FnMut() -> u64) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let mask = self.buckets.len() as u64 - 1;
        let head = loop {
            let head = self.buckets[(rng() & mask) as usize];
            if head != NIL {
                break head;
            }
        };
        let mut chain = 0;
        let mut i = head;
        while i != NIL {
            chain += 1;
            i = self.node(i).next;
        }
        let mut pick = rng() % chain;
        let mut i = head;
        while pick > 0 {
            i = self.node(i).next;
            pick -= 1;
        }
        Some(i as usize)
    }
}

impl<V: Clone> Clone for Dict<V> {
    fn clone(&self) -> Self {
        let mut copy = Dict::new();
        for (k, v) in self.iter() {
            copy.insert_new(k.clone(), v.clone());
        }
        copy
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn key(i: u32) -> Vec<u8> {
        format!("key:{i}").into_bytes()
    }

    #[test]
    fn a_node_of_a_set_is_small() {
        assert_eq!(std::mem::size_of::<Option<Node<()>>>(), 32);
    }

    #[test]
    fn inserts_finds_and_removes_like_a_map() {
        let mut d = Dict::new();
        for i in 0..1000 {
            assert_eq!(d.insert(&key(i), i), None);
        }
        assert_eq!(d.insert(&key(7), 70), Some(7));
        assert_eq!(d.len(), 1000);
        for i in (0..1000).step_by(2) {
            assert!(d.remove(&key(i)).is_some());
        }
        assert_eq!(d.len(), 500);
        for i in 0..1000 {
            let want = (i % 2 == 1).then_some(if i == 7 { 70 } else { i });
            assert_eq!(d.get(&key(i)).copied(), want);
        }
        let (at, inserted) = d.entry(&key(0), || 5);
        assert!(inserted);
        assert_eq!(*d.value_at(at), 5);
        assert_eq!(d.entry(&key(0), || 6), (at, false));
        // Shrinking packs the nodes.
        for i in 0..1000 {
            d.remove(&key(i));
        }
        assert!(d.is_empty());
        assert_eq!(d.buckets(), 0);
    }

    /// Scans to the end, inserting a new key after every `every` steps
    /// (fewer than one per bucket visited, or the table would outgrow the
    /// scan forever).
    fn full_scan(d: &mut Dict<u32>, every: u32) -> HashSet<Vec<u8>> {
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut next = 1_000_000;
        let mut steps = 0;
        loop {
            cursor = d.scan(cursor, |k, _| {
                seen.insert(k.to_vec());
            });
            steps += 1;
            if every > 0 && steps % every == 0 {
                d.insert(&key(next), next);
                next += 1;
            }
            if cursor == 0 {
                return seen;
            }
        }
    }

    #[test]
    fn a_scan_returns_every_key_present_throughout_while_the_table_grows_or_shrinks() {
        let mut d = Dict::new();
        for i in 0..10_000 {
            d.insert(&key(i), i);
        }
        let seen = full_scan(&mut d, 0);
        assert_eq!(seen.len(), 10_000);
        // Growing (several times over) during the scan.
        let mut d = Dict::new();
        for i in 0..100 {
            d.insert(&key(i), i);
        }
        let before = d.buckets();
        let seen = full_scan(&mut d, 1);
        assert!(d.buckets() > before, "the table grew from {before} buckets");
        assert!((0..100).all(|i| seen.contains(&key(i))));
        // Shrinking during the scan: the survivors are all seen.
        let mut d = Dict::new();
        for i in 0..20_000 {
            d.insert(&key(i), i);
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut doomed = 1000..20_000;
        loop {
            cursor = d.scan(cursor, |k, _| {
                seen.insert(k.to_vec());
            });
            for i in doomed.by_ref().take(500) {
                d.remove(&key(i));
            }
            if cursor == 0 {
                break;
            }
        }
        assert!((0..1000).all(|i| seen.contains(&key(i))));
    }

    #[test]
    fn iteration_follows_insertion_order() {
        let mut d = Dict::new();
        for i in 0..100 {
            d.insert(&key(i), i);
        }
        for i in (0..100).filter(|i| i % 3 == 0) {
            d.remove(&key(i));
        }
        d.insert(&key(7), 70); // replaced in place
        d.insert(&key(1000), 1000);
        let order: Vec<u32> = d.iter().map(|(_, v)| *v).collect();
        let mut want: Vec<u32> = (0..100).filter(|i| i % 3 != 0).collect();
        let seven = want.iter().position(|&v| v == 7).unwrap();
        want[seven] = 70;
        want.push(1000);
        assert_eq!(order, want);
    }

    #[test]
    fn random_picks_reach_every_element() {
        let mut d = Dict::new();
        for i in 0..50 {
            d.insert(&key(i), i);
        }
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut rng = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut seen = HashSet::new();
        for _ in 0..5000 {
            let i = d.random(&mut rng).unwrap();
            seen.insert(*d.value_at(i));
        }
        assert_eq!(seen.len(), 50);
    }
}
