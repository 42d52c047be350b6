//! A program with its own `poll(2)` loop that nests a sockloop reactor: the
//! outer loop reads commands from stdin, the reactor inside serves echo
//! clients, and one thread does both.
//!
//! ```text
//! cargo run --example nest_poll
//! nc 127.0.0.1 8886          # in another terminal: an echo client
//! ```
//!
//! Then type `timer 50` (a sockloop timer that says how late it fired),
//! `connections`, or `quit`. The loop follows the rule on
//! `Reactor::backend_timeout`: wait on stdin and the reactor's fd, no longer
//! than `backend_timeout()`; when the fd is readable or the time is up, one
//! `run_once` with a zero timeout. `--fd-only` leaves the timeout out and
//! waits on the fds alone, which Linux allows: there the reactor makes its
//! own fd readable when a timer falls due or work waits on its ready list.
//! Ctrl-C or SIGTERM reach the reactor through its fd like any event: it
//! shuts down gracefully and the program exits 0.

use clap::Parser;

#[derive(Parser)]
#[command(about = "An echo server on a sockloop reactor nested in a bare poll(2) loop")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8886")]
    addr: String,
    /// Wait on the fds alone, ignoring backend_timeout (enough on Linux).
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
    use std::io::{self, Read};
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    use sockloop_examples::nested;
    use sockloop_examples::server::{self, OrFail};

    let args = Args::parse();
    server::init_logging();
    let mut reactor = nested::echo_reactor(&args.addr);
    let mut stdin = Some(io::stdin());
    let mut line = Vec::new();
    while !reactor.is_stopped() {
        let mut fds = [
            pollfd(reactor.as_raw_fd()),
            pollfd(stdin.as_ref().map_or(-1, |s| s.as_raw_fd())), // -1: ignored
        ];
        let timeout = match reactor.backend_timeout() {
            Some(t) if !args.fd_only => millis_rounded_up(t),
            _ => -1, // no deadline: wait for an fd
        };
        // SAFETY: `fds` is a valid array of two pollfd for the call.
        if unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) } < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                server::fail("poll", e);
            }
            continue;
        }
        if fds[1].revents != 0 {
            // One read of what is there; a whole line runs as a command.
            let mut buf = [0; 1024];
            match stdin.as_mut().map(|s| s.read(&mut buf)) {
                Some(Ok(n @ 1..)) => line.extend_from_slice(&buf[..n]),
                _ => {
                    stdin = None; // the end of stdin: as `quit`
                    line.extend_from_slice(b"\nquit\n");
                }
            }
            while let Some(end) = line.iter().position(|&b| b == b'\n') {
                let command: Vec<u8> = line.drain(..=end).collect();
                nested::command(&mut reactor, &String::from_utf8_lossy(&command));
            }
        }
        // The reactor's turn: its fd was readable, or its deadline came (a
        // turn with nothing to do costs one epoll_wait that returns at once).
        reactor
            .run_once(Some(Duration::ZERO))
            .or_fail("running the reactor");
    }
}

#[cfg(not(mio_unsupported_force_poll_poll))]
fn pollfd(fd: i32) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// `poll(2)` counts milliseconds; rounded down, it would wake a little
/// before the deadline, to a turn with nothing due yet.
#[cfg(not(mio_unsupported_force_poll_poll))]
fn millis_rounded_up(t: std::time::Duration) -> i32 {
    let ms = t.as_nanos().div_ceil(1_000_000);
    ms.min(i32::MAX as u128) as i32
}
