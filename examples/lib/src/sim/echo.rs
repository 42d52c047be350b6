//! echo: every byte a peer sends comes back to it, once, in order.

use super::{every_fault_struck, shown, tight_config};
use crate::echo::Echo;
use sockloop::harness::{Phase, Script, Sim, View, scenarios};

fn echoed(view: &View<'_, ()>) -> Result<(), String> {
    for peer in view.peers() {
        let (got, read) = (peer.received(), peer.read());
        if !read.starts_with(got) {
            return Err(format!(
                "peer {} got back {} for {}",
                peer.index(),
                shown(got),
                shown(read)
            ));
        }
        // A peer the server did not cut off (a reset, the output limit)
        // has everything back once the network is quiet.
        let whole = !peer.is_reset() && !matches!(peer.lost(), Some(Some(_)));
        if view.phase() != Phase::Running && whole && got.len() != read.len() {
            return Err(format!(
                "peer {}: {} of {} bytes came back",
                peer.index(),
                got.len(),
                read.len()
            ));
        }
    }
    Ok(())
}

#[test]
fn sim_echo() {
    let seen = scenarios("sim_echo", 1500, |seed| {
        let mut sim = Sim::new(
            seed,
            (),
            tight_config(&mut sockloop::harness::Rng::new(seed)),
            || Echo,
        )
        .map_err(|e| e.to_string())?;
        for _ in 0..sim.rng().range(1..=3) {
            let rng = sim.rng();
            let messages: Vec<Vec<u8>> = (0..rng.range(1..=6))
                .map(|_| {
                    let len = rng.size(700);
                    rng.bytes(len, b"")
                })
                .collect();
            sim.connect(Script::new(messages));
        }
        sim.check(echoed);
        let turns = sim.rng().range(5..=60);
        sim.run(turns)?;
        sim.finish()
    });
    every_fault_struck("sim_echo", seen, false);
}
