//! The byte stream under a transport: TCP, called straight on the hot
//! path, or anything else behind the [`ByteStream`] trait.

use std::io;
use std::net::Shutdown;

use mio::net::{TcpStream, UnixStream};
use mio::{Interest, Registry, Token};

use crate::addr::Addr;
use crate::sys::{self, Io};

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
    /// The connection is closing with `bytes` still queued for the peer,
    /// which will never be sent. Only a stream that checks delivery (the
    /// harness' simulated network) cares: real streams are told nothing.
    fn discarded(&mut self, bytes: &[u8]) {
        let _ = bytes;
    }
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
