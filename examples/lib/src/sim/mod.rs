//! Every example protocol through sockloop's seeded fault simulation
//! ([`sockloop::harness::Sim`]): split reads, writes accepted in part,
//! resets in the middle of a write, early EOFs, timers out of order, clock
//! jumps and refused accepts, thousands of scenarios per `cargo test`. Each
//! file adds the protocol's own invariants (a model of what its peers must
//! receive) to the ones the simulation checks for every protocol.
//!
//! A failure names its seed; `SOCKLOOP_SIM_SEED=0x... cargo test -p
//! sockloop-examples NAME` replays it step by step. A soak runs more:
//! `SOCKLOOP_SIM_SCENARIOS=100000` or `SOCKLOOP_SIM_SECS=600` (per test).
//!
//! The counts below add up to 10,000 scenarios per `cargo test`.
//!
//! The TLS transport, once it lands, gets its scenarios here too (a
//! `tls.rs` running these protocols over the simulated stream wrapped in
//! TLS), so that its record layer meets the same splits and resets.

mod chat;
mod cmd;
mod echo;
mod http;
mod resp;
mod stdin_logger;
mod upload;

use sockloop::Config;
use sockloop::harness::{Rng, Seen};
use std::time::Duration;

/// Checks that every fault the simulation promises struck at least once in
/// a test's scenarios (unless it ran only a few: a replay). Timers out of
/// deadline order need timers of several sources: not for `echo`, which
/// sets none.
fn every_fault_struck(name: &str, seen: Seen, timers: bool) {
    if seen.scenarios < 100 {
        return;
    }
    let faults = [
        ("split read", seen.split_reads),
        ("send taken in part", seen.partial_sends),
        ("send refused", seen.refused_sends),
        ("reset", seen.resets),
        ("reset in the middle of a send", seen.resets_mid_write),
        ("early EOF", seen.early_eofs),
        ("accept refused with EMFILE", seen.refused_accepts),
        (
            "turn with timers out of deadline order",
            seen.reordered_timers,
        ),
    ];
    for (fault, count) in &faults[..faults.len() - usize::from(!timers)] {
        assert!(
            *count > 0,
            "{name}: no {fault} in {} scenarios",
            seen.scenarios
        );
    }
}

/// Limits small enough that a few kilobytes meet every one of them: the
/// watermarks (flow control), the output limit, the read budget (the ready
/// list), the accept budget and the connection limit.
fn tight_config(rng: &mut Rng) -> Config {
    let high = *rng.pick(&[64, 1024, 64 * 1024]);
    Config {
        high_watermark: high,
        low_watermark: high / 4,
        max_output: *rng.pick(&[high * 8, 1 << 20]),
        read_budget: *rng.pick(&[16, 4096, 256 * 1024]),
        accept_budget: rng.range(1..=4),
        max_connections: *rng.pick(&[1, 2, 1000]),
        accept_backoff: Duration::from_millis(*rng.pick(&[1, 100])),
        ..Config::default()
    }
}

/// The errors a check returns say which peer and what it got.
fn shown(bytes: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX)]).into_owned();
    if bytes.len() > MAX {
        format!("{text:?}... ({} bytes)", bytes.len())
    } else {
        format!("{text:?}")
    }
}

/// What `codec::Messages` makes of the bytes a peer's protocol read, when
/// only newlines and the end of the input end messages: the complete
/// lines (a `\r` before the newline dropped), then the unfinished rest
/// (said at a pause or the end). A message of more than `max` bytes ends
/// it all: what came before it, and `true`.
struct Said {
    lines: Vec<Vec<u8>>,
    rest: Vec<u8>,
    too_long: bool,
}

fn said_by(read: &[u8], max: usize) -> Said {
    said_by_skipping(read, max, false)
}

/// [`said_by`], or with `skip` (`Messages::skip_too_long`) a message over
/// the limit is dropped and the next ones go on.
fn said_by_skipping(read: &[u8], max: usize, skip: bool) -> Said {
    let mut said = Said {
        lines: Vec::new(),
        rest: Vec::new(),
        too_long: false,
    };
    let mut parts = read.split(|&b| b == b'\n').peekable();
    while let Some(part) = parts.next() {
        let last = parts.peek().is_none();
        let content = part.strip_suffix(b"\r").unwrap_or(part);
        if content.len() > max {
            said.too_long = true;
            if skip {
                continue;
            }
            return said;
        }
        if last {
            said.rest = part.to_vec();
        } else {
            said.lines.push(content.to_vec());
        }
    }
    said
}

impl Said {
    /// Whether `got` (the messages said so far, in order) is what these
    /// rules allow: the lines, and the rest whole once it has been said.
    fn allows(&self, got: &[&[u8]]) -> bool {
        let rest = self.rest.strip_suffix(b"\r").unwrap_or(&self.rest);
        let lines = got.len().min(self.lines.len());
        got[..lines]
            .iter()
            .zip(&self.lines)
            .all(|(a, b)| *a == &b[..])
            && match &got[lines..] {
                [] => true,
                [tail] => *tail == rest && !self.rest.is_empty(),
                _ => false,
            }
    }

    /// The messages in full, the rest included.
    fn all(&self) -> usize {
        self.lines.len() + usize::from(!self.rest.is_empty())
    }
}

/// A script of lines for a client: a few short lines (`\n` or `\r\n`,
/// some empty), maybe an unfinished last one, now and then (given a limit)
/// one over `too_long`.
fn lines_script(rng: &mut Rng, too_long: Option<usize>) -> Vec<Vec<u8>> {
    let mut script: Vec<Vec<u8>> = (0..rng.range(0..=5))
        .map(|_| {
            let len = rng.size(40);
            let mut line = rng.bytes(len, b"abc xyz\r\t");
            line.extend_from_slice(if rng.chance(30) { b"\r\n" } else { b"\n" });
            line
        })
        .collect();
    if rng.chance(40) {
        let len = rng.range(1..=30);
        script.push(rng.bytes(len, b"abc xyz"));
    }
    if let (Some(max), true) = (too_long, rng.chance(3)) {
        script.insert(rng.below(script.len() + 1), vec![b'L'; max + 1]);
    }
    script
}
