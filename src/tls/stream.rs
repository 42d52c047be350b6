//! A TLS layer over a byte stream: plaintext in and out above, ciphertext
//! below.
//!
//! rustls is sans-I/O: it takes the bytes that came off the socket and
//! gives back the bytes to put on it, and never touches a socket itself. So
//! the layer is a [`ByteStream`] like any other: the read path's `recv`
//! reads ciphertext from the socket, feeds it to rustls and returns the
//! plaintext; `send` encrypts and writes. The rest of the reactor (buffers,
//! batching, flow control, closing) works on plaintext exactly as over TCP.
//!
//! Two things a plain socket does not do, and how the transport hears of
//! them:
//! - **It holds output.** Ciphertext the socket refused stays here (moved
//!   out of rustls into `held`, so its size is known): [`ByteStream::held`]
//!   counts it into `queued()`, so watermarks and the output limit see it,
//!   and the transport flushes it on the next writable edge (the
//!   `LAYERED` flag). Nothing new is encrypted while something is held, so
//!   what waits behind it waits as plaintext in the transport's buffer.
//! - **It must answer while reading.** Handshake messages, alerts, session
//!   tickets and key updates are produced by processing what arrived: they
//!   are written at once, and held if the socket refuses.
//!
//! A short read still means "drained", as on plain TCP: `recv` reads
//! ciphertext straight into the caller's buffer (one `recv(2)` for up to the
//! whole buffer, where rustls alone would read 4 KiB at a time), decrypts it
//! there in place, and only returns less than the buffer holds when the
//! socket had no more, so one TLS record per `recv` never leaves data behind
//! an edge that will not come again.

use std::io::{self, Read, Write};

use log::debug;
use mio::{Registry, Token};
use rustls::Connection;

use crate::addr::Addr;
use crate::sys::{self, Io};
use crate::timer::TimerId;
use crate::transport::{ByteStream, Stream};

/// Held output above this capacity is not kept once sent (a burst's buffer).
const KEEP_HELD: usize = 64 * 1024;

/// A TLS session over an inner stream. See the module documentation.
pub struct TlsStream {
    inner: Stream,
    pub(crate) conn: Connection,
    /// Bytes for the socket ahead of anything rustls still has: ciphertext
    /// the socket refused, or (after STARTTLS) plaintext written before the
    /// upgrade that the socket had not taken yet.
    held: Vec<u8>,
    /// How much of `held` is sent.
    held_at: usize,
    /// Our `close_notify` was queued.
    notified: bool,
    /// The handshake timer, cancelled when the handshake is over.
    pub(crate) timer: Option<TimerId>,
    /// Opened by us (`connect_tls`): a failed handshake is `connection_failed`.
    pub(crate) outgoing: bool,
}

/// The inner stream as `io::Read`/`io::Write` for rustls.
struct Wire<'a>(&'a mut Stream);

impl Read for Wire<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.recv(buf) {
            Io::Done(n) => Ok(n),
            Io::WouldBlock => Err(io::ErrorKind::WouldBlock.into()),
            Io::Failed(e) => Err(e),
        }
    }
}

impl Write for Wire<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        outcome(self.0.send(buf))
    }

    /// rustls hands over every record it has at once: one `sendmsg`.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self.0 {
            Stream::Tcp(s) => outcome(sys::on(&*s, |fd| sys::sendv(fd, bufs))),
            Stream::Other(_) => {
                let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| b);
                self.write(first)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn outcome(io: Io) -> io::Result<usize> {
    match io {
        Io::Done(n) => Ok(n),
        Io::WouldBlock => Err(io::ErrorKind::WouldBlock.into()),
        Io::Failed(e) => Err(e),
    }
}

/// A rustls error as an `io::Error` the protocol's `connection_lost` can read.
pub(crate) fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("TLS: {e}"))
}

impl TlsStream {
    /// A session over `inner`; `held` is plaintext to send before it
    /// (STARTTLS: what the socket had not taken before the upgrade).
    pub(crate) fn new(inner: Stream, conn: Connection, held: Vec<u8>) -> TlsStream {
        let outgoing = matches!(conn, Connection::Client(_));
        TlsStream {
            inner,
            conn,
            held,
            held_at: 0,
            notified: false,
            timer: None,
            outgoing,
        }
    }

    /// The rustls session, for [`crate::tls::TlsInfo`].
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Writes what is held, then what rustls has to send, until done or
    /// the socket refuses; what it refuses is moved into `held`.
    fn write_out(&mut self) -> Io {
        while self.held_at < self.held.len() {
            match self.inner.send(&self.held[self.held_at..]) {
                Io::Done(0) => return Io::Failed(io::ErrorKind::WriteZero.into()),
                Io::Done(n) => self.held_at += n,
                Io::WouldBlock => return self.hold_rest(),
                Io::Failed(e) => return Io::Failed(e),
            }
        }
        self.held.clear();
        self.held_at = 0;
        if self.held.capacity() > KEEP_HELD {
            self.held = Vec::new();
        }
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut Wire(&mut self.inner)) {
                Ok(0) => return Io::Failed(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return self.hold_rest(),
                Err(e) => return Io::Failed(e),
            }
        }
        Io::Done(0)
    }

    /// The socket is full: take what rustls still has into `held`, where
    /// its size is known.
    fn hold_rest(&mut self) -> Io {
        while self.conn.wants_write() {
            if self.conn.write_tls(&mut self.held).is_err() {
                break; // writing into a Vec does not fail
            }
        }
        Io::WouldBlock
    }

    /// Processes what arrived and writes whatever rustls answers (an alert
    /// too, before a failure is reported).
    pub(crate) fn process(&mut self) -> io::Result<()> {
        let result = self.conn.process_new_packets();
        if let Io::Failed(e) = self.write_out() {
            debug!("TLS write failed: {e}");
        }
        result.map(drop).map_err(tls_error)
    }

    /// Feeds the `k` bytes of ciphertext at the start of `room` to rustls
    /// and puts the plaintext they hold at the start of `room`, in place:
    /// rustls takes ciphertext in pieces of at most 4 KiB, and the plaintext
    /// of what it took is never longer than what it took (a record carries
    /// at least a header and a tag besides), so it always fits in front of
    /// the ciphertext still to be fed. One `recv` of up to the whole buffer
    /// rather than one per 4 KiB. Returns the plaintext bytes placed; what
    /// did not fit stays in rustls for the caller's next read of it. A
    /// failure comes with the plaintext of the records before it.
    fn decrypt_in_place(&mut self, room: &mut [u8], k: usize) -> (usize, Option<io::Error>) {
        let (mut fed, mut out) = (0, 0);
        while fed < k {
            let mut rest = &room[fed..k];
            let took = match self.conn.read_tls(&mut rest) {
                Ok(0) => break, // after the peer's close_notify nothing more is read
                Ok(took) => took,
                Err(e) => return (out, Some(e)),
            };
            fed += took;
            let processed = self.process();
            loop {
                match self.conn.reader().read(&mut room[out..fed]) {
                    Ok(0) => break,
                    Ok(p) => out += p,
                    Err(_) => break, // nothing yet, or an end the caller will read
                }
            }
            if let Err(e) = processed {
                return (out, Some(e));
            }
        }
        (out, None)
    }

    /// Feeds bytes that were read before the upgrade (STARTTLS) to rustls.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            self.conn.read_tls(&mut bytes)?;
            self.process()?;
        }
        Ok(())
    }

    /// One step of the handshake: read and process what came, write the
    /// answer. `Ok(true)` once the handshake is over.
    pub(crate) fn handshake(&mut self) -> io::Result<bool> {
        loop {
            if let Io::Failed(e) = self.write_out() {
                return Err(e);
            }
            if !self.conn.is_handshaking() {
                return Ok(true);
            }
            match self.conn.read_tls(&mut Wire(&mut self.inner)) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the peer closed the connection during the TLS handshake",
                    ));
                }
                Ok(_) => self.process()?,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }
}

impl ByteStream for TlsStream {
    /// Plaintext: what rustls has decrypted, then more from the socket,
    /// until `buf` is full or the socket would block. `Done(0)` after the
    /// peer's `close_notify`; an EOF without one is an error (a truncation).
    /// What arrived before an end or an error is delivered first.
    fn recv(&mut self, buf: &mut [u8]) -> Io {
        let mut n = 0;
        let mut drained = false;
        loop {
            let ended = match self.conn.reader().read(&mut buf[n..]) {
                Ok(0) => return Io::Done(n), // the peer's close_notify
                Ok(k) => {
                    n += k;
                    if n == buf.len() {
                        return Io::Done(n);
                    }
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Some(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the peer closed the connection without a TLS close_notify (truncated)",
                )),
                Err(e) => Some(e),
            };
            // With nothing to show for it, read again: a hang-up the read
            // path cannot see here may be right behind.
            if ended.is_none() && drained && n > 0 {
                return Io::Done(n);
            }
            let ended = match ended {
                Some(e) => Some(e),
                // More ciphertext, read straight into the free part of `buf`.
                None => match self.inner.recv(&mut buf[n..]) {
                    Io::Done(0) => {
                        // The socket's end: rustls learns it from an empty
                        // read, and its reader tells how it ended.
                        let _ = self.conn.read_tls(&mut &[][..]);
                        self.process().err()
                    }
                    Io::Done(k) => {
                        // A short read drained the socket, as on plain TCP
                        // (the read path's hang-up rule still applies): the
                        // reader is asked once more (a close_notify may have
                        // come), the socket only if that gave nothing.
                        drained = k < buf.len() - n;
                        let (plain, failed) = self.decrypt_in_place(&mut buf[n..], k);
                        n += plain;
                        failed
                    }
                    Io::WouldBlock => {
                        return if n > 0 { Io::Done(n) } else { Io::WouldBlock };
                    }
                    Io::Failed(e) => Some(e),
                },
            };
            if let Some(e) = ended {
                return if n > 0 { Io::Done(n) } else { Io::Failed(e) };
            }
        }
    }

    /// Encrypts and writes. While something is held, nothing new is taken
    /// (it waits, in order, in the transport's buffer); during a handshake
    /// neither.
    fn send(&mut self, buf: &[u8]) -> Io {
        self.send2(buf, &[])
    }

    fn send2(&mut self, first: &[u8], second: &[u8]) -> Io {
        if self.conn.is_handshaking() {
            return Io::WouldBlock;
        }
        match self.write_out() {
            Io::Done(_) => {}
            other => return other,
        }
        let mut taken = 0;
        for part in [first, second] {
            if part.is_empty() {
                continue;
            }
            match self.conn.writer().write(part) {
                Ok(k) => {
                    taken += k;
                    if k < part.len() {
                        break;
                    }
                }
                Err(e) => return Io::Failed(e),
            }
        }
        if taken == 0 {
            return Io::WouldBlock;
        }
        match self.write_out() {
            // Taken: what the socket refused is held, and counted.
            Io::Done(_) | Io::WouldBlock => Io::Done(taken),
            Io::Failed(e) => Io::Failed(e),
        }
    }

    /// `close_notify`, then the socket's own half-close.
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.finish();
        self.inner.shutdown_write()
    }

    fn finish(&mut self) {
        if !self.notified {
            self.notified = true;
            self.conn.send_close_notify();
            let _ = self.write_out();
        }
    }

    fn held(&self) -> usize {
        self.held.len() - self.held_at
    }

    fn flush_held(&mut self) -> Io {
        self.write_out()
    }

    fn peer_addr(&self) -> io::Result<Addr> {
        self.inner.peer_addr()
    }

    fn local_addr(&self) -> io::Result<Addr> {
        self.inner.local_addr()
    }

    fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.take_error()
    }

    fn is_socket(&self) -> bool {
        self.inner.is_socket()
    }

    fn register(&mut self, registry: &Registry, token: Token) -> io::Result<bool> {
        self.inner.register(registry, token)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        self.inner.deregister(registry)
    }

    fn tls(&self) -> Option<&TlsStream> {
        Some(self)
    }

    fn tls_mut(&mut self) -> Option<&mut TlsStream> {
        Some(self)
    }
}
