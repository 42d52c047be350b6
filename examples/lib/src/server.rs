//! What every example program does the same way: logging, the `listening on`
//! line, how it fails at start-up, and (for the servers) the whole start:
//! [`listen`], then [`Listening::run`].
//!
//! ```no_run
//! use sockloop::Config;
//! use sockloop_examples::echo::Echo;
//! use sockloop_examples::server;
//!
//! server::init_logging();
//! server::listen((), Config::default(), "127.0.0.1:8888", || Echo).run();
//! ```

use std::fmt::Display;
use std::io::Write;

use sockloop::{Config, Protocol, Reactor, Token};

use crate::tls::ServerTls;

/// Logs to stderr at `info` unless `RUST_LOG` says otherwise.
pub fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
}

/// Clients log only warnings unless `RUST_LOG` says otherwise: their stdout
/// and stderr belong to the conversation.
pub fn init_client_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
}

/// Prints the first stdout line scripts and tests wait for, flushed at once.
pub fn announce(addr: impl Display) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {addr}");
    let _ = out.flush();
}

/// A start-up failure: one clear line on stderr, exit status 1.
pub fn fail(what: &str, error: impl Display) -> ! {
    eprintln!("error: {what}: {error}");
    std::process::exit(1)
}

/// Unwraps a start-up step or fails with one line.
pub trait OrFail<T> {
    /// The value, or exit 1 with `what` and the error.
    fn or_fail(self, what: &str) -> T;
}

impl<T, E: Display> OrFail<T> for Result<T, E> {
    fn or_fail(self, what: &str) -> T {
        self.unwrap_or_else(|e| fail(what, e))
    }
}

/// A server as every example starts one: a reactor listening on its
/// address, SIGINT and SIGTERM installed, not yet announced or running.
pub struct Listening<S: 'static> {
    /// The reactor, for what a server adds before it runs (stdin, timers).
    pub reactor: Reactor<S>,
    listener: Token,
    /// Further listeners announced after the first, with what they are.
    others: Vec<(Token, &'static str)>,
}

/// Starts a server: a reactor sharing `state`, with `config`, listening on
/// `addr` (`HOST:PORT`, or `unix:PATH` for a Unix socket) with a protocol
/// from `factory` per connection, shut down
/// gracefully by SIGINT or SIGTERM (a second one exits at once). Any
/// failure exits 1 with one line, as the examples' conventions say.
pub fn listen<S, P, F>(state: S, config: Config, addr: &str, factory: F) -> Listening<S>
where
    S: 'static,
    P: Protocol<S>,
    F: FnMut() -> P + 'static,
{
    listen_tls(state, config, addr, None, factory)
}

/// [`listen`], speaking TLS with `tls` if it is given (the servers'
/// `--tls-cert`/`--tls-key`, see [`crate::tls`]).
pub fn listen_tls<S, P, F>(
    state: S,
    config: Config,
    addr: &str,
    tls: ServerTls,
    factory: F,
) -> Listening<S>
where
    S: 'static,
    P: Protocol<S>,
    F: FnMut() -> P + 'static,
{
    let mut reactor = Reactor::with_config(state, config).or_fail("creating the reactor");
    let listener = match (addr.strip_prefix("unix:"), tls) {
        (Some(_), Some(_)) => fail("listening", "TLS is served on TCP addresses only"),
        (Some(path), None) => reactor.listen_unix(path, factory),
        (None, Some(tls)) => reactor.listen_tls(addr, tls, factory),
        (None, None) => reactor.listen_tcp(addr, factory),
    }
    .or_fail(&format!("listening on {addr}"));
    reactor
        .shutdown_on_signals()
        .or_fail("installing signal handlers");
    Listening {
        reactor,
        listener,
        others: Vec::new(),
    }
}

impl<S: 'static> Listening<S> {
    /// Also serves TLS with `tls` on `addr` (resp_server's `--tls-addr`,
    /// Redis's `tls-port`); announced as the second line,
    /// `listening on <address> (tls)`.
    pub fn also_listen_tls<P, F>(
        &mut self,
        addr: &str,
        tls: std::sync::Arc<sockloop::tls::rustls::ServerConfig>,
        factory: F,
    ) where
        P: Protocol<S>,
        F: FnMut() -> P + 'static,
    {
        let token = self
            .reactor
            .listen_tls(addr, tls, factory)
            .or_fail(&format!("listening on {addr}"));
        self.others.push((token, "tls"));
    }

    /// Prints `listening on <address actually bound>` (then one line for
    /// each further listener, e.g. `listening on 127.0.0.1:6390 (tls)`) and runs until shut
    /// down; exits 1 if the loop fails. Returns the reactor, for what a
    /// server does after its loop (the chat server flushes its console).
    pub fn run(mut self) -> Reactor<S> {
        announce(
            self.reactor
                .local_addr(self.listener)
                .or_fail("reading the bound address"),
        );
        for &(token, what) in &self.others {
            let addr = self
                .reactor
                .local_addr(token)
                .or_fail("reading the bound address");
            announce(format_args!("{addr} ({what})"));
        }
        self.reactor.run().or_fail("running the reactor");
        self.reactor
    }
}
