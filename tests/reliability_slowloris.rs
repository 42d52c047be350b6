//! Slowloris: many connections that send one byte every 300 ms, never
//! finishing what they started, while honest clients go on.
//!
//! - http_server (`--header-timeout 1`): each slow connection gets a 408 and
//!   is closed about a second after it connected; honest requests keep a
//!   round trip far under 500 ms throughout, and the fds come back.
//! - chat_server has no timeouts, by design: a slow sender costs only its own
//!   partial line (at most 4 KiB), and nobody waits for it. Honest clients
//!   keep their relay latency, and every slow line, once it is complete, is
//!   delivered to everyone.

mod util;

use std::collections::BTreeSet;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use util::{PATIENCE, Server, read_line, send, wait_until};

const SLOW: usize = 50;
const DRIP: Duration = Duration::from_millis(300);
/// What an honest round trip may take while the slowloris runs: generous
/// for a loaded machine, far under any timeout the slow ones could cause.
const HONEST_LIMIT: Duration = Duration::from_millis(500);

/// One slow connection: the bytes it still has to send, one per tick, and
/// what it has read back.
struct Drip {
    stream: TcpStream,
    rest: Vec<u8>,
    got: Vec<u8>,
    /// When the server first answered or closed.
    answered: Option<Duration>,
    closed: bool,
    /// Stop dripping once the server has said anything (HTTP answers once).
    stop_on_answer: bool,
}

impl Drip {
    fn new(stream: TcpStream, message: Vec<u8>, stop_on_answer: bool) -> Drip {
        stream.set_nonblocking(true).unwrap();
        Drip {
            stream,
            rest: message,
            got: Vec::new(),
            answered: None,
            closed: false,
            stop_on_answer,
        }
    }

    /// Takes whatever the server sent, without waiting.
    fn poll(&mut self, since: Instant) {
        let mut buf = [0; 4096];
        while !self.closed {
            match self.stream.read(&mut buf) {
                Ok(0) => self.closed = true,
                Ok(n) => self.got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::ConnectionReset => self.closed = true,
                Err(e) => panic!("slow client: {e}"),
            }
        }
        if (self.closed || !self.got.is_empty()) && self.answered.is_none() {
            self.answered = Some(since.elapsed());
        }
    }

    /// Sends the next byte, unless the server has answered already.
    fn tick(&mut self) {
        if self.closed || (self.stop_on_answer && self.answered.is_some()) || self.rest.is_empty() {
            return;
        }
        match self.stream.write(&self.rest[..1]) {
            Ok(1) => {
                self.rest.remove(0);
            }
            Ok(_) => panic!("a one-byte write wrote nothing"),
            Err(e) => panic!("dripping: {e}"),
        }
    }
}

/// Drips into every connection once per `DRIP` until `done` says so (or
/// `PATIENCE` runs out), reading what comes back as it goes. Answer times
/// count from `since`, taken before the first connection was opened.
fn slowloris(mut drips: Vec<Drip>, since: Instant, done: impl Fn(&[Drip]) -> bool) -> Vec<Drip> {
    while !done(&drips) {
        assert!(since.elapsed() < PATIENCE, "the slowloris never ended");
        for drip in &mut drips {
            drip.poll(since);
            drip.tick();
        }
        thread::sleep(DRIP);
    }
    drips
}

// ----- http_server -------------------------------------------------------

fn http_site(label: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("sockloop-slowloris-{}-{label}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<p>home</p>\n").unwrap();
    dir
}

/// One GET on `stream`: the status code and the time the round trip took.
fn timed_get(stream: &mut TcpStream) -> (u16, Duration) {
    let started = Instant::now();
    send(stream, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let status_line = read_line(stream);
    let mut len = 0;
    loop {
        let line = read_line(stream);
        let line = line.trim_end_matches('\r').to_ascii_lowercase();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
    }
    util::read_exact(stream, len);
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    (status, started.elapsed())
}

#[test]
fn http_slowloris_connections_get_408_and_close_while_honest_requests_stay_fast() {
    let root = http_site("http");
    let server = Server::start(
        "http_server",
        &[
            "--addr",
            "127.0.0.1:0",
            "--root",
            root.to_str().unwrap(),
            "--header-timeout",
            "1",
        ],
    );
    let baseline_fds = server.fd_count();
    let head = b"GET / HTTP/1.1\r\nHost: slow\r\nUser-Agent: loris\r\n\r\n".to_vec();
    let connecting = Instant::now();
    let drips: Vec<Drip> = (0..SLOW)
        .map(|_| Drip::new(server.connect(), head.clone(), true))
        .collect();
    let addr = server.socket_addr();
    let loris = thread::spawn(move || slowloris(drips, connecting, |d| d.iter().all(|d| d.closed)));

    let mut honest = util::connect(addr);
    let mut worst = Duration::ZERO;
    let mut requests = 0;
    while !loris.is_finished() {
        if requests % 5 == 4 {
            honest = util::connect(addr);
        }
        let (status, took) = timed_get(&mut honest);
        assert_eq!(status, 200);
        worst = worst.max(took);
        requests += 1;
        thread::sleep(Duration::from_millis(20));
    }
    let drips = loris.join().unwrap();
    eprintln!("http slowloris: {requests} honest requests, slowest {worst:?}");
    assert!(
        worst < HONEST_LIMIT,
        "an honest request took {worst:?} during the slowloris"
    );
    assert!(
        requests >= 10,
        "only {requests} honest requests went through"
    );

    for (i, drip) in drips.iter().enumerate() {
        let text = String::from_utf8_lossy(&drip.got);
        assert!(
            text.starts_with("HTTP/1.1 408 "),
            "slow client {i} got {text:?}"
        );
        assert!(text.contains("Connection: close\r\n"), "slow client {i}");
        // Timed out by the header timeout: not before it (the time counts
        // from before the connect), not much after.
        let at = drip.answered.unwrap();
        assert!(
            at >= Duration::from_millis(900),
            "slow client {i} cut at {at:?}"
        );
        assert!(at < Duration::from_secs(5), "slow client {i} cut at {at:?}");
    }
    assert!(connecting.elapsed() < PATIENCE);
    wait_until("the slow connections' fds are released", || {
        server.fd_count() <= baseline_fds + 1
    });
    let _ = std::fs::remove_dir_all(&root);
}

// ----- chat_server ---------------------------------------------------------

#[test]
fn chat_slow_senders_cost_nothing_to_honest_clients_and_their_lines_arrive_whole() {
    // A byte every 300 ms would be a message per byte at the default quiet
    // period (a pause ends a message): here only the newline may end a line.
    let server = Server::start(
        "chat_server",
        &["--addr", "127.0.0.1:0", "--pause-ms", "600000"],
    );
    let mut drips = Vec::new();
    let mut slow_lines = BTreeSet::new();
    for i in 0..SLOW {
        let stream = server.connect();
        let name = stream.local_addr().unwrap().to_string();
        let message = format!("slow {i:02}\n");
        slow_lines.insert(format!("{name}: {}", message.trim_end()));
        drips.push(Drip::new(stream, message.into_bytes(), false));
    }
    // The honest pair joins after the slow ones, so it hears only lines.
    let mut a = server.connect();
    let mut b = server.connect();
    let a_name = a.local_addr().unwrap().to_string();
    let b_name = b.local_addr().unwrap().to_string();
    assert_eq!(read_line(&mut a), format!("* {b_name} joined"));

    let since = Instant::now();
    let loris =
        thread::spawn(move || slowloris(drips, since, |d| d.iter().all(|d| d.rest.is_empty())));
    // Lines from the slow senders may come in between; keep them.
    let mut heard_by_a = BTreeSet::new();
    let mut heard_by_b = BTreeSet::new();
    let hear = |stream: &mut TcpStream, want: &str, other: &mut BTreeSet<String>| loop {
        let line = read_line(stream);
        if line == want {
            return;
        }
        assert!(line.contains(": slow "), "unexpected line {line:?}");
        other.insert(line);
    };
    let mut worst = Duration::ZERO;
    let mut rounds = 0;
    while !loris.is_finished() {
        let started = Instant::now();
        send(&mut a, format!("ping {rounds}\n").as_bytes());
        hear(&mut b, &format!("{a_name}: ping {rounds}"), &mut heard_by_b);
        send(&mut b, format!("pong {rounds}\n").as_bytes());
        hear(&mut a, &format!("{b_name}: pong {rounds}"), &mut heard_by_a);
        worst = worst.max(started.elapsed());
        rounds += 1;
        thread::sleep(Duration::from_millis(20));
    }
    let drips = loris.join().unwrap();
    eprintln!("chat slowloris: {rounds} honest round trips, slowest {worst:?}");
    assert!(
        worst < HONEST_LIMIT,
        "an honest relay round trip took {worst:?}"
    );
    assert!(rounds >= 10, "only {rounds} honest round trips");
    for drip in &drips {
        assert!(!drip.closed, "a slow sender was disconnected");
    }

    // Every slow line, complete at last, reached both honest clients.
    for (stream, heard) in [(&mut a, &mut heard_by_a), (&mut b, &mut heard_by_b)] {
        while heard.len() < SLOW {
            let line = read_line(stream);
            assert!(line.contains(": slow "), "unexpected line {line:?}");
            heard.insert(line);
        }
        assert_eq!(*heard, slow_lines);
    }
}
