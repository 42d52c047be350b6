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
//! stdout names the address actually bound. Ctrl-C or SIGTERM flush what is
//! queued and exit 0.
//!
//! What it does, and how:
//! - GET and HEAD; anything else is 405 with `Allow: GET, HEAD`. `/` and any
//!   `dir/` serve that directory's `index.html`; `dir` without the slash is
//!   a 301 to `dir/`. The query string is ignored. 200 carries
//!   `Content-Type` (from the extension), `Content-Length` and
//!   `Last-Modified`; a matching `If-Modified-Since` gets 304.
//! - Heads are parsed by httparse, with limits: a request line over 8 KiB is
//!   414, a head over 8 KiB is 431, a version other than HTTP/1.0 and 1.1 is
//!   505, anything malformed (bad percent-encoding included) is 400; these
//!   close the connection. An HTTP/1.1 request needs a `Host` header.
//! - Request bodies: a `Content-Length` body (on a GET, say) is read and
//!   thrown away, so the next request on the connection is found where it
//!   starts; `Transfer-Encoding` is refused with 400 and a close, since this
//!   server has no use for a chunked body.
//! - Never outside the root: the path is percent-decoded once, `..` and NUL
//!   are refused, and the real path (symlinks resolved) must lie under the
//!   root's, else 404.
//! - Small files (up to 64 KiB) are answered from memory: the first request
//!   reads one into a ready-made response (its headers and body), and later
//!   requests for the same path (query aside) send that, with no system call
//!   but the socket's read and write. A cached file is checked against the
//!   disk at most once per second, by the same resolution as above, root
//!   checks and all, then a comparison of inode, size and times: a changed
//!   file is served new, a deleted one is 404, a symlink repointed outside
//!   the root is refused, each within a second (nginx's
//!   `open_file_cache_valid 1s` makes the same trade). A file changed
//!   within the last second is read again at every check, as file times are
//!   too coarse to tell two quick writes apart. The cache holds at most
//!   1024 files and 16 MiB (per reactor thread), dropping the least
//!   recently used.
//! - Larger files are streamed as the socket drains, one 64 KiB chunk at a
//!   time, so a 10 GiB file costs what a 10 KiB one does. Reading a file
//!   blocks the loop for the length of one `read`: fine for a local disk,
//!   not for a network filesystem.
//! - Time limits: a new connection must send its first request head within
//!   `--header-timeout` seconds and every later head must complete within
//!   that long of its first byte (408, then close); a keep-alive connection
//!   idle for `--keepalive-timeout` seconds is closed; one that leaves its
//!   responses unread (output stuck over the high watermark) for
//!   `--send-timeout` seconds is cut off, file and all. Near
//!   `--max-connections` (over 90% in use), the oldest idle keep-alive
//!   connections are closed to make room for new ones, as nginx does.
//! - An access log line per request at `info` on stderr: peer, method,
//!   target, status, body bytes, time taken. `RUST_LOG=warn` turns it off
//!   (and then no line is formatted at all), as `access_log off` does for
//!   nginx; bench/http.sh runs it so.
//! - The steady state of a keep-alive connection allocates nothing per
//!   request: the head is parsed in place, response heads are built in one
//!   reused buffer with a `Date` formatted once a second, and timers are not
//!   touched (the header timer is set only for a head that arrives in
//!   pieces; the keep-alive timer runs across requests and checks the real
//!   idle time when it fires).

#[cfg(test)]
#[path = "../common/alloc_count.rs"]
mod alloc_count;
mod cache;
#[path = "../common/mod.rs"]
mod common;
mod connection;
mod files;
mod idle;
mod request;
mod response;

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use common::OrFail;
use sockloop::{Config, Reactor, Workers};

use connection::Http;

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
    /// Seconds a client may leave its responses unread before it is cut off.
    #[arg(long, default_value = "60", value_parser = seconds)]
    send_timeout: Duration,
    /// Most connections open at once.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// Event-loop threads: N reactors share the port (SO_REUSEPORT), each
    /// with its own connections and its own --max-connections.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    threads: u16,
    #[command(flatten)]
    tls: common::tls::ServerFlags,
}

/// Parses a positive number of seconds such as `10` or `0.5`.
fn seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text.parse().map_err(|e| format!("{e}"))?;
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err("expected a positive number of seconds".into()),
    }
}

/// What every connection of one reactor shares.
pub struct Server {
    /// The served directory, canonical.
    pub root: PathBuf,
    pub header_timeout: Duration,
    pub keepalive_timeout: Duration,
    pub send_timeout: Duration,
    pub max_connections: usize,
    /// Connections made and not yet lost.
    pub open: usize,
    /// Idle keep-alive connections, oldest first.
    pub idle: idle::IdleList,
    /// The read buffer for file chunks, lent to one callback at a time.
    pub chunk: Vec<u8>,
    /// The buffer response heads are built in, lent likewise.
    pub head: Vec<u8>,
    pub clock: response::Clock,
    /// Small files as ready-made responses.
    pub cache: cache::Cache,
}

impl Server {
    pub fn new(root: PathBuf, max_connections: usize) -> Server {
        Server {
            root,
            header_timeout: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(15),
            send_timeout: Duration::from_secs(60),
            max_connections,
            open: 0,
            idle: idle::IdleList::default(),
            chunk: Vec::new(),
            head: Vec::new(),
            clock: response::Clock::default(),
            cache: cache::Cache::default(),
        }
    }

    /// With more connections open than this (90% of the limit), idle
    /// keep-alive connections are closed to make room.
    pub fn crowded_above(&self) -> usize {
        self.max_connections - self.max_connections / 10
    }
}

fn main() {
    let args = Args::parse();
    common::init_logging();
    let root = args.root.canonicalize().or_fail(&format!(
        "opening the root directory {}",
        args.root.display()
    ));
    if !root.is_dir() {
        common::fail("serving", format!("{} is not a directory", root.display()));
    }
    let make_server = move || {
        let mut server = Server::new(root.clone(), args.max_connections as usize);
        server.header_timeout = args.header_timeout;
        server.keepalive_timeout = args.keepalive_timeout;
        server.send_timeout = args.send_timeout;
        server
    };
    let tls = args.tls.config(&[b"http/1.1"]);
    if args.threads > 1 {
        serve_threads(usize::from(args.threads), &args.addr, tls, make_server);
    } else {
        serve(&args.addr, tls, make_server());
    }
}

/// HTTPS if a TLS configuration is given, else plain HTTP.
type Tls = Option<std::sync::Arc<sockloop::tls::rustls::ServerConfig>>;

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
    tls: Tls,
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
    common::announce(workers.local_addr());
    workers.join().or_fail("running the reactors");
}

/// Runs one reactor serving `server.root` on `addr` until a signal.
fn serve(addr: &str, tls: Tls, server: Server) {
    let config = config_for(&server);
    let mut reactor = Reactor::with_config(server, config).or_fail("creating the reactor");
    let listener = match tls {
        Some(tls) => reactor.listen_tls(addr, tls, Http::new),
        None => reactor.listen_tcp(addr, Http::new),
    }
    .or_fail(&format!("listening on {addr}"));
    reactor
        .shutdown_on_signals()
        .or_fail("installing signal handlers");
    common::announce(
        reactor
            .local_addr(listener)
            .or_fail("reading the bound address"),
    );
    reactor.run().or_fail("running the reactor");
}
