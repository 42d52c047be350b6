//! A reactor nested in another event loop, as `Reactor::backend_timeout`
//! documents: the outer loop watches the reactor's fd, waits no longer than
//! `backend_timeout()`, and runs `run_once` with a zero timeout.
//!
//! In-process: what `backend_timeout` reports, and that the fd becomes
//! readable for work no event announces (a timer set from outside the loop,
//! the ready list) on Linux. As processes: the two nesting examples, a bare
//! `poll(2)` loop (`nest_poll`) and tokio (`nest_tokio`), each following the
//! whole rule and, on Linux, watching the fd alone (`--fd-only`): a 50 ms
//! timer fires when it is due, and an echo large enough for flow control
//! and the read budget comes back whole.

mod util;

#[cfg_attr(mio_unsupported_force_poll_poll, allow(unused_imports))]
use std::io::{BufRead, Read, Write};
use std::time::{Duration, Instant};

use sockloop::{Ctx, Protocol, Reactor};
use util::PATIENCE;

// ----- in-process --------------------------------------------------------------

#[test]
fn backend_timeout_is_none_without_work_the_time_to_a_timer_and_zero_when_stopped() {
    let mut reactor = Reactor::new().unwrap();
    assert_eq!(reactor.backend_timeout(), None);
    let id = reactor.call_later(Duration::from_millis(200), |_| {});
    let timeout = reactor.backend_timeout().expect("a timer is pending");
    assert!(
        timeout > Duration::from_millis(150) && timeout <= Duration::from_millis(200),
        "{timeout:?}"
    );
    reactor.cancel_timer(id);
    assert_eq!(reactor.backend_timeout(), None);
    reactor.shutdown(); // nothing to flush: stopped at once
    assert!(reactor.is_stopped());
    assert_eq!(reactor.backend_timeout(), Some(Duration::ZERO));
}

/// Regression: a timer set from outside the loop counted from the last
/// turn's time, so long after a turn it was due at once.
#[test]
fn a_timer_set_between_turns_counts_from_when_it_is_set() {
    let mut reactor = Reactor::new().unwrap();
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    reactor.call_later(Duration::from_millis(200), |_| {});
    let timeout = reactor.backend_timeout().expect("a timer is pending");
    assert!(
        timeout > Duration::from_millis(150),
        "due in {timeout:?}, counted from the last turn"
    );
}

/// A protocol that reads to the end of its input, then stops the reactor.
struct ReadAll(usize);

impl Protocol<usize> for ReadAll {
    fn data_received(&mut self, ctx: &mut Ctx<usize>, data: &[u8]) -> usize {
        *ctx.shared() += data.len();
        self.0 += 1;
        data.len()
    }
}

/// epoll refuses a regular file, so the reactor keeps it on its ready list:
/// `backend_timeout` says there is work now. (`poll(2)` takes a regular
/// file, always readable: there it is read on its events.)
#[test]
fn a_source_on_the_ready_list_makes_backend_timeout_zero() {
    let path = std::env::temp_dir().join(format!("sockloop-nesting-{}", std::process::id()));
    std::fs::write(&path, vec![b'x'; 100_000]).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let mut reactor = Reactor::with_state(0usize).unwrap();
    reactor.add_fd(file.into(), ReadAll(0)).unwrap();
    if cfg!(not(mio_unsupported_force_poll_poll)) {
        assert_eq!(reactor.backend_timeout(), Some(Duration::ZERO));
    }
    let deadline = Instant::now() + PATIENCE;
    while *reactor.shared() < 100_000 {
        assert!(Instant::now() < deadline, "read {}", reactor.shared());
        reactor.run_once(Some(Duration::ZERO)).unwrap();
    }
}

#[cfg(not(mio_unsupported_force_poll_poll))]
mod by_fd {
    use super::*;
    use std::cell::Cell;
    use std::net::TcpStream;
    use std::os::fd::AsRawFd;
    use std::rc::Rc;

    /// Whether `fd` becomes readable within `timeout_ms`.
    pub fn poll_readable(fd: i32, timeout_ms: i32) -> bool {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        assert!(n >= 0, "poll: {}", std::io::Error::last_os_error());
        n == 1 && pfd.revents & libc::POLLIN != 0
    }

    /// Runs turns while the fd is readable at once: what an outer loop does
    /// with whatever the fd announced so far.
    fn settle<S: 'static>(reactor: &mut Reactor<S>) {
        while poll_readable(reactor.as_raw_fd(), 0) {
            reactor.run_once(Some(Duration::ZERO)).unwrap();
        }
    }

    #[test]
    fn the_fd_becomes_readable_when_a_connection_arrives_and_run_once_serves_it() {
        let made = Rc::new(Cell::new(false));
        struct Flag(Rc<Cell<bool>>);
        impl Protocol for Flag {
            fn connection_made(&mut self, _ctx: &mut Ctx) {
                self.0.set(true);
            }
            fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
                ctx.write(data);
                data.len()
            }
        }
        let mut reactor = Reactor::new().unwrap();
        let flag = made.clone();
        let listener = reactor
            .listen_tcp("127.0.0.1:0", move || Flag(flag.clone()))
            .unwrap();
        let addr = reactor.local_addr(listener).unwrap().as_inet().unwrap();
        let fd = reactor.as_raw_fd();
        settle(&mut reactor); // the ring of the first hand-out
        assert!(!poll_readable(fd, 0), "readable with nothing to do");

        let mut client = TcpStream::connect(addr).unwrap();
        assert!(
            poll_readable(fd, 5000),
            "a connecting client did not wake it"
        );
        reactor.run_once(Some(Duration::ZERO)).unwrap();
        assert!(made.get(), "run_once after readiness accepted nobody");

        client.write_all(b"nested\n").unwrap();
        client.set_nonblocking(true).unwrap();
        let mut got = Vec::new();
        let deadline = Instant::now() + PATIENCE;
        while got != b"nested\n" {
            assert!(Instant::now() < deadline, "no echo; got {got:?}");
            if poll_readable(fd, 100) {
                reactor.run_once(Some(Duration::ZERO)).unwrap();
            }
            let mut buf = [0; 64];
            match client.read(&mut buf) {
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("client read: {e}"),
            }
        }
    }

    /// The issue's own experiment: a 50 ms timer set from outside, and an
    /// outer `poll` on the fd alone with a one-second timeout. Before the
    /// alarm, the poll waited the whole second.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn on_linux_a_due_timer_makes_the_fd_readable() {
        let mut reactor = Reactor::with_state(false).unwrap();
        let fd = reactor.as_raw_fd();
        settle(&mut reactor);
        let set = Instant::now();
        reactor.call_later(Duration::from_millis(50), |ctx| *ctx.shared() = true);
        assert!(!poll_readable(fd, 0), "readable before the timer is due");
        assert!(
            poll_readable(fd, 1000),
            "the timer never made the fd readable"
        );
        let waited = set.elapsed();
        assert!(waited >= Duration::from_millis(50), "woke after {waited:?}");
        assert!(waited < Duration::from_millis(900), "woke after {waited:?}");
        reactor.run_once(Some(Duration::ZERO)).unwrap();
        assert!(
            *reactor.shared(),
            "the turn after the wake-up did not fire it"
        );
        assert!(
            !poll_readable(fd, 0),
            "still readable after the timer fired"
        );
    }

    /// The ready list, too: a source the poller cannot watch keeps the fd
    /// readable until it has been read to its end.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn on_linux_the_ready_list_keeps_the_fd_readable_until_it_is_empty() {
        let path = std::env::temp_dir().join(format!("sockloop-ready-{}", std::process::id()));
        std::fs::write(&path, vec![b'x'; 1 << 20]).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let mut reactor = Reactor::with_state(0usize).unwrap();
        let fd = reactor.as_raw_fd();
        reactor.add_fd(file.into(), ReadAll(0)).unwrap();
        let deadline = Instant::now() + PATIENCE;
        let mut turns = 0;
        // Only the fd says when to run a turn.
        while *reactor.shared() < 1 << 20 {
            assert!(Instant::now() < deadline, "read {}", reactor.shared());
            assert!(poll_readable(fd, 1000), "work waits and the fd is silent");
            reactor.run_once(Some(Duration::ZERO)).unwrap();
            turns += 1;
        }
        assert!(
            turns > 1,
            "1 MiB in one turn: the read budget did not apply"
        );
        settle(&mut reactor); // the file's EOF closes it
        assert!(!poll_readable(fd, 50), "readable with nothing left to do");
    }
}

// ----- the examples, as processes ----------------------------------------------

#[cfg(not(mio_unsupported_force_poll_poll))]
mod examples {
    use super::*;
    use util::Server;

    /// The nesting examples and the flags to test each with: the whole rule
    /// everywhere, and the fd alone where the reactor keeps it readable itself.
    fn variants() -> Vec<(&'static str, Vec<&'static str>)> {
        let mut all = Vec::new();
        for name in ["nest_poll", "nest_tokio"] {
            all.push((name, vec!["--addr", "127.0.0.1:0"]));
            if cfg!(any(target_os = "linux", target_os = "android")) {
                all.push((name, vec!["--addr", "127.0.0.1:0", "--fd-only"]));
            }
        }
        all
    }

    fn command(server: &mut Server, line: &str) {
        let stdin = server.stdin.as_mut().expect("stdin piped");
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    fn next_line(server: &mut Server) -> String {
        if server.stdout.buffer().is_empty() {
            use std::os::fd::AsRawFd;
            let fd = server.stdout.get_ref().as_raw_fd();
            let wait = PATIENCE.as_millis() as i32;
            assert!(
                by_fd::poll_readable(fd, wait),
                "no line within {PATIENCE:?}"
            );
        }
        let mut line = String::new();
        server.stdout.read_line(&mut line).unwrap();
        line.trim_end().to_string()
    }

    /// How late a 50 ms timer may fire and still count as on time here: a
    /// loaded machine can hold a process back for tens of milliseconds. Without
    /// the alarm and with `--fd-only`, it would not fire at all.
    const SLACK_MS: f64 = 150.0;

    #[test]
    fn a_50_ms_timer_fires_on_time_in_both_nesting_examples() {
        for (name, args) in variants() {
            let mut server = Server::start(name, &args);
            for _ in 0..3 {
                command(&mut server, "timer 50\n");
                let line = next_line(&mut server);
                let after: f64 = line
                    .strip_prefix("timer: 50 ms timer fired after ")
                    .and_then(|rest| rest.strip_suffix(" ms"))
                    .and_then(|ms| ms.parse().ok())
                    .unwrap_or_else(|| panic!("{name} {args:?}: {line:?}"));
                eprintln!("{name} {args:?}: fired after {after} ms");
                assert!(
                    (50.0..50.0 + SLACK_MS).contains(&after),
                    "{name} {args:?}: fired after {after} ms"
                );
            }
            command(&mut server, "quit\n");
            assert_eq!(server.wait_exit(PATIENCE), Some(0), "{name} {args:?}");
        }
    }

    /// 4 MiB echoed while nested, to a client that reads nothing until both
    /// directions are jammed: the reactor pauses reading it (output over the
    /// high watermark) and resumes it as the client drains its echo, with the
    /// rest of the input already waiting in the socket. Flow control, the read
    /// budget and the ready list all at work inside another loop. (The ready
    /// list alone, with nothing else to wake the loop, is
    /// `on_linux_the_ready_list_keeps_the_fd_readable_until_it_is_empty`.)
    #[test]
    fn a_large_echo_through_the_ready_list_comes_back_whole_in_both_nesting_examples() {
        const SIZE: usize = 4 << 20;
        for (name, args) in variants() {
            let mut server = Server::start(name, &args);
            let mut client = server.connect();
            let mut writer = client.try_clone().unwrap();
            let sent = std::thread::spawn(move || {
                let data = util::pattern(7, 0, SIZE);
                writer.write_all(&data).unwrap();
            });
            std::thread::sleep(Duration::from_millis(300)); // jammed by now
            client.set_read_timeout(Some(PATIENCE)).unwrap();
            let mut got = vec![0; SIZE];
            client
                .read_exact(&mut got)
                .unwrap_or_else(|e| panic!("{name} {args:?}: echo stalled: {e}"));
            sent.join().unwrap();
            assert_eq!(util::pattern_mismatch(7, 0, &got), None, "{name} {args:?}");
            command(&mut server, "connections\n");
            assert_eq!(next_line(&mut server), "connections: 1", "{name} {args:?}");
            drop(client);
            server.signal(libc::SIGTERM); // through the reactor's fd, like any event
            assert_eq!(server.wait_exit(PATIENCE), Some(0), "{name} {args:?}");
        }
    }
}

/// On mio's portable `poll(2)` backend there is no fd to nest, and the
/// examples say so at start-up.
#[cfg(mio_unsupported_force_poll_poll)]
#[test]
fn without_a_poller_fd_the_nesting_examples_refuse_to_start() {
    for name in ["nest_poll", "nest_tokio"] {
        let out = std::process::Command::new(util::example_path(name))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}");
    }
}
