//! Static file server: HTTP/1.1 with keep-alive and pipelining, on one thread.
//!
//! ```text
//! cargo run --release --example http_server
//! # then open http://127.0.0.1:8000/ in a browser, or: curl -i http://127.0.0.1:8000/
//! ```
//!
//! `--root DIR` is the directory served (default `examples/www`, relative to
//! where you start it: run it from the repository root); `--addr HOST:PORT`
//! where to listen (default 127.0.0.1:8000, port 0 for any free port);
//! `--tls-cert PEM --tls-key PEM` serve HTTPS instead (ALPN `http/1.1`; make
//! a pair with `cargo run --example make_cert`, then
//! `curl --cacert certs/ca.pem https://localhost:8000/`). The first line on
//! stdout names the address actually bound. `--list-dirs` lists directories
//! without an index.html; dotfiles stay hidden unless `--dotfiles`. Ctrl-C
//! or SIGTERM flush what is queued and exit 0.
//!
//! How it works: `sockloop_examples::http` (`examples/lib/src/http/`).

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use sockloop::{Config, Reactor, Workers};
use sockloop_examples::http::files::Options;
use sockloop_examples::http::{Http, Server};
use sockloop_examples::server::{self, OrFail};
use sockloop_examples::tls::{self, ServerTls};

#[derive(Parser)]
#[command(about = "Static file server (HTTP/1.1) on the sockloop reactor")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    addr: String,
    /// Directory to serve.
    #[arg(long, default_value = "examples/www")]
    root: PathBuf,
    /// Seconds a client has to send a whole request head (fractions allowed).
    #[arg(long, default_value = "10", value_parser = seconds)]
    header_timeout: Duration,
    /// Seconds a keep-alive connection may wait idle for its next request.
    #[arg(long, default_value = "15", value_parser = seconds)]
    keepalive_timeout: Duration,
    /// Seconds a client may take nothing of its queued responses before it
    /// is cut off (between two reads, not for a whole download).
    #[arg(long, default_value = "60", value_parser = seconds)]
    send_timeout: Duration,
    /// Most connections open at once.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// List directories that have no index.html (like nginx's autoindex).
    #[arg(long)]
    list_dirs: bool,
    /// Serve and list dotfiles (.env, .git, ...), which are hidden otherwise
    /// (/.well-known/ is always served).
    #[arg(long)]
    dotfiles: bool,
    /// Event-loop threads: N reactors share the port (SO_REUSEPORT), each
    /// with its own connections and its own --max-connections. A port
    /// another program listens on is refused all the same.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    threads: u16,
    #[command(flatten)]
    tls: tls::ServerFlags,
}

/// Parses a positive number of seconds such as `10` or `0.5`.
fn seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text.parse().map_err(|e| format!("{e}"))?;
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err("expected a positive number of seconds".into()),
    }
}

fn main() {
    let args = Args::parse();
    server::init_logging();
    let root = args.root.canonicalize().or_fail(&format!(
        "opening the root directory {}",
        args.root.display()
    ));
    if !root.is_dir() {
        server::fail("serving", format!("{} is not a directory", root.display()));
    }
    let make_server = move || {
        let mut server = Server::new(root.clone(), args.max_connections as usize);
        server.header_timeout = args.header_timeout;
        server.keepalive_timeout = args.keepalive_timeout;
        server.send_timeout = args.send_timeout;
        server.options = Options {
            dotfiles: args.dotfiles,
            list_dirs: args.list_dirs,
        };
        server
    };
    let tls = args.tls.config(&[b"http/1.1"]);
    if args.threads > 1 {
        serve_threads(usize::from(args.threads), &args.addr, tls, make_server);
    } else {
        serve(&args.addr, tls, make_server());
    }
}

fn config_for(server: &Server) -> Config {
    Config {
        max_connections: server.max_connections,
        ..Config::default()
    }
}

/// Runs `threads` reactors on `addr`, one per thread, until a signal.
fn serve_threads(
    threads: usize,
    addr: &str,
    tls: ServerTls,
    make_server: impl Fn() -> Server + Send + Sync + 'static,
) {
    let workers = Workers::spawn(threads, addr, move |_, listener| {
        let server = make_server();
        let config = config_for(&server);
        let mut reactor = Reactor::with_config(server, config)?;
        match tls.clone() {
            Some(tls) => reactor.listen_tls_std(listener, tls, Http::new)?,
            None => reactor.listen_tcp_std(listener, Http::new)?,
        };
        reactor.shutdown_on_signals()?;
        Ok(reactor)
    })
    .or_fail(&format!("listening on {addr}"));
    server::announce(workers.local_addr());
    workers.join().or_fail("running the reactors");
}

/// Runs one reactor serving `state.root` on `addr` until a signal.
fn serve(addr: &str, tls: ServerTls, state: Server) {
    let config = config_for(&state);
    server::listen_tls(state, config, addr, tls, Http::new).run();
}
