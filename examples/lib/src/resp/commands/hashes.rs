//! Hash commands. Fields are listed in the order they were added (as Redis
//! does for small hashes); an emptied hash is deleted.

use crate::resp::bytes::Bytes;
use crate::resp::commands::keys::{parse_cursor, scan_options, scan_reply, scan_steps};
use crate::resp::commands::{Call, Shared, arity_error, wrong_type};
use crate::resp::dict::Dict;
use crate::resp::float::LongDouble;
use crate::resp::int::{format_i64, parse_i64};
use crate::resp::reply::{EMPTY_ARRAY, NOT_A_FLOAT, NOT_AN_INTEGER};
use crate::resp::store::{Db, Value};

/// Redis keeps a hash this small, with values this short, as one array
/// (a listpack): HSCAN returns it whole.
const LISTPACK_ENTRIES: usize = 128;
const LISTPACK_VALUE: usize = 64;

/// The hash under `key`, made if missing; `Err` if not a hash.
fn lookup_or_create<'d>(db: &'d mut Db, key: &[u8], now: i64) -> Result<&'d mut Dict<Bytes>, ()> {
    let (entry, _) = db.get_or_insert(key, now, || Value::Hash(Box::default()));
    match &mut entry.value {
        Value::Hash(hash) => Ok(hash),
        _ => Err(()),
    }
}

/// HSET key field value [field value ...] (and HMSET, which answers OK).
pub fn hset(c: &mut Call) {
    let legacy = c.args.get(0).len() == 5; // "hmset"
    if c.args.len() % 2 == 1 {
        return arity_error(c.out, if legacy { "hmset" } else { "hset" });
    }
    let key = c.args.get(1);
    let db = c.ctx.db(c.db);
    let (entry, _) = db.get_or_insert(key, c.now, || Value::Hash(Box::default()));
    let Value::Hash(hash) = &mut entry.value else {
        return wrong_type(c.out);
    };
    let mut added = 0;
    for i in (2..c.args.len()).step_by(2) {
        let (field, value) = (c.args.get(i), c.args.get(i + 1));
        match hash.get_mut(field) {
            Some(old) => old.assign(value),
            None => {
                hash.insert_new(Bytes::new(field), Bytes::new(value));
                added += 1;
            }
        }
    }
    db.touch(key);
    if legacy {
        c.out.ok();
    } else {
        c.out.int(added);
    }
}

pub fn hget(c: &mut Call) {
    match c.ctx.db(c.db).read_as(c.args.get(1), c.now, Value::as_hash) {
        Ok(Some(hash)) => match hash.get(c.args.get(2)) {
            Some(value) => c.out.bulk(value),
            None => c.out.null(),
        },
        Ok(None) => c.out.null(),
        Err(_) => wrong_type(c.out),
    }
}

/// HGETALL (fields and values, a map), HKEYS, HVALS.
pub fn hgetall(c: &mut Call, fields: bool, values: bool) {
    let hash = match c.ctx.db(c.db).read_as(c.args.get(1), c.now, Value::as_hash) {
        Ok(Some(hash)) => hash,
        Ok(None) if fields && values => return c.out.map(0),
        Ok(None) => return c.out.raw(EMPTY_ARRAY),
        Err(_) => return wrong_type(c.out),
    };
    if fields && values {
        c.out.map(hash.len());
    } else {
        c.out.array(hash.len());
    }
    for (field, value) in hash.iter() {
        if fields {
            c.out.bulk(field);
        }
        if values {
            c.out.bulk(value);
        }
    }
}

pub fn hexists(c: &mut Call) {
    match c.ctx.db(c.db).read_as(c.args.get(1), c.now, Value::as_hash) {
        Ok(Some(hash)) => c.out.int(i64::from(hash.contains_key(c.args.get(2)))),
        Ok(None) => c.out.int(0),
        Err(_) => wrong_type(c.out),
    }
}

pub fn hlen(c: &mut Call) {
    match c.ctx.db(c.db).read_as(c.args.get(1), c.now, Value::as_hash) {
        Ok(Some(hash)) => c.out.int(hash.len() as i64),
        Ok(None) => c.out.int(0),
        Err(_) => wrong_type(c.out),
    }
}

pub fn hstrlen(c: &mut Call) {
    match c.ctx.db(c.db).read_as(c.args.get(1), c.now, Value::as_hash) {
        Ok(Some(hash)) => c
            .out
            .int(hash.get(c.args.get(2)).map_or(0, |v| v.len() as i64)),
        Ok(None) => c.out.int(0),
        Err(_) => wrong_type(c.out),
    }
}

pub fn hmget(c: &mut Call) {
    let hash = match c.ctx.db(c.db).read_as(c.args.get(1), c.now, Value::as_hash) {
        Ok(hash) => hash,
        Err(_) => return wrong_type(c.out),
    };
    c.out.array(c.args.len() - 2);
    for i in 2..c.args.len() {
        match hash.as_ref().and_then(|h| h.get(c.args.get(i))) {
            Some(value) => c.out.bulk(value),
            None => c.out.null(),
        }
    }
}

pub fn hsetnx(c: &mut Call) {
    let (field, value) = (c.args.get(2), c.args.get(3));
    let Ok(hash) = lookup_or_create(c.ctx.db(c.db), c.args.get(1), c.now) else {
        return wrong_type(c.out);
    };
    if hash.contains_key(field) {
        return c.out.int(0);
    }
    hash.insert_new(Bytes::new(field), Bytes::new(value));
    c.ctx.db(c.db).touch(c.args.get(1));
    c.out.int(1);
}

pub fn hincrby(c: &mut Call) {
    let Some(by) = parse_i64(c.args.get(3)) else {
        return c.out.error(NOT_AN_INTEGER);
    };
    let field = c.args.get(2);
    let Ok(hash) = lookup_or_create(c.ctx.db(c.db), c.args.get(1), c.now) else {
        return wrong_type(c.out);
    };
    let old = match hash.get(field) {
        None => 0,
        Some(v) => match parse_i64(v) {
            Some(n) => n,
            None => return c.out.error("ERR hash value is not an integer"),
        },
    };
    let Some(new) = old.checked_add(by) else {
        return c.out.error("ERR increment or decrement would overflow");
    };
    let mut digits = [0; 20];
    hash.insert(field, Bytes::new(format_i64(new, &mut digits)));
    c.ctx.db(c.db).touch(c.args.get(1));
    c.out.int(new);
}

pub fn hincrbyfloat(c: &mut Call) {
    let Some(by) = LongDouble::parse(c.args.get(3)) else {
        return c.out.error(NOT_A_FLOAT);
    };
    if !by.is_finite() {
        return c.out.error("ERR value is NaN or Infinity");
    }
    let field = c.args.get(2);
    let Ok(hash) = lookup_or_create(c.ctx.db(c.db), c.args.get(1), c.now) else {
        return wrong_type(c.out);
    };
    let old = match hash.get(field) {
        None => LongDouble::Zero { neg: false },
        Some(v) => match LongDouble::parse(v) {
            Some(x) => x,
            None => return c.out.error("ERR hash value is not a float"),
        },
    };
    let sum = old.add(by);
    if !sum.is_finite() {
        return c.out.error("ERR increment would produce NaN or Infinity");
    }
    let text = sum.to_human();
    hash.insert(field, Bytes::new(text.as_bytes()));
    c.ctx.db(c.db).touch(c.args.get(1));
    c.out.bulk(text.as_bytes());
}

pub fn hscan(c: &mut Call) {
    if parse_cursor(c.args.get(2)).is_none() {
        return c.out.error("ERR invalid cursor");
    }
    let hash = match c.ctx.db(c.db).read_as(c.args.get(1), c.now, Value::as_hash) {
        Ok(Some(hash)) => hash,
        Ok(None) => return scan_reply(c.out, 0, &[]),
        Err(_) => return wrong_type(c.out),
    };
    let Some(options) = scan_options(c.args, c.out, 2, false) else {
        return;
    };
    let small = hash.len() <= LISTPACK_ENTRIES
        && hash
            .iter()
            .all(|(f, v)| f.len() <= LISTPACK_VALUE && v.len() <= LISTPACK_VALUE);
    let mut pairs: Vec<(Bytes, Bytes)> = Vec::new();
    let cursor = if small {
        pairs.extend(hash.iter().map(|(f, v)| (f.clone(), v.clone())));
        0
    } else {
        scan_steps(&options, |cursor| {
            let before = pairs.len();
            let next = hash.scan(cursor, |f, v| pairs.push((f.clone(), v.clone())));
            (next, pairs.len() - before)
        })
    };
    if let Some(p) = options.pattern {
        pairs.retain(|(f, _)| crate::resp::glob::matches(p, f));
    }
    let flat: Vec<Bytes> = pairs.into_iter().flat_map(|(f, v)| [f, v]).collect();
    scan_reply(c.out, cursor, &flat);
}
