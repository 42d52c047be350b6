//! Thread-per-client TCP echo server: socketserver's `ThreadingMixIn`, by
//! hand. Chapter 2 of the guide (docs/guide/02-threads.md).
//!
//! ```text
//! cargo run --example thread_echo
//! nc 127.0.0.1 8891        # in as many terminals as you like: all are served
//! ```
//!
//! `--addr HOST:PORT` picks the address (default 127.0.0.1:8891, port 0 for
//! any free port). The first line on stdout names the address actually
//! bound. Ctrl-C or SIGTERM stop it gracefully, like every example: no new
//! clients, every connected one has its echo, then exit 0. As in
//! `blocking_echo`, its threads sleep in `accept` and `read` with no way to
//! look at a "please stop" flag, so a signal thread wakes them by shutting
//! down the sockets they sleep on (examples/lib/src/blocking.rs).
//!
//! The main thread only accepts; each client gets a thread of its own that
//! runs the blocking echo loop of `blocking_echo` until the client leaves.
//! It works, and it is simple. What it costs: one thread per connected
//! client, idle or not, each with its own stack (2 MiB of address space by
//! default, of which only the pages touched become resident) and its own
//! kernel task. The guide measures it with 10,000 idle clients.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use clap::Parser;
use log::{debug, info, warn};
use sockloop_examples::blocking::Shutdown;
use sockloop_examples::server::{self, OrFail};

#[derive(Parser)]
#[command(about = "Thread-per-client TCP echo server")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8891")]
    addr: String,
}

/// How long to wait before accepting again after `accept` failed (out of
/// file descriptors, say): the pending connection stays in the backlog, so
/// retrying at once would spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

fn main() {
    let args = Args::parse();
    server::init_logging();
    let listener =
        TcpListener::bind(args.addr.as_str()).or_fail(&format!("listening on {}", args.addr));
    let shutdown = Shutdown::on_signals(&listener).or_fail("installing signal handlers");
    server::announce(listener.local_addr().or_fail("reading the bound address"));
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(pair) => pair,
            // A signal shut the listener down.
            Err(_) if shutdown.has_begun() => break,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::Interrupted | ErrorKind::ConnectionAborted
                ) =>
            {
                continue;
            }
            Err(e) => {
                warn!("accept failed: {e}; retrying in {ACCEPT_RETRY:?}");
                thread::sleep(ACCEPT_RETRY);
                continue;
            }
        };
        // None: a signal came meanwhile; the client is closed.
        let Some(client) = shutdown.track(stream) else {
            break;
        };
        debug!("serving {peer}");
        // `thread::spawn` would panic when the system refuses another thread;
        // the builder reports it, and only this client is turned away.
        let spawned = thread::Builder::new().spawn(move || match echo(&*client) {
            Ok(bytes) => debug!("{peer} left after {bytes} bytes"),
            Err(e) => debug!("{peer} lost: {e}"),
        });
        if let Err(e) = spawned {
            warn!("cannot start a thread for {peer}: {e}; closing it");
        }
    }
    // The signal woke every client's thread too; each ends once its echo is out.
    shutdown.wait_for_clients();
    info!("stopped");
}

/// Sends back everything read from `stream` until the peer closes its side;
/// returns how many bytes were echoed. The same loop as `blocking_echo`'s:
/// blocking is fine here, since it only blocks this client's own thread.
fn echo<S>(mut stream: S) -> io::Result<u64>
where
    S: Read + Write,
{
    let mut buf = [0; 4096];
    let mut total = 0;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        stream.write_all(&buf[..n])?;
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream that returns its input in the given chunks, one per `read`,
    /// then EOF, and collects what is written.
    struct Chunks<'a> {
        chunks: Vec<&'a [u8]>,
        written: Vec<u8>,
    }

    impl Read for Chunks<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.chunks.is_empty() {
                return Ok(0);
            }
            let chunk = self.chunks.remove(0);
            let n = chunk.len().min(buf.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            if n < chunk.len() {
                self.chunks.insert(0, &chunk[n..]);
            }
            Ok(n)
        }
    }

    impl Write for Chunks<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn echoes_every_split_of_the_input_unchanged() {
        let input = b"one\ntwo three\nfour";
        for a in 0..=input.len() {
            for b in a..=input.len() {
                let mut stream = Chunks {
                    // A socket read returns 0 only at EOF: no empty chunks.
                    chunks: [&input[..a], &input[a..b], &input[b..]]
                        .into_iter()
                        .filter(|c| !c.is_empty())
                        .collect(),
                    written: Vec::new(),
                };
                assert_eq!(echo(&mut stream).unwrap(), input.len() as u64);
                assert_eq!(stream.written, input);
            }
        }
    }

    #[test]
    fn input_larger_than_the_buffer_comes_back_whole() {
        let input: Vec<u8> = (0..20_000u32).map(|i| (i % 253) as u8).collect();
        let mut stream = Chunks {
            chunks: vec![&input],
            written: Vec::new(),
        };
        echo(&mut stream).unwrap();
        assert_eq!(stream.written, input);
    }
}
