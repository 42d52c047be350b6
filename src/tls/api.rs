//! The TLS methods of [`Ctx`], [`Connection`] and [`Reactor`]: each one
//! call into `handshake.rs` or the listener, like the rest of the facade.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use mio::Token;
use rustls::{ClientConfig, ServerConfig};

use super::{TlsInfo, handshake};
use crate::context::{Connection, Ctx};
use crate::core::Core;
use crate::protocol::Protocol;
use crate::reactor::Reactor;
use crate::sources::listener;

fn info<S: 'static>(core: &Core<S>, token: Token) -> Option<TlsInfo<'_>> {
    core.stream(token)?
        .transport
        .stream
        .tls_stream()
        .map(TlsInfo::new)
}

impl<'a, S: 'static> Ctx<'a, S> {
    /// Listens on a TCP address for TLS connections: each accepted one
    /// handshakes with `config` first, and its protocol (from `factory`)
    /// gets `connection_made` once the handshake is done, then plaintext.
    pub fn listen_tls<P, F>(
        &mut self,
        addr: impl ToSocketAddrs,
        config: Arc<ServerConfig>,
        factory: F,
    ) -> io::Result<Token>
    where
        P: Protocol<S>,
        F: FnMut() -> P + 'static,
    {
        let token = self.listen_tcp(addr, factory)?;
        listener::set_tls(self.parts().0, token, config);
        Ok(token)
    }

    /// [`Ctx::listen_tls`] on an already bound std listener (SO_REUSEPORT,
    /// one per [`Workers`](crate::Workers) thread).
    pub fn listen_tls_std<P, F>(
        &mut self,
        listener: std::net::TcpListener,
        config: Arc<ServerConfig>,
        factory: F,
    ) -> io::Result<Token>
    where
        P: Protocol<S>,
        F: FnMut() -> P + 'static,
    {
        let token = self.listen_tcp_std(listener, factory)?;
        listener::set_tls(self.parts().0, token, config);
        Ok(token)
    }

    /// Opens an outgoing TLS connection to `addr`, checking that the server
    /// holds a certificate for `server_name` (also sent as SNI). `protocol`
    /// gets `connection_made` once the handshake is done, or
    /// `connection_failed` if the connection or the handshake fails.
    pub fn connect_tls(
        &mut self,
        addr: SocketAddr,
        server_name: &str,
        config: Arc<ClientConfig>,
        protocol: impl Protocol<S>,
    ) -> io::Result<Token> {
        let core = self.parts().0;
        handshake::connect(core, addr, server_name, config, Box::new(protocol))
    }

    /// STARTTLS as the server (asyncio's `start_tls(server_side=True)`):
    /// this connection speaks TLS from here on. What was written before
    /// this call goes out as plaintext; what is written after goes out
    /// encrypted once the handshake is done. Return from `data_received`
    /// the bytes up to the upgrade point: the rest, and everything read
    /// after, is the peer's TLS. `data_received` resumes, with plaintext,
    /// once the handshake is done; a failed one closes the connection
    /// (`connection_lost` gets the reason).
    pub fn start_tls_server(&mut self, config: Arc<ServerConfig>) -> io::Result<()> {
        let (core, token, input) = self.parts();
        handshake::start_server(core, token, input, config)
    }

    /// STARTTLS as the client: as [`Ctx::start_tls_server`], checking that
    /// the server holds a certificate for `server_name`. The ClientHello
    /// leaves at once.
    pub fn start_tls_client(
        &mut self,
        server_name: &str,
        config: Arc<ClientConfig>,
    ) -> io::Result<()> {
        let (core, token, input) = self.parts();
        handshake::start_client(core, token, input, server_name, config)
    }

    /// What this connection's TLS negotiated (ALPN, version, cipher suite,
    /// the peer's certificates); `None` on a connection without TLS.
    pub fn tls(&mut self) -> Option<TlsInfo<'_>> {
        let (core, token, _) = self.parts();
        info(core, token)
    }
}

impl<S: 'static> Connection<'_, '_, S> {
    /// What its TLS negotiated (see [`Ctx::tls`]).
    pub fn tls(&mut self) -> Option<TlsInfo<'_>> {
        let (core, token) = self.parts();
        info(core, token)
    }
}

impl<S: 'static> Reactor<S> {
    /// Listens for TLS connections (see [`Ctx::listen_tls`]).
    pub fn listen_tls<P, F>(
        &mut self,
        addr: impl ToSocketAddrs,
        config: Arc<ServerConfig>,
        factory: F,
    ) -> io::Result<Token>
    where
        P: Protocol<S>,
        F: FnMut() -> P + 'static,
    {
        self.with_ctx(|ctx| ctx.listen_tls(addr, config, factory))
    }

    /// Listens for TLS connections on a bound std listener (see
    /// [`Ctx::listen_tls_std`]).
    pub fn listen_tls_std<P, F>(
        &mut self,
        listener: std::net::TcpListener,
        config: Arc<ServerConfig>,
        factory: F,
    ) -> io::Result<Token>
    where
        P: Protocol<S>,
        F: FnMut() -> P + 'static,
    {
        self.with_ctx(|ctx| ctx.listen_tls_std(listener, config, factory))
    }

    /// Opens an outgoing TLS connection (see [`Ctx::connect_tls`]).
    pub fn connect_tls(
        &mut self,
        addr: SocketAddr,
        server_name: &str,
        config: Arc<ClientConfig>,
        protocol: impl Protocol<S>,
    ) -> io::Result<Token> {
        self.with_ctx(|ctx| ctx.connect_tls(addr, server_name, config, protocol))
    }
}
