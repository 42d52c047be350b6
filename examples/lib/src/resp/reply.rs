//! Replies, encoded into a buffer the connection reuses, in the protocol
//! the client chose: RESP2, or RESP3 after `HELLO 3`.
//!
//! RESP3 gives types RESP2 flattens: a map (`%`) is an array of pairs in
//! RESP2, a set (`~`) an array, a double (`,`) a bulk string, null (`_`)
//! `$-1` or `*-1`, a push (`>`, pub/sub messages) an array, a verbatim
//! string (`=`, INFO) a bulk string. Commands say which they mean, and
//! the connection's [`Reply`] writes it as its client reads it.

use crate::resp::float::format_f64;
use crate::resp::int::format_i64;

/// A connection's pending replies. The buffer keeps its capacity between
/// requests, so encoding a reply allocates nothing.
#[derive(Default)]
pub struct Reply {
    /// The encoded bytes not yet handed to the reactor.
    pub buf: Vec<u8>,
    /// The client speaks RESP3.
    pub resp3: bool,
}

pub const OK: &[u8] = b"+OK\r\n";
pub const PONG: &[u8] = b"+PONG\r\n";
pub const QUEUED: &[u8] = b"+QUEUED\r\n";
pub const EMPTY_ARRAY: &[u8] = b"*0\r\n";
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const NOT_AN_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_A_FLOAT: &str = "ERR value is not a valid float";
pub const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
pub const SYNTAX: &str = "ERR syntax error";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const OUT_OF_RANGE: &str = "ERR index out of range";

impl Reply {
    /// A reply buffer for a client speaking RESP2.
    pub fn new() -> Reply {
        Reply::default()
    }

    /// Bytes already encoded.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// `+OK`.
    pub fn ok(&mut self) {
        self.raw(OK);
    }

    /// A simple string: `+text`.
    pub fn simple(&mut self, text: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(text.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error reply; `msg` starts with its code (`ERR`, `WRONGTYPE`).
    pub fn error(&mut self, msg: &str) {
        self.buf.push(b'-');
        self.buf.extend_from_slice(msg.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error whose text quotes the client (command names, arguments):
    /// CR and LF would end the reply early, so they become spaces, as Redis
    /// does.
    pub fn error_quoting(&mut self, parts: &[&[u8]]) {
        self.buf.push(b'-');
        for part in parts {
            self.buf.extend(
                part.iter()
                    .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
            );
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    pub fn bulk(&mut self, data: &[u8]) {
        self.header(b'$', data.len() as i64);
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string of an integer's digits.
    pub fn bulk_int(&mut self, n: i64) {
        let mut digits = [0; 20];
        self.bulk(format_i64(n, &mut digits));
    }

    pub fn array(&mut self, len: usize) {
        self.header(b'*', len as i64);
    }

    /// A map of `len` pairs (then `2 * len` replies, key, value, ...).
    pub fn map(&mut self, len: usize) {
        if self.resp3 {
            self.header(b'%', len as i64);
        } else {
            self.header(b'*', 2 * len as i64);
        }
    }

    /// A set of `len` members.
    pub fn set(&mut self, len: usize) {
        self.header(if self.resp3 { b'~' } else { b'*' }, len as i64);
    }

    /// A push of `len` elements (pub/sub messages).
    pub fn push(&mut self, len: usize) {
        self.header(if self.resp3 { b'>' } else { b'*' }, len as i64);
    }

    /// A missing value: `$-1`, or RESP3's null.
    pub fn null(&mut self) {
        self.raw(if self.resp3 { b"_\r\n" } else { b"$-1\r\n" });
    }

    /// A missing array: `*-1`, or RESP3's null.
    pub fn null_array(&mut self) {
        self.raw(if self.resp3 { b"_\r\n" } else { b"*-1\r\n" });
    }

    /// A double as `%.17g`: RESP3's double, or a bulk string.
    pub fn double(&mut self, v: f64) {
        let mut buf = [0; 32];
        let text = format_f64(v, &mut buf);
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// Text for people (INFO, CLIENT LIST): RESP3's verbatim string marked
    /// `txt`, or a bulk string.
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3 {
            self.header(b'=', text.len() as i64 + 4);
            self.buf.extend_from_slice(b"txt:");
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// `prefix`, the number in decimal, CRLF.
    fn header(&mut self, prefix: u8, n: i64) {
        let mut digits = [0; 20];
        self.buf.push(prefix);
        self.buf.extend_from_slice(format_i64(n, &mut digits));
        self.buf.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_resp2_unless_the_client_asked_for_resp3() {
        let mut r = Reply::default();
        r.int(-3);
        r.bulk(b"hi");
        r.bulk(b"");
        r.array(2);
        r.error("ERR x");
        r.error_quoting(&[b"ERR '", b"a\r\nb", b"'"]);
        r.map(1);
        r.set(2);
        r.null();
        r.null_array();
        r.double(1.5);
        r.verbatim(b"a:1");
        assert_eq!(
            String::from_utf8_lossy(&r.buf),
            ":-3\r\n$2\r\nhi\r\n$0\r\n\r\n*2\r\n-ERR x\r\n-ERR 'a  b'\r\n\
             *2\r\n*2\r\n$-1\r\n*-1\r\n$3\r\n1.5\r\n$3\r\na:1\r\n"
        );
        let mut r = Reply {
            resp3: true,
            ..Reply::default()
        };
        r.map(1);
        r.set(2);
        r.push(3);
        r.null();
        r.null_array();
        r.double(1.5);
        r.verbatim(b"a:1");
        assert_eq!(
            String::from_utf8_lossy(&r.buf),
            "%1\r\n~2\r\n>3\r\n_\r\n_\r\n,1.5\r\n=7\r\ntxt:a:1\r\n"
        );
    }
}
