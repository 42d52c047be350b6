//! Datagram sockets: UDP and Unix datagram, each with a send queue.
//!
//! A datagram socket keeps message boundaries, so there is nothing to frame:
//! each `recv_from` is one message, handed whole to `datagram_received`. It
//! is registered for both directions; a datagram the socket cannot take now
//! waits in a bounded queue, sent when it becomes writable.

use std::collections::VecDeque;
use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use log::{info, trace};
use mio::net::{UdpSocket, UnixDatagram};
use mio::{Registry, Token};

use super::{Event, Source, listener};
use crate::addr::Addr;
use crate::context::Ctx;
use crate::core::{Core, Lend, show};
use crate::protocol::DatagramProtocol;
use crate::transport::BOTH;

/// Bytes of datagrams waiting for the socket before `send_to` refuses more.
const MAX_QUEUED_BYTES: usize = 4 * 1024 * 1024;

/// Datagrams received from one socket per turn before others get their turn.
const DATAGRAM_BUDGET: usize = 256;

/// The socket under a datagram source.
enum DgramSocket {
    Udp(UdpSocket),
    /// A Unix datagram socket and the file it is bound to, removed on close.
    Unix(UnixDatagram, Option<PathBuf>),
}

/// A datagram socket in the table.
pub(crate) struct Datagram<S> {
    socket: DgramSocket,
    /// `None` only while one of its callbacks runs.
    protocol: Option<Box<dyn DatagramProtocol<S>>>,
    queue: VecDeque<(Box<[u8]>, Addr)>,
    queued_bytes: usize,
    /// Bytes received and sent (for `Reactor::stats`).
    pub(crate) bytes_read: u64,
    pub(crate) bytes_written: u64,
    /// Close at the next settle.
    pub(crate) closing: bool,
}

impl DgramSocket {
    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, Addr)> {
        match self {
            DgramSocket::Udp(s) => s.recv_from(buf).map(|(n, a)| (n, Addr::Inet(a))),
            DgramSocket::Unix(s, _) => s.recv_from(buf).map(|(n, a)| (n, Addr::from(a))),
        }
    }

    fn send_to(&self, data: &[u8], to: &Addr) -> io::Result<usize> {
        match (self, to) {
            (DgramSocket::Udp(s), Addr::Inet(a)) => s.send_to(data, *a),
            (DgramSocket::Unix(s, _), Addr::Unix(Some(path))) => s.send_to(data, path),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot send to {to} from this socket"),
            )),
        }
    }
}

impl Drop for DgramSocket {
    fn drop(&mut self) {
        if let DgramSocket::Unix(_, Some(path)) = self {
            let _ = fs::remove_file(path);
        }
    }
}

impl<S: 'static> Datagram<S> {
    /// Its protocol's name for the logs; `None` while the protocol is lent
    /// out or gone.
    pub(crate) fn protocol_name(&self) -> Option<&'static str> {
        self.protocol.as_ref().map(|p| p.protocol_name())
    }
}

impl<S> Datagram<S> {
    pub(super) fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        match &mut self.socket {
            DgramSocket::Udp(s) => registry.register(s, token, BOTH),
            DgramSocket::Unix(s, _) => registry.register(s, token, BOTH),
        }
    }

    pub(super) fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match &mut self.socket {
            DgramSocket::Udp(s) => registry.deregister(s),
            DgramSocket::Unix(s, _) => registry.deregister(s),
        }
    }

    pub(super) fn local_addr(&self) -> io::Result<Addr> {
        match &self.socket {
            DgramSocket::Udp(s) => s.local_addr().map(Addr::Inet),
            DgramSocket::Unix(s, _) => s.local_addr().map(Addr::from),
        }
    }

    /// Sends now if nothing waits ahead; else queues, up to a bound.
    fn send_to(&mut self, data: &[u8], to: &Addr) -> io::Result<()> {
        if self.queue.is_empty() {
            match self.socket.send_to(data, to) {
                Ok(n) => {
                    self.bytes_written += n as u64;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        if self.queued_bytes + data.len() > MAX_QUEUED_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "datagram send queue is full",
            ));
        }
        self.queued_bytes += data.len();
        self.queue.push_back((data.into(), to.clone()));
        Ok(())
    }

    /// Sends queued datagrams until the socket refuses. A datagram that
    /// fails for good is dropped and its error returned.
    fn flush(&mut self) -> io::Result<()> {
        while let Some((data, to)) = self.queue.front() {
            match self.socket.send_to(data, to) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                result => {
                    self.queued_bytes -= data.len();
                    self.queue.pop_front();
                    self.bytes_written += result? as u64;
                }
            }
        }
        Ok(())
    }
}

/// A datagram protocol goes back into its socket's slot after a callback;
/// a panic in it is logged and the socket stays open.
impl<S: 'static> Lend<S> for Box<dyn DatagramProtocol<S>> {
    fn give_back(self, source: &mut Source<S>) {
        if let Source::Datagram(d) = source {
            d.protocol = Some(self);
        }
    }
}

/// Binds a UDP socket for `protocol`.
pub(crate) fn bind_udp<S: 'static>(
    core: &mut Core<S>,
    addr: SocketAddr,
    protocol: Box<dyn DatagramProtocol<S>>,
) -> io::Result<Token> {
    let socket = UdpSocket::bind(addr)?;
    add(core, DgramSocket::Udp(socket), protocol)
}

/// Binds a Unix datagram socket at `path` for `protocol` (a stale file is
/// replaced, and the file is removed on close).
pub(crate) fn bind_unix<S: 'static>(
    core: &mut Core<S>,
    path: &Path,
    protocol: Box<dyn DatagramProtocol<S>>,
) -> io::Result<Token> {
    listener::remove_stale_socket(path)?;
    let socket = UnixDatagram::bind(path)?;
    let socket = DgramSocket::Unix(socket, Some(path.to_path_buf()));
    add(core, socket, protocol)
}

fn add<S: 'static>(
    core: &mut Core<S>,
    socket: DgramSocket,
    protocol: Box<dyn DatagramProtocol<S>>,
) -> io::Result<Token> {
    let datagram = Datagram {
        socket,
        protocol: Some(protocol),
        queue: VecDeque::new(),
        queued_bytes: 0,
        bytes_read: 0,
        bytes_written: 0,
        closing: false,
    };
    let addr = datagram.local_addr()?;
    let token = core.insert(Source::Datagram(Box::new(datagram)))?;
    info!("datagram socket bound to {addr} as {}", show(token));
    core.owe_made(token);
    Ok(token)
}

/// Calls the protocol's `connection_made`.
pub(super) fn made<S: 'static>(core: &mut Core<S>, token: Token) {
    call(core, token, "datagram connection_made", |p, ctx| {
        p.connection_made(ctx)
    });
}

/// Runs one of the protocol's callbacks.
fn call<S: 'static>(
    core: &mut Core<S>,
    token: Token,
    what: &'static str,
    f: impl FnOnce(&mut dyn DatagramProtocol<S>, &mut Ctx<'_, S>),
) {
    let Some(Source::Datagram(d)) = core.source_mut(token) else {
        return;
    };
    let Some(protocol) = d.protocol.take() else {
        return;
    };
    core.run(token, protocol, what, |p, ctx| f(&mut **p, ctx));
}

/// Sends a datagram from the socket `token`.
pub(crate) fn send_to<S: 'static>(
    core: &mut Core<S>,
    token: Token,
    data: &[u8],
    to: &Addr,
) -> io::Result<()> {
    match core.source_mut(token) {
        Some(Source::Datagram(d)) => d.send_to(data, to),
        _ => Err(io::Error::new(
            io::ErrorKind::NotFound,
            "no datagram socket with this token",
        )),
    }
}

/// Flushes the send queue when writable; receives up to a budget of
/// datagrams when readable (the rest wait on the ready list).
pub(super) fn on_event<S: 'static>(core: &mut Core<S>, buf: &mut [u8], token: Token, event: Event) {
    if event.is_writable() {
        if let Some(Source::Datagram(d)) = core.source_mut(token) {
            if let Err(e) = d.flush() {
                call(core, token, "error_received", |p, ctx| {
                    p.error_received(ctx, e)
                });
            }
        }
    }
    if !event.is_readable() {
        return;
    }
    for _ in 0..DATAGRAM_BUDGET {
        if !receive_one(core, buf, token) {
            return;
        }
    }
    core.push_ready(token);
}

/// Receives one datagram and hands it to the protocol; false once the
/// socket is drained (or gone).
fn receive_one<S: 'static>(core: &mut Core<S>, buf: &mut [u8], token: Token) -> bool {
    let result = match core.source_mut(token) {
        Some(Source::Datagram(d)) => d.socket.recv_from(buf).inspect(|&(n, _)| {
            d.bytes_read += n as u64;
        }),
        _ => Err(io::ErrorKind::NotFound.into()),
    };
    match result {
        Ok((n, from)) => {
            trace!("{} received a {n}-byte datagram from {from}", show(token));
            let data = &buf[..n];
            call(core, token, "datagram_received", |p, ctx| {
                p.datagram_received(ctx, data, &from)
            });
            true
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::NotFound
            ) =>
        {
            false
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted => true,
        Err(e) => {
            call(core, token, "error_received", |p, ctx| {
                p.error_received(ctx, e)
            });
            true
        }
    }
}

/// Closes the socket: removed from the table, queued datagrams given one
/// last try, `connection_lost` called.
pub(crate) fn close<S: 'static>(core: &mut Core<S>, token: Token) {
    if let Some(Source::Datagram(mut d)) = core.remove(token) {
        let _ = d.flush();
        if let Some(protocol) = d.protocol.take() {
            core.run(
                token,
                crate::core::Owned(protocol),
                "datagram connection_lost",
                |p, ctx| p.0.connection_lost(ctx, None),
            );
        }
    }
}
