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
//! is `done: TEXT` in capitals; to any other line, the line itself. The
//! protocol is `sockloop_examples::work`. `--addr`, the `listening on` line,
//! logs and signals as every example.

use std::time::Duration;

use clap::Parser;
use sockloop::Config;
use sockloop_examples::server;
use sockloop_examples::work::{Session, Shared, worker_pool};

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
    server::init_logging();
    let shared = Shared {
        work: Duration::from_millis(args.work_ms),
        workers: (!args.on_loop).then(|| worker_pool(usize::from(args.workers))),
    };
    server::listen(shared, Config::default(), &args.addr, Session::default).run();
}
