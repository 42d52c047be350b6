//! Datagram sockets (UDP and Unix datagram) with a bounded send queue.
//!
//! A datagram send either goes out whole or not at all; when the socket
//! buffer is full the datagram waits in the queue, in order, and goes out on
//! the next writable edge.

use std::collections::VecDeque;
use std::fs;
use std::io;
use std::path::PathBuf;

use mio::net::{UdpSocket, UnixDatagram};

use crate::addr::Addr;
use crate::protocol::DatagramProtocol;

/// Bytes of datagrams that may wait for the socket before `send_to` refuses more.
pub(crate) const MAX_QUEUED_BYTES: usize = 4 * 1024 * 1024;

pub(crate) enum DgramSocket {
    Udp(UdpSocket),
    /// The path, if we bound one, is removed on drop.
    Unix(UnixDatagram, Option<PathBuf>),
}

pub(crate) struct Datagram<S> {
    pub(crate) socket: DgramSocket,
    /// `None` only while one of its callbacks runs.
    pub(crate) protocol: Option<Box<dyn DatagramProtocol<S>>>,
    pub(crate) queue: VecDeque<(Box<[u8]>, Addr)>,
    pub(crate) queued_bytes: usize,
    /// `Ctx::close` was called; closed at the next settle.
    pub(crate) closing: bool,
}

impl DgramSocket {
    pub(crate) fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, Addr)> {
        match self {
            DgramSocket::Udp(s) => s.recv_from(buf).map(|(n, a)| (n, Addr::Inet(a))),
            DgramSocket::Unix(s, _) => s.recv_from(buf).map(|(n, a)| (n, Addr::from(a))),
        }
    }

    pub(crate) fn send_to(&self, data: &[u8], to: &Addr) -> io::Result<usize> {
        match (self, to) {
            (DgramSocket::Udp(s), Addr::Inet(a)) => s.send_to(data, *a),
            (DgramSocket::Unix(s, _), Addr::Unix(Some(path))) => s.send_to(data, path),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot send to {to} from this socket"),
            )),
        }
    }

    pub(crate) fn local_addr(&self) -> io::Result<Addr> {
        match self {
            DgramSocket::Udp(s) => s.local_addr().map(Addr::Inet),
            DgramSocket::Unix(s, _) => s.local_addr().map(Addr::from),
        }
    }
}

impl Drop for DgramSocket {
    fn drop(&mut self) {
        if let DgramSocket::Unix(_, Some(path)) = self {
            let _ = fs::remove_file(path);
        }
    }
}

impl<S> Datagram<S> {
    pub(crate) fn new(socket: DgramSocket, protocol: Box<dyn DatagramProtocol<S>>) -> Self {
        Datagram {
            socket,
            protocol: Some(protocol),
            queue: VecDeque::new(),
            queued_bytes: 0,
            closing: false,
        }
    }

    /// Sends at once if nothing is queued, else queues behind the others.
    pub(crate) fn send_to(&mut self, data: &[u8], to: &Addr) -> io::Result<()> {
        if self.queue.is_empty() {
            match self.socket.send_to(data, to) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        if self.queued_bytes + data.len() > MAX_QUEUED_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "datagram send queue is full",
            ));
        }
        self.queued_bytes += data.len();
        self.queue.push_back((data.into(), to.clone()));
        Ok(())
    }

    /// Sends queued datagrams until the socket refuses. A datagram that fails
    /// for another reason is dropped and its error returned.
    pub(crate) fn flush(&mut self) -> Result<(), io::Error> {
        while let Some((data, to)) = self.queue.front() {
            match self.socket.send_to(data, to) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                result => {
                    self.queued_bytes -= data.len();
                    self.queue.pop_front();
                    result?;
                }
            }
        }
        Ok(())
    }
}
