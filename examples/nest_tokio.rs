//! A tokio program that nests a sockloop reactor: tokio reads commands from
//! stdin, the reactor inside serves echo clients, both on tokio's one
//! thread (the `current_thread` runtime).
//!
//! ```text
//! cargo run --example nest_tokio
//! nc 127.0.0.1 8887          # in another terminal: an echo client
//! ```
//!
//! Then type `timer 50`, `connections` or `quit`, as with `nest_poll`. The
//! reactor's fd goes into tokio's own epoll set through `AsyncFd`; one task
//! waits for it to be readable, and no longer than `backend_timeout()`
//! (`--fd-only` leaves that out, which Linux allows), then runs one
//! `run_once` with a zero timeout. Ctrl-C or SIGTERM reach the reactor
//! through its fd: it shuts down gracefully and the program exits 0.

use clap::Parser;

#[derive(Parser)]
#[command(about = "An echo server on a sockloop reactor nested in tokio")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8887")]
    addr: String,
    /// Wait on the reactor's fd alone, ignoring backend_timeout (enough on Linux).
    #[arg(long)]
    fd_only: bool,
}

#[cfg(mio_unsupported_force_poll_poll)]
fn main() {
    let _ = Args::parse();
    sockloop_examples::nested::no_poller_fd();
}

#[cfg(not(mio_unsupported_force_poll_poll))]
fn main() {
    use sockloop_examples::server::{self, OrFail};

    let args = Args::parse();
    server::init_logging();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .or_fail("starting tokio");
    runtime.block_on(serve(args));
    // Not `drop`: that would wait for tokio's stdin thread, asleep in a read.
    runtime.shutdown_background();
}

#[cfg(not(mio_unsupported_force_poll_poll))]
async fn serve(args: Args) {
    use std::time::Duration;

    use sockloop_examples::nested;
    use sockloop_examples::server::OrFail;
    use tokio::io::unix::AsyncFd;
    use tokio::io::{AsyncBufReadExt, BufReader, Interest};

    let reactor = nested::echo_reactor(&args.addr);
    // AsyncFd owns the reactor and registers its fd in tokio's own epoll set.
    // SAFETY: the fd is the reactor's poller, open for as long as the
    // reactor lives, and `as_raw_fd` always returns that same fd.
    let mut reactor = unsafe { AsyncFd::register_with_interest(reactor, Interest::READABLE) }
        .map_err(|e| e.to_string())
        .or_fail("registering with tokio");
    let mut lines = Some(BufReader::new(tokio::io::stdin()).lines());
    while !reactor.get_ref().is_stopped() {
        let timeout = match reactor.get_mut().backend_timeout() {
            Some(t) if !args.fd_only => t,
            _ => Duration::MAX,
        };
        tokio::select! {
            // The reactor's fd is readable: one turn, then tokio is told the
            // readiness was used (it waits for the next edge).
            ready = reactor.readable_mut() => {
                let mut guard = ready.or_fail("waiting on the reactor's fd");
                guard.get_inner_mut().run_once(Some(Duration::ZERO)).or_fail("running the reactor");
                guard.clear_ready();
            }
            // Its deadline came with no event: a turn for the timers.
            () = tokio::time::sleep(timeout), if timeout != Duration::MAX => {
                reactor.get_mut().run_once(Some(Duration::ZERO)).or_fail("running the reactor");
            }
            line = async { lines.as_mut()?.next_line().await.ok().flatten() }, if lines.is_some() => {
                match line {
                    Some(line) => nested::command(reactor.get_mut(), &line),
                    None => {
                        lines = None; // the end of stdin: as `quit`
                        nested::command(reactor.get_mut(), "quit");
                    }
                }
            }
        }
    }
}
