//! One HTTP connection: the state machine that turns request heads into
//! responses (`respond.rs` decides each one), waits for queued files to go
//! out, and keeps the time limits.
//!
//! ```text
//!  Fresh --first byte--> Head --whole head--> Busy --response done--> Idle
//!    |                    |                    |  (file: draining)     |
//!    | header timeout     | header timeout     | not keep-alive        | keep-alive timeout,
//!    v  (silent close)    v  (408)             v                       v or evicted
//!  Closing <--------------+--------------------+-----------------------+
//!                                      Idle --first byte--> Head ...
//! ```
//!
//! Requests are answered strictly in order. A file too big for the cache is
//! queued whole with `send_file` (the reactor sends it from the file with
//! `sendfile(2)` as the socket drains); while it goes out, the bytes after
//! its request (pipelined requests) stay with the reactor: `data_received`
//! returns short and reading is paused until all but 64 KiB of the file
//! has gone, then resumed, and the reactor delivers the rest again. The
//! same happens when pipelined requests come faster than their responses
//! drain: parsing stops once 64 KiB of responses are queued.
//!
//! The time limits stay off the path of a request that arrives whole: the
//! header timer runs from connect for the first head, but for a later one
//! only once it is seen to arrive in pieces; the keep-alive timer is left
//! running across requests and, when it fires, closes the connection only
//! if it has been idle for the whole timeout, else waits out the rest.

use std::borrow::Cow;
use std::io;
use std::time::{Duration, Instant};

use log::{debug, info};
use sockloop::{Ctx, Protocol, TimerId};

use crate::http::Server;
use crate::http::idle::Member;
use crate::http::request::{self, Head, Refusal};
use crate::http::response::Persist;

/// A response counts as sent once at most this much of it is queued for
/// the peer; until then the next request waits. It is the reactor's default
/// high watermark: a file queued with `send_file` brings `pause_writing`,
/// and `resume_writing` when it has drained, which is when the connection
/// takes up its next request.
const QUEUE_TARGET: usize = 64 * 1024;

/// The first request head must arrive within the header timeout of connecting.
const HEADER_TIMER: u64 = 1;
/// An idle keep-alive connection closes when this fires.
const KEEPALIVE_TIMER: u64 = 2;
/// Carries a file transfer (or a backlog of pipelined requests) on to the
/// next turn when the socket took so much of what was queued that no
/// `resume_writing` will come.
const PUMP_TIMER: u64 = 3;
/// Output is over the high watermark: if the peer has taken nothing more
/// of it when this fires, a send timeout later, it has stopped reading.
const SEND_TIMER: u64 = 4;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Connected; nothing received yet. The header timer runs from connect.
    Fresh,
    /// Part of a request head has arrived; the header timer runs.
    Head,
    /// A request is being answered (a file may be going out).
    Busy,
    /// Between requests on a keep-alive connection: the keep-alive timer
    /// runs and the connection is on the server's idle list once parked.
    Idle,
    /// The connection is closing; input is ignored.
    Closing,
}

/// What the access log line says about one request. Method and target
/// are borrowed from the input while the response is written at once, and
/// copied only for a file that goes on after the input is gone.
struct Access<'a> {
    method: Cow<'a, str>,
    target: Cow<'a, str>,
    status: u16,
    /// Body bytes sent.
    bytes: u64,
    started: Instant,
    /// Why the request was refused, if it was.
    refused: Option<Refusal>,
}

impl Access<'_> {
    fn into_owned(self) -> Access<'static> {
        Access {
            method: Cow::Owned(self.method.into_owned()),
            target: Cow::Owned(self.target.into_owned()),
            status: self.status,
            bytes: self.bytes,
            started: self.started,
            refused: self.refused,
        }
    }
}

/// A file queued for the peer, whose response is not done yet (see
/// [`Http::await_transfer`]).
struct Transfer {
    persist: Persist,
    access: Access<'static>,
}

/// The protocol of one HTTP/1.x connection.
pub struct Http {
    peer: String,
    phase: Phase,
    /// Runs while a request head is incomplete (and from connect until the
    /// first one). Set only when a head does not arrive whole in one read,
    /// which is rare: most requests never touch a timer.
    header_timer: Option<TimerId>,
    /// The header timer was stopped because the reactor stopped reading
    /// (output over its high watermark): it starts again, whole, on
    /// `resume_writing`. The timeout is on the client's sending, and while
    /// we do not read, a client that sent its head whole would be timed out.
    header_timer_held: bool,
    /// The keep-alive timer and when it is due. Left running while the
    /// connection is busy rather than cancelled and set again for every
    /// request; when it fires it checks how long the connection has really
    /// been idle, and sets itself again for the rest if need be.
    keepalive_timer: Option<(TimerId, Instant)>,
    /// When the connection last became idle.
    idle_since: Instant,
    /// This connection's place in the server's idle list (from connect).
    member: Option<Member>,
    /// Whether it is parked on that list, waiting for its next request.
    parked: bool,
    /// Request body bytes still to be read and thrown away.
    skip: u64,
    transfer: Option<Transfer>,
    write_paused: bool,
    /// Runs while the output is paused (see `SEND_TIMER`).
    send_timer: Option<TimerId>,
    /// `ctx.queued()` when the send timer was set: less when it fires
    /// means the peer is still reading.
    queued_at_send_timer: usize,
    pump_scheduled: bool,
    /// The peer shut down its sending side: finish what was asked, then close.
    peer_eof: bool,
    /// The last `data_received` left bytes with the reactor (pipelined
    /// requests behind a file going out, or a partial head).
    held_back: bool,
    /// Pipelined requests wait, unparsed, for queued responses to drain.
    backlogged: bool,
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

impl Http {
    pub fn new() -> Http {
        Http {
            peer: String::new(),
            phase: Phase::Fresh,
            header_timer: None,
            header_timer_held: false,
            keepalive_timer: None,
            idle_since: Instant::now(),
            member: None,
            parked: false,
            skip: 0,
            transfer: None,
            write_paused: false,
            send_timer: None,
            queued_at_send_timer: 0,
            pump_scheduled: false,
            peer_eof: false,
            held_back: false,
            backlogged: false,
        }
    }

    // ----- files being sent ----------------------------------------------

    /// A file is queued (`send_file`): the response counts as done once
    /// the queue has drained to `QUEUE_TARGET`, as a response written
    /// whole does, and until then the next request waits. Called again as
    /// the queue drains (`resume_writing`, or the pump timer when the
    /// socket took so much at once that no pause came).
    fn await_transfer(&mut self, ctx: &mut Ctx<'_, Server>) {
        if self.transfer.is_none() {
            return;
        }
        if ctx.queued() > QUEUE_TARGET {
            self.schedule_pump(ctx);
            return;
        }
        if let Some(done) = self.transfer.take() {
            self.complete(ctx, done.access, done.persist);
        }
    }

    /// Asks for a `PUMP_TIMER` at the end of this turn. Needed because the
    /// reactor says `resume_writing` only after a `pause_writing`: when the
    /// socket takes everything queued at once, nothing else would call back.
    fn schedule_pump(&mut self, ctx: &mut Ctx<'_, Server>) {
        if !self.pump_scheduled {
            self.pump_scheduled = true;
            ctx.set_timer(Duration::ZERO, PUMP_TIMER);
        }
    }

    /// The output queue has room again: finish a file, or take up the requests
    /// held back behind a backlog of responses.
    fn carry_on(&mut self, ctx: &mut Ctx<'_, Server>) {
        if self.transfer.is_some() {
            self.continue_transfer(ctx);
        } else if self.backlogged {
            // The reactor delivers the held-back requests again.
            self.backlogged = false;
            ctx.resume_reading();
        }
    }

    /// Checks on a file after a pause; once it is done, takes up the
    /// requests that were held back behind it.
    fn continue_transfer(&mut self, ctx: &mut Ctx<'_, Server>) {
        if self.transfer.is_none() {
            return;
        }
        self.await_transfer(ctx);
        if self.transfer.is_some() || self.phase != Phase::Idle {
            return;
        }
        ctx.resume_reading();
        if self.held_back {
            // The reactor delivers the held-back bytes again at once;
            // data_received parses them or parks the connection.
        } else if self.peer_eof {
            self.close(ctx);
        } else {
            self.park(ctx);
        }
    }

    /// A response is fully queued: log it, then close or wait for the next
    /// request.
    fn complete(&mut self, ctx: &mut Ctx<'_, Server>, access: Access<'_>, persist: Persist) {
        self.log(&access, None);
        if persist == Persist::Close {
            self.close(ctx);
        } else {
            self.phase = Phase::Idle;
        }
    }

    /// Refuses a head that could not be read as a request at all.
    fn fail(&mut self, ctx: &mut Ctx<'_, Server>, refusal: Refusal) {
        self.cancel_header_timer(ctx);
        let access = Access {
            method: Cow::Borrowed("-"),
            target: Cow::Borrowed("-"),
            status: 0,
            bytes: 0,
            started: ctx.now(),
            refused: None,
        };
        self.refuse(ctx, refusal, false, access);
    }

    fn log(&self, access: &Access<'_>, cut_short: Option<&str>) {
        let note = match (cut_short, access.refused) {
            (Some(why), _) => format!(" (cut short: {why})"),
            (None, Some(refusal)) => format!(" (refused: {})", refusal.detail()),
            (None, None) => String::new(),
        };
        info!(
            "{} \"{} {}\" {} {} {}µs{note}",
            self.peer,
            access.method,
            access.target,
            access.status,
            access.bytes,
            access.started.elapsed().as_micros(),
        );
    }

    // ----- phases and timers ------------------------------------------------

    /// The first byte of a request head arrived. The header timer is
    /// left to [`Http::head_incomplete`]: most heads arrive whole.
    fn head_begun(&mut self, ctx: &mut Ctx<'_, Server>) {
        match self.phase {
            // The first head's time has run since connect.
            Phase::Fresh => self.phase = Phase::Head,
            Phase::Idle => {
                self.unpark(ctx);
                self.phase = Phase::Head;
            }
            Phase::Head | Phase::Busy | Phase::Closing => {}
        }
    }

    /// A head is not whole at the end of a read: from now on it runs
    /// against the header timeout (the first one has since connect).
    fn head_incomplete(&mut self, ctx: &mut Ctx<'_, Server>) {
        if self.header_timer.is_none() {
            let limit = ctx.shared_ref().header_timeout;
            self.header_timer = Some(ctx.set_timer(limit, HEADER_TIMER));
        }
    }

    /// Waits for the next request: keep-alive timer, and a place on the
    /// server's idle list, oldest first, for eviction when connections run short.
    fn park(&mut self, ctx: &mut Ctx<'_, Server>) {
        let token = ctx.token();
        let now = ctx.now();
        let server = ctx.shared();
        if let Some(member) = self.member {
            server.idle.park(member, token);
        }
        self.parked = true;
        self.idle_since = now;
        let due = now + server.keepalive_timeout;
        // A timer already due by then will find the connection not idle
        // long enough and set itself for the rest: keep it. One due later
        // (the timeout was shortened) would be late: replace it.
        match self.keepalive_timer {
            Some((_, armed)) if armed <= due => {}
            _ => self.arm_keepalive(ctx, due),
        }
    }

    /// Sets the keep-alive timer for `due`, replacing any other.
    fn arm_keepalive(&mut self, ctx: &mut Ctx<'_, Server>, due: Instant) {
        if let Some((timer, _)) = self.keepalive_timer.take() {
            ctx.cancel_timer(timer);
        }
        let delay = due.saturating_duration_since(ctx.now());
        self.keepalive_timer = Some((ctx.set_timer(delay, KEEPALIVE_TIMER), due));
    }

    /// The keep-alive timer fired: close if the connection has been parked
    /// for the whole timeout, else wait out the rest.
    fn keepalive_fired(&mut self, ctx: &mut Ctx<'_, Server>) {
        self.keepalive_timer = None;
        if self.phase != Phase::Idle || !self.parked {
            // Busy now; the next park sets the timer again.
            return;
        }
        let due = self.idle_since + ctx.shared_ref().keepalive_timeout;
        // The reactor's clock (the turn's time, never before the timer's
        // deadline): with a clock moved by hand, the real one would lag
        // and the timer would fire again at once until it caught up.
        if ctx.now() >= due {
            self.close(ctx);
        } else {
            self.arm_keepalive(ctx, due);
        }
    }

    /// Leaves the idle list. The keep-alive timer runs on (see `keepalive_timer`).
    fn unpark(&mut self, ctx: &mut Ctx<'_, Server>) {
        if std::mem::take(&mut self.parked)
            && let Some(member) = self.member
        {
            ctx.shared().idle.unpark(member);
        }
    }

    /// Sets the send timer: like nginx's `send_timeout`, a limit on the
    /// time between two writes the peer takes, not on the whole response
    /// (a large file takes as long as it takes).
    fn arm_send_timer(&mut self, ctx: &mut Ctx<'_, Server>) {
        self.queued_at_send_timer = ctx.queued();
        let limit = ctx.shared_ref().send_timeout;
        self.send_timer = Some(ctx.set_timer(limit, SEND_TIMER));
    }

    fn cancel_header_timer(&mut self, ctx: &mut Ctx<'_, Server>) {
        self.header_timer_held = false;
        if let Some(timer) = self.header_timer.take() {
            ctx.cancel_timer(timer);
        }
    }

    fn enter_closing(&mut self, ctx: &mut Ctx<'_, Server>) {
        self.unpark(ctx);
        self.cancel_header_timer(ctx);
        if let Some((timer, _)) = self.keepalive_timer.take() {
            ctx.cancel_timer(timer);
        }
        self.phase = Phase::Closing;
    }

    /// Closes once what is queued has been sent.
    fn close(&mut self, ctx: &mut Ctx<'_, Server>) {
        ctx.close();
        self.enter_closing(ctx);
    }
}

impl Protocol<Server> for Http {
    fn connection_made(&mut self, ctx: &mut Ctx<'_, Server>) {
        self.peer = ctx
            .peer_addr()
            .map_or_else(|_| "-".into(), |a| a.to_string());
        let server = ctx.shared();
        server.open += 1;
        self.member = Some(server.idle.join());
        let limit = server.header_timeout;
        // Near the connection limit, make room as nginx does: the oldest
        // idle keep-alive connections go first, and only they.
        let mut excess = server.open.saturating_sub(server.crowded_above());
        while excess > 0 {
            let Some(token) = ctx.shared().idle.pop_oldest() else {
                break;
            };
            info!("near the connection limit: closing idle keep-alive connection {token:?}");
            ctx.connection(token).close();
            excess -= 1;
        }
        self.header_timer = Some(ctx.set_timer(limit, HEADER_TIMER));
    }

    fn data_received(&mut self, ctx: &mut Ctx<'_, Server>, data: &[u8]) -> usize {
        let mut used = 0;
        while self.phase != Phase::Closing && self.transfer.is_none() {
            if self.skip > 0 {
                let n = self.skip.min((data.len() - used) as u64);
                used += n as usize;
                self.skip -= n;
                if self.skip > 0 {
                    break;
                }
            }
            let rest = &data[used..];
            if rest.is_empty() {
                break;
            }
            if ctx.queued() > QUEUE_TARGET {
                // A client pipelining faster than it reads: answer the rest
                // as the responses drain, not all into memory now.
                debug!(
                    "{}: responses queued; holding back pipelined requests",
                    self.peer
                );
                self.backlogged = true;
                break;
            }
            self.head_begun(ctx);
            match request::parse_head(rest) {
                Head::Partial => {
                    self.head_incomplete(ctx);
                    break;
                }
                Head::Invalid(refusal) => {
                    self.fail(ctx, refusal);
                    used = data.len();
                }
                Head::Complete(request, n) => {
                    used += n;
                    self.cancel_header_timer(ctx);
                    self.phase = Phase::Busy;
                    // A body on a GET means nothing here, but its bytes must
                    // not be read as the next request: skip them.
                    self.skip = request.body_len;
                    self.respond(ctx, request);
                }
            }
        }
        self.held_back = used < data.len();
        if self.transfer.is_some() || self.backlogged {
            // Answer in order: the next request waits until this file is out
            // or the queue has drained.
            ctx.pause_reading();
            if self.backlogged {
                self.schedule_pump(ctx);
            }
        } else if self.peer_eof && self.phase != Phase::Closing {
            // Everything the peer will ever send has been answered.
            self.close(ctx);
        } else if self.phase == Phase::Idle && !self.parked {
            self.park(ctx);
        }
        used
    }

    fn eof_received(&mut self, ctx: &mut Ctx<'_, Server>) {
        self.peer_eof = true;
        // A file going out is finished first; then the connection closes.
        if self.transfer.is_none() && self.phase != Phase::Closing {
            self.close(ctx);
        }
    }

    fn pause_writing(&mut self, ctx: &mut Ctx<'_, Server>) {
        self.write_paused = true;
        if self.header_timer.is_some() {
            self.cancel_header_timer(ctx);
            self.header_timer_held = true;
        }
        self.arm_send_timer(ctx);
    }

    fn resume_writing(&mut self, ctx: &mut Ctx<'_, Server>) {
        self.write_paused = false;
        if std::mem::take(&mut self.header_timer_held) && self.phase != Phase::Closing {
            let limit = ctx.shared_ref().header_timeout;
            self.header_timer = Some(ctx.set_timer(limit, HEADER_TIMER));
        }
        if let Some(timer) = self.send_timer.take() {
            ctx.cancel_timer(timer);
        }
        self.carry_on(ctx);
    }

    fn timer_fired(&mut self, ctx: &mut Ctx<'_, Server>, id: u64) {
        match (id, self.phase) {
            (PUMP_TIMER, _) => {
                self.pump_scheduled = false;
                // While paused, resume_writing carries on instead.
                if !self.write_paused {
                    self.carry_on(ctx);
                }
            }
            (SEND_TIMER, _) => {
                self.send_timer = None;
                if ctx.queued() < self.queued_at_send_timer {
                    // It took some: still reading, if slowly.
                    return self.arm_send_timer(ctx);
                }
                info!("{}: not reading its responses; closing", self.peer);
                ctx.abort("the peer stopped reading");
                self.enter_closing(ctx);
            }
            (HEADER_TIMER, Phase::Fresh) => {
                self.header_timer = None;
                info!(
                    "{}: no request within the header timeout; closing",
                    self.peer
                );
                self.close(ctx);
            }
            (HEADER_TIMER, Phase::Head) => {
                self.header_timer = None;
                self.fail(ctx, Refusal::Timeout);
            }
            (KEEPALIVE_TIMER, _) => self.keepalive_fired(ctx),
            // Timers are cancelled when their phase ends; nothing else to do.
            _ => {}
        }
    }

    fn connection_lost(&mut self, ctx: &mut Ctx<'_, Server>, reason: Option<io::Error>) {
        let server = ctx.shared();
        server.open = server.open.saturating_sub(1);
        if let Some(member) = self.member.take() {
            server.idle.leave(member);
        }
        // A client gone mid-file costs nothing more: the file closes here.
        if let Some(transfer) = self.transfer.take() {
            let why = reason.map_or_else(|| "closed".to_string(), |e| e.to_string());
            self.log(&transfer.access, Some(&why));
        }
    }
}

#[cfg(test)]
mod tests;

mod respond;
mod status;
