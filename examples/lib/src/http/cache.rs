//! Small files kept in memory as ready-made responses, checked against the
//! filesystem at most once per second.
//!
//! Without it every request costs a path resolution (a `readlink` per path
//! component, twice), an open, a stat, a read and a close: more system calls
//! than the request's own read and write. With it, a request for a small
//! file that was checked less than [`VALID_FOR`] ago is answered from memory
//! (nginx's `open_file_cache_valid` makes the same trade, for open files).
//!
//! A check is the full resolution the uncached path does, root-escape rules
//! and all, then a comparison of the file's [`Version`] (inode, size,
//! modification and change times) with the cached one: the same version
//! keeps the cached bytes, another is read again, and a path that no longer
//! names a file loses its entry. So a changed file is served within a second
//! of the change, a deleted one is 404 within a second, and a symlink
//! repointed outside the root stops being served within a second.
//!
//! Bounded: files over [`MAX_FILE`] are never cached (they are sent from
//! the file with `send_file`), and the cache holds at most so many entries
//! and bytes, dropping the least recently used.
//!
//! A path has two entries at most: one for clients that take gzip (the
//! `.gz` variant if there is one, else the file) and one for those that do
//! not. Each is checked on its own, and a variant appearing or going away
//! changes the entry's version or its `Vary`, so it is read again.

use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use crate::http::files::{Found, Version};
use crate::http::representation::Representation;

/// How long a check of a cached file holds.
pub const VALID_FOR: Duration = Duration::from_secs(1);
/// The largest file cached: 64 KiB, about what a socket takes in one
/// write, so a cached response goes out in one system call.
pub const MAX_FILE: u64 = 64 * 1024;
/// Most entries held.
pub const MAX_ENTRIES: usize = 1024;
/// Most bytes of responses held.
pub const MAX_BYTES: usize = 16 * 1024 * 1024;

/// One cached file as a ready-made 200 response (after the status line and
/// the headers every response carries), and what other responses need.
#[derive(Debug)]
pub struct Entry {
    version: Version,
    /// Whether the file's last change was more than [`VALID_FOR`] before it
    /// was read (see [`Entry::settled`]).
    settled: bool,
    /// Type, length, encoding and validators.
    pub rep: Representation,
    /// The 200 response's own headers, the blank line ending the head,
    /// then the body.
    bytes: Box<[u8]>,
    /// Where the body starts.
    body_at: usize,
}

impl Entry {
    /// Reads the file `found` into an entry at wall-clock time `wall`;
    /// `None` if it cannot be read whole. The file's position is left alone
    /// (positioned reads), so the caller can still send it.
    fn read(found: &Found, wall: SystemTime) -> Option<Entry> {
        let len = usize::try_from(found.len).ok()?;
        let rep = found.representation();
        let mut bytes = Vec::with_capacity(len + 256);
        rep.write_fields(&mut bytes, found.len);
        bytes.extend_from_slice(b"\r\n");
        let body_at = bytes.len();
        bytes.resize(body_at + len, 0);
        found.file.read_exact_at(&mut bytes[body_at..], 0).ok()?;
        // File times have the kernel's coarse clock resolution: a write
        // landing in the same tick as an earlier one, after we read, would
        // leave the version unchanged. A file changed that recently is not
        // trusted to be settled; it is read again at every check until it is.
        // The change time, because every write and every `touch` moves it
        // and nothing can set it back.
        let (secs, nanos) = found.version.ctime;
        let changed = u64::try_from(secs)
            .ok()
            .and_then(|secs| SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, 0)))
            .and_then(|t| t.checked_add(Duration::from_nanos(nanos.clamp(0, 999_999_999) as u64)));
        let settled = changed
            .and_then(|changed| wall.duration_since(changed).ok())
            .is_some_and(|age| age > VALID_FOR);
        Some(Entry {
            version: found.version,
            settled,
            rep,
            bytes: bytes.into_boxed_slice(),
            body_at,
        })
    }

    /// The rest of a 200 response: its headers, the blank line and the body.
    pub fn full(&self) -> &[u8] {
        &self.bytes
    }

    /// The rest of a 200 response to HEAD: its headers and the blank line.
    pub fn head(&self) -> &[u8] {
        &self.bytes[..self.body_at]
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.bytes[self.body_at..]
    }

    /// Whether the bytes can be trusted to stay the file's for as long as
    /// the version does not change.
    pub fn settled(&self) -> bool {
        self.settled
    }

    /// Whether `found` is the same file, in the same version, as this entry
    /// was read from, with the same variants beside it.
    fn holds_for(&self, found: &Found) -> bool {
        self.settled && self.version == found.version && self.rep.vary == found.vary
    }
}

struct Slot {
    entry: Rc<Entry>,
    /// Until when the last check against the filesystem holds.
    valid_until: Instant,
    /// The cache's use counter at the last hit, for dropping the least
    /// recently used.
    used: u64,
}

/// Cached files by request path (as sent, percent-encoded, query
/// excluded), one map for clients that take gzip and one for the others.
pub struct Cache {
    slots: [HashMap<Box<str>, Slot>; 2],
    /// Response bytes held by all entries.
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
    uses: u64,
}

impl Default for Cache {
    fn default() -> Cache {
        Cache::new(MAX_ENTRIES, MAX_BYTES)
    }
}

impl Cache {
    pub fn new(max_entries: usize, max_bytes: usize) -> Cache {
        Cache {
            slots: [HashMap::new(), HashMap::new()],
            bytes: 0,
            max_entries,
            max_bytes,
            uses: 0,
        }
    }

    /// The entry for `path` (for a client taking gzip or not) if it was
    /// checked less than [`VALID_FOR`] before `now`. `None` means: resolve
    /// the path and call [`Cache::store`] or [`Cache::remove`] with what it
    /// names.
    pub fn get(&mut self, path: &str, gzip: bool, now: Instant) -> Option<Rc<Entry>> {
        let slot = self.slots[usize::from(gzip)].get_mut(path)?;
        if now >= slot.valid_until {
            return None;
        }
        self.uses += 1;
        slot.used = self.uses;
        Some(Rc::clone(&slot.entry))
    }

    /// `path` has just been resolved to `found` for a client taking gzip or
    /// not: the entry to answer with, the cached one if the file is still
    /// the version cached, else read now and cached. Gives `found` back if
    /// the file is too big to cache or cannot be read whole, for the caller
    /// to send it from the file. `now` is the loop's time, `wall` the
    /// wall-clock time that file times compare with.
    pub fn store(
        &mut self,
        path: &str,
        gzip: bool,
        found: Found,
        now: Instant,
        wall: SystemTime,
    ) -> Result<Rc<Entry>, Found> {
        self.uses += 1;
        let uses = self.uses;
        let map = usize::from(gzip);
        if let Some(slot) = self.slots[map].get_mut(path)
            && slot.entry.holds_for(&found)
        {
            slot.valid_until = now + VALID_FOR;
            slot.used = uses;
            return Ok(Rc::clone(&slot.entry));
        }
        self.remove_one(map, path);
        if found.len > MAX_FILE {
            return Err(found);
        }
        let Some(entry) = Entry::read(&found, wall) else {
            return Err(found);
        };
        let entry = Rc::new(entry);
        let size = entry.bytes.len();
        if size > self.max_bytes || self.max_entries == 0 {
            return Ok(entry);
        }
        while self.len() >= self.max_entries || self.bytes + size > self.max_bytes {
            self.evict_one();
        }
        self.bytes += size;
        let slot = Slot {
            entry: Rc::clone(&entry),
            valid_until: now + VALID_FOR,
            used: uses,
        };
        self.slots[map].insert(path.into(), slot);
        Ok(entry)
    }

    /// `path` names no file (any more): forget it.
    pub fn remove(&mut self, path: &str) {
        self.remove_one(0, path);
        self.remove_one(1, path);
    }

    fn remove_one(&mut self, map: usize, path: &str) {
        if let Some(slot) = self.slots[map].remove(path) {
            self.bytes -= slot.entry.bytes.len();
        }
    }

    /// Drops the least recently used entry. A scan, but only when a new
    /// file is read into a full cache, which costs more than the scan.
    fn evict_one(&mut self) {
        let oldest = (0..2)
            .flat_map(|map| {
                self.slots[map]
                    .iter()
                    .map(move |(path, slot)| (map, path, slot))
            })
            .min_by_key(|(_, _, slot)| slot.used)
            .map(|(map, path, _)| (map, path.clone()));
        if let Some((map, path)) = oldest {
            self.remove_one(map, &path);
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.slots[0].len() + self.slots[1].len()
    }

    /// Response bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::files::tests::Scratch;
    use crate::http::files::{self, Target};

    /// What `path` resolves to under the scratch root, as the server does it.
    fn found(scratch: &Scratch, path: &str) -> Option<Found> {
        match files::resolve(&scratch.root(), path, files::Options::default(), false).unwrap() {
            Target::File(found) => Some(found),
            _ => None,
        }
    }

    fn body(entry: &Entry) -> &[u8] {
        entry.body()
    }

    /// Sets a file's modification time `secs` in the past, so that a rewrite
    /// changes its version whatever the resolution of file times.
    fn age(scratch: &Scratch, name: &str, secs: u64) {
        let file = std::fs::File::options()
            .write(true)
            .open(scratch.0.join("root").join(name))
            .unwrap();
        file.set_modified(SystemTime::now() - Duration::from_secs(secs))
            .unwrap();
    }

    /// A wall-clock time long after the scratch files were written: read
    /// then, they count as settled.
    fn later() -> SystemTime {
        SystemTime::now() + Duration::from_secs(10)
    }

    #[test]
    fn entry_parts() {
        let scratch = Scratch::new("cache-parts");
        let entry = Entry::read(&found(&scratch, "/").unwrap(), later()).unwrap();
        let full = String::from_utf8(entry.full().to_vec()).unwrap();
        assert!(
            full.starts_with("Content-Type: text/html; charset=utf-8\r\nContent-Length: 11\r\n"),
            "{full}"
        );
        assert!(full.ends_with("\r\n\r\n<p>home</p>"), "{full}");
        assert_eq!(entry.head(), &entry.full()[..full.len() - 11]);
        assert!(
            full.contains("\r\nAccept-Ranges: bytes\r\nLast-Modified: "),
            "{full}"
        );
        assert!(
            full.contains(&format!("\r\nETag: {}\r\n\r\n", entry.rep.etag)),
            "{full}"
        );
        assert_eq!(body(&entry), b"<p>home</p>");
        assert!(entry.settled());
    }

    #[test]
    fn a_hit_within_the_interval_then_a_check() {
        let scratch = Scratch::new("cache-hit");
        let mut cache = Cache::default();
        let t0 = Instant::now();
        assert!(cache.get("/", false, t0).is_none(), "empty");
        let first = cache
            .store("/", false, found(&scratch, "/").unwrap(), t0, later())
            .unwrap();
        let hit = cache
            .get("/", false, t0 + VALID_FOR / 2)
            .expect("checked half a second ago");
        assert!(Rc::ptr_eq(&first, &hit));
        assert!(
            cache.get("/", false, t0 + VALID_FOR).is_none(),
            "due for a check"
        );
        // Unchanged: the check keeps the bytes read before.
        let t1 = t0 + VALID_FOR;
        let again = cache
            .store("/", false, found(&scratch, "/").unwrap(), t1, later())
            .unwrap();
        assert!(Rc::ptr_eq(&first, &again));
        assert!(cache.get("/", false, t1).is_some());
    }

    #[test]
    fn a_changed_file_is_read_again_at_the_check() {
        let scratch = Scratch::new("cache-change");
        age(&scratch, "index.html", 10);
        let mut cache = Cache::default();
        let t0 = Instant::now();
        cache
            .store("/", false, found(&scratch, "/").unwrap(), t0, later())
            .unwrap();
        // Same length, other bytes: only the version's times tell.
        std::fs::write(scratch.0.join("root/index.html"), "<p>HOME</p>").unwrap();
        age(&scratch, "index.html", 5);
        let stale = cache.get("/", false, t0).unwrap();
        assert_eq!(
            body(&stale),
            b"<p>home</p>",
            "within the interval: not checked"
        );
        let t1 = t0 + VALID_FOR;
        assert!(cache.get("/", false, t1).is_none());
        let fresh = cache
            .store("/", false, found(&scratch, "/").unwrap(), t1, later())
            .unwrap();
        assert_eq!(body(&fresh), b"<p>HOME</p>");
        assert_eq!(body(&cache.get("/", false, t1).unwrap()), b"<p>HOME</p>");
    }

    #[test]
    fn a_file_changed_just_now_is_read_at_every_check() {
        let scratch = Scratch::new("cache-racy");
        let mut cache = Cache::default();
        let t0 = Instant::now();
        let first = cache
            .store(
                "/",
                false,
                found(&scratch, "/").unwrap(),
                t0,
                SystemTime::now(),
            )
            .unwrap();
        assert!(!first.settled(), "written a moment ago");
        let t1 = t0 + VALID_FOR;
        let second = cache
            .store(
                "/",
                false,
                found(&scratch, "/").unwrap(),
                t1,
                SystemTime::now(),
            )
            .unwrap();
        assert!(!Rc::ptr_eq(&first, &second), "read again");
    }

    #[test]
    fn clients_taking_gzip_get_the_variant_and_its_arrival_is_noticed() {
        let scratch = Scratch::new("cache-gzip");
        let mut cache = Cache::default();
        let t0 = Instant::now();
        let resolve = |gzip| match files::resolve(
            &scratch.root(),
            "/a%20b.txt",
            files::Options::default(),
            gzip,
        )
        .unwrap()
        {
            Target::File(found) => found,
            _ => panic!(),
        };
        let plain = cache
            .store("/a%20b.txt", false, resolve(false), t0, later())
            .unwrap();
        assert!(!plain.rep.vary);
        std::fs::write(scratch.0.join("root/a b.txt.gz"), "zipped").unwrap();
        let t1 = t0 + VALID_FOR;
        let plain = cache
            .store("/a%20b.txt", false, resolve(false), t1, later())
            .unwrap();
        assert!(plain.rep.vary, "read again: a variant appeared");
        assert_eq!(plain.body(), b"spaced");
        let gz = cache
            .store("/a%20b.txt", true, resolve(true), t1, later())
            .unwrap();
        assert_eq!((gz.body(), gz.rep.encoding), (&b"zipped"[..], Some("gzip")));
        assert!(Rc::ptr_eq(&cache.get("/a%20b.txt", true, t1).unwrap(), &gz));
        assert!(Rc::ptr_eq(
            &cache.get("/a%20b.txt", false, t1).unwrap(),
            &plain
        ));
        cache.remove("/a%20b.txt");
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn removal_and_bounds() {
        let scratch = Scratch::new("cache-bounds");
        let t0 = Instant::now();
        let entry_size = Entry::read(&found(&scratch, "/").unwrap(), later())
            .unwrap()
            .full()
            .len();
        let store = |cache: &mut Cache, path: &str| {
            cache.store(path, false, found(&scratch, path).unwrap(), t0, later())
        };
        // Room for two index-sized entries.
        let mut cache = Cache::new(10, 2 * entry_size + 10);
        for path in ["/", "/index.html", "/sub/"] {
            store(&mut cache, path).unwrap();
            cache.get("/", false, t0); // keeps "/" the most recently used
        }
        assert_eq!(cache.len(), 2);
        assert!(cache.get("/", false, t0).is_some(), "recently used, kept");
        assert!(
            cache.get("/index.html", false, t0).is_none(),
            "least recently used, dropped"
        );
        assert!(cache.bytes() <= 2 * entry_size + 10);
        cache.remove("/");
        assert!(cache.get("/", false, t0).is_none());
        assert_eq!(cache.len(), 1);

        let mut cache = Cache::new(1, MAX_BYTES);
        store(&mut cache, "/").unwrap();
        store(&mut cache, "/sub/").unwrap();
        assert_eq!(cache.len(), 1, "one entry at most");

        let big = scratch.0.join("root/big.bin");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(MAX_FILE + 1)
            .unwrap();
        let mut cache = Cache::default();
        assert!(store(&mut cache, "/big.bin").is_err());
        assert_eq!((cache.len(), cache.bytes()), (0, 0), "too big to cache");
    }
}
