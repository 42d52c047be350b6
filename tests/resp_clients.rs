//! resp_server with the clients people use, unmodified: redis-cli (its
//! databases, INFO, --scan, --stat, RESP3 and, on a terminal, its hints
//! from COMMAND DOCS), redis-benchmark, and redis-py (transactions,
//! WATCH, databases and names, RESP3, scan_iter, pub/sub, BLPOP). Each
//! test skips with a note when its tool is not installed (.ci/run installs
//! them all).

mod resp_support;
mod util;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use resp_support::{Client, bulk, redis_py, redis_py_scenario, run_tool, start};

/// redis-cli against `port` with `args`.
fn cli(port: u16, args: &[&str]) -> Option<String> {
    let port = port.to_string();
    let mut all = vec!["-p", port.as_str()];
    all.extend_from_slice(args);
    run_tool("redis-cli", &all, None)
}

#[test]
fn redis_cli_talks_to_it() {
    let server = start(&[]);
    let port = server.socket_addr().port();
    let Some(pong) = cli(port, &["ping"]) else {
        return;
    };
    assert_eq!(pong, "PONG\n");
    assert_eq!(cli(port, &["set", "a", "1"]).unwrap(), "OK\n");
    assert_eq!(cli(port, &["get", "a"]).unwrap(), "1\n");
    assert_eq!(cli(port, &["incr", "a"]).unwrap(), "2\n");
    assert_eq!(cli(port, &["lpush", "l", "x", "y"]).unwrap(), "2\n");
    assert_eq!(cli(port, &["lrange", "l", "0", "-1"]).unwrap(), "y\nx\n");
    assert_eq!(cli(port, &["get", "nope"]).unwrap(), "\n");
    assert_eq!(
        cli(port, &["lpush", "a", "x"]).unwrap(),
        "WRONGTYPE Operation against a key holding the wrong kind of value\n\n"
    );
    // Commands on stdin, one per line, as a script would pipe them.
    let script = "set b hello\nappend b x\nget b\nttl b\nnosuch\n";
    assert_eq!(
        run_tool("redis-cli", &["-p", &port.to_string()], Some(script)).unwrap(),
        "OK\n6\nhellox\n-1\nERR unknown command 'nosuch', with args beginning with: \n\n"
    );
    // -n picks the database (SELECT), and the databases are apart.
    assert_eq!(
        cli(port, &["-n", "1", "set", "a", "in-one"]).unwrap(),
        "OK\n"
    );
    assert_eq!(cli(port, &["-n", "1", "get", "a"]).unwrap(), "in-one\n");
    assert_eq!(cli(port, &["get", "a"]).unwrap(), "2\n");
    assert_eq!(cli(port, &["-n", "1", "dbsize"]).unwrap(), "1\n");
    // RESP3 replies as redis-cli -3 prints them when piped.
    cli(port, &["hset", "h", "f", "v"]).unwrap();
    assert_eq!(cli(port, &["-3", "hgetall", "h"]).unwrap(), "f v\n");
    assert_eq!(cli(port, &["-3", "zadd", "z", "1.5", "m"]).unwrap(), "1\n");
    assert_eq!(cli(port, &["-3", "zscore", "z", "m"]).unwrap(), "1.5\n");
}

#[test]
fn redis_cli_info_scan_and_stat_read_what_they_need() {
    let server = start(&[]);
    let port = server.socket_addr().port();
    if cli(port, &["ping"]).is_none() {
        return;
    }
    let mut c = Client::new(&server);
    for i in 0..1000 {
        c.call(&[b"SET", format!("key:{i}").as_bytes(), b"v"]);
    }
    c.cmd("EXPIRE key:0 1000");
    c.cmd("SELECT 3");
    c.cmd("SET elsewhere v");
    let info = cli(port, &["info"]).unwrap();
    for field in [
        "redis_version:",
        "tcp_port:",
        "uptime_in_seconds:",
        "connected_clients:",
        "blocked_clients:",
        "used_memory:",
        "used_memory_human:",
        "total_connections_received:",
        "total_commands_processed:",
        "instantaneous_ops_per_sec:",
        "keyspace_hits:",
        "keyspace_misses:",
        "expired_keys:",
    ] {
        assert!(info.contains(field), "INFO lacks {field}:\n{info}");
    }
    assert!(
        info.lines()
            .any(|l| l.trim_end() == format!("tcp_port:{port}"))
    );
    let keyspace = cli(port, &["info", "keyspace"]).unwrap();
    let lines: Vec<&str> = keyspace.lines().map(str::trim_end).collect();
    assert_eq!(lines[0], "# Keyspace");
    assert!(
        lines[1].starts_with("db0:keys=1000,expires=1,avg_ttl="),
        "{keyspace}"
    );
    assert_eq!(lines[2], "db3:keys=1,expires=0,avg_ttl=0");
    // --scan walks every key with SCAN, a pattern filters them.
    let scanned = cli(port, &["--scan"]).unwrap();
    assert_eq!(scanned.lines().count(), 1000);
    let matched = cli(port, &["--scan", "--pattern", "key:99*"]).unwrap();
    let mut matched: Vec<&str> = matched.lines().collect();
    matched.sort();
    assert_eq!(
        matched,
        [
            "key:99", "key:990", "key:991", "key:992", "key:993", "key:994", "key:995", "key:996",
            "key:997", "key:998", "key:999"
        ]
    );
    // --stat prints its table from INFO (line-buffered through stdbuf, as
    // it buffers its output when not on a terminal).
    let child = Command::new("stdbuf")
        .args([
            "-oL",
            "redis-cli",
            "-p",
            &port.to_string(),
            "--stat",
            "-i",
            "0.1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("note: no stdbuf; skipping the --stat check");
        return;
    };
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let header = lines.next().unwrap().unwrap();
    assert!(header.contains("data"), "{header}");
    lines.next();
    let row = lines.next().unwrap().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let cells: Vec<&str> = row.split_whitespace().collect();
    // keys (all databases), mem, clients, blocked, requests, connections
    assert_eq!(cells[0], "1001", "{row}");
    assert!(cells[1].ends_with(['K', 'M', 'B']), "{row}");
    assert_eq!(cells[3], "0", "{row}");
}

#[test]
fn redis_cli_hints_and_help_come_from_command_docs() {
    let server = start(&[]);
    let port = server.socket_addr().port();
    if cli(port, &["ping"]).is_none() {
        return;
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/redis_cli_pty.py"
    );
    let Some(screen) = run_tool(
        "python3",
        &[
            script,
            &port.to_string(),
            "help set",
            "set ",
            "lmove ",
            "client kill ",
        ],
        None,
    ) else {
        return;
    };
    // `help set` prints the syntax, the summary and the group...
    assert!(
        screen.contains("SET key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]"),
        "{screen}"
    );
    assert!(
        screen.contains("summary: Sets the string value of a key"),
        "{screen}"
    );
    assert!(screen.contains("group: string"), "{screen}");
    // ...and typing a command shows its arguments as a hint.
    assert!(screen.contains("set key value [NX|XX] [GET]"), "{screen}");
    assert!(
        screen.contains("lmove source destination LEFT|RIGHT LEFT|RIGHT"),
        "{screen}"
    );
    assert!(
        screen.contains("client kill ip:port|[ID client-id]"),
        "{screen}"
    );
}

#[test]
fn redis_benchmark_runs_against_it() {
    let server = start(&[]);
    let port = server.socket_addr().port().to_string();
    const TESTS: &str = "ping_inline,ping_mbulk,set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange,mset";
    for pipeline in ["1", "16"] {
        let args = [
            "-p", &port, "-t", TESTS, "-n", "2000", "-c", "5", "-P", pipeline, "--csv",
        ];
        let Some(csv) = run_tool("redis-benchmark", &args, None) else {
            return;
        };
        for test in [
            "PING_INLINE",
            "PING_MBULK",
            "SET",
            "GET",
            "INCR",
            "LPUSH",
            "RPUSH",
            "LPOP",
            "RPOP",
            "SADD",
            "HSET",
            "SPOP",
            "ZADD",
            "ZPOPMIN",
            "LRANGE_100 (first 100 elements)",
            "LRANGE_600 (first 600 elements)",
            "MSET (10 keys)",
        ] {
            assert!(
                csv.contains(&format!("\"{test}\",")),
                "{test} missing from {csv}"
            );
        }
    }
    // The counters saw every INCR: 2000 per run.
    let mut c = Client::new(&server);
    assert_eq!(c.cmd("GET counter:__rand_int__"), bulk("4000"));
    // No command of the benchmark was refused.
    let info = c.cmd("INFO stats");
    assert!(info.contains("total_commands_processed:"), "{info}");
}

/// One redis-py scenario (see tests/fixtures/redis_py_session.py) against
/// a fresh server.
fn redis_py_runs(scenario: &str) {
    let Some(python) = redis_py() else {
        return;
    };
    let server = start(&[]);
    let output = redis_py_scenario(&python, scenario, server.socket_addr().port());
    assert!(output.contains("done"), "{output}");
}

#[test]
fn redis_py_connects_with_resp3_and_no_warning_in_any_database_and_name() {
    redis_py_runs("handshake");
}

#[test]
fn redis_py_default_pipeline_is_an_atomic_transaction() {
    redis_py_runs("pipeline");
}

#[test]
fn redis_py_transaction_with_a_queueing_error_applies_nothing() {
    redis_py_runs("queue_error");
}

#[test]
fn redis_py_watch_conflict_fails_the_transaction() {
    redis_py_runs("watch");
}

#[test]
fn redis_py_scan_iter_returns_every_key_of_ten_thousand_also_while_the_table_grows() {
    redis_py_runs("scan");
}

#[test]
fn redis_py_blpop_is_woken_by_a_push_and_times_out() {
    redis_py_runs("blpop");
}

#[test]
fn redis_py_pubsub_receives_channel_and_pattern_messages() {
    redis_py_runs("pubsub");
}
