//! A stream connection's transport: the byte stream under it, its state
//! flags, its input and output buffers, and the send / queue / flush path.
//!
//! It knows no protocol (asyncio keeps its Transport beside the Protocol, not
//! inside it): the reactor lends the protocol out for each callback and works
//! on the transport in between. Kept small on purpose: an idle connection is
//! this struct, its protocol box and nothing else, so ten thousand of them
//! cost ten thousand of these (see `buffer.rs`).

use std::io;
use std::net::Shutdown;
use std::time::{Duration, Instant};

use mio::net::{TcpStream, UnixStream};
use mio::{Interest, Registry, Token};

use crate::addr::Addr;
use crate::buffer::{Buffer, Pool};
use crate::sys::{self, Io};
use crate::timer::TimerId;

/// The byte stream under a transport.
///
/// TCP is the stream a busy server reads and writes most, so it is the one
/// the hot path calls straight (`recv(2)`/`send(2)` on its fd, inlined).
/// Every other stream (Unix sockets, pipes, the harness' simulated stream)
/// sits behind [`ByteStream`], one dynamic call away.
pub(crate) enum Stream {
    Tcp(TcpStream),
    Other(Box<dyn ByteStream>),
}

/// A byte stream other than TCP: what a transport needs of it.
pub(crate) trait ByteStream {
    /// One read into `buf`.
    fn recv(&mut self, buf: &mut [u8]) -> Io;
    /// One write of `buf`.
    fn send(&mut self, buf: &[u8]) -> Io;
    /// One write of `first` then `second`; by default only as much of
    /// `first` as one write takes (the caller queues the rest).
    fn send2(&mut self, first: &[u8], second: &[u8]) -> Io {
        if first.is_empty() {
            self.send(second)
        } else {
            self.send(first)
        }
    }
    /// Shuts down the writing side (the peer reads EOF; a TLS layer sends
    /// its `close_notify` first).
    fn shutdown_write(&mut self) -> io::Result<()>;
    /// A clean close is coming: a TLS layer sends its `close_notify`.
    fn finish(&mut self) {}
    /// Output the stream holds and its fd has not taken yet (a TLS layer's
    /// ciphertext): counted as queued.
    fn held(&self) -> usize {
        0
    }
    /// Writes what the stream holds; `Done(0)` once nothing is held.
    fn flush_held(&mut self) -> Io {
        Io::Done(0)
    }
    /// The TLS layer, if this stream is one.
    #[cfg(feature = "tls")]
    fn tls(&self) -> Option<&crate::tls::TlsStream> {
        None
    }
    /// The TLS layer, if this stream is one, to drive its handshake.
    #[cfg(feature = "tls")]
    fn tls_mut(&mut self) -> Option<&mut crate::tls::TlsStream> {
        None
    }
    /// The peer's address, for sockets.
    fn peer_addr(&self) -> io::Result<Addr>;
    /// The local address, for sockets.
    fn local_addr(&self) -> io::Result<Addr>;
    /// A pending socket error (a refused connect, a reset), taken.
    fn take_error(&self) -> io::Result<Option<io::Error>> {
        Ok(None)
    }
    /// Whether this is a network connection (not a pipe): what
    /// `connections()`, `broadcast` and the connection limit count.
    fn is_socket(&self) -> bool;
    /// Registers for readiness with `token`. Returns true for a stream the
    /// poller cannot watch (a regular file), which is then always ready.
    fn register(&mut self, registry: &Registry, token: Token) -> io::Result<bool>;
    /// Undoes [`ByteStream::register`].
    fn deregister(&mut self, registry: &Registry) -> io::Result<()>;
}

/// Every stream is registered for both directions, once (see docs/design.md).
pub(crate) const BOTH: Interest = Interest::READABLE.add(Interest::WRITABLE);

impl ByteStream for UnixStream {
    fn recv(&mut self, buf: &mut [u8]) -> Io {
        sys::on(self, |fd| sys::recv(fd, buf))
    }
    fn send(&mut self, buf: &[u8]) -> Io {
        sys::on(self, |fd| sys::send(fd, buf))
    }
    fn send2(&mut self, first: &[u8], second: &[u8]) -> Io {
        sys::on(self, |fd| sys::send2(fd, first, second))
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
    fn peer_addr(&self) -> io::Result<Addr> {
        UnixStream::peer_addr(self).map(Addr::from)
    }
    fn local_addr(&self) -> io::Result<Addr> {
        UnixStream::local_addr(self).map(Addr::from)
    }
    fn take_error(&self) -> io::Result<Option<io::Error>> {
        UnixStream::take_error(self)
    }
    fn is_socket(&self) -> bool {
        true
    }
    fn register(&mut self, registry: &Registry, token: Token) -> io::Result<bool> {
        registry.register(self, token, BOTH).map(|()| false)
    }
    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        registry.deregister(self)
    }
}

impl Stream {
    /// One `recv` (or `read` for a pipe) into `buf`: the hot path's read.
    #[inline(always)]
    pub(crate) fn recv(&mut self, buf: &mut [u8]) -> Io {
        match self {
            Stream::Tcp(s) => sys::on(s, |fd| sys::recv(fd, buf)),
            Stream::Other(s) => s.recv(buf),
        }
    }

    /// One `send` (or `write` for a pipe) of `buf`: the hot path's write.
    #[inline(always)]
    pub(crate) fn send(&mut self, buf: &[u8]) -> Io {
        match self {
            Stream::Tcp(s) => sys::on(s, |fd| sys::send(fd, buf)),
            Stream::Other(s) => s.send(buf),
        }
    }

    /// One call sending `first` then `second` (`sendmsg` with two buffers on
    /// a socket), so a batch and a large write need neither a copy nor a
    /// second system call.
    pub(crate) fn send2(&mut self, first: &[u8], second: &[u8]) -> Io {
        match self {
            Stream::Tcp(s) => sys::on(s, |fd| sys::send2(fd, first, second)),
            Stream::Other(s) => s.send2(first, second),
        }
    }

    pub(crate) fn is_socket(&self) -> bool {
        match self {
            Stream::Tcp(_) => true,
            Stream::Other(s) => s.is_socket(),
        }
    }

    pub(crate) fn peer_addr(&self) -> io::Result<Addr> {
        match self {
            Stream::Tcp(s) => s.peer_addr().map(Addr::Inet),
            Stream::Other(s) => s.peer_addr(),
        }
    }

    pub(crate) fn local_addr(&self) -> io::Result<Addr> {
        match self {
            Stream::Tcp(s) => s.local_addr().map(Addr::Inet),
            Stream::Other(s) => s.local_addr(),
        }
    }

    pub(crate) fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(Shutdown::Write),
            Stream::Other(s) => s.shutdown_write(),
        }
    }

    /// A clean close is coming (see [`ByteStream::finish`]).
    pub(crate) fn finish(&mut self) {
        if let Stream::Other(s) = self {
            s.finish();
        }
    }

    /// The TLS layer, if this is one.
    #[cfg(feature = "tls")]
    pub(crate) fn tls_stream(&self) -> Option<&crate::tls::TlsStream> {
        match self {
            Stream::Other(s) => s.tls(),
            Stream::Tcp(_) => None,
        }
    }

    /// The TLS layer, if this is one, to drive it.
    #[cfg(feature = "tls")]
    pub(crate) fn tls_mut_stream(&mut self) -> Option<&mut crate::tls::TlsStream> {
        match self {
            Stream::Other(s) => s.tls_mut(),
            Stream::Tcp(_) => None,
        }
    }

    /// Output a layered stream holds (see [`ByteStream::held`]).
    pub(crate) fn held(&self) -> usize {
        match self {
            Stream::Tcp(_) => 0,
            Stream::Other(s) => s.held(),
        }
    }

    pub(crate) fn take_error(&self) -> io::Result<Option<io::Error>> {
        match self {
            Stream::Tcp(s) => s.take_error(),
            Stream::Other(s) => s.take_error(),
        }
    }

    /// Whether an outgoing connect finished: `Ok` once connected, the error
    /// if it failed, `NotConnected` while it is still in progress.
    pub(crate) fn connect_outcome(&self) -> io::Result<()> {
        match self.take_error()? {
            Some(e) => Err(e),
            None => self.peer_addr().map(drop),
        }
    }

    pub(crate) fn register(&mut self, registry: &Registry, token: Token) -> io::Result<bool> {
        match self {
            Stream::Tcp(s) => registry.register(s, token, BOTH).map(|()| false),
            Stream::Other(s) => s.register(registry, token),
        }
    }

    pub(crate) fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => registry.deregister(s),
            Stream::Other(s) => s.deregister(registry),
        }
    }
}

/// State flags of a transport, as bits so the struct stays small.
pub(crate) mod flag {
    /// `connection_made` was called (so `connection_lost` is owed).
    pub const MADE: u32 = 1 << 0;
    /// An outgoing connect is in progress.
    pub const CONNECTING: u32 = 1 << 1;
    /// A file queued with `send_file` is not all sent yet: later output
    /// queues behind it (see `sendfile.rs`). In the low byte, with the
    /// other bits `can_send_now` tests, so the test stays one instruction.
    pub const FILE: u32 = 1 << 2;
    /// The protocol asked to stop reading (`Ctx::pause_reading`).
    pub const READ_PAUSED: u32 = 1 << 3;
    /// Output went over the high watermark; `pause_writing` was called.
    pub const WRITE_PAUSED: u32 = 1 << 4;
    /// The last write was refused; wait for a writable edge before writing again.
    pub const WRITE_BLOCKED: u32 = 1 << 5;
    /// Close once the output is flushed.
    pub const CLOSING: u32 = 1 << 6;
    /// Half-close (shutdown of our write side) once the output is flushed.
    pub const SHUT_WRITE: u32 = 1 << 7;
    /// Our write side is shut down; nothing more can be written.
    pub const WRITE_DONE: u32 = 1 << 8;
    /// Close now; the reason waits in the core's list of doomed connections.
    pub const ABORT: u32 = 1 << 9;
    /// Queued for settling.
    pub const DIRTY: u32 = 1 << 10;
    /// The protocol is gone; we only drain what the peer still sends before
    /// closing so that our last bytes are not lost to a reset.
    pub const LINGERING: u32 = 1 << 11;
    /// The fd cannot be polled (a regular file as stdin): always treat it as readable.
    pub const ALWAYS_READY: u32 = 1 << 12;
    /// Reading was resumed: deliver the unconsumed input again before reading more.
    pub const REDELIVER: u32 = 1 << 13;
    /// The poller reported the peer's hang-up (EPOLLRDHUP/EPOLLHUP): the next
    /// short read does not mean "drained", the EOF is still to be read.
    pub const HUP: u32 = 1 << 14;
    /// The peer sent EOF; nothing more to read.
    pub const EOF: u32 = 1 << 15;
    /// The stream is a layer (TLS) that holds output of its own: what it
    /// holds counts as queued, its connection flushes on every writable
    /// edge, and its writes never take the armed batch's shortcut.
    pub const LAYERED: u32 = 1 << 16;
    /// A TLS handshake is under way: reads drive it, and the protocol hears
    /// nothing until it is done (`src/tls/handshake.rs`).
    pub const HANDSHAKING: u32 = 1 << 17;
    /// Any of these: the reactor does not read from the connection now.
    pub const NOT_READING: u32 = EOF | READ_PAUSED | WRITE_PAUSED | CLOSING | ABORT | CONNECTING;
    /// Any of these: no more output may be queued.
    pub const REFUSES_OUTPUT: u32 = WRITE_DONE | SHUT_WRITE | CLOSING | ABORT | LINGERING;
    /// Any of these: a close has begun; the connection no longer counts as open.
    pub const CLOSED: u32 = CLOSING | ABORT | LINGERING;
}

/// Rarely used per-connection state, boxed so that connections without it
/// pay one pointer.
pub(crate) struct Extra {
    pub(crate) idle_timeout: Duration,
    pub(crate) last_active: Instant,
    pub(crate) idle_timer: Option<TimerId>,
}

/// A stream, its flags and its buffers. See the module documentation.
pub(crate) struct Transport {
    pub(crate) stream: Stream,
    /// Received bytes the protocol has not consumed yet.
    input: Buffer,
    /// Bytes the socket refused so far.
    output: Buffer,
    flags: u32,
    /// A network connection, not a pipe (asked of the stream once). Also
    /// where the table's enum finds room for its tag, so that an idle
    /// connection stays at 104 bytes.
    is_socket: bool,
    pub(crate) extra: Option<Box<Extra>>,
}

impl Transport {
    pub(crate) fn new(stream: Stream, flags: u32) -> Self {
        let is_socket = stream.is_socket();
        Transport {
            stream,
            input: Buffer::default(),
            output: Buffer::default(),
            flags,
            is_socket,
            extra: None,
        }
    }

    /// Whether this is a network connection (as opposed to a pipe), which is
    /// what `connections()`, `broadcast` and the connection limit count.
    #[inline]
    pub(crate) fn is_socket(&self) -> bool {
        self.is_socket
    }

    #[inline(always)]
    pub(crate) fn has(&self, bits: u32) -> bool {
        self.flags & bits != 0
    }

    #[inline(always)]
    pub(crate) fn set(&mut self, bits: u32) {
        self.flags |= bits;
    }

    #[inline(always)]
    pub(crate) fn clear(&mut self, bits: u32) {
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

    /// Whether a write may go to the socket at once: nothing queued ahead of
    /// it (bytes or a file), connected, and the socket not known to be full.
    #[inline(always)]
    pub(crate) fn can_send_now(&self) -> bool {
        self.output.is_empty() && !self.has(flag::WRITE_BLOCKED | flag::CONNECTING | flag::FILE)
    }

    /// Bytes in the output buffer, not yet taken by the socket, and what a
    /// layered stream (TLS) holds. (Files queued with `send_file` are
    /// counted apart: `Core::unsent`.)
    #[inline]
    pub(crate) fn queued(&self) -> usize {
        if self.has(flag::LAYERED) {
            self.output.len() + self.stream.held()
        } else {
            self.output.len()
        }
    }

    /// Bytes in the output buffer alone: what the hot path asks, where a
    /// layered stream is told apart by its flag.
    #[inline(always)]
    pub(crate) fn output_len(&self) -> usize {
        self.output.len()
    }

    /// Received bytes not consumed yet.
    pub(crate) fn input(&self) -> &[u8] {
        self.input.as_slice()
    }

    pub(crate) fn has_input(&self) -> bool {
        !self.input.is_empty()
    }

    /// Keeps `bytes` (left unconsumed by the protocol) for the next delivery.
    pub(crate) fn keep_input(&mut self, pool: &mut Pool, bytes: &[u8]) {
        self.input.extend(pool, bytes);
    }

    /// Takes the input buffer out to deliver it (see [`Transport::restore_input`]).
    pub(crate) fn take_input(&mut self) -> Buffer {
        std::mem::take(&mut self.input)
    }

    /// Puts a delivered input buffer back, with `used` bytes consumed.
    pub(crate) fn restore_input(&mut self, pool: &mut Pool, mut input: Buffer, used: usize) {
        input.consume(used);
        self.input = input;
        self.input.release(pool);
    }

    /// One read appended to the input buffer: the bytes read and how many
    /// the buffer had room for (a read that filled it may have left more).
    pub(crate) fn read_into_input(&mut self, pool: &mut Pool) -> (Io, usize) {
        let Transport { stream, input, .. } = self;
        input.read_from(pool, |buf| stream.recv(buf))
    }

    /// Gives both buffers' storage back to the pool, dropping what they hold.
    pub(crate) fn release_buffers(&mut self, pool: &mut Pool) {
        self.drop_input(pool);
        self.output.consume(usize::MAX);
        self.output.release(pool);
    }

    /// Gives the input buffer's storage back once it is empty.
    pub(crate) fn release_input(&mut self, pool: &mut Pool) {
        self.input.release(pool);
    }

    /// Drops unconsumed input (the connection will read no more).
    pub(crate) fn drop_input(&mut self, pool: &mut Pool) {
        self.input.consume(usize::MAX);
        self.input.release(pool);
    }

    /// Takes the queued output out (STARTTLS: plaintext still owed to the
    /// peer ahead of the first TLS record).
    #[cfg(feature = "tls")]
    pub(crate) fn take_output(&mut self, pool: &mut Pool) -> Vec<u8> {
        let bytes = self.output.as_slice().to_vec();
        self.output.consume(usize::MAX);
        self.output.release(pool);
        bytes
    }

    /// Gives the output buffer's storage back once it is empty.
    pub(crate) fn release_output(&mut self, pool: &mut Pool) {
        self.output.release(pool);
    }

    /// Sends `data` now if nothing is waiting ahead of it and the socket is
    /// not known to be full; queues whatever the socket refuses. The whole
    /// send is the inlined common case; a short or refused send takes the
    /// slow path.
    #[inline]
    pub(crate) fn send_or_queue(&mut self, pool: &mut Pool, data: &[u8]) -> io::Result<()> {
        if self.can_send_now() {
            match self.stream.send(data) {
                Io::Done(n) if n == data.len() => Ok(()),
                first => self.send_rest(pool, data, first),
            }
        } else {
            self.output.extend(pool, data);
            Ok(())
        }
    }

    /// After a first `send` that did not take everything: keep sending what
    /// is left until the socket refuses, then queue the rest.
    #[cold]
    #[inline(never)]
    fn send_rest(&mut self, pool: &mut Pool, data: &[u8], first: Io) -> io::Result<()> {
        let mut sent = 0;
        let mut outcome = first;
        loop {
            match outcome {
                Io::Done(0) => return Err(io::ErrorKind::WriteZero.into()),
                Io::Done(n) => sent += n,
                Io::WouldBlock => {
                    self.set(flag::WRITE_BLOCKED);
                    break;
                }
                Io::Failed(e) => return Err(e),
            }
            if sent == data.len() {
                return Ok(());
            }
            outcome = self.stream.send(&data[sent..]);
        }
        self.output.extend(pool, &data[sent..]);
        Ok(())
    }

    /// Sends `first` then `second` in one call (the batch and a large write,
    /// see `core/write.rs`), queuing what the socket refuses, in order.
    pub(crate) fn send_both(
        &mut self,
        pool: &mut Pool,
        first: &[u8],
        second: &[u8],
    ) -> io::Result<()> {
        let total = first.len() + second.len();
        let sent = if self.can_send_now() {
            match self.stream.send2(first, second) {
                Io::Done(n) => n,
                Io::WouldBlock => {
                    self.set(flag::WRITE_BLOCKED);
                    0
                }
                Io::Failed(e) => return Err(e),
            }
        } else {
            0
        };
        if sent < first.len() {
            self.output.extend(pool, &first[sent..]);
            self.output.extend(pool, second);
        } else if sent < total {
            self.output.extend(pool, &second[sent - first.len()..]);
        }
        Ok(())
    }

    /// Writes queued output until it is gone or the socket refuses.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.flush_front(usize::MAX).map(drop)
    }

    /// Writes the first `limit` bytes of queued output (those ahead of a
    /// queued file) until they are gone or the socket refuses; returns how
    /// many went out. What a layered stream holds goes first (it is ahead
    /// of everything in the buffer).
    pub(crate) fn flush_front(&mut self, limit: usize) -> io::Result<usize> {
        if self.has(flag::LAYERED) {
            if let Stream::Other(s) = &mut self.stream {
                match s.flush_held() {
                    Io::Done(_) => {}
                    Io::WouldBlock => {
                        self.set(flag::WRITE_BLOCKED);
                        return Ok(0);
                    }
                    Io::Failed(e) => return Err(e),
                }
            }
        }
        let mut sent = 0;
        while sent < limit && !self.output.is_empty() {
            let front = self.output.as_slice();
            let front = &front[..front.len().min(limit - sent)];
            match self.stream.send(front) {
                Io::Done(0) => return Err(io::ErrorKind::WriteZero.into()),
                Io::Done(n) => {
                    self.output.consume(n);
                    sent += n;
                }
                Io::WouldBlock => {
                    self.set(flag::WRITE_BLOCKED);
                    break;
                }
                Io::Failed(e) => return Err(e),
            }
        }
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn pair() -> (Transport, std::os::unix::net::UnixStream) {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let stream = Stream::Other(Box::new(UnixStream::from_std(a)));
        (Transport::new(stream, flag::MADE), b)
    }

    #[test]
    fn what_the_socket_refuses_is_queued_and_flushed_in_order() {
        let (mut t, mut peer) = pair();
        let mut pool = Pool::default();
        let big = vec![7u8; 4 << 20];
        t.send_or_queue(&mut pool, &big).unwrap();
        assert!(t.queued() > 0, "a 4 MiB write fits no socket buffer");
        assert!(t.has(flag::WRITE_BLOCKED));
        t.send_or_queue(&mut pool, b"tail").unwrap();
        let mut got = Vec::new();
        let mut buf = vec![0; 1 << 16];
        peer.set_nonblocking(true).unwrap();
        while got.len() < big.len() + 4 {
            match peer.read(&mut buf) {
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(_) => {
                    t.clear(flag::WRITE_BLOCKED);
                    t.flush().unwrap();
                }
            }
        }
        assert_eq!(&got[got.len() - 4..], b"tail");
        assert!(got[..big.len()].iter().all(|&b| b == 7));
        assert_eq!(t.queued(), 0);
    }

    #[test]
    fn two_buffers_go_out_in_one_call_and_the_rest_queues_behind() {
        let (mut t, mut peer) = pair();
        let mut pool = Pool::default();
        t.send_both(&mut pool, b"head ", b"body").unwrap();
        t.send_or_queue(&mut pool, b"!").unwrap();
        let mut buf = [0u8; 16];
        let n = peer.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"head body!");
    }

    /// An idle connection is its slab entry and nothing else; the transport
    /// is most of it.
    #[test]
    fn a_transport_stays_small() {
        assert!(
            std::mem::size_of::<Transport>() <= 88,
            "{}",
            std::mem::size_of::<Transport>()
        );
    }
}
