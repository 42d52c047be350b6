//! Oversized input: a line that never ends, a size or a length prefix that
//! claims gigabytes, a megabyte of HTTP header. The offender gets its error
//! (or loses its connection), the others are served, and the server's memory
//! stays flat: nothing is buffered past the limit and nothing is allocated
//! for a size a peer merely claims. Memory is the server's resident set,
//! sampled from /proc every few milliseconds while the flood runs.

mod util;

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use sockloop::codec::{LENGTH_PREFIX, length_prefix, next_length_prefixed};
use sockloop::{Config, Ctx, Protocol};
use util::{PATIENCE, Server, is_closed, read_exact, read_line, send, serve_tcp, wait_until};

const MIB: usize = 1024 * 1024;
/// How much a flood sends when the server lets it.
const FLOOD: usize = 50 * MIB;
/// How much the server's resident set may grow while it is flooded.
const RSS_SLACK_KIB: u64 = 20 * 1024;

fn rss_kib_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Samples the resident set of `pid` until dropped; `peak` is the highest seen.
struct RssWatch {
    peak: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
    baseline: u64,
}

impl RssWatch {
    fn start(pid: u32) -> RssWatch {
        let baseline = rss_kib_of(pid);
        let peak = Arc::new(AtomicUsize::new(baseline as usize));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        let thread = thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                p.fetch_max(rss_kib_of(pid) as usize, Ordering::SeqCst);
                thread::sleep(Duration::from_millis(5));
            }
        });
        RssWatch {
            peak,
            stop,
            thread: Some(thread),
            baseline,
        }
    }

    /// Stops sampling and asserts the growth stayed under the slack.
    fn assert_bounded(mut self, what: &str) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
        let growth = (self.peak.load(Ordering::SeqCst) as u64).saturating_sub(self.baseline);
        eprintln!("{what}: resident set grew by {growth} KiB at most");
        assert!(
            growth < RSS_SLACK_KIB,
            "{what}: the resident set grew by {growth} KiB"
        );
    }
}

/// Sends up to `total` bytes of `byte` from a thread, stopping quietly at
/// the first error (the server may cut the sender off). Returns the thread,
/// which yields how much went out.
fn flood(
    mut stream: impl Write + Send + 'static,
    byte: u8,
    total: usize,
) -> thread::JoinHandle<usize> {
    thread::spawn(move || {
        let chunk = vec![byte; MIB];
        let mut sent = 0;
        while sent < total {
            match stream.write(&chunk[..MIB.min(total - sent)]) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        sent
    })
}

/// A directory of its own for one test, removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        let path =
            std::env::temp_dir().join(format!("sockloop-oversized-{}-{label}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ----- endless lines ---------------------------------------------------------

/// A client streams a line that never ends: it gets `error: line too long`
/// and loses its connection, and the server's memory does not move. `check_others` then proves everyone else is served.
fn endless_line_from_a_client(server: &Server, mut check_others: impl FnMut()) {
    let watch = RssWatch::start(server.pid());
    let mut offender = server.connect();
    let sender = flood(offender.try_clone().unwrap(), b'x', FLOOD);
    assert_eq!(read_line(&mut offender), "error: line too long");
    assert!(is_closed(&mut offender), "the offender is still connected");
    // What it still sends after the refusal is read and thrown away for the
    // reactor's linger time (so the refusal is not destroyed by a reset),
    // never buffered: the memory check below covers it.
    sender.join().unwrap();
    watch.assert_bounded("endless line from a client");
    check_others();
}

/// The server's terminal sends a line that never ends: stdin cannot be
/// disconnected, so the line is skipped up to its newline, without buffering
/// it, and the next line goes through.
fn endless_line_on_stdin(server: &mut Server) {
    let watch = RssWatch::start(server.pid());
    let stdin = server.stdin.as_mut().expect("stdin piped");
    let chunk = vec![b'y'; MIB];
    for _ in 0..FLOOD / MIB {
        stdin.write_all(&chunk).expect("stdin stopped taking bytes");
    }
    watch.assert_bounded("endless line on stdin");
    stdin.write_all(b"\nafter the flood\n").unwrap();
}

#[test]
fn chat_server_cuts_off_an_endless_line_and_skips_one_on_stdin_in_flat_memory() {
    let mut server = Server::start("chat_server", &["--addr", "127.0.0.1:0"]);
    let mut a = server.connect();
    let mut b = server.connect();
    let b_name = b.local_addr().unwrap().to_string();
    assert_eq!(read_line(&mut a), format!("* {b_name} joined"));

    endless_line_from_a_client(&server, || {
        let joined = read_line(&mut a);
        assert!(joined.ends_with(" joined"), "{joined:?}");
        assert!(read_line(&mut a).ends_with(" left"));
        assert!(read_line(&mut b).ends_with(" joined"));
        assert!(read_line(&mut b).ends_with(" left"));
        send(&mut b, b"still chatting\n");
        assert_eq!(read_line(&mut a), format!("{b_name}: still chatting"));
    });

    // 50 MiB on the operator's stdin with no newline, then one.
    endless_line_on_stdin(&mut server);
    assert_eq!(read_line(&mut a), "server: after the flood");
    assert_eq!(read_line(&mut b), "server: after the flood");
}

#[test]
fn stdin_logger_cuts_off_an_endless_line_and_skips_one_on_stdin_in_flat_memory() {
    let dir = TempDir::new("logger");
    let log = dir.0.join("log.txt");
    let mut server = Server::start(
        "stdin_logger",
        &["--addr", "127.0.0.1:0", "--file", log.to_str().unwrap()],
    );
    let mut other = server.connect();
    endless_line_from_a_client(&server, || {
        send(&mut other, b"still logging\n");
        assert_eq!(read_line(&mut other), "received");
    });
    endless_line_on_stdin(&mut server);
    let name = other.local_addr().unwrap().to_string();
    let expected = format!("{name}: still logging\nstdin: after the flood\n");
    wait_until("the stdin line is logged", || {
        std::fs::read_to_string(&log).unwrap_or_default() == expected
    });
}

#[test]
fn cmd_server_answers_an_endless_line_with_refusals_in_flat_memory() {
    let server = Server::start("cmd_server", &["--addr", "127.0.0.1:0"]);
    let watch = RssWatch::start(server.pid());
    let offender = server.connect();
    // The server answers each 4 KiB piece with a refusal (the exchange is
    // lock-step: the rest of the line is taken as acknowledgements and new
    // commands); read them all so they cannot pile up.
    let mut answers = offender.try_clone().unwrap();
    let reader = thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = [0; 64 * 1024];
        loop {
            match answers.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
        got
    });
    let sent = flood(offender.try_clone().unwrap(), b'z', FLOOD)
        .join()
        .unwrap();
    assert_eq!(sent, FLOOD, "the server stopped reading");
    offender.shutdown(std::net::Shutdown::Write).unwrap();
    let got = reader.join().unwrap();
    watch.assert_bounded("endless command line");
    let refusal = b"error: command longer than 4096 bytes\n";
    assert!(
        got.windows(refusal.len()).any(|w| w == refusal),
        "no refusal among {} bytes of answers",
        got.len()
    );
    let mut fresh = server.connect();
    send(&mut fresh, b"echo still here\n");
    assert_eq!(read_exact(&mut fresh, 2), b"11");
    send(&mut fresh, b"ok");
    assert_eq!(read_exact(&mut fresh, 11), b"still here\n");
}

// ----- sizes a peer merely claims ---------------------------------------------

#[test]
fn upload_server_allocates_nothing_for_a_claimed_size_of_2_pow_64_minus_1() {
    let dir = TempDir::new("upload");
    let server = Server::start(
        "upload_server",
        &[
            "--addr",
            "127.0.0.1:0",
            "--dir",
            dir.0.to_str().unwrap(),
            "--max-size",
            &u64::MAX.to_string(),
        ],
    );
    let watch = RssWatch::start(server.pid());
    let mut stream = server.connect();
    send(&mut stream, format!("huge.bin|{}\n", u64::MAX).as_bytes());
    // The claim is allowed by this --max-size: the body streams to disk.
    const BODY: usize = 16 * MIB;
    let sent = flood(stream.try_clone().unwrap(), b'b', BODY)
        .join()
        .unwrap();
    assert_eq!(sent, BODY);
    let part = || {
        std::fs::read_dir(&dir.0)
            .unwrap()
            .flatten()
            .find(|e| e.file_name().to_string_lossy().ends_with(".part"))
    };
    wait_until("the 16 MiB are on disk", || {
        part().is_some_and(|e| e.metadata().unwrap().len() == BODY as u64)
    });
    watch.assert_bounded("a claimed size of 2^64-1");
    drop(stream);
    wait_until("the partial file is removed", || {
        std::fs::read_dir(&dir.0).unwrap().count() == 0
    });
    // One past u64::MAX is refused before any body (and so are larger ones:
    // tests/upload_server.rs::sizes_over_the_limit_are_refused_before_any_body).
    let mut stream = server.connect();
    send(&mut stream, b"f|18446744073709551616\n");
    assert_eq!(read_line(&mut stream), "false too large");
    assert!(is_closed(&mut stream));
}

/// Frames echoed back; a prefix over 1 MiB aborts the connection. Reports
/// how each connection ended.
struct Frames {
    lost: mpsc::Sender<Option<String>>,
}

impl Protocol for Frames {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        let mut used = 0;
        loop {
            match next_length_prefixed(&data[used..], MIB) {
                Ok(Some((payload, consumed))) => {
                    ctx.write(&length_prefix(payload.len()).unwrap());
                    ctx.write(payload);
                    used += consumed;
                }
                Ok(None) => return used,
                Err(e) => {
                    ctx.abort(&e.to_string());
                    return data.len();
                }
            }
        }
    }

    fn connection_lost(&mut self, _ctx: &mut Ctx, reason: Option<io::Error>) {
        let _ = self.lost.send(reason.map(|e| e.to_string()));
    }
}

fn own_rss_kib() -> u64 {
    rss_kib_of(std::process::id())
}

#[test]
fn a_4_gib_length_prefix_closes_the_connection_after_4_bytes_without_allocating() {
    let (tx, lost) = mpsc::channel();
    let server = serve_tcp(Config::default(), move || Frames { lost: tx.clone() });
    let mut honest = util::connect(server.info);
    let frame = |p: &[u8]| [&length_prefix(p.len()).unwrap()[..], p].concat();
    send(&mut honest, &frame(b"before"));
    assert_eq!(read_exact(&mut honest, LENGTH_PREFIX + 6), frame(b"before"));

    let before = own_rss_kib();
    let mut offender = util::connect(server.info);
    send(&mut offender, &[0xFF; LENGTH_PREFIX]);
    let reason = lost
        .recv_timeout(PATIENCE)
        .expect("the offender's connection was not closed");
    assert_eq!(reason.as_deref(), Some("frame longer than 1048576 bytes"));
    // The payload it announced would not be read: the connection is gone.
    let sender = flood(offender.try_clone().unwrap(), 0xAB, FLOOD);
    assert!(is_closed(&mut offender));
    assert!(sender.join().unwrap() < FLOOD);
    let growth = own_rss_kib().saturating_sub(before);
    eprintln!("4 GiB prefix: resident set grew by {growth} KiB");
    assert!(growth < RSS_SLACK_KIB, "grew by {growth} KiB");

    // 1 MiB exactly is still a frame.
    let big = vec![7u8; MIB];
    let mut writer = honest.try_clone().unwrap();
    let wire = frame(&big);
    let sending = thread::spawn(move || send(&mut writer, &wire));
    assert_eq!(read_exact(&mut honest, LENGTH_PREFIX + MIB), frame(&big));
    sending.join().unwrap();
    server.stop().unwrap();
}

#[test]
fn a_1_mib_http_header_gets_431_and_close_in_flat_memory() {
    let dir = TempDir::new("http");
    std::fs::write(dir.0.join("index.html"), "<p>home</p>\n").unwrap();
    let server = Server::start(
        "http_server",
        &["--addr", "127.0.0.1:0", "--root", dir.0.to_str().unwrap()],
    );
    let watch = RssWatch::start(server.pid());
    let mut stream = server.connect();
    let mut head = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: ".to_vec();
    head.resize(head.len() + MIB, b'h');
    head.extend_from_slice(b"\r\n\r\n");
    let mut writer = stream.try_clone().unwrap();
    // The server may answer and close before it has read it all.
    let sender = thread::spawn(move || {
        let _ = writer.write_all(&head);
    });
    let status = read_line(&mut stream);
    assert!(
        status.starts_with("HTTP/1.1 431 "),
        "status line {status:?}"
    );
    assert!(is_closed(&mut stream), "open after a 431");
    sender.join().unwrap();
    watch.assert_bounded("a 1 MiB header");

    let mut next = server.connect();
    send(&mut next, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(read_line(&mut next).starts_with("HTTP/1.1 200 "));
}
