//! The chat server as a real process: clients over loopback, the operator on
//! its stdin and its stdout, signals.

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsFd;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use util::{PATIENCE, Server, is_closed, read_line, send, wait_until};

/// A quiet period no test waits for: only a newline or the end of the input
/// ends a message, however the test's writes are scheduled.
const NO_PAUSE: &[&str] = &["--pause-ms", "600000"];

/// The operator's screen: the server's stdout after its `listening on` line,
/// read line by line by a thread of its own, so that the server never waits
/// for the test to look (even in tests that never do).
struct Screen(mpsc::Receiver<String>);

impl Screen {
    fn watch(server: &Server) -> Screen {
        let stdout = server
            .stdout
            .get_ref()
            .as_fd()
            .try_clone_to_owned()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(std::fs::File::from(stdout)).lines() {
                let Ok(line) = line else { return };
                let _ = tx.send(line); // keeps draining after the test stopped looking
            }
        });
        Screen(rx)
    }

    /// The next line the operator sees.
    fn shows(&self) -> String {
        self.0
            .recv_timeout(PATIENCE)
            .expect("nothing more on the operator's screen")
    }
}

/// A chat server with `extra` flags, and the operator's screen.
fn start_with(extra: &[&str]) -> (Server, Screen) {
    let mut args = vec!["--addr", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let server = Server::start("chat_server", &args);
    let screen = Screen::watch(&server);
    (server, screen)
}

fn start() -> Server {
    start_with(&[]).0
}

/// One `recv` of up to 1024 bytes, as the simplest clients read an answer.
fn recv_1024(stream: &mut TcpStream) -> String {
    let mut buf = [0; 1024];
    let n = stream.read(&mut buf).expect("recv");
    String::from_utf8_lossy(&buf[..n]).into_owned()
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

    /// Sends `pieces` one write each, 5 ms apart.
    fn say_in_pieces(&mut self, pieces: &[&str]) {
        for piece in pieces {
            self.say(piece);
            thread::sleep(Duration::from_millis(5));
        }
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
    let (server, _screen) = start_with(NO_PAUSE);
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
    let (mut server, screen) = start_with(&[]);
    let mut a = join(&server, &mut []);
    // `a` is in the room before the operator speaks: a connect and a line on
    // stdin in the same turn may be handled in either order (mio's poll(2)
    // backend reports them so).
    assert_eq!(screen.shows(), format!("* {} joined", a.name));
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
    let (server, _screen) = start_with(NO_PAUSE);
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

// ----- clients that send no newline, and the operator's screen ---------------

/// The exchange of the classic tutorial: a client sends a message with no
/// newline and waits in one `recv(1024)`; the operator, who sees it on the
/// server's stdout, answers on its stdin.
#[test]
fn a_message_sent_without_a_newline_reaches_the_room_and_the_operator_answers() {
    let (mut server, screen) = start_with(&[]);
    let mut a = join(&server, &mut []);
    let mut b = join(&server, &mut [&mut a]);
    assert_eq!(screen.shows(), format!("* {} joined", a.name));
    assert_eq!(screen.shows(), format!("* {} joined", b.name));

    a.say("hello, is anyone there?");
    assert_eq!(
        recv_1024(&mut b.stream),
        format!("{}: hello, is anyone there?\n", a.name)
    );
    assert_eq!(
        screen.shows(),
        format!("{}: hello, is anyone there?", a.name)
    );

    let stdin = server.stdin.as_mut().unwrap();
    stdin.write_all(b"yes, the operator\n").unwrap();
    stdin.flush().unwrap();
    assert_eq!(recv_1024(&mut a.stream), "server: yes, the operator\n");
    assert_eq!(recv_1024(&mut b.stream), "server: yes, the operator\n");

    // And again, the other way round: b's message is a's answer.
    b.say("me too");
    assert_eq!(recv_1024(&mut a.stream), format!("{}: me too\n", b.name));
    assert_eq!(screen.shows(), format!("{}: me too", b.name));
}

#[test]
fn messages_sent_a_second_apart_stay_two_messages() {
    let (server, screen) = start_with(&[]);
    let mut a = join(&server, &mut []);
    let mut b = join(&server, &mut [&mut a]);
    a.say("first");
    thread::sleep(Duration::from_secs(1));
    a.say("second");
    assert_eq!(b.hears(), format!("{}: first", a.name));
    assert_eq!(b.hears(), format!("{}: second", a.name));
    screen.shows();
    screen.shows(); // the two joins
    assert_eq!(screen.shows(), format!("{}: first", a.name));
    assert_eq!(screen.shows(), format!("{}: second", a.name));
}

#[test]
fn a_message_sent_in_pieces_a_few_milliseconds_apart_stays_one_message() {
    // A quiet period of a second against gaps of 5 ms: only a machine
    // stalled for a second could cut it.
    let (server, _screen) = start_with(&["--pause-ms", "1000"]);
    let mut a = join(&server, &mut []);
    let mut b = join(&server, &mut [&mut a]);
    a.stream.set_nodelay(true).unwrap();
    a.say_in_pieces(&["one ", "mess", "age"]);
    assert_eq!(b.hears(), format!("{}: one message", a.name));
    // With a newline at the end, the line needs no pause at all.
    a.say_in_pieces(&["and a li", "ne\r", "\n"]);
    assert_eq!(b.hears(), format!("{}: and a line", a.name));
}

#[test]
fn what_a_client_leaves_unfinished_is_said_before_it_leaves() {
    let (server, screen) = start_with(NO_PAUSE);
    let (mut a, mut b, c) = room_of_three(&server);
    let c_name = c.name.clone();
    let mut half_closed = c.stream;
    send(&mut half_closed, b"last words, half-closed");
    half_closed.shutdown(Shutdown::Write).unwrap();
    for client in [&mut a, &mut b] {
        assert_eq!(client.hears(), format!("{c_name}: last words, half-closed"));
        assert_eq!(client.hears(), format!("* {c_name} left"));
    }
    assert!(is_closed(&mut half_closed));

    // Gone at once, with a close rather than a half-close.
    b.say("bye");
    let b_name = b.name.clone();
    drop(b);
    assert_eq!(a.hears(), format!("{b_name}: bye"));
    assert_eq!(a.hears(), format!("* {b_name} left"));

    let seen: Vec<String> = (0..7).map(|_| screen.shows()).collect();
    assert_eq!(
        seen[3..],
        [
            format!("{c_name}: last words, half-closed"),
            format!("* {c_name} left"),
            format!("{b_name}: bye"),
            format!("* {b_name} left"),
        ]
    );
}

#[test]
fn the_operators_unfinished_last_line_goes_out_when_stdin_ends() {
    let (mut server, screen) = start_with(NO_PAUSE);
    let mut a = join(&server, &mut []);
    // The operator speaks once the server has `a` in the room (the screen
    // says so): a connect and a line on stdin in the same turn may be
    // handled in either order (mio's poll(2) backend reports them so).
    assert_eq!(screen.shows(), format!("* {} joined", a.name));
    let mut stdin = server.stdin.take().unwrap();
    stdin.write_all(b"first\nand no newline").unwrap();
    assert_eq!(a.hears(), "server: first");
    drop(stdin);
    assert_eq!(a.hears(), "server: and no newline");
    // What the operator typed is not shown back on the screen.
    a.say("ok\n");
    assert_eq!(screen.shows(), format!("{}: ok", a.name));
}

#[test]
fn a_message_of_exactly_4096_bytes_ended_by_a_pause_is_accepted() {
    let (server, _screen) = start_with(&[]);
    let (mut a, mut b, _c) = room_of_three(&server);
    let long = "z".repeat(4096);
    a.say(&long);
    assert_eq!(b.hears(), format!("{}: {long}", a.name));
    b.say("still here?\n");
    assert_eq!(a.hears(), format!("{}: still here?", b.name));
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
