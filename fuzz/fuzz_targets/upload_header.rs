//! The upload server's protocol (examples/upload_server.rs, compiled as
//! written) driven through the harness with arbitrary bytes: headers of both
//! forms, bodies, garbage, cut into reads every possible way, with and
//! without pauses.
//!
//! Input: byte 0 picks the size limit (low 7 bits) and the mode (high bit),
//! byte 1 how the rest is cut into reads.
//!
//! Raw mode, the rest as one connection's bytes. Invariants: no panic; the
//! answers are `true` or `true\n`, then at most one refusal, last (`false
//! REASON\n` or `false: REASON`); the end of the stream always closes the
//! connection; no temporary file survives it; every file on disk has a
//! plain name inside the upload directory and nothing appears outside it;
//! and without pauses, the same bytes give the same answers and the same
//! files however they are split.
//!
//! Tutorial mode, the rest as a list of files (a name length, the name, a
//! size byte, the file), each sent as the tutorial's client sends it
//! (`NAME|SIZE` and the bytes, in reads cut from byte 1), then a pause. The
//! invariant that matters most: every answer is `true` with exactly that
//! file stored under exactly that name, or a refusal with nothing new
//! stored; never a wrong file, never no answer.

#![no_main]

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use sockloop::harness::Harness;
use sockloop_examples::upload::{Settings, Upload, is_plain_file_name};

/// A scratch area in memory (tmpfs: `commit` calls fsync) with one upload
/// directory per run, so the runs can be compared.
fn scratch() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        base.join(format!("sockloop-fuzz-upload-{}", std::process::id()))
    })
}

/// Files left in the upload directory: name and contents, sorted.
type Files = Vec<(Vec<u8>, Vec<u8>)>;

/// A fresh upload directory `which` and a connection to a server storing
/// into it. A pause is any time at all: its timers are due at once.
fn connect(which: &str, max_size: u64) -> (Harness<Settings>, PathBuf) {
    let area = scratch().join(which);
    let dir = area.join("uploads");
    let _ = fs::remove_dir_all(&area);
    fs::create_dir_all(&dir).expect("creating the scratch directory");
    let settings = Settings {
        dir: dir.clone(),
        max_size,
        next_temp: 0,
        pause: Duration::ZERO,
    };
    (Harness::with_state(settings, Upload::new()), dir)
}

/// The files in `dir`, after checking that nothing escaped it and that
/// every name is plain.
fn files_in(dir: &std::path::Path) -> Files {
    let outside: Vec<_> = fs::read_dir(dir.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        outside,
        [OsStr::new("uploads")],
        "a file escaped the directory"
    );
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().as_bytes().to_vec();
        assert!(is_plain_file_name(&name), "stored as {name:?}");
        assert!(
            entry.file_type().unwrap().is_file(),
            "{name:?} is not a file"
        );
        files.push((name, fs::read(entry.path()).unwrap()));
    }
    files.sort();
    files
}

/// One connection's worth of `reads` (with a pause after each if `pauses`),
/// then the end of the stream. Returns the answers and the files left.
fn run(which: &str, reads: &[&[u8]], max_size: u64, pauses: bool) -> (Vec<u8>, Files) {
    let (mut harness, dir) = connect(which, max_size);
    for read in reads {
        harness.feed(read);
        if pauses {
            harness.run_due_timers();
        }
    }
    harness.feed_eof();
    assert!(
        harness.is_closed(),
        "still open after the end of the stream"
    );
    (harness.take_output(), files_in(&dir))
}

/// Checks the grammar of a connection's answers; returns how many were `true`.
fn count_stored(answers: &[u8]) -> usize {
    let mut rest = answers;
    let mut stored = 0;
    while let Some(after) = rest.strip_prefix(b"true") {
        rest = after.strip_prefix(b"\n").unwrap_or(after);
        stored += 1;
    }
    let text = String::from_utf8_lossy(rest);
    let refusal = rest.is_empty()
        || rest.starts_with(b"false: ") && !rest.ends_with(b"\n")
        || rest.starts_with(b"false ") && rest.ends_with(b"\n") && text.lines().count() == 1;
    assert!(refusal, "after {stored} answers: {text:?}");
    stored
}

/// Raw mode: the same bytes whole, cut into reads, and cut with pauses.
fn raw(data: &[u8], split: u8, max_size: u64) {
    let (whole, files) = run("whole", &[data], max_size, false);
    let reads = sockloop_fuzz::chunks(data, split.max(1));
    let (split_answer, split_files) = run("split", &reads, max_size, false);
    assert_eq!(
        String::from_utf8_lossy(&whole),
        String::from_utf8_lossy(&split_answer),
        "the answer depends on how the bytes were split"
    );
    assert_eq!(files, split_files, "the files depend on the split");
    let (paused, paused_files) = run("paused", &reads, max_size, true);
    for (answers, files) in [(&whole, &files), (&paused, &paused_files)] {
        let stored = count_stored(answers);
        assert!(
            files.len() <= stored,
            "{} files for {stored} answers",
            files.len()
        );
        assert!(stored == 0 || !files.is_empty());
    }
}

/// Tutorial mode: files sent one at a time in the tutorial's form.
fn tutorial(mut data: &[u8], split: u8, max_size: u64) {
    let (mut harness, dir) = connect("tutorial", max_size);
    let mut expected: Files = Vec::new();
    while let Some((&name_len, rest)) = data.split_first() {
        let (name, rest) = rest.split_at(usize::from(name_len % 16).min(rest.len()));
        let Some((&size, rest)) = rest.split_first() else {
            break;
        };
        let (file, rest) = rest.split_at(usize::from(size).min(rest.len()));
        data = rest;
        // The tutorial's form cannot carry a `|` in a name: it ends there.
        if name.contains(&b'|') {
            continue;
        }
        let mut upload = name.to_vec();
        upload.extend_from_slice(format!("|{}", file.len()).as_bytes());
        upload.extend_from_slice(file);
        for read in sockloop_fuzz::chunks(&upload, split) {
            harness.feed(read);
        }
        harness.run_due_timers();
        let answer = harness.take_output();
        let shown = String::from_utf8_lossy(&answer);
        if answer == b"true" {
            expected.retain(|(n, _)| n != name);
            expected.push((name.to_vec(), file.to_vec()));
            expected.sort();
            assert_eq!(files_in(&dir), expected, "after storing {name:?}");
        } else {
            // Mostly `false: ...`; the newline form's `false too large\n` when
            // digits and a newline in the file read as a size over the limit.
            assert!(answer.starts_with(b"false"), "{name:?}: {shown:?}");
            assert!(harness.is_closed(), "{name:?}: open after {shown:?}");
            assert_eq!(files_in(&dir), expected, "after refusing {name:?}");
            return;
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&[mode, split], data)) = input.split_first_chunk::<2>() else {
        return;
    };
    let max_size = match mode & 0x7f {
        0 => u64::MAX,
        1 => 0,
        _ => 1000,
    };
    if mode & 0x80 == 0 {
        raw(data, split, max_size);
    } else {
        tutorial(data, split, max_size);
    }
});
