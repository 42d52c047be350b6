//! The echo examples as real processes: echo_server (TCP and Unix),
//! select_echo and echo_client, held to the conventions every example keeps
//! (the `listening on` line, exit codes, signals, graceful shutdown).

mod util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use util::{PATIENCE, Server, example_path, is_closed, read_line, send};

/// How long a signalled server may take to exit: the convention's bound.
const EXIT_LIMIT: Duration = Duration::from_secs(5);

/// The result of running an example to its end.
struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs example `name` with `args` and `stdin` to completion (killed and
/// failed after `PATIENCE`).
fn run(name: &str, args: &[&str], stdin: &[u8]) -> Finished {
    let mut child = Command::new(example_path(name))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name} (build the examples first): {e}"));
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).unwrap();
    drop(input);
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} {args:?} did not exit");
        }
        thread::sleep(Duration::from_millis(10));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    Finished {
        code: status.code(),
        stdout,
        stderr,
    }
}

fn echo_server() -> Server {
    Server::start("echo_server", &["--addr", "127.0.0.1:0"])
}

fn assert_echoes(server: &Server, line: &str) {
    let mut client = server.connect();
    send(&mut client, format!("{line}\n").as_bytes());
    assert_eq!(read_line(&mut client), line);
}

fn assert_listening_line_names_a_real_port(server: &Server) {
    let addr: SocketAddr = server
        .addr
        .parse()
        .unwrap_or_else(|_| panic!("listening on {:?}: not HOST:PORT", server.addr));
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    assert_ne!(
        addr.port(),
        0,
        "printed the requested port, not the bound one"
    );
}

// ----- echo_server ----------------------------------------------------------

#[test]
fn echo_server_announces_the_bound_port_first_and_echoes() {
    let server = echo_server();
    assert_listening_line_names_a_real_port(&server);
    assert_echoes(&server, "hello, echo");
}

#[test]
fn echo_server_exits_0_on_sigint() {
    let mut server = echo_server();
    assert_echoes(&server, "before the signal");
    server.signal(libc::SIGINT);
    assert_eq!(server.wait_exit(EXIT_LIMIT), Some(0));
}

#[test]
fn echo_server_exits_0_on_sigterm_with_a_client_connected() {
    let mut server = echo_server();
    let mut client = server.connect();
    send(&mut client, b"idle after this\n");
    assert_eq!(read_line(&mut client), "idle after this");
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(EXIT_LIMIT), Some(0));
    assert!(is_closed(&mut client));
}

#[test]
fn echo_server_exits_2_with_usage_on_a_bad_flag() {
    let finished = run("echo_server", &["--no-such-flag"], b"");
    assert_eq!(finished.code, Some(2));
    assert!(
        finished.stderr.contains("Usage"),
        "stderr: {}",
        finished.stderr
    );
    assert_eq!(finished.stdout, "");
}

#[test]
fn echo_server_exits_1_with_one_line_when_the_port_is_taken() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let finished = run("echo_server", &["--addr", &addr], b"");
    assert_eq!(finished.code, Some(1));
    assert_eq!(finished.stdout, "", "announced an address it does not hold");
    assert_eq!(finished.stderr, address_in_use_line(&addr));
}

/// The one line a server prints when `addr` is taken.
fn address_in_use_line(addr: &str) -> String {
    let in_use = std::io::Error::from_raw_os_error(libc::EADDRINUSE);
    format!("error: listening on {addr}: {in_use}\n")
}

/// `--threads N` listens with SO_REUSEPORT, which the kernel would let
/// join another program's SO_REUSEPORT listeners on the port (splitting
/// the connections between the two): it must refuse the port like a plain
/// bind does, whoever holds it and however.
#[test]
fn echo_server_with_threads_refuses_a_port_already_served() {
    let plain = TcpListener::bind("127.0.0.1:0").unwrap();
    let reuseport = sockloop::reuseport_listener("127.0.0.1:0".parse().unwrap()).unwrap();
    for (holder, taken) in [
        ("a plain listener", &plain),
        ("a reuseport one", &reuseport),
    ] {
        let addr = taken.local_addr().unwrap().to_string();
        let finished = run("echo_server", &["--threads", "2", "--addr", &addr], b"");
        assert_eq!(finished.code, Some(1), "port held by {holder}");
        assert_eq!(finished.stdout, "", "announced a port held by {holder}");
        assert_eq!(finished.stderr, address_in_use_line(&addr), "{holder}");
    }
}

#[test]
fn echo_server_with_threads_serves_port_0_and_exits_0_on_sigint() {
    let mut server = Server::start("echo_server", &["--threads", "2", "--addr", "127.0.0.1:0"]);
    assert_listening_line_names_a_real_port(&server);
    for i in 0..8 {
        assert_echoes(&server, &format!("client {i}"));
    }
    server.signal(libc::SIGINT);
    assert_eq!(server.wait_exit(EXIT_LIMIT), Some(0));
}

#[test]
fn echo_server_serves_a_unix_socket_and_removes_it_on_sigterm() {
    let path = util::temp_socket_path("echo-server");
    let path_arg = path.to_str().unwrap();
    let mut server = Server::start("echo_server", &["--unix", path_arg]);
    assert_eq!(server.addr, format!("unix:{path_arg}"));
    let mut client = UnixStream::connect(&path).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    send(&mut client, b"over unix\n");
    assert_eq!(read_line(&mut client), "over unix");
    drop(client);
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(EXIT_LIMIT), Some(0));
    assert!(!path.exists(), "the socket file outlived the server");
}

/// The send and receive queues of the IPv4 TCP socket from `local` to
/// `remote`, from /proc/net/tcp: bytes sent and not yet acknowledged, and
/// bytes received and not yet read by the application.
fn tcp_queues(local: SocketAddr, remote: SocketAddr) -> Option<(u64, u64)> {
    fn hex(addr: SocketAddr) -> String {
        let SocketAddr::V4(v4) = addr else {
            panic!("IPv4 only: {addr}")
        };
        // The kernel prints the address as the u32 it holds, in host order.
        let ip = u32::from_ne_bytes(v4.ip().octets());
        format!("{ip:08X}:{:04X}", v4.port())
    }
    let (local, remote) = (hex(local), hex(remote));
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) != Some(&local.as_str()) || fields.get(2) != Some(&remote.as_str()) {
            return None;
        }
        let (tx, rx) = fields.get(4)?.split_once(':')?;
        Some((
            u64::from_str_radix(tx, 16).ok()?,
            u64::from_str_radix(rx, 16).ok()?,
        ))
    })
}

fn set_receive_buffer(stream: &std::net::TcpStream, bytes: i32) {
    use std::os::fd::AsRawFd;
    // SAFETY: setsockopt on a socket we own, with an int option.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&bytes as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_RCVBUF: {}", std::io::Error::last_os_error());
}

#[test]
fn echo_server_flushes_every_echo_to_a_client_that_had_not_read_on_sigterm() {
    const TOTAL: usize = 4 * 1024 * 1024;
    let mut server = echo_server();
    let mut client = server.connect();
    // Room in the kernel for the whole echo, so the server can read all
    // 4 MiB while the client reads nothing (it stops reading a peer whose
    // replies pile up, and a shutdown does not read any more).
    set_receive_buffer(&client, TOTAL as i32);
    let mut writer = client.try_clone().unwrap();
    let sender = thread::spawn(move || {
        let mut sent = 0;
        while sent < TOTAL {
            let chunk = util::pattern(9, sent as u64, 256 * 1024);
            send(&mut writer, &chunk);
            sent += chunk.len();
        }
    });
    let (here, there) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
    util::wait_until("the server has read all 4 MiB", || {
        sender.is_finished()
            && tcp_queues(here, there).is_some_and(|(unacked, _)| unacked == 0)
            && tcp_queues(there, here).is_some_and(|(_, unread)| unread == 0)
    });
    sender.join().unwrap();
    server.signal(libc::SIGTERM);

    let mut got = Vec::new();
    let mut buf = vec![0; 256 * 1024];
    loop {
        match client.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("after {} bytes: {e}", got.len()),
        }
    }
    assert_eq!(got.len(), TOTAL, "echo cut short");
    assert_eq!(util::pattern_mismatch(9, 0, &got), None);
    assert_eq!(server.wait_exit(EXIT_LIMIT), Some(0));
}

// ----- select_echo ------------------------------------------------------

#[test]
fn select_echo_announces_echoes_and_exits_0_on_sigint() {
    let mut server = Server::start("select_echo", &["--addr", "127.0.0.1:0"]);
    assert_listening_line_names_a_real_port(&server);
    assert_echoes(&server, "hello, select");
    let mut client = server.connect();
    let payload = util::pattern(1, 0, 1024 * 1024);
    let mut writer = client.try_clone().unwrap();
    let expected = payload.clone();
    let sender = thread::spawn(move || send(&mut writer, &payload));
    assert_eq!(util::read_exact(&mut client, expected.len()), expected);
    sender.join().unwrap();
    server.signal(libc::SIGINT);
    assert_eq!(server.wait_exit(EXIT_LIMIT), Some(0));
}

// ----- echo_client --------------------------------------------------------

#[test]
fn echo_client_prints_exactly_what_the_echo_server_sends_back() {
    let server = echo_server();
    let finished = run("echo_client", &["--addr", &server.addr], b"hello\nworld\n");
    assert_eq!(finished.stdout, "hello\nworld\n");
    assert_eq!(finished.code, Some(0), "stderr: {}", finished.stderr);
}

#[test]
fn echo_client_stops_sending_at_an_exit_line() {
    let server = echo_server();
    let finished = run(
        "echo_client",
        &["--addr", &server.addr],
        b"before\nexit\nafter\n",
    );
    assert_eq!(finished.stdout, "before\n");
    assert_eq!(finished.code, Some(0), "stderr: {}", finished.stderr);
}

/// `RUST_LOG=sockloop=trace` shows both directions of the loop: what each
/// connection read, what it wrote, what the socket refused and queued, and
/// when the queue drained (the guide's chapter 5 walks through these lines).
#[test]
fn the_trace_log_shows_the_write_half_too() {
    let log = std::env::temp_dir().join(format!("sockloop-trace-{}.log", std::process::id()));
    let file = std::fs::File::create(&log).unwrap();
    let mut server = Server::start_with("echo_server", &["--addr", "127.0.0.1:0"], |cmd| {
        cmd.env("RUST_LOG", "sockloop=trace")
            .stderr(Stdio::from(file));
    });
    assert_echoes(&server, "hello");
    // A client that sends much more than the sockets hold before it reads:
    // the echo meets a full socket, queues, and drains once it reads.
    let mut big = server.connect();
    let total = 16 << 20;
    let mut writer = big.try_clone().unwrap();
    let sender = thread::spawn(move || writer.write_all(&vec![b'x'; total]).unwrap());
    thread::sleep(Duration::from_millis(500));
    let mut received = 0;
    let mut buf = vec![0; 1 << 16];
    while received < total {
        let n = big.read(&mut buf).unwrap();
        assert!(n > 0, "the echo stopped at {received} bytes");
        received += n;
    }
    sender.join().unwrap();
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(EXIT_LIMIT), Some(0));
    let trace = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    // Lines look like `... TRACE sockloop::core::write] #2 wrote 6 bytes`.
    let has = |what: &str, end: &str| {
        trace
            .lines()
            .any(|line| line.contains(what) && line.ends_with(end))
    };
    assert!(
        has("] #", " read 6 bytes"),
        "no read line:\n{}",
        tail(&trace)
    );
    assert!(
        has("] #", " wrote 6 bytes"),
        "no write line:\n{}",
        tail(&trace)
    );
    assert!(
        has(" queued ", " bytes"),
        "no queued line:\n{}",
        tail(&trace)
    );
    assert!(has("] #", " drained"), "no drained line:\n{}", tail(&trace));
}

/// The last lines of a log, for an assertion's message.
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
