//! Faults from the network against the example servers as real processes:
//! peers that reset in the middle of a large write or of a half-close,
//! tens of thousands of connect/close cycles, a graceful shutdown with
//! several clients mid-transfer, and UDP at its limits (the largest
//! datagram, a burst far larger than the socket buffer). Each time: the
//! others keep being served, and fds and memory come back to where they were.

mod util;

use std::io::{BufRead, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use util::{
    PATIENCE, Server, pattern, pattern_mismatch, read_line, send, set_linger_zero, wait_until,
};

const MIB: usize = 1024 * 1024;

fn echo_server() -> Server {
    Server::start("echo_server", &["--addr", "127.0.0.1:0"])
}

fn assert_echoes(stream: &mut TcpStream, line: &str) {
    send(stream, format!("{line}\n").as_bytes());
    assert_eq!(read_line(stream), line);
}

/// Send and receive queues (bytes) of the IPv4 TCP socket `local -> remote`,
/// from /proc/net/tcp.
fn tcp_queues(local: SocketAddr, remote: SocketAddr) -> Option<(u64, u64)> {
    let hex = |addr: SocketAddr| match addr {
        SocketAddr::V4(v4) => format!(
            "{:08X}:{:04X}",
            u32::from_ne_bytes(v4.ip().octets()),
            v4.port()
        ),
        SocketAddr::V6(_) => panic!("IPv4 only"),
    };
    let (local, remote) = (hex(local), hex(remote));
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.get(1) != Some(&local.as_str()) || f.get(2) != Some(&remote.as_str()) {
            return None;
        }
        let (tx, rx) = f.get(4)?.split_once(':')?;
        Some((
            u64::from_str_radix(tx, 16).ok()?,
            u64::from_str_radix(rx, 16).ok()?,
        ))
    })
}

/// Writes `stream` full without blocking: returns how much went in.
fn stuff(stream: &mut TcpStream, seed: u64) -> usize {
    stream.set_nonblocking(true).unwrap();
    let chunk = pattern(seed, 0, 256 * 1024);
    let mut sent = 0;
    let deadline = Instant::now() + PATIENCE;
    // Several rounds: the server drains some, pauses, the buffers fill.
    let mut idle_rounds = 0;
    while idle_rounds < 5 && Instant::now() < deadline {
        match stream.write(&chunk) {
            Ok(n) => {
                sent += n;
                idle_rounds = 0;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                idle_rounds += 1;
                thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("stuffing: {e}"),
        }
    }
    stream.set_nonblocking(false).unwrap();
    sent
}

/// Resets `stream` (SO_LINGER 0, then close).
fn reset(stream: TcpStream) {
    set_linger_zero(&stream);
    drop(stream);
}

#[test]
fn peers_resetting_in_the_middle_of_a_large_echo_cost_only_their_own_connection() {
    let server = echo_server();
    let mut bystander = server.connect();
    assert_echoes(&mut bystander, "before");
    let baseline = server.fd_count();
    for round in 0..10 {
        let mut doomed = server.connect();
        let sent = stuff(&mut doomed, round);
        assert!(sent > 256 * 1024, "only {sent} bytes went in");
        // The server is mid-write: its socket to us holds unsent echo.
        let (ours, theirs) = (doomed.local_addr().unwrap(), doomed.peer_addr().unwrap());
        wait_until("the server has echo queued for us", || {
            tcp_queues(theirs, ours).is_some_and(|(unsent, _)| unsent > 0)
        });
        reset(doomed);
        assert_echoes(&mut bystander, &format!("after reset {round}"));
    }
    wait_until("every reset connection's fd is closed", || {
        server.fd_count() <= baseline
    });
    let mut fresh = server.connect();
    assert_echoes(&mut fresh, "fresh");
}

#[test]
fn peers_resetting_during_a_half_close_cost_only_their_own_connection() {
    let server = echo_server();
    let mut bystander = server.connect();
    assert_echoes(&mut bystander, "before");
    let baseline = server.fd_count();
    for round in 0..10 {
        let mut doomed = server.connect();
        stuff(&mut doomed, 100 + round);
        // The server reads our EOF only after draining what we stuffed in,
        // and flushes the echo before it closes: reset somewhere in there.
        doomed.shutdown(Shutdown::Write).unwrap();
        thread::sleep(Duration::from_millis(round * 10));
        // Read a little, as a client that changed its mind would.
        let mut buf = [0; 1024];
        doomed.read_exact(&mut buf).unwrap();
        assert_eq!(pattern_mismatch(100 + round, 0, &buf), None);
        reset(doomed);
        assert_echoes(&mut bystander, &format!("after reset {round}"));
    }
    wait_until("every reset connection's fd is closed", || {
        server.fd_count() <= baseline
    });
    let mut fresh = server.connect();
    assert_echoes(&mut fresh, "fresh");
}

/// `cycles` connect/close cycles from `threads` threads: one in ten echoes a
/// byte first, every other one closes with a reset instead of a FIN.
fn churn(addr: SocketAddr, threads: usize, cycles: usize) {
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            thread::spawn(move || {
                for i in 0..cycles / threads {
                    let mut stream = TcpStream::connect(addr)
                        .unwrap_or_else(|e| panic!("thread {t}, cycle {i}: {e}"));
                    if i % 10 == 0 {
                        stream.set_read_timeout(Some(PATIENCE)).unwrap();
                        stream.write_all(&[i as u8]).unwrap();
                        let mut byte = [0];
                        stream.read_exact(&mut byte).unwrap();
                        assert_eq!(byte[0], i as u8);
                    }
                    if i % 2 == 0 {
                        set_linger_zero(&stream);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
}

#[test]
fn twenty_thousand_connect_close_cycles_leave_no_fd_and_no_memory_behind() {
    let server = echo_server();
    let addr = server.socket_addr();
    let mut bystander = server.connect();
    // Warm up: the pool, the slab and the allocator reach their working size.
    churn(addr, 4, 2_000);
    assert_echoes(&mut bystander, "warm");
    let fds = server.fd_count();
    let rss = server.rss_kib();

    let started = Instant::now();
    churn(addr, 4, 20_000);
    let took = started.elapsed();
    assert_echoes(&mut bystander, "after the churn");
    wait_until("the fds are back to where they were", || {
        server.fd_count() <= fds
    });
    let growth = server.rss_kib().saturating_sub(rss);
    eprintln!(
        "20000 cycles in {took:?}; fds {fds} -> {}; RSS +{growth} KiB",
        server.fd_count()
    );
    assert!(growth < 2048, "the resident set grew by {growth} KiB");
}

#[test]
fn sigterm_with_several_clients_mid_transfer_delivers_every_echo_then_exits_0() {
    const CLIENTS: usize = 4;
    const EACH: usize = 3 * MIB;
    let mut server = echo_server();
    let clients: Vec<TcpStream> = (0..CLIENTS).map(|_| server.connect()).collect();
    // Each sends its 3 MiB and reads nothing yet.
    let senders: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut writer = c.try_clone().unwrap();
            thread::spawn(move || send(&mut writer, &pattern(i as u64, 0, EACH)))
        })
        .collect();
    // Until the server has read everything: what it read, it has queued or
    // written back, and all of that must reach the client.
    let ends: Vec<(SocketAddr, SocketAddr)> = clients
        .iter()
        .map(|c| (c.local_addr().unwrap(), c.peer_addr().unwrap()))
        .collect();
    let read_all = || {
        ends.iter().all(|&(here, there)| {
            tcp_queues(here, there).is_some_and(|(unacked, _)| unacked == 0)
                && tcp_queues(there, here).is_some_and(|(_, unread)| unread == 0)
        })
    };
    // The server stops reading a client whose echo is not read, so each
    // client lets it catch up by reading a little at a time until then.
    let mut received: Vec<Vec<u8>> = vec![Vec::new(); CLIENTS];
    let mut clients = clients;
    let deadline = Instant::now() + PATIENCE;
    while !(senders.iter().all(|s| s.is_finished()) && read_all()) {
        assert!(Instant::now() < deadline, "the server never read it all");
        for (client, got) in clients.iter_mut().zip(&mut received) {
            client.set_nonblocking(true).unwrap();
            let mut buf = vec![0; 64 * 1024];
            if let Ok(n) = client.read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
            client.set_nonblocking(false).unwrap();
        }
        thread::sleep(Duration::from_millis(20));
    }
    for sender in senders {
        sender.join().unwrap();
    }
    let pending: usize = received.iter().map(|r| EACH - r.len()).sum();
    eprintln!("SIGTERM with {pending} bytes of echo still to deliver");

    let signalled = Instant::now();
    server.signal(libc::SIGTERM);
    let readers: Vec<_> = clients
        .into_iter()
        .zip(received)
        .enumerate()
        .map(|(i, (mut client, mut got))| {
            thread::spawn(move || {
                let mut buf = vec![0; 256 * 1024];
                loop {
                    match client.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                        Err(e) => panic!("client {i} after {} bytes: {e}", got.len()),
                    }
                }
                assert_eq!(got.len(), EACH, "client {i}: echo cut short");
                assert_eq!(pattern_mismatch(i as u64, 0, &got), None, "client {i}");
            })
        })
        .collect();
    for reader in readers {
        reader.join().unwrap();
    }
    assert_eq!(server.wait_exit(Duration::from_secs(5)), Some(0));
    let took = signalled.elapsed();
    assert!(took < Duration::from_secs(4), "shutdown took {took:?}");
}

// ----- UDP ---------------------------------------------------------------------

/// The largest UDP payload over IPv4: 65535 - 20 (IP) - 8 (UDP).
const MAX_DATAGRAM: usize = 65_507;

#[test]
fn udp_the_largest_datagram_an_empty_one_and_a_burst_far_over_the_buffer() {
    let mut server = Server::start("udp_server", &["--addr", "127.0.0.1:0"]);
    let to = server.socket_addr();
    let pid = server.pid();
    // The server prints a line per datagram: read them on a thread (a pipe
    // nobody reads would soon block it) and pass their lengths on.
    let (tx, lengths) = mpsc::channel();
    let (stdout, child) = (&mut server.stdout, &mut server.child);
    thread::scope(|scope| {
        scope.spawn(move || {
            let mut line = Vec::new();
            loop {
                line.clear();
                match stdout.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if tx.send(n).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        udp_limits(to, pid, &lengths);
        // Ends the reader: the server's stdout closes.
        let _ = child.kill();
    });
}

fn udp_limits(to: SocketAddr, pid: u32, lengths: &mpsc::Receiver<usize>) {
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    let prefix = format!("{}: ", client.local_addr().unwrap()).len();
    let mut buf = vec![0; 65_536];

    // The largest datagram arrives whole: answered, printed in full.
    let big = vec![b'd'; MAX_DATAGRAM];
    assert_eq!(client.send_to(&big, to).unwrap(), MAX_DATAGRAM);
    let n = client.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ok");
    assert_eq!(
        lengths.recv_timeout(PATIENCE),
        Ok(prefix + MAX_DATAGRAM + 1)
    );
    // An empty one is a datagram too.
    client.send_to(b"", to).unwrap();
    let n = client.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ok");
    assert_eq!(lengths.recv_timeout(PATIENCE), Ok(prefix + 1));

    // 300 of the largest (19 MiB) as fast as they go, answers never read:
    // far more than the server's receive buffer holds, so the kernel drops
    // most of them. The server takes what arrives and stays healthy.
    let rss = rss_kib_of(pid);
    let flood = UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..300 {
        // A full send buffer may refuse a datagram: that is UDP too.
        let _ = flood.send_to(&big, to);
    }
    let fresh = UdpSocket::bind("127.0.0.1:0").unwrap();
    fresh
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    let n = loop {
        assert!(Instant::now() < deadline, "the server stopped answering");
        fresh.send_to(b"still there?", to).unwrap();
        if let Ok(n) = fresh.recv(&mut buf) {
            break n;
        }
    };
    assert_eq!(&buf[..n], b"ok");
    let mut whole = 0;
    while let Ok(len) = lengths.recv_timeout(Duration::from_millis(500)) {
        let flooder_prefix = format!("{}: ", flood.local_addr().unwrap()).len();
        if len == flooder_prefix + MAX_DATAGRAM + 1 {
            whole += 1;
        }
    }
    eprintln!("burst: {whole} of 300 largest datagrams arrived whole");
    assert!(whole > 0, "none of the burst arrived");
    let growth = rss_kib_of(pid).saturating_sub(rss);
    assert!(growth < 8 * 1024, "the resident set grew by {growth} KiB");
    // The burst's answers wait in the flooder's buffer or were dropped; the
    // first client is still answered.
    client.send_to(b"after", to).unwrap();
    let n = client.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ok");
}

fn rss_kib_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

// ----- upload: a directory that refuses ------------------------------------------

/// tests/upload_server.rs::a_read_only_directory_is_refused_with_a_reason
/// makes the directory read-only with its mode, which root ignores, so it
/// skips itself when the tests run as root (as in CI containers). An
/// immutable directory (`chattr +i`) refuses even root: this covers that case.
#[test]
fn upload_server_refuses_an_immutable_directory_even_as_root() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "skipped: only root can make a directory immutable (the mode test covers others)"
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("sockloop-immutable-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let chattr = |flag: &str| {
        std::process::Command::new("chattr")
            .arg(flag)
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success())
    };
    if !chattr("+i") {
        let _ = std::fs::remove_dir_all(&dir);
        eprintln!("skipped: chattr +i is not available on this file system");
        return;
    }
    struct Unlock<F: Fn(&str) -> bool>(F);
    impl<F: Fn(&str) -> bool> Drop for Unlock<F> {
        fn drop(&mut self) {
            (self.0)("-i");
        }
    }
    let unlock = Unlock(chattr);
    let server = Server::start(
        "upload_server",
        &["--addr", "127.0.0.1:0", "--dir", dir.to_str().unwrap()],
    );
    let mut stream = server.connect();
    send(&mut stream, b"f.txt|3\nabc");
    let answer = read_line(&mut stream);
    assert!(
        answer.starts_with("false cannot create file: "),
        "answer {answer:?}"
    );
    assert!(answer.contains("os error 1)"), "not EPERM: {answer:?}");
    assert!(util::is_closed(&mut stream));
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    drop(server);
    drop(unlock);
    std::fs::remove_dir_all(&dir).unwrap();
}
