//! The harness holds one connection, so a member's broadcasts reach no one
//! there (a sender never hears its own messages): what a member relays to
//! the others is checked by tests/chat_server.rs over real sockets. Here:
//! what the operator's screen shows on every split, the pause and the end of
//! the input, that nothing comes back to the sender, the length limit, and
//! the keyboard, whose broadcast does reach the harness connection.

use super::*;
use sockloop::harness::Harness;

/// The address the harness gives its peer.
const PEER: &str = "127.0.0.1:50000";

/// A quiet period no test waits for: only a newline or the end ends a message.
const LONG: Duration = Duration::from_secs(3600);

/// Every way to cut `input` into two reads, and one byte per read.
fn splits(input: &[u8]) -> Vec<Vec<&[u8]>> {
    let mut all: Vec<Vec<&[u8]>> = (0..=input.len())
        .map(|at| vec![&input[..at], &input[at..]])
        .collect();
    all.push(input.chunks(1).collect());
    all
}

fn run<P: Protocol<Room<Vec<u8>>>>(protocol: P, reads: &[&[u8]]) -> Harness<Room<Vec<u8>>> {
    let mut h = Harness::with_state(Room { screen: Vec::new() }, protocol);
    for read in reads {
        h.feed(read);
    }
    h
}

/// What the operator's screen shows, taken off it.
fn screen(h: &mut Harness<Room<Vec<u8>>>) -> String {
    String::from_utf8_lossy(&std::mem::take(&mut h.shared().screen)).into_owned()
}

#[test]
fn the_operator_sees_every_line_and_the_sender_hears_nothing_back_on_any_split() {
    let input = b"hello\r\nsecond line\n\nlast\n";
    for reads in splits(input) {
        let mut h = run(Member::new(LONG), &reads);
        assert_eq!(
            screen(&mut h),
            format!(
                "* {PEER} joined\n{PEER}: hello\n{PEER}: second line\n{PEER}: \n{PEER}: last\n"
            )
        );
        assert!(h.take_output().is_empty());
        assert!(!h.is_closed());
    }
}

#[test]
fn a_message_without_a_newline_is_said_when_the_client_pauses() {
    // A zero quiet period: the timer is due as soon as the read is over.
    let mut h = run(Member::new(Duration::ZERO), &[b"hel", b"lo"]);
    screen(&mut h);
    h.run_due_timers();
    assert_eq!(screen(&mut h), format!("{PEER}: hello\n"));
    h.feed(b"and a line\nand a tail");
    h.run_due_timers();
    assert_eq!(
        screen(&mut h),
        format!("{PEER}: and a line\n{PEER}: and a tail\n")
    );
    assert!(h.take_output().is_empty());
}

#[test]
fn what_a_leaving_client_left_unfinished_is_said_before_it_leaves_on_any_split() {
    for reads in splits(b"one\nlast words") {
        let mut h = run(Member::new(LONG), &reads);
        h.feed_eof();
        assert_eq!(
            screen(&mut h),
            format!("* {PEER} joined\n{PEER}: one\n{PEER}: last words\n* {PEER} left\n")
        );
        assert!(h.is_closed());
    }
}

#[test]
fn a_message_of_exactly_the_limit_is_accepted_with_either_ending() {
    let exact = vec![b'x'; MAX_LINE];
    let expected = format!("{PEER}: {}\n", "x".repeat(MAX_LINE));
    for ending in [&b"\r\n"[..], b"\n"] {
        let input = [&exact[..], ending].concat();
        for at in [0, 1, MAX_LINE, MAX_LINE + 1, input.len()] {
            let mut h = run(Member::new(LONG), &[&input[..at], &input[at..]]);
            assert!(screen(&mut h).ends_with(&expected));
            assert!(h.take_output().is_empty());
            assert!(!h.is_closed());
        }
    }
    // Ended by a pause: the same count.
    let mut h = run(Member::new(Duration::ZERO), &[&exact]);
    h.run_due_timers();
    assert!(screen(&mut h).ends_with(&expected));
    assert!(!h.is_closed());
}

#[test]
fn a_message_over_the_limit_is_refused_before_its_end() {
    // One byte over, and neither a newline nor a pause: refused all the same.
    let mut input = b"fine\n".to_vec();
    input.extend_from_slice(&[b'x'; MAX_LINE + 1]);
    for at in [0, 5, 6, MAX_LINE + 5, input.len()] {
        let mut h = run(Member::new(LONG), &[&input[..at], &input[at..]]);
        assert_eq!(h.take_output(), b"error: line too long\n");
        assert!(h.is_closed());
        // The refused bytes are not said when the connection closes.
        assert_eq!(
            screen(&mut h),
            format!("* {PEER} joined\n{PEER}: fine\n* {PEER} left\n")
        );
    }
}

#[test]
fn the_keyboard_sends_each_message_whole_on_any_split_and_the_tail_at_its_eof() {
    let input = b"hello\r\nsecond line\n\nno newline yet";
    for reads in splits(input) {
        let mut h = run(Keyboard::new(LONG), &reads);
        assert_eq!(
            h.take_output(),
            b"server: hello\nserver: second line\nserver: \n"
        );
        h.feed_eof();
        assert_eq!(h.take_output(), b"server: no newline yet\n");
        // The operator typed it: it is not shown back.
        assert!(screen(&mut h).is_empty());
    }
}

#[test]
fn the_keyboard_skips_a_long_line_and_goes_on() {
    let mut input = b"before\n".to_vec();
    input.extend_from_slice(&[b'x'; MAX_LINE + 10]);
    input.extend_from_slice(b"\nafter\n");
    for at in [
        0,
        7,
        8,
        MAX_LINE + 8,
        MAX_LINE + 17,
        MAX_LINE + 18,
        input.len(),
    ] {
        let mut h = run(Keyboard::new(LONG), &[&input[..at], &input[at..]]);
        assert_eq!(h.take_output(), b"server: before\nserver: after\n");
        assert!(!h.is_closed());
    }
}

#[test]
fn messages_are_prefixed_with_their_sender() {
    let mut out = b"stale".to_vec();
    format_message(&mut out, "127.0.0.1:5000", b"hi there");
    assert_eq!(out, b"127.0.0.1:5000: hi there\n");
}
