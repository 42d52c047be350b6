//! Logs what clients send and what is typed on the terminal to one file, the
//! tutorial's `select()` server that watches its terminal and its clients at
//! once.
//!
//! ```text
//! cargo run --example stdin_logger   # then type lines here too
//! nc 127.0.0.1 6666                  # type lines; each gets "received"
//! tail -f select_log.txt             # the log, in a third terminal
//! ```
//!
//! A message ends at a newline (a `\r` before it is dropped), or, for a
//! client that sends each message with no newline and then waits for the
//! answer, when the sender pauses: bytes not followed by more within the
//! quiet period (`--pause-ms`, 200 by default) are one message. What is left
//! unfinished when a client goes, or when stdin ends (a file or a pipe need
//! not end with a newline), is a message too.
//!
//! Every message is appended to the log file as `<client address>: <text>`,
//! or as `stdin: <text>` when it came from the server's terminal, and written
//! through at once, so `tail -f` shows it as it happens. A client gets
//! `received` for each message once it is in the file, or
//! `error: log write failed` if the write failed (a full disk): the server
//! logs the error and goes on. A message over 64 KiB gets
//! `error: line too long` and its sender is disconnected; on stdin it is
//! skipped up to its newline.
//!
//! Where the tutorial's loop puts `sys.stdin` in the list it hands to
//! `select()`, this one adds stdin to the reactor as one more stream source.
//! Closing stdin (Ctrl-D) only removes that source: the server keeps serving
//! clients until Ctrl-C or SIGTERM, which flush what is queued and exit 0.
//!
//! `--addr HOST:PORT` picks the address (default 127.0.0.1:6666, port 0 for
//! any free port), `--file PATH` the log (default ./select_log.txt, opened for
//! appending; a file that cannot be opened is a start-up failure, exit 1).
//! The first line on stdout names the address actually bound.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use log::{info, warn};
use sockloop::Config;
use sockloop_examples::server::{self, OrFail};

use sockloop_examples::stdin_logger::{Client, Log, Terminal};

#[derive(Parser)]
#[command(about = "Logs client messages and terminal lines to one file, on the sockloop reactor")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:6666")]
    addr: String,
    /// The log file, created if missing and appended to.
    #[arg(long, default_value = "./select_log.txt")]
    file: PathBuf,
    /// Milliseconds of silence after which bytes sent with no newline are a
    /// message.
    #[arg(long, default_value_t = 200)]
    pause_ms: u64,
}

fn main() {
    let args = Args::parse();
    server::init_logging();
    let quiet = Duration::from_millis(args.pause_ms);
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&args.file)
        .or_fail(&format!("opening {}", args.file.display()));
    let log: Log<File> = Log::new(file, args.file.display().to_string());
    let mut server = server::listen(log, Config::default(), &args.addr, move || {
        Client::new(quiet)
    });
    // Without a usable stdin (started with it closed) the clients are still
    // logged.
    if let Err(e) = server.reactor.add_stdin(Terminal::new(quiet)) {
        warn!("not reading stdin: {e}");
    }
    info!("logging to {}", args.file.display());
    server.run();
}
