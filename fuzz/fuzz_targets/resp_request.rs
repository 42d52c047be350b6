//! The resp_server connection (`sockloop_examples::resp`: its request
//! parser, both request forms, and every command it dispatches to) driven
//! through the harness with arbitrary bytes, cut into reads every way, to a
//! peer that reads its replies slowly (so a pipeline pauses and resumes).
//!
//! Input: byte 0 how the rest is cut into reads, byte 1 the peer's window
//! and whether the peer half-closes at the end.
//!
//! Invariants:
//! - no panic (libFuzzer's hook aborts on one, even one the reactor catches);
//! - the output is a sequence of complete, well-formed replies (RESP2, and
//!   RESP3's types for when HELLO 3 answers in them);
//! - the same replies whether the input arrives in one read or in the
//!   fuzzer's reads, unless it names a command whose answer is random or
//!   follows a hash map's order (SPOP, KEYS, HGETALL ...: see `UNORDERED`);
//! - memory is bounded: what the server holds between reads (the keyspace,
//!   the connection's buffers, the replies waiting for the slow peer) stays
//!   under 64 bytes per input byte plus 4 MiB, however large a length a
//!   header claims;
//! - the end of the stream, or a protocol error or QUIT, closes the connection.

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use sockloop::harness::Harness;
use sockloop_examples::resp::{Connection, CountingAllocator, State, allocated};

/// Counts the bytes allocated and not yet freed, to bound the server's
/// memory: resp_server's own allocator.
#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Commands whose replies depend on a random choice or on a hash map's
/// iteration order, which differ between two keyspaces: with one of these
/// in the input, the one-read and many-read runs are not compared.
const UNORDERED: &[&[u8]] = &[
    b"spop",
    b"srandmember",
    b"randomkey",
    b"keys",
    b"scan",
    b"smembers",
    b"hgetall",
    b"hkeys",
    b"hvals",
];

/// The deepest nesting a reply may have (COMMAND's are the deepest).
const MAX_DEPTH: usize = 16;

/// Reads one CRLF-terminated line starting at `at`: its content and where
/// the next byte is. A line holds no CR or LF of its own.
fn line(out: &[u8], at: usize) -> Result<(&[u8], usize), String> {
    let rest = &out[at..];
    let end = rest
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or_else(|| format!("an unterminated line at {at}"))?;
    let content = &rest[..end];
    if content.contains(&b'\r') || content.contains(&b'\n') {
        return Err(format!("a bare CR or LF inside the line at {at}"));
    }
    Ok((content, at + end + 2))
}

fn integer(text: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an integer: {:?}", String::from_utf8_lossy(text)))
}

/// Checks one reply at `at`; returns where the next one starts.
fn reply(out: &[u8], at: usize, depth: usize) -> Result<usize, String> {
    if depth > MAX_DEPTH {
        return Err(format!("a reply nested deeper than {MAX_DEPTH} at {at}"));
    }
    let kind = *out.get(at).ok_or("a missing reply")?;
    let (text, next) = line(out, at + 1)?;
    match kind {
        b'+' | b'-' => Ok(next),
        b':' => integer(text).map(|_| next),
        b'_' if text.is_empty() => Ok(next),
        b'#' if text == b"t" || text == b"f" => Ok(next),
        b',' | b'(' if !text.is_empty() => Ok(next),
        b'$' | b'!' | b'=' => {
            let len = integer(text)?;
            if len == -1 && kind == b'$' {
                return Ok(next);
            }
            let len = usize::try_from(len).map_err(|_| format!("bulk length {len} at {at}"))?;
            let end = next + len;
            if out.get(end..end + 2) != Some(b"\r\n") {
                return Err(format!(
                    "a bulk of {len} bytes at {at} is not followed by CRLF"
                ));
            }
            Ok(end + 2)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let count = integer(text)?;
            if count == -1 && kind == b'*' {
                return Ok(next);
            }
            let count = usize::try_from(count).map_err(|_| format!("count {count} at {at}"))?;
            let items = if matches!(kind, b'%' | b'|') {
                2 * count
            } else {
                count
            };
            let mut at = next;
            for _ in 0..items {
                at = reply(out, at, depth + 1)?;
            }
            Ok(at)
        }
        _ => Err(format!(
            "a reply of unknown type {:?} at {at}",
            kind as char
        )),
    }
}

/// Checks that `out` is a sequence of whole replies.
fn check_replies(out: &[u8]) {
    let mut at = 0;
    while at < out.len() {
        match reply(out, at, 0) {
            Ok(next) => at = next,
            Err(e) => panic!("malformed output: {e}\n{:?}", String::from_utf8_lossy(out)),
        }
    }
}

/// One connection: the reads, a slow peer taking at most `window` bytes of
/// replies at a time, then (if `eof`) the end of the stream. Returns the
/// replies, and checks memory between reads.
fn session(reads: &[&[u8]], window: usize, eof: bool, limit: usize) -> (Vec<u8>, bool) {
    let mut h = Harness::with_state(State::new(), Connection::default());
    // A stopped clock: times to live read the same in both runs.
    h.advance(Duration::ZERO);
    h.set_peer_window(Some(window));
    let base = allocated();
    let mut out = Vec::new();
    for read in reads {
        h.feed(read);
        drain(&mut h, &mut out, base, limit);
    }
    if eof {
        h.feed_eof();
        drain(&mut h, &mut out, base, limit);
        assert!(h.is_closed(), "still open after the end of the stream");
    }
    (out, h.is_closed())
}

/// The peer reads what it is sent, a window at a time, and the paused
/// connection's resume timer runs, until nothing more comes.
fn drain(h: &mut Harness<State>, out: &mut Vec<u8>, base: usize, limit: usize) {
    loop {
        let held = allocated().saturating_sub(base + out.capacity());
        assert!(
            held <= limit,
            "the server holds {held} bytes (limit {limit})"
        );
        let got = h.take_output();
        h.run_due_timers();
        if got.is_empty() {
            // One more turn: the timer may have resumed reading.
            let more = h.take_output();
            if more.is_empty() {
                return;
            }
            out.extend_from_slice(&more);
            continue;
        }
        out.extend_from_slice(&got);
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&[split, peer], data)) = input.split_first_chunk::<2>() else {
        return;
    };
    let window = [7, 512, 4096, 64 * 1024][usize::from(peer & 3)];
    let eof = peer & 4 == 0;
    let limit = 64 * data.len() + (4 << 20);
    let (out, closed) = session(&sockloop_fuzz::chunks(data, split), window, eof, limit);
    check_replies(&out);
    let lower = data.to_ascii_lowercase();
    let ordered = !UNORDERED
        .iter()
        .any(|name| lower.windows(name.len()).any(|w| w == *name));
    if ordered && split != 0 {
        let (whole, whole_closed) = session(&[data], 64 * 1024, eof, limit);
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&whole),
            "the replies depend on how the input was cut into reads"
        );
        assert_eq!(closed, whole_closed);
    }
});
