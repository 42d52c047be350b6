//! Reading a request head. httparse does the parsing; this module adds the
//! limits, and the decisions httparse leaves to a server: which version
//! error is a 505, whether the connection stays open, how long the body is.

use std::time::SystemTime;

/// Longest request line accepted (414 beyond).
pub const MAX_REQUEST_LINE: usize = 8 * 1024;
/// Longest request head accepted, request line and headers together (431 beyond).
pub const MAX_HEAD: usize = 8 * 1024;
/// Most header fields accepted (431 beyond).
const MAX_HEADERS: usize = 64;

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
    /// The `If-Modified-Since` date, if one was sent and parses.
    pub if_modified_since: Option<SystemTime>,
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
    /// A head the server refuses, with the status to answer (400, 414, 431,
    /// 505). The connection cannot be trusted to be in step any more.
    Invalid(u16),
}

/// Parses the request head at the front of `buf`.
///
/// The answer depends only on the bytes, never on how they were split
/// across reads: every decision here is either final or "wait for more".
pub fn parse_head(buf: &[u8]) -> Head<'_> {
    // httparse skips empty lines before the request line (RFC 9112 §2.2);
    // measure the line the same way.
    let blank = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let line = &buf[blank..];
    let line_end = line.iter().position(|&b| b == b'\n');
    if line_end.unwrap_or(line.len()) > MAX_REQUEST_LINE {
        return Head::Invalid(414);
    }
    // Left uninitialised: httparse writes the fields it finds, and zeroing
    // 64 of them for every request would be wasted work.
    let mut headers = [const { std::mem::MaybeUninit::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    match request.parse_with_uninit_headers(buf, &mut headers) {
        Ok(httparse::Status::Complete(n)) if n > MAX_HEAD => Head::Invalid(431),
        Ok(httparse::Status::Complete(n)) => match interpret(&request) {
            Ok(request) => Head::Complete(request, n),
            Err(status) => Head::Invalid(status),
        },
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => Head::Invalid(431),
        Ok(httparse::Status::Partial) => Head::Partial,
        Err(httparse::Error::TooManyHeaders) => Head::Invalid(431),
        // httparse only knows HTTP/1.0 and 1.1 and stops at the first byte
        // that cannot be one of them. Whether that is another version (505)
        // or garbage (400) shows once the request line is whole.
        Err(httparse::Error::Version) => match line_end {
            None => Head::Partial,
            Some(end) if names_other_version(&line[..end]) => Head::Invalid(505),
            Some(_) => Head::Invalid(400),
        },
        Err(_) => Head::Invalid(400),
    }
}

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

/// The server's reading of a parsed head, or the status refusing it.
fn interpret<'a>(parsed: &httparse::Request<'_, 'a>) -> Result<Request<'a>, u16> {
    let (Some(method), Some(target), Some(minor)) = (parsed.method, parsed.path, parsed.version)
    else {
        return Err(400);
    };
    let mut close = false;
    let mut keep_alive = false;
    let mut host = false;
    let mut body_len = None;
    let mut if_modified_since = None;
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
            host = true;
        } else if name.eq_ignore_ascii_case("content-length") {
            // Digits only, and repeated fields must agree (RFC 9112 §6.3):
            // anything else could frame the next request differently for us
            // than for a proxy in front of us.
            let value = text();
            let valid = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
            let len = value.parse::<u64>().ok().filter(|_| valid).ok_or(400u16)?;
            if body_len.is_some_and(|earlier| earlier != len) {
                return Err(400);
            }
            body_len = Some(len);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // This server takes no request bodies; Content-Length ones are
            // skipped, chunked ones would need a decoder for nothing.
            return Err(400);
        } else if name.eq_ignore_ascii_case("if-modified-since") {
            if_modified_since = httpdate::parse_http_date(text().trim()).ok();
        }
    }
    // HTTP/1.1 requires Host (RFC 9112 §3.2).
    if minor == 1 && !host {
        return Err(400);
    }
    Ok(Request {
        method,
        target,
        minor,
        keep_alive: !close && (minor == 1 || keep_alive),
        if_modified_since,
        body_len: body_len.unwrap_or(0),
    })
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

    fn status(input: &[u8]) -> u16 {
        match parse_head(input) {
            Head::Invalid(status) => status,
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
    fn head_length_excludes_what_follows() {
        let input = b"\r\nGET /a?b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyzGET";
        let (r, n) = complete(input);
        assert_eq!(&input[n..], b"xyzGET");
        assert_eq!((r.method, r.target, r.body_len), ("GET", "/a?b", 3));
    }

    #[test]
    fn refusals() {
        assert_eq!(status(b"GET / HTTP/1.1\r\n\r\n"), 400, "no Host");
        assert_eq!(status(b"G(T / HTTP/1.1\r\n"), 400);
        assert_eq!(status(b"GET / HTTP/2.0\r\n\r\n"), 505);
        assert_eq!(status(b"GET / HTTP/0.9\r\n\r\n"), 505);
        assert_eq!(status(b"GET / HTTP/1.2\r\n\r\n"), 505);
        assert_eq!(status(b"PRI * HTTP/2\r\n\r\n"), 505);
        assert_eq!(status(b"GET / HTTP/1.1x\r\n\r\n"), 400);
        assert_eq!(status(b"GET / XTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status(b"GET /a b HTTP/2.0\r\n\r\n"), 400);
        let cl = b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(status(cl), 400);
        assert_eq!(
            status(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"),
            400
        );
        let te = b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(status(te), 400);
    }

    #[test]
    fn limits() {
        let mut line = b"GET /".to_vec();
        line.resize(MAX_REQUEST_LINE + 1, b'a');
        assert_eq!(status(&line), 414, "too long before the line even ends");
        let mut head = b"GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ".to_vec();
        head.resize(MAX_HEAD + 1, b'p');
        assert_eq!(status(&head), 431, "too long before the head even ends");
        let mut many = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        for i in 0..MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(status(&many), 431);
    }

    /// Every prefix of a head is either Partial or the same final answer as
    /// the whole, so a split anywhere parses the same as one read.
    #[test]
    fn every_prefix_waits_or_agrees() {
        let heads: [&[u8]; 5] = [
            b"GET /x HTTP/1.1\r\nHost: a\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n",
            b"GET / HTTP/2.0\r\n\r\n",
            b"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
            b"GET / XTTP/1.1\r\n\r\n",
            b"GET /a b HTTP/2.0\r\n\r\n",
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
