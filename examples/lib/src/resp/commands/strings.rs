//! String commands: GET, SET and its variants, counters, ranges.

use crate::resp::bytes::Bytes;
use crate::resp::commands::{Call, Shared, arity_error, int_arg, is, wrong_type};
use crate::resp::float::LongDouble;
use crate::resp::int::{format_i64, parse_i64};
use crate::resp::parser::MAX_BULK;
use crate::resp::reply::{NOT_A_FLOAT, NOT_AN_INTEGER, SYNTAX, WRONGTYPE};
use crate::resp::store::Value;

const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

pub fn get(c: &mut Call) {
    match c.ctx.db(c.db).read(c.args.get(1), c.now).map(|e| &e.value) {
        None => c.out.null(),
        Some(Value::Str(s)) => c.out.bulk(s),
        Some(_) => c.out.error(WRONGTYPE),
    }
}

/// The expiry options of SET and GETEX.
#[derive(Clone, Copy, PartialEq)]
enum ExpireKind {
    Ex,
    Px,
    ExAt,
    PxAt,
}

impl ExpireKind {
    fn parse(opt: &[u8]) -> Option<ExpireKind> {
        match opt.len() {
            2 if is(opt, "ex") => Some(ExpireKind::Ex),
            2 if is(opt, "px") => Some(ExpireKind::Px),
            4 if is(opt, "exat") => Some(ExpireKind::ExAt),
            4 if is(opt, "pxat") => Some(ExpireKind::PxAt),
            _ => None,
        }
    }
}

/// An expiry argument as Unix milliseconds, or the error Redis gives
/// (naming `command`).
fn expire_time(kind: ExpireKind, value: &[u8], now: i64, command: &str) -> Result<i64, String> {
    let invalid = || format!("ERR invalid expire time in '{command}' command");
    let n = parse_i64(value).ok_or_else(|| NOT_AN_INTEGER.to_string())?;
    if n <= 0 {
        return Err(invalid());
    }
    let ms = match kind {
        ExpireKind::Ex | ExpireKind::ExAt => n.checked_mul(1000).ok_or_else(invalid)?,
        ExpireKind::Px | ExpireKind::PxAt => n,
    };
    match kind {
        ExpireKind::Ex | ExpireKind::Px => ms.checked_add(now).ok_or_else(invalid),
        ExpireKind::ExAt | ExpireKind::PxAt => Ok(ms),
    }
}

/// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT t|PXAT t|KEEPTTL], with
/// Redis's rules for which options combine and in which order errors win.
pub fn set(c: &mut Call) {
    if c.args.len() == 3 {
        // No option needs the old value: one lookup of the key, not two.
        store_value(c, false);
        return c.out.ok();
    }
    let (mut nx, mut xx, mut get, mut keep_ttl) = (false, false, false, false);
    let mut expire: Option<(ExpireKind, &[u8])> = None;
    let argc = c.args.len();
    let mut j = 3;
    while j < argc {
        let opt = c.args.get(j);
        let next = (j + 1 < argc).then(|| c.args.get(j + 1));
        let kind = ExpireKind::parse(opt);
        if is(opt, "nx") && !xx {
            nx = true;
        } else if is(opt, "xx") && !nx {
            xx = true;
        } else if is(opt, "get") {
            get = true;
        } else if is(opt, "keepttl") && expire.is_none() {
            keep_ttl = true;
        } else if let (Some(kind), Some(value)) = (kind, next) {
            // One kind of expiry, repeatable (the last wins); not with KEEPTTL.
            if keep_ttl || expire.is_some_and(|(k, _)| k != kind) {
                return c.out.error(SYNTAX);
            }
            expire = Some((kind, value));
            j += 1;
        } else {
            return c.out.error(SYNTAX);
        }
        j += 1;
    }
    let expire_at = match expire {
        None => None,
        Some((kind, value)) => match expire_time(kind, value, c.now, "set") {
            Ok(at) => Some(at),
            Err(msg) => return c.out.error(&msg),
        },
    };
    let found = match c.ctx.db(c.db).get(c.args.get(1), c.now).map(|e| &e.value) {
        None => {
            if get {
                c.out.null();
            }
            false
        }
        Some(Value::Str(old)) => {
            if get {
                c.out.bulk(old);
            }
            true
        }
        Some(_) if get => return c.out.error(WRONGTYPE),
        Some(_) => true,
    };
    if (nx && found) || (xx && !found) {
        if !get {
            c.out.null();
        }
        return;
    }
    store_value(c, keep_ttl);
    if let Some(at) = expire_at {
        c.ctx.db(c.db).set_expire(c.args.get(1), at);
    }
    if !get {
        c.out.ok();
    }
}

/// Stores argument 2 under the key in argument 1. A streamed (big) value
/// is moved into the keyspace, not copied.
fn store_value(c: &mut Call, keep_ttl: bool) {
    store_at(c, 1, 2, keep_ttl);
}

fn store_at(c: &mut Call, key: usize, value: usize, keep_ttl: bool) {
    let db = c.ctx.db(c.db);
    match c.args.take_big(value) {
        Some(big) => db.set(
            c.args.get(key),
            Value::Str(Bytes::from_vec(big)),
            keep_ttl,
            c.now,
        ),
        None => db.set_str(c.args.get(key), c.args.get(value), keep_ttl, c.now),
    }
}

/// SETEX and PSETEX: `unit` milliseconds per unit of the time argument.
pub fn setex(c: &mut Call, unit: i64) {
    let (name, kind) = if unit == 1 {
        ("psetex", ExpireKind::Px)
    } else {
        ("setex", ExpireKind::Ex)
    };
    let at = match expire_time(kind, c.args.get(2), c.now, name) {
        Ok(at) => at,
        Err(msg) => return c.out.error(&msg),
    };
    store_at(c, 1, 3, false);
    c.ctx.db(c.db).set_expire(c.args.get(1), at);
    c.out.ok();
}

pub fn setnx(c: &mut Call) {
    if c.ctx.db(c.db).get(c.args.get(1), c.now).is_some() {
        return c.out.int(0);
    }
    store_value(c, false);
    c.out.int(1);
}

/// GETSET: SET ... GET without options.
pub fn getset(c: &mut Call) {
    match c.ctx.db(c.db).get(c.args.get(1), c.now).map(|e| &e.value) {
        None => c.out.null(),
        Some(Value::Str(old)) => c.out.bulk(old),
        Some(_) => return c.out.error(WRONGTYPE),
    }
    store_value(c, false);
}

pub fn getdel(c: &mut Call) {
    let db = c.ctx.db(c.db);
    match db.read(c.args.get(1), c.now).map(|e| &e.value) {
        None => return c.out.null(),
        Some(Value::Str(s)) => c.out.bulk(s),
        Some(_) => return c.out.error(WRONGTYPE),
    }
    db.remove(c.args.get(1));
}

/// GETEX key [EX s|PX ms|EXAT t|PXAT t|PERSIST].
pub fn getex(c: &mut Call) {
    let mut expire: Option<(ExpireKind, &[u8])> = None;
    let mut persist = false;
    let argc = c.args.len();
    let mut j = 2;
    while j < argc {
        let opt = c.args.get(j);
        let next = (j + 1 < argc).then(|| c.args.get(j + 1));
        match (ExpireKind::parse(opt), next) {
            (Some(kind), Some(value)) if !persist && expire.is_none_or(|(k, _)| k == kind) => {
                expire = Some((kind, value));
                j += 1;
            }
            _ if is(opt, "persist") && expire.is_none() => persist = true,
            _ => return c.out.error(SYNTAX),
        }
        j += 1;
    }
    let db = c.ctx.db(c.db);
    let key = c.args.get(1);
    match db.read(key, c.now).map(|e| &e.value) {
        None => return c.out.null(),
        Some(Value::Str(_)) => {}
        Some(_) => return c.out.error(WRONGTYPE),
    }
    let at = match expire.map(|(kind, value)| (kind, expire_time(kind, value, c.now, "getex"))) {
        Some((_, Err(msg))) => return c.out.error(&msg),
        Some((kind, Ok(at))) => Some((kind, at)),
        None => None,
    };
    if let Some(Value::Str(s)) = db.get(key, c.now).map(|e| &e.value) {
        c.out.bulk(s);
    }
    match at {
        Some((ExpireKind::ExAt | ExpireKind::PxAt, at)) if at <= c.now => {
            db.remove(key);
        }
        Some((_, at)) => {
            db.set_expire(key, at);
            db.touch(key);
        }
        None if persist && db.persist(key) => db.touch(key),
        None => {}
    }
}

pub fn incrby(c: &mut Call) {
    if let Some(by) = int_arg(c, 2) {
        incr_by(c, by);
    }
}

pub fn decrby(c: &mut Call) {
    match parse_i64(c.args.get(2)) {
        Some(i64::MIN) => c.out.error("ERR decrement would overflow"),
        Some(by) => incr_by(c, -by),
        None => c.out.error(NOT_AN_INTEGER),
    }
}

/// INCR and friends: the string must hold a strict decimal i64; the result
/// is written back in place (a number always fits inline: no allocation).
pub fn incr_by(c: &mut Call, by: i64) {
    let key = c.args.get(1);
    let mut digits = [0; 20];
    let db = c.ctx.db(c.db);
    match db.get(key, c.now).map(|e| &mut e.value) {
        Some(Value::Str(s)) => {
            let Some(old) = parse_i64(s) else {
                return c.out.error(NOT_AN_INTEGER);
            };
            let Some(new) = old.checked_add(by) else {
                return c.out.error("ERR increment or decrement would overflow");
            };
            s.assign(format_i64(new, &mut digits));
            db.touch(key);
            c.out.int(new);
        }
        Some(_) => c.out.error(WRONGTYPE),
        None => {
            db.set_str(key, format_i64(by, &mut digits), false, c.now);
            c.out.int(by);
        }
    }
}

/// INCRBYFLOAT, in `long double` as Redis computes it.
pub fn incrbyfloat(c: &mut Call) {
    let key = c.args.get(1);
    let db = c.ctx.db(c.db);
    let current = match db.get(key, c.now).map(|e| &e.value) {
        None => Some(LongDouble::Zero { neg: false }),
        Some(Value::Str(s)) => LongDouble::parse(s),
        Some(_) => return c.out.error(WRONGTYPE),
    };
    let (Some(current), Some(by)) = (current, LongDouble::parse(c.args.get(2))) else {
        return c.out.error(NOT_A_FLOAT);
    };
    let sum = current.add(by);
    if !sum.is_finite() {
        return c.out.error("ERR increment would produce NaN or Infinity");
    }
    let text = sum.to_human();
    db.set_str(key, text.as_bytes(), true, c.now);
    c.out.bulk(text.as_bytes());
}

pub fn mget(c: &mut Call) {
    c.out.array(c.args.len() - 1);
    let db = c.ctx.db(c.db);
    for i in 1..c.args.len() {
        match db.read(c.args.get(i), c.now).map(|e| &e.value) {
            Some(Value::Str(s)) => c.out.bulk(s),
            _ => c.out.null(),
        }
    }
}

pub fn mset(c: &mut Call) {
    if c.args.len().is_multiple_of(2) {
        return arity_error(c.out, "mset");
    }
    let db = c.ctx.db(c.db);
    for i in (1..c.args.len()).step_by(2) {
        db.set_str(c.args.get(i), c.args.get(i + 1), false, c.now);
    }
    c.out.ok();
}

pub fn msetnx(c: &mut Call) {
    if c.args.len().is_multiple_of(2) {
        return arity_error(c.out, "msetnx");
    }
    let db = c.ctx.db(c.db);
    for i in (1..c.args.len()).step_by(2) {
        if db.get(c.args.get(i), c.now).is_some() {
            return c.out.int(0);
        }
    }
    for i in (1..c.args.len()).step_by(2) {
        db.set_str(c.args.get(i), c.args.get(i + 1), false, c.now);
    }
    c.out.int(1);
}

pub fn append(c: &mut Call) {
    let key = c.args.get(1);
    let add = c.args.get(2);
    let db = c.ctx.db(c.db);
    let len = match db.get(key, c.now).map(|e| &mut e.value) {
        None => {
            db.set_str(key, add, false, c.now);
            add.len()
        }
        Some(Value::Str(s)) => {
            if s.len() + add.len() > MAX_BULK as usize {
                return c.out.error(TOO_BIG);
            }
            let mut joined = Vec::with_capacity(s.len() + add.len());
            joined.extend_from_slice(s);
            joined.extend_from_slice(add);
            *s = Bytes::from_vec(joined);
            let len = s.len();
            db.touch(key);
            len
        }
        Some(_) => return c.out.error(WRONGTYPE),
    };
    c.out.int(len as i64);
}

pub fn strlen(c: &mut Call) {
    match c.ctx.db(c.db).value(c.args.get(1), c.now) {
        None => c.out.int(0),
        Some(Value::Str(s)) => c.out.int(s.len() as i64),
        Some(_) => c.out.error(WRONGTYPE),
    }
}

pub fn getrange(c: &mut Call) {
    let (Some(mut start), Some(mut end)) = (parse_i64(c.args.get(2)), parse_i64(c.args.get(3)))
    else {
        return c.out.error(NOT_AN_INTEGER);
    };
    let s = match c.ctx.db(c.db).value(c.args.get(1), c.now) {
        None => return c.out.bulk(b""),
        Some(Value::Str(s)) => s,
        Some(_) => return wrong_type(c.out),
    };
    let len = s.len() as i64;
    if start < 0 && end < 0 && start > end {
        return c.out.bulk(b"");
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0).min(len - 1);
    if start > end || len == 0 {
        return c.out.bulk(b"");
    }
    c.out.bulk(&s[start as usize..=end as usize]);
}

pub fn setrange(c: &mut Call) {
    let Some(offset) = int_arg(c, 2) else {
        return;
    };
    if offset < 0 {
        return c.out.error("ERR offset is out of range");
    }
    let (key, value) = (c.args.get(1), c.args.get(3));
    let offset = offset as usize;
    let db = c.ctx.db(c.db);
    let current: &[u8] = match db.get(key, c.now).map(|e| &e.value) {
        None if value.is_empty() => return c.out.int(0),
        None => b"",
        Some(Value::Str(s)) if value.is_empty() => return c.out.int(s.len() as i64),
        Some(Value::Str(s)) => s,
        Some(_) => return c.out.error(WRONGTYPE),
    };
    if offset.saturating_add(value.len()) > MAX_BULK as usize {
        return c.out.error(TOO_BIG);
    }
    let mut bytes = current.to_vec();
    if bytes.len() < offset + value.len() {
        bytes.resize(offset + value.len(), 0);
    }
    bytes[offset..offset + value.len()].copy_from_slice(value);
    let len = bytes.len();
    db.set(key, Value::Str(Bytes::from_vec(bytes)), true, c.now);
    c.out.int(len as i64);
}
