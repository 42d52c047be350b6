//! One database: the keyspace, the keys with a time to live and the two
//! ways they expire (lazily when touched, and by sampling on a timer, as
//! Redis's `activeExpireCycle` does), and the two things other clients
//! hang on its keys: WATCH flags and clients blocked in BLPOP.

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::Instant;

use crate::resp::bytes::Bytes;
use crate::resp::dict::Dict;
use crate::resp::rng::Rng;
use crate::resp::zset::ZSet;

/// What a key holds. The collections are boxed on purpose (one more
/// allocation per collection) so that the common case, a string, keeps every
/// entry of the keyspace small.
#[allow(clippy::box_collection)]
pub enum Value {
    Str(Bytes),
    List(Box<VecDeque<Bytes>>),
    Set(Box<Dict<()>>),
    Hash(Box<Dict<Bytes>>),
    ZSet(Box<ZSet>),
}

impl Value {
    /// The name TYPE replies with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::Hash(_) => "hash",
            Value::ZSet(_) => "zset",
        }
    }

    /// The list, if it is one.
    pub fn as_list(&mut self) -> Option<&mut VecDeque<Bytes>> {
        match self {
            Value::List(list) => Some(list),
            _ => None,
        }
    }

    /// The set, if it is one.
    pub fn as_set(&mut self) -> Option<&mut Dict<()>> {
        match self {
            Value::Set(set) => Some(set),
            _ => None,
        }
    }

    /// The hash, if it is one.
    pub fn as_hash(&mut self) -> Option<&mut Dict<Bytes>> {
        match self {
            Value::Hash(hash) => Some(hash),
            _ => None,
        }
    }

    /// The sorted set, if it is one.
    pub fn as_zset(&mut self) -> Option<&mut ZSet> {
        match self {
            Value::ZSet(z) => Some(z),
            _ => None,
        }
    }

    /// A deep copy (COPY).
    pub fn duplicate(&self) -> Value {
        match self {
            Value::Str(s) => Value::Str(s.clone()),
            Value::List(l) => Value::List(l.clone()),
            Value::Set(s) => Value::Set(s.clone()),
            Value::Hash(h) => Value::Hash(h.clone()),
            Value::ZSet(z) => Value::ZSet(z.clone()),
        }
    }
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

/// A key holds another type than the command works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongType;

/// A WATCHing client's flag: set when one of its keys changes.
pub type WatchFlag = Rc<Cell<bool>>;

/// One of the server's databases (SELECT picks one per connection).
pub struct Db {
    map: Dict<Entry>,
    /// The keys with a time to live, so the expiry cycle can sample them at
    /// random.
    volatile: Vec<Bytes>,
    /// Sum of the expiry times of `volatile`'s keys (INFO's `avg_ttl`).
    expire_sum: i128,
    pub rng: Rng,
    /// WATCHed keys and the flags of the clients watching each.
    watched: HashMap<Bytes, Vec<WatchFlag>>,
    /// Keys clients wait on in BLPOP/BRPOP/BLMOVE, with the waiting
    /// clients' slots in arrival order.
    pub blocking: HashMap<Bytes, VecDeque<usize>>,
    /// Keys in `blocking` that became lists since the last look.
    pub ready: Vec<Bytes>,
    /// Lookups of a key by a reading command that found it, or not.
    pub hits: u64,
    pub misses: u64,
    /// Keys deleted because their time was up.
    pub expired: u64,
}

impl Default for Db {
    fn default() -> Self {
        Db::new()
    }
}

impl Db {
    pub fn new() -> Db {
        Db {
            map: Dict::new(),
            volatile: Vec::new(),
            expire_sum: 0,
            rng: Rng::new(),
            watched: HashMap::new(),
            blocking: HashMap::new(),
            ready: Vec::new(),
            hits: 0,
            misses: 0,
            expired: 0,
        }
    }

    /// A random number (samples, members, seeds).
    pub fn random(&mut self) -> u64 {
        self.rng.next()
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
    pub fn volatile_len(&self) -> usize {
        self.volatile.len()
    }

    /// The average time to live left of the keys that have one, in ms (0
    /// when none has).
    pub fn avg_ttl(&self, now: i64) -> i64 {
        if self.volatile.is_empty() {
            return 0;
        }
        let avg = self.expire_sum / self.volatile.len() as i128 - i128::from(now);
        avg.max(0) as i64
    }

    /// Deletes every key (FLUSHDB); WATCHers of keys that existed are told.
    pub fn clear(&mut self) {
        if !self.watched.is_empty() {
            for (key, flags) in &self.watched {
                if self.map.contains_key(key) {
                    flags.iter().for_each(|f| f.set(true));
                }
            }
        }
        self.map = Dict::new();
        self.volatile = Vec::new();
        self.expire_sum = 0;
    }

    /// The live entry for `key`, deleting it first if its time is up (lazy
    /// expiry).
    #[inline]
    pub fn get(&mut self, key: &[u8], now: i64) -> Option<&mut Entry> {
        let at = self.map.find(key)?;
        // With no key under a time to live there is nothing to expire.
        if !self.volatile.is_empty() && self.map.value_at(at).expire_at <= now {
            self.expire_now(key);
            return None;
        }
        Some(self.map.value_at_mut(at))
    }

    /// The live entry for `key`, changing nothing (an expired key reads as
    /// missing but stays until something deletes it).
    pub fn peek(&self, key: &[u8], now: i64) -> Option<&Entry> {
        self.map.get(key).filter(|e| e.expire_at > now)
    }

    /// Whether `key` is there but its time is up (not yet deleted).
    pub fn is_expired(&self, key: &[u8], now: i64) -> bool {
        self.map.get(key).is_some_and(|e| e.expire_at <= now)
    }

    /// `get` for a command that reads the key: counted in INFO's
    /// `keyspace_hits` and `keyspace_misses`.
    #[inline]
    pub fn read(&mut self, key: &[u8], now: i64) -> Option<&mut Entry> {
        let Some(at) = self.map.find(key) else {
            self.misses += 1;
            return None;
        };
        if !self.volatile.is_empty() && self.map.value_at(at).expire_at <= now {
            self.expire_now(key);
            self.misses += 1;
            return None;
        }
        self.hits += 1;
        Some(self.map.value_at_mut(at))
    }

    /// The value under `key` for a reading command, if `pick` accepts its
    /// type: `Ok(None)` when the key is missing, `Err` when it holds
    /// another type (`Value::as_set` and friends pick).
    pub fn read_as<T: ?Sized>(
        &mut self,
        key: &[u8],
        now: i64,
        pick: fn(&mut Value) -> Option<&mut T>,
    ) -> Result<Option<&mut T>, WrongType> {
        match self.read(key, now) {
            None => Ok(None),
            Some(entry) => pick(&mut entry.value).map(Some).ok_or(WrongType),
        }
    }

    /// After a command changed the collection under `key`: an emptied one
    /// is deleted (as Redis deletes them), and WATCHers are told either way.
    pub fn changed(&mut self, key: &[u8], emptied: bool) {
        if emptied {
            self.remove(key);
        } else {
            self.touch(key);
        }
    }

    /// The value of a live key, for commands that only look.
    pub fn value(&mut self, key: &[u8], now: i64) -> Option<&mut Value> {
        self.read(key, now).map(|e| &mut e.value)
    }

    fn expire_now(&mut self, key: &[u8]) {
        self.remove(key);
        self.expired += 1;
    }

    /// The live entry for `key`, or a new one made by `make` (and the flag
    /// says it was made). A new list wakes clients blocked on the key.
    #[inline]
    pub fn get_or_insert(
        &mut self,
        key: &[u8],
        now: i64,
        make: impl FnOnce() -> Value,
    ) -> (&mut Entry, bool) {
        if !self.volatile.is_empty() {
            // Drop an expired key first: the new value gets no time to live.
            self.get(key, now);
        }
        let (at, inserted) = self.map.entry(key, || Entry::new(make()));
        if inserted && !self.blocking.is_empty() {
            self.signal_ready(key);
        }
        (self.map.value_at_mut(at), inserted)
    }

    /// Stores `value` under `key`; the time to live is dropped unless
    /// `keep_ttl`. Tells WATCHers and blocked clients.
    pub fn set(&mut self, key: &[u8], value: Value, keep_ttl: bool, now: i64) {
        let is_list = matches!(value, Value::List(_));
        match self.get(key, now) {
            Some(entry) => {
                entry.value = value;
                if !keep_ttl {
                    self.persist(key);
                }
            }
            None => {
                self.map.insert_new(Bytes::new(key), Entry::new(value));
            }
        }
        self.touch(key);
        if is_list && !self.blocking.is_empty() {
            self.signal_ready(key);
        }
    }

    /// SET's fast path: overwrite a string in place when the key holds one.
    #[inline]
    pub fn set_str(&mut self, key: &[u8], value: &[u8], keep_ttl: bool, now: i64) {
        if !self.volatile.is_empty() {
            self.get(key, now); // an expired key is replaced, not updated
        }
        // One hash of the key whether it is new or not.
        let (at, inserted) = self
            .map
            .entry(key, || Entry::new(Value::Str(Bytes::new(value))));
        if !inserted {
            let entry = self.map.value_at_mut(at);
            match &mut entry.value {
                Value::Str(s) => s.assign(value),
                other => *other = Value::Str(Bytes::new(value)),
            }
            if !keep_ttl && entry.expire_at != PERSISTENT {
                self.persist(key);
            }
        }
        self.touch(key);
    }

    /// Deletes `key` if it is live; returns whether it was.
    pub fn delete(&mut self, key: &[u8], now: i64) -> bool {
        self.get(key, now).is_some() && self.remove(key)
    }

    /// Removes `key` whatever its state; tells its WATCHers.
    pub fn remove(&mut self, key: &[u8]) -> bool {
        self.take(key).is_some()
    }

    /// Removes `key` and hands over its entry.
    pub fn take(&mut self, key: &[u8]) -> Option<Entry> {
        let (_, entry) = self.map.remove(key)?;
        if entry.expire_at != PERSISTENT {
            self.unlink_volatile(entry.slot, entry.expire_at);
        }
        self.touch(key);
        Some(entry)
    }

    /// Puts an entry taken from this or another database under `key`,
    /// with its time to live (RENAME, MOVE): the key must not exist.
    pub fn put(&mut self, key: &[u8], mut entry: Entry) {
        let expire_at = entry.expire_at;
        entry.expire_at = PERSISTENT;
        let is_list = matches!(entry.value, Value::List(_));
        self.map.insert_new(Bytes::new(key), entry);
        if expire_at != PERSISTENT {
            self.set_expire(key, expire_at);
        }
        self.touch(key);
        if is_list && !self.blocking.is_empty() {
            self.signal_ready(key);
        }
    }

    /// A key changed: its WATCHers' transactions will fail.
    #[inline]
    pub fn touch(&mut self, key: &[u8]) {
        if !self.watched.is_empty()
            && let Some(flags) = self.watched.get(key)
        {
            flags.iter().for_each(|f| f.set(true));
        }
    }

    /// WATCH: `flag` is set when `key` next changes (or expires).
    pub fn watch(&mut self, key: &[u8], flag: &WatchFlag) {
        let flags = self.watched.entry(Bytes::new(key)).or_default();
        if !flags.iter().any(|f| Rc::ptr_eq(f, flag)) {
            flags.push(flag.clone());
        }
    }

    /// Undoes [`Db::watch`].
    pub fn unwatch(&mut self, key: &[u8], flag: &WatchFlag) {
        if let Some(flags) = self.watched.get_mut(key) {
            flags.retain(|f| !Rc::ptr_eq(f, flag));
            if flags.is_empty() {
                self.watched.remove(key);
            }
        }
    }

    /// Whether some client watches `key` and its flag is up: the key of a
    /// watched, expired key counts as changed when EXEC looks.
    pub fn is_watched(&self, key: &[u8]) -> bool {
        self.watched.contains_key(key)
    }

    /// A list appeared under `key`: clients blocked on it are served once
    /// the command that made it is done.
    pub fn signal_ready(&mut self, key: &[u8]) {
        if self.blocking.contains_key(key) && !self.ready.iter().any(|k| **k == *key) {
            self.ready.push(Bytes::new(key));
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
        } else {
            self.expire_sum -= i128::from(entry.expire_at);
        }
        entry.expire_at = at;
        self.expire_sum += i128::from(at);
    }

    /// Drops the time to live of `key`; returns whether it had one.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        if let Some(entry) = self.map.get_mut(key)
            && entry.expire_at != PERSISTENT
        {
            let (slot, at) = (entry.slot, entry.expire_at);
            entry.expire_at = PERSISTENT;
            self.unlink_volatile(slot, at);
            return true;
        }
        false
    }

    /// Removes `volatile[slot]`, moving the last key into its place.
    fn unlink_volatile(&mut self, slot: u32, expire_at: i64) {
        let slot = slot as usize;
        self.expire_sum -= i128::from(expire_at);
        self.volatile.swap_remove(slot);
        if let Some(moved) = self.volatile.get(slot)
            && let Some(entry) = self.map.get_mut(moved)
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
                let key = self.volatile[slot].clone();
                let due = self.map.get(&key).is_some_and(|e| e.expire_at <= now);
                if due {
                    self.expire_now(&key);
                    expired += 1;
                }
            }
            deleted += expired;
            if expired * 100 <= samples * STALE_PERCENT || Instant::now() >= deadline {
                return deleted;
            }
        }
    }

    /// One step of SCAN over the keys (see [`Dict::scan`]).
    pub fn scan(&self, cursor: u64, visit: impl FnMut(&Bytes, &Entry)) -> u64 {
        self.map.scan(cursor, visit)
    }

    /// Every key and its entry, expired ones included.
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &Entry)> {
        self.map.iter()
    }

    /// A random live key (RANDOMKEY), deleting expired ones it lands on.
    pub fn random_key(&mut self, now: i64) -> Option<Bytes> {
        // Bounded, like Redis, in case every key is expired and unreached.
        for _ in 0..100 {
            let rng = &mut self.rng;
            let at = self.map.random(|| rng.next())?;
            let key = self.map.key_at(at).clone();
            if self.get(&key, now).is_some() {
                return Some(key);
            }
        }
        None
    }

    /// Exchanges the data of two databases (SWAPDB); WATCHes and blocked
    /// clients stay with their database number, as in Redis.
    pub fn swap_data(a: &mut Db, b: &mut Db) {
        std::mem::swap(&mut a.map, &mut b.map);
        std::mem::swap(&mut a.volatile, &mut b.volatile);
        std::mem::swap(&mut a.expire_sum, &mut b.expire_sum);
        for db in [&mut *a, &mut *b] {
            let keys: Vec<Bytes> = db.watched.keys().cloned().collect();
            for key in keys {
                db.touch(&key);
            }
            let waited: Vec<Bytes> = db.blocking.keys().cloned().collect();
            for key in waited {
                if matches!(db.map.get(&key).map(|e| &e.value), Some(Value::List(_))) {
                    db.signal_ready(&key);
                }
            }
        }
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
    fn an_entry_is_small() {
        assert_eq!(std::mem::size_of::<Value>(), 24);
        assert_eq!(std::mem::size_of::<Entry>(), 40);
    }

    #[test]
    fn get_or_insert_finds_live_keys_and_replaces_expired_ones() {
        let list = || Value::List(Box::default());
        let long = [b'k'; crate::resp::bytes::INLINE + 1];
        for key in [&b"short"[..], &long] {
            let mut db = Db::new();
            db.set_str(key, b"v", false, 0);
            // A live key is found, whatever its type: no new value is made.
            let (entry, made) = db.get_or_insert(key, 0, || unreachable!());
            assert!(!made);
            assert!(matches!(&entry.value, Value::Str(s) if &**s == b"v"));
            // An expired one is replaced by a fresh value without a TTL.
            db.set_expire(key, 10);
            let (entry, made) = db.get_or_insert(key, 10, list);
            assert!(made);
            assert!(matches!(entry.value, Value::List(_)));
            assert_eq!(entry.expire_at(), None);
            assert_eq!(db.volatile_len(), 0);
            assert!(db.get_or_insert(b"new", 10, list).1);
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
        assert_eq!(db.avg_ttl(0), 101);
        assert_eq!(string(&mut db, b"a", 99), Some(b"v".to_vec()));
        assert_eq!(string(&mut db, b"a", 100), None); // due: deleted on access
        assert_eq!(db.expired, 1);
        assert_eq!(db.len(), 2);
        db.persist(b"c");
        assert_eq!(db.volatile_len(), 1);
        // SET drops the time to live; KEEPTTL keeps it.
        db.set_str(b"b", b"w", true, 0);
        assert_eq!(db.get(b"b", 0).unwrap().expire_at(), Some(101));
        db.set_str(b"b", b"w", false, 0);
        assert_eq!(db.get(b"b", 0).unwrap().expire_at(), None);
        assert_eq!(db.volatile_len(), 0);
        assert_eq!(db.avg_ttl(0), 0);
    }

    #[test]
    fn watchers_learn_of_changes_deletions_and_expiry() {
        let mut db = Db::new();
        let flag = WatchFlag::default();
        db.set_str(b"k", b"v", false, 0);
        db.watch(b"k", &flag);
        db.set_str(b"other", b"v", false, 0);
        assert!(!flag.get());
        db.set_str(b"k", b"w", false, 0);
        assert!(flag.get());
        flag.set(false);
        db.set_expire(b"k", 5);
        assert!(db.get(b"k", 10).is_none());
        assert!(flag.get());
        db.unwatch(b"k", &flag);
        assert!(!db.is_watched(b"k"));
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
            assert_eq!(db.map.get(key).unwrap().slot as usize, slot);
        }
    }
}
