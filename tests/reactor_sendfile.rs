//! `Ctx::send_file` over real sockets: a file queued between writes goes out
//! in order, as the socket takes it; a peer that stops reading is not cut
//! off by the output limit but by the protocol's own timer; closing,
//! aborting, the peer leaving and a shutdown all release the file. Each
//! test runs a reactor on a thread of this process and reads with std
//! sockets.

mod util;

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sockloop::{Config, Ctx, Protocol};
use util::{PATIENCE, connect, pattern, read_exact, serve_tcp, spawn_reactor, wait_until};

const MIB: usize = 1024 * 1024;

/// A file of `len` bytes of test pattern `seed`, deleted when dropped.
struct TestFile {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl TestFile {
    fn new(name: &str, seed: u64, len: usize) -> TestFile {
        let path = std::env::temp_dir().join(format!(
            "sockloop-sendfile-{}-{name}.bin",
            std::process::id()
        ));
        let bytes = pattern(seed, 0, len);
        std::fs::write(&path, &bytes).unwrap();
        TestFile { path, bytes }
    }

    /// How many fds of this process have the file open: the reactor's copy
    /// must be closed once the file is sent or the connection is gone.
    /// (Counted by path, so tests running beside this one do not disturb it.)
    fn open_fds(&self) -> usize {
        open_fds_of(&self.path)
    }
}

impl Drop for TestFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn open_fds_of(path: &Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter(|target| target == path)
                .count()
        })
        .unwrap_or(0)
}

/// What the protocol saw, in order.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    /// `send_file` returned this.
    Queued(bool),
    /// `pause_writing`, with `ctx.queued()` then.
    Paused(usize),
    /// `resume_writing`, with `ctx.queued()` then.
    Resumed(usize),
    /// Cut off by the send timer: no progress for a whole period.
    Stalled,
    Lost(Option<io::ErrorKind>),
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// Sends what `script` says when connected; records flow control and the
/// end. With `send_timeout`, cuts off a peer that takes nothing for that
/// long while output is paused, as a protocol using `send_file` must.
struct Sender {
    script: Box<dyn FnMut(&mut Ctx) -> bool>,
    log: Log,
    send_timeout: Option<Duration>,
    /// `ctx.queued()` when the send timer was set.
    queued_at_timer: usize,
}

impl Sender {
    fn note(&self, seen: Seen) {
        self.log.lock().unwrap().push(seen);
    }
}

const SEND_TIMER: u64 = 1;

impl Protocol for Sender {
    fn connection_made(&mut self, ctx: &mut Ctx) {
        let queued = (self.script)(ctx);
        self.note(Seen::Queued(queued));
    }

    fn data_received(&mut self, _: &mut Ctx, data: &[u8]) -> usize {
        data.len()
    }

    fn pause_writing(&mut self, ctx: &mut Ctx) {
        self.note(Seen::Paused(ctx.queued()));
        if let Some(timeout) = self.send_timeout {
            self.queued_at_timer = ctx.queued();
            ctx.set_timer(timeout, SEND_TIMER);
        }
    }

    fn resume_writing(&mut self, ctx: &mut Ctx) {
        self.note(Seen::Resumed(ctx.queued()));
    }

    fn timer_fired(&mut self, ctx: &mut Ctx, _: u64) {
        let (Some(timeout), queued) = (self.send_timeout, ctx.queued()) else {
            return;
        };
        if queued == 0 || queued < self.queued_at_timer {
            // Progress: give it another period.
            self.queued_at_timer = queued;
            ctx.set_timer(timeout, SEND_TIMER);
        } else {
            self.note(Seen::Stalled);
            ctx.abort("the peer stopped reading");
        }
    }

    fn connection_lost(&mut self, _: &mut Ctx, reason: Option<io::Error>) {
        self.note(Seen::Lost(reason.map(|e| e.kind())));
    }
}

/// A TCP server whose every connection runs `script` (given the file's
/// path), with `config` and an optional send timeout.
fn serve(
    config: Config,
    path: &Path,
    send_timeout: Option<Duration>,
    script: fn(&mut Ctx, &Path) -> bool,
) -> (util::Running<(), std::net::SocketAddr>, Log) {
    let log = Log::default();
    let (path, log2) = (path.to_path_buf(), log.clone());
    let server = serve_tcp(config, move || {
        let path = path.clone();
        Sender {
            script: Box::new(move |ctx| script(ctx, &path)),
            log: log2.clone(),
            send_timeout,
            queued_at_timer: 0,
        }
    });
    (server, log)
}

fn seen(log: &Log) -> Vec<Seen> {
    log.lock().unwrap().clone()
}

fn wait_for_lost(log: &Log) -> Option<io::ErrorKind> {
    let mut end = None;
    wait_until("connection_lost", || {
        end = seen(log).iter().find_map(|s| match s {
            Seen::Lost(kind) => Some(*kind),
            _ => None,
        });
        end.is_some()
    });
    end.unwrap()
}

/// Reads until EOF, slowly at first (so that the server meets a full
/// socket many times), then as fast as it can.
fn read_all_slowly(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = vec![0; 64 * 1024];
    let started = Instant::now();
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("reading after {} bytes: {e}", got.len()),
        }
        if started.elapsed() < Duration::from_millis(200) {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

#[test]
fn files_go_out_in_order_between_the_writes_around_them() {
    let file = TestFile::new("order", 1, 8 * MIB);
    let (server, log) = serve(Config::default(), &file.path, None, |ctx, path| {
        ctx.write(b"head|");
        let ok = ctx.send_file(File::open(path).unwrap(), 3, 6 * MIB as u64);
        ctx.write(b"|middle|");
        let ok = ok && ctx.send_file(File::open(path).unwrap(), 0, 10);
        ctx.write(b"|tail");
        ctx.close();
        ok
    });
    let mut stream = connect(server.info);
    let got = read_all_slowly(&mut stream);
    let mut expected = b"head|".to_vec();
    expected.extend_from_slice(&file.bytes[3..3 + 6 * MIB]);
    expected.extend_from_slice(b"|middle|");
    expected.extend_from_slice(&file.bytes[..10]);
    expected.extend_from_slice(b"|tail");
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "the bytes arrived out of order or changed");
    assert_eq!(wait_for_lost(&log), None, "a clean close");
    let seen = seen(&log);
    assert_eq!(seen[0], Seen::Queued(true));
    // Flow control counted the file: paused with megabytes queued (more
    // than the buffered bytes could ever be), resumed near the end.
    let paused = seen.iter().find_map(|s| match s {
        Seen::Paused(q) => Some(*q),
        _ => None,
    });
    assert!(paused.is_some_and(|q| q > MIB), "{seen:?}");
    assert!(
        seen.iter()
            .any(|s| matches!(s, Seen::Resumed(q) if *q <= 16 * 1024)),
        "{seen:?}"
    );
    wait_until("the file is closed", || file.open_fds() == 0);
}

#[test]
fn over_a_unix_socket_the_file_is_read_and_written_in_order() {
    let file = TestFile::new("unix", 2, 3 * MIB);
    let socket = util::temp_socket_path("sendfile");
    let (path, sock) = (file.path.clone(), socket.clone());
    let server = spawn_reactor(move || {
        let mut reactor = sockloop::Reactor::with_config((), Config::default())?;
        reactor.listen_unix(&sock, move || {
            let path = path.clone();
            Sender {
                script: Box::new(move |ctx| {
                    ctx.write(b"<");
                    let ok = ctx.send_file(File::open(&path).unwrap(), 0, 3 * MIB as u64);
                    ctx.write(b">");
                    ctx.close();
                    ok
                }),
                log: Log::default(),
                send_timeout: None,
                queued_at_timer: 0,
            }
        })?;
        Ok((reactor, ()))
    });
    let mut stream = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut got = Vec::new();
    stream.read_to_end(&mut got).unwrap();
    assert_eq!(got.len(), 3 * MIB + 2);
    assert!(got[0] == b'<' && got[got.len() - 1] == b'>');
    assert!(got[1..got.len() - 1] == file.bytes[..], "the file's bytes");
    drop(server);
}

/// The output limit bounds memory: a file waiting for a peer that does
/// not read holds none, so a file sixteen times the limit is not cut off
/// for it. The protocol's send timer, which sees no progress in
/// `ctx.queued()`, is what cuts the peer off; the file is closed then.
#[test]
fn a_peer_that_stops_reading_is_cut_off_by_the_send_timer_not_the_output_limit() {
    let file = TestFile::new("stuck", 3, 64 * MIB);
    let config = Config {
        max_output: 4 * MIB,
        ..Config::default()
    };
    let timeout = Some(Duration::from_millis(300));
    let (server, log) = serve(config, &file.path, timeout, |ctx, path| {
        ctx.send_file(File::open(path).unwrap(), 0, 64 * MIB as u64)
    });
    let mut stream = connect(server.info);
    // Read a little, then nothing: the socket buffers fill and stay full.
    let first = read_exact(&mut stream, 1024 * 1024);
    assert!(first == file.bytes[..first.len()]);
    let end = wait_for_lost(&log);
    let seen = seen(&log);
    assert_eq!(end, Some(io::ErrorKind::ConnectionAborted), "{seen:?}");
    assert!(seen.contains(&Seen::Stalled), "{seen:?}");
    wait_until("the file is closed", || file.open_fds() == 0);
    drop(stream);
}

/// The server's end of the connection `client` has to the server, found
/// among this process' descriptors (the reactor runs in this process).
fn server_end_of(client: &TcpStream) -> std::os::fd::RawFd {
    use std::os::fd::AsRawFd;
    let (ours, theirs) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
    for entry in std::fs::read_dir("/proc/self/fd").unwrap() {
        let Ok(fd) = entry.unwrap().file_name().to_string_lossy().parse() else {
            continue;
        };
        if fd == client.as_raw_fd() {
            continue;
        }
        // SAFETY: the reactor keeps its sockets open while the test looks.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let sock = socket2::SockRef::from(&borrowed);
        let (Ok(local), Ok(peer)) = (sock.local_addr(), sock.peer_addr()) else {
            continue;
        };
        if local.as_socket() == Some(theirs) && peer.as_socket() == Some(ours) {
            return fd;
        }
    }
    panic!("no socket from {theirs} to {ours} in this process");
}

/// Bytes the socket `fd` holds that it has not sent yet (TCP_INFO).
fn notsent_bytes(fd: std::os::fd::RawFd) -> u32 {
    // SAFETY: tcp_info is plain data; the kernel fills at most `len` bytes.
    unsafe {
        let mut info: libc::tcp_info = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        let got = libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        );
        assert_eq!(got, 0, "TCP_INFO: {}", io::Error::last_os_error());
        info.tcpi_notsent_bytes
    }
}

/// While a large file waits on a peer that has stopped reading, the socket
/// holds about 64 KiB it has not sent, not a send buffer's worth (a
/// megabyte or more): the file goes out from the server's own `sendfile`
/// calls as the peer makes room, not from its acknowledgements.
#[test]
fn a_large_file_leaves_little_unsent_in_the_socket() {
    let file = TestFile::new("lowat", 6, 32 * MIB);
    let (server, _log) = serve(Config::default(), &file.path, None, |ctx, path| {
        ctx.send_file(File::open(path).unwrap(), 0, 32 * MIB as u64)
    });
    let mut stream = connect(server.info);
    let first = read_exact(&mut stream, MIB);
    assert!(first == file.bytes[..first.len()]);
    let fd = server_end_of(&stream);
    // The receive window is closed by now or soon: the server's last call
    // has returned, and what the socket holds stops changing.
    let mut last = u32::MAX;
    wait_until("the socket to settle", || {
        std::thread::sleep(Duration::from_millis(100));
        let now = notsent_bytes(fd);
        std::mem::replace(&mut last, now) == now
    });
    assert!(last <= 128 * 1024, "{last} bytes unsent in the socket");
    drop(stream);
}

/// A peer that reads slowly but steadily is not cut off by the same timer.
#[test]
fn a_slow_but_steady_reader_gets_the_whole_file() {
    let file = TestFile::new("steady", 4, 4 * MIB);
    let timeout = Some(Duration::from_millis(300));
    let (server, log) = serve(Config::default(), &file.path, timeout, |ctx, path| {
        let ok = ctx.send_file(File::open(path).unwrap(), 0, 4 * MIB as u64);
        ctx.close();
        ok
    });
    let mut stream = connect(server.info);
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0; 256 * 1024];
    // About 1 s for the whole file: three or more timer periods.
    loop {
        let n = stream.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(got == file.bytes, "{} bytes arrived", got.len());
    assert_eq!(wait_for_lost(&log), None, "{:?}", seen(&log));
}

#[test]
fn abort_mid_file_drops_the_rest_and_closes_the_file() {
    let file = TestFile::new("abort", 5, 32 * MIB);
    let (server, log) = serve(Config::default(), &file.path, None, |ctx, path| {
        let ok = ctx.send_file(File::open(path).unwrap(), 0, 32 * MIB as u64);
        ctx.call_later(Duration::from_millis(100), |ctx| ctx.abort("enough"));
        ok
    });
    let mut stream = connect(server.info);
    // Read nothing until the abort: then what arrives is cut short.
    assert_eq!(wait_for_lost(&log), Some(io::ErrorKind::ConnectionAborted));
    wait_until("the file is closed", || file.open_fds() == 0);
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    assert!(got.len() < 32 * MIB, "the rest was dropped");
    assert!(got == file.bytes[..got.len()]);
}

#[test]
fn a_peer_leaving_mid_file_closes_the_file() {
    let file = TestFile::new("leave", 6, 32 * MIB);
    let (server, log) = serve(Config::default(), &file.path, None, |ctx, path| {
        ctx.send_file(File::open(path).unwrap(), 0, 32 * MIB as u64)
    });
    let mut stream = connect(server.info);
    read_exact(&mut stream, MIB);
    util::set_linger_zero(&stream);
    drop(stream);
    let end = wait_for_lost(&log);
    assert!(
        matches!(
            end,
            Some(io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe)
        ),
        "{end:?}"
    );
    wait_until("the file is closed", || file.open_fds() == 0);
    drop(server);
}

#[test]
fn a_file_shorter_than_promised_aborts_after_what_it_has() {
    let file = TestFile::new("short", 7, 100_000);
    let (server, log) = serve(Config::default(), &file.path, None, |ctx, path| {
        ctx.send_file(File::open(path).unwrap(), 0, 200_000)
    });
    let mut stream = connect(server.info);
    assert_eq!(wait_for_lost(&log), Some(io::ErrorKind::UnexpectedEof));
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    assert!(got == file.bytes, "the bytes the file had, then the end");
    wait_until("the file is closed", || file.open_fds() == 0);
    drop(server);
}

#[test]
fn after_close_a_file_is_refused_and_closed_at_once() {
    let file = TestFile::new("refused", 8, 1000);
    let (server, log) = serve(Config::default(), &file.path, None, |ctx, path| {
        ctx.write(b"bye");
        ctx.close();
        ctx.send_file(File::open(path).unwrap(), 0, 1000)
    });
    let mut stream = connect(server.info);
    let mut got = Vec::new();
    stream.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"bye");
    wait_for_lost(&log);
    assert_eq!(seen(&log)[0], Seen::Queued(false));
    assert_eq!(file.open_fds(), 0);
    drop(server);
}

/// A graceful shutdown finishes a file being read, and gives up on one
/// nobody reads when its deadline passes; both files are closed and `run`
/// returns.
#[test]
fn shutdown_sends_what_it_can_within_its_deadline() {
    let file = TestFile::new("shutdown", 9, 16 * MIB);
    let config = Config {
        shutdown_timeout: Duration::from_millis(1500),
        ..Config::default()
    };
    let (mut server, log) = serve(config, &file.path, None, |ctx, path| {
        ctx.send_file(File::open(path).unwrap(), 0, 16 * MIB as u64)
    });
    let mut reader = connect(server.info);
    let mut stuck = connect(server.info);
    read_exact(&mut reader, 1024);
    wait_until("both files are queued", || {
        seen(&log)
            .iter()
            .filter(|s| **s == Seen::Queued(true))
            .count()
            == 2
    });
    let started = Instant::now();
    server.handle.shutdown();
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    assert_eq!(rest.len() + 1024, 16 * MIB, "the reader got the whole file");
    server.join_within(PATIENCE).unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(file.open_fds(), 0, "both files closed");
    let lost: Vec<_> = seen(&log)
        .into_iter()
        .filter(|s| matches!(s, Seen::Lost(_)))
        .collect();
    assert_eq!(lost.len(), 2);
    assert!(lost.contains(&Seen::Lost(None)), "{lost:?}");
    assert!(
        lost.contains(&Seen::Lost(Some(io::ErrorKind::TimedOut))),
        "{lost:?}"
    );
    let _ = stuck.write_all(b"x");
}
