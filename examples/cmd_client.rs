//! Client for `cmd_server`: reads commands from stdin, runs each on the
//! server and prints its output.
//!
//! ```text
//! cargo run --example cmd_server          # in one terminal
//! cargo run --example cmd_client          # in another: type `date`, `uptime`, `exit`
//! printf 'date\nuptime\n' | cargo run --example cmd_client
//! ```
//!
//! `--addr HOST:PORT` names the server (default 127.0.0.1:8002). Each exchange
//! is the tutorial's: send the command, read the output's length (ASCII
//! digits), send an acknowledgement, read exactly that many bytes. Unlike the
//! tutorial's client this one ends each command with a newline, so the server
//! knows at once that the command is complete instead of waiting for a quiet
//! moment. The prompt `> ` is shown only when stdin is a terminal; `exit` or
//! end of input quits with status 0.
//!
//! A plain blocking client on purpose: it has one thing to wait for at a
//! time, and the reactor is the server's business.

use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::net::TcpStream;

use clap::Parser;
use sockloop_examples::server::{self, OrFail};

#[derive(Parser)]
#[command(about = "Runs commands on a cmd_server and prints their output")]
struct Args {
    /// Address of the server.
    #[arg(long, default_value = "127.0.0.1:8002")]
    addr: String,
}

/// One exchange: the command, its output's length, the acknowledgement, the output.
fn run(stream: &mut TcpStream, command: &str) -> io::Result<Vec<u8>> {
    stream.write_all(format!("{command}\n").as_bytes())?;
    // The length comes alone (the server sends nothing more until it has our
    // acknowledgement), so one read holds all of it.
    let mut digits = [0; 32];
    let n = stream.read(&mut digits)?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection",
        ));
    }
    let text = String::from_utf8_lossy(&digits[..n]);
    let length: usize = text.trim().parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("expected the output's length, got {text:?}"),
        )
    })?;
    stream.write_all(b"ready")?;
    let mut output = vec![0; length];
    stream.read_exact(&mut output)?;
    Ok(output)
}

fn main() {
    let args = Args::parse();
    server::init_logging();
    let mut stream =
        TcpStream::connect(args.addr.as_str()).or_fail(&format!("connecting to {}", args.addr));
    let interactive = io::stdin().is_terminal();
    let mut stdout = io::stdout().lock();
    let mut lines = io::stdin().lock().lines();
    loop {
        if interactive {
            let _ = write!(stdout, "> ");
            let _ = stdout.flush();
        }
        let Some(line) = lines.next() else { break };
        let line = line.or_fail("reading stdin");
        let command = line.trim();
        if command.is_empty() {
            continue;
        }
        if command == "exit" {
            break;
        }
        let output = run(&mut stream, command).or_fail(&format!("running {command:?}"));
        let _ = stdout.write_all(&output);
        if interactive && !output.is_empty() && !output.ends_with(b"\n") {
            let _ = writeln!(stdout);
        }
        let _ = stdout.flush();
    }
    if interactive {
        let _ = writeln!(stdout);
    }
}
