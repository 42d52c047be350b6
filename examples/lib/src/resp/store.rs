//! The keyspace: one hash map from key to value, the keys with a time to
//! live, and the two ways they expire (lazily when touched, and by sampling
//! on a timer, as Redis's `activeExpireCycle` does).

use std::borrow::Borrow;
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};
use std::ops::Deref;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Strings up to this long live inside the `Bytes` itself, so the typical
/// key (`user:1000`) or small value (`xxx`, a counter) costs no allocation.
pub const INLINE: usize = 22;

/// A binary-safe string, stored inline when it is short.
///
/// `Hash` and `Eq` are those of `[u8]`, so a map keyed by `Bytes` is looked
/// up with the `&[u8]` argument straight from the request buffer.
#[derive(Clone)]
pub enum Bytes {
    Inline { len: u8, data: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl Bytes {
    pub fn new(s: &[u8]) -> Bytes {
        if s.len() <= INLINE {
            let mut data = [0; INLINE];
            data[..s.len()].copy_from_slice(s);
            Bytes::Inline {
                len: s.len() as u8,
                data,
            }
        } else {
            Bytes::Heap(s.into())
        }
    }

    /// Takes a buffer that is already exactly as large as its contents (a
    /// streamed argument) without copying it.
    pub fn from_vec(v: Vec<u8>) -> Bytes {
        if v.len() <= INLINE {
            Bytes::new(&v)
        } else {
            Bytes::Heap(v.into_boxed_slice())
        }
    }

    /// Overwrites the contents, reusing the storage when the new value fits
    /// it (SET on an existing key allocates nothing then).
    pub fn assign(&mut self, s: &[u8]) {
        match self {
            Bytes::Heap(b) if b.len() == s.len() => b.copy_from_slice(s),
            _ => *self = Bytes::new(s),
        }
    }
}

impl Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Inline { len, data } => &data[..usize::from(*len)],
            Bytes::Heap(b) => b,
        }
    }
}

impl Borrow<[u8]> for Bytes {
    fn borrow(&self) -> &[u8] {
        self
    }
}

impl Hash for Bytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl PartialEq for Bytes {
    fn eq(&self, other: &Bytes) -> bool {
        **self == **other
    }
}

impl Eq for Bytes {}

/// What a key holds. The collections are boxed on purpose (one more
/// allocation per collection) so that the common case, a string, keeps every
/// entry of the keyspace small: 40 bytes instead of 64.
#[allow(clippy::box_collection)]
pub enum Value {
    Str(Bytes),
    List(Box<VecDeque<Bytes>>),
    Set(Box<HashSet<Bytes>>),
    Hash(Box<HashMap<Bytes, Bytes>>),
}

/// `expire_at` for a key without a time to live: never reached.
const PERSISTENT: i64 = i64::MAX;

pub struct Entry {
    pub value: Value,
    /// Unix time in milliseconds at which the key is gone, or `PERSISTENT`.
    expire_at: i64,
    /// Where the key sits in `Db::volatile` while it has a time to live.
    slot: u32,
}

impl Entry {
    fn new(value: Value) -> Entry {
        Entry {
            value,
            expire_at: PERSISTENT,
            slot: 0,
        }
    }

    /// The key's expiry time in Unix milliseconds, if it has one.
    pub fn expire_at(&self) -> Option<i64> {
        (self.expire_at != PERSISTENT).then_some(self.expire_at)
    }
}

/// Keys sampled per round of the active expiry cycle, and the share of
/// expired ones (in percent) above which another round follows: Redis's
/// `ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP` and `..._ACCEPTABLE_STALE`.
const SAMPLE: usize = 20;
const STALE_PERCENT: usize = 25;

/// The whole keyspace, shared by every connection (`Reactor::with_state`).
///
/// The map uses std's SipHash with a random key on purpose: keys come from
/// the network, and a fixed fast hash (FxHash) lets a client choose keys
/// that all collide. Redis makes the same choice (SipHash in `dict.c`).
pub struct Db {
    map: HashMap<Bytes, Entry>,
    /// The keys with a time to live, so the expiry cycle can sample them at
    /// random (std's map cannot pick a random entry).
    volatile: Vec<Bytes>,
    clock: Clock,
    rng: u64,
    clients: u64,
}

impl Default for Db {
    fn default() -> Self {
        Db::new()
    }
}

impl Db {
    pub fn new() -> Db {
        // A random seed from std's per-process random hasher keys.
        let seed = RandomState::new().hash_one(0x5eed_u64) | 1;
        Db {
            map: HashMap::new(),
            volatile: Vec::new(),
            clock: Clock::new(),
            rng: seed,
            clients: 0,
        }
    }

    /// Unix time in milliseconds at `at` (the reactor's turn time).
    pub fn now_ms(&self, at: Instant) -> i64 {
        self.clock.unix_ms(at)
    }

    /// A new client id (HELLO reports it).
    pub fn next_client_id(&mut self) -> u64 {
        self.clients += 1;
        self.clients
    }

    /// A xorshift64* step: good enough to pick samples and set members.
    pub fn random(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Number of keys (including expired ones no one has touched yet, as
    /// Redis's DBSIZE counts them).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are no keys at all.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Keys that have a time to live.
    #[cfg(test)]
    pub fn volatile_len(&self) -> usize {
        self.volatile.len()
    }

    pub fn clear(&mut self) {
        self.map = HashMap::new();
        self.volatile = Vec::new();
    }

    /// The live entry for `key`, deleting it first if its time is up (lazy
    /// expiry).
    pub fn get(&mut self, key: &[u8], now: i64) -> Option<&mut Entry> {
        // With no key under a time to live there is nothing to expire, and
        // the lookup is a single probe.
        if !self.volatile.is_empty() {
            let expired = self.map.get(key)?.expire_at <= now;
            if expired {
                self.remove(key);
                return None;
            }
        }
        self.map.get_mut(key)
    }

    /// The live entry for `key`, or a new one made by `make`.
    pub fn get_or_insert(
        &mut self,
        key: &[u8],
        now: i64,
        make: impl FnOnce() -> Value,
    ) -> &mut Entry {
        if key.len() <= INLINE && self.volatile.is_empty() {
            // Nothing can have expired, and a short key is built without
            // allocating: one hash-map probe instead of a lookup and then
            // another (each hashes the key).
            return self
                .map
                .entry(Bytes::new(key))
                .or_insert_with(|| Entry::new(make()));
        }
        if self.get(key, now).is_none() {
            self.map.insert(Bytes::new(key), Entry::new(make()));
        }
        self.map.get_mut(key).expect("just inserted")
    }

    /// Stores `value` under `key`; the time to live is dropped unless
    /// `keep_ttl`.
    pub fn set(&mut self, key: &[u8], value: Value, keep_ttl: bool, now: i64) {
        match self.get(key, now) {
            Some(entry) => {
                entry.value = value;
                if !keep_ttl {
                    self.persist(key);
                }
            }
            None => {
                self.map.insert(Bytes::new(key), Entry::new(value));
            }
        }
    }

    /// SET's fast path: overwrite a string in place when the key holds one.
    pub fn set_str(&mut self, key: &[u8], value: &[u8], keep_ttl: bool, now: i64) {
        match self.get(key, now) {
            Some(entry) => {
                match &mut entry.value {
                    Value::Str(s) => s.assign(value),
                    other => *other = Value::Str(Bytes::new(value)),
                }
                if !keep_ttl && entry.expire_at != PERSISTENT {
                    self.persist(key);
                }
            }
            None => {
                self.map
                    .insert(Bytes::new(key), Entry::new(Value::Str(Bytes::new(value))));
            }
        }
    }

    /// Deletes `key` if it is live; returns whether it was.
    pub fn delete(&mut self, key: &[u8], now: i64) -> bool {
        self.get(key, now).is_some() && self.remove(key)
    }

    /// Removes `key` whatever its state.
    pub fn remove(&mut self, key: &[u8]) -> bool {
        match self.map.remove(key) {
            Some(entry) => {
                if entry.expire_at != PERSISTENT {
                    self.unlink_volatile(entry.slot);
                }
                true
            }
            None => false,
        }
    }

    /// Gives an existing key a time to live ending at `at` (Unix ms).
    pub fn set_expire(&mut self, key: &[u8], at: i64) {
        let slot = self.volatile.len() as u32;
        let Some(entry) = self.map.get_mut(key) else {
            return;
        };
        // i64::MAX itself would read as "no time to live"; a millisecond
        // less is the same eternity.
        let at = at.min(PERSISTENT - 1);
        if entry.expire_at == PERSISTENT {
            entry.slot = slot;
            self.volatile.push(Bytes::new(key));
        }
        entry.expire_at = at;
    }

    /// Drops the time to live of `key`, if it has one.
    pub fn persist(&mut self, key: &[u8]) {
        if let Some(entry) = self.map.get_mut(key)
            && entry.expire_at != PERSISTENT
        {
            entry.expire_at = PERSISTENT;
            let slot = entry.slot;
            self.unlink_volatile(slot);
        }
    }

    /// Removes `volatile[slot]`, moving the last key into its place.
    fn unlink_volatile(&mut self, slot: u32) {
        let slot = slot as usize;
        self.volatile.swap_remove(slot);
        if let Some(moved) = self.volatile.get(slot)
            && let Some(entry) = self.map.get_mut(&**moved)
        {
            entry.slot = slot as u32;
        }
    }

    /// One run of the active expiry cycle: sample `SAMPLE` keys with a time
    /// to live at random, delete the expired ones, and go again while more
    /// than a quarter of a sample had expired, until `deadline`. Returns the
    /// number of keys deleted.
    pub fn expire_cycle(&mut self, now: i64, deadline: Instant) -> usize {
        let mut deleted = 0;
        loop {
            let samples = SAMPLE.min(self.volatile.len());
            if samples == 0 {
                return deleted;
            }
            let mut expired = 0;
            for _ in 0..samples {
                if self.volatile.is_empty() {
                    break;
                }
                let slot = (self.random() % self.volatile.len() as u64) as usize;
                let due = self
                    .map
                    .get(&*self.volatile[slot])
                    .is_some_and(|e| e.expire_at <= now);
                if due {
                    let key = self.volatile.swap_remove(slot);
                    if let Some(moved) = self.volatile.get(slot)
                        && let Some(entry) = self.map.get_mut(&**moved)
                    {
                        entry.slot = slot as u32;
                    }
                    self.map.remove(&*key);
                    expired += 1;
                }
            }
            deleted += expired;
            if expired * 100 <= samples * STALE_PERCENT || Instant::now() >= deadline {
                return deleted;
            }
        }
    }
}

/// Unix milliseconds from the monotonic clock: the wall clock is read once
/// at start-up, so a clock step does not expire keys early or late.
struct Clock {
    start: Instant,
    start_unix_ms: i64,
}

impl Clock {
    fn new() -> Clock {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Clock {
            start: Instant::now(),
            start_unix_ms: since_epoch.as_millis() as i64,
        }
    }

    fn unix_ms(&self, at: Instant) -> i64 {
        self.start_unix_ms + at.saturating_duration_since(self.start).as_millis() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn string(db: &mut Db, key: &[u8], now: i64) -> Option<Vec<u8>> {
        match db.get(key, now).map(|e| &e.value) {
            Some(Value::Str(s)) => Some(s.to_vec()),
            _ => None,
        }
    }

    #[test]
    fn short_strings_are_inline_and_long_ones_on_the_heap() {
        assert_eq!(std::mem::size_of::<Bytes>(), 24);
        assert_eq!(std::mem::size_of::<Value>(), 24);
        assert_eq!(std::mem::size_of::<Entry>(), 40);
        assert!(matches!(Bytes::new(&[7; INLINE]), Bytes::Inline { .. }));
        assert!(matches!(Bytes::new(&[7; INLINE + 1]), Bytes::Heap(_)));
        let mut b = Bytes::new(b"short");
        b.assign(&[1; 40]);
        assert_eq!(&*b, &[1; 40][..]);
        b.assign(b"x");
        assert_eq!(&*b, b"x");
        // Equal contents are equal keys whatever the storage.
        assert!(Bytes::new(&[3; 30]) == Bytes::from_vec(vec![3; 30]));
    }

    #[test]
    fn get_or_insert_finds_live_keys_and_replaces_expired_ones() {
        let list = || Value::List(Box::default());
        let long = [b'k'; INLINE + 1];
        for key in [&b"short"[..], &long] {
            let mut db = Db::new();
            db.set_str(key, b"v", false, 0);
            // A live key is found, whatever its type: no new value is made.
            let entry = db.get_or_insert(key, 0, || unreachable!());
            assert!(matches!(&entry.value, Value::Str(s) if &**s == b"v"));
            // An expired one is replaced by a fresh value without a TTL.
            db.set_expire(key, 10);
            let entry = db.get_or_insert(key, 10, list);
            assert!(matches!(entry.value, Value::List(_)));
            assert_eq!(entry.expire_at(), None);
            assert_eq!(db.volatile_len(), 0);
            // A missing key is made.
            assert!(matches!(
                db.get_or_insert(b"new", 10, list).value,
                Value::List(_)
            ));
            assert_eq!(db.len(), 2);
        }
    }

    #[test]
    fn keys_expire_lazily_and_the_volatile_index_stays_consistent() {
        let mut db = Db::new();
        for (i, key) in [&b"a"[..], b"b", b"c"].into_iter().enumerate() {
            db.set_str(key, b"v", false, 0);
            db.set_expire(key, 100 + i as i64);
        }
        assert_eq!(db.volatile_len(), 3);
        assert_eq!(string(&mut db, b"a", 99), Some(b"v".to_vec()));
        assert_eq!(string(&mut db, b"a", 100), None); // due: deleted on access
        assert_eq!(db.len(), 2);
        db.persist(b"c");
        assert_eq!(db.volatile_len(), 1);
        // SET drops the time to live; KEEPTTL keeps it.
        db.set_str(b"b", b"w", true, 0);
        assert_eq!(db.get(b"b", 0).unwrap().expire_at(), Some(101));
        db.set_str(b"b", b"w", false, 0);
        assert_eq!(db.get(b"b", 0).unwrap().expire_at(), None);
        assert_eq!(db.volatile_len(), 0);
    }

    #[test]
    fn the_expiry_cycle_deletes_expired_keys_it_samples() {
        let mut db = Db::new();
        for i in 0..1000u32 {
            let key = i.to_string();
            db.set_str(key.as_bytes(), b"v", false, 0);
            // Every other key expires at 10, the rest at 1000.
            db.set_expire(key.as_bytes(), if i % 2 == 0 { 10 } else { 1000 });
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut deleted = 0;
        for _ in 0..200 {
            deleted += db.expire_cycle(500, deadline);
        }
        // Sampling stops once few samples are stale, so it need not find all
        // 500, but it finds most and never a live key.
        assert!(deleted > 300, "{deleted}");
        assert!(deleted <= 500);
        assert_eq!(db.len(), 1000 - deleted);
        assert_eq!(db.volatile_len(), 1000 - deleted);
        for i in (1..1000u32).step_by(2) {
            assert!(db.get(i.to_string().as_bytes(), 500).is_some());
        }
        // Every remaining volatile key points back at its own slot.
        for (slot, key) in db.volatile.iter().enumerate() {
            assert_eq!(db.map[&**key].slot as usize, slot);
        }
    }
}
