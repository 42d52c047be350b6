//! The commands: look the name up, check the arity, run it against the
//! keyspace, encode the reply. Replies and error texts are Redis 7's, byte
//! for byte.

use crate::resp::collections;
use crate::resp::parser::Args;
use crate::resp::reply::{
    EMPTY_ARRAY, NIL, NOT_AN_INTEGER, OK, PONG, Reply, SYNTAX, WRONGTYPE, format_i64, parse_i64,
};
use crate::resp::store::{Bytes, Db, Value};

/// What the connection does after a command.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// QUIT: the reply is sent, then the connection closed.
    Close,
}

/// One command being run: the keyspace, the arguments (name first), where
/// the reply goes, the time (Unix ms) and the client's id.
pub struct Call<'c, 'a> {
    pub db: &'c mut Db,
    pub args: &'c mut Args<'a>,
    pub out: &'c mut Reply,
    pub now: i64,
    pub client: u64,
}

type Run = fn(&mut Call);

/// The command table: for each command its name (lower case), arity
/// (Redis's convention: `n` exactly, `-n` at least n, the name included)
/// and code. Every name fits in 8 bytes, so a name is looked up as one
/// `u64` (its bytes, lower-cased, little-endian): the `match` compares
/// integers instead of calling `memcmp` on each candidate of that length.
macro_rules! commands {
    ($($word:ident $name:literal $arity:literal $run:expr;)*) => {
        /// Every command this server knows, as `COMMAND COUNT` reports them.
        pub const NAMES: &[&str] = &[$($name),*];

        $(const $word: u64 = word($name.as_bytes());)*
        $(const _: () = assert!($name.len() <= 8, "a name must fit one u64");)*

        /// Name, arity and code of the command whose name packs to `word`.
        fn lookup_word(word: u64) -> Option<(&'static str, i32, Run)> {
            Some(match word {
                $($word => ($name, $arity, $run),)*
                _ => return None,
            })
        }
    };
}

commands! {
    GET "get" 2 get;
    SET "set" -3 set;
    PING "ping" -1 ping;
    ECHO "echo" 2 echo;
    DEL "del" -2 del;
    EXISTS "exists" -2 exists;
    INCR "incr" 2 |c| incr_by(c, 1);
    DECR "decr" 2 |c| incr_by(c, -1);
    INCRBY "incrby" 3 incrby;
    DECRBY "decrby" 3 decrby;
    MSET "mset" -3 mset;
    MGET "mget" -2 mget;
    EXPIRE "expire" -3 expire;
    TTL "ttl" 2 ttl;
    LPUSH "lpush" -3 |c| collections::push(c, true);
    RPUSH "rpush" -3 |c| collections::push(c, false);
    LPOP "lpop" -2 |c| collections::pop(c, true);
    RPOP "rpop" -2 |c| collections::pop(c, false);
    LRANGE "lrange" 4 collections::lrange;
    LLEN "llen" 2 collections::llen;
    SADD "sadd" -3 collections::sadd;
    SPOP "spop" -2 collections::spop;
    HSET "hset" -4 collections::hset;
    HGET "hget" 3 collections::hget;
    DBSIZE "dbsize" 1 dbsize;
    FLUSHALL "flushall" -1 flushall;
    COMMAND "command" -1 command;
    CONFIG "config" -2 config;
    HELLO "hello" -1 hello;
    QUIT "quit" -1 |c| c.out.raw(OK);
}

/// Up to 8 bytes as a little-endian `u64`, zero-padded.
const fn word(name: &[u8]) -> u64 {
    let mut w = 0;
    let mut i = 0;
    while i < name.len() && i < 8 {
        w |= (name[i] as u64) << (8 * i);
        i += 1;
    }
    w
}

/// Name, arity and code of a command; `name` in any case.
fn lookup(name: &[u8]) -> Option<(&'static str, i32, Run)> {
    if name.len() > 8 {
        return None;
    }
    let mut w = 0;
    for (i, &b) in name.iter().enumerate() {
        w |= u64::from(b.to_ascii_lowercase()) << (8 * i);
    }
    // Zero padding makes "get" and "get\0" the same word: the length tells.
    lookup_word(w).filter(|found| found.0.len() == name.len())
}

/// Runs one command and encodes its reply into `call.out`.
pub fn execute(call: &mut Call) -> Flow {
    // Command names are case-insensitive.
    let Some((name, arity, run)) = lookup(call.args.get(0)) else {
        unknown_command(call);
        return Flow::Continue;
    };
    let argc = call.args.len() as i32;
    if (arity > 0 && argc != arity) || argc < -arity {
        arity_error(call.out, name);
        return Flow::Continue;
    }
    run(call);
    if name == "quit" {
        Flow::Close
    } else {
        Flow::Continue
    }
}

/// Redis's text: the name and then the arguments, quoted, up to about 128
/// bytes of them.
fn unknown_command(call: &mut Call) {
    let args = &*call.args;
    let name = args.get(0);
    let mut listed: Vec<u8> = Vec::new();
    for i in 1..args.len() {
        if listed.len() >= 128 {
            break;
        }
        let arg = args.get(i);
        let room = 128 - listed.len();
        listed.push(b'\'');
        listed.extend_from_slice(&arg[..arg.len().min(room)]);
        listed.extend_from_slice(b"' ");
    }
    call.out.error_quoting(&[
        b"ERR unknown command '",
        &name[..name.len().min(128)],
        b"', with args beginning with: ",
        &listed,
    ]);
}

pub fn arity_error(out: &mut Reply, name: &str) {
    out.error_quoting(&[
        b"ERR wrong number of arguments for '",
        name.as_bytes(),
        b"' command",
    ]);
}

pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// LPOP/SPOP counts: Redis's `getPositiveLongFromObjectOrReply`.
pub fn positive(arg: &[u8]) -> Option<i64> {
    parse_i64(arg).filter(|&n| n >= 0)
}

// ----- connection and server ------------------------------------------------

fn ping(c: &mut Call) {
    match c.args.len() {
        1 => c.out.raw(PONG),
        2 => c.out.bulk(c.args.get(1)),
        _ => arity_error(c.out, "ping"),
    }
}

fn echo(c: &mut Call) {
    c.out.bulk(c.args.get(1));
}

fn dbsize(c: &mut Call) {
    c.out.int(c.db.len() as i64);
}

fn flushall(c: &mut Call) {
    let mode_ok = match c.args.len() {
        1 => true,
        2 => is(c.args.get(1), "async") || is(c.args.get(1), "sync"),
        _ => false,
    };
    if !mode_ok {
        return c.out.error(SYNTAX);
    }
    c.db.clear();
    c.out.raw(OK);
}

/// Enough of COMMAND for redis-cli, which asks for `COMMAND DOCS` to build
/// its hints and does without when the answer is empty.
fn command(c: &mut Call) {
    if c.args.len() == 1 {
        return c.out.raw(EMPTY_ARRAY);
    }
    let sub = c.args.get(1);
    if is(sub, "count") {
        c.out.int(NAMES.len() as i64);
    } else if is(sub, "docs") {
        c.out.raw(EMPTY_ARRAY);
    } else {
        unknown_subcommand(c.out, sub, "COMMAND");
    }
}

/// `CONFIG GET` of the two settings redis-benchmark reads at start-up (it
/// prints a warning when it cannot); nothing is settable.
fn config(c: &mut Call) {
    let sub = c.args.get(1);
    if !is(sub, "get") {
        return unknown_subcommand(c.out, sub, "CONFIG");
    }
    if c.args.len() < 3 {
        return arity_error(c.out, "config|get");
    }
    const SETTINGS: &[(&str, &str)] = &[("save", ""), ("appendonly", "no")];
    let mut found = [false; SETTINGS.len()];
    for i in 2..c.args.len() {
        for (j, (name, _)) in SETTINGS.iter().enumerate() {
            found[j] |= is(c.args.get(i), name);
        }
    }
    c.out.array(2 * found.iter().filter(|&&f| f).count());
    for (j, (name, value)) in SETTINGS.iter().enumerate() {
        if found[j] {
            c.out.bulk(name.as_bytes());
            c.out.bulk(value.as_bytes());
        }
    }
}

fn unknown_subcommand(out: &mut Reply, sub: &[u8], command: &str) {
    out.error_quoting(&[
        b"ERR unknown subcommand '",
        &sub[..sub.len().min(128)],
        b"'. Try ",
        command.as_bytes(),
        b" HELP.",
    ]);
}

/// HELLO: this server speaks RESP2 only, so `HELLO 3` is refused the way
/// Redis refuses a version it does not know, and a client stays on RESP2.
fn hello(c: &mut Call) {
    if c.args.len() >= 2 {
        match parse_i64(c.args.get(1)) {
            None => {
                return c
                    .out
                    .error("ERR Protocol version is not an integer or out of range");
            }
            Some(2) => {}
            Some(_) => return c.out.error("NOPROTO unsupported protocol version"),
        }
    }
    if c.args.len() > 2 {
        let opt = c.args.get(2);
        return c
            .out
            .error_quoting(&[b"ERR Syntax error in HELLO option '", opt, b"'"]);
    }
    c.out.array(14);
    for field in [
        &b"server"[..],
        b"resp_server",
        b"version",
        env!("CARGO_PKG_VERSION").as_bytes(),
        b"proto",
    ] {
        c.out.bulk(field);
    }
    c.out.int(2);
    c.out.bulk(b"id");
    c.out.int(c.client as i64);
    for field in [&b"mode"[..], b"standalone", b"role", b"master", b"modules"] {
        c.out.bulk(field);
    }
    c.out.raw(EMPTY_ARRAY);
}

// ----- keys and strings -----------------------------------------------------

fn get(c: &mut Call) {
    match c.db.get(c.args.get(1), c.now).map(|e| &e.value) {
        None => c.out.raw(NIL),
        Some(Value::Str(s)) => c.out.bulk(s),
        Some(_) => c.out.error(WRONGTYPE),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum ExpireKind {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT t|PXAT t|KEEPTTL], with
/// Redis's rules for which options combine and in which order errors win.
fn set(c: &mut Call) {
    if c.args.len() == 3 {
        // No option needs the old value: one lookup of the key, not two.
        store_value(c, false);
        return c.out.raw(OK);
    }
    let (mut nx, mut xx, mut get, mut keep_ttl) = (false, false, false, false);
    let mut expire: Option<(ExpireKind, &[u8])> = None;
    let argc = c.args.len();
    let mut j = 3;
    while j < argc {
        let opt = c.args.get(j);
        let next = (j + 1 < argc).then(|| c.args.get(j + 1));
        let kind = match opt.len() {
            2 if is(opt, "ex") => Some(ExpireKind::Ex),
            2 if is(opt, "px") => Some(ExpireKind::Px),
            4 if is(opt, "exat") => Some(ExpireKind::ExAt),
            4 if is(opt, "pxat") => Some(ExpireKind::PxAt),
            _ => None,
        };
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
        Some((kind, value)) => match expire_time(kind, value, c.now) {
            Ok(at) => Some(at),
            Err(msg) => return c.out.error(msg),
        },
    };
    let found = match c.db.get(c.args.get(1), c.now).map(|e| &e.value) {
        None => {
            if get {
                c.out.raw(NIL);
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
            c.out.raw(NIL);
        }
        return;
    }
    store_value(c, keep_ttl);
    if let Some(at) = expire_at {
        c.db.set_expire(c.args.get(1), at);
    }
    if !get {
        c.out.raw(OK);
    }
}

/// Stores SET's value (argument 2) under its key (argument 1). A streamed
/// (big) value is moved into the keyspace, not copied.
fn store_value(c: &mut Call, keep_ttl: bool) {
    match c.args.take_big(2) {
        Some(big) => {
            let value = Value::Str(Bytes::from_vec(big));
            c.db.set(c.args.get(1), value, keep_ttl, c.now);
        }
        None => c.db.set_str(c.args.get(1), c.args.get(2), keep_ttl, c.now),
    }
}

/// SET's expiry argument as Unix milliseconds.
fn expire_time(kind: ExpireKind, value: &[u8], now: i64) -> Result<i64, &'static str> {
    const INVALID: &str = "ERR invalid expire time in 'set' command";
    let n = parse_i64(value).ok_or(NOT_AN_INTEGER)?;
    if n <= 0 {
        return Err(INVALID);
    }
    let ms = match kind {
        ExpireKind::Ex | ExpireKind::ExAt => n.checked_mul(1000).ok_or(INVALID)?,
        ExpireKind::Px | ExpireKind::PxAt => n,
    };
    match kind {
        ExpireKind::Ex | ExpireKind::Px => ms.checked_add(now).ok_or(INVALID),
        ExpireKind::ExAt | ExpireKind::PxAt => Ok(ms),
    }
}

fn del(c: &mut Call) {
    let mut n = 0;
    for i in 1..c.args.len() {
        n += i64::from(c.db.delete(c.args.get(i), c.now));
    }
    c.out.int(n);
}

fn exists(c: &mut Call) {
    let mut n = 0;
    for i in 1..c.args.len() {
        n += i64::from(c.db.get(c.args.get(i), c.now).is_some());
    }
    c.out.int(n);
}

fn incrby(c: &mut Call) {
    match parse_i64(c.args.get(2)) {
        Some(by) => incr_by(c, by),
        None => c.out.error(NOT_AN_INTEGER),
    }
}

fn decrby(c: &mut Call) {
    match parse_i64(c.args.get(2)) {
        Some(i64::MIN) => c.out.error("ERR decrement would overflow"),
        Some(by) => incr_by(c, -by),
        None => c.out.error(NOT_AN_INTEGER),
    }
}

/// INCR and friends: the string must hold a strict decimal i64; the result
/// is written back in place (a number always fits inline: no allocation).
fn incr_by(c: &mut Call, by: i64) {
    let key = c.args.get(1);
    let mut digits = [0; 20];
    match c.db.get(key, c.now).map(|e| &mut e.value) {
        Some(Value::Str(s)) => {
            let Some(old) = parse_i64(s) else {
                return c.out.error(NOT_AN_INTEGER);
            };
            let Some(new) = old.checked_add(by) else {
                return c.out.error("ERR increment or decrement would overflow");
            };
            s.assign(format_i64(new, &mut digits));
            c.out.int(new);
        }
        Some(_) => c.out.error(WRONGTYPE),
        None => {
            c.db.set_str(key, format_i64(by, &mut digits), false, c.now);
            c.out.int(by);
        }
    }
}

fn mset(c: &mut Call) {
    if c.args.len().is_multiple_of(2) {
        return arity_error(c.out, "mset");
    }
    for i in (1..c.args.len()).step_by(2) {
        c.db.set_str(c.args.get(i), c.args.get(i + 1), false, c.now);
    }
    c.out.raw(OK);
}

fn mget(c: &mut Call) {
    c.out.array(c.args.len() - 1);
    for i in 1..c.args.len() {
        match c.db.get(c.args.get(i), c.now).map(|e| &e.value) {
            Some(Value::Str(s)) => c.out.bulk(s),
            _ => c.out.raw(NIL),
        }
    }
}

/// EXPIRE key seconds [NX|XX|GT|LT]. A time already past deletes the key.
fn expire(c: &mut Call) {
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
    let Some(seconds) = parse_i64(c.args.get(2)) else {
        return c.out.error(NOT_AN_INTEGER);
    };
    let Some(at) = seconds
        .checked_mul(1000)
        .and_then(|ms| ms.checked_add(c.now))
    else {
        return c.out.error("ERR invalid expire time in 'expire' command");
    };
    let key = c.args.get(1);
    let Some(entry) = c.db.get(key, c.now) else {
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
        c.db.remove(key);
    } else {
        c.db.set_expire(key, at);
    }
    c.out.int(1);
}

fn ttl(c: &mut Call) {
    let reply = match c.db.get(c.args.get(1), c.now) {
        None => -2,
        Some(entry) => match entry.expire_at() {
            None => -1,
            Some(at) => ((at - c.now).max(0) + 500) / 1000,
        },
    };
    c.out.int(reply);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_command_is_known_by_its_name() {
        for name in NAMES {
            assert_eq!(lookup(name.as_bytes()).map(|c| c.0), Some(*name));
        }
        assert_eq!(lookup(b"GeT").map(|c| c.0), Some("get"));
        for unknown in [&b"nosuch"[..], b"", b"ge", b"get\0", b"gett", b"flushallx"] {
            assert!(lookup(unknown).is_none(), "{unknown:?}");
        }
    }
}
