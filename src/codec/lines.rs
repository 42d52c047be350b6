//! Lines ended by `\n` (or `\r\n`): [`next_line`], and [`SkipLongLines`] for
//! a source that cannot be disconnected.

use super::FrameError;

/// Finds the next `\n`-terminated line at the start of `buf`.
///
/// Returns `Ok(Some((line, consumed)))` when `buf` holds a complete line.
/// `line` is its content without the `\n`, and without the `\r` just before
/// it if there is one, so `"hello\r\n"` and `"hello\n"` both give `hello`;
/// any other `\r` is kept. `consumed` counts every byte the line took in
/// `buf`, the line ending included: remove that many bytes before the next
/// call.
///
/// Returns `Ok(None)` when there is no complete line yet and what is buffered
/// still fits: at most `max` bytes, not counting one trailing `\r` that may
/// turn out to be the first half of a `\r\n`.
///
/// Returns `Err(FrameError::TooLong { max })` as soon as the line is certain
/// to be too long: a complete line whose content exceeds `max` bytes, or more
/// than `max` bytes of content buffered with no newline. `max` counts the
/// content only, never the `\r\n` or `\n`.
///
/// Only the first `max + 2` bytes of `buf` are searched (the longest allowed
/// line plus `\r\n`), so calling this again after every read costs at most
/// that much, however large the buffer has grown.
pub fn next_line(buf: &[u8], max: usize) -> Result<Option<(&[u8], usize)>, FrameError> {
    let window = &buf[..buf.len().min(max.saturating_add(2))];
    match window.iter().position(|&b| b == b'\n') {
        Some(newline) => {
            let line = &buf[..newline];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.len() > max {
                return Err(FrameError::TooLong { max });
            }
            Ok(Some((line, newline + 1)))
        }
        None => {
            // A trailing '\r' is not content yet: it may be followed by '\n'.
            let content = buf.strip_suffix(b"\r").unwrap_or(buf).len();
            if content > max {
                return Err(FrameError::TooLong { max });
            }
            Ok(None)
        }
    }
}

/// Line splitting for a source that cannot be disconnected, such as the
/// server's own terminal: a line longer than `max` is dropped up to its
/// newline instead of being an error, and the lines after it go on.
#[derive(Debug, Default)]
pub struct SkipLongLines {
    /// Inside a line that was too long: drop bytes up to its newline.
    skipping: bool,
}

impl SkipLongLines {
    /// Calls `on_line` for each complete line of at most `max` bytes (as
    /// [`next_line`] gives it) and `on_too_long` once for each longer one.
    /// Returns how many bytes of `data` were consumed, for `data_received`.
    pub fn feed(
        &mut self,
        data: &[u8],
        max: usize,
        mut on_line: impl FnMut(&[u8]),
        mut on_too_long: impl FnMut(),
    ) -> usize {
        let mut used = 0;
        loop {
            let rest = &data[used..];
            if self.skipping {
                match rest.iter().position(|&b| b == b'\n') {
                    Some(newline) => {
                        used += newline + 1;
                        self.skipping = false;
                        continue;
                    }
                    None => return data.len(),
                }
            }
            match next_line(rest, max) {
                Ok(Some((line, consumed))) => {
                    on_line(line);
                    used += consumed;
                }
                Ok(None) => return used,
                Err(_) => {
                    on_too_long();
                    self.skipping = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `chunks` one after another into a buffer, as successive reads
    /// would, and takes every complete line out after each one.
    fn lines_from_reads(chunks: &[&[u8]], max: usize) -> Result<Vec<Vec<u8>>, FrameError> {
        let mut input = Vec::new();
        let mut lines = Vec::new();
        for chunk in chunks {
            input.extend_from_slice(chunk);
            while let Some((line, consumed)) = next_line(&input, max)? {
                lines.push(line.to_vec());
                input.drain(..consumed);
            }
        }
        Ok(lines)
    }

    #[test]
    fn every_split_point_gives_the_same_lines() {
        // Mixed endings, an empty line, a line of exactly `max` bytes with
        // either ending, and a '\r' inside a line.
        let input: &[u8] = b"one\r\ntwo\n\nabcdef\r\nabcdef\nin\rsid\n\r\nlast\n";
        let expected: Vec<Vec<u8>> = [
            &b"one"[..],
            b"two",
            b"",
            b"abcdef",
            b"abcdef",
            b"in\rsid",
            b"",
            b"last",
        ]
        .iter()
        .map(|l| l.to_vec())
        .collect();
        let max = 6;

        assert_eq!(lines_from_reads(&[input], max), Ok(expected.clone()));
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            assert_eq!(
                lines_from_reads(&[a, b], max),
                Ok(expected.clone()),
                "split at {split}"
            );
        }
        for first in 0..=input.len() {
            for second in first..=input.len() {
                let chunks = [&input[..first], &input[first..second], &input[second..]];
                assert_eq!(lines_from_reads(&chunks, max), Ok(expected.clone()));
            }
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(lines_from_reads(&bytes, max), Ok(expected));
    }

    #[test]
    fn every_split_point_rejects_a_long_line() {
        let input: &[u8] = b"ok\r\nabcdefg\r\nnever\n";
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            assert_eq!(
                lines_from_reads(&[a, b], 6),
                Err(FrameError::TooLong { max: 6 }),
                "split at {split}"
            );
        }
    }

    #[test]
    fn crlf_and_lf_endings() {
        assert_eq!(next_line(b"hi\r\n", 10), Ok(Some((&b"hi"[..], 4))));
        assert_eq!(next_line(b"hi\n", 10), Ok(Some((&b"hi"[..], 3))));
        assert_eq!(next_line(b"\r\n", 10), Ok(Some((&b""[..], 2))));
        assert_eq!(next_line(b"\n", 10), Ok(Some((&b""[..], 1))));
        // Only the '\r' right before the '\n' is part of the ending.
        assert_eq!(next_line(b"a\rb\n", 10), Ok(Some((&b"a\rb"[..], 4))));
        assert_eq!(next_line(b"a\r\r\n", 10), Ok(Some((&b"a\r"[..], 4))));
        // A lone '\r' ends nothing: the '\n' may still come.
        assert_eq!(next_line(b"hi\r", 10), Ok(None));
        assert_eq!(next_line(b"hi\rthere", 10), Ok(None));
    }

    #[test]
    fn only_the_first_line_is_returned() {
        assert_eq!(next_line(b"a\nb\nc", 10), Ok(Some((&b"a"[..], 2))));
        assert_eq!(next_line(b"", 10), Ok(None));
    }

    #[test]
    fn buffered_without_newline_exact_max_waits_and_one_more_fails() {
        let max = 4;
        assert_eq!(next_line(b"abcd", max), Ok(None));
        assert_eq!(next_line(b"abcde", max), Err(FrameError::TooLong { max }));
        // A trailing '\r' may be half of "\r\n": not content yet.
        assert_eq!(next_line(b"abcd\r", max), Ok(None));
        assert_eq!(
            next_line(b"abcd\r\r", max),
            Err(FrameError::TooLong { max })
        );
        assert_eq!(next_line(b"", 0), Ok(None));
        assert_eq!(next_line(b"\r", 0), Ok(None));
        assert_eq!(next_line(b"a", 0), Err(FrameError::TooLong { max: 0 }));
    }

    #[test]
    fn complete_line_exact_max_passes_and_one_more_fails() {
        let max = 4;
        assert_eq!(next_line(b"abcd\n", max), Ok(Some((&b"abcd"[..], 5))));
        assert_eq!(next_line(b"abcd\r\n", max), Ok(Some((&b"abcd"[..], 6))));
        assert_eq!(next_line(b"abcde\n", max), Err(FrameError::TooLong { max }));
        assert_eq!(
            next_line(b"abcde\r\n", max),
            Err(FrameError::TooLong { max })
        );
        assert_eq!(next_line(b"\n", 0), Ok(Some((&b""[..], 1))));
        assert_eq!(next_line(b"\r\n", 0), Ok(Some((&b""[..], 2))));
        assert_eq!(next_line(b"a\n", 0), Err(FrameError::TooLong { max: 0 }));
    }

    #[test]
    fn newline_beyond_the_limit_is_too_long() {
        let mut buf = vec![b'x'; 100];
        buf.push(b'\n');
        assert_eq!(next_line(&buf, 10), Err(FrameError::TooLong { max: 10 }));
    }

    #[test]
    fn usize_max_limit_does_not_overflow() {
        assert_eq!(next_line(b"abc", usize::MAX), Ok(None));
        assert_eq!(next_line(b"abc\n", usize::MAX), Ok(Some((&b"abc"[..], 4))));
    }

    #[test]
    fn skip_long_lines_drops_only_the_long_line_on_every_split() {
        let input = b"ok\nthis line is too long\nfine\n";
        for split in 0..=input.len() {
            let mut skipper = SkipLongLines::default();
            let (mut lines, mut dropped) = (Vec::new(), 0);
            let mut pending = Vec::new();
            for piece in [&input[..split], &input[split..]] {
                pending.extend_from_slice(piece);
                let used = skipper.feed(&pending, 4, |l| lines.push(l.to_vec()), || dropped += 1);
                pending.drain(..used);
            }
            assert_eq!(
                lines,
                [b"ok".to_vec(), b"fine".to_vec()],
                "split at {split}"
            );
            assert_eq!(dropped, 1, "split at {split}");
        }
    }
}
