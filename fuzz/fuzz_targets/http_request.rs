//! The HTTP server's request handling (examples/lib/src/http/request.rs and
//! files.rs, compiled as written): head parsing and the mapping from a
//! request target to a file.
//!
//! Invariants: no panic; a head parses the same whatever prefix of it has
//! arrived (every prefix is either "wait for more" or the final answer);
//! a complete head is never longer than the input or the limit; and a target,
//! whatever its encoding, resolves to nothing outside the served root: no
//! file whose real path leaves it (symlinks, `..`, percent-encoded dots and
//! slashes, NULs), and a redirect only to a path on this server.
//!
//! Input: byte 0 picks the mode (even: the rest is a request target; odd: the
//! rest is a request head), byte 1 where the prefixes are cut.

#![no_main]

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

use sockloop_examples::http::files::{Options, Target, resolve};
use sockloop_examples::http::request::{Head, MAX_HEAD, parse_head};

const SECRET: &[u8] = b"SECRET: this file is outside the root";

/// A served root with files, directories and symlinks, some pointing
/// outside it, and a secret beside it. Returns the canonical root.
fn site() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("sockloop-fuzz-http-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let root = dir.join("root");
        std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
        std::fs::create_dir_all(dir.join("rootless")).unwrap();
        std::fs::write(dir.join("secret.txt"), SECRET).unwrap();
        std::fs::write(dir.join("rootless/index.html"), SECRET).unwrap();
        std::fs::write(root.join("index.html"), "home").unwrap();
        std::fs::write(root.join("a b.txt"), "spaced").unwrap();
        std::fs::write(root.join("%2e%2e"), "literal name").unwrap();
        std::fs::write(root.join("sub/index.html"), "sub").unwrap();
        std::fs::write(root.join("sub/deeper/f.css"), "css").unwrap();
        let link = |to: PathBuf, at: &str| std::os::unix::fs::symlink(to, root.join(at)).unwrap();
        link(dir.join("secret.txt"), "leak.txt");
        link(dir.clone(), "up");
        link(dir.join("rootless"), "rootless");
        link(PathBuf::from("../secret.txt"), "relative-leak");
        link(PathBuf::from("sub"), "inside");
        link(PathBuf::from("/"), "slash");
        root.canonicalize().unwrap()
    })
}

/// Resolves `target` and checks that whatever it names is under `root`.
/// (A multi-byte character at byte 7 or 8 once made `split_target` panic;
/// fuzzing found it, tests/reliability_regressions.rs pins it.)
fn check_target(root: &Path, target: &str) {
    let options = Options {
        dotfiles: false,
        list_dirs: true,
    };
    let Ok(resolved) = resolve(root, target, options, true) else {
        return; // 400: not a path at all
    };
    match resolved {
        Target::File(found) => {
            let fd = found.file.as_raw_fd();
            let real = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
            assert!(
                real.starts_with(root),
                "{target:?} opened {}",
                real.display()
            );
            let contents = std::fs::read(&real).unwrap();
            assert_ne!(contents, SECRET, "{target:?} served the secret");
            assert_eq!(found.len, contents.len() as u64);
        }
        Target::Redirect(location) => {
            assert!(
                location.starts_with('/'),
                "{target:?} redirects to {location:?}"
            );
            // `//sub` once redirected to `//sub/`, which a browser reads as
            // the host `sub` (tests/reliability_regressions.rs pins it).
            assert!(
                !location.starts_with("//"),
                "{target:?} redirects off-site: {location:?}"
            );
        }
        Target::Directory(dir) => {
            assert!(
                dir.real.starts_with(root),
                "{target:?} lists {}",
                dir.real.display()
            );
        }
        Target::NotFound => {}
    }
}

fn final_answer(head: &Head) -> Option<String> {
    match head {
        Head::Partial => None,
        Head::Complete(request, n) => Some(format!("{request:?} {n}")),
        Head::Invalid(status) => Some(format!("invalid {status:?}")),
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&[mode, split], data)) = input.split_first_chunk::<2>() else {
        return;
    };
    let root = site();
    if mode % 2 == 0 {
        check_target(root, &String::from_utf8_lossy(data));
        return;
    }
    let whole = parse_head(data);
    if let Head::Complete(request, n) = &whole {
        assert!(*n <= data.len() && *n <= MAX_HEAD, "head of {n} bytes");
        check_target(root, &request.target);
    }
    let answer = final_answer(&whole);
    let mut end = 0;
    for chunk in sockloop_fuzz::chunks(data, split.max(1)) {
        end += chunk.len();
        let prefix = final_answer(&parse_head(&data[..end]));
        assert!(
            prefix.is_none() || prefix == answer,
            "the first {end} bytes give {prefix:?}, all {} give {answer:?}",
            data.len()
        );
    }
});
