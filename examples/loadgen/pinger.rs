//! One connection to the server, as a sockloop protocol.

use std::io;
use std::rc::Rc;
use std::time::Instant;

use sockloop::{Ctx, Protocol};

use crate::pattern::matches;
use crate::{Bench, Phase, connect_failed, finish, maybe_start, open_more, send, send_owed};

/// One connection to the server: checks what comes back, times it, sends more.
pub(crate) struct Pinger {
    pub(crate) flow: usize,
    pub(crate) pattern: Rc<[u8]>,
}

impl Protocol<Bench> for Pinger {
    fn connection_made(&mut self, ctx: &mut Ctx<Bench>) {
        let token = ctx.token();
        let bench = ctx.shared();
        bench.flows[self.flow].token = Some(token);
        bench.connecting -= 1;
        bench.established += 1;
        open_more(ctx, &self.pattern);
        maybe_start(ctx, &self.pattern);
    }

    fn data_received(&mut self, ctx: &mut Ctx<Bench>, data: &[u8]) -> usize {
        let now = Instant::now();
        let i = self.flow;
        let bench = ctx.shared();
        let size = bench.plan.size;
        let flow = &mut bench.flows[i];
        let offset = flow.received;
        if offset + data.len() as u64 > flow.sent_bytes {
            bench.error(format_args!(
                "connection {i}: more bytes came back than were sent"
            ));
            bench.finish_flow(i);
            ctx.abort("echoed more than was sent");
            return data.len();
        }
        if !matches(&self.pattern, flow.seed, offset, data) {
            bench.error(format_args!(
                "connection {i}: wrong bytes echoed near offset {offset}"
            ));
            bench.finish_flow(i);
            ctx.abort("echo mismatch");
            return data.len();
        }
        flow.received += data.len() as u64;
        let done = flow.received / size - offset / size;
        let measuring = bench.phase == Phase::Measuring;
        for _ in 0..done {
            if let Some(sent) = flow.in_flight.pop() {
                if measuring {
                    bench.hist.record(now - sent);
                }
            }
        }
        let all_back = flow.in_flight.len == 0;
        let owed = flow.owed;
        let sent_all = bench.plan.max_msgs.is_some_and(|m| flow.sent_msgs >= m);
        bench.total_msgs += done;
        if measuring {
            bench.window_msgs += done;
            bench.window_bytes += data.len() as u64;
        }
        if sent_all && all_back {
            bench.finish_flow(i);
            if bench.finished_flows == bench.plan.conns && bench.loaded() {
                finish(ctx, now);
            }
        } else if bench.loaded() {
            if bench.plan.rate.is_some() {
                send_owed(ctx, &self.pattern, i, owed);
            } else {
                send(ctx, &self.pattern, i, done);
            }
        }
        data.len()
    }

    fn eof_received(&mut self, ctx: &mut Ctx<Bench>) {
        let bench = ctx.shared();
        if bench.phase != Phase::Done && !bench.flows[self.flow].finished {
            bench.error(format_args!(
                "connection {}: the server closed it",
                self.flow
            ));
            bench.finish_flow(self.flow);
        }
        ctx.close();
    }

    fn connection_lost(&mut self, ctx: &mut Ctx<Bench>, reason: Option<io::Error>) {
        let bench = ctx.shared();
        bench.flows[self.flow].token = None;
        if bench.phase != Phase::Done && !bench.flows[self.flow].finished {
            let why = reason.map_or_else(|| "closed".to_string(), |e| e.to_string());
            bench.error(format_args!("connection {}: lost: {why}", self.flow));
            bench.finish_flow(self.flow);
        }
        if bench.finished_flows == bench.plan.conns && bench.loaded() {
            finish(ctx, Instant::now());
        }
    }

    fn connection_failed(&mut self, ctx: &mut Ctx<Bench>, error: io::Error) {
        connect_failed(ctx, &self.pattern, self.flow, &error);
        open_more(ctx, &self.pattern);
    }
}
