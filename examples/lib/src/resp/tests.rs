use super::*;
use sockloop::harness::Harness;
use std::time::Duration;

fn harness() -> Harness<State> {
    Harness::with_state(State::new(), Connection::default())
}

/// A session in both request forms, with the replies Redis 7.0 gives
/// (checked against redis-server 7.0.15).
const SESSION: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv1\r\n\
    GET k\r\n\
    *2\r\n$4\r\nincr\r\n$1\r\nn\r\n\
    incrby n 41\n\
    *4\r\n$5\r\nLPUSH\r\n$1\r\nl\r\n$1\r\na\r\n$1\r\nb\r\n\
    lrange l 0 -1\r\n\
    *0\r\n\r\n\
    get l\r\n\
    nosuch 'x y' z\r\n\
    *1\r\n$3\r\nGET\r\n\
    *2\r\n$4\r\nECHO\r\n$0\r\n\r\n\
    mget k n missing\r\n\
    PING\r\n";

const SESSION_REPLIES: &[u8] = b"+OK\r\n\
    $2\r\nv1\r\n\
    :1\r\n\
    :42\r\n\
    :2\r\n\
    *2\r\n$1\r\nb\r\n$1\r\na\r\n\
    -WRONGTYPE Operation against a key holding the wrong kind of value\r\n\
    -ERR unknown command 'nosuch', with args beginning with: 'x y' 'z' \r\n\
    -ERR wrong number of arguments for 'get' command\r\n\
    $0\r\n\r\n\
    *3\r\n$2\r\nv1\r\n$2\r\n42\r\n$-1\r\n\
    +PONG\r\n";

#[test]
fn a_session_gets_the_same_replies_at_every_split() {
    for cut in 0..=SESSION.len() {
        let mut h = harness();
        h.feed(&SESSION[..cut]);
        h.feed(&SESSION[cut..]);
        assert_eq!(
            String::from_utf8_lossy(&h.take_output()),
            String::from_utf8_lossy(SESSION_REPLIES),
            "split at {cut}"
        );
        assert!(!h.is_closed());
    }
    let mut h = harness();
    h.feed_bytewise(SESSION);
    assert_eq!(h.take_output(), SESSION_REPLIES);
}

#[test]
fn quit_replies_then_closes_and_ignores_the_rest() {
    let input = b"PING\r\n*1\r\n$4\r\nQUIT\r\nPING\r\n";
    for cut in 0..=input.len() {
        let mut h = harness();
        h.feed(&input[..cut]);
        h.feed(&input[cut..]);
        assert_eq!(h.take_output(), b"+PONG\r\n+OK\r\n", "split at {cut}");
        assert!(h.is_closed());
    }
}

#[test]
fn a_protocol_error_is_answered_then_the_connection_closed() {
    let input = b"PING\r\n*1\r\n$-1\r\nPING\r\n";
    for cut in 0..=input.len() {
        let mut h = harness();
        h.feed(&input[..cut]);
        h.feed(&input[cut..]);
        assert_eq!(
            h.take_output(),
            b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n",
            "split at {cut}"
        );
        assert!(h.is_closed());
    }
}

#[test]
fn steady_state_get_set_incr_and_ping_allocate_nothing_per_request() {
    let mut h = harness();
    let requests = [
        &b"*2\r\n$3\r\nGET\r\n$5\r\nkey:1\r\n"[..],
        b"*3\r\n$3\r\nSET\r\n$5\r\nkey:1\r\n$3\r\nxxx\r\n",
        b"*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n",
        b"*1\r\n$4\r\nPING\r\n",
        b"PING\r\n",
    ]
    .concat()
    .repeat(100);
    h.feed(&requests); // creates the keys, sizes the buffers
    let allocations = crate::alloc_count::allocations(|| {
        for _ in 0..100 {
            h.feed(&requests);
        }
    });
    // 50,000 requests; what allocates is the harness collecting the
    // replies in one growing buffer, a few dozen times.
    assert!(allocations < 50, "{allocations} allocations");
    let output = h.take_output();
    assert!(output.ends_with(b":10100\r\n+PONG\r\n+PONG\r\n"));
}

#[test]
fn a_big_value_arrives_in_pieces_and_is_stored_whole() {
    let value = vec![b'z'; 100_000];
    let mut input = b"*3\r\n$3\r\nset\r\n$3\r\nbig\r\n$100000\r\n".to_vec();
    input.extend_from_slice(&value);
    input.extend_from_slice(b"\r\nSTRLEN big\r\n*2\r\n$3\r\nget\r\n$3\r\nbig\r\n");
    let mut want = b"+OK\r\n:100000\r\n$100000\r\n".to_vec();
    want.extend_from_slice(&value);
    want.extend_from_slice(b"\r\n");
    for step in [1000, 4096, 65536] {
        let mut h = harness();
        for chunk in input.chunks(step) {
            h.feed(chunk);
        }
        assert_eq!(h.take_output(), want, "chunks of {step}");
    }
}

/// Found by the resp_request fuzz target: a NUL in an inline command made
/// the argument splitter start an empty argument at the NUL forever,
/// growing without bound until the process was killed. A NUL ends the
/// line's arguments, as it ends Redis's C string.
#[test]
fn a_nul_in_an_inline_command_ends_its_arguments() {
    let mut h = harness();
    h.feed(b"\0PING\r\nECHO a\0b c\r\nPING x\r\n");
    assert_eq!(h.take_output(), b"$1\r\na\r\n$1\r\nx\r\n");
    assert!(!h.is_closed());
}

/// Feeds inline commands, one per line, and returns what came back.
fn session(h: &mut Harness<State>, lines: &str) -> String {
    let mut input = String::new();
    for line in lines.lines() {
        input.push_str(line.trim());
        input.push_str("\r\n");
    }
    h.feed(input.as_bytes());
    String::from_utf8_lossy(&h.take_output()).into_owned()
}

#[test]
fn a_transaction_queues_then_runs_whole_or_not_at_all() {
    let mut h = harness();
    assert_eq!(
        session(&mut h, "MULTI\nSET a 1\nINCR a\nLPUSH a x\nGET a\nEXEC"),
        "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n\
         *4\r\n+OK\r\n:2\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n$1\r\n2\r\n"
    );
    // A command refused while queueing discards the whole transaction.
    assert_eq!(
        session(&mut h, "MULTI\nSET a 5\nGET\nEXEC\nGET a"),
        "+OK\r\n+QUEUED\r\n-ERR wrong number of arguments for 'get' command\r\n\
         -EXECABORT Transaction discarded because of previous errors.\r\n$1\r\n2\r\n"
    );
    // A watched key changed by the transaction's own client before MULTI.
    assert_eq!(
        session(&mut h, "WATCH a\nSET a 7\nMULTI\nSET a 8\nEXEC\nGET a"),
        "+OK\r\n+OK\r\n+OK\r\n+QUEUED\r\n*-1\r\n$1\r\n7\r\n"
    );
}

#[test]
fn databases_are_apart_and_resp3_changes_the_reply_types() {
    let mut h = harness();
    assert_eq!(
        session(
            &mut h,
            "SET k zero\nSELECT 1\nGET k\nSET k one\nSELECT 0\nGET k"
        ),
        "+OK\r\n+OK\r\n$-1\r\n+OK\r\n+OK\r\n$4\r\nzero\r\n"
    );
    let hello = session(&mut h, "HELLO 3");
    assert!(hello.starts_with("%7\r\n$6\r\nserver\r\n"), "{hello}");
    assert_eq!(
        session(
            &mut h,
            "HSET h f v\nHGETALL h\nGET nope\nZADD z 1.5 m\nZSCORE z m\nSADD s x\nSMEMBERS s"
        ),
        ":1\r\n%1\r\n$1\r\nf\r\n$1\r\nv\r\n_\r\n:1\r\n,1.5\r\n:1\r\n~1\r\n$1\r\nx\r\n"
    );
    // Subscribed in RESP3, other commands still work, and a message to
    // oneself comes before PUBLISH's count.
    assert_eq!(
        session(&mut h, "SUBSCRIBE c\nGET k\nPUBLISH c hi"),
        ">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n$4\r\nzero\r\n\
         >3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n:1\r\n"
    );
    assert_eq!(session(&mut h, "RESET\nGET nope"), "+RESET\r\n$-1\r\n");
}

#[test]
fn a_waiting_blpop_times_out_on_the_reactor_timer_then_the_pipeline_goes_on() {
    let mut h = harness();
    h.feed(b"BLPOP q 2\r\nPING\r\n");
    assert_eq!(h.take_output(), b"");
    assert_eq!(h.shared().blocked, 1);
    // More input waits too.
    h.feed(b"ECHO later\r\n");
    h.advance(Duration::from_millis(1900));
    assert_eq!(h.take_output(), b"");
    h.advance(Duration::from_millis(200));
    assert_eq!(h.take_output(), b"*-1\r\n+PONG\r\n$5\r\nlater\r\n");
    assert_eq!(h.shared().blocked, 0);
    // Inside a transaction nothing waits.
    assert_eq!(
        session(&mut h, "MULTI\nBLPOP q 0\nEXEC"),
        "+OK\r\n+QUEUED\r\n*1\r\n*-1\r\n"
    );
}

#[test]
fn a_subscriber_in_resp2_may_only_subscribe_ping_quit_or_reset() {
    let mut h = harness();
    assert_eq!(
        session(&mut h, "SUBSCRIBE a\nGET k\nPING"),
        "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n\
         -ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n\
         *2\r\n$4\r\npong\r\n$0\r\n\r\n"
    );
    assert_eq!(
        session(&mut h, "UNSUBSCRIBE\nGET k"),
        "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n$-1\r\n"
    );
}
