//! The simulated network under the fault simulation: one [`Wire`] per
//! connection (both directions, the socket buffers, the faults), the byte
//! stream the reactor reads and writes it through, and the listener it
//! accepts from.
//!
//! The wire is also where delivery is checked. The simulation keeps every
//! byte the reactor has offered the peer and how many the socket
//! took (`delivered`); the rest is what the reactor must still hold, in
//! order, at the head of its queue. So each `send` must begin with exactly
//! those owed bytes (or be a part of them): anything after them is new
//! output, which can only follow what is owed. A byte lost, sent twice or
//! out of order between the queue and the socket is caught at the `send`
//! that shows it; so is a send after the write side was shut down, and a
//! close in good order that leaves bytes owed or queued (the transport
//! reports what it discards, `ByteStream::discarded`).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use mio::{Registry, Token};

use crate::addr::Addr;
use crate::sources::listener::Accept;
use crate::sys::Io;
use crate::transport::{ByteStream, Stream};

/// Everything the simulation shares with the streams and protocols it
/// hands to the reactor.
pub(super) type Shared = Rc<RefCell<Net>>;

/// The port of the peer on wire `i` is `PEER_PORT + i`.
pub(super) const PEER_PORT: u16 = 40000;

#[derive(Default)]
pub(super) struct Net {
    pub(super) wires: Vec<Wire>,
    /// Wires connected and not accepted yet, oldest first.
    pub(super) backlog: VecDeque<usize>,
    /// How many accepts fail with EMFILE before one succeeds again.
    pub(super) refuse_accepts: u32,
    /// The wire the listener just accepted, for the protocol it makes.
    pub(super) accepting: Option<usize>,
    /// What went wrong, in the words of the check that saw it.
    pub(super) violations: Vec<String>,
    /// The simulation's time since it began (the reactor's clock, stopped).
    pub(super) now: Duration,
    /// How often each fault struck.
    pub(super) seen: Seen,
}

/// How often each fault struck in a scenario (or, added up, in many): the
/// evidence that the simulation did what it says.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// Reads that returned part of what a peer had sent: its bytes arrived
    /// split (or several sends coalesced).
    pub split_reads: u64,
    /// Sends the socket took only in part.
    pub partial_sends: u64,
    /// Sends the socket refused (`WouldBlock`) until it was writable again.
    pub refused_sends: u64,
    /// Connections reset by their peer.
    pub resets: u64,
    /// Of those, resets that met one of the reactor's sends half-way.
    pub resets_mid_write: u64,
    /// Half-closes whose EOF came in the same event as the last bytes, or
    /// before the client had sent everything.
    pub early_eofs: u64,
    /// Accepts refused with EMFILE.
    pub refused_accepts: u64,
    /// Turns whose due timers fired in an order other than their deadlines'.
    pub reordered_timers: u64,
    /// Scenarios (1 for one; the count when added up).
    pub scenarios: u64,
}

impl std::ops::AddAssign for Seen {
    fn add_assign(&mut self, other: Seen) {
        self.split_reads += other.split_reads;
        self.partial_sends += other.partial_sends;
        self.refused_sends += other.refused_sends;
        self.resets += other.resets;
        self.resets_mid_write += other.resets_mid_write;
        self.early_eofs += other.early_eofs;
        self.refused_accepts += other.refused_accepts;
        self.reordered_timers += other.reordered_timers;
        self.scenarios += other.scenarios;
    }
}

impl Net {
    pub(super) fn violate(&mut self, what: String) {
        self.violations.push(what);
    }
}

/// One connection (or pipe) between a simulated peer and the reactor.
#[derive(Default)]
pub(super) struct Wire {
    pub(super) is_socket: bool,
    /// The reactor's token for it, once it was accepted and made.
    pub(super) token: Option<Token>,
    // ----- from the peer ---------------------------------------------------
    /// Every byte the peer sent.
    pub(super) sent: Vec<u8>,
    /// How many of them reached the socket (the rest are in flight).
    pub(super) arrived: usize,
    /// How many of them the reactor read.
    pub(super) read: usize,
    /// When the oldest byte in flight was sent.
    pub(super) in_flight_since: Option<Duration>,
    /// The peer shut down its side: after `sent`, the reactor reads EOF.
    pub(super) eof_sent: bool,
    // ----- to the peer -----------------------------------------------------
    /// Every byte the reactor has offered this peer, in order.
    pub(super) offered: Vec<u8>,
    /// How many of them reached the peer's side.
    pub(super) delivered: usize,
    /// How many of those the peer has read (the rest fill its buffer).
    pub(super) consumed: usize,
    /// The socket's buffer: how many bytes sent and unread it holds.
    pub(super) capacity: usize,
    /// A send was refused or cut short: a writable edge is owed once the
    /// peer reads.
    pub(super) blocked: bool,
    /// The reactor shut down its write side: the peer reads EOF.
    pub(super) shut: bool,
    /// The reactor let go of the stream (the fd is closed).
    pub(super) dropped: bool,
    /// Bytes still queued when the reactor closed the connection.
    pub(super) discarded: usize,
    // ----- faults ------------------------------------------------------------
    /// The connection was reset: reads and writes fail.
    pub(super) reset: bool,
    /// The reset is still to be reported as the socket's pending error.
    pub(super) error_pending: bool,
    /// Reset mid-write: after this many more bytes are offered by `send`.
    pub(super) reset_after: Option<usize>,
    // ----- readiness owed to the reactor --------------------------------------
    pub(super) edge_read: bool,
    pub(super) edge_write: bool,
    pub(super) edge_hup: bool,
    /// What the protocol was told, for the call-order checks.
    pub(super) calls: Calls,
    /// For a peer speaking TLS: the plaintext on its side of the engine.
    pub(super) plain: Option<Box<Plain>>,
}

/// The plaintext a TLS peer's engine took and gave (the wire itself
/// carries ciphertext).
#[derive(Default)]
pub(super) struct Plain {
    /// What the peer's application sent.
    pub(super) sent: Vec<u8>,
    /// What the engine decrypted of the server's bytes.
    pub(super) received: Vec<u8>,
    /// (ciphertext sent, plaintext sent) whenever all plaintext written so
    /// far had gone out encrypted: how much plaintext the server can have
    /// read, given how much ciphertext it read.
    pub(super) marks: Vec<(usize, usize)>,
    /// How much of the server's ciphertext has been fed to the engine.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(super) fed: usize,
    /// The server's `close_notify` came.
    pub(super) closed: bool,
}

impl Plain {
    /// The plaintext the server can have read, its ciphertext having been
    /// read up to `read`: at most what was encrypted in the pieces whose
    /// ciphertext began before `read` (the last may be read only in part).
    pub(super) fn read_through(&self, read: usize) -> &[u8] {
        let mut upto = 0;
        let mut began = 0;
        for &(cipher, plain) in &self.marks {
            if began >= read {
                break;
            }
            upto = plain;
            began = cipher;
        }
        &self.sent[..upto]
    }
}

/// The callbacks a connection's protocol received, counted.
#[derive(Default, Debug)]
pub(super) struct Calls {
    pub(super) made: u32,
    pub(super) eof: u32,
    pub(super) lost: u32,
    /// The reason `connection_lost` was given: `None` for an orderly close.
    pub(super) lost_reason: Option<Option<String>>,
    pub(super) write_paused: bool,
}

impl Wire {
    pub(super) fn new(is_socket: bool, capacity: usize) -> Wire {
        Wire {
            is_socket,
            capacity: capacity.max(1),
            ..Wire::default()
        }
    }

    /// Bytes the peer sent that have not reached the socket yet.
    pub(super) fn in_flight(&self) -> usize {
        self.sent.len() - self.arrived
    }

    /// Room left in the socket for the reactor's sends.
    pub(super) fn room(&self) -> usize {
        self.capacity.saturating_sub(self.delivered - self.consumed)
    }

    /// The reactor sees an EOF (or a reset) once it has read what arrived.
    pub(super) fn peer_done(&self) -> bool {
        self.reset || (self.eof_sent && self.arrived == self.sent.len())
    }

    /// The peer has seen the end of what the reactor sends.
    pub(super) fn server_done(&self) -> bool {
        self.shut || self.dropped || self.reset
    }

    /// `n` more bytes of what the peer sent reach the socket.
    pub(super) fn arrive(&mut self, n: usize) {
        let n = n.min(self.in_flight());
        if n == 0 && !(self.eof_sent && self.in_flight() == 0) {
            return;
        }
        self.arrived += n;
        if self.in_flight() == 0 {
            self.in_flight_since = None;
        }
        self.edge_read = true;
        if self.peer_done() {
            self.edge_hup = true;
        }
    }

    /// The peer reads `n` of the bytes waiting for it: room for more.
    pub(super) fn consume(&mut self, n: usize) {
        self.consumed = (self.consumed + n).min(self.delivered);
        if self.blocked && self.room() > 0 {
            self.blocked = false;
            self.edge_write = true;
        }
    }

    /// The peer resets the connection: what was in flight is lost, and the
    /// reactor hears of it.
    pub(super) fn reset_now(&mut self) {
        if self.reset {
            return;
        }
        self.reset = true;
        self.error_pending = true;
        self.sent.truncate(self.arrived.max(self.read));
        self.in_flight_since = None;
        (self.edge_read, self.edge_write, self.edge_hup) = (true, true, true);
    }
}

/// The byte stream of wire `wire`, as the reactor's transport sees it.
pub(super) struct SimStream {
    pub(super) net: Shared,
    pub(super) wire: usize,
}

fn reset_error() -> Io {
    Io::Failed(io::Error::from_raw_os_error(libc::ECONNRESET))
}

impl SimStream {
    /// One write of `parts` (one buffer, or two for `sendmsg`).
    fn send_parts(&mut self, parts: [&[u8]; 2]) -> Io {
        let mut net = self.net.borrow_mut();
        let i = self.wire;
        let w = &mut net.wires[i];
        if w.reset {
            return reset_error();
        }
        let bytes = [parts[0], parts[1]].concat();
        let total = bytes.len();
        let owed = &w.offered[w.delivered..];
        let common = owed.len().min(total);
        let shut = w.shut;
        if bytes[..common] != owed[..common] || shut {
            let what = if shut {
                format!("wire {i}: a send after the write side was shut down")
            } else {
                format!(
                    "wire {i}: a send offers bytes other than the {} still owed \
                     (a byte lost, duplicated or reordered)",
                    owed.len()
                )
            };
            net.violate(what);
            return Io::Failed(io::Error::other("simulation: bad send"));
        }
        // What follows the owed bytes is new output.
        w.offered.extend_from_slice(&bytes[common..]);
        let mut n = total.min(w.room());
        if let Some(after) = w.reset_after {
            if after == 0 {
                w.reset_after = None;
                w.reset_now();
                // This send is the one that meets the reset.
                w.error_pending = false;
                net.seen.resets_mid_write += 1;
                net.seen.resets += 1;
                return reset_error();
            }
            n = n.min(after);
            w.reset_after = Some(after - n);
        }
        if n == 0 {
            w.blocked = true;
            net.seen.refused_sends += 1;
            return Io::WouldBlock;
        }
        w.delivered += n;
        if w.room() == 0 {
            w.blocked = true;
        }
        if n < total {
            net.seen.partial_sends += 1;
        }
        Io::Done(n)
    }
}

impl ByteStream for SimStream {
    fn recv(&mut self, buf: &mut [u8]) -> Io {
        let mut net = self.net.borrow_mut();
        let w = &mut net.wires[self.wire];
        if w.reset {
            return reset_error();
        }
        let ready = w.arrived - w.read;
        if ready > 0 {
            let n = ready.min(buf.len());
            buf[..n].copy_from_slice(&w.sent[w.read..w.read + n]);
            w.read += n;
            if w.read < w.sent.len() {
                net.seen.split_reads += 1;
            }
            Io::Done(n)
        } else if w.peer_done() {
            Io::Done(0)
        } else {
            Io::WouldBlock
        }
    }
    fn send(&mut self, buf: &[u8]) -> Io {
        self.send_parts([buf, &[]])
    }
    fn send2(&mut self, first: &[u8], second: &[u8]) -> Io {
        self.send_parts([first, second])
    }
    fn discarded(&mut self, bytes: &[u8]) {
        let mut net = self.net.borrow_mut();
        net.wires[self.wire].discarded += bytes.len();
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        let mut net = self.net.borrow_mut();
        let i = self.wire;
        let w = &mut net.wires[i];
        let owed = w.offered.len() - w.delivered;
        w.shut = true;
        if owed > 0 && !w.reset {
            net.violate(format!(
                "wire {i}: the write side shut down with {owed} bytes offered and never sent"
            ));
        }
        Ok(())
    }
    fn peer_addr(&self) -> io::Result<Addr> {
        let port = PEER_PORT + self.wire as u16;
        Ok(Addr::Inet(SocketAddr::from(([127, 0, 0, 1], port))))
    }
    fn local_addr(&self) -> io::Result<Addr> {
        Ok(Addr::Inet(SocketAddr::from(([127, 0, 0, 1], 7000))))
    }
    fn take_error(&self) -> io::Result<Option<io::Error>> {
        let mut net = self.net.borrow_mut();
        let w = &mut net.wires[self.wire];
        if std::mem::take(&mut w.error_pending) {
            return Ok(Some(io::Error::from_raw_os_error(libc::ECONNRESET)));
        }
        Ok(None)
    }
    fn is_socket(&self) -> bool {
        self.net.borrow().wires[self.wire].is_socket
    }
    /// The simulation reports readiness itself; it notes the token.
    fn register(&mut self, _: &Registry, token: Token) -> io::Result<bool> {
        self.net.borrow_mut().wires[self.wire].token = Some(token);
        Ok(false)
    }
    fn deregister(&mut self, _: &Registry) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for SimStream {
    fn drop(&mut self) {
        if let Ok(mut net) = self.net.try_borrow_mut() {
            net.wires[self.wire].dropped = true;
        }
    }
}

/// The listening socket: accepts the wires in the backlog, or refuses
/// with EMFILE while told to.
pub(super) struct SimListener {
    pub(super) net: Shared,
}

impl Accept for SimListener {
    fn accept(&self) -> io::Result<(Stream, Addr)> {
        let mut net = self.net.borrow_mut();
        if net.backlog.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        if net.refuse_accepts > 0 {
            net.refuse_accepts -= 1;
            net.seen.refused_accepts += 1;
            return Err(io::Error::from_raw_os_error(libc::EMFILE));
        }
        let wire = net.backlog.pop_front().expect("checked above");
        net.accepting = Some(wire);
        drop(net);
        let stream = SimStream {
            net: self.net.clone(),
            wire,
        };
        let addr = stream.peer_addr()?;
        Ok((Stream::Other(Box::new(stream)), addr))
    }
    fn local_addr(&self) -> io::Result<Addr> {
        Ok(Addr::Inet(SocketAddr::from(([127, 0, 0, 1], 7000))))
    }
}
