//! Adding sources to the reactor: listeners, outgoing connections, datagram
//! sockets, raw fds and signals. `Reactor` and `Ctx` both expose these.

use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::path::Path;

use log::info;
use mio::Token;
use mio::net::{TcpStream, UdpSocket, UnixDatagram, UnixStream};

use crate::addr::Addr;
use crate::conn::{Conn, Stream, flag};
use crate::core::{Core, Entry, Source, show};
use crate::datagram::{Datagram, DgramSocket};
use crate::fd::FdStream;
use crate::listener::{self, Acceptor, Factory, Listener};
use crate::protocol::{DatagramProtocol, Protocol};
use crate::signals::{SignalHandler, SignalSource};

impl<S: 'static> Core<S> {
    pub(crate) fn add_listener(
        &mut self,
        acceptor: Acceptor,
        factory: Factory<S>,
    ) -> io::Result<Token> {
        let addr = acceptor.local_addr()?;
        let listener = Listener {
            acceptor,
            factory,
            filter: None,
            backing_off: false,
        };
        let token = self.insert(Source::Listener(Box::new(listener)))?;
        info!("listening on {addr} as {}", show(token));
        Ok(token)
    }

    /// Registers an accepted or connected stream and, if it is already
    /// established, calls `connection_made`.
    pub(crate) fn add_stream(
        &mut self,
        stream: Stream,
        protocol: Box<dyn Protocol<S>>,
        connecting: bool,
    ) -> io::Result<Token> {
        if let (Stream::Tcp(s), true) = (&stream, self.config.nodelay) {
            // Best effort: a socket that already failed reports it on first use.
            let _ = s.set_nodelay(true);
        }
        let mut conn = Conn::new(stream, protocol);
        conn.set(if connecting {
            flag::CONNECTING
        } else {
            flag::MADE
        });
        let token = self.insert(Source::Conn(conn))?;
        if !connecting {
            self.invoke(token, |p, ctx| p.connection_made(ctx));
        }
        Ok(token)
    }

    pub(crate) fn connect_tcp(
        &mut self,
        addr: SocketAddr,
        protocol: Box<dyn Protocol<S>>,
    ) -> io::Result<Token> {
        let stream = TcpStream::connect(addr)?;
        self.add_stream(Stream::Tcp(stream), protocol, true)
    }

    pub(crate) fn connect_unix(
        &mut self,
        path: &Path,
        protocol: Box<dyn Protocol<S>>,
    ) -> io::Result<Token> {
        let stream = UnixStream::connect(path)?;
        self.add_stream(Stream::Unix(stream), protocol, true)
    }

    pub(crate) fn add_fd(
        &mut self,
        fd: OwnedFd,
        protocol: Box<dyn Protocol<S>>,
    ) -> io::Result<Token> {
        let stream = FdStream::new(fd)?;
        self.add_stream(Stream::Fd(Box::new(stream)), protocol, false)
    }

    pub(crate) fn add_stdin(&mut self, protocol: Box<dyn Protocol<S>>) -> io::Result<Token> {
        let stream = FdStream::stdin()?;
        self.add_stream(Stream::Fd(Box::new(stream)), protocol, false)
    }

    pub(crate) fn add_datagram(
        &mut self,
        socket: DgramSocket,
        protocol: Box<dyn DatagramProtocol<S>>,
    ) -> io::Result<Token> {
        let addr = socket.local_addr()?;
        let token = self.insert(Source::Datagram(Box::new(Datagram::new(socket, protocol))))?;
        info!("datagram socket bound to {addr} as {}", show(token));
        self.invoke_datagram(token, |p, ctx| p.connection_made(ctx));
        Ok(token)
    }

    pub(crate) fn bind_udp(
        &mut self,
        addr: SocketAddr,
        protocol: Box<dyn DatagramProtocol<S>>,
    ) -> io::Result<Token> {
        let socket = UdpSocket::bind(addr)?;
        self.add_datagram(DgramSocket::Udp(socket), protocol)
    }

    pub(crate) fn bind_unix_datagram(
        &mut self,
        path: &Path,
        protocol: Box<dyn DatagramProtocol<S>>,
    ) -> io::Result<Token> {
        listener::remove_stale_socket(path)?;
        let socket = UnixDatagram::bind(path)?;
        self.add_datagram(
            DgramSocket::Unix(socket, Some(path.to_path_buf())),
            protocol,
        )
    }

    pub(crate) fn add_signals(
        &mut self,
        signals: &[i32],
        handler: SignalHandler<S>,
    ) -> io::Result<Token> {
        let signals = signal_hook_mio::v1_0::Signals::new(signals)?;
        self.insert(Source::Signals(Box::new(SignalSource {
            signals,
            handler: Some(handler),
        })))
    }

    pub(crate) fn send_datagram(&mut self, token: Token, data: &[u8], to: &Addr) -> io::Result<()> {
        match self.entry_mut(token) {
            Some(Entry {
                source: Source::Datagram(d),
                ..
            }) => d.send_to(data, to),
            _ => Err(io::Error::new(
                io::ErrorKind::NotFound,
                "no datagram socket with this token",
            )),
        }
    }

    /// The local address of any socket source.
    pub(crate) fn local_addr(&self, token: Token) -> io::Result<Addr> {
        match self.entry(token).map(|e| &e.source) {
            Some(Source::Listener(l)) => l.acceptor.local_addr(),
            Some(Source::Datagram(d)) => d.socket.local_addr(),
            Some(Source::Conn(c)) => c.stream.local_addr(),
            _ => Err(io::Error::new(
                io::ErrorKind::NotFound,
                "no socket with this token",
            )),
        }
    }

    pub(crate) fn take_token_list(&mut self) -> Vec<Token> {
        let mut tokens = std::mem::take(&mut self.tokens);
        tokens.clear();
        tokens
    }

    pub(crate) fn put_token_list(&mut self, tokens: Vec<Token>) {
        self.tokens = tokens;
    }
}
