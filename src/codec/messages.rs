//! Messages that end at a newline or when the sender pauses.

use std::time::{Duration, Instant};

use super::{FrameError, next_line};
use crate::context::Ctx;
use crate::timer::TimerId;

/// A tail buffer that grew past this is given back once its message is out,
/// so one long message does not pin its memory for the connection's life.
const KEEP_TAIL_CAPACITY: usize = 4096;

/// Splits a byte stream into messages that end at a newline **or when the
/// sender pauses**: the framing for peers that mark where a message ends
/// only by waiting for the answer.
///
/// # Why a pause
///
/// TCP keeps no boundaries between sends. Two `send`s may arrive in one read
/// (the "sticky packets" of many a tutorial) and one `send` may arrive in two
/// reads, so a server that takes each read for a message goes wrong as soon
/// as the network is busy or the message is long. The cure is framing: end
/// each message with a newline ([`next_line`](super::next_line)), or send its
/// length first ([`next_length_prefixed`](super::next_length_prefixed)).
///
/// The classic tutorial client does neither. It reads a line from its user,
/// sends it with one `send`, with no newline and no length, and then blocks
/// in `recv` until the answer comes. The only boundary it gives is in time:
/// after each message it stops and waits. A server that waits for a newline
/// waits forever, and so does the client. `Messages` takes both boundaries:
///
/// - a newline ends a message (a `\r` before it is dropped, so `\r\n` peers
///   work too), however the bytes were cut into reads;
/// - bytes with no newline after them are a message once nothing more has
///   arrived for the *quiet period* ([`Messages::DEFAULT_QUIET_PERIOD`]
///   unless you choose another): the sender paused. Bytes that arrive within
///   the quiet period extend the pending message, so a send that TCP cut in
///   two is still one message;
/// - when the input ends (the peer's EOF or close, a pipe's EOF), the
///   pending bytes are a message too: nothing is dropped.
///
/// A pause is a guess. A sender that stops in the middle of a message for
/// longer than the quiet period has it cut in two, and two sends in quick
/// succession with no newline become one message. A client that waits for
/// the answer after each message never meets either case, and a peer that
/// ends its messages with newlines does not depend on the timing at all.
///
/// # Limits
///
/// A message may hold at most `max` bytes, not counting its `\n` or `\r\n`
/// (nor one `\r` it ends with at a pause): the same count for both endings.
/// One that is longer is reported as soon as more than `max` bytes wait
/// without a newline, so a peer can never make the receiver buffer more. The
/// report is a `FrameError` handed to the callback in place of a message.
/// After it, by default, nothing more is delivered: the sender broke the
/// protocol, close its connection. With [`Messages::skip_too_long`] the rest
/// of that message is dropped up to its newline instead, and the messages
/// after it come through, for a source that cannot be disconnected such as
/// the server's own terminal.
///
/// # On the reactor
///
/// Keep one `Messages` per connection and forward it the callbacks that
/// matter: `data_received`, `timer_fired` (the quiet period is a reactor
/// timer, set with [`Ctx::set_timer`] while bytes wait and cancelled when
/// none do, so at most one per connection), the end of the input
/// ([`Messages::finish`] from `eof_received` and from `connection_lost`),
/// and, if the protocol writes to its peer, `pause_writing` and
/// `resume_writing` (while the reactor does not read a peer, its silence is
/// no pause).
/// Each message comes to your callback with the context, to answer at once:
///
/// ```
/// use std::time::Duration;
/// use sockloop::codec::{FrameError, Messages};
/// use sockloop::harness::Harness;
/// use sockloop::{Ctx, Protocol};
///
/// /// Answers each message with `got <message>`.
/// struct Ack {
///     messages: Messages,
/// }
///
/// fn answer(ctx: &mut Ctx, message: Result<&[u8], FrameError>) {
///     match message {
///         Ok(text) => ctx.write(&[b"got ", text, b"\n"].concat()),
///         Err(_) => {
///             ctx.write(b"too long\n");
///             ctx.close();
///         }
///     }
/// }
///
/// impl Protocol for Ack {
///     fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
///         self.messages.data_received(ctx, data, answer)
///     }
///     fn timer_fired(&mut self, ctx: &mut Ctx, id: u64) {
///         self.messages.timer_fired(ctx, id, answer);
///     }
///     fn eof_received(&mut self, ctx: &mut Ctx) {
///         self.messages.finish(ctx, answer);
///         ctx.close();
///     }
///     fn connection_lost(&mut self, ctx: &mut Ctx, _: Option<std::io::Error>) {
///         self.messages.finish(ctx, answer);
///     }
/// }
///
/// let quiet = Duration::from_millis(20);
/// let mut h = Harness::new(Ack {
///     messages: Messages::new(100).quiet_period(quiet),
/// });
/// // A newline ends a message at once. "hel" then "lo" is one message...
/// h.feed(b"one line\nhel");
/// h.feed(b"lo");
/// assert_eq!(h.take_output(), b"got one line\n");
/// // ...once the sender has paused.
/// std::thread::sleep(quiet * 2);
/// h.run_due_timers();
/// assert_eq!(h.take_output(), b"got hello\n");
/// // What is left when the input ends is a message too.
/// h.feed(b"bye");
/// h.feed_eof();
/// assert_eq!(h.take_output(), b"got bye\n");
/// ```
///
/// # Without the reactor
///
/// [`Messages::push`] and [`Messages::flush`] are the same rules without a
/// clock: push what each read returns, and flush when the sender has paused
/// (a read timed out) or the input ended.
#[derive(Debug)]
pub struct Messages {
    max: usize,
    quiet: Duration,
    timer_id: u64,
    skip_too_long: bool,
    /// The bytes after the last message, waiting for a newline, a pause or
    /// the end of the input. Never holds a `\n`, nor more than `max` bytes of
    /// content.
    tail: Vec<u8>,
    /// Inside a message over the limit (with `skip_too_long`): drop bytes up
    /// to its newline.
    skipping: bool,
    /// A message went over the limit (without `skip_too_long`): deliver
    /// nothing more.
    stopped: bool,
    /// When bytes last joined the tail.
    last_arrival: Option<Instant>,
    /// The reactor stopped reading this peer for flow control
    /// (`pause_writing`): its silence says nothing, so it is no pause.
    reading_paused: bool,
    /// The quiet-period timer, set exactly while the tail is not empty.
    timer: Option<TimerId>,
}

impl Messages {
    /// How long a sender must send nothing before the bytes it sent with no
    /// newline count as a message, unless [`Messages::quiet_period`] says
    /// otherwise. Far longer than the gaps inside one send that TCP cuts
    /// (microseconds on a LAN, a round trip at worst), far shorter than a
    /// person waiting for an answer notices.
    pub const DEFAULT_QUIET_PERIOD: Duration = Duration::from_millis(200);

    /// The id the quiet-period timer is set with, unless
    /// [`Messages::timer_id`] says otherwise: `timer_fired` calls with any
    /// other id are not this framing's.
    pub const TIMER_ID: u64 = u64::from_be_bytes(*b"messages");

    /// Messages of at most `max` bytes, the default quiet period, and the
    /// sender cut off (nothing more delivered) after one over the limit.
    pub fn new(max: usize) -> Messages {
        Messages {
            max,
            quiet: Messages::DEFAULT_QUIET_PERIOD,
            timer_id: Messages::TIMER_ID,
            skip_too_long: false,
            tail: Vec::new(),
            skipping: false,
            stopped: false,
            last_arrival: None,
            reading_paused: false,
            timer: None,
        }
    }

    /// How long the sender must be silent before bytes with no newline after
    /// them are a message. Zero makes every read's unfinished tail a message
    /// at the end of the reactor's turn: each read a message, as a naive
    /// `recv` loop would have it.
    pub fn quiet_period(mut self, quiet: Duration) -> Messages {
        self.quiet = quiet;
        self
    }

    /// After a message over the limit, drop the rest of it up to its newline
    /// and go on with the next: for a source that cannot be disconnected.
    /// (A pause does not end a message being dropped: only its newline does.)
    pub fn skip_too_long(mut self) -> Messages {
        self.skip_too_long = true;
        self
    }

    /// The id to set the quiet-period timer with, for a protocol whose own
    /// timers might use [`Messages::TIMER_ID`].
    pub fn timer_id(mut self, id: u64) -> Messages {
        self.timer_id = id;
        self
    }

    /// The bytes received after the last message: the start of the next one.
    pub fn pending(&self) -> &[u8] {
        &self.tail
    }

    // ----- the rules, without a clock ---------------------------------------

    /// Takes the bytes of one read and calls `on_message` with each message
    /// they complete, in order: the content of each line ended by a newline,
    /// or `Err` for one over the limit. What follows the last newline is kept
    /// as [`Messages::pending`] for the next read, a pause or the end.
    pub fn push(&mut self, data: &[u8], mut on_message: impl FnMut(Result<&[u8], FrameError>)) {
        let mut rest = data;
        while !rest.is_empty() && !self.stopped {
            if self.skipping {
                let Some(newline) = find_newline(rest) else {
                    return;
                };
                self.skipping = false;
                rest = &rest[newline + 1..];
            } else if self.tail.is_empty() {
                // The common case: whole lines straight from the read, no copy.
                match next_line(rest, self.max) {
                    Ok(Some((line, consumed))) => {
                        on_message(Ok(line));
                        rest = &rest[consumed..];
                    }
                    Ok(None) => {
                        self.tail.extend_from_slice(rest);
                        return;
                    }
                    // `rest` still holds the long line: skipping drops it.
                    Err(e) => self.over_limit(e, &mut on_message),
                }
            } else {
                // The read goes on with the message that the tail started.
                let newline = find_newline(rest);
                let more = &rest[..newline.unwrap_or(rest.len())];
                if content_len(&self.tail, more) > self.max {
                    self.over_limit(FrameError::TooLong { max: self.max }, &mut on_message);
                    continue;
                }
                self.tail.extend_from_slice(more);
                let Some(newline) = newline else {
                    return;
                };
                rest = &rest[newline + 1..];
                self.deliver_tail(&mut on_message);
            }
        }
    }

    /// The sender paused, or the input ended: the pending bytes, if any, are
    /// a message. (A trailing `\r` is dropped, as if it began a `\r\n`.)
    pub fn flush(&mut self, mut on_message: impl FnMut(Result<&[u8], FrameError>)) {
        if !self.tail.is_empty() {
            self.deliver_tail(&mut on_message);
        }
    }

    fn deliver_tail(&mut self, on_message: &mut impl FnMut(Result<&[u8], FrameError>)) {
        on_message(Ok(strip_cr(&self.tail)));
        self.tail.clear();
        if self.tail.capacity() > KEEP_TAIL_CAPACITY {
            self.tail = Vec::new();
        }
    }

    fn over_limit(
        &mut self,
        error: FrameError,
        on_message: &mut impl FnMut(Result<&[u8], FrameError>),
    ) {
        self.tail.clear();
        on_message(Err(error));
        if self.skip_too_long {
            self.skipping = true;
        } else {
            self.stopped = true;
        }
    }

    // ----- on the reactor ---------------------------------------------------

    /// Call from [`Protocol::data_received`](crate::Protocol::data_received):
    /// [`Messages::push`], then the quiet-period timer set if bytes wait (or
    /// moved on, by noting when they came) and cancelled if none do. Every
    /// byte of `data` is consumed (the pending ones are kept here): return
    /// what this returns.
    pub fn data_received<S: 'static>(
        &mut self,
        ctx: &mut Ctx<'_, S>,
        data: &[u8],
        mut on_message: impl FnMut(&mut Ctx<'_, S>, Result<&[u8], FrameError>),
    ) -> usize {
        self.push(data, |message| on_message(ctx, message));
        if self.tail.is_empty() {
            self.cancel_timer(ctx);
        } else if !data.is_empty() {
            // Rather than a new timer per read, the one set keeps running and
            // `timer_fired` sets it again if bytes came in meanwhile.
            self.last_arrival = Some(ctx.now());
            if self.timer.is_none() {
                self.timer = Some(ctx.set_timer(self.quiet, self.timer_id));
            }
        }
        data.len()
    }

    /// Call from [`Protocol::timer_fired`](crate::Protocol::timer_fired).
    /// Returns false if `id` is not this framing's timer (the protocol's own
    /// timer, then). If the sender has been quiet for the whole quiet period,
    /// the pending bytes are a message; if bytes came in since the timer was
    /// set, it is set again for the rest of the period.
    pub fn timer_fired<S: 'static>(
        &mut self,
        ctx: &mut Ctx<'_, S>,
        id: u64,
        mut on_message: impl FnMut(&mut Ctx<'_, S>, Result<&[u8], FrameError>),
    ) -> bool {
        if id != self.timer_id {
            return false;
        }
        self.timer = None;
        if self.tail.is_empty() || self.reading_paused {
            // While reading is paused, `resume_writing` sets it again.
            return true;
        }
        let now = ctx.now();
        let quiet_until = self.last_arrival.map_or(now, |last| last + self.quiet);
        if now < quiet_until {
            self.timer = Some(ctx.set_timer(quiet_until - now, self.timer_id));
        } else {
            self.flush(|message| on_message(ctx, message));
        }
        true
    }

    /// Call from [`Protocol::pause_writing`](crate::Protocol::pause_writing).
    /// The reactor stops reading a peer whose output backs up, so the rest
    /// of a message it is sending waits unread in the socket: silence from
    /// then on is ours, not the sender's, and must not end the message. The
    /// quiet period stops counting until [`Messages::resume_writing`].
    pub fn pause_writing(&mut self) {
        self.reading_paused = true;
    }

    /// Call from [`Protocol::resume_writing`](crate::Protocol::resume_writing):
    /// reading resumes, and the quiet period starts again from now (what
    /// waited in the socket is read first and extends the pending bytes).
    pub fn resume_writing<S: 'static>(&mut self, ctx: &mut Ctx<'_, S>) {
        self.reading_paused = false;
        if !self.tail.is_empty() {
            self.last_arrival = Some(ctx.now());
            if self.timer.is_none() {
                self.timer = Some(ctx.set_timer(self.quiet, self.timer_id));
            }
        }
    }

    /// Call when the input ends: from
    /// [`Protocol::eof_received`](crate::Protocol::eof_received) and from
    /// [`Protocol::connection_lost`](crate::Protocol::connection_lost) (a
    /// reset, or a close by the server, brings no EOF). Cancels the timer
    /// and delivers the pending bytes as the last message. Calling it again
    /// does nothing.
    pub fn finish<S: 'static>(
        &mut self,
        ctx: &mut Ctx<'_, S>,
        mut on_message: impl FnMut(&mut Ctx<'_, S>, Result<&[u8], FrameError>),
    ) {
        self.cancel_timer(ctx);
        self.flush(|message| on_message(ctx, message));
    }

    fn cancel_timer<S: 'static>(&mut self, ctx: &mut Ctx<'_, S>) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_timer(timer);
        }
    }
}

fn find_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The content length of `tail` followed by `more`: a last `\r` does not
/// count, being the start of a `\r\n` or what a pause leaves of one.
fn content_len(tail: &[u8], more: &[u8]) -> usize {
    let last = more.last().or(tail.last());
    tail.len() + more.len() - usize::from(last == Some(&b'\r'))
}

#[cfg(test)]
mod tests;
