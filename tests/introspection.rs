//! What the example servers show of their reactor, as real processes:
//! SIGUSR1 logs one statistics line and the server goes on serving
//! (`server::install_signals`, so every server has it), `SOCKLOOP_TIMING=1`
//! adds the time in poll and at work, and http_server serves the figures
//! at `--status-path`, as nginx's stub_status does.

mod util;

use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use util::{PATIENCE, Server, read_exact, send, wait_until};

/// How long a signalled server may take to exit (the conventions' bound).
const EXIT_LIMIT: Duration = Duration::from_secs(5);

/// A server whose stderr (at `info`) goes to a file of its own.
struct Logged {
    server: Server,
    log: PathBuf,
}

impl Logged {
    fn start(name: &str, args: &[&str], env: &[(&str, &str)]) -> Logged {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let log = std::env::temp_dir().join(format!(
            "sockloop-introspection-{name}-{}-{}.log",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        let file = File::create(&log).unwrap();
        let server = Server::start_with(name, args, |cmd| {
            cmd.env("RUST_LOG", "info").stderr(Stdio::from(file));
            for (key, value) in env {
                cmd.env(key, value);
            }
        });
        Logged { server, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGUSR1 and waits for the `stats:` line it logs (the `n`th).
    fn stats_line(&self, n: usize) -> String {
        self.server.signal(libc::SIGUSR1);
        wait_until("a stats line in the log", || {
            self.log().matches("stats: ").count() >= n
        });
        let log = self.log();
        let line = log.lines().filter(|l| l.contains("stats: ")).nth(n - 1);
        line.expect("the line waited for").to_string()
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The value of `name=` in a stats line.
fn field<'a>(line: &'a str, name: &str) -> &'a str {
    let at = line
        .find(&format!(" {name}="))
        .unwrap_or_else(|| panic!("no {name}= in {line}"));
    let rest = &line[at + name.len() + 2..];
    rest.split(' ').next().unwrap()
}

#[test]
fn sigusr1_logs_one_stats_line_and_the_server_goes_on() {
    let mut logged = Logged::start("echo_server", &["--addr", "127.0.0.1:0"], &[]);
    let mut client = logged.server.connect();
    send(&mut client, b"twelve bytes");
    assert_eq!(read_exact(&mut client, 12), b"twelve bytes");

    let line = logged.stats_line(1);
    assert_eq!(field(&line, "accepted"), "1", "{line}");
    assert_eq!(field(&line, "conns"), "1", "{line}");
    assert_eq!(field(&line, "read"), "12", "{line}");
    assert_eq!(field(&line, "written"), "12", "{line}");
    assert!(line.contains(" timing=off"), "{line}");

    // Still serving, and counting.
    send(&mut client, b"again");
    assert_eq!(read_exact(&mut client, 5), b"again");
    let line = logged.stats_line(2);
    assert_eq!(field(&line, "read"), "17", "{line}");

    logged.server.signal(libc::SIGTERM);
    assert_eq!(logged.server.wait_exit(EXIT_LIMIT), Some(0));
}

#[test]
fn a_timed_server_reports_where_its_time_goes() {
    let env = [("SOCKLOOP_TIMING", "1")];
    let mut logged = Logged::start("echo_server", &["--addr", "127.0.0.1:0"], &env);
    let mut client = logged.server.connect();
    send(&mut client, b"hi");
    assert_eq!(read_exact(&mut client, 2), b"hi");
    std::thread::sleep(Duration::from_millis(100));
    let line = logged.stats_line(1);
    let busy: f64 = field(&line, "busy").trim_end_matches('%').parse().unwrap();
    assert!((0.0..100.0).contains(&busy), "{line}");
    let poll: f64 = field(&line, "poll").trim_end_matches('s').parse().unwrap();
    assert!(poll >= 0.09, "it slept through the 100 ms pause: {line}");
    logged.server.signal(libc::SIGTERM);
    assert_eq!(logged.server.wait_exit(EXIT_LIMIT), Some(0));
}

#[test]
fn the_udp_server_reports_too() {
    let logged = Logged::start("udp_server", &["--addr", "127.0.0.1:0"], &[]);
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    socket
        .send_to(b"ping", logged.server.socket_addr())
        .unwrap();
    let mut buf = [0; 256];
    socket.recv(&mut buf).expect("an acknowledgement");
    let line = logged.stats_line(1);
    assert_eq!(field(&line, "read"), "4", "{line}");
}

// ----- http_server --status-path ------------------------------------------------

fn www() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/www")
        .display()
        .to_string()
}

/// One HTTP/1.1 request on `stream`; the response's head and body.
fn get(stream: &mut std::net::TcpStream, method: &str, target: &str) -> (String, String) {
    let request = format!("{method} {target} HTTP/1.1\r\nHost: test\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut data = Vec::new();
    let mut buf = [0; 4096];
    loop {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&data));
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data);
        let Some(end) = text.find("\r\n\r\n") else {
            continue;
        };
        let head = text[..end].to_string();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .map_or(0, |v| v.trim().parse().unwrap());
        let body_len = if method == "HEAD" { 0 } else { length };
        if data.len() >= end + 4 + body_len {
            let body = String::from_utf8_lossy(&data[end + 4..end + 4 + body_len]).to_string();
            return (head, body);
        }
    }
}

/// The value of `name: ` on the status page.
fn status_field(page: &str, name: &str) -> u64 {
    page.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number in {page}"))
}

#[test]
fn http_server_serves_its_statistics_at_the_status_path() {
    let root = www();
    let args = [
        "--addr",
        "127.0.0.1:0",
        "--root",
        &root,
        "--status-path",
        "/status",
    ];
    let server = Server::start("http_server", &args);
    let mut first = server.connect();
    let (head, _) = get(&mut first, "GET", "/");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let mut client = server.connect();
    let (head, page) = get(&mut client, "GET", "/status");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("Content-Type: text/plain"), "{head}");
    assert!(head.contains("Cache-Control: no-store"), "{head}");
    assert_eq!(status_field(&page, "connections"), 2, "{page}");
    assert_eq!(status_field(&page, "accepted"), 2, "{page}");
    assert!(status_field(&page, "bytes_written") > 0, "{page}");
    assert!(status_field(&page, "turns") > 0, "{page}");
    assert!(!page.contains("busy_percent"), "untimed: {page}");

    // The same connection again (keep-alive), with a query string, and HEAD.
    let (_, again) = get(&mut client, "GET", "/status?refresh=1");
    assert!(status_field(&again, "bytes_read") > status_field(&page, "bytes_read"));
    let (head, body) = get(&mut client, "HEAD", "/status");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(body.is_empty());
}

#[test]
fn without_the_flag_there_is_no_status_page() {
    let root = www();
    let server = Server::start("http_server", &["--addr", "127.0.0.1:0", "--root", &root]);
    let mut client = server.connect();
    let (head, _) = get(&mut client, "GET", "/status");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
}

#[test]
fn a_status_path_must_be_a_path() {
    let out = Command::new(util::example_path("http_server"))
        .args(["--addr", "127.0.0.1:0", "--status-path", "status"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("expected a path starting with /"),
        "{stderr}"
    );
}
