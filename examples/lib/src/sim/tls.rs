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

// ----- regression tests: the seeds that found bugs in the core's TLS ------------

/// Found by `sim_tls_http` (this seed): a file queued while the TLS layer
/// held ciphertext the socket had refused never started, and the reactor
/// spun forever in `Files::flush`. The scenario runs on a thread of its
/// own so that the bug, back, fails this test instead of hanging the run.
#[test]
fn a_file_queued_behind_held_ciphertext_is_sent() {
    let (done, outcome) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let site = http::Site::new();
        let _ = done.send(http::scenario(
            0xdf5f51ed014fd671,
            &site.0,
            Some(tls_configs()),
        ));
    });
    let patience = std::time::Duration::from_secs(120);
    match outcome.recv_timeout(patience) {
        Ok(result) => result.unwrap(),
        Err(_) => panic!("the scenario did not end within {patience:?}: the reactor spins"),
    }
}

/// Found by `sim_tls_echo` and `sim_tls_resp` (these seeds): a handshake's
/// flight passing a small high watermark brought `pause_writing` before
/// `connection_made`.
#[test]
fn flow_control_starts_at_connection_made() {
    echo::scenario(0x3d9d31e888bcb24c, Some(tls_configs())).unwrap();
    resp::scenario(0x41c16efbe5e014fe, Some(tls_configs())).unwrap();
}

/// Found by `sim_tls_http`, `sim_tls_echo` and `sim_tls_resp` (these
/// seeds): a close in good order shut the socket down while part of the
/// `close_notify` still waited for it.
#[test]
fn close_notify_goes_out_whole_before_the_fin() {
    let site = http::Site::new();
    http::scenario(0xa99bb176117c16d, &site.0, Some(tls_configs())).unwrap();
    echo::scenario(0xf22d55f95d6cfc8, Some(tls_configs())).unwrap();
    resp::scenario(0x5eb911c8aa7134fa, Some(tls_configs())).unwrap();
}
