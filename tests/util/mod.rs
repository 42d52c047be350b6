//! Helpers shared by the integration tests: run example programs as real
//! processes, talk to them over loopback, and measure them through /proc.

#![allow(dead_code)] // each test file uses the part it needs

pub mod tls;

pub mod http;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long any single wait in a test may take before it counts as a failure.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The path of a built example, built first if needed. `cargo test` builds
/// the examples next to the test binaries (target/<profile>/examples/<name>),
/// but `cargo test --test x` does not, and a stale binary would test old
/// code: so each example is brought up to date once per test binary.
pub fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|b| b == name) {
        if let Ok(cargo) = std::env::var("CARGO") {
            let mut cmd = Command::new(cargo);
            cmd.args(["build", "--quiet", "--example", name]);
            if let Some(target_dir) = profile_dir.parent() {
                cmd.arg("--target-dir").arg(target_dir);
            }
            if profile_dir.file_name().is_some_and(|p| p == "release") {
                cmd.arg("--release");
            }
            cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
            let status = cmd.status().expect("running cargo build");
            assert!(status.success(), "cargo build --example {name} failed");
        }
        built.push(name.to_string());
    }
    profile_dir.join("examples").join(name)
}

/// A running example program, killed when dropped.
pub struct Server {
    pub child: Child,
    /// What followed `listening on ` on its first stdout line.
    pub addr: String,
    pub stdout: BufReader<ChildStdout>,
    pub stdin: Option<ChildStdin>,
}

impl Server {
    /// Starts example `name` with `args` (add `--addr 127.0.0.1:0` yourself
    /// where it applies) and waits for its `listening on` line.
    pub fn start(name: &str, args: &[&str]) -> Server {
        Server::start_with(name, args, |_| {})
    }

    /// Like `start`, letting the caller adjust the command (env, rlimits, cwd).
    pub fn start_with(name: &str, args: &[&str], adjust: impl FnOnce(&mut Command)) -> Server {
        let mut cmd = Command::new(example_path(name));
        cmd.args(args);
        Server::spawn(name, cmd, adjust)
    }

    /// Starts example `name` under `wrapper`, a program and its options
    /// that run the command after them (`strace -f -o LOG`, say).
    pub fn start_under(wrapper: &[&str], name: &str, args: &[&str]) -> Server {
        let mut cmd = Command::new(wrapper[0]);
        cmd.args(&wrapper[1..]).arg(example_path(name)).args(args);
        Server::spawn(name, cmd, |_| {})
    }

    fn spawn(name: &str, mut cmd: Command, adjust: impl FnOnce(&mut Command)) -> Server {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        cmd.env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        );
        adjust(&mut cmd);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout piped"));
        let stdin = child.stdin.take();
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("reading the listening line");
        let addr = line
            .trim_end()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{name}: first line was {line:?}"))
            .to_string();
        Server {
            child,
            addr,
            stdout,
            stdin,
        }
    }

    /// The bound TCP/UDP address.
    pub fn socket_addr(&self) -> SocketAddr {
        self.addr
            .parse()
            .unwrap_or_else(|_| panic!("not an inet address: {}", self.addr))
    }

    /// A connected client with read/write timeouts of `PATIENCE`.
    pub fn connect(&self) -> TcpStream {
        connect(self.socket_addr())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal to the server.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill with a pid we spawned.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    /// Waits for the process to exit (at most `limit`), returning its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Resident set size in KiB, from /proc.
    pub fn rss_kib(&self) -> u64 {
        proc_status_kib(self.child.id(), "VmRSS:")
    }

    /// Open file descriptors, counted in /proc/<pid>/fd.
    pub fn fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// User + system CPU time consumed so far, from /proc/<pid>/stat.
    pub fn cpu_time(&self) -> Duration {
        cpu_time_of(self.child.id())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Reads until `want` bytes arrived (or panics on EOF/timeout).
pub fn read_exact(stream: &mut impl Read, want: usize) -> Vec<u8> {
    let mut buf = vec![0; want];
    stream
        .read_exact(&mut buf)
        .unwrap_or_else(|e| panic!("reading {want} bytes: {e}"));
    buf
}

/// Reads one `\n`-terminated line (without the newline), byte by byte so
/// nothing after it is consumed.
pub fn read_line(stream: &mut impl Read) -> String {
    let mut line = Vec::new();
    let mut byte = [0];
    loop {
        match stream.read(&mut byte) {
            Ok(0) => panic!("EOF after {:?}", String::from_utf8_lossy(&line)),
            Ok(_) if byte[0] == b'\n' => return String::from_utf8_lossy(&line).into_owned(),
            Ok(_) => line.push(byte[0]),
            Err(e) => panic!(
                "reading a line after {:?}: {e}",
                String::from_utf8_lossy(&line)
            ),
        }
    }
}

/// Reads until EOF; returns everything read.
pub fn read_to_end(stream: &mut impl Read) -> Vec<u8> {
    let mut all = Vec::new();
    stream
        .read_to_end(&mut all)
        .unwrap_or_else(|e| panic!("reading to EOF: {e}"));
    all
}

/// Whether the peer closed: a read returns 0 or a reset.
pub fn is_closed(stream: &mut TcpStream) -> bool {
    let mut buf = [0; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// Writes all of `data`, panicking with context on failure.
pub fn send(stream: &mut impl Write, data: &[u8]) {
    stream
        .write_all(data)
        .unwrap_or_else(|e| panic!("sending {} bytes: {e}", data.len()));
}

/// Polls `cond` every 10 ms until it holds or `PATIENCE` runs out.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn proc_status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// This process's resident set in KiB.
pub fn own_rss_kib() -> u64 {
    proc_status_kib(std::process::id(), "VmRSS:")
}

/// This process's open fds.
pub fn own_fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

fn cpu_time_of(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after ')'.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    // SAFETY: sysconf with a constant name.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

// ----- a reactor in this process, on a thread of its own -------------------

/// A reactor running on a background thread of the test process, with the
/// cross-thread handle to stop it and whatever its builder sent back (most
/// often the address it listens on). Shut down and joined when dropped.
pub struct Running<S: 'static, T> {
    pub handle: sockloop::Handle<S>,
    pub info: T,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

/// Builds a reactor with `build` on a new thread (a `Reactor` is not `Send`,
/// so it is born where it runs), sends back its handle and `build`'s second
/// value, and runs it until shut down.
pub fn spawn_reactor<S, T, F>(build: F) -> Running<S, T>
where
    S: 'static,
    T: Send + 'static,
    F: FnOnce() -> std::io::Result<(sockloop::Reactor<S>, T)> + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let (mut reactor, info) = match build() {
            Ok(built) => built,
            Err(e) => {
                let _ = tx.send(Err(e));
                return Ok(());
            }
        };
        let _ = tx.send(Ok((reactor.handle(), info)));
        reactor.run()
    });
    let (handle, info) = rx
        .recv_timeout(PATIENCE)
        .expect("the reactor thread did not start")
        .unwrap_or_else(|e| panic!("building the reactor: {e}"));
    Running {
        handle,
        info,
        thread: Some(thread),
    }
}

/// A reactor with `config` listening on an ephemeral loopback TCP port with
/// `factory`; `info` is the bound address.
pub fn serve_tcp<P, F>(config: sockloop::Config, factory: F) -> Running<(), SocketAddr>
where
    P: sockloop::Protocol<()>,
    F: FnMut() -> P + Send + 'static,
{
    spawn_reactor(move || {
        let mut reactor = sockloop::Reactor::with_config((), config)?;
        let listener = reactor.listen_tcp("127.0.0.1:0", factory)?;
        let addr = reactor
            .local_addr(listener)?
            .as_inet()
            .expect("a TCP address");
        Ok((reactor, addr))
    })
}

impl<S: 'static, T> Running<S, T> {
    /// Waits (at most `limit`) for `run` to return, and returns its result.
    /// Panics if it did not return in time or the thread panicked.
    pub fn join_within(&mut self, limit: Duration) -> std::io::Result<()> {
        let thread = self.thread.take().expect("joined once");
        let deadline = Instant::now() + limit;
        while !thread.is_finished() {
            assert!(
                Instant::now() < deadline,
                "the reactor did not return from run() within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        thread.join().expect("the reactor thread panicked")
    }

    /// Whether `run` has returned.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Asks for a graceful shutdown and waits for `run` to return.
    pub fn stop(mut self) -> std::io::Result<()> {
        self.handle.shutdown();
        self.join_within(PATIENCE)
    }
}

impl<S: 'static, T> Drop for Running<S, T> {
    fn drop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.handle.shutdown();
        // Bounded: a reactor that never stops is left behind rather than
        // hanging the test that already failed.
        let deadline = Instant::now() + PATIENCE;
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if thread.is_finished() {
            let _ = thread.join();
        }
    }
}

/// A fresh path for a Unix socket in the temp directory, unique per process
/// and call; nothing exists there yet.
pub fn temp_socket_path(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!(
        "sockloop-test-{}-{n}-{name}.sock",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    path
}

/// The byte at `offset` of test stream number `seed`: no short period, so a
/// lost, repeated or reordered chunk shows up as a mismatch.
pub fn pattern_byte(seed: u64, offset: u64) -> u8 {
    ((offset ^ (seed << 40)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8
}

/// `len` bytes of test stream `seed` starting at `offset`.
pub fn pattern(seed: u64, offset: u64, len: usize) -> Vec<u8> {
    (0..len as u64)
        .map(|i| pattern_byte(seed, offset + i))
        .collect()
}

/// The first position in `data` that differs from stream `seed` at `offset`.
pub fn pattern_mismatch(seed: u64, offset: u64, data: &[u8]) -> Option<usize> {
    data.iter()
        .enumerate()
        .position(|(i, &b)| b != pattern_byte(seed, offset + i as u64))
}

/// Makes closing `stream` send a reset instead of a FIN (SO_LINGER 0).
pub fn set_linger_zero(stream: &impl std::os::fd::AsRawFd) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a socket we own, with a correctly sized option.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(
        rc,
        0,
        "setsockopt(SO_LINGER): {}",
        std::io::Error::last_os_error()
    );
}

/// Reads whatever arrives within `wait`: the bytes, and whether the peer
/// closed (EOF or reset) in that time.
pub fn read_for(stream: &mut TcpStream, wait: Duration) -> (Vec<u8>, bool) {
    let old = stream.read_timeout().ok().flatten();
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = [0; 64 * 1024];
    let closed = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break false;
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break false;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("reading: {e}"),
        }
    };
    stream.set_read_timeout(old).unwrap();
    (got, closed)
}

// ----- TLS test certificates ----------------------------------------------------

/// A test CA and a server certificate for `localhost` and `127.0.0.1`, made
/// at test time by the make_cert example (once per test process), in a
/// directory of their own.
pub struct Certs {
    pub dir: PathBuf,
    /// The CA certificate clients trust.
    pub ca: PathBuf,
    /// The server's certificate chain and key.
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Certs {
    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(&self.ca).expect("ca.pem")
    }
    pub fn cert_pem(&self) -> Vec<u8> {
        std::fs::read(&self.cert).expect("cert.pem")
    }
    pub fn key_pem(&self) -> Vec<u8> {
        std::fs::read(&self.key).expect("key.pem")
    }
}

/// The test certificates (see [`Certs`]).
pub fn certs() -> &'static Certs {
    static CERTS: std::sync::OnceLock<Certs> = std::sync::OnceLock::new();
    CERTS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("sockloop-certs-{}", std::process::id()));
        let status = Command::new(example_path("make_cert"))
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .status()
            .expect("running make_cert");
        assert!(status.success(), "make_cert failed");
        Certs {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            dir,
        }
    })
}

/// Whether `program` can be run here; if not, prints why the caller skips.
pub fn have(program: &str, why: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("note: {program} is not installed; skipping {why}");
    }
    found
}
