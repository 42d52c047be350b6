//! Reactor-wide limits and knobs.

use std::time::Duration;

/// Limits and tuning for a [`Reactor`](crate::Reactor).
///
/// The defaults suit a server on a small machine; every field is public so a
/// program can change just the one it cares about:
///
/// ```
/// let config = sockloop::Config { max_connections: 100, ..Default::default() };
/// let reactor = sockloop::Reactor::with_config((), config).unwrap();
/// # drop(reactor);
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    /// Stop accepting while this many socket connections (accepted or
    /// outgoing; pipes are not counted) are open; accept again as soon as
    /// one closes (nginx's `worker_connections`).
    pub max_connections: usize,
    /// Call `pause_writing` and stop reading a peer when its queued output
    /// goes strictly over this many bytes.
    pub high_watermark: usize,
    /// Call `resume_writing` and read again when the queued output drains to
    /// this many bytes or fewer.
    pub low_watermark: usize,
    /// Abort a connection whose queued output exceeds this many bytes: a
    /// reader that never reads cannot make the server hold unbounded memory.
    pub max_output: usize,
    /// Abort a connection whose unconsumed input exceeds this many bytes: a
    /// protocol waiting for a frame end cannot be made to buffer forever.
    pub max_input: usize,
    /// Bytes read from one source per turn before the others get their turn.
    pub read_budget: usize,
    /// Connections accepted from one listener per turn.
    pub accept_budget: usize,
    /// Set TCP_NODELAY on accepted and connected TCP streams: a reactor
    /// answers as soon as it can, so Nagle's delay only adds latency.
    pub nodelay: bool,
    /// How long a graceful shutdown waits for queued output to drain.
    pub shutdown_timeout: Duration,
    /// After a graceful close, how long to keep reading and discarding what
    /// the peer still sends so our last bytes are not destroyed by a reset
    /// (nginx's `lingering_timeout`).
    pub linger_timeout: Duration,
    /// How long to wait before accepting again after the process ran out of
    /// file descriptors (EMFILE/ENFILE).
    pub accept_backoff: Duration,
    /// Capacity of the events buffer handed to each poll.
    pub events_capacity: usize,
    /// How long a TLS handshake may take (feature `tls`): a peer that has
    /// not finished it by then is cut off, as a stalled handshake would
    /// otherwise hold its connection forever.
    pub tls_handshake_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_connections: 10_000_000,
            high_watermark: 64 * 1024,
            low_watermark: 16 * 1024,
            max_output: 16 * 1024 * 1024,
            max_input: 16 * 1024 * 1024,
            read_budget: 256 * 1024,
            accept_budget: 128,
            nodelay: true,
            shutdown_timeout: Duration::from_secs(3),
            linger_timeout: Duration::from_secs(2),
            accept_backoff: Duration::from_millis(100),
            events_capacity: 1024,
            tls_handshake_timeout: Duration::from_secs(10),
        }
    }
}
