//! Chat room: every line a client sends goes to everyone else in the room.
//!
//! ```text
//! cargo run --example chat_server
//! nc 127.0.0.1 8001        # in two or more terminals; type lines
//! ```
//!
//! Each complete line (ended by `\n`; a `\r` before it is dropped) reaches
//! every *other* client as `<sender address>: <line>`. Arrivals and departures
//! are announced to the others as `* <address> joined` and `* <address> left`.
//! Lines typed on the server's own terminal go to every client as
//! `server: <line>`; closing that terminal (Ctrl-D) leaves the room open.
//!
//! Limits, so one client cannot hurt the others:
//! - a line longer than 4096 bytes gets `error: line too long` and its sender
//!   is disconnected, as soon as more than 4096 bytes wait without a newline;
//! - a client that stops reading is disconnected once 1 MiB is queued for it.
//!   Everyone else keeps chatting at full speed in the meantime: a message is
//!   queued per recipient, so a full queue only ever holds up its own reader.
//!
//! `--addr HOST:PORT` picks the address (default 127.0.0.1:8001, port 0 for
//! any free port). The first line on stdout names the address actually bound.
//! Ctrl-C or SIGTERM flush what is queued and exit 0.

mod common;

use clap::Parser;
use common::OrFail;
use log::{info, warn};
use sockloop::codec::{SkipLongLines, next_line};
use sockloop::{Config, Ctx, Protocol, Reactor};

/// The longest line a client may send, newline not counted.
const MAX_LINE: usize = 4096;

/// What one client may have waiting for it before it is cut off.
const MAX_QUEUED: usize = 1 << 20;

/// Appends `<from>: <line>\n` to `out`, the one format every message has.
fn format_message(out: &mut Vec<u8>, from: &str, line: &[u8]) {
    out.clear();
    out.extend_from_slice(from.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(line);
    out.push(b'\n');
}

/// One client in the room.
#[derive(Default)]
struct Member {
    /// The client's address as the others see it, captured when it arrives.
    name: String,
    /// Where each outgoing message is formatted, reused from line to line.
    message: Vec<u8>,
}

impl Protocol for Member {
    fn connection_made(&mut self, ctx: &mut Ctx) {
        self.name = match ctx.peer_addr() {
            Ok(addr) => addr.to_string(),
            // The peer reset before we asked: it will be gone in a moment.
            Err(_) => "(unknown)".to_string(),
        };
        let me = ctx.token();
        ctx.broadcast(format!("* {} joined\n", self.name).as_bytes(), Some(me));
    }

    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        let me = ctx.token();
        let mut used = 0;
        loop {
            match next_line(&data[used..], MAX_LINE) {
                Ok(Some((line, consumed))) => {
                    format_message(&mut self.message, &self.name, line);
                    ctx.broadcast(&self.message, Some(me));
                    used += consumed;
                }
                // The rest is an incomplete line: it comes back with the next read.
                Ok(None) => return used,
                Err(_) => {
                    warn!(
                        "{}: line longer than {MAX_LINE} bytes; disconnecting",
                        self.name
                    );
                    ctx.write(b"error: line too long\n");
                    ctx.close();
                    return data.len();
                }
            }
        }
    }

    fn connection_lost(&mut self, ctx: &mut Ctx, _reason: Option<std::io::Error>) {
        let me = ctx.token();
        ctx.broadcast(format!("* {} left\n", self.name).as_bytes(), Some(me));
    }
}

/// The server's standard input: each line goes to every client.
#[derive(Default)]
struct Announcer {
    /// The operator is not disconnected for a long line; it is just not sent.
    lines: SkipLongLines,
    message: Vec<u8>,
}

impl Protocol for Announcer {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        let message = &mut self.message;
        self.lines.feed(
            data,
            MAX_LINE,
            |line| {
                format_message(message, "server", line);
                ctx.broadcast(message, None);
            },
            || warn!("stdin: line longer than {MAX_LINE} bytes; not sent"),
        )
    }

    fn eof_received(&mut self, ctx: &mut Ctx) {
        info!("stdin closed; still serving clients (Ctrl-C or SIGTERM stops the server)");
        ctx.close();
    }
}

#[derive(Parser)]
#[command(about = "Chat room on the sockloop reactor: each line goes to every other client")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8001")]
    addr: String,
}

fn main() {
    let args = Args::parse();
    common::init_logging();
    let config = Config {
        max_output: MAX_QUEUED,
        ..Default::default()
    };
    let mut reactor = Reactor::with_config((), config).or_fail("creating the reactor");
    let listener = reactor
        .listen_tcp(args.addr.as_str(), Member::default)
        .or_fail(&format!("listening on {}", args.addr));
    reactor
        .shutdown_on_signals()
        .or_fail("installing signal handlers");
    // Without a usable stdin (started with it closed) the room still works;
    // only the server's announcements are missing.
    if let Err(e) = reactor.add_stdin(Announcer::default()) {
        warn!("not reading stdin: {e}");
    }
    common::announce(
        reactor
            .local_addr(listener)
            .or_fail("reading the bound address"),
    );
    reactor.run().or_fail("running the reactor");
}

#[cfg(test)]
mod tests {
    //! The harness holds one connection, so a member's broadcasts reach no
    //! one there (a sender never hears its own lines): what a member relays
    //! to the others is checked by tests/chat_server.rs over real sockets.
    //! Here: framing on every split, that nothing comes back to the sender,
    //! the length limit, and the announcer, whose broadcast does reach the
    //! harness connection.

    use super::*;
    use sockloop::harness::Harness;

    /// Every way to cut `input` into two reads, and one byte per read.
    fn splits(input: &[u8]) -> Vec<Vec<&[u8]>> {
        let mut all: Vec<Vec<&[u8]>> = (0..=input.len())
            .map(|at| vec![&input[..at], &input[at..]])
            .collect();
        all.push(input.chunks(1).collect());
        all
    }

    fn feed_all<S: 'static>(h: &mut Harness<S>, reads: &[&[u8]]) {
        for read in reads {
            h.feed(read);
        }
    }

    #[test]
    fn the_sender_hears_nothing_back_on_any_split() {
        let input = b"hello\r\nsecond line\n\nlast\n";
        for reads in splits(input) {
            let mut h = Harness::new(Member::default());
            feed_all(&mut h, &reads);
            assert!(h.take_output().is_empty());
            assert!(!h.is_closed());
        }
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_accepted() {
        let mut input = vec![b'x'; MAX_LINE];
        input.extend_from_slice(b"\r\n");
        for reads in splits(&input) {
            let mut h = Harness::new(Member::default());
            feed_all(&mut h, &reads);
            assert!(h.take_output().is_empty());
            assert!(!h.is_closed());
        }
    }

    #[test]
    fn a_line_over_the_limit_is_refused_before_its_newline() {
        // One byte over, and never a newline: refused all the same.
        let mut input = b"fine\n".to_vec();
        input.extend_from_slice(&[b'x'; MAX_LINE + 1]);
        for reads in splits(&input) {
            let mut h = Harness::new(Member::default());
            feed_all(&mut h, &reads);
            assert_eq!(h.take_output(), b"error: line too long\n");
            assert!(h.is_closed());
        }
    }

    #[test]
    fn announcer_sends_each_line_whole_on_any_split() {
        let input = b"hello\r\nsecond line\n\nno newline yet";
        for reads in splits(input) {
            let mut h = Harness::new(Announcer::default());
            feed_all(&mut h, &reads);
            assert_eq!(
                h.take_output(),
                b"server: hello\nserver: second line\nserver: \n"
            );
        }
    }

    #[test]
    fn announcer_skips_a_long_line_and_goes_on() {
        let mut input = b"before\n".to_vec();
        input.extend_from_slice(&[b'x'; MAX_LINE + 10]);
        input.extend_from_slice(b"\nafter\n");
        for reads in splits(&input) {
            let mut h = Harness::new(Announcer::default());
            feed_all(&mut h, &reads);
            assert_eq!(h.take_output(), b"server: before\nserver: after\n");
            assert!(!h.is_closed());
        }
    }

    #[test]
    fn messages_are_prefixed_with_their_sender() {
        let mut out = b"stale".to_vec();
        format_message(&mut out, "127.0.0.1:5000", b"hi there");
        assert_eq!(out, b"127.0.0.1:5000: hi there\n");
    }
}
