//! The two system calls of the hot path, made directly.
//!
//! Reading and writing a socket through `mio::net::TcpStream` goes
//! `mio → std → libc`, with an `io::Result` built and matched at each step.
//! On the path every echoed byte takes, those layers cost more user-space
//! instructions than the system call's own wrapper, so the reactor calls
//! `recv(2)` and `send(2)` itself on the socket's fd. The sockets stay owned
//! by mio (registration, accept, connect, close); only these calls bypass it.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

/// What one call did: bytes moved, the socket is full or drained
/// (`EAGAIN`), or a real error.
pub(crate) enum Io {
    Done(usize),
    WouldBlock,
    Failed(io::Error),
}

/// `recv(2)` into `buf`, retrying on `EINTR`.
#[inline(always)]
pub(crate) fn recv(fd: RawFd, buf: &mut [u8]) -> Io {
    loop {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the call.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n >= 0 {
            return Io::Done(n as usize);
        }
        match errno() {
            libc::EINTR => continue,
            e => return failure(e),
        }
    }
}

/// `send(2)` of `buf`, retrying on `EINTR`. `MSG_NOSIGNAL`: a peer that went
/// away is an `EPIPE` error for this connection, never a `SIGPIPE` for the
/// whole program that embeds the reactor.
#[inline(always)]
pub(crate) fn send(fd: RawFd, buf: &[u8]) -> Io {
    loop {
        // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the call.
        let n = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
        if n >= 0 {
            return Io::Done(n as usize);
        }
        match errno() {
            libc::EINTR => continue,
            e => return failure(e),
        }
    }
}

/// `sendmsg(2)` of two buffers in one call (what was batched, then a large
/// write); see [`sendv`].
pub(crate) fn send2(fd: RawFd, first: &[u8], second: &[u8]) -> Io {
    sendv(fd, &[io::IoSlice::new(first), io::IoSlice::new(second)])
}

/// `sendmsg(2)` of any number of buffers in one call (two for
/// [`send2`]; a TLS layer's records), retrying on `EINTR`; `MSG_NOSIGNAL` as
/// for [`send`].
pub(crate) fn sendv(fd: RawFd, bufs: &[io::IoSlice<'_>]) -> Io {
    // SAFETY: an all-zero msghdr is valid (no address, no control data).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    // IoSlice is ABI-compatible with iovec on Unix (std guarantees it), and
    // sendmsg only reads through the pointer.
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len().min(1024) as _; // IOV_MAX on Linux
    loop {
        // SAFETY: `msg` points at iovecs describing live, readable slices.
        let n = unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL) };
        if n >= 0 {
            return Io::Done(n as usize);
        }
        match errno() {
            libc::EINTR => continue,
            e => return failure(e),
        }
    }
}

/// A mio socket the calls above may bypass mio for.
pub(crate) trait Socket: AsRawFd {
    /// mio's `try_io`: runs `f`, and on mio's portable `poll(2)` backend
    /// re-arms the socket's interest if it returns `WouldBlock`.
    #[cfg_attr(not(mio_unsupported_force_poll_poll), allow(dead_code))]
    fn try_io<T>(&self, f: impl FnOnce() -> io::Result<T>) -> io::Result<T>;
}

impl Socket for mio::net::TcpStream {
    fn try_io<T>(&self, f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
        mio::net::TcpStream::try_io(self, f)
    }
}

impl Socket for mio::net::UnixStream {
    fn try_io<T>(&self, f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
        mio::net::UnixStream::try_io(self, f)
    }
}

/// Makes `call` on `socket`'s fd. With epoll or kqueue that is all. mio's
/// portable `poll(2)` backend, which emulates edge triggering, stops
/// reporting a socket after an event until an I/O call made through mio
/// returns `WouldBlock`; there the call goes through `try_io`, which re-arms it.
#[inline(always)]
pub(crate) fn on<S: Socket>(socket: &S, call: impl FnOnce(RawFd) -> Io) -> Io {
    #[cfg(not(mio_unsupported_force_poll_poll))]
    {
        call(socket.as_raw_fd())
    }
    #[cfg(mio_unsupported_force_poll_poll)]
    {
        let mut done = None;
        let outcome = socket.try_io(|| match call(socket.as_raw_fd()) {
            Io::WouldBlock => Err(io::ErrorKind::WouldBlock.into()),
            other => {
                done = Some(other);
                Ok(())
            }
        });
        match (done, outcome) {
            (Some(io), _) => io,
            (None, Err(e)) if e.kind() != io::ErrorKind::WouldBlock => Io::Failed(e),
            (None, _) => Io::WouldBlock,
        }
    }
}

pub(crate) fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

#[cold]
pub(crate) fn failure(errno: i32) -> Io {
    if errno == libc::EAGAIN || errno == libc::EWOULDBLOCK {
        Io::WouldBlock
    } else {
        Io::Failed(io::Error::from_raw_os_error(errno))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn send_and_recv_move_bytes_and_report_a_drained_socket() {
        let (a, b) = UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 16];
        assert!(matches!(recv(b.as_raw_fd(), &mut buf), Io::WouldBlock));
        assert!(matches!(send(a.as_raw_fd(), b"hello"), Io::Done(5)));
        assert!(matches!(recv(b.as_raw_fd(), &mut buf), Io::Done(5)));
        assert_eq!(&buf[..5], b"hello");
        drop(a);
        assert!(matches!(recv(b.as_raw_fd(), &mut buf), Io::Done(0)));
    }

    #[test]
    fn send2_sends_both_buffers_in_order() {
        let (a, b) = UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        assert!(matches!(
            send2(a.as_raw_fd(), b"head ", b"body"),
            Io::Done(9)
        ));
        let mut buf = [0u8; 16];
        assert!(matches!(recv(b.as_raw_fd(), &mut buf), Io::Done(9)));
        assert_eq!(&buf[..9], b"head body");
    }

    #[test]
    fn sending_to_a_closed_peer_is_an_error_not_a_signal() {
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        match send(a.as_raw_fd(), b"x") {
            Io::Failed(e) => assert_eq!(e.raw_os_error(), Some(libc::EPIPE)),
            _ => panic!("send to a closed peer succeeded"),
        }
    }
}
