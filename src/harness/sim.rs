//! Seeded fault simulation: a protocol run through what real networks do,
//! deterministically, from one seed.
//!
//! A [`Sim`] is a real [`Reactor`] with a simulated listener, simulated
//! connections and a stopped clock. The reactor's own machinery runs (the
//! same accept and read paths, batching, flow control, timers, settling and
//! close path); the simulation replaces only the byte streams, the poller's
//! events and the clock, and each turn it draws from the seed what the
//! network does next:
//!
//! - the peers' bytes arrive split at random points, several sends
//!   coalesced into one read or one send cut into many;
//! - each write is accepted only in part, by a socket buffer of a random
//!   size, and the rest refused until the peer reads and the socket turns
//!   writable again;
//! - connections are reset, some in the middle of one of the reactor's
//!   writes;
//! - a peer's EOF arrives early: with its last bytes, in the same event,
//!   or before it has sent all it meant to;
//! - due timers of different sources fire in any order (a source's own keep
//!   their deadline order), and the clock jumps by anything from nothing to
//!   many seconds, never while a sent byte is in flight for longer than
//!   [`Faults::max_delay`];
//! - accepts fail with EMFILE, and the listener backs off.
//!
//! After every turn the simulation checks what must always hold: no
//! protocol callback panicked; callbacks came in the order the
//! [`Protocol`] trait promises, `connection_lost` exactly once per
//! connection made; every byte the reactor took from a protocol reached
//! that peer once and in order (or the connection was reset or aborted);
//! no connection holds more output or input than the [`Config`] allows; and
//! the protocol's own invariants, which the test supplies ([`Sim::check`]).
//! At the end ([`Sim::finish`]) it lets everything drain, checks again with
//! the network quiet, closes every connection, shuts the reactor down and
//! checks once more.
//!
//! Scenarios are run by the thousand with [`scenarios`]: a failing one
//! reports its seed, and the same seed replays it exactly.
//!
//! ```
//! use sockloop::harness::{Phase, Script, Sim, scenarios};
//! use sockloop::{Config, Ctx, Protocol};
//!
//! struct Echo;
//! impl Protocol for Echo {
//!     fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
//!         ctx.write(data);
//!         data.len()
//!     }
//! }
//!
//! scenarios("echo_doc", 20, |seed| {
//!     let mut sim = Sim::new(seed, (), Config::default(), || Echo).unwrap();
//!     for _ in 0..2 {
//!         let message = sim.rng().bytes(100, b"");
//!         sim.connect(Script::new([message]));
//!     }
//!     sim.check(|view| {
//!         for peer in view.peers() {
//!             // Whatever came back is what the server read, in order...
//!             if !peer.read().starts_with(peer.received()) {
//!                 return Err(format!("peer {} got other bytes back", peer.index()));
//!             }
//!             // ...and once the network is quiet, all of it.
//!             if view.phase() == Phase::Quiet && !peer.is_reset() && peer.received() != peer.read() {
//!                 return Err(format!("peer {} is missing bytes", peer.index()));
//!             }
//!         }
//!         Ok(())
//!     });
//!     sim.run(40)?;
//!     sim.finish()
//! });
//! ```

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use mio::Token;

use super::Rng;
use super::net::{Net, Seen, Shared, SimListener, SimStream, Wire};
use super::run::verbose;
use super::watch::Watched;
use crate::config::Config;
use crate::protocol::Protocol;
use crate::reactor::Reactor;
use crate::sources::{Event, listener, stream};
use crate::transport::{Stream, flag};
use trace::{Step, describe};
pub use view::{Act, Client, Faults, Peer, Phase, Script, View};

/// A protocol's own invariant, checked after every turn.
type Check<S> = Box<dyn FnMut(&View<'_, S>) -> Result<(), String>>;

/// Turns kept in a failure's report.
const TRACE: usize = 48;
/// Turns the end of a scenario may take in each of its phases. A drain
/// stops as soon as nothing moves; this bounds only one that keeps moving,
/// and must leave room for a socket buffer of one byte, one byte a turn,
/// to pass everything a scenario sends (2,000 did not: the long soak found
/// scenarios called quiet with bytes still on their way).
const END_TURNS: usize = 50_000;
/// Clock jumps to the next timer while the network is quiet, per phase.
const IDLE_JUMPS: usize = 64;

/// A seeded fault simulation of one protocol: see the module documentation.
pub struct Sim<S: 'static> {
    reactor: Reactor<S>,
    net: Shared,
    rng: Rng,
    faults: Faults,
    listener: Token,
    /// Each peer's application, until it is done.
    clients: Vec<Option<Box<dyn Client>>>,
    /// Each peer's own generator.
    client_rngs: Vec<Rng>,
    /// Peers that will connect, not yet in the backlog.
    waiting: Vec<usize>,
    /// The listener has connections to report.
    listener_edge: bool,
    checks: Vec<Check<S>>,
    /// The TLS engines of the peers that speak it.
    #[cfg(feature = "tls")]
    engines: Vec<Option<rustls::ClientConnection>>,
    turn: usize,
    trace: VecDeque<(usize, Step)>,
    verbose: bool,
}

impl<S: 'static> Sim<S> {
    /// A reactor with shared state `state` and limits `config`, listening
    /// on a simulated socket; each accepted connection gets a protocol from
    /// `factory`. The faults are drawn from `seed`.
    pub fn new<P, F>(seed: u64, state: S, config: Config, mut factory: F) -> io::Result<Sim<S>>
    where
        P: Protocol<S>,
        F: FnMut() -> P + 'static,
    {
        let mut rng = Rng::new(seed);
        let faults = Faults::draw(&mut rng);
        let mut reactor = Reactor::with_config(state, config)?;
        let net: Shared = Rc::new(RefCell::new(Net::default()));
        // The clock moves only when the simulation says.
        reactor.core_mut().clock_mut().advance(Duration::ZERO);
        let acceptor = listener::Acceptor::Other(Box::new(SimListener { net: net.clone() }));
        let for_factory = net.clone();
        let make: listener::Factory<S> = Box::new(move || {
            let wire = for_factory
                .borrow_mut()
                .accepting
                .take()
                .unwrap_or(usize::MAX);
            Box::new(Watched {
                inner: factory(),
                net: for_factory.clone(),
                wire,
            })
        });
        let listener = listener::add(reactor.core_mut(), acceptor, make)?;
        Ok(Sim {
            reactor,
            net,
            rng,
            faults,
            listener,
            clients: Vec::new(),
            client_rngs: Vec::new(),
            waiting: Vec::new(),
            listener_edge: false,
            checks: Vec::new(),
            #[cfg(feature = "tls")]
            engines: Vec::new(),
            turn: 0,
            trace: VecDeque::new(),
            verbose: verbose(),
        })
    }

    /// The scenario's generator, for the test's own draws (scripts, sizes).
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// The faults this scenario runs with, to change before [`Sim::run`].
    pub fn faults(&mut self) -> &mut Faults {
        &mut self.faults
    }

    /// The shared state.
    pub fn shared(&mut self) -> &mut S {
        self.reactor.shared()
    }

    /// How often each fault has struck so far in this scenario.
    pub fn seen(&self) -> Seen {
        let mut seen = self.net.borrow().seen;
        seen.scenarios = 1;
        seen
    }

    /// A peer that will connect to the listener (at a turn the simulation
    /// chooses) and run `client`. Returns its index.
    pub fn connect(&mut self, client: impl Client + 'static) -> usize {
        let i = self.add_wire(true, Box::new(client));
        self.waiting.push(i);
        i
    }

    /// A pipe (the server's stdin, say) read by `protocol`, its other end
    /// written by `client`. Returns its index among the peers.
    pub fn add_pipe(
        &mut self,
        protocol: impl Protocol<S>,
        client: impl Client + 'static,
    ) -> io::Result<usize> {
        let i = self.add_wire(false, Box::new(client));
        let stream = Stream::Other(Box::new(SimStream {
            net: self.net.clone(),
            wire: i,
        }));
        let watched = Box::new(Watched {
            inner: protocol,
            net: self.net.clone(),
            wire: i,
        });
        let core = self.reactor.core_mut();
        stream::add(core, stream, watched, false)?;
        core.settle_all();
        Ok(i)
    }

    fn add_wire(&mut self, is_socket: bool, client: Box<dyn Client>) -> usize {
        let (lo, hi) = self.faults.buffer;
        let capacity = self.rng.range(lo..=hi);
        let mut net = self.net.borrow_mut();
        net.wires.push(Wire::new(is_socket, capacity));
        self.clients.push(Some(client));
        self.client_rngs.push(self.rng.fork());
        net.wires.len() - 1
    }

    /// Adds an invariant of the protocol's, checked after every turn and
    /// at the end: an `Err` fails the scenario with that message.
    pub fn check(&mut self, check: impl FnMut(&View<'_, S>) -> Result<(), String> + 'static) {
        self.checks.push(Box::new(check));
    }

    /// Runs `turns` turns of random network behaviour, checking every
    /// invariant after each.
    pub fn run(&mut self, turns: usize) -> Result<(), String> {
        for _ in 0..turns {
            let actions = self.rng.range(1..=4);
            for _ in 0..actions {
                self.act_at_random();
            }
            self.finish_turn(Phase::Running)?;
        }
        Ok(())
    }

    /// Ends the scenario: lets every client finish and the network drain
    /// (checks with [`Phase::Quiet`]), half-closes every peer, waits for
    /// every connection to close, shuts the reactor down, checks that each
    /// connection made was lost exactly once, and checks with
    /// [`Phase::Ended`].
    pub fn finish(mut self) -> Result<(), String> {
        let peers = self.clients.len();
        self.net.borrow_mut().refuse_accepts = 0;
        for i in 0..peers {
            self.net.borrow_mut().wires[i].reset_after = None;
        }
        // Quiet: everyone connects, says what it has to say, reads all.
        self.waiting.sort_unstable();
        while let Some(i) = self.waiting.pop() {
            self.connect_now(i);
        }
        self.drain(false, |_| false)?;
        self.finish_turn(Phase::Quiet)?;
        // Every peer half-closes; every connection must close.
        for i in 0..peers {
            self.clients[i] = None;
            self.half_close(i);
        }
        self.drain(true, |net| {
            net.backlog.is_empty() && net.wires.iter().all(|w| w.dropped || w.token.is_none())
        })?;
        // Shut down: whatever is left closes, and the reactor stops.
        self.reactor.shutdown();
        self.drain(true, |_| false)?;
        if !self.reactor.is_stopped() {
            return self.fail("the reactor did not stop after its shutdown".into());
        }
        let mut wrong = None;
        for (i, w) in self.net.borrow().wires.iter().enumerate() {
            if w.calls.made != w.calls.lost {
                wrong = Some(format!(
                    "wire {i}: connection_made called {} times, connection_lost {} times",
                    w.calls.made, w.calls.lost
                ));
            }
        }
        if let Some(wrong) = wrong {
            return self.fail(wrong);
        }
        self.finish_turn(Phase::Ended)
    }

    /// Turns with no new faults: clients act, what is in flight arrives,
    /// peers read everything; when nothing moves, the clock jumps to the
    /// next timer. Stops when `done` says so, or nothing more happens.
    fn drain(&mut self, closing: bool, done: impl Fn(&Net) -> bool) -> Result<(), String> {
        let mut jumps = 0;
        for _ in 0..END_TURNS {
            let before = self.progress();
            for i in 0..self.clients.len() {
                if !closing {
                    self.client_turn(i, false);
                }
                let mut net = self.net.borrow_mut();
                let w = &mut net.wires[i];
                let (in_flight, unread) = (w.in_flight(), w.delivered - w.consumed);
                w.arrive(in_flight);
                w.consume(unread);
            }
            if !self.reactor.is_stopped() {
                self.finish_turn(Phase::Running)?;
            }
            if done(&self.net.borrow()) || self.reactor.is_stopped() {
                return Ok(());
            }
            if self.progress() == before {
                let next = self.reactor.core_mut().next_timer();
                let Some(next) = next else {
                    return Ok(());
                };
                jumps += 1;
                if jumps > IDLE_JUMPS {
                    return Ok(());
                }
                let now = self.reactor.core().now();
                self.advance(next.saturating_duration_since(now));
            }
        }
        Ok(())
    }

    /// A figure that changes whenever anything happens on any wire.
    fn progress(&self) -> (usize, usize, u32) {
        let net = self.net.borrow();
        let mut bytes = 0;
        let mut events = 0;
        for w in &net.wires {
            bytes += w.sent.len() + w.arrived + w.read + w.offered.len() + w.delivered;
            bytes += w.consumed;
            events += w.calls.made + w.calls.eof + w.calls.lost;
            events += u32::from(w.shut) + u32::from(w.dropped) + u32::from(w.eof_sent);
        }
        (bytes, net.backlog.len(), events)
    }

    /// The poller's turn: the readiness the network built up is reported
    /// (one event per source, in random order), then the reactor ends its
    /// turn (ready list, timers in a random legal order, settling), and
    /// every invariant is checked.
    fn finish_turn(&mut self, phase: Phase) -> Result<(), String> {
        self.turn += 1;
        self.tls_pump_all();
        let mut events: Vec<(Token, Event)> = Vec::new();
        if std::mem::take(&mut self.listener_edge) || !self.net.borrow().backlog.is_empty() {
            events.push((self.listener, Event::READABLE));
        }
        for w in self.net.borrow_mut().wires.iter_mut() {
            let Some(token) = w.token else { continue };
            if w.dropped || !(w.edge_read || w.edge_write || w.edge_hup) {
                continue;
            }
            let event = Event::new(w.edge_read || w.edge_hup, w.edge_write, w.edge_hup);
            (w.edge_read, w.edge_write, w.edge_hup) = (false, false, false);
            events.push((token, event));
        }
        for k in (1..events.len()).rev() {
            events.swap(k, self.rng.below(k + 1));
        }
        self.note(Step::Events(events.len()));
        self.reactor.core_mut().next_turn();
        for &(token, event) in &events {
            self.reactor.dispatch(token, event);
        }
        let rng = &mut self.rng;
        let mut reordered = false;
        self.reactor.end_turn_in(&mut |n| {
            let pick = rng.below(n);
            reordered |= pick > 0;
            pick
        });
        self.net.borrow_mut().seen.reordered_timers += u64::from(reordered);
        self.tls_pump_all();
        if self.verbose {
            for (i, w) in self.net.borrow().wires.iter().enumerate() {
                eprintln!("    {}", describe(i, w));
            }
        }
        self.check_now(phase)
    }

    /// Every invariant, now.
    fn check_now(&mut self, phase: Phase) -> Result<(), String> {
        let first = self.net.borrow().violations.first().cloned();
        if let Some(violation) = first {
            return self.fail(violation);
        }
        let dropped = (self.net.borrow().wires.iter().enumerate())
            .find(|(_, w)| w.discarded > 0 && w.calls.lost_reason == Some(None))
            .map(|(i, w)| (i, w.discarded));
        if let Some((i, n)) = dropped {
            return self.fail(format!(
                "wire {i}: closed in good order, dropping {n} queued bytes"
            ));
        }
        let config = self.reactor.config().clone();
        let mut over = None;
        for (i, w) in self.net.borrow().wires.iter().enumerate() {
            let Some(s) = w.token.and_then(|t| self.reactor.core().stream(t)) else {
                continue;
            };
            if !s.transport.has(flag::MADE) {
                // A TLS handshake's flight is not the protocol's output.
                continue;
            }
            let (queued, input) = (s.transport.queued(), s.transport.input().len());
            if queued > config.max_output || input > config.max_input {
                over = Some(format!(
                    "wire {i}: {queued} bytes queued and {input} unread after a turn \
                     (limits {} and {})",
                    config.max_output, config.max_input
                ));
            }
        }
        if let Some(over) = over {
            return self.fail(over);
        }
        let mut checks = std::mem::take(&mut self.checks);
        let result = {
            let net = self.net.borrow();
            let view = View {
                shared: self.reactor.core().shared_ref(),
                phase,
                peers: (net.wires.iter().enumerate())
                    .map(|(index, wire)| Peer { index, wire })
                    .collect(),
            };
            checks.iter_mut().try_for_each(|check| check(&view))
        };
        self.checks = checks;
        match result {
            Ok(()) => Ok(()),
            Err(e) => self.fail(format!("{phase:?}: {e}")),
        }
    }

    // ----- the record ------------------------------------------------------------

    fn wires_where(&self, keep: impl Fn(&Wire) -> bool) -> Vec<usize> {
        let net = self.net.borrow();
        (0..net.wires.len())
            .filter(|&i| keep(&net.wires[i]))
            .collect()
    }

    fn note(&mut self, step: Step) {
        if self.verbose {
            eprintln!("turn {}: {step}", self.turn);
        }
        if self.trace.len() == TRACE {
            self.trace.pop_front();
        }
        self.trace.push_back((self.turn, step));
    }

    /// A failure, with the faults and the last turns that led to it.
    fn fail<T>(&self, what: String) -> Result<T, String> {
        let mut report = format!("turn {}: {what}\n  faults: {:?}\n", self.turn, self.faults);
        let net = self.net.borrow();
        for (i, w) in net.wires.iter().enumerate() {
            let _ = writeln!(report, "  {}", describe(i, w));
        }
        let _ = writeln!(report, "  last steps:");
        for (turn, step) in &self.trace {
            let _ = writeln!(report, "    turn {turn}: {step}");
        }
        Err(report)
    }
}

/// A scenario's faults join the total of the scenarios run on its thread.
impl<S: 'static> Drop for Sim<S> {
    fn drop(&mut self) {
        super::run::count(self.seen());
    }
}

mod tls;
mod trace;
mod turn;
mod view;

#[cfg(test)]
mod tests;
