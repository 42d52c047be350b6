//! resp_server against a real redis-server: every command of
//! `tests/fixtures/resp_commands.txt`, in RESP2 and RESP3, must get the
//! same reply bytes from both (a redis-server of our own is started on a
//! free loopback port; without redis-server installed the test says so
//! and skips). The replies that cannot be equal (server name, version,
//! ids, times) are checked for their shape instead.

mod resp_support;
mod util;

use resp_support::{Client, RedisServer, start};

/// One line of the fixture.
struct Line {
    text: String,
    args: Vec<Vec<u8>>,
    /// `~`: compare the elements in any order; `!`: do not compare.
    mode: Option<char>,
}

/// Splits a fixture line into arguments: spaces separate, `"..."` quotes
/// with `\n`, `\r`, `\t`, `\"`, `\\` and `\xHH` escapes.
fn split(line: &str) -> Vec<Vec<u8>> {
    let bytes = line.as_bytes();
    let mut args = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' => i += 1,
            b'"' => {
                let mut arg = Vec::new();
                i += 1;
                while bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        let (byte, len) = match bytes[i + 1] {
                            b'n' => (b'\n', 2),
                            b'r' => (b'\r', 2),
                            b't' => (b'\t', 2),
                            b'x' => {
                                let hex = std::str::from_utf8(&bytes[i + 2..i + 4]).unwrap();
                                (u8::from_str_radix(hex, 16).unwrap(), 4)
                            }
                            other => (other, 2),
                        };
                        arg.push(byte);
                        i += len;
                    } else {
                        arg.push(bytes[i]);
                        i += 1;
                    }
                }
                i += 1;
                args.push(arg);
            }
            _ => {
                let end = bytes[i..]
                    .iter()
                    .position(|&b| b == b' ')
                    .map_or(bytes.len(), |p| i + p);
                args.push(bytes[i..end].to_vec());
                i = end;
            }
        }
    }
    args
}

/// The fixture's sessions: (name, lines).
fn sessions() -> Vec<(String, Vec<Line>)> {
    let text = include_str!("fixtures/resp_commands.txt");
    let mut sessions: Vec<(String, Vec<Line>)> = Vec::new();
    for raw in text.lines() {
        if raw.trim().is_empty() || raw.starts_with('#') {
            continue;
        }
        if let Some(name) = raw.strip_prefix("== ") {
            sessions.push((name.to_string(), Vec::new()));
            continue;
        }
        let (mode, body) = match raw.chars().next() {
            Some(c @ ('~' | '!')) => (Some(c), &raw[1..]),
            _ => (None, raw),
        };
        let line = Line {
            text: raw.to_string(),
            args: split(body),
            mode,
        };
        sessions.last_mut().expect("a session first").1.push(line);
    }
    sessions
}

/// The length of the reply at the front of `b`.
fn reply_len(b: &[u8]) -> usize {
    let eol = b.windows(2).position(|w| w == b"\r\n").expect("a line") + 2;
    let n: i64 = std::str::from_utf8(&b[1..eol - 2])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(-1);
    match b[0] {
        b'$' | b'=' | b'!' if n >= 0 => eol + n as usize + 2,
        b'*' | b'~' | b'>' | b'%' => {
            let items = if b[0] == b'%' { 2 * n } else { n };
            let mut at = eol;
            for _ in 0..items.max(0) {
                at += reply_len(&b[at..]);
            }
            at
        }
        _ => eol,
    }
}

/// An aggregate reply with its elements (a map's pairs) sorted, at every
/// level (SSCAN's members sit in an array inside the reply); anything else
/// as it is.
fn sorted(reply: &[u8]) -> Vec<u8> {
    if !matches!(reply[0], b'*' | b'~' | b'%') {
        return reply.to_vec();
    }
    let eol = reply.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    let mut items = Vec::new();
    let mut at = eol;
    while at < reply.len() {
        let mut len = reply_len(&reply[at..]);
        if reply[0] == b'%' {
            len += reply_len(&reply[at + len..]);
        }
        items.push(if reply[0] == b'%' {
            reply[at..at + len].to_vec()
        } else {
            sorted(&reply[at..at + len])
        });
        at += len;
    }
    items.sort();
    let mut out = reply[..eol].to_vec();
    items.iter().for_each(|i| out.extend_from_slice(i));
    out
}

/// Reads the reply to a command, and whatever follows it at once: SUBSCRIBE
/// and its kin answer once per channel, PUBLISH to oneself sends the
/// message before the count.
fn exchange(client: &mut Client, args: &[Vec<u8>]) -> Vec<u8> {
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    let mut reply = client.call_bytes(&refs);
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let replies = match name.as_str() {
        "subscribe" | "psubscribe" => args.len() - 1,
        "unsubscribe" | "punsubscribe" if args.len() > 1 => args.len() - 1,
        "publish" if reply.starts_with(b">") => 2,
        _ => 1,
    };
    for _ in 1..replies {
        reply.extend(client.reply_bytes());
    }
    // UNSUBSCRIBE from all: one reply per subscription.
    if name.ends_with("unsubscribe") && args.len() == 1 {
        while more_waiting(client) {
            reply.extend(client.reply_bytes());
        }
    }
    reply
}

/// Whether more reply bytes arrive within a moment.
fn more_waiting(client: &mut Client) -> bool {
    if !client.reader.buffer().is_empty() {
        return true;
    }
    let stream = client.reader.get_mut();
    stream
        .set_read_timeout(Some(std::time::Duration::from_millis(30)))
        .unwrap();
    let waiting = matches!(stream.peek(&mut [0]), Ok(n) if n > 0);
    stream.set_read_timeout(Some(util::PATIENCE)).unwrap();
    waiting
}

#[test]
fn every_command_replies_byte_for_byte_as_redis_server_does() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let ours = start(&[]);
    let mut differences = Vec::new();
    let mut compared = 0;
    for (name, lines) in sessions() {
        let mut theirs_c = Client::to_port(redis.port);
        let mut ours_c = Client::new(&ours);
        for c in [&mut theirs_c, &mut ours_c] {
            assert_eq!(c.cmd("FLUSHALL"), "+OK\r\n");
        }
        for line in &lines {
            let theirs = exchange(&mut theirs_c, &line.args);
            let mine = exchange(&mut ours_c, &line.args);
            if line.mode == Some('!') {
                continue;
            }
            compared += 1;
            let (theirs, mine) = if line.mode == Some('~') {
                (sorted(&theirs), sorted(&mine))
            } else {
                (theirs, mine)
            };
            if theirs != mine {
                differences.push(format!(
                    "[{name}] {}\n  redis-server: {:?}\n  resp_server:  {:?}",
                    line.text,
                    String::from_utf8_lossy(&theirs),
                    String::from_utf8_lossy(&mine)
                ));
            }
        }
    }
    assert!(compared > 500, "only {compared} replies compared");
    assert!(
        differences.is_empty(),
        "{} of {compared} replies differ:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

#[test]
fn replies_that_name_the_server_have_redis_shape() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let ours = start(&[]);
    let mut theirs = Client::to_port(redis.port);
    let mut mine = Client::new(&ours);
    // HELLO: the same map, field for field (the values name the server).
    const FIELDS: [&str; 7] = [
        "server", "version", "proto", "id", "mode", "role", "modules",
    ];
    let fields = |reply: &str| -> Vec<String> {
        let lines: Vec<&str> = reply.split("\r\n").collect();
        lines
            .iter()
            .filter(|l| FIELDS.contains(l))
            .map(|l| l.to_string())
            .collect()
    };
    for version in ["2", "3"] {
        let a = theirs.cmd(&format!("HELLO {version}"));
        let b = mine.cmd(&format!("HELLO {version}"));
        assert_eq!(a.lines().next(), b.lines().next(), "HELLO {version}");
        assert_eq!(fields(&a), fields(&b), "HELLO {version}");
        assert_eq!(fields(&b).len(), 7);
        let proto = format!("proto\r\n:{version}\r\n");
        assert!(a.contains(&proto) && b.contains(&proto), "{b}");
    }
    for c in [&mut theirs, &mut mine] {
        assert_eq!(c.cmd("HELLO 2").lines().next(), Some("*14"));
    }
    // TIME: two bulk strings, seconds then microseconds, close to theirs.
    let time = |c: &mut Client| -> Vec<i64> {
        c.cmd("TIME")
            .split("\r\n")
            .filter(|l| !l.starts_with(['*', '$']) && !l.is_empty())
            .map(|l| l.parse().unwrap())
            .collect()
    };
    let (a, b) = (time(&mut theirs), time(&mut mine));
    assert_eq!(b.len(), 2);
    assert!((a[0] - b[0]).abs() <= 2 && (0..1_000_000).contains(&b[1]));
    // CLIENT ID is an integer; CLIENT INFO a line of the same first fields.
    assert!(mine.cmd("CLIENT ID").starts_with(':'));
    let info_a = theirs.cmd("CLIENT INFO");
    let info_b = mine.cmd("CLIENT INFO");
    let fields = |s: &str| -> Vec<String> {
        let body = s.split_once("\r\n").map_or(s, |(_, body)| body);
        body.split([' ', '\n'])
            .filter_map(|kv| kv.split_once('=').map(|(k, _)| k.to_string()))
            .collect()
    };
    for field in [
        "id", "addr", "laddr", "name", "age", "idle", "flags", "db", "sub", "psub",
    ] {
        assert!(fields(&info_a).contains(&field.to_string()));
        assert!(
            fields(&info_b).contains(&field.to_string()),
            "{field} in {info_b}"
        );
    }
}
