//! TLS on the reactor (feature `tls`): encrypted listeners and outgoing
//! connections, STARTTLS, and what was negotiated.
//!
//! The engine is [rustls], which is *sans-I/O*: it never touches a socket,
//! it takes the bytes that arrived and hands back the bytes to send. That is
//! exactly what a reactor's transport can drive, so TLS here is a layer
//! under the transport, not a second kind of connection:
//!
//! ```text
//! accept/connect -> handshake (reads drive it; a timer bounds it)
//!                -> connection_made -> data_received* (plaintext) -> ...
//! ```
//!
//! As in asyncio, `connection_made` comes after the handshake, and the
//! protocol only ever sees plaintext: the same `data_received`, the same
//! flow control (queued output counts the ciphertext the socket refused),
//! timeouts, panic isolation. A clean close sends `close_notify`. A failed
//! or stalled handshake ([`Config::tls_handshake_timeout`], 10 s by default)
//! costs only that connection and is logged with its reason; an outgoing
//! connection hears it in `connection_failed`.
//!
//! - [`Ctx::listen_tls`] / [`Reactor::listen_tls`]: a TLS listener.
//! - [`Ctx::connect_tls`] / [`Reactor::connect_tls`]: an outgoing TLS connection.
//! - [`Ctx::start_tls_server`] / [`Ctx::start_tls_client`]: STARTTLS, an
//!   upgrade in place (asyncio's `start_tls`); bytes the peer sent after the
//!   upgrade point, already read, go to TLS first.
//! - [`Ctx::tls`]: the negotiated ALPN protocol, version, cipher suite and
//!   the peer's certificates (asyncio's `get_extra_info('ssl_object')`).
//!
//! [`server_config`] and [`client_config`] build rustls configurations from
//! PEM; anything rustls can express works too (build a
//! [`rustls::ServerConfig`] with [`provider`] and pass it in an `Arc`).
//!
//! ```no_run
//! use sockloop::{Ctx, Protocol, Reactor, tls};
//!
//! struct Echo;
//! impl Protocol for Echo {
//!     fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
//!         ctx.write(data); // plaintext in, plaintext out: encrypted below
//!         data.len()
//!     }
//! }
//!
//! let cert = std::fs::read("cert.pem")?;
//! let key = std::fs::read("key.pem")?;
//! let config = tls::server_config(&cert, &key, &[])?;
//! let mut reactor = Reactor::new()?;
//! reactor.listen_tls("127.0.0.1:8443", config, || Echo)?;
//! reactor.run()
//! # ;Ok::<(), std::io::Error>(())
//! ```
//!
//! [`Config::tls_handshake_timeout`]: crate::Config::tls_handshake_timeout
//! [`Ctx::listen_tls`]: crate::Ctx::listen_tls
//! [`Reactor::listen_tls`]: crate::Reactor::listen_tls
//! [`Ctx::connect_tls`]: crate::Ctx::connect_tls
//! [`Reactor::connect_tls`]: crate::Reactor::connect_tls
//! [`Ctx::start_tls_server`]: crate::Ctx::start_tls_server
//! [`Ctx::start_tls_client`]: crate::Ctx::start_tls_client
//! [`Ctx::tls`]: crate::Ctx::tls

mod api;
pub(crate) mod handshake;
mod stream;

use std::io;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, Connection, ServerConfig};

pub use rustls;
pub(crate) use stream::TlsStream;

/// The crypto provider this crate's helpers use: *ring*, which builds with
/// only a C compiler. (rustls marks it deprecated because *ring* offers no
/// post-quantum key exchange; the aws-lc-rs provider does, and needs cmake
/// to build. Pass a config built on it if you need that.)
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    #[allow(deprecated)]
    Arc::new(rustls::crypto::ring::default_provider())
}

fn invalid(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("{what}: {e}"))
}

/// A server configuration from a PEM certificate chain and a PEM private
/// key (PKCS#8, PKCS#1 or SEC1), offering the ALPN protocols in `alpn`
/// (e.g. `&[b"http/1.1"]`; empty: no ALPN), TLS 1.2 and 1.3, and one TLS 1.3
/// resumption ticket per handshake (set
/// [`send_tls13_tickets`](rustls::ServerConfig::send_tls13_tickets) on a
/// configuration of your own for more).
pub fn server_config(
    cert_chain_pem: &[u8],
    key_pem: &[u8],
    alpn: &[&[u8]],
) -> io::Result<Arc<ServerConfig>> {
    let certs = CertificateDer::pem_slice_iter(cert_chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("reading the certificate PEM", e))?;
    if certs.is_empty() {
        return Err(invalid(
            "reading the certificate PEM",
            "no certificate in it",
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| invalid("reading the private key PEM", e))?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("TLS versions", e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| invalid("the certificate and key", e))?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    // One resumption ticket per handshake, as Go's crypto/tls sends, not
    // rustls' two: each resumed connection brings a fresh one, so a client
    // that reconnects one connection at a time never runs out, and every
    // handshake costs both sides a ticket less (new connections per second
    // in BENCHMARKS.md). A client that resumes several connections at once
    // does full handshakes on the extra ones.
    config.send_tls13_tickets = 1;
    Ok(Arc::new(config))
}

/// A client configuration that trusts the CA certificates in `ca_pem` (or
/// a self-signed server certificate itself), offering `alpn`.
pub fn client_config(ca_pem: &[u8], alpn: &[&[u8]]) -> io::Result<Arc<ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        let cert = cert.map_err(|e| invalid("reading the CA PEM", e))?;
        roots
            .add(cert)
            .map_err(|e| invalid("adding a CA certificate", e))?;
    }
    if roots.is_empty() {
        return Err(invalid("reading the CA PEM", "no certificate in it"));
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("TLS versions", e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// What a TLS connection negotiated (asyncio's `ssl_object`), from
/// [`Ctx::tls`](crate::Ctx::tls). Meaningful once the handshake is over,
/// that is from `connection_made` on.
pub struct TlsInfo<'a> {
    conn: &'a Connection,
}

impl<'a> TlsInfo<'a> {
    pub(crate) fn new(stream: &'a TlsStream) -> Self {
        TlsInfo {
            conn: stream.connection(),
        }
    }

    /// The ALPN protocol both sides agreed on (`b"http/1.1"`, `b"h2"`), if any.
    pub fn alpn_protocol(&self) -> Option<&'a [u8]> {
        self.conn.alpn_protocol()
    }

    /// The TLS version in use (`TLSv1_3`, `TLSv1_2`).
    pub fn protocol_version(&self) -> Option<rustls::ProtocolVersion> {
        self.conn.protocol_version()
    }

    /// The cipher suite in use.
    pub fn cipher_suite(&self) -> Option<rustls::SupportedCipherSuite> {
        self.conn.negotiated_cipher_suite()
    }

    /// The certificates the peer presented, its own first: the server's
    /// chain on a client connection, the client's (if it sent one) on a
    /// server connection.
    pub fn peer_certificates(&self) -> Option<&'a [CertificateDer<'static>]> {
        self.conn.peer_certificates()
    }

    /// On a server connection, the host name the client asked for (SNI).
    pub fn server_name(&self) -> Option<&'a str> {
        match self.conn {
            Connection::Server(s) => s.server_name(),
            Connection::Client(_) => None,
        }
    }

    /// Whether the handshake is still under way (only while a STARTTLS
    /// upgrade is in progress can a callback see this).
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// The rustls session itself, for anything else (exporting keying
    /// material, say).
    pub fn connection(&self) -> &'a Connection {
        self.conn
    }
}
