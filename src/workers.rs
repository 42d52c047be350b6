//! N reactors on N threads, one `SO_REUSEPORT` listener each: socketserver's
//! `ThreadingMixIn` done the reactor way.
//!
//! The threads share nothing. The kernel spreads incoming connections over
//! the listeners bound to the same port, and each reactor serves its own
//! connections start to finish, so there are no locks on any hot path.

use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};

use socket2::{Domain, Protocol as IpProtocol, Socket, Type};

use crate::handle::Handle;
use crate::reactor::Reactor;

/// A group of reactor threads serving one address.
///
/// ```
/// use sockloop::{Ctx, Protocol, Workers};
///
/// struct Echo;
/// impl Protocol for Echo {
///     fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
///         ctx.write(data);
///         data.len()
///     }
/// }
///
/// let workers = Workers::spawn(2, "127.0.0.1:0", |_index, listener| {
///     let mut reactor = sockloop::Reactor::new()?;
///     reactor.listen_tcp_std(listener, || Echo)?;
///     Ok(reactor)
/// })?;
/// println!("listening on {}", workers.local_addr());
/// workers.shutdown(); // every reactor flushes and stops
/// workers.join()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Workers<S: 'static = ()> {
    addr: SocketAddr,
    handles: Vec<Handle<S>>,
    threads: Vec<JoinHandle<io::Result<()>>>,
}

impl<S: 'static> Workers<S> {
    /// Binds `n` listeners to `addr` with `SO_REUSEPORT` (port 0: the first
    /// picks a port, the others share it), then starts `n` threads. Each
    /// calls `setup(index, listener)` to build its reactor, then runs it.
    pub fn spawn<F>(n: usize, addr: impl ToSocketAddrs, setup: F) -> io::Result<Workers<S>>
    where
        F: Fn(usize, TcpListener) -> io::Result<Reactor<S>> + Send + Sync + 'static,
    {
        let addr = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind"))?;
        let first = reuseport_listener(addr)?;
        let addr = first.local_addr()?;
        let mut listeners = vec![first];
        for _ in 1..n.max(1) {
            listeners.push(reuseport_listener(addr)?);
        }
        let setup = std::sync::Arc::new(setup);
        let mut handles = Vec::new();
        let mut threads = Vec::new();
        for (index, listener) in listeners.into_iter().enumerate() {
            let (tx, rx) = mpsc::channel();
            let setup = setup.clone();
            let thread = thread::Builder::new()
                .name(format!("reactor-{index}"))
                .spawn(move || {
                    let mut reactor = match setup(index, listener) {
                        Ok(reactor) => reactor,
                        Err(e) => {
                            let _ = tx.send(Err(io::Error::new(e.kind(), e.to_string())));
                            return Err(e);
                        }
                    };
                    let _ = tx.send(Ok(reactor.handle()));
                    reactor.run()
                })?;
            threads.push(thread);
            match rx.recv() {
                Ok(Ok(handle)) => handles.push(handle),
                Ok(Err(e)) => {
                    Workers {
                        addr,
                        handles,
                        threads,
                    }
                    .stop();
                    return Err(e);
                }
                Err(_) => {
                    Workers {
                        addr,
                        handles,
                        threads,
                    }
                    .stop();
                    return Err(io::Error::other("a reactor thread died during setup"));
                }
            }
        }
        Ok(Workers {
            addr,
            handles,
            threads,
        })
    }

    /// The address every reactor listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// One handle per reactor, to post closures to a particular one.
    pub fn handles(&self) -> &[Handle<S>] {
        &self.handles
    }

    /// Asks every reactor to shut down gracefully.
    pub fn shutdown(&self) {
        for handle in &self.handles {
            handle.shutdown();
        }
    }

    /// Waits for every reactor thread; the first error (or panic) wins.
    pub fn join(self) -> io::Result<()> {
        let mut result = Ok(());
        for thread in self.threads {
            let outcome = thread
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("a reactor thread panicked")));
            if result.is_ok() {
                result = outcome;
            }
        }
        result
    }

    fn stop(self) {
        self.shutdown();
        let _ = self.join();
    }
}

/// A non-blocking TCP listener with SO_REUSEADDR and SO_REUSEPORT set.
pub fn reuseport_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM,
        Some(IpProtocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}
