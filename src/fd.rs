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

/// A non-blocking raw fd that restores its original file status flags on drop.
pub(crate) struct FdStream {
    file: File,
    original_flags: libc::c_int,
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

impl Read for FdStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }
}

impl Write for FdStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
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
        let err = stream.read(&mut [0; 8]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        drop(stream);
        assert_eq!(flags(dup.as_raw_fd()) & libc::O_NONBLOCK, 0);
    }
}
