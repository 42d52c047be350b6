//! The upload server's protocol (examples/upload_server.rs, compiled as
//! written) driven through the harness with arbitrary bytes: headers,
//! bodies, garbage, cut into reads every possible way.
//!
//! Invariants: no panic; the answers are `true` lines and at most one
//! `false <reason>` line, last; the end of the stream always closes the
//! connection; no temporary file survives it; every file on disk has a plain
//! name inside the upload directory and nothing appears outside it; and the
//! same bytes give the same answers and the same files however they are split.
//!
//! Input: byte 0 picks the size limit, byte 1 how the rest is cut into reads.

#![no_main]
// The example's `main` and flags come along, unused here.
#![allow(dead_code)]

// The example's items become this crate's own (see build.rs).
include!(concat!(env!("OUT_DIR"), "/upload_server.rs"));

use libfuzzer_sys::fuzz_target;

/// A scratch area in memory (tmpfs: `commit` calls fsync) with one upload
/// directory per run, so the two runs can be compared.
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

/// One connection's worth of `reads`, then the end of the stream. Returns the
/// answer and the files left, name and contents, sorted.
fn run(which: &str, reads: &[&[u8]], max_size: u64) -> (Vec<u8>, Files) {
    let area = scratch().join(which);
    let dir = area.join("uploads");
    let _ = fs::remove_dir_all(&area);
    fs::create_dir_all(&dir).expect("creating the scratch directory");
    let settings = Settings {
        dir: dir.clone(),
        max_size,
        next_temp: 0,
    };
    let mut harness = sockloop::harness::Harness::with_state(settings, Upload::new());
    for read in reads {
        harness.feed(read);
    }
    harness.feed_eof();
    assert!(
        harness.is_closed(),
        "still open after the end of the stream"
    );
    let answer = harness.take_output();

    let outside: Vec<_> = fs::read_dir(&area)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        outside,
        [OsStr::new("uploads")],
        "a file escaped the directory"
    );
    let mut files = Vec::new();
    for entry in fs::read_dir(&dir).unwrap() {
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
    (answer, files)
}

fuzz_target!(|input: &[u8]| {
    let Some((&[limit, split], data)) = input.split_first_chunk::<2>() else {
        return;
    };
    let max_size = match limit {
        0 => u64::MAX,
        1 => 0,
        _ => 1000,
    };
    let (whole, files) = run("whole", &[data], max_size);
    let reads = sockloop_fuzz::chunks(data, split.max(1));
    let (split_answer, split_files) = run("split", &reads, max_size);
    assert_eq!(
        String::from_utf8_lossy(&whole),
        String::from_utf8_lossy(&split_answer),
        "the answer depends on how the bytes were split"
    );
    assert_eq!(files, split_files, "the files depend on the split");

    let text = std::str::from_utf8(&whole).expect("answers are text");
    assert!(whole.is_empty() || whole.ends_with(b"\n"), "{text:?}");
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let refusal = line.starts_with("false ");
        assert!(*line == "true" || refusal, "answer {line:?}");
        assert!(
            !refusal || i == lines.len() - 1,
            "{text:?}: answers after a refusal"
        );
    }
    let stored = lines.iter().filter(|l| **l == "true").count();
    assert!(
        files.len() <= stored,
        "{} files for {stored} answers",
        files.len()
    );
    assert!(stored == 0 || !files.is_empty());
});
