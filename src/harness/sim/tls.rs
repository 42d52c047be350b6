//! Peers that speak TLS (feature `tls`): the listener wraps each accepted
//! simulated stream in the reactor's own TLS layer, and each such peer runs
//! a rustls client engine between its application (which sends and reads
//! plaintext) and the wire (which carries ciphertext). So the record layer
//! meets the same splits, partial writes, resets and early EOFs as any
//! stream, the delivery checks hold for the ciphertext, and the protocol's
//! checks see plaintext.
//!
//! Without the feature these are no-ops and no peer speaks TLS.

use super::Sim;

#[cfg(feature = "tls")]
mod engine {
    use std::io::{self, Read, Write};
    use std::sync::Arc;

    use rustls::pki_types::ServerName;
    use rustls::{ClientConfig, ClientConnection, ServerConfig};

    use super::super::Client;
    use super::Sim;
    use crate::harness::net::{Net, Plain};
    use crate::sources::listener;

    impl<S: 'static> Sim<S> {
        /// Makes the listener speak TLS with `config`: every connection
        /// accepted from now on begins with a handshake (the reactor's TLS
        /// layer, as `listen_tls` sets up).
        pub fn listen_tls(&mut self, config: Arc<ServerConfig>) {
            listener::set_tls(self.reactor.core_mut(), self.listener, config);
        }

        /// A peer that will connect and speak TLS with `config`, expecting
        /// the server to be `server_name`. Its client sends and reads
        /// plaintext; a check sees plaintext too ([`Peer::sent`],
        /// [`Peer::received`](super::super::Peer::received)).
        ///
        /// [`Peer::sent`]: super::super::Peer::sent
        pub fn connect_tls(
            &mut self,
            client: impl Client + 'static,
            config: Arc<ClientConfig>,
            server_name: &str,
        ) -> io::Result<usize> {
            let name = ServerName::try_from(server_name.to_string())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let engine = ClientConnection::new(config, name).map_err(io::Error::other)?;
            let i = self.connect(client);
            self.net.borrow_mut().wires[i].plain = Some(Box::default());
            self.engines.resize_with(i + 1, || None);
            self.engines[i] = Some(engine);
            // Its ClientHello waits on the wire for the connection.
            self.tls_pump(i);
            Ok(i)
        }

        /// Hands what peer `i`'s client sends to its engine; false if the
        /// peer does not speak TLS.
        pub(crate) fn tls_write(&mut self, i: usize, bytes: &[u8]) -> bool {
            let Some(Some(engine)) = self.engines.get_mut(i) else {
                return false;
            };
            // rustls keeps what is written before the handshake is over.
            let _ = engine.writer().write_all(bytes);
            if let Some(plain) = self.net.borrow_mut().wires[i].plain.as_mut() {
                plain.sent.extend_from_slice(bytes);
            }
            self.tls_pump(i);
            true
        }

        /// Peer `i`'s engine sends its `close_notify`, if it speaks TLS.
        pub(crate) fn tls_close(&mut self, i: usize) {
            if let Some(Some(engine)) = self.engines.get_mut(i) {
                engine.send_close_notify();
                self.tls_pump(i);
            }
        }

        /// Runs every TLS peer's engine (see [`pump`]).
        pub(crate) fn tls_pump_all(&mut self) {
            for i in 0..self.engines.len() {
                self.tls_pump(i);
            }
        }

        fn tls_pump(&mut self, i: usize) {
            if let Some(Some(engine)) = self.engines.get_mut(i) {
                pump(engine, &mut self.net.borrow_mut(), i);
            }
        }
    }

    /// Runs peer `i`'s engine: the server's ciphertext that reached the
    /// peer is decrypted, and what the engine has to send (handshake,
    /// records, alerts) goes onto the wire. A record the engine rejects is
    /// a violation: the server's TLS layer sent bytes that are not TLS.
    fn pump(engine: &mut ClientConnection, net: &mut Net, i: usize) {
        let now = net.now;
        let w = &mut net.wires[i];
        let Some(plain) = w.plain.as_mut() else {
            return;
        };
        if w.reset {
            return;
        }
        let mut rejected = None;
        let gave_up = w.eof_sent;
        while plain.fed < w.delivered {
            let mut rest = &w.offered[plain.fed..w.delivered];
            match engine.read_tls(&mut rest) {
                Ok(0) | Err(_) => break,
                Ok(n) => plain.fed += n,
            }
            match engine.process_new_packets() {
                // The server refusing a peer that gave up half-way (its
                // close_notify or EOF in the handshake) is no fault.
                Err(rustls::Error::AlertReceived(_)) if gave_up => break,
                Err(e) => {
                    rejected = Some(e);
                    break;
                }
                Ok(_) => {}
            }
            read_plaintext(engine, plain);
        }
        if !w.eof_sent {
            let before = w.sent.len();
            while engine.wants_write() {
                if engine.write_tls(&mut w.sent).is_err() {
                    break; // writing into a Vec does not fail
                }
            }
            if w.sent.len() > before {
                w.in_flight_since.get_or_insert(now);
            }
            if !engine.is_handshaking() {
                // All the plaintext written so far is in what was sent.
                plain.marks.push((w.sent.len(), plain.sent.len()));
            }
        }
        if let Some(e) = rejected {
            net.violate(format!(
                "wire {i}: the peer's TLS rejects what the server sent: {e}"
            ));
        }
    }

    fn read_plaintext(engine: &mut ClientConnection, plain: &mut Plain) {
        let mut buf = [0; 4096];
        loop {
            match engine.reader().read(&mut buf) {
                Ok(0) => {
                    plain.closed = true;
                    return;
                }
                Ok(n) => plain.received.extend_from_slice(&buf[..n]),
                // Nothing more yet, or the server's side ended without
                // its close_notify (the connection's end will say).
                Err(_) => return,
            }
        }
    }
}

#[cfg(not(feature = "tls"))]
impl<S: 'static> Sim<S> {
    pub(super) fn tls_write(&mut self, _: usize, _: &[u8]) -> bool {
        false
    }
    pub(super) fn tls_close(&mut self, _: usize) {}
    pub(super) fn tls_pump_all(&mut self) {}
}
