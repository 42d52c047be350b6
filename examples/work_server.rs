//! Slow work without a stalled loop: a line server where `work TEXT` takes
//! a while (a blocking call: a DNS lookup, a disk read, a database driver)
//! and any other line is answered at once.
//!
//! ```text
//! cargo run --example work_server
//! nc 127.0.0.1 8884        # type `work report`, then `ping`
//! ```
//!
//! The slow part runs on a small pool of worker threads (`--workers`,
//! default 4), and its answer is posted back to the reactor with
//! `Handle::post`, which writes it to the connection that asked: the loop
//! never waits, and every other client is answered meanwhile. `--on-loop`
//! does the work inside `data_received` instead, the mistake the guide's
//! chapter 12 measures: while one job runs, nobody else is answered.
//! `--work-ms` sets how long a job takes (default 2000). The answer to a job
//! is `done: TEXT` in capitals; to any other line, the line itself.
//! `--addr`, the `listening on` line, logs and signals as every example.

mod common;

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use clap::Parser;
use common::OrFail;
use sockloop::codec::next_line;
use sockloop::{Ctx, Handle, Protocol, Reactor};

/// A job for a worker thread.
type Job = Box<dyn FnOnce() + Send>;

/// What every connection shares: how to do a job, and where.
struct Shared {
    work: Duration,
    /// `None`: do the work on the loop itself (`--on-loop`).
    workers: Option<Sender<Job>>,
}

/// The blocking work itself: it takes `work`, whatever thread it is on.
fn do_work(text: &[u8], work: Duration) -> Vec<u8> {
    thread::sleep(work);
    let mut answer = b"done: ".to_vec();
    answer.extend(text.to_ascii_uppercase());
    answer.push(b'\n');
    answer
}

/// One client: a line at a time.
#[derive(Default)]
struct Session {
    /// Jobs started and not yet answered.
    pending: usize,
    /// The client has sent its EOF: close once `pending` is 0.
    eof: bool,
}

/// The timer a worker's answer sets on its connection, to tell the
/// protocol the job is done.
const JOB_DONE: u64 = 1;

/// Lines longer than this close the connection.
const MAX_LINE: usize = 4096;

impl Protocol<Shared> for Session {
    fn data_received(&mut self, ctx: &mut Ctx<Shared>, data: &[u8]) -> usize {
        let mut used = 0;
        loop {
            match next_line(&data[used..], MAX_LINE) {
                Ok(Some((line, consumed))) => {
                    used += consumed;
                    match line.strip_prefix(b"work ") {
                        Some(text) => {
                            self.pending += 1;
                            start_job(ctx, text);
                        }
                        None => {
                            ctx.write(line);
                            ctx.write(b"\n");
                        }
                    }
                }
                Ok(None) => return used,
                Err(e) => {
                    ctx.write(format!("error: {e}\n").as_bytes());
                    ctx.close();
                    return data.len();
                }
            }
        }
    }

    /// The client is done sending, not done listening: answers still owed
    /// are sent before the connection closes.
    fn eof_received(&mut self, ctx: &mut Ctx<Shared>) {
        self.eof = true;
        if self.pending == 0 {
            ctx.close();
        }
    }

    fn timer_fired(&mut self, ctx: &mut Ctx<Shared>, id: u64) {
        if id == JOB_DONE {
            self.pending -= 1;
            if self.eof && self.pending == 0 {
                ctx.close();
            }
        }
    }
}

/// Runs a job: on a worker, its answer posted back to this connection; or,
/// with `--on-loop`, right here, holding up every other client.
fn start_job(ctx: &mut Ctx<Shared>, text: &[u8]) {
    let work = ctx.shared().work;
    let Some(workers) = ctx.shared().workers.clone() else {
        let answer = do_work(text, work);
        ctx.write(&answer);
        ctx.set_timer(Duration::ZERO, JOB_DONE);
        return;
    };
    let handle: Handle<Shared> = ctx.handle();
    let token = ctx.token();
    let text = text.to_vec();
    let job: Job = Box::new(move || {
        let answer = do_work(&text, work);
        // On the reactor's thread, at its next turn. A client that left
        // meanwhile is no longer open, and `write` says so.
        let _ = handle.post(move |ctx| {
            let mut conn = ctx.connection(token);
            if conn.write(&answer) {
                conn.set_timer(Duration::ZERO, JOB_DONE);
            }
        });
    });
    if workers.send(job).is_err() {
        ctx.abort("the worker threads are gone");
    }
}

/// Starts `n` threads that run jobs from one queue.
fn worker_pool(n: usize) -> Sender<Job> {
    let (tx, rx) = mpsc::channel::<Job>();
    let rx: Arc<Mutex<Receiver<Job>>> = Arc::new(Mutex::new(rx));
    for i in 0..n {
        let rx = Arc::clone(&rx);
        thread::Builder::new()
            .name(format!("worker-{i}"))
            .spawn(move || {
                loop {
                    let job = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => return, // the server is gone
                    }
                }
            })
            .or_fail("starting a worker thread");
    }
    tx
}

#[derive(Parser)]
#[command(about = "A line server whose slow jobs run on worker threads, not on the loop")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8884")]
    addr: String,
    /// How long one job takes, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    work_ms: u64,
    /// Worker threads.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    workers: u16,
    /// Do the work on the loop (the mistake, to measure it).
    #[arg(long)]
    on_loop: bool,
}

fn main() {
    let args = Args::parse();
    common::init_logging();
    let shared = Shared {
        work: Duration::from_millis(args.work_ms),
        workers: (!args.on_loop).then(|| worker_pool(usize::from(args.workers))),
    };
    let mut reactor = Reactor::with_state(shared).or_fail("creating the reactor");
    let listener = reactor
        .listen_tcp(args.addr.as_str(), Session::default)
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
