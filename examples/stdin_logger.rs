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
//! Every complete line (ended by `\n`; a `\r` before it is dropped) is
//! appended to the log file as `<client address>: <line>`, or as
//! `stdin: <line>` when it was typed on the server's terminal, and written
//! through at once, so `tail -f` shows it as it happens. A client gets
//! `received` for each line once it is in the file, or
//! `error: log write failed` if the write failed (a full disk): the server
//! logs the error and goes on. A line over 64 KiB gets `error: line too long`
//! and its sender is disconnected.
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

mod common;

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;

use clap::Parser;
use common::OrFail;
use log::{error, info, warn};
use sockloop::codec::{SkipLongLines, next_line};
use sockloop::{Ctx, Protocol, Reactor};

/// The longest line accepted, newline not counted.
const MAX_LINE: usize = 64 * 1024;

/// The log file, shared by every connection and by stdin. Generic over the
/// writer so the tests can log into a `Vec`.
struct Log<W> {
    out: W,
    /// What the log is, for error messages (its path).
    name: String,
    /// Where each entry is formatted, reused from line to line.
    entry: Vec<u8>,
}

impl<W: Write> Log<W> {
    fn new(out: W, name: String) -> Self {
        Log {
            out,
            name,
            entry: Vec::new(),
        }
    }

    /// Appends `<source>: <line>\n`, formatted whole first and handed to the
    /// file in one `write_all`, then flushes. With the file in append mode
    /// that is normally one write(2) at the end of the file, so a reader
    /// (`tail -f`, another process appending) never sees half an entry.
    fn append(&mut self, source: &str, line: &[u8]) -> io::Result<()> {
        self.entry.clear();
        self.entry.extend_from_slice(source.as_bytes());
        self.entry.extend_from_slice(b": ");
        self.entry.extend_from_slice(line);
        self.entry.push(b'\n');
        self.out.write_all(&self.entry)?;
        self.out.flush()
    }
}

/// One client connection.
#[derive(Default)]
struct Client {
    /// The client's address, as the log names it.
    addr: String,
}

impl<W: Write + 'static> Protocol<Log<W>> for Client {
    fn connection_made(&mut self, ctx: &mut Ctx<'_, Log<W>>) {
        self.addr = match ctx.peer_addr() {
            Ok(addr) => addr.to_string(),
            // The peer reset before we asked: it will be gone in a moment.
            Err(_) => "(unknown)".to_string(),
        };
    }

    fn data_received(&mut self, ctx: &mut Ctx<'_, Log<W>>, data: &[u8]) -> usize {
        let mut used = 0;
        loop {
            match next_line(&data[used..], MAX_LINE) {
                Ok(Some((line, consumed))) => {
                    let log = ctx.shared();
                    match log.append(&self.addr, line) {
                        Ok(()) => ctx.write(b"received\n"),
                        Err(e) => {
                            error!("writing {}'s line to {}: {e}", self.addr, log.name);
                            ctx.write(b"error: log write failed\n");
                        }
                    }
                    used += consumed;
                }
                // The rest is an incomplete line: it comes back with the next read.
                Ok(None) => return used,
                Err(_) => {
                    warn!(
                        "{}: line longer than {MAX_LINE} bytes; disconnecting",
                        self.addr
                    );
                    ctx.write(b"error: line too long\n");
                    ctx.close();
                    return data.len();
                }
            }
        }
    }
}

/// The server's standard input: each line typed goes to the log.
#[derive(Default)]
struct Terminal {
    /// Stdin cannot be disconnected; a long line is just not logged.
    lines: SkipLongLines,
}

impl<W: Write + 'static> Protocol<Log<W>> for Terminal {
    fn data_received(&mut self, ctx: &mut Ctx<'_, Log<W>>, data: &[u8]) -> usize {
        self.lines.feed(
            data,
            MAX_LINE,
            |line| {
                let log = ctx.shared();
                if let Err(e) = log.append("stdin", line) {
                    error!("writing a stdin line to {}: {e}", log.name);
                }
            },
            || warn!("stdin: line longer than {MAX_LINE} bytes; not logged"),
        )
    }

    fn eof_received(&mut self, ctx: &mut Ctx<'_, Log<W>>) {
        info!("stdin closed; still serving clients (Ctrl-C or SIGTERM stops the server)");
        ctx.close();
    }
}

#[derive(Parser)]
#[command(about = "Logs client lines and terminal lines to one file, on the sockloop reactor")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:6666")]
    addr: String,
    /// The log file, created if missing and appended to.
    #[arg(long, default_value = "./select_log.txt")]
    file: PathBuf,
}

fn main() {
    let args = Args::parse();
    common::init_logging();
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&args.file)
        .or_fail(&format!("opening {}", args.file.display()));
    let log: Log<File> = Log::new(file, args.file.display().to_string());
    let mut reactor = Reactor::with_state(log).or_fail("creating the reactor");
    let listener = reactor
        .listen_tcp(args.addr.as_str(), Client::default)
        .or_fail(&format!("listening on {}", args.addr));
    reactor
        .shutdown_on_signals()
        .or_fail("installing signal handlers");
    // Without a usable stdin (started with it closed) the clients are still
    // logged.
    if let Err(e) = reactor.add_stdin(Terminal::default()) {
        warn!("not reading stdin: {e}");
    }
    info!("logging to {}", args.file.display());
    common::announce(
        reactor
            .local_addr(listener)
            .or_fail("reading the bound address"),
    );
    reactor.run().or_fail("running the reactor");
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockloop::harness::Harness;

    /// The address the harness gives its peer.
    const PEER: &str = "127.0.0.1:50000";

    /// Every way to cut `input` into two reads, and one byte per read.
    fn splits(input: &[u8]) -> Vec<Vec<&[u8]>> {
        let mut all: Vec<Vec<&[u8]>> = (0..=input.len())
            .map(|at| vec![&input[..at], &input[at..]])
            .collect();
        all.push(input.chunks(1).collect());
        all
    }

    /// For inputs around 64 KiB, where every split (or one byte per read,
    /// each rescanning the buffer) would take minutes: two reads split
    /// around every line boundary and the limit, and reads of a few odd sizes.
    fn big_splits(input: &[u8]) -> Vec<Vec<&[u8]>> {
        let mut points: Vec<usize> = vec![0, 1, input.len() - 1, input.len()];
        for (i, &b) in input.iter().enumerate() {
            if b == b'\n' || i == MAX_LINE {
                points.extend([i.saturating_sub(1), i, i + 1, i + 2]);
            }
        }
        points.retain(|&at| at <= input.len());
        let mut all: Vec<Vec<&[u8]>> = points
            .into_iter()
            .map(|at| vec![&input[..at], &input[at..]])
            .collect();
        for size in [1000, 4093, 65_535, 65_536, 65_537] {
            all.push(input.chunks(size).collect());
        }
        all
    }

    fn run<P: Protocol<Log<Vec<u8>>>>(protocol: P, reads: &[&[u8]]) -> Harness<Log<Vec<u8>>> {
        let log = Log::new(Vec::new(), "memory".to_string());
        let mut h = Harness::with_state(log, protocol);
        for read in reads {
            h.feed(read);
        }
        h
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    #[test]
    fn client_lines_are_logged_and_acknowledged_on_any_split() {
        let input = b"hello\r\nsecond line\n\nunfinished";
        for reads in splits(input) {
            let mut h = run(Client::default(), &reads);
            assert_eq!(text(&h.take_output()), "received\n".repeat(3));
            assert_eq!(
                text(&h.shared().out),
                format!("{PEER}: hello\n{PEER}: second line\n{PEER}: \n")
            );
            assert!(!h.is_closed());
        }
    }

    #[test]
    fn a_client_line_of_exactly_64_kib_is_accepted() {
        let mut input = vec![b'x'; MAX_LINE];
        input.push(b'\n');
        for reads in big_splits(&input) {
            let mut h = run(Client::default(), &reads);
            assert_eq!(h.take_output(), b"received\n");
            assert_eq!(h.shared().out.len(), PEER.len() + 2 + MAX_LINE + 1);
            assert!(!h.is_closed());
        }
    }

    #[test]
    fn a_client_line_over_64_kib_is_refused_before_its_newline() {
        let mut input = b"fine\n".to_vec();
        input.extend_from_slice(&vec![b'x'; MAX_LINE + 1]);
        for reads in big_splits(&input) {
            let mut h = run(Client::default(), &reads);
            assert_eq!(h.take_output(), b"received\nerror: line too long\n");
            assert_eq!(text(&h.shared().out), format!("{PEER}: fine\n"));
            assert!(h.is_closed());
        }
    }

    /// A log whose every write fails, like a file on a full disk.
    struct FullDisk;

    impl Write for FullDisk {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from_raw_os_error(libc::ENOSPC))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_log_write_is_reported_to_the_client_on_any_split() {
        let input = b"one\ntwo\n";
        for reads in splits(input) {
            let log = Log::new(FullDisk, "full".to_string());
            let mut h = Harness::with_state(log, Client::default());
            for read in reads {
                h.feed(read);
            }
            assert_eq!(h.take_output(), b"error: log write failed\n".repeat(2));
            assert!(!h.is_closed());
        }
    }

    #[test]
    fn stdin_lines_are_logged_on_any_split() {
        let input = b"typed\r\n\nmore typing\nno newline";
        for reads in splits(input) {
            let mut h = run(Terminal::default(), &reads);
            assert_eq!(
                text(&h.shared().out),
                "stdin: typed\nstdin: \nstdin: more typing\n"
            );
            // Nothing goes back to the terminal.
            assert!(h.take_output().is_empty());
        }
    }

    #[test]
    fn a_long_stdin_line_is_skipped_and_logging_goes_on() {
        let mut input = b"before\n".to_vec();
        input.extend_from_slice(&vec![b'x'; MAX_LINE + 10]);
        input.extend_from_slice(b"\nafter\n");
        for reads in big_splits(&input) {
            let mut h = run(Terminal::default(), &reads);
            assert_eq!(text(&h.shared().out), "stdin: before\nstdin: after\n");
            assert!(!h.is_closed());
        }
    }
}
