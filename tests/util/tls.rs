//! TLS helpers for the tests: configurations from the test certificates,
//! a blocking rustls client, and the channel servers report on.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};

use sockloop::tls::{self, rustls};

use super::{PATIENCE, certs, connect};

/// `openssl s_client` to `addr` as `localhost`, trusting the test CA and
/// stopping at a certificate it does not trust; the caller adds its own
/// flags and stdio.
pub fn s_client(addr: &str) -> Command {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", addr, "-CAfile"])
        .arg(&certs().ca)
        .args(["-verify_return_error", "-servername", "localhost"]);
    cmd
}

/// What a test server's protocols report to the test.
pub type Events = Sender<String>;

/// A server configuration with the test certificate, offering `alpn`.
pub fn server_config(alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
    tls::server_config(&certs().cert_pem(), &certs().key_pem(), alpn).expect("server config")
}

/// A client configuration trusting the test CA.
pub fn client_config() -> Arc<rustls::ClientConfig> {
    tls::client_config(&certs().ca_pem(), &[]).expect("client config")
}

/// The next report, or a failure after PATIENCE.
pub fn next_event(events: &Receiver<String>) -> String {
    events
        .recv_timeout(PATIENCE)
        .expect("the server reported nothing in time")
}

/// A blocking rustls client, handshake done.
pub fn rustls_client(addr: SocketAddr) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let conn = rustls::ClientConnection::new(client_config(), "localhost".try_into().unwrap())
        .expect("client connection");
    let mut stream = rustls::StreamOwned::new(conn, connect(addr));
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .expect("handshake");
    }
    stream
}

/// Reads from a blocking rustls stream until `want` bytes came.
pub fn read_tls_exact(stream: &mut impl Read, want: usize) -> Vec<u8> {
    let mut got = vec![0; want];
    stream.read_exact(&mut got).expect("reading over TLS");
    got
}
