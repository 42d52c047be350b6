//! One HTTP connection: the state machine that turns request heads into
//! responses, streams files as the socket drains, and keeps the time limits.
//!
//! ```text
//!  Fresh --first byte--> Head --whole head--> Busy --response done--> Idle
//!    |                    |                    |  (file: streamed)     |
//!    | header timeout     | header timeout     | not keep-alive        | keep-alive timeout,
//!    v  (silent close)    v  (408)             v                       v or evicted
//!  Closing <--------------+--------------------+-----------------------+
//!                                      Idle --first byte--> Head ...
//! ```
//!
//! Requests are answered strictly in order. While a file is streaming, the
//! bytes after its request (pipelined requests) stay with the reactor:
//! `data_received` returns short and reading is paused until the last chunk
//! is queued, then resumed, and the reactor delivers the rest again. The
//! same happens when pipelined requests come faster than their responses
//! drain: parsing stops once 64 KiB of responses are queued.
//!
//! The time limits stay off the path of a request that arrives whole: the
//! header timer runs from connect for the first head, but for a later one
//! only once it is seen to arrive in pieces; the keep-alive timer is left
//! running across requests and, when it fires, closes the connection only
//! if it has been idle for the whole timeout, else waits out the rest.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read};
use std::time::{Duration, Instant, SystemTime};

use log::{debug, info, warn};
use sockloop::{Ctx, Protocol, TimerId};

use crate::http::Server;
use crate::http::cache::Entry;
use crate::http::files::{self, Found, Target};
use crate::http::idle::Member;
use crate::http::request::{self, Head, Refusal, Request};
use crate::http::response::{self, Persist};

/// Bytes read from a file per `read`.
pub const CHUNK: usize = 64 * 1024;
/// Push file chunks while at most this much is queued for the peer. It is
/// the reactor's default high watermark, so a file fills the queue just past
/// it: the reactor then calls `pause_writing`, and `resume_writing` when it
/// has drained, which is when the next chunks are read.
const QUEUE_TARGET: usize = 64 * 1024;

/// The first request head must arrive within the header timeout of connecting.
const HEADER_TIMER: u64 = 1;
/// An idle keep-alive connection closes when this fires.
const KEEPALIVE_TIMER: u64 = 2;
/// Carries a file transfer (or a backlog of pipelined requests) on to the
/// next turn when the socket took all that was queued, so no
/// `resume_writing` will come.
const PUMP_TIMER: u64 = 3;
/// Output has stayed over the high watermark for the send timeout: the
/// peer has stopped reading.
const SEND_TIMER: u64 = 4;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Connected; nothing received yet. The header timer runs from connect.
    Fresh,
    /// Part of a request head has arrived; the header timer runs.
    Head,
    /// A request is being answered (a file may be streaming).
    Busy,
    /// Between requests on a keep-alive connection: the keep-alive timer
    /// runs and the connection is on the server's idle list once parked.
    Idle,
    /// The connection is closing; input is ignored.
    Closing,
}

/// What the access log line says about one request. Method and target
/// are borrowed from the input while the response is written at once, and
/// copied only for a file that streams on after the input is gone.
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

/// A file being streamed to the peer.
struct Transfer {
    file: File,
    remaining: u64,
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
    pump_scheduled: bool,
    /// The peer shut down its sending side: finish what was asked, then close.
    peer_eof: bool,
    /// The last `data_received` left bytes with the reactor (pipelined
    /// requests behind a streaming file, or a partial head).
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
            keepalive_timer: None,
            idle_since: Instant::now(),
            member: None,
            parked: false,
            skip: 0,
            transfer: None,
            write_paused: false,
            send_timer: None,
            pump_scheduled: false,
            peer_eof: false,
            held_back: false,
            backlogged: false,
        }
    }

    // ----- answering ------------------------------------------------------

    fn respond(&mut self, ctx: &mut Ctx<'_, Server>, request: Request<'_>) {
        let persist = if !request.keep_alive || ctx.is_shutting_down() {
            Persist::Close
        } else if request.minor == 0 {
            Persist::KeepAlive
        } else {
            Persist::Implicit
        };
        let head_only = request.method == "HEAD";
        let access = Access {
            method: Cow::Borrowed(request.method),
            target: Cow::Borrowed(request.target),
            status: 0,
            bytes: 0,
            // The turn's time: near enough for a log line, and free.
            started: ctx.now(),
            refused: None,
        };
        if request.method != "GET" && !head_only {
            let allow = [("Allow", "GET, HEAD")];
            return self.send_page(ctx, 405, persist, &allow, head_only, access);
        }
        let since = request.if_modified_since;
        let path = match files::path_of(request.target) {
            Ok(path) => path,
            Err(refusal) => return self.refuse(ctx, refusal, head_only, access),
        };
        let now = ctx.now();
        if let Some(entry) = ctx.shared().cache.get(path, now) {
            return self.send_entry(ctx, &entry, since, persist, head_only, access);
        }
        let server = ctx.shared();
        match files::resolve(&server.root, request.target) {
            Err(refusal) => self.refuse(ctx, refusal, head_only, access),
            Ok(Target::NotFound) => {
                server.cache.remove(path);
                self.send_page(ctx, 404, persist, &[], head_only, access)
            }
            Ok(Target::Redirect(location)) => {
                server.cache.remove(path);
                let location = [("Location", location.as_str())];
                self.send_page(ctx, 301, persist, &location, head_only, access);
            }
            Ok(Target::File(found)) => {
                match server.cache.store(path, found, now, SystemTime::now()) {
                    Ok(entry) => self.send_entry(ctx, &entry, since, persist, head_only, access),
                    Err(found) => self.send_file(ctx, found, since, persist, head_only, access),
                }
            }
        }
    }

    /// Writes a response head: the status line and the headers every
    /// response carries, then what `rest` adds. Built in the server's one
    /// head buffer (only one callback runs at a time), so no allocation.
    fn write_head(
        ctx: &mut Ctx<'_, Server>,
        status: u16,
        persist: Persist,
        rest: impl FnOnce(response::Head<'_>),
    ) {
        let turn = ctx.now();
        let server = ctx.shared();
        let mut buf = std::mem::take(&mut server.head);
        rest(response::Head::new(
            &mut buf,
            status,
            server.clock.now(turn),
            persist,
        ));
        ctx.write(&buf);
        ctx.shared().head = buf;
    }

    /// Sends a status with its small HTML page.
    fn send_page(
        &mut self,
        ctx: &mut Ctx<'_, Server>,
        status: u16,
        persist: Persist,
        headers: &[(&str, &str)],
        head_only: bool,
        mut access: Access<'_>,
    ) {
        let detail = access
            .refused
            .map_or_else(|| response::detail(status), Refusal::detail);
        let body = response::page(status, detail);
        Self::write_head(ctx, status, persist, |head| {
            let mut head = head
                .header("Content-Type", "text/html; charset=utf-8")
                .header("Content-Length", body.len());
            for (name, value) in headers {
                head = head.header(name, value);
            }
            head.finish();
        });
        if !head_only {
            ctx.write(body.as_bytes());
            access.bytes = body.len() as u64;
        }
        access.status = status;
        self.complete(ctx, access, persist);
    }

    /// Sends a cached file: 304 if the client's copy is current, else 200
    /// with the body from memory.
    fn send_entry(
        &mut self,
        ctx: &mut Ctx<'_, Server>,
        entry: &Entry,
        if_modified_since: Option<SystemTime>,
        persist: Persist,
        head_only: bool,
        mut access: Access<'_>,
    ) {
        let current = matches!(
            (entry.modified, if_modified_since),
            (Some(modified), Some(since)) if modified <= since
        );
        access.status = if current { 304 } else { 200 };
        // The entry's part carries the headers of its own and the blank line.
        Self::write_head(ctx, access.status, persist, |_| {});
        if current {
            ctx.write(entry.not_modified());
        } else if head_only {
            ctx.write(entry.head());
        } else {
            ctx.write(entry.full());
            access.bytes = entry.body_len() as u64;
        }
        self.complete(ctx, access, persist);
    }

    /// Sends a file too big to cache: 304 if the client's copy is current,
    /// else the head and then the body, streamed.
    fn send_file(
        &mut self,
        ctx: &mut Ctx<'_, Server>,
        found: Found,
        if_modified_since: Option<SystemTime>,
        persist: Persist,
        head_only: bool,
        mut access: Access<'_>,
    ) {
        let modified = found.modified.map(response::whole_seconds);
        let last_modified = modified.map(httpdate::fmt_http_date);
        if let (Some(modified), Some(since)) = (modified, if_modified_since)
            && modified <= since
        {
            Self::write_head(ctx, 304, persist, |mut head| {
                if let Some(last_modified) = &last_modified {
                    head = head.header("Last-Modified", last_modified);
                }
                head.finish();
            });
            access.status = 304;
            return self.complete(ctx, access, persist);
        }
        Self::write_head(ctx, 200, persist, |head| {
            let mut head = head
                .header("Content-Type", found.content_type)
                .header("Content-Length", found.len);
            if let Some(last_modified) = &last_modified {
                head = head.header("Last-Modified", last_modified);
            }
            head.finish();
        });
        access.status = 200;
        if head_only || found.len == 0 {
            return self.complete(ctx, access, persist);
        }
        self.transfer = Some(Transfer {
            file: found.file,
            remaining: found.len,
            persist,
            access: access.into_owned(),
        });
        self.pump(ctx);
    }

    /// Reads and queues file chunks until the queue passes its target or
    /// the file is done. Never holds more than one chunk in memory beyond
    /// what the reactor has queued.
    fn pump(&mut self, ctx: &mut Ctx<'_, Server>) {
        let Some(transfer) = self.transfer.as_mut() else {
            return;
        };
        // One read buffer for the whole server: only one callback runs at a time.
        let mut chunk = std::mem::take(&mut ctx.shared().chunk);
        chunk.resize(CHUNK, 0);
        let token = ctx.token();
        let mut failure = None;
        let mut refused = false;
        while transfer.remaining > 0 && ctx.queued() <= QUEUE_TARGET {
            let want = transfer.remaining.min(CHUNK as u64) as usize;
            match transfer.file.read(&mut chunk[..want]) {
                Ok(0) => {
                    failure = Some("the file shrank while being sent".to_string());
                    break;
                }
                // Refused: the connection is closing (a server shutdown).
                // Stop here rather than read the rest of the file for nothing.
                Ok(n) if !ctx.connection(token).write(&chunk[..n]) => {
                    refused = true;
                    break;
                }
                Ok(n) => {
                    transfer.remaining -= n as u64;
                    transfer.access.bytes += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failure = Some(format!("reading the file: {e}"));
                    break;
                }
            }
        }
        ctx.shared().chunk = chunk;
        if let Some(why) = failure {
            // The Content-Length is promised; cutting the connection is the
            // only way left to tell the client the body is not whole.
            warn!(
                "{}: {} {}: {why}",
                self.peer, transfer.access.method, transfer.access.target
            );
            ctx.abort(&why);
            self.enter_closing(ctx);
            return;
        }
        if refused {
            if let Some(cut) = self.transfer.take() {
                self.log(&cut.access, Some("the connection takes no more output"));
            }
            self.close(ctx);
            return;
        }
        if transfer.remaining > 0 {
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

    /// The output queue has room again: stream on, or take up the requests
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

    /// Streams on after a pause; once the file is done, takes up the
    /// requests that were held back behind it.
    fn continue_transfer(&mut self, ctx: &mut Ctx<'_, Server>) {
        if self.transfer.is_none() {
            return;
        }
        self.pump(ctx);
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

    /// Answers a request with the page that says what is wrong with it,
    /// and closes: after a request this malformed the stream cannot be
    /// trusted to be in step.
    fn refuse(
        &mut self,
        ctx: &mut Ctx<'_, Server>,
        refusal: Refusal,
        head_only: bool,
        mut access: Access<'_>,
    ) {
        access.refused = Some(refusal);
        self.send_page(
            ctx,
            refusal.status(),
            Persist::Close,
            &[],
            head_only,
            access,
        );
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

    fn cancel_header_timer(&mut self, ctx: &mut Ctx<'_, Server>) {
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
        // A streaming file is finished first; then the connection closes.
        if self.transfer.is_none() && self.phase != Phase::Closing {
            self.close(ctx);
        }
    }

    fn pause_writing(&mut self, ctx: &mut Ctx<'_, Server>) {
        self.write_paused = true;
        let limit = ctx.shared_ref().send_timeout;
        self.send_timer = Some(ctx.set_timer(limit, SEND_TIMER));
    }

    fn resume_writing(&mut self, ctx: &mut Ctx<'_, Server>) {
        self.write_paused = false;
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
