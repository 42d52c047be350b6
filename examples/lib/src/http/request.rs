//! Reading a request head. httparse does the parsing; this module adds the
//! limits, and the decisions httparse leaves to a server: which version
//! error is a 505, whether the connection stays open, how long the body is.

use std::time::SystemTime;

/// Longest request head accepted, request line and headers together (431
/// beyond).
pub const MAX_HEAD: usize = 8 * 1024;
/// Longest request line accepted (414 beyond): the head's limit, since the
/// line is part of the head.
pub const MAX_REQUEST_LINE: usize = MAX_HEAD;
/// Most header fields accepted (431 beyond).
pub const MAX_HEADERS: usize = 64;

/// One request head, with what the server needs from its headers. Method
/// and target are borrowed from the input: no allocation per request.
#[derive(Debug)]
pub struct Request<'a> {
    /// The method as sent (`GET`, `HEAD`, ...).
    pub method: &'a str,
    /// The request target as sent: path, query and all, still percent-encoded.
    pub target: &'a str,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    /// Whether the connection stays open after the response.
    pub keep_alive: bool,
    /// `If-Match` as sent (a list of entity tags, or `*`). As with
    /// `If-None-Match`, a second such line is ignored.
    pub if_match: Option<&'a str>,
    /// The `If-Unmodified-Since` date, if one was sent and parses.
    pub if_unmodified_since: Option<SystemTime>,
    /// The `If-Modified-Since` date, if one was sent and parses.
    pub if_modified_since: Option<SystemTime>,
    /// `If-None-Match` as sent (a list of entity tags, or `*`). A second
    /// such line is ignored: at worst a 200 where a 304 would have done.
    pub if_none_match: Option<&'a str>,
    /// `Range` as sent; `None` too if it was sent twice (then ignored).
    pub range: Option<&'a str>,
    /// `If-Range` as sent (an entity tag or a date).
    pub if_range: Option<&'a str>,
    /// `Accept-Encoding` allows gzip: a precompressed file may be sent.
    pub accept_gzip: bool,
    /// Bytes of body that follow the head (`Content-Length`), to be skipped.
    pub body_len: u64,
}

/// What the bytes at the front of the input hold.
#[derive(Debug)]
pub enum Head<'a> {
    /// Not a whole head yet: wait for more.
    Partial,
    /// A request whose head took this many bytes.
    Complete(Request<'a>, usize),
    /// A head the server refuses, and why. The connection cannot be
    /// trusted to be in step any more.
    Invalid(Refusal),
}

/// What is wrong with a request the server refuses: the status to answer
/// and the sentence its page says, so that whoever wrote the client can
/// tell what to fix. Each 400 names its own reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The request line is not `METHOD TARGET HTTP/x.y` (a bad character in
    /// the method or target, a missing part, garbage for a version).
    BadRequestLine,
    /// A header line is not `Name: value` with a token for its name and no
    /// control characters in its value.
    BadHeader,
    /// A line of the head ends in a carriage return not followed by a line feed.
    BadLineEnding,
    /// HTTP/1.1 without `Host` (RFC 9112 section 3.2).
    MissingHost,
    /// More than one `Host` (RFC 9112 section 3.2).
    RepeatedHost,
    /// `Content-Length` that is not digits only.
    BadContentLength,
    /// Several `Content-Length`s that disagree (RFC 9112 section 6.3).
    ConflictingContentLength,
    /// A `Transfer-Encoding` body, which this server does not decode.
    TransferEncoding,
    /// A target that is neither a path nor an absolute `http://` URL.
    BadTarget,
    /// A `%` in the path not followed by two hex digits.
    BadPathEncoding,
    /// 414: the request line is over [`MAX_REQUEST_LINE`].
    RequestLineTooLong,
    /// 431: the head is over [`MAX_HEAD`].
    HeadTooLarge,
    /// 431: more than [`MAX_HEADERS`] header fields.
    TooManyHeaders,
    /// 505: a well-formed version other than 1.0 and 1.1.
    UnsupportedVersion,
    /// 408: the head did not arrive within the header timeout.
    Timeout,
}

impl Refusal {
    /// The status answered.
    pub fn status(self) -> u16 {
        match self {
            Refusal::RequestLineTooLong => 414,
            Refusal::HeadTooLarge | Refusal::TooManyHeaders => 431,
            Refusal::UnsupportedVersion => 505,
            Refusal::Timeout => 408,
            _ => 400,
        }
    }

    /// The sentence on the error page (plain text: nothing from the request
    /// is echoed into the HTML).
    pub fn detail(self) -> &'static str {
        match self {
            Refusal::BadRequestLine => {
                "The request line is malformed: it must be METHOD TARGET HTTP/1.1 \
                 (or HTTP/1.0), separated by single spaces, with no spaces or \
                 control characters in the target."
            }
            Refusal::BadHeader => {
                "A header line is malformed: each must be a name (letters, digits \
                 and a few marks such as - and _, no spaces), a colon, then a \
                 value without control characters."
            }
            Refusal::BadLineEnding => {
                "A line of the request head ends in a carriage return without a \
                 line feed; lines end in CRLF."
            }
            Refusal::MissingHost => {
                "The request has no Host header, which HTTP/1.1 requires \
                 (for example Host: localhost)."
            }
            Refusal::RepeatedHost => "The request has more than one Host header.",
            Refusal::BadContentLength => "The Content-Length header is not a plain decimal number.",
            Refusal::ConflictingContentLength => {
                "The request has several Content-Length headers that disagree."
            }
            Refusal::TransferEncoding => {
                "This server takes no request body sent with Transfer-Encoding \
                 (chunked or other); send Content-Length, or no body."
            }
            Refusal::BadTarget => {
                "The request target is not a path: it must start with / \
                 (or be an absolute http:// URL)."
            }
            Refusal::BadPathEncoding => {
                "The path is badly percent-encoded: every % must be followed \
                 by two hexadecimal digits (write a literal % as %25)."
            }
            Refusal::RequestLineTooLong => "The request line is longer than 8 KiB.",
            Refusal::HeadTooLarge => "The request head is longer than 8 KiB.",
            Refusal::TooManyHeaders => "The request has more than 64 header fields.",
            Refusal::UnsupportedVersion => "This server speaks HTTP/1.0 and HTTP/1.1.",
            Refusal::Timeout => "The request head took too long to arrive.",
        }
    }
}

/// Parses the request head at the front of `buf`.
///
/// The answer depends only on the bytes, never on how they were split
/// across reads: every decision here is either final or "wait for more".
pub fn parse_head(buf: &[u8]) -> Head<'_> {
    // Only the first MAX_HEAD bytes are judged. What comes after them cannot
    // change the answer, so a head is refused for the same reason whatever
    // part of it has arrived: a bad byte early on is a 400 even in a head
    // that goes on for too long.
    if buf.len() > MAX_HEAD {
        let capped = &buf[..MAX_HEAD];
        return match parse_within_limit(capped) {
            Head::Partial => Head::Invalid(too_long(capped)),
            judged => judged,
        };
    }
    parse_within_limit(buf)
}

/// Which limit a head of [`MAX_HEAD`] bytes that is still incomplete
/// broke: the request line's if it has not ended yet, the head's otherwise.
fn too_long(head: &[u8]) -> Refusal {
    if head[blank_lines(head)..].contains(&b'\n') {
        Refusal::HeadTooLarge
    } else {
        Refusal::RequestLineTooLong
    }
}

/// How many bytes of empty lines (`\r\n` or `\n`) come before the request
/// line: httparse skips them (RFC 9112 §2.2). A CR without its LF is not
/// an empty line but a bad line ending.
fn blank_lines(buf: &[u8]) -> usize {
    let mut skipped = 0;
    loop {
        match &buf[skipped..] {
            [b'\r', b'\n', ..] => skipped += 2,
            [b'\n', ..] => skipped += 1,
            _ => return skipped,
        }
    }
}

/// [`parse_head`] for a buffer of at most [`MAX_HEAD`] bytes.
fn parse_within_limit(buf: &[u8]) -> Head<'_> {
    // Left uninitialised: httparse writes the fields it finds, and zeroing
    // 64 of them for every request would be wasted work.
    let mut headers = [const { std::mem::MaybeUninit::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    let refusal = match request.parse_with_uninit_headers(buf, &mut headers) {
        Ok(httparse::Status::Complete(n)) => match interpret(&request) {
            Ok(request) => return Head::Complete(request, n),
            Err(refusal) => refusal,
        },
        Ok(httparse::Status::Partial) => return Head::Partial,
        Err(httparse::Error::TooManyHeaders) => Refusal::TooManyHeaders,
        // httparse only knows HTTP/1.0 and 1.1 and stops at the first byte
        // that cannot be one of them. Whether that is another version (505)
        // or garbage (400) shows once the request line is whole.
        Err(httparse::Error::Version) => {
            let line = &buf[blank_lines(buf)..];
            match line.iter().position(|&b| b == b'\n') {
                None => return Head::Partial,
                Some(end) if names_other_version(&line[..end]) => Refusal::UnsupportedVersion,
                Some(_) => Refusal::BadRequestLine,
            }
        }
        // Only after the request line: a bad byte in the line itself is a
        // Token or Version error.
        Err(httparse::Error::HeaderName | httparse::Error::HeaderValue) => Refusal::BadHeader,
        Err(httparse::Error::NewLine) => missing_new_line(&buf[blank_lines(buf)..]),
        // Token: the method or target; Status is a response's, never seen here.
        Err(httparse::Error::Token | httparse::Error::Status) => Refusal::BadRequestLine,
    };
    Head::Invalid(refusal)
}

/// Why httparse expected a line to end where it did not. Either a CR came
/// without its LF (before the request line, after it, or in a header), or
/// the request line went on after its version (`HTTP/1.1x`). Judged from
/// the byte where the line should have ended, so the answer is the same
/// whatever has arrived after it.
fn missing_new_line(line: &[u8]) -> Refusal {
    // A CR without its LF where the request line should start.
    if line.first() == Some(&b'\r') {
        return Refusal::BadLineEnding;
    }
    // Otherwise httparse has checked method, target and version, each ended
    // by one space: the request line's end is right after the version.
    let mut words = line.splitn(3, |&b| b == b' ');
    let after_version = match (words.next(), words.next(), words.next()) {
        (Some(_), Some(_), Some(rest)) if rest.len() > VERSION_LEN => &rest[VERSION_LEN..],
        _ => return Refusal::BadRequestLine,
    };
    match after_version {
        [b'\r' | b'\n', ..] => Refusal::BadLineEnding,
        _ => Refusal::BadRequestLine,
    }
}

/// `HTTP/1.1`: the only versions httparse accepts are this long.
const VERSION_LEN: usize = 8;

/// Whether the third word of a request line is `HTTP/<digits>[.<digits>]`,
/// a well-formed version this server does not speak (`HTTP/2.0`, `HTTP/0.9`).
fn names_other_version(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Some(version) = line.split(|&b| b == b' ').nth(2) else {
        return false;
    };
    let Some(number) = version.strip_prefix(b"HTTP/") else {
        return false;
    };
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    match number.iter().position(|&b| b == b'.') {
        Some(dot) => digits(&number[..dot]) && digits(&number[dot + 1..]),
        None => digits(number),
    }
}

/// The server's reading of a parsed head, or why it is refused.
fn interpret<'a>(parsed: &httparse::Request<'_, 'a>) -> Result<Request<'a>, Refusal> {
    let (Some(method), Some(target), Some(minor)) = (parsed.method, parsed.path, parsed.version)
    else {
        return Err(Refusal::BadRequestLine);
    };
    let mut close = false;
    let mut keep_alive = false;
    let mut host = false;
    let mut body_len = None;
    let mut if_match = None;
    let mut if_unmodified_since = None;
    let mut if_modified_since = None;
    let mut if_none_match = None;
    let mut if_range = None;
    let mut ranges = (None, 0);
    let mut gzip = Acceptable::default();
    for header in parsed.headers.iter() {
        let name = header.name;
        // Checked as text only for the few fields read here, not for every
        // User-Agent and Accept a browser sends.
        let text = || std::str::from_utf8(header.value).unwrap_or("");
        if name.eq_ignore_ascii_case("connection") {
            for option in text().split(',').map(str::trim) {
                close |= option.eq_ignore_ascii_case("close");
                keep_alive |= option.eq_ignore_ascii_case("keep-alive");
            }
        } else if name.eq_ignore_ascii_case("host") {
            // Two could name two different sites (RFC 9112 section 3.2).
            if host {
                return Err(Refusal::RepeatedHost);
            }
            host = true;
        } else if name.eq_ignore_ascii_case("content-length") {
            // Digits only, and repeated fields must agree (RFC 9112 §6.3):
            // anything else could frame the next request differently for us
            // than for a proxy in front of us.
            let value = text();
            let valid = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
            let len = value
                .parse::<u64>()
                .ok()
                .filter(|_| valid)
                .ok_or(Refusal::BadContentLength)?;
            if body_len.is_some_and(|earlier| earlier != len) {
                return Err(Refusal::ConflictingContentLength);
            }
            body_len = Some(len);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // This server takes no request bodies; Content-Length ones are
            // skipped, chunked ones would need a decoder for nothing.
            return Err(Refusal::TransferEncoding);
        } else if name.eq_ignore_ascii_case("if-match") {
            if_match = if_match.or(Some(text()));
        } else if name.eq_ignore_ascii_case("if-unmodified-since") {
            if_unmodified_since = httpdate::parse_http_date(text().trim()).ok();
        } else if name.eq_ignore_ascii_case("if-modified-since") {
            if_modified_since = httpdate::parse_http_date(text().trim()).ok();
        } else if name.eq_ignore_ascii_case("if-none-match") {
            if_none_match = if_none_match.or(Some(text()));
        } else if name.eq_ignore_ascii_case("range") {
            ranges = (Some(text()), ranges.1 + 1);
        } else if name.eq_ignore_ascii_case("if-range") {
            if_range = Some(text());
        } else if name.eq_ignore_ascii_case("accept-encoding") {
            gzip.read(text());
        }
    }
    // HTTP/1.1 requires Host (RFC 9112 §3.2); HTTP/1.0 predates it.
    if minor == 1 && !host {
        return Err(Refusal::MissingHost);
    }
    Ok(Request {
        method,
        target,
        minor,
        keep_alive: !close && (minor == 1 || keep_alive),
        if_match,
        if_unmodified_since,
        if_modified_since,
        if_none_match,
        range: ranges.0.filter(|_| ranges.1 == 1),
        if_range,
        accept_gzip: gzip.accepted(),
        body_len: body_len.unwrap_or(0),
    })
}

/// What `Accept-Encoding` lines say of gzip: named (or `*`), and with a
/// weight above zero (`gzip;q=0` refuses it).
#[derive(Default)]
struct Acceptable {
    gzip: Option<bool>,
    any: Option<bool>,
}

impl Acceptable {
    fn read(&mut self, line: &str) {
        for item in line.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let weight = parts
                .filter_map(|p| p.trim().split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
                .map_or(1.0, |(_, q)| q.trim().parse::<f32>().unwrap_or(0.0));
            if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                self.gzip = Some(weight > 0.0);
            } else if coding == "*" {
                self.any = Some(weight > 0.0);
            }
        }
    }

    fn accepted(&self) -> bool {
        self.gzip.or(self.any).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(input: &[u8]) -> (Request<'_>, usize) {
        match parse_head(input) {
            Head::Complete(request, n) => (request, n),
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
        }
    }

    fn refusal(input: &[u8]) -> Refusal {
        match parse_head(input) {
            Head::Invalid(refusal) => refusal,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
        }
    }

    #[test]
    fn keep_alive_follows_version_and_connection_header() {
        let (r, _) = complete(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(r.keep_alive);
        let (r, _) = complete(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        assert!(!r.keep_alive);
        let (r, _) = complete(b"GET / HTTP/1.0\r\n\r\n");
        assert!(!r.keep_alive);
        let (r, _) = complete(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
        assert!(r.keep_alive && r.minor == 0);
        let (r, _) = complete(b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n");
        assert!(!r.keep_alive);
    }

    #[test]
    fn conditional_and_range_fields() {
        let (r, _) = complete(
            b"GET / HTTP/1.1\r\nHost: a\r\nRange: bytes=0-1\r\nIf-Range: \"x\"\r\n\
              If-None-Match: \"a\", \"b\"\r\nIf-None-Match: \"c\"\r\n\r\n",
        );
        assert_eq!(r.range, Some("bytes=0-1"));
        assert_eq!(r.if_range, Some("\"x\""));
        assert_eq!(r.if_none_match, Some("\"a\", \"b\""));
        let (r, _) =
            complete(b"GET / HTTP/1.1\r\nHost: a\r\nRange: bytes=0-1\r\nRange: bytes=2-3\r\n\r\n");
        assert_eq!(r.range, None, "two Range lines: ignored");
        for (value, gzip) in [
            ("gzip, deflate, br", true),
            ("br;q=1.0, gzip;q=0.8", true),
            ("gzip;q=0", false),
            ("GZIP; Q=0.5", true),
            ("*", true),
            ("*, gzip;q=0", false),
            ("gzip;q=0, *", false),
            ("*;q=0", false),
            ("deflate, br", false),
            ("identity", false),
        ] {
            let head = format!("GET / HTTP/1.1\r\nHost: a\r\nAccept-Encoding: {value}\r\n\r\n");
            assert_eq!(complete(head.as_bytes()).0.accept_gzip, gzip, "{value}");
        }
        assert!(!complete(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").0.accept_gzip);
    }

    #[test]
    fn head_length_excludes_what_follows() {
        let input = b"\r\nGET /a?b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyzGET";
        let (r, n) = complete(input);
        assert_eq!(&input[n..], b"xyzGET");
        assert_eq!((r.method, r.target, r.body_len), ("GET", "/a?b", 3));
    }

    #[test]
    fn refusals() {
        use Refusal::*;
        let cases: [(&[u8], Refusal); 24] = [
            (b"GET / HTTP/1.1\r\n\r\n", MissingHost),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                RepeatedHost,
            ),
            (
                b"GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n",
                RepeatedHost,
            ),
            (b"G(T / HTTP/1.1\r\n", BadRequestLine),
            (b"GET /a\x01b HTTP/1.1\r\n", BadRequestLine),
            (b"GET / HTTP/1.1x\r\n\r\n", BadRequestLine),
            (b"GET / XTTP/1.1\r\n\r\n", BadRequestLine),
            (b"GET /a b HTTP/2.0\r\n\r\n", BadRequestLine),
            (b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", BadHeader),
            (b"GET / HTTP/1.1\r\nHost: a\x01b\r\n\r\n", BadHeader),
            (b"GET / HTTP/1.1\rHost: a\r\n\r\n", BadLineEnding),
            (b"\r\x00GET / HTTP/1.1\r\n\r\n", BadLineEnding),
            (b"\r\nGET / HTTP/1.1\r\n\r\n", MissingHost),
            (b"\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\rb", BadLineEnding),
            (b"G / HTTP/1.1\x01G\rET", BadRequestLine),
            (b"GET / HTTP/2.0\r\n\r\n", UnsupportedVersion),
            (b"GET / HTTP/0.9\r\n\r\n", UnsupportedVersion),
            (b"GET / HTTP/1.2\r\n\r\n", UnsupportedVersion),
            (b"PRI * HTTP/2\r\n\r\n", UnsupportedVersion),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                ConflictingContentLength,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
                BadContentLength,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n",
                BadContentLength,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
                TransferEncoding,
            ),
            (
                b"GET / HTTP/1.0\r\nTransfer-Encoding: x\r\n\r\n",
                TransferEncoding,
            ),
        ];
        for (input, expected) in cases {
            let got = refusal(input);
            assert_eq!(got, expected, "{:?}", String::from_utf8_lossy(input));
            assert_eq!(
                got.status(),
                if got == UnsupportedVersion { 505 } else { 400 }
            );
        }
        // HTTP/1.0 predates Host: its absence is fine there.
        assert_eq!(complete(b"GET / HTTP/1.0\r\n\r\n").0.minor, 0);
    }

    #[test]
    fn every_refusal_explains_itself_differently() {
        use Refusal::*;
        let all = [
            BadRequestLine,
            BadHeader,
            BadLineEnding,
            MissingHost,
            RepeatedHost,
            BadContentLength,
            ConflictingContentLength,
            TransferEncoding,
            BadTarget,
            BadPathEncoding,
            RequestLineTooLong,
            HeadTooLarge,
            TooManyHeaders,
            UnsupportedVersion,
            Timeout,
        ];
        let details: std::collections::HashSet<_> = all.iter().map(|r| r.detail()).collect();
        assert_eq!(details.len(), all.len(), "two refusals read the same");
        for r in all {
            // Pasted into HTML as it is.
            assert!(!r.detail().contains(['<', '>', '&', '"']), "{r:?}");
        }
    }

    #[test]
    fn limits() {
        let mut line = b"GET /".to_vec();
        line.resize(MAX_REQUEST_LINE + 1, b'a');
        assert_eq!(
            refusal(&line),
            Refusal::RequestLineTooLong,
            "too long before the line even ends"
        );
        assert_eq!(Refusal::RequestLineTooLong.status(), 414);
        let mut head = b"GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ".to_vec();
        head.resize(MAX_HEAD + 1, b'p');
        assert_eq!(
            refusal(&head),
            Refusal::HeadTooLarge,
            "too long before the head even ends"
        );
        let mut many = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        for i in 0..MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(refusal(&many), Refusal::TooManyHeaders);
        assert_eq!(Refusal::TooManyHeaders.status(), 431);
    }

    /// Every prefix of a head is either Partial or the same final answer as
    /// the whole, so a split anywhere parses the same as one read.
    #[test]
    fn every_prefix_waits_or_agrees() {
        let mut bad_early_then_long = b"G\x01T /".to_vec();
        bad_early_then_long.resize(MAX_HEAD + 10, b'a');
        let heads: [&[u8]; 12] = [
            b"GET /x HTTP/1.1\r\nHost: a\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n",
            b"GET / HTTP/2.0\r\n\r\n",
            b"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
            b"GET / XTTP/1.1\r\n\r\n",
            b"GET /a b HTTP/2.0\r\n\r\n",
            b"GET / HTTP/1.1x\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1\rHost: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
            // A CR without its LF before the request line is no empty line.
            b"\r\x00GET / HTTP/1.1\r\n\r\n",
            // Junk after the version, then a CR further on.
            b"G / HTTP/1.1\x01\x04G\rET %s",
            // Refused at byte 1, however long the rest.
            &bad_early_then_long,
        ];
        for head in heads {
            let whole = format!("{:?}", parse_head(head));
            for end in 0..head.len() {
                let prefix = format!("{:?}", parse_head(&head[..end]));
                assert!(
                    prefix == "Partial" || prefix == whole,
                    "{prefix} vs {whole}"
                );
            }
        }
    }
}
