//! BLPOP, BRPOP and BLMOVE: pop at once if a list has something, else
//! wait for a push, at most the timeout.
//!
//! A waiting client is queued on each of its keys (first come, first
//! served) and its connection stops processing what it sends meanwhile.
//! When a command creates a list under a key someone waits on, the
//! database notes the key as *ready*; once that command is done (a whole
//! EXEC, for a transaction) [`serve`] pops for the waiting clients in
//! order while the list lasts, writes each its reply on its own
//! connection, cancels its timer and lets it read on. The timer, a
//! reactor timer on the waiting connection, answers null when it fires
//! first.

use std::time::Duration;

use sockloop::Ctx;

use crate::resp::bytes::Bytes;
use crate::resp::client::{Blocked, BlockedOp};
use crate::resp::commands::lists::{Moved, end_arg, move_element};
use crate::resp::commands::{Call, Flow, Shared, wrong_type};
use crate::resp::float::parse_f64;
use crate::resp::reply::{Reply, SYNTAX, WRONGTYPE};
use crate::resp::state::State;
use crate::resp::store::Value;

/// A blocking command's timeout (seconds, fractions allowed) as a
/// duration; `None` for 0, forever. Replies the error if it is invalid.
fn timeout(c: &mut Call, i: usize) -> Option<Option<Duration>> {
    let Some(seconds) = parse_f64(c.args.get(i)) else {
        c.out.error("ERR timeout is not a float or out of range");
        return None;
    };
    let ms = (seconds * 1000.0) as i64;
    if ms < 0 {
        c.out.error("ERR timeout is negative");
        return None;
    }
    if ms > i64::MAX - c.now {
        c.out.error("ERR timeout is out of range");
        return None;
    }
    Some((ms > 0).then(|| Duration::from_millis(ms as u64)))
}

/// BLPOP (`front`) and BRPOP key [key ...] timeout.
pub fn bpop(c: &mut Call, front: bool) {
    let last = c.args.len() - 1;
    let Some(wait) = timeout(c, last) else {
        return;
    };
    let db = c.ctx.db(c.db);
    for i in 1..last {
        let key = c.args.get(i);
        let list = match db.get(key, c.now).map(|e| &mut e.value) {
            None => continue,
            Some(Value::List(list)) => list,
            Some(_) => return wrong_type(c.out),
        };
        let item = if front {
            list.pop_front()
        } else {
            list.pop_back()
        };
        let Some(item) = item else {
            continue;
        };
        let empty = list.is_empty();
        db.changed(key, empty);
        c.out.array(2);
        c.out.bulk(key);
        return c.out.bulk(&item);
    }
    if c.in_exec {
        // Inside a transaction nothing may block: as if it timed out.
        return c.out.null_array();
    }
    let keys = (1..last).map(|i| Bytes::new(c.args.get(i))).collect();
    block(c, keys, BlockedOp::Pop { front }, wait);
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout.
pub fn blmove(c: &mut Call) {
    let (Some(from_front), Some(to_front)) = (end_arg(c.args.get(3)), end_arg(c.args.get(4)))
    else {
        return c.out.error(SYNTAX);
    };
    let Some(wait) = timeout(c, 5) else {
        return;
    };
    let (from, to) = (c.args.get(1), c.args.get(2));
    match move_element(c.ctx.db(c.db), from, to, from_front, to_front, c.now) {
        Moved::Element(item) => c.out.bulk(&item),
        Moved::WrongType => wrong_type(c.out),
        Moved::Nothing if c.in_exec => c.out.null(),
        Moved::Nothing => {
            let op = BlockedOp::Move {
                to: Bytes::new(to),
                from_front,
                to_front,
            };
            block(c, vec![Bytes::new(from)], op, wait);
        }
    }
}

/// Queues the client on `keys` and tells its connection to wait.
fn block(c: &mut Call, keys: Vec<Bytes>, op: BlockedOp, wait: Option<Duration>) {
    let (slot, dbi) = (c.slot, c.db);
    let state = c.ctx.state();
    let db = &mut state.dbs[dbi];
    for key in &keys {
        let queue = db.blocking.entry(key.clone()).or_default();
        if !queue.contains(&slot) {
            queue.push_back(slot);
        }
    }
    state.clients[slot].blocked = Some(Blocked {
        db: dbi,
        keys,
        op,
        timer: None,
    });
    state.blocked += 1;
    c.flow = Flow::Block(wait);
}

/// Serves the clients waiting on keys that became lists, until no key is
/// ready (serving a BLMOVE can make its destination ready in turn).
pub fn serve(ctx: &mut Ctx<'_, State>, now: i64) {
    loop {
        let state = ctx.state();
        let Some(dbi) = state.dbs.iter().position(|d| !d.ready.is_empty()) else {
            return;
        };
        let keys = std::mem::take(&mut state.dbs[dbi].ready);
        for key in &keys {
            serve_key(ctx, dbi, key, now);
        }
    }
}

/// Serves the clients waiting on `key`, first come first served, while
/// its list has elements.
fn serve_key(ctx: &mut Ctx<'_, State>, dbi: usize, key: &[u8], now: i64) {
    loop {
        let state = ctx.state();
        let db = &mut state.dbs[dbi];
        let Some(&slot) = db.blocking.get(key).and_then(|q| q.front()) else {
            return;
        };
        match db.get(key, now).map(|e| &e.value) {
            Some(Value::List(list)) if !list.is_empty() => {}
            _ => return,
        }
        let Some(blocked) = state.unblock(slot) else {
            return;
        };
        let (token, resp3) = (state.clients[slot].token, state.clients[slot].resp3);
        if !ctx.connection(token).is_open() {
            // Closing already (killed, or over its output limit): it takes
            // nothing, and the next in line is served.
            continue;
        }
        let state = ctx.state();
        let mut reply = Reply {
            buf: std::mem::take(&mut state.scratch),
            resp3,
        };
        let db = &mut state.dbs[dbi];
        match &blocked.op {
            BlockedOp::Pop { front } => {
                if let Some(Value::List(list)) = db.get(key, now).map(|e| &mut e.value) {
                    let item = if *front {
                        list.pop_front()
                    } else {
                        list.pop_back()
                    };
                    let empty = list.is_empty();
                    db.changed(key, empty);
                    if let Some(item) = item {
                        reply.array(2);
                        reply.bulk(key);
                        reply.bulk(&item);
                    }
                }
            }
            BlockedOp::Move {
                to,
                from_front,
                to_front,
            } => match move_element(db, key, to, *from_front, *to_front, now) {
                Moved::Element(item) => reply.bulk(&item),
                Moved::WrongType => reply.error(WRONGTYPE),
                Moved::Nothing => reply.null(),
            },
        }
        ctx.connection(token).write(&reply.buf);
        if let Some(timer) = blocked.timer {
            ctx.cancel_timer(timer);
        }
        wake(ctx, token);
        reply.buf.clear();
        ctx.state().scratch = reply.buf;
    }
}

/// Lets a client that was waiting read on: what it sent meanwhile was left
/// in its connection's input, and its connection goes on with it at the
/// end of this turn.
pub fn wake(ctx: &mut Ctx<'_, State>, token: sockloop::Token) {
    ctx.connection(token)
        .set_timer(Duration::ZERO, crate::resp::WAKE);
}

/// The waiting client in `slot` ran out of time: it gets null.
pub fn timed_out(ctx: &mut Ctx<'_, State>, slot: usize, out: &mut Reply) -> bool {
    if ctx.state().unblock(slot).is_none() {
        return false;
    }
    out.null_array();
    true
}
