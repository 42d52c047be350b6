//! chat: the operator's screen is the room's history, and each member hears
//! exactly that history from the moment it joined, its own words excepted.
//!
//! - every member's messages on the screen are the lines it sent, in
//!   order, then what it left unfinished (said at a pause or when it
//!   leaves), nothing after a line over the limit; joined before, left
//!   after, once each;
//! - what a member received (the keyboard's lines aside) is the screen
//!   from its arrival on, others' lines only, up to the moment its close
//!   began, then `error: line too long` if that is why; all of it, once
//!   the network is quiet, for a member still there;
//! - the keyboard's lines reach members in the order it sent them.

use std::time::Duration;

use super::{
    Said, every_fault_struck, lines_script, said_by, said_by_skipping, shown, tight_config,
};
use crate::chat::{Keyboard, MAX_LINE, Member, Room};
use sockloop::harness::{Phase, Rng, Script, Sim, View, scenarios};

type Screen = Room<Vec<u8>>;

const QUIET: Duration = Duration::from_millis(200);

/// The complete lines of `bytes` (an unfinished last one left out).
fn complete_lines(bytes: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    lines.pop();
    lines
}

fn the_room(view: &View<'_, Screen>) -> Result<(), String> {
    let screen = complete_lines(&view.shared().screen);
    let members: Vec<_> = view.peers().iter().filter(|p| p.is_socket()).collect();
    for member in &members {
        let name = member.addr().to_string();
        let joined = format!("* {name} joined");
        let left = format!("* {name} left");
        let prefix = format!("{name}: ");
        let at = |line: &str| screen.iter().position(|l| *l == line.as_bytes());
        let count = |line: &str| screen.iter().filter(|l| **l == line.as_bytes()).count();
        if count(&joined) != usize::from(member.is_made()) || count(&left) > 1 {
            return Err(format!(
                "{name} joined or left more than once, or without coming"
            ));
        }
        if count(&left) != usize::from(member.lost().is_some()) {
            return Err(format!(
                "{name} lost is {:?}, but the screen says otherwise",
                member.lost()
            ));
        }
        let said: Vec<(usize, &[u8])> = (screen.iter().enumerate())
            .filter_map(|(i, l)| Some((i, l.strip_prefix(prefix.as_bytes())?)))
            .collect();
        let (first, last) = (
            at(&joined).unwrap_or(usize::MAX),
            at(&left).unwrap_or(usize::MAX),
        );
        if said.iter().any(|&(i, _)| i < first || i > last) {
            return Err(format!("{name} spoke before joining or after leaving"));
        }
        let texts: Vec<&[u8]> = said.iter().map(|&(_, t)| t).collect();
        let model: Said = said_by(member.read(), MAX_LINE);
        if !model.allows(&texts) {
            return Err(format!(
                "{name} said {:?}, having sent {}",
                texts.iter().map(|t| shown(t)).collect::<Vec<_>>(),
                shown(member.read())
            ));
        }
        if view.phase() != Phase::Running && !model.too_long && texts.len() != model.all() {
            return Err(format!(
                "{name}: {} of {} messages said",
                texts.len(),
                model.all()
            ));
        }
        heard(view, member, &screen)?;
    }
    Ok(())
}

/// What `member` received, against the screen.
fn heard(
    view: &View<'_, Screen>,
    member: &sockloop::harness::Peer<'_>,
    screen: &[&[u8]],
) -> Result<(), String> {
    let name = member.addr().to_string();
    let joined = format!("* {name} joined");
    let Some(from) = screen.iter().position(|l| *l == joined.as_bytes()) else {
        return Ok(());
    };
    let own = format!("{name}: ");
    let others: Vec<&[u8]> = screen[from + 1..]
        .iter()
        .copied()
        .filter(|l| !l.starts_with(own.as_bytes()) && *l != format!("* {name} left").as_bytes())
        .collect();
    let got = complete_lines(member.received());
    let (keyboard, room): (Vec<&[u8]>, Vec<&[u8]>) =
        got.iter().partition(|l| l.starts_with(b"server: "));
    let mut room = room;
    if room.last() == Some(&&b"error: line too long"[..]) {
        room.pop();
    }
    if room.len() > others.len() || room.iter().zip(&others).any(|(a, b)| a != b) {
        return Err(format!(
            "{name} heard {:?}, the room said {:?}",
            room.iter().map(|l| shown(l)).collect::<Vec<_>>(),
            others.iter().map(|l| shown(l)).collect::<Vec<_>>()
        ));
    }
    let still_there = member.lost().is_none() && !member.is_reset() && !member.sent_eof();
    if view.phase() == Phase::Quiet && still_there && room.len() != others.len() {
        return Err(format!(
            "{name} heard {} of {} lines",
            room.len(),
            others.len()
        ));
    }
    // The keyboard's lines, in the keyboard's order.
    if let Some(pipe) = view.peers().iter().find(|p| !p.is_socket()) {
        let typed = said_by_skipping(pipe.read(), MAX_LINE, true);
        let mut next = typed.lines.iter().map(|l| l.as_slice());
        for line in keyboard {
            let text = &line[b"server: ".len()..];
            if !next.any(|t| t == text) && text != typed.rest.as_slice() {
                return Err(format!("{name} heard the keyboard say {}", shown(text)));
            }
        }
    }
    Ok(())
}

#[test]
fn sim_chat() {
    let seen = scenarios("sim_chat", 1400, |seed| {
        let config = tight_config(&mut Rng::new(seed));
        let room = Room { screen: Vec::new() };
        let mut sim =
            Sim::new(seed, room, config, || Member::new(QUIET)).map_err(|e| e.to_string())?;
        for _ in 0..sim.rng().range(1..=4) {
            let script = lines_script(sim.rng(), Some(MAX_LINE));
            sim.connect(Script::new(script));
        }
        if sim.rng().chance(30) {
            let script = lines_script(sim.rng(), Some(MAX_LINE));
            sim.add_pipe(Keyboard::new(QUIET), Script::new(script))
                .map_err(|e| e.to_string())?;
        }
        sim.check(the_room);
        let turns = sim.rng().range(5..=60);
        sim.run(turns)?;
        sim.finish()
    });
    every_fault_struck("sim_chat", seen, true);
}
