//! The vocabulary a scenario is written in: the faults it runs with, the
//! clients at the far end, and what a check sees.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use super::super::Rng;
use super::super::net::{PEER_PORT, Wire};
#[cfg(doc)]
use super::Sim;

/// How hard the network is on the protocol in one scenario. [`Sim::new`]
/// draws them from the seed (some scenarios calm, some stormy); a test can
/// change them before [`Sim::run`] through [`Sim::faults`].
#[derive(Debug, Clone)]
pub struct Faults {
    /// The longest a byte a peer sent may take to arrive: the clock never
    /// passes it while the byte is in flight. Framings that end a message
    /// when the sender pauses rely on this being shorter than the pause.
    pub max_delay: Duration,
    /// How often a peer resets its connection, half the time in the middle
    /// of one of the reactor's writes (0: never; 10: about one turn in 15).
    pub reset: u32,
    /// How often the next few accepts fail with EMFILE (0: never; 10: about
    /// one turn in 15).
    pub refuse_accept: u32,
    /// Chance in a hundred that a client that has sent everything
    /// half-closes at once, its EOF in the same event as its last bytes;
    /// a tenth of that, each turn, that one half-closes before it is done.
    pub early_eof: u32,
    /// The range of socket buffer sizes (bytes sent and not yet read by
    /// the peer): each connection gets one.
    pub buffer: (usize, usize),
    /// The longest the clock jumps in one turn.
    pub max_jump: Duration,
}

impl Faults {
    pub(super) fn draw(rng: &mut Rng) -> Faults {
        Faults {
            max_delay: Duration::from_millis(1),
            reset: *rng.pick(&[0, 0, 1, 3, 8]),
            refuse_accept: *rng.pick(&[0, 0, 2, 10]),
            early_eof: *rng.pick(&[0, 20, 50, 100]),
            buffer: *rng.pick(&[(1, 8), (1, 64), (16, 4096), (65536, 65536)]),
            max_jump: *rng.pick(&[
                Duration::from_millis(10),
                Duration::from_millis(300),
                Duration::from_secs(5),
                Duration::from_secs(60),
            ]),
        }
    }
}

/// A simulated peer's application: what it sends, given what it has read.
pub trait Client {
    /// The peer gets a turn. `received` is everything it has read from the
    /// server so far; `server_done` whether it has also read the end of it
    /// (the server closed or half-closed).
    fn act(&mut self, rng: &mut Rng, received: &[u8], server_done: bool) -> Act;
}

/// What a [`Client`] does with its turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    /// Sends these bytes (in one `send`: the network may still cut them).
    Send(Vec<u8>),
    /// Nothing for now (waiting for an answer, say).
    Wait,
    /// It has sent all it will; the simulation half-closes it when it
    /// chooses (its EOF, early or late).
    Done,
}

/// A client that sends its messages one after the other, reading nothing.
pub struct Script {
    messages: VecDeque<Vec<u8>>,
}

impl Script {
    /// Sends `messages` in order, then is done.
    pub fn new(messages: impl IntoIterator<Item = Vec<u8>>) -> Script {
        Script {
            messages: messages.into_iter().collect(),
        }
    }
}

impl Client for Script {
    fn act(&mut self, _: &mut Rng, _: &[u8], _: bool) -> Act {
        self.messages.pop_front().map_or(Act::Done, Act::Send)
    }
}

/// When a check runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// After any turn: the network may hold bytes in flight either way.
    Running,
    /// Every client has sent what it meant to, everything sent has been
    /// read by the other side, and the clock ran to the timers that were
    /// waiting; no peer has half-closed unless a fault made it.
    Quiet,
    /// Every connection is closed and the reactor shut down.
    Ended,
}

/// What a check sees: the shared state and every peer.
pub struct View<'a, S> {
    pub(super) shared: &'a S,
    pub(super) phase: Phase,
    pub(super) peers: Vec<Peer<'a>>,
}

impl<'a, S> View<'a, S> {
    /// The reactor's shared state.
    pub fn shared(&self) -> &'a S {
        self.shared
    }

    /// When this check runs.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Every peer, in the order they were added.
    pub fn peers(&self) -> &[Peer<'a>] {
        &self.peers
    }
}

/// One simulated peer, as a check sees it.
pub struct Peer<'a> {
    pub(super) index: usize,
    pub(super) wire: &'a Wire,
}

impl<'a> Peer<'a> {
    /// Its index: the order in which it was added (from 0).
    pub fn index(&self) -> usize {
        self.index
    }

    /// Its address, as the server sees it (`ctx.peer_addr()`).
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], PEER_PORT + self.index as u16))
    }

    /// Whether it is a network connection (not a pipe).
    pub fn is_socket(&self) -> bool {
        self.wire.is_socket
    }

    /// Every byte it sent (over TLS, the plaintext).
    pub fn sent(&self) -> &'a [u8] {
        match &self.wire.plain {
            Some(plain) => &plain.sent,
            None => &self.wire.sent,
        }
    }

    /// The bytes the reactor read of them: what its protocol has been
    /// handed, or will be (over TLS, the plaintext of the records read).
    pub fn read(&self) -> &'a [u8] {
        match &self.wire.plain {
            Some(plain) => plain.read_through(self.wire.read),
            None => &self.wire.sent[..self.wire.read],
        }
    }

    /// Every byte of the server's that reached it, in order (over TLS, the
    /// plaintext its engine decrypted).
    pub fn received(&self) -> &'a [u8] {
        match &self.wire.plain {
            Some(plain) => &plain.received,
            None => &self.wire.offered[..self.wire.delivered],
        }
    }

    /// Whether it speaks TLS.
    pub fn is_tls(&self) -> bool {
        self.wire.plain.is_some()
    }

    /// Whether the connection was reset (by this peer, a fault).
    pub fn is_reset(&self) -> bool {
        self.wire.reset
    }

    /// Whether it half-closed (sent its EOF).
    pub fn sent_eof(&self) -> bool {
        self.wire.eof_sent
    }

    /// Whether the server closed or half-closed its side.
    pub fn server_done(&self) -> bool {
        self.wire.server_done() || self.wire.plain.as_ref().is_some_and(|p| p.closed)
    }

    /// Whether the server accepted it (its protocol got `connection_made`).
    pub fn is_made(&self) -> bool {
        self.wire.calls.made > 0
    }

    /// `None` while its connection is open; once `connection_lost` was
    /// called, `Some(None)` for an orderly close or `Some(Some(reason))`.
    pub fn lost(&self) -> Option<Option<&'a str>> {
        self.wire.calls.lost_reason.as_ref().map(|r| r.as_deref())
    }
}
