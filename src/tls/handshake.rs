//! Where the TLS handshake sits in a connection's life: accepted or
//! connected, then handshaking (`HANDSHAKING`: reads drive the handshake,
//! the protocol hears nothing), then made (`connection_made`) and served as
//! any stream. STARTTLS enters the same phase from an open connection.
//!
//! A handshake ends one of three ways: done (the protocol is told, and what
//! was written meanwhile goes out encrypted), failed (rustls refused what the
//! peer sent, or the peer left: only that connection pays, with a log line
//! naming the reason), or timed out (`Config::tls_handshake_timeout`).

use std::io;
use std::mem;
use std::net::SocketAddr;
use std::sync::Arc;

use log::debug;
use mio::net::TcpStream;
use mio::{Registry, Token};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};

use super::TlsStream;
use super::stream::tls_error;
use crate::addr::Addr;
use crate::core::{Core, TimerKind};
use crate::protocol::Protocol;
use crate::sources::stream;
use crate::sys::Io;
use crate::transport::{ByteStream, Stream, flag};

/// Flags of a stream that begins with a handshake.
const LAYERED: u32 = flag::LAYERED | flag::HANDSHAKING;

/// Registers an accepted connection that will speak TLS with `config`.
pub(crate) fn accept<S: 'static>(
    core: &mut Core<S>,
    socket: Stream,
    config: Arc<ServerConfig>,
    protocol: Box<dyn Protocol<S>>,
) -> io::Result<Token> {
    let conn = ServerConnection::new(config).map_err(tls_error)?;
    let tls = TlsStream::new(socket, Connection::Server(conn), Vec::new());
    let token = stream::add_with(core, Stream::Other(Box::new(tls)), protocol, LAYERED)?;
    start_timer(core, token);
    Ok(token)
}

/// Opens an outgoing TLS connection to `addr`, verifying that the server
/// is `server_name`.
pub(crate) fn connect<S: 'static>(
    core: &mut Core<S>,
    addr: SocketAddr,
    server_name: &str,
    config: Arc<ClientConfig>,
    protocol: Box<dyn Protocol<S>>,
) -> io::Result<Token> {
    let conn = client(server_name, config)?;
    let socket = Stream::Tcp(TcpStream::connect(addr)?);
    let tls = TlsStream::new(socket, Connection::Client(conn), Vec::new());
    stream::add_with(
        core,
        Stream::Other(Box::new(tls)),
        protocol,
        LAYERED | flag::CONNECTING,
    )
}

fn client(server_name: &str, config: Arc<ClientConfig>) -> io::Result<ClientConnection> {
    let name = ServerName::try_from(server_name.to_string()).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{server_name:?} is not a valid server name: {e}"),
        )
    })?;
    ClientConnection::new(config, name).map_err(tls_error)
}

/// The TCP connection of an outgoing TLS connection is up: the client
/// speaks first.
pub(crate) fn connected<S: 'static>(core: &mut Core<S>, token: Token) {
    start_timer(core, token);
    step(core, token);
}

/// STARTTLS as a server: see [`upgrade`].
pub(crate) fn start_server<S: 'static>(
    core: &mut Core<S>,
    token: Token,
    input: &[u8],
    config: Arc<ServerConfig>,
) -> io::Result<()> {
    let conn = ServerConnection::new(config).map_err(tls_error)?;
    upgrade(core, token, input, Connection::Server(conn))
}

/// STARTTLS as a client: see [`upgrade`].
pub(crate) fn start_client<S: 'static>(
    core: &mut Core<S>,
    token: Token,
    input: &[u8],
    server_name: &str,
    config: Arc<ClientConfig>,
) -> io::Result<()> {
    let conn = client(server_name, config)?;
    upgrade(core, token, input, Connection::Client(conn))
}

/// Upgrades an open connection in place, from inside one of its callbacks.
/// Everything written before goes out as plaintext (the batch is sent now;
/// what the socket refused goes out ahead of the first TLS record);
/// everything written after goes out encrypted, once the handshake is
/// done. The bytes that arrived after the upgrade point — the input the
/// protocol leaves unconsumed, and anything read later — go to TLS, none
/// lost: the connection is put on the ready list so they are read even if
/// no new edge comes.
fn upgrade<S: 'static>(
    core: &mut Core<S>,
    token: Token,
    input: &[u8],
    conn: Connection,
) -> io::Result<()> {
    match core.stream(token) {
        Some(s) if s.transport.has(flag::LAYERED) => {
            return Err(io::Error::other("the connection already speaks TLS"));
        }
        // A file still going out would go out raw behind the TLS records.
        Some(s) if s.transport.has(flag::FILE) => {
            return Err(io::Error::other(
                "a file queued with send_file is still being sent: upgrade after it",
            ));
        }
        Some(s) if s.is_open() => {}
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "no open connection to upgrade",
            ));
        }
    }
    core.send_batch_now(token, input);
    let Some(r) = core.reading(token) else {
        return Err(io::ErrorKind::NotConnected.into());
    };
    let t = &mut r.stream.transport;
    let plaintext = t.take_output(r.pool);
    let socket = mem::replace(&mut t.stream, Stream::Other(Box::new(Unplugged)));
    t.stream = Stream::Other(Box::new(TlsStream::new(socket, conn, plaintext)));
    t.set(LAYERED);
    core.mark_dirty(token);
    core.push_ready(token);
    start_timer(core, token);
    // A client speaks first. Nothing is read here: the peer's first bytes
    // may still be in the input the protocol is about to leave unconsumed,
    // and they go first (the ready list reads them next turn).
    if let Some(tls) = tls_of(core, token) {
        if let Io::Failed(e) = tls.flush_held() {
            fail(core, token, e);
        }
    }
    Ok(())
}

fn tls_of<S: 'static>(core: &mut Core<S>, token: Token) -> Option<&mut TlsStream> {
    core.stream_mut(token)?.transport.stream.tls_mut_stream()
}

fn start_timer<S: 'static>(core: &mut Core<S>, token: Token) {
    let timeout = core.config().tls_handshake_timeout;
    let id = core.add_timer(timeout, None, TimerKind::TlsHandshake(token));
    if let Some(tls) = tls_of(core, token) {
        tls.timer = Some(id);
    }
}

/// Drives the handshake of `token` as far as the bytes that arrived allow
/// (the read path calls this while `HANDSHAKING` is set). Returns true once
/// it is done, and the connection reads on as any other.
pub(crate) fn step<S: 'static>(core: &mut Core<S>, token: Token) -> bool {
    let Some(r) = core.reading(token) else {
        return false;
    };
    let t = &mut r.stream.transport;
    if t.has(flag::CONNECTING | flag::CLOSED) || !t.has(flag::HANDSHAKING) {
        return false;
    }
    // STARTTLS: input read before the upgrade and left unconsumed is the
    // peer's first TLS bytes.
    let early = t.has_input().then(|| t.take_input());
    let Some(tls) = t.stream.tls_mut_stream() else {
        return false;
    };
    let fed = match &early {
        Some(bytes) => tls.feed(bytes.as_slice()),
        None => Ok(()),
    };
    let outcome = fed.and_then(|()| tls.handshake());
    if let Some(bytes) = early {
        t.restore_input(r.pool, bytes, usize::MAX);
    }
    let backlog = t.queued() > 0;
    match outcome {
        Ok(true) => {
            established(core, token);
            true
        }
        Ok(false) => {
            // What the socket refused waits for a writable edge.
            if backlog {
                core.mark_dirty(token);
            }
            false
        }
        Err(e) => {
            fail(core, token, e);
            false
        }
    }
}

/// The handshake is done: the protocol is told (`connection_made`, unless
/// this was a STARTTLS upgrade of a connection already made), and what it
/// wrote meanwhile goes out encrypted.
fn established<S: 'static>(core: &mut Core<S>, token: Token) {
    let Some(s) = core.stream_mut(token) else {
        return;
    };
    let t = &mut s.transport;
    t.clear(flag::HANDSHAKING | flag::WRITE_BLOCKED);
    let made = t.has(flag::MADE);
    t.set(flag::MADE);
    let timer = t.stream.tls_mut_stream().and_then(|tls| tls.timer.take());
    if let Some(id) = timer {
        core.cancel_timer(id);
    }
    if log::log_enabled!(log::Level::Debug) {
        if let Some(tls) = core
            .stream(token)
            .and_then(|s| s.transport.stream.tls_stream())
        {
            let info = super::TlsInfo::new(tls);
            let version = info.protocol_version().map(|v| format!("{v:?}"));
            let suite = info.cipher_suite().map(|s| format!("{:?}", s.suite()));
            let alpn = info.alpn_protocol().map(String::from_utf8_lossy);
            debug!(
                "{}: TLS handshake done: {}, {}, ALPN {}",
                core.describe(token),
                version.as_deref().unwrap_or("?"),
                suite.as_deref().unwrap_or("?"),
                alpn.as_deref().unwrap_or("none"),
            );
        }
    }
    core.mark_dirty(token);
    if !made {
        stream::made(core, token);
    }
    core.settle_all();
}

/// The handshake failed: only this connection pays. An outgoing one hears
/// it in `connection_failed`; any other is closed with the reason (logged
/// by the close, and given to `connection_lost` after a STARTTLS).
fn fail<S: 'static>(core: &mut Core<S>, token: Token, e: io::Error) {
    let e = io::Error::new(e.kind(), format!("TLS handshake failed: {e}"));
    let outgoing = core
        .stream_mut(token)
        .and_then(|s| {
            let made = s.transport.has(flag::MADE);
            s.transport
                .stream
                .tls_mut_stream()
                .map(|t| t.outgoing && !made)
        })
        .unwrap_or(false);
    if let Some(id) = tls_of(core, token).and_then(|t| t.timer.take()) {
        core.cancel_timer(id);
    }
    if outgoing {
        stream::failed(core, token, e);
    } else {
        core.abort(token, e);
        core.settle_all();
    }
}

/// The handshake timer fired: still handshaking means too slow.
pub(crate) fn timed_out<S: 'static>(core: &mut Core<S>, token: Token) {
    let Some(s) = core.stream_mut(token) else {
        return;
    };
    if !s.transport.has(flag::HANDSHAKING) {
        return;
    }
    if let Some(tls) = s.transport.stream.tls_mut_stream() {
        tls.timer = None;
    }
    let timeout = core.config().tls_handshake_timeout;
    let e = io::Error::new(
        io::ErrorKind::TimedOut,
        format!("not done within {timeout:?}"),
    );
    fail(core, token, e);
}

/// What stands in a transport for the instant its socket moves into a TLS
/// layer.
struct Unplugged;

impl ByteStream for Unplugged {
    fn recv(&mut self, _: &mut [u8]) -> Io {
        Io::Failed(io::ErrorKind::NotConnected.into())
    }
    fn send(&mut self, _: &[u8]) -> Io {
        Io::Failed(io::ErrorKind::NotConnected.into())
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn peer_addr(&self) -> io::Result<Addr> {
        Err(io::ErrorKind::NotConnected.into())
    }
    fn local_addr(&self) -> io::Result<Addr> {
        Err(io::ErrorKind::NotConnected.into())
    }
    fn is_socket(&self) -> bool {
        true
    }
    fn register(&mut self, _: &Registry, _: Token) -> io::Result<bool> {
        Ok(false)
    }
    fn deregister(&mut self, _: &Registry) -> io::Result<()> {
        Ok(())
    }
}
