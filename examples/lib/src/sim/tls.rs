//! TLS: echo, http (https) and resp with the reactor's TLS layer on the
//! server side and a rustls client engine on each peer's. The wire carries
//! ciphertext, so the handshake and the record layer meet every fault
//! (split records, ciphertext taken in part, resets mid-record, early EOFs
//! after a `close_notify` or without one); the simulation's delivery checks
//! hold for the ciphertext, and each protocol's model for the plaintext.
//! A handshake that outlasts the reactor's TLS handshake timeout (the clock
//! jumps) costs that connection: a peer never made is allowed by every
//! model.

use super::{echo, every_fault_struck, http, resp, tls_configs};
use sockloop::harness::scenarios;

#[test]
fn sim_tls_echo() {
    let tls = tls_configs();
    let seen = scenarios("sim_tls_echo", 400, |seed| echo::scenario(seed, Some(tls)));
    every_fault_struck("sim_tls_echo", seen, false);
}

#[test]
fn sim_tls_http() {
    let (tls, site) = (tls_configs(), http::Site::new());
    let seen = scenarios("sim_tls_http", 300, |seed| {
        http::scenario(seed, &site.0, Some(tls))
    });
    every_fault_struck("sim_tls_http", seen, true);
}

#[test]
fn sim_tls_resp() {
    let tls = tls_configs();
    let seen = scenarios("sim_tls_resp", 300, |seed| resp::scenario(seed, Some(tls)));
    every_fault_struck("sim_tls_resp", seen, true);
}
