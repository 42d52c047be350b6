//! One stream connection: its socket (or pipe), its protocol, its two buffers
//! and a handful of state flags.
//!
//! Kept small on purpose: an idle connection is this struct and nothing else,
//! so ten thousand of them cost ten thousand of these (see `buffer.rs`).

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::net::{TcpStream, UnixStream};

use crate::addr::Addr;
use crate::buffer::Buffer;
use crate::fd::FdStream;
use crate::protocol::Protocol;
use crate::sys::{self, Io};
use crate::timer::TimerId;

/// The byte stream under a connection.
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    /// A raw fd: stdin, a pipe, a terminal.
    Fd(Box<FdStream>),
    /// No socket at all: what the protocol writes is collected for a test
    /// harness (see `harness.rs`).
    Memory(Box<MemoryStream>),
}

/// The in-memory stand-in for a socket used by the test harness.
pub(crate) struct MemoryStream {
    pub(crate) written: Rc<RefCell<Vec<u8>>>,
    pub(crate) peer: Addr,
}

impl Stream {
    /// Whether this is a network connection (as opposed to a pipe), which is
    /// what `connections()`, `broadcast` and the connection limit count.
    pub(crate) fn is_socket(&self) -> bool {
        matches!(self, Stream::Tcp(_) | Stream::Unix(_) | Stream::Memory(_))
    }

    pub(crate) fn peer_addr(&self) -> io::Result<Addr> {
        match self {
            Stream::Tcp(s) => s.peer_addr().map(Addr::from),
            Stream::Unix(s) => s.peer_addr().map(Addr::from),
            Stream::Fd(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a pipe has no peer address",
            )),
            Stream::Memory(m) => Ok(m.peer.clone()),
        }
    }

    pub(crate) fn local_addr(&self) -> io::Result<Addr> {
        match self {
            Stream::Tcp(s) => s.local_addr().map(Addr::from),
            Stream::Unix(s) => s.local_addr().map(Addr::from),
            Stream::Fd(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a pipe has no local address",
            )),
            Stream::Memory(_) => Ok(Addr::Unix(None)),
        }
    }

    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(Shutdown::Write),
            Stream::Unix(s) => s.shutdown(Shutdown::Write),
            Stream::Fd(_) | Stream::Memory(_) => Ok(()),
        }
    }

    /// One `recv` (or `read` for a pipe) into `buf`: the hot path's read.
    #[inline(always)]
    pub(crate) fn recv(&mut self, buf: &mut [u8]) -> Io {
        if let Stream::Tcp(s) = self {
            return sys::recv(s.as_raw_fd(), buf);
        }
        self.recv_other(buf)
    }

    fn recv_other(&mut self, buf: &mut [u8]) -> Io {
        match self {
            Stream::Tcp(s) => sys::recv(s.as_raw_fd(), buf),
            Stream::Unix(s) => sys::recv(s.as_raw_fd(), buf),
            Stream::Fd(f) => retry(|| f.read(buf)),
            Stream::Memory(_) => Io::WouldBlock,
        }
    }

    /// One `send` (or `write` for a pipe) of `buf`: the hot path's write.
    #[inline(always)]
    pub(crate) fn send(&mut self, buf: &[u8]) -> Io {
        if let Stream::Tcp(s) = self {
            return sys::send(s.as_raw_fd(), buf);
        }
        self.send_other(buf)
    }

    fn send_other(&mut self, buf: &[u8]) -> Io {
        match self {
            Stream::Tcp(s) => sys::send(s.as_raw_fd(), buf),
            Stream::Unix(s) => sys::send(s.as_raw_fd(), buf),
            Stream::Fd(f) => retry(|| f.write(buf)),
            Stream::Memory(m) => {
                m.written.borrow_mut().extend_from_slice(buf);
                Io::Done(buf.len())
            }
        }
    }

    /// One call sending `first` then `second` (`sendmsg` with two buffers on
    /// a socket), so a batch and a large write need neither a copy nor a
    /// second system call.
    pub(crate) fn send2(&mut self, first: &[u8], second: &[u8]) -> Io {
        match self {
            Stream::Tcp(s) => sys::send2(s.as_raw_fd(), first, second),
            Stream::Unix(s) => sys::send2(s.as_raw_fd(), first, second),
            // A pipe: one write of the first part; the caller queues the rest.
            _ if !first.is_empty() => self.send(first),
            _ => self.send(second),
        }
    }

    /// Writes all of `data` unless the stream refuses: returns how much went
    /// out and whether the stream refused the rest (`WouldBlock` is not an
    /// error here, it is a short count).
    #[inline]
    pub(crate) fn write_some(&mut self, data: &[u8]) -> io::Result<(usize, bool)> {
        let mut sent = 0;
        while sent < data.len() {
            match self.send(&data[sent..]) {
                Io::Done(0) => return Err(io::ErrorKind::WriteZero.into()),
                Io::Done(n) => sent += n,
                Io::WouldBlock => return Ok((sent, true)),
                Io::Failed(e) => return Err(e),
            }
        }
        Ok((sent, false))
    }
}

/// A pipe's `read` or `write` as an [`Io`], retried on `EINTR`.
fn retry(mut call: impl FnMut() -> io::Result<usize>) -> Io {
    loop {
        match call() {
            Ok(n) => return Io::Done(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Io::WouldBlock,
            Err(e) => return Io::Failed(e),
        }
    }
}

impl From<Io> for io::Result<usize> {
    fn from(io: Io) -> Self {
        match io {
            Io::Done(n) => Ok(n),
            Io::WouldBlock => Err(io::ErrorKind::WouldBlock.into()),
            Io::Failed(e) => Err(e),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(buf).into()
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send(buf).into()
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// State flags of a connection, as bits so the struct stays small.
pub(crate) mod flag {
    /// `connection_made` was called (so `connection_lost` is owed).
    pub const MADE: u16 = 1 << 0;
    /// An outgoing connect is in progress.
    pub const CONNECTING: u16 = 1 << 1;
    /// The peer sent EOF; nothing more to read.
    pub const EOF: u16 = 1 << 2;
    /// The protocol asked to stop reading (`Ctx::pause_reading`).
    pub const READ_PAUSED: u16 = 1 << 3;
    /// Output went over the high watermark; `pause_writing` was called.
    pub const WRITE_PAUSED: u16 = 1 << 4;
    /// The last write was refused; wait for a writable edge before writing again.
    pub const WRITE_BLOCKED: u16 = 1 << 5;
    /// Close once the output is flushed.
    pub const CLOSING: u16 = 1 << 6;
    /// Half-close (shutdown of our write side) once the output is flushed.
    pub const SHUT_WRITE: u16 = 1 << 7;
    /// Our write side is shut down; nothing more can be written.
    pub const WRITE_DONE: u16 = 1 << 8;
    /// Close now; the reason waits in `Core::doomed`.
    pub const ABORT: u16 = 1 << 9;
    /// Queued for `Core::settle`.
    pub const DIRTY: u16 = 1 << 10;
    /// The protocol is gone; we only drain what the peer still sends before
    /// closing so that our last bytes are not lost to a reset.
    pub const LINGERING: u16 = 1 << 11;
    /// The fd cannot be polled (a regular file as stdin): always treat it as readable.
    pub const ALWAYS_READY: u16 = 1 << 12;
    /// Reading was resumed: deliver the unconsumed input again before reading more.
    pub const REDELIVER: u16 = 1 << 13;
    /// The poller reported the peer's hang-up (EPOLLRDHUP/EPOLLHUP): the next
    /// short read does not mean "drained", the EOF is still to be read.
    pub const HUP: u16 = 1 << 14;
    /// Any of these: the reactor does not read from the connection now.
    pub const NOT_READING: u16 = EOF | READ_PAUSED | WRITE_PAUSED | CLOSING | ABORT | CONNECTING;
    /// Any of these: no more output may be queued.
    pub const REFUSES_OUTPUT: u16 = WRITE_DONE | SHUT_WRITE | CLOSING | ABORT | LINGERING;
}

/// Rarely used per-connection state, boxed so that connections without it
/// pay one pointer.
pub(crate) struct Extra {
    pub(crate) idle_timeout: Duration,
    pub(crate) last_active: Instant,
    pub(crate) idle_timer: Option<TimerId>,
}

/// One connection in the reactor's slab.
pub(crate) struct Conn<S> {
    pub(crate) stream: Stream,
    /// `None` only while one of its callbacks runs (the reactor lends it out
    /// so the callback can reach every other connection through the context).
    pub(crate) protocol: Option<Box<dyn Protocol<S>>>,
    /// Received bytes the protocol has not consumed yet.
    pub(crate) input: Buffer,
    /// Bytes the socket refused so far.
    pub(crate) output: Buffer,
    pub(crate) flags: u16,
    pub(crate) extra: Option<Box<Extra>>,
}

impl<S> Conn<S> {
    pub(crate) fn new(stream: Stream, protocol: Box<dyn Protocol<S>>) -> Self {
        Conn {
            stream,
            protocol: Some(protocol),
            input: Buffer::default(),
            output: Buffer::default(),
            flags: 0,
            extra: None,
        }
    }

    pub(crate) fn has(&self, bits: u16) -> bool {
        self.flags & bits != 0
    }

    pub(crate) fn set(&mut self, bits: u16) {
        self.flags |= bits;
    }

    pub(crate) fn clear(&mut self, bits: u16) {
        self.flags &= !bits;
    }

    /// Whether the reactor should read from this connection now.
    pub(crate) fn wants_read(&self) -> bool {
        !self.has(flag::NOT_READING)
    }

    /// Whether more output may still be queued.
    pub(crate) fn accepts_output(&self) -> bool {
        !self.has(flag::REFUSES_OUTPUT)
    }
}
