//! stdin_logger: the log holds each client's messages, in order, as its
//! framing makes them (lines, then what was left unfinished), and each
//! client hears one `received` per message logged, once the network is
//! quiet all of them; the terminal's lines are logged in order, a line
//! over the limit skipped.

use std::time::Duration;

use super::{every_fault_struck, lines_script, said_by, said_by_skipping, shown, tight_config};
use crate::stdin_logger::{Client, Log, MAX_LINE, Terminal};
use sockloop::harness::{Phase, Rng, Script, Sim, View, scenarios};

type Logged = Log<Vec<u8>>;

const QUIET: Duration = Duration::from_millis(200);

fn logged(view: &View<'_, Logged>) -> Result<(), String> {
    let log = &view.shared().out;
    let mut entries: Vec<&[u8]> = log.split(|&b| b == b'\n').collect();
    if entries.pop() != Some(&[][..]) {
        return Err(format!(
            "the log does not end with a whole entry: {}",
            shown(log)
        ));
    }
    for peer in view.peers() {
        let source = if peer.is_socket() {
            peer.addr().to_string()
        } else {
            "stdin".to_string()
        };
        let prefix = format!("{source}: ");
        let texts: Vec<&[u8]> = (entries.iter())
            .filter_map(|e| e.strip_prefix(prefix.as_bytes()))
            .collect();
        let model = said_by_skipping(peer.read(), MAX_LINE, !peer.is_socket());
        if !model.allows(&texts) {
            return Err(format!(
                "{source} logged {:?}, having sent {}",
                texts.iter().map(|t| shown(t)).collect::<Vec<_>>(),
                shown(peer.read())
            ));
        }
        let done = view.phase() != Phase::Running;
        if done && !model.too_long && texts.len() != model.all() {
            return Err(format!(
                "{source}: {} of {} messages logged",
                texts.len(),
                model.all()
            ));
        }
        if !peer.is_socket() {
            continue;
        }
        // One `received` per message logged, nothing else.
        let got = peer.received();
        let answers = got.len() / b"received\n".len();
        let whole = b"received\n".repeat(answers);
        if !b"received\n".repeat(answers + 1).starts_with(got) || answers > texts.len() {
            return Err(format!(
                "{source} heard {} for {} messages",
                shown(got),
                texts.len()
            ));
        }
        let cut_off = peer.is_reset() || matches!(peer.lost(), Some(Some(_)));
        if done && !cut_off && (got != whole || answers != texts.len()) {
            return Err(format!(
                "{source} heard {answers} answers for {} messages",
                texts.len()
            ));
        }
    }
    let _ = said_by;
    Ok(())
}

#[test]
fn sim_stdin_logger() {
    let seen = scenarios("sim_stdin_logger", 1300, |seed| {
        let config = tight_config(&mut Rng::new(seed));
        let log = Log::new(Vec::new(), "memory".to_string());
        let mut sim =
            Sim::new(seed, log, config, || Client::new(QUIET)).map_err(|e| e.to_string())?;
        for _ in 0..sim.rng().range(1..=4) {
            let script = lines_script(sim.rng(), None);
            sim.connect(Script::new(script));
        }
        if sim.rng().chance(40) {
            let script = lines_script(sim.rng(), None);
            sim.add_pipe(Terminal::new(QUIET), Script::new(script))
                .map_err(|e| e.to_string())?;
        }
        sim.check(logged);
        let turns = sim.rng().range(5..=60);
        sim.run(turns)?;
        sim.finish()
    });
    every_fault_struck("sim_stdin_logger", seen, true);
}
