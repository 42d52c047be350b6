//! Listeners: TCP and Unix stream sockets that accept connections.
//!
//! A listener is registered for readability only. When it is readable the
//! reactor accepts until `WouldBlock`, the per-turn accept budget (the rest
//! wait on the ready list, so one busy listener cannot starve the
//! connections), the connection limit, or fd exhaustion. `EMFILE`/`ENFILE`
//! leave the connection in the backlog, so accepting again at once would
//! spin at 100% CPU: the listener backs off on a timer instead, while the
//! connections it has keep being served.

use std::fs;
use std::io;
use std::net::ToSocketAddrs;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use log::{error, info, warn};
use mio::net::{TcpListener, UnixListener};
use mio::{Interest, Registry, Token};

use super::{Source, stream};
use crate::addr::Addr;
use crate::core::{Core, TimerKind, show};
use crate::protocol::Protocol;
use crate::transport::Stream;

/// Makes the protocol of each accepted connection.
pub(crate) type Factory<S> = Box<dyn FnMut() -> Box<dyn Protocol<S>>>;
/// Decides, by its address, whether an accepted peer is kept.
pub(crate) type Filter = Box<dyn FnMut(&Addr) -> bool>;

/// The listening socket.
pub(crate) enum Acceptor {
    Tcp(TcpListener),
    /// A Unix listener and its socket file, removed when it closes.
    Unix(UnixListener, PathBuf),
    /// A listener the poller does not watch (the harness' simulated one,
    /// which reports its own readiness).
    Other(Box<dyn Accept>),
}

/// A listener other than TCP or Unix: what accepting needs of it.
pub(crate) trait Accept {
    /// One connection from the backlog, or why there is none.
    fn accept(&self) -> io::Result<(Stream, Addr)>;
    /// Where it listens.
    fn local_addr(&self) -> io::Result<Addr>;
}

/// A listener in the table.
pub(crate) struct Listener<S> {
    acceptor: Acceptor,
    factory: Factory<S>,
    filter: Option<Filter>,
    /// Accepting failed for lack of fds; a timer will try again.
    backing_off: bool,
    /// Accepted connections speak TLS with this configuration.
    #[cfg(feature = "tls")]
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
}

impl<S> Listener<S> {
    pub(super) fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        match &mut self.acceptor {
            Acceptor::Tcp(a) => registry.register(a, token, Interest::READABLE),
            Acceptor::Unix(a, _) => registry.register(a, token, Interest::READABLE),
            Acceptor::Other(_) => Ok(()),
        }
    }

    pub(super) fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match &mut self.acceptor {
            Acceptor::Tcp(a) => registry.deregister(a),
            Acceptor::Unix(a, _) => registry.deregister(a),
            Acceptor::Other(_) => Ok(()),
        }
    }

    pub(super) fn local_addr(&self) -> io::Result<Addr> {
        self.acceptor.local_addr()
    }
}

impl Acceptor {
    fn accept(&self) -> io::Result<(Stream, Addr)> {
        match self {
            Acceptor::Tcp(l) => l.accept().map(|(s, a)| (Stream::Tcp(s), Addr::Inet(a))),
            Acceptor::Unix(l, _) => l
                .accept()
                .map(|(s, a)| (Stream::Other(Box::new(s)), Addr::from(a))),
            Acceptor::Other(l) => l.accept(),
        }
    }

    fn local_addr(&self) -> io::Result<Addr> {
        match self {
            Acceptor::Tcp(l) => l.local_addr().map(Addr::Inet),
            Acceptor::Unix(_, path) => Ok(Addr::Unix(Some(path.clone()))),
            Acceptor::Other(l) => l.local_addr(),
        }
    }

    /// Binds a TCP listener on the first of `addr`'s addresses that works.
    pub(crate) fn bind_tcp(addr: impl ToSocketAddrs) -> io::Result<Acceptor> {
        let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address to bind");
        for addr in addr.to_socket_addrs()? {
            // Not mio's `TcpListener::bind`: its backlog is 128.
            match crate::workers::tcp_listener(addr) {
                Ok(l) => return Ok(Acceptor::Tcp(TcpListener::from_std(l))),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Adopts a listener bound by the caller (SO_REUSEPORT, inherited).
    pub(crate) fn from_std_tcp(listener: std::net::TcpListener) -> io::Result<Acceptor> {
        listener.set_nonblocking(true)?;
        Ok(Acceptor::Tcp(TcpListener::from_std(listener)))
    }

    /// Binds a Unix listener at `path`, replacing a dead server's socket file.
    pub(crate) fn bind_unix(path: &Path) -> io::Result<Acceptor> {
        remove_stale_socket(path)?;
        let listener = UnixListener::bind(path)?;
        Ok(Acceptor::Unix(listener, path.to_path_buf()))
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        if let Acceptor::Unix(_, path) = self {
            let _ = fs::remove_file(path);
        }
    }
}

/// Removes a Unix socket file left by a server that is gone. Refuses a file
/// that is not a socket, or a socket a live server still answers on.
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
        Err(_) => fs::remove_file(path),
    }
}

/// Whether an accept failed because the process or system ran out of a
/// resource (fds, buffers, memory), which waiting can cure.
fn is_resource_exhaustion(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Registers a listener; each accepted connection gets a protocol from `factory`.
pub(crate) fn add<S: 'static>(
    core: &mut Core<S>,
    acceptor: Acceptor,
    factory: Factory<S>,
) -> io::Result<Token> {
    let addr = acceptor.local_addr()?;
    let listener = Listener {
        acceptor,
        factory,
        filter: None,
        backing_off: false,
        #[cfg(feature = "tls")]
        tls: None,
    };
    let token = core.insert(Source::Listener(Box::new(listener)))?;
    info!("listening on {addr} as {}", show(token));
    Ok(token)
}

/// Keeps only the accepted peers for which `filter` returns true.
pub(crate) fn set_filter<S: 'static>(
    core: &mut Core<S>,
    token: Token,
    filter: Filter,
) -> io::Result<()> {
    match core.source_mut(token) {
        Some(Source::Listener(l)) => {
            l.filter = Some(filter);
            Ok(())
        }
        _ => Err(io::Error::new(
            io::ErrorKind::NotFound,
            "no listener with this token",
        )),
    }
}

/// Makes the connections `listener` accepts from now on speak TLS.
#[cfg(feature = "tls")]
pub(crate) fn set_tls<S: 'static>(
    core: &mut Core<S>,
    token: Token,
    config: std::sync::Arc<rustls::ServerConfig>,
) {
    if let Some(Source::Listener(l)) = core.source_mut(token) {
        l.tls = Some(config);
    }
}

/// Registers an accepted connection, through the listener's TLS layer if it
/// has one.
fn add_accepted<S: 'static>(
    core: &mut Core<S>,
    token: Token,
    stream: Stream,
    protocol: Box<dyn Protocol<S>>,
) -> io::Result<Token> {
    #[cfg(feature = "tls")]
    if let Some(Source::Listener(l)) = core.source(token) {
        if let Some(config) = l.tls.clone() {
            return crate::tls::handshake::accept(core, stream, config, protocol);
        }
    }
    let _ = token;
    stream::add(core, stream, protocol, false)
}

/// Accepts until `WouldBlock`, the per-turn budget, the connection limit,
/// or fd exhaustion, which backs off on a timer instead of spinning.
pub(super) fn on_event<S: 'static>(core: &mut Core<S>, token: Token) {
    let delay = core.config().accept_backoff;
    for _ in 0..core.config().accept_budget {
        if core.is_shutting_down() || core.connection_limit_reached() {
            return;
        }
        let Some(Source::Listener(l)) = core.source_mut(token) else {
            return;
        };
        if l.backing_off {
            return;
        }
        match l.acceptor.accept() {
            Ok((stream, addr)) => {
                if let Some(filter) = l.filter.as_mut() {
                    if !filter(&addr) {
                        info!("refused connection from {addr} (accept filter)");
                        continue;
                    }
                }
                let protocol = (l.factory)();
                match add_accepted(core, token, stream, protocol) {
                    Ok(conn) => {
                        core.count_accepted();
                        info!("accepted {addr} as {}", show(conn));
                    }
                    Err(e) => error!("cannot register connection from {addr}: {e}"),
                }
                // connection_made, and whatever it asks for.
                core.settle_all();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                ) => {}
            Err(e) => {
                if is_resource_exhaustion(&e) {
                    warn!("accept failed: {e}; retrying in {delay:?}");
                } else {
                    error!("accept failed: {e}; retrying in {delay:?}");
                }
                l.backing_off = true;
                core.add_timer(delay, None, TimerKind::AcceptRetry(token));
                return;
            }
        }
    }
    core.push_ready(token);
}

/// The back-off after an accept failure is over: accept again.
pub(crate) fn retry<S: 'static>(core: &mut Core<S>, token: Token) {
    if let Some(Source::Listener(l)) = core.source_mut(token) {
        l.backing_off = false;
        on_event(core, token);
    }
}
