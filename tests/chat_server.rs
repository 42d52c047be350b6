//! The chat server as a real process: clients over loopback, the operator on
//! its stdin, signals.

mod util;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use util::{Server, is_closed, read_line, send, wait_until};

fn start() -> Server {
    Server::start("chat_server", &["--addr", "127.0.0.1:0"])
}

/// A client in the room, with the address the others know it by.
struct Client {
    stream: TcpStream,
    name: String,
}

impl Client {
    fn say(&mut self, text: &str) {
        send(&mut self.stream, text.as_bytes());
    }

    fn hears(&mut self) -> String {
        read_line(&mut self.stream)
    }
}

/// Connects a new client and waits until every one already in `room` has
/// heard it join, so the server surely counts it in from then on.
fn join(server: &Server, room: &mut [&mut Client]) -> Client {
    let stream = server.connect();
    let name = stream.local_addr().unwrap().to_string();
    for other in room.iter_mut() {
        assert_eq!(other.hears(), format!("* {name} joined"));
    }
    Client { stream, name }
}

/// Three clients, each having heard the later ones join.
fn room_of_three(server: &Server) -> (Client, Client, Client) {
    let mut a = join(server, &mut []);
    let mut b = join(server, &mut [&mut a]);
    let c = join(server, &mut [&mut a, &mut b]);
    (a, b, c)
}

#[test]
fn a_line_reaches_every_other_client_with_the_senders_address() {
    let server = start();
    let (mut a, mut b, mut c) = room_of_three(&server);

    a.say("hello, room\n");
    assert_eq!(b.hears(), format!("{}: hello, room", a.name));
    assert_eq!(c.hears(), format!("{}: hello, room", a.name));

    // The sender did not get its own line back: the next thing it hears is
    // what someone else said.
    b.say("hi a\n");
    assert_eq!(a.hears(), format!("{}: hi a", b.name));
    assert_eq!(c.hears(), format!("{}: hi a", b.name));
}

#[test]
fn joins_and_leaves_are_announced_to_the_others() {
    let server = start();
    let mut a = join(&server, &mut []);
    let b = join(&server, &mut [&mut a]); // asserts a heard "* b joined"
    let b_name = b.name.clone();
    drop(b);
    assert_eq!(a.hears(), format!("* {b_name} left"));

    // A newcomer hears about later arrivals, not about itself.
    let mut c = join(&server, &mut [&mut a]);
    let d = join(&server, &mut [&mut a, &mut c]);
    let d_name = d.name.clone();
    drop(d);
    assert_eq!(a.hears(), format!("* {d_name} left"));
    assert_eq!(c.hears(), format!("* {d_name} left"));
}

#[test]
fn a_line_sent_one_byte_per_write_arrives_whole() {
    let server = start();
    let (mut a, mut b, mut c) = room_of_three(&server);
    a.stream.set_nodelay(true).unwrap();
    for byte in b"split into single bytes\r\n" {
        send(&mut a.stream, &[*byte]);
        // Give each byte its own segment, so the server really reads them
        // one at a time.
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(b.hears(), format!("{}: split into single bytes", a.name));
    assert_eq!(c.hears(), format!("{}: split into single bytes", a.name));
}

#[test]
fn two_lines_in_one_write_arrive_as_two_messages() {
    let server = start();
    let (mut a, mut b, mut c) = room_of_three(&server);
    a.say("first\r\nsecond\n");
    for listener in [&mut b, &mut c] {
        assert_eq!(listener.hears(), format!("{}: first", a.name));
        assert_eq!(listener.hears(), format!("{}: second", a.name));
    }
}

#[test]
fn a_line_on_the_servers_stdin_reaches_every_client() {
    let mut server = start();
    let (mut a, mut b, mut c) = room_of_three(&server);
    let stdin = server.stdin.as_mut().unwrap();
    stdin.write_all(b"welcome, everyone\n").unwrap();
    stdin.flush().unwrap();
    for client in [&mut a, &mut b, &mut c] {
        assert_eq!(client.hears(), "server: welcome, everyone");
    }
}

#[test]
fn closing_the_servers_stdin_does_not_stop_it() {
    let mut server = start();
    let mut a = join(&server, &mut []);
    let mut stdin = server.stdin.take().unwrap();
    stdin.write_all(b"last words\n").unwrap();
    drop(stdin);
    assert_eq!(a.hears(), "server: last words");

    // Still accepting, still relaying, still running.
    let mut b = join(&server, &mut [&mut a]);
    b.say("anyone there?\n");
    assert_eq!(a.hears(), format!("{}: anyone there?", b.name));
    let mut c = join(&server, &mut [&mut a, &mut b]);
    a.say("yes\n");
    assert_eq!(b.hears(), format!("{}: yes", a.name));
    assert_eq!(c.hears(), format!("{}: yes", a.name));
    assert!(server.child.try_wait().unwrap().is_none(), "server exited");
}

#[test]
fn a_line_over_4_kib_is_refused_without_waiting_for_its_newline() {
    let server = start();
    let (mut a, mut b, mut c) = room_of_three(&server);
    b.say("before\n");
    assert_eq!(a.hears(), format!("{}: before", b.name));
    assert_eq!(c.hears(), format!("{}: before", b.name));

    // 4096 bytes are still a possible line; the 4097th byte settles it,
    // though no newline ever comes.
    send(&mut a.stream, &[b'x'; 4096]);
    send(&mut a.stream, b"x");
    assert_eq!(a.hears(), "error: line too long");
    assert!(
        is_closed(&mut a.stream),
        "the long-line sender stays connected"
    );

    for client in [&mut b, &mut c] {
        assert_eq!(client.hears(), format!("* {} left", a.name));
    }
    c.say("still chatting\n");
    assert_eq!(b.hears(), format!("{}: still chatting", c.name));
    b.say("me too\n");
    assert_eq!(c.hears(), format!("{}: me too", b.name));
}

#[test]
fn a_line_of_exactly_4096_bytes_is_accepted() {
    let server = start();
    let (mut a, mut b, mut c) = room_of_three(&server);
    let long = "y".repeat(4096);
    a.say(&format!("{long}\n"));
    assert_eq!(b.hears(), format!("{}: {long}", a.name));
    // With "\r\n" the content is still 4096 bytes.
    a.say(&format!("{long}\r\n"));
    assert_eq!(b.hears(), format!("{}: {long}", a.name));
    for _ in 0..2 {
        assert_eq!(c.hears(), format!("{}: {long}", a.name));
    }
    // a is still in the room.
    c.say("ok\n");
    assert_eq!(a.hears(), format!("{}: ok", c.name));
}

#[test]
fn a_client_that_never_reads_is_cut_off_and_the_others_miss_nothing() {
    let server = start();
    let mut reader = join(&server, &mut []);
    // The sleeper never reads a byte; it only has to exist.
    let mut sleeper = join(&server, &mut [&mut reader]);
    let mut flooder = join(&server, &mut [&mut reader]);
    let mut heard = BufReader::new(reader.stream.try_clone().unwrap());

    // Each batch is ~100 KiB. The flooder sends a batch, then the reader
    // takes all of it, so the reader never has more than one batch waiting:
    // only the sleeper's queue grows. The sleeper must be cut off after about
    // 1 MiB queued at the server (plus what the kernel buffers on both ends of
    // its connection, a few MiB at most on loopback), so 64 MiB is far more
    // than it may take.
    const BATCH: usize = 1000;
    const CAP: usize = 64 << 20;
    let padding = "z".repeat(90);
    let flooder_name = flooder.name.clone();
    let expected = |i: usize| format!("{flooder_name}: {i:08} {padding}");
    let sleeper_left = format!("* {} left", sleeper.name);
    let mut sent_bytes = 0;
    let mut sent_messages = 0;
    let mut next_expected = 0;
    let mut batch = String::new();
    let mut line = String::new();
    let mut cut_off_after = None;
    // Go on for two more batches after the cut-off: the flood must go on.
    while cut_off_after.is_none_or(|at| next_expected < at + 2 * BATCH) {
        assert!(sent_bytes < CAP, "the sleeper was never cut off");
        batch.clear();
        for i in next_expected..next_expected + BATCH {
            batch.push_str(&format!("{i:08} {padding}\n"));
        }
        flooder.say(&batch);
        sent_bytes += batch.len();
        sent_messages += BATCH;
        let last = next_expected + BATCH;
        while next_expected < last {
            line.clear();
            let n = heard.read_line(&mut line).expect("reading the flood");
            assert!(
                n > 0,
                "the reader was cut off after {next_expected} messages"
            );
            let got = line.trim_end_matches('\n');
            if got == sleeper_left {
                assert!(cut_off_after.is_none(), "the sleeper left twice");
                cut_off_after = Some(next_expected);
                continue;
            }
            assert_eq!(got, expected(next_expected), "message {next_expected}");
            next_expected += 1;
        }
    }
    let cut_off_after = cut_off_after.unwrap();
    assert!(
        cut_off_after * expected(0).len() >= 1 << 20,
        "cut off after only {cut_off_after} messages"
    );

    // Every message sent reached the reader, in order, and the flooder's
    // writes all went through (each has a timeout) before and after the
    // cut-off: the sleeper held up no one.
    assert_eq!(next_expected, sent_messages);

    // The sleeper's connection is closed: what it can still read ends in EOF.
    assert!(is_closed(&mut sleeper.stream));

    // The flooder is still in the room and hears the others.
    reader.say("enough\n");
    assert_eq!(flooder.hears(), sleeper_left);
    assert_eq!(flooder.hears(), format!("{}: enough", reader.name));
}

#[test]
fn sigterm_exits_0_promptly() {
    let mut server = start();
    let (mut a, _b, _c) = room_of_three(&server);
    // A half-sent line does not hold the shutdown up.
    a.say("no newline yet");
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(Duration::from_secs(5)), Some(0));
    assert!(is_closed(&mut a.stream));
}

/// The state letter of a process from /proc/<pid>/stat (`T` when stopped).
fn process_state(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    after_name.trim_start().chars().next().unwrap_or('?')
}

/// Regression: a line and the FIN behind it, both waiting when the server
/// looks, arrive as one readiness event. Reading the line is a short read;
/// taking that as "nothing more to read" loses the end of the stream, since
/// edge-triggered polling reports no second edge for it: the client then stays
/// in the room forever. The server is stopped while the client sends, so the
/// two always arrive together.
#[test]
fn a_last_line_sent_with_the_hang_up_is_delivered_and_the_leave_announced() {
    let server = start();
    let (mut a, mut b, c) = room_of_three(&server);
    let c_name = c.name.clone();
    let mut c = c.stream;
    server.signal(libc::SIGSTOP);
    wait_until("the server is stopped", || {
        process_state(server.pid()) == 'T'
    });
    send(&mut c, b"goodbye\n");
    c.shutdown(std::net::Shutdown::Write).unwrap();
    server.signal(libc::SIGCONT);
    for client in [&mut a, &mut b] {
        assert_eq!(client.hears(), format!("{c_name}: goodbye"));
        assert_eq!(client.hears(), format!("* {c_name} left"));
    }
    assert!(is_closed(&mut c));
}
