//! The TLS flags the example programs share (`--tls-cert`, `--tls-key` for
//! servers; `--tls-ca` for clients), and the configurations they make from
//! them, all through `sockloop::tls`. Make a certificate to try them with
//! `cargo run --example make_cert`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sockloop::tls::{self, rustls};

use crate::server::OrFail;

/// A server's TLS configuration (`None`: plaintext).
pub type ServerTls = Option<Arc<rustls::ServerConfig>>;

/// `--tls-cert PEM --tls-key PEM`: serve TLS with this certificate chain
/// and key.
#[derive(clap::Args, Debug, Clone)]
pub struct ServerFlags {
    /// PEM certificate chain to serve TLS with (needs --tls-key).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

impl ServerFlags {
    /// The server configuration, offering the ALPN protocols `alpn`, if TLS
    /// was asked for; unreadable or invalid files exit 1 with one line.
    pub fn config(&self, alpn: &[&[u8]]) -> ServerTls {
        let (cert, key) = (self.tls_cert.as_ref()?, self.tls_key.as_ref()?);
        let config = tls::server_config(&read(cert), &read(key), alpn);
        Some(config.or_fail("setting up TLS"))
    }
}

/// A client configuration trusting the CA certificates in the PEM file
/// `ca` (`--tls-ca`), or exit 1 with one line.
pub fn client_config(ca: &Path) -> Arc<rustls::ClientConfig> {
    tls::client_config(&read(ca), &[]).or_fail("setting up TLS")
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).or_fail(&format!("reading {}", path.display()))
}
