//! Set commands. An emptied set is deleted, as in Redis.
//!
//! Redis keeps a small set of integers as a sorted array (an `intset`), so
//! it lists one in numeric order; these commands do the same for a set of
//! at most 512 integers, and list any other set in insertion order.

use crate::resp::bytes::Bytes;
use crate::resp::commands::keys::{scan_options, scan_reply, scan_steps};
use crate::resp::commands::{Call, Shared, count_arg, wrong_type};
use crate::resp::dict::Dict;
use crate::resp::int::parse_i64;
use crate::resp::reply::{EMPTY_ARRAY, Reply, SYNTAX, WRONGTYPE};
use crate::resp::rng::Rng;
use crate::resp::store::Value;

/// Redis's `set-max-intset-entries`.
const INTSET_MAX: usize = 512;

/// The members in the order Redis would list them.
pub fn ordered(set: &Dict<()>) -> Vec<&Bytes> {
    let mut members: Vec<&Bytes> = set.keys().collect();
    if members.len() <= INTSET_MAX {
        let ints: Option<Vec<i64>> = members.iter().map(|m| parse_i64(m)).collect();
        if let Some(ints) = ints {
            let mut pairs: Vec<(i64, &Bytes)> = ints.into_iter().zip(members).collect();
            pairs.sort_unstable_by_key(|p| p.0);
            members = pairs.into_iter().map(|p| p.1).collect();
        }
    }
    members
}

/// Writes a set reply.
fn reply_set(out: &mut Reply, set: &Dict<()>) {
    let members = ordered(set);
    out.set(members.len());
    for m in members {
        out.bulk(m);
    }
}

pub fn sadd(c: &mut Call) {
    let key = c.args.get(1);
    let db = c.ctx.db(c.db);
    let (entry, _) = db.get_or_insert(key, c.now, || Value::Set(Box::default()));
    let Value::Set(set) = &mut entry.value else {
        return wrong_type(c.out);
    };
    let mut added = 0;
    for i in 2..c.args.len() {
        if set.entry(c.args.get(i), || ()).1 {
            added += 1;
        }
    }
    if added > 0 {
        db.touch(key);
    }
    c.out.int(added);
}

pub fn smembers(c: &mut Call) {
    match c.ctx.db(c.db).read_as(c.args.get(1), c.now, Value::as_set) {
        Ok(Some(set)) => reply_set(c.out, set),
        Ok(None) => c.out.set(0),
        Err(_) => wrong_type(c.out),
    }
}

pub fn sismember(c: &mut Call) {
    match c.ctx.db(c.db).read_as(c.args.get(1), c.now, Value::as_set) {
        Ok(Some(set)) => c.out.int(i64::from(set.contains_key(c.args.get(2)))),
        Ok(None) => c.out.int(0),
        Err(_) => wrong_type(c.out),
    }
}

pub fn smismember(c: &mut Call) {
    let set = match c.ctx.db(c.db).read_as(c.args.get(1), c.now, Value::as_set) {
        Ok(set) => set,
        Err(_) => return wrong_type(c.out),
    };
    c.out.array(c.args.len() - 2);
    for i in 2..c.args.len() {
        let found = set.as_ref().is_some_and(|s| s.contains_key(c.args.get(i)));
        c.out.int(i64::from(found));
    }
}

pub fn scard(c: &mut Call) {
    match c.ctx.db(c.db).read_as(c.args.get(1), c.now, Value::as_set) {
        Ok(Some(set)) => c.out.int(set.len() as i64),
        Ok(None) => c.out.int(0),
        Err(_) => wrong_type(c.out),
    }
}

/// SPOP key [count]: members picked at random (a random bucket of the
/// table, then a random member of its chain, as Redis picks).
pub fn spop(c: &mut Call) {
    let argc = c.args.len();
    if argc > 3 {
        return c.out.error(SYNTAX);
    }
    let Ok(count) = count_arg(c) else {
        return;
    };
    let key = c.args.get(1);
    let db = c.ctx.db(c.db);
    let mut rng = Rng::from_seed(db.random());
    let set = match db.read_as(key, c.now, Value::as_set) {
        Ok(Some(set)) => set,
        Ok(None) if count.is_some() => return c.out.set(0),
        Ok(None) => return c.out.null(),
        Err(_) => return wrong_type(c.out),
    };
    let mut next = || rng.next();
    match count {
        None => {
            if let Some(at) = set.random(&mut next) {
                let (member, ()) = set.remove_at(at);
                c.out.bulk(&member);
            }
        }
        Some(0) => return c.out.set(0),
        Some(n) if n >= set.len() => {
            reply_set(c.out, set);
            set.drain().for_each(drop);
        }
        Some(n) => {
            c.out.set(n);
            for _ in 0..n {
                if let Some(at) = set.random(&mut next) {
                    let (member, ()) = set.remove_at(at);
                    c.out.bulk(&member);
                }
            }
        }
    }
    let empty = set.is_empty();
    db.changed(key, empty);
}

/// SRANDMEMBER key [count]: a positive count gives distinct members, a
/// negative one may repeat them.
pub fn srandmember(c: &mut Call) {
    let argc = c.args.len();
    if argc > 3 {
        return c.out.error(SYNTAX);
    }
    let count = if argc == 3 {
        match parse_i64(c.args.get(2)) {
            Some(i64::MIN) => {
                return c.out.error(
                    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                );
            }
            Some(n) => Some(n),
            None => return c.out.error(crate::resp::reply::NOT_AN_INTEGER),
        }
    } else {
        None
    };
    let db = c.ctx.db(c.db);
    let mut rng = Rng::from_seed(db.random());
    let set = match db.read_as(c.args.get(1), c.now, Value::as_set) {
        Ok(Some(set)) => set,
        Ok(None) if count.is_some() => return c.out.raw(EMPTY_ARRAY),
        Ok(None) => return c.out.null(),
        Err(_) => return wrong_type(c.out),
    };
    let mut next = || rng.next();
    match count {
        None => {
            if let Some(at) = set.random(&mut next) {
                c.out.bulk(set.key_at(at));
            }
        }
        Some(0) => c.out.raw(EMPTY_ARRAY),
        Some(n) if n < 0 => {
            // Members may repeat; a huge count is handed out as it grows.
            let total = n.unsigned_abs() as usize;
            c.out.array(total);
            let mut done = 0;
            while done < total {
                let Ok(Some(set)) = c.ctx.db(c.db).read_as(c.args.get(1), c.now, Value::as_set)
                else {
                    return;
                };
                let batch = (total - done).min(1024);
                for _ in 0..batch {
                    if let Some(at) = set.random(&mut next) {
                        c.out.bulk(set.key_at(at));
                    }
                }
                done += batch;
                if !c.spill() {
                    return;
                }
            }
        }
        Some(n) if n as usize >= set.len() => reply_set(c.out, set),
        Some(n) => {
            // Distinct members: pick at random until enough.
            let mut picked = Dict::<()>::new();
            while picked.len() < n as usize {
                if let Some(at) = set.random(&mut next) {
                    picked.entry(set.key_at(at), || ());
                }
            }
            c.out.array(picked.len());
            for m in picked.keys() {
                c.out.bulk(m);
            }
        }
    }
}

/// SINTER, SUNION and SDIFF.
#[derive(Clone, Copy, PartialEq)]
pub enum Op {
    Inter,
    Union,
    Diff,
}

/// The three set operations, replying (or, `store`, storing the result
/// under the first key and replying its size).
pub fn combine(c: &mut Call, op: Op, store: bool) {
    let first = if store { 2 } else { 1 };
    let db = c.ctx.db(c.db);
    // Every key is checked (and expired) before anything is computed.
    for i in first..c.args.len() {
        if let Some(entry) = db.read(c.args.get(i), c.now)
            && !matches!(entry.value, Value::Set(_))
        {
            return c.out.error(WRONGTYPE);
        }
    }
    let db = &*db;
    let mut sets: Vec<Option<&Dict<()>>> = (first..c.args.len())
        .map(|i| match db.peek(c.args.get(i), c.now).map(|e| &e.value) {
            Some(Value::Set(set)) => Some(&**set),
            _ => None,
        })
        .collect();
    let mut result = Dict::<()>::new();
    match op {
        Op::Inter => {
            if sets.iter().all(Option::is_some) {
                sets.sort_by_key(|s| s.map_or(0, |s| s.len()));
                if let Some(Some(smallest)) = sets.first() {
                    for m in smallest.keys() {
                        if sets[1..]
                            .iter()
                            .all(|s| s.is_some_and(|s| s.contains_key(m)))
                        {
                            result.insert_new(m.clone(), ());
                        }
                    }
                }
            }
        }
        Op::Union => {
            for set in sets.iter().flatten() {
                for m in set.keys() {
                    result.entry(m, || ());
                }
            }
        }
        Op::Diff => {
            if let Some(Some(base)) = sets.first() {
                for m in base.keys() {
                    if !sets[1..].iter().flatten().any(|s| s.contains_key(m)) {
                        result.insert_new(m.clone(), ());
                    }
                }
            }
        }
    }
    if !store {
        return reply_set(c.out, &result);
    }
    let len = result.len();
    let dst = c.args.get(1);
    let db = c.ctx.db(c.db);
    if len == 0 {
        db.delete(dst, c.now);
    } else {
        db.set(dst, Value::Set(Box::new(result)), false, c.now);
    }
    c.out.int(len as i64);
}

pub fn smove(c: &mut Call) {
    let (from, to, member) = (c.args.get(1), c.args.get(2), c.args.get(3));
    let db = c.ctx.db(c.db);
    let Some(entry) = db.get(from, c.now) else {
        return c.out.int(0);
    };
    if !matches!(entry.value, Value::Set(_))
        || db
            .get(to, c.now)
            .is_some_and(|e| !matches!(e.value, Value::Set(_)))
    {
        return wrong_type(c.out);
    }
    let Some(Value::Set(set)) = db.get(from, c.now).map(|e| &mut e.value) else {
        return c.out.int(0);
    };
    if from == to {
        return c.out.int(i64::from(set.contains_key(member)));
    }
    if set.remove(member).is_none() {
        return c.out.int(0);
    }
    let empty = set.is_empty();
    db.changed(from, empty);
    let (entry, _) = db.get_or_insert(to, c.now, || Value::Set(Box::default()));
    if let Value::Set(set) = &mut entry.value {
        set.entry(member, || ());
    }
    db.touch(to);
    c.out.int(1);
}

pub fn sscan(c: &mut Call) {
    if crate::resp::commands::keys::parse_cursor(c.args.get(2)).is_none() {
        return c.out.error("ERR invalid cursor");
    }
    let set = match c.ctx.db(c.db).read_as(c.args.get(1), c.now, Value::as_set) {
        Ok(Some(set)) => set,
        Ok(None) => return scan_reply(c.out, 0, &[]),
        Err(_) => return wrong_type(c.out),
    };
    let Some(options) = scan_options(c.args, c.out, 2, false) else {
        return;
    };
    // A small set of integers is one array in Redis: all in one reply.
    let ordered_all = ordered(set);
    let small_ints = set.len() <= INTSET_MAX && ordered_all.iter().all(|m| parse_i64(m).is_some());
    let (cursor, mut members): (u64, Vec<Bytes>) = if small_ints {
        (0, ordered_all.into_iter().cloned().collect())
    } else {
        let mut found = Vec::new();
        let cursor = scan_steps(&options, |cursor| {
            let before = found.len();
            let next = set.scan(cursor, |m, _| found.push(m.clone()));
            (next, found.len() - before)
        });
        (cursor, found)
    };
    if let Some(p) = options.pattern {
        members.retain(|m| crate::resp::glob::matches(p, m));
    }
    scan_reply(c.out, cursor, &members);
}
