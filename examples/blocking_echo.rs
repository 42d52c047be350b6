//! Blocking TCP echo server: one client at a time, the way the first socket
//! program in every tutorial is written. Chapter 1 of the guide
//! (docs/guide/01-blocking.md).
//!
//! ```text
//! cargo run --example blocking_echo
//! nc 127.0.0.1 8890        # type a line, get it back
//! nc 127.0.0.1 8890        # in a second terminal: nothing comes back
//!                          # until the first client leaves
//! ```
//!
//! `--addr HOST:PORT` picks the address (default 127.0.0.1:8890, port 0 for
//! any free port). The first line on stdout names the address actually
//! bound. Ctrl-C or SIGTERM stop it gracefully, like every example: the
//! client being served has its echo, then the server exits 0. That takes a
//! second thread, since this one sleeps in `accept` or `read` and cannot
//! look at a "please stop" flag: the signal thread wakes it by shutting down
//! the socket it sleeps on (examples/lib/src/blocking.rs), one of
//! the things the reactor of the later chapters does without.
//!
//! The whole server is two nested loops: `accept` a client, then `read` and
//! `write` until it leaves. While the inner loop runs, the outer one does not:
//! a second client is accepted by the kernel (its connect succeeds and what it
//! sends waits in the socket's receive buffer) but this program does not look
//! at it until the first client has gone.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use clap::Parser;
use log::{info, warn};
use sockloop_examples::blocking::Shutdown;
use sockloop_examples::server::{self, OrFail};

#[derive(Parser)]
#[command(about = "Blocking TCP echo server: one client at a time")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8890")]
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
        // Blocks until a client connects, or a signal shuts the listener down.
        match listener.accept() {
            Ok((stream, peer)) => {
                // None: a signal came meanwhile; the client is closed.
                let Some(client) = shutdown.track(stream) else {
                    break;
                };
                info!("serving {peer}");
                // Blocks until this client leaves (or a signal ends its
                // reading side): nobody else is served meanwhile.
                match echo(&*client) {
                    Ok(bytes) => info!("{peer} left after {bytes} bytes"),
                    Err(e) => info!("{peer} lost: {e}"),
                }
            }
            Err(_) if shutdown.has_begun() => break,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::Interrupted | ErrorKind::ConnectionAborted
                ) => {}
            Err(e) => {
                warn!("accept failed: {e}; retrying in {ACCEPT_RETRY:?}");
                std::thread::sleep(ACCEPT_RETRY);
            }
        }
    }
    info!("stopped");
}

/// Sends back everything read from `stream` until the peer closes its side;
/// returns how many bytes were echoed. `&TcpStream` is both `Read` and
/// `Write`, which is what lets the tests hand in a fake.
fn echo<S>(mut stream: S) -> io::Result<u64>
where
    S: Read + Write,
{
    let mut buf = [0; 4096];
    let mut total = 0;
    loop {
        // Blocks until bytes arrive, the peer closes (0), or the connection fails.
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        // Blocks while the peer's receive window is full: a client that sends
        // and never reads stops this whole server here.
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
        let input = b"hello\nworld, and a longer line\n";
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
                let total = echo(&mut stream).unwrap();
                assert_eq!(stream.written, input);
                assert_eq!(total, input.len() as u64);
            }
        }
    }

    #[test]
    fn input_larger_than_the_buffer_comes_back_whole() {
        let input: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        let mut stream = Chunks {
            chunks: vec![&input],
            written: Vec::new(),
        };
        echo(&mut stream).unwrap();
        assert_eq!(stream.written, input);
    }

    #[test]
    fn a_read_error_ends_the_client() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(ErrorKind::ConnectionReset.into())
            }
        }
        impl Write for Broken {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let e = echo(Broken).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);
    }
}
