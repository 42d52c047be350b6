//! An in-memory data store speaking Redis's protocol (RESP2 and RESP3), on
//! one thread: unmodified `redis-cli`, `redis-benchmark` and client
//! libraries such as redis-py work against it.
//!
//! ```text
//! cargo run --release --example resp_server
//! redis-cli -p 6380 set greeting hello      # or: printf 'PING\r\n' | nc 127.0.0.1 6380
//! ```
//!
//! `--addr HOST:PORT` picks the address (default 127.0.0.1:6380, port 0 for
//! any free port); `--max-output BYTES` (default 32 MiB) disconnects a
//! client whose unread replies pass it; `--maxclients N` (default 10000)
//! stops accepting while N clients are connected. `--tls-addr HOST:PORT
//! --tls-cert PEM --tls-key PEM` also serve TLS on a second port, as
//! Redis's `tls-port` does (`redis-cli --tls --cacert certs/ca.pem -p PORT`;
//! make the files with `cargo run --example make_cert`). The first line on
//! stdout names the address actually bound; with a TLS port, the second
//! line is `listening on <address> (tls)`. Ctrl-C or SIGTERM flush what is
//! queued and exit 0.
//!
//! How it works: `sockloop_examples::resp` (`examples/lib/src/resp/`).

use clap::Parser as _;
use sockloop::Config;
use sockloop_examples::resp::{self, Connection, CountingAllocator, State};
use sockloop_examples::server;

/// INFO's `used_memory` is what this counts.
#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

#[derive(clap::Parser)]
#[command(about = "In-memory data store speaking Redis's protocol, on the sockloop reactor")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:6380")]
    addr: String,
    /// Disconnect a client when its unread replies pass this many bytes.
    #[arg(long, default_value_t = 32 * 1024 * 1024)]
    max_output: usize,
    /// Stop accepting while this many clients are connected.
    #[arg(long, default_value_t = 10_000)]
    maxclients: usize,
    /// Also serve TLS on this address (needs --tls-cert and --tls-key).
    #[arg(long, value_name = "HOST:PORT", requires = "tls_cert")]
    tls_addr: Option<String>,
    #[command(flatten)]
    tls: sockloop_examples::tls::ServerFlags,
}

fn main() {
    let args = Args::parse();
    server::init_logging();
    let config = Config {
        max_output: args.max_output,
        max_connections: args.maxclients,
        ..Config::default()
    };
    let mut server = server::listen(State::new(), config, &args.addr, Connection::default);
    if let (Some(addr), Some(tls)) = (&args.tls_addr, args.tls.config(&[])) {
        server.also_listen_tls(addr, tls, Connection::default);
    }
    // Active expiry and the ops/s sample.
    server.reactor.call_every(resp::CRON_EVERY, resp::cron);
    server.run();
}
