//! The commands: look the name up, check the arity, queue it (inside
//! MULTI) or refuse it (a RESP2 subscriber), run it, encode the reply.
//! Replies and error texts are Redis 7.0's, byte for byte.
//!
//! One file per kind of command: `strings`, `keys`, `lists`, `blocking`
//! (BLPOP and the queue of waiting clients), `sets`, `hashes`, `zsets`,
//! `server`, `info`, `command` (COMMAND itself), `connection`, `pubsub`,
//! `transactions`; `docs` is what COMMAND DOCS says of each.

pub mod blocking;
pub mod command;
pub mod connection;
pub mod docs;
pub mod hashes;
pub mod info;
pub mod keys;
pub mod lists;
pub mod pubsub;
pub mod server;
pub mod sets;
pub mod strings;
pub mod transactions;
pub mod zsets;

use std::time::Duration;

use sockloop::Ctx;

use crate::resp::client::Client;
use crate::resp::dict::Dict;
use crate::resp::parser::Args;
use crate::resp::reply::{NOT_AN_INTEGER, NOT_POSITIVE, QUEUED, Reply, WRONGTYPE};
use crate::resp::state::State;
use crate::resp::store::{Db, Value};
use crate::resp::zset::ZSet;

/// What the connection does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// QUIT: the reply is sent, then the connection closed.
    Close,
    /// BLPOP and friends found nothing: wait for a push, at most this long
    /// (`None`: forever). Nothing more is read from the client meanwhile.
    Block(Option<Duration>),
}

/// One command being run: the reactor context (the shared [`State`] and
/// every other connection), the arguments (name first), where the reply
/// goes, the time (Unix ms), and who asks.
pub struct Call<'c, 'a, 'b> {
    pub ctx: &'c mut Ctx<'a, State>,
    pub args: &'c mut Args<'b>,
    pub out: &'c mut Reply,
    pub now: i64,
    /// The client's slot in `State::clients`.
    pub slot: usize,
    /// The client's selected database.
    pub db: usize,
    /// What to do once the command is done (commands set it).
    pub flow: Flow,
    /// Run by EXEC: blocking commands do not block, and blocked clients
    /// are served only once the whole transaction is done.
    pub in_exec: bool,
}

/// Short ways into the shared state from a command's context.
pub trait Shared {
    /// The shared state.
    fn state(&mut self) -> &mut State;
    /// Database `i`.
    fn db(&mut self, i: usize) -> &mut Db;
    /// The client in `slot`.
    fn client(&mut self, slot: usize) -> &mut Client;
}

impl Shared for Ctx<'_, State> {
    #[inline]
    fn state(&mut self) -> &mut State {
        self.shared()
    }

    #[inline]
    fn db(&mut self, i: usize) -> &mut Db {
        &mut self.shared().dbs[i]
    }

    #[inline]
    fn client(&mut self, slot: usize) -> &mut Client {
        &mut self.shared().clients[slot]
    }
}

impl Call<'_, '_, '_> {
    /// This command's client.
    pub fn client(&mut self) -> &mut Client {
        self.ctx.client(self.slot)
    }

    /// Hands the reply built so far to the reactor, for a reply too large
    /// to build whole; returns false once the connection takes no more
    /// output (it passed its output limit), so the command can stop.
    pub fn spill(&mut self) -> bool {
        if self.out.buf.len() >= 64 * 1024 {
            self.ctx.write(&self.out.buf);
            self.out.buf.clear();
        }
        let token = self.ctx.token();
        self.ctx.connection(token).is_open()
    }
}

type Run = fn(&mut Call);

/// Command flags, as COMMAND reports them, and two of the server's own.
pub mod flag {
    pub const WRITE: u16 = 1;
    pub const READONLY: u16 = 1 << 1;
    pub const DENYOOM: u16 = 1 << 2;
    pub const FAST: u16 = 1 << 3;
    pub const BLOCKING: u16 = 1 << 4;
    pub const PUBSUB: u16 = 1 << 5;
    pub const NOSCRIPT: u16 = 1 << 6;
    pub const LOADING: u16 = 1 << 7;
    pub const STALE: u16 = 1 << 8;
    /// Runs at once inside MULTI instead of being queued.
    pub const NOW: u16 = 1 << 9;
    /// Allowed for a RESP2 client with subscriptions.
    pub const SUBSCRIBED: u16 = 1 << 10;

    /// The names COMMAND lists, in Redis's order.
    pub const NAMES: &[(u16, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (FAST, "fast"),
    ];
}

/// A command: its name (lower case), its arity (Redis's convention: `n`
/// exactly, `-n` at least n, the name included), flags, key positions
/// (first, last, step: COMMAND's figures) and code.
pub struct Command {
    pub name: &'static str,
    pub arity: i32,
    pub flags: u16,
    pub keys: (i32, i32, i32),
    pub run: Run,
}

/// The command table. Every name fits in 16 bytes, so a name is looked up
/// as one `u128` (its bytes, lower-cased, little-endian), in a small hash
/// table built at compile time: one multiplication, then (nearly always)
/// one comparison of integers instead of `memcmp` on candidates.
macro_rules! commands {
    ($($id:ident $name:literal $arity:literal [$($flag:ident)*] $first:literal $last:literal $step:literal $run:expr;)*) => {
        mod words {
            $(pub const $id: u128 = super::word($name.as_bytes());)*
        }
        $(
            const _: () = assert!($name.len() <= 16, "a name must fit one u128");
            #[allow(non_upper_case_globals)]
            static $id: Command = Command {
                name: $name,
                arity: $arity,
                flags: 0 $(| flag::$flag)*,
                keys: ($first, $last, $step),
                run: $run,
            };
        )*

        /// Every command this server knows, as COMMAND lists them.
        pub static ALL: &[&Command] = &[$(&$id),*];

        /// Their names as words, in the same order.
        const WORDS: &[u128] = &[$(words::$id),*];
    };
}

/// Slots of the name table: a power of two, about four per command.
const SLOTS: usize = 512;

/// Where a name's word goes in the table (then on, linearly, if taken).
const fn slot(word: u128) -> usize {
    let folded = (word as u64) ^ ((word >> 64) as u64).rotate_left(29);
    (folded.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 55) as usize % SLOTS
}

/// The name table: at each slot, 1 + the index in `ALL` of the command
/// whose word is there, or 0.
static NAME_TABLE: [u8; SLOTS] = {
    assert!(WORDS.len() < 255);
    let mut table = [0u8; SLOTS];
    let mut i = 0;
    while i < WORDS.len() {
        let mut s = slot(WORDS[i]);
        while table[s] != 0 {
            s = (s + 1) % SLOTS;
        }
        table[s] = (i + 1) as u8;
        i += 1;
    }
    table
};

/// The command whose name packs to `word`.
#[inline]
fn lookup_word(word: u128) -> Option<&'static Command> {
    let mut s = slot(word);
    loop {
        let at = NAME_TABLE[s] as usize;
        if at == 0 {
            return None;
        }
        if WORDS[at - 1] == word {
            return Some(ALL[at - 1]);
        }
        s = (s + 1) % SLOTS;
    }
}

use flag::*;

commands! {
    // The benchmark's commands first (the match does not care; readers do).
    GET "get" 2 [READONLY FAST] 1 1 1 strings::get;
    SET "set" -3 [WRITE DENYOOM] 1 1 1 strings::set;
    PING "ping" -1 [FAST SUBSCRIBED] 0 0 0 connection::ping;
    INCR "incr" 2 [WRITE DENYOOM FAST] 1 1 1 |c| strings::incr_by(c, 1);
    MSET "mset" -3 [WRITE DENYOOM] 1 -1 2 strings::mset;
    LPUSH "lpush" -3 [WRITE DENYOOM FAST] 1 1 1 |c| lists::push(c, true);
    RPUSH "rpush" -3 [WRITE DENYOOM FAST] 1 1 1 |c| lists::push(c, false);
    LPOP "lpop" -2 [WRITE FAST] 1 1 1 |c| lists::pop(c, true);
    RPOP "rpop" -2 [WRITE FAST] 1 1 1 |c| lists::pop(c, false);
    LRANGE "lrange" 4 [READONLY] 1 1 1 lists::lrange;
    SADD "sadd" -3 [WRITE DENYOOM FAST] 1 1 1 sets::sadd;
    SPOP "spop" -2 [WRITE FAST] 1 1 1 sets::spop;
    HSET "hset" -4 [WRITE DENYOOM FAST] 1 1 1 hashes::hset;
    ZADD "zadd" -4 [WRITE DENYOOM FAST] 1 1 1 zsets::zadd;
    ZPOPMIN "zpopmin" -2 [WRITE FAST] 1 1 1 |c| zsets::zpop(c, false);
    // Strings.
    DECR "decr" 2 [WRITE DENYOOM FAST] 1 1 1 |c| strings::incr_by(c, -1);
    INCRBY "incrby" 3 [WRITE DENYOOM FAST] 1 1 1 strings::incrby;
    DECRBY "decrby" 3 [WRITE DENYOOM FAST] 1 1 1 strings::decrby;
    INCRBYFLOAT "incrbyfloat" 3 [WRITE DENYOOM FAST] 1 1 1 strings::incrbyfloat;
    MGET "mget" -2 [READONLY FAST] 1 -1 1 strings::mget;
    MSETNX "msetnx" -3 [WRITE DENYOOM] 1 -1 2 strings::msetnx;
    SETEX "setex" 4 [WRITE DENYOOM] 1 1 1 |c| strings::setex(c, 1000);
    PSETEX "psetex" 4 [WRITE DENYOOM] 1 1 1 |c| strings::setex(c, 1);
    SETNX "setnx" 3 [WRITE DENYOOM FAST] 1 1 1 strings::setnx;
    GETSET "getset" 3 [WRITE DENYOOM FAST] 1 1 1 strings::getset;
    GETDEL "getdel" 2 [WRITE FAST] 1 1 1 strings::getdel;
    GETEX "getex" -2 [WRITE FAST] 1 1 1 strings::getex;
    APPEND "append" 3 [WRITE DENYOOM FAST] 1 1 1 strings::append;
    STRLEN "strlen" 2 [READONLY FAST] 1 1 1 strings::strlen;
    GETRANGE "getrange" 4 [READONLY] 1 1 1 strings::getrange;
    SETRANGE "setrange" 4 [WRITE DENYOOM] 1 1 1 strings::setrange;
    // Keys.
    DEL "del" -2 [WRITE] 1 -1 1 keys::del;
    UNLINK "unlink" -2 [WRITE FAST] 1 -1 1 keys::del;
    EXISTS "exists" -2 [READONLY FAST] 1 -1 1 keys::exists;
    TYPE "type" 2 [READONLY FAST] 1 1 1 keys::type_of;
    KEYS "keys" 2 [READONLY] 0 0 0 keys::keys;
    SCAN "scan" -2 [READONLY] 0 0 0 keys::scan;
    RANDOMKEY "randomkey" 1 [READONLY] 0 0 0 keys::randomkey;
    RENAME "rename" 3 [WRITE] 1 2 1 |c| keys::rename(c, false);
    RENAMENX "renamenx" 3 [WRITE FAST] 1 2 1 |c| keys::rename(c, true);
    COPY "copy" -3 [WRITE DENYOOM] 1 2 1 keys::copy;
    MOVE "move" 3 [WRITE FAST] 1 1 1 keys::move_key;
    EXPIRE "expire" -3 [WRITE FAST] 1 1 1 |c| keys::expire(c, "expire", 1000, false);
    PEXPIRE "pexpire" -3 [WRITE FAST] 1 1 1 |c| keys::expire(c, "pexpire", 1, false);
    EXPIREAT "expireat" -3 [WRITE FAST] 1 1 1 |c| keys::expire(c, "expireat", 1000, true);
    PEXPIREAT "pexpireat" -3 [WRITE FAST] 1 1 1 |c| keys::expire(c, "pexpireat", 1, true);
    TTL "ttl" 2 [READONLY FAST] 1 1 1 |c| keys::ttl(c, 1000);
    PTTL "pttl" 2 [READONLY FAST] 1 1 1 |c| keys::ttl(c, 1);
    PERSIST "persist" 2 [WRITE FAST] 1 1 1 keys::persist;
    // Lists.
    LLEN "llen" 2 [READONLY FAST] 1 1 1 lists::llen;
    LINDEX "lindex" 3 [READONLY] 1 1 1 lists::lindex;
    LSET "lset" 4 [WRITE DENYOOM] 1 1 1 lists::lset;
    LTRIM "ltrim" 4 [WRITE] 1 1 1 lists::ltrim;
    LREM "lrem" 4 [WRITE] 1 1 1 lists::lrem;
    LINSERT "linsert" 5 [WRITE DENYOOM] 1 1 1 lists::linsert;
    LPOS "lpos" -3 [READONLY] 1 1 1 lists::lpos;
    LMOVE "lmove" 5 [WRITE DENYOOM] 1 2 1 lists::lmove;
    BLPOP "blpop" -3 [WRITE NOSCRIPT BLOCKING] 1 -2 1 |c| blocking::bpop(c, true);
    BRPOP "brpop" -3 [WRITE NOSCRIPT BLOCKING] 1 -2 1 |c| blocking::bpop(c, false);
    BLMOVE "blmove" 6 [WRITE DENYOOM NOSCRIPT BLOCKING] 1 2 1 blocking::blmove;
    // Sets.
    SMEMBERS "smembers" 2 [READONLY] 1 1 1 sets::smembers;
    SISMEMBER "sismember" 3 [READONLY FAST] 1 1 1 sets::sismember;
    SMISMEMBER "smismember" -3 [READONLY FAST] 1 1 1 sets::smismember;
    SREM "srem" -3 [WRITE FAST] 1 1 1 |c| remove_members(c, Value::as_set, |s, m| s.remove(m).is_some(), Dict::is_empty);
    SCARD "scard" 2 [READONLY FAST] 1 1 1 sets::scard;
    SRANDMEMBER "srandmember" -2 [READONLY] 1 1 1 sets::srandmember;
    SINTER "sinter" -2 [READONLY] 1 -1 1 |c| sets::combine(c, sets::Op::Inter, false);
    SUNION "sunion" -2 [READONLY] 1 -1 1 |c| sets::combine(c, sets::Op::Union, false);
    SDIFF "sdiff" -2 [READONLY] 1 -1 1 |c| sets::combine(c, sets::Op::Diff, false);
    SINTERSTORE "sinterstore" -3 [WRITE DENYOOM] 1 -1 1 |c| sets::combine(c, sets::Op::Inter, true);
    SUNIONSTORE "sunionstore" -3 [WRITE DENYOOM] 1 -1 1 |c| sets::combine(c, sets::Op::Union, true);
    SDIFFSTORE "sdiffstore" -3 [WRITE DENYOOM] 1 -1 1 |c| sets::combine(c, sets::Op::Diff, true);
    SMOVE "smove" 4 [WRITE FAST] 1 2 1 sets::smove;
    SSCAN "sscan" -3 [READONLY] 1 1 1 sets::sscan;
    // Hashes.
    HMSET "hmset" -4 [WRITE DENYOOM FAST] 1 1 1 hashes::hset;
    HGET "hget" 3 [READONLY FAST] 1 1 1 hashes::hget;
    HGETALL "hgetall" 2 [READONLY] 1 1 1 |c| hashes::hgetall(c, true, true);
    HKEYS "hkeys" 2 [READONLY] 1 1 1 |c| hashes::hgetall(c, true, false);
    HVALS "hvals" 2 [READONLY] 1 1 1 |c| hashes::hgetall(c, false, true);
    HDEL "hdel" -3 [WRITE FAST] 1 1 1 |c| remove_members(c, Value::as_hash, |h, f| h.remove(f).is_some(), Dict::is_empty);
    HEXISTS "hexists" 3 [READONLY FAST] 1 1 1 hashes::hexists;
    HLEN "hlen" 2 [READONLY FAST] 1 1 1 hashes::hlen;
    HINCRBY "hincrby" 4 [WRITE DENYOOM FAST] 1 1 1 hashes::hincrby;
    HINCRBYFLOAT "hincrbyfloat" 4 [WRITE DENYOOM FAST] 1 1 1 hashes::hincrbyfloat;
    HMGET "hmget" -3 [READONLY FAST] 1 1 1 hashes::hmget;
    HSETNX "hsetnx" 4 [WRITE DENYOOM FAST] 1 1 1 hashes::hsetnx;
    HSTRLEN "hstrlen" 3 [READONLY FAST] 1 1 1 hashes::hstrlen;
    HSCAN "hscan" -3 [READONLY] 1 1 1 hashes::hscan;
    // Sorted sets.
    ZRANGE "zrange" -4 [READONLY] 1 1 1 zsets::zrange;
    ZRANGEBYSCORE "zrangebyscore" -4 [READONLY] 1 1 1 |c| zsets::zrange_by(c, zsets::By::Score, false);
    ZREVRANGEBYSCORE "zrevrangebyscore" -4 [READONLY] 1 1 1 |c| zsets::zrange_by(c, zsets::By::Score, true);
    ZRANGEBYLEX "zrangebylex" -4 [READONLY] 1 1 1 |c| zsets::zrange_by(c, zsets::By::Lex, false);
    ZREVRANGEBYLEX "zrevrangebylex" -4 [READONLY] 1 1 1 |c| zsets::zrange_by(c, zsets::By::Lex, true);
    ZREVRANGE "zrevrange" -4 [READONLY] 1 1 1 |c| zsets::zrange_by(c, zsets::By::Rank, true);
    ZRANK "zrank" 3 [READONLY FAST] 1 1 1 |c| zsets::zrank(c, false);
    ZREVRANK "zrevrank" 3 [READONLY FAST] 1 1 1 |c| zsets::zrank(c, true);
    ZSCORE "zscore" 3 [READONLY FAST] 1 1 1 zsets::zscore;
    ZMSCORE "zmscore" -3 [READONLY FAST] 1 1 1 zsets::zmscore;
    ZINCRBY "zincrby" 4 [WRITE DENYOOM FAST] 1 1 1 zsets::zincrby;
    ZREM "zrem" -3 [WRITE FAST] 1 1 1 |c| remove_members(c, Value::as_zset, |z, m| z.remove(m).is_some(), ZSet::is_empty);
    ZCARD "zcard" 2 [READONLY FAST] 1 1 1 zsets::zcard;
    ZCOUNT "zcount" 4 [READONLY FAST] 1 1 1 |c| zsets::zcount(c, zsets::By::Score);
    ZLEXCOUNT "zlexcount" 4 [READONLY FAST] 1 1 1 |c| zsets::zcount(c, zsets::By::Lex);
    ZPOPMAX "zpopmax" -2 [WRITE FAST] 1 1 1 |c| zsets::zpop(c, true);
    // Pub/sub.
    SUBSCRIBE "subscribe" -2 [PUBSUB NOSCRIPT LOADING STALE SUBSCRIBED] 0 0 0 |c| pubsub::subscribe(c, false);
    PSUBSCRIBE "psubscribe" -2 [PUBSUB NOSCRIPT LOADING STALE SUBSCRIBED] 0 0 0 |c| pubsub::subscribe(c, true);
    UNSUBSCRIBE "unsubscribe" -1 [PUBSUB NOSCRIPT LOADING STALE SUBSCRIBED] 0 0 0 |c| pubsub::unsubscribe(c, false);
    PUNSUBSCRIBE "punsubscribe" -1 [PUBSUB NOSCRIPT LOADING STALE SUBSCRIBED] 0 0 0 |c| pubsub::unsubscribe(c, true);
    PUBLISH "publish" 3 [PUBSUB LOADING STALE FAST] 0 0 0 pubsub::publish;
    PUBSUB "pubsub" -2 [] 0 0 0 pubsub::pubsub;
    // Transactions.
    MULTI "multi" 1 [NOSCRIPT LOADING STALE FAST NOW] 0 0 0 transactions::multi;
    EXEC "exec" 1 [NOSCRIPT LOADING STALE NOW] 0 0 0 transactions::exec;
    DISCARD "discard" 1 [NOSCRIPT LOADING STALE FAST NOW] 0 0 0 transactions::discard;
    WATCH "watch" -2 [NOSCRIPT LOADING STALE FAST NOW] 1 -1 1 transactions::watch;
    UNWATCH "unwatch" 1 [NOSCRIPT LOADING STALE FAST] 0 0 0 transactions::unwatch;
    // Connection.
    ECHO "echo" 2 [LOADING STALE FAST] 0 0 0 connection::echo;
    SELECT "select" 2 [LOADING STALE FAST] 0 0 0 connection::select;
    HELLO "hello" -1 [NOSCRIPT LOADING STALE FAST] 0 0 0 connection::hello;
    CLIENT "client" -2 [] 0 0 0 connection::client;
    RESET "reset" 1 [NOSCRIPT LOADING STALE FAST NOW SUBSCRIBED] 0 0 0 connection::reset;
    QUIT "quit" -1 [NOSCRIPT LOADING STALE FAST NOW SUBSCRIBED] 0 0 0 connection::quit;
    // Server.
    DBSIZE "dbsize" 1 [READONLY FAST] 0 0 0 server::dbsize;
    FLUSHDB "flushdb" -1 [WRITE] 0 0 0 |c| server::flush(c, false);
    FLUSHALL "flushall" -1 [WRITE] 0 0 0 |c| server::flush(c, true);
    SWAPDB "swapdb" 3 [WRITE FAST] 0 0 0 server::swapdb;
    INFO "info" -1 [LOADING STALE] 0 0 0 info::info;
    TIME "time" 1 [LOADING STALE FAST] 0 0 0 server::time;
    COMMAND "command" -1 [LOADING STALE] 0 0 0 command::command;
    CONFIG "config" -2 [] 0 0 0 server::config;
}

/// Up to 16 bytes as a little-endian `u128`, zero-padded.
const fn word(name: &[u8]) -> u128 {
    let mut w = 0;
    let mut i = 0;
    while i < name.len() && i < 16 {
        w |= (name[i] as u128) << (8 * i);
        i += 1;
    }
    w
}

/// The command named `name`, in any case.
#[inline]
pub fn lookup(name: &[u8]) -> Option<&'static Command> {
    if name.is_empty() || name.len() > 16 {
        return None;
    }
    let mut bytes = [0u8; 16];
    bytes[..name.len()].copy_from_slice(name);
    // Setting bit 5 of every byte of the name lower-cases ASCII letters and
    // turns no other byte into a letter (names are letters only); the
    // zero padding stays zero, so "get" and "get\0" differ.
    let case = u128::MAX >> (8 * (16 - name.len()));
    let word = u128::from_le_bytes(bytes) | (case & 0x2020_2020_2020_2020_2020_2020_2020_2020);
    lookup_word(word)
}

/// Runs one command and encodes its reply into `c.out`.
#[inline]
pub fn execute(c: &mut Call) {
    let Some(command) = lookup(c.args.get(0)) else {
        unknown_command(c);
        return refused(c);
    };
    let argc = c.args.len() as i32;
    if (command.arity > 0 && argc != command.arity) || argc < -command.arity {
        arity_error(c.out, command.name);
        return refused(c);
    }
    let client = &mut c.ctx.shared().clients[c.slot];
    client.last_command = command.name;
    client.last_active_ms = c.now;
    if client.multi.is_some() || client.in_pubsub_mode() {
        return special(c, command);
    }
    run(c, command);
}

/// Runs a command that passed the checks, and counts it.
#[inline]
pub fn run(c: &mut Call, command: &'static Command) {
    (command.run)(c);
    let state = c.ctx.shared();
    state.stats.commands_processed += 1;
    if state.blocked > 0 && !c.in_exec {
        blocking::serve(c.ctx, c.now);
    }
}

/// A client inside MULTI or subscribed in RESP2.
#[cold]
fn special(c: &mut Call, command: &'static Command) {
    let client = c.client();
    if client.in_pubsub_mode() && command.flags & SUBSCRIBED == 0 {
        c.out.error_quoting(&[
            b"ERR Can't execute '",
            command.name.as_bytes(),
            b"': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
        ]);
        return refused(c);
    }
    if client.multi.is_some() && command.flags & NOW == 0 {
        let args = (0..c.args.len()).map(|i| c.args.get(i).to_vec()).collect();
        if let Some(multi) = c.client().multi.as_mut() {
            multi.queued.push(args);
        }
        return c.out.raw(QUEUED);
    }
    run(c, command);
}

/// A command was refused: inside MULTI, the transaction will fail.
fn refused(c: &mut Call) {
    if let Some(multi) = c
        .ctx
        .state()
        .clients
        .get_mut(c.slot)
        .and_then(|cl| cl.multi.as_mut())
    {
        multi.failed = true;
    }
}

/// Redis's text: the name and then the arguments, quoted, up to about 128
/// bytes of them.
fn unknown_command(c: &mut Call) {
    let args = &*c.args;
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
    c.out.error_quoting(&[
        b"ERR unknown command '",
        &name[..name.len().min(128)],
        b"', with args beginning with: ",
        &listed,
    ]);
}

/// `ERR wrong number of arguments for 'NAME' command`.
pub fn arity_error(out: &mut Reply, name: &str) {
    out.error_quoting(&[
        b"ERR wrong number of arguments for '",
        name.as_bytes(),
        b"' command",
    ]);
}

/// `ERR unknown subcommand 'SUB'. Try COMMAND HELP.`
pub fn unknown_subcommand(out: &mut Reply, sub: &[u8], command: &str) {
    out.error_quoting(&[
        b"ERR unknown subcommand '",
        &sub[..sub.len().min(128)],
        b"'. Try ",
        command.as_bytes(),
        b" HELP.",
    ]);
}

/// Whether an argument is `word`, in any case.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// An integer argument, or the standard error.
pub fn int_arg(c: &mut Call, i: usize) -> Option<i64> {
    let n = crate::resp::int::parse_i64(c.args.get(i));
    if n.is_none() {
        c.out.error(NOT_AN_INTEGER);
    }
    n
}

/// The positions `start..end` that indexes `first` and `last` (inclusive,
/// negative ones counted from the end) cover in a sequence of `len`, as
/// LRANGE, LTRIM and ZRANGE read them: out-of-range ends are clamped,
/// and an empty range is `0..0`.
pub fn index_range(first: i64, last: i64, len: usize) -> (usize, usize) {
    let len = len as i64;
    let first = if first < 0 {
        (len + first).max(0)
    } else {
        first
    };
    let last = if last < 0 {
        len + last
    } else {
        last.min(len - 1)
    };
    if first > last || first >= len {
        return (0, 0);
    }
    (first as usize, last as usize + 1)
}

/// LPOP/SPOP counts: Redis's `getPositiveLongFromObjectOrReply`.
pub fn positive(arg: &[u8]) -> Option<i64> {
    crate::resp::int::parse_i64(arg).filter(|&n| n >= 0)
}

/// The optional count (argument 2) of LPOP, SPOP, ZPOPMIN...: `Ok(None)`
/// without one, `Err` after replying Redis's error for a bad one.
pub fn count_arg(c: &mut Call) -> Result<Option<usize>, ()> {
    if c.args.len() < 3 {
        return Ok(None);
    }
    match positive(c.args.get(2)) {
        Some(n) => Ok(Some(n as usize)),
        None => {
            c.out.error(NOT_POSITIVE);
            Err(())
        }
    }
}

/// SREM, HDEL and ZREM: takes the members named from argument 2 on out of
/// the collection `pick` finds under argument 1 (`remove` says whether
/// each was there), replies how many were, deletes an emptied collection.
pub fn remove_members<T: ?Sized>(
    c: &mut Call,
    pick: fn(&mut Value) -> Option<&mut T>,
    remove: impl Fn(&mut T, &[u8]) -> bool,
    is_empty: impl Fn(&T) -> bool,
) {
    let key = c.args.get(1);
    let db = c.ctx.db(c.db);
    let collection = match db.read_as(key, c.now, pick) {
        Ok(Some(collection)) => collection,
        Ok(None) => return c.out.int(0),
        Err(_) => return wrong_type(c.out),
    };
    let mut removed = 0;
    for i in 2..c.args.len() {
        removed += i64::from(remove(collection, c.args.get(i)));
    }
    let emptied = is_empty(collection);
    if removed > 0 {
        db.changed(key, emptied);
    }
    c.out.int(removed);
}

/// Replies WRONGTYPE; for `let ... else` arms.
pub fn wrong_type(out: &mut Reply) {
    out.error(WRONGTYPE);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_command_is_known_by_its_name() {
        for command in ALL {
            assert_eq!(
                lookup(command.name.as_bytes()).map(|c| c.name),
                Some(command.name)
            );
            assert!(
                docs::find(command.name).is_some(),
                "{} has no docs",
                command.name
            );
        }
        assert_eq!(lookup(b"GeT").map(|c| c.name), Some("get"));
        for unknown in [&b"nosuch"[..], b"", b"ge", b"get\0", b"gett", b"flushallx"] {
            assert!(lookup(unknown).is_none(), "{unknown:?}");
        }
    }
}
