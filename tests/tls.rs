//! TLS on the reactor over real loopback sockets: the crate's own client
//! against its own server, rustls, Python's `ssl` and `openssl s_client` as
//! clients, and hostile peers (garbage instead of a ClientHello, a stalled
//! handshake, a truncated record, a peer that vanishes mid-handshake, a
//! client that never reads). STARTTLS is in tls_starttls.rs.
//!
//! The certificates are made at test time by the make_cert example.

mod util;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use sockloop::tls::rustls;
use sockloop::{Config, Ctx, Protocol, Reactor};
use util::tls::{
    Events, client_config, next_event, read_tls_exact, rustls_client, s_client, server_config,
};
use util::{PATIENCE, certs, connect, have, read_for, send, spawn_reactor};

/// Echo over TLS, telling the test what it negotiated and how it ended.
struct Echo {
    events: Events,
}

impl Protocol for Echo {
    fn connection_made(&mut self, ctx: &mut Ctx) {
        let info = ctx.tls().expect("a TLS connection");
        let alpn = info
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        let version = format!("{:?}", info.protocol_version());
        let sni = info.server_name().map(str::to_string);
        let _ = self
            .events
            .send(format!("made alpn={alpn:?} version={version} sni={sni:?}"));
    }

    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        ctx.write(data);
        data.len()
    }

    fn connection_lost(&mut self, _: &mut Ctx, reason: Option<io::Error>) {
        let _ = self.events.send(match reason {
            None => "lost cleanly".to_string(),
            Some(e) => format!("lost: {e}"),
        });
    }
}

/// A TLS echo server on its own reactor thread, and what its protocols report.
fn serve_echo(
    config: Config,
    alpn: &'static [&'static [u8]],
) -> (util::Running<(), SocketAddr>, Receiver<String>) {
    let (tx, rx) = mpsc::channel();
    let tls = server_config(alpn);
    let server = spawn_reactor(move || {
        let mut reactor = Reactor::with_config((), config)?;
        let listener =
            reactor.listen_tls("127.0.0.1:0", tls, move || Echo { events: tx.clone() })?;
        let addr = reactor.local_addr(listener)?.as_inet().expect("TCP");
        Ok((reactor, addr))
    });
    (server, rx)
}

// ----- the crate's own client ----------------------------------------------------

/// The client side: sends a greeting, collects the echo, notes what the
/// handshake negotiated, and stops its reactor when done.
struct Greeter {
    greeting: &'static [u8],
    got: Vec<u8>,
    report: Sender<String>,
}

impl Protocol for Greeter {
    fn connection_made(&mut self, ctx: &mut Ctx) {
        let info = ctx.tls().expect("a TLS connection");
        let peer_certs = info.peer_certificates().map_or(0, |c| c.len());
        let suite = info.cipher_suite().map(|s| format!("{:?}", s.suite()));
        let _ = self.report.send(format!(
            "client made version={:?} certs={peer_certs} suite={suite:?}",
            info.protocol_version()
        ));
        ctx.write(self.greeting);
    }

    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        self.got.extend_from_slice(data);
        if self.got.len() >= self.greeting.len() {
            let _ = self
                .report
                .send(format!("echo {}", String::from_utf8_lossy(&self.got)));
            ctx.close();
        }
        data.len()
    }

    fn connection_lost(&mut self, ctx: &mut Ctx, reason: Option<io::Error>) {
        let _ = self.report.send(format!("client lost {reason:?}"));
        ctx.shutdown();
    }

    fn connection_failed(&mut self, ctx: &mut Ctx, error: io::Error) {
        let _ = self.report.send(format!("client failed: {error}"));
        ctx.shutdown();
    }
}

/// Runs a Greeter against `addr` on a reactor of its own; what it reported.
fn greet(addr: SocketAddr, server_name: &str, greeting: &'static [u8]) -> Vec<String> {
    let (tx, rx) = mpsc::channel();
    let mut reactor = Reactor::new().unwrap();
    let greeter = Greeter {
        greeting,
        got: Vec::new(),
        report: tx,
    };
    reactor
        .connect_tls(addr, server_name, client_config(), greeter)
        .unwrap();
    reactor.call_later(PATIENCE, |ctx| ctx.shutdown());
    reactor.run().unwrap();
    rx.try_iter().collect()
}

#[test]
fn our_client_and_our_server_echo_over_tls_and_see_what_was_negotiated() {
    let (server, events) = serve_echo(Config::default(), &[b"echo/1"]);
    let report = greet(server.info, "localhost", b"hello over TLS");
    assert_eq!(report.len(), 3, "{report:?}");
    assert!(
        report[0].starts_with("client made version=Some(TLSv1_3) certs=2 suite=Some(\"TLS13_"),
        "{report:?}"
    );
    assert_eq!(report[1], "echo hello over TLS");
    assert_eq!(report[2], "client lost None");
    // The server made the connection after the handshake, with SNI; no
    // ALPN was offered by this client.
    assert_eq!(
        next_event(&events),
        "made alpn=None version=Some(TLSv1_3) sni=Some(\"localhost\")"
    );
    assert_eq!(next_event(&events), "lost cleanly");
}

#[test]
fn our_client_refuses_a_server_with_the_wrong_name_and_hears_why() {
    let (server, events) = serve_echo(Config::default(), &[]);
    let report = greet(server.info, "not-this-host.example", b"x");
    assert_eq!(report.len(), 1, "{report:?}");
    assert!(
        report[0].starts_with("client failed: TLS handshake failed:")
            && report[0].contains("not valid for name"),
        "{report:?}"
    );
    // The server never made it: the failed handshake cost nothing else.
    assert!(events.recv_timeout(Duration::from_millis(200)).is_err());
    let report = greet(server.info, "localhost", b"still serving");
    assert_eq!(report[1], "echo still serving");
}

// ----- clients nobody here wrote ---------------------------------------------------

#[test]
fn rustls_closes_cleanly_and_sees_our_close_notify() {
    let (server, events) = serve_echo(Config::default(), &[]);
    let mut stream = rustls_client(server.info);
    stream.write_all(b"ping").unwrap();
    assert_eq!(read_tls_exact(&mut stream, 4), b"ping");
    // Our close_notify: the server reads it as EOF, closes too, and sends its own.
    stream.conn.send_close_notify();
    stream.flush().unwrap();
    let mut rest = Vec::new();
    let outcome = stream.read_to_end(&mut rest);
    assert!(
        outcome.is_ok(),
        "no close_notify from the server: {outcome:?}"
    );
    assert!(rest.is_empty());
    assert!(next_event(&events).starts_with("made"));
    assert_eq!(next_event(&events), "lost cleanly");
}

#[test]
fn python_ssl_talks_to_it_with_alpn() {
    if !have("python3", "the Python ssl client") {
        return;
    }
    let (server, events) = serve_echo(Config::default(), &[b"http/1.1"]);
    let script = r#"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
ctx.set_alpn_protocols(["http/1.1"])
with socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=10) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(b"hello from python")
        got = b""
        while len(got) < 17:
            got += s.recv(1024)
        print(got.decode(), s.version(), s.selected_alpn_protocol(), s.cipher()[0])
        s.unwrap()
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&certs().ca)
        .arg(server.info.port().to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("hello from python TLSv1.3 http/1.1 TLS_"),
        "{stdout}"
    );
    assert_eq!(
        next_event(&events),
        "made alpn=Some(\"http/1.1\") version=Some(TLSv1_3) sni=Some(\"localhost\")"
    );
    // unwrap() sent close_notify and waited for ours.
    assert_eq!(next_event(&events), "lost cleanly");
}

#[test]
fn openssl_s_client_talks_to_it_over_tls_1_2_too() {
    if !have("openssl", "the openssl s_client test") {
        return;
    }
    let (server, events) = serve_echo(Config::default(), &[]);
    for version in ["-tls1_3", "-tls1_2"] {
        let mut child = s_client(&server.info.to_string())
            .args(["-quiet", "-no_ign_eof", version])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"hello openssl\n").unwrap();
        // The echo first; then the end of input ends the session.
        let mut stdout = child.stdout.take().unwrap();
        let echo = util::read_exact(&mut stdout, 14);
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            echo,
            b"hello openssl\n",
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success());
        let made = next_event(&events);
        let want = if version == "-tls1_3" {
            "TLSv1_3"
        } else {
            "TLSv1_2"
        };
        assert!(made.contains(want), "{made}");
        next_event(&events); // lost
    }
}

/// One `openssl s_client` session: sends a line, waits for its echo, and
/// returns everything s_client printed (`-msg`: every handshake message).
fn s_client_session(server: SocketAddr, sess: &std::path::Path, resume: bool) -> String {
    let mut cmd = s_client(&server.to_string());
    cmd.args(["-msg", "-no_ign_eof", "-tls1_3", "-sess_out"])
        .arg(sess);
    if resume {
        cmd.arg("-sess_in").arg(sess);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"again\n").unwrap();
    // The ticket comes before the echo: once the echo is in, so is the ticket.
    let mut stdout = io::BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    let mut line = String::new();
    while io::BufRead::read_line(&mut stdout, &mut line).unwrap() > 0 {
        printed.push_str(&line);
        if line == "again\n" {
            break;
        }
        line.clear();
    }
    drop(stdin);
    let _ = child.wait();
    printed
}

/// A client that reconnects resumes every time: each handshake sends one
/// ticket, and each resumption brings the next.
#[test]
fn openssl_s_client_resumes_again_and_again_with_one_ticket_each_time() {
    if !have("openssl", "the openssl resumption test") {
        return;
    }
    let (server, events) = serve_echo(Config::default(), &[]);
    let dir = std::env::temp_dir().join(format!("sockloop-tls-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sess = dir.join("session.pem");
    for round in 0..3 {
        let printed = s_client_session(server.info, &sess, round > 0);
        assert!(
            printed.ends_with("again\n"),
            "round {round}: no echo: {printed}"
        );
        let tickets = printed
            .lines()
            .filter(|l| l.starts_with("<<<") && l.ends_with("NewSessionTicket"))
            .count();
        assert_eq!(tickets, 1, "round {round}: {printed}");
        let kind = if round == 0 {
            "New, TLSv1.3"
        } else {
            "Reused, TLSv1.3"
        };
        assert!(
            printed.contains(kind),
            "round {round}, not {kind:?}: {printed}"
        );
        assert!(next_event(&events).starts_with("made"));
        next_event(&events); // lost
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ----- hostile peers ----------------------------------------------------------------

/// Whether the server closed `stream` (EOF or reset) within PATIENCE,
/// whatever it sent first (an alert).
fn closed_by_server(stream: &mut TcpStream) -> bool {
    read_for(stream, PATIENCE).1
}

#[test]
fn plaintext_or_garbage_instead_of_a_client_hello_costs_only_that_connection() {
    let (server, events) = serve_echo(Config::default(), &[]);
    let mut bystander = rustls_client(server.info);
    bystander.write_all(b"before").unwrap();
    assert_eq!(read_tls_exact(&mut bystander, 6), b"before");
    for junk in [
        &b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
        &[0x16, 0x03, 0x01, 0x00, 0x05, 0xff, 0xff, 0xff, 0xff, 0xff][..],
        &[0u8; 64][..],
    ] {
        let mut bad = connect(server.info);
        send(&mut bad, junk);
        assert!(closed_by_server(&mut bad), "kept open after {junk:?}");
    }
    // Nothing was made for them, and the bystander is still served.
    assert!(next_event(&events).starts_with("made"));
    bystander.write_all(b"after").unwrap();
    assert_eq!(read_tls_exact(&mut bystander, 5), b"after");
    assert!(events.recv_timeout(Duration::from_millis(100)).is_err());
}

#[test]
fn a_stalled_handshake_is_timed_out() {
    let config = Config {
        tls_handshake_timeout: Duration::from_millis(300),
        ..Config::default()
    };
    let (server, events) = serve_echo(config, &[]);
    // One says nothing; one sends the first bytes of a ClientHello and stops.
    let mut silent = connect(server.info);
    let mut halting = connect(server.info);
    send(&mut halting, &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]);
    assert!(closed_by_server(&mut silent));
    assert!(closed_by_server(&mut halting));
    // Neither was ever made; a real client still gets through.
    let mut good = rustls_client(server.info);
    good.write_all(b"ok").unwrap();
    assert_eq!(read_tls_exact(&mut good, 2), b"ok");
    assert!(next_event(&events).starts_with("made"));
}

#[test]
fn a_peer_that_vanishes_mid_handshake_costs_nothing_else() {
    let (server, events) = serve_echo(Config::default(), &[]);
    for _ in 0..20 {
        // A real ClientHello, then gone.
        let mut conn =
            rustls::ClientConnection::new(client_config(), "localhost".try_into().unwrap())
                .unwrap();
        let mut hello = Vec::new();
        conn.write_tls(&mut hello).unwrap();
        let mut sock = connect(server.info);
        send(&mut sock, &hello);
        drop(sock);
    }
    let mut good = rustls_client(server.info);
    good.write_all(b"alive").unwrap();
    assert_eq!(read_tls_exact(&mut good, 5), b"alive");
    assert!(next_event(&events).starts_with("made"));
    assert!(events.recv_timeout(Duration::from_millis(100)).is_err());
}

#[test]
fn a_truncated_record_is_an_error_for_that_connection_alone() {
    let (server, events) = serve_echo(Config::default(), &[]);
    let mut stream = rustls_client(server.info);
    stream.write_all(b"whole").unwrap();
    assert_eq!(read_tls_exact(&mut stream, 5), b"whole");
    assert!(next_event(&events).starts_with("made"));
    // Half of the next record, then the TCP connection ends.
    stream
        .conn
        .writer()
        .write_all(b"this record is cut in two")
        .unwrap();
    let mut record = Vec::new();
    stream.conn.write_tls(&mut record).unwrap();
    stream.sock.write_all(&record[..record.len() / 2]).unwrap();
    stream.sock.shutdown(Shutdown::Write).unwrap();
    let lost = next_event(&events);
    assert!(lost.contains("without a TLS close_notify"), "{lost}");
}

/// Writes 16 KiB every millisecond, whether paused or not: a server
/// whose client never reads.
struct Firehose {
    events: Events,
}

impl Protocol for Firehose {
    fn connection_made(&mut self, ctx: &mut Ctx) {
        ctx.set_timer(Duration::from_millis(1), 0);
    }
    fn data_received(&mut self, _: &mut Ctx, data: &[u8]) -> usize {
        data.len()
    }
    fn timer_fired(&mut self, ctx: &mut Ctx, _: u64) {
        ctx.write(&[b'x'; 16 * 1024]);
        ctx.set_timer(Duration::from_millis(1), 0);
    }
    fn pause_writing(&mut self, ctx: &mut Ctx) {
        let _ = self
            .events
            .send(format!("paused with {} queued", ctx.queued()));
    }
    fn connection_lost(&mut self, _: &mut Ctx, reason: Option<io::Error>) {
        let _ = self.events.send(format!("lost: {reason:?}"));
    }
}

#[test]
fn a_client_that_never_reads_encrypted_output_is_cut_off_at_the_output_limit() {
    let (tx, events) = mpsc::channel();
    let tls = server_config(&[]);
    let server = spawn_reactor(move || {
        let config = Config {
            max_output: 2 * 1024 * 1024,
            ..Config::default()
        };
        let mut reactor = Reactor::with_config((), config)?;
        let listener =
            reactor.listen_tls("127.0.0.1:0", tls, move || Firehose { events: tx.clone() })?;
        let addr = reactor.local_addr(listener)?.as_inet().expect("TCP");
        Ok((reactor, addr))
    });
    let stream = rustls_client(server.info);
    let paused = next_event(&events);
    assert!(paused.starts_with("paused with "), "{paused}");
    let lost = next_event(&events);
    assert!(lost.contains("output limit exceeded"), "{lost}");
    drop(stream);
}
