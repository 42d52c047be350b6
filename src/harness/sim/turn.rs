//! What the network and the peers do in one turn of a simulation, drawn
//! from the seed: a peer sends, reads, half-closes or resets; bytes arrive
//! split or together; a send is cut short; the clock creeps or jumps.

use super::*;

impl<S: 'static> Sim<S> {
    /// One thing the network or a peer does, drawn among those that can
    /// happen now.
    pub(super) fn act_at_random(&mut self) {
        if self.clients.is_empty() {
            return self.clock_step();
        }
        let speakers = self.wires_where(|w| !w.reset && !w.eof_sent);
        let speakers: Vec<usize> = (speakers.into_iter())
            .filter(|&i| self.clients[i].is_some())
            .collect();
        let in_flight = self.wires_where(|w| w.in_flight() > 0);
        let unread = self.wires_where(|w| w.delivered > w.consumed);
        let weights = [
            if speakers.is_empty() { 0 } else { 30 },
            if in_flight.is_empty() { 0 } else { 25 },
            if unread.is_empty() { 0 } else { 20 },
            if self.waiting.is_empty() { 0 } else { 8 },
            10,
            7,
        ];
        let mut draw = self.rng.below(weights.iter().sum());
        let kind = weights
            .iter()
            .position(|&w| {
                let here = draw < w;
                draw = draw.saturating_sub(w);
                here
            })
            .unwrap_or(4);
        match kind {
            0 => {
                let i = *self.rng.pick(&speakers);
                self.client_turn(i, true);
            }
            1 => {
                let i = *self.rng.pick(&in_flight);
                let mut net = self.net.borrow_mut();
                let w = &mut net.wires[i];
                let n = self.rng.size(w.in_flight()).max(1);
                w.arrive(n);
                drop(net);
                self.note(Step::Arrive(i, n));
            }
            2 => {
                let i = *self.rng.pick(&unread);
                let mut net = self.net.borrow_mut();
                let w = &mut net.wires[i];
                let n = self.rng.size(w.delivered - w.consumed).max(1);
                w.consume(n);
                drop(net);
                self.note(Step::Read(i, n));
            }
            3 => {
                let i = self.waiting.swap_remove(self.rng.below(self.waiting.len()));
                self.connect_now(i);
            }
            4 => self.clock_step(),
            _ => self.fault(),
        }
    }

    /// Peer `i`'s application gets a turn (if it is connected or waiting
    /// to be, and not reset). With `faults`, it may half-close early.
    pub(super) fn client_turn(&mut self, i: usize, faults: bool) {
        let Some(client) = self.clients[i].as_mut() else {
            return;
        };
        let act = {
            let net = self.net.borrow();
            let w = &net.wires[i];
            if w.reset || w.eof_sent {
                return;
            }
            let (received, server_done) = match &w.plain {
                Some(plain) => (&plain.received[..], plain.closed || w.server_done()),
                None => (
                    &w.offered[..w.consumed],
                    w.server_done() && w.consumed == w.delivered,
                ),
            };
            client.act(&mut self.client_rngs[i], received, server_done)
        };
        match act {
            Act::Send(bytes) => {
                let n = bytes.len();
                if !self.tls_write(i, &bytes) {
                    let now = self.net.borrow().now;
                    let mut net = self.net.borrow_mut();
                    let w = &mut net.wires[i];
                    w.sent.extend_from_slice(&bytes);
                    if n > 0 {
                        w.in_flight_since.get_or_insert(now);
                    }
                }
                self.note(Step::Send(i, n));
                if faults && self.rng.chance(self.faults.early_eof / 10) {
                    // Half-closes before it has said all it meant to.
                    self.clients[i] = None;
                    self.half_close(i);
                    self.net.borrow_mut().seen.early_eofs += 1;
                }
            }
            Act::Wait => {}
            Act::Done => {
                self.clients[i] = None;
                if faults && self.rng.chance(self.faults.early_eof) {
                    // The EOF travels with the last bytes: one event.
                    self.send_eof(i, true);
                    self.net.borrow_mut().seen.early_eofs += 1;
                }
            }
        }
    }

    /// Peer `i` half-closes: its EOF follows what it sent.
    pub(super) fn half_close(&mut self, i: usize) {
        self.send_eof(i, false);
    }

    /// Peer `i` shuts down its side (over TLS, after its `close_notify`);
    /// `at_once`: what it sent arrives now, the EOF in the same event.
    pub(super) fn send_eof(&mut self, i: usize, at_once: bool) {
        {
            let net = self.net.borrow();
            let w = &net.wires[i];
            if w.eof_sent || w.reset {
                return;
            }
        }
        self.tls_close(i);
        let mut net = self.net.borrow_mut();
        let w = &mut net.wires[i];
        let all = if at_once { w.in_flight() } else { 0 };
        w.eof_sent = true;
        w.arrive(all);
        drop(net);
        self.note(Step::Eof(i));
    }

    /// Peer `i` connects: it joins the listener's backlog.
    pub(super) fn connect_now(&mut self, i: usize) {
        self.net.borrow_mut().backlog.push_back(i);
        self.listener_edge = true;
        self.note(Step::Connect(i));
    }

    /// A fault, as often as this scenario's [`Faults`] say.
    pub(super) fn fault(&mut self) {
        let peers = self.clients.len();
        if self.rng.chance(self.faults.reset * 10) {
            let i = self.rng.below(peers);
            let mut net = self.net.borrow_mut();
            let w = &mut net.wires[i];
            if w.reset || !w.is_socket {
                return;
            }
            if self.rng.chance(50) {
                let after = self.rng.size(64);
                w.reset_after = Some(after);
                drop(net);
                self.note(Step::ResetMidWrite(i, after));
            } else {
                w.reset_now();
                net.seen.resets += 1;
                self.clients[i] = None;
                drop(net);
                self.note(Step::Reset(i));
            }
        } else if self.rng.chance(self.faults.refuse_accept * 10) {
            let n = self.rng.range(1..=3) as u32;
            self.net.borrow_mut().refuse_accepts += n;
            self.note(Step::RefuseAccepts(n));
        }
    }

    /// The clock moves: a little, to the next timer, or a long way; never
    /// past the moment a byte in flight must have arrived (those arrive).
    pub(super) fn clock_step(&mut self) {
        let now = self.reactor.core().now();
        let next = self.reactor.core_mut().next_timer();
        let ms = |n: u64| Duration::from_millis(n);
        let mut by = match self.rng.below(10) {
            0..=3 => ms(self.rng.below(3) as u64),
            4..=6 => next.map_or(ms(1), |t| {
                t.saturating_duration_since(now) + ms(self.rng.below(2) as u64)
            }),
            _ => self
                .faults
                .max_jump
                .mul_f64(self.rng.below(1001) as f64 / 1000.0),
        };
        by = by.min(self.faults.max_jump);
        let net_now = self.net.borrow().now;
        let max_delay = self.faults.max_delay;
        let mut net = self.net.borrow_mut();
        for w in net.wires.iter_mut() {
            if let Some(since) = w.in_flight_since {
                let due = (since + max_delay).saturating_sub(net_now);
                if due <= by {
                    // Everything in flight lands before the clock passes it.
                    let all = w.in_flight();
                    w.arrive(all);
                }
            }
        }
        drop(net);
        self.advance(by);
    }

    pub(super) fn advance(&mut self, by: Duration) {
        self.reactor.core_mut().clock_mut().advance(by);
        self.net.borrow_mut().now += by;
        self.note(Step::Clock(by));
    }
}
