//! What the resp_server tests share: starting the server (and, where it is
//! installed, a real redis-server to compare with), a small RESP client
//! that returns replies as their exact bytes, and running the real tools
//! (redis-cli, redis-benchmark, Python with redis-py).

#![allow(dead_code)] // each test file uses the part it needs

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::util::{Server, read_exact, send, wait_until};

/// resp_server on a free port, with `extra` flags.
pub fn start(extra: &[&str]) -> Server {
    let mut args = vec!["--addr", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    Server::start("resp_server", &args)
}

/// Encodes a command as a RESP multibulk request.
pub fn request(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A tiny RESP client: sends multibulk requests and reads one whole reply
/// back as the exact bytes the server sent (RESP2 and RESP3).
pub struct Client {
    pub reader: BufReader<TcpStream>,
}

impl Client {
    pub fn new(server: &Server) -> Client {
        Client::to_port(server.socket_addr().port())
    }

    pub fn to_port(port: u16) -> Client {
        let stream = crate::util::connect(([127, 0, 0, 1], port).into());
        Client {
            reader: BufReader::new(stream),
        }
    }

    pub fn send(&mut self, data: &[u8]) {
        send(self.reader.get_mut(), data);
    }

    /// Runs a command given as space-separated words; returns the raw reply.
    pub fn cmd(&mut self, line: &str) -> String {
        let words: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        self.call(&words)
    }

    pub fn call(&mut self, args: &[&[u8]]) -> String {
        self.send(&request(args));
        self.reply()
    }

    /// The raw bytes of the reply to `args`.
    pub fn call_bytes(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send(&request(args));
        self.reply_bytes()
    }

    /// Reads one reply, as text.
    pub fn reply(&mut self) -> String {
        String::from_utf8_lossy(&self.reply_bytes()).into_owned()
    }

    /// Reads one reply: a line, and for bulk strings and aggregates what
    /// follows.
    pub fn reply_bytes(&mut self) -> Vec<u8> {
        let mut line = Vec::new();
        self.reader
            .read_until(b'\n', &mut line)
            .expect("reading a reply");
        assert!(line.ends_with(b"\r\n"), "truncated reply {line:?}");
        let n: i64 = std::str::from_utf8(&line[1..line.len() - 2])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(-1);
        match line[0] {
            b'$' | b'=' | b'!' if n >= 0 => {
                line.extend(read_exact(&mut self.reader, n as usize + 2))
            }
            b'*' | b'~' | b'>' | b'%' => {
                let items = if line[0] == b'%' { 2 * n } else { n };
                for _ in 0..items.max(0) {
                    let item = self.reply_bytes();
                    line.extend(item);
                }
            }
            b'+' | b'-' | b':' | b'$' | b'_' | b',' | b'#' | b'(' => {}
            other => panic!("not a RESP reply: {:?}", other as char),
        }
        line
    }
}

/// `s` as a bulk string reply.
pub fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

/// A redis-server of our own on a free loopback port, persistence off,
/// stopped when dropped.
pub struct RedisServer {
    child: Child,
    pub port: u16,
}

impl RedisServer {
    /// Starts one, or says why not and returns `None` when redis-server is
    /// not installed.
    pub fn start() -> Option<RedisServer> {
        // The port is free when picked, but another process (a server of a
        // test running beside this one) may take it before redis-server
        // binds it: then redis-server exits, or the one answering there is
        // not ours. Its INFO names its process; try another port until it
        // is this child.
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .expect("a free port");
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--logfile", ""])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let child = match child {
                Ok(child) => child,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    eprintln!(
                        "note: redis-server is not installed; skipping the comparison \
                         (Debian: apt-get install redis-server)"
                    );
                    return None;
                }
                Err(e) => panic!("starting redis-server: {e}"),
            };
            let mut server = RedisServer { child, port };
            wait_until("redis-server answers or exits", || {
                TcpStream::connect(("127.0.0.1", port)).is_ok()
                    || matches!(server.child.try_wait(), Ok(Some(_)))
            });
            if matches!(server.child.try_wait(), Ok(None)) && is_ours(port, server.child.id()) {
                return Some(server);
            }
        }
        panic!("redis-server did not start on any of five free ports");
    }
}

/// Whether the server on `port` says it is process `pid` (`INFO server`).
/// Any failure is a no: the one there may be another test's server, which
/// can close or reset the connection when that test ends.
fn is_ours(port: u16, pid: u32) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if stream
        .write_all(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")
        .is_err()
    {
        return false;
    }
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return false,
            Ok(_) => {
                if let Some(id) = line.strip_prefix("process_id:") {
                    return id.trim_end() == pid.to_string();
                }
            }
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `program` with `args`, or returns `None` (after saying so) when it
/// is not installed. The program must succeed.
pub fn run_tool(program: &str, args: &[&str], stdin: Option<&str>) -> Option<String> {
    let output = run_tool_output(program, args, stdin)?;
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Like [`run_tool`], returning the whole output whatever the status.
pub fn run_tool_output(
    program: &str,
    args: &[&str],
    stdin: Option<&str>,
) -> Option<std::process::Output> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("note: {program} is not installed; skipping");
            return None;
        }
        Err(e) => panic!("starting {program}: {e}"),
    };
    let mut input = child.stdin.take().expect("stdin piped");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).expect("writing stdin");
    }
    drop(input);
    // Read both pipes on threads: a chatty tool must not block on a full pipe.
    let mut stdout = child.stdout.take().expect("stdout piped");
    let mut stderr = child.stderr.take().expect("stderr piped");
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut v);
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stderr, &mut v);
        v
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("{program} {args:?} did not exit within 120 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Some(std::process::Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    })
}

/// The Python of the virtual environment `.ci/run` installs redis-py into
/// (`target/redis-py`, or `$REDIS_PY_PYTHON`), if it can import redis;
/// otherwise a note and `None`.
pub fn redis_py() -> Option<PathBuf> {
    let python = match std::env::var_os("REDIS_PY_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
            target.join("redis-py/bin/python")
        }
    };
    let works = Command::new(&python)
        .args(["-c", "import redis"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !works {
        eprintln!(
            "note: no redis-py at {} (.ci/run installs it: python3 -m venv target/redis-py && \
             target/redis-py/bin/pip install 'redis>=8,<9'); skipping",
            python.display()
        );
        return None;
    }
    Some(python)
}

/// Runs one scenario of `tests/fixtures/redis_py_session.py` against
/// `port`; returns what it printed (it exits non-zero on any failed check).
pub fn redis_py_scenario(python: &std::path::Path, scenario: &str, port: u16) -> String {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/redis_py_session.py"
    );
    let port = port.to_string();
    let output = run_tool_output(
        python.to_str().expect("a UTF-8 path"),
        &[script, scenario, &port],
        None,
    )
    .expect("the virtual environment's python runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "redis-py scenario {scenario} failed:\n{stdout}\n{stderr}"
    );
    format!("{stdout}{stderr}")
}
