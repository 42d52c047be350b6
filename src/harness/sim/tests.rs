//! The simulation on a line protocol, one correct and one with the classic
//! framing bug: the bug must be found, named by its seed, and found again,
//! step for step, when that seed is replayed.

use std::panic::{self, AssertUnwindSafe};

use super::*;
use crate::context::Ctx;
use crate::harness::scenarios;

/// Answers each line with its length. With `each_read_a_line` it makes the
/// tutorials' mistake: whatever one read brings is taken for a line.
struct LineLength {
    each_read_a_line: bool,
}

impl Protocol for LineLength {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        if self.each_read_a_line {
            let line = data.strip_suffix(b"\n").unwrap_or(data);
            ctx.write(format!("{}\n", line.len()).as_bytes());
            return data.len();
        }
        let mut used = 0;
        while let Some(end) = data[used..].iter().position(|&b| b == b'\n') {
            ctx.write(format!("{end}\n").as_bytes());
            used += end + 1;
        }
        used
    }
}

/// What a peer must have received: the length of each line it sent.
fn lengths(sent: &[u8]) -> Vec<u8> {
    let mut lines: Vec<&[u8]> = sent.split(|&b| b == b'\n').collect();
    lines.pop(); // what follows the last newline is no line yet
    lines
        .iter()
        .map(|l| format!("{}\n", l.len()))
        .collect::<String>()
        .into_bytes()
}

fn scenario(seed: u64, each_read_a_line: bool) -> Result<(), String> {
    let make = move || LineLength { each_read_a_line };
    let mut sim = Sim::new(seed, (), Config::default(), make).map_err(|e| e.to_string())?;
    for _ in 0..sim.rng().range(1..=3) {
        let rng = sim.rng();
        let lines = (0..rng.range(1..=4))
            .map(|_| {
                let len = rng.size(30);
                let mut line = rng.bytes(len, b"abc");
                line.push(b'\n');
                line
            })
            .collect::<Vec<_>>();
        sim.connect(Script::new(lines));
    }
    sim.check(|view| {
        for peer in view.peers() {
            let want = lengths(peer.read());
            let quiet = view.phase() != Phase::Running && !peer.is_reset();
            if !want.starts_with(peer.received()) || (quiet && peer.received() != want) {
                return Err(format!("peer {} got {:?}", peer.index(), peer.received()));
            }
        }
        Ok(())
    });
    let turns = sim.rng().range(5..=40);
    sim.run(turns)?;
    sim.finish()
}

#[test]
fn a_correct_protocol_passes_and_every_fault_struck() {
    let seen = scenarios("correct_line_length", 300, |seed| scenario(seed, false));
    assert_eq!(seen.scenarios, 300);
    assert!(seen.split_reads > 0 && seen.partial_sends > 0 && seen.refused_sends > 0);
    assert!(seen.resets > 0 && seen.resets_mid_write > 0 && seen.early_eofs > 0);
    assert!(seen.refused_accepts > 0, "{seen:?}");
}

#[test]
fn a_framing_bug_is_found_named_by_its_seed_and_found_again_from_it() {
    let failure = panic::catch_unwind(AssertUnwindSafe(|| {
        scenarios("buggy_line_length", 300, |seed| scenario(seed, true))
    }))
    .expect_err("a protocol that takes each read for a line must fail");
    let message = crate::core::panic_message(&*failure);
    let seed = message
        .split("seed 0x")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_hexdigit()).next())
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .unwrap_or_else(|| panic!("no seed in {message:?}"));
    assert!(
        message.contains(&format!("SOCKLOOP_SIM_SEED={seed:#x}")),
        "{message}"
    );
    // Replayed, the scenario fails the same way, to the last step.
    let first = scenario(seed, true).expect_err("the seed fails again");
    let second = scenario(seed, true).expect_err("and again");
    assert_eq!(first, second);
    assert!(message.contains(&first), "{message}\n---\n{first}");
    // And the correct protocol passes the very same scenario.
    scenario(seed, false).unwrap();
}
