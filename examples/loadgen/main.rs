//! Load generator for echo servers: N connections, each keeping D messages
//! of S bytes in flight, every echoed byte checked, every round trip timed.
//!
//! ```text
//! cargo run --release --example echo_server
//! cargo run --release --example loadgen -- --conns 100 --size 64 --depth 1 --secs 5
//! ```
//!
//! `--addr HOST:PORT` names the server (default 127.0.0.1:8888);
//! `--tls-ca PEM` speaks TLS to it, trusting that CA, as `localhost`. Each
//! connection sends a deterministic byte pattern of its own, pipelining
//! `--depth` messages; in the default closed loop a message goes out as soon
//! as one comes back, and with `--rate R` the load is open: R messages per
//! second across all connections, issued by a 1 ms tick, each connection
//! holding at most `--depth` in flight. `--warmup SECS` runs before the
//! measured `--secs`. `--max-msgs N` stops each connection after N messages
//! and `--hold SECS` then keeps the idle connections open (the memory
//! benchmark waits for the `idle:` line on stderr).
//!
//! A human summary goes to stderr; stdout gets exactly one line for scripts:
//!
//! ```text
//! msgs_per_sec=98765 MBps=6.32 p50_us=18.4 p99_us=41.0 errors=0 loadgen_cpu_pct=71.2 ...
//! ```
//!
//! Latency runs from the moment a message is handed to the socket to the
//! moment its last echoed byte is read. The generator measures its own CPU
//! time: near 100 % it is the bottleneck, not the server. The exit status is
//! 1 if any byte came back wrong, any connection failed or was lost, or no
//! message was echoed at all.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

mod histogram;
mod pattern;
mod pinger;
mod report;
mod ring;

use clap::Parser;
use sockloop::{Config, Ctx, Reactor, Token};
use sockloop_examples::server::{self, OrFail};

use histogram::Histogram;
use pattern::{PERIOD, make_pattern};
use pinger::Pinger;
use report::{Report, cpu_time, print_report};
use ring::Ring;

/// Connections being set up at once, so a 10,000-connection run does not
/// overflow the server's SYN backlog and wait out retransmissions.
const MAX_CONNECTING: usize = 256;
/// How long establishing every connection may take.
const CONNECT_PATIENCE: Duration = Duration::from_secs(30);
/// Connection errors printed before the rest are only counted.
const ERRORS_SHOWN: u64 = 10;

#[derive(Parser)]
#[command(about = "Echo load generator: throughput, latency and byte-exact checks")]
struct Args {
    /// Address of the echo server.
    #[arg(long, default_value = "127.0.0.1:8888")]
    addr: SocketAddr,
    /// Speak TLS, trusting the CA certificates in this PEM file.
    #[arg(long, value_name = "PEM")]
    tls_ca: Option<std::path::PathBuf>,
    /// Connections to open.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    conns: u64,
    /// Bytes per message.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=16 << 20))]
    size: u64,
    /// Messages in flight per connection (pipelining).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    depth: u64,
    /// Seconds measured (after the warm-up).
    #[arg(long, default_value_t = 5.0, value_parser = positive_secs)]
    secs: f64,
    /// Fixed offered load in messages per second across all connections
    /// (open loop); without it every connection sends as fast as echoes return.
    #[arg(long, value_parser = positive_rate)]
    rate: Option<f64>,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 0.0, value_parser = non_negative_secs)]
    warmup: f64,
    /// Stop each connection after this many messages.
    #[arg(long)]
    max_msgs: Option<u64>,
    /// With --max-msgs: keep the idle connections open this many seconds
    /// after the last echo before closing them.
    #[arg(long, default_value_t = 0.0, value_parser = non_negative_secs)]
    hold: f64,
}

fn non_negative_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=86_400.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a number of seconds from 0 to 86400")),
    }
}

fn positive_secs(s: &str) -> Result<f64, String> {
    non_negative_secs(s).and_then(|v| {
        if v > 0.0 {
            Ok(v)
        } else {
            Err("must be more than 0".into())
        }
    })
}

fn positive_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!(
            "`{s}` is not a positive number of messages per second"
        )),
    }
}

/// The run's shape, fixed at start.
#[derive(Clone, Debug)]
struct Plan {
    addr: SocketAddr,
    /// TLS, if asked for.
    tls: Option<std::sync::Arc<sockloop::tls::rustls::ClientConfig>>,
    conns: usize,
    size: u64,
    depth: u64,
    secs: Duration,
    warmup: Duration,
    rate: Option<f64>,
    max_msgs: Option<u64>,
    hold: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Opening the connections; no message is sent before all are up.
    Connecting,
    Warmup,
    Measuring,
    /// Every connection sent its `--max-msgs`; they stay open, idle.
    Holding,
    Done,
}

/// One connection's side of the conversation.
struct Flow {
    token: Option<Token>,
    /// Where in the pattern this connection's byte stream starts.
    seed: u64,
    sent_bytes: u64,
    sent_msgs: u64,
    /// Bytes echoed and checked so far.
    received: u64,
    in_flight: Ring,
    /// Rate mode: messages due that wait for room under `--depth`.
    owed: u64,
    /// No more messages will be sent or expected (finished, failed or lost).
    finished: bool,
}

/// The reactor's shared state: every connection's flow and the counters.
struct Bench {
    plan: Plan,
    flows: Vec<Flow>,
    phase: Phase,
    began: Instant,
    phase_start: Instant,
    /// Connections opened so far, and of those still being set up.
    opened: usize,
    connecting: usize,
    established: usize,
    failed: usize,
    finished_flows: usize,
    hist: Histogram,
    window_msgs: u64,
    window_bytes: u64,
    window_cpu: Duration,
    total_msgs: u64,
    errors: u64,
    /// Rate mode: messages issued since `rate_start`, and where the next goes.
    rate_start: Instant,
    issued: u64,
    cursor: usize,
    /// Reused to gather a connection's messages into one write.
    out: Vec<u8>,
    report: Option<Report>,
}

impl Bench {
    fn new(plan: Plan) -> Bench {
        let now = Instant::now();
        let depth = usize::try_from(plan.depth).unwrap_or(usize::MAX);
        let flows = (0..plan.conns as u64)
            .map(|i| Flow {
                token: None,
                seed: (i * 7_919 + 4_093) % PERIOD,
                sent_bytes: 0,
                sent_msgs: 0,
                received: 0,
                in_flight: Ring::new(depth, now),
                owed: 0,
                finished: false,
            })
            .collect();
        Bench {
            plan,
            flows,
            phase: Phase::Connecting,
            began: now,
            phase_start: now,
            opened: 0,
            connecting: 0,
            established: 0,
            failed: 0,
            finished_flows: 0,
            hist: Histogram::new(),
            window_msgs: 0,
            window_bytes: 0,
            window_cpu: cpu_time(),
            total_msgs: 0,
            errors: 0,
            rate_start: now,
            issued: 0,
            cursor: 0,
            out: Vec::new(),
            report: None,
        }
    }

    fn loaded(&self) -> bool {
        matches!(self.phase, Phase::Warmup | Phase::Measuring)
    }

    fn error(&mut self, what: std::fmt::Arguments) {
        self.errors += 1;
        if self.errors <= ERRORS_SHOWN {
            eprintln!("loadgen: {what}");
        }
    }

    /// Starts a fresh measured window: what came before was warm-up.
    fn begin_measuring(&mut self, now: Instant) {
        self.phase = Phase::Measuring;
        self.phase_start = now;
        self.hist.clear();
        self.window_msgs = 0;
        self.window_bytes = 0;
        self.window_cpu = cpu_time();
    }

    fn end_measuring(&mut self, now: Instant) {
        if self.report.is_none() {
            let measured = self.phase == Phase::Measuring;
            self.report = Some(Report {
                elapsed: if measured {
                    now - self.phase_start
                } else {
                    Duration::ZERO
                },
                msgs: if measured { self.window_msgs } else { 0 },
                bytes: if measured { self.window_bytes } else { 0 },
                cpu: cpu_time().saturating_sub(self.window_cpu),
            });
        }
    }

    /// Books `n` more messages on flow `i` if it has room: returns its token,
    /// the stream offset of the first and how many.
    fn take_sends(&mut self, i: usize, want: u64, now: Instant) -> Option<(Token, u64, u64)> {
        let Plan {
            size,
            depth,
            max_msgs,
            ..
        } = self.plan;
        let flow = &mut self.flows[i];
        let token = flow.token.filter(|_| !flow.finished)?;
        let mut n = want.min(depth - flow.in_flight.len as u64);
        if let Some(max) = max_msgs {
            n = n.min(max - flow.sent_msgs);
        }
        if n == 0 {
            return None;
        }
        for _ in 0..n {
            flow.in_flight.push(now);
        }
        let first = flow.sent_bytes;
        flow.sent_bytes += n * size;
        flow.sent_msgs += n;
        Some((token, first, n))
    }

    /// A flow will send and expect nothing more.
    fn finish_flow(&mut self, i: usize) {
        if !self.flows[i].finished {
            self.flows[i].finished = true;
            self.finished_flows += 1;
        }
    }
}

/// Sends up to `want` messages on flow `i`: one write whatever the count.
fn send(ctx: &mut Ctx<Bench>, pattern: &[u8], i: usize, want: u64) {
    let now = Instant::now();
    let bench = ctx.shared();
    let Some((token, first, n)) = bench.take_sends(i, want, now) else {
        return;
    };
    let seed = bench.flows[i].seed;
    let size = bench.plan.size;
    let slice = |k: u64| {
        let start = ((seed + first + k * size) % PERIOD) as usize;
        start..start + size as usize
    };
    if n == 1 {
        ctx.connection(token).write(&pattern[slice(0)]);
        return;
    }
    // Several messages go out in one write: one system call whatever their
    // size (a large write is sent at once, so writing them one by one would
    // cost a call each).
    let mut out = std::mem::take(&mut bench.out);
    out.clear();
    for k in 0..n {
        out.extend_from_slice(&pattern[slice(k)]);
    }
    ctx.connection(token).write(&out);
    ctx.shared().out = out;
}

/// Every connection is up (or failed): start the load.
fn start_load(ctx: &mut Ctx<Bench>, pattern: &[u8]) {
    let now = Instant::now();
    let bench = ctx.shared();
    if bench.established == 0 {
        eprintln!("loadgen: no connection could be established");
        bench.phase = Phase::Done;
        ctx.shutdown();
        return;
    }
    bench.began = now;
    if bench.plan.warmup.is_zero() {
        bench.begin_measuring(now);
    } else {
        bench.phase = Phase::Warmup;
        bench.phase_start = now;
    }
    bench.rate_start = now;
    bench.issued = 0;
    if bench.plan.rate.is_none() {
        let depth = bench.plan.depth;
        for i in 0..bench.plan.conns {
            send(ctx, pattern, i, depth);
        }
    }
}

/// Opens connections up to the limit of those being set up at once.
fn open_more(ctx: &mut Ctx<Bench>, pattern: &Rc<[u8]>) {
    loop {
        let bench = ctx.shared();
        if bench.opened >= bench.plan.conns || bench.connecting >= MAX_CONNECTING {
            return;
        }
        let i = bench.opened;
        bench.opened += 1;
        bench.connecting += 1;
        let addr = bench.plan.addr;
        let pinger = Pinger {
            flow: i,
            pattern: pattern.clone(),
        };
        let connected = match bench.plan.tls.clone() {
            Some(tls) => ctx.connect_tls(addr, "localhost", tls, pinger),
            None => ctx.connect_tcp(addr, pinger),
        };
        if let Err(e) = connected {
            connect_failed(ctx, pattern, i, &e);
        }
    }
}

fn connect_failed(ctx: &mut Ctx<Bench>, pattern: &[u8], i: usize, e: &io::Error) {
    let bench = ctx.shared();
    bench.connecting -= 1;
    bench.failed += 1;
    bench.finish_flow(i);
    bench.error(format_args!("connection {i}: cannot connect: {e}"));
    maybe_start(ctx, pattern);
}

fn maybe_start(ctx: &mut Ctx<Bench>, pattern: &[u8]) {
    let bench = ctx.shared();
    if bench.phase == Phase::Connecting && bench.established + bench.failed == bench.plan.conns {
        start_load(ctx, pattern);
    }
}

/// Stops the run: the measured window ends now, then either the idle hold
/// or the shutdown.
fn finish(ctx: &mut Ctx<Bench>, now: Instant) {
    let bench = ctx.shared();
    bench.end_measuring(now);
    if bench.plan.max_msgs.is_some() && !bench.plan.hold.is_zero() && bench.phase != Phase::Done {
        let m = bench.plan.max_msgs.unwrap_or(0);
        eprintln!(
            "idle: {} connections have echoed {m} messages each; holding them for {:.1} s",
            bench.established,
            bench.plan.hold.as_secs_f64()
        );
        bench.phase = Phase::Holding;
        bench.phase_start = now;
        return;
    }
    bench.phase = Phase::Done;
    ctx.shutdown();
}

/// The reactor tick: phase changes by time, and in rate mode the messages
/// that came due since the last tick.
fn tick(ctx: &mut Ctx<Bench>, pattern: &[u8]) {
    let now = Instant::now();
    let bench = ctx.shared();
    match bench.phase {
        Phase::Connecting if now - bench.began > CONNECT_PATIENCE => {
            let missing = bench.plan.conns - bench.established - bench.failed;
            bench.error(format_args!(
                "{missing} connections still not established after {CONNECT_PATIENCE:?}"
            ));
            bench.phase = Phase::Done;
            ctx.shutdown();
            return;
        }
        Phase::Warmup if now - bench.phase_start >= bench.plan.warmup => {
            bench.begin_measuring(now);
        }
        Phase::Measuring if now - bench.phase_start >= bench.plan.secs => {
            return finish(ctx, now);
        }
        Phase::Holding if now - bench.phase_start >= bench.plan.hold => {
            bench.phase = Phase::Done;
            ctx.shutdown();
            return;
        }
        _ => {}
    }
    let Some(rate) = bench.plan.rate.filter(|_| bench.loaded()) else {
        return;
    };
    let target = ((now - bench.rate_start).as_secs_f64() * rate) as u64;
    let due = target.saturating_sub(bench.issued);
    bench.issued = target;
    let conns = bench.plan.conns;
    let first = bench.cursor;
    for _ in 0..due {
        // A lost connection's share is dropped, not piled up.
        let flow = &mut bench.flows[bench.cursor];
        if !flow.finished {
            flow.owed += 1;
        }
        bench.cursor = (bench.cursor + 1) % conns;
    }
    let touched = usize::try_from(due).unwrap_or(usize::MAX).min(conns);
    for k in 0..touched {
        let i = (first + k) % conns;
        let owed = ctx.shared().flows[i].owed;
        send_owed(ctx, pattern, i, owed);
    }
}

fn send_owed(ctx: &mut Ctx<Bench>, pattern: &[u8], i: usize, owed: u64) {
    let before = ctx.shared().flows[i].sent_msgs;
    send(ctx, pattern, i, owed);
    let flow = &mut ctx.shared().flows[i];
    flow.owed -= flow.sent_msgs - before;
}

/// Lifts the soft limit on open files to the hard one: 10,000 connections
/// need more than the usual 1024.
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit only read and write the struct they are given.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

fn main() {
    let args = Args::parse();
    server::init_client_logging();
    if args.hold > 0.0 && args.max_msgs.is_none() {
        server::fail("--hold", "needs --max-msgs");
    }
    raise_fd_limit();
    let plan = Plan {
        addr: args.addr,
        tls: args
            .tls_ca
            .as_deref()
            .map(sockloop_examples::tls::client_config),
        conns: args.conns as usize,
        size: args.size,
        depth: args.depth,
        secs: Duration::from_secs_f64(args.secs),
        warmup: Duration::from_secs_f64(args.warmup),
        rate: args.rate,
        max_msgs: args.max_msgs,
        hold: Duration::from_secs_f64(args.hold),
    };
    let pattern = make_pattern(plan.size);
    let period = if plan.rate.is_some() {
        Duration::from_millis(1)
    } else {
        Duration::from_millis(10)
    };
    // Quick goodbyes: the run is over, nothing queued matters any more.
    let config = Config {
        shutdown_timeout: Duration::from_secs(1),
        linger_timeout: Duration::from_millis(200),
        ..Config::default()
    };
    let mut reactor =
        Reactor::with_config(Bench::new(plan), config).or_fail("creating the reactor");
    reactor
        .shutdown_on_signals()
        .or_fail("installing signal handlers");
    let tick_pattern = pattern.clone();
    reactor.call_every(period, move |ctx| tick(ctx, &tick_pattern));
    reactor.with_ctx(|ctx| open_more(ctx, &pattern));
    reactor.run().or_fail("running the reactor");
    let bench = reactor.shared();
    bench.end_measuring(Instant::now());
    let report = bench.report.take().expect("a report was just made");
    print_report(bench, &report);
    let ok = bench.errors == 0 && bench.total_msgs > 0;
    std::process::exit(if ok { 0 } else { 1 });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::matches;
    use sockloop::harness::Harness;

    fn plan(depth: u64, size: u64, max_msgs: Option<u64>) -> Plan {
        Plan {
            addr: SocketAddr::from(([127, 0, 0, 1], 1)),
            tls: None,
            conns: 1,
            size,
            depth,
            secs: Duration::from_secs(60),
            warmup: Duration::ZERO,
            rate: None,
            max_msgs,
            hold: Duration::ZERO,
        }
    }

    /// A one-connection run whose stream starts `seed` bytes into the pattern.
    fn harness(depth: u64, size: u64, seed: u64, max_msgs: Option<u64>) -> Harness<Bench> {
        let mut bench = Bench::new(plan(depth, size, max_msgs));
        bench.flows[0].seed = seed;
        bench.opened = 1;
        bench.connecting = 1;
        let pinger = Pinger {
            flow: 0,
            pattern: make_pattern(size),
        };
        Harness::with_state(bench, pinger)
    }

    /// The first messages go out at once; echoing them back in two pieces,
    /// cut anywhere, completes them all and sends as many new ones.
    #[test]
    fn echo_on_every_split_completes_and_refills() {
        let (depth, size) = (3, 5);
        let mut h = harness(depth, size, PERIOD - 7, None);
        let first = h.take_output();
        assert_eq!(first.len() as u64, depth * size);
        for split in 0..=first.len() {
            let mut h = harness(depth, size, PERIOD - 7, None);
            let sent = h.take_output();
            h.feed(&sent[..split]);
            h.feed(&sent[split..]);
            let bench = h.shared();
            assert_eq!(bench.errors, 0);
            assert_eq!(bench.window_msgs, depth);
            assert_eq!(bench.hist.total, depth);
            assert_eq!(bench.flows[0].in_flight.len as u64, depth);
            let next = h.take_output();
            assert_eq!(next.len() as u64, depth * size);
            // The new messages continue the same stream.
            assert!(matches(
                &make_pattern(size),
                PERIOD - 7,
                depth * size,
                &next
            ));
            assert!(!h.is_closed());
        }
    }

    #[test]
    fn bytewise_echo_completes_each_message_once() {
        let mut h = harness(2, 4, 11, None);
        let sent = h.take_output();
        h.feed_bytewise(&sent);
        assert_eq!(h.shared().window_msgs, 2);
        assert_eq!(h.shared().window_bytes, 8);
        assert_eq!(h.take_output().len(), 8);
    }

    #[test]
    fn a_wrong_byte_is_an_error_and_closes() {
        let mut h = harness(1, 16, 0, None);
        let mut sent = h.take_output();
        sent[9] ^= 0x40;
        h.feed(&sent);
        assert_eq!(h.shared().errors, 1);
        assert!(h.is_closed());
        assert_eq!(h.shared().window_msgs, 0);
    }

    #[test]
    fn more_bytes_than_sent_is_an_error() {
        let mut h = harness(1, 4, 0, None);
        let mut sent = h.take_output();
        sent.push(0);
        h.feed(&sent);
        assert_eq!(h.shared().errors, 1);
        assert!(h.is_closed());
    }

    /// With --rate the tick issues what came due, at most --depth in
    /// flight; the rest goes out as echoes come back.
    #[test]
    fn rate_mode_issues_due_messages_within_depth() {
        let mut bench = Bench::new(Plan {
            rate: Some(1000.0),
            ..plan(2, 8, None)
        });
        bench.opened = 1;
        bench.connecting = 1;
        let pattern = make_pattern(8);
        let pinger = Pinger {
            flow: 0,
            pattern: pattern.clone(),
        };
        let mut h = Harness::with_state(bench, pinger);
        assert!(
            h.take_output().is_empty(),
            "an open loop waits for the tick"
        );
        h.shared().rate_start = Instant::now() - Duration::from_millis(10);
        h.with_ctx(|ctx| tick(ctx, &pattern));
        let issued = h.shared().issued;
        assert!(issued >= 10, "10 ms at 1000/s is 10 messages, got {issued}");
        let sent = h.take_output();
        assert_eq!(sent.len(), 2 * 8, "only --depth messages in flight");
        assert_eq!(h.shared().flows[0].owed, issued - 2);
        h.feed(&sent);
        assert_eq!(h.take_output().len(), 2 * 8);
        assert_eq!(h.shared().flows[0].owed, issued - 4);
        assert_eq!(h.shared().errors, 0);
        assert_eq!(h.shared().window_msgs, 2);
    }

    #[test]
    fn max_msgs_stops_sending_and_finishes_the_run() {
        let mut h = harness(4, 8, 3, Some(6));
        let sent = h.take_output();
        assert_eq!(sent.len(), 4 * 8);
        h.feed(&sent);
        let more = h.take_output();
        assert_eq!(more.len(), 2 * 8, "only two messages left under --max-msgs");
        h.feed(&more);
        assert!(h.take_output().is_empty());
        let bench = h.shared();
        assert_eq!(bench.total_msgs, 6);
        assert_eq!(bench.errors, 0);
        assert!(bench.report.is_some());
        assert_eq!(bench.phase, Phase::Done);
    }
}
