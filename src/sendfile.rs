//! Files queued on a connection (`Ctx::send_file`), sent from the open file
//! with `sendfile(2)`: the bytes go from the page cache to the socket
//! without passing through user space.
//!
//! A queued file is part of the connection's output like any other: it goes
//! out after everything written before it, everything written after it
//! waits behind it (the transport's `FILE` flag stops writes from going to
//! the socket at once), and it is paced by the socket's writability: each
//! writable edge sends until the socket refuses, exactly as queued bytes are
//! flushed. The output buffer holds the bytes written before, between and
//! after files; each file remembers how many of those bytes are ahead of it.
//!
//! How it counts (see `Ctx::send_file`): a file's unsent bytes are queued
//! output for flow control, so a large file makes the protocol's
//! `pause_writing` come at once and `resume_writing` when it has nearly
//! gone out; they do not count against `Config::max_output`, which bounds
//! the memory a peer that stops reading can make the reactor hold, and a
//! file in the page cache holds none of ours.
//!
//! Where `sendfile` cannot be used, the file is read and written through a
//! 64 KiB buffer of its own instead:
//! - on any stream but TCP (a Unix socket, a pipe, the test harness'
//!   simulated stream, an encrypting layer), which only take bytes through
//!   their `send`;
//! - when the file refuses it (`EINVAL`, `ENOSYS`: a file system without
//!   the needed support);
//! - when the process does not ignore `SIGPIPE`: `sendfile` has no
//!   `MSG_NOSIGNAL`, and a peer gone away would kill a program that embeds
//!   the reactor with a signal instead of failing one connection. (Rust
//!   programs ignore it from the start, so this is for C hosts.)

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::FileExt;

use mio::Token;

use crate::sys::{self, Io};
use crate::transport::{Stream, Transport, flag};

/// Bytes read per `read` when a file is read and written instead.
const CHUNK: usize = 64 * 1024;
/// Most bytes asked of one `sendfile` call (Linux moves at most about 2 GiB).
const MAX_PER_CALL: u64 = 1 << 30;
/// Unsent bytes a socket may hold while a file larger than this goes out
/// (`TCP_NOTSENT_LOWAT`), beyond those already in flight.
///
/// Left alone, the kernel fills a socket's whole send buffer (grown to
/// 4 MiB on a fast link) and the file then goes out from the receiver's
/// acknowledgements: on loopback, on the receiving client's CPU, which
/// then becomes the limit. Held to 64 KiB, the bytes go out in the
/// server's own `sendfile` calls: a 100 MB file to wrk went from 0.8x to
/// about 1.5x nginx's throughput (BENCHMARKS.md). Bytes in flight are not
/// limited, so a slow or distant peer gets the same window; the socket
/// holds less, and the reactor is woken to refill it more often.
const NOTSENT_LOWAT: u32 = 64 * 1024;

/// The files queued on every connection that has some, by token.
#[derive(Default)]
pub(crate) struct Files {
    queues: HashMap<Token, VecDeque<Segment>>,
}

impl Files {
    /// Queues `segment` for `token`, after its other files.
    pub(crate) fn push(&mut self, token: Token, segment: Segment) {
        self.queues.entry(token).or_default().push_back(segment);
    }

    /// File bytes queued for `token` and not yet sent.
    pub(crate) fn unsent(&self, token: Token) -> u64 {
        self.queues
            .get(&token)
            .map_or(0, |queue| queue.iter().map(|s| s.remaining).sum())
    }

    /// Forgets `token`'s files (it is closed): they are closed here.
    pub(crate) fn remove(&mut self, token: Token) {
        self.queues.remove(&token);
    }

    /// Sends what `t` (the connection `token`) has queued, files and bytes
    /// in order, until all is sent or the socket refuses (`WRITE_BLOCKED`).
    /// An error (the peer is gone, a file ended early) is the connection's.
    pub(crate) fn flush(&mut self, token: Token, t: &mut Transport) -> io::Result<()> {
        let Some(queue) = self.queues.get_mut(&token) else {
            t.clear(flag::FILE);
            return t.flush();
        };
        while let Some(first) = queue.front_mut() {
            if first.ahead > 0 {
                let sent = t.flush_front(first.ahead)?;
                for segment in queue.iter_mut() {
                    segment.ahead -= sent;
                }
                if t.has(flag::WRITE_BLOCKED) {
                    return Ok(());
                }
                continue;
            }
            let before = first.remaining;
            let done = first.send(&mut t.stream);
            t.count_sent(before - first.remaining);
            if !done? {
                t.set(flag::WRITE_BLOCKED);
                return Ok(());
            }
            queue.pop_front();
        }
        self.queues.remove(&token);
        t.clear(flag::FILE);
        t.flush()
    }
}

/// One queued file: where it is in the output, and how far it has gone.
pub(crate) struct Segment {
    file: File,
    /// The next byte of the file to send (or, reading and writing, to read).
    offset: u64,
    /// Bytes not yet taken by the stream.
    remaining: u64,
    /// Bytes of the output buffer queued ahead of this file.
    ahead: usize,
    /// Reading and writing instead of `sendfile`: what was read and not
    /// yet taken by the stream. `None` while `sendfile` is used.
    relay: Option<Relay>,
}

/// The buffer of a file read and written instead of sent with `sendfile`.
struct Relay {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl Segment {
    /// `len` bytes of `file` from `offset`, queued behind the `ahead` bytes
    /// in `stream`'s output buffer. Whether `sendfile` may be tried is
    /// decided here, once per file.
    pub(crate) fn new(file: File, offset: u64, len: u64, ahead: usize, stream: &Stream) -> Self {
        let sendfile = matches!(stream, Stream::Tcp(_)) && sigpipe_ignored();
        if let Stream::Tcp(socket) = stream
            && sendfile
            && len > u64::from(NOTSENT_LOWAT)
        {
            // Once per large file, and for the rest of the connection; a
            // kernel without the option (before 3.12) sends as before.
            let _ = socket2::SockRef::from(socket).set_tcp_notsent_lowat(NOTSENT_LOWAT);
        }
        Segment {
            file,
            offset,
            remaining: len,
            ahead,
            relay: (!sendfile).then(Relay::new),
        }
    }

    /// Sends until the file is done (true) or the stream refuses (false).
    fn send(&mut self, stream: &mut Stream) -> io::Result<bool> {
        while self.remaining > 0 {
            let outcome = match &mut self.relay {
                None => self.send_direct(stream),
                Some(relay) => relay.send(stream, &self.file, &mut self.offset, self.remaining)?,
            };
            match outcome {
                Io::Done(0) => return Err(shrank()),
                Io::Done(n) => self.remaining -= n as u64,
                Io::WouldBlock => return Ok(false),
                Io::Failed(e) if self.relay.is_none() && refused(&e) => {
                    log::debug!("sendfile refused ({e}); reading and writing the file instead");
                    self.relay = Some(Relay::new());
                }
                Io::Failed(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// One `sendfile` call (a TCP stream: see [`Segment::new`]).
    fn send_direct(&mut self, stream: &Stream) -> Io {
        let Stream::Tcp(socket) = stream else {
            return Io::Failed(io::ErrorKind::Unsupported.into());
        };
        let len = self.remaining.min(MAX_PER_CALL) as usize;
        // Through `sys::on`, as every call that bypasses mio: on mio's
        // portable poll(2) backend a refused call must re-arm the socket.
        let (file, offset) = (&self.file, &mut self.offset);
        sys::on(socket, |fd| sendfile(fd, file, offset, len))
    }
}

impl Relay {
    fn new() -> Relay {
        Relay {
            buf: vec![0; CHUNK].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    /// One `send` of what was read, reading the next chunk first if all of
    /// the last one went out.
    fn send(
        &mut self,
        stream: &mut Stream,
        file: &File,
        offset: &mut u64,
        remaining: u64,
    ) -> io::Result<Io> {
        if self.start == self.end {
            let want = remaining.min(CHUNK as u64) as usize;
            let n = loop {
                match file.read_at(&mut self.buf[..want], *offset) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            };
            if n == 0 {
                return Err(shrank());
            }
            *offset += n as u64;
            (self.start, self.end) = (0, n);
        }
        let outcome = stream.send(&self.buf[self.start..self.end]);
        if let Io::Done(n) = outcome {
            self.start += n;
        }
        Ok(outcome)
    }
}

/// The file ended before the bytes promised for it were sent.
fn shrank() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "a file queued with send_file ended before the length given",
    )
}

/// Errors that mean "not this way": try reading and writing instead.
fn refused(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
    )
}

/// `sendfile(2)` of up to `len` bytes of `file` from `*offset` to the socket
/// `fd`, retrying on `EINTR`; `*offset` moves past what was sent.
fn sendfile(fd: RawFd, file: &File, offset: &mut u64, len: usize) -> Io {
    loop {
        let mut off = *offset as libc::off_t;
        // SAFETY: both fds are open for the call; `off` is a valid off_t.
        let n = unsafe { libc::sendfile(fd, file.as_raw_fd(), &mut off, len) };
        if n >= 0 {
            *offset = off as u64;
            return Io::Done(n as usize);
        }
        match sys::errno() {
            libc::EINTR => continue,
            e => return sys::failure(e),
        }
    }
}

/// Whether the process ignores `SIGPIPE` (asked of the kernel each time: a
/// host program may change it).
fn sigpipe_ignored() -> bool {
    // SAFETY: an all-zero sigaction is a valid out-parameter; with a null
    // new action, sigaction only reads the current one.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut current) == 0
            && current.sa_sigaction == libc::SIG_IGN
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn file_with(bytes: &[u8]) -> File {
        let mut f = tempfile();
        f.write_all(bytes).unwrap();
        f
    }

    fn tempfile() -> File {
        let path = std::env::temp_dir().join(format!(
            "sockloop-sendfile-unit-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let f = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        f
    }

    /// Over a Unix socket (no sendfile: read and write), bytes ahead of the
    /// file, a slice of it, and bytes behind it arrive in order.
    #[test]
    fn bytes_and_a_file_slice_go_out_in_order() {
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let stream = Stream::Other(Box::new(mio::net::UnixStream::from_std(a)));
        let mut t = Transport::new(stream, flag::MADE);
        let mut pool = crate::buffer::Pool::default();
        let mut files = Files::default();
        let token = Token(7);
        t.send_or_queue(&mut pool, b"head ").unwrap();
        // Held back as if the socket were full, so the file queues behind.
        t.set(flag::WRITE_BLOCKED);
        t.send_or_queue(&mut pool, b"more ").unwrap();
        let file = file_with(b"0123456789");
        files.push(token, Segment::new(file, 2, 5, t.queued(), &t.stream));
        t.set(flag::FILE);
        t.send_or_queue(&mut pool, b" tail").unwrap();
        assert_eq!(files.unsent(token), 5);
        t.clear(flag::WRITE_BLOCKED);
        files.flush(token, &mut t).unwrap();
        assert!(!t.has(flag::FILE));
        assert_eq!(files.unsent(token), 0);
        assert_eq!(t.queued(), 0);
        let mut got = vec![0; 64];
        let n = b.read(&mut got).unwrap();
        assert_eq!(&got[..n], b"head more 23456 tail");
    }

    #[test]
    fn a_file_shorter_than_promised_is_an_error() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let stream = Stream::Other(Box::new(mio::net::UnixStream::from_std(a)));
        let mut t = Transport::new(stream, flag::MADE);
        let mut files = Files::default();
        let file = file_with(b"short");
        files.push(Token(1), Segment::new(file, 0, 100, 0, &t.stream));
        t.set(flag::FILE);
        let e = files.flush(Token(1), &mut t).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }
}
