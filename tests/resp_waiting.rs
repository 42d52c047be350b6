//! What one connection does to another: BLPOP and friends woken by a push
//! (first come, first served) or by their timeout, WATCH conflicts,
//! CLIENT KILL, and pub/sub fan-out with a subscriber that never reads,
//! cut off at the output limit while the others get every message.

mod resp_support;
mod util;

use std::io::Read;
use std::time::{Duration, Instant};

use resp_support::{Client, bulk, request, start};
use util::{Server, wait_until};

/// Waits until the server reports `n` blocked clients.
fn wait_blocked(server: &Server, n: usize) {
    let mut c = Client::new(server);
    let want = format!("blocked_clients:{n}\r\n");
    wait_until(&format!("{n} clients blocked"), || {
        c.cmd("INFO clients").contains(&want)
    });
}

#[test]
fn blocked_clients_are_served_first_come_first_served_by_a_push() {
    let server = start(&[]);
    let mut first = Client::new(&server);
    let mut second = Client::new(&server);
    // A pipeline behind the BLPOP waits for it.
    first.send(
        &[
            request(&[b"BLPOP", b"other", b"q", b"0"]),
            request(&[b"PING"]),
        ]
        .concat(),
    );
    wait_blocked(&server, 1);
    second.send(&request(&[b"BLPOP", b"q", b"0"]));
    wait_blocked(&server, 2);
    let mut pusher = Client::new(&server);
    assert_eq!(pusher.cmd("RPUSH q a b c"), ":3\r\n");
    assert_eq!(first.reply(), format!("*2\r\n{}{}", bulk("q"), bulk("a")));
    assert_eq!(first.reply(), "+PONG\r\n");
    assert_eq!(second.reply(), format!("*2\r\n{}{}", bulk("q"), bulk("b")));
    assert_eq!(pusher.cmd("LRANGE q 0 -1"), format!("*1\r\n{}", bulk("c")));
    assert!(pusher.cmd("INFO clients").contains("blocked_clients:0\r\n"));
    // BRPOP and BLMOVE, and a push inside a transaction, served after EXEC.
    first.send(&request(&[
        b"BLMOVE", b"src", b"dst", b"LEFT", b"RIGHT", b"0",
    ]));
    second.send(&request(&[b"BRPOP", b"q2", b"0"]));
    wait_blocked(&server, 2);
    assert_eq!(pusher.cmd("MULTI"), "+OK\r\n");
    assert_eq!(pusher.cmd("RPUSH src x y"), "+QUEUED\r\n");
    assert_eq!(pusher.cmd("RPUSH q2 z"), "+QUEUED\r\n");
    assert_eq!(pusher.cmd("EXEC"), "*2\r\n:2\r\n:1\r\n");
    assert_eq!(first.reply(), bulk("x"));
    assert_eq!(second.reply(), format!("*2\r\n{}{}", bulk("q2"), bulk("z")));
    assert_eq!(
        pusher.cmd("LRANGE dst 0 -1"),
        format!("*1\r\n{}", bulk("x"))
    );
    assert_eq!(
        pusher.cmd("LRANGE src 0 -1"),
        format!("*1\r\n{}", bulk("y"))
    );
}

#[test]
fn a_blocked_client_times_out_with_null_and_reads_on() {
    let server = start(&[]);
    let mut c = Client::new(&server);
    let started = Instant::now();
    c.send(
        &[
            request(&[b"BLPOP", b"q", b"0.3"]),
            request(&[b"ECHO", b"after"]),
        ]
        .concat(),
    );
    assert_eq!(c.reply(), "*-1\r\n");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    assert_eq!(c.reply(), bulk("after"));
    // In RESP3 the timeout is RESP3's null; a later push is not taken.
    c.cmd("HELLO 3");
    assert_eq!(c.cmd("BRPOP q 0.1"), "_\r\n");
    assert_eq!(c.cmd("RPUSH q v"), ":1\r\n");
    assert_eq!(c.cmd("LLEN q"), ":1\r\n");
}

#[test]
fn a_blocked_client_that_leaves_takes_nothing() {
    let server = start(&[]);
    let mut gone = Client::new(&server);
    gone.send(&request(&[b"BLPOP", b"q", b"0"]));
    wait_blocked(&server, 1);
    drop(gone);
    wait_blocked(&server, 0);
    let mut c = Client::new(&server);
    assert_eq!(c.cmd("RPUSH q v"), ":1\r\n");
    assert_eq!(c.cmd("LLEN q"), ":1\r\n");
}

#[test]
fn watch_fails_exec_when_another_client_changes_or_deletes_the_key() {
    let server = start(&[]);
    let mut a = Client::new(&server);
    let mut b = Client::new(&server);
    for change in [
        "SET k other",
        "DEL k",
        "EXPIRE k 0",
        "APPEND k x",
        "FLUSHALL",
    ] {
        a.cmd("SET k v");
        assert_eq!(a.cmd("WATCH k"), "+OK\r\n");
        assert!(b.cmd(change).starts_with([':', '+']), "{change}");
        assert_eq!(a.cmd("MULTI"), "+OK\r\n");
        assert_eq!(a.cmd("SET k mine"), "+QUEUED\r\n");
        assert_eq!(a.cmd("EXEC"), "*-1\r\n", "after {change}");
    }
    // Unchanged, or changed only elsewhere: EXEC runs.
    a.cmd("SET k v");
    a.cmd("WATCH k");
    b.cmd("SET unrelated x");
    a.cmd("MULTI");
    a.cmd("SET k mine");
    assert_eq!(a.cmd("EXEC"), "*1\r\n+OK\r\n");
    assert_eq!(b.cmd("GET k"), bulk("mine"));
    // A key that expires while watched counts as changed.
    a.cmd("SET t v PX 100");
    a.cmd("WATCH t");
    std::thread::sleep(Duration::from_millis(150));
    a.cmd("MULTI");
    a.cmd("SET t again");
    assert_eq!(a.cmd("EXEC"), "*-1\r\n");
}

#[test]
fn client_kill_closes_another_connection_and_setname_shows_in_the_list() {
    let server = start(&[]);
    let mut victim = Client::new(&server);
    let mut admin = Client::new(&server);
    assert_eq!(victim.cmd("CLIENT SETNAME victim"), "+OK\r\n");
    let id = victim.cmd("CLIENT ID");
    let id = id.trim_start_matches(':').trim();
    let list = admin.cmd("CLIENT LIST");
    assert!(
        list.contains(&format!("id={id} ")) && list.contains("name=victim"),
        "{list}"
    );
    assert_eq!(admin.cmd(&format!("CLIENT KILL ID {id}")), ":1\r\n");
    let mut rest = Vec::new();
    let _ = victim.reader.read_to_end(&mut rest);
    assert!(rest.is_empty());
    assert!(!admin.cmd("CLIENT LIST").contains("name=victim"));
    // Old form, by address; and oneself (the reply comes first). A round
    // trip first: connected is not yet accepted, and the server may read
    // the admin's command before it accepts this one.
    let mut other = Client::new(&server);
    assert_eq!(other.cmd("PING"), "+PONG\r\n");
    let addr = other.reader.get_ref().local_addr().unwrap().to_string();
    assert_eq!(admin.cmd(&format!("CLIENT KILL {addr}")), "+OK\r\n");
    assert_eq!(
        admin.cmd(&format!("CLIENT KILL {addr}")),
        "-ERR No such client\r\n"
    );
    assert_eq!(admin.cmd("CLIENT KILL SKIPME no TYPE normal"), ":1\r\n");
    let mut rest = Vec::new();
    let _ = admin.reader.read_to_end(&mut rest);
    assert!(rest.is_empty());
}

#[test]
fn pubsub_reaches_every_reading_subscriber_and_cuts_off_one_that_never_reads() {
    let server = start(&[]);
    const MESSAGES: usize = 700;
    let payload = vec![b'm'; 64 * 1024]; // 700 x 64 KiB: past the 32 MiB limit
    let subscribe = |c: &mut Client, push: &str| {
        assert_eq!(
            c.cmd("SUBSCRIBE news"),
            format!("{push}3\r\n{}{}:1\r\n", bulk("subscribe"), bulk("news"))
        );
    };
    let mut stalled = Client::new(&server);
    subscribe(&mut stalled, "*");
    let readers: Vec<_> = (0..3)
        .map(|i| {
            let mut c = Client::new(&server);
            if i == 2 {
                c.cmd("HELLO 3"); // one of them reads pushes
                subscribe(&mut c, ">");
            } else {
                subscribe(&mut c, "*");
            }
            let want = payload.len();
            std::thread::spawn(move || {
                for n in 0..MESSAGES {
                    let message = c.reply_bytes();
                    let header = if i == 2 { ">3" } else { "*3" };
                    assert!(
                        message.starts_with(header.as_bytes()),
                        "reader {i}, message {n}"
                    );
                    assert!(message.len() > want, "reader {i}, message {n}");
                }
                MESSAGES
            })
        })
        .collect();
    let mut publisher = Client::new(&server);
    let mut counts = Vec::new();
    for _ in 0..MESSAGES {
        let reply = publisher.call(&[b"PUBLISH", b"news", &payload]);
        counts.push(reply);
    }
    for reader in readers {
        assert_eq!(reader.join().expect("a reader"), MESSAGES);
    }
    // Four receivers at first, three once the stalled one was cut off.
    assert_eq!(counts.first().map(String::as_str), Some(":4\r\n"));
    assert_eq!(counts.last().map(String::as_str), Some(":3\r\n"));
    // What the stalled subscriber gets is less than was published: its
    // connection ended (EOF or reset) at the limit.
    stalled
        .reader
        .get_mut()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = 0;
    let mut buf = vec![0; 1 << 20];
    loop {
        match stalled.reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    assert!(
        got < MESSAGES * payload.len() / 2,
        "{got} bytes reached the stalled one"
    );
}
