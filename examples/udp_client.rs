//! UDP client for `udp_server`: sends each line typed on stdin as one
//! datagram and prints the answer.
//!
//! ```text
//! cargo run --release --example udp_server
//! cargo run --release --example udp_client      # type lines; each gets "ok"
//! ```
//!
//! `--addr HOST:PORT` names the server (default 127.0.0.1:9999); `--unix
//! PATH` talks to a Unix datagram server instead. One line is sent, then the
//! client waits for the answer; when none comes within 2 s it prints
//! `timeout` and goes on with the next line, because UDP does not promise
//! delivery: a datagram, or its answer, may simply be lost, and nothing else
//! will ever say so. `exit` or the end of the input quits.
//!
//! A Unix datagram client must bind a path of its own, or the server has
//! no address to answer to. It binds one in the temporary directory and
//! removes it when it quits, Ctrl-C included.
//!
//! A plain blocking client: it does one thing at a time (send a line, wait
//! for its answer or the timeout), so a read timeout on the socket is all
//! the waiting it needs.

use std::ffi::CString;
use std::io::{self, BufRead, Write};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use clap::Parser;
use sockloop_examples::server::{self, OrFail};

/// How long to wait for an answer before giving up on it.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);
/// Larger than any datagram the server sends.
const MAX_DATAGRAM: usize = 64 * 1024;

/// The client's socket, with the server it talks to.
enum Socket {
    Udp(UdpSocket, SocketAddr),
    Unix {
        socket: UnixDatagram,
        server: PathBuf,
        /// Our own path, kept only to be removed when the socket goes.
        _bound: BoundPath,
    },
}

/// The path a Unix datagram client bound; removed on drop.
struct BoundPath(PathBuf);

impl Drop for BoundPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Set once the client has bound a path, for the signal handler.
static BOUND_PATH: OnceLock<CString> = OnceLock::new();

/// SIGINT/SIGTERM: remove the bound path, then exit as the signal would.
/// Only async-signal-safe calls here: unlink(2) and _exit(2).
extern "C" fn remove_path_and_exit(signal: libc::c_int) {
    if let Some(path) = BOUND_PATH.get() {
        // SAFETY: a NUL-terminated path that lives for the whole process.
        unsafe { libc::unlink(path.as_ptr()) };
    }
    // SAFETY: ends the process without running anything else.
    unsafe { libc::_exit(128 + signal) };
}

impl Socket {
    fn udp(addr: &str) -> io::Result<Socket> {
        let server = addr.to_socket_addrs()?.next().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the address resolves to nothing",
            )
        })?;
        let any: SocketAddr = if server.is_ipv4() {
            "0.0.0.0:0".parse().expect("a valid address")
        } else {
            "[::]:0".parse().expect("a valid address")
        };
        let socket = UdpSocket::bind(any)?;
        socket.set_read_timeout(Some(ANSWER_TIMEOUT))?;
        Ok(Socket::Udp(socket, server))
    }

    fn unix(server: &Path) -> io::Result<Socket> {
        let own = std::env::temp_dir().join(format!("udp_client-{}.sock", std::process::id()));
        // A file left by an earlier client that had our pid and was killed.
        let _ = std::fs::remove_file(&own);
        let socket = UnixDatagram::bind(&own)?;
        let bound = BoundPath(own);
        if let Ok(path) = CString::new(bound.0.as_os_str().as_bytes()) {
            let _ = BOUND_PATH.set(path);
            let handler = remove_path_and_exit as extern "C" fn(libc::c_int) as libc::sighandler_t;
            // SAFETY: the handler only makes async-signal-safe calls.
            unsafe {
                libc::signal(libc::SIGINT, handler);
                libc::signal(libc::SIGTERM, handler);
            }
        }
        socket.set_read_timeout(Some(ANSWER_TIMEOUT))?;
        // A server whose queue is full makes a Unix datagram send block.
        socket.set_write_timeout(Some(ANSWER_TIMEOUT))?;
        Ok(Socket::Unix {
            socket,
            server: server.to_path_buf(),
            _bound: bound,
        })
    }

    fn send(&self, data: &[u8]) -> io::Result<()> {
        match self {
            Socket::Udp(s, server) => s.send_to(data, server).map(drop),
            Socket::Unix {
                socket: s, server, ..
            } => s.send_to(data, server).map(drop),
        }
    }

    /// The next datagram from the server, or `None` once `deadline` passes.
    /// Datagrams from anybody else are ignored: on UDP anyone can send to us.
    fn receive(&self, buf: &mut [u8], deadline: Instant) -> io::Result<Option<usize>> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let result = match self {
                Socket::Udp(s, server) => s
                    .set_read_timeout(Some(left))
                    .and_then(|()| s.recv_from(buf))
                    .map(|(n, from)| (from == *server).then_some(n)),
                Socket::Unix {
                    socket: s, server, ..
                } => s
                    .set_read_timeout(Some(left))
                    .and_then(|()| s.recv_from(buf))
                    .map(|(n, from)| (from.as_pathname() == Some(server.as_path())).then_some(n)),
            };
            match result {
                Ok(Some(n)) => return Ok(Some(n)),
                Ok(None) => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Throws away answers that came after their timeout, so that they are
    /// not taken for the answer to the next line.
    fn discard_late_answers(&self, buf: &mut [u8]) {
        let set = |nonblocking| match self {
            Socket::Udp(s, _) => s.set_nonblocking(nonblocking),
            Socket::Unix { socket: s, .. } => s.set_nonblocking(nonblocking),
        };
        if set(true).is_err() {
            return;
        }
        loop {
            let result = match self {
                Socket::Udp(s, _) => s.recv_from(buf).map(drop),
                Socket::Unix { socket: s, .. } => s.recv_from(buf).map(drop),
            };
            if result.is_err() {
                break;
            }
        }
        let _ = set(false);
    }
}

#[derive(Parser)]
#[command(about = "Sends stdin lines as datagrams to udp_server and prints the answers")]
struct Args {
    /// Address of the server.
    #[arg(long, default_value = "127.0.0.1:9999")]
    addr: String,
    /// Talk to a Unix datagram server at this path instead.
    #[arg(long)]
    unix: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    server::init_logging();
    let socket = match &args.unix {
        Some(path) => Socket::unix(path).or_fail("binding a Unix datagram socket"),
        None => Socket::udp(&args.addr).or_fail(&format!("preparing to send to {}", args.addr)),
    };
    let mut buf = vec![0; MAX_DATAGRAM];
    let mut out = io::stdout().lock();
    for line in io::stdin().lock().split(b'\n') {
        let Ok(line) = line.inspect_err(|e| eprintln!("error: reading stdin: {e}")) else {
            return ExitCode::FAILURE; // `socket` is dropped: its path is removed
        };
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        if line == b"exit" {
            break;
        }
        socket.discard_late_answers(&mut buf);
        if let Err(e) = socket.send(line) {
            eprintln!("error: sending: {e}");
            continue;
        }
        let answer = match socket.receive(&mut buf, Instant::now() + ANSWER_TIMEOUT) {
            Ok(Some(n)) => String::from_utf8_lossy(&buf[..n]).into_owned(),
            Ok(None) => "timeout".to_string(),
            Err(e) => {
                eprintln!("error: receiving: {e}");
                continue;
            }
        };
        let _ = writeln!(out, "{answer}");
        let _ = out.flush();
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_from_strangers_are_ignored() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
        let client = Socket::udp(&server.local_addr().unwrap().to_string()).unwrap();
        client.send(b"hi").unwrap();
        let mut buf = [0; 16];
        let (n, from) = server.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"hi");
        stranger.send_to(b"not me", from).unwrap();
        server.send_to(b"ok", from).unwrap();
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        assert_eq!(client.receive(&mut buf, deadline).unwrap(), Some(2));
        assert_eq!(&buf[..2], b"ok");
    }

    #[test]
    fn late_answers_are_discarded() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let client = Socket::udp(&server.local_addr().unwrap().to_string()).unwrap();
        client.send(b"one").unwrap();
        let mut buf = [0; 16];
        let (_, from) = server.recv_from(&mut buf).unwrap();
        server.send_to(b"late", from).unwrap();
        // Wait until it has arrived, then throw it away.
        let Socket::Udp(s, _) = &client else {
            unreachable!()
        };
        let mut peek = [0; 16];
        s.peek_from(&mut peek).unwrap();
        client.discard_late_answers(&mut buf);
        let deadline = Instant::now() + Duration::from_millis(50);
        assert_eq!(client.receive(&mut buf, deadline).unwrap(), None);
    }
}
