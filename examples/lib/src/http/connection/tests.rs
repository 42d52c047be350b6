//! The connection protocol driven through the harness, on every split of
//! its input.

use super::*;
use crate::http::files::tests::Scratch;
use crate::http::response;
use sockloop::harness::Harness;

/// What the harness' peer takes before the test reads it: a reader slower
/// than the disk.
const CHUNK: usize = 64 * 1024;

fn server(scratch: &Scratch) -> Server {
    Server::new(scratch.root(), 10_000)
}

/// The output with `Date` lines removed: they change with the second.
fn undated(output: &[u8]) -> String {
    String::from_utf8_lossy(output)
        .split_inclusive("\r\n")
        .filter(|line| !line.starts_with("Date: "))
        .collect()
}

/// The status of every response in `output`: three digits after
/// `HTTP/1.1 ` (an error page may say "HTTP/1.1" in its text).
fn statuses(output: &str) -> Vec<&str> {
    output
        .match_indices("HTTP/1.1 ")
        .filter_map(|(at, _)| output.get(at + 9..at + 12))
        .filter(|code| code.bytes().all(|b| b.is_ascii_digit()))
        .collect()
}

const PIPELINE: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n\
    HEAD /home.css HTTP/1.1\r\nHost: a\r\n\r\n\
    GET /nothing?x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc\
    GET /sub HTTP/1.1\r\nHost: a\r\n\r\n\
    DELETE / HTTP/1.1\r\nHost: a\r\n\r\n\
    GET /a%20b.txt HTTP/1.0\r\n\r\n";

#[test]
fn pipeline_answered_in_order_on_every_split() {
    let scratch = Scratch::new("pipeline");
    let mut whole = Harness::with_state(server(&scratch), Http::new());
    whole.feed(PIPELINE);
    let expected = undated(&whole.take_output());
    assert_eq!(
        statuses(&expected),
        ["200", "200", "404", "301", "405", "200"]
    );
    assert!(expected.contains("Content-Type: text/css; charset=utf-8\r\n"));
    assert!(expected.contains("Location: /sub/\r\n"));
    assert!(expected.contains("Allow: GET, HEAD\r\n"));
    let last = expected.rsplit("HTTP/1.1 ").next().unwrap();
    assert!(last.contains("Connection: close\r\n") && last.ends_with("\r\n\r\nspaced"));
    assert!(whole.is_closed(), "the HTTP/1.0 request closes");

    for split in 0..=PIPELINE.len() {
        let mut h = Harness::with_state(server(&scratch), Http::new());
        h.feed(&PIPELINE[..split]);
        h.feed(&PIPELINE[split..]);
        assert_eq!(undated(&h.take_output()), expected, "split at {split}");
    }
    let mut h = Harness::with_state(server(&scratch), Http::new());
    h.feed_bytewise(PIPELINE);
    assert_eq!(undated(&h.take_output()), expected, "byte by byte");
    assert!(h.is_closed());
}

#[test]
fn refusals_close_the_connection_on_every_split() {
    let scratch = Scratch::new("refusals");
    let cases: [(&[u8], &str); 5] = [
        (b"GET / HTTP/2.0\r\n\r\n", "505"),
        (b"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", "400"),
        (b"GET / HTTP/1.1\r\n\r\n", "400"),
        (b"GET /../secret.txt HTTP/1.1\r\nHost: a\r\n\r\n", "404"),
        (
            b"GET /%252e%252e/secret.txt HTTP/1.1\r\nHost: a\r\n\r\n",
            "404",
        ),
    ];
    for (input, status) in cases {
        let mut h = Harness::with_state(server(&scratch), Http::new());
        h.feed_bytewise(input);
        let out = undated(&h.take_output());
        assert_eq!(statuses(&out), [status], "{out}");
        assert_eq!(h.is_closed(), status != "404", "{out}");
    }
}

/// Every way a request is refused, from the parser or from the target,
/// answers with the page naming that reason (and HEAD with its head only).
#[test]
fn every_refusal_page_names_its_reason() {
    let scratch = Scratch::new("reasons");
    let cases: [(&[u8], Refusal); 8] = [
        (b"GET / HTTP/1.1\r\n\r\n", Refusal::MissingHost),
        (
            b"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n",
            Refusal::BadPathEncoding,
        ),
        (b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", Refusal::BadTarget),
        (b"GET / HTTP/1.1\r\nNo Colon\r\n\r\n", Refusal::BadHeader),
        (b"GET /a b HTTP/1.1\r\n\r\n", Refusal::BadRequestLine),
        (b"GET / HTTP/1.1\rHost: a\r\n\r\n", Refusal::BadLineEnding),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n",
            Refusal::BadContentLength,
        ),
        (b"GET / HTTP/9.9\r\n\r\n", Refusal::UnsupportedVersion),
    ];
    for (input, refusal) in cases {
        let mut h = Harness::with_state(server(&scratch), Http::new());
        h.feed(input);
        let out = undated(&h.take_output());
        let status = refusal.status().to_string();
        assert_eq!(statuses(&out), [status.as_str()], "{out}");
        let page = response::page(refusal.status(), refusal.detail());
        assert!(
            out.ends_with(&format!("\r\n\r\n{page}")),
            "{refusal:?}: {out}"
        );
        assert!(h.is_closed(), "{refusal:?}");
    }
    let mut h = Harness::with_state(server(&scratch), Http::new());
    h.feed(b"HEAD /%zz HTTP/1.1\r\nHost: a\r\n\r\n");
    let out = undated(&h.take_output());
    assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\n"), "HEAD gets no body: {out}");
}

/// The value of header `name` in the first response of `output`.
fn header<'a>(output: &'a str, name: &str) -> &'a str {
    output
        .split("\r\n")
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
        .unwrap_or_else(|| panic!("no {name} in {output}"))
}

#[test]
fn conditional_requests_get_304() {
    let scratch = Scratch::new("ims");
    let mut h = Harness::with_state(server(&scratch), Http::new());
    h.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let out = undated(&h.take_output());
    let (modified, etag) = (header(&out, "Last-Modified"), header(&out, "ETag"));
    let ask = |h: &mut Harness<Server>, condition: &str| {
        h.feed(format!("GET / HTTP/1.1\r\nHost: a\r\n{condition}\r\n\r\n").as_bytes());
        undated(&h.take_output())
    };
    let out = ask(&mut h, &format!("If-Modified-Since: {modified}"));
    assert!(out.starts_with("HTTP/1.1 304 Not Modified\r\n"), "{out}");
    assert!(out.contains(&format!("ETag: {etag}\r\n")) && out.ends_with("\r\n\r\n"));
    let out = ask(&mut h, &format!("If-None-Match: {etag}"));
    assert!(out.starts_with("HTTP/1.1 304 Not Modified\r\n"), "{out}");
    let later = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(60));
    let out = ask(&mut h, &format!("If-Modified-Since: {later}"));
    assert!(
        out.starts_with("HTTP/1.1 200 OK\r\n"),
        "a future date is ignored: {out}"
    );
    let out = ask(&mut h, "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT");
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n") && out.ends_with("<p>home</p>"));
    let out = ask(&mut h, "Range: bytes=3-5");
    assert!(out.starts_with("HTTP/1.1 206 Partial Content\r\n"), "{out}");
    assert!(out.contains("Content-Range: bytes 3-5/11\r\n") && out.ends_with("\r\n\r\nhom"));
    let out = ask(&mut h, "Range: bytes=11-");
    assert!(
        out.starts_with("HTTP/1.1 416 Range Not Satisfiable\r\n"),
        "{out}"
    );
    assert!(out.contains("Content-Range: bytes */11\r\n"), "{out}");
    assert!(!h.is_closed());
}

#[test]
fn a_large_file_goes_out_as_the_peer_reads_and_holds_back_the_next_request() {
    let scratch = Scratch::new("stream");
    let size = 3 * CHUNK as u64 + 5;
    let file = std::fs::File::create(scratch.0.join("root/big.bin")).unwrap();
    file.set_len(size).unwrap();
    let mut h = Harness::with_state(server(&scratch), Http::new());
    h.set_peer_window(Some(CHUNK)); // a reader slower than the disk
    h.feed(b"GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut output = h.take_output();
    let head_end = output.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&output[..head_end]).into_owned();
    assert!(
        head.contains(&format!("Content-Length: {size}\r\n")),
        "{head}"
    );
    assert!(head.contains("Content-Type: application/octet-stream\r\n"));
    assert!(
        (output.len() - head_end) < size as usize,
        "the file goes out as the peer reads, not all at once"
    );
    for _ in 0..100 {
        h.run_due_timers();
        output.extend(h.take_output());
    }
    // The harness does not run the reactor's ready list, so the bytes
    // held back behind the file come back with the next read.
    h.feed(b"");
    output.extend(h.take_output());
    let body = &output[head_end..head_end + size as usize];
    assert!(body.iter().all(|&b| b == 0));
    let rest = undated(&output[head_end + size as usize..]);
    assert!(
        rest.starts_with("HTTP/1.1 200 OK\r\n") && rest.ends_with("<p>home</p>"),
        "{rest}"
    );
    assert!(!h.is_closed());
}

#[test]
fn a_pipelining_flood_is_answered_as_the_output_drains() {
    let scratch = Scratch::new("flood");
    let mut h = Harness::with_state(server(&scratch), Http::new());
    let one = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let flood = one.repeat(1000);
    h.feed(&flood);
    let first = undated(&h.take_output());
    let answered = statuses(&first).len();
    assert!(
        answered < 1000,
        "parsing stops with 64 KiB queued ({answered} answered)"
    );
    let mut all = first;
    for _ in 0..100 {
        h.run_due_timers();
        // The harness does not run the ready list: a read brings the
        // held-back requests back.
        h.feed(b"");
        all.push_str(&undated(&h.take_output()));
    }
    assert_eq!(statuses(&all), vec!["200"; 1000]);
    assert_eq!(all.matches("<p>home</p>").count(), 1000);
    assert!(!h.is_closed());
}

/// A shutdown lets a file already queued go out (within the reactor's
/// shutdown deadline), then closes.
#[test]
fn a_queued_file_finishes_before_a_shutdown_closes_the_connection() {
    let scratch = Scratch::new("refused");
    let size = 64 * CHUNK as u64;
    let file = std::fs::File::create(scratch.0.join("root/big.bin")).unwrap();
    file.set_len(size).unwrap();
    let mut h = Harness::with_state(server(&scratch), Http::new());
    h.set_peer_window(Some(CHUNK));
    h.feed(b"GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut received = h.take_output();
    h.with_ctx(|ctx| ctx.shutdown());
    for _ in 0..1000 {
        if h.is_closed() {
            break;
        }
        received.extend(h.take_output());
        h.run_due_timers();
    }
    received.extend(h.take_output());
    assert!(h.is_closed(), "closed once the file was out");
    let head_end = received.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(received.len() - head_end, size as usize);
}

#[test]
fn header_and_keepalive_timeouts() {
    let scratch = Scratch::new("timeouts");
    let quick = || {
        let mut s = server(&scratch);
        s.header_timeout = Duration::ZERO;
        s.keepalive_timeout = Duration::ZERO;
        s
    };
    // Silent: closed without a word.
    let mut h = Harness::with_state(quick(), Http::new());
    h.run_due_timers();
    assert!(h.is_closed());
    assert!(h.take_output().is_empty());
    // Half a request line: 408.
    let mut h = Harness::with_state(quick(), Http::new());
    h.feed(b"GET / HT");
    h.run_due_timers();
    let out = undated(&h.take_output());
    assert!(out.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{out}");
    assert!(out.contains("Connection: close\r\n") && h.is_closed());
    // Idle after a request: closed, and off the idle list.
    let mut h = Harness::with_state(server(&scratch), Http::new());
    h.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(h.shared().idle.len(), 1);
    h.shared().keepalive_timeout = Duration::ZERO;
    h.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    h.run_due_timers();
    assert!(h.is_closed());
    assert!(h.shared().idle.is_empty() && h.shared().open == 0);
}

/// Found by the fault simulation (RELIABILITY.md, finding 3): with the
/// reactor's watermarks below the protocol's own backlog limit, a
/// pipelining client that reads slowly can have a request head half read
/// when the reactor stops reading for flow control. The header timeout is
/// on the client's sending, so it stops while the reactor does not read.
#[test]
fn the_header_timeout_stops_while_reading_is_paused_for_output() {
    let scratch = Scratch::new("header-paused");
    let config = sockloop::Config {
        // Below one response: the first answer stops the reading.
        high_watermark: 64,
        low_watermark: 32,
        ..sockloop::Config::default()
    };
    let mut h = Harness::build(server(&scratch), config, Http::new()).unwrap();
    h.set_peer_window(Some(0)); // reads nothing for now
    h.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHo");
    let limit = h.shared().header_timeout;
    h.advance(limit + Duration::from_secs(1));
    assert!(
        h.with_ctx(|ctx| ctx.queued()) > 64,
        "output over the watermark"
    );
    assert!(
        !h.is_closed(),
        "a 408 for a head the reactor stopped reading"
    );
    h.set_peer_window(None);
    let mut out = undated(&h.take_output());
    h.run_due_timers();
    h.feed(b"st: a\r\n\r\n");
    out.push_str(&undated(&h.take_output()));
    assert_eq!(statuses(&out), ["200", "200"], "{out}");
    // Reading again, the head has the whole timeout from then on.
    h.feed(b"GET / HT");
    h.advance(limit - Duration::from_secs(1));
    assert!(!h.is_closed());
    h.advance(Duration::from_secs(2));
    let out = undated(&h.take_output());
    assert!(out.starts_with("HTTP/1.1 408 "), "{out}");
}

/// Found by the fault simulation: the keep-alive timer compared the real
/// clock with its deadline, so with the reactor's clock moved by hand it
/// fired again at once, over and over, until real time caught up (here an
/// hour). It keeps the reactor's time now.
#[test]
fn the_keepalive_timeout_follows_the_reactors_clock() {
    let scratch = Scratch::new("keepalive-clock");
    let mut h = Harness::with_state(server(&scratch), Http::new());
    h.shared().keepalive_timeout = Duration::from_secs(3600);
    h.advance(Duration::ZERO);
    h.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    h.advance(Duration::from_secs(3599));
    assert!(!h.is_closed());
    h.advance(Duration::from_secs(2));
    assert!(h.is_closed());
}

#[test]
fn half_close_after_requests_answers_then_closes() {
    let scratch = Scratch::new("eof");
    let mut h = Harness::with_state(server(&scratch), Http::new());
    h.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n");
    h.feed_eof();
    assert_eq!(statuses(&undated(&h.take_output())), ["200", "404"]);
    assert!(h.is_closed());
}

#[test]
fn a_new_connection_near_the_limit_evicts_the_oldest_idle_one() {
    let scratch = Scratch::new("evict");
    let mut state = Server::new(scratch.root(), 10);
    state.open = 9; // nine others, two of them idle
    for token in [1000, 1001] {
        let member = state.idle.join();
        state.idle.park(member, sockloop::Token(token));
    }
    let mut h = Harness::with_state(state, Http::new());
    assert_eq!(h.shared().idle.len(), 1, "only the oldest made room");
    assert_eq!(h.shared().idle.pop_oldest(), Some(sockloop::Token(1001)));
}

#[test]
fn a_keep_alive_request_for_a_cached_file_allocates_nothing() {
    let scratch = Scratch::new("no-alloc");
    let mut h = Harness::with_state(server(&scratch), Http::new());
    let get = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let head = b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n";
    // Warm up: the file is read into the cache, the buffers grow.
    for _ in 0..10 {
        h.feed(get);
        h.feed(head);
    }
    h.take_output();
    let n = 1000;
    let allocations = crate::alloc_count::allocations(|| {
        for _ in 0..n {
            h.feed(get);
            h.feed(head);
        }
    });
    let out = undated(&h.take_output());
    assert_eq!(statuses(&out).len(), 2 * n);
    assert_eq!(out.matches("<p>home</p>").count(), n);
    // None, when written; the margin is for the harness and the reactor,
    // which may grow a buffer now and then. One allocation per request
    // (a String for the log, say) would be 2000.
    assert!(
        allocations < 20,
        "{allocations} allocations for {} requests",
        2 * n
    );
}
