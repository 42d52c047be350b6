//! The commands on lists, sets and hashes (see `commands.rs` for how a
//! command is found and run). An emptied collection is deleted, as in Redis.

use std::collections::{HashSet, VecDeque};

use crate::resp::commands::{Call, arity_error, positive};
use crate::resp::reply::{
    EMPTY_ARRAY, NIL, NOT_AN_INTEGER, NOT_POSITIVE, NULL_ARRAY, Reply, SYNTAX, WRONGTYPE, parse_i64,
};
use crate::resp::store::{Bytes, Value};

// ----- lists ----------------------------------------------------------------

pub fn push(c: &mut Call, front: bool) {
    let entry =
        c.db.get_or_insert(c.args.get(1), c.now, || Value::List(Box::default()));
    let Value::List(list) = &mut entry.value else {
        return c.out.error(WRONGTYPE);
    };
    for i in 2..c.args.len() {
        let item = Bytes::new(c.args.get(i));
        if front {
            list.push_front(item);
        } else {
            list.push_back(item);
        }
    }
    c.out.int(list.len() as i64);
}

pub fn pop(c: &mut Call, front: bool) {
    let argc = c.args.len();
    if argc > 3 {
        return arity_error(c.out, if front { "lpop" } else { "rpop" });
    }
    let count = if argc == 3 {
        match positive(c.args.get(2)) {
            Some(n) => Some(n as usize),
            None => return c.out.error(NOT_POSITIVE),
        }
    } else {
        None
    };
    let key = c.args.get(1);
    let Some(entry) = c.db.get(key, c.now) else {
        return c.out.raw(if count.is_some() { NULL_ARRAY } else { NIL });
    };
    let Value::List(list) = &mut entry.value else {
        return c.out.error(WRONGTYPE);
    };
    let take = |list: &mut VecDeque<Bytes>| {
        if front {
            list.pop_front()
        } else {
            list.pop_back()
        }
    };
    match count {
        None => {
            if let Some(item) = take(list) {
                c.out.bulk(&item);
            }
        }
        Some(n) => {
            let n = n.min(list.len());
            c.out.array(n);
            for _ in 0..n {
                if let Some(item) = take(list) {
                    c.out.bulk(&item);
                }
            }
        }
    }
    // An emptied list is deleted, as in Redis.
    if list.is_empty() {
        c.db.remove(key);
    }
}

pub fn lrange(c: &mut Call) {
    let (Some(start), Some(end)) = (parse_i64(c.args.get(2)), parse_i64(c.args.get(3))) else {
        return c.out.error(NOT_AN_INTEGER);
    };
    let list = match c.db.get(c.args.get(1), c.now).map(|e| &e.value) {
        None => return c.out.raw(EMPTY_ARRAY),
        Some(Value::List(list)) => list,
        Some(_) => return c.out.error(WRONGTYPE),
    };
    let len = list.len() as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let end = if end < 0 { len + end } else { end.min(len - 1) };
    if start > end || start >= len {
        return c.out.raw(EMPTY_ARRAY);
    }
    c.out.array((end - start + 1) as usize);
    for item in list.range(start as usize..=end as usize) {
        c.out.bulk(item);
    }
}

pub fn llen(c: &mut Call) {
    match c.db.get(c.args.get(1), c.now).map(|e| &e.value) {
        None => c.out.int(0),
        Some(Value::List(list)) => c.out.int(list.len() as i64),
        Some(_) => c.out.error(WRONGTYPE),
    }
}

// ----- sets and hashes ------------------------------------------------------

pub fn sadd(c: &mut Call) {
    let entry =
        c.db.get_or_insert(c.args.get(1), c.now, || Value::Set(Box::default()));
    let Value::Set(set) = &mut entry.value else {
        return c.out.error(WRONGTYPE);
    };
    let mut added = 0;
    for i in 2..c.args.len() {
        let member = c.args.get(i);
        if !set.contains(member) {
            set.insert(Bytes::new(member));
            added += 1;
        }
    }
    c.out.int(added);
}

/// SPOP key [count]. The member is arbitrary rather than uniformly random:
/// std's sets are hashed with a random key per set, and a random skip over
/// the first few members in iteration order varies it between calls.
pub fn spop(c: &mut Call) {
    let argc = c.args.len();
    if argc > 3 {
        return c.out.error(SYNTAX);
    }
    let count = if argc == 3 {
        match positive(c.args.get(2)) {
            Some(n) => Some(n as usize),
            None => return c.out.error(NOT_POSITIVE),
        }
    } else {
        None
    };
    let key = c.args.get(1);
    let skip = c.db.random() as usize;
    let Some(entry) = c.db.get(key, c.now) else {
        return c.out.raw(if count.is_some() { EMPTY_ARRAY } else { NIL });
    };
    let Value::Set(set) = &mut entry.value else {
        return c.out.error(WRONGTYPE);
    };
    let pop_one = |set: &mut HashSet<Bytes>, out: &mut Reply| {
        let member = set.iter().nth(skip % set.len().min(64)).cloned();
        if let Some(member) = member {
            set.remove(&member);
            out.bulk(&member);
        }
    };
    match count {
        None => pop_one(set, c.out),
        Some(n) if n >= set.len() => {
            c.out.array(set.len());
            for member in set.drain() {
                c.out.bulk(&member);
            }
        }
        Some(n) => {
            c.out.array(n);
            for _ in 0..n {
                pop_one(set, c.out);
            }
        }
    }
    if set.is_empty() {
        c.db.remove(key);
    }
}

pub fn hset(c: &mut Call) {
    if c.args.len() % 2 == 1 {
        return arity_error(c.out, "hset");
    }
    let entry =
        c.db.get_or_insert(c.args.get(1), c.now, || Value::Hash(Box::default()));
    let Value::Hash(hash) = &mut entry.value else {
        return c.out.error(WRONGTYPE);
    };
    let mut added = 0;
    for i in (2..c.args.len()).step_by(2) {
        let (field, value) = (c.args.get(i), c.args.get(i + 1));
        match hash.get_mut(field) {
            Some(old) => old.assign(value),
            None => {
                hash.insert(Bytes::new(field), Bytes::new(value));
                added += 1;
            }
        }
    }
    c.out.int(added);
}

pub fn hget(c: &mut Call) {
    match c.db.get(c.args.get(1), c.now).map(|e| &e.value) {
        None => c.out.raw(NIL),
        Some(Value::Hash(hash)) => match hash.get(c.args.get(2)) {
            Some(value) => c.out.bulk(value),
            None => c.out.raw(NIL),
        },
        Some(_) => c.out.error(WRONGTYPE),
    }
}
