//! Remote command execution, speaking the socket tutorial's exchange so its
//! Python client works unchanged: the client sends a command, the server runs
//! it and sends the output's length in ASCII digits, waits for any
//! acknowledgement, then sends the output itself (stdout if the command
//! exited 0, stderr otherwise).
//!
//! ```text
//! cargo run --example cmd_server
//! cargo run --example cmd_client          # then type `ls`, `pwd`, `date`, `exit`
//! nc 127.0.0.1 8002                       # type `date`, read the length, type `ok`
//! ```
//!
//! Safe by default: it listens on 127.0.0.1, runs the command's words as an
//! argument vector (no shell), and only the programs named by
//! `--allow a,b,c` (default `ls,pwd,date,echo,uptime,hostname,whoami`, the
//! tutorial's first commands and a few more that only read; `ls` lists any
//! directory the server's user may read, so leave it out of `--allow` where
//! that matters; a name with a `/` is always refused). `--allow-any` lifts
//! the list; `--shell` (only with
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

use std::time::Duration;

use clap::Parser;
use sockloop::Config;
use sockloop_examples::cmd::{LINE_WAIT, Policy, Session};
use sockloop_examples::server;

#[derive(Parser)]
#[command(
    about = "Remote command execution on the sockloop reactor (length, acknowledgement, output)"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8002")]
    addr: String,
    /// Programs clients may run, matched exactly against the command's first
    /// word (a word with `/` is always refused). The default holds the
    /// tutorial's first commands, ls and pwd, and a few more that only read.
    #[arg(
        long,
        value_name = "A,B,C",
        value_delimiter = ',',
        default_value = "ls,pwd,date,echo,uptime,hostname,whoami"
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
    server::init_logging();
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
    server::listen(policy, config, &args.addr, Session::new).run();
}
