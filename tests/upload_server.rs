//! The upload server and client as real processes: files over loopback,
//! checked byte for byte on disk, refusals, disconnects, memory.

mod util;

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use util::{PATIENCE, Server, is_closed, read_line, send, wait_until};

/// A fresh directory for one test, removed (with everything in it) on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("upload-test-{}-{n}-{label}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn str(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temporary path")
    }

    /// Entries in the directory (hidden temporary files included), sorted.
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn read(&self, name: &str) -> Vec<u8> {
        fs::read(self.0.join(name)).unwrap_or_else(|e| panic!("reading {name}: {e}"))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // A test may have made a subdirectory read-only.
        if let Ok(entries) = fs::read_dir(&self.0) {
            for entry in entries.flatten() {
                let _ = fs::set_permissions(entry.path(), fs::Permissions::from_mode(0o755));
            }
        }
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn start(dir: &TempDir) -> Server {
    Server::start(
        "upload_server",
        &["--addr", "127.0.0.1:0", "--dir", dir.str()],
    )
}

fn start_with_max(dir: &TempDir, max_size: &str) -> Server {
    Server::start(
        "upload_server",
        &[
            "--addr",
            "127.0.0.1:0",
            "--dir",
            dir.str(),
            "--max-size",
            max_size,
        ],
    )
}

/// Sends a header and a whole body, returns the answer line.
fn upload(stream: &mut TcpStream, name: &[u8], body: &[u8]) -> String {
    let mut message = name.to_vec();
    message.extend_from_slice(format!("|{}\n", body.len()).as_bytes());
    message.extend_from_slice(body);
    send(stream, &message);
    read_line(stream)
}

/// Deterministic pseudo-random bytes (xorshift64), the same for the same seed.
struct Bytes(u64);

impl Bytes {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            chunk.copy_from_slice(&self.0.to_le_bytes()[..chunk.len()]);
        }
    }

    fn vec(seed: u64, len: usize) -> Vec<u8> {
        let mut buf = vec![0; len];
        Bytes(seed).fill(&mut buf);
        buf
    }
}

#[test]
fn two_files_on_one_connection_are_stored_byte_for_byte() {
    let dir = TempDir::new("two");
    let server = start(&dir);
    let mut stream = server.connect();
    let first = Bytes::vec(1, 300_000);
    let second = b"line one\nline two\n|5\n\0\xff".to_vec();
    assert_eq!(upload(&mut stream, b"first.bin", &first), "true");
    assert_eq!(upload(&mut stream, b"second|with bar.txt", &second), "true");
    assert_eq!(upload(&mut stream, b"empty", b""), "true");
    assert_eq!(dir.names(), ["empty", "first.bin", "second|with bar.txt"]);
    assert_eq!(dir.read("first.bin"), first);
    assert_eq!(dir.read("second|with bar.txt"), second);
    assert_eq!(dir.read("empty"), b"");
}

#[test]
fn a_64_mib_file_streams_to_disk_without_being_held_in_memory() {
    const MIB: usize = 1024 * 1024;
    const SIZE: usize = 64 * MIB;
    let dir = TempDir::new("big");
    let server = start(&dir);
    let mut stream = server.connect();
    let before = server.rss_kib();
    assert!(before > 0, "cannot read the server's RSS");
    send(&mut stream, format!("big.bin|{SIZE}\n").as_bytes());
    let mut bytes = Bytes(42);
    let mut chunk = vec![0; MIB];
    let mut peak = before;
    for _ in 0..SIZE / MIB {
        bytes.fill(&mut chunk);
        send(&mut stream, &chunk);
        peak = peak.max(server.rss_kib());
    }
    assert_eq!(read_line(&mut stream), "true");
    peak = peak.max(server.rss_kib());
    let growth_mib = (peak - before) / 1024;
    assert!(
        growth_mib < 40,
        "RSS grew by {growth_mib} MiB ({before} KiB to {peak} KiB) for a 64 MiB upload"
    );

    let mut file = fs::File::open(dir.path().join("big.bin")).unwrap();
    assert_eq!(file.metadata().unwrap().len(), SIZE as u64);
    let mut expected = Bytes(42);
    let mut want = vec![0; MIB];
    let mut got = vec![0; MIB];
    for i in 0..SIZE / MIB {
        expected.fill(&mut want);
        file.read_exact(&mut got).unwrap();
        assert!(got == want, "MiB number {i} differs");
    }
    assert_eq!(dir.names(), ["big.bin"]);
}

#[test]
fn a_header_and_body_sent_byte_by_byte_are_stored() {
    let dir = TempDir::new("bytewise");
    let server = start(&dir);
    let mut stream = server.connect();
    stream.set_nodelay(true).unwrap();
    for byte in b"slow.txt|11\nhello world" {
        send(&mut stream, &[*byte]);
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(read_line(&mut stream), "true");
    assert_eq!(dir.read("slow.txt"), b"hello world");
    // The connection is still good for the next file.
    assert_eq!(upload(&mut stream, b"next", b"x"), "true");
}

#[test]
fn names_that_are_not_plain_file_names_are_refused_and_nothing_is_written() {
    let dir = TempDir::new("names");
    let server = start(&dir);
    let long = vec![b'n'; 256];
    let names: [&[u8]; 7] = [
        b"../etc/passwd",
        b"a/b",
        b".",
        b"..",
        &long,
        b"nul\0name",
        b"a\\b",
    ];
    for name in names {
        let mut stream = server.connect();
        let mut header = name.to_vec();
        header.extend_from_slice(b"|3\nabc");
        send(&mut stream, &header);
        assert_eq!(
            read_line(&mut stream),
            "false bad name",
            "{:?}",
            String::from_utf8_lossy(name)
        );
        assert!(is_closed(&mut stream), "still open after a bad name");
        assert_eq!(dir.names(), Vec::<String>::new());
    }
    // Nothing escaped the directory either.
    assert!(!dir.path().parent().unwrap().join("etc/passwd").exists());
    // A name of exactly 255 bytes is fine.
    let mut stream = server.connect();
    assert_eq!(upload(&mut stream, &[b'n'; 255], b"abc"), "true");
}

#[test]
fn malformed_headers_are_refused() {
    let dir = TempDir::new("headers");
    let server = start(&dir);

    let mut stream = server.connect();
    send(&mut stream, b"x|abc\n");
    assert_eq!(read_line(&mut stream), "false bad header");
    assert!(is_closed(&mut stream));

    // Over 4 KiB and still no newline: refused without waiting for one.
    let mut stream = server.connect();
    send(&mut stream, &[b'h'; 5000]);
    assert_eq!(read_line(&mut stream), "false bad header");
    assert!(is_closed(&mut stream));

    let mut stream = server.connect();
    send(&mut stream, b"no-bar-here\n");
    assert_eq!(read_line(&mut stream), "false bad header");
    assert_eq!(dir.names(), Vec::<String>::new());
}

#[test]
fn sizes_over_the_limit_are_refused_before_any_body() {
    let dir = TempDir::new("large");
    let server = start_with_max(&dir, "1000");
    // Only the header is sent: the answer and the close must not wait for a body.
    for size in ["99999999999999999999", "18446744073709551616", "1001"] {
        let mut stream = server.connect();
        send(&mut stream, format!("f|{size}\n").as_bytes());
        assert_eq!(read_line(&mut stream), "false too large", "size {size}");
        assert!(is_closed(&mut stream), "still open after size {size}");
    }
    assert_eq!(dir.names(), Vec::<String>::new());
    let mut stream = server.connect();
    assert_eq!(upload(&mut stream, b"f", &[7; 1000]), "true");
}

#[test]
fn a_client_that_disconnects_mid_body_leaves_no_file() {
    let dir = TempDir::new("disconnect");
    let server = start(&dir);
    let mut stream = server.connect();
    send(&mut stream, b"partial.bin|1000000\n");
    send(&mut stream, &Bytes::vec(3, 100_000));
    wait_until("the temporary file appears", || {
        dir.names().iter().any(|n| n.ends_with(".part"))
    });
    drop(stream);
    wait_until("the directory is empty again", || dir.names().is_empty());
    // The server is fine.
    let mut stream = server.connect();
    assert_eq!(upload(&mut stream, b"after", b"ok"), "true");
}

#[test]
fn sigterm_mid_upload_removes_the_partial_file_and_exits_0() {
    let dir = TempDir::new("sigterm");
    let mut server = start(&dir);
    let mut stream = server.connect();
    send(&mut stream, b"partial.bin|1000000\nsome of it");
    wait_until("the temporary file appears", || {
        dir.names().iter().any(|n| n.ends_with(".part"))
    });
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(Duration::from_secs(5)), Some(0));
    assert!(is_closed(&mut stream));
    assert_eq!(dir.names(), Vec::<String>::new());
}

#[test]
fn a_short_body_then_end_of_stream_leaves_no_file() {
    let dir = TempDir::new("short");
    let server = start(&dir);
    let mut stream = server.connect();
    send(&mut stream, b"short.txt|10\nabc");
    // Shut down only once the server has written the 3 bytes that came.
    wait_until("the 3 bytes are in the temporary file", || {
        let names = dir.names();
        let part = names.iter().find(|n| n.ends_with(".part"));
        part.is_some_and(|n| fs::metadata(dir.path().join(n)).is_ok_and(|m| m.len() == 3))
    });
    stream.shutdown(Shutdown::Write).unwrap();
    assert_eq!(
        read_line(&mut stream),
        "false incomplete: 3 of 10 bytes received"
    );
    assert!(is_closed(&mut stream));
    wait_until("the directory is empty", || dir.names().is_empty());
}

/// The end of the stream arrives in the same readiness event as the last
/// bytes (the client sends and shuts down at once). The reactor stops
/// reading at the short read and, edge-triggered, gets no second event for
/// the EOF: `eof_received` is never called.
#[test]
fn end_of_stream_arriving_with_the_last_bytes_is_seen() {
    let dir = TempDir::new("short-at-once");
    let server = start(&dir);
    let mut stream = server.connect();
    send(&mut stream, b"short.txt|10\nabc");
    stream.shutdown(Shutdown::Write).unwrap();
    let answer = read_line(&mut stream);
    assert!(answer.starts_with("false "), "answer {answer:?}");
    assert!(is_closed(&mut stream));
    wait_until("the directory is empty", || dir.names().is_empty());
}

#[test]
fn a_read_only_directory_is_refused_with_a_reason() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        eprintln!("skipped: root ignores directory permissions");
        return;
    }
    let dir = TempDir::new("readonly");
    let target = dir.path().join("locked");
    fs::create_dir(&target).unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o555)).unwrap();
    let server = Server::start(
        "upload_server",
        &["--addr", "127.0.0.1:0", "--dir", target.to_str().unwrap()],
    );
    let mut stream = server.connect();
    send(&mut stream, b"f.txt|3\nabc");
    let answer = read_line(&mut stream);
    assert!(answer.starts_with("false "), "answer {answer:?}");
    assert!(answer.contains("os error 13"), "not EACCES: {answer:?}");
    assert!(is_closed(&mut stream));
    assert_eq!(fs::read_dir(&target).unwrap().count(), 0);
}

#[test]
fn a_write_error_is_answered_and_the_partial_file_removed() {
    // A file size limit stands in for a full disk: past 1 MiB, write(2)
    // fails with EFBIG (SIGXFSZ, which would kill the server, is ignored
    // and stays ignored across exec).
    let dir = TempDir::new("efbig");
    let server = Server::start_with(
        "upload_server",
        &["--addr", "127.0.0.1:0", "--dir", dir.str()],
        |cmd| {
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                cmd.pre_exec(|| {
                    libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                    let limit = libc::rlimit {
                        rlim_cur: 1 << 20,
                        rlim_max: 1 << 20,
                    };
                    if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        },
    );
    let mut stream = server.connect();
    send(&mut stream, b"big.bin|3000000\n");
    let body = Bytes::vec(9, 3_000_000);
    // The server stops reading once it refuses: the rest may not go in.
    let _ = stream.write_all(&body);
    let answer = read_line(&mut stream);
    assert!(
        answer.starts_with("false write failed: "),
        "answer {answer:?}"
    );
    assert!(is_closed(&mut stream));
    wait_until("the directory is empty", || dir.names().is_empty());
}

#[test]
fn an_existing_file_is_replaced() {
    let dir = TempDir::new("replace");
    fs::write(dir.path().join("f.txt"), b"the old contents, longer").unwrap();
    let server = start(&dir);
    let mut stream = server.connect();
    assert_eq!(upload(&mut stream, b"f.txt", b"new"), "true");
    assert_eq!(dir.read("f.txt"), b"new");
    assert_eq!(upload(&mut stream, b"f.txt", b"newer"), "true");
    assert_eq!(dir.read("f.txt"), b"newer");
    assert_eq!(dir.names(), ["f.txt"]);
}

/// Runs `cmd` to the end (bounded by `PATIENCE`): exit code and stdout.
fn run_to_end(mut cmd: Command) -> (i32, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting a client");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).unwrap();
        out
    });
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{cmd:?} did not finish in {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    (status.code().expect("an exit code"), reader.join().unwrap())
}

/// Runs upload_client to the end: exit code and stdout.
fn run_client(addr: &str, files: &[PathBuf]) -> (i32, String) {
    let mut cmd = Command::new(util::example_path("upload_client"));
    cmd.arg("--addr").arg(addr).args(files);
    run_to_end(cmd)
}

/// Checks one summary line: `NAME: ok, N bytes in T s (R MB/s)`.
fn assert_ok_line(line: &str, name: &str, bytes: usize) {
    let prefix = format!("{name}: ok, {bytes} bytes in ");
    let rest = line
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{line:?} does not start with {prefix:?}"));
    let (secs, rate) = rest.split_once(" s (").expect("seconds then rate");
    secs.parse::<f64>().expect("seconds as a number");
    let rate = rate.strip_suffix(" MB/s)").expect("rate in MB/s");
    rate.parse::<f64>().expect("rate as a number");
}

#[test]
fn upload_client_sends_files_and_prints_one_line_each() {
    let source = TempDir::new("client-src");
    let dest = TempDir::new("client-dest");
    let a = source.path().join("a.bin");
    let b = source.path().join("b.txt");
    fs::write(&a, Bytes::vec(5, 200_000)).unwrap();
    fs::write(&b, b"hello\n").unwrap();
    let server = start(&dest);
    let (code, out) = run_client(&server.addr, &[a, b]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_ok_line(lines[0], "a.bin", 200_000);
    assert_ok_line(lines[1], "b.txt", 6);
    assert_eq!(code, 0);
    assert_eq!(dest.read("a.bin"), Bytes::vec(5, 200_000));
    assert_eq!(dest.read("b.txt"), b"hello\n");
}

#[test]
fn upload_client_reports_a_refusal_goes_on_and_exits_1() {
    let source = TempDir::new("refused-src");
    let dest = TempDir::new("refused-dest");
    // A backslash is a valid name on Unix, but the server refuses it.
    let refused = source
        .path()
        .join(std::ffi::OsStr::from_bytes(b"back\\slash"));
    let big = source.path().join("big.bin");
    let good = source.path().join("good.txt");
    fs::write(&refused, b"x").unwrap();
    fs::write(&big, vec![1; 5000]).unwrap();
    fs::write(&good, b"fine").unwrap();
    let server = start_with_max(&dest, "4096");
    let (code, out) = run_client(&server.addr, &[refused, big, good]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..2],
        [
            "back\\slash: refused: bad name",
            "big.bin: refused: too large"
        ],
        "{out}"
    );
    assert_eq!(lines.len(), 3, "{out}");
    assert_ok_line(lines[2], "good.txt", 4);
    assert_eq!(code, 1);
    assert_eq!(dest.names(), ["good.txt"]);
}

/// One `recv(1024)`, the way the tutorial's client reads an answer.
fn recv_once(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = [0; 1024];
    let n = stream.read(&mut buf).expect("reading the answer");
    buf[..n].to_vec()
}

/// Sends a file in the tutorial's form (`NAME|SIZE`, no newline, in a send
/// of its own, then the bytes in 1024-byte pieces) and returns what one
/// `recv(1024)` gets.
fn upload_tutorial_form(stream: &mut TcpStream, name: &str, body: &[u8]) -> Vec<u8> {
    send(stream, format!("{name}|{}", body.len()).as_bytes());
    for piece in body.chunks(1024) {
        send(stream, piece);
    }
    recv_once(stream)
}

/// Sends a file in the newline form and returns what one `recv(1024)` gets.
fn upload_newline_form(stream: &mut TcpStream, name: &str, body: &[u8]) -> Vec<u8> {
    send(stream, format!("{name}|{}\n", body.len()).as_bytes());
    send(stream, body);
    recv_once(stream)
}

#[test]
fn the_tutorials_form_is_answered_exactly_true() {
    let dir = TempDir::new("tutorial-form");
    let server = start(&dir);
    let mut stream = server.connect();
    let notes = b"# notes\n\n- one|1\n- two\n";
    assert_eq!(
        upload_tutorial_form(&mut stream, "hello.txt", b"hello world"),
        b"true"
    );
    assert_eq!(
        upload_tutorial_form(&mut stream, "notes.md", notes),
        b"true"
    );
    assert_eq!(upload_tutorial_form(&mut stream, "empty", b""), b"true");
    assert_eq!(dir.names(), ["empty", "hello.txt", "notes.md"]);
    assert_eq!(dir.read("hello.txt"), b"hello world");
    assert_eq!(dir.read("notes.md"), notes);
    assert_eq!(dir.read("empty"), b"");
}

#[test]
fn the_newline_form_is_answered_with_a_newline() {
    let dir = TempDir::new("newline-form");
    let server = start(&dir);
    let mut stream = server.connect();
    assert_eq!(
        upload_newline_form(&mut stream, "a.txt", b"12345"),
        b"true\n"
    );
    assert_eq!(
        upload_newline_form(&mut stream, "b.txt", b"\nstarts with a newline"),
        b"true\n"
    );
    assert_eq!(
        upload_newline_form(&mut stream, "../up", b"x"),
        b"false bad name\n"
    );
    assert!(is_closed(&mut stream));
    assert_eq!(dir.read("a.txt"), b"12345");
    assert_eq!(dir.read("b.txt"), b"\nstarts with a newline");
}

#[test]
fn both_forms_mix_on_one_connection() {
    let dir = TempDir::new("mixed");
    let server = start(&dir);
    let mut stream = server.connect();
    assert_eq!(upload_newline_form(&mut stream, "1.txt", b"one"), b"true\n");
    assert_eq!(upload_tutorial_form(&mut stream, "2.txt", b"two"), b"true");
    assert_eq!(
        upload_tutorial_form(&mut stream, "3.txt", b"three"),
        b"true"
    );
    assert_eq!(upload_newline_form(&mut stream, "4.txt", b"4"), b"true\n");
    assert_eq!(upload_tutorial_form(&mut stream, "5.txt", b"five"), b"true");
    assert_eq!(dir.names(), ["1.txt", "2.txt", "3.txt", "4.txt", "5.txt"]);
    assert_eq!(dir.read("3.txt"), b"three");
    assert_eq!(dir.read("4.txt"), b"4");
}

#[test]
fn a_binary_file_in_the_tutorials_form_is_stored_byte_for_byte() {
    let dir = TempDir::new("binary");
    let server = start(&dir);
    let mut stream = server.connect();
    // Any first byte but a digit or a newline; the rest takes every value.
    let mut body = Bytes::vec(11, 300_000);
    body[0] = 0xff;
    assert_eq!(
        upload_tutorial_form(&mut stream, "photo.bin", &body),
        b"true"
    );
    assert_eq!(dir.read("photo.bin"), body);
    // The connection goes on.
    assert_eq!(upload_tutorial_form(&mut stream, "x", b"\0"), b"true");
    assert_eq!(dir.names(), ["photo.bin", "x"]);
}

#[test]
fn a_file_that_starts_with_a_digit_or_a_newline_is_refused_soon_and_not_stored() {
    let dir = TempDir::new("ambiguous");
    let server = start(&dir);
    let mut big = b"7".to_vec();
    big.extend_from_slice(&Bytes::vec(12, 4999));
    let cases: [(&str, &[u8], &str); 4] = [
        (
            "a.txt",
            b"12345",
            "false: ambiguous size: 5 or 512345 bytes",
        ),
        ("d.txt", b"12abc", "false: ambiguous size: 5 or 512 bytes"),
        (
            "n.txt",
            b"\nhello",
            "false: ambiguous header: the file may start with a newline",
        ),
        ("big.bin", &big, "false: "),
    ];
    for (name, file, expected) in cases {
        let mut stream = server.connect();
        send(&mut stream, format!("{name}|{}", file.len()).as_bytes());
        send(&mut stream, file);
        let sent = Instant::now();
        let answer = String::from_utf8(recv_once(&mut stream)).expect("a text answer");
        let waited = sent.elapsed();
        assert!(answer.starts_with(expected), "{name}: {answer:?}");
        assert!(
            answer.contains("send the newline form, NAME|SIZE\\n then the file"),
            "{name}: {answer:?}"
        );
        // Within about a second of the client falling silent, long before
        // the idle timeout.
        assert!(waited < Duration::from_secs(5), "{name}: {waited:?}");
        assert!(is_closed(&mut stream), "{name}: still open");
        wait_until("no file and no temporary file", || dir.names().is_empty());
    }
}

#[test]
fn a_newline_form_client_may_pause_mid_file() {
    let dir = TempDir::new("pause");
    let server = start(&dir);
    let mut stream = server.connect();
    send(&mut stream, b"slow.txt|11\nhello");
    std::thread::sleep(Duration::from_millis(600));
    send(&mut stream, b" world");
    assert_eq!(recv_once(&mut stream), b"true\n");
    assert_eq!(dir.read("slow.txt"), b"hello world");
}

#[test]
fn the_tutorials_python_client_works_unchanged() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("note: python3 not found; skipping the Python client test");
        return;
    }
    let source = TempDir::new("python-src");
    let dest = TempDir::new("python-dest");
    let mut photo = Bytes::vec(13, 100_000);
    photo[0] = b'P';
    let files: [(&str, &[u8]); 4] = [
        ("notes.txt", b"hello world\n"),
        ("photo.bin", &photo),
        ("empty.txt", b""),
        // Last: the refusal closes the connection.
        ("year.txt", b"2024 was a year\n"),
    ];
    for (name, contents) in files {
        fs::write(source.path().join(name), contents).unwrap();
    }
    let server = start(&dest);
    let addr = server.socket_addr();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/upload_client.py"
    );
    let mut cmd = Command::new("python3");
    cmd.args([script, &addr.ip().to_string(), &addr.port().to_string()])
        .args(files.map(|(name, _)| source.path().join(name)));
    let (code, out) = run_to_end(cmd);
    assert_eq!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..3],
        [
            "notes.txt: stored",
            "photo.bin: stored",
            "empty.txt: stored"
        ],
        "{out}"
    );
    assert!(
        lines[3].starts_with("year.txt: failed b'false: ambiguous size: 16 or 162024 bytes"),
        "{out}"
    );
    assert_eq!(dest.names(), ["empty.txt", "notes.txt", "photo.bin"]);
    assert_eq!(dest.read("photo.bin"), photo);
}

#[test]
fn upload_client_is_told_when_a_name_reads_two_ways() {
    let source = TempDir::new("two-ways-src");
    let dest = TempDir::new("two-ways-dest");
    // `v|2.txt|5`: the name could also be `v` and the size 2.
    let name = source.path().join("v|2.txt");
    fs::write(&name, b"hello").unwrap();
    let server = start(&dest);
    let (code, out) = run_client(&server.addr, &[name]);
    assert_eq!(code, 1);
    assert!(
        out.starts_with("v|2.txt: refused: ambiguous header: the name may end at its first |"),
        "{out}"
    );
    assert_eq!(dest.names(), Vec::<String>::new());
}
