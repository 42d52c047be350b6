use super::*;
use sockloop::harness::Harness;

fn policy() -> Policy {
    Policy {
        allow: Some(vec!["date".into(), "echo".into()]),
        shell: false,
        timeout: Duration::from_secs(10),
        max_output: 8,
        line_wait: Duration::ZERO,
    }
}

/// What the whole exchange for `body` looks like on the wire.
fn exchanged(body: &str) -> String {
    format!("{}{body}", body.len())
}

/// Feeds `chunks` as successive reads, firing the line timer after each
/// one as a quiet peer would let it, and returns what was written.
fn run(policy: Policy, chunks: &[&[u8]]) -> (Vec<u8>, Harness<Policy>) {
    let mut h = Harness::with_state(policy, Session::new());
    let mut out = Vec::new();
    for chunk in chunks {
        h.feed(chunk);
        out.extend(h.take_output());
    }
    h.run_due_timers();
    out.extend(h.take_output());
    (out, h)
}

/// Every way to split `input` into two reads gives `expected`.
fn every_split(input: &[u8], expected: &[u8]) {
    for split in 0..=input.len() {
        let (a, b) = input.split_at(split);
        let (out, h) = run(policy(), &[a, b]);
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(expected),
            "split at {split}"
        );
        assert!(!h.is_closed());
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(run(policy(), &bytes).0, expected, "byte by byte");
}

#[test]
fn refused_command_goes_through_length_ack_body_on_every_split() {
    let body = b"error: command not allowed: rm\n";
    let mut expected = body.len().to_string().into_bytes();
    every_split(b"rm -rf /\n", &expected);
    // With the acknowledgement in a later read, the body follows it.
    let (mut out, mut h) = run(policy(), &[b"rm -rf /\n"]);
    h.feed(b"ready");
    out.extend(h.take_output());
    expected.extend_from_slice(body);
    assert_eq!(out, expected);
}

#[test]
fn a_command_without_newline_is_whole_after_a_quiet_period() {
    let expected = b"error: command not allowed: rm\n".len().to_string();
    for split in 0..=2 {
        let input = b"rm -rf /";
        let (a, b) = input.split_at(split);
        let (out, _) = run(policy(), &[a, b]);
        assert_eq!(out, expected.as_bytes(), "split at {split}");
    }
}

#[test]
fn empty_command_is_answered_with_an_error() {
    for input in [&b"\n"[..], b"   \r\n", b"  "] {
        let (mut out, mut h) = run(policy(), &[input]);
        h.feed(b"ok");
        out.extend(h.take_output());
        let expected = exchanged("error: empty command\n");
        assert_eq!(String::from_utf8_lossy(&out), expected, "{input:?}");
    }
}

#[test]
fn two_exchanges_on_one_connection() {
    let (mut out, mut h) = run(policy(), &[b"rm x\n"]);
    for chunk in [&b"ready"[..], b"/bin/date\n", b"r"] {
        h.feed(chunk);
        h.run_due_timers();
        out.extend(h.take_output());
    }
    let expected = exchanged("error: command not allowed: rm\n")
        + &exchanged("error: command not allowed: /bin/date\n");
    assert_eq!(String::from_utf8_lossy(&out), expected);
}

#[test]
fn bytes_after_the_acknowledgement_are_part_of_it() {
    let (mut out, mut h) = run(policy(), &[b"rm\n"]);
    h.feed(b"readyrm\n");
    out.extend(h.take_output());
    let body = "error: command not allowed: rm\n";
    assert_eq!(String::from_utf8_lossy(&out), exchanged(body));
    // The next command is read afresh.
    h.feed(b"rm\n");
    assert_eq!(h.take_output(), body.len().to_string().as_bytes());
}

#[test]
fn overlong_command_is_refused() {
    let long = vec![b'x'; MAX_COMMAND + 1];
    let (out, _) = run(policy(), &[&long]);
    let body = format!("error: command longer than {MAX_COMMAND} bytes\n");
    assert_eq!(out, body.len().to_string().as_bytes());
}

#[test]
fn program_that_cannot_start_is_answered() {
    let p = Policy {
        allow: None,
        ..policy()
    };
    let (mut out, mut h) = run(p, &[b"/nonexistent/program arg\n"]);
    h.feed(b"ok");
    out.extend(h.take_output());
    let body = "error: cannot run /nonexistent/program: No such file or directory (os error 2)\n";
    assert_eq!(String::from_utf8_lossy(&out), exchanged(body));
}

#[test]
fn plan_splits_words_and_checks_the_list() {
    let p = policy();
    assert_eq!(
        p.plan("  echo  a   b "),
        Ok(vec!["echo".into(), "a".into(), "b".into()])
    );
    assert_eq!(
        p.plan("rm -rf /"),
        Err("error: command not allowed: rm\n".into())
    );
    assert_eq!(
        p.plan("./echo"),
        Err("error: command not allowed: ./echo\n".into())
    );
    assert_eq!(p.plan(""), Err("error: empty command\n".into()));
    let any = Policy {
        allow: None,
        ..policy()
    };
    assert_eq!(
        any.plan("/bin/echo x"),
        Ok(vec!["/bin/echo".into(), "x".into()])
    );
    let shell = Policy {
        allow: None,
        shell: true,
        ..policy()
    };
    assert_eq!(
        shell.plan("echo a | tr a b"),
        Ok(vec!["sh".into(), "-c".into(), "echo a | tr a b".into()])
    );
}

/// Feeds `input` split at `split` into a pipe reader, then EOF.
fn collect(input: &[u8], split: usize, which: Which) -> Rc<RefCell<Job>> {
    let job = Rc::new(RefCell::new(Job::new("test".into(), None)));
    let reader = PipeReader {
        job: job.clone(),
        which,
        client: Token(usize::MAX - 7),
    };
    let mut h = Harness::with_state(policy(), reader);
    let (a, b) = input.split_at(split);
    h.feed(a);
    h.feed(b);
    h.feed_eof();
    assert!(h.is_closed());
    job
}

#[test]
fn pipe_output_is_kept_up_to_the_limit_on_every_split() {
    for split in 0..=5 {
        let job = collect(b"hello", split, Which::Stdout);
        let job = job.borrow();
        assert_eq!(job.stdout, b"hello");
        assert_eq!(job.overflow, None);
    }
    for split in 0..=12 {
        let job = collect(b"0123456789ab", split, Which::Stderr);
        let job = job.borrow();
        assert_eq!(job.stderr, b"01234567", "split at {split}");
        assert_eq!(job.overflow, Some(Which::Stderr));
        assert_eq!(
            job.answer(&policy()),
            b"01234567\nerror: output truncated at 8 bytes\n"
        );
    }
}

#[test]
fn answer_is_stdout_on_success_and_stderr_on_failure() {
    let p = policy();
    let mut job = Job::new("date".into(), None);
    job.stdout = b"out\n".to_vec();
    job.stderr = b"err\n".to_vec();
    job.status = Some(ExitStatus::from_raw(0));
    assert_eq!(job.answer(&p), b"out\n");
    job.status = Some(ExitStatus::from_raw(1 << 8));
    assert_eq!(job.answer(&p), b"err\n");
    job.stderr.clear();
    assert_eq!(job.answer(&p), b"error: date exited with status 1\n");
    job.status = Some(ExitStatus::from_raw(libc::SIGKILL));
    assert_eq!(job.answer(&p), b"error: date was killed by signal 9\n");
    job.timed_out = true;
    assert_eq!(job.answer(&p), b"error: command timed out after 10 s\n");
}
