//! What the two nesting examples share (`nest_poll`, `nest_tokio`): the echo
//! server they nest, and the outer program's own work, commands read from
//! its stdin. Only the outer loop differs between them.

use std::io::Write;
use std::time::{Duration, Instant};

use sockloop::Reactor;

use crate::echo::Echo;
use crate::server::{self, OrFail};

/// The reactor both examples nest: an echo server on `addr` that also shuts
/// down on SIGINT and SIGTERM (signals reach it through its own fd, like
/// every other event). Prints the `listening on` line.
pub fn echo_reactor(addr: &str) -> Reactor {
    let mut reactor = Reactor::new().or_fail("creating the reactor");
    let listener = reactor
        .listen_tcp(addr, || Echo)
        .or_fail(&format!("listening on {addr}"));
    reactor
        .shutdown_on_signals()
        .or_fail("installing signal handlers");
    server::announce(
        reactor
            .local_addr(listener)
            .or_fail("reading the bound address"),
    );
    reactor
}

/// One line on stdout, flushed: the outer program's output.
pub fn say(line: std::fmt::Arguments) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The outer program's commands, one per line of its stdin:
///
/// - `timer MS`: a sockloop timer, which reports how late it fired;
/// - `connections`: how many clients the nested server has;
/// - `quit` (or the end of stdin): shut the reactor down gracefully.
pub fn command(reactor: &mut Reactor, line: &str) {
    let mut words = line.split_whitespace();
    match (words.next(), words.next().map(str::parse::<u64>)) {
        (Some("timer"), Some(Ok(ms))) => {
            let set = Instant::now();
            reactor.call_later(Duration::from_millis(ms), move |_| {
                let after = set.elapsed().as_secs_f64() * 1000.0;
                say(format_args!(
                    "timer: {ms} ms timer fired after {after:.1} ms"
                ));
            });
        }
        (Some("connections"), None) => {
            say(format_args!("connections: {}", reactor.connection_count()));
        }
        (Some("quit"), None) => reactor.shutdown(),
        (None, _) => {}
        _ => say(format_args!(
            "commands: timer MS | connections | quit (got {line:?})"
        )),
    }
}

/// What both examples do on mio's portable `poll(2)` backend, where the
/// reactor has no poller fd to nest: say so, and exit 1.
pub fn no_poller_fd() -> ! {
    server::fail(
        "nesting",
        "mio's poll(2) backend has no poller fd to nest in another loop",
    )
}
