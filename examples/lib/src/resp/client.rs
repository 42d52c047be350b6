//! `Client`: what the server knows of one connection beyond its bytes: its
//! id and name, the database it selected, the protocol it speaks, and the
//! state it may be in (a transaction, subscriptions, blocked in BLPOP).
//! Every client's record lives in the shared [`State`](super::State), so
//! one connection can act on another's (PUBLISH, a push waking a BLPOP,
//! CLIENT KILL) and CLIENT LIST can show them all.

use std::fmt::Write;
use std::time::Instant;

use sockloop::{TimerId, Token};

use crate::resp::bytes::Bytes;
use crate::resp::dict::Dict;
use crate::resp::store::WatchFlag;

/// A connection's session.
pub struct Client {
    pub id: u64,
    /// The reactor's token for its connection.
    pub token: Token,
    /// The selected database.
    pub db: usize,
    /// It asked for RESP3 (HELLO 3).
    pub resp3: bool,
    /// CLIENT SETNAME, CLIENT SETINFO LIB-NAME and LIB-VER.
    pub name: Option<Bytes>,
    pub lib_name: Option<Bytes>,
    pub lib_ver: Option<Bytes>,
    /// Its address and ours, as `ip:port`.
    pub addr: String,
    pub laddr: String,
    /// Unix ms at connection, and at its last command.
    pub created_ms: i64,
    pub last_active_ms: i64,
    /// Its last command's name (`client|list` for a subcommand).
    pub last_command: &'static str,
    /// Between MULTI and EXEC.
    pub multi: Option<Multi>,
    /// Keys it WATCHes.
    pub watch: Option<Watching>,
    /// Channels and patterns it is subscribed to.
    pub channels: Dict<()>,
    pub patterns: Vec<Bytes>,
    /// Waiting in BLPOP, BRPOP or BLMOVE.
    pub blocked: Option<Blocked>,
    /// Since when its unread output has been over the soft pub/sub limit.
    pub over_soft_limit_since: Option<Instant>,
}

/// A transaction being queued.
#[derive(Default)]
pub struct Multi {
    /// Each queued command's arguments, the name first.
    pub queued: Vec<Vec<Vec<u8>>>,
    /// A command was refused while queueing: EXEC will discard them all.
    pub failed: bool,
}

/// What a client WATCHes.
pub struct Watching {
    /// Set by the databases when any of `keys` changes.
    pub flag: WatchFlag,
    /// (database, key, whether it had already expired when watched).
    pub keys: Vec<(usize, Bytes, bool)>,
}

/// What a blocked client waits for.
pub struct Blocked {
    pub db: usize,
    /// The keys, in the order given.
    pub keys: Vec<Bytes>,
    pub op: BlockedOp,
    /// The timeout, unless it waits forever.
    pub timer: Option<TimerId>,
}

/// What to do with the element once a key has one.
#[derive(Clone)]
pub enum BlockedOp {
    /// BLPOP (`front`) or BRPOP: reply with the key and the element.
    Pop { front: bool },
    /// BLMOVE: push it onto `to`, reply with the element.
    Move {
        to: Bytes,
        from_front: bool,
        to_front: bool,
    },
}

impl Client {
    pub fn new(id: u64, token: Token, now_ms: i64) -> Client {
        Client {
            id,
            token,
            db: 0,
            resp3: false,
            name: None,
            lib_name: None,
            lib_ver: None,
            addr: String::new(),
            laddr: String::new(),
            created_ms: now_ms,
            last_active_ms: now_ms,
            last_command: "NULL",
            multi: None,
            watch: None,
            channels: Dict::new(),
            patterns: Vec::new(),
            blocked: None,
            over_soft_limit_since: None,
        }
    }

    /// Channels and patterns subscribed to.
    pub fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// In RESP2, a subscribed client may only (un)subscribe, PING, QUIT or
    /// RESET: everything it receives is a message.
    pub fn in_pubsub_mode(&self) -> bool {
        !self.resp3 && self.subscriptions() > 0
    }

    /// Its line in CLIENT LIST, as Redis writes one. Of the connection's
    /// buffers only `omem` (its unsent output, `queued`) is known here: the
    /// reactor keeps the rest (`qbuf`, `tot-mem`...) to itself.
    pub fn describe(&self, out: &mut String, now_ms: i64, queued: usize) {
        let text = |b: &Option<Bytes>| {
            b.as_deref()
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .unwrap_or_default()
        };
        let mut flags = String::new();
        if self.multi.is_some() {
            flags.push('x');
        }
        if self.blocked.is_some() {
            flags.push('b');
        }
        if self.subscriptions() > 0 {
            flags.push('P');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let _ = writeln!(
            out,
            "id={} addr={} laddr={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub=0 \
             multi={} omem={} cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            text(&self.name),
            (now_ms - self.created_ms).max(0) / 1000,
            (now_ms - self.last_active_ms).max(0) / 1000,
            flags,
            self.db,
            self.channels.len(),
            self.patterns.len(),
            self.multi.as_ref().map_or(-1, |m| m.queued.len() as i64),
            queued,
            self.last_command,
            if self.resp3 { 3 } else { 2 },
            text(&self.lib_name),
            text(&self.lib_ver),
        );
    }
}
