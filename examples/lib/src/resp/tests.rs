use super::*;
use sockloop::harness::Harness;

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
