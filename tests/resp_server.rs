//! The RESP server as a real process: exact reply bytes over loopback,
//! requests split at every byte, expiry, the protocol limits (with the
//! server's memory measured), output limits and the program's conventions.
//! (resp_compare.rs compares with redis-server, resp_clients.rs runs the
//! real clients, resp_waiting.rs covers what clients do to each other.)

mod resp_support;
mod util;

use std::io::Read;
use std::process::Command;
use std::time::Duration;

use resp_support::{Client, bulk, request, start};
use util::{PATIENCE, is_closed, read_exact, send, wait_until};

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";

#[test]
fn every_command_replies_as_redis_does() {
    let server = start(&[]);
    let mut c = Client::new(&server);
    // Each line: the command, then the exact reply Redis 7.0 gives.
    let cases: &[(&str, &str)] = &[
        ("PING", "+PONG\r\n"),
        ("ping hello", "$5\r\nhello\r\n"),
        (
            "ping a b",
            "-ERR wrong number of arguments for 'ping' command\r\n",
        ),
        ("ECHO hi", "$2\r\nhi\r\n"),
        ("SET k v", "+OK\r\n"),
        ("GET k", "$1\r\nv\r\n"),
        ("get missing", "$-1\r\n"),
        (
            "get",
            "-ERR wrong number of arguments for 'get' command\r\n",
        ),
        ("SET k v2 NX", "$-1\r\n"),
        ("SET k2 v XX", "$-1\r\n"),
        ("SET k v3 XX GET", "$1\r\nv\r\n"),
        ("SET k v NX XX", "-ERR syntax error\r\n"),
        ("SET k v EX", "-ERR syntax error\r\n"),
        ("SET k v EX 10 PX 100", "-ERR syntax error\r\n"),
        ("SET k v EX abc", NOT_INT),
        (
            "SET k v EX 0",
            "-ERR invalid expire time in 'set' command\r\n",
        ),
        (
            "SET k v PX 9223372036854775807",
            "-ERR invalid expire time in 'set' command\r\n",
        ),
        ("SET k v EX 100", "+OK\r\n"),
        ("TTL k", ":100\r\n"),
        ("SET k v KEEPTTL", "+OK\r\n"),
        ("TTL k", ":100\r\n"),
        ("SET k v", "+OK\r\n"),
        ("TTL k", ":-1\r\n"),
        ("TTL missing", ":-2\r\n"),
        ("EXPIRE k 50", ":1\r\n"),
        ("TTL k", ":50\r\n"),
        ("EXPIRE k 10 NX", ":0\r\n"),
        ("EXPIRE k 10 GT", ":0\r\n"),
        ("EXPIRE k 10 LT", ":1\r\n"),
        ("EXPIRE k 1 foo", "-ERR Unsupported option foo\r\n"),
        (
            "EXPIRE k 1 nx xx",
            "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
        ),
        ("EXPIRE k x", NOT_INT),
        ("EXPIRE missing 10", ":0\r\n"),
        ("EXPIRE k -1", ":1\r\n"),
        ("EXISTS k", ":0\r\n"),
        ("INCR n", ":1\r\n"),
        ("INCRBY n 41", ":42\r\n"),
        ("DECR n", ":41\r\n"),
        ("DECRBY n 1", ":40\r\n"),
        ("INCRBY n x", NOT_INT),
        ("SET n 9223372036854775807", "+OK\r\n"),
        ("INCR n", "-ERR increment or decrement would overflow\r\n"),
        ("SET n 01", "+OK\r\n"),
        ("INCR n", NOT_INT),
        ("MSET a 1 b 2", "+OK\r\n"),
        (
            "MSET a 1 b",
            "-ERR wrong number of arguments for 'mset' command\r\n",
        ),
        ("MGET a b missing", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n"),
        ("EXISTS a a missing", ":2\r\n"),
        ("DEL a b missing", ":2\r\n"),
        ("LPUSH l a b c", ":3\r\n"),
        ("RPUSH l d", ":4\r\n"),
        ("LLEN l", ":4\r\n"),
        (
            "LRANGE l 0 -1",
            "*4\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nd\r\n",
        ),
        ("LRANGE l -100 1", "*2\r\n$1\r\nc\r\n$1\r\nb\r\n"),
        ("LRANGE l 5 1", "*0\r\n"),
        ("LRANGE l x 1", NOT_INT),
        ("LPOP l", "$1\r\nc\r\n"),
        ("RPOP l", "$1\r\nd\r\n"),
        ("LPOP l 0", "*0\r\n"),
        (
            "LPOP l -1",
            "-ERR value is out of range, must be positive\r\n",
        ),
        ("LPOP l 5", "*2\r\n$1\r\nb\r\n$1\r\na\r\n"),
        ("EXISTS l", ":0\r\n"),
        ("LPOP l", "$-1\r\n"),
        ("LPOP l 2", "*-1\r\n"),
        ("LLEN l", ":0\r\n"),
        ("GET n", "$2\r\n01\r\n"),
        ("LPUSH n x", WRONGTYPE),
        ("SADD s a b a", ":2\r\n"),
        ("SADD s b", ":0\r\n"),
        ("GET s", WRONGTYPE),
        ("SPOP s 0", "*0\r\n"),
        ("SPOP s 1 2", "-ERR syntax error\r\n"),
        ("SPOP missing", "$-1\r\n"),
        ("SPOP missing 3", "*0\r\n"),
        ("HSET h f1 v1 f2 v2", ":2\r\n"),
        ("HSET h f1 w1", ":0\r\n"),
        (
            "HSET h f1",
            "-ERR wrong number of arguments for 'hset' command\r\n",
        ),
        ("HGET h f1", "$2\r\nw1\r\n"),
        ("HGET h nope", "$-1\r\n"),
        ("HGET n f", WRONGTYPE),
        ("DBSIZE", ":3\r\n"),
        ("FLUSHALL x", "-ERR syntax error\r\n"),
        ("FLUSHALL", "+OK\r\n"),
        ("DBSIZE", ":0\r\n"),
        (
            "COMMAND foo",
            "-ERR unknown subcommand 'foo'. Try COMMAND HELP.\r\n",
        ),
        ("CONFIG GET save", "*2\r\n$4\r\nsave\r\n$0\r\n\r\n"),
        ("HELLO 4", "-NOPROTO unsupported protocol version\r\n"),
        (
            "foo a b",
            "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n",
        ),
    ];
    for (command, want) in cases {
        assert_eq!(&c.cmd(command), want, "{command}");
    }
    // SPOP takes every member in the end, each once.
    c.cmd("SADD s x y z");
    let mut popped = vec![c.cmd("SPOP s"), c.cmd("SPOP s"), c.cmd("SPOP s")];
    popped.sort();
    assert_eq!(popped, [bulk("x"), bulk("y"), bulk("z")]);
    assert_eq!(c.cmd("SPOP s"), "$-1\r\n");
    // Binary-safe values, and quoting in the unknown-command error.
    let binary: &[u8] = b"\x00\r\n\xff";
    assert_eq!(c.call(&[b"SET", b"bin", binary]), "+OK\r\n");
    c.send(&request(&[b"GET", b"bin"]));
    assert_eq!(c.reply_bytes(), b"$4\r\n\x00\r\n\xff\r\n");
    assert_eq!(
        c.call(&[b"fo\r\no", b"a\nb"]),
        "-ERR unknown command 'fo  o', with args beginning with: 'a b' \r\n"
    );
    assert_eq!(c.cmd("QUIT"), "+OK\r\n");
    assert!(is_closed(c.reader.get_mut()));
}

/// Requests of both forms, pipelined, with the replies they must produce.
const PIPELINE: &[u8] = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n\
    GET key\r\n\
    *2\r\n$4\r\nINCR\r\n$3\r\nctr\r\n\
    incr   ctr\n\
    *0\r\n\r\n\
    rpush list \"a b\" 'c'\r\n\
    *4\r\n$6\r\nLRANGE\r\n$4\r\nlist\r\n$1\r\n0\r\n$2\r\n-1\r\n\
    PING\r\n";

const PIPELINE_REPLIES: &[u8] = b"+OK\r\n$5\r\nva\r\nl\r\n:1\r\n:2\r\n:2\r\n\
    *2\r\n$3\r\na b\r\n$1\r\nc\r\n+PONG\r\n";

#[test]
fn requests_split_at_any_byte_get_the_same_replies() {
    let server = start(&[]);
    // One byte per write, each sent at once (the server sets no Nagle, nor do we).
    let mut stream = server.connect();
    stream.set_nodelay(true).unwrap();
    for byte in PIPELINE {
        send(&mut stream, std::slice::from_ref(byte));
    }
    assert_eq!(
        read_exact(&mut stream, PIPELINE_REPLIES.len()),
        PIPELINE_REPLIES
    );
    send(&mut stream, b"FLUSHALL\r\n");
    assert_eq!(read_exact(&mut stream, 5), b"+OK\r\n");

    // Every two-piece split, the second piece sent after the server has
    // had time to read the first.
    for cut in 0..=PIPELINE.len() {
        let mut stream = server.connect();
        stream.set_nodelay(true).unwrap();
        send(&mut stream, &PIPELINE[..cut]);
        std::thread::sleep(Duration::from_micros(300));
        send(&mut stream, &PIPELINE[cut..]);
        send(&mut stream, b"FLUSHALL\r\n");
        let mut want = PIPELINE_REPLIES.to_vec();
        want.extend_from_slice(b"+OK\r\n");
        assert_eq!(read_exact(&mut stream, want.len()), want, "split at {cut}");
    }
}

#[test]
fn keys_expire_when_touched_and_by_the_periodic_sweep() {
    let server = start(&[]);
    let mut c = Client::new(&server);
    // (Two seconds of margin: the GET must come before the key expires.)
    assert_eq!(c.cmd("SET short v PX 2000"), "+OK\r\n");
    assert_eq!(c.cmd("GET short"), bulk("v"));
    wait_until("the key expires", || c.cmd("GET short") == "$-1\r\n");
    assert_eq!(c.cmd("TTL short"), ":-2\r\n");
    assert_eq!(c.cmd("EXISTS short"), ":0\r\n");

    // A thousand keys nobody touches again: only the sweep can delete them
    // (DBSIZE counts expired keys until they are deleted).
    let mut batch = Vec::new();
    for i in 0..1000 {
        batch.extend(request(&[
            b"SET",
            format!("k{i}").as_bytes(),
            b"v",
            b"PX",
            b"50",
        ]));
    }
    batch.extend(request(&[b"SET", b"forever", b"v"]));
    c.send(&batch);
    for _ in 0..1001 {
        assert_eq!(c.reply(), "+OK\r\n");
    }
    wait_until("the sweep deletes the expired keys", || {
        std::thread::sleep(Duration::from_millis(50));
        c.cmd("DBSIZE") == ":1\r\n"
    });
    assert_eq!(c.cmd("GET forever"), bulk("v"));
}

#[test]
fn an_oversized_bulk_length_is_refused_without_allocating_it() {
    let server = start(&[]);
    let before = server.rss_kib();

    // 600 MB claimed: over Redis's 512 MB limit, refused at the header.
    let mut stream = server.connect();
    send(&mut stream, b"*2\r\n$3\r\nGET\r\n$600000000\r\n");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).expect("reading until close");
    assert_eq!(reply, b"-ERR Protocol error: invalid bulk length\r\n");

    // 500 MB claimed (legal), 2 MB sent: storage follows what arrived.
    let mut stream = server.connect();
    send(
        &mut stream,
        b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$500000000\r\n",
    );
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..32 {
        send(&mut stream, &chunk);
    }
    wait_until("the server took all we sent", || unsent(&stream) == 0);
    let mut c = Client::new(&server);
    assert_eq!(c.cmd("PING"), "+PONG\r\n");
    let grown = server.rss_kib().saturating_sub(before);
    assert!(grown < 64 * 1024, "RSS grew by {grown} KiB");
    drop(stream);
    assert_eq!(c.cmd("DBSIZE"), ":0\r\n");

    // The other limits: argument count, inline length, header length.
    for (input, error) in [
        (b"*1048577\r\n".to_vec(), "invalid multibulk length"),
        (vec![b'x'; 70_000], "too big inline request"),
        (
            [b"*1\r\n$".as_slice(), &[b'1'; 70_000]].concat(),
            "too big bulk count string",
        ),
        (b"*1\r\n+PING\r\n".to_vec(), "expected '$', got '+'"),
        (
            b"GET \"unbalanced\r\n".to_vec(),
            "unbalanced quotes in request",
        ),
    ] {
        let mut stream = server.connect();
        send(&mut stream, &input);
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).expect("reading until close");
        assert_eq!(
            String::from_utf8_lossy(&reply),
            format!("-ERR Protocol error: {error}\r\n")
        );
    }
    assert!(server.rss_kib().saturating_sub(before) < 64 * 1024);
}

/// Bytes we wrote that the peer's kernel has not acknowledged yet.
fn unsent(stream: &std::net::TcpStream) -> i32 {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: TIOCOUTQ writes one int through the pointer we pass.
    unsafe { libc::ioctl(stream.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
    n
}

#[test]
fn big_values_round_trip_and_pipelines_larger_than_the_socket_are_served() {
    let server = start(&[]);
    let mut c = Client::new(&server);
    let value: Vec<u8> = (0..20_000_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(c.call(&[b"SET", b"big", &value]), "+OK\r\n");
    let reply = {
        c.send(&request(&[b"GET", b"big"]));
        c.reply_bytes()
    };
    assert_eq!(&reply[..11], b"$20000000\r\n");
    assert!(reply[11..reply.len() - 2] == value[..]);

    // 100 GETs of a 300 KB value in one pipeline: 30 MB of replies, more than
    // the server lets pile up; it pauses and resumes as we read.
    let medium = vec![b'm'; 300_000];
    assert_eq!(c.call(&[b"SET", b"medium", &medium]), "+OK\r\n");
    let mut writer = c.reader.get_ref().try_clone().unwrap();
    let pipeline = request(&[b"GET", b"medium"]).repeat(100);
    let sender = std::thread::spawn(move || send(&mut writer, &pipeline));
    let mut want = b"$300000\r\n".to_vec();
    want.extend_from_slice(&medium);
    want.extend_from_slice(b"\r\n");
    for i in 0..100 {
        assert!(c.reply_bytes() == want, "reply {i}");
    }
    sender.join().unwrap();
    assert_eq!(c.cmd("PING"), "+PONG\r\n");
}

#[test]
fn a_client_whose_unread_replies_pass_max_output_is_disconnected() {
    let server = start(&["--max-output", "1048576"]);
    let mut c = Client::new(&server);
    let value = vec![b'v'; 16 * 1024 * 1024];
    assert_eq!(c.call(&[b"SET", b"v", &value]), "+OK\r\n");
    // The 16 MB reply cannot all go into the socket buffers (a few MB on
    // loopback) while we do not read, so the server's queue passes 1 MiB:
    // the connection is cut, whatever we read afterwards. We only start
    // reading after a pause: a reader as fast as the server could otherwise
    // take the whole reply before the queue ever grows.
    c.send(&request(&[b"GET", b"v"]));
    std::thread::sleep(std::time::Duration::from_millis(500));
    let mut got = Vec::new();
    let _ = c.reader.read_to_end(&mut got); // EOF or reset
    assert!(got.len() < value.len(), "received all {} bytes", got.len());
    // Others are served as before, including small replies for this value.
    let mut d = Client::new(&server);
    assert_eq!(d.cmd("EXISTS v"), ":1\r\n");
}

#[test]
fn maxclients_holds_further_clients_until_one_leaves() {
    let server = start(&["--maxclients", "2"]);
    let mut a = Client::new(&server);
    let mut b = Client::new(&server);
    assert_eq!(a.cmd("PING"), "+PONG\r\n");
    assert_eq!(b.cmd("PING"), "+PONG\r\n");
    // The third connects (the kernel's backlog) but is not served...
    let mut third = server.connect();
    send(&mut third, b"PING\r\n");
    third
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0; 16];
    assert!(third.read(&mut buf).is_err(), "served over the limit");
    // ...until a slot frees.
    drop(a);
    third.set_read_timeout(Some(PATIENCE)).unwrap();
    assert_eq!(read_exact(&mut third, 7), b"+PONG\r\n");
}

#[test]
fn conventions_sigterm_bad_flag_and_address_in_use() {
    let mut server = start(&[]);
    let addr = server.addr.clone();
    let mut c = Client::new(&server);
    assert_eq!(c.cmd("PING"), "+PONG\r\n");
    // Another server on the same address: one line, exit 1.
    let taken = Command::new(util::example_path("resp_server"))
        .args(["--addr", &addr])
        .output()
        .unwrap();
    assert_eq!(taken.status.code(), Some(1));
    assert!(taken.stdout.is_empty());
    assert_eq!(String::from_utf8_lossy(&taken.stderr).lines().count(), 1);
    let bad = Command::new(util::example_path("resp_server"))
        .arg("--no-such-flag")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(Duration::from_secs(5)), Some(0));
}
