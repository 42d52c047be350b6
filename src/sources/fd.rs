//! Raw file descriptors as reactor sources: stdin, pipes to child processes,
//! terminals.
//!
//! The fd is switched to non-blocking mode while the reactor owns it and put
//! back the way it was when the reactor lets go, because the mode belongs to
//! the *open file description*: a terminal left non-blocking breaks the shell
//! that started us.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use mio::unix::SourceFd;
use mio::{Registry, Token};

use crate::addr::Addr;
use crate::core::Core;
use crate::protocol::Protocol;
use crate::sys::Io;
use crate::transport::{BOTH, ByteStream, Stream};

/// A non-blocking raw fd that restores its original file status flags on drop.
pub(crate) struct FdStream {
    file: File,
    original_flags: libc::c_int,
    /// mio's portable `poll(2)` backend stops reporting an fd after an event
    /// until it is re-armed, which mio does in its own I/O calls only: a raw
    /// fd is re-registered here whenever a call returns `WouldBlock`.
    #[cfg(mio_unsupported_force_poll_poll)]
    registration: Option<(Registry, Token)>,
}

impl FdStream {
    /// Takes ownership of `fd` and makes it non-blocking.
    pub(crate) fn new(fd: OwnedFd) -> io::Result<FdStream> {
        let raw = fd.as_raw_fd();
        // SAFETY: fcntl on an fd we own, with integer arguments only.
        let original_flags = unsafe { libc::fcntl(raw, libc::F_GETFL) };
        if original_flags < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: as above.
        if unsafe { libc::fcntl(raw, libc::F_SETFL, original_flags | libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(FdStream {
            file: File::from(fd),
            original_flags,
            #[cfg(mio_unsupported_force_poll_poll)]
            registration: None,
        })
    }

    /// A duplicate of this process's standard input, so that closing the
    /// source never closes fd 0 itself.
    pub(crate) fn stdin() -> io::Result<FdStream> {
        let fd = io::stdin().as_fd_owned()?;
        FdStream::new(fd)
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

/// `dup` for the standard streams.
trait DupFd {
    fn as_fd_owned(&self) -> io::Result<OwnedFd>;
}

impl DupFd for io::Stdin {
    fn as_fd_owned(&self) -> io::Result<OwnedFd> {
        use std::os::fd::AsFd;
        self.as_fd().try_clone_to_owned()
    }
}

impl Drop for FdStream {
    fn drop(&mut self) {
        // SAFETY: fcntl on the fd we still own.
        unsafe { libc::fcntl(self.file.as_raw_fd(), libc::F_SETFL, self.original_flags) };
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

impl FdStream {
    /// What a call returned, after re-arming the fd if it would block and
    /// the backend needs that (see [`FdStream::registration`]).
    fn rearmed(&self, io: Io) -> Io {
        #[cfg(mio_unsupported_force_poll_poll)]
        if let (Io::WouldBlock, Some((registry, token))) = (&io, &self.registration) {
            if let Err(e) = registry.reregister(&mut SourceFd(&self.raw_fd()), *token, BOTH) {
                return Io::Failed(e);
            }
        }
        io
    }
}

impl ByteStream for FdStream {
    fn recv(&mut self, buf: &mut [u8]) -> Io {
        let io = retry(|| self.file.read(buf));
        self.rearmed(io)
    }
    fn send(&mut self, buf: &[u8]) -> Io {
        let io = retry(|| self.file.write(buf));
        self.rearmed(io)
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn peer_addr(&self) -> io::Result<Addr> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "a pipe has no peer address",
        ))
    }
    fn local_addr(&self) -> io::Result<Addr> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "a pipe has no local address",
        ))
    }
    fn is_socket(&self) -> bool {
        false
    }
    fn register(&mut self, registry: &Registry, token: Token) -> io::Result<bool> {
        match registry.register(&mut SourceFd(&self.raw_fd()), token, BOTH) {
            Ok(()) => {
                #[cfg(mio_unsupported_force_poll_poll)]
                {
                    self.registration = Some((registry.try_clone()?, token));
                }
                Ok(false)
            }
            // epoll refuses regular files and /dev/null: they are always
            // ready, so read them without waiting for an event.
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => Ok(true),
            Err(e) => Err(e),
        }
    }
    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        registry.deregister(&mut SourceFd(&self.raw_fd()))
    }
}

/// Adds a raw fd (a pipe, a child's stdout, a terminal) as a stream for `protocol`.
pub(crate) fn add<S: 'static>(
    core: &mut Core<S>,
    fd: OwnedFd,
    protocol: Box<dyn Protocol<S>>,
) -> io::Result<Token> {
    let stream = FdStream::new(fd)?;
    super::stream::add(core, Stream::Other(Box::new(stream)), protocol, false)
}

/// Adds this process's standard input as a stream for `protocol`.
pub(crate) fn add_stdin<S: 'static>(
    core: &mut Core<S>,
    protocol: Box<dyn Protocol<S>>,
) -> io::Result<Token> {
    let stream = FdStream::stdin()?;
    super::stream::add(core, Stream::Other(Box::new(stream)), protocol, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::FromRawFd;

    fn pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: pipe writes two fds into the array.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: both fds are fresh and owned by nobody else.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    fn flags(fd: RawFd) -> libc::c_int {
        // SAFETY: F_GETFL on a valid fd.
        unsafe { libc::fcntl(fd, libc::F_GETFL) }
    }

    #[test]
    fn nonblocking_while_owned_and_restored_after() {
        let (read_end, _write_end) = pipe();
        let dup = read_end.try_clone().unwrap();
        assert_eq!(flags(dup.as_raw_fd()) & libc::O_NONBLOCK, 0);
        let mut stream = FdStream::new(read_end).unwrap();
        // The mode is shared by duplicates: that is why it must be restored.
        assert_ne!(flags(dup.as_raw_fd()) & libc::O_NONBLOCK, 0);
        assert!(matches!(stream.recv(&mut [0; 8]), Io::WouldBlock));
        drop(stream);
        assert_eq!(flags(dup.as_raw_fd()) & libc::O_NONBLOCK, 0);
    }
}
