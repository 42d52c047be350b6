//! The reactor's other sources, over real sockets and pipes: timers, UDP and
//! Unix datagram sockets, raw fds (pipes, stdin), Unix stream listeners,
//! outgoing connections, the cross-thread handle, and the poll fd that lets
//! a reactor be nested in another loop.

mod util;

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::mpsc::{self, Sender};
use std::thread;
use std::time::{Duration, Instant};

use sockloop::{Addr, Ctx, DatagramProtocol, Protocol, Reactor, TimerId, Token};
use util::{PATIENCE, connect, example_path, pattern, read_line, send, spawn_reactor};

const KIB: usize = 1024;

/// Every byte straight back.
struct Echo;

impl Protocol for Echo {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        ctx.write(data);
        data.len()
    }
}

/// Turns the reactor on this thread until `done` holds (at most `PATIENCE`).
fn turn_until<S: 'static>(reactor: &mut Reactor<S>, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out turning the reactor");
        reactor.run_once(Some(Duration::from_millis(20))).unwrap();
    }
}

/// Turns the reactor on this thread for `how_long`.
fn turn_for<S: 'static>(reactor: &mut Reactor<S>, how_long: Duration) {
    let deadline = Instant::now() + how_long;
    turn_until(reactor, || Instant::now() >= deadline);
}

// ----- timers ---------------------------------------------------------------

#[test]
fn timers_fire_in_deadline_order_and_equal_deadlines_in_insertion_order() {
    let mut reactor = Reactor::new().unwrap();
    let fired = Rc::new(RefCell::new(Vec::new()));
    let ms = Duration::from_millis;
    for (delay, name) in [(60, "60"), (20, "20"), (40, "40 first"), (40, "40 second")] {
        let fired = fired.clone();
        reactor.call_later(ms(delay), move |_| fired.borrow_mut().push(name));
    }
    let cancelled = {
        let fired = fired.clone();
        reactor.call_later(ms(30), move |_| fired.borrow_mut().push("cancelled"))
    };
    assert!(reactor.cancel_timer(cancelled));
    assert!(!reactor.cancel_timer(cancelled), "cancelled twice");

    turn_until(&mut reactor, || fired.borrow().len() == 4);
    turn_for(&mut reactor, ms(50));
    assert_eq!(*fired.borrow(), ["20", "40 first", "40 second", "60"]);
}

#[test]
fn a_periodic_timer_repeats_until_cancelled_from_outside_or_from_itself() {
    let mut reactor = Reactor::new().unwrap();
    let ms = Duration::from_millis;

    let outside = Rc::new(Cell::new(0u32));
    let ticks = outside.clone();
    let outside_id = reactor.call_every(ms(10), move |_| ticks.set(ticks.get() + 1));

    let inside = Rc::new(Cell::new(0u32));
    let own_id: Rc<Cell<Option<TimerId>>> = Rc::new(Cell::new(None));
    let (ticks, id) = (inside.clone(), own_id.clone());
    own_id.set(Some(reactor.call_every(ms(10), move |ctx| {
        ticks.set(ticks.get() + 1);
        if ticks.get() == 5 {
            assert!(ctx.cancel_timer(id.get().unwrap()));
        }
    })));

    turn_until(&mut reactor, || outside.get() >= 3 && inside.get() >= 5);
    assert!(reactor.cancel_timer(outside_id));
    let at_cancel = outside.get();
    turn_for(&mut reactor, ms(100));
    assert_eq!(outside.get(), at_cancel, "fired after cancel_timer");
    assert_eq!(inside.get(), 5, "fired after cancelling itself");
    assert!(!reactor.cancel_timer(own_id.get().unwrap()));
}

#[test]
fn run_once_with_a_timeout_returns_when_nothing_happens() {
    let mut reactor = Reactor::new().unwrap();
    let started = Instant::now();
    reactor.run_once(Some(Duration::from_millis(100))).unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
}

// ----- datagrams --------------------------------------------------------

/// Sends every datagram back in upper case to whoever sent it.
struct Upper;

impl DatagramProtocol for Upper {
    fn datagram_received(&mut self, ctx: &mut Ctx, data: &[u8], from: &Addr) {
        ctx.send_to(&data.to_ascii_uppercase(), from)
            .expect("send_to");
    }
}

#[test]
fn a_udp_datagram_protocol_replies_to_each_sender_with_send_to() {
    let server = spawn_reactor(|| {
        let mut reactor = Reactor::new()?;
        let socket = reactor.bind_udp("127.0.0.1:0", Upper)?;
        let addr = reactor.local_addr(socket)?.as_inet().unwrap();
        Ok((reactor, addr))
    });
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    // Boundaries are kept: three datagrams, three replies of their own sizes.
    for word in ["a", "bb", "hello, datagram"] {
        client.send_to(word.as_bytes(), server.info).unwrap();
        let mut buf = [0; 64];
        let (n, from) = client.recv_from(&mut buf).expect("no reply");
        assert_eq!(from, server.info);
        assert_eq!(&buf[..n], word.to_ascii_uppercase().as_bytes());
    }
    server.stop().unwrap();
}

#[test]
fn a_unix_datagram_protocol_replies_and_its_socket_file_goes_away_after() {
    let server_path = util::temp_socket_path("dgram-server");
    let client_path = util::temp_socket_path("dgram-client");
    let path = server_path.clone();
    let server = spawn_reactor(move || {
        let mut reactor = Reactor::new()?;
        reactor.bind_unix_datagram(&path, Upper)?;
        Ok((reactor, ()))
    });
    let client = UnixDatagram::bind(&client_path).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client.send_to(b"over unix", &server_path).unwrap();
    let mut buf = [0; 64];
    let (n, from) = client.recv_from(&mut buf).expect("no reply");
    assert_eq!(&buf[..n], b"OVER UNIX");
    assert_eq!(from.as_pathname(), Some(server_path.as_path()));
    server.stop().unwrap();
    assert!(
        !server_path.exists(),
        "the socket file outlived the reactor"
    );
    std::fs::remove_file(&client_path).unwrap();
}

// ----- raw fds --------------------------------------------------------------

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe writes two fresh fds into the array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both fds are new and owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

#[derive(Debug, PartialEq)]
enum Piped {
    Data(Vec<u8>),
    Eof,
    Lost(Option<io::ErrorKind>),
}

/// Reports what it reads from a pipe, its end, and its close.
struct PipeReader {
    events: Sender<Piped>,
}

impl Protocol for PipeReader {
    fn data_received(&mut self, _ctx: &mut Ctx, data: &[u8]) -> usize {
        let _ = self.events.send(Piped::Data(data.to_vec()));
        data.len()
    }

    fn eof_received(&mut self, ctx: &mut Ctx) {
        let _ = self.events.send(Piped::Eof);
        ctx.close();
    }

    fn connection_lost(&mut self, _ctx: &mut Ctx, reason: Option<io::Error>) {
        let _ = self.events.send(Piped::Lost(reason.map(|e| e.kind())));
    }
}

#[test]
fn a_pipe_read_end_added_with_add_fd_delivers_every_byte_then_eof() {
    const TOTAL: usize = 1024 * KIB; // sixteen times a pipe's buffer
    let (read_end, write_end) = pipe();
    let (tx, events) = mpsc::channel();
    let server = spawn_reactor(move || {
        let mut reactor = Reactor::new()?;
        reactor.add_fd(read_end, PipeReader { events: tx })?;
        Ok((reactor, ()))
    });
    let writer = thread::spawn(move || {
        let mut pipe = File::from(write_end);
        pipe.write_all(&pattern(2, 0, TOTAL)).unwrap();
        // Dropping the write end is the EOF.
    });
    let mut got = Vec::new();
    loop {
        match events.recv_timeout(PATIENCE).expect("the pipe went quiet") {
            Piped::Data(data) => got.extend_from_slice(&data),
            Piped::Eof => break,
            other => panic!("{other:?} before EOF, after {} bytes", got.len()),
        }
    }
    writer.join().unwrap();
    assert_eq!(got.len(), TOTAL);
    assert_eq!(util::pattern_mismatch(2, 0, &got), None);
    assert_eq!(events.recv_timeout(PATIENCE), Ok(Piped::Lost(None)));
    server.stop().unwrap();
}

/// Writes `TOTAL` bytes into a pipe and closes it once they are out.
struct PipeWriter {
    lost: Sender<Option<io::ErrorKind>>,
}

const PIPE_TOTAL: usize = 1024 * KIB;

impl Protocol for PipeWriter {
    fn connection_made(&mut self, ctx: &mut Ctx) {
        ctx.write(&pattern(4, 0, PIPE_TOTAL));
        ctx.close();
    }

    fn data_received(&mut self, _ctx: &mut Ctx, data: &[u8]) -> usize {
        data.len()
    }

    fn connection_lost(&mut self, _ctx: &mut Ctx, reason: Option<io::Error>) {
        let _ = self.lost.send(reason.map(|e| e.kind()));
    }
}

#[test]
fn ctx_write_to_a_pipe_write_end_delivers_everything_then_closes_it() {
    let (read_end, write_end) = pipe();
    let (tx, lost) = mpsc::channel();
    let server = spawn_reactor(move || {
        let mut reactor = Reactor::new()?;
        reactor.add_fd(write_end, PipeWriter { lost: tx })?;
        Ok((reactor, ()))
    });
    let mut reader = File::from(read_end);
    // Reads to EOF: the reactor closed its end after the last byte.
    let mut got = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    let mut buf = vec![0; 64 * KIB];
    loop {
        assert!(Instant::now() < deadline, "the pipe never ended");
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got.len(), PIPE_TOTAL);
    assert_eq!(util::pattern_mismatch(4, 0, &got), None);
    assert_eq!(lost.recv_timeout(PATIENCE), Ok(None));
    server.stop().unwrap();
}

// ----- stdin, through the echo_client example ------------------------------

/// A one-connection echo server on a std listener: echoes until the client's
/// EOF, then closes. Returns what it received.
fn std_echo_once() -> (SocketAddr, thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut received = Vec::new();
        let mut buf = [0; 4096];
        loop {
            let n = stream.read(&mut buf).expect("echo server read");
            if n == 0 {
                break;
            }
            received.extend_from_slice(&buf[..n]);
            stream.write_all(&buf[..n]).unwrap();
        }
        received
    });
    (addr, server)
}

/// Runs echo_client against `addr` with `stdin`; returns its exit code and
/// stdout.
fn run_echo_client(addr: SocketAddr, stdin: Stdio) -> (Option<i32>, String) {
    let mut child = Command::new(example_path("echo_client"))
        .args(["--addr", &addr.to_string()])
        .env("RUST_LOG", "warn")
        .stdin(stdin)
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting echo_client (build the examples first)");
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("echo_client did not exit");
        }
        thread::sleep(Duration::from_millis(10));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    (status.code(), out)
}

#[test]
fn stdin_from_a_regular_file_is_read_to_its_end() {
    let path = std::env::temp_dir().join(format!("sockloop-test-{}-lines.txt", std::process::id()));
    let text = "first line\nsecond line\nthird\n";
    std::fs::write(&path, text).unwrap();
    let (addr, server) = std_echo_once();
    let (code, out) = run_echo_client(addr, Stdio::from(File::open(&path).unwrap()));
    std::fs::remove_file(&path).unwrap();
    assert_eq!(server.join().unwrap(), text.as_bytes());
    assert_eq!(out, text);
    assert_eq!(code, Some(0));
}

#[test]
fn stdin_from_dev_null_ends_the_session_at_once() {
    let (addr, server) = std_echo_once();
    let (code, out) = run_echo_client(addr, Stdio::from(File::open("/dev/null").unwrap()));
    assert_eq!(server.join().unwrap(), b"");
    assert_eq!(out, "");
    assert_eq!(code, Some(0));
}

// ----- Unix stream listeners --------------------------------------------

fn unix_client(path: &std::path::Path) -> UnixStream {
    let stream = UnixStream::connect(path).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    stream
}

#[test]
fn a_unix_listener_echoes_and_removes_its_socket_file_on_shutdown() {
    let path = util::temp_socket_path("stream");
    let bind_at = path.clone();
    let server = spawn_reactor(move || {
        let mut reactor = Reactor::new()?;
        let listener = reactor.listen_unix(&bind_at, || Echo)?;
        let addr = reactor.local_addr(listener)?;
        Ok((reactor, addr))
    });
    assert_eq!(server.info.to_string(), format!("unix:{}", path.display()));
    let mut client = unix_client(&path);
    send(&mut client, b"over a unix socket\n");
    assert_eq!(read_line(&mut client), "over a unix socket");
    drop(client);
    server.stop().unwrap();
    assert!(!path.exists(), "the socket file outlived the reactor");
}

#[test]
fn a_stale_unix_socket_file_is_replaced_on_listen() {
    let path = util::temp_socket_path("stale");
    drop(UnixListener::bind(&path).unwrap());
    assert!(path.exists(), "std leaves the file behind");
    let mut reactor = Reactor::new().unwrap();
    reactor
        .listen_unix(&path, || Echo)
        .expect("a stale socket file should be replaced");
    let mut client = unix_client(&path);
    send(&mut client, b"fresh\n");
    let mut got = Vec::new();
    turn_until(&mut reactor, || {
        client.set_nonblocking(true).unwrap();
        let mut buf = [0; 16];
        if let Ok(n) = client.read(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        got == b"fresh\n"
    });
    drop(reactor);
    assert!(!path.exists(), "the socket file outlived the reactor");
}

#[test]
fn a_unix_path_held_by_a_live_listener_is_address_in_use() {
    let path = util::temp_socket_path("live");
    let live = UnixListener::bind(&path).unwrap();
    let mut reactor = Reactor::new().unwrap();
    let err = reactor
        .listen_unix(&path, || Echo)
        .expect_err("took the path of a live listener");
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
    // The live listener still owns its path and still works.
    drop(reactor);
    assert!(path.exists());
    let _client = unix_client(&path);
    live.set_nonblocking(true).unwrap();
    let accepted = (0..2).filter(|_| live.accept().is_ok()).count();
    assert!(accepted >= 1, "the live listener lost its socket");
    std::fs::remove_file(&path).unwrap();
}

// ----- outgoing connections -----------------------------------------------

#[derive(Debug, PartialEq)]
enum Out {
    Made,
    Data(Vec<u8>),
    Lost(Option<io::ErrorKind>),
    Failed(io::ErrorKind),
}

/// An outgoing connection that greets, and reports everything that happens.
struct Outgoing {
    events: Sender<Out>,
}

impl Protocol for Outgoing {
    fn connection_made(&mut self, ctx: &mut Ctx) {
        let _ = self.events.send(Out::Made);
        ctx.write(b"hello from the reactor\n");
    }

    fn data_received(&mut self, _ctx: &mut Ctx, data: &[u8]) -> usize {
        let _ = self.events.send(Out::Data(data.to_vec()));
        data.len()
    }

    fn connection_lost(&mut self, _ctx: &mut Ctx, reason: Option<io::Error>) {
        let _ = self.events.send(Out::Lost(reason.map(|e| e.kind())));
    }

    fn connection_failed(&mut self, _ctx: &mut Ctx, error: io::Error) {
        let _ = self.events.send(Out::Failed(error.kind()));
    }
}

fn accept_within(listener: &TcpListener, limit: Duration) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + limit;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).unwrap();
                stream.set_read_timeout(Some(PATIENCE)).unwrap();
                return stream;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "nobody connected");
                thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

#[test]
fn connect_tcp_makes_the_connection_and_data_flows_both_ways() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, events) = mpsc::channel();
    let client = spawn_reactor(move || {
        let mut reactor = Reactor::new()?;
        reactor.connect_tcp(addr, Outgoing { events: tx })?;
        Ok((reactor, ()))
    });
    let mut peer = accept_within(&listener, PATIENCE);
    assert_eq!(events.recv_timeout(PATIENCE), Ok(Out::Made));
    assert_eq!(read_line(&mut peer), "hello from the reactor");

    send(&mut peer, b"hello back\n");
    let mut got = Vec::new();
    while !got.ends_with(b"\n") {
        match events.recv_timeout(PATIENCE) {
            Ok(Out::Data(data)) => got.extend_from_slice(&data),
            other => panic!("expected data, got {other:?}"),
        }
    }
    assert_eq!(got, b"hello back\n");

    drop(peer);
    assert_eq!(events.recv_timeout(PATIENCE), Ok(Out::Lost(None)));
    client.stop().unwrap();
}

#[test]
fn connect_tcp_to_a_closed_port_calls_connection_failed_and_nothing_else() {
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let (tx, events) = mpsc::channel();
    let client = spawn_reactor(move || {
        let mut reactor = Reactor::new()?;
        reactor.connect_tcp(closed, Outgoing { events: tx })?;
        Ok((reactor, ()))
    });
    assert_eq!(
        events.recv_timeout(PATIENCE),
        Ok(Out::Failed(io::ErrorKind::ConnectionRefused))
    );
    client.stop().unwrap();
    // The protocol is gone with the reactor: no Made, no Lost ever came.
    let rest: Vec<Out> = events.try_iter().collect();
    assert!(rest.is_empty(), "after connection_failed: {rest:?}");
}

#[test]
fn connect_unix_reaches_a_unix_listener_on_the_same_reactor() {
    let path = util::temp_socket_path("self");
    let mut reactor = Reactor::new().unwrap();
    reactor.listen_unix(&path, || Echo).unwrap();
    /// Greets and collects what comes back.
    struct Caller(Rc<RefCell<Vec<u8>>>);
    impl Protocol for Caller {
        fn connection_made(&mut self, ctx: &mut Ctx) {
            ctx.write(b"talking to myself");
        }
        fn data_received(&mut self, _ctx: &mut Ctx, data: &[u8]) -> usize {
            self.0.borrow_mut().extend_from_slice(data);
            data.len()
        }
    }
    let heard = Rc::new(RefCell::new(Vec::new()));
    reactor.connect_unix(&path, Caller(heard.clone())).unwrap();
    turn_until(&mut reactor, || {
        heard.borrow().as_slice() == b"talking to myself"
    });
    assert_eq!(reactor.connection_count(), 2, "both ends are connections");
}

/// A listening socket with a backlog of one, already filled, so that the
/// next connection attempt hangs unanswered (its SYNs are dropped).
fn full_listener() -> (TcpListener, TcpStream) {
    // SAFETY: plain socket calls on a fresh fd we own; sockaddr_in is
    // initialised completely.
    let listener = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let listener = TcpListener::from_raw_fd(fd);
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
            },
            sin_zero: [0; 8],
        };
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(
            libc::bind(fd, (&addr as *const libc::sockaddr_in).cast(), len),
            0
        );
        assert_eq!(libc::listen(fd, 0), 0);
        listener
    };
    let filler = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    (listener, filler)
}

/// An outgoing connection still being established when the reactor shuts
/// down is dropped without a word: no `connection_failed`, and no
/// `connection_lost` either (it was never made). Its protocol cannot tell
/// "gave up" from "still trying".
#[test]
fn a_shutdown_while_connecting_calls_connection_failed() {
    let (listener, _filler) = full_listener();
    let addr = listener.local_addr().unwrap();
    let (tx, events) = mpsc::channel();
    let client = spawn_reactor(move || {
        let mut reactor = Reactor::new()?;
        reactor.connect_tcp(addr, Outgoing { events: tx })?;
        Ok((reactor, ()))
    });
    assert!(
        events.recv_timeout(Duration::from_millis(200)).is_err(),
        "the connection was not left hanging"
    );
    client.stop().unwrap();
    match events.try_recv() {
        Ok(Out::Failed(_)) => {}
        other => panic!("expected connection_failed at shutdown, got {other:?}"),
    }
}

// ----- the handle -------------------------------------------------------

/// Sends its token to the test when made.
struct TellToken {
    tokens: Sender<Token>,
}

impl Protocol for TellToken {
    fn connection_made(&mut self, ctx: &mut Ctx) {
        let _ = self.tokens.send(ctx.token());
    }

    fn data_received(&mut self, _ctx: &mut Ctx, data: &[u8]) -> usize {
        data.len()
    }
}

#[test]
fn a_closure_posted_through_the_handle_runs_on_the_reactor_thread_and_writes_by_token() {
    let (tx, tokens) = mpsc::channel();
    let server = spawn_reactor(move || {
        let mut reactor = Reactor::new()?;
        let listener =
            reactor.listen_tcp("127.0.0.1:0", move || TellToken { tokens: tx.clone() })?;
        let addr = reactor.local_addr(listener)?.as_inet().unwrap();
        Ok((reactor, (addr, thread::current().id())))
    });
    let (addr, reactor_thread) = server.info;
    let mut client = connect(addr);
    let token = tokens.recv_timeout(PATIENCE).expect("no connection_made");

    let (tx, ran) = mpsc::channel();
    server
        .handle
        .post(move |ctx| {
            let written = ctx.connection(token).write(b"posted\n");
            let _ = tx.send((thread::current().id(), written, ctx.is_detached()));
        })
        .unwrap();
    let (thread_id, written, detached) = ran.recv_timeout(PATIENCE).expect("never ran");
    assert_eq!(thread_id, reactor_thread);
    assert!(written && detached);
    assert_eq!(read_line(&mut client), "posted");
    server.stop().unwrap();
}

#[test]
fn a_panicking_posted_closure_does_not_stop_the_reactor() {
    let server = spawn_reactor(|| {
        let mut reactor = Reactor::new()?;
        let listener = reactor.listen_tcp("127.0.0.1:0", || Echo)?;
        let addr = reactor.local_addr(listener)?.as_inet().unwrap();
        Ok((reactor, addr))
    });
    server
        .handle
        .post(|_| panic!("the test's posted closure panics"))
        .unwrap();
    let (tx, ran) = mpsc::channel();
    server.handle.post(move |_| tx.send(()).unwrap()).unwrap();
    ran.recv_timeout(PATIENCE)
        .expect("the next posted closure never ran");
    let mut client = connect(server.info);
    send(&mut client, b"alive\n");
    assert_eq!(read_line(&mut client), "alive");
    server.stop().unwrap();
}
