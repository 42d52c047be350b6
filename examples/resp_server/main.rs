//! An in-memory key-value server speaking Redis's protocol (RESP2), on one
//! thread: unmodified `redis-cli` and `redis-benchmark` work against it.
//!
//! ```text
//! cargo run --release --example resp_server
//! redis-cli -p 6380 set greeting hello      # or: printf 'PING\r\n' | nc 127.0.0.1 6380
//! ```
//!
//! `--addr HOST:PORT` picks the address (default 127.0.0.1:6380, port 0 for
//! any free port); `--max-output BYTES` (default 32 MiB) disconnects a
//! client whose unread replies pass it; `--maxclients N` (default 10000)
//! stops accepting while N clients are connected. `--tls-addr HOST:PORT
//! --tls-cert PEM --tls-key PEM` also serve TLS on a second port, as
//! Redis's `tls-port` does (`redis-cli --tls --cacert certs/ca.pem -p PORT`;
//! make the files with `cargo run --example make_cert`). The first line on
//! stdout names the address actually bound; with a TLS port, the second
//! line is `listening on <address> (tls)`. Ctrl-C or SIGTERM flush what is
//! queued and exit 0.
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
//! The files: `main.rs` the connection (parse, run, reply, flow control),
//! `parser.rs` requests, `commands.rs` and `collections.rs` the commands,
//! `store.rs` the keyspace and expiry, `reply.rs` RESP replies.

#[cfg(test)]
#[path = "../common/alloc_count.rs"]
mod alloc_count;
mod collections;
mod commands;
#[path = "../common/mod.rs"]
mod common;
mod parser;
mod reply;
mod store;

use std::io;
use std::time::{Duration, Instant};

use clap::Parser as _;
use common::OrFail;
use sockloop::{Config, Ctx, Protocol, Reactor};

use commands::{Call, Flow, execute};
use parser::{Parser, Step};
use reply::Reply;
use store::Db;

/// Replies are handed to the reactor when this much is encoded...
const FLUSH_AT: usize = 16 * 1024;
/// ...and no further commands are run while more than this waits for the
/// client; reading resumes once it drained.
const PAUSE_AT: usize = 256 * 1024;
/// How often the active expiry runs, and for how long at most.
const EXPIRE_EVERY: Duration = Duration::from_millis(100);
const EXPIRE_BUDGET: Duration = Duration::from_millis(5);

/// `timer_fired` id: try to resume reading after a pause for output.
const RESUME: u64 = 1;

/// One client connection: its parser state and its pending replies.
#[derive(Default)]
struct Connection {
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

#[derive(clap::Parser)]
#[command(about = "In-memory key-value server speaking RESP2, on the sockloop reactor")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:6380")]
    addr: String,
    /// Disconnect a client when its unread replies pass this many bytes.
    #[arg(long, default_value_t = 32 * 1024 * 1024)]
    max_output: usize,
    /// Stop accepting while this many clients are connected.
    #[arg(long, default_value_t = 10_000)]
    maxclients: usize,
    /// Also serve TLS on this address (needs --tls-cert and --tls-key).
    #[arg(long, value_name = "HOST:PORT", requires = "tls_cert")]
    tls_addr: Option<String>,
    #[command(flatten)]
    tls: common::tls::ServerFlags,
}

fn main() {
    let args = Args::parse();
    common::init_logging();
    let config = Config {
        max_output: args.max_output,
        max_connections: args.maxclients,
        ..Config::default()
    };
    let mut reactor = Reactor::with_config(Db::new(), config).or_fail("creating the reactor");
    let listener = reactor
        .listen_tcp(args.addr.as_str(), Connection::default)
        .or_fail(&format!("listening on {}", args.addr));
    let tls_listener = match (&args.tls_addr, args.tls.config(&[])) {
        (Some(addr), Some(tls)) => Some(
            reactor
                .listen_tls(addr.as_str(), tls, Connection::default)
                .or_fail(&format!("listening on {addr}")),
        ),
        _ => None,
    };
    reactor
        .shutdown_on_signals()
        .or_fail("installing signal handlers");
    reactor.call_every(EXPIRE_EVERY, |ctx| {
        let now = ctx.shared_ref().now_ms(ctx.now());
        let deleted = ctx
            .shared()
            .expire_cycle(now, Instant::now() + EXPIRE_BUDGET);
        if deleted > 0 {
            log::debug!("expired {deleted} keys");
        }
    });
    common::announce(
        reactor
            .local_addr(listener)
            .or_fail("reading the bound address"),
    );
    if let Some(tls_listener) = tls_listener {
        let addr = reactor
            .local_addr(tls_listener)
            .or_fail("reading the bound address");
        common::announce(format_args!("{addr} (tls)"));
    }
    reactor.run().or_fail("running the reactor");
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockloop::harness::Harness;

    fn harness() -> Harness<Db> {
        Harness::with_state(Db::new(), Connection::default())
    }

    /// A session in both request forms, with the replies Redis 7.0 gives
    /// (checked against redis-server 7.0.15).
    const SESSION: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv1\r\n\
        GET k\r\n\
        *2\r\n$4\r\nincr\r\n$1\r\nn\r\n\
        incrby n 41\n\
        *4\r\n$5\r\nLPUSH\r\n$1\r\nl\r\n$1\r\na\r\n$1\r\nb\r\n\
        lrange l 0 -1\r\n\
        *0\r\n\r\n\
        get l\r\n\
        nosuch 'x y' z\r\n\
        *1\r\n$3\r\nGET\r\n\
        *2\r\n$4\r\nECHO\r\n$0\r\n\r\n\
        mget k n missing\r\n\
        PING\r\n";

    const SESSION_REPLIES: &[u8] = b"+OK\r\n\
        $2\r\nv1\r\n\
        :1\r\n\
        :42\r\n\
        :2\r\n\
        *2\r\n$1\r\nb\r\n$1\r\na\r\n\
        -WRONGTYPE Operation against a key holding the wrong kind of value\r\n\
        -ERR unknown command 'nosuch', with args beginning with: 'x y' 'z' \r\n\
        -ERR wrong number of arguments for 'get' command\r\n\
        $0\r\n\r\n\
        *3\r\n$2\r\nv1\r\n$2\r\n42\r\n$-1\r\n\
        +PONG\r\n";

    #[test]
    fn a_session_gets_the_same_replies_at_every_split() {
        for cut in 0..=SESSION.len() {
            let mut h = harness();
            h.feed(&SESSION[..cut]);
            h.feed(&SESSION[cut..]);
            assert_eq!(
                String::from_utf8_lossy(&h.take_output()),
                String::from_utf8_lossy(SESSION_REPLIES),
                "split at {cut}"
            );
            assert!(!h.is_closed());
        }
        let mut h = harness();
        h.feed_bytewise(SESSION);
        assert_eq!(h.take_output(), SESSION_REPLIES);
    }

    #[test]
    fn quit_replies_then_closes_and_ignores_the_rest() {
        let input = b"PING\r\n*1\r\n$4\r\nQUIT\r\nPING\r\n";
        for cut in 0..=input.len() {
            let mut h = harness();
            h.feed(&input[..cut]);
            h.feed(&input[cut..]);
            assert_eq!(h.take_output(), b"+PONG\r\n+OK\r\n", "split at {cut}");
            assert!(h.is_closed());
        }
    }

    #[test]
    fn a_protocol_error_is_answered_then_the_connection_closed() {
        let input = b"PING\r\n*1\r\n$-1\r\nPING\r\n";
        for cut in 0..=input.len() {
            let mut h = harness();
            h.feed(&input[..cut]);
            h.feed(&input[cut..]);
            assert_eq!(
                h.take_output(),
                b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n",
                "split at {cut}"
            );
            assert!(h.is_closed());
        }
    }

    #[test]
    fn steady_state_get_set_incr_and_ping_allocate_nothing_per_request() {
        let mut h = harness();
        let requests = [
            &b"*2\r\n$3\r\nGET\r\n$5\r\nkey:1\r\n"[..],
            b"*3\r\n$3\r\nSET\r\n$5\r\nkey:1\r\n$3\r\nxxx\r\n",
            b"*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n",
            b"*1\r\n$4\r\nPING\r\n",
            b"PING\r\n",
        ]
        .concat()
        .repeat(100);
        h.feed(&requests); // creates the keys, sizes the buffers
        let allocations = crate::alloc_count::allocations(|| {
            for _ in 0..100 {
                h.feed(&requests);
            }
        });
        // 50,000 requests; what allocates is the harness collecting the
        // replies in one growing buffer, a few dozen times.
        assert!(allocations < 50, "{allocations} allocations");
        let output = h.take_output();
        assert!(output.ends_with(b":10100\r\n+PONG\r\n+PONG\r\n"));
    }

    #[test]
    fn a_big_value_arrives_in_pieces_and_is_stored_whole() {
        let value = vec![b'z'; 100_000];
        let mut input = b"*3\r\n$3\r\nset\r\n$3\r\nbig\r\n$100000\r\n".to_vec();
        input.extend_from_slice(&value);
        input.extend_from_slice(b"\r\nSTRLEN big\r\n*2\r\n$3\r\nget\r\n$3\r\nbig\r\n");
        let mut want = b"+OK\r\n-ERR unknown command 'STRLEN', with args beginning with: 'big' \r\n$100000\r\n".to_vec();
        want.extend_from_slice(&value);
        want.extend_from_slice(b"\r\n");
        for step in [1000, 4096, 65536] {
            let mut h = harness();
            for chunk in input.chunks(step) {
                h.feed(chunk);
            }
            assert_eq!(h.take_output(), want, "chunks of {step}");
        }
    }
}
