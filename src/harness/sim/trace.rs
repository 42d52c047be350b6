//! What happened in a scenario, in words: for a failure's report, and for
//! a replay that prints every step.

use std::time::Duration;

use super::super::net::Wire;

/// What happened in a turn, kept (the last few) for a failure's report.
#[derive(Clone, Copy)]
pub(super) enum Step {
    Connect(usize),
    Send(usize, usize),
    Arrive(usize, usize),
    Eof(usize),
    Read(usize, usize),
    Reset(usize),
    ResetMidWrite(usize, usize),
    RefuseAccepts(u32),
    Clock(Duration),
    Events(usize),
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Step::Connect(i) => write!(f, "peer {i} connects"),
            Step::Send(i, n) => write!(f, "peer {i} sends {n} bytes"),
            Step::Arrive(i, n) => write!(f, "{n} bytes from peer {i} arrive"),
            Step::Eof(i) => write!(f, "peer {i} half-closes"),
            Step::Read(i, n) => write!(f, "peer {i} reads {n} bytes"),
            Step::Reset(i) => write!(f, "peer {i} resets"),
            Step::ResetMidWrite(i, n) => write!(f, "peer {i} resets after {n} more bytes"),
            Step::RefuseAccepts(n) => write!(f, "the next {n} accepts fail with EMFILE"),
            Step::Clock(by) => write!(f, "the clock moves {by:?}"),
            Step::Events(n) => write!(f, "the poller reports {n} events"),
        }
    }
}

/// One line on the state of wire `i`.
pub(super) fn describe(i: usize, w: &Wire) -> String {
    format!(
        "wire {i}: sent {} (arrived {}, read {}{}), offered {} (delivered {}, read {}), \
         {} discarded, calls {:?}{}{}{}",
        w.sent.len(),
        w.arrived,
        w.read,
        if w.eof_sent { ", then EOF" } else { "" },
        w.offered.len(),
        w.delivered,
        w.consumed,
        w.discarded,
        w.calls,
        if w.reset { ", reset" } else { "" },
        if w.shut { ", shut" } else { "" },
        if w.dropped { ", closed" } else { "" },
    )
}
