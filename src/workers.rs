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
    ///
    /// Refuses an address another socket already listens on, with the
    /// `AddrInUse` error a plain bind gives, even when that socket has
    /// `SO_REUSEPORT` set too: left to itself the kernel would quietly add
    /// these listeners to the other server's group and split the incoming
    /// connections between the two programs. (A server started *later* with
    /// `SO_REUSEPORT`, under the same user, can still join; that takes a
    /// deliberate choice on its side.)
    pub fn spawn<F>(n: usize, addr: impl ToSocketAddrs, setup: F) -> io::Result<Workers<S>>
    where
        F: Fn(usize, TcpListener) -> io::Result<Reactor<S>> + Send + Sync + 'static,
    {
        let addr = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind"))?;
        let first = exclusive_reuseport_listener(addr)?;
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
///
/// It shares `addr` with any listener there that has `SO_REUSEPORT` set
/// too (same user), in this process or another, and the kernel spreads the
/// incoming connections over all of them. To start a group only on a free
/// address, as [`Workers::spawn`] does, bind its first listener another way
/// (see `exclusive_reuseport_listener` in this file).
pub fn reuseport_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = stream_socket(addr)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Like [`reuseport_listener`], but fails with `AddrInUse` if anything
/// already listens on `addr`, with `SO_REUSEPORT` or without.
///
/// The socket is bound *without* `SO_REUSEPORT`, which the kernel refuses
/// next to any listener (a reuse-port group takes only members that all set
/// it), and only then, before `listen`, is `SO_REUSEPORT` switched on, so
/// that further [`reuseport_listener`]s can join it. Bind and check are one
/// step: no other program can slip onto the port in between, as it could
/// between a test bind, a close and a second bind. With port 0 the kernel
/// picks the port here, and the group shares it.
fn exclusive_reuseport_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = stream_socket(addr)?;
    socket.bind(&addr.into())?;
    socket.set_reuse_port(true)?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// A listening TCP socket on `addr` (SO_REUSEADDR, non-blocking) with room
/// for [`BACKLOG`] pending connections: what [`Reactor::listen_tcp`] binds.
pub(crate) fn tcp_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = stream_socket(addr)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Pending connections a listener holds before the kernel turns more away;
/// it caps the figure at `net.core.somaxconn` (4096 by default since Linux
/// 5.4). std's and mio's 128 overflow when thousands of clients connect at
/// once while the loop is busy (chat_server announcing each arrival to
/// everyone): the kernel then drops the handshake's last ACK, and clients
/// believe they are connected to a server that never accepted them.
const BACKLOG: i32 = 4096;

/// A non-blocking TCP socket for `addr`'s family with SO_REUSEADDR set, as
/// std sets it on its listeners: a restart need not wait for the previous
/// run's connections in TIME_WAIT.
fn stream_socket(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM,
        Some(IpProtocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Ctx, Protocol};
    use std::io::Read;
    use std::net::TcpStream;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Says which reactor accepted the connection (one byte, its index),
    /// then closes: the server side closes first, so its end of every
    /// connection waits in TIME_WAIT afterwards.
    struct SayIndex(u8);

    impl Protocol for SayIndex {
        fn connection_made(&mut self, ctx: &mut Ctx<'_, ()>) {
            ctx.write(&[self.0]);
            ctx.close();
        }

        fn data_received(&mut self, _: &mut Ctx<'_, ()>, data: &[u8]) -> usize {
            data.len()
        }
    }

    /// Starts `n` workers on `addr`, counting the reactors set up.
    fn spawn(n: usize, addr: SocketAddr, setups: &Arc<AtomicUsize>) -> io::Result<Workers> {
        let setups = setups.clone();
        Workers::spawn(n, addr, move |index, listener| {
            setups.fetch_add(1, Ordering::SeqCst);
            let mut reactor = Reactor::new()?;
            let index = index as u8;
            reactor.listen_tcp_std(listener, move || SayIndex(index))?;
            Ok(reactor)
        })
    }

    /// The index the server sends to a new client.
    fn accepted_by(addr: SocketAddr) -> u8 {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut byte = [0];
        stream.read_exact(&mut byte).unwrap();
        byte[0]
    }

    fn loopback_any() -> SocketAddr {
        "127.0.0.1:0".parse().unwrap()
    }

    #[test]
    fn port_0_is_picked_once_and_every_reactor_accepts_on_it() {
        let setups = Arc::new(AtomicUsize::new(0));
        let workers = spawn(2, loopback_any(), &setups).unwrap();
        let addr = workers.local_addr();
        assert_ne!(addr.port(), 0);
        // The kernel spreads connections by a hash of their addresses: over
        // 64 of them, both reactors are all but certain to get some.
        let mut seen = [0usize; 2];
        for _ in 0..64 {
            seen[usize::from(accepted_by(addr))] += 1;
        }
        assert!(
            seen.iter().all(|&n| n > 0),
            "accepted per reactor: {seen:?}"
        );
        workers.shutdown();
        workers.join().unwrap();
    }

    /// Workers on `addr` fail with `AddrInUse` before building any reactor.
    fn assert_refused(addr: SocketAddr) {
        let setups = Arc::new(AtomicUsize::new(0));
        let err = spawn(2, addr, &setups)
            .err()
            .expect("started on a port another socket listens on");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        assert_eq!(setups.load(Ordering::SeqCst), 0, "no reactor was built");
    }

    #[test]
    fn refuses_a_port_a_plain_listener_holds() {
        let taken = TcpListener::bind(loopback_any()).unwrap();
        assert_refused(taken.local_addr().unwrap());
    }

    #[test]
    fn refuses_a_port_another_reuseport_group_holds() {
        let other = reuseport_listener(loopback_any()).unwrap();
        let addr = other.local_addr().unwrap();
        // A second plain SO_REUSEPORT listener would join it silently...
        drop(reuseport_listener(addr).expect("joins the group"));
        // ...which is what the workers refuse to do.
        assert_refused(addr);
    }

    #[test]
    fn the_same_port_can_be_served_again_while_old_connections_linger() {
        let setups = Arc::new(AtomicUsize::new(0));
        let workers = spawn(2, loopback_any(), &setups).unwrap();
        let addr = workers.local_addr();
        for _ in 0..4 {
            accepted_by(addr);
        }
        workers.shutdown();
        workers.join().unwrap();
        // The server closed first, so its ends are in TIME_WAIT on `addr`.
        let again = spawn(2, addr, &setups).expect("a restart on the same port");
        assert_eq!(again.local_addr(), addr);
        accepted_by(addr);
        again.shutdown();
        again.join().unwrap();
    }
}
