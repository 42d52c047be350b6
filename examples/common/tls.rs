//! The TLS flags the example servers share (`--tls-cert`, `--tls-key`) and
//! the configurations they make from them, all through `sockloop::tls`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sockloop::tls::{self, rustls};

use super::OrFail;

/// `--tls-cert PEM --tls-key PEM`: serve TLS with this certificate chain
/// and key (make a pair with `cargo run --example make_cert`).
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
    /// The server configuration, offering `alpn`, if TLS was asked for;
    /// unreadable or invalid files end the program with one line.
    pub fn config(&self, alpn: &[&[u8]]) -> Option<Arc<rustls::ServerConfig>> {
        let (cert, key) = (self.tls_cert.as_ref()?, self.tls_key.as_ref()?);
        Some(server_config(cert, key, alpn))
    }
}

/// A server configuration from PEM files, or exit 1 with one line.
pub fn server_config(cert: &Path, key: &Path, alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
    let cert_pem = read(cert);
    let key_pem = read(key);
    tls::server_config(&cert_pem, &key_pem, alpn).or_fail("setting up TLS")
}

/// A client configuration trusting the CA certificates in `ca`, or exit 1.
pub fn client_config(ca: &Path) -> Arc<rustls::ClientConfig> {
    tls::client_config(&read(ca), &[]).or_fail("setting up TLS")
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).or_fail(&format!("reading {}", path.display()))
}
