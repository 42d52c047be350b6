//! Commands on keys whatever they hold: DEL, EXISTS, TYPE, KEYS, SCAN,
//! RANDOMKEY, RENAME, COPY, MOVE, and times to live.

use crate::resp::bytes::Bytes;
use crate::resp::commands::{Call, Shared, int_arg, is};
use crate::resp::glob;
use crate::resp::int::parse_i64;
use crate::resp::reply::{NO_SUCH_KEY, NOT_AN_INTEGER, Reply, SYNTAX};
use crate::resp::state::DATABASES;

const SAME_OBJECT: &str = "ERR source and destination objects are the same";
const DB_OUT_OF_RANGE: &str = "ERR DB index is out of range";

/// DEL and UNLINK (both free at once: there is no other thread to do it).
pub fn del(c: &mut Call) {
    let db = c.ctx.db(c.db);
    let mut n = 0;
    for i in 1..c.args.len() {
        n += i64::from(db.delete(c.args.get(i), c.now));
    }
    c.out.int(n);
}

pub fn exists(c: &mut Call) {
    let db = c.ctx.db(c.db);
    let mut n = 0;
    for i in 1..c.args.len() {
        n += i64::from(db.read(c.args.get(i), c.now).is_some());
    }
    c.out.int(n);
}

pub fn type_of(c: &mut Call) {
    let name = c
        .ctx
        .db(c.db)
        .value(c.args.get(1), c.now)
        .map_or("none", |v| v.type_name());
    c.out.simple(name);
}

pub fn keys(c: &mut Call) {
    let pattern = c.args.get(1);
    let all = glob::matches_all(pattern);
    let db = c.ctx.db(c.db);
    let found: Vec<&Bytes> = db
        .iter()
        .filter(|(k, e)| {
            e.expire_at().is_none_or(|at| at > c.now) && (all || glob::matches(pattern, k))
        })
        .map(|(k, _)| k)
        .collect();
    c.out.array(found.len());
    for key in found {
        c.out.bulk(key);
    }
}

/// A SCAN cursor as Redis reads one (`strtoul`: a sign is allowed, `-1` is
/// the largest cursor).
pub fn parse_cursor(arg: &[u8]) -> Option<u64> {
    let (neg, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() && !arg.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// SCAN, SSCAN and HSCAN's options.
pub struct ScanOptions<'a> {
    pub cursor: u64,
    pub count: usize,
    pub pattern: Option<&'a [u8]>,
    pub type_name: Option<&'a [u8]>,
}

/// Reads the cursor (argument `at`) and the options after it; replies
/// the error and returns `None` if one is wrong. `with_type`: TYPE is
/// allowed (SCAN only).
pub fn scan_options<'a>(
    args: &'a crate::resp::parser::Args<'_>,
    out: &mut Reply,
    at: usize,
    with_type: bool,
) -> Option<ScanOptions<'a>> {
    let Some(cursor) = parse_cursor(args.get(at)) else {
        out.error("ERR invalid cursor");
        return None;
    };
    let mut options = ScanOptions {
        cursor,
        count: 10,
        pattern: None,
        type_name: None,
    };
    let mut i = at + 1;
    while i < args.len() {
        let (opt, has_value) = (args.get(i), i + 1 < args.len());
        if is(opt, "count") && has_value {
            match parse_i64(args.get(i + 1)) {
                None => {
                    out.error(NOT_AN_INTEGER);
                    return None;
                }
                Some(n) if n < 1 => {
                    out.error(SYNTAX);
                    return None;
                }
                Some(n) => options.count = n as usize,
            }
        } else if is(opt, "match") && has_value {
            let pattern = args.get(i + 1);
            options.pattern = (!glob::matches_all(pattern)).then_some(pattern);
        } else if is(opt, "type") && has_value && with_type {
            options.type_name = Some(args.get(i + 1));
        } else {
            out.error(SYNTAX);
            return None;
        }
        i += 2;
    }
    Some(options)
}

/// Steps of a scan until `count` elements were found or `10 * count`
/// buckets visited (Redis's bound), calling `step(cursor)` which returns
/// the next cursor and how many it found.
pub fn scan_steps(options: &ScanOptions, mut step: impl FnMut(u64) -> (u64, usize)) -> u64 {
    let mut cursor = options.cursor;
    let mut found = 0;
    let mut budget = options.count.saturating_mul(10);
    loop {
        let (next, n) = step(cursor);
        cursor = next;
        found += n;
        if cursor == 0 || budget == 0 || found >= options.count {
            return cursor;
        }
        budget -= 1;
    }
}

/// Writes SCAN's reply: the next cursor, then the elements.
pub fn scan_reply(out: &mut Reply, cursor: u64, elements: &[Bytes]) {
    out.array(2);
    out.bulk(cursor.to_string().as_bytes());
    out.array(elements.len());
    for e in elements {
        out.bulk(e);
    }
}

pub fn scan(c: &mut Call) {
    let Some(options) = scan_options(c.args, c.out, 1, true) else {
        return;
    };
    let db = c.ctx.db(c.db);
    let mut keys = Vec::new();
    let cursor = scan_steps(&options, |cursor| {
        let before = keys.len();
        let next = db.scan(cursor, |k, _| keys.push(k.clone()));
        (next, keys.len() - before)
    });
    // Filter afterwards, as Redis does: expired keys go (and are deleted).
    keys.retain(|key| {
        let pattern_ok = options.pattern.is_none_or(|p| glob::matches(p, key));
        let live = pattern_ok && db.get(key, c.now).is_some();
        live && options.type_name.is_none_or(|t| {
            let name = db.get(key, c.now).map_or("none", |e| e.value.type_name());
            t.eq_ignore_ascii_case(name.as_bytes())
        })
    });
    scan_reply(c.out, cursor, &keys);
}

pub fn randomkey(c: &mut Call) {
    match c.ctx.db(c.db).random_key(c.now) {
        Some(key) => c.out.bulk(&key),
        None => c.out.null(),
    }
}

/// RENAME and RENAMENX.
pub fn rename(c: &mut Call, nx: bool) {
    let (from, to) = (c.args.get(1), c.args.get(2));
    let db = c.ctx.db(c.db);
    if db.get(from, c.now).is_none() {
        return c.out.error(NO_SUCH_KEY);
    }
    if from == to {
        return if nx { c.out.int(0) } else { c.out.ok() };
    }
    if db.get(to, c.now).is_some() {
        if nx {
            return c.out.int(0);
        }
        db.remove(to);
    }
    if let Some(entry) = db.take(from) {
        db.put(to, entry);
    }
    if nx { c.out.int(1) } else { c.out.ok() }
}

/// A database number argument (SELECT, MOVE, COPY, SWAPDB): an integer
/// (32-bit, as Redis reads it) in range, or the error replied.
pub fn db_index(c: &mut Call, i: usize, out_of_range: &str) -> Option<usize> {
    let n = int_arg(c, i)?;
    if i32::try_from(n).is_err() {
        c.out.error(NOT_AN_INTEGER);
        return None;
    }
    if !(0..DATABASES as i64).contains(&n) {
        c.out.error(out_of_range);
        return None;
    }
    Some(n as usize)
}

/// COPY source destination [DB destination-db] [REPLACE].
pub fn copy(c: &mut Call) {
    let (mut target, mut replace) = (c.db, false);
    let mut j = 3;
    while j < c.args.len() {
        if is(c.args.get(j), "replace") {
            replace = true;
        } else if is(c.args.get(j), "db") && j + 1 < c.args.len() {
            let Some(db) = db_index(c, j + 1, DB_OUT_OF_RANGE) else {
                return;
            };
            target = db;
            j += 1;
        } else {
            return c.out.error(SYNTAX);
        }
        j += 1;
    }
    let (from, to) = (c.args.get(1), c.args.get(2));
    if target == c.db && from == to {
        return c.out.error(SAME_OBJECT);
    }
    let now = c.now;
    let Some(entry) = c.ctx.db(c.db).read(from, now) else {
        return c.out.int(0);
    };
    let (value, expire) = (entry.value.duplicate(), entry.expire_at());
    let dst = c.ctx.db(target);
    if dst.get(to, now).is_some() {
        if !replace {
            return c.out.int(0);
        }
        dst.remove(to);
    }
    dst.set(to, value, false, now);
    if let Some(at) = expire {
        dst.set_expire(to, at);
    }
    c.out.int(1);
}

/// MOVE key db.
pub fn move_key(c: &mut Call) {
    let Some(target) = db_index(c, 2, DB_OUT_OF_RANGE) else {
        return;
    };
    if target == c.db {
        return c.out.error(SAME_OBJECT);
    }
    let key = c.args.get(1);
    let now = c.now;
    if c.ctx.db(c.db).get(key, now).is_none() || c.ctx.db(target).get(key, now).is_some() {
        return c.out.int(0);
    }
    if let Some(entry) = c.ctx.db(c.db).take(key) {
        c.ctx.db(target).put(key, entry);
    }
    c.out.int(1);
}

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT key time [NX|XX|GT|LT]: `unit`
/// milliseconds per unit of time; `absolute` for a Unix time. A time
/// already past deletes the key.
pub fn expire(c: &mut Call, name: &str, unit: i64, absolute: bool) {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for i in 3..c.args.len() {
        let opt = c.args.get(i);
        if is(opt, "nx") {
            nx = true;
        } else if is(opt, "xx") {
            xx = true;
        } else if is(opt, "gt") {
            gt = true;
        } else if is(opt, "lt") {
            lt = true;
        } else {
            return c.out.error_quoting(&[b"ERR Unsupported option ", opt]);
        }
    }
    if nx && (xx || gt || lt) {
        return c
            .out
            .error("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if gt && lt {
        return c
            .out
            .error("ERR GT and LT options at the same time are not compatible");
    }
    let Some(n) = int_arg(c, 2) else {
        return;
    };
    let base = if absolute { 0 } else { c.now };
    let Some(at) = n.checked_mul(unit).and_then(|ms| ms.checked_add(base)) else {
        return c
            .out
            .error(&format!("ERR invalid expire time in '{name}' command"));
    };
    let key = c.args.get(1);
    let db = c.ctx.db(c.db);
    let Some(entry) = db.get(key, c.now) else {
        return c.out.int(0);
    };
    let current = entry.expire_at();
    let refused = (nx && current.is_some())
        || (xx && current.is_none())
        || (gt && current.is_none_or(|t| at <= t))
        || (lt && current.is_some_and(|t| at >= t));
    if refused {
        return c.out.int(0);
    }
    if at <= c.now {
        db.remove(key);
    } else {
        db.set_expire(key, at);
        db.touch(key);
    }
    c.out.int(1);
}

/// TTL (`unit` 1000: seconds, rounded) and PTTL (1: milliseconds).
pub fn ttl(c: &mut Call, unit: i64) {
    let now = c.now;
    let reply = match c.ctx.db(c.db).read(c.args.get(1), now) {
        None => -2,
        Some(entry) => match entry.expire_at() {
            None => -1,
            Some(at) if unit == 1 => (at - now).max(0),
            Some(at) => ((at - now).max(0) + 500) / 1000,
        },
    };
    c.out.int(reply);
}

pub fn persist(c: &mut Call) {
    let key = c.args.get(1);
    let db = c.ctx.db(c.db);
    let removed = db.get(key, c.now).is_some() && db.persist(key);
    if removed {
        db.touch(key);
    }
    c.out.int(i64::from(removed));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_as_strtoul_reads_them() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b"+12"), Some(12));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_cursor(b"1x"), None);
        assert_eq!(parse_cursor(b"-"), None);
    }
}
