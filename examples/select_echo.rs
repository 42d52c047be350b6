//! `cargo run --example select_echo`, then `nc 127.0.0.1 8889` and type lines.
//!
//! The textbook Python `select()` echo server, written straight on mio (not
//! on sockloop) and following the Python step by step:
//!
//! ```python
//! inputs, outputs, message_queues = [server], [], {}
//! while inputs:
//!     readable, writable, exceptional = select.select(inputs, outputs, inputs)
//!     for s in readable:
//!         if s is server:
//!             connection, client_address = s.accept()
//!             connection.setblocking(0)
//!             inputs.append(connection)
//!             message_queues[connection] = queue.Queue()
//!         else:
//!             data = s.recv(1024)
//!             if data:
//!                 message_queues[s].put(data)
//!                 if s not in outputs:
//!                     outputs.append(s)
//!             else:
//!                 close(s)  # inputs.remove(s), outputs.remove(s), s.close()
//!     for s in writable:
//!         if message_queues[s].empty():
//!             outputs.remove(s)
//!         else:
//!             s.send(message_queues[s].get_nowait())
//!     for s in exceptional:
//!         close(s)
//! ```
//!
//! What changes in mio:
//!
//! - `inputs` and `outputs` live in the kernel. Each socket is registered
//!   with an `Interest`; `outputs.append(s)` becomes a `reregister` that adds
//!   `WRITABLE`, and `outputs.remove(s)` a `reregister` that drops it.
//! - `message_queues` is a `Slab` of clients whose keys are the mio `Token`s.
//! - `select.select` is `poll.poll`. mio is edge-triggered: it reports that a
//!   socket *became* ready, once, where `select` repeats itself on every call.
//!   So a readable event means "read until `WouldBlock`" and a writable event
//!   "send until `WouldBlock` or the queue is empty"; bytes left behind would
//!   wait for an event that never comes.
//!
//! The cost of the textbook shape: every reply takes two `reregister` calls,
//! each an `epoll_ctl(2)` system call, plus one more trip through `poll`
//! before its first byte is sent. The sockloop reactor avoids all three: it
//! registers each stream once, edge-triggered, for both directions, writes a
//! reply as soon as it is made, and waits for a writable event only for the
//! bytes the socket refused.

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use log::{debug, info, warn};
use mio::event::Event;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Registry, Token};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;

/// Echo server on raw mio in the style of Python's select() server.
#[derive(Parser)]
struct Args {
    /// Address to listen on, HOST:PORT (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8889")]
    addr: SocketAddr,
}

// Clients are keyed by slab index from 0 up; these two sit far above.
const SERVER: Token = Token(usize::MAX);
const SIGNALS: Token = Token(usize::MAX - 1);

/// Flow control: once a client has this much waiting to be echoed (it sends
/// faster than it reads), stop reading from it until its queue drains below
/// this again. Its bytes then wait in the kernel, the TCP window closes and
/// the client is slowed down, instead of this process buffering without
/// bound. The textbook server has no such limit.
const MAX_QUEUE: usize = 1024 * 1024;

/// One connected client: `message_queues[s]`, plus which lists it is in.
struct Client {
    stream: TcpStream,
    /// Bytes read and not yet echoed back.
    queue: Vec<u8>,
    /// The peer has finished sending (a read returned 0).
    eof: bool,
    /// What the socket is registered for now: READABLE is "in `inputs`",
    /// WRITABLE is "in `outputs`".
    interest: Interest,
}

impl Client {
    /// Which lists the client belongs in now; `None` when neither, so it is done.
    fn wanted(&self) -> Option<Interest> {
        let read = !self.eof && self.queue.len() < MAX_QUEUE;
        let write = !self.queue.is_empty();
        match (read, write) {
            (true, true) => Some(Interest::READABLE | Interest::WRITABLE),
            (true, false) => Some(Interest::READABLE),
            (false, true) => Some(Interest::WRITABLE),
            (false, false) => None,
        }
    }
}

fn main() -> ExitCode {
    // A bad flag: clap prints the usage and exits with status 2.
    let args = Args::parse();
    sockloop_examples::server::init_logging();

    match start(args.addr).and_then(serve) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("select_echo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Binds the listener and registers it and the signals: `inputs = [server]`.
fn start(addr: SocketAddr) -> io::Result<(Poll, TcpListener, Signals)> {
    let poll = Poll::new()?;
    // mio sockets are non-blocking from birth: no setblocking(0) needed.
    let mut listener = TcpListener::bind(addr)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
    poll.registry()
        .register(&mut listener, SERVER, Interest::READABLE)?;

    // SIGINT and SIGTERM arrive as one more readable source, so the loop
    // sees them between events instead of being killed in the middle of one.
    let mut signals = Signals::new([libc::SIGINT, libc::SIGTERM])?;
    poll.registry()
        .register(&mut signals, SIGNALS, Interest::READABLE)?;

    let mut stdout = io::stdout().lock();
    writeln!(stdout, "listening on {}", listener.local_addr()?)?;
    stdout.flush()?;
    Ok((poll, listener, signals))
}

/// The `while inputs:` loop. Returns when a signal asks it to stop.
fn serve((mut poll, listener, mut signals): (Poll, TcpListener, Signals)) -> io::Result<()> {
    let mut clients: Slab<Client> = Slab::new();
    let mut events = Events::with_capacity(1024);
    loop {
        // readable, writable, exceptional = select.select(inputs, outputs, inputs)
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == ErrorKind::Interrupted {
                continue; // a signal arrived during the wait; its event follows
            }
            return Err(e);
        }
        for event in events.iter() {
            match event.token() {
                SERVER => accept_all(&listener, poll.registry(), &mut clients),
                SIGNALS => {
                    if let Some(signal) = signals.pending().next() {
                        // Stop at once: queued echoes are dropped with the process.
                        info!("signal {signal} received, shutting down");
                        return Ok(());
                    }
                }
                _ => client_ready(poll.registry(), &mut clients, event),
            }
        }
    }
}

/// `connection, client_address = s.accept(); inputs.append(connection)`,
/// repeated until the kernel has no more pending connections.
fn accept_all(listener: &TcpListener, registry: &Registry, clients: &mut Slab<Client>) {
    loop {
        let (mut stream, peer) = match listener.accept() {
            Ok(pair) => pair,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::ConnectionAborted => continue, // gone already
            Err(e) => {
                // Out of file descriptors, most likely. Those still waiting
                // are accepted with the next connection's event.
                warn!("accept failed: {e}");
                return;
            }
        };
        let entry = clients.vacant_entry();
        let token = Token(entry.key());
        // Readable only: there is nothing to send it yet.
        if let Err(e) = registry.register(&mut stream, token, Interest::READABLE) {
            warn!("cannot register {peer}: {e}");
            continue;
        }
        debug!("client {} connected from {peer}", token.0);
        entry.insert(Client {
            stream,
            queue: Vec::new(),
            eof: false,
            interest: Interest::READABLE,
        });
    }
}

/// One event for one client: closes it when it is done or has failed.
fn client_ready(registry: &Registry, clients: &mut Slab<Client>, event: &Event) {
    let token = event.token();
    let Some(client) = clients.get_mut(token.0) else {
        return; // already closed
    };
    match serve_client(registry, token, client, event) {
        Ok(true) => return,
        Ok(false) => debug!("client {} finished", token.0),
        Err(e) => debug!("client {}: {e}", token.0),
    }
    // inputs.remove(s); outputs.remove(s); s.close(); del message_queues[s]
    let mut client = clients.remove(token.0);
    let _ = registry.deregister(&mut client.stream);
}

/// The textbook's three loops for one client: `for s in exceptional`,
/// `for s in readable`, `for s in writable`. Returns `false` when it is done.
fn serve_client(
    registry: &Registry,
    token: Token,
    client: &mut Client,
    event: &Event,
) -> io::Result<bool> {
    if event.is_error() {
        // `for s in exceptional`: the connection failed; report why.
        let error = client.stream.take_error()?;
        return Err(error.unwrap_or_else(|| io::Error::other("socket error")));
    }
    if event.is_readable() || event.is_read_closed() {
        receive(client)?;
    }
    if event.is_writable() {
        send(client)?;
    }
    update_interest(registry, token, client)
}

/// `data = s.recv(1024)`, until `WouldBlock`, EOF or a full queue. Unlike
/// the textbook, EOF does not close the client at once: what is queued is
/// echoed first, so a client that sends and then shuts down its side gets
/// all of its echo.
fn receive(client: &mut Client) -> io::Result<()> {
    let mut buf = [0; 4096];
    while !client.eof && client.queue.len() < MAX_QUEUE {
        match client.stream.read(&mut buf) {
            Ok(0) => client.eof = true,                         // `if not data`
            Ok(n) => client.queue.extend_from_slice(&buf[..n]), // message_queues[s].put(data)
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `s.send(next_msg)`, until `WouldBlock` or the queue is empty.
fn send(client: &mut Client) -> io::Result<()> {
    while !client.queue.is_empty() {
        match client.stream.write(&client.queue) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => {
                client.queue.drain(..n);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Moves the client between the lists after it read or sent: data queued
/// adds it to `outputs` (`outputs.append(s)`), an empty queue takes it out
/// (`outputs.remove(s)`), a full queue takes it out of `inputs` until it
/// drains. Each change is one `reregister`, that is one `epoll_ctl(2)`
/// system call: two per reply when a client sends a line at a time.
/// Re-adding an interest makes the kernel check the socket again, so data
/// that arrived meanwhile is still reported. Returns `false` when the client
/// is in neither list: it has finished sending and everything was echoed.
fn update_interest(registry: &Registry, token: Token, client: &mut Client) -> io::Result<bool> {
    let Some(wanted) = client.wanted() else {
        return Ok(false);
    };
    if wanted != client.interest {
        registry.reregister(&mut client.stream, token, wanted)?;
        client.interest = wanted;
    }
    Ok(true)
}
