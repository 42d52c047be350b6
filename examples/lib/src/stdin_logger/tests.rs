//! The logger's protocols on every split of their input, through the harness:
//! what reaches the log, what each client hears back, the pause, the end of
//! the input and the limits.

use super::*;
use sockloop::harness::Harness;

/// A quiet period no test waits for: only a newline or the end ends a message.
const LONG: Duration = Duration::from_secs(3600);

/// The address the harness gives its peer.
const PEER: &str = "127.0.0.1:50000";

/// Every way to cut `input` into two reads, and one byte per read.
fn splits(input: &[u8]) -> Vec<Vec<&[u8]>> {
    let mut all: Vec<Vec<&[u8]>> = (0..=input.len())
        .map(|at| vec![&input[..at], &input[at..]])
        .collect();
    all.push(input.chunks(1).collect());
    all
}

/// For inputs around 64 KiB, where every split (or one byte per read,
/// each rescanning the buffer) would take minutes: two reads split
/// around every line boundary and the limit, and reads of a few odd sizes.
fn big_splits(input: &[u8]) -> Vec<Vec<&[u8]>> {
    let mut points: Vec<usize> = vec![0, 1, input.len() - 1, input.len()];
    for (i, &b) in input.iter().enumerate() {
        if b == b'\n' || i == MAX_LINE {
            points.extend([i.saturating_sub(1), i, i + 1, i + 2]);
        }
    }
    points.retain(|&at| at <= input.len());
    let mut all: Vec<Vec<&[u8]>> = points
        .into_iter()
        .map(|at| vec![&input[..at], &input[at..]])
        .collect();
    for size in [1000, 4093, 65_535, 65_536, 65_537] {
        all.push(input.chunks(size).collect());
    }
    all
}

fn run<P: Protocol<Log<Vec<u8>>>>(protocol: P, reads: &[&[u8]]) -> Harness<Log<Vec<u8>>> {
    let log = Log::new(Vec::new(), "memory".to_string());
    let mut h = Harness::with_state(log, protocol);
    for read in reads {
        h.feed(read);
    }
    h
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn client_lines_are_logged_and_acknowledged_on_any_split() {
    let input = b"hello\r\nsecond line\n\nunfinished";
    for reads in splits(input) {
        let mut h = run(Client::new(LONG), &reads);
        assert_eq!(text(&h.take_output()), "received\n".repeat(3));
        assert_eq!(
            text(&h.shared().out),
            format!("{PEER}: hello\n{PEER}: second line\n{PEER}: \n")
        );
        assert!(!h.is_closed());
        // What was left unfinished is logged and answered at the EOF.
        h.feed_eof();
        assert_eq!(h.take_output(), b"received\n");
        assert!(text(&h.shared().out).ends_with(&format!("\n{PEER}: unfinished\n")));
        assert!(h.is_closed());
    }
}

#[test]
fn a_message_without_a_newline_is_logged_and_answered_when_the_client_pauses() {
    // A zero quiet period: the timer is due as soon as the read is over.
    let mut h = run(Client::new(Duration::ZERO), &[b"hel", b"lo"]);
    assert!(h.take_output().is_empty());
    h.run_due_timers();
    assert_eq!(h.take_output(), b"received\n");
    h.feed(b"one line\nand a tail");
    h.run_due_timers();
    assert_eq!(h.take_output(), b"received\nreceived\n");
    assert_eq!(
        text(&h.shared().out),
        format!("{PEER}: hello\n{PEER}: one line\n{PEER}: and a tail\n")
    );
    assert!(!h.is_closed());
}

#[test]
fn what_a_client_left_unfinished_is_logged_when_its_connection_closes() {
    // Closed by the server, or reset: no EOF, and still nothing lost.
    let mut h = run(Client::new(LONG), &[b"line\nlast", b" words"]);
    h.with_ctx(|ctx| ctx.close());
    assert!(h.is_closed());
    assert_eq!(
        text(&h.shared().out),
        format!("{PEER}: line\n{PEER}: last words\n")
    );
}

#[test]
fn a_message_ended_by_a_pause_has_the_same_64_kib_limit() {
    let mut h = run(Client::new(Duration::ZERO), &[&vec![b'x'; MAX_LINE]]);
    h.run_due_timers();
    assert_eq!(h.take_output(), b"received\n");
    assert_eq!(h.shared().out.len(), PEER.len() + 2 + MAX_LINE + 1);
    // One byte more never waits for a pause.
    let mut h = run(Client::new(LONG), &[&vec![b'x'; MAX_LINE + 1]]);
    assert_eq!(h.take_output(), b"error: line too long\n");
    assert!(h.shared().out.is_empty());
    assert!(h.is_closed());
}

#[test]
fn a_client_line_of_exactly_64_kib_is_accepted() {
    let mut input = vec![b'x'; MAX_LINE];
    input.push(b'\n');
    for reads in big_splits(&input) {
        let mut h = run(Client::new(LONG), &reads);
        assert_eq!(h.take_output(), b"received\n");
        assert_eq!(h.shared().out.len(), PEER.len() + 2 + MAX_LINE + 1);
        assert!(!h.is_closed());
    }
}

#[test]
fn a_client_line_over_64_kib_is_refused_before_its_newline() {
    let mut input = b"fine\n".to_vec();
    input.extend_from_slice(&vec![b'x'; MAX_LINE + 1]);
    for reads in big_splits(&input) {
        let mut h = run(Client::new(LONG), &reads);
        assert_eq!(h.take_output(), b"received\nerror: line too long\n");
        assert_eq!(text(&h.shared().out), format!("{PEER}: fine\n"));
        assert!(h.is_closed());
    }
}

/// A log whose every write fails, like a file on a full disk.
struct FullDisk;

impl Write for FullDisk {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::from_raw_os_error(libc::ENOSPC))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failed_log_write_is_reported_to_the_client_on_any_split() {
    let input = b"one\ntwo\n";
    for reads in splits(input) {
        let log = Log::new(FullDisk, "full".to_string());
        let mut h = Harness::with_state(log, Client::new(LONG));
        for read in reads {
            h.feed(read);
        }
        assert_eq!(h.take_output(), b"error: log write failed\n".repeat(2));
        assert!(!h.is_closed());
    }
}

#[test]
fn stdin_lines_are_logged_on_any_split() {
    let input = b"typed\r\n\nmore typing\nno newline";
    for reads in splits(input) {
        let mut h = run(Terminal::new(LONG), &reads);
        assert_eq!(
            text(&h.shared().out),
            "stdin: typed\nstdin: \nstdin: more typing\n"
        );
        // A file or pipe that ends without a newline: its last line is kept.
        h.feed_eof();
        assert!(text(&h.shared().out).ends_with("\nstdin: no newline\n"));
        // Nothing goes back to the terminal.
        assert!(h.take_output().is_empty());
    }
}

#[test]
fn a_long_stdin_line_is_skipped_and_logging_goes_on() {
    let mut input = b"before\n".to_vec();
    input.extend_from_slice(&vec![b'x'; MAX_LINE + 10]);
    input.extend_from_slice(b"\nafter\n");
    for reads in big_splits(&input) {
        let mut h = run(Terminal::new(LONG), &reads);
        assert_eq!(text(&h.shared().out), "stdin: before\nstdin: after\n");
        assert!(!h.is_closed());
    }
}
