//! INFO: the server's state as `field:value` lines in `# Section`s, the
//! fields redis-cli (`info`, `--stat`), monitoring tools and client
//! libraries read.
//!
//! The figures are gathered in one place ([`Figures::gather`]) and the
//! text written from them, so where a figure comes from can change (the
//! reactor counting connections and bytes itself, say) without touching
//! the rendering.

use std::fmt::Write;

use crate::resp::commands::connection::REDIS_VERSION;
use crate::resp::commands::{Call, Shared, is};
use crate::resp::memory;
use crate::resp::state::State;

/// The counters INFO reports.
pub struct Figures {
    pub connected_clients: usize,
    pub blocked_clients: usize,
    pub pubsub_clients: usize,
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub instantaneous_ops_per_sec: u64,
    pub expired_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub used_memory: usize,
    pub uptime_secs: u64,
}

impl Figures {
    /// Reads the figures from the shared state (and the allocator).
    pub fn gather(state: &State) -> Figures {
        let dbs = &state.dbs;
        Figures {
            connected_clients: state.clients.len(),
            blocked_clients: state.blocked,
            pubsub_clients: state
                .clients
                .iter()
                .filter(|(_, c)| c.subscriptions() > 0)
                .count(),
            total_connections_received: state.stats.connections_received,
            total_commands_processed: state.stats.commands_processed,
            instantaneous_ops_per_sec: state.stats.ops_per_sec(),
            expired_keys: dbs.iter().map(|d| d.expired).sum(),
            keyspace_hits: dbs.iter().map(|d| d.hits).sum(),
            keyspace_misses: dbs.iter().map(|d| d.misses).sum(),
            used_memory: memory::used(),
            uptime_secs: state.stats.started.elapsed().as_secs(),
        }
    }
}

/// The sections, in Redis's order; all are in the default set.
const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "keyspace",
];

/// INFO [section ...].
pub fn info(c: &mut Call) {
    let mut wanted = [c.args.len() == 1; SECTIONS.len()];
    for i in 1..c.args.len() {
        let arg = c.args.get(i);
        if is(arg, "all") || is(arg, "everything") || is(arg, "default") {
            wanted = [true; SECTIONS.len()];
        } else if let Some(at) = SECTIONS.iter().position(|s| is(arg, s)) {
            wanted[at] = true;
        }
    }
    let port = c
        .ctx
        .state()
        .clients
        .get(c.slot)
        .and_then(|cl| cl.laddr.rsplit(':').next()?.parse::<u16>().ok())
        .unwrap_or(0);
    let now = c.now;
    let state = c.ctx.state();
    let figures = Figures::gather(state);
    let mut text = String::new();
    for (section, _) in SECTIONS.iter().zip(wanted).filter(|(_, w)| *w) {
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        write_section(&mut text, section, &figures, state, port, now);
    }
    c.out.verbatim(text.as_bytes());
}

fn write_section(
    text: &mut String,
    section: &str,
    f: &Figures,
    state: &State,
    port: u16,
    now: i64,
) {
    let mut title = section.to_string();
    title[..1].make_ascii_uppercase();
    let _ = write!(text, "# {title}\r\n");
    let mut line = |name: &str, value: &dyn std::fmt::Display| {
        let _ = write!(text, "{name}:{value}\r\n");
    };
    match section {
        "server" => {
            line("redis_version", &REDIS_VERSION);
            line("resp_server_version", &env!("CARGO_PKG_VERSION"));
            line("redis_mode", &"standalone");
            line("os", &os());
            line("arch_bits", &(usize::BITS));
            line("multiplexing_api", &"epoll");
            line("process_id", &std::process::id());
            line("tcp_port", &port);
            line("server_time_usec", &(now * 1000));
            line("uptime_in_seconds", &f.uptime_secs);
            line("uptime_in_days", &(f.uptime_secs / 86400));
            line("hz", &10);
            let exe = std::env::current_exe().unwrap_or_default();
            line("executable", &exe.display());
            line("config_file", &"");
        }
        "clients" => {
            line("connected_clients", &f.connected_clients);
            line("blocked_clients", &f.blocked_clients);
            line("pubsub_clients", &f.pubsub_clients);
        }
        "memory" => {
            let rss = memory::rss();
            line("used_memory", &f.used_memory);
            line("used_memory_human", &memory::human(f.used_memory));
            line("used_memory_rss", &rss);
            line("used_memory_rss_human", &memory::human(rss));
            line("maxmemory", &0);
            line("maxmemory_human", &"0B");
            line("maxmemory_policy", &"noeviction");
        }
        "persistence" => {
            line("loading", &0);
            line("async_loading", &0);
            line("rdb_bgsave_in_progress", &0);
            line("aof_enabled", &0);
            line("aof_rewrite_in_progress", &0);
        }
        "stats" => {
            line("total_connections_received", &f.total_connections_received);
            line("total_commands_processed", &f.total_commands_processed);
            line("instantaneous_ops_per_sec", &f.instantaneous_ops_per_sec);
            line("expired_keys", &f.expired_keys);
            line("evicted_keys", &0);
            line("keyspace_hits", &f.keyspace_hits);
            line("keyspace_misses", &f.keyspace_misses);
            line("pubsub_channels", &state.pubsub.channels.len());
            line("pubsub_patterns", &state.pubsub.patterns.len());
        }
        "replication" => {
            line("role", &"master");
            line("connected_slaves", &0);
        }
        "cpu" => {
            let (system, user) = cpu_times();
            line("used_cpu_sys", &system);
            line("used_cpu_user", &user);
        }
        _ => {
            for (i, db) in state.dbs.iter().enumerate().filter(|(_, d)| !d.is_empty()) {
                let _ = write!(
                    text,
                    "db{i}:keys={},expires={},avg_ttl={}\r\n",
                    db.len(),
                    db.volatile_len(),
                    db.avg_ttl(now)
                );
            }
        }
    }
}

/// `uname -srm`, as Redis's `os` field.
fn os() -> String {
    // SAFETY: uname fills the zeroed struct we pass; the fields are
    // NUL-terminated C strings within it.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return std::env::consts::OS.to_string();
        }
        let field = |f: &[libc::c_char]| {
            std::ffi::CStr::from_ptr(f.as_ptr())
                .to_string_lossy()
                .into_owned()
        };
        format!(
            "{} {} {}",
            field(&u.sysname),
            field(&u.release),
            field(&u.machine)
        )
    }
}

/// System and user CPU time of the process, `seconds.micros`.
fn cpu_times() -> (String, String) {
    // SAFETY: getrusage fills the zeroed struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let time = |t: libc::timeval| format!("{}.{:06}", t.tv_sec, t.tv_usec);
    (time(usage.ru_stime), time(usage.ru_utime))
}
