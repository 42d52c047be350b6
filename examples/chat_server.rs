//! Chat room: every message a client sends goes to everyone else in the
//! room, and to the server's own terminal, where the operator can answer.
//!
//! ```text
//! cargo run --example chat_server
//! nc 127.0.0.1 8001        # in two or more terminals; type lines
//! ```
//!
//! A message ends at a newline (a `\r` before it is dropped), or, for a
//! client that sends each message with no newline and then waits for an
//! answer, when the client pauses: bytes not followed by more within the
//! quiet period (`--pause-ms`, 200 by default) are one message. What a
//! client leaves unfinished when it goes is a message too. Each message
//! reaches every *other* client as `<sender address>: <text>`. Arrivals and
//! departures are announced to the others as `* <address> joined` and
//! `* <address> left`.
//!
//! The server's stdout shows the room as the operator needs it to answer:
//! every message, arrival and departure, in the same words (after the first
//! line, `listening on <address>`). What the operator types on the server's
//! stdin goes to every client as `server: <text>`; closing it (Ctrl-D)
//! leaves the room open.
//!
//! Limits, so one client cannot hurt the others:
//! - a message longer than 4096 bytes gets `error: line too long` and its
//!   sender is disconnected, as soon as more than 4096 bytes wait without a
//!   newline;
//! - a client that stops reading is disconnected once 1 MiB is queued for it.
//!   Everyone else keeps chatting at full speed in the meantime: a message is
//!   queued per recipient, so a full queue only ever holds up its own reader;
//! - the operator's stdout is written by a thread of its own: a terminal or
//!   pipe that stops reading costs the operator lines, never the room.
//!
//! `--addr HOST:PORT` picks the address (default 127.0.0.1:8001, port 0 for
//! any free port). The first line on stdout names the address actually bound.
//! Ctrl-C or SIGTERM flush what is queued and exit 0.

use std::time::Duration;

use clap::Parser;
use log::warn;
use sockloop::Config;
use sockloop_examples::server;

use sockloop_examples::chat::console::Console;
use sockloop_examples::chat::{Keyboard, MAX_QUEUED, Member, Room};

/// How long the last lines for stdout may take to be written at exit.
const CONSOLE_PATIENCE: Duration = Duration::from_secs(1);

#[derive(Parser)]
#[command(about = "Chat room on the sockloop reactor: each message goes to every other client")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8001")]
    addr: String,
    /// Milliseconds of silence after which bytes sent with no newline are a
    /// message.
    #[arg(long, default_value_t = 200)]
    pause_ms: u64,
}

fn main() {
    let args = Args::parse();
    server::init_logging();
    let quiet = Duration::from_millis(args.pause_ms);
    let config = Config {
        max_output: MAX_QUEUED,
        ..Default::default()
    };
    let room = Room {
        screen: Console::start(),
    };
    let mut server = server::listen(room, config, &args.addr, move || Member::new(quiet));
    // Without a usable stdin (started with it closed) the room still works;
    // only the server's announcements are missing.
    if let Err(e) = server.reactor.add_stdin(Keyboard::new(quiet)) {
        warn!("not reading stdin: {e}");
    }
    let mut reactor = server.run();
    reactor.shared().screen.close(CONSOLE_PATIENCE);
}
