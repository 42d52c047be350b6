//! cmd: each command gets its length, then (once acknowledged) exactly the
//! answer that many bytes long, in order, whatever the network does.
//!
//! The policy allows no program, so nothing is spawned (a child's pipes
//! are real fds the simulation does not poll): every command is refused
//! through the whole length / acknowledgement / body exchange. The
//! clients are the tutorial's, in lock-step: a command (with a newline or
//! without, ended by the server's line wait), then the length, a one-byte
//! acknowledgement, the body; then the next command.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use super::{every_fault_struck, shown, tight_config};
use crate::cmd::{LINE_WAIT, Policy, Session};
use sockloop::harness::{Act, Client, Phase, Rng, Sim, View, scenarios};

/// The answer a command line gets from a server that allows nothing.
fn refusal(line: &[u8]) -> Vec<u8> {
    let line = String::from_utf8_lossy(line);
    let body = match line.split_whitespace().next() {
        None => "error: empty command\n".to_string(),
        Some(name) => format!("error: command not allowed: {name}\n"),
    };
    let mut answer = body.len().to_string().into_bytes();
    answer.extend_from_slice(body.as_bytes());
    answer
}

/// What each peer must receive: the answers to the commands it has sent.
type Expected = Rc<RefCell<Vec<Vec<u8>>>>;

/// The tutorial's client, in lock-step.
struct LockStep {
    peer: usize,
    commands: VecDeque<Vec<u8>>,
    expected: Expected,
    /// Bytes of what it received that belong to finished exchanges.
    done: usize,
    /// The answer being waited for, and whether the acknowledgement went.
    waiting: Option<(Vec<u8>, bool)>,
}

impl Client for LockStep {
    fn act(&mut self, _: &mut Rng, received: &[u8], _: bool) -> Act {
        let Some((answer, acked)) = &mut self.waiting else {
            let Some(command) = self.commands.pop_front() else {
                return Act::Done;
            };
            let line = command.strip_suffix(b"\n").unwrap_or(&command);
            let answer = refusal(line.strip_suffix(b"\r").unwrap_or(line));
            self.expected.borrow_mut()[self.peer].extend_from_slice(&answer);
            self.waiting = Some((answer, false));
            return Act::Send(command);
        };
        let got = received.len() - self.done;
        let digits = answer.iter().take_while(|b| b.is_ascii_digit()).count();
        if !*acked && got >= digits {
            *acked = true;
            return Act::Send(b"y".to_vec());
        }
        if got >= answer.len() {
            self.done += answer.len();
            self.waiting = None;
        }
        Act::Wait
    }
}

fn answered(expected: &Expected, view: &View<'_, Policy>) -> Result<(), String> {
    let expected = expected.borrow();
    for peer in view.peers() {
        let (got, want) = (peer.received(), &expected[peer.index()]);
        if !want.starts_with(got) {
            return Err(format!(
                "peer {} got {}, its commands call for {}",
                peer.index(),
                shown(got),
                shown(want)
            ));
        }
        // Not accepted yet (the connection limit), or cut off.
        let cut_off = !peer.is_made()
            || peer.is_reset()
            || peer.sent_eof()
            || matches!(peer.lost(), Some(Some(_)));
        if view.phase() == Phase::Quiet && !cut_off && got.len() != want.len() {
            return Err(format!(
                "peer {}: {} of {} bytes of answers",
                peer.index(),
                got.len(),
                want.len()
            ));
        }
    }
    Ok(())
}

/// A command line: a word or two (or nothing), with a newline or without.
fn command(rng: &mut Rng) -> Vec<u8> {
    let words = rng.range(0..=3);
    let mut line = Vec::new();
    for _ in 0..words {
        let len = rng.range(1..=8);
        line.extend(rng.bytes(len, b"lspwdcatxyz./-"));
        line.push(b' ');
    }
    if line.is_empty() || rng.chance(50) {
        line.extend_from_slice(if rng.chance(30) { b"\r\n" } else { b"\n" });
    }
    line
}

#[test]
fn sim_cmd() {
    let seen = scenarios("sim_cmd", 1300, |seed| {
        let config = tight_config(&mut Rng::new(seed));
        let policy = Policy {
            allow: Some(Vec::new()),
            shell: false,
            timeout: std::time::Duration::from_secs(10),
            max_output: 1 << 20,
            line_wait: LINE_WAIT,
        };
        let mut sim = Sim::new(seed, policy, config, Session::new).map_err(|e| e.to_string())?;
        let expected: Expected = Rc::default();
        for peer in 0..sim.rng().range(1..=3) {
            let rng = sim.rng();
            let commands = (0..rng.range(1..=4)).map(|_| command(rng)).collect();
            expected.borrow_mut().push(Vec::new());
            sim.connect(LockStep {
                peer,
                commands,
                expected: expected.clone(),
                done: 0,
                waiting: None,
            });
        }
        let shared = expected.clone();
        sim.check(move |view| answered(&shared, view));
        let turns = sim.rng().range(5..=80);
        sim.run(turns)?;
        sim.finish()
    });
    every_fault_struck("sim_cmd", seen, true);
}
