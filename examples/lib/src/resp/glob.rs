//! Glob-style patterns, as KEYS, SCAN MATCH and PSUBSCRIBE read them
//! (Redis's `stringmatchlen`): `*` any run of bytes, `?` any one byte,
//! `[abc]`, `[^abc]` and `[a-z]` one byte of (or not of) a set, `\x` the
//! byte `x` itself. Byte for byte, no case folding.

/// Whether `string` matches `pattern`.
pub fn matches(pattern: &[u8], string: &[u8]) -> bool {
    let mut give_up = false;
    match_from(pattern, string, &mut give_up)
}

/// Whether `pattern` matches every string: the commands skip matching then
/// (a lone `*`; Redis's own test, which also lets the empty key through).
pub fn matches_all(pattern: &[u8]) -> bool {
    pattern == b"*"
}

/// `give_up` is set once the rest of a pattern after a `*` matched nowhere
/// in the rest of the string: a longer match for an earlier `*` cannot help
/// then, which keeps patterns like `a*a*a*a*b` from taking exponential time.
fn match_from(pattern: &[u8], string: &[u8], give_up: &mut bool) -> bool {
    // Past the end reads as 0, like the C string's terminator.
    let at = |i: usize| pattern.get(i).copied().unwrap_or(0);
    let (mut p, mut s) = (0, 0);
    while p < pattern.len() && s < string.len() {
        match pattern[p] {
            b'*' => {
                while p + 1 < pattern.len() && pattern[p + 1] == b'*' {
                    p += 1;
                }
                if p + 1 == pattern.len() {
                    return true;
                }
                while s < string.len() {
                    if match_from(&pattern[p + 1..], &string[s..], give_up) {
                        return true;
                    }
                    if *give_up {
                        return false;
                    }
                    s += 1;
                }
                *give_up = true;
                return false;
            }
            b'?' => s += 1,
            b'[' => {
                p += 1;
                let negate = at(p) == b'^';
                if negate {
                    p += 1;
                }
                let c = string[s];
                let mut matched = false;
                loop {
                    if at(p) == b'\\' && pattern.len() - p >= 2 {
                        p += 1;
                        matched |= pattern[p] == c;
                    } else if at(p) == b']' {
                        break;
                    } else if p >= pattern.len() {
                        // An unterminated set: step back so the loop's own
                        // step lands on the end.
                        p -= 1;
                        break;
                    } else if pattern.len() - p >= 3 && pattern[p + 1] == b'-' {
                        let (a, b) = (pattern[p], pattern[p + 2]);
                        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                        p += 2;
                        matched |= (lo..=hi).contains(&c);
                    } else {
                        matched |= pattern[p] == c;
                    }
                    p += 1;
                }
                if matched == negate {
                    return false;
                }
                s += 1;
            }
            first => {
                let literal = if first == b'\\' && pattern.len() - p >= 2 {
                    p += 1;
                    pattern[p]
                } else {
                    first
                };
                if literal != string[s] {
                    return false;
                }
                s += 1;
            }
        }
        p += 1;
        if s == string.len() {
            while at(p) == b'*' && p < pattern.len() {
                p += 1;
            }
            break;
        }
    }
    p >= pattern.len() && s == string.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_as_redis_reads_them() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "anything", true),
            ("*", "", false), // the commands special-case a lone `*`
            ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("h*llo", "heeeello", true),
            ("h*llo", "hllo", true),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-b]llo", "hbllo", true),
            ("h[b-a]llo", "hbllo", true),
            ("h[a-b]llo", "hcllo", false),
            ("h\\*llo", "h*llo", true),
            ("h\\*llo", "hallo", false),
            ("key:*", "key:1", true),
            ("key:*", "key:", true),
            ("key:*", "ke", false),
            ("a*", "a", true),
            ("a**", "a", true),
            ("*a", "ba", true),
            ("*a", "ab", false),
            ("[abc", "a", true),
            ("[abc", "ab", false),
            ("a[", "a[", false),
            ("\\", "\\", true),
            ("[\\]]", "]", true),
            ("", "", true),
            ("", "a", false),
            (
                "a*a*a*a*a*a*a*a*a*b",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                false,
            ),
        ];
        for (pattern, string, want) in cases {
            assert_eq!(
                matches(pattern.as_bytes(), string.as_bytes()),
                *want,
                "{pattern:?} against {string:?}"
            );
        }
    }
}
