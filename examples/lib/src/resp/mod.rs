//! The resp_server protocol: an in-memory key-value store speaking
//! Redis's protocol (RESP2). The program and its flags are
//! `examples/resp_server.rs`.
//!
//! What it does, and how:
//! - Commands: PING ECHO SET (EX PX EXAT PXAT NX XX KEEPTTL GET) GET DEL
//!   EXISTS INCR DECR INCRBY DECRBY MSET MGET EXPIRE (NX XX GT LT) TTL LPUSH
//!   RPUSH LPOP RPOP LRANGE LLEN SADD SPOP HSET HGET DBSIZE FLUSHALL QUIT,
//!   and enough of COMMAND, CONFIG GET and HELLO for Redis's own tools.
//!   Names are case-insensitive; replies and error texts are Redis 7's.
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
//!   `client-output-buffer-limit` does.
//!
//! The files: `mod.rs` the connection (parse, run, reply, flow control),
//! `parser.rs` requests, `commands.rs` and `collections.rs` the commands,
//! `store.rs` the keyspace and expiry, `reply.rs` RESP replies.

mod collections;
mod commands;
mod parser;
pub mod reactor_info;
mod reply;
mod store;

use commands::{Call, Flow, execute};
use parser::{Parser, Step};
use reply::Reply;
use sockloop::{Ctx, Protocol};
use std::io;
use std::time::Duration;

pub use store::Db;

/// Replies are handed to the reactor when this much is encoded...
const FLUSH_AT: usize = 16 * 1024;
/// ...and no further commands are run while more than this waits for the
/// client; reading resumes once it drained.
const PAUSE_AT: usize = 256 * 1024;
/// How often the active expiry runs, and for how long at most.
pub const EXPIRE_EVERY: Duration = Duration::from_millis(100);
pub const EXPIRE_BUDGET: Duration = Duration::from_millis(5);

/// `timer_fired` id: try to resume reading after a pause for output.
const RESUME: u64 = 1;

/// One client connection: its parser state and its pending replies.
#[derive(Default)]
pub struct Connection {
    parser: Parser,
    out: Reply,
    /// The id HELLO reports.
    id: u64,
    /// We stopped reading because replies piled up.
    paused: bool,
    /// The reactor stopped reading because output passed its high watermark.
    write_paused: bool,
}

impl Connection {
    /// Hands the encoded replies to the reactor; a buffer a big reply grew
    /// is not kept.
    fn flush(&mut self, ctx: &mut Ctx<'_, Db>) {
        if !self.out.buf.is_empty() {
            ctx.write(&self.out.buf);
            self.out.buf.clear();
        }
        if self.out.buf.capacity() > 2 * FLUSH_AT {
            self.out.buf = Vec::new();
        }
    }

    fn resume(&mut self, ctx: &mut Ctx<'_, Db>) {
        if self.paused && !self.write_paused {
            self.paused = false;
            ctx.resume_reading();
        }
    }
}

impl Protocol<Db> for Connection {
    fn connection_made(&mut self, ctx: &mut Ctx<'_, Db>) {
        self.id = ctx.shared().next_client_id();
    }

    fn data_received(&mut self, ctx: &mut Ctx<'_, Db>, data: &[u8]) -> usize {
        let now = ctx.shared_ref().now_ms(ctx.now());
        let mut pos = 0;
        let mut close = false;
        loop {
            let buf = &data[pos..];
            match self.parser.parse(buf) {
                Step::Command(used) => {
                    let flow = execute(&mut Call {
                        db: ctx.shared(),
                        args: &mut self.parser.args(buf),
                        out: &mut self.out,
                        now,
                        client: self.id,
                    });
                    self.parser.done();
                    pos += used;
                    if flow == Flow::Close {
                        close = true;
                        break;
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

    fn pause_writing(&mut self, _ctx: &mut Ctx<'_, Db>) {
        self.write_paused = true;
    }

    fn resume_writing(&mut self, ctx: &mut Ctx<'_, Db>) {
        self.write_paused = false;
        self.resume(ctx);
    }

    /// After a pause for output: if the reactor took the replies without
    /// pausing the connection, nothing else will wake us, so go on now.
    fn timer_fired(&mut self, ctx: &mut Ctx<'_, Db>, id: u64) {
        if id == RESUME {
            self.resume(ctx);
        }
    }

    fn connection_lost(&mut self, _ctx: &mut Ctx<'_, Db>, reason: Option<io::Error>) {
        if let Some(e) = reason {
            log::debug!("client {}: {e}", self.id);
        }
    }
}

#[cfg(test)]
mod tests;
