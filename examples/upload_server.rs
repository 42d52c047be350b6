//! File upload server: each file arrives as a header, `NAME|SIZE`, then
//! exactly SIZE bytes, and is answered once it is complete and on disk. Two
//! forms of the header are accepted, on the same port and the same
//! connection:
//!
//! - the newline form, `NAME|SIZE\n` then the bytes, answered `true\n` or
//!   `false REASON\n` (what `upload_client` and `nc` send);
//! - the tutorial's form, `NAME|SIZE` with the file's bytes right after it,
//!   answered exactly `true` or `false: REASON`, no newline (what the socket
//!   tutorial's Python client sends, reading the answer with one
//!   `recv(1024)`): one file at a time, each answer awaited before the next.
//!
//! ```text
//! cargo run --release --example upload_server -- --dir ./uploads
//! cargo run --release --example upload_client -- photo.jpg notes.txt
//! printf 'hello.txt|6\nhello\n' | nc 127.0.0.1 8003     # answers: true
//! ```
//!
//! `--addr HOST:PORT` picks the address (default 127.0.0.1:8003, port 0 for
//! any free port), `--dir` where files go (default `./uploads`, created if
//! missing), `--max-size` the largest file accepted in bytes (default 1 GiB).
//!
//! SIZE is known before the body starts, so the server never has to guess
//! where a file ends (a "send the bytes, then close" protocol cannot tell a
//! finished upload from a client that died). The body is written to a
//! temporary file as it arrives, never held in memory, and renamed to NAME
//! only once all SIZE bytes are on disk. A client that disconnects early
//! leaves nothing behind.
//!
//! # Telling the forms apart
//!
//! After `NAME|` come the size's digits, and the first byte that is not a
//! digit decides: a newline (or `\r\n`) means the newline form, any other
//! byte is the file's first byte. A name never holds a newline; it may hold
//! `|` (in the newline form), but not a first `|` followed by a digit,
//! which reads as the size.
//!
//! That leaves the tutorial's form the sticky-packet problem in small: a
//! file that starts with a digit runs into the size (`a.txt|5` then `12345`
//! arrives as `a.txt|512345`: 5 or 512345 bytes?), and one that starts with
//! a newline reads as the newline form. The bytes cannot tell; time can.
//! The tutorial's client sends its whole file, then falls silent until it
//! has its answer. So these rules act at a *pause*, [`PAUSE`] without a
//! byte (or the end of the stream), and the server never guesses:
//!
//! 1. A tutorial-form file is stored and answered at the pause after its
//!    last byte. A byte before that pause means the header was misread (a
//!    name with `|` and digits, or a client that does not wait for its
//!    answers): the file is refused, not stored.
//! 2. A file still incomplete at a pause, whose bytes after the `|` are
//!    exactly what a *shorter* reading of the size makes (its first k digits
//!    as the size S, then S bytes: S + k bytes), is refused as ambiguous;
//!    the answer names both readings and the newline form. At most one
//!    shorter reading fits, since S + k grows with k. This holds in the
//!    newline form too: a tutorial-form file that starts with a newline
//!    reads as a newline-form file one byte short.
//! 3. Digits that run into a pause are a size with no file after it: an
//!    empty file if the size is 0, refused otherwise.
//! 4. Bytes after the digits that start a tutorial-form file are held (at
//!    most 4 KiB, at most until the pause) until a newline shows whether
//!    they can be a newline-form header after all, one whose name holds `|`
//!    and digits (`x|1y|5\n`). If they can, the header is refused as
//!    ambiguous.
//!
//! Nothing wrong is ever stored: the server follows the longest reading of
//! the size, which needs at least ten times the bytes the client sends and
//! so never completes, and rule 1 catches any other misreading. The cost
//! falls on a newline-form client that stalls for [`PAUSE`] at one of the
//! few exact lengths rule 2 looks for: it is refused, never misread. (A
//! file that starts with digits and a newline whose digits read as a size
//! over the limit gets the newline form's `false too large\n` at once.)
//!
//! Refusals close the connection, since the rest of what the client sends
//! can no longer be framed: a malformed header (`bad header`), a name that
//! is not a plain file name (`bad name`), a size over the limit (`too
//! large`, before any of the body is read), an ambiguous header, or a disk
//! error (`write failed: ...`). A client silent for a minute is dropped.

use std::fs;
use std::path::PathBuf;

use clap::Parser;
use sockloop::Config;
use sockloop_examples::server::{self, OrFail};
use sockloop_examples::upload::{PAUSE, Settings, Upload};

#[derive(Parser)]
#[command(about = "File upload server on the sockloop reactor")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8003")]
    addr: String,
    /// Directory the uploaded files are stored in (created if missing).
    #[arg(long, default_value = "./uploads")]
    dir: PathBuf,
    /// Largest file accepted, in bytes.
    #[arg(long, default_value_t = 1 << 30)]
    max_size: u64,
}

fn main() {
    let args = Args::parse();
    server::init_logging();
    fs::create_dir_all(&args.dir).or_fail(&format!("creating {}", args.dir.display()));
    let settings = Settings {
        dir: args.dir,
        max_size: args.max_size,
        next_temp: 0,
        pause: PAUSE,
    };
    server::listen(settings, Config::default(), &args.addr, Upload::new).run();
}
