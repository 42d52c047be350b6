//! The rules on their own (push and flush against a byte-at-a-time
//! reference, on every split), then on the reactor through the harness: the
//! quiet-period timer, the end of the input, the limits.

use std::cell::RefCell;
use std::rc::Rc;

use super::*;
use crate::harness::Harness;
use crate::protocol::Protocol;

/// What a receiver saw: a message, or a report of one over the limit.
type Seen = Result<Vec<u8>, FrameError>;

/// One step of what a sender does.
#[derive(Debug, Clone, Copy)]
enum Step<'a> {
    Send(&'a [u8]),
    Pause,
}

use Step::{Pause, Send};

/// The rules stated one byte at a time, with no buffering cleverness: what
/// `Messages` must deliver for `steps` followed by the end of the input.
fn reference(steps: &[Step], max: usize, skip: bool) -> Vec<Seen> {
    let mut seen = Vec::new();
    let mut message = Vec::new();
    let (mut skipping, mut stopped) = (false, false);
    let content = |m: &[u8]| m.len() - usize::from(m.last() == Some(&b'\r'));
    let over_limit = |seen: &mut Vec<Seen>, skipping: &mut bool, stopped: &mut bool| {
        seen.push(Err(FrameError::TooLong { max }));
        if skip {
            *skipping = true;
        } else {
            *stopped = true;
        }
    };
    let ends = steps.iter().copied().chain([Pause]); // the end flushes like a pause
    for step in ends {
        if stopped {
            break;
        }
        let Send(bytes) = step else {
            if !message.is_empty() {
                seen.push(Ok(strip_cr(&message).to_vec()));
                message.clear();
            }
            continue;
        };
        for &byte in bytes {
            if stopped {
                break;
            }
            if skipping {
                skipping = byte != b'\n';
                continue;
            }
            if byte == b'\n' {
                seen.push(Ok(strip_cr(&message).to_vec()));
                message.clear();
                continue;
            }
            message.push(byte);
            if content(&message) > max {
                message.clear();
                over_limit(&mut seen, &mut skipping, &mut stopped);
            }
        }
    }
    seen
}

/// Feeds each send as the reads in `cuts` (cut points inside the send,
/// ascending), flushing at each pause and at the end.
fn pushed(messages: &mut Messages, steps: &[(Step, Vec<usize>)]) -> Vec<Seen> {
    let mut seen = Vec::new();
    let mut record = |m: Result<&[u8], FrameError>| seen.push(m.map(<[u8]>::to_vec));
    for (step, cuts) in steps {
        match step {
            Send(bytes) => {
                let mut from = 0;
                for &to in cuts.iter().chain([&bytes.len()]) {
                    messages.push(&bytes[from..to], &mut record);
                    from = to;
                }
            }
            Pause => messages.flush(&mut record),
        }
    }
    messages.flush(&mut record);
    seen
}

fn ok(text: &str) -> Seen {
    Ok(text.as_bytes().to_vec())
}

fn too_long(max: usize) -> Seen {
    Err(FrameError::TooLong { max })
}

// ----- the rules, without a clock ---------------------------------------------

#[test]
fn newlines_end_messages_on_every_split_and_the_tail_ends_at_the_end() {
    let input: &[u8] = b"one\r\ntwo\n\nabcdef\r\nin\rsid\nlast";
    let expected = [
        ok("one"),
        ok("two"),
        ok(""),
        ok("abcdef"),
        ok("in\rsid"),
        ok("last"),
    ];
    assert_eq!(reference(&[Send(input)], 6, false), expected);
    for first in 0..=input.len() {
        for second in first..=input.len() {
            let mut messages = Messages::new(6);
            let steps = [(Send(input), vec![first, second])];
            assert_eq!(
                pushed(&mut messages, &steps),
                expected,
                "cut at {first}, {second}"
            );
        }
    }
    let bytewise = [(Send(input), (1..input.len()).collect())];
    assert_eq!(pushed(&mut Messages::new(6), &bytewise), expected);
}

#[test]
fn a_pause_ends_a_message_and_bytes_before_it_extend_the_tail() {
    let steps = [
        (Send(b"hel"), vec![]),
        (Send(b"lo"), vec![1]),
        (Pause, vec![]),
        (Pause, vec![]), // a second pause: nothing pending, nothing sent
        (Send(b"world\r\nand"), vec![3, 6]),
        (Pause, vec![]),
        (Send(b"wait\r"), vec![]),
        (Pause, vec![]),
    ];
    assert_eq!(
        pushed(&mut Messages::new(16), &steps),
        [ok("hello"), ok("world"), ok("and"), ok("wait")]
    );
}

#[test]
fn the_limit_counts_the_same_for_a_newline_a_pause_and_the_end() {
    let max = 4;
    for ending in [&b"\n"[..], b"\r\n", b""] {
        let mut exact = Messages::new(max);
        let steps = [(Send(&[b"abcd", ending].concat()), vec![2])];
        assert_eq!(pushed(&mut exact, &steps), [ok("abcd")], "{ending:?}");
        let mut over = Messages::new(max);
        let steps = [(Send(&[b"abcde", ending].concat()), vec![2])];
        assert_eq!(pushed(&mut over, &steps), [too_long(max)], "{ending:?}");
    }
    // One `\r` at a pause is what is left of a `\r\n`: not content.
    let steps = [(Send(b"abcd\r"), vec![]), (Pause, vec![])];
    assert_eq!(pushed(&mut Messages::new(max), &steps), [ok("abcd")]);
    // Refused without waiting for the end of the message.
    let mut messages = Messages::new(max);
    let mut seen = Vec::new();
    messages.push(b"abc", |m| seen.push(m.map(<[u8]>::to_vec)));
    messages.push(b"de", |m| seen.push(m.map(<[u8]>::to_vec)));
    assert_eq!(seen, [too_long(max)]);
    assert!(messages.pending().is_empty());
}

#[test]
fn after_a_message_over_the_limit_nothing_more_is_delivered() {
    let steps = [
        (Send(b"ok\ntoo long\nnever\nnor"), vec![5]),
        (Pause, vec![]),
    ];
    assert_eq!(
        pushed(&mut Messages::new(4), &steps),
        [ok("ok"), too_long(4)]
    );
}

#[test]
fn skip_too_long_drops_the_long_message_up_to_its_newline_even_across_a_pause() {
    let steps = [
        (Send(b"ok\nmuch too lo"), vec![4]),
        (Pause, vec![]),
        (Send(b"ng still\nfine"), vec![]),
        (Pause, vec![]),
        (Send(b"x\nlong line\nlast"), vec![]),
    ];
    assert_eq!(
        pushed(&mut Messages::new(4).skip_too_long(), &steps),
        [
            ok("ok"),
            too_long(4),
            ok("fine"),
            ok("x"),
            too_long(4),
            ok("last")
        ]
    );
}

/// A small deterministic generator, so that a failure can be replayed.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[test]
fn random_sends_pauses_and_cuts_agree_with_the_reference() {
    let mut rng = XorShift(0x5EED_1234_ABCD_0001);
    for case in 0..20_000 {
        let max = rng.below(7);
        let skip = rng.below(2) == 1;
        let mut sends: Vec<Vec<u8>> = Vec::new();
        let mut plan = Vec::new(); // (is a send, its cuts)
        for _ in 0..rng.below(8) {
            if rng.below(3) == 0 {
                plan.push((false, vec![]));
                continue;
            }
            let len = rng.below(12);
            let bytes: Vec<u8> = (0..len).map(|_| b"ab\r\n"[rng.below(4)]).collect();
            let mut cuts: Vec<usize> = (0..rng.below(4)).map(|_| rng.below(len + 1)).collect();
            cuts.sort_unstable();
            sends.push(bytes);
            plan.push((true, cuts));
        }
        let mut next_send = sends.iter();
        let steps: Vec<(Step, Vec<usize>)> = plan
            .into_iter()
            .map(|(is_send, cuts)| match is_send {
                true => (Send(next_send.next().unwrap()), cuts),
                false => (Pause, cuts),
            })
            .collect();
        let plain: Vec<Step> = steps.iter().map(|(s, _)| *s).collect();
        let mut messages = Messages::new(max);
        if skip {
            messages = messages.skip_too_long();
        }
        assert_eq!(
            pushed(&mut messages, &steps),
            reference(&plain, max, skip),
            "case {case}: max {max}, skip {skip}, {plain:?}"
        );
    }
}

#[test]
fn a_big_tail_gives_its_memory_back_once_delivered() {
    let mut messages = Messages::new(1 << 20);
    messages.push(&vec![b'x'; 100_000], |_| {});
    assert!(messages.tail.capacity() >= 100_000);
    messages.push(b"\n", |_| {});
    assert!(messages.tail.capacity() <= KEEP_TAIL_CAPACITY);
}

// ----- on the reactor ----------------------------------------------------------

/// Forwards every callback to a shared `Messages`, recording what it
/// delivers (and closing on a message over the limit, as a server would).
struct Collect {
    messages: Rc<RefCell<Messages>>,
    seen: Rc<RefCell<Vec<Seen>>>,
}

/// What a test holds on to: the harness, the `Messages` inside it, and what
/// it delivered.
type Collecting = (Harness, Rc<RefCell<Messages>>, Rc<RefCell<Vec<Seen>>>);

/// A harness running `messages`, with handles on it and on what it delivers.
fn collect(messages: Messages) -> Collecting {
    let messages = Rc::new(RefCell::new(messages));
    let seen = Rc::new(RefCell::new(Vec::new()));
    let h = Harness::new(Collect {
        messages: messages.clone(),
        seen: seen.clone(),
    });
    (h, messages, seen)
}

impl Collect {
    fn record(&self) -> impl FnMut(&mut Ctx<'_>, Result<&[u8], FrameError>) + '_ {
        |ctx, message| {
            if message.is_err() {
                ctx.close();
            }
            self.seen.borrow_mut().push(message.map(<[u8]>::to_vec));
        }
    }
}

impl Protocol for Collect {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        self.messages
            .borrow_mut()
            .data_received(ctx, data, self.record())
    }

    fn timer_fired(&mut self, ctx: &mut Ctx, id: u64) {
        assert!(
            self.messages
                .borrow_mut()
                .timer_fired(ctx, id, self.record())
        );
    }

    fn eof_received(&mut self, ctx: &mut Ctx) {
        self.messages.borrow_mut().finish(ctx, self.record());
        ctx.close();
    }

    fn connection_lost(&mut self, ctx: &mut Ctx, _reason: Option<std::io::Error>) {
        self.messages.borrow_mut().finish(ctx, self.record());
    }
}

const LONG: Duration = Duration::from_secs(3600);

#[test]
fn on_the_reactor_each_reads_tail_is_a_message_once_its_timer_runs() {
    // A zero quiet period: every read is followed by a pause as soon as the
    // due timers run, so the reference pauses after each read.
    let input: &[u8] = b"one\r\ntw\no, three\nfour";
    for split in 0..=input.len() {
        let (first, second) = input.split_at(split);
        let (mut h, messages, seen) = collect(Messages::new(16).quiet_period(Duration::ZERO));
        for read in [first, second] {
            h.feed(read);
            h.run_due_timers();
            assert!(messages.borrow().timer.is_none(), "split at {split}");
        }
        let expected = reference(&[Send(first), Pause, Send(second), Pause], 16, false);
        assert_eq!(*seen.borrow(), expected, "split at {split}");
    }
}

#[test]
fn on_the_reactor_reads_within_the_quiet_period_extend_the_tail_until_the_eof() {
    let input: &[u8] = b"hello, wor\r\nld and then a tail";
    for split in 0..=input.len() {
        let (mut h, messages, seen) = collect(Messages::new(64).quiet_period(LONG));
        h.feed(&input[..split]);
        h.run_due_timers(); // not due for an hour: nothing
        h.feed(&input[split..]);
        h.run_due_timers();
        assert_eq!(
            *seen.borrow(),
            [ok("hello, wor"), ok("ld and then a tail")][..1]
        );
        assert_eq!(messages.borrow().pending(), b"ld and then a tail");
        h.feed_eof();
        assert_eq!(*seen.borrow(), [ok("hello, wor"), ok("ld and then a tail")]);
        assert!(messages.borrow().timer.is_none());
        assert!(h.is_closed());
    }
}

#[test]
fn a_timer_is_set_exactly_while_bytes_wait() {
    let (mut h, messages, seen) = collect(Messages::new(64).quiet_period(LONG));
    let timer = || messages.borrow().timer;
    h.feed(b"whole line\n");
    assert_eq!(timer(), None);
    h.feed(b"part");
    let first = timer().expect("a timer for the pending bytes");
    h.feed(b" more");
    assert_eq!(
        timer(),
        Some(first),
        "one timer per connection, not one per read"
    );
    h.feed(b"\nnext");
    assert_eq!(
        timer(),
        Some(first),
        "bytes still wait: the same timer runs on"
    );
    h.feed(b"\n");
    assert_eq!(timer(), None);
    // The timer was cancelled, not just forgotten.
    assert!(!h.with_ctx(|ctx| ctx.cancel_timer(first)));
    assert_eq!(
        *seen.borrow(),
        [ok("whole line"), ok("part more"), ok("next")]
    );
}

#[test]
fn a_timer_that_fires_before_the_sender_was_quiet_long_enough_waits_again() {
    let (mut h, messages, seen) = collect(Messages::new(64).quiet_period(LONG));
    h.feed(b"pending");
    let first = messages.borrow().timer.expect("a timer");
    // As if the timer fired now, before the quiet period has passed (the
    // quiet period runs from the last byte, the timer from the first).
    let delivered = h.with_ctx(|ctx| {
        ctx.cancel_timer(first);
        messages
            .borrow_mut()
            .timer_fired(ctx, Messages::TIMER_ID, |_, _| panic!("delivered early"))
    });
    assert!(delivered);
    let second = messages.borrow().timer.expect("set again");
    assert_ne!(second, first);
    assert!(seen.borrow().is_empty());
    assert_eq!(messages.borrow().pending(), b"pending");
}

#[test]
fn another_timer_id_is_not_this_framings() {
    let (mut h, messages, _seen) = collect(Messages::new(64).quiet_period(Duration::ZERO));
    h.feed(b"pending");
    let mine = h.with_ctx(|ctx| {
        messages
            .borrow_mut()
            .timer_fired(ctx, 7, |_, _| panic!("not my timer"))
    });
    assert!(!mine);
    assert!(messages.borrow().timer.is_some());
    let chosen = Messages::new(8).timer_id(7);
    assert_eq!(chosen.timer_id, 7);
}

#[test]
fn the_tail_is_delivered_when_the_connection_is_closed_without_an_eof() {
    let (mut h, messages, seen) = collect(Messages::new(64).quiet_period(LONG));
    h.feed(b"line\nlast words");
    h.with_ctx(|ctx| ctx.close());
    assert!(h.is_closed());
    assert_eq!(*seen.borrow(), [ok("line"), ok("last words")]);
    assert!(messages.borrow().timer.is_none());
}

#[test]
fn on_the_reactor_a_message_over_the_limit_stops_delivery_and_the_eof_adds_nothing() {
    let input: &[u8] = b"fine\nabcdefghij";
    for split in 0..=input.len() {
        let (mut h, messages, seen) = collect(Messages::new(8).quiet_period(LONG));
        h.feed(&input[..split]);
        h.feed(&input[split..]);
        h.feed_eof();
        assert_eq!(
            *seen.borrow(),
            [ok("fine"), too_long(8)],
            "split at {split}"
        );
        assert!(messages.borrow().timer.is_none());
        assert!(h.is_closed());
    }
}

/// Writes a reply bigger than the high watermark for every read, to a peer
/// that reads none of it, so the reactor stops reading from it.
struct Noisy {
    messages: Messages,
    seen: Rc<RefCell<Vec<Seen>>>,
}

impl Protocol for Noisy {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        ctx.write(&[b'!'; 32]);
        let seen = &self.seen;
        self.messages.data_received(ctx, data, |_, m| {
            seen.borrow_mut().push(m.map(<[u8]>::to_vec))
        })
    }
    fn timer_fired(&mut self, ctx: &mut Ctx, id: u64) {
        let seen = &self.seen;
        self.messages.timer_fired(ctx, id, |_, m| {
            seen.borrow_mut().push(m.map(<[u8]>::to_vec))
        });
    }
    fn pause_writing(&mut self, _ctx: &mut Ctx) {
        self.messages.pause_writing();
    }
    fn resume_writing(&mut self, ctx: &mut Ctx) {
        self.messages.resume_writing(ctx);
    }
}

/// Found by the fault simulation (a chat member that read its messages
/// slowly had a line said in two pieces): while the reactor does not read
/// a peer whose output backs up, the rest of the line it is sending waits
/// in the socket, and the quiet period must not end the line there.
#[test]
fn a_line_half_read_when_reading_stops_for_output_is_not_cut_by_the_quiet_period() {
    let quiet = Duration::from_millis(100);
    let seen = Rc::new(RefCell::new(Vec::new()));
    let config = crate::Config {
        high_watermark: 16,
        low_watermark: 0,
        ..Default::default()
    };
    let noisy = Noisy {
        messages: Messages::new(64).quiet_period(quiet),
        seen: seen.clone(),
    };
    let mut h = Harness::build((), config, noisy).unwrap();
    h.set_peer_window(Some(0));
    h.feed(b"half a li");
    h.feed(b"ne\n");
    h.advance(quiet * 10);
    assert!(
        seen.borrow().is_empty(),
        "said while unread: {:?}",
        seen.borrow()
    );
    // The peer reads its replies: reading resumes, the line is whole.
    h.set_peer_window(None);
    h.take_output();
    h.run_due_timers();
    assert_eq!(*seen.borrow(), [ok("half a line")]);
    // A real pause still ends a message, counted from the resumption.
    h.feed(b"tail");
    h.advance(quiet);
    assert_eq!(*seen.borrow(), [ok("half a line"), ok("tail")]);
}
