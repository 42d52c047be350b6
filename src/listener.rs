//! Listening sockets: TCP and Unix stream acceptors, with the factory that
//! makes a protocol for each accepted connection and an optional accept filter.

use std::fs;
use std::io;
use std::net::ToSocketAddrs;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use mio::net::{TcpListener, UnixListener};

use crate::addr::Addr;
use crate::conn::Stream;
use crate::protocol::Protocol;

/// Makes the protocol for each accepted connection (Twisted's factory,
/// socketserver's `RequestHandlerClass`).
pub(crate) type Factory<S> = Box<dyn FnMut() -> Box<dyn Protocol<S>>>;
/// Decides whether to keep a freshly accepted peer (socketserver's `verify_request`).
pub(crate) type Filter = Box<dyn FnMut(&Addr) -> bool>;

pub(crate) enum Acceptor {
    Tcp(TcpListener),
    /// The path is removed again when the listener is dropped.
    Unix(UnixListener, PathBuf),
}

pub(crate) struct Listener<S> {
    pub(crate) acceptor: Acceptor,
    pub(crate) factory: Factory<S>,
    pub(crate) filter: Option<Filter>,
    /// Accepting is suspended after EMFILE/ENFILE until a retry timer fires.
    pub(crate) backing_off: bool,
}

impl Acceptor {
    pub(crate) fn accept(&self) -> io::Result<(Stream, Addr)> {
        match self {
            Acceptor::Tcp(l) => l.accept().map(|(s, a)| (Stream::Tcp(s), Addr::Inet(a))),
            Acceptor::Unix(l, _) => l.accept().map(|(s, a)| (Stream::Unix(s), Addr::from(a))),
        }
    }

    pub(crate) fn local_addr(&self) -> io::Result<Addr> {
        match self {
            Acceptor::Tcp(l) => l.local_addr().map(Addr::Inet),
            Acceptor::Unix(_, path) => Ok(Addr::Unix(Some(path.clone()))),
        }
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        if let Acceptor::Unix(_, path) = self {
            let _ = fs::remove_file(path);
        }
    }
}

/// Binds a TCP listener to the first address of `addr` that works.
pub(crate) fn bind_tcp(addr: impl ToSocketAddrs) -> io::Result<Acceptor> {
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address to bind");
    for addr in addr.to_socket_addrs()? {
        match TcpListener::bind(addr) {
            Ok(l) => return Ok(Acceptor::Tcp(l)),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Wraps an already bound std listener (for SO_REUSEPORT and other options
/// set by the caller).
pub(crate) fn from_std_tcp(listener: std::net::TcpListener) -> io::Result<Acceptor> {
    listener.set_nonblocking(true)?;
    Ok(Acceptor::Tcp(TcpListener::from_std(listener)))
}

/// Binds a Unix stream listener at `path`, replacing a stale socket file left
/// by a server that died, but refusing to steal the path from a live one.
pub(crate) fn bind_unix(path: &Path) -> io::Result<Acceptor> {
    remove_stale_socket(path)?;
    let listener = UnixListener::bind(path)?;
    Ok(Acceptor::Unix(listener, path.to_path_buf()))
}

/// Removes `path` if it is a socket nobody listens on any more.
pub(crate) fn remove_stale_socket(path: &Path) -> io::Result<()> {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("{} exists and is not a socket", path.display()),
        ));
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("{} is in use by a running server", path.display()),
        )),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => fs::remove_file(path),
        // A datagram socket answers connect with EPROTOTYPE; it is stale too if bind would fail.
        Err(_) => fs::remove_file(path),
    }
}

/// Whether an accept error means the process or system ran out of file
/// descriptors or memory: retrying at once would only spin.
pub(crate) fn is_resource_exhaustion(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}
