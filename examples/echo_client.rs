//! Line client: sends each line of stdin to a server and prints everything the
//! server sends back as it arrives. Talks to echo_server, and serves as the
//! chat_server's client too.
//!
//! ```text
//! cargo run --example echo_client                          # to echo_server on 8888
//! cargo run --example echo_client -- --addr 127.0.0.1:8001 # to chat_server
//! cargo run --example echo_client -- --tls-ca certs/ca.pem  # to echo_server --tls-cert ...
//! ```
//!
//! `--tls-ca PEM` speaks TLS, trusting the CA certificates in PEM (from
//! `cargo run --example make_cert`) and checking that the server is
//! `--server-name` (default `localhost`).
//!
//! Both stdin and the socket are sources on one reactor, so a message from
//! the server shows up while you are still typing. Typing `exit`, or the end
//! of input, half-closes the connection: the server sees EOF, sends its last
//! replies, closes, and the client exits once it has printed them.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use sockloop::{Ctx, Protocol, Reactor, Token};
use sockloop_examples::server::{self, OrFail};

/// What the two sources share.
#[derive(Default)]
struct Client {
    /// The server connection, once `connect_tcp` has returned it.
    server: Option<Token>,
    /// Input ended before the connection was established.
    quit_early: bool,
    /// Exit status for `main`.
    failed: bool,
}

/// Timer id the stdin side uses to ask the server side to half-close.
const HALF_CLOSE: u64 = 1;

/// The connection to the server: print what arrives.
struct ServerConn;

impl Protocol<Client> for ServerConn {
    fn connection_made(&mut self, ctx: &mut Ctx<Client>) {
        if ctx.shared().quit_early {
            ctx.shutdown_write();
        }
    }

    fn data_received(&mut self, _ctx: &mut Ctx<Client>, data: &[u8]) -> usize {
        let mut out = io::stdout().lock();
        let _ = out.write_all(data);
        let _ = out.flush();
        data.len()
    }

    fn timer_fired(&mut self, ctx: &mut Ctx<Client>, id: u64) {
        if id == HALF_CLOSE {
            ctx.shutdown_write();
        }
    }

    fn connection_lost(&mut self, ctx: &mut Ctx<Client>, reason: Option<io::Error>) {
        if let Some(e) = reason {
            eprintln!("connection lost: {e}");
            ctx.shared().failed = true;
        }
        ctx.shutdown();
    }

    fn connection_failed(&mut self, ctx: &mut Ctx<Client>, error: io::Error) {
        eprintln!("error: cannot connect: {error}");
        ctx.shared().failed = true;
        ctx.shutdown();
    }
}

/// Standard input: forward complete lines; `exit` or EOF ends the session.
struct Keyboard;

impl Keyboard {
    fn finish(&mut self, ctx: &mut Ctx<Client>) {
        ctx.pause_reading();
        let server = ctx.shared_ref().server;
        match server {
            Some(server) if ctx.connection(server).is_open() => {
                ctx.connection(server).set_timer(Duration::ZERO, HALF_CLOSE);
            }
            _ => ctx.shared().quit_early = true,
        }
    }
}

impl Protocol<Client> for Keyboard {
    fn data_received(&mut self, ctx: &mut Ctx<Client>, data: &[u8]) -> usize {
        let Some(server) = ctx.shared().server else {
            return 0;
        };
        let mut used = 0;
        while let Some(end) = data[used..].iter().position(|&b| b == b'\n') {
            let line = &data[used..used + end + 1];
            used += end + 1;
            if line.trim_ascii() == b"exit" {
                self.finish(ctx);
                return data.len();
            }
            ctx.connection(server).write(line);
        }
        used
    }

    fn eof_received(&mut self, ctx: &mut Ctx<Client>) {
        self.finish(ctx);
    }
}

#[derive(Parser)]
#[command(about = "Send stdin lines to a server, print what it sends")]
struct Args {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:8888")]
    addr: SocketAddr,
    /// Speak TLS, trusting the CA certificates in this PEM file.
    #[arg(long, value_name = "PEM")]
    tls_ca: Option<std::path::PathBuf>,
    /// The name the server's certificate must carry (with --tls-ca).
    #[arg(long, default_value = "localhost", requires = "tls_ca")]
    server_name: String,
}

fn main() {
    let args = Args::parse();
    server::init_client_logging();
    let mut reactor = Reactor::with_state(Client::default()).or_fail("creating the reactor");
    let server = match &args.tls_ca {
        Some(ca) => {
            let tls = sockloop_examples::tls::client_config(ca);
            reactor.connect_tls(args.addr, &args.server_name, tls, ServerConn)
        }
        None => reactor.connect_tcp(args.addr, ServerConn),
    }
    .or_fail(&format!("connecting to {}", args.addr));
    reactor.shared().server = Some(server);
    reactor.add_stdin(Keyboard).or_fail("reading stdin");
    reactor
        .shutdown_on_signals()
        .or_fail("installing signal handlers");
    reactor.run().or_fail("running the reactor");
    std::process::exit(i32::from(reactor.shared().failed));
}
