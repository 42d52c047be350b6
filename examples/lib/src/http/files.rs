//! From a request target to a file under the root, and never outside it.
//!
//! The order matters: percent-decode once, then judge the decoded segments
//! (`..`, NUL), then let the filesystem resolve symlinks and check that the
//! result is still under the root. A `%252e%252e` decodes once, to a file
//! literally named `%2e%2e`, which is not a way up.

use std::ffi::OsStr;
use std::fs::{File, Metadata, OpenOptions};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::http::request::Refusal;

/// What a request target names.
#[derive(Debug)]
pub enum Target {
    /// A regular file, opened.
    File(Found),
    /// A directory asked for without its trailing slash: redirect here.
    Redirect(String),
    /// Nothing this server will serve.
    NotFound,
}

/// A file to serve.
#[derive(Debug)]
pub struct Found {
    pub file: File,
    pub len: u64,
    pub modified: Option<SystemTime>,
    pub content_type: &'static str,
    pub version: Version,
}

/// What tells one version of a file from another: writing to it moves its
/// modification and change times, replacing it (a rename over it) changes
/// the inode. The cache compares these to know whether its copy still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    pub dev: u64,
    pub ino: u64,
    pub len: u64,
    /// Modification time, seconds and nanoseconds.
    pub mtime: (i64, i64),
    /// Status change time, seconds and nanoseconds.
    pub ctime: (i64, i64),
}

impl Version {
    pub fn of(meta: &Metadata) -> Version {
        Version {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// Resolves `target` (as sent, percent-encoded, query included) under
/// `root`, which must be canonical. A target that is not even a path is
/// refused: [`Refusal::BadTarget`] or [`Refusal::BadPathEncoding`].
pub fn resolve(root: &Path, target: &str) -> Result<Target, Refusal> {
    let (path, query) = split_target(target)?;
    let decoded = decode(path)?;
    if decoded.contains(&0) {
        return Ok(Target::NotFound);
    }
    let mut wanted = root.to_path_buf();
    for segment in decoded.split(|&b| b == b'/') {
        match segment {
            b"" | b"." => {}
            b".." => return Ok(Target::NotFound),
            name => wanted.push(OsStr::from_bytes(name)),
        }
    }
    let Some(real) = inside(root, &wanted) else {
        return Ok(Target::NotFound);
    };
    if real.is_dir() {
        if !path.ends_with('/') {
            // `//host` in a Location is another site (a protocol-relative
            // URL): collapse leading slashes so the redirect stays here.
            let path = format!("/{}", path.trim_start_matches('/'));
            let location = match query {
                Some(query) => format!("{path}/?{query}"),
                None => format!("{path}/"),
            };
            return Ok(Target::Redirect(location));
        }
        wanted.push("index.html");
        return Ok(match inside(root, &wanted) {
            Some(real) => open(&real, "html"),
            None => Target::NotFound,
        });
    }
    // The type follows the name that was asked for, as a browser expects,
    // not the name a symlink happens to point at.
    let extension = wanted.extension().and_then(OsStr::to_str).unwrap_or("");
    Ok(open(&real, extension))
}

/// The path part of a request target, still percent-encoded: what names a
/// file whatever the query, so the cache's key.
pub fn path_of(target: &str) -> Result<&str, Refusal> {
    split_target(target).map(|(path, _)| path)
}

/// The path and query of a request target. The absolute form
/// (`http://host/path`), which servers must accept, is reduced to its path.
fn split_target(target: &str) -> Result<(&str, Option<&str>), Refusal> {
    let mut target = target;
    // The origin form (`/path`), nearly every request, skips this.
    if !target.starts_with('/') {
        for scheme in ["http://", "https://"] {
            // Compared as bytes: slicing the str at a fixed offset would panic
            // inside a multi-byte character.
            let prefix = target.as_bytes().get(..scheme.len());
            if target.len() > scheme.len()
                && prefix.is_some_and(|p| p.eq_ignore_ascii_case(scheme.as_bytes()))
            {
                let rest = &target[scheme.len()..];
                target = rest.find('/').map_or("/", |slash| &rest[slash..]);
            }
        }
    }
    if !target.starts_with('/') {
        return Err(Refusal::BadTarget);
    }
    // The path ends at the first `?` or `#`, the query runs from `?` to `#`:
    // one pass over the bytes finds the end of the path.
    let end = target
        .bytes()
        .position(|b| b == b'?' || b == b'#')
        .unwrap_or(target.len());
    let (path, rest) = target.split_at(end);
    let query = rest
        .strip_prefix('?')
        .map(|query| query.split('#').next().unwrap_or(query));
    Ok((path, query))
}

/// Percent-decodes a path, refusing a `%` not followed by two hex digits
/// (the decoder itself would pass it through).
fn decode(path: &str) -> Result<Vec<u8>, Refusal> {
    let bytes = path.as_bytes();
    let mut i = 0;
    while let Some(offset) = bytes[i..].iter().position(|&b| b == b'%') {
        let at = i + offset;
        match bytes.get(at + 1..at + 3) {
            Some([a, b]) if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => i = at + 3,
            _ => return Err(Refusal::BadPathEncoding),
        }
    }
    Ok(percent_encoding::percent_decode(bytes).collect())
}

/// The real path of `wanted` if it exists and, symlinks resolved, is still
/// under `root`.
fn inside(root: &Path, wanted: &Path) -> Option<PathBuf> {
    let real = wanted.canonicalize().ok()?;
    real.starts_with(root).then_some(real)
}

/// Opens a regular file. O_NONBLOCK because a FIFO planted under the root
/// must not block the whole loop in open(2); anything but a regular file
/// is then refused.
fn open(real: &Path, extension: &str) -> Target {
    let Ok(file) = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(real)
    else {
        return Target::NotFound;
    };
    match file.metadata() {
        Ok(meta) if meta.is_file() => Target::File(Found {
            len: meta.len(),
            modified: meta.modified().ok(),
            content_type: content_type(extension),
            version: Version::of(&meta),
            file,
        }),
        _ => Target::NotFound,
    }
}

/// The `Content-Type` for a file name extension.
pub fn content_type(extension: &str) -> &'static str {
    match extension.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "json" => "application/json",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A scratch directory: `root/` with a few files, and `secret.txt` beside it.
    pub struct Scratch(pub PathBuf);

    impl Scratch {
        pub fn new(name: &str) -> Scratch {
            let dir =
                std::env::temp_dir().join(format!("http-files-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("root/sub")).unwrap();
            std::fs::write(dir.join("root/index.html"), "<p>home</p>").unwrap();
            std::fs::write(dir.join("root/sub/index.html"), "<p>sub</p>").unwrap();
            std::fs::write(dir.join("root/a b.txt"), "spaced").unwrap();
            std::fs::write(dir.join("secret.txt"), "secret").unwrap();
            std::os::unix::fs::symlink(dir.join("secret.txt"), dir.join("root/leak.txt")).unwrap();
            std::os::unix::fs::symlink("index.html", dir.join("root/home.css")).unwrap();
            Scratch(dir)
        }

        pub fn root(&self) -> PathBuf {
            self.0.join("root").canonicalize().unwrap()
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn file_len(target: &Target) -> Option<u64> {
        match target {
            Target::File(found) => Some(found.len),
            _ => None,
        }
    }

    #[test]
    fn serves_files_and_indexes() {
        let scratch = Scratch::new("serves");
        let root = scratch.root();
        let get = |t: &str| resolve(&root, t).unwrap();
        assert_eq!(file_len(&get("/")), Some(11));
        assert_eq!(file_len(&get("/index.html?x=1")), Some(11));
        assert_eq!(file_len(&get("/sub/")), Some(10));
        assert_eq!(file_len(&get("/a%20b.txt")), Some(6));
        assert_eq!(
            file_len(&get("http://example.com/sub/index.html")),
            Some(10)
        );
        let Target::File(found) = get("/home.css") else {
            panic!("symlink inside the root")
        };
        assert_eq!(found.content_type, "text/css; charset=utf-8");
        assert!(matches!(get("/sub"), Target::Redirect(l) if l == "/sub/"));
        assert!(matches!(get("/sub?q"), Target::Redirect(l) if l == "/sub/?q"));
        assert!(matches!(get("/sub?q#f"), Target::Redirect(l) if l == "/sub/?q"));
        assert!(matches!(get("/sub#f?q"), Target::Redirect(l) if l == "/sub/"));
        assert_eq!(path_of("/a?b#c"), Ok("/a"));
        assert_eq!(path_of("/a#c?b"), Ok("/a"));
        assert_eq!(path_of("HTTP://host/a?b"), Ok("/a"));
    }

    #[test]
    fn never_leaves_the_root() {
        let scratch = Scratch::new("escape");
        let root = scratch.root();
        for target in [
            "/../secret.txt",
            "/sub/../../secret.txt",
            "/%2e%2e/secret.txt",
            "/%2E%2E%2Fsecret.txt",
            "/..%2fsecret.txt",
            "/%252e%252e/secret.txt",
            "/leak.txt",
            "/index.html%00.png",
            "/nothing",
        ] {
            assert!(
                matches!(resolve(&root, target), Ok(Target::NotFound)),
                "{target}"
            );
        }
    }

    #[test]
    fn malformed_targets() {
        let root = PathBuf::from("/nonexistent");
        for target in ["/%", "/%2", "/%zz", "/a%2g", "/%zz?q"] {
            let refusal = resolve(&root, target).unwrap_err();
            assert_eq!(refusal, Refusal::BadPathEncoding, "{target}");
        }
        for target in ["*", "index.html", "ftp://host/a", "http:/a"] {
            assert_eq!(
                resolve(&root, target).unwrap_err(),
                Refusal::BadTarget,
                "{target}"
            );
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("HTML"), "text/html; charset=utf-8");
        assert_eq!(content_type("jpeg"), "image/jpeg");
        assert_eq!(content_type("wasm"), "application/wasm");
        assert_eq!(content_type(""), "application/octet-stream");
    }
}
