//! The reactor's statistics (`Reactor::stats`, `Ctx::stats`,
//! `Connection::stats`) against what really went over loopback sockets:
//! turns and events, callbacks, connections accepted and closed, bytes in
//! and out, output queued and its peak, timers; with `Config::timing`, time
//! in poll against time at work, each connection's idle time, and the
//! slow-callback detector with its log line.

mod util;

use std::io::{Read, Write};
use std::net::UdpSocket;
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use sockloop::harness::Harness;
use sockloop::{
    Addr, Config, ConnectionStats, Ctx, DatagramProtocol, Handle, Protocol, Reactor, Stats,
};
use util::{PATIENCE, read_exact, send, serve_tcp, spawn_reactor, wait_until};

struct Echo;

impl Protocol for Echo {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        ctx.write(data);
        data.len()
    }
}

/// Runs `f` on the reactor's thread and returns what it found.
fn ask<S: 'static, T: Send + 'static>(
    handle: &Handle<S>,
    f: impl FnOnce(&mut Ctx<'_, S>) -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    handle
        .post(move |ctx| {
            let _ = tx.send(f(ctx));
        })
        .expect("posting to the reactor");
    rx.recv_timeout(PATIENCE).expect("the reactor answered")
}

fn stats_of<S: 'static>(handle: &Handle<S>) -> Stats {
    ask(handle, |ctx| ctx.stats())
}

/// Every open connection's figures, smallest byte count first.
fn connections_of<S: 'static>(handle: &Handle<S>) -> Vec<ConnectionStats> {
    let mut all = ask(handle, |ctx| {
        let tokens: Vec<_> = ctx.connections().collect();
        tokens
            .into_iter()
            .filter_map(|t| ctx.connection(t).stats())
            .collect::<Vec<_>>()
    });
    all.sort_by_key(|c| c.bytes_read);
    all
}

#[test]
fn an_echo_is_counted_turn_by_turn_and_byte_by_byte() {
    let server = serve_tcp(Config::default(), || Echo);
    let mut client = util::connect(server.info);
    for i in 0..10u8 {
        let message = [b'a' + i; 100];
        send(&mut client, &message);
        assert_eq!(read_exact(&mut client, 100), message);
    }
    let stats = stats_of(&server.handle);
    assert_eq!(stats.accepted, 1);
    assert_eq!(stats.connections, 1);
    assert_eq!(stats.closed, 0);
    assert_eq!(stats.bytes_read, 1000);
    assert_eq!(stats.bytes_written, 1000);
    assert_eq!(stats.queued, 0);
    assert_eq!(stats.timers, 0);
    // connection_made, ten data_received, and the closure that asked.
    assert!(stats.callbacks >= 12, "{stats:?}");
    // One event at least per message (and one for the accept), with epoll.
    // On mio's portable poll(2) backend the loop counts fewer events than
    // messages (4 for these 10 in one run), and rightly: there it reads on
    // to `WouldBlock` after a short read (the backend re-arms a socket only
    // then), and since the echo went out at once from inside
    // `data_received`, that extra read sometimes finds the client's next
    // message already there. With epoll a short read ends the reading.
    #[cfg(not(mio_unsupported_force_poll_poll))]
    assert!(stats.events >= 11, "{stats:?}");
    assert_eq!(stats.turns, stats.events_per_turn.iter().sum::<u64>());
    let (mut least, mut most) = (0u64, 0u64);
    for (i, &turns) in stats.events_per_turn.iter().enumerate() {
        let (low, high) = Stats::bucket_range(i);
        least += low as u64 * turns;
        most = most.saturating_add((high as u64).saturating_mul(turns));
    }
    assert!(least <= stats.events && stats.events <= most, "{stats:?}");
    assert_eq!(stats.poll_time, None, "timing is off by default");
    assert!(
        stats.to_string().contains("read=1000 written=1000"),
        "{stats}"
    );

    drop(client);
    wait_until("the close is counted", || {
        stats_of(&server.handle).closed == 1
    });
    let after = stats_of(&server.handle);
    assert_eq!(after.connections, 0);
    assert_eq!(
        (after.bytes_read, after.bytes_written),
        (1000, 1000),
        "a closed connection's bytes stay in the totals"
    );
    assert!(after.turns > stats.turns);
}

#[test]
fn each_connection_has_its_own_bytes_and_age() {
    let server = serve_tcp(Config::default(), || Echo);
    let mut small = util::connect(server.info);
    let mut large = util::connect(server.info);
    send(&mut small, &[1; 50]);
    send(&mut large, &[2; 3000]);
    read_exact(&mut small, 50);
    read_exact(&mut large, 3000);
    let conns = connections_of(&server.handle);
    assert_eq!(conns.len(), 2, "{conns:?}");
    assert_eq!((conns[0].bytes_read, conns[0].bytes_written), (50, 50));
    assert_eq!((conns[1].bytes_read, conns[1].bytes_written), (3000, 3000));
    for conn in &conns {
        assert_eq!(conn.queued, 0);
        assert!(conn.age < Duration::from_secs(5), "{conn:?}");
        assert_eq!(conn.idle, None, "idle time needs Config::timing");
    }
    assert!(
        conns[1]
            .to_string()
            .contains("read=3000 written=3000 queued=0")
    );
}

/// Writes 8 MiB when the peer connects, to a peer that does not read yet.
struct Flood;

const FLOOD: usize = 8 << 20;

impl Protocol for Flood {
    fn connection_made(&mut self, ctx: &mut Ctx) {
        ctx.write(&vec![7; FLOOD]);
    }

    fn data_received(&mut self, _ctx: &mut Ctx, data: &[u8]) -> usize {
        data.len()
    }
}

#[test]
fn output_queued_for_a_slow_reader_is_counted_and_its_peak_kept() {
    let server = serve_tcp(Config::default(), || Flood);
    let mut client = util::connect(server.info);
    wait_until("output queues", || stats_of(&server.handle).queued > 0);
    let stats = stats_of(&server.handle);
    assert!(stats.queued_peak >= stats.queued, "{stats:?}");
    let conns = connections_of(&server.handle);
    assert_eq!(conns[0].queued, stats.queued, "one connection holds it all");
    assert_eq!(
        conns[0].bytes_written as usize + conns[0].queued,
        FLOOD,
        "what the socket took and what waits"
    );

    let mut got = 0;
    let mut buf = vec![0; 1 << 16];
    while got < FLOOD {
        let n = client.read(&mut buf).expect("reading the flood");
        assert!(n > 0, "EOF after {got} bytes");
        got += n;
    }
    wait_until("the queue drains", || stats_of(&server.handle).queued == 0);
    let drained = stats_of(&server.handle);
    assert_eq!(drained.bytes_written, FLOOD as u64);
    assert!(drained.queued_peak >= stats.queued_peak);
    assert!(drained.queued_peak > 0);

    drop(client);
    wait_until("the close is counted", || {
        stats_of(&server.handle).closed == 1
    });
    assert_eq!(stats_of(&server.handle).queued, 0);
}

/// Writes a line, then 3 MiB of a file with `send_file`, when the peer
/// connects.
struct FileSender(std::path::PathBuf);

const FILE_LEN: u64 = 3 << 20;

impl Protocol for FileSender {
    fn connection_made(&mut self, ctx: &mut Ctx) {
        ctx.write(b"head\n");
        let file = std::fs::File::open(&self.0).expect("the test's file");
        assert!(ctx.send_file(file, 0, FILE_LEN));
    }

    fn data_received(&mut self, _ctx: &mut Ctx, data: &[u8]) -> usize {
        data.len()
    }
}

#[test]
fn bytes_sent_from_a_file_count_as_written() {
    let path = std::env::temp_dir().join(format!("sockloop-stats-file-{}", std::process::id()));
    std::fs::write(&path, vec![9u8; FILE_LEN as usize]).unwrap();
    let file = path.clone();
    let server = serve_tcp(Config::default(), move || FileSender(file.clone()));
    let mut client = util::connect(server.info);
    let total = 5 + FILE_LEN as usize;
    assert_eq!(read_exact(&mut client, total).len(), total);
    wait_until("the file is counted", || {
        stats_of(&server.handle).bytes_written == total as u64
    });
    let conns = connections_of(&server.handle);
    assert_eq!(conns[0].bytes_written, total as u64);
    assert_eq!(conns[0].queued, 0);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_connection_closed_with_output_queued_takes_it_out_of_the_total() {
    let server = serve_tcp(Config::default(), || Flood);
    let client = util::connect(server.info);
    wait_until("output queues", || stats_of(&server.handle).queued > 0);
    util::set_linger_zero(&client);
    drop(client); // a reset: the server drops what it queued
    wait_until("the close is counted", || {
        stats_of(&server.handle).closed == 1
    });
    let stats = stats_of(&server.handle);
    assert_eq!(stats.queued, 0, "{stats:?}");
    assert!(stats.queued_peak > 0);
    assert!(stats.bytes_written < FLOOD as u64);
}

#[test]
fn timers_pending_are_counted() {
    let mut reactor = Reactor::new().unwrap();
    let a = reactor.call_later(Duration::from_secs(60), |_| {});
    reactor.call_every(Duration::from_secs(60), |_| {});
    assert_eq!(reactor.stats().timers, 2);
    reactor.cancel_timer(a);
    assert_eq!(reactor.stats().timers, 1);
}

#[test]
fn a_turn_without_events_is_a_turn_of_zero_and_timed_as_sleep() {
    let config = Config {
        timing: true,
        ..Config::default()
    };
    let mut reactor = Reactor::with_config((), config).unwrap();
    // Before the first poll the loop has no work of its own: waiting.
    std::thread::sleep(Duration::from_millis(30));
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    reactor.run_once(Some(Duration::from_millis(50))).unwrap();
    let stats = reactor.stats();
    assert_eq!(stats.turns, 2);
    assert_eq!(stats.events, 0);
    assert_eq!(stats.events_per_turn[0], 2);
    let poll = stats.poll_time.expect("timed");
    assert!(poll >= Duration::from_millis(75), "{poll:?}");
    assert!(stats.work_time.expect("timed") < poll, "{stats:?}");
    assert!(stats.to_string().contains(" busy="), "{stats}");
}

struct Udp;

impl DatagramProtocol for Udp {
    fn datagram_received(&mut self, ctx: &mut Ctx, data: &[u8], from: &Addr) {
        let _ = ctx.send_to(data, from);
    }
}

#[test]
fn datagrams_count_in_the_bytes() {
    let server = spawn_reactor(|| {
        let mut reactor = Reactor::new()?;
        let socket = reactor.bind_udp("127.0.0.1:0", Udp)?;
        let addr = reactor.local_addr(socket)?.as_inet().expect("inet");
        Ok((reactor, addr))
    });
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut buf = [0; 64];
    for _ in 0..3 {
        client.send_to(b"0123456789", server.info).unwrap();
        assert_eq!(client.recv(&mut buf).unwrap(), 10);
    }
    let stats = stats_of(&server.handle);
    assert_eq!((stats.bytes_read, stats.bytes_written), (30, 30));
    assert_eq!(stats.connections, 0, "a datagram socket is no connection");
}

#[test]
fn age_and_idle_time_follow_the_clock() {
    let mut conn = Harness::new(Echo);
    conn.advance(Duration::from_secs(90));
    let stats = conn.with_ctx(|ctx| ctx.connection(ctx.token()).stats().unwrap());
    assert_eq!(stats.age, Duration::from_secs(90));
    assert_eq!(stats.idle, None);

    let config = Config {
        timing: true,
        ..Config::default()
    };
    let mut timed = Harness::build((), config, Echo).unwrap();
    timed.advance(Duration::from_secs(90));
    let idle = timed.with_ctx(|ctx| ctx.connection(ctx.token()).stats().unwrap().idle);
    let idle = idle.expect("a timed loop knows");
    assert!(idle >= Duration::from_secs(90) && idle < Duration::from_secs(91));
    timed.feed(b"hello");
    timed.advance(Duration::from_secs(3));
    let stats = timed.with_ctx(|ctx| ctx.connection(ctx.token()).stats().unwrap());
    assert_eq!(stats.idle, Some(Duration::from_secs(3)), "{stats:?}");
    assert_eq!(stats.age, Duration::from_secs(93));
    assert_eq!((stats.bytes_read, stats.bytes_written), (5, 5));
}

#[test]
fn an_idle_timeout_keeps_the_idle_time_without_timing() {
    let mut conn = Harness::new(Echo);
    conn.with_ctx(|ctx| ctx.set_idle_timeout(Some(Duration::from_secs(60))));
    conn.advance(Duration::from_secs(20));
    let idle = conn.with_ctx(|ctx| ctx.connection(ctx.token()).stats().unwrap().idle);
    // Set by the real clock, then the clock stopped and moved 20 s on.
    let idle = idle.expect("kept for the idle timeout");
    assert!(idle >= Duration::from_secs(20) && idle < Duration::from_secs(21));
    conn.with_ctx(|ctx| ctx.set_idle_timeout(None));
    let idle = conn.with_ctx(|ctx| ctx.connection(ctx.token()).stats().unwrap().idle);
    assert_eq!(idle, None, "no longer kept");
}

// ----- the slow-callback detector ------------------------------------------------

/// Echoes, but holds the loop for 80 ms on `slow`.
struct Sleepy;

impl Protocol for Sleepy {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        if data == b"slow" {
            std::thread::sleep(Duration::from_millis(80));
        }
        ctx.write(data);
        data.len()
    }
}

/// Every warning logged in this test binary.
fn warnings() -> &'static Mutex<Vec<String>> {
    static WARNINGS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    WARNINGS.get_or_init(|| Mutex::new(Vec::new()))
}

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Warn
    }
    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            warnings().lock().unwrap().push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

fn capture_warnings() {
    static CAPTURE: Capture = Capture;
    if log::set_logger(&CAPTURE).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
}

fn slow_round_trip(config: Config) -> Stats {
    let server = serve_tcp(config, || Sleepy);
    let mut client = util::connect(server.info);
    client.write_all(b"fast").unwrap();
    assert_eq!(read_exact(&mut client, 4), b"fast");
    client.write_all(b"slow").unwrap();
    assert_eq!(read_exact(&mut client, 4), b"slow");
    stats_of(&server.handle)
}

#[test]
fn a_callback_that_holds_a_timed_loop_is_logged_and_counted() {
    capture_warnings();
    let config = Config {
        timing: true,
        slow_callback: Duration::from_millis(40),
        ..Config::default()
    };
    let stats = slow_round_trip(config);
    assert_eq!(stats.slow_callbacks, 1, "{stats:?}");
    let work = stats.work_time.expect("timed");
    assert!(work >= Duration::from_millis(80), "{stats:?}");
    let warnings = warnings().lock().unwrap();
    let line = warnings
        .iter()
        .find(|w| w.contains("slow callback"))
        .unwrap_or_else(|| panic!("no slow-callback warning in {warnings:?}"));
    // The protocol's type, the callback, the connection, how long.
    assert!(
        line.contains("reactor_stats::Sleepy::data_received"),
        "{line}"
    );
    assert!(line.contains(" on #"), "{line}");
    assert!(line.contains("127.0.0.1:"), "{line}");
    assert!(line.contains("held the loop for "), "{line}");
}

#[test]
fn an_untimed_loop_times_nothing() {
    let stats = slow_round_trip(Config::default());
    assert_eq!(stats.slow_callbacks, 0);
    assert_eq!((stats.poll_time, stats.work_time), (None, None));
}
