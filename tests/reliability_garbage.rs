//! Garbage to every example server: random bytes, NULs, invalid UTF-8, stray
//! `\r`s. Each server must survive (answer a well-formed request afterwards,
//! on a new connection and where the protocol allows on the same one), answer
//! with its documented error where it has one, and carry bytes it merely
//! relays or stores through unchanged.

mod util;

use std::io::{BufRead, Read};
use std::net::{TcpStream, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use util::{PATIENCE, Server, is_closed, read_exact, read_line, send, wait_until};

/// Deterministic pseudo-random bytes (xorshift64): the same garbage on
/// every run, so a failure can be replayed.
fn garbage(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Garbage lines without `\n` (each at most `max` bytes), salted with the
/// bytes that trip up careless code: NUL, `\r` inside and at the end,
/// invalid UTF-8, a lone continuation byte, a truncated sequence.
fn garbage_lines(seed: u64, count: usize, max: usize) -> Vec<Vec<u8>> {
    let salt: [&[u8]; 6] = [b"\0", b"\r", b"\xff\xfe", b"\x80", b"\xe2\x82", b"\0\0\r\0"];
    (0..count)
        .map(|i| {
            let len = (garbage(seed + i as u64, 2)[0] as usize * 13) % max;
            let mut line: Vec<u8> = garbage(seed * 1000 + i as u64, len)
                .into_iter()
                .map(|b| if b == b'\n' { 0 } else { b })
                .collect();
            line.extend_from_slice(salt[i % salt.len()]);
            line.truncate(max);
            line
        })
        .collect()
}

/// A directory of its own for one test, removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "sockloop-garbage-{}-{n}-{label}",
            std::process::id()
        ));
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

/// Sends `data` from a thread while this one reads back as many bytes, so
/// neither side's buffers can deadlock the exchange; returns what came back.
fn echo_round_trip(stream: &mut TcpStream, data: &[u8]) -> Vec<u8> {
    let mut writer = stream.try_clone().unwrap();
    let outgoing = data.to_vec();
    let sender = thread::spawn(move || send(&mut writer, &outgoing));
    let back = read_exact(stream, data.len());
    sender.join().unwrap();
    back
}

fn assert_echo_server_survives_garbage(name: &str) {
    let server = Server::start(name, &["--addr", "127.0.0.1:0"]);
    let blob = garbage(1, 1 << 20);
    let mut client = server.connect();
    let back = echo_round_trip(&mut client, &blob);
    assert!(
        back == blob,
        "{name}: the garbage did not come back unchanged"
    );
    send(&mut client, b"hello\n");
    assert_eq!(read_line(&mut client), "hello");
    // Garbage, then a vanishing client.
    let mut rude = server.connect();
    send(&mut rude, &garbage(2, 100_000));
    drop(rude);
    let mut fresh = server.connect();
    send(&mut fresh, b"still here\n");
    assert_eq!(read_line(&mut fresh), "still here");
}

#[test]
fn echo_server_echoes_a_mib_of_garbage_byte_for_byte() {
    assert_echo_server_survives_garbage("echo_server");
}

#[test]
fn select_echo_echoes_a_mib_of_garbage_byte_for_byte() {
    assert_echo_server_survives_garbage("select_echo");
}

#[test]
fn chat_server_relays_garbage_lines_byte_for_byte_and_chats_on() {
    let server = Server::start("chat_server", &["--addr", "127.0.0.1:0"]);
    let mut a = server.connect();
    let mut b = server.connect();
    let a_name = a.local_addr().unwrap().to_string();
    let b_name = b.local_addr().unwrap().to_string();
    assert_eq!(read_line(&mut a), format!("* {b_name} joined"));

    let lines = garbage_lines(3, 200, 4096);
    let mut wire = Vec::new();
    let mut expected = Vec::new();
    for line in &lines {
        wire.extend_from_slice(line);
        wire.push(b'\n');
        // The room drops one `\r` before the newline, nothing else.
        let content = line.strip_suffix(b"\r").unwrap_or(line);
        expected.extend_from_slice(format!("{a_name}: ").as_bytes());
        expected.extend_from_slice(content);
        expected.push(b'\n');
    }
    let mut writer = a.try_clone().unwrap();
    let sender = thread::spawn(move || send(&mut writer, &wire));
    let heard = read_exact(&mut b, expected.len());
    sender.join().unwrap();
    assert!(heard == expected, "the relayed garbage differs");

    send(&mut b, b"plain words\n");
    assert_eq!(read_line(&mut a), format!("{b_name}: plain words"));
    // Garbage on the operator's terminal goes out the same way.
    let stdin_line = b"\0op\xff\xfeerator\x80";
    let mut typed = stdin_line.to_vec();
    typed.push(b'\n');
    let stdin = server.stdin.as_ref().expect("stdin piped");
    std::io::Write::write_all(&mut &*stdin, &typed).unwrap();
    let mut want = b"server: ".to_vec();
    want.extend_from_slice(&typed);
    assert_eq!(read_exact(&mut a, want.len()), want);
    assert_eq!(read_exact(&mut b, want.len()), want);
}

#[test]
fn stdin_logger_logs_garbage_lines_byte_for_byte_and_acknowledges_each() {
    let dir = TempDir::new("logger");
    let log = dir.0.join("log.txt");
    let mut server = Server::start(
        "stdin_logger",
        &["--addr", "127.0.0.1:0", "--file", log.to_str().unwrap()],
    );
    let mut client = server.connect();
    let name = client.local_addr().unwrap().to_string();
    let lines = garbage_lines(4, 100, 8000);
    let mut expected = Vec::new();
    for line in &lines {
        let mut wire = line.clone();
        wire.push(b'\n');
        send(&mut client, &wire);
        assert_eq!(read_line(&mut client), "received");
        let content = line.strip_suffix(b"\r").unwrap_or(line);
        expected.extend_from_slice(format!("{name}: ").as_bytes());
        expected.extend_from_slice(content);
        expected.push(b'\n');
    }
    let stdin = server.stdin.as_mut().expect("stdin piped");
    std::io::Write::write_all(stdin, b"\0\xff typed\r\x80\n").unwrap();
    expected.extend_from_slice(b"stdin: \0\xff typed\r\x80\n");
    wait_until("the stdin line is in the log", || {
        std::fs::read(&log).unwrap_or_default().len() >= expected.len()
    });
    assert!(
        std::fs::read(&log).unwrap() == expected,
        "the log differs from what was sent"
    );
    send(&mut client, b"a plain line\n");
    assert_eq!(read_line(&mut client), "received");
}

/// Reads the cmd server's length answer (digits alone, then it waits).
fn read_length(stream: &mut TcpStream) -> usize {
    let mut digits = Vec::new();
    let mut buf = [0; 32];
    while digits.is_empty() {
        let n = stream.read(&mut buf).expect("reading the length");
        assert!(n > 0, "EOF instead of a length");
        digits.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&digits);
    text.parse()
        .unwrap_or_else(|_| panic!("a length should be ASCII digits alone, got {text:?}"))
}

/// One exchange: the command, its length, an acknowledgement, its output.
fn cmd_exchange(stream: &mut TcpStream, command: &[u8]) -> String {
    send(stream, command);
    let len = read_length(stream);
    send(stream, b"ok");
    String::from_utf8(read_exact(stream, len)).expect("a UTF-8 answer")
}

#[test]
fn cmd_server_refuses_garbage_commands_with_an_error_and_runs_the_next_one() {
    let server = Server::start("cmd_server", &["--addr", "127.0.0.1:0"]);
    let mut client = server.connect();
    for line in garbage_lines(5, 12, 3000) {
        let mut wire = line.clone();
        wire.push(b'\n');
        let answer = cmd_exchange(&mut client, &wire);
        let text = String::from_utf8_lossy(&line);
        let expected = match text.split_whitespace().next() {
            None => "error: empty command\n".to_string(),
            Some(word) => format!("error: command not allowed: {word}\n"),
        };
        assert_eq!(answer, expected, "for the line {line:?}");
    }
    // NULs inside an allowed command reach no program: the word is not allowed.
    assert_eq!(
        cmd_exchange(&mut client, b"echo\0 hi\n"),
        "error: command not allowed: echo\0\n"
    );
    assert_eq!(
        cmd_exchange(&mut client, b"echo still here\n"),
        "still here\n"
    );

    // A blob with no newline at all, then the client vanishes.
    let mut rude = server.connect();
    send(&mut rude, &garbage(6, 200_000));
    drop(rude);
    let mut fresh = server.connect();
    assert_eq!(cmd_exchange(&mut fresh, b"echo fresh\n"), "fresh\n");
}

/// What one read returns: an answer the server wrote at once, with or
/// without a newline.
fn one_read(stream: &mut TcpStream) -> String {
    let mut buf = [0; 1024];
    let n = stream.read(&mut buf).expect("an answer");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn upload_server_answers_garbage_headers_with_its_refusals_and_stores_odd_names_as_bytes() {
    let dir = TempDir::new("upload");
    let server = Server::start(
        "upload_server",
        &["--addr", "127.0.0.1:0", "--dir", dir.0.to_str().unwrap()],
    );
    let cases: [(&[u8], &str); 5] = [
        (b"\0\0\0\0\n", "false bad header"),
        (b"\xff\xfe|\xff\n", "false bad header"),
        (b"na\0me|3\nabc", "false bad name"),
        (b"a/\xff|3\nabc", "false bad name"),
        (b"|3\nabc", "false bad name"),
    ];
    for (wire, answer) in cases {
        let mut stream = server.connect();
        send(&mut stream, wire);
        assert_eq!(read_line(&mut stream), answer, "for {wire:?}");
        assert!(is_closed(&mut stream), "open after {wire:?}");
    }
    // Not a newline after the size: the tutorial's form, whose 3-byte file
    // is followed by more bytes before its answer. Refused, then closed.
    let mut stream = server.connect();
    send(&mut stream, b"x|3\xff\nabc");
    let answer = one_read(&mut stream);
    assert!(
        answer.starts_with("false: more bytes than the size"),
        "answer {answer:?}"
    );
    assert!(is_closed(&mut stream));
    // Random bytes: refused with one of its answers (in either form), then closed.
    let mut stream = server.connect();
    let _ = std::io::Write::write_all(&mut stream, &garbage(7, 50_000));
    let answer = one_read(&mut stream);
    assert!(answer.starts_with("false"), "answer {answer:?}");
    assert!(is_closed(&mut stream));
    assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 0);

    // A name of invalid UTF-8 is still a plain file name: stored as those bytes.
    let mut stream = server.connect();
    send(&mut stream, b"\xff\xfe\x80.bin|4\n\0\xff\0\xfe");
    assert_eq!(read_line(&mut stream), "true");
    use std::os::unix::ffi::OsStrExt;
    let stored = dir.0.join(std::ffi::OsStr::from_bytes(b"\xff\xfe\x80.bin"));
    assert_eq!(std::fs::read(stored).unwrap(), b"\0\xff\0\xfe");
    send(&mut stream, b"plain.txt|2\nok");
    assert_eq!(read_line(&mut stream), "true");
}

#[test]
fn udp_server_answers_garbage_datagrams_and_prints_them_lossily() {
    let mut server = Server::start("udp_server", &["--addr", "127.0.0.1:0"]);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    let me = socket.local_addr().unwrap();
    let datagrams: [&[u8]; 5] = [
        b"\0",
        b"\xff\xfe\xfd",
        b"caf\xe9 \0 \x80\r\n",
        b"\n\n\n",
        b"\xe2\x82",
    ];
    let mut buf = [0; 64];
    for datagram in datagrams {
        socket.send_to(datagram, server.socket_addr()).unwrap();
        let n = socket.recv(&mut buf).expect("an answer");
        assert_eq!(&buf[..n], b"ok", "for {datagram:?}");
    }
    // One stdout line per datagram (a datagram's own newlines may add more):
    // the text is decoded lossily, never dropped.
    let mut out = Vec::new();
    let expected_start = format!("{me}: \0\n{me}: \u{FFFD}\u{FFFD}\u{FFFD}\n");
    while out.len() < expected_start.len() {
        let mut line = Vec::new();
        server.stdout.read_until(b'\n', &mut line).unwrap();
        assert!(!line.is_empty(), "stdout closed");
        out.extend_from_slice(&line);
    }
    assert_eq!(String::from_utf8_lossy(&out), expected_start);
    socket.send_to(b"hello", server.socket_addr()).unwrap();
    let n = socket.recv(&mut buf).expect("an answer after the garbage");
    assert_eq!(&buf[..n], b"ok");
}

/// A site for http_server with one page.
fn http_site(dir: &TempDir) -> PathBuf {
    let root = dir.0.join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("index.html"), "<p>home</p>\n").unwrap();
    root
}

/// Sends `raw` on a new connection; returns the status code of the answer
/// and whether the server closed the connection after it.
fn http_status(server: &Server, raw: &[u8]) -> (u16, bool) {
    let mut stream = server.connect();
    // The server may answer and close before it has read everything.
    let _ = std::io::Write::write_all(&mut stream, raw);
    let status_line = read_line(&mut stream);
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("status line {status_line:?}"));
    let mut rest = Vec::new();
    let closed = match stream.read_to_end(&mut rest) {
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    };
    (status, closed)
}

#[test]
fn http_server_answers_garbage_with_400_and_close_and_serves_on() {
    let dir = TempDir::new("http");
    let root = http_site(&dir);
    let server = Server::start(
        "http_server",
        &["--addr", "127.0.0.1:0", "--root", root.to_str().unwrap()],
    );
    let mut random = vec![0u8];
    random.extend(garbage(8, 4000));
    let cases: [&[u8]; 5] = [
        &random,
        b"\0\0\0\0\r\n\r\n",
        b"GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX\0: y\r\n\r\n",
        b"\xff\xfe / HTTP/1.1\r\n\r\n",
    ];
    for raw in cases {
        let (status, closed) = http_status(&server, raw);
        assert_eq!(status, 400, "for {:?}", String::from_utf8_lossy(raw));
        assert!(closed, "open after a 400");
    }
    // Bytes httparse lets through are no trouble either: invalid UTF-8 in a
    // header value, a non-ASCII path that names nothing.
    let mut stream = server.connect();
    send(
        &mut stream,
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Junk: \xff\xfe\x80\r\n\r\n",
    );
    assert!(read_line(&mut stream).starts_with("HTTP/1.1 200 "));
    let (status, _) = http_status(
        &server,
        "GET /caf\u{e9}.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".as_bytes(),
    );
    assert_eq!(status, 404);
    let (status, _) = http_status(
        &server,
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
}
