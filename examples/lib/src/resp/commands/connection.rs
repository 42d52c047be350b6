//! Connection commands: PING, ECHO, SELECT, HELLO, CLIENT, RESET, QUIT.

use crate::resp::bytes::Bytes;
use crate::resp::commands::keys::db_index;
use crate::resp::commands::{Call, Flow, Shared, arity_error, is, unknown_subcommand};
use crate::resp::int::parse_i64;
use crate::resp::reply::{PONG, Reply, SYNTAX};

/// The Redis version whose commands and replies this server follows
/// (HELLO and INFO report it: clients choose features by it).
pub const REDIS_VERSION: &str = "7.0.0";

pub fn ping(c: &mut Call) {
    if c.args.len() > 2 {
        return arity_error(c.out, "ping");
    }
    // A RESP2 subscriber's replies are all messages: PING's is one too.
    if c.client().in_pubsub_mode() {
        c.out.array(2);
        c.out.bulk(b"pong");
        return c.out.bulk(if c.args.len() == 2 {
            c.args.get(1)
        } else {
            b""
        });
    }
    match c.args.len() {
        1 => c.out.raw(PONG),
        _ => c.out.bulk(c.args.get(1)),
    }
}

pub fn echo(c: &mut Call) {
    c.out.bulk(c.args.get(1));
}

pub fn select(c: &mut Call) {
    let Some(db) = db_index(c, 1, "ERR DB index is out of range") else {
        return;
    };
    c.db = db;
    c.client().db = db;
    c.out.ok();
}

pub fn quit(c: &mut Call) {
    c.out.ok();
    c.flow = Flow::Close;
}

/// Checks a subcommand of `command` against `table` (name, arity as for
/// commands); replies the error Redis gives and returns `None` when the
/// name is unknown or the arity wrong.
pub fn subcommand(
    c: &mut Call,
    command: &str,
    table: &[(&'static str, i32)],
) -> Option<&'static str> {
    let sub = c.args.get(1);
    let Some(&(name, arity)) = table.iter().find(|(name, _)| is(sub, name)) else {
        unknown_subcommand(c.out, sub, &command.to_uppercase());
        return None;
    };
    let argc = c.args.len() as i32;
    if (arity > 0 && argc != arity) || argc < -arity {
        arity_error(c.out, &format!("{command}|{name}"));
        return None;
    }
    Some(name)
}

/// Replies HELP's lines as simple strings.
pub fn help(out: &mut Reply, lines: &[&str]) {
    out.array(lines.len());
    for line in lines {
        out.simple(line);
    }
}

/// A client name: printable ASCII, no spaces (Redis's rule).
fn valid_name(name: &[u8]) -> bool {
    name.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

const BAD_NAME: &str = "ERR Client names cannot contain spaces, newlines or special characters.";

/// HELLO [protover [AUTH username password] [SETNAME clientname]]: RESP2
/// or RESP3 from here on, and the server's particulars as a map.
pub fn hello(c: &mut Call) {
    let mut version = None;
    if c.args.len() >= 2 {
        match parse_i64(c.args.get(1)) {
            None => {
                return c
                    .out
                    .error("ERR Protocol version is not an integer or out of range");
            }
            Some(v @ 2..=3) => version = Some(v),
            Some(_) => return c.out.error("NOPROTO unsupported protocol version"),
        }
    }
    let mut name = None;
    let mut j = 2;
    while j < c.args.len() {
        let opt = c.args.get(j);
        let more = c.args.len() - 1 - j;
        if is(opt, "auth") && more >= 2 {
            // No passwords here: the default user needs none, as in a fresh
            // Redis; any other user does not exist.
            if !is(c.args.get(j + 1), "default") {
                return c
                    .out
                    .error("WRONGPASS invalid username-password pair or user is disabled.");
            }
            j += 3;
        } else if is(opt, "setname") && more >= 1 {
            name = Some(c.args.get(j + 1));
            j += 2;
        } else {
            return c
                .out
                .error_quoting(&[b"ERR Syntax error in HELLO option '", opt, b"'"]);
        }
    }
    if let Some(name) = name {
        if !valid_name(name) {
            return c.out.error(BAD_NAME);
        }
        c.client().name = (!name.is_empty()).then(|| Bytes::new(name));
    }
    if let Some(v) = version {
        c.out.resp3 = v == 3;
        c.client().resp3 = v == 3;
    }
    let id = c.client().id as i64;
    c.out.map(7);
    for (field, value) in [("server", "resp_server"), ("version", REDIS_VERSION)] {
        c.out.bulk(field.as_bytes());
        c.out.bulk(value.as_bytes());
    }
    c.out.bulk(b"proto");
    c.out.int(if c.out.resp3 { 3 } else { 2 });
    c.out.bulk(b"id");
    c.out.int(id);
    for (field, value) in [("mode", "standalone"), ("role", "master")] {
        c.out.bulk(field.as_bytes());
        c.out.bulk(value.as_bytes());
    }
    c.out.bulk(b"modules");
    c.out.array(0);
}

/// RESET: the connection as new (database 0, RESP2, no name, no
/// transaction, WATCH or subscription).
pub fn reset(c: &mut Call) {
    let slot = c.slot;
    let state = c.ctx.state();
    state.unwatch_all(slot);
    crate::resp::commands::pubsub::unsubscribe_all(state, slot);
    let client = &mut state.clients[slot];
    client.multi = None;
    client.db = 0;
    client.resp3 = false;
    client.name = None;
    c.db = 0;
    c.out.resp3 = false;
    c.out.simple("RESET");
}

const CLIENT_SUBCOMMANDS: &[(&str, i32)] = &[
    ("id", 2),
    ("info", 2),
    ("list", -2),
    ("kill", -3),
    ("setname", 3),
    ("getname", 2),
    ("setinfo", 4),
    ("help", 2),
];

pub fn client(c: &mut Call) {
    let Some(sub) = subcommand(c, "client", CLIENT_SUBCOMMANDS) else {
        return;
    };
    match sub {
        "id" => {
            let id = c.client().id as i64;
            c.out.int(id);
        }
        "info" => {
            let mut line = String::new();
            let (now, queued) = (c.now, c.ctx.queued());
            c.client().describe(&mut line, now, queued);
            c.out.verbatim(line.as_bytes());
        }
        "list" => list(c),
        "kill" => kill(c),
        "setname" => {
            let name = c.args.get(2);
            if !valid_name(name) {
                return c.out.error(BAD_NAME);
            }
            c.ctx.client(c.slot).name = (!name.is_empty()).then(|| Bytes::new(name));
            c.out.ok();
        }
        "getname" => match c.client().name.clone() {
            Some(name) => c.out.bulk(&name),
            None => c.out.null(),
        },
        "setinfo" => {
            let (attr, value) = (c.args.get(2), c.args.get(3));
            let value = Bytes::new(value);
            if !value.iter().all(|&b| (b'!'..=b'~').contains(&b)) {
                let attr = String::from_utf8_lossy(attr).to_uppercase();
                return c.out.error(&format!(
                    "ERR {attr} cannot contain spaces, newlines or special characters."
                ));
            }
            let client = c.ctx.client(c.slot);
            if is(attr, "lib-name") {
                client.lib_name = Some(value);
            } else if is(attr, "lib-ver") {
                client.lib_ver = Some(value);
            } else {
                return c
                    .out
                    .error_quoting(&[b"ERR Unrecognized option '", attr, b"'"]);
            }
            c.out.ok();
        }
        _ => help(
            c.out,
            &[
                "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "ID",
                "    Return the ID of the current connection.",
                "INFO",
                "    Return information about the current client connection.",
                "LIST [TYPE <normal|pubsub>] [ID <id> [<id> ...]]",
                "    Return information about client connections.",
                "KILL <ip:port> | KILL <option> <value> [<option> <value> [...]]",
                "    Kill connections: options are ID, ADDR, LADDR, TYPE, SKIPME.",
                "SETNAME <name>",
                "    Assign the name <name> to the current connection.",
                "GETNAME",
                "    Return the name of the current connection.",
                "SETINFO <LIB-NAME|LIB-VER> <value>",
                "    Set client library name or version.",
                "HELP",
                "    Print this help.",
            ],
        ),
    }
}

/// Whether a client is of a CLIENT LIST/KILL `TYPE`.
fn of_type(c: &crate::resp::client::Client, kind: &str) -> bool {
    match kind {
        "pubsub" => c.subscriptions() > 0,
        "normal" => c.subscriptions() == 0,
        _ => false,
    }
}

/// A client type name CLIENT LIST and KILL know (`master` and `replica`
/// match no one here).
fn client_type(arg: &[u8]) -> Option<&'static str> {
    ["normal", "pubsub", "master", "replica", "slave"]
        .into_iter()
        .find(|t| is(arg, t))
        .map(|t| if t == "slave" { "replica" } else { t })
}

/// CLIENT LIST [TYPE type] [ID id ...].
fn list(c: &mut Call) {
    let (mut kind, mut ids) = (None, Vec::new());
    if c.args.len() > 2 {
        if is(c.args.get(2), "type") && c.args.len() == 4 {
            match client_type(c.args.get(3)) {
                Some(t) => kind = Some(t),
                None => {
                    return c.out.error_quoting(&[
                        b"ERR Unknown client type '",
                        c.args.get(3),
                        b"'",
                    ]);
                }
            }
        } else if is(c.args.get(2), "id") && c.args.len() >= 4 {
            for i in 3..c.args.len() {
                match parse_i64(c.args.get(i)).filter(|&id| id > 0) {
                    Some(id) => ids.push(id as u64),
                    None => return c.out.error("ERR Invalid client ID"),
                }
            }
        } else {
            return c.out.error(SYNTAX);
        }
    }
    let shown: Vec<(usize, sockloop::Token)> = c
        .ctx
        .state()
        .clients
        .iter()
        .filter(|(_, cl)| kind.is_none_or(|k| of_type(cl, k)))
        .filter(|(_, cl)| ids.is_empty() || ids.contains(&cl.id))
        .map(|(slot, cl)| (slot, cl.token))
        .collect();
    let mut text = String::new();
    for (slot, token) in shown {
        let queued = c.ctx.connection(token).queued();
        c.ctx.state().clients[slot].describe(&mut text, c.now, queued);
    }
    c.out.verbatim(text.as_bytes());
}

/// CLIENT KILL addr:port, or CLIENT KILL [ID id] [ADDR addr] [LADDR addr]
/// [TYPE type] [SKIPME yes|no].
fn kill(c: &mut Call) {
    let old_style = c.args.len() == 3;
    let (mut id, mut addr, mut laddr, mut kind, mut skip_me) = (None, None, None, None, true);
    if old_style {
        addr = Some(c.args.get(2));
        skip_me = false;
    } else {
        let mut j = 2;
        while j < c.args.len() {
            if j + 1 >= c.args.len() {
                return c.out.error(SYNTAX);
            }
            let (opt, value) = (c.args.get(j), c.args.get(j + 1));
            if is(opt, "id") {
                match parse_i64(value).filter(|&n| n > 0) {
                    Some(n) => id = Some(n as u64),
                    None => return c.out.error("ERR client-id should be greater than 0"),
                }
            } else if is(opt, "addr") {
                addr = Some(value);
            } else if is(opt, "laddr") {
                laddr = Some(value);
            } else if is(opt, "type") {
                match client_type(value) {
                    Some(t) => kind = Some(t),
                    None => {
                        return c
                            .out
                            .error_quoting(&[b"ERR Unknown client type '", value, b"'"]);
                    }
                }
            } else if is(opt, "skipme") {
                if is(value, "yes") {
                    skip_me = true;
                } else if is(value, "no") {
                    skip_me = false;
                } else {
                    return c.out.error(SYNTAX);
                }
            } else {
                return c.out.error(SYNTAX);
            }
            j += 2;
        }
    }
    let me = c.slot;
    let victims: Vec<(usize, sockloop::Token)> = c
        .ctx
        .state()
        .clients
        .iter()
        .filter(|(slot, cl)| {
            !(skip_me && *slot == me)
                && id.is_none_or(|id| cl.id == id)
                && addr.is_none_or(|a| cl.addr.as_bytes() == a)
                && laddr.is_none_or(|a| cl.laddr.as_bytes() == a)
                && kind.is_none_or(|k| of_type(cl, k))
        })
        .map(|(slot, cl)| (slot, cl.token))
        .collect();
    for &(slot, token) in &victims {
        if slot == me {
            // Killing oneself: the reply goes out first.
            c.flow = Flow::Close;
        } else {
            c.ctx.connection(token).abort("killed by CLIENT KILL");
        }
    }
    if old_style {
        if victims.is_empty() {
            c.out.error("ERR No such client");
        } else {
            c.out.ok();
        }
    } else {
        c.out.int(victims.len() as i64);
    }
}
