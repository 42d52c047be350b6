//! The command server's connection state machine (examples/cmd_server.rs,
//! compiled as written) driven through the harness: command lines with and
//! without newlines, acknowledgements, garbage, over-long lines, with the
//! line-wait timer firing or not between reads.
//!
//! The policy allows no program, so nothing is ever spawned: every command
//! is answered with a refusal through the full length / acknowledgement /
//! body exchange.
//!
//! Invariants: no panic; the output is a sequence of answers, each its
//! length in ASCII digits then, once acknowledged, exactly that many bytes of
//! a known refusal; never more answers than reads and timer turns; the end of
//! the stream closes the connection.
//!
//! Input: byte 0 says after which reads the timers run, byte 1 how the rest
//! is cut into reads.

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use sockloop_examples::cmd::{MAX_COMMAND, Policy, Session};

/// Splits `out` into answers: (length digits, body) with the body possibly
/// still missing for the last one. Panics on anything else.
fn answers(mut out: &[u8]) -> Vec<(usize, Option<&[u8]>)> {
    let mut all = Vec::new();
    while !out.is_empty() {
        let digits = out.iter().take_while(|b| b.is_ascii_digit()).count();
        assert!(digits > 0, "an answer must start with its length: {out:?}");
        let len: usize = std::str::from_utf8(&out[..digits])
            .unwrap()
            .parse()
            .unwrap();
        out = &out[digits..];
        if out.is_empty() {
            all.push((len, None));
            break;
        }
        assert!(out.len() >= len, "a body shorter than its length: {out:?}");
        all.push((len, Some(&out[..len])));
        out = &out[len..];
    }
    all
}

fuzz_target!(|input: &[u8]| {
    let Some((&[timers, split], data)) = input.split_first_chunk::<2>() else {
        return;
    };
    let policy = Policy {
        allow: Some(Vec::new()),
        shell: false,
        timeout: Duration::from_secs(10),
        max_output: 1 << 20,
        line_wait: Duration::ZERO,
    };
    let mut harness = sockloop::harness::Harness::with_state(policy, Session::new());
    let mut turns = 0;
    for (i, read) in sockloop_fuzz::chunks(data, split).into_iter().enumerate() {
        harness.feed(read);
        turns += 1;
        if timers & (1 << (i % 8)) != 0 {
            harness.run_due_timers();
            turns += 1;
        }
    }
    harness.run_due_timers();
    turns += 1;
    let out = harness.take_output();
    let all = answers(&out);
    assert!(
        all.len() <= turns,
        "{} answers for {turns} turns",
        all.len()
    );
    for (i, (len, body)) in all.iter().enumerate() {
        match body {
            None => assert_eq!(i, all.len() - 1, "only the last answer may wait"),
            Some(body) => {
                assert_eq!(body.len(), *len);
                let text = std::str::from_utf8(body).expect("a refusal is text");
                assert!(text.ends_with('\n'), "{text:?}");
                let known = text == "error: empty command\n"
                    || text == format!("error: command longer than {MAX_COMMAND} bytes\n")
                    || text
                        .strip_prefix("error: command not allowed: ")
                        .is_some_and(|name| {
                            let name = &name[..name.len() - 1];
                            !name.is_empty() && !name.contains(char::is_whitespace)
                        });
                assert!(known, "unexpected answer {text:?}");
            }
        }
    }
    harness.feed_eof();
    assert!(
        harness.is_closed(),
        "still open after the end of the stream"
    );
});
