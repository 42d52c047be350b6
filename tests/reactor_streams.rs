//! The reactor's stream connections over real loopback sockets: many clients
//! at once, payloads far larger than any socket buffer, half-closes, resets,
//! peers that do not read, shutdown, panics and token reuse. Each test runs a
//! reactor on a thread of the test process and talks to it with blocking std
//! sockets.

mod util;

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::rc::Rc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use sockloop::harness::Harness;
use sockloop::{Config, Ctx, Protocol, Token, codec};
use util::{
    PATIENCE, connect, is_closed, pattern, pattern_mismatch, read_exact, read_for, read_line,
    read_to_end, send, serve_tcp, set_linger_zero, spawn_reactor,
};

const MIB: usize = 1024 * 1024;
const KIB: usize = 1024;

/// Every byte straight back.
struct Echo;

impl Protocol for Echo {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        ctx.write(data);
        data.len()
    }
}

/// How a connection ended, as reported to `connection_lost`.
#[derive(Debug)]
enum Lost {
    Clean,
    Error(io::ErrorKind, String),
}

fn lost(reason: Option<io::Error>) -> Lost {
    match reason {
        None => Lost::Clean,
        Some(e) => Lost::Error(e.kind(), e.to_string()),
    }
}

/// Reads a stream of `total` bytes in chunks, checking it against pattern
/// `seed` as it arrives, then expects EOF.
fn read_pattern_then_eof(stream: &mut TcpStream, seed: u64, total: usize) {
    let mut buf = vec![0; 256 * KIB];
    let mut got = 0;
    while got < total {
        let n = stream
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("reading after {got} of {total} bytes: {e}"));
        assert_ne!(n, 0, "EOF after {got} of {total} bytes");
        assert!(got + n <= total, "more than {total} bytes arrived");
        if let Some(at) = pattern_mismatch(seed, got as u64, &buf[..n]) {
            panic!("byte {} of the stream is wrong", got + at);
        }
        got += n;
    }
    assert!(is_closed(stream), "no EOF after all {total} bytes");
}

// ----- many clients, big payloads ------------------------------------------

#[test]
fn two_hundred_concurrent_clients_each_get_their_own_bytes_back() {
    let server = serve_tcp(Config::default(), || Echo);
    let addr = server.info;
    // All connect first, so that all 200 are open in the reactor at once.
    let barrier = Arc::new(std::sync::Barrier::new(200));
    let clients: Vec<_> = (0..200u64)
        .map(|id| {
            let barrier = barrier.clone();
            thread::spawn(move || {
                let mut stream = connect(addr);
                barrier.wait();
                for round in 0..4u64 {
                    let chunk = pattern(id, round * 3000, 3000);
                    send(&mut stream, &chunk);
                    assert_eq!(
                        read_exact(&mut stream, chunk.len()),
                        chunk,
                        "client {id} round {round}"
                    );
                }
            })
        })
        .collect();
    for client in clients {
        client.join().expect("a client failed");
    }
    server.stop().unwrap();
}

#[test]
fn a_64_mib_payload_is_echoed_intact_through_partial_writes() {
    const TOTAL: usize = 64 * MIB;
    let server = serve_tcp(Config::default(), || Echo);
    let stream = connect(server.info);
    let mut writer = stream.try_clone().unwrap();
    let mut reader = stream;
    let sender = thread::spawn(move || {
        let mut sent = 0;
        while sent < TOTAL {
            let chunk = pattern(7, sent as u64, MIB);
            send(&mut writer, &chunk);
            sent += chunk.len();
        }
        writer.shutdown(Shutdown::Write).unwrap();
    });
    // The default eof_received closes once the echo is flushed: all 64 MiB,
    // in order, then EOF.
    read_pattern_then_eof(&mut reader, 7, TOTAL);
    sender.join().unwrap();
    server.stop().unwrap();
}

/// On its first bytes, writes one stream (pattern `seed`) in pieces of the
/// given sizes in a single callback, then closes.
struct Pieces {
    seed: u64,
    sizes: &'static [usize],
}

impl Protocol for Pieces {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        let mut offset = 0;
        for &size in self.sizes {
            ctx.write(&pattern(self.seed, offset as u64, size));
            offset += size;
        }
        ctx.close();
        data.len()
    }
}

/// Small writes are batched, large ones go out at once together with the
/// batch before them; whatever the socket refuses queues in order. A reader
/// that only starts reading after the reply is written sees the same stream
/// as one that reads at once.
#[test]
fn small_and_large_writes_of_one_callback_arrive_whole_and_in_order() {
    const SIZES: &[usize] = &[100, 20 * KIB, 5, 9 * KIB, 3 * MIB, 7, 12 * KIB, 1];
    let total: usize = SIZES.iter().sum();
    for (seed, delay) in [(21, Duration::ZERO), (22, Duration::from_millis(300))] {
        let server = serve_tcp(Config::default(), move || Pieces { seed, sizes: SIZES });
        let mut stream = connect(server.info);
        send(&mut stream, b"go");
        thread::sleep(delay);
        read_pattern_then_eof(&mut stream, seed, total);
        server.stop().unwrap();
    }
}

/// Answers each complete line with pieces of the line itself and bytes of
/// its own, so that some writes are slices of the input the reactor is
/// delivering and some are not; a partial line waits in the connection's
/// buffer and is delivered again with the rest.
struct Pieces2;

impl Protocol for Pieces2 {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        let mut used = 0;
        while let Ok(Some((line, consumed))) = codec::next_line(&data[used..], 1024) {
            ctx.write(&line[1..]);
            ctx.write(b"|");
            ctx.write(&line[..1]);
            ctx.write(line);
            ctx.write(b"\n");
            used += consumed;
        }
        used
    }
}

#[test]
fn writes_of_the_input_itself_and_of_other_bytes_arrive_in_the_order_written() {
    let server = serve_tcp(Config::default(), || Pieces2);
    let mut client = connect(server.info);
    // Whole lines (read straight into the shared buffer), then a line split
    // across two sends (the second delivery comes from the connection's own
    // buffer).
    send(&mut client, b"hello\nab\n");
    assert_eq!(read_exact(&mut client, 18), b"ello|hhello\nb|aab\n");
    send(&mut client, b"wor");
    thread::sleep(Duration::from_millis(50));
    send(&mut client, b"ld\n");
    assert_eq!(read_exact(&mut client, 12), b"orld|wworld\n");
    server.stop().unwrap();
}

/// Writes the line back, then does what the line says, then writes again:
/// the second write must be dropped once the connection stopped taking output.
struct ThenWrite;

impl Protocol for ThenWrite {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        ctx.write(data);
        match data {
            b"close\n" => ctx.close(),
            b"abort\n" => ctx.abort("asked to"),
            b"shutdown\n" => ctx.shutdown_write(),
            _ => {}
        }
        ctx.write(b"after\n");
        data.len()
    }
}

#[test]
fn a_write_after_close_abort_or_half_close_in_the_same_callback_is_dropped() {
    let server = serve_tcp(Config::default(), || ThenWrite);
    for what in ["close", "abort", "shutdown"] {
        let mut client = connect(server.info);
        send(&mut client, b"hi\n");
        assert_eq!(read_exact(&mut client, 9), b"hi\nafter\n");
        send(&mut client, format!("{what}\n").as_bytes());
        let rest = read_to_end(&mut client);
        assert_eq!(
            String::from_utf8_lossy(&rest),
            format!("{what}\n"),
            "after {what}: the write made before it arrives, the one after it does not"
        );
    }
    server.stop().unwrap();
}

// ----- half-close --------------------------------------------------------

/// Answers each line with a large reply, and at EOF a summary line before
/// closing: replies still go out after the peer's half-close.
struct Summarize {
    lines: usize,
}

const REPLY_SIZE: usize = 512 * KIB;

impl Protocol for Summarize {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        let mut used = 0;
        while let Ok(Some((line, consumed))) = codec::next_line(&data[used..], 1024) {
            let mut reply = pattern(self.lines as u64, 0, REPLY_SIZE);
            reply[..line.len()].copy_from_slice(line);
            ctx.write(&reply);
            self.lines += 1;
            used += consumed;
        }
        used
    }

    fn eof_received(&mut self, ctx: &mut Ctx) {
        ctx.write(format!("{} lines\n", self.lines).as_bytes());
        ctx.close();
    }
}

/// The default `eof_received`: close once flushed.
struct BigReplies;

impl Protocol for BigReplies {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        for &byte in data {
            ctx.write(&vec![byte; REPLY_SIZE]);
        }
        data.len()
    }
}

#[test]
fn a_half_closed_client_still_receives_every_reply_then_eof() {
    let server = serve_tcp(Config::default(), || Summarize { lines: 0 });
    let mut client = connect(server.info);
    send(&mut client, b"one\ntwo\nthree\n");
    client.shutdown(Shutdown::Write).unwrap();
    let all = read_to_end(&mut client);
    assert_eq!(all.len(), 3 * REPLY_SIZE + "3 lines\n".len());
    for (i, word) in ["one", "two", "three"].iter().enumerate() {
        let reply = &all[i * REPLY_SIZE..(i + 1) * REPLY_SIZE];
        assert_eq!(&reply[..word.len()], word.as_bytes(), "reply {i}");
        let tail = &reply[word.len()..];
        assert_eq!(pattern_mismatch(i as u64, word.len() as u64, tail), None);
    }
    assert_eq!(&all[3 * REPLY_SIZE..], b"3 lines\n");
    server.stop().unwrap();
}

#[test]
fn the_default_eof_received_closes_only_after_queued_output_is_flushed() {
    let server = serve_tcp(Config::default(), || BigReplies);
    let mut client = connect(server.info);
    // 6 MiB of replies: far more than the socket buffers hold, so most of it
    // is still queued in the reactor when the EOF arrives.
    send(&mut client, b"abcdefghijkl");
    client.shutdown(Shutdown::Write).unwrap();
    let all = read_to_end(&mut client);
    assert_eq!(all.len(), 12 * REPLY_SIZE);
    for (i, byte) in b"abcdefghijkl".iter().enumerate() {
        assert!(
            all[i * REPLY_SIZE..(i + 1) * REPLY_SIZE]
                .iter()
                .all(|b| b == byte),
            "reply {i} is not all {:?}",
            *byte as char
        );
    }
    server.stop().unwrap();
}

#[test]
fn the_last_bytes_before_a_half_close_are_never_lost() {
    let server = serve_tcp(Config::default(), || Echo);
    let addr = server.info;
    // Data and FIN back to back, many times over: the EOF may be reported
    // together with the data, and neither may hide the other.
    let clients: Vec<_> = (0..100)
        .map(|i| {
            thread::spawn(move || {
                let mut client = connect(addr);
                let message = format!("last words {i}\n");
                send(&mut client, message.as_bytes());
                client.shutdown(Shutdown::Write).unwrap();
                assert_eq!(read_to_end(&mut client), message.as_bytes());
            })
        })
        .collect();
    for client in clients {
        client.join().expect("a client lost its echo");
    }
    server.stop().unwrap();
}

/// Answers after the peer's EOF, from a timer, then closes.
struct LateReply;

impl Protocol for LateReply {
    fn data_received(&mut self, _ctx: &mut Ctx, data: &[u8]) -> usize {
        data.len()
    }

    fn eof_received(&mut self, ctx: &mut Ctx) {
        ctx.set_timer(Duration::from_millis(100), 1);
    }

    fn timer_fired(&mut self, ctx: &mut Ctx, id: u64) {
        ctx.write(format!("late reply {id}\n").as_bytes());
        ctx.close();
    }
}

#[test]
fn a_protocol_that_keeps_the_connection_after_eof_can_still_reply_later() {
    let server = serve_tcp(Config::default(), || LateReply);
    let mut client = connect(server.info);
    send(&mut client, b"question");
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut client), b"late reply 1\n");
    server.stop().unwrap();
}

/// Half-closes at once, then counts what the peer still sends.
struct HalfCloser {
    received: usize,
    total: Sender<usize>,
}

impl Protocol for HalfCloser {
    fn connection_made(&mut self, ctx: &mut Ctx) {
        ctx.write(b"nothing more from me\n");
        ctx.shutdown_write();
        assert!(
            !ctx.connection(ctx.token()).write(b"x"),
            "wrote after shutdown_write"
        );
    }

    fn data_received(&mut self, _ctx: &mut Ctx, data: &[u8]) -> usize {
        self.received += data.len();
        data.len()
    }

    fn eof_received(&mut self, ctx: &mut Ctx) {
        let _ = self.total.send(self.received);
        ctx.close();
    }
}

#[test]
fn after_shutdown_write_the_peer_reads_eof_and_can_still_send() {
    let (tx, totals) = mpsc::channel();
    let server = serve_tcp(Config::default(), move || HalfCloser {
        received: 0,
        total: tx.clone(),
    });
    let mut client = connect(server.info);
    assert_eq!(read_to_end(&mut client), b"nothing more from me\n");
    send(&mut client, &pattern(8, 0, MIB));
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(totals.recv_timeout(PATIENCE), Ok(MIB));
    server.stop().unwrap();
}

/// Says goodbye and closes on the first line, whatever follows.
struct ByeOnFirstLine;

impl Protocol for ByeOnFirstLine {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        if data.contains(&b'\n') {
            ctx.write(b"bye\n");
            ctx.close();
        }
        data.len()
    }
}

#[test]
fn closing_while_the_peer_is_still_sending_does_not_lose_the_last_reply() {
    let server = serve_tcp(Config::default(), || ByeOnFirstLine);
    let mut client = connect(server.info);
    let mut writer = client.try_clone().unwrap();
    // Bytes still arriving after the close would make a plain close(2) send
    // a reset, which can destroy "bye" before the client reads it.
    let sender = thread::spawn(move || {
        send(&mut writer, b"hello\n");
        let chunk = vec![b'.'; 256 * KIB];
        for _ in 0..8 {
            if writer.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    thread::sleep(Duration::from_millis(50));
    let (got, closed) = read_for(&mut client, PATIENCE);
    assert_eq!(got, b"bye\n");
    assert!(closed);
    sender.join().unwrap();
    server.stop().unwrap();
}

/// Closes in connection_made, after a greeting.
struct Full;

impl Protocol for Full {
    fn connection_made(&mut self, ctx: &mut Ctx) {
        ctx.write(b"server full\n");
        ctx.close();
    }

    fn data_received(&mut self, _ctx: &mut Ctx, data: &[u8]) -> usize {
        data.len()
    }
}

#[test]
fn a_close_in_connection_made_still_sends_what_was_written_first() {
    let server = serve_tcp(Config::default(), || Full);
    for _ in 0..20 {
        let mut client = connect(server.info);
        assert_eq!(read_to_end(&mut client), b"server full\n");
    }
    server.stop().unwrap();
}

// ----- resets and peers that do not read ----------------------------------

/// `B` asks for 8 MiB; anything else is echoed. Reports how it ended.
struct BigOnDemand {
    lost: Sender<Lost>,
}

impl Protocol for BigOnDemand {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        if data.contains(&b'B') {
            ctx.write(&vec![b'x'; 8 * MIB]);
        } else {
            ctx.write(data);
        }
        data.len()
    }

    fn connection_lost(&mut self, _ctx: &mut Ctx, reason: Option<io::Error>) {
        let _ = self.lost.send(lost(reason));
    }
}

#[test]
fn a_peer_reset_in_the_middle_of_a_large_reply_is_reported_and_the_server_goes_on() {
    let (tx, lost_rx) = mpsc::channel();
    let server = serve_tcp(Config::default(), move || BigOnDemand { lost: tx.clone() });

    let mut doomed = connect(server.info);
    send(&mut doomed, b"B");
    // The reply is flowing...
    assert_eq!(read_exact(&mut doomed, 64 * KIB), vec![b'x'; 64 * KIB]);
    // ...when the client resets the connection.
    set_linger_zero(&doomed);
    drop(doomed);

    match lost_rx.recv_timeout(PATIENCE) {
        Ok(Lost::Error(kind, msg)) => assert!(
            matches!(
                kind,
                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
            ),
            "unexpected error {kind:?}: {msg}"
        ),
        other => panic!("connection_lost should report the reset, got {other:?}"),
    }

    let mut next = connect(server.info);
    send(&mut next, b"still there?");
    assert_eq!(read_exact(&mut next, 12), b"still there?");
    drop(next);
    server.stop().unwrap();
}

/// `F` costs the peer 64 KiB of output per byte; anything else is echoed.
struct Flooder {
    lost: Sender<Lost>,
}

impl Protocol for Flooder {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        for &byte in data {
            if byte == b'F' {
                ctx.write(&[b'f'; 64 * KIB]);
            } else {
                ctx.write(&[byte]);
            }
        }
        data.len()
    }

    fn connection_lost(&mut self, _ctx: &mut Ctx, reason: Option<io::Error>) {
        let _ = self.lost.send(lost(reason));
    }
}

#[test]
fn a_client_that_never_reads_is_aborted_at_the_output_limit_while_others_are_served() {
    let (tx, lost_rx) = mpsc::channel();
    let config = Config {
        max_output: MIB,
        ..Config::default()
    };
    let server = serve_tcp(config, move || Flooder { lost: tx.clone() });

    let mut polite = connect(server.info);
    send(&mut polite, b"hello\n");
    assert_eq!(read_line(&mut polite), "hello");

    // 128 × 64 KiB = 8 MiB of output asked for in one read, never read back:
    // more than the kernel buffers take plus the 1 MiB limit.
    let mut greedy = connect(server.info);
    send(&mut greedy, &[b'F'; 128]);

    match lost_rx.recv_timeout(PATIENCE) {
        Ok(Lost::Error(_, msg)) => {
            assert!(msg.contains("output limit"), "reason: {msg}");
        }
        other => panic!("the greedy client should be aborted, got {other:?}"),
    }
    // What the greedy client can still read is what the kernel had taken
    // before the abort: less than it asked for, then the end.
    let (got, closed) = read_for(&mut greedy, PATIENCE);
    assert!(closed, "the aborted connection should be closed");
    assert!(got.len() < 8 * MIB, "got all {} bytes", got.len());
    assert!(got.iter().all(|&b| b == b'f'));

    send(&mut polite, b"still served\n");
    assert_eq!(read_line(&mut polite), "still served");
    drop(polite);
    server.stop().unwrap();
}

/// Waits for a frame end that never comes: consumes nothing.
struct NeverConsumes {
    lost: Sender<Lost>,
}

impl Protocol for NeverConsumes {
    fn data_received(&mut self, _ctx: &mut Ctx, _data: &[u8]) -> usize {
        0
    }

    fn connection_lost(&mut self, _ctx: &mut Ctx, reason: Option<io::Error>) {
        let _ = self.lost.send(lost(reason));
    }
}

#[test]
fn unconsumed_input_over_max_input_costs_the_connection() {
    let (tx, lost_rx) = mpsc::channel();
    let config = Config {
        max_input: 4 * KIB,
        ..Config::default()
    };
    let server = serve_tcp(config, move || NeverConsumes { lost: tx.clone() });
    let mut client = connect(server.info);
    send(&mut client, &[b'a'; 3 * KIB]);
    // Under the limit: still open.
    let (_, closed) = read_for(&mut client, Duration::from_millis(100));
    assert!(!closed);
    send(&mut client, &[b'a'; 2 * KIB]);
    match lost_rx.recv_timeout(PATIENCE) {
        Ok(Lost::Error(io::ErrorKind::InvalidData, _)) => {}
        other => panic!("expected an input-limit error, got {other:?}"),
    }
    assert!(is_closed(&mut client));
    server.stop().unwrap();
}

/// Echoes one line, then pauses reading for 50 ms, line after line.
struct OneLineAtATime {
    paused: bool,
}

impl Protocol for OneLineAtATime {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        assert!(!self.paused, "data_received while reading is paused");
        let Some(end) = data.iter().position(|&b| b == b'\n') else {
            return 0;
        };
        ctx.write(&data[..=end]);
        self.paused = true;
        ctx.pause_reading();
        ctx.set_timer(Duration::from_millis(50), 0);
        end + 1
    }

    fn timer_fired(&mut self, ctx: &mut Ctx, _id: u64) {
        self.paused = false;
        ctx.resume_reading();
    }
}

#[test]
fn input_left_unconsumed_while_reading_is_paused_is_delivered_again_on_resume() {
    let server = serve_tcp(Config::default(), || OneLineAtATime { paused: false });
    let mut client = connect(server.info);
    // One segment, three lines: the last two wait in the reactor's buffer
    // with no new bytes to announce them.
    send(&mut client, b"one\ntwo\nthree\n");
    for line in ["one", "two", "three"] {
        assert_eq!(read_line(&mut client), line);
    }
    server.stop().unwrap();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Pause(usize),
    Resume(usize),
}

/// Writes `ROUNDS` rounds of `ROUND` bytes of pattern 3, the next round each
/// time the reactor says the peer has drained (`resume_writing`), then closes.
struct Producer {
    calls: Arc<Mutex<Vec<Flow>>>,
    sent: usize,
}

const ROUND: usize = 8 * MIB;
const ROUNDS: usize = 2;

impl Producer {
    fn next_round(&mut self, ctx: &mut Ctx) {
        if self.sent == ROUND * ROUNDS {
            ctx.close();
            return;
        }
        ctx.write(&pattern(3, self.sent as u64, ROUND));
        self.sent += ROUND;
    }
}

impl Protocol for Producer {
    fn connection_made(&mut self, ctx: &mut Ctx) {
        self.next_round(ctx);
    }

    fn data_received(&mut self, _ctx: &mut Ctx, data: &[u8]) -> usize {
        data.len()
    }

    fn pause_writing(&mut self, ctx: &mut Ctx) {
        self.calls.lock().unwrap().push(Flow::Pause(ctx.queued()));
    }

    fn resume_writing(&mut self, ctx: &mut Ctx) {
        self.calls.lock().unwrap().push(Flow::Resume(ctx.queued()));
        self.next_round(ctx);
    }
}

#[test]
fn pause_and_resume_writing_alternate_at_the_configured_watermarks() {
    const HIGH: usize = 256 * KIB;
    const LOW: usize = 64 * KIB;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let config = Config {
        high_watermark: HIGH,
        low_watermark: LOW,
        ..Config::default()
    };
    let recorded = calls.clone();
    let server = serve_tcp(config, move || Producer {
        calls: recorded.clone(),
        sent: 0,
    });
    let mut client = connect(server.info);
    // Slow at first, so the first round surely piles up in the reactor.
    thread::sleep(Duration::from_millis(100));
    read_pattern_then_eof(&mut client, 3, ROUND * ROUNDS);

    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2 * ROUNDS, "calls: {calls:?}");
    for pair in calls.chunks(2) {
        match *pair {
            [Flow::Pause(high), Flow::Resume(low)] => {
                assert!(high > HIGH, "paused with only {high} bytes queued");
                assert!(low <= LOW, "resumed with {low} bytes still queued");
            }
            _ => panic!("pause and resume out of order: {calls:?}"),
        }
    }
    server.stop().unwrap();
}

// ----- shutdown -------------------------------------------------------------

/// `go` queues 8 MiB of pattern 5 and says how much is waiting in the reactor.
struct QueueOnGo {
    queued: Sender<usize>,
}

impl Protocol for QueueOnGo {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        if data.ends_with(b"go") {
            ctx.write(&pattern(5, 0, 8 * MIB));
        }
        data.len()
    }

    fn pause_writing(&mut self, ctx: &mut Ctx) {
        let _ = self.queued.send(ctx.queued());
    }
}

#[test]
fn a_shutdown_from_another_thread_flushes_queued_output_before_closing() {
    let (tx, queued_rx) = mpsc::channel();
    // A deadline far beyond the test's needs: what is tested is the flush.
    let config = Config {
        shutdown_timeout: PATIENCE,
        ..Config::default()
    };
    let mut server = serve_tcp(config, move || QueueOnGo { queued: tx.clone() });
    let mut client = connect(server.info);
    send(&mut client, b"go");
    // pause_writing: most of the 8 MiB waits in the reactor, not the kernel.
    let queued = queued_rx.recv_timeout(PATIENCE).expect("no pause_writing");
    assert!(queued > MIB, "only {queued} bytes queued");

    server.handle.shutdown();
    // Shutting down, but not done: the client has not read yet.
    thread::sleep(Duration::from_millis(100));
    assert!(!server.is_finished(), "run() returned with output queued");

    read_pattern_then_eof(&mut client, 5, 8 * MIB);
    server.join_within(PATIENCE).expect("run() failed");
}

/// Never reads: queues `UNREAD_REPLY` bytes of pattern 6 on connection and
/// leaves whatever the peer sends unread in the kernel.
struct Deaf;

const UNREAD_REPLY: usize = 2 * MIB;

impl Protocol for Deaf {
    fn connection_made(&mut self, ctx: &mut Ctx) {
        ctx.pause_reading();
        ctx.write(&pattern(6, 0, UNREAD_REPLY));
    }

    fn data_received(&mut self, _ctx: &mut Ctx, data: &[u8]) -> usize {
        data.len()
    }
}

/// Closing a socket whose received bytes were never read makes the kernel
/// send a reset and throw away the output still in the socket's send buffer,
/// so a shutdown that merely closes after "flushing" to the kernel loses the
/// tail of the reply. The ordinary close path lingers (shuts down the write
/// side and drains the peer) to avoid exactly this; the shutdown path skips
/// it. Seen: the client reads ~128 KiB of the 2 MiB, then ECONNRESET; it
/// always ends with a reset rather than EOF.
#[test]
fn shutdown_with_unread_input_does_not_reset_the_peer_or_lose_flushed_output() {
    let mut server = serve_tcp(Config::default(), || Deaf);
    let mut client = connect(server.info);
    send(&mut client, &[b'u'; 1000]);
    // The reply sits in the kernel buffers and the reactor's queue; the
    // client's 1000 bytes sit unread in the server's socket.
    thread::sleep(Duration::from_millis(100));
    server.handle.shutdown();
    let mut got = Vec::new();
    let mut buf = vec![0; 256 * KIB];
    loop {
        match client.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("{e} after {} of {UNREAD_REPLY} bytes", got.len()),
        }
    }
    assert_eq!(got.len(), UNREAD_REPLY);
    assert_eq!(pattern_mismatch(6, 0, &got), None);
    drop(client);
    server.join_within(PATIENCE).unwrap();
}

// ----- panics -----------------------------------------------------------

/// Echoes, but panics on `!`. Reports how it ended.
struct Fragile {
    lost: Sender<Lost>,
}

impl Protocol for Fragile {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        assert!(!data.contains(&b'!'), "the test protocol panics on '!'");
        ctx.write(data);
        data.len()
    }

    fn connection_lost(&mut self, _ctx: &mut Ctx, reason: Option<io::Error>) {
        let _ = self.lost.send(lost(reason));
    }
}

#[test]
fn a_panicking_protocol_costs_only_its_own_connection() {
    let (tx, lost_rx) = mpsc::channel();
    let server = serve_tcp(Config::default(), move || Fragile { lost: tx.clone() });
    let mut bystander = connect(server.info);
    let mut victim = connect(server.info);
    send(&mut victim, b"hi");
    assert_eq!(read_exact(&mut victim, 2), b"hi");
    send(&mut bystander, b"hi");
    assert_eq!(read_exact(&mut bystander, 2), b"hi");

    send(&mut victim, b"boom!");
    assert!(
        is_closed(&mut victim),
        "the panicking connection stays open"
    );
    match lost_rx.recv_timeout(PATIENCE) {
        Ok(Lost::Error(_, msg)) => assert!(msg.contains("panic"), "reason: {msg}"),
        other => panic!("connection_lost should follow the panic, got {other:?}"),
    }

    send(&mut bystander, b"still here");
    assert_eq!(read_exact(&mut bystander, 10), b"still here");
    let mut newcomer = connect(server.info);
    send(&mut newcomer, b"new");
    assert_eq!(read_exact(&mut newcomer, 3), b"new");
    server.stop().unwrap();
}

#[test]
fn a_panicking_timer_callback_does_not_stop_the_reactor() {
    let (fired_tx, fired) = mpsc::channel();
    let server = spawn_reactor(move || {
        let mut reactor = sockloop::Reactor::new()?;
        reactor.call_later(Duration::from_millis(10), |_ctx| {
            panic!("the test timer panics");
        });
        reactor.call_later(Duration::from_millis(60), move |_ctx| {
            let _ = fired_tx.send("later timer");
        });
        let listener = reactor.listen_tcp("127.0.0.1:0", || Echo)?;
        let addr = reactor.local_addr(listener)?.as_inet().unwrap();
        Ok((reactor, addr))
    });
    assert_eq!(fired.recv_timeout(PATIENCE), Ok("later timer"));
    let mut client = connect(server.info);
    send(&mut client, b"alive");
    assert_eq!(read_exact(&mut client, 5), b"alive");
    server.stop().unwrap();
}

// ----- tokens -----------------------------------------------------------

/// Tells the test its token when made and when lost.
struct Announce {
    events: Sender<(&'static str, Token)>,
}

impl Protocol for Announce {
    fn connection_made(&mut self, ctx: &mut Ctx) {
        let _ = self.events.send(("made", ctx.token()));
    }

    fn data_received(&mut self, _ctx: &mut Ctx, data: &[u8]) -> usize {
        data.len()
    }

    fn connection_lost(&mut self, ctx: &mut Ctx, _reason: Option<io::Error>) {
        let _ = self.events.send(("lost", ctx.token()));
    }
}

fn expect_event(events: &Receiver<(&'static str, Token)>, what: &str) -> Token {
    let (got, token) = events
        .recv_timeout(PATIENCE)
        .unwrap_or_else(|_| panic!("no {what} event"));
    assert_eq!(got, what);
    token
}

/// The slab slot in a token (its low half; the high half is a generation).
fn slot(token: Token) -> usize {
    token.0 & ((1 << (usize::BITS / 2)) - 1)
}

#[test]
fn a_new_connection_in_a_reused_slot_gets_a_new_token_and_the_old_one_is_dead() {
    let (tx, events) = mpsc::channel();
    let server = serve_tcp(Config::default(), move || Announce { events: tx.clone() });

    let a = connect(server.info);
    let token_a = expect_event(&events, "made");
    drop(a);
    assert_eq!(expect_event(&events, "lost"), token_a);

    let mut b = connect(server.info);
    let token_b = expect_event(&events, "made");
    assert_eq!(slot(token_b), slot(token_a), "B should take A's freed slot");
    assert_ne!(token_b, token_a);

    let (reply_tx, replies) = mpsc::channel();
    server
        .handle
        .post(move |ctx| {
            let to_a = ctx.connection(token_a).write(b"for A\n");
            let open_a = ctx.connection(token_a).is_open();
            let _ = reply_tx.send((to_a, open_a));
        })
        .unwrap();
    assert_eq!(
        replies.recv_timeout(PATIENCE),
        Ok((false, false)),
        "A's old token still reaches a connection"
    );
    let (got, closed) = read_for(&mut b, Duration::from_millis(200));
    assert!(
        got.is_empty() && !closed,
        "B received {got:?} (closed: {closed})"
    );

    // B's own token does reach B.
    let (reply_tx, replies) = mpsc::channel();
    server
        .handle
        .post(move |ctx| {
            let _ = reply_tx.send(ctx.connection(token_b).write(b"for B\n"));
        })
        .unwrap();
    assert_eq!(replies.recv_timeout(PATIENCE), Ok(true));
    assert_eq!(read_line(&mut b), "for B");
    server.stop().unwrap();
}

/// Sets a timer on itself when made; reports when it fires and for whom.
struct TimerOnMade {
    events: Sender<(&'static str, Token)>,
}

impl Protocol for TimerOnMade {
    fn connection_made(&mut self, ctx: &mut Ctx) {
        ctx.set_timer(Duration::from_millis(150), 1);
        let _ = self.events.send(("made", ctx.token()));
    }

    fn data_received(&mut self, _ctx: &mut Ctx, data: &[u8]) -> usize {
        data.len()
    }

    fn timer_fired(&mut self, ctx: &mut Ctx, _id: u64) {
        let _ = self.events.send(("fired", ctx.token()));
    }
}

#[test]
fn a_timer_of_a_closed_connection_never_reaches_the_connection_reusing_its_slot() {
    let (tx, events) = mpsc::channel();
    let server = serve_tcp(Config::default(), move || TimerOnMade {
        events: tx.clone(),
    });
    let a = connect(server.info);
    let token_a = expect_event(&events, "made");
    drop(a);
    // Wait out A's close (EOF, then the slot is freed) before B arrives.
    thread::sleep(Duration::from_millis(50));
    let _b = connect(server.info);
    let token_b = expect_event(&events, "made");
    assert_eq!(slot(token_b), slot(token_a), "B should take A's freed slot");
    // B's own timer fires for B; A's never fires at all.
    assert_eq!(expect_event(&events, "fired"), token_b);
    assert!(
        events.recv_timeout(Duration::from_millis(300)).is_err(),
        "a second timer fired"
    );
    server.stop().unwrap();
}

/// Room state shared by every connection of one reactor.
#[derive(Default)]
struct Room {
    members: Vec<Token>,
}

/// `poke` wakes every other member through `connection(..).set_timer`; leaving is
/// announced to the others from `connection_lost`.
struct Member;

impl Protocol<Room> for Member {
    fn connection_made(&mut self, ctx: &mut Ctx<Room>) {
        let me = ctx.token();
        ctx.shared().members.push(me);
        ctx.write(b"welcome\n");
    }

    fn data_received(&mut self, ctx: &mut Ctx<Room>, data: &[u8]) -> usize {
        if data.starts_with(b"poke") {
            let me = ctx.token();
            let others: Vec<Token> = ctx.shared_ref().members.clone();
            for other in others.into_iter().filter(|&t| t != me) {
                ctx.connection(other).set_timer(Duration::ZERO, 7);
            }
        }
        data.len()
    }

    fn timer_fired(&mut self, ctx: &mut Ctx<Room>, id: u64) {
        ctx.write(format!("poked {id}\n").as_bytes());
    }

    fn connection_lost(&mut self, ctx: &mut Ctx<Room>, _reason: Option<io::Error>) {
        let me = ctx.token();
        ctx.shared().members.retain(|&t| t != me);
        let others = ctx.shared_ref().members.clone();
        for other in others {
            assert!(ctx.connection(other).write(b"someone left\n"));
        }
    }
}

#[test]
fn a_protocol_can_wake_another_connection_and_write_to_others_from_connection_lost() {
    let server = spawn_reactor(|| {
        let mut reactor = sockloop::Reactor::with_state(Room::default())?;
        let listener = reactor.listen_tcp("127.0.0.1:0", || Member)?;
        let addr = reactor.local_addr(listener)?.as_inet().unwrap();
        Ok((reactor, addr))
    });
    let mut a = connect(server.info);
    assert_eq!(read_line(&mut a), "welcome");
    let mut b = connect(server.info);
    assert_eq!(read_line(&mut b), "welcome");
    send(&mut b, b"poke");
    assert_eq!(read_line(&mut a), "poked 7");
    drop(b);
    assert_eq!(read_line(&mut a), "someone left");
    server.stop().unwrap();
}

/// `(true, token)` for each connection_made, `(false, token)` for each
/// connection_lost.
type Log = Rc<RefCell<Vec<(bool, Token)>>>;

/// Logs every connection_made and connection_lost with its token.
struct Ledger {
    log: Log,
}

/// Sends the log to the test when dropped, that is when the reactor that
/// holds it is gone and no callback can add to it any more.
struct SendOnDrop(Log, Sender<Vec<(bool, Token)>>);

impl Drop for SendOnDrop {
    fn drop(&mut self) {
        let _ = self.1.send(self.0.borrow().clone());
    }
}

impl Protocol for Ledger {
    fn connection_made(&mut self, ctx: &mut Ctx) {
        self.log.borrow_mut().push((true, ctx.token()));
    }

    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        ctx.write(data);
        data.len()
    }

    fn connection_lost(&mut self, ctx: &mut Ctx, _reason: Option<io::Error>) {
        self.log.borrow_mut().push((false, ctx.token()));
    }
}

#[test]
fn connection_lost_comes_exactly_once_for_every_connection_made() {
    let (tx, ledger) = mpsc::channel();
    let server = spawn_reactor(move || {
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut reactor = sockloop::Reactor::new()?;
        let for_factory = log.clone();
        let listener = reactor.listen_tcp("127.0.0.1:0", move || Ledger {
            log: for_factory.clone(),
        })?;
        let addr = reactor.local_addr(listener)?.as_inet().unwrap();
        // Hand the log over once the reactor is dropped (timers included).
        let guard = SendOnDrop(log, tx);
        reactor.call_later(Duration::from_secs(3600), move |_| drop(guard));
        Ok((reactor, addr))
    });
    // Closed by the client, reset by the client, or still open at shutdown.
    let mut still_open = Vec::new();
    for i in 0..30 {
        let mut client = connect(server.info);
        send(&mut client, b"x");
        assert_eq!(read_exact(&mut client, 1), b"x");
        match i % 3 {
            0 => drop(client),
            1 => {
                set_linger_zero(&client);
                drop(client);
            }
            _ => still_open.push(client),
        }
    }
    server.stop().unwrap();
    drop(still_open);
    let log = ledger.recv_timeout(PATIENCE).expect("no ledger");
    let mut made: Vec<Token> = log.iter().filter(|e| e.0).map(|e| e.1).collect();
    let mut lost: Vec<Token> = log.iter().filter(|e| !e.0).map(|e| e.1).collect();
    assert_eq!(made.len(), 30);
    made.sort();
    lost.sort();
    assert_eq!(made, lost, "connection_lost missing or repeated");
}

// ----- the harness ------------------------------------------------------

/// Answers each line with `<length> <line reversed>`; a line over 16 bytes
/// closes the connection.
struct Reverse;

impl Protocol for Reverse {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        let mut used = 0;
        loop {
            match codec::next_line(&data[used..], 16) {
                Ok(Some((line, consumed))) => {
                    let reversed: Vec<u8> = line.iter().rev().copied().collect();
                    ctx.write(format!("{} ", line.len()).as_bytes());
                    ctx.write(&reversed);
                    ctx.write(b"\n");
                    used += consumed;
                }
                Ok(None) => return used,
                Err(_) => {
                    ctx.write(b"line too long\n");
                    ctx.close();
                    return data.len();
                }
            }
        }
    }
}

/// Remembers `ctx.now()` at every delivery.
struct Clock(Rc<RefCell<Vec<std::time::Instant>>>);

impl Protocol for Clock {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        self.0.borrow_mut().push(ctx.now());
        data.len()
    }
}

/// Each feed is a turn of its own, as each read is in the reactor: the
/// turn's time moves on between them.
#[test]
fn the_harness_clock_moves_from_one_feed_to_the_next() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let mut h = Harness::new(Clock(seen.clone()));
    h.feed(b"a");
    thread::sleep(Duration::from_millis(5));
    h.feed(b"b");
    let seen = seen.borrow();
    assert_eq!(seen.len(), 2);
    assert!(seen[1] >= seen[0] + Duration::from_millis(5), "{seen:?}");
}

#[test]
fn the_harness_gives_a_line_protocol_the_same_output_on_every_split() {
    let input = b"abc\r\n\nhello world\nxyz\n";
    let expected = b"3 cba\n0 \n11 dlrow olleh\n3 zyx\n".to_vec();
    for first in 0..=input.len() {
        for second in first..=input.len() {
            let mut h = Harness::new(Reverse);
            h.feed(&input[..first]);
            h.feed(&input[first..second]);
            h.feed(&input[second..]);
            assert_eq!(h.take_output(), expected, "split at {first} and {second}");
            assert!(!h.is_closed());
            h.feed_eof();
            assert!(h.is_closed(), "the default eof_received closes");
        }
    }
    let mut h = Harness::new(Reverse);
    h.feed_bytewise(input);
    assert_eq!(h.take_output(), expected);
}

#[test]
fn the_harness_closes_a_line_protocol_on_an_overlong_line_however_it_is_split() {
    let input = b"ok\nthis line is far too long\nnever read\n";
    for split in 0..=input.len() {
        let mut h = Harness::new(Reverse);
        h.feed(&input[..split]);
        h.feed(&input[split..]);
        assert_eq!(
            h.take_output(),
            b"2 ko\nline too long\n",
            "split at {split}"
        );
        assert!(h.is_closed(), "split at {split}");
    }
}
