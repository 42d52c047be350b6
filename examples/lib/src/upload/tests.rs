use super::*;
use sockloop::harness::Harness;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh, empty directory under the system's temporary directory,
/// removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("upload-unit-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    /// Names in the directory, sorted.
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn read(&self, name: &str) -> Vec<u8> {
        fs::read(self.0.join(name)).unwrap()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn harness(dir: &Path, max_size: u64) -> Harness<Settings> {
    let settings = Settings {
        dir: dir.to_path_buf(),
        max_size,
        next_temp: 0,
        pause: PAUSE,
    };
    Harness::with_state(settings, Upload::new())
}

/// A newline-form header line as the server reads it: its name and
/// size, or why it is refused.
fn newline_header(line: &[u8], max: u64) -> Result<(Vec<u8>, u64), Refusal> {
    let mut input = line.to_vec();
    input.push(b'\n');
    match read_header(&input, false) {
        Header::Found {
            form: Form::Newline,
            name,
            digits,
            consumed,
        } => {
            assert_eq!(consumed, input.len());
            check_header(name, digits, max).map(|size| (name.to_vec(), size))
        }
        Header::Refused(Form::Newline, refusal) => Err(refusal),
        other => panic!("{line:?} read as {other:?}"),
    }
}

#[test]
fn newline_form_headers() {
    let max = u64::MAX;
    fn ok(name: &str, size: u64) -> Result<(Vec<u8>, u64), Refusal> {
        Ok((name.as_bytes().to_vec(), size))
    }
    assert_eq!(newline_header(b"a.txt|5", max), ok("a.txt", 5));
    assert_eq!(newline_header(b"a|b|0", max), ok("a|b", 0));
    assert_eq!(newline_header(b"x|007", max), ok("x", 7));
    assert_eq!(
        newline_header(b"x|18446744073709551615", max),
        ok("x", u64::MAX)
    );
    for bad in [
        &b"x|abc"[..],
        b"x|",
        b"x|-1",
        b"x|+1",
        b"x| 1",
        b"no bar",
        b"",
        b"x|000000000000000000001",
    ] {
        assert_eq!(newline_header(bad, max), Err(Refusal::BadHeader), "{bad:?}");
    }
    for big in [&b"x|18446744073709551616"[..], b"x|99999999999999999999"] {
        assert_eq!(newline_header(big, max), Err(Refusal::TooLarge));
    }
    assert_eq!(newline_header(b"x|11", 10), Err(Refusal::TooLarge));
    assert_eq!(newline_header(b"x|10", 10), ok("x", 10));
    let long = [b'n'; 256];
    for bad in [
        &b""[..],
        b".",
        b"..",
        b"../etc/passwd",
        b"a/b",
        b"a\\b",
        b"a\0b",
        &long,
        b".upload-1-1.part",
    ] {
        let mut line = bad.to_vec();
        line.extend_from_slice(b"|1");
        assert_eq!(newline_header(&line, max), Err(Refusal::BadName), "{bad:?}");
    }
    let mut line = vec![b'n'; 255];
    line.extend_from_slice(b"|1");
    assert!(newline_header(&line, max).is_ok());
    assert_eq!(newline_header(b"caf\xe9|1", max), ok_bytes(b"caf\xe9", 1));
}

fn ok_bytes(name: &[u8], size: u64) -> Result<(Vec<u8>, u64), Refusal> {
    Ok((name.to_vec(), size))
}

/// `read_header` on `input` as the tutorial's form: the name, the
/// digits, and where the file starts.
fn tutorial(input: &[u8], silent: bool) -> Option<(&[u8], &[u8], usize)> {
    match read_header(input, silent) {
        Header::Found {
            form: Form::Tutorial,
            name,
            digits,
            consumed,
        } => Some((name, digits, consumed)),
        _ => None,
    }
}

#[test]
fn the_byte_after_the_digits_picks_the_form() {
    // A newline (or CRLF): the newline form, at once.
    assert!(matches!(
        read_header(b"a|5\r\nxy", false),
        Header::Found {
            form: Form::Newline,
            consumed: 5,
            ..
        }
    ));
    // Any other byte starts the file; with no newline in sight it is
    // held until the pause (a newline could still show a name with `|`).
    assert_eq!(read_header(b"a|5hello", false), Header::Pending);
    assert_eq!(tutorial(b"a|5hello", true), Some((&b"a"[..], &b"5"[..], 3)));
    assert_eq!(tutorial(b"x|1 ", true), Some((&b"x"[..], &b"1"[..], 3)));
    // A newline that ends no header decides at once.
    assert_eq!(
        tutorial(b"a|9hi\nthere", false),
        Some((&b"a"[..], &b"9"[..], 3))
    );
    // So do more than MAX_HEADER bytes, however they end.
    let mut big = b"a|5000".to_vec();
    big.extend_from_slice(&[b'x'; MAX_HEADER]);
    assert_eq!(tutorial(&big, false), Some((&b"a"[..], &b"5000"[..], 6)));
    // A CR not followed by a newline is the file's first byte.
    assert_eq!(read_header(b"a|5\r", false), Header::Pending);
    assert_eq!(
        tutorial(b"a|5\rabcd", true),
        Some((&b"a"[..], &b"5"[..], 3))
    );
    // No digit after the first `|`: only the newline form is possible.
    assert_eq!(read_header(b"a|b|5", false), Header::Pending);
    assert_eq!(
        read_header(b"a|b|5", true),
        Header::Refused(Form::Tutorial, Refusal::BadHeader)
    );
    assert_eq!(
        read_header(b"name only", true),
        Header::Refused(Form::Tutorial, Refusal::BadHeader)
    );
    // A name never holds a newline: the line before it is the header.
    assert_eq!(
        read_header(b"a\nb|5hello", false),
        Header::Refused(Form::Newline, Refusal::BadHeader)
    );
}

#[test]
fn ambiguous_headers_are_refused_never_guessed() {
    let refused = |input: &[u8], silent| match read_header(input, silent) {
        Header::Refused(Form::Tutorial, refusal) => refusal,
        other => panic!("{input:?}: {other:?}"),
    };
    // `a.txt|5` and the file `12345`: both readings fit until the pause.
    assert_eq!(read_header(b"a.txt|512345", false), Header::Pending);
    assert_eq!(
        refused(b"a.txt|512345", true),
        Refusal::AmbiguousSize {
            shorter: 5,
            longer: "512345".into()
        }
    );
    // Digits and then silence that no shorter reading explains.
    assert_eq!(refused(b"a|25", true), Refusal::NothingAfterSize);
    // `a|1` and the file `\r`, or the newline form cut after its CR.
    assert_eq!(refused(b"a|1\r", true), Refusal::LeadingNewline);
    // Size 0 and silence: an empty file.
    assert_eq!(tutorial(b"e|0", true), Some((&b"e"[..], &b"0"[..], 3)));
    // A name holding `|` and digits, in the newline form: the first `|`
    // could end it as well.
    assert_eq!(refused(b"x|1y|5\nhello", false), Refusal::AmbiguousName);
    assert_eq!(
        refused(b"v|2.txt|5\r\nhello", false),
        Refusal::AmbiguousName
    );
    // Digits past the header's limit, before any pause.
    let mut digits = b"a|".to_vec();
    digits.extend_from_slice(&[b'7'; MAX_HEADER]);
    assert_eq!(refused(&digits, false), Refusal::TooLargeOrDigits);
}

#[test]
fn silent_readings() {
    // `a|5` then `12345`: 6 bytes after the `|` fit a size of 5.
    assert_eq!(silent_reading(b"512345", 6), Some((1, 5)));
    assert_eq!(silent_reading(b"512345", 7), None);
    // `a|12` then 12 bytes starting `34`.
    assert_eq!(silent_reading(b"1234", 14), Some((2, 12)));
    // A newline-form `a|6\n` and 5 bytes: `a|6` then `\n` and 5 more.
    assert_eq!(silent_reading(b"6", 7), Some((1, 6)));
    assert_eq!(silent_reading(b"0", 1), Some((1, 0)));
    assert_eq!(silent_reading(b"", 1), None);
    let max = u64::MAX.to_string();
    assert_eq!(silent_reading(max.as_bytes(), u64::MAX), None);
    assert_eq!(silent_reading(b"99999999999999999999", 5), None);
}

#[test]
fn every_split_stores_the_same_files() {
    // A CRLF header, a body holding a newline, a name that is not
    // UTF-8, an empty file, and a file after it on the same connection.
    let input = b"a.txt|5\nhello\xffx|3\r\n\0\n\xffempty|0\nb|1\nZ";
    let check = |h: &mut Harness<Settings>, dir: &TempDir| {
        assert_eq!(h.take_output(), b"true\ntrue\ntrue\ntrue\n");
        assert!(!h.is_closed());
        assert_eq!(dir.names(), ["a.txt", "b", "empty", "\u{FFFD}x"]);
        assert_eq!(dir.read("a.txt"), b"hello");
        assert_eq!(
            fs::read(dir.0.join(OsStr::from_bytes(b"\xffx"))).unwrap(),
            b"\0\n\xff"
        );
        assert_eq!(dir.read("empty"), b"");
        assert_eq!(dir.read("b"), b"Z");
    };
    for split in 0..=input.len() {
        let dir = TempDir::new();
        let mut h = harness(&dir.0, 100);
        h.feed(&input[..split]);
        h.feed(&input[split..]);
        check(&mut h, &dir);
    }
    let dir = TempDir::new();
    let mut h = harness(&dir.0, 100);
    h.feed_bytewise(input);
    check(&mut h, &dir);
}

#[test]
fn a_partial_body_is_a_temporary_file_until_complete() {
    let dir = TempDir::new();
    let mut h = harness(&dir.0, 100);
    h.feed(b"f|4\nab");
    assert_eq!(h.take_output(), b"");
    let names = dir.names();
    assert_eq!(names.len(), 1);
    assert!(names[0].starts_with(".upload-") && names[0].ends_with(".part"));
    h.feed(b"cd");
    assert_eq!(h.take_output(), b"true\n");
    assert_eq!(dir.names(), ["f"]);
}

#[test]
fn an_existing_file_is_replaced() {
    let dir = TempDir::new();
    fs::write(dir.0.join("f"), b"old contents").unwrap();
    let mut h = harness(&dir.0, 100);
    h.feed(b"f|3\nnew");
    assert_eq!(h.take_output(), b"true\n");
    assert_eq!(dir.read("f"), b"new");
    assert_eq!(dir.names(), ["f"]);
}

#[test]
fn refusals_close_and_write_nothing_on_every_split() {
    let cases: [(&[u8], &[u8]); 6] = [
        (b"../etc/passwd|3\nabc", b"false bad name\n"),
        (b"a/b|1\nx", b"false bad name\n"),
        (b"x|abc\n", b"false bad header\n"),
        (b"x|99999999999999999999\nbody", b"false too large\n"),
        (b"x|101\nbody", b"false too large\n"),
        (b"ok|1\nyx\n", b"true\nfalse bad header\n"),
    ];
    for (input, reply) in cases {
        for split in 0..=input.len() {
            let dir = TempDir::new();
            let mut h = harness(&dir.0, 100);
            h.feed(&input[..split]);
            h.feed(&input[split..]);
            assert_eq!(
                h.take_output(),
                reply,
                "{:?}",
                String::from_utf8_lossy(input)
            );
            assert!(h.is_closed());
            let stored: Vec<String> = if reply.starts_with(b"true") {
                vec!["ok".into()]
            } else {
                vec![]
            };
            assert_eq!(dir.names(), stored);
        }
    }
}

#[test]
fn an_overlong_header_is_refused_before_its_newline() {
    let dir = TempDir::new();
    let mut h = harness(&dir.0, 100);
    h.feed(&[b'a'; MAX_HEADER]);
    assert_eq!(h.take_output(), b"");
    h.feed(b"a");
    assert_eq!(h.take_output(), b"false bad header\n");
    assert!(h.is_closed());
}

#[test]
fn a_short_body_leaves_nothing() {
    let dir = TempDir::new();
    let mut h = harness(&dir.0, 100);
    h.feed(b"f|10\nabc");
    h.feed_eof();
    assert_eq!(
        h.take_output(),
        b"false incomplete: 3 of 10 bytes received\n"
    );
    assert!(h.is_closed());
    assert!(dir.names().is_empty());
}

#[test]
fn a_lost_connection_leaves_nothing() {
    let dir = TempDir::new();
    let mut h = harness(&dir.0, 100);
    h.feed(b"f|10\nabc");
    assert_eq!(dir.names().len(), 1);
    h.with_ctx(|ctx| ctx.abort("test"));
    assert!(h.is_closed());
    assert!(dir.names().is_empty());
}

/// `input` as two reads, cut at `split` (or less), then a pause (on
/// the harness's clock, which then moves only by hand).
fn feed_then_pause(h: &mut Harness<Settings>, input: &[u8], split: usize) {
    let split = split.min(input.len());
    h.feed(&input[..split]);
    h.feed(&input[split..]);
    h.advance(PAUSE);
}

#[test]
fn the_tutorials_form_on_every_split() {
    // One after another on one connection, each answered before the
    // next is sent: text; a newline and `|5\n` in the file (no header
    // line); binary; an empty file.
    let uploads: [(&[u8], &str, &[u8]); 4] = [
        (b"a.txt|5hello", "a.txt", b"hello"),
        (b"b.txt|12two\nlines|5\n", "b.txt", b"two\nlines|5\n"),
        (b"c.bin|4\xff\0\n\x01", "c.bin", b"\xff\0\n\x01"),
        (b"empty|0", "empty", b""),
    ];
    for split in 0..=20 {
        let dir = TempDir::new();
        let mut h = harness(&dir.0, 100);
        for (input, name, contents) in uploads {
            feed_then_pause(&mut h, input, split);
            assert_eq!(h.take_output(), b"true", "{input:?} cut at {split}");
            assert_eq!(dir.read(name), contents);
        }
        assert!(!h.is_closed());
        assert_eq!(dir.names(), ["a.txt", "b.txt", "c.bin", "empty"]);
    }
}

#[test]
fn both_forms_mix_on_one_connection() {
    let dir = TempDir::new();
    let mut h = harness(&dir.0, 100);
    h.feed(b"one|3\nabc");
    assert_eq!(h.take_output(), b"true\n");
    feed_then_pause(&mut h, b"two|3xyz", 4);
    assert_eq!(h.take_output(), b"true");
    // Two newline-form files in one read, then the tutorial's form.
    h.feed(b"three|1\n3four|2\n44");
    assert_eq!(h.take_output(), b"true\ntrue\n");
    feed_then_pause(&mut h, b"five|5\xfffive", 0);
    assert_eq!(h.take_output(), b"true");
    assert_eq!(dir.names(), ["five", "four", "one", "three", "two"]);
    assert_eq!(dir.read("two"), b"xyz");
    assert_eq!(dir.read("five"), b"\xfffive");
}

/// Sends `input` as two reads cut at every place, each time on a new
/// connection (size limit 100), and checks that nothing is answered
/// before the pause and that at the pause the upload is refused, the
/// connection closed and nothing stored. Returns the answers.
fn refusals_at_the_pause(input: &[u8]) -> Vec<String> {
    (0..=input.len())
        .map(|split| {
            let dir = TempDir::new();
            let mut h = harness(&dir.0, 100);
            h.feed(&input[..split]);
            h.feed(&input[split..]);
            h.advance(PAUSE - Duration::from_millis(1));
            assert_eq!(h.take_output(), b"", "{input:?}: answered before the pause");
            assert!(!h.is_closed());
            h.advance(Duration::from_millis(1));
            assert!(h.is_closed(), "{input:?}: open after the pause");
            assert!(dir.names().is_empty(), "{input:?}: {:?}", dir.names());
            String::from_utf8_lossy(&h.take_output()).into_owned()
        })
        .collect()
}

#[test]
fn ambiguous_uploads_are_refused_at_the_pause_on_every_split() {
    // (name|size as the tutorial's client sends it, then the file; the answer)
    let cases: [(&[u8], &str); 5] = [
        (b"a.txt|512345", "false: ambiguous size: 5 or 512345 bytes"),
        (b"d.txt|512abc", "false: ambiguous size: 5 or 512 bytes"),
        (
            b"n.txt|6\nhello",
            "false: ambiguous header: the file may start with a newline",
        ),
        (
            b"c.txt|5\r\nabc",
            "false: ambiguous header: the file may start with a newline",
        ),
        (b"z.txt|30\n0", "false: ambiguous size: 3 or 30 bytes"),
    ];
    for (input, expected) in cases {
        for answer in refusals_at_the_pause(input) {
            assert!(answer.starts_with(expected), "{input:?}: {answer}");
            assert!(answer.ends_with(USE_NEWLINE_FORM), "{answer}");
        }
    }
}

#[test]
fn the_longer_reading_is_never_stored() {
    // Every file of up to 120 bytes that starts with a digit or a
    // newline, sent in the tutorial's form and followed by a pause, is
    // refused with nothing on disk; the others are stored as sent.
    for max_size in [100, 1 << 30] {
        for start in [
            &b"0"[..],
            b"1",
            b"12",
            b"9\n",
            b"\n",
            b"\r\n",
            b"\r",
            b"x",
            b"4|2\n",
        ] {
            for size in start.len()..=120 {
                let mut file = start.to_vec();
                file.resize(size, b'x');
                let input = [format!("f|{size}").as_bytes(), &file].concat();
                let dir = TempDir::new();
                let mut h = harness(&dir.0, max_size);
                h.feed(&input);
                h.advance(PAUSE);
                let out = h.take_output();
                let text = String::from_utf8_lossy(&out);
                // A lone CR could be the newline form cut after its CR.
                let ambiguous = start[0].is_ascii_digit()
                    || file.starts_with(b"\n")
                    || file.starts_with(b"\r\n")
                    || file == b"\r";
                if ambiguous || size as u64 > max_size {
                    assert!(text.starts_with("false"), "{input:?}: {text}");
                    assert!(dir.names().is_empty(), "{input:?}: {:?}", dir.names());
                } else {
                    assert_eq!(text, "true", "{input:?}");
                    assert_eq!(dir.read("f"), file);
                }
                // The reason names the newline form, except where the
                // digits before a newline read as a size over the limit:
                // that is the newline form's own `too large`, at once.
                if ambiguous && text != "false too large\n" {
                    assert!(text.contains("newline form"), "{input:?}: {text}");
                }
            }
        }
    }
}

#[test]
fn a_silence_that_fits_no_other_reading_waits() {
    let dir = TempDir::new();
    let mut h = harness(&dir.0, 100);
    h.feed(b"f|10\nabc");
    h.advance(PAUSE);
    assert_eq!(h.take_output(), b"");
    assert!(!h.is_closed());
    h.feed(b"defghij");
    assert_eq!(h.take_output(), b"true\n");
    assert_eq!(dir.read("f"), b"abcdefghij");
}

#[test]
fn the_tutorials_form_is_refused_in_its_own_words() {
    let whole_but_too_large = [&b"big|101"[..], &[b'x'; 101]].concat();
    for answer in refusals_at_the_pause(&whole_but_too_large) {
        assert_eq!(answer, "false: too large");
    }
    let cases: [(&[u8], &str); 5] = [
        // Named `a|1`, which reads as `a` and the size 1.
        (b"a|1|5hello", "false: more bytes than the size"),
        (b"../x|3abc", "false: bad name"),
        (
            b"big|700xy",
            "false: too large (if the file starts with a digit",
        ),
        (b"f|5", "false: nothing after the size"),
        (b"no size here", "false: bad header"),
    ];
    for (input, expected) in cases {
        for answer in refusals_at_the_pause(input) {
            assert!(answer.starts_with(expected), "{input:?}: {answer}");
        }
    }
}

#[test]
fn the_end_of_the_stream_ends_a_tutorial_form_upload() {
    let dir = TempDir::new();
    let mut h = harness(&dir.0, 100);
    h.feed(b"a|5hello");
    h.feed_eof();
    assert_eq!(h.take_output(), b"true");
    assert!(h.is_closed());
    assert_eq!(dir.read("a"), b"hello");
}
