//! Baseline: a minimal echo server on raw mio and a slab, the building
//! blocks sockloop stands on, written the way mio's own examples are.
//!
//! ```text
//! cargo run --release -p sockloop-bench --bin mio_echo -- --addr 127.0.0.1:0
//! ```
//!
//! Each stream is registered once for reading and writing, edge-triggered;
//! reads go until `WouldBlock` into one shared 64 KiB buffer and are written
//! back at once; only what the socket refuses is kept, in a per-connection
//! buffer, until the next writable event. Prints `listening on ADDR` first;
//! it has no signal handling (SIGINT/SIGTERM end it the default way).

use std::io::{self, Read, Write};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

const LISTENER: Token = Token(usize::MAX);

struct Conn {
    stream: TcpStream,
    /// Bytes the socket did not take yet; empty (no allocation) normally.
    pending: Vec<u8>,
}

/// Writes what is pending; false if the connection failed.
fn flush(conn: &mut Conn) -> bool {
    while !conn.pending.is_empty() {
        match conn.stream.write(&conn.pending) {
            Ok(n) => {
                conn.pending.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    conn.pending = Vec::new();
    true
}

/// Echoes `data`: straight to the socket unless output is already waiting.
fn echo(conn: &mut Conn, data: &[u8]) -> bool {
    if !conn.pending.is_empty() {
        conn.pending.extend_from_slice(data);
        return true;
    }
    let mut sent = 0;
    while sent < data.len() {
        match conn.stream.write(&data[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                conn.pending.extend_from_slice(&data[sent..]);
                return true;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}

/// Reads until `WouldBlock`, echoing each chunk; false when the connection ends.
fn read_all(conn: &mut Conn, buf: &mut [u8]) -> bool {
    loop {
        match conn.stream.read(buf) {
            Ok(0) => return false,
            Ok(n) => {
                if !echo(conn, &buf[..n]) {
                    return false;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

fn addr_from_args() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => "127.0.0.1:8888".to_string(),
        [flag, addr] if flag == "--addr" => addr.clone(),
        _ => {
            eprintln!("usage: mio_echo [--addr HOST:PORT]");
            std::process::exit(2);
        }
    }
}

fn main() -> io::Result<()> {
    let addr = addr_from_args();
    let mut listener = addr
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{addr}: {e}")))
        .and_then(TcpListener::bind)
        .unwrap_or_else(|e| {
            eprintln!("error: listening on {addr}: {e}");
            std::process::exit(1);
        });
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    println!("listening on {}", listener.local_addr()?);
    let mut events = Events::with_capacity(1024);
    let mut conns: Slab<Conn> = Slab::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            let _ = stream.set_nodelay(true);
                            let entry = conns.vacant_entry();
                            let token = Token(entry.key());
                            poll.registry().register(
                                &mut stream,
                                token,
                                Interest::READABLE | Interest::WRITABLE,
                            )?;
                            entry.insert(Conn {
                                stream,
                                pending: Vec::new(),
                            });
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            eprintln!("accept: {e}");
                            break;
                        }
                    }
                }
                continue;
            }
            let key = event.token().0;
            let Some(conn) = conns.get_mut(key) else {
                continue;
            };
            let mut alive = true;
            if event.is_writable() {
                alive = flush(conn);
            }
            if alive && event.is_readable() {
                alive = read_all(conn, &mut buf);
            }
            if !alive {
                let mut conn = conns.remove(key);
                let _ = poll.registry().deregister(&mut conn.stream);
            }
        }
    }
}
