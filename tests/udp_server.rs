//! The UDP server and client as real processes: datagrams over loopback and
//! over a Unix datagram socket, the server's stdout, the client's timeout.

mod util;

use std::io::{BufRead, Write};
use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use util::{PATIENCE, Server};

fn start() -> Server {
    Server::start("udp_server", &["--addr", "127.0.0.1:0"])
}

/// A UDP client socket on loopback with a read timeout.
fn client() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    socket
}

/// The next datagram, or a panic after `PATIENCE`.
fn answer(socket: &UdpSocket) -> Vec<u8> {
    let mut buf = vec![0; 65536];
    let n = socket
        .recv(&mut buf)
        .unwrap_or_else(|e| panic!("no answer: {e}"));
    buf.truncate(n);
    buf
}

/// Kills the child when dropped, so a panicking test still ends the thread
/// that reads its stdout.
struct KillOnDrop<'a>(&'a mut Child);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

/// Runs `test` while a thread reads the server's stdout lines into the
/// receiver it is given: the server writes a line per datagram, and a pipe
/// nobody reads would soon block it. The server is killed afterwards.
fn with_stdout<R>(server: &mut Server, test: impl FnOnce(&Receiver<String>) -> R) -> R {
    let (tx, lines) = mpsc::channel();
    let stdout = &mut server.stdout;
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for line in stdout.split(b'\n') {
                let Ok(line) = line else { return };
                if tx
                    .send(String::from_utf8_lossy(&line).into_owned())
                    .is_err()
                {
                    return;
                }
            }
        });
        let _kill = KillOnDrop(&mut server.child);
        test(&lines)
    })
}

fn next_line(lines: &Receiver<String>) -> String {
    lines
        .recv_timeout(PATIENCE)
        .expect("a line on the server's stdout")
}

#[test]
fn a_datagram_is_printed_with_its_sender_and_answered_ok() {
    let mut server = start();
    let socket = client();
    let port = socket.local_addr().unwrap().port();
    socket.send_to(b"hello\n", server.socket_addr()).unwrap();
    assert_eq!(answer(&socket), b"ok");
    // The server prints before it answers: the line is waiting already.
    let mut line = String::new();
    server.stdout.read_line(&mut line).unwrap();
    assert_eq!(line, format!("127.0.0.1:{port}: hello\n"));

    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(Duration::from_secs(5)), Some(0));
}

#[test]
fn a_60_kib_datagram_and_an_empty_one_are_both_answered() {
    let mut server = start();
    let to = server.socket_addr();
    with_stdout(&mut server, |lines| {
        let socket = client();
        let prefix = format!("{}: ", socket.local_addr().unwrap());
        let big = vec![b'x'; 60 * 1024];
        socket.send_to(&big, to).unwrap();
        assert_eq!(answer(&socket), b"ok");
        let line = next_line(lines);
        assert_eq!(line.strip_prefix(&prefix).map(str::len), Some(big.len()));

        socket.send_to(b"", to).unwrap();
        assert_eq!(answer(&socket), b"ok");
        assert_eq!(next_line(lines), prefix);
    });
}

#[test]
fn a_burst_of_unread_answers_does_not_stop_the_server() {
    let mut server = start();
    let to = server.socket_addr();
    let pid = server.pid();
    with_stdout(&mut server, |lines| {
        let flood = client();
        for i in 0..2000 {
            flood.send_to(format!("burst {i}").as_bytes(), to).unwrap();
        }
        // Never read a single answer from `flood`: its buffer fills and the
        // rest are dropped. A fresh client is still answered; it asks again
        // every half second, since the burst may have filled the server's
        // buffer and the kernel drops what does not fit (that is UDP).
        let fresh = client();
        fresh
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let fresh_addr = fresh.local_addr().unwrap();
        let deadline = Instant::now() + PATIENCE;
        let mut buf = [0; 16];
        let n = loop {
            assert!(Instant::now() < deadline, "the server stopped answering");
            fresh.send_to(b"still there?", to).unwrap();
            if let Ok(n) = fresh.recv(&mut buf) {
                break n;
            }
        };
        assert_eq!(&buf[..n], b"ok");
        let expected = format!("{fresh_addr}: still there?");
        let deadline = Instant::now() + PATIENCE;
        while next_line(lines) != expected {
            assert!(Instant::now() < deadline, "no line for the fresh client");
        }
        assert!(
            std::fs::metadata(format!("/proc/{pid}")).is_ok(),
            "the server died"
        );
    });
}

/// A path for a Unix socket in the temporary directory, removed on drop.
struct SocketPath(PathBuf);

impl SocketPath {
    fn new(label: &str) -> SocketPath {
        let path =
            std::env::temp_dir().join(format!("udp-test-{}-{label}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        SocketPath(path)
    }

    fn str(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temporary path")
    }
}

impl Drop for SocketPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn a_unix_datagram_round_trip() {
    let server_path = SocketPath::new("server");
    let client_path = SocketPath::new("client");
    let mut server = Server::start("udp_server", &["--unix", server_path.str()]);
    assert_eq!(server.addr, format!("unix:{}", server_path.str()));
    let socket = UnixDatagram::bind(&client_path.0).unwrap();
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    socket.send_to(b"hello\n", &server_path.0).unwrap();
    let mut buf = [0; 16];
    let n = socket.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ok");
    let mut line = String::new();
    server.stdout.read_line(&mut line).unwrap();
    assert_eq!(line, format!("unix:{}: hello\n", client_path.str()));

    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(Duration::from_secs(5)), Some(0));
    assert!(!server_path.0.exists(), "the server left its socket file");
}

/// Runs udp_client with `args` and `input` on its stdin, bounded by
/// `PATIENCE`: its exit code and stdout.
fn run_client(args: &[&str], input: &[u8]) -> (i32, String) {
    let mut child = Command::new(util::example_path("udp_client"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting udp_client");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
    drop(stdin);
    let deadline = Instant::now() + PATIENCE;
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("udp_client did not finish in {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().expect("an exit code"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn udp_client_prints_the_answer_and_quits_on_exit() {
    let mut server = start();
    let addr = server.addr.clone();
    let (code, out) = run_client(&["--addr", &addr], b"hello\nexit\nnever sent\n");
    assert_eq!(out, "ok\n");
    assert_eq!(code, 0);
    let mut line = String::new();
    server.stdout.read_line(&mut line).unwrap();
    assert!(line.ends_with(": hello\n"), "{line:?}");
}

#[test]
fn udp_client_says_timeout_when_nobody_answers_and_goes_on() {
    // A port nobody listens on: bind one, note it, free it.
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let (code, out) = run_client(&["--addr", &format!("127.0.0.1:{port}")], b"hello\n");
    assert_eq!(out, "timeout\n");
    assert_eq!(code, 0);
    assert!(started.elapsed() < PATIENCE);
}

#[test]
fn udp_client_talks_to_a_unix_datagram_server_and_removes_its_path() {
    let server_path = SocketPath::new("for-client");
    let mut server = Server::start("udp_server", &["--unix", server_path.str()]);
    let (code, out) = run_client(&["--unix", server_path.str()], b"one\ntwo\n");
    assert_eq!(out, "ok\nok\n");
    assert_eq!(code, 0);
    let mut first = String::new();
    server.stdout.read_line(&mut first).unwrap();
    let client_path = first
        .strip_prefix("unix:")
        .and_then(|rest| rest.strip_suffix(": one\n"))
        .unwrap_or_else(|| panic!("unexpected line {first:?}"));
    assert!(
        !std::path::Path::new(client_path).exists(),
        "udp_client left {client_path} behind"
    );
}
