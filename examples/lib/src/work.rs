//! The work_server protocol: a line server whose `work TEXT` lines take a
//! while (a blocking call stands for a DNS lookup, a disk read, a database
//! driver) and whose other lines are answered at once.
//!
//! The slow part runs on a pool of worker threads ([`worker_pool`]); each
//! answer is posted back to the reactor with `Handle::post`, which writes it
//! to the connection that asked, so the loop never waits. With no pool
//! (`Shared::workers` is `None`) the work runs inside `data_received`, the
//! mistake the guide's chapter 12 measures. A client's EOF does not close
//! its connection while answers are owed.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use sockloop::codec::next_line;
use sockloop::{Ctx, Handle, Protocol};

use crate::server::OrFail;

/// A job for a worker thread.
pub type Job = Box<dyn FnOnce() + Send>;

/// What every connection shares: how to do a job, and where.
pub struct Shared {
    /// How long one job takes.
    pub work: Duration,
    /// `None`: do the work on the loop itself (`--on-loop`).
    pub workers: Option<Sender<Job>>,
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
pub struct Session {
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
pub fn worker_pool(n: usize) -> Sender<Job> {
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
