//! List commands (the blocking ones are in `blocking.rs`). An emptied list
//! is deleted, as in Redis.

use std::collections::VecDeque;

use crate::resp::bytes::Bytes;
use crate::resp::commands::{
    Call, Shared, arity_error, count_arg, index_range, int_arg, is, wrong_type,
};
use crate::resp::int::parse_i64;
use crate::resp::reply::{EMPTY_ARRAY, NO_SUCH_KEY, NOT_AN_INTEGER, OUT_OF_RANGE, SYNTAX};
use crate::resp::store::{Db, Value};

pub fn push(c: &mut Call, front: bool) {
    let key = c.args.get(1);
    let db = c.ctx.db(c.db);
    let (entry, _) = db.get_or_insert(key, c.now, || Value::List(Box::default()));
    let Value::List(list) = &mut entry.value else {
        return wrong_type(c.out);
    };
    for i in 2..c.args.len() {
        let item = Bytes::new(c.args.get(i));
        if front {
            list.push_front(item);
        } else {
            list.push_back(item);
        }
    }
    let len = list.len();
    db.touch(key);
    c.out.int(len as i64);
}

pub fn pop(c: &mut Call, front: bool) {
    let argc = c.args.len();
    if argc > 3 {
        return arity_error(c.out, if front { "lpop" } else { "rpop" });
    }
    let Ok(count) = count_arg(c) else {
        return;
    };
    let key = c.args.get(1);
    let db = c.ctx.db(c.db);
    let Some(entry) = db.get(key, c.now) else {
        return if count.is_some() {
            c.out.null_array()
        } else {
            c.out.null()
        };
    };
    let Value::List(list) = &mut entry.value else {
        return wrong_type(c.out);
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
    let empty = list.is_empty();
    if count != Some(0) {
        db.changed(key, empty);
    }
}

/// A list index from either end (`-1` is the last) as a position, if in range.
fn position(index: i64, len: usize) -> Option<usize> {
    let i = if index < 0 { index + len as i64 } else { index };
    (0..len as i64).contains(&i).then_some(i as usize)
}

pub fn lrange(c: &mut Call) {
    let (Some(start), Some(end)) = (parse_i64(c.args.get(2)), parse_i64(c.args.get(3))) else {
        return c.out.error(NOT_AN_INTEGER);
    };
    let list = match c.ctx.db(c.db).read(c.args.get(1), c.now).map(|e| &e.value) {
        None => return c.out.raw(EMPTY_ARRAY),
        Some(Value::List(list)) => list,
        Some(_) => return wrong_type(c.out),
    };
    let (start, end) = index_range(start, end, list.len());
    if start == end {
        return c.out.raw(EMPTY_ARRAY);
    }
    c.out.array(end - start);
    for item in list.range(start..end) {
        c.out.bulk(item);
    }
}

pub fn llen(c: &mut Call) {
    match c.ctx.db(c.db).value(c.args.get(1), c.now) {
        None => c.out.int(0),
        Some(Value::List(list)) => c.out.int(list.len() as i64),
        Some(_) => wrong_type(c.out),
    }
}

pub fn lindex(c: &mut Call) {
    let Some(index) = int_arg(c, 2) else {
        return;
    };
    let list = match c.ctx.db(c.db).read(c.args.get(1), c.now).map(|e| &e.value) {
        None => return c.out.null(),
        Some(Value::List(list)) => list,
        Some(_) => return wrong_type(c.out),
    };
    let item = position(index, list.len()).map(|i| list[i].clone());
    match item {
        Some(item) => c.out.bulk(&item),
        None => c.out.null(),
    }
}

pub fn lset(c: &mut Call) {
    let key = c.args.get(1);
    let db = c.ctx.db(c.db);
    let list = match db.get(key, c.now).map(|e| &mut e.value) {
        None => return c.out.error(NO_SUCH_KEY),
        Some(Value::List(list)) => list,
        Some(_) => return wrong_type(c.out),
    };
    let Some(index) = parse_i64(c.args.get(2)) else {
        return c.out.error(NOT_AN_INTEGER);
    };
    let Some(i) = position(index, list.len()) else {
        return c.out.error(OUT_OF_RANGE);
    };
    list[i] = Bytes::new(c.args.get(3));
    db.touch(key);
    c.out.ok();
}

pub fn ltrim(c: &mut Call) {
    let (Some(start), Some(end)) = (parse_i64(c.args.get(2)), parse_i64(c.args.get(3))) else {
        return c.out.error(NOT_AN_INTEGER);
    };
    let key = c.args.get(1);
    let db = c.ctx.db(c.db);
    let list = match db.get(key, c.now).map(|e| &mut e.value) {
        None => return c.out.ok(),
        Some(Value::List(list)) => list,
        Some(_) => return wrong_type(c.out),
    };
    let (start, end) = index_range(start, end, list.len());
    list.truncate(end);
    list.drain(..start);
    let empty = list.is_empty();
    db.changed(key, empty);
    c.out.ok();
}

pub fn lrem(c: &mut Call) {
    let Some(count) = int_arg(c, 2) else {
        return;
    };
    let (key, element) = (c.args.get(1), c.args.get(3));
    let db = c.ctx.db(c.db);
    let list = match db.get(key, c.now).map(|e| &mut e.value) {
        None => return c.out.int(0),
        Some(Value::List(list)) => list,
        Some(_) => return wrong_type(c.out),
    };
    let limit = if count == 0 {
        usize::MAX
    } else {
        count.unsigned_abs() as usize
    };
    let mut removed = 0;
    if count >= 0 {
        list.retain(|item| {
            let hit = removed < limit && **item == *element;
            removed += usize::from(hit);
            !hit
        });
    } else {
        let mut i = list.len();
        while i > 0 && removed < limit {
            i -= 1;
            if *list[i] == *element {
                list.remove(i);
                removed += 1;
            }
        }
    }
    let empty = list.is_empty();
    if removed > 0 {
        db.changed(key, empty);
    }
    c.out.int(removed as i64);
}

pub fn linsert(c: &mut Call) {
    let after = match c.args.get(2) {
        w if is(w, "after") => true,
        w if is(w, "before") => false,
        _ => return c.out.error(SYNTAX),
    };
    let (key, pivot) = (c.args.get(1), c.args.get(3));
    let db = c.ctx.db(c.db);
    let list = match db.get(key, c.now).map(|e| &mut e.value) {
        None => return c.out.int(0),
        Some(Value::List(list)) => list,
        Some(_) => return wrong_type(c.out),
    };
    let Some(at) = list.iter().position(|item| **item == *pivot) else {
        return c.out.int(-1);
    };
    list.insert(at + usize::from(after), Bytes::new(c.args.get(4)));
    let len = list.len();
    db.touch(key);
    c.out.int(len as i64);
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len].
pub fn lpos(c: &mut Call) {
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0usize);
    let mut j = 3;
    while j < c.args.len() {
        let opt = c.args.get(j);
        let more = j + 1 < c.args.len();
        if is(opt, "rank") && more {
            match parse_i64(c.args.get(j + 1)) {
                None => return c.out.error(NOT_AN_INTEGER),
                Some(i64::MIN) => {
                    return c.out.error(
                        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                    );
                }
                Some(0) => {
                    return c.out.error(
                        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                         second ... or use negative to start from the end of the list",
                    );
                }
                Some(r) => rank = r,
            }
        } else if (is(opt, "count") || is(opt, "maxlen")) && more {
            let what = if is(opt, "count") { "COUNT" } else { "MAXLEN" };
            match parse_i64(c.args.get(j + 1)) {
                None => return c.out.error(NOT_AN_INTEGER),
                Some(n) if n < 0 => return c.out.error(&format!("ERR {what} can't be negative")),
                Some(n) if what == "COUNT" => count = Some(n as usize),
                Some(n) => maxlen = n as usize,
            }
        } else {
            return c.out.error(SYNTAX);
        }
        j += 2;
    }
    let element = c.args.get(2);
    let list = match c.ctx.db(c.db).read(c.args.get(1), c.now).map(|e| &e.value) {
        None if count.is_some() => return c.out.raw(EMPTY_ARRAY),
        None => return c.out.null(),
        Some(Value::List(list)) => list,
        Some(_) => return wrong_type(c.out),
    };
    let len = list.len();
    let from_tail = rank < 0;
    let skip = rank.unsigned_abs() as usize - 1;
    let limit = if maxlen == 0 { len } else { maxlen.min(len) };
    let mut found = Vec::new();
    let mut matches = 0;
    for step in 0..limit {
        let i = if from_tail { len - 1 - step } else { step };
        if *list[i] == *element {
            matches += 1;
            if matches > skip {
                found.push(i as i64);
                match count {
                    None => break,
                    Some(n) if n > 0 && found.len() >= n => break,
                    Some(_) => {}
                }
            }
        }
    }
    match count {
        Some(_) => {
            c.out.array(found.len());
            for i in found {
                c.out.int(i);
            }
        }
        None => match found.first() {
            Some(&i) => c.out.int(i),
            None => c.out.null(),
        },
    }
}

/// Which end an LMOVE argument names: LEFT (the front) or RIGHT.
pub fn end_arg(arg: &[u8]) -> Option<bool> {
    if is(arg, "left") {
        Some(true)
    } else if is(arg, "right") {
        Some(false)
    } else {
        None
    }
}

/// What moving an element between lists found.
pub enum Moved {
    /// The element moved.
    Element(Bytes),
    /// The source is missing (or empty).
    Nothing,
    /// The source or the destination is not a list.
    WrongType,
}

/// Pops from `from`'s `from_front` end and pushes onto `to`'s, creating
/// `to` if needed (LMOVE, and a served BLMOVE).
pub fn move_element(
    db: &mut Db,
    from: &[u8],
    to: &[u8],
    from_front: bool,
    to_front: bool,
    now: i64,
) -> Moved {
    match db.get(from, now).map(|e| &e.value) {
        None => return Moved::Nothing,
        Some(Value::List(list)) if list.is_empty() => return Moved::Nothing,
        Some(Value::List(_)) => {}
        Some(_) => return Moved::WrongType,
    }
    if db
        .get(to, now)
        .is_some_and(|e| !matches!(e.value, Value::List(_)))
    {
        return Moved::WrongType;
    }
    let Some(Value::List(list)) = db.get(from, now).map(|e| &mut e.value) else {
        return Moved::Nothing;
    };
    let item = if from_front {
        list.pop_front()
    } else {
        list.pop_back()
    };
    let Some(item) = item else {
        return Moved::Nothing;
    };
    let empty = list.is_empty();
    // Source first: when both are the same key, the push must find the
    // list still there (a rotation).
    if empty && from != to {
        db.remove(from);
    } else {
        db.touch(from);
    }
    let (entry, _) = db.get_or_insert(to, now, || Value::List(Box::default()));
    if let Value::List(list) = &mut entry.value {
        if to_front {
            list.push_front(item.clone());
        } else {
            list.push_back(item.clone());
        }
    }
    db.touch(to);
    Moved::Element(item)
}

pub fn lmove(c: &mut Call) {
    let (Some(from_front), Some(to_front)) = (end_arg(c.args.get(3)), end_arg(c.args.get(4)))
    else {
        return c.out.error(SYNTAX);
    };
    let (from, to) = (c.args.get(1), c.args.get(2));
    match move_element(c.ctx.db(c.db), from, to, from_front, to_front, c.now) {
        Moved::Element(item) => c.out.bulk(&item),
        Moved::Nothing => c.out.null(),
        Moved::WrongType => wrong_type(c.out),
    }
}
