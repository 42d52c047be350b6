//! MULTI, EXEC, DISCARD, WATCH and UNWATCH.
//!
//! After MULTI, commands are checked (name, arity) and queued, each
//! answered `QUEUED`; one that fails the checks marks the transaction, and
//! EXEC then discards it whole (`EXECABORT`), so nothing of it runs. EXEC
//! runs the queue in one go (no other client runs in between: there is
//! one thread) and replies an array of the replies; an error at run time
//! is that command's reply only. WATCHed keys put a flag in their database
//! that any change raises; EXEC with a raised flag runs nothing and
//! replies null.

use crate::resp::bytes::Bytes;
use crate::resp::client::{Multi, Watching};
use crate::resp::commands::{Call, Flow, Shared, lookup, run};
use crate::resp::parser::Args;

pub fn multi(c: &mut Call) {
    let client = c.client();
    if client.multi.is_some() {
        return c.out.error("ERR MULTI calls can not be nested");
    }
    client.multi = Some(Multi::default());
    c.out.ok();
}

pub fn discard(c: &mut Call) {
    if c.client().multi.take().is_none() {
        return c.out.error("ERR DISCARD without MULTI");
    }
    c.ctx.state().unwatch_all(c.slot);
    c.out.ok();
}

pub fn watch(c: &mut Call) {
    if c.client().multi.is_some() {
        return c.out.error("ERR WATCH inside MULTI is not allowed");
    }
    let (slot, dbi, now) = (c.slot, c.db, c.now);
    let state = c.ctx.state();
    let watching = state.clients[slot].watch.get_or_insert_with(|| Watching {
        flag: Default::default(),
        keys: Vec::new(),
    });
    for i in 1..c.args.len() {
        let key = c.args.get(i);
        if watching
            .keys
            .iter()
            .any(|(db, k, _)| *db == dbi && **k == *key)
        {
            continue;
        }
        let db = &mut state.dbs[dbi];
        // A key already expired (not yet deleted) when watched does not
        // count as changed by its deletion later.
        let expired = db.is_expired(key, now);
        db.watch(key, &watching.flag);
        watching.keys.push((dbi, Bytes::new(key), expired));
    }
    c.out.ok();
}

pub fn unwatch(c: &mut Call) {
    c.ctx.state().unwatch_all(c.slot);
    c.out.ok();
}

pub fn exec(c: &mut Call) {
    let (slot, now) = (c.slot, c.now);
    let Some(multi) = c.client().multi.take() else {
        return c.out.error("ERR EXEC without MULTI");
    };
    let state = c.ctx.state();
    // A watched key changed, or expired since it was watched.
    let changed = state.clients[slot].watch.as_ref().is_some_and(|w| {
        w.flag.get()
            || w.keys
                .iter()
                .any(|(db, key, was_expired)| !was_expired && state.dbs[*db].is_expired(key, now))
    });
    state.unwatch_all(slot);
    if multi.failed {
        return c
            .out
            .error("EXECABORT Transaction discarded because of previous errors.");
    }
    if changed {
        return c.out.null_array();
    }
    c.out.array(multi.queued.len());
    for mut args in multi.queued {
        let Some(command) = args.first().and_then(|name| lookup(name)) else {
            continue;
        };
        let mut args = Args::Owned(&mut args);
        let mut call = Call {
            ctx: &mut *c.ctx,
            args: &mut args,
            out: &mut *c.out,
            now,
            slot,
            db: c.db,
            flow: Flow::Continue,
            in_exec: true,
        };
        run(&mut call, command);
        let (db, flow) = (call.db, call.flow);
        c.db = db;
        if flow == Flow::Close {
            c.flow = Flow::Close;
        }
    }
}
