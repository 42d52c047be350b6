//! From a request target to a file under the root, and never outside it.
//!
//! `path.rs` decodes the target and removes its dot-segments; a path that
//! would climb above the root names nothing. Then the filesystem resolves
//! symlinks and the result must still lie under the root. Dotfiles (a
//! segment beginning with `.`, `/.well-known/` aside) are not served unless
//! asked for, whether named in the request or reached through a symlink:
//! a `.env` or `.git` left in a web root is the classic leak. A directory
//! is served as its `index.html`, else listed if listings are on.
//!
//! A file `f` with `f.gz` beside it has two representations: with
//! `Accept-Encoding: gzip` the client gets `f.gz`, sent with
//! `Content-Encoding: gzip` (nginx's `gzip_static`), and either way the
//! response says `Vary: Accept-Encoding`.

use std::ffi::{OsStr, OsString};
use std::fs::{File, Metadata, OpenOptions};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::http::path::{self, Clean, Cleaned};
use crate::http::representation::{ContentType, Representation};
use crate::http::request::Refusal;

/// What a request target names.
#[derive(Debug)]
pub enum Target {
    /// A regular file, opened.
    File(Found),
    /// A directory without an index, to list (only with listings on).
    Directory(Directory),
    /// A directory asked for without its trailing slash: redirect here.
    Redirect(String),
    /// Nothing this server will serve.
    NotFound,
}

/// What the server may serve besides plain files.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Serve and list dotfiles (`--dotfiles`).
    pub dotfiles: bool,
    /// List a directory that has no `index.html` (`--list-dirs`).
    pub list_dirs: bool,
}

/// A directory to list.
#[derive(Debug)]
pub struct Directory {
    /// Its real path, under the root.
    pub real: PathBuf,
    /// The path that was asked for, cleaned.
    pub path: Clean,
}

/// A file to serve: the file itself or its precompressed variant.
#[derive(Debug)]
pub struct Found {
    pub file: File,
    pub len: u64,
    /// The type of the name asked for (a variant has its original's type).
    pub content_type: ContentType,
    pub version: Version,
    /// `Some("gzip")` for the `.gz` variant.
    pub encoding: Option<&'static str>,
    /// A `.gz` variant exists (whether or not this is it).
    pub vary: bool,
}

impl Found {
    /// What a response says about it.
    pub fn representation(&self) -> Representation {
        Representation::new(
            self.content_type,
            self.encoding,
            &self.version,
            self.version.modified(),
            self.vary,
        )
    }
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
    /// The modification time.
    pub fn modified(&self) -> Option<SystemTime> {
        let (secs, nanos) = self.mtime;
        let nanos = u32::try_from(nanos).ok()?;
        SystemTime::UNIX_EPOCH.checked_add(Duration::new(u64::try_from(secs).ok()?, nanos))
    }

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
/// `root`, which must be canonical; `gzip`: the client accepts a gzip
/// variant. A target that is not even a path is refused:
/// [`Refusal::BadTarget`] or [`Refusal::BadPathEncoding`].
pub fn resolve(root: &Path, target: &str, options: Options, gzip: bool) -> Result<Target, Refusal> {
    let Cleaned::Inside(clean) = path::clean(target)? else {
        return Ok(Target::NotFound);
    };
    if clean.is_hidden() && !options.dotfiles {
        return Ok(Target::NotFound);
    }
    let mut wanted = root.to_path_buf();
    for segment in &clean.segments {
        wanted.push(OsStr::from_bytes(segment));
    }
    let Some(real) = inside(root, &wanted, options) else {
        return Ok(Target::NotFound);
    };
    if real.is_dir() {
        if !clean.dir {
            let location = match path::query_of(target) {
                Some(query) => format!("{}/?{query}", clean.to_url_path()),
                None => format!("{}/", clean.to_url_path()),
            };
            return Ok(Target::Redirect(location));
        }
        wanted.push("index.html");
        return Ok(match inside(root, &wanted, options) {
            Some(index) => open_variants(root, &wanted, &index, options, gzip),
            None if options.list_dirs => Target::Directory(Directory { real, path: clean }),
            None => Target::NotFound,
        });
    }
    if clean.dir {
        // `/f.txt/`: a file is not a directory (nginx and Python say 404).
        return Ok(Target::NotFound);
    }
    Ok(open_variants(root, &wanted, &real, options, gzip))
}

/// The real path of `wanted` if it exists and, symlinks resolved, is still
/// under `root`, and is no dotfile there unless they are served.
fn inside(root: &Path, wanted: &Path, options: Options) -> Option<PathBuf> {
    let real = wanted.canonicalize().ok()?;
    let below = real.strip_prefix(root).ok()?;
    let hidden = path::hidden(below.iter().map(OsStr::as_bytes));
    (options.dotfiles || !hidden).then_some(real)
}

/// Opens the file asked for as `wanted` (real path `real`), or its `.gz`
/// variant if there is one and the client takes gzip. The type follows the
/// name that was asked for, as a browser expects, not the name a symlink
/// happens to point at.
fn open_variants(root: &Path, wanted: &Path, real: &Path, options: Options, gzip: bool) -> Target {
    let content_type = ContentType::of(wanted);
    let mut gz_name = OsString::from(wanted.as_os_str());
    gz_name.push(".gz");
    let variant = inside(root, Path::new(&gz_name), options).filter(|gz| gz.is_file());
    let vary = variant.is_some();
    if let (true, Some(variant)) = (gzip, &variant)
        && let Target::File(found) = open(variant, content_type, Some("gzip"), vary)
    {
        return Target::File(found);
    }
    open(real, content_type, None, vary)
}

/// Opens a regular file. O_NONBLOCK because a FIFO planted under the root
/// must not block the whole loop in open(2); anything but a regular file
/// is then refused.
fn open(
    real: &Path,
    content_type: ContentType,
    encoding: Option<&'static str>,
    vary: bool,
) -> Target {
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
            content_type,
            version: Version::of(&meta),
            encoding,
            vary,
            file,
        }),
        _ => Target::NotFound,
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

    fn get(root: &Path, target: &str) -> Target {
        resolve(root, target, Options::default(), false).unwrap()
    }

    #[test]
    fn serves_files_and_indexes() {
        let scratch = Scratch::new("serves");
        let root = scratch.root();
        let get = |t: &str| get(&root, t);
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
        assert_eq!(found.content_type.to_string(), "text/css; charset=utf-8");
        assert!(matches!(get("/sub"), Target::Redirect(l) if l == "/sub/"));
        assert!(matches!(get("/sub?q"), Target::Redirect(l) if l == "/sub/?q"));
        assert!(matches!(get("/sub?q#f"), Target::Redirect(l) if l == "/sub/?q"));
        assert!(matches!(get("/sub#f?q"), Target::Redirect(l) if l == "/sub/"));
        assert!(matches!(get("//sub"), Target::Redirect(l) if l == "/sub/"));
    }

    #[test]
    fn dot_segments_inside_the_root_are_served() {
        let scratch = Scratch::new("dots");
        let root = scratch.root();
        assert_eq!(file_len(&get(&root, "/sub/../a%20b.txt")), Some(6));
        assert_eq!(file_len(&get(&root, "/sub/%2e%2e/a%20b.txt")), Some(6));
        assert_eq!(file_len(&get(&root, "/sub/./index.html")), Some(10));
        assert_eq!(
            file_len(&get(&root, "/sub/..")),
            Some(11),
            "the root's index"
        );
        assert!(matches!(get(&root, "/sub/../sub"), Target::Redirect(l) if l == "/sub/"));
        assert!(
            matches!(get(&root, "/a%20b.txt/"), Target::NotFound),
            "a file is no directory"
        );
        assert!(matches!(get(&root, "/sub/index.html/"), Target::NotFound));
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
            assert!(matches!(get(&root, target), Target::NotFound), "{target}");
        }
    }

    #[test]
    fn dotfiles_only_when_asked_for() {
        let scratch = Scratch::new("dotfiles");
        let root = scratch.root();
        std::fs::write(root.join(".env"), "SECRET=1").unwrap();
        std::fs::create_dir(root.join(".git")).unwrap();
        std::fs::write(root.join(".git/config"), "[core]").unwrap();
        std::fs::create_dir(root.join(".well-known")).unwrap();
        std::fs::write(root.join(".well-known/security.txt"), "Contact: x").unwrap();
        std::os::unix::fs::symlink(".env", root.join("config.txt")).unwrap();
        for target in [
            "/.env",
            "/.git/config",
            "/%2eenv",
            "/sub/../.env",
            "/config.txt",
            "/.git/",
        ] {
            assert!(matches!(get(&root, target), Target::NotFound), "{target}");
        }
        assert_eq!(file_len(&get(&root, "/.well-known/security.txt")), Some(10));
        let with = Options {
            dotfiles: true,
            list_dirs: false,
        };
        for target in ["/.env", "/.git/config", "/config.txt"] {
            let found = resolve(&root, target, with, false).unwrap();
            assert!(matches!(found, Target::File(_)), "{target}");
        }
    }

    #[test]
    fn a_gzip_variant_for_clients_that_take_it() {
        let scratch = Scratch::new("gzip");
        let root = scratch.root();
        std::fs::write(root.join("a b.txt.gz"), "gzipped!").unwrap();
        let plain = get(&root, "/a%20b.txt");
        let Target::File(plain) = plain else { panic!() };
        assert_eq!((plain.len, plain.encoding, plain.vary), (6, None, true));
        let gz = resolve(&root, "/a%20b.txt", Options::default(), true).unwrap();
        let Target::File(gz) = gz else { panic!() };
        assert_eq!((gz.len, gz.encoding, gz.vary), (8, Some("gzip"), true));
        assert_eq!(gz.content_type.to_string(), "text/plain; charset=utf-8");
        assert_ne!(gz.representation().etag, plain.representation().etag);
        // Without a variant: no Vary.
        let Target::File(index) = resolve(&root, "/", Options::default(), true).unwrap() else {
            panic!()
        };
        assert_eq!((index.encoding, index.vary), (None, false));
    }

    #[test]
    fn directories_without_an_index_are_listed_only_when_asked() {
        let scratch = Scratch::new("listing");
        let root = scratch.root();
        std::fs::create_dir(root.join("empty")).unwrap();
        assert!(matches!(get(&root, "/empty/"), Target::NotFound));
        let with = Options {
            dotfiles: false,
            list_dirs: true,
        };
        let Target::Directory(dir) = resolve(&root, "/empty/", with, false).unwrap() else {
            panic!()
        };
        assert_eq!(dir.real, root.join("empty"));
        assert_eq!(dir.path.display(), "/empty/");
    }

    #[test]
    fn malformed_targets() {
        let root = PathBuf::from("/nonexistent");
        for target in ["/%", "/%2", "/%zz", "/a%2g", "/%zz?q"] {
            let refusal = resolve(&root, target, Options::default(), false).unwrap_err();
            assert_eq!(refusal, Refusal::BadPathEncoding, "{target}");
        }
        for target in ["*", "index.html", "ftp://host/a", "http:/a"] {
            assert_eq!(
                resolve(&root, target, Options::default(), false).unwrap_err(),
                Refusal::BadTarget,
                "{target}"
            );
        }
    }
}
