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

use clap::Parser;
use sockloop::{Config, Ctx, Protocol, Reactor, Token};
use sockloop_examples::server::{self, OrFail};

/// The pattern repeats every `PERIOD` bytes: a prime, so that messages of
/// any power-of-two size start at ever different points of it.
const PERIOD: u64 = 65_521;
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

/// Send times of the messages in flight on one connection: a ring
/// allocated once with room for `--depth`.
struct Ring {
    slots: Box<[Instant]>,
    head: usize,
    len: usize,
}

impl Ring {
    fn new(capacity: usize, now: Instant) -> Ring {
        Ring {
            slots: vec![now; capacity].into_boxed_slice(),
            head: 0,
            len: 0,
        }
    }

    fn push(&mut self, t: Instant) {
        debug_assert!(self.len < self.slots.len());
        let i = (self.head + self.len) % self.slots.len();
        self.slots[i] = t;
        self.len += 1;
    }

    fn pop(&mut self) -> Option<Instant> {
        if self.len == 0 {
            return None;
        }
        let t = self.slots[self.head];
        self.head = (self.head + 1) % self.slots.len();
        self.len -= 1;
        Some(t)
    }
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

/// Latencies in log-linear buckets: exact below 128 ns, then 64 buckets per
/// power of two (under 1.6 % error), up to about 18 minutes. Fixed size, so
/// recording never allocates.
struct Histogram {
    counts: Box<[u64]>,
    total: u64,
    sum_ns: u128,
    max_ns: u64,
}

const LINEAR: u64 = 128;
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
const MAX_EXP: u32 = 40;
const BUCKETS: usize = (LINEAR + (MAX_EXP as u64 - 6) * SUB) as usize;

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            total: 0,
            sum_ns: 0,
            max_ns: 0,
        }
    }

    fn index(ns: u64) -> usize {
        if ns < LINEAR {
            return ns as usize;
        }
        let exp = 63 - ns.leading_zeros(); // 7 and up
        let sub = (ns >> (exp - SUB_BITS)) & (SUB - 1);
        let i = LINEAR + u64::from(exp - 7) * SUB + sub;
        (i as usize).min(BUCKETS - 1)
    }

    /// The middle of bucket `i`.
    fn value(i: usize) -> u64 {
        let i = i as u64;
        if i < LINEAR {
            return i;
        }
        let exp = 7 + (i - LINEAR) / SUB;
        let sub = (i - LINEAR) % SUB;
        let width = 1u64 << (exp - u64::from(SUB_BITS));
        (SUB + sub) * width + width / 2
    }

    fn record(&mut self, latency: Duration) {
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.counts[Self::index(ns)] += 1;
        self.total += 1;
        self.sum_ns += u128::from(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    fn clear(&mut self) {
        self.counts.fill(0);
        self.total = 0;
        self.sum_ns = 0;
        self.max_ns = 0;
    }

    /// The latency under which a fraction `q` of the messages came back, in µs.
    fn quantile_us(&self, q: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::value(i).min(self.max_ns) as f64 / 1000.0;
            }
        }
        self.max_ns as f64 / 1000.0
    }

    fn mean_us(&self) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        self.sum_ns as f64 / self.total as f64 / 1000.0
    }
}

/// What a measured window came to.
struct Report {
    elapsed: Duration,
    msgs: u64,
    bytes: u64,
    cpu: Duration,
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

/// `data` is what the pattern holds at stream offset `offset` of a
/// connection whose stream starts at `seed`.
fn matches(pattern: &[u8], seed: u64, offset: u64, data: &[u8]) -> bool {
    let mut offset = offset;
    let mut rest = data;
    while !rest.is_empty() {
        let start = ((seed + offset) % PERIOD) as usize;
        let n = rest.len().min(pattern.len() - start);
        if rest[..n] != pattern[start..start + n] {
            return false;
        }
        rest = &rest[n..];
        offset += n as u64;
    }
    true
}

/// The pattern, long enough that every message is one contiguous slice.
fn make_pattern(size: u64) -> Rc<[u8]> {
    let mut x: u32 = 0x9e37_79b9;
    let period: Vec<u8> = (0..PERIOD)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect();
    let len = (PERIOD + size) as usize;
    period.iter().copied().cycle().take(len).collect()
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

/// One connection to the server: checks what comes back, times it, sends more.
struct Pinger {
    flow: usize,
    pattern: Rc<[u8]>,
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

/// This process's user + system CPU time so far.
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
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

fn print_report(bench: &Bench, report: &Report) {
    let plan = &bench.plan;
    let secs = report.elapsed.as_secs_f64();
    let per_sec = |x: u64| if secs > 0.0 { x as f64 / secs } else { 0.0 };
    let msgs_per_sec = per_sec(report.msgs);
    let mbps = per_sec(report.bytes) / 1e6;
    let cpu_pct = if secs > 0.0 {
        report.cpu.as_secs_f64() / secs * 100.0
    } else {
        0.0
    };
    let h = &bench.hist;
    let load = match plan.rate {
        Some(r) => format!("offered {r:.0} msgs/s"),
        None => "closed loop".to_string(),
    };
    eprintln!(
        "loadgen: {} connections x depth {} x {} B to {}, {load}, {:.2} s measured after {:.2} s warm-up",
        bench.established,
        plan.depth,
        plan.size,
        plan.addr,
        secs,
        plan.warmup.as_secs_f64()
    );
    eprintln!(
        "  messages  {} ({msgs_per_sec:.0}/s), {mbps:.2} MB/s echoed; {} in the whole run",
        report.msgs, bench.total_msgs
    );
    eprintln!(
        "  latency   p50 {:.1} us, p90 {:.1}, p99 {:.1}, p99.9 {:.1}, max {:.1}, mean {:.1}",
        h.quantile_us(0.50),
        h.quantile_us(0.90),
        h.quantile_us(0.99),
        h.quantile_us(0.999),
        h.max_ns as f64 / 1000.0,
        h.mean_us()
    );
    let owed: u64 = bench.flows.iter().map(|f| f.owed).sum();
    if plan.rate.is_some() && owed > 0 {
        eprintln!("  backlog   {owed} messages due but not sent (connections at --depth)");
    }
    eprintln!("  errors    {}", bench.errors);
    eprintln!("  loadgen   {cpu_pct:.1} % of one CPU");
    if cpu_pct > 90.0 {
        eprintln!("  warning: the load generator was nearly saturated; it may be the bottleneck");
    }
    println!(
        "msgs_per_sec={msgs_per_sec:.0} MBps={mbps:.2} p50_us={:.1} p99_us={:.1} errors={} \
         loadgen_cpu_pct={cpu_pct:.1} p999_us={:.1} max_us={:.1} total_msgs={} conns={} secs={secs:.2}",
        h.quantile_us(0.50),
        h.quantile_us(0.99),
        bench.errors,
        h.quantile_us(0.999),
        h.max_ns as f64 / 1000.0,
        bench.total_msgs,
        bench.established,
    );
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

    #[test]
    fn histogram_buckets_are_ordered_and_tight() {
        let mut last = 0;
        for ns in (0..5_000_000u64).step_by(997).chain([u64::MAX / 4]) {
            let i = Histogram::index(ns);
            assert!(i >= last, "bucket order at {ns}");
            last = i;
            let v = Histogram::value(i);
            if i + 1 < BUCKETS {
                let err = (v as f64 - ns as f64).abs() / (ns.max(1) as f64);
                assert!(err <= 1.0 / 64.0, "{ns} ns reads back as {v}");
            }
        }
    }

    #[test]
    fn histogram_quantiles() {
        let mut h = Histogram::new();
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us));
        }
        let close = |got: f64, want: f64| (got - want).abs() / want < 0.02;
        assert!(close(h.quantile_us(0.5), 500.0), "{}", h.quantile_us(0.5));
        assert!(close(h.quantile_us(0.99), 990.0), "{}", h.quantile_us(0.99));
        assert_eq!(h.max_ns, 1_000_000);
        assert!(close(h.mean_us(), 500.5));
        h.clear();
        assert_eq!(h.quantile_us(0.99), 0.0);
    }

    #[test]
    fn ring_keeps_send_order() {
        let t0 = Instant::now();
        let mut r = Ring::new(3, t0);
        for k in 0..10u64 {
            r.push(t0 + Duration::from_nanos(k));
            if k % 2 == 1 {
                r.pop();
            }
            if r.len == 3 {
                r.pop();
            }
        }
        let mut last = None;
        while let Some(t) = r.pop() {
            assert!(last.is_none_or(|l| t > l));
            last = Some(t);
        }
    }

    #[test]
    fn pattern_check_holds_on_every_split_and_across_the_wrap() {
        let pattern = make_pattern(100);
        let seed = PERIOD - 37;
        let stream: Vec<u8> = (0..300u64)
            .map(|o| pattern[((seed + o) % PERIOD) as usize])
            .collect();
        for split in 0..=stream.len() {
            assert!(matches(&pattern, seed, 0, &stream[..split]));
            assert!(matches(&pattern, seed, split as u64, &stream[split..]));
        }
        let mut bad = stream.clone();
        bad[150] ^= 1;
        assert!(!matches(&pattern, seed, 0, &bad));
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
