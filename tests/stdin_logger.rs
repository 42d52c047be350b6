//! The stdin logger as a real process: clients over loopback, lines on its
//! stdin, the log file read back from disk.

mod util;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use util::{Server, example_path, is_closed, read_line, send, wait_until};

/// A directory of its own for one test, removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("sockloop-stdin_logger-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).expect("creating a temp dir");
        TempDir(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running logger writing to `log.txt` in a fresh temp dir.
struct Logger {
    server: Server,
    log: PathBuf,
    _dir: TempDir,
}

impl Logger {
    fn start() -> Logger {
        Logger::start_with(&[], |_| {})
    }

    /// A logger with `extra` flags, its command adjusted by `adjust`.
    fn start_with(extra: &[&str], adjust: impl FnOnce(&mut Command)) -> Logger {
        let dir = TempDir::new();
        let log = dir.join("log.txt");
        let mut args = vec!["--addr", "127.0.0.1:0", "--file", log.to_str().unwrap()];
        args.extend_from_slice(extra);
        let server = Server::start_with("stdin_logger", &args, adjust);
        Logger {
            server,
            log,
            _dir: dir,
        }
    }

    fn contents(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn lines(&self) -> Vec<String> {
        self.contents().lines().map(str::to_string).collect()
    }

    fn type_on_stdin(&mut self, text: &str) {
        let stdin = self.server.stdin.as_mut().expect("stdin still open");
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }
}

fn start_with_file(log: &Path) -> Server {
    let file = log.to_str().expect("a UTF-8 temp path");
    Server::start("stdin_logger", &["--addr", "127.0.0.1:0", "--file", file])
}

/// A quiet period no test waits for: only a newline or the end of the input
/// ends a message, however the test's writes are scheduled.
const NO_PAUSE: &[&str] = &["--pause-ms", "600000"];

/// One `recv` of up to 1024 bytes, as the simplest clients read an answer.
fn recv_1024(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = [0; 1024];
    let n = stream.read(&mut buf).expect("recv");
    buf[..n].to_vec()
}

/// How the log names a client: the address the server sees it from.
fn name(client: &TcpStream) -> String {
    client.local_addr().unwrap().to_string()
}

#[test]
fn client_lines_land_in_the_file_with_the_clients_address_and_are_acknowledged() {
    let logger = Logger::start();
    let mut a = logger.server.connect();
    let mut b = logger.server.connect();
    send(&mut a, b"hello from a\n");
    assert_eq!(read_line(&mut a), "received");
    send(&mut b, b"hello from b\r\n");
    assert_eq!(read_line(&mut b), "received");
    send(&mut a, b"a again\n");
    assert_eq!(read_line(&mut a), "received");
    // "received" comes after the write: the lines are on disk by now.
    assert_eq!(
        logger.lines(),
        [
            format!("{}: hello from a", name(&a)),
            format!("{}: hello from b", name(&b)),
            format!("{}: a again", name(&a)),
        ]
    );
}

#[test]
fn stdin_lines_land_in_the_file_as_stdin() {
    let mut logger = Logger::start();
    logger.type_on_stdin("typed at the terminal\n");
    wait_until("the stdin line is logged", || {
        logger.contents() == "stdin: typed at the terminal\n"
    });
    // Interleaved with a client, in the order they happened.
    let mut a = logger.server.connect();
    send(&mut a, b"from the network\n");
    assert_eq!(read_line(&mut a), "received");
    logger.type_on_stdin("typed again\n");
    wait_until("the second stdin line is logged", || {
        logger.lines().len() == 3
    });
    assert_eq!(
        logger.lines(),
        [
            "stdin: typed at the terminal".to_string(),
            format!("{}: from the network", name(&a)),
            "stdin: typed again".to_string(),
        ]
    );
}

#[test]
fn the_log_file_is_appended_to_not_truncated() {
    let dir = TempDir::new();
    let log = dir.join("log.txt");
    std::fs::write(&log, "from an earlier run\n").unwrap();
    let server = start_with_file(&log);
    let mut a = server.connect();
    send(&mut a, b"new line\n");
    assert_eq!(read_line(&mut a), "received");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!("from an earlier run\n{}: new line\n", name(&a))
    );
}

#[test]
fn a_line_sent_one_byte_per_write_is_logged_whole() {
    let logger = Logger::start_with(NO_PAUSE, |_| {});
    let mut a = logger.server.connect();
    a.set_nodelay(true).unwrap();
    for byte in b"one byte at a time\r\n" {
        send(&mut a, &[*byte]);
        // Give each byte its own segment, so the server really reads them
        // one at a time.
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(read_line(&mut a), "received");
    assert_eq!(
        logger.lines(),
        [format!("{}: one byte at a time", name(&a))]
    );
}

#[test]
fn several_lines_in_one_write_are_each_logged_and_acknowledged() {
    let logger = Logger::start();
    let mut a = logger.server.connect();
    send(&mut a, b"first\nsecond\r\n\nfourth\n");
    for _ in 0..4 {
        assert_eq!(read_line(&mut a), "received");
    }
    let me = name(&a);
    assert_eq!(
        logger.lines(),
        [
            format!("{me}: first"),
            format!("{me}: second"),
            format!("{me}: "),
            format!("{me}: fourth"),
        ]
    );
}

#[test]
fn a_line_over_64_kib_is_refused_and_other_clients_are_unaffected() {
    let logger = Logger::start_with(NO_PAUSE, |_| {});
    let mut a = logger.server.connect();
    let mut b = logger.server.connect();
    send(&mut b, b"before\n");
    assert_eq!(read_line(&mut b), "received");

    // Exactly 64 KiB is a line; one byte more, and no newline, is refused.
    let mut exact = vec![b'x'; 64 * 1024];
    exact.push(b'\n');
    send(&mut a, &exact);
    assert_eq!(read_line(&mut a), "received");
    send(&mut a, &vec![b'y'; 64 * 1024 + 1]);
    assert_eq!(read_line(&mut a), "error: line too long");
    assert!(is_closed(&mut a), "the long-line sender stays connected");

    send(&mut b, b"after\n");
    assert_eq!(read_line(&mut b), "received");
    let lines = logger.lines();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0], format!("{}: before", name(&b)));
    assert_eq!(lines[1], format!("{}: {}", name(&a), "x".repeat(64 * 1024)));
    assert_eq!(lines[2], format!("{}: after", name(&b)));
}

#[test]
fn closing_stdin_does_not_stop_the_server() {
    let mut logger = Logger::start();
    logger.type_on_stdin("last words\n");
    drop(logger.server.stdin.take());
    wait_until("the last stdin line is logged", || {
        logger.contents() == "stdin: last words\n"
    });
    // Still accepting, still logging, still running.
    for text in ["after stdin closed", "and again"] {
        let mut a = logger.server.connect();
        send(&mut a, format!("{text}\n").as_bytes());
        assert_eq!(read_line(&mut a), "received");
    }
    assert_eq!(logger.lines().len(), 3);
    assert!(
        logger.server.child.try_wait().unwrap().is_none(),
        "server exited"
    );
}

#[test]
fn a_failed_log_write_is_reported_to_the_client_and_the_server_goes_on() {
    // Every write to /dev/full fails with "no space left on device".
    if !Path::new("/dev/full").exists() {
        return;
    }
    let server = start_with_file(Path::new("/dev/full"));
    let mut a = server.connect();
    send(&mut a, b"nowhere to go\nnor this\n");
    assert_eq!(read_line(&mut a), "error: log write failed");
    assert_eq!(read_line(&mut a), "error: log write failed");
    let mut b = server.connect();
    send(&mut b, b"still serving?\n");
    assert_eq!(read_line(&mut b), "error: log write failed");
}

#[test]
fn sigint_exits_0_promptly() {
    let mut logger = Logger::start();
    let mut a = logger.server.connect();
    send(&mut a, b"hello\n");
    assert_eq!(read_line(&mut a), "received");
    // A half-sent line does not hold the shutdown up.
    send(&mut a, b"no newline yet");
    logger.server.signal(libc::SIGINT);
    assert_eq!(logger.server.wait_exit(Duration::from_secs(5)), Some(0));
    assert!(is_closed(&mut a));
}

// ----- clients that send no newline, and the end of the input ---------------

/// The exchange of the classic tutorial: a message with no newline, then one
/// `recv(1024)` for the answer, over and over.
#[test]
fn each_message_sent_without_a_newline_gets_one_received() {
    let logger = Logger::start();
    let mut a = logger.server.connect();
    for text in ["hello", "a second message", "and a third, with  spaces "] {
        send(&mut a, text.as_bytes());
        assert_eq!(recv_1024(&mut a), b"received\n");
    }
    let me = name(&a);
    assert_eq!(
        logger.lines(),
        [
            format!("{me}: hello"),
            format!("{me}: a second message"),
            format!("{me}: and a third, with  spaces "),
        ]
    );
}

#[test]
fn messages_sent_a_second_apart_are_logged_and_answered_separately() {
    let logger = Logger::start();
    let mut a = logger.server.connect();
    send(&mut a, b"first");
    thread::sleep(Duration::from_secs(1));
    send(&mut a, b"second");
    assert_eq!(read_line(&mut a), "received");
    assert_eq!(read_line(&mut a), "received");
    let me = name(&a);
    assert_eq!(
        logger.lines(),
        [format!("{me}: first"), format!("{me}: second")]
    );
}

#[test]
fn a_message_sent_in_pieces_a_few_milliseconds_apart_is_one_entry() {
    // A quiet period of a second against gaps of 5 ms: only a machine
    // stalled for a second could cut it.
    let logger = Logger::start_with(&["--pause-ms", "1000"], |_| {});
    let mut a = logger.server.connect();
    a.set_nodelay(true).unwrap();
    for piece in ["in ", "four ", "piec", "es"] {
        send(&mut a, piece.as_bytes());
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(recv_1024(&mut a), b"received\n");
    assert_eq!(logger.lines(), [format!("{}: in four pieces", name(&a))]);
}

#[test]
fn what_a_client_leaves_unfinished_is_logged_when_it_goes() {
    let logger = Logger::start_with(NO_PAUSE, |_| {});
    // A half-close: the client still reads its answer.
    let mut a = logger.server.connect();
    send(&mut a, b"one line\nand the rest");
    assert_eq!(read_line(&mut a), "received");
    a.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_line(&mut a), "received");
    assert!(is_closed(&mut a));
    // A close: nobody reads the answer, the message is logged all the same.
    let mut b = logger.server.connect();
    send(&mut b, b"gone at once");
    let b_name = name(&b);
    drop(b);
    wait_until("the closed client's message is logged", || {
        logger.lines().len() == 3
    });
    assert_eq!(
        logger.lines(),
        [
            format!("{}: one line", name(&a)),
            format!("{}: and the rest", name(&a)),
            format!("{b_name}: gone at once"),
        ]
    );
}

#[test]
fn the_last_line_of_stdin_is_logged_without_a_newline_from_a_file() {
    let dir = TempDir::new();
    let input = dir.join("input.txt");
    std::fs::write(&input, "first line\r\nthe last line, no newline").unwrap();
    let logger = Logger::start_with(&[], |cmd| {
        cmd.stdin(std::fs::File::open(&input).unwrap());
    });
    wait_until("both lines of the file are logged", || {
        logger.lines().len() == 2
    });
    assert_eq!(
        logger.contents(),
        "stdin: first line\nstdin: the last line, no newline\n"
    );
}

#[test]
fn the_last_line_of_stdin_is_logged_without_a_newline_from_a_pipe_at_its_end() {
    let mut logger = Logger::start_with(NO_PAUSE, |_| {});
    logger.type_on_stdin("typed\nno newline, then the end");
    wait_until("the first line is logged", || logger.lines().len() == 1);
    drop(logger.server.stdin.take());
    wait_until("the last line is logged", || logger.lines().len() == 2);
    assert_eq!(
        logger.contents(),
        "stdin: typed\nstdin: no newline, then the end\n"
    );
}

#[test]
fn a_message_of_exactly_64_kib_ended_by_a_pause_is_accepted() {
    let logger = Logger::start();
    let mut a = logger.server.connect();
    send(&mut a, &vec![b'p'; 64 * 1024]);
    assert_eq!(read_line(&mut a), "received");
    assert_eq!(
        logger.lines(),
        [format!("{}: {}", name(&a), "p".repeat(64 * 1024))]
    );
}

#[test]
fn a_log_file_in_a_missing_directory_fails_with_one_line_and_exit_1() {
    let dir = TempDir::new();
    let log = dir.join("no/such/dir/log.txt");
    let output = Command::new(example_path("stdin_logger"))
        .args(["--addr", "127.0.0.1:0", "--file", log.to_str().unwrap()])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("running stdin_logger");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "stdout: {:?}", output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "stderr: {stderr:?}");
    assert!(stderr.contains("no/such/dir/log.txt"), "stderr: {stderr:?}");
}
