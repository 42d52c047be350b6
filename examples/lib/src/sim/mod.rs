//! Every example protocol through sockloop's seeded fault simulation
//! ([`sockloop::harness::Sim`]): split reads, writes accepted in part,
//! resets in the middle of a write, early EOFs, timers out of order, clock
//! jumps and refused accepts, thousands of scenarios per `cargo test`. Each
//! file adds the protocol's own invariants (a model of what its peers must
//! receive) to the ones the simulation checks for every protocol.
//!
//! A failure names its seed; `SOCKLOOP_SIM_SEED=0x... cargo test -p
//! sockloop-examples NAME` replays it step by step. A soak runs more:
//! `SOCKLOOP_SIM_SCENARIOS=100000` or `SOCKLOOP_SIM_SECS=600` (per test).
//!
//! The counts in the tests add up to 10,000 scenarios per `cargo test`:
//! 9,000 in plaintext, 1,000 over TLS (`tls.rs`: echo, http and resp with
//! the reactor's TLS layer on the server side and a rustls client on each
//! peer's, so the record layer meets the same faults).

mod chat;
mod cmd;
mod echo;
mod http;
mod resp;
mod stdin_logger;
mod tls;
mod upload;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sockloop::Config;
use sockloop::harness::{Client, Rng, Seen, Sim};
use sockloop::tls::rustls::{ClientConfig, ServerConfig};

/// The TLS configurations of the scenarios that speak it: a test CA, a
/// server certificate for `localhost` it signed, and a client trusting it.
struct Tls {
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
}

/// The configurations, made once per test process (as
/// examples/make_cert.rs makes them, but with Ed25519 keys: their
/// signatures are always 64 bytes, so every handshake is the same length
/// and a seed replays a TLS scenario byte count for byte count).
fn tls_configs() -> &'static Tls {
    static TLS: OnceLock<Tls> = OnceLock::new();
    TLS.get_or_init(|| {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, PKCS_ED25519};
        let generate = || KeyPair::generate_for(&PKCS_ED25519);
        let ca_key = generate().expect("a CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // Fixed serial numbers: random ones vary in length.
        ca.serial_number = Some(1u64.into());
        let ca_cert = ca.self_signed(&ca_key).expect("the CA certificate");
        let key = generate().expect("a server key");
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("parameters");
        params.serial_number = Some(2u64.into());
        let cert = params
            .signed_by(&key, &ca_cert, &ca_key)
            .expect("the server certificate");
        let chain = format!("{}{}", cert.pem(), ca_cert.pem());
        let key = key.serialize_pem();
        Tls {
            server: sockloop::tls::server_config(chain.as_bytes(), key.as_bytes(), &[])
                .expect("a server configuration"),
            client: sockloop::tls::client_config(ca_cert.pem().as_bytes(), &[])
                .expect("a client configuration"),
        }
    })
}

/// Limits for a scenario, over TLS or not: over TLS, an output limit no
/// smaller than 64 KiB (a handshake's flight and the session tickets after
/// it pass a limit of a few hundred bytes, and the connection would pay).
fn limits(config: Config, tls: Option<&Tls>) -> Config {
    match tls {
        Some(_) => Config {
            max_output: config.max_output.max(64 * 1024),
            ..config
        },
        None => config,
    }
}

/// With `tls`, the simulation's listener speaks TLS, and its sockets hold
/// at least 256 bytes (a handshake through a buffer of a few bytes would
/// take thousands of turns).
fn speak_tls<S: 'static>(sim: &mut Sim<S>, tls: Option<&Tls>) {
    if let Some(tls) = tls {
        sim.listen_tls(tls.server.clone());
        let (lo, hi) = sim.faults().buffer;
        sim.faults().buffer = (lo.max(256), hi.max(256));
    }
}

/// A peer running `client`, speaking TLS if `tls` says so.
fn join<S: 'static>(
    sim: &mut Sim<S>,
    client: impl Client + 'static,
    tls: Option<&Tls>,
) -> Result<usize, String> {
    match tls {
        Some(tls) => sim
            .connect_tls(client, tls.client.clone(), "localhost")
            .map_err(|e| e.to_string()),
        None => Ok(sim.connect(client)),
    }
}

/// Checks that every fault the simulation promises struck at least once in
/// a test's scenarios (unless it ran only a few: a replay). Timers out of
/// deadline order need timers of several sources: not for `echo`, which
/// sets none.
fn every_fault_struck(name: &str, seen: Seen, timers: bool) {
    if seen.scenarios < 100 {
        return;
    }
    let faults = [
        ("split read", seen.split_reads),
        ("send taken in part", seen.partial_sends),
        ("send refused", seen.refused_sends),
        ("reset", seen.resets),
        ("reset in the middle of a send", seen.resets_mid_write),
        ("early EOF", seen.early_eofs),
        ("accept refused with EMFILE", seen.refused_accepts),
        (
            "turn with timers out of deadline order",
            seen.reordered_timers,
        ),
    ];
    for (fault, count) in &faults[..faults.len() - usize::from(!timers)] {
        assert!(
            *count > 0,
            "{name}: no {fault} in {} scenarios",
            seen.scenarios
        );
    }
}

/// Limits small enough that a few kilobytes meet every one of them: the
/// watermarks (flow control), the output limit, the read budget (the ready
/// list), the accept budget and the connection limit.
fn tight_config(rng: &mut Rng) -> Config {
    let high = *rng.pick(&[64, 1024, 64 * 1024]);
    Config {
        high_watermark: high,
        low_watermark: high / 4,
        max_output: *rng.pick(&[high * 8, 1 << 20]),
        read_budget: *rng.pick(&[16, 4096, 256 * 1024]),
        accept_budget: rng.range(1..=4),
        max_connections: *rng.pick(&[1, 2, 1000]),
        accept_backoff: Duration::from_millis(*rng.pick(&[1, 100])),
        ..Config::default()
    }
}

/// The errors a check returns say which peer and what it got.
fn shown(bytes: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX)]).into_owned();
    if bytes.len() > MAX {
        format!("{text:?}... ({} bytes)", bytes.len())
    } else {
        format!("{text:?}")
    }
}

/// What `codec::Messages` makes of the bytes a peer's protocol read, when
/// only newlines and the end of the input end messages: the complete
/// lines (a `\r` before the newline dropped), then the unfinished rest
/// (said at a pause or the end). A message of more than `max` bytes ends
/// it all: what came before it, and `true`.
struct Said {
    lines: Vec<Vec<u8>>,
    rest: Vec<u8>,
    too_long: bool,
}

fn said_by(read: &[u8], max: usize) -> Said {
    said_by_skipping(read, max, false)
}

/// [`said_by`], or with `skip` (`Messages::skip_too_long`) a message over
/// the limit is dropped and the next ones go on.
fn said_by_skipping(read: &[u8], max: usize, skip: bool) -> Said {
    let mut said = Said {
        lines: Vec::new(),
        rest: Vec::new(),
        too_long: false,
    };
    let mut parts = read.split(|&b| b == b'\n').peekable();
    while let Some(part) = parts.next() {
        let last = parts.peek().is_none();
        let content = part.strip_suffix(b"\r").unwrap_or(part);
        if content.len() > max {
            said.too_long = true;
            if skip {
                continue;
            }
            return said;
        }
        if last {
            said.rest = part.to_vec();
        } else {
            said.lines.push(content.to_vec());
        }
    }
    said
}

impl Said {
    /// Whether `got` (the messages said so far, in order) is what these
    /// rules allow: the lines, and the rest whole once it has been said.
    fn allows(&self, got: &[&[u8]]) -> bool {
        let rest = self.rest.strip_suffix(b"\r").unwrap_or(&self.rest);
        let lines = got.len().min(self.lines.len());
        got[..lines]
            .iter()
            .zip(&self.lines)
            .all(|(a, b)| *a == &b[..])
            && match &got[lines..] {
                [] => true,
                [tail] => *tail == rest && !self.rest.is_empty(),
                _ => false,
            }
    }

    /// The messages in full, the rest included.
    fn all(&self) -> usize {
        self.lines.len() + usize::from(!self.rest.is_empty())
    }
}

/// A script of lines for a client: a few short lines (`\n` or `\r\n`,
/// some empty), maybe an unfinished last one, now and then (given a limit)
/// one over `too_long`.
fn lines_script(rng: &mut Rng, too_long: Option<usize>) -> Vec<Vec<u8>> {
    let mut script: Vec<Vec<u8>> = (0..rng.range(0..=5))
        .map(|_| {
            let len = rng.size(40);
            let mut line = rng.bytes(len, b"abc xyz\r\t");
            line.extend_from_slice(if rng.chance(30) { b"\r\n" } else { b"\n" });
            line
        })
        .collect();
    let complete = script.len();
    if rng.chance(40) {
        let len = rng.range(1..=30);
        script.push(rng.bytes(len, b"abc xyz"));
    }
    // The long line goes among the complete ones: after the unfinished
    // one it would join it, or, after a pause, start a line of its own,
    // which the model (newlines and the end only) does not follow.
    if let (Some(max), true) = (too_long, rng.chance(3)) {
        script.insert(rng.below(complete + 1), vec![b'L'; max + 1]);
    }
    script
}
