//! Conditional and range requests (RFC 9110 sections 13 and 14): what a
//! GET or HEAD gets, given the validators of the file it names.
//!
//! The order is the RFC's (section 13.2.2): `If-Match` first (no tag that
//! matches strongly is 412, and when it is present `If-Unmodified-Since` is
//! not looked at), else `If-Unmodified-Since` (a file modified after its
//! date is 412); then `If-None-Match` (a matching tag is 304, and when it
//! is present `If-Modified-Since` is not looked at); else
//! `If-Modified-Since`, unless its date is not a valid date in the past;
//! then `Range`, if `If-Range` (an entity tag compared
//! strongly, or the exact `Last-Modified` date once that date is a strong
//! validator) still holds, else the whole file.

use std::time::SystemTime;

use crate::http::range::{self, Ranges};
use crate::http::representation::Representation;
use crate::http::request::Request;

/// How to answer a GET or HEAD for a representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 200 with the whole body.
    Full,
    /// 304: the client's copy is current.
    NotModified,
    /// 412: `If-Match` or `If-Unmodified-Since` says the client expected
    /// another version of the file.
    PreconditionFailed,
    /// 206 with bytes `first..=last`.
    Partial { first: u64, last: u64 },
    /// 416: no byte asked for is in the file.
    Unsatisfiable,
}

/// Decides the answer to `request` for `rep`, at wall-clock time `now`.
pub fn evaluate(request: &Request<'_>, rep: &Representation, now: SystemTime) -> Answer {
    if let Some(tags) = request.if_match {
        if !matches_strongly(tags, &rep.etag) {
            return Answer::PreconditionFailed;
        }
    } else if let Some(since) = request.if_unmodified_since {
        // A file without a modification time cannot be said to be newer.
        let newer = rep.modified.as_ref().is_some_and(|(m, _)| *m > since);
        if newer {
            return Answer::PreconditionFailed;
        }
    }
    if let Some(tags) = request.if_none_match {
        if matches_any(tags, &rep.etag) {
            return Answer::NotModified;
        }
    } else if let Some(since) = request.if_modified_since {
        // A date in the future is no date at all (RFC 9110 section 13.1.3):
        // a client cannot have a copy from then.
        let current = rep.modified.as_ref().is_some_and(|(m, _)| *m <= since);
        if since <= now && current {
            return Answer::NotModified;
        }
    }
    let Some(range) = request.range else {
        return Answer::Full;
    };
    if let Some(condition) = request.if_range
        && !if_range_holds(condition, rep, now)
    {
        return Answer::Full;
    }
    match range::resolve(range, rep.len) {
        Ranges::Whole => Answer::Full,
        Ranges::One { first, last } => Answer::Partial { first, last },
        Ranges::Unsatisfiable => Answer::Unsatisfiable,
    }
}

/// `If-None-Match`: `*`, or a list of entity tags compared weakly (the
/// `W/` prefix ignored on both sides).
fn matches_any(list: &str, etag: &str) -> bool {
    if list.trim() == "*" {
        return true;
    }
    let ours = opaque(etag);
    tags(list).any(|(_, tag)| tag == ours)
}

/// `If-Match`: `*` (the file exists), or a list with a strong tag equal to
/// ours (ours are always strong; weak tags never match: the client wants
/// these very bytes).
fn matches_strongly(list: &str, etag: &str) -> bool {
    list.trim() == "*" || tags(list).any(|(weak, tag)| !weak && tag == etag)
}

/// `If-Range`: an entity tag must match strongly (not weak, same bytes);
/// a date must be exactly `Last-Modified`, and that date a strong validator.
fn if_range_holds(condition: &str, rep: &Representation, now: SystemTime) -> bool {
    let condition = condition.trim();
    if condition.starts_with('"') || condition.starts_with("W/") {
        return condition == rep.etag && !condition.starts_with("W/");
    }
    match (httpdate::parse_http_date(condition), &rep.modified) {
        (Ok(date), Some((modified, _))) => date == *modified && rep.modified_is_strong(now),
        _ => false,
    }
}

/// The entity tags of a list (`"a", W/"b"`), each with whether it is weak
/// and its opaque part (quotes included). Stops at anything malformed.
fn tags(list: &str) -> impl Iterator<Item = (bool, &str)> {
    let mut rest = list;
    std::iter::from_fn(move || {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        let weak = rest.starts_with("W/");
        let tag = rest.strip_prefix("W/").unwrap_or(rest);
        let end = tag.strip_prefix('"')?.find('"')? + 2;
        rest = &tag[end..];
        Some((weak, &tag[..end]))
    })
}

/// An entity tag without its weakness prefix.
fn opaque(etag: &str) -> &str {
    etag.strip_prefix("W/").unwrap_or(etag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::files::Version;
    use crate::http::representation::ContentType;
    use crate::http::request::{Head, parse_head};
    use std::time::{Duration, UNIX_EPOCH};

    /// A 1000-byte file modified at second 1,000,000.
    fn rep() -> Representation {
        let version = Version {
            dev: 0,
            ino: 0,
            len: 1000,
            mtime: (1_000_000, 0),
            ctime: (1_000_000, 0),
        };
        let modified = UNIX_EPOCH + Duration::from_secs(1_000_000);
        Representation::new(ContentType::HTML, None, &version, Some(modified), false)
    }

    fn date(secs: u64) -> String {
        httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
    }

    /// The answer to a GET with `headers`, at second 2,000,000.
    fn answer(headers: &[(&str, &str)]) -> Answer {
        let mut head = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let Head::Complete(request, _) = parse_head(head.as_bytes()) else {
            panic!("{head}")
        };
        evaluate(
            &request,
            &rep(),
            UNIX_EPOCH + Duration::from_secs(2_000_000),
        )
    }

    #[test]
    fn if_none_match() {
        let etag = rep().etag;
        assert_eq!(answer(&[("If-None-Match", &etag)]), Answer::NotModified);
        assert_eq!(answer(&[("If-None-Match", "*")]), Answer::NotModified);
        let list = format!("\"x\", W/{etag} ,\"y\"");
        assert_eq!(
            answer(&[("If-None-Match", &list)]),
            Answer::NotModified,
            "weak comparison"
        );
        assert_eq!(answer(&[("If-None-Match", "\"other\"")]), Answer::Full);
        assert_eq!(
            answer(&[("If-None-Match", "\"a,b\", garbage")]),
            Answer::Full
        );
        // Present and not matching: If-Modified-Since is not looked at.
        let ims = date(1_500_000);
        assert_eq!(
            answer(&[("If-None-Match", "\"other\""), ("If-Modified-Since", &ims)]),
            Answer::Full
        );
        assert_eq!(
            answer(&[("If-Modified-Since", &ims), ("If-None-Match", &etag)]),
            Answer::NotModified
        );
    }

    #[test]
    fn if_match_and_if_unmodified_since() {
        let etag = rep().etag;
        let failed = Answer::PreconditionFailed;
        assert_eq!(answer(&[("If-Match", &etag)]), Answer::Full);
        assert_eq!(answer(&[("If-Match", "*")]), Answer::Full);
        let list = format!("\"x\", {etag}");
        assert_eq!(answer(&[("If-Match", &list)]), Answer::Full);
        assert_eq!(answer(&[("If-Match", "\"other\"")]), failed);
        let weak = format!("W/{etag}");
        assert_eq!(answer(&[("If-Match", &weak)]), failed, "compared strongly");
        assert_eq!(answer(&[("If-Match", "garbage")]), failed);
        assert_eq!(
            answer(&[("If-Unmodified-Since", &date(1_000_000))]),
            Answer::Full
        );
        assert_eq!(answer(&[("If-Unmodified-Since", &date(999_999))]), failed);
        assert_eq!(
            answer(&[("If-Unmodified-Since", "not a date")]),
            Answer::Full,
            "an invalid date is ignored"
        );
        // If-Match present: If-Unmodified-Since is not looked at.
        assert_eq!(
            answer(&[("If-Match", &etag), ("If-Unmodified-Since", &date(1))]),
            Answer::Full
        );
        // Both kinds: 412 comes before 304, and before any range.
        assert_eq!(
            answer(&[("If-Match", "\"other\""), ("If-None-Match", "*")]),
            failed
        );
        assert_eq!(
            answer(&[("If-Match", &etag), ("Range", "bytes=0-9")]),
            Answer::Partial { first: 0, last: 9 }
        );
        assert_eq!(
            answer(&[("If-Unmodified-Since", &date(5)), ("Range", "bytes=0-9")]),
            failed
        );
    }

    #[test]
    fn if_modified_since() {
        assert_eq!(
            answer(&[("If-Modified-Since", &date(1_000_000))]),
            Answer::NotModified
        );
        assert_eq!(
            answer(&[("If-Modified-Since", &date(1_500_000))]),
            Answer::NotModified
        );
        assert_eq!(
            answer(&[("If-Modified-Since", &date(999_999))]),
            Answer::Full
        );
        assert_eq!(
            answer(&[("If-Modified-Since", &date(3_000_000))]),
            Answer::Full,
            "a date in the future is ignored"
        );
        assert_eq!(answer(&[("If-Modified-Since", "yesterday")]), Answer::Full);
    }

    #[test]
    fn ranges_and_if_range() {
        let etag = rep().etag;
        let partial = Answer::Partial { first: 0, last: 99 };
        assert_eq!(answer(&[("Range", "bytes=0-99")]), partial);
        assert_eq!(
            answer(&[("Range", "bytes=0-99"), ("If-Range", &etag)]),
            partial
        );
        let weak = format!("W/{etag}");
        assert_eq!(
            answer(&[("Range", "bytes=0-99"), ("If-Range", &weak)]),
            Answer::Full
        );
        assert_eq!(
            answer(&[("Range", "bytes=0-99"), ("If-Range", "\"old\"")]),
            Answer::Full
        );
        let lm = date(1_000_000);
        assert_eq!(
            answer(&[("Range", "bytes=0-99"), ("If-Range", &lm)]),
            partial
        );
        let other = date(1_000_001);
        assert_eq!(
            answer(&[("Range", "bytes=0-99"), ("If-Range", &other)]),
            Answer::Full
        );
        assert_eq!(answer(&[("Range", "bytes=1000-")]), Answer::Unsatisfiable);
        assert_eq!(
            answer(&[("Range", "bytes=1000-"), ("If-Range", "\"old\"")]),
            Answer::Full
        );
        // A 304 comes before any range.
        assert_eq!(
            answer(&[("Range", "bytes=0-1"), ("If-None-Match", "*")]),
            Answer::NotModified
        );
    }

    #[test]
    fn if_range_by_date_needs_a_strong_last_modified() {
        let rep = rep();
        let (modified, text) = rep.modified.clone().unwrap();
        assert!(if_range_holds(
            &text,
            &rep,
            modified + Duration::from_secs(1)
        ));
        assert!(!if_range_holds(
            &text,
            &rep,
            modified + Duration::from_millis(999)
        ));
    }
}
