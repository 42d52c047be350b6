//! What a response says about the file it carries (RFC 9110's
//! representation metadata): its media type, its encoding, its length and
//! its validators. Cached files and files sent from disk describe
//! themselves the same way, and their headers are written by one function.

use std::fmt;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::http::files::Version;

/// A media type, from the file name's extension (mime_guess's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentType {
    /// `type/subtype`.
    pub essence: &'static str,
    /// A text type: sent with `charset=utf-8`.
    pub text: bool,
}

impl ContentType {
    /// The type of a file named `name`; `application/octet-stream` for an
    /// unknown extension.
    pub fn of(name: &Path) -> ContentType {
        let essence = mime_guess::from_path(name)
            .first_raw()
            .unwrap_or("application/octet-stream");
        ContentType {
            essence,
            text: essence.starts_with("text/") || essence == "application/javascript",
        }
    }

    /// An HTML page of this server's own (an error page, a listing).
    pub const HTML: ContentType = ContentType {
        essence: "text/html",
        text: true,
    };
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.essence)?;
        if self.text {
            f.write_str("; charset=utf-8")?;
        }
        Ok(())
    }
}

/// One representation of a file: the file itself or its precompressed
/// variant. Its validators tell one version from another.
#[derive(Debug, Clone)]
pub struct Representation {
    pub content_type: ContentType,
    /// `Some("gzip")` for a precompressed `.gz` variant.
    pub encoding: Option<&'static str>,
    /// Body bytes.
    pub len: u64,
    /// A strong entity tag, quotes included.
    pub etag: String,
    /// `Last-Modified`, whole seconds, and its text.
    pub modified: Option<(SystemTime, String)>,
    /// A precompressed variant exists: responses differ by `Accept-Encoding`
    /// (`Vary`), whichever one is sent.
    pub vary: bool,
}

impl Representation {
    /// The metadata of a file of `version`, modified at `modified`.
    pub fn new(
        content_type: ContentType,
        encoding: Option<&'static str>,
        version: &Version,
        modified: Option<SystemTime>,
        vary: bool,
    ) -> Representation {
        let modified = modified.map(whole_seconds);
        Representation {
            content_type,
            encoding,
            len: version.len,
            etag: etag(version, encoding),
            modified: modified.map(|m| (m, httpdate::fmt_http_date(m))),
            vary,
        }
    }

    /// Writes the header fields of a response carrying `content_length`
    /// bytes of it (the whole, or one range): type, length, encoding, then
    /// the validators.
    pub fn write_fields(&self, out: &mut Vec<u8>, content_length: u64) {
        // Writing to a Vec cannot fail.
        let _ = write!(
            out,
            "Content-Type: {}\r\nContent-Length: {content_length}\r\nAccept-Ranges: bytes\r\n",
            self.content_type
        );
        if let Some(encoding) = self.encoding {
            let _ = write!(out, "Content-Encoding: {encoding}\r\n");
        }
        self.write_validators(out);
    }

    /// Writes what a 304 carries: the validators, and `Vary`.
    pub fn write_validators(&self, out: &mut Vec<u8>) {
        if let Some((_, text)) = &self.modified {
            let _ = write!(out, "Last-Modified: {text}\r\n");
        }
        let _ = write!(out, "ETag: {}\r\n", self.etag);
        if self.vary {
            out.extend_from_slice(b"Vary: Accept-Encoding\r\n");
        }
    }

    /// Whether `Last-Modified` is a strong validator at wall-clock time
    /// `now`: a file changed again within the same second would keep the
    /// same date, so a date only counts once a second has passed since it
    /// (RFC 9110 section 8.8.2.2).
    pub fn modified_is_strong(&self, now: SystemTime) -> bool {
        self.modified
            .as_ref()
            .is_some_and(|(m, _)| *m + Duration::from_secs(1) <= now)
    }
}

/// A strong entity tag from what tells one version of a file from another:
/// its modification time (to the nanosecond) and its size, as nginx makes
/// them (nginx uses whole seconds). The precompressed variant gets its own
/// (`-gzip`), since it is another representation.
pub fn etag(version: &Version, encoding: Option<&str>) -> String {
    let (secs, nanos) = version.mtime;
    match encoding {
        None => format!("\"{secs:x}.{nanos:x}-{:x}\"", version.len),
        Some(encoding) => format!("\"{secs:x}.{nanos:x}-{:x}-{encoding}\"", version.len),
    }
}

/// A file's modification time as it appears in `Last-Modified`: whole
/// seconds, which is also how `If-Modified-Since` is compared.
pub fn whole_seconds(time: SystemTime) -> SystemTime {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    UNIX_EPOCH + Duration::from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_come_from_the_extension() {
        let of = |name: &str| ContentType::of(Path::new(name)).to_string();
        assert_eq!(of("index.HTML"), "text/html; charset=utf-8");
        assert_eq!(of("a.css"), "text/css; charset=utf-8");
        assert_eq!(of("a.js"), "text/javascript; charset=utf-8");
        assert_eq!(of("a.mjs"), "application/javascript; charset=utf-8");
        assert_eq!(of("a.json"), "application/json");
        assert_eq!(of("movie.mp4"), "video/mp4");
        assert_eq!(of("paper.pdf"), "application/pdf");
        assert_eq!(of("src.tar.gz"), "application/gzip");
        assert_eq!(of("no-extension"), "application/octet-stream");
        assert_eq!(of("a.unknownextension"), "application/octet-stream");
    }

    #[test]
    fn fields_and_etags() {
        let version = Version {
            dev: 1,
            ino: 2,
            len: 1000,
            mtime: (0x5f00_0000, 7),
            ctime: (0, 0),
        };
        let modified = UNIX_EPOCH + Duration::new(0x5f00_0000, 7);
        let rep = Representation::new(
            ContentType::HTML,
            Some("gzip"),
            &version,
            Some(modified),
            true,
        );
        assert_eq!(rep.etag, "\"5f000000.7-3e8-gzip\"");
        assert_ne!(rep.etag, etag(&version, None));
        let mut out = Vec::new();
        rep.write_fields(&mut out, 10);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Content-Type: text/html; charset=utf-8\r\nContent-Length: 10\r\n\
             Accept-Ranges: bytes\r\nContent-Encoding: gzip\r\n\
             Last-Modified: Sat, 04 Jul 2020 04:05:20 GMT\r\n\
             ETag: \"5f000000.7-3e8-gzip\"\r\nVary: Accept-Encoding\r\n"
        );
        assert!(rep.modified_is_strong(modified + Duration::from_secs(1)));
        assert!(!rep.modified_is_strong(modified + Duration::from_millis(500)));
    }
}
