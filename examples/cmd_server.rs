//! Remote command execution, speaking the socket tutorial's exchange so its
//! Python client works unchanged: the client sends a command, the server runs
//! it and sends the output's length in ASCII digits, waits for any
//! acknowledgement, then sends the output itself (stdout if the command
//! exited 0, stderr otherwise).
//!
//! ```text
//! cargo run --example cmd_server
//! cargo run --example cmd_client          # then type `date`, `uptime`, `exit`
//! nc 127.0.0.1 8002                       # type `date`, read the length, type `ok`
//! ```
//!
//! Safe by default: it listens on 127.0.0.1, runs the command's words as an
//! argument vector (no shell), and only the programs named by
//! `--allow a,b,c` (default `date,echo,uptime,hostname,whoami`; a name with a
//! `/` is always refused). `--allow-any` lifts the list; `--shell` (only with
//! `--allow-any`) runs each line through `sh -c`. A command is stopped after
//! `--timeout SECS` (default 10), and at most `--max-output BYTES` (default
//! 1 MiB) of each of its streams is kept (one that writes more is stopped and
//! answered with what was kept and a truncation note). Refusals and failures answer with an
//! `error: ...` line through the same length/acknowledgement/output exchange.
//!
//! Framing: a command is one line. The tutorial's client sends no newline
//! (one `send` per command), so bytes that end without a newline are taken as
//! the whole command once nothing more arrives for [`LINE_WAIT`]; a command
//! that ends with a newline is taken at once and may be split across any
//! number of reads. The acknowledgement is whatever the next read after the
//! length brings; the exchange is lock-step, so bytes a client sends while its
//! command runs cannot be an acknowledgement and are discarded.
//!
//! The child's stdout and stderr are pipes on the reactor like any socket, so a
//! slow command never holds up other clients; the loop never blocks in `wait`:
//! once both pipes reach EOF it polls the child with `try_wait` on a short
//! timer. A client that disconnects while its command runs gets the command
//! killed (with its whole process group) and reaped.

mod common;

use std::cell::RefCell;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::rc::Rc;
use std::time::Duration;

use clap::Parser;
use common::OrFail;
use log::{debug, info, warn};
use sockloop::codec::{FrameError, next_line};
use sockloop::{Config, Ctx, Protocol, Reactor, TimerId, Token};

/// How long bytes without a newline wait for more before they are taken as
/// the whole command (the tutorial's client ends a command by sending nothing
/// more, not by a newline).
const LINE_WAIT: Duration = Duration::from_millis(100);

/// The longest command line accepted.
const MAX_COMMAND: usize = 4096;

/// How soon a child whose pipes are closed is asked again whether it has
/// exited. For a child killed because its client left, the delay doubles up
/// to [`MAX_REAP_DELAY`].
const REAP_DELAY: Duration = Duration::from_millis(5);
/// The longest wait between two attempts to reap a killed child.
const MAX_REAP_DELAY: Duration = Duration::from_millis(500);

/// Timer ids of a client connection.
const LINE_TIMER: u64 = 1;
const TIMEOUT_TIMER: u64 = 2;
/// Set by the pipes when both are closed, and again while the child is not
/// reaped yet.
const JOB_TIMER: u64 = 3;

/// What clients may run, shared by every connection (the reactor's state).
struct Policy {
    /// Programs allowed as argv[0]; `None` allows any.
    allow: Option<Vec<String>>,
    /// Run the line through `sh -c` instead of splitting it into words.
    shell: bool,
    timeout: Duration,
    /// Bytes kept of each of a command's output streams.
    max_output: usize,
    line_wait: Duration,
}

impl Policy {
    /// The argument vector to run for a command line, or the answer that
    /// refuses it.
    fn plan(&self, line: &str) -> Result<Vec<String>, String> {
        let line = line.trim();
        if line.is_empty() {
            return Err("error: empty command\n".into());
        }
        if self.shell {
            return Ok(vec!["sh".into(), "-c".into(), line.into()]);
        }
        let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
        if let Some(allowed) = &self.allow {
            let name = &argv[0];
            // A path could name any program under an allowed name.
            if name.contains('/') || !allowed.iter().any(|a| a == name) {
                return Err(format!("error: command not allowed: {name}\n"));
            }
        }
        Ok(argv)
    }
}

/// Which of the child's output streams a pipe carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    Stdout,
    Stderr,
}

/// One running command, shared by the client connection and its two pipes.
struct Job {
    /// argv[0], for messages.
    name: String,
    /// `None` once reaped (or, in tests, when there is no process).
    child: Option<Child>,
    status: Option<ExitStatus>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// The first stream that went past the output limit.
    overflow: Option<Which>,
    timed_out: bool,
    /// The pipes' tokens while they are open.
    pipes: Vec<Token>,
    /// An error that replaces the normal answer (the pipes could not be watched).
    failure: Option<String>,
}

impl Job {
    fn new(name: String, child: Option<Child>) -> Job {
        Job {
            name,
            child,
            status: None,
            stdout: Vec::new(),
            stderr: Vec::new(),
            overflow: None,
            timed_out: false,
            pipes: Vec::new(),
            failure: None,
        }
    }

    /// Kills the command and everything it started (it leads its own process
    /// group). Only while it is unreaped: until then its pid, and so the
    /// group id, cannot have been reused.
    fn kill(&mut self) {
        if let Some(child) = &mut self.child {
            let pgid = child.id() as libc::pid_t;
            // SAFETY: kill(2) with a negative pid signals that process group.
            if unsafe { libc::kill(-pgid, libc::SIGKILL) } != 0 {
                let _ = child.kill();
            }
        }
    }

    /// Collects the exit status if the child has exited; true once reaped.
    fn try_reap(&mut self) -> bool {
        let Some(child) = &mut self.child else {
            return true;
        };
        match child.try_wait() {
            Ok(Some(status)) => self.status = Some(status),
            Ok(None) => return false,
            Err(e) => warn!("waiting for {}: {e}", self.name),
        }
        self.child = None;
        true
    }

    /// The output stream `which`, for appending to.
    fn captured(&mut self, which: Which) -> &mut Vec<u8> {
        match which {
            Which::Stdout => &mut self.stdout,
            Which::Stderr => &mut self.stderr,
        }
    }

    /// The text to send once the command is over and reaped.
    fn answer(&self, policy: &Policy) -> Vec<u8> {
        if let Some(failure) = &self.failure {
            return failure.clone().into_bytes();
        }
        if self.timed_out {
            let secs = policy.timeout.as_secs();
            return format!("error: command timed out after {secs} s\n").into_bytes();
        }
        if let Some(which) = self.overflow {
            let mut body = match which {
                Which::Stdout => self.stdout.clone(),
                Which::Stderr => self.stderr.clone(),
            };
            let max = policy.max_output;
            body.extend_from_slice(
                format!("\nerror: output truncated at {max} bytes\n").as_bytes(),
            );
            return body;
        }
        match self.status {
            Some(status) if status.success() => self.stdout.clone(),
            _ if !self.stderr.is_empty() => self.stderr.clone(),
            // A failure that explains nothing still gets a clear answer.
            Some(status) => format!("error: {} {}\n", self.name, describe(status)).into_bytes(),
            None => format!("error: {} ended in an unknown state\n", self.name).into_bytes(),
        }
    }
}

/// "exited with status 1", "was killed by signal 9".
fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => format!("ended with {status}"),
    }
}

/// Reaps a killed child whose client is gone, retrying on a timer until it
/// has exited (SIGKILL takes effect soon, but not necessarily at once).
fn reap_later(ctx: &mut Ctx<'_, Policy>, job: Rc<RefCell<Job>>, delay: Duration) {
    ctx.call_later(delay, move |ctx| {
        if !job.borrow_mut().try_reap() {
            reap_later(ctx, job, (delay * 2).min(MAX_REAP_DELAY));
        }
    });
}

/// One end of the child's stdout or stderr: collects up to the limit, stops
/// the command when it writes past it, and tells the client connection when
/// both pipes are closed.
struct PipeReader {
    job: Rc<RefCell<Job>>,
    which: Which,
    /// The client connection waiting for this command.
    client: Token,
}

impl Protocol<Policy> for PipeReader {
    fn data_received(&mut self, ctx: &mut Ctx<'_, Policy>, data: &[u8]) -> usize {
        let max = ctx.shared_ref().max_output;
        let mut job = self.job.borrow_mut();
        let captured = job.captured(self.which);
        let room = max.saturating_sub(captured.len());
        captured.extend_from_slice(&data[..data.len().min(room)]);
        if data.len() > room && job.overflow.is_none() {
            debug!(
                "{}: {:?} passed {max} bytes; stopping it",
                job.name, self.which
            );
            job.overflow = Some(self.which);
            job.kill();
        }
        data.len()
    }

    // eof_received: the default closes the pipe, which lands in connection_lost.

    fn connection_lost(&mut self, ctx: &mut Ctx<'_, Policy>, _reason: Option<io::Error>) {
        let mut job = self.job.borrow_mut();
        let me = ctx.token();
        job.pipes.retain(|&t| t != me);
        if job.pipes.is_empty() {
            ctx.connection(self.client)
                .set_timer(Duration::ZERO, JOB_TIMER);
        }
    }
}

/// Where a client connection is in the exchange.
enum State {
    /// Waiting for a command line.
    Reading,
    /// A command runs; its answer comes when it is over.
    Running {
        job: Rc<RefCell<Job>>,
        timeout: TimerId,
    },
    /// The length is sent; the next read is the acknowledgement, then `body`.
    Answered { body: Vec<u8> },
}

/// One client connection.
struct Session {
    peer: String,
    /// A command line received so far (without its newline).
    line: Vec<u8>,
    line_timer: Option<TimerId>,
    state: State,
}

impl Session {
    fn new() -> Session {
        Session {
            peer: String::new(),
            line: Vec::new(),
            line_timer: None,
            state: State::Reading,
        }
    }

    /// Sends the length of `body` and waits for the acknowledgement.
    fn answer(&mut self, ctx: &mut Ctx<'_, Policy>, body: Vec<u8>) {
        ctx.write(body.len().to_string().as_bytes());
        self.state = State::Answered { body };
    }

    /// Runs a complete command line, or answers why not.
    fn start(&mut self, ctx: &mut Ctx<'_, Policy>, line: &[u8]) {
        let line = String::from_utf8_lossy(line);
        info!("{}: command {:?}", self.peer, line.trim());
        let argv = match ctx.shared_ref().plan(&line) {
            Ok(argv) => argv,
            Err(refusal) => {
                info!("{}: {}", self.peer, refusal.trim_end());
                return self.answer(ctx, refusal.into_bytes());
            }
        };
        let name = argv[0].clone();
        let spawned = Command::new(&name)
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so a timeout or a disconnect can kill
            // whatever it started too.
            .process_group(0)
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                info!("{}: cannot run {name}: {e}", self.peer);
                return self.answer(ctx, format!("error: cannot run {name}: {e}\n").into_bytes());
            }
        };
        let pipes = [
            child
                .stdout
                .take()
                .map(|p| (OwnedFd::from(p), Which::Stdout)),
            child
                .stderr
                .take()
                .map(|p| (OwnedFd::from(p), Which::Stderr)),
        ];
        let job = Rc::new(RefCell::new(Job::new(name, Some(child))));
        let client = ctx.token();
        for (fd, which) in pipes.into_iter().flatten() {
            let reader = PipeReader {
                job: job.clone(),
                which,
                client,
            };
            match ctx.add_fd(fd, reader) {
                Ok(token) => job.borrow_mut().pipes.push(token),
                Err(e) => {
                    // Without both pipes the answer cannot be trusted: stop
                    // the command; the pipes that are watched close, and the
                    // usual path reaps it and answers with this error.
                    let mut job = job.borrow_mut();
                    warn!("{}: cannot watch the pipes of {}: {e}", self.peer, job.name);
                    job.failure = Some(format!("error: cannot run {}: {e}\n", job.name));
                    job.kill();
                    break;
                }
            }
        }
        if job.borrow().pipes.is_empty() {
            ctx.set_timer(Duration::ZERO, JOB_TIMER);
        }
        let timeout = ctx.set_timer(ctx.shared_ref().timeout, TIMEOUT_TIMER);
        self.state = State::Running { job, timeout };
    }

    /// The pipes are closed: answer once the child is reaped.
    fn job_over(&mut self, ctx: &mut Ctx<'_, Policy>) {
        let State::Running { job, timeout } = &self.state else {
            return;
        };
        let (job, timeout) = (job.clone(), *timeout);
        let body = {
            let mut job = job.borrow_mut();
            if !job.pipes.is_empty() {
                return;
            }
            if !job.try_reap() {
                // Its pipes closed just before it exited, or it closed them
                // and runs on (the timeout still stands).
                ctx.set_timer(REAP_DELAY, JOB_TIMER);
                return;
            }
            let body = job.answer(ctx.shared_ref());
            let how = job.status.map_or_else(|| "ended".into(), describe);
            info!(
                "{}: {} {how}; answering {} bytes",
                self.peer,
                job.name,
                body.len()
            );
            body
        };
        ctx.cancel_timer(timeout);
        self.answer(ctx, body);
    }

    /// The command ran past `--timeout`: kill it; its pipes close and the
    /// usual path reaps it and answers.
    fn time_out(&mut self, ctx: &mut Ctx<'_, Policy>) {
        let State::Running { job, .. } = &self.state else {
            return;
        };
        let mut job = job.borrow_mut();
        warn!("{}: {} timed out; killing it", self.peer, job.name);
        job.timed_out = true;
        job.kill();
        // A grandchild that escaped the process group may hold the pipes open.
        for &pipe in &job.pipes {
            ctx.connection(pipe).close();
        }
    }
}

impl Protocol<Policy> for Session {
    fn connection_made(&mut self, ctx: &mut Ctx<'_, Policy>) {
        self.peer = ctx
            .peer_addr()
            .map_or_else(|_| "?".into(), |a| a.to_string());
    }

    fn data_received(&mut self, ctx: &mut Ctx<'_, Policy>, data: &[u8]) -> usize {
        if data.is_empty() {
            // Not a read at all (a read of nothing is EOF): not an acknowledgement.
            return 0;
        }
        match &mut self.state {
            State::Running { .. } => {
                debug!(
                    "{}: discarding {} bytes sent while a command runs",
                    self.peer,
                    data.len()
                );
            }
            State::Answered { body } => {
                // The acknowledgement; whatever came with it is part of it.
                let body = std::mem::take(body);
                ctx.write(&body);
                self.state = State::Reading;
            }
            State::Reading => {
                if let Some(timer) = self.line_timer.take() {
                    ctx.cancel_timer(timer);
                }
                self.line.extend_from_slice(data);
                match next_line(&self.line, MAX_COMMAND) {
                    Ok(Some((line, used))) => {
                        if used < self.line.len() {
                            // Lock-step: nothing may follow a command before its answer.
                            debug!(
                                "{}: discarding {} bytes after a command",
                                self.peer,
                                self.line.len() - used
                            );
                        }
                        let line = line.to_vec();
                        // Not `clear`: an idle connection should not keep a read's worth.
                        self.line = Vec::new();
                        self.start(ctx, &line);
                    }
                    Ok(None) => {
                        self.line_timer =
                            Some(ctx.set_timer(ctx.shared_ref().line_wait, LINE_TIMER));
                    }
                    Err(FrameError::TooLong { max }) => {
                        // What is left of that line arrives as the
                        // acknowledgement: the exchange cannot tell.
                        self.line = Vec::new();
                        let refusal = format!("error: command longer than {max} bytes\n");
                        info!("{}: {}", self.peer, refusal.trim_end());
                        self.answer(ctx, refusal.into_bytes());
                    }
                }
            }
        }
        data.len()
    }

    fn timer_fired(&mut self, ctx: &mut Ctx<'_, Policy>, id: u64) {
        match id {
            LINE_TIMER => {
                self.line_timer = None;
                if matches!(self.state, State::Reading) && !self.line.is_empty() {
                    let line = std::mem::take(&mut self.line);
                    self.start(ctx, &line);
                }
            }
            TIMEOUT_TIMER => self.time_out(ctx),
            JOB_TIMER => self.job_over(ctx),
            _ => {}
        }
    }

    fn connection_lost(&mut self, ctx: &mut Ctx<'_, Policy>, _reason: Option<io::Error>) {
        let State::Running { job, timeout } = std::mem::replace(&mut self.state, State::Reading)
        else {
            return;
        };
        ctx.cancel_timer(timeout);
        let reaped = {
            let mut job = job.borrow_mut();
            info!("{}: gone while {} runs; killing it", self.peer, job.name);
            job.kill();
            for &pipe in &job.pipes {
                ctx.connection(pipe).close();
            }
            job.try_reap()
        };
        if !reaped {
            reap_later(ctx, job, REAP_DELAY);
        }
    }
}

#[derive(Parser)]
#[command(
    about = "Remote command execution on the sockloop reactor (length, acknowledgement, output)"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8002")]
    addr: String,
    /// Programs clients may run, matched exactly against the command's first
    /// word (a word with `/` is always refused).
    #[arg(
        long,
        value_name = "A,B,C",
        value_delimiter = ',',
        default_value = "date,echo,uptime,hostname,whoami"
    )]
    allow: Vec<String>,
    /// Let clients run any program (lifts --allow).
    #[arg(long)]
    allow_any: bool,
    /// Run each command line through `sh -c` (only with --allow-any).
    #[arg(long, requires = "allow_any")]
    shell: bool,
    /// Kill a command that runs longer than this (at most a day).
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    timeout: u64,
    /// Keep at most this many bytes of each of a command's output streams.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    max_output: usize,
}

fn main() {
    let args = Args::parse();
    common::init_logging();
    let policy = Policy {
        allow: (!args.allow_any).then_some(args.allow),
        shell: args.shell,
        timeout: Duration::from_secs(args.timeout),
        max_output: args.max_output,
        line_wait: LINE_WAIT,
    };
    // An answer is queued whole: let the reactor hold the largest one.
    let defaults = Config::default();
    let config = Config {
        max_output: defaults
            .max_output
            .max(args.max_output.saturating_add(4096)),
        ..defaults
    };
    let mut reactor = Reactor::with_config(policy, config).or_fail("creating the reactor");
    let listener = reactor
        .listen_tcp(args.addr.as_str(), Session::new)
        .or_fail(&format!("listening on {}", args.addr));
    reactor
        .shutdown_on_signals()
        .or_fail("installing signal handlers");
    common::announce(
        reactor
            .local_addr(listener)
            .or_fail("reading the bound address"),
    );
    reactor.run().or_fail("running the reactor");
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockloop::harness::Harness;

    fn policy() -> Policy {
        Policy {
            allow: Some(vec!["date".into(), "echo".into()]),
            shell: false,
            timeout: Duration::from_secs(10),
            max_output: 8,
            line_wait: Duration::ZERO,
        }
    }

    /// What the whole exchange for `body` looks like on the wire.
    fn exchanged(body: &str) -> String {
        format!("{}{body}", body.len())
    }

    /// Feeds `chunks` as successive reads, firing the line timer after each
    /// one as a quiet peer would let it, and returns what was written.
    fn run(policy: Policy, chunks: &[&[u8]]) -> (Vec<u8>, Harness<Policy>) {
        let mut h = Harness::with_state(policy, Session::new());
        let mut out = Vec::new();
        for chunk in chunks {
            h.feed(chunk);
            out.extend(h.take_output());
        }
        h.run_due_timers();
        out.extend(h.take_output());
        (out, h)
    }

    /// Every way to split `input` into two reads gives `expected`.
    fn every_split(input: &[u8], expected: &[u8]) {
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            let (out, h) = run(policy(), &[a, b]);
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(expected),
                "split at {split}"
            );
            assert!(!h.is_closed());
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(policy(), &bytes).0, expected, "byte by byte");
    }

    #[test]
    fn refused_command_goes_through_length_ack_body_on_every_split() {
        let body = b"error: command not allowed: rm\n";
        let mut expected = body.len().to_string().into_bytes();
        every_split(b"rm -rf /\n", &expected);
        // With the acknowledgement in a later read, the body follows it.
        let (mut out, mut h) = run(policy(), &[b"rm -rf /\n"]);
        h.feed(b"ready");
        out.extend(h.take_output());
        expected.extend_from_slice(body);
        assert_eq!(out, expected);
    }

    #[test]
    fn a_command_without_newline_is_whole_after_a_quiet_period() {
        let expected = b"error: command not allowed: rm\n".len().to_string();
        for split in 0..=2 {
            let input = b"rm -rf /";
            let (a, b) = input.split_at(split);
            let (out, _) = run(policy(), &[a, b]);
            assert_eq!(out, expected.as_bytes(), "split at {split}");
        }
    }

    #[test]
    fn empty_command_is_answered_with_an_error() {
        for input in [&b"\n"[..], b"   \r\n", b"  "] {
            let (mut out, mut h) = run(policy(), &[input]);
            h.feed(b"ok");
            out.extend(h.take_output());
            let expected = exchanged("error: empty command\n");
            assert_eq!(String::from_utf8_lossy(&out), expected, "{input:?}");
        }
    }

    #[test]
    fn two_exchanges_on_one_connection() {
        let (mut out, mut h) = run(policy(), &[b"rm x\n"]);
        for chunk in [&b"ready"[..], b"/bin/date\n", b"r"] {
            h.feed(chunk);
            h.run_due_timers();
            out.extend(h.take_output());
        }
        let expected = exchanged("error: command not allowed: rm\n")
            + &exchanged("error: command not allowed: /bin/date\n");
        assert_eq!(String::from_utf8_lossy(&out), expected);
    }

    #[test]
    fn bytes_after_the_acknowledgement_are_part_of_it() {
        let (mut out, mut h) = run(policy(), &[b"rm\n"]);
        h.feed(b"readyrm\n");
        out.extend(h.take_output());
        let body = "error: command not allowed: rm\n";
        assert_eq!(String::from_utf8_lossy(&out), exchanged(body));
        // The next command is read afresh.
        h.feed(b"rm\n");
        assert_eq!(h.take_output(), body.len().to_string().as_bytes());
    }

    #[test]
    fn overlong_command_is_refused() {
        let long = vec![b'x'; MAX_COMMAND + 1];
        let (out, _) = run(policy(), &[&long]);
        let body = format!("error: command longer than {MAX_COMMAND} bytes\n");
        assert_eq!(out, body.len().to_string().as_bytes());
    }

    #[test]
    fn program_that_cannot_start_is_answered() {
        let p = Policy {
            allow: None,
            ..policy()
        };
        let (mut out, mut h) = run(p, &[b"/nonexistent/program arg\n"]);
        h.feed(b"ok");
        out.extend(h.take_output());
        let body =
            "error: cannot run /nonexistent/program: No such file or directory (os error 2)\n";
        assert_eq!(String::from_utf8_lossy(&out), exchanged(body));
    }

    #[test]
    fn plan_splits_words_and_checks_the_list() {
        let p = policy();
        assert_eq!(
            p.plan("  echo  a   b "),
            Ok(vec!["echo".into(), "a".into(), "b".into()])
        );
        assert_eq!(
            p.plan("rm -rf /"),
            Err("error: command not allowed: rm\n".into())
        );
        assert_eq!(
            p.plan("./echo"),
            Err("error: command not allowed: ./echo\n".into())
        );
        assert_eq!(p.plan(""), Err("error: empty command\n".into()));
        let any = Policy {
            allow: None,
            ..policy()
        };
        assert_eq!(
            any.plan("/bin/echo x"),
            Ok(vec!["/bin/echo".into(), "x".into()])
        );
        let shell = Policy {
            allow: None,
            shell: true,
            ..policy()
        };
        assert_eq!(
            shell.plan("echo a | tr a b"),
            Ok(vec!["sh".into(), "-c".into(), "echo a | tr a b".into()])
        );
    }

    /// Feeds `input` split at `split` into a pipe reader, then EOF.
    fn collect(input: &[u8], split: usize, which: Which) -> Rc<RefCell<Job>> {
        let job = Rc::new(RefCell::new(Job::new("test".into(), None)));
        let reader = PipeReader {
            job: job.clone(),
            which,
            client: Token(usize::MAX - 7),
        };
        let mut h = Harness::with_state(policy(), reader);
        let (a, b) = input.split_at(split);
        h.feed(a);
        h.feed(b);
        h.feed_eof();
        assert!(h.is_closed());
        job
    }

    #[test]
    fn pipe_output_is_kept_up_to_the_limit_on_every_split() {
        for split in 0..=5 {
            let job = collect(b"hello", split, Which::Stdout);
            let job = job.borrow();
            assert_eq!(job.stdout, b"hello");
            assert_eq!(job.overflow, None);
        }
        for split in 0..=12 {
            let job = collect(b"0123456789ab", split, Which::Stderr);
            let job = job.borrow();
            assert_eq!(job.stderr, b"01234567", "split at {split}");
            assert_eq!(job.overflow, Some(Which::Stderr));
            assert_eq!(
                job.answer(&policy()),
                b"01234567\nerror: output truncated at 8 bytes\n"
            );
        }
    }

    #[test]
    fn answer_is_stdout_on_success_and_stderr_on_failure() {
        let p = policy();
        let mut job = Job::new("date".into(), None);
        job.stdout = b"out\n".to_vec();
        job.stderr = b"err\n".to_vec();
        job.status = Some(ExitStatus::from_raw(0));
        assert_eq!(job.answer(&p), b"out\n");
        job.status = Some(ExitStatus::from_raw(1 << 8));
        assert_eq!(job.answer(&p), b"err\n");
        job.stderr.clear();
        assert_eq!(job.answer(&p), b"error: date exited with status 1\n");
        job.status = Some(ExitStatus::from_raw(libc::SIGKILL));
        assert_eq!(job.answer(&p), b"error: date was killed by signal 9\n");
        job.timed_out = true;
        assert_eq!(job.answer(&p), b"error: command timed out after 10 s\n");
    }
}
