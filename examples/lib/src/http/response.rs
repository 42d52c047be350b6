//! Writing response heads and the small pages that explain an error.

use std::io::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The reason phrase for each status this server sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        412 => "Precondition Failed",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// How the response ends the exchange.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Persist {
    /// HTTP/1.1 default: the connection stays open, nothing to say.
    Implicit,
    /// An HTTP/1.0 client asked to keep the connection: confirm it.
    KeepAlive,
    /// The connection closes after this response.
    Close,
}

/// A response head being written: status line, the headers every response
/// carries, then whatever the caller adds, then [`Head::finish`]. It is
/// written into a buffer the caller keeps and reuses, so that once that
/// buffer has grown a response head costs no allocation.
pub struct Head<'b>(&'b mut Vec<u8>);

impl<'b> Head<'b> {
    /// Starts a head in `out`, replacing what it held.
    pub fn new(out: &'b mut Vec<u8>, status: u16, date: &str, persist: Persist) -> Head<'b> {
        out.clear();
        out.extend_from_slice(b"HTTP/1.1 ");
        // Statuses are three digits (RFC 9110 section 15); no formatter needed.
        out.extend_from_slice(&[
            b'0' + (status / 100 % 10) as u8,
            b'0' + (status / 10 % 10) as u8,
            b'0' + (status % 10) as u8,
            b' ',
        ]);
        out.extend_from_slice(reason(status).as_bytes());
        out.extend_from_slice(b"\r\nServer: sockloop\r\nDate: ");
        out.extend_from_slice(date.as_bytes());
        out.extend_from_slice(b"\r\n");
        match persist {
            Persist::Implicit => {}
            Persist::KeepAlive => out.extend_from_slice(b"Connection: keep-alive\r\n"),
            Persist::Close => out.extend_from_slice(b"Connection: close\r\n"),
        }
        Head(out)
    }

    pub fn header(self, name: &str, value: impl std::fmt::Display) -> Head<'b> {
        // Writing to a Vec cannot fail.
        let _ = write!(self.0, "{name}: {value}\r\n");
        self
    }

    /// Adds header lines written by `f` (each ending in CRLF).
    pub fn with(self, f: impl FnOnce(&mut Vec<u8>)) -> Head<'b> {
        f(self.0);
        self
    }

    /// Ends the head with its blank line.
    pub fn finish(self) {
        self.0.extend_from_slice(b"\r\n");
    }
}

/// The short HTML page sent with an error or a redirect.
pub fn page(status: u16, detail: &str) -> String {
    let title = format!("{status} {}", reason(status));
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body>\n<h1>{title}</h1>\n<p>{detail}</p>\n<hr>\n<p>sockloop</p>\n</body>\n</html>\n"
    )
}

/// What the page of a status says when no [`Refusal`] says more: the
/// answers to well-formed requests. (A refused request's page names what
/// was wrong with it: [`Refusal::detail`].)
///
/// [`Refusal`]: crate::http::request::Refusal
/// [`Refusal::detail`]: crate::http::request::Refusal::detail
pub fn detail(status: u16) -> &'static str {
    match status {
        301 => "This directory lives at the address with a trailing slash.",
        404 => "Nothing here by that name.",
        405 => "This server only answers GET and HEAD.",
        412 => "This file is not the version the request was made for.",
        416 => "None of the bytes asked for are in this file.",
        _ => "",
    }
}

/// The `Date` header's value, formatted once per second rather than once per
/// response, and read from the system clock only then: in between, the
/// loop's turn time (which costs nothing) says whether the second is over.
#[derive(Default)]
pub struct Clock {
    text: String,
    /// The turn time from which the text is out of date (the next whole
    /// second, as the monotonic clock sees it).
    until: Option<Instant>,
}

impl Clock {
    /// The date at `turn`, the time the current turn of the loop began.
    pub fn now(&mut self, turn: Instant) -> &str {
        if self.until.is_some_and(|until| turn < until) {
            return &self.text;
        }
        let now = SystemTime::now();
        let into_second = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        self.text = httpdate::fmt_http_date(now);
        // `turn` is no later than `now`, so this errs early, never late.
        let rest = Duration::from_nanos(u64::from(1_000_000_000 - into_second));
        self.until = Some(turn + rest);
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_layout() {
        let mut head = Vec::new();
        Head::new(
            &mut head,
            404,
            "Thu, 01 Jan 1970 00:00:00 GMT",
            Persist::Close,
        )
        .header("Content-Length", 5)
        .finish();
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "HTTP/1.1 404 Not Found\r\nServer: sockloop\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n\
             Connection: close\r\nContent-Length: 5\r\n\r\n"
        );
    }

    #[test]
    fn clock_formats_http_dates() {
        let mut clock = Clock::default();
        let turn = Instant::now();
        let text = clock.now(turn).to_string();
        assert!(httpdate::parse_http_date(&text).is_ok(), "{text}");
        assert_eq!(clock.now(turn), text, "the same second");
        let later = clock.now(turn + Duration::from_secs(1)).to_string();
        assert!(httpdate::parse_http_date(&later).is_ok(), "{later}");
        assert!(
            clock
                .until
                .is_some_and(|until| until > turn + Duration::from_secs(1))
        );
    }
}
