//! The `Range` header (RFC 9110 section 14): which bytes of a file a client
//! asks for, resolved against the file's length.
//!
//! One range gets 206 with those bytes. Several ranges that overlap or
//! touch are merged first (`0-99,100-199` is `0-199`); if they are still
//! several, the whole file is sent with 200, which the RFC allows (a server
//! may ignore `Range`) and every client accepts, rather than a
//! `multipart/byteranges` body: downloaders and media players ask for one
//! range, and many disjoint ranges of one file are a known way to make a
//! server do much work for little request. A header that is not a valid
//! byte-range set is ignored the same way.

/// Most ranges read from one header; a longer list is ignored (200).
pub const MAX_RANGES: usize = 64;

/// What a `Range` header asks of a file of a given length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranges {
    /// No usable range (not `bytes`, malformed, several disjoint ranges):
    /// send the whole file.
    Whole,
    /// These bytes, `first..=last`: 206.
    One { first: u64, last: u64 },
    /// None of the ranges has a byte in the file: 416.
    Unsatisfiable,
}

/// Resolves the value of a `Range` header against a file of `len` bytes.
pub fn resolve(value: &str, len: u64) -> Ranges {
    let Some(set) = value
        .split_once('=')
        .filter(|(unit, _)| unit.trim().eq_ignore_ascii_case("bytes"))
        .map(|(_, set)| set)
    else {
        return Ranges::Whole;
    };
    let mut wanted: Vec<(u64, u64)> = Vec::new();
    let mut any = false;
    for spec in set.split(',').map(|s| s.trim_matches([' ', '\t'])) {
        if spec.is_empty() {
            continue; // empty list elements are allowed (RFC 9110 section 5.6.1)
        }
        any = true;
        if wanted.len() == MAX_RANGES {
            return Ranges::Whole;
        }
        let Some((first, last)) = spec.split_once('-') else {
            return Ranges::Whole;
        };
        let range = match (number(first), number(last)) {
            // `-n`: the last n bytes.
            (None, Some(n)) if first.is_empty() => match n.min(len) {
                0 => None,
                n => Some((len - n, len - 1)),
            },
            // `a-`: from a to the end.
            (Some(a), None) if last.is_empty() => (a < len).then(|| (a, len - 1)),
            (Some(a), Some(b)) if a <= b => (a < len).then(|| (a, b.min(len - 1))),
            _ => return Ranges::Whole,
        };
        wanted.extend(range);
    }
    if !any {
        return Ranges::Whole;
    }
    wanted.sort_unstable();
    let mut merged = wanted.into_iter();
    let Some((first, mut last)) = merged.next() else {
        return Ranges::Unsatisfiable;
    };
    for (a, b) in merged {
        if a > last.saturating_add(1) {
            return Ranges::Whole;
        }
        last = last.max(b);
    }
    Ranges::One { first, last }
}

/// A decimal number (digits only); one too large for u64 reads as the
/// largest, which is past the end of any file. `None` if not digits.
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(first: u64, last: u64) -> Ranges {
        Ranges::One { first, last }
    }

    #[test]
    fn single_ranges_of_every_form() {
        let len = 1000;
        assert_eq!(resolve("bytes=0-99", len), one(0, 99));
        assert_eq!(resolve("bytes=500-", len), one(500, 999));
        assert_eq!(resolve("bytes=-100", len), one(900, 999));
        assert_eq!(
            resolve("bytes=-5000", len),
            one(0, 999),
            "a suffix longer than the file"
        );
        assert_eq!(
            resolve("bytes=990-5000", len),
            one(990, 999),
            "a last byte past the end"
        );
        assert_eq!(resolve("BYTES = 1-1", len), one(1, 1));
        assert_eq!(
            resolve("bytes=999-99999999999999999999999", len),
            one(999, 999)
        );
    }

    #[test]
    fn unsatisfiable_ranges() {
        assert_eq!(resolve("bytes=1000-", 1000), Ranges::Unsatisfiable);
        assert_eq!(resolve("bytes=1000-2000", 1000), Ranges::Unsatisfiable);
        assert_eq!(resolve("bytes=-0", 1000), Ranges::Unsatisfiable);
        assert_eq!(
            resolve("bytes=0-", 0),
            Ranges::Unsatisfiable,
            "an empty file"
        );
        assert_eq!(resolve("bytes=-10", 0), Ranges::Unsatisfiable);
        assert_eq!(
            resolve("bytes=2000-,3000-3001", 1000),
            Ranges::Unsatisfiable
        );
    }

    #[test]
    fn several_ranges_merge_or_fall_back_to_the_whole() {
        assert_eq!(resolve("bytes=0-99,100-199", 1000), one(0, 199));
        assert_eq!(resolve("bytes=100-199, 0-150", 1000), one(0, 199));
        assert_eq!(
            resolve("bytes=0-9,5000-6000", 1000),
            one(0, 9),
            "only one is satisfiable"
        );
        assert_eq!(resolve("bytes=0-9,,20-29", 1000), Ranges::Whole);
        assert_eq!(resolve("bytes=0-0,-1", 1000), Ranges::Whole);
        let many: Vec<String> = (0..=MAX_RANGES).map(|i| format!("{i}-{i}")).collect();
        assert_eq!(
            resolve(&format!("bytes={}", many.join(",")), 1000),
            Ranges::Whole
        );
    }

    #[test]
    fn malformed_headers_are_ignored() {
        for value in [
            "bytes=",
            "bytes=,",
            "bytes=a-b",
            "bytes=5-1",
            "bytes=1",
            "bytes=--1",
            "bytes=+1-2",
            "bytes=1 -2",
            "items=0-1",
            "0-1",
            "bytes=0-1,x",
        ] {
            assert_eq!(resolve(value, 1000), Ranges::Whole, "{value}");
        }
    }
}
