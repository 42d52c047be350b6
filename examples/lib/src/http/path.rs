//! From a request target to the path it names: split off the query,
//! percent-decode once, remove the dot-segments (RFC 3986 section 5.2.4).
//! Nothing here touches the filesystem (`files.rs` does).
//!
//! The order matters. Decoding comes first, so `%2e%2e` is `..` like the
//! unencoded form (RFC 3986 section 6.2.2.2 treats them as the same), and
//! decoding happens once, so `%252e%252e` is a file literally named
//! `%2e%2e`, not a way up. Then `.` and `..` are resolved against the
//! segments before them, so `/sub/../f.txt` is `/f.txt` (inside the root,
//! served, as nginx does), while a `..` with nothing left to remove would
//! climb above the root: that path names nothing.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::http::request::Refusal;

/// A request path, decoded, its dot-segments removed.
#[derive(Debug, PartialEq)]
pub struct Clean {
    /// The segments in order: none empty, none `.` or `..`.
    pub segments: Vec<Vec<u8>>,
    /// The path ends in a slash (or in `.` or `..`, which mean the same):
    /// it names a directory.
    pub dir: bool,
}

/// What a request target's path is, once decoded and cleaned.
#[derive(Debug, PartialEq)]
pub enum Cleaned {
    /// A path inside the root.
    Inside(Clean),
    /// A path that climbs above the root, or holds a NUL: it names nothing.
    Nowhere,
}

/// Bytes kept as they are in a path segment written back into a URL: the
/// unreserved characters of RFC 3986. Everything else is percent-encoded,
/// `:` included, so a name like `a:b` can never read as a scheme.
pub const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Decodes and cleans the path of `target` (as sent, query included).
/// A target that is not even a path is refused: [`Refusal::BadTarget`] or
/// [`Refusal::BadPathEncoding`].
pub fn clean(target: &str) -> Result<Cleaned, Refusal> {
    let (path, _) = split_target(target)?;
    let decoded = decode(path)?;
    if decoded.contains(&0) {
        return Ok(Cleaned::Nowhere);
    }
    let mut segments: Vec<Vec<u8>> = Vec::new();
    let mut dir = false;
    for segment in decoded.split(|&b| b == b'/') {
        // Empty segments (`//`) are merged away, as nginx does.
        dir = matches!(segment, b"" | b"." | b"..");
        match segment {
            b"" | b"." => {}
            b".." => {
                if segments.pop().is_none() {
                    return Ok(Cleaned::Nowhere);
                }
            }
            name => segments.push(name.to_vec()),
        }
    }
    Ok(Cleaned::Inside(Clean { segments, dir }))
}

impl Clean {
    /// Whether a segment names a dotfile (`.env`, `.git`), which is not
    /// served or listed unless asked for. `/.well-known/` (RFC 8615) is
    /// not hidden: it is there to be served.
    pub fn is_hidden(&self) -> bool {
        hidden(self.segments.iter().map(Vec::as_slice))
    }

    /// The path written back as a URL path: each segment percent-encoded,
    /// a slash before each, and one at the end for a directory. Never
    /// starts with `//`, so a redirect to it stays on this server.
    pub fn to_url_path(&self) -> String {
        let mut url = String::from("/");
        for (i, segment) in self.segments.iter().enumerate() {
            if i > 0 {
                url.push('/');
            }
            url.extend(percent_encoding::percent_encode(segment, SEGMENT));
        }
        if self.dir && !self.segments.is_empty() {
            url.push('/');
        }
        url
    }

    /// The path as a person reads it (decoded; bytes that are not UTF-8
    /// shown as U+FFFD), with its trailing slash for a directory.
    pub fn display(&self) -> String {
        let mut shown = String::from("/");
        for segment in &self.segments {
            shown.push_str(&String::from_utf8_lossy(segment));
            shown.push('/');
        }
        if !self.dir && !self.segments.is_empty() {
            shown.pop();
        }
        shown
    }
}

/// Whether any of `segments` begins with a dot, the first one being
/// `.well-known` excepted.
pub fn hidden<'a>(segments: impl IntoIterator<Item = &'a [u8]>) -> bool {
    segments
        .into_iter()
        .enumerate()
        .any(|(i, segment)| segment.starts_with(b".") && !(i == 0 && segment == b".well-known"))
}

/// A name percent-encoded for use in a URL path (a listing's links).
pub fn encode_segment(name: &str) -> String {
    utf8_percent_encode(name, SEGMENT).to_string()
}

/// The path part of a request target, still percent-encoded: what names a
/// file whatever the query, so the cache's key.
pub fn path_of(target: &str) -> Result<&str, Refusal> {
    split_target(target).map(|(path, _)| path)
}

/// The query of a request target, if it has one.
pub fn query_of(target: &str) -> Option<&str> {
    split_target(target).ok().and_then(|(_, query)| query)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn inside(target: &str) -> (Vec<String>, bool) {
        match clean(target).unwrap() {
            Cleaned::Inside(c) => (
                c.segments
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect(),
                c.dir,
            ),
            Cleaned::Nowhere => panic!("{target} names nothing"),
        }
    }

    #[test]
    fn dot_segments_are_removed() {
        let cases: [(&str, &[&str], bool); 12] = [
            ("/", &[], true),
            ("/f.txt", &["f.txt"], false),
            ("/sub/../f.txt", &["f.txt"], false),
            ("/sub/./f.txt", &["sub", "f.txt"], false),
            ("/sub/%2e%2e/f.txt", &["f.txt"], false),
            ("/sub/%2E/f.txt", &["sub", "f.txt"], false),
            ("/a/b/..", &["a"], true),
            ("/a/b/.", &["a", "b"], true),
            ("/a//b/", &["a", "b"], true),
            ("/a/..", &[], true),
            ("/%252e%252e/x", &["%2e%2e", "x"], false),
            ("http://h/a/../b?x/../y", &["b"], false),
        ];
        for (target, segments, dir) in cases {
            assert_eq!(
                inside(target),
                (segments.iter().map(|s| s.to_string()).collect(), dir),
                "{target}"
            );
        }
    }

    #[test]
    fn climbing_above_the_root_names_nothing() {
        for target in [
            "/..",
            "/../f.txt",
            "/sub/../../f.txt",
            "/%2e%2e/f.txt",
            "/..%2ff.txt",
            "/sub%2f..%2f..%2ff.txt",
            "/a/%00",
        ] {
            assert_eq!(clean(target), Ok(Cleaned::Nowhere), "{target}");
        }
    }

    #[test]
    fn dotfiles_are_hidden_but_well_known_is_not() {
        let hidden = |t: &str| match clean(t).unwrap() {
            Cleaned::Inside(c) => c.is_hidden(),
            Cleaned::Nowhere => panic!("{t}"),
        };
        assert!(hidden("/.env"));
        assert!(hidden("/.git/config"));
        assert!(hidden("/sub/.htpasswd"));
        assert!(hidden("/%2egit/HEAD"));
        assert!(!hidden("/.well-known/security.txt"));
        assert!(hidden("/sub/.well-known/x"), "only at the top");
        assert!(hidden("/.well-known/.secret"));
        assert!(!hidden("/a.b/c"));
        assert!(!hidden("/sub/.././f"), "the dot-segments are gone");
    }

    #[test]
    fn written_back_as_a_url_path() {
        let url = |t: &str| match clean(t).unwrap() {
            Cleaned::Inside(c) => (c.to_url_path(), c.display()),
            Cleaned::Nowhere => panic!("{t}"),
        };
        assert_eq!(url("/a%20b/../c:d/"), ("/c%3Ad/".into(), "/c:d/".into()));
        assert_eq!(url("//host/x"), ("/host/x".into(), "/host/x".into()));
        assert_eq!(url("/"), ("/".into(), "/".into()));
        assert_eq!(encode_segment("a&b <c>%.txt"), "a%26b%20%3Cc%3E%25.txt");
    }

    #[test]
    fn targets_split_into_path_and_query() {
        assert_eq!(path_of("/a?b#c"), Ok("/a"));
        assert_eq!(path_of("/a#c?b"), Ok("/a"));
        assert_eq!(path_of("HTTP://host/a?b"), Ok("/a"));
        assert_eq!(query_of("/a?b#c"), Some("b"));
        assert_eq!(query_of("/a#c?b"), None);
        for target in ["/%", "/%2", "/%zz", "/a%2g"] {
            assert_eq!(clean(target), Err(Refusal::BadPathEncoding), "{target}");
        }
        for target in ["*", "index.html", "ftp://host/a", "http:/a"] {
            assert_eq!(clean(target), Err(Refusal::BadTarget), "{target}");
        }
    }
}
