//! TCP echo server: every byte a client sends comes straight back.
//!
//! ```text
//! cargo run --release --example echo_server
//! nc 127.0.0.1 8888        # type a line, get it back
//! ```
//!
//! `--addr HOST:PORT` picks the address (default 127.0.0.1:8888, port 0 for
//! any free port), `--unix PATH` serves a Unix socket instead, `--threads N`
//! runs N reactors on N threads sharing the port (SO_REUSEPORT), and still
//! refuses a port another program listens on, as one reactor does;
//! `--tls-cert PEM --tls-key PEM` serves TLS (make a pair with
//! `cargo run --example make_cert`, then
//! `openssl s_client -connect 127.0.0.1:8888 -CAfile certs/ca.pem`). The
//! first line on stdout names the address actually bound. Ctrl-C or SIGTERM
//! flush what is queued and exit 0.

use clap::Parser;
use sockloop::{Config, Reactor, Workers};
use sockloop_examples::echo::Echo;
use sockloop_examples::server::{self, OrFail};
use sockloop_examples::tls;

#[derive(Parser)]
#[command(about = "TCP echo server on the sockloop reactor")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8888")]
    addr: String,
    /// Serve on this Unix socket path instead of TCP.
    #[arg(long, conflicts_with = "tls_cert")]
    unix: Option<std::path::PathBuf>,
    /// Reactors (threads) sharing the TCP port.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    threads: u16,
    #[command(flatten)]
    tls: tls::ServerFlags,
}

fn main() {
    let args = Args::parse();
    server::init_logging();
    if args.threads > 1 && args.unix.is_none() {
        return serve_threads(&args);
    }
    let addr = match &args.unix {
        Some(path) => format!("unix:{}", path.display()),
        None => args.addr.clone(),
    };
    server::listen_tls((), Config::default(), &addr, args.tls.config(&[]), || Echo).run();
}

/// One reactor per thread, each with its own listener on the shared port.
fn serve_threads(args: &Args) {
    let tls = args.tls.config(&[]);
    let workers = Workers::spawn(
        usize::from(args.threads),
        args.addr.as_str(),
        move |_, listener| {
            let mut reactor = Reactor::new()?;
            match tls.clone() {
                Some(tls) => reactor.listen_tls_std(listener, tls, || Echo)?,
                None => reactor.listen_tcp_std(listener, || Echo)?,
            };
            reactor.shutdown_on_signals()?;
            Ok(reactor)
        },
    )
    .or_fail(&format!("listening on {}", args.addr));
    server::announce(workers.local_addr());
    workers.join().or_fail("running the reactors");
}
