//! Writing response heads and the small pages that explain an error.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// The reason phrase for each status this server sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        414 => "URI Too Long",
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
/// carries, then whatever the caller adds, then [`Head::finish`].
pub struct Head(String);

impl Head {
    pub fn new(status: u16, date: &str, persist: Persist) -> Head {
        let mut head = String::with_capacity(256);
        let _ = write!(
            head,
            "HTTP/1.1 {status} {}\r\nServer: sockloop\r\nDate: {date}\r\n",
            reason(status)
        );
        match persist {
            Persist::Implicit => {}
            Persist::KeepAlive => head.push_str("Connection: keep-alive\r\n"),
            Persist::Close => head.push_str("Connection: close\r\n"),
        }
        Head(head)
    }

    pub fn header(mut self, name: &str, value: impl std::fmt::Display) -> Head {
        let _ = write!(self.0, "{name}: {value}\r\n");
        self
    }

    pub fn finish(mut self) -> String {
        self.0.push_str("\r\n");
        self.0
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

/// What each error page says.
pub fn detail(status: u16) -> &'static str {
    match status {
        301 => "This directory lives at the address with a trailing slash.",
        400 => "The server could not understand this request.",
        404 => "Nothing here by that name.",
        405 => "This server only answers GET and HEAD.",
        408 => "The request took too long to arrive.",
        414 => "The request line is longer than 8 KiB.",
        431 => "The request head is longer than 8 KiB.",
        505 => "This server speaks HTTP/1.0 and HTTP/1.1.",
        _ => "",
    }
}

/// The `Date` header's value, formatted once per second rather than once per
/// response.
#[derive(Default)]
pub struct Clock {
    second: u64,
    text: String,
}

impl Clock {
    pub fn now(&mut self) -> &str {
        let now = SystemTime::now();
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if second != self.second || self.text.is_empty() {
            self.second = second;
            self.text = httpdate::fmt_http_date(now);
        }
        &self.text
    }
}

/// A file's modification time as it appears in `Last-Modified`: whole
/// seconds, which is also how `If-Modified-Since` is compared.
pub fn whole_seconds(time: SystemTime) -> SystemTime {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    UNIX_EPOCH + std::time::Duration::from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_layout() {
        let head = Head::new(404, "Thu, 01 Jan 1970 00:00:00 GMT", Persist::Close)
            .header("Content-Length", 5)
            .finish();
        assert_eq!(
            head,
            "HTTP/1.1 404 Not Found\r\nServer: sockloop\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n\
             Connection: close\r\nContent-Length: 5\r\n\r\n"
        );
    }

    #[test]
    fn clock_formats_http_dates() {
        let mut clock = Clock::default();
        let text = clock.now().to_string();
        assert!(httpdate::parse_http_date(&text).is_ok(), "{text}");
    }
}
