//! The resp_server protocol: an in-memory data store speaking Redis's
//! protocol, RESP2 and RESP3. The program and its flags are
//! `examples/resp_server.rs`.
//!
//! What it does, and how:
//! - Redis 7.0's commands on strings, lists, sets, hashes and sorted sets,
//!   keys and their times to live, 16 databases, transactions (MULTI/EXEC
//!   with WATCH), pub/sub, blocking pops, and the connection and server
//!   commands clients and tools use (HELLO, CLIENT, INFO, SCAN, COMMAND
//!   DOCS...). Replies and error texts are Redis 7.0's, byte for byte, in
//!   RESP2 or, after `HELLO 3`, RESP3 (maps, sets, doubles, nulls, pushes).
//!   The list is the command table in `commands/mod.rs`.
//! - Requests in both forms, multibulk and inline (`PING\r\n`, with Redis's
//!   quoting), pipelined and split at any byte. Arguments are parsed as
//!   slices of the reactor's input buffer and the command runs on them, so
//!   GET, SET of an existing key, INCR and PING allocate nothing; replies
//!   are encoded into a reused buffer and written once per batch.
//! - Redis's limits: a bulk argument over 512 MB, more than 1,048,576
//!   arguments, or an inline request or header line over 64 KiB get
//!   `-ERR Protocol error: ...` and the connection is closed. A big argument
//!   is copied out of the input as it arrives, into storage that grows with
//!   what actually came, never to the length a peer claims.
//! - Keys with a time to live expire when touched, and a sweep every 100 ms
//!   samples 20 of them at a time, again while more than a quarter were
//!   expired, for at most 5 ms: Redis's active expiry.
//! - A client that pipelines faster than it reads its replies is not read
//!   from while more than 256 KiB of them wait for it, so a pipeline never
//!   piles up replies in memory. A reply that leaves more than
//!   `--max-output` waiting (a huge GET or LRANGE the client does not take
//!   fast enough) costs the client its connection, as Redis's
//!   `client-output-buffer-limit` does; a subscriber is cut off at the
//!   pub/sub limits (32 MiB, or 8 MiB for 60 s).
//! - A client blocked in BLPOP keeps its connection, whose further input
//!   waits unprocessed until a push serves it or its timer fires.
//!
//! The files: `mod.rs` the connection (parse, run, reply, flow control,
//! waiting); `parser.rs` requests; `commands/` the commands, one file per
//! kind; `state.rs` what connections share, `client.rs` one client's
//! session, `store.rs` a database, `dict.rs`, `zset.rs` and `bytes.rs` the
//! data structures; `reply.rs` RESP2/RESP3 encoding, `int.rs`, `float.rs`
//! and `bigint.rs` numbers as Redis reads and writes them; `glob.rs`
//! patterns; `memory.rs` INFO's memory figure.

mod bigint;
mod bytes;
mod client;
mod commands;
mod dict;
mod float;
mod glob;
mod int;
pub mod memory;
pub mod parser;
pub mod reactor_info;
mod reply;
mod rng;
mod state;
mod store;
mod zset;

use std::io;
use std::time::Duration;

use commands::{Call, Flow, blocking, execute};
use parser::{Parser, Step};
use reply::Reply;
use sockloop::{Ctx, Protocol};

pub use memory::{CountingAllocator, allocated};
pub use state::{CRON_EVERY, DATABASES, EXPIRE_BUDGET, PubSubLimits, State, cron};

/// Replies are handed to the reactor when this much is encoded...
const FLUSH_AT: usize = 16 * 1024;
/// ...and no further commands are run while more than this waits for the
/// client; reading resumes once it drained.
const PAUSE_AT: usize = 256 * 1024;

/// `timer_fired` ids: try to resume reading after a pause for output...
const RESUME: u64 = 1;
/// ...a wait in BLPOP ended (another client served it): read on...
pub(crate) const WAKE: u64 = 2;
/// ...and from here up, one id per wait: its timeout.
const WAIT_TIMEOUT: u64 = 1 << 32;

/// One client connection: its parser state and its pending replies. Its
/// session (database, protocol, transaction, subscriptions) is in the
/// shared [`State`], where other connections can reach it.
#[derive(Default)]
pub struct Connection {
    parser: Parser,
    out: Reply,
    /// This client's slot in `State::clients`.
    slot: usize,
    /// The selected database (kept here too: every command needs it).
    db: usize,
    /// We stopped reading because replies piled up.
    paused: bool,
    /// The reactor stopped reading because output passed its high watermark.
    write_paused: bool,
    /// The timer id of the current wait's timeout.
    wait_timer: u64,
}

impl Connection {
    /// Hands the encoded replies to the reactor; a buffer a big reply grew
    /// is not kept.
    fn flush(&mut self, ctx: &mut Ctx<'_, State>) {
        if !self.out.buf.is_empty() {
            ctx.write(&self.out.buf);
            self.out.buf.clear();
        }
        if self.out.buf.capacity() > 2 * FLUSH_AT {
            self.out.buf = Vec::new();
        }
    }

    fn resume(&mut self, ctx: &mut Ctx<'_, State>) {
        if self.paused && !self.write_paused {
            self.paused = false;
            ctx.resume_reading();
        }
    }

    /// Reads on, the input left waiting included: stop reading, then resume
    /// (resuming hands back what is buffered), unless output flow control
    /// holds reading anyway (then `resume_writing` resumes).
    fn read_on(&mut self, ctx: &mut Ctx<'_, State>) {
        self.paused = true;
        ctx.pause_reading();
        self.resume(ctx);
    }

    /// BLPOP and friends found nothing: arm the timeout, if any.
    fn wait(&mut self, ctx: &mut Ctx<'_, State>, timeout: Option<Duration>) {
        let Some(timeout) = timeout else {
            return;
        };
        self.wait_timer = self.wait_timer.max(WAIT_TIMEOUT) + 1;
        let timer = ctx.set_timer(timeout, self.wait_timer);
        if let Some(blocked) = ctx
            .shared()
            .clients
            .get_mut(self.slot)
            .and_then(|c| c.blocked.as_mut())
        {
            blocked.timer = Some(timer);
        }
    }
}

impl Protocol<State> for Connection {
    fn connection_made(&mut self, ctx: &mut Ctx<'_, State>) {
        let now = ctx.shared_ref().now_ms(ctx.now());
        let addr = ctx.peer_addr().map(|a| a.to_string()).unwrap_or_default();
        let laddr = ctx.local_addr().map(|a| a.to_string()).unwrap_or_default();
        let token = ctx.token();
        let state = ctx.shared();
        self.slot = state.add_client(token, now);
        let client = &mut state.clients[self.slot];
        client.addr = addr;
        client.laddr = laddr;
    }

    fn data_received(&mut self, ctx: &mut Ctx<'_, State>, data: &[u8]) -> usize {
        // Waiting in BLPOP: what the client sends waits too.
        if ctx.shared_ref().clients[self.slot].blocked.is_some() {
            return 0;
        }
        let now = ctx.shared_ref().now_ms(ctx.now());
        let mut pos = 0;
        let mut close = false;
        loop {
            let buf = &data[pos..];
            match self.parser.parse(buf) {
                Step::Command(used) => {
                    let mut call = Call {
                        ctx: &mut *ctx,
                        args: &mut self.parser.args(buf),
                        out: &mut self.out,
                        now,
                        slot: self.slot,
                        db: self.db,
                        flow: Flow::Continue,
                        in_exec: false,
                    };
                    execute(&mut call);
                    let (flow, db) = (call.flow, call.db);
                    self.db = db;
                    self.parser.done();
                    pos += used;
                    match flow {
                        Flow::Continue => {}
                        Flow::Close => {
                            close = true;
                            break;
                        }
                        Flow::Block(timeout) => {
                            self.wait(ctx, timeout);
                            break;
                        }
                    }
                    if self.out.buf.len() >= FLUSH_AT {
                        self.flush(ctx);
                        if ctx.queued() > PAUSE_AT {
                            // Leave the rest of the pipeline unread until the
                            // client has taken its replies (see `resume`).
                            self.paused = true;
                            ctx.pause_reading();
                            ctx.set_timer(Duration::ZERO, RESUME);
                            break;
                        }
                    }
                }
                Step::Empty(used) => pos += used,
                Step::Partial(used) => {
                    pos += used;
                    break;
                }
                Step::Error(e) => {
                    e.reply(&mut self.out);
                    close = true;
                    break;
                }
            }
        }
        self.flush(ctx);
        if close {
            ctx.close();
            return data.len();
        }
        pos
    }

    fn pause_writing(&mut self, _ctx: &mut Ctx<'_, State>) {
        self.write_paused = true;
    }

    fn resume_writing(&mut self, ctx: &mut Ctx<'_, State>) {
        self.write_paused = false;
        self.resume(ctx);
    }

    fn timer_fired(&mut self, ctx: &mut Ctx<'_, State>, id: u64) {
        match id {
            // After a pause for output: if the reactor took the replies
            // without pausing the connection, nothing else will wake us.
            RESUME => self.resume(ctx),
            WAKE => self.read_on(ctx),
            id if id == self.wait_timer
                && id > WAIT_TIMEOUT
                && blocking::timed_out(ctx, self.slot, &mut self.out) =>
            {
                self.flush(ctx);
                self.read_on(ctx);
            }
            _ => {}
        }
    }

    fn connection_lost(&mut self, ctx: &mut Ctx<'_, State>, reason: Option<io::Error>) {
        let state = ctx.shared();
        if let Some(e) = reason {
            let id = state.clients.get(self.slot).map_or(0, |c| c.id);
            log::debug!("client {id}: {e}");
        }
        state.remove_client(self.slot);
    }
}

#[cfg(test)]
mod tests;
