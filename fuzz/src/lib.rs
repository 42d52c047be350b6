//! Helpers shared by the fuzz targets: how one fuzz input is cut into the
//! reads a peer's bytes could arrive in, and the naive reference decoders the
//! crate's framing helpers are checked against.

/// Cuts `data` into chunks whose lengths come from `seed` (a small LCG), so
/// the fuzzer explores where reads end as well as what they hold. A seed of 0
/// gives one chunk: the whole input in one read.
pub fn chunks(data: &[u8], seed: u8) -> Vec<&[u8]> {
    if seed == 0 || data.is_empty() {
        return vec![data];
    }
    let mut state = u32::from(seed);
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        // Mostly short reads, now and then a long one.
        let len = match (state >> 16) % 8 {
            0 => 1 + (state >> 20) as usize % 256,
            _ => 1 + (state >> 20) as usize % 7,
        };
        let (chunk, tail) = rest.split_at(len.min(rest.len()));
        out.push(chunk);
        rest = tail;
    }
    out
}

/// What a reference decoder makes of a whole buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Reference<'a> {
    /// A frame: its content and the bytes it took.
    Frame(&'a [u8], usize),
    /// Not complete yet, and not too long yet.
    Incomplete,
    /// Certainly longer than the limit.
    TooLong,
}

/// The obvious reading of "a line ends at `\n`, a `\r` before it is dropped,
/// content longer than `max` is an error, as soon as it is certain".
pub fn reference_line(buf: &[u8], max: usize) -> Reference<'_> {
    match buf.iter().position(|&b| b == b'\n') {
        Some(newline) => {
            let mut line = &buf[..newline];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            if line.len() > max {
                Reference::TooLong
            } else {
                Reference::Frame(line, newline + 1)
            }
        }
        None => {
            let mut content = buf.len();
            if buf.last() == Some(&b'\r') {
                content -= 1;
            }
            if content > max {
                Reference::TooLong
            } else {
                Reference::Incomplete
            }
        }
    }
}

/// The obvious reading of "4 bytes of big-endian length, then the payload;
/// a length over `max` is an error as soon as the 4 bytes are there".
pub fn reference_length_prefixed(buf: &[u8], max: usize) -> Reference<'_> {
    if buf.len() < 4 {
        return Reference::Incomplete;
    }
    let len = (u64::from(buf[0]) << 24)
        | (u64::from(buf[1]) << 16)
        | (u64::from(buf[2]) << 8)
        | u64::from(buf[3]);
    if len > max as u64 {
        return Reference::TooLong;
    }
    let len = len as usize;
    if buf.len() - 4 < len {
        Reference::Incomplete
    } else {
        Reference::Frame(&buf[4..4 + len], 4 + len)
    }
}

/// Converts the crate's answer to the reference's vocabulary.
pub fn from_codec(
    result: Result<Option<(&[u8], usize)>, sockloop::codec::FrameError>,
) -> Reference<'_> {
    match result {
        Ok(Some((frame, consumed))) => Reference::Frame(frame, consumed),
        Ok(None) => Reference::Incomplete,
        Err(sockloop::codec::FrameError::TooLong { .. }) => Reference::TooLong,
    }
}

/// Decodes a whole buffer with a reference decoder: the frames in order, and
/// whether it ended in an error.
pub fn decode_all<'a>(
    mut buf: &'a [u8],
    decode: impl Fn(&'a [u8]) -> Reference<'a>,
) -> (Vec<Vec<u8>>, bool) {
    let mut frames = Vec::new();
    loop {
        match decode(buf) {
            Reference::Frame(frame, consumed) => {
                frames.push(frame.to_vec());
                buf = &buf[consumed..];
            }
            Reference::Incomplete => return (frames, false),
            Reference::TooLong => return (frames, true),
        }
    }
}
