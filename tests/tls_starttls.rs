//! STARTTLS over real loopback sockets: a plaintext connection upgraded in
//! place, with the client's first TLS record in the same read as the
//! upgrade command, with plaintext the socket had refused still to go out
//! before the first record, and with the crate's own client upgrading.

mod util;

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use sockloop::tls::rustls;
use sockloop::{Ctx, Protocol, Reactor};
use util::tls::{Events, client_config, next_event, read_tls_exact, server_config};
use util::{PATIENCE, connect, send, spawn_reactor};

/// A line protocol that echoes lines, and upgrades on `STARTTLS`: `OK` in
/// plaintext, then TLS.
struct Upgrader {
    config: Arc<rustls::ServerConfig>,
    events: Events,
}

impl Protocol for Upgrader {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        let mut used = 0;
        while let Some(end) = data[used..].iter().position(|&b| b == b'\n') {
            let line = &data[used..used + end + 1];
            used += end + 1;
            let big = line == b"BIG STARTTLS\n";
            if (big || line == b"STARTTLS\n") && ctx.tls().is_none() {
                if big {
                    // More plaintext than the socket takes at once.
                    ctx.write(&vec![b'p'; BIG]);
                }
                ctx.write(b"OK\n");
                ctx.start_tls_server(self.config.clone()).unwrap();
                let _ = self.events.send(format!(
                    "upgrading, {} bytes left unread",
                    data.len() - used
                ));
                // The rest is the peer's TLS: leave it for the handshake.
                return used;
            }
            let tls = ctx.tls().and_then(|i| i.protocol_version());
            ctx.write(line);
            let _ = self.events.send(format!("line over {tls:?}"));
        }
        used
    }
    fn connection_lost(&mut self, _: &mut Ctx, reason: Option<io::Error>) {
        let _ = self.events.send(format!("lost: {reason:?}"));
    }
}

fn serve_upgrader() -> (util::Running<(), SocketAddr>, Receiver<String>) {
    let (tx, rx) = mpsc::channel();
    let config = server_config(&[]);
    let server = spawn_reactor(move || {
        let mut reactor = Reactor::new()?;
        let listener = reactor.listen_tcp("127.0.0.1:0", move || Upgrader {
            config: config.clone(),
            events: tx.clone(),
        })?;
        let addr = reactor.local_addr(listener)?.as_inet().expect("TCP");
        Ok((reactor, addr))
    });
    (server, rx)
}

#[test]
fn starttls_with_the_client_hello_in_the_same_read_as_the_command() {
    let (server, events) = serve_upgrader();
    let mut sock = connect(server.info);
    send(&mut sock, b"plain\n");
    assert_eq!(util::read_line(&mut sock), "plain");
    assert_eq!(next_event(&events), "line over None");
    // The command and the whole ClientHello in one write: one read on the
    // server's side (the loopback delivers it as one segment).
    let mut conn =
        rustls::ClientConnection::new(client_config(), "localhost".try_into().unwrap()).unwrap();
    let mut burst = b"STARTTLS\n".to_vec();
    conn.write_tls(&mut burst).unwrap();
    sock.write_all(&burst).unwrap();
    let upgrading = next_event(&events);
    let hello = burst.len() - b"STARTTLS\n".len();
    assert_eq!(upgrading, format!("upgrading, {hello} bytes left unread"));
    // The plaintext answer comes first, then TLS.
    let mut ok = [0u8; 3];
    sock.read_exact(&mut ok).unwrap();
    assert_eq!(&ok, b"OK\n");
    let mut stream = rustls::StreamOwned::new(conn, sock);
    stream.write_all(b"secret\n").unwrap();
    assert_eq!(read_tls_exact(&mut stream, 7), b"secret\n");
    assert_eq!(next_event(&events), "line over Some(TLSv1_3)");
}

/// The plaintext answer of `BIG STARTTLS`, before its `OK`.
const BIG: usize = 4 * 1024 * 1024;

#[test]
fn starttls_sends_the_plaintext_the_socket_refused_before_the_first_record() {
    let (server, events) = serve_upgrader();
    let mut sock = connect(server.info);
    let mut conn =
        rustls::ClientConnection::new(client_config(), "localhost".try_into().unwrap()).unwrap();
    let mut burst = b"BIG STARTTLS\n".to_vec();
    conn.write_tls(&mut burst).unwrap();
    sock.write_all(&burst).unwrap();
    assert!(next_event(&events).starts_with("upgrading"));
    // Not read yet: the server's socket is full, the rest waits as plaintext.
    std::thread::sleep(Duration::from_millis(100));
    let plain = util::read_exact(&mut sock, BIG + 3);
    assert!(plain[..BIG].iter().all(|&b| b == b'p'));
    assert_eq!(&plain[BIG..], b"OK\n");
    let mut stream = rustls::StreamOwned::new(conn, sock);
    stream.write_all(b"then TLS\n").unwrap();
    assert_eq!(read_tls_exact(&mut stream, 9), b"then TLS\n");
}

/// The client side of STARTTLS: asks, waits for OK, upgrades, and writes
/// at once (sent encrypted once the handshake is done).
struct Asker {
    got: Vec<u8>,
    upgraded: bool,
    report: Sender<String>,
}

impl Protocol for Asker {
    fn connection_made(&mut self, ctx: &mut Ctx) {
        ctx.write(b"STARTTLS\n");
    }
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        if !self.upgraded {
            if data.len() < 3 {
                return 0;
            }
            assert_eq!(&data[..3], b"OK\n");
            self.upgraded = true;
            ctx.start_tls_client("localhost", client_config()).unwrap();
            ctx.write(b"after the upgrade\n");
            return 3;
        }
        self.got.extend_from_slice(data);
        if self.got.ends_with(b"\n") {
            let version = ctx.tls().and_then(|i| i.protocol_version());
            let _ = self.report.send(format!(
                "{:?} over {version:?}",
                String::from_utf8_lossy(&self.got)
            ));
            ctx.close();
        }
        data.len()
    }
    fn connection_lost(&mut self, ctx: &mut Ctx, reason: Option<io::Error>) {
        let _ = self.report.send(format!("lost {reason:?}"));
        ctx.shutdown();
    }
}

#[test]
fn our_own_client_upgrades_with_starttls() {
    let (server, events) = serve_upgrader();
    let (tx, rx) = mpsc::channel();
    let mut reactor = Reactor::new().unwrap();
    let asker = Asker {
        got: Vec::new(),
        upgraded: false,
        report: tx,
    };
    reactor.connect_tcp(server.info, asker).unwrap();
    reactor.call_later(PATIENCE, |ctx| ctx.shutdown());
    reactor.run().unwrap();
    let report: Vec<String> = rx.try_iter().collect();
    assert_eq!(
        report,
        ["\"after the upgrade\\n\" over Some(TLSv1_3)", "lost None"]
    );
    assert_eq!(next_event(&events), "upgrading, 0 bytes left unread");
    assert_eq!(next_event(&events), "line over Some(TLSv1_3)");
}
