//! Sorted set commands, on [`ZSet`]: every range is found by rank in
//! O(log n), then walked. An emptied sorted set is deleted.

use crate::resp::commands::{Call, Shared, count_arg, index_range, is, wrong_type};
use crate::resp::float::{parse_f64, strtod};
use crate::resp::int::parse_i64;
use crate::resp::reply::{EMPTY_ARRAY, NOT_A_FLOAT, NOT_AN_INTEGER, Reply, SYNTAX};
use crate::resp::store::Value;
use crate::resp::zset::ZSet;

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...].
pub fn zadd(c: &mut Call) {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) =
        (false, false, false, false, false, false);
    let mut at = 2;
    while at < c.args.len() {
        let opt = c.args.get(at);
        match opt.len() {
            2 if is(opt, "nx") => nx = true,
            2 if is(opt, "xx") => xx = true,
            2 if is(opt, "gt") => gt = true,
            2 if is(opt, "lt") => lt = true,
            2 if is(opt, "ch") => ch = true,
            4 if is(opt, "incr") => incr = true,
            _ => break,
        }
        at += 1;
    }
    let pairs = c.args.len() - at;
    if pairs == 0 || pairs % 2 == 1 {
        return c.out.error(SYNTAX);
    }
    if nx && xx {
        return c
            .out
            .error("ERR XX and NX options at the same time are not compatible");
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return c
            .out
            .error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if incr && pairs > 2 {
        return c
            .out
            .error("ERR INCR option supports a single increment-element pair");
    }
    // Every score is checked before anything changes.
    for i in (at..c.args.len()).step_by(2) {
        if parse_f64(c.args.get(i)).is_none() {
            return c.out.error(NOT_A_FLOAT);
        }
    }
    let key = c.args.get(1);
    let db = c.ctx.db(c.db);
    match db.get(key, c.now).map(|e| &e.value) {
        Some(Value::ZSet(_)) => {}
        Some(_) => return wrong_type(c.out),
        None if xx => {
            return if incr { c.out.null() } else { c.out.int(0) };
        }
        None => {}
    }
    let seed = db.random();
    let (entry, _) = db.get_or_insert(key, c.now, || Value::ZSet(Box::new(ZSet::new(seed))));
    let Value::ZSet(z) = &mut entry.value else {
        return;
    };
    let (mut added, mut updated, mut last) = (0, 0, None);
    for i in (at..c.args.len()).step_by(2) {
        let Some(mut score) = parse_f64(c.args.get(i)) else {
            continue;
        };
        let member = c.args.get(i + 1);
        match z.score(member) {
            Some(_) if nx => continue,
            Some(current) => {
                if incr {
                    score += current;
                    if score.is_nan() {
                        let empty = z.is_empty();
                        db.changed(key, empty);
                        return c.out.error("ERR resulting score is not a number (NaN)");
                    }
                }
                if (lt && score >= current) || (gt && score <= current) {
                    continue;
                }
                if score != current {
                    z.insert(member, score);
                    updated += 1;
                }
            }
            None if xx => continue,
            None => {
                z.insert(member, score);
                added += 1;
            }
        }
        last = Some(if score == 0.0 { 0.0 } else { score });
    }
    let empty = z.is_empty();
    if empty {
        db.remove(key);
    } else if added + updated > 0 {
        db.touch(key);
    }
    if incr {
        match last {
            Some(score) => c.out.double(score),
            None => c.out.null(),
        }
    } else {
        c.out.int(if ch { added + updated } else { added });
    }
}

/// ZINCRBY key increment member: ZADD INCR.
pub fn zincrby(c: &mut Call) {
    let Some(by) = parse_f64(c.args.get(2)) else {
        return c.out.error(NOT_A_FLOAT);
    };
    let (key, member) = (c.args.get(1), c.args.get(3));
    let db = c.ctx.db(c.db);
    match db.get(key, c.now).map(|e| &e.value) {
        Some(Value::ZSet(_)) | None => {}
        Some(_) => return wrong_type(c.out),
    }
    let seed = db.random();
    let (entry, _) = db.get_or_insert(key, c.now, || Value::ZSet(Box::new(ZSet::new(seed))));
    let Value::ZSet(z) = &mut entry.value else {
        return;
    };
    let score = z.score(member).map_or(by, |s| s + by);
    if score.is_nan() {
        return c.out.error("ERR resulting score is not a number (NaN)");
    }
    z.insert(member, score);
    db.touch(key);
    c.out.double(if score == 0.0 { 0.0 } else { score });
}

/// What a range is over.
#[derive(Clone, Copy, PartialEq)]
pub enum By {
    Rank,
    Score,
    Lex,
}

/// One end of a score range: `(1.5` is exclusive.
fn score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    let (exclusive, text) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    strtod(text).filter(|v| !v.is_nan()).map(|v| (v, exclusive))
}

/// One end of a lex range: `-`, `+`, `[a` or `(a`.
#[derive(Clone)]
enum Lex {
    Min,
    Max,
    Inclusive(Vec<u8>),
    Exclusive(Vec<u8>),
}

fn lex_bound(arg: &[u8]) -> Option<Lex> {
    match arg {
        [b'-'] => Some(Lex::Min),
        [b'+'] => Some(Lex::Max),
        [b'[', rest @ ..] => Some(Lex::Inclusive(rest.to_vec())),
        [b'(', rest @ ..] => Some(Lex::Exclusive(rest.to_vec())),
        _ => None,
    }
}

/// A parsed range, as the ranks it covers in a given set.
enum Range {
    Rank(i64, i64),
    Score((f64, bool), (f64, bool)),
    Lex(Lex, Lex),
}

impl Range {
    fn parse(by: By, min: &[u8], max: &[u8]) -> Result<Range, &'static str> {
        match by {
            By::Rank => match (parse_i64(min), parse_i64(max)) {
                (Some(a), Some(b)) => Ok(Range::Rank(a, b)),
                _ => Err(NOT_AN_INTEGER),
            },
            By::Score => match (score_bound(min), score_bound(max)) {
                (Some(a), Some(b)) => Ok(Range::Score(a, b)),
                _ => Err("ERR min or max is not a float"),
            },
            By::Lex => match (lex_bound(min), lex_bound(max)) {
                (Some(a), Some(b)) => Ok(Range::Lex(a, b)),
                _ => Err("ERR min or max not valid string range item"),
            },
        }
    }

    /// The ranks `start..end` the range covers in `z`.
    fn ranks(&self, z: &ZSet) -> (usize, usize) {
        match self {
            Range::Rank(start, end) => index_range(*start, *end, z.len()),
            Range::Score((min, min_ex), (max, max_ex)) => {
                if min > max || (min == max && (*min_ex || *max_ex)) {
                    return (0, 0);
                }
                let start = z.count_while(|_, s| if *min_ex { s <= *min } else { s < *min });
                let end = z.count_while(|_, s| if *max_ex { s < *max } else { s <= *max });
                (start, end.max(start))
            }
            Range::Lex(min, max) => {
                let below_min = |m: &[u8]| match min {
                    Lex::Min => false,
                    Lex::Max => true,
                    Lex::Inclusive(v) => m < v.as_slice(),
                    Lex::Exclusive(v) => m <= v.as_slice(),
                };
                let within_max = |m: &[u8]| match max {
                    Lex::Min => false,
                    Lex::Max => true,
                    Lex::Inclusive(v) => m <= v.as_slice(),
                    Lex::Exclusive(v) => m < v.as_slice(),
                };
                let start = z.count_while(|m, _| below_min(m));
                let end = z.count_while(|m, _| within_max(m));
                (start, end.max(start))
            }
        }
    }
}

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES].
pub fn zrange(c: &mut Call) {
    range_command(c, None, None);
}

/// ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX, ZREVRANGE:
/// ZRANGE with the kind and direction fixed.
pub fn zrange_by(c: &mut Call, by: By, reverse: bool) {
    range_command(c, Some(by), Some(reverse));
}

fn range_command(c: &mut Call, fixed_by: Option<By>, fixed_rev: Option<bool>) {
    let (mut by, mut rev) = (fixed_by, fixed_rev);
    let (mut withscores, mut limit) = (false, None::<(i64, i64)>);
    let mut j = 4;
    while j < c.args.len() {
        let opt = c.args.get(j);
        if is(opt, "withscores") {
            withscores = true;
        } else if is(opt, "limit") && j + 2 < c.args.len() {
            let (Some(offset), Some(count)) =
                (parse_i64(c.args.get(j + 1)), parse_i64(c.args.get(j + 2)))
            else {
                return c.out.error(NOT_AN_INTEGER);
            };
            limit = Some((offset, count));
            j += 2;
        } else if fixed_rev.is_none() && is(opt, "rev") {
            rev = Some(true);
        } else if fixed_by.is_none() && by.is_none() && is(opt, "bylex") {
            by = Some(By::Lex);
        } else if fixed_by.is_none() && by.is_none() && is(opt, "byscore") {
            by = Some(By::Score);
        } else {
            return c.out.error(SYNTAX);
        }
        j += 1;
    }
    let (by, rev) = (by.unwrap_or(By::Rank), rev.unwrap_or(false));
    if limit.is_some() && by == By::Rank {
        return c.out.error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
    }
    if withscores && by == By::Lex {
        return c
            .out
            .error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    }
    // Reversed score and lex ranges are given max first.
    let (min, max) = if rev && by != By::Rank {
        (3, 2)
    } else {
        (2, 3)
    };
    let range = match Range::parse(by, c.args.get(min), c.args.get(max)) {
        Ok(range) => range,
        Err(msg) => return c.out.error(msg),
    };
    let z = match c.ctx.db(c.db).read_as(c.args.get(1), c.now, Value::as_zset) {
        Ok(Some(z)) => z,
        Ok(None) => return c.out.raw(EMPTY_ARRAY),
        Err(_) => return wrong_type(c.out),
    };
    let (mut start, mut end) = range.ranks(z);
    if by == By::Rank && rev {
        // Ranks counted from the highest.
        let len = z.len();
        (start, end) = (len - end, len - start);
    }
    if let Some((offset, count)) = limit {
        let available = end - start;
        let skip = if offset < 0 {
            available
        } else {
            (offset as usize).min(available)
        };
        let take = if count < 0 {
            available
        } else {
            (count as usize).min(available)
        };
        let take = take.min(available - skip);
        if rev {
            end -= skip;
            start = end - take;
        } else {
            start += skip;
            end = start + take;
        }
    }
    reply_range(c.out, z, start, end, rev, withscores);
}

/// Writes the elements of ranks `start..end` (from the top when `rev`),
/// with their scores as pairs in RESP3 or flat in RESP2.
fn reply_range(out: &mut Reply, z: &ZSet, start: usize, end: usize, rev: bool, withscores: bool) {
    let n = end - start;
    let pairs = withscores && out.resp3;
    out.array(if withscores && !pairs { 2 * n } else { n });
    z.range(start, end, rev, |member, score| {
        if pairs {
            out.array(2);
        }
        out.bulk(member);
        if withscores {
            out.double(score);
        }
    });
}

pub fn zcount(c: &mut Call, by: By) {
    let range = match Range::parse(by, c.args.get(2), c.args.get(3)) {
        Ok(range) => range,
        Err(msg) => return c.out.error(msg),
    };
    match c.ctx.db(c.db).read_as(c.args.get(1), c.now, Value::as_zset) {
        Ok(Some(z)) => {
            let (start, end) = range.ranks(z);
            c.out.int((end - start) as i64);
        }
        Ok(None) => c.out.int(0),
        Err(_) => wrong_type(c.out),
    }
}

pub fn zrank(c: &mut Call, rev: bool) {
    let z = match c.ctx.db(c.db).read_as(c.args.get(1), c.now, Value::as_zset) {
        Ok(Some(z)) => z,
        Ok(None) => return c.out.null(),
        Err(_) => return wrong_type(c.out),
    };
    match z.rank(c.args.get(2)) {
        Some(rank) if rev => c.out.int((z.len() - 1 - rank) as i64),
        Some(rank) => c.out.int(rank as i64),
        None => c.out.null(),
    }
}

pub fn zscore(c: &mut Call) {
    match c.ctx.db(c.db).read_as(c.args.get(1), c.now, Value::as_zset) {
        Ok(Some(z)) => match z.score(c.args.get(2)) {
            Some(score) => c.out.double(score),
            None => c.out.null(),
        },
        Ok(None) => c.out.null(),
        Err(_) => wrong_type(c.out),
    }
}

pub fn zmscore(c: &mut Call) {
    let z = match c.ctx.db(c.db).read_as(c.args.get(1), c.now, Value::as_zset) {
        Ok(z) => z,
        Err(_) => return wrong_type(c.out),
    };
    c.out.array(c.args.len() - 2);
    for i in 2..c.args.len() {
        match z.as_ref().and_then(|z| z.score(c.args.get(i))) {
            Some(score) => c.out.double(score),
            None => c.out.null(),
        }
    }
}

pub fn zcard(c: &mut Call) {
    match c.ctx.db(c.db).read_as(c.args.get(1), c.now, Value::as_zset) {
        Ok(Some(z)) => c.out.int(z.len() as i64),
        Ok(None) => c.out.int(0),
        Err(_) => wrong_type(c.out),
    }
}

/// ZPOPMIN and ZPOPMAX (`highest`) key [count].
pub fn zpop(c: &mut Call, highest: bool) {
    if c.args.len() > 3 {
        return c.out.error(SYNTAX);
    }
    let Ok(count) = count_arg(c) else {
        return;
    };
    let key = c.args.get(1);
    let db = c.ctx.db(c.db);
    let z = match db.get(key, c.now).map(|e| &mut e.value) {
        None => return c.out.raw(EMPTY_ARRAY),
        Some(Value::ZSet(z)) => z,
        Some(_) => return wrong_type(c.out),
    };
    if count == Some(0) {
        return c.out.raw(EMPTY_ARRAY);
    }
    let n = count.unwrap_or(1).min(z.len());
    // RESP3 with a count: pairs; otherwise one flat array.
    let nested = c.out.resp3 && count.is_some();
    c.out.array(if nested { n } else { 2 * n });
    for _ in 0..n {
        if let Some((member, score)) = z.pop(highest) {
            if nested {
                c.out.array(2);
            }
            c.out.bulk(&member);
            c.out.double(score);
        }
    }
    let empty = z.is_empty();
    db.changed(key, empty);
}
