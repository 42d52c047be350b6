//! The cmd_server protocol: remote command execution in the socket
//! tutorial's exchange (command, length in ASCII digits, acknowledgement,
//! output). The program, its flags and its safety defaults are
//! `examples/cmd_server.rs`.
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

use log::{debug, info, warn};
use sockloop::codec::{FrameError, next_line};
use sockloop::{Ctx, Protocol, TimerId, Token};
use std::cell::RefCell;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::rc::Rc;
use std::time::Duration;

/// How long bytes without a newline wait for more before they are taken as
/// the whole command (the tutorial's client ends a command by sending nothing
/// more, not by a newline).
pub const LINE_WAIT: Duration = Duration::from_millis(100);

/// The longest command line accepted.
pub const MAX_COMMAND: usize = 4096;

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
pub struct Policy {
    /// Programs allowed as `argv[0]`; `None` allows any.
    pub allow: Option<Vec<String>>,
    /// Run the line through `sh -c` instead of splitting it into words.
    pub shell: bool,
    /// A command running longer than this is killed.
    pub timeout: Duration,
    /// Bytes kept of each of a command's output streams.
    pub max_output: usize,
    /// How long bytes without a newline wait for more ([`LINE_WAIT`] but in tests).
    pub line_wait: Duration,
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
pub struct Session {
    peer: String,
    /// A command line received so far (without its newline).
    line: Vec<u8>,
    line_timer: Option<TimerId>,
    state: State,
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}

impl Session {
    /// A connection waiting for its first command.
    pub fn new() -> Session {
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

#[cfg(test)]
mod tests;
