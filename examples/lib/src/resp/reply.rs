//! RESP2 replies, encoded into a buffer the connection reuses: simple
//! strings, errors, integers, bulk strings, nil, arrays.

/// A connection's pending replies. The buffer keeps its capacity between
/// requests, so encoding a reply allocates nothing.
#[derive(Default)]
pub struct Reply {
    pub buf: Vec<u8>,
}

pub const OK: &[u8] = b"+OK\r\n";
pub const PONG: &[u8] = b"+PONG\r\n";
pub const NIL: &[u8] = b"$-1\r\n";
pub const NULL_ARRAY: &[u8] = b"*-1\r\n";
pub const EMPTY_ARRAY: &[u8] = b"*0\r\n";
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const NOT_AN_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
pub const SYNTAX: &str = "ERR syntax error";

impl Reply {
    /// Bytes already encoded.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
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

    pub fn array(&mut self, len: usize) {
        self.header(b'*', len as i64);
    }

    /// `prefix`, the number in decimal, CRLF.
    fn header(&mut self, prefix: u8, n: i64) {
        let mut digits = [0; 20];
        self.buf.push(prefix);
        self.buf.extend_from_slice(format_i64(n, &mut digits));
        self.buf.extend_from_slice(b"\r\n");
    }
}

/// Formats `n` in decimal into the end of `buf` without allocating (the
/// `itoa` idea: digits from the right, two at a time).
pub fn format_i64(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut v = n.unsigned_abs();
    let mut at = buf.len();
    while v >= 100 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if v >= 10 {
        let pair = v as usize * 2;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        buf[at] = b'0' + v as u8;
    }
    if n < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    &buf[at..]
}

/// Redis's `string2ll`: a strict decimal i64. No sign but a leading `-`, no
/// spaces, no leading zeros ("01", "-0"), nothing out of range.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s {
        [b'0'] => return Some(0),
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') if digits.len() <= 19 => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(v)
    } else {
        i64::try_from(v).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_format_like_display() {
        let mut buf = [0; 20];
        for n in [
            0,
            7,
            -7,
            10,
            99,
            100,
            12345,
            -100000,
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
        ] {
            assert_eq!(format_i64(n, &mut buf), n.to_string().as_bytes());
        }
    }

    #[test]
    fn integers_parse_as_strictly_as_redis() {
        for (s, want) in [
            ("0", Some(0)),
            ("12", Some(12)),
            ("-12", Some(-12)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("-9223372036854775809", None),
            ("99999999999999999999", None),
            ("01", None),
            ("-0", None),
            ("+1", None),
            (" 1", None),
            ("1 ", None),
            ("-", None),
            ("", None),
            ("1x", None),
        ] {
            assert_eq!(parse_i64(s.as_bytes()), want, "{s:?}");
        }
    }

    #[test]
    fn replies_are_resp2() {
        let mut r = Reply::default();
        r.int(-3);
        r.bulk(b"hi");
        r.bulk(b"");
        r.array(2);
        r.error("ERR x");
        r.error_quoting(&[b"ERR '", b"a\r\nb", b"'"]);
        assert_eq!(
            r.buf,
            b":-3\r\n$2\r\nhi\r\n$0\r\n\r\n*2\r\n-ERR x\r\n-ERR 'a  b'\r\n"
        );
    }
}
