//! Floating point as Redis 7.0 reads and writes it, byte for byte.
//!
//! - Scores (ZADD, ZINCRBY, ranges) are C `double`s read by `strtod` (so
//!   `0x1p3`, `inf` and `1e3` are numbers) and written with `%.17g`.
//! - INCRBYFLOAT and HINCRBYFLOAT compute in the x87's 80-bit `long
//!   double` and write the result with 17 decimals, trailing zeros cut
//!   (`10.5` plus `0.1` is `10.6`, where a `double` would print
//!   `10.59999999999999964`). Rust has no such type, so [`LongDouble`]
//!   does that arithmetic exactly: parse correctly rounded to 64 bits of
//!   mantissa, add, round once, print the exact binary value.

use std::io::Write;

use crate::resp::bigint::{Big, Format, Rounded, round};

/// IEEE double.
const F64: Format = Format {
    precision: 53,
    min_exp: -1074,
    max_exp: 1023,
};

/// x87 extended precision.
const F80: Format = Format {
    precision: 64,
    min_exp: -16445,
    max_exp: 16383,
};

/// Redis's `string2ld` refuses longer input (`MAX_LONG_DOUBLE_CHARS`).
const MAX_CHARS: usize = 5 * 1024;

/// What `strtod`'s grammar makes of a whole string.
enum Parsed {
    Number(bool, Rounded),
    Infinity(bool),
    NotANumber,
}

/// C's `isspace`.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// The whole of `s` as `strtod` reads a number, rounded to `format`;
/// `None` if anything is left over, as Redis's checks require.
fn parse_exact(s: &[u8], format: Format) -> Option<Parsed> {
    if s.is_empty() || is_space(s[0]) {
        return None;
    }
    let (neg, rest) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest.eq_ignore_ascii_case(b"inf") || rest.eq_ignore_ascii_case(b"infinity") {
        return Some(Parsed::Infinity(neg));
    }
    if rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(b"nan") {
        let tail = &rest[3..];
        let bracketed = tail.len() >= 2
            && tail[0] == b'('
            && tail[tail.len() - 1] == b')'
            && tail[1..tail.len() - 1]
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'_');
        return (tail.is_empty() || bracketed).then_some(Parsed::NotANumber);
    }
    let hex = rest.len() > 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x';
    let (digits, radix, marker) = if hex {
        (&rest[2..], 16, b'p')
    } else {
        (rest, 10, b'e')
    };
    // Mantissa digits, with a point somewhere.
    let mut n = Big::default();
    let (mut count, mut after_point, mut seen_point, mut i) = (0u64, 0i64, false, 0);
    while i < digits.len() {
        let d = digits[i];
        if d == b'.' && !seen_point {
            seen_point = true;
        } else if let Some(v) = (d as char).to_digit(radix) {
            n.mul_add_small(radix, v);
            count += 1;
            after_point += i64::from(seen_point);
        } else {
            break;
        }
        i += 1;
    }
    if count == 0 {
        return None;
    }
    // The exponent: decimal digits after `e` or `p`, saturated.
    let mut exp: i64 = 0;
    if i < digits.len() {
        if digits[i] | 0x20 != marker {
            return None;
        }
        i += 1;
        let negative = match digits.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        while let Some(d) = digits.get(i).filter(|d| d.is_ascii_digit()) {
            exp = (exp * 10 + i64::from(d - b'0')).min(1 << 40);
            i += 1;
        }
        if i == start || i < digits.len() {
            return None;
        }
        if negative {
            exp = -exp;
        }
    }
    if n.is_zero() {
        return Some(Parsed::Number(neg, Rounded::Zero { exact: true }));
    }
    let rounded = if hex {
        round(&n, exp - 4 * after_point, false, format)
    } else {
        decimal(n, exp - after_point, format)
    };
    Some(Parsed::Number(neg, rounded))
}

/// `n * 10^exp`, rounded.
fn decimal(mut n: Big, exp: i64, format: Format) -> Rounded {
    // Far outside any format's range: no need to build the number.
    let magnitude = n.bits() as i64 * 3 / 10 + exp;
    if magnitude > 5000 {
        return Rounded::Infinite;
    }
    if magnitude < -5100 {
        return Rounded::Zero { exact: false };
    }
    if exp >= 0 {
        n.mul_pow10(exp as u64);
        return round(&n, 0, false, format);
    }
    // n / 10^k = (n << s) / 5^k * 2^-(k + s), with s large enough that the
    // quotient keeps every bit the rounding looks at.
    let k = exp.unsigned_abs();
    let wanted = format.precision + 3 + k * 233 / 100 + 1;
    let shift = wanted.saturating_sub(n.bits());
    n.shl(shift);
    let inexact = n.div_pow5(k);
    round(&n, -(k as i64) - shift as i64, inexact, format)
}

/// A score, by Redis's `getDoubleFromObject`: `strtod` of the whole
/// string, no leading space, no NaN, nothing that overflowed or underflowed
/// to zero.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.first().is_none_or(|&b| is_space(b)) {
        return None;
    }
    parse_double(s, true)
}

/// The whole of `s` as C's `strtod` reads it with no checks on range, as
/// the bounds of ZRANGEBYSCORE are read: leading white space is skipped,
/// an empty string is 0, a number too large is infinite.
pub fn strtod(s: &[u8]) -> Option<f64> {
    if s.is_empty() {
        return Some(0.0);
    }
    let start = s.iter().position(|&b| !is_space(b))?;
    parse_double(&s[start..], false)
}

/// `strtod` of all of `s` (which starts with no space); `strict` refuses
/// overflow, underflow to zero and NaN.
fn parse_double(s: &[u8], strict: bool) -> Option<f64> {
    let text = std::str::from_utf8(s).ok()?;
    let unsigned = text.trim_start_matches(['+', '-']);
    let is_hex = unsigned.len() > 1
        && unsigned.as_bytes()[0] == b'0'
        && (unsigned.as_bytes()[1] | 0x20) == b'x';
    if !is_hex {
        // std's parser rounds correctly and reads the same decimal syntax
        // (and `inf`, `infinity`, `nan`); it lets overflow and underflow
        // through silently, as strtod does (strtod only sets errno).
        if text.len() != text.trim_end().len() || text.len() > unsigned.len() + 1 {
            return None;
        }
        let v: f64 = text.parse().ok()?;
        if !strict {
            return Some(v);
        }
        let literal_inf = unsigned
            .as_bytes()
            .first()
            .is_some_and(|b| b | 0x20 == b'i');
        let nonzero_digits = text
            .bytes()
            .take_while(|&b| b | 0x20 != b'e')
            .any(|b| (b'1'..=b'9').contains(&b));
        return match v {
            v if v.is_nan() => None,
            v if v.is_infinite() && !literal_inf => None,
            v if v == 0.0 && nonzero_digits => None,
            v => Some(v),
        };
    }
    match parse_exact(s, F64)? {
        Parsed::Number(neg, Rounded::Finite { mantissa, exp }) => {
            let bits = if mantissa >> 52 == 1 {
                (((exp + 52 + 1023) as u64) << 52) | (mantissa & ((1 << 52) - 1))
            } else {
                mantissa // subnormal: exp is the minimum
            };
            let v = f64::from_bits(bits);
            Some(if neg { -v } else { v })
        }
        Parsed::Number(neg, Rounded::Zero { exact }) if exact || !strict => {
            Some(if neg { -0.0 } else { 0.0 })
        }
        Parsed::Number(neg, Rounded::Infinite) if !strict => Some(if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }),
        Parsed::Infinity(neg) => Some(if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }),
        _ => None,
    }
}

/// `v` as C's `printf("%.17g")` writes it, into `buf` (`inf` and `-inf`
/// as Redis spells them).
pub fn format_f64(v: f64, buf: &mut [u8; 32]) -> &[u8] {
    if v.is_infinite() {
        return if v > 0.0 { b"inf" } else { b"-inf" };
    }
    if v == 0.0 {
        return if v.is_sign_negative() { b"-0" } else { b"0" };
    }
    // 17 significant digits, correctly rounded, and the decimal exponent.
    let mut sci = [0u8; 32];
    let len = {
        let mut w = &mut sci[..];
        let _ = write!(w, "{:.16e}", v.abs());
        32 - w.len()
    };
    let sci = &sci[..len];
    let e_at = sci.iter().position(|&b| b == b'e').unwrap_or(len);
    let exp: i32 = std::str::from_utf8(&sci[e_at + 1..])
        .ok()
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    let mut digits = [0u8; 17];
    let mut n = 0;
    for &b in &sci[..e_at] {
        if b.is_ascii_digit() && n < 17 {
            digits[n] = b;
            n += 1;
        }
    }
    // %g drops trailing zeros.
    while n > 1 && digits[n - 1] == b'0' {
        n -= 1;
    }
    let mut out = 0;
    let mut put = |b: u8, out: &mut usize| {
        buf[*out] = b;
        *out += 1;
    };
    if v < 0.0 {
        put(b'-', &mut out);
    }
    if !(-4..17).contains(&exp) {
        put(digits[0], &mut out);
        if n > 1 {
            put(b'.', &mut out);
            for &d in &digits[1..n] {
                put(d, &mut out);
            }
        }
        put(b'e', &mut out);
        put(if exp < 0 { b'-' } else { b'+' }, &mut out);
        let e = exp.unsigned_abs();
        if e >= 100 {
            put(b'0' + (e / 100) as u8, &mut out);
        }
        put(b'0' + (e / 10 % 10) as u8, &mut out);
        put(b'0' + (e % 10) as u8, &mut out);
    } else if exp < 0 {
        put(b'0', &mut out);
        put(b'.', &mut out);
        for _ in 0..(-exp - 1) {
            put(b'0', &mut out);
        }
        for &d in &digits[..n] {
            put(d, &mut out);
        }
    } else {
        let int_digits = exp as usize + 1;
        for (i, &d) in digits
            .iter()
            .chain(std::iter::repeat(&b'0'))
            .take(int_digits)
            .enumerate()
        {
            put(if i < n { d } else { b'0' }, &mut out);
        }
        if n > int_digits {
            put(b'.', &mut out);
            for &d in &digits[int_digits..n] {
                put(d, &mut out);
            }
        }
    }
    &buf[..out]
}

/// An x87 `long double`: 64 bits of mantissa, exact arithmetic rounded
/// once per operation, as the FPU does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LongDouble {
    /// `mantissa * 2^exp`, negated when `neg`.
    Finite {
        neg: bool,
        mantissa: u64,
        exp: i64,
    },
    Zero {
        neg: bool,
    },
    Infinite {
        neg: bool,
    },
    NotANumber,
}

impl LongDouble {
    /// Redis's `string2ld`: `strtold` of the whole string, no leading
    /// space, no NaN, nothing that overflowed, or underflowed to zero.
    pub fn parse(s: &[u8]) -> Option<LongDouble> {
        if s.len() >= MAX_CHARS {
            return None;
        }
        match parse_exact(s, F80)? {
            Parsed::Number(neg, Rounded::Finite { mantissa, exp }) => {
                Some(LongDouble::Finite { neg, mantissa, exp })
            }
            Parsed::Number(neg, Rounded::Zero { exact: true }) => Some(LongDouble::Zero { neg }),
            Parsed::Infinity(neg) => Some(LongDouble::Infinite { neg }),
            _ => None,
        }
    }

    /// Whether it is neither infinite nor NaN.
    pub fn is_finite(self) -> bool {
        matches!(self, LongDouble::Finite { .. } | LongDouble::Zero { .. })
    }

    /// `self + other`, rounded to nearest.
    pub fn add(self, other: LongDouble) -> LongDouble {
        use LongDouble::*;
        match (self, other) {
            (NotANumber, _) | (_, NotANumber) => NotANumber,
            (Infinite { neg: a }, Infinite { neg: b }) if a != b => NotANumber,
            (Infinite { neg }, _) | (_, Infinite { neg }) => Infinite { neg },
            (Zero { neg: a }, Zero { neg: b }) => Zero { neg: a && b },
            (Zero { .. }, x) | (x, Zero { .. }) => x,
            (
                Finite {
                    neg: na,
                    mantissa: ma,
                    exp: ea,
                },
                Finite {
                    neg: nb,
                    mantissa: mb,
                    exp: eb,
                },
            ) => {
                let low = ea.min(eb);
                let mut a = Big::from_u64(ma);
                a.shl((ea - low) as u64);
                let mut b = Big::from_u64(mb);
                b.shl((eb - low) as u64);
                let neg = if na == nb {
                    a.add(&b);
                    na
                } else {
                    match a.cmp(&b) {
                        std::cmp::Ordering::Equal => return Zero { neg: false },
                        std::cmp::Ordering::Greater => {
                            a.sub(&b);
                            na
                        }
                        std::cmp::Ordering::Less => {
                            b.sub(&a);
                            a = b;
                            nb
                        }
                    }
                };
                match round(&a, low, false, F80) {
                    Rounded::Finite { mantissa, exp } => Finite { neg, mantissa, exp },
                    Rounded::Zero { .. } => Zero { neg },
                    Rounded::Infinite => Infinite { neg },
                }
            }
        }
    }

    /// Redis's `ld2string(.., LD_STR_HUMAN)`: `%.17Lf`, then trailing
    /// zeros (and a bare point) cut, and `-0` written `0`.
    pub fn to_human(self) -> String {
        let (neg, mantissa, exp) = match self {
            LongDouble::Infinite { neg } => return if neg { "-inf" } else { "inf" }.into(),
            LongDouble::NotANumber => return "nan".into(),
            LongDouble::Zero { .. } => return "0".into(),
            LongDouble::Finite { neg, mantissa, exp } => (neg, mantissa, exp),
        };
        // The exact value times 10^17, rounded to an integer, ties to even.
        let mut n = Big::from_u64(mantissa);
        n.mul_pow10(17);
        let scaled = if exp >= 0 {
            n.shl(exp as u64);
            n
        } else {
            let s = exp.unsigned_abs();
            let half = n.bit(s - 1);
            let below = s >= 2 && n.any_below(s - 1);
            n.shr(s);
            if half && (below || n.bit(0)) {
                n.add(&Big::from_u64(1));
            }
            n
        };
        let digits = scaled.to_decimal();
        let digits = format!("{digits:0>18}");
        let (int, frac) = digits.split_at(digits.len() - 17);
        let frac = frac.trim_end_matches('0');
        let mut s = String::with_capacity(digits.len() + 2);
        if neg {
            s.push('-');
        }
        s.push_str(int);
        if !frac.is_empty() {
            s.push('.');
            s.push_str(frac);
        }
        if s == "-0" { "0".into() } else { s }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g17(v: f64) -> String {
        let mut buf = [0; 32];
        String::from_utf8(format_f64(v, &mut buf).to_vec()).unwrap()
    }

    #[test]
    fn doubles_print_as_percent_17g() {
        for (v, want) in [
            (1.1, "1.1000000000000001"),
            (3.0, "3"),
            (1e300, "1.0000000000000001e+300"),
            (-2.5, "-2.5"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (123456789.125, "123456789.125"),
            (5e-324, "4.9406564584124654e-324"),
            (f64::INFINITY, "inf"),
        ] {
            assert_eq!(g17(v), want, "{v}");
        }
    }

    #[test]
    fn scores_parse_as_strtod_reads_them_and_redis_accepts() {
        for (s, want) in [
            ("1.5", Some(1.5)),
            ("+1.5", Some(1.5)),
            ("-.5", Some(-0.5)),
            ("5.", Some(5.0)),
            ("1e3", Some(1000.0)),
            ("0x10", Some(16.0)),
            ("0x1.8p1", Some(3.0)),
            ("-0x1p-2", Some(-0.25)),
            ("inf", Some(f64::INFINITY)),
            ("-Infinity", Some(f64::NEG_INFINITY)),
            ("3e-324", Some(5e-324)),
            ("nan", None),
            ("1e400", None),
            ("1e-400", None),
            (" 1", None),
            ("1 ", None),
            ("", None),
            ("0x", None),
            ("1e", None),
            ("abc", None),
        ] {
            assert_eq!(parse_f64(s.as_bytes()), want, "{s:?}");
        }
    }

    fn incr(start: &str, by: &str) -> String {
        let a = LongDouble::parse(start.as_bytes()).unwrap();
        let b = LongDouble::parse(by.as_bytes()).unwrap();
        a.add(b).to_human()
    }

    #[test]
    fn long_doubles_add_and_print_as_redis_does() {
        // Each checked against redis-server 7.0.15's INCRBYFLOAT.
        assert_eq!(incr("10.5", "0.1"), "10.6");
        assert_eq!(incr("0", "1e-20"), "0");
        assert_eq!(incr("0", "3.0e3"), "3000");
        assert_eq!(incr("0", "0x1p-3"), "0.125");
        assert_eq!(incr("1", "-1"), "0");
        assert_eq!(incr("-0.1", "0"), "-0.1");
        assert_eq!(incr("5.0e3", "2.0e2"), "5200");
        assert!(incr("0", "1e4000").starts_with("99999999999999999999654638730996237"));
        assert_eq!(LongDouble::parse(b"1e5000"), None);
        assert_eq!(LongDouble::parse(b"nan"), None);
        assert!(!LongDouble::parse(b"inf").unwrap().is_finite());
    }
}
