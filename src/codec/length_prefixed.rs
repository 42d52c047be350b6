//! Length-prefixed frames: a 4-byte big-endian length, then that many bytes.

use super::FrameError;

/// Length of the prefix of a length-prefixed frame: a big-endian `u32`
/// holding the number of payload bytes that follow it.
pub const LENGTH_PREFIX: usize = 4;

/// Finds the next length-prefixed frame at the start of `buf`: a
/// [`LENGTH_PREFIX`]-byte big-endian length, then that many payload bytes.
///
/// Returns `Ok(Some((payload, consumed)))` when the whole frame is buffered;
/// `consumed` is the prefix plus the payload, the bytes to remove before the
/// next call. Returns `Ok(None)` while the prefix or the payload is
/// incomplete. A zero length is a valid, empty frame.
///
/// Returns `Err(FrameError::TooLong { max })` as soon as the prefix has
/// arrived and announces more than `max` payload bytes, so a hostile prefix
/// is rejected after 4 bytes, before any of its payload is buffered.
pub fn next_length_prefixed(buf: &[u8], max: usize) -> Result<Option<(&[u8], usize)>, FrameError> {
    let Some((prefix, rest)) = buf.split_first_chunk::<LENGTH_PREFIX>() else {
        return Ok(None);
    };
    let len = u32::from_be_bytes(*prefix) as usize;
    if len > max {
        return Err(FrameError::TooLong { max });
    }
    match rest.get(..len) {
        Some(payload) => Ok(Some((payload, LENGTH_PREFIX + len))),
        None => Ok(None),
    }
}

/// Returns the [`LENGTH_PREFIX`] bytes to send before a payload of `len`
/// bytes, for a peer that decodes with [`next_length_prefixed`].
///
/// Returns `Err(FrameError::TooLong { max: u32::MAX as usize })` when `len`
/// does not fit in the 4-byte prefix.
pub fn length_prefix(len: usize) -> Result<[u8; LENGTH_PREFIX], FrameError> {
    u32::try_from(len)
        .map(u32::to_be_bytes)
        .map_err(|_| FrameError::TooLong {
            max: u32::MAX as usize,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1024 * 1024;

    #[test]
    fn huge_prefix_is_rejected_from_four_bytes() {
        let buf = [0xFF, 0xFF, 0xFF, 0xFF];
        assert_eq!(
            next_length_prefixed(&buf, MIB),
            Err(FrameError::TooLong { max: MIB })
        );
    }

    #[test]
    fn incomplete_prefix_or_payload_waits() {
        let frame = [0, 0, 0, 3, b'a', b'b', b'c'];
        for end in 0..frame.len() {
            assert_eq!(
                next_length_prefixed(&frame[..end], 10),
                Ok(None),
                "{end} bytes"
            );
        }
        assert_eq!(next_length_prefixed(&frame, 10), Ok(Some((&b"abc"[..], 7))));
    }

    #[test]
    fn zero_length_frame() {
        assert_eq!(
            next_length_prefixed(&[0, 0, 0, 0], 0),
            Ok(Some((&b""[..], 4)))
        );
        assert_eq!(
            next_length_prefixed(&[0, 0, 0, 0, 0, 0, 0, 1, b'x'], 0),
            Ok(Some((&b""[..], 4)))
        );
    }

    #[test]
    fn length_prefixed_exact_max_passes_and_one_more_fails() {
        let max = 3;
        assert_eq!(
            next_length_prefixed(&[0, 0, 0, 3, 1, 2, 3], max),
            Ok(Some((&[1, 2, 3][..], 7)))
        );
        assert_eq!(
            next_length_prefixed(&[0, 0, 0, 4], max),
            Err(FrameError::TooLong { max })
        );
    }

    #[test]
    fn round_trip_through_length_prefix() {
        let payloads: [&[u8]; 4] = [b"hello", b"", &[0, b'\n', 0xFF], &[7; 1000]];
        let mut wire = Vec::new();
        for p in payloads {
            wire.extend_from_slice(&length_prefix(p.len()).unwrap());
            wire.extend_from_slice(p);
        }
        let mut rest = &wire[..];
        for p in payloads {
            let (payload, consumed) = next_length_prefixed(rest, 1000).unwrap().unwrap();
            assert_eq!(payload, p);
            rest = &rest[consumed..];
        }
        assert!(rest.is_empty());
        assert_eq!(next_length_prefixed(rest, 1000), Ok(None));
    }

    #[test]
    fn length_prefix_is_big_endian_and_bounded() {
        assert_eq!(length_prefix(0), Ok([0, 0, 0, 0]));
        assert_eq!(length_prefix(0x0102_0304), Ok([1, 2, 3, 4]));
        assert_eq!(length_prefix(u32::MAX as usize), Ok([0xFF; 4]));
        #[cfg(target_pointer_width = "64")]
        assert_eq!(
            length_prefix(u32::MAX as usize + 1),
            Err(FrameError::TooLong {
                max: u32::MAX as usize
            })
        );
    }
}
