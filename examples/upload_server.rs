//! File upload server: each file arrives as a header line `NAME|SIZE\n`
//! followed by exactly SIZE bytes, and is answered `true\n` once it is
//! complete and on disk, or `false <reason>\n`.
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
//! Several files may follow one another on one connection.
//!
//! The framing cannot be misread: SIZE is known before the body starts, so
//! the server never has to guess where a file ends (a "send the bytes, then
//! close" protocol cannot tell a finished upload from a client that died).
//! The body is written to a temporary file as it arrives, never held in
//! memory, and renamed to NAME only once all SIZE bytes are on disk. A
//! client that disconnects early leaves nothing behind.
//!
//! Refusals close the connection, since the rest of what the client sends
//! can no longer be framed: a malformed header (`false bad header`), a
//! name that is not a plain file name (`false bad name`), a size over the
//! limit (`false too large`, before any of the body is read), or a disk
//! error (`false write failed: ...`). A client silent for a minute is
//! dropped.

mod common;

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use common::OrFail;
use log::{debug, info};
use sockloop::codec::next_line;
use sockloop::{Ctx, Protocol, Reactor};

/// The longest header line accepted, not counting its newline.
const MAX_HEADER: usize = 4096;
/// The longest file name most file systems accept (NAME_MAX).
const MAX_NAME: usize = 255;
/// A client silent for this long is dropped, and its partial file with it.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// What every connection shares: where files go and how large they may be.
struct Settings {
    dir: PathBuf,
    max_size: u64,
    /// Makes each temporary file name unique within this process.
    next_temp: u64,
}

/// Why a header was refused; `Display` is the reason sent after `false `.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    BadHeader,
    BadName,
    TooLarge,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::BadHeader => "bad header",
            Refusal::BadName => "bad name",
            Refusal::TooLarge => "too large",
        })
    }
}

/// Splits a header line (without its newline) into a file name and a size.
///
/// The size is everything after the *last* `|`, so a name may itself hold
/// `|`. It must be 1 to 20 decimal digits: 20 digits may still exceed
/// `u64::MAX`, which counts as too large rather than as a malformed header.
fn parse_header(line: &[u8], max_size: u64) -> Result<(&OsStr, u64), Refusal> {
    let bar = line
        .iter()
        .rposition(|&b| b == b'|')
        .ok_or(Refusal::BadHeader)?;
    let (name, digits) = (&line[..bar], &line[bar + 1..]);
    if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(Refusal::BadHeader);
    }
    if !is_plain_file_name(name) {
        return Err(Refusal::BadName);
    }
    let size = digits
        .iter()
        .try_fold(0u64, |n, d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
        .ok_or(Refusal::TooLarge)?;
    if size > max_size {
        return Err(Refusal::TooLarge);
    }
    Ok((OsStr::from_bytes(name), size))
}

/// Whether `name` names a file directly inside the upload directory and
/// nothing else: no path separators (either kind), no `.` or `..`, no NUL,
/// and no name of the form our own temporary files use, so one upload can
/// never replace another's file in progress.
fn is_plain_file_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name != b"."
        && name != b".."
        && !name.iter().any(|&b| matches!(b, b'/' | b'\\' | 0))
        && !(name.starts_with(b".") && name.ends_with(b".part"))
}

/// A file being received: written under a temporary name, renamed into
/// place by [`Incoming::commit`]. Dropping it before that removes the
/// temporary file, however the upload ended (refusal, disconnect, a panic).
struct Incoming {
    file: File,
    temp: PathBuf,
    target: PathBuf,
    size: u64,
    remaining: u64,
    committed: bool,
}

impl Incoming {
    /// Creates the temporary file next to where `name` will go.
    fn create(settings: &mut Settings, name: &OsStr, size: u64) -> io::Result<Incoming> {
        settings.next_temp += 1;
        // create_new never follows or reuses a file that happens to be there.
        let temp = settings.dir.join(format!(
            ".upload-{}-{}.part",
            std::process::id(),
            settings.next_temp
        ));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        Ok(Incoming {
            file,
            temp,
            target: settings.dir.join(name),
            size,
            remaining: size,
            committed: false,
        })
    }

    /// Flushes the data to the disk, then gives it its name: rename is
    /// atomic, so readers see the old file or the whole new one, never half.
    fn commit(mut self) -> io::Result<()> {
        self.file.sync_all()?;
        fs::rename(&self.temp, &self.target)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Where one connection is in its sequence of uploads.
enum State {
    /// Waiting for a `NAME|SIZE` line.
    Header,
    /// Receiving the body of a file.
    Body(Incoming),
    /// Refused and closing: whatever still arrives is ignored.
    Done,
}

/// One client connection.
struct Upload {
    state: State,
}

impl Upload {
    fn new() -> Self {
        Upload {
            state: State::Header,
        }
    }

    /// Answers `false <reason>`, drops any partial file, and closes: after a
    /// refusal the rest of the stream cannot be framed.
    fn refuse(&mut self, ctx: &mut Ctx<'_, Settings>, reason: &str) {
        debug!("refusing an upload: {reason}");
        self.state = State::Done;
        ctx.write(format!("false {reason}\n").as_bytes());
        ctx.close();
    }

    /// Handles a header line: starts a body or refuses.
    fn start(&mut self, ctx: &mut Ctx<'_, Settings>, line: &[u8]) {
        let max_size = ctx.shared_ref().max_size;
        match parse_header(line, max_size) {
            Ok((name, size)) => match Incoming::create(ctx.shared(), name, size) {
                Ok(incoming) => self.state = State::Body(incoming),
                Err(e) => self.refuse(ctx, &format!("cannot create file: {e}")),
            },
            Err(refusal) => self.refuse(ctx, &refusal.to_string()),
        }
    }

    /// Writes what is there of the body; finishes the file when it is all in.
    /// Returns how many bytes of `data` belonged to this body.
    fn receive(&mut self, ctx: &mut Ctx<'_, Settings>, data: &[u8]) -> usize {
        let State::Body(incoming) = &mut self.state else {
            return 0;
        };
        let take = data
            .len()
            .min(incoming.remaining.try_into().unwrap_or(usize::MAX));
        // A local disk write is quick enough to make on the loop; the chunk
        // goes straight to the file, so memory stays flat whatever the size.
        if let Err(e) = incoming.file.write_all(&data[..take]) {
            self.refuse(ctx, &format!("write failed: {e}"));
            return take;
        }
        incoming.remaining -= take as u64;
        if incoming.remaining > 0 {
            return take;
        }
        let State::Body(incoming) = std::mem::replace(&mut self.state, State::Header) else {
            unreachable!("checked above");
        };
        let (target, size) = (incoming.target.clone(), incoming.size);
        match incoming.commit() {
            Ok(()) => {
                info!("stored {} ({size} bytes)", target.display());
                ctx.write(b"true\n");
            }
            Err(e) => self.refuse(ctx, &format!("storing failed: {e}")),
        }
        take
    }
}

impl Protocol<Settings> for Upload {
    fn connection_made(&mut self, ctx: &mut Ctx<'_, Settings>) {
        ctx.set_idle_timeout(Some(IDLE_TIMEOUT));
    }

    fn data_received(&mut self, ctx: &mut Ctx<'_, Settings>, data: &[u8]) -> usize {
        let mut used = 0;
        loop {
            match self.state {
                State::Done => return data.len(),
                State::Body(_) => {
                    used += self.receive(ctx, &data[used..]);
                    if matches!(self.state, State::Body(_)) {
                        return used; // all of `data` went into the file
                    }
                }
                State::Header => match next_line(&data[used..], MAX_HEADER) {
                    Ok(Some((line, consumed))) => {
                        used += consumed;
                        self.start(ctx, line);
                    }
                    Ok(None) => return used,
                    Err(_) => {
                        self.refuse(ctx, &Refusal::BadHeader.to_string());
                        return data.len();
                    }
                },
            }
        }
    }

    fn eof_received(&mut self, ctx: &mut Ctx<'_, Settings>) {
        if let State::Body(incoming) = &self.state {
            let got = incoming.size - incoming.remaining;
            let reason = format!("incomplete: {got} of {} bytes received", incoming.size);
            self.refuse(ctx, &reason);
        }
        ctx.close();
    }

    fn connection_lost(&mut self, _ctx: &mut Ctx<'_, Settings>, _reason: Option<io::Error>) {
        // Drops a file still in progress, which removes its temporary file.
        self.state = State::Done;
    }
}

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
    common::init_logging();
    fs::create_dir_all(&args.dir).or_fail(&format!("creating {}", args.dir.display()));
    let settings = Settings {
        dir: args.dir,
        max_size: args.max_size,
        next_temp: 0,
    };
    let mut reactor = Reactor::with_state(settings).or_fail("creating the reactor");
    let listener = reactor
        .listen_tcp(args.addr.as_str(), Upload::new)
        .or_fail(&format!("listening on {}", args.addr));
    reactor
        .shutdown_on_signals()
        .or_fail("installing signal handlers");
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
    use std::path::Path;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh, empty directory under the system's temporary directory,
    /// removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("upload-unit-{}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }

        /// Names in the directory, sorted.
        fn names(&self) -> Vec<String> {
            let mut names: Vec<String> = fs::read_dir(&self.0)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }

        fn read(&self, name: &str) -> Vec<u8> {
            fs::read(self.0.join(name)).unwrap()
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn harness(dir: &Path, max_size: u64) -> Harness<Settings> {
        let settings = Settings {
            dir: dir.to_path_buf(),
            max_size,
            next_temp: 0,
        };
        Harness::with_state(settings, Upload::new())
    }

    #[test]
    fn headers() {
        let max = u64::MAX;
        fn ok(name: &str, size: u64) -> Result<(&OsStr, u64), Refusal> {
            Ok((OsStr::new(name), size))
        }
        assert_eq!(parse_header(b"a.txt|5", max), ok("a.txt", 5));
        assert_eq!(parse_header(b"a|b|0", max), ok("a|b", 0));
        assert_eq!(parse_header(b"x|007", max), ok("x", 7));
        assert_eq!(
            parse_header(b"x|18446744073709551615", max),
            ok("x", u64::MAX)
        );
        for bad in [
            &b"x|abc"[..],
            b"x|",
            b"x|-1",
            b"x|+1",
            b"x| 1",
            b"x|1 ",
            b"no bar",
            b"",
            b"x|000000000000000000001",
        ] {
            assert_eq!(parse_header(bad, max), Err(Refusal::BadHeader), "{bad:?}");
        }
        for big in [&b"x|18446744073709551616"[..], b"x|99999999999999999999"] {
            assert_eq!(parse_header(big, max), Err(Refusal::TooLarge));
        }
        assert_eq!(parse_header(b"x|11", 10), Err(Refusal::TooLarge));
        assert_eq!(parse_header(b"x|10", 10), ok("x", 10));
        let long = [b'n'; 256];
        for bad in [
            &b""[..],
            b".",
            b"..",
            b"../etc/passwd",
            b"a/b",
            b"a\\b",
            b"a\0b",
            &long,
            b".upload-1-1.part",
        ] {
            let mut line = bad.to_vec();
            line.extend_from_slice(b"|1");
            assert_eq!(parse_header(&line, max), Err(Refusal::BadName), "{bad:?}");
        }
        let mut line = vec![b'n'; 255];
        line.extend_from_slice(b"|1");
        assert!(parse_header(&line, max).is_ok());
        assert_eq!(
            parse_header(b"caf\xe9|1", max),
            Ok((OsStr::from_bytes(b"caf\xe9"), 1))
        );
    }

    #[test]
    fn every_split_stores_the_same_files() {
        // A CRLF header, a body holding a newline, a name that is not
        // UTF-8, an empty file, and a file after it on the same connection.
        let input = b"a.txt|5\nhello\xffx|3\r\n\0\n\xffempty|0\nb|1\nZ";
        let check = |h: &mut Harness<Settings>, dir: &TempDir| {
            assert_eq!(h.take_output(), b"true\ntrue\ntrue\ntrue\n");
            assert!(!h.is_closed());
            assert_eq!(dir.names(), ["a.txt", "b", "empty", "\u{FFFD}x"]);
            assert_eq!(dir.read("a.txt"), b"hello");
            assert_eq!(
                fs::read(dir.0.join(OsStr::from_bytes(b"\xffx"))).unwrap(),
                b"\0\n\xff"
            );
            assert_eq!(dir.read("empty"), b"");
            assert_eq!(dir.read("b"), b"Z");
        };
        for split in 0..=input.len() {
            let dir = TempDir::new();
            let mut h = harness(&dir.0, 100);
            h.feed(&input[..split]);
            h.feed(&input[split..]);
            check(&mut h, &dir);
        }
        let dir = TempDir::new();
        let mut h = harness(&dir.0, 100);
        h.feed_bytewise(input);
        check(&mut h, &dir);
    }

    #[test]
    fn a_partial_body_is_a_temporary_file_until_complete() {
        let dir = TempDir::new();
        let mut h = harness(&dir.0, 100);
        h.feed(b"f|4\nab");
        assert_eq!(h.take_output(), b"");
        let names = dir.names();
        assert_eq!(names.len(), 1);
        assert!(names[0].starts_with(".upload-") && names[0].ends_with(".part"));
        h.feed(b"cd");
        assert_eq!(h.take_output(), b"true\n");
        assert_eq!(dir.names(), ["f"]);
    }

    #[test]
    fn an_existing_file_is_replaced() {
        let dir = TempDir::new();
        fs::write(dir.0.join("f"), b"old contents").unwrap();
        let mut h = harness(&dir.0, 100);
        h.feed(b"f|3\nnew");
        assert_eq!(h.take_output(), b"true\n");
        assert_eq!(dir.read("f"), b"new");
        assert_eq!(dir.names(), ["f"]);
    }

    #[test]
    fn refusals_close_and_write_nothing_on_every_split() {
        let cases: [(&[u8], &[u8]); 6] = [
            (b"../etc/passwd|3\nabc", b"false bad name\n"),
            (b"a/b|1\nx", b"false bad name\n"),
            (b"x|abc\n", b"false bad header\n"),
            (b"x|99999999999999999999\nbody", b"false too large\n"),
            (b"x|101\nbody", b"false too large\n"),
            (b"ok|1\nyx\n", b"true\nfalse bad header\n"),
        ];
        for (input, reply) in cases {
            for split in 0..=input.len() {
                let dir = TempDir::new();
                let mut h = harness(&dir.0, 100);
                h.feed(&input[..split]);
                h.feed(&input[split..]);
                assert_eq!(
                    h.take_output(),
                    reply,
                    "{:?}",
                    String::from_utf8_lossy(input)
                );
                assert!(h.is_closed());
                let stored: Vec<String> = if reply.starts_with(b"true") {
                    vec!["ok".into()]
                } else {
                    vec![]
                };
                assert_eq!(dir.names(), stored);
            }
        }
    }

    #[test]
    fn an_overlong_header_is_refused_before_its_newline() {
        let dir = TempDir::new();
        let mut h = harness(&dir.0, 100);
        h.feed(&[b'a'; MAX_HEADER]);
        assert_eq!(h.take_output(), b"");
        h.feed(b"a");
        assert_eq!(h.take_output(), b"false bad header\n");
        assert!(h.is_closed());
    }

    #[test]
    fn a_short_body_leaves_nothing() {
        let dir = TempDir::new();
        let mut h = harness(&dir.0, 100);
        h.feed(b"f|10\nabc");
        h.feed_eof();
        assert_eq!(
            h.take_output(),
            b"false incomplete: 3 of 10 bytes received\n"
        );
        assert!(h.is_closed());
        assert!(dir.names().is_empty());
    }

    #[test]
    fn a_lost_connection_leaves_nothing() {
        let dir = TempDir::new();
        let mut h = harness(&dir.0, 100);
        h.feed(b"f|10\nabc");
        assert_eq!(dir.names().len(), 1);
        h.with_ctx(|ctx| ctx.abort("test"));
        assert!(h.is_closed());
        assert!(dir.names().is_empty());
    }
}
