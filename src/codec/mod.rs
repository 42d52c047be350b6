//! Framing: finding whole messages in a byte stream.
//!
//! TCP delivers bytes, not messages. One `read` may return half a message,
//! exactly one, or three and a half; where the kernel splits the stream
//! depends on segment sizes, timing and buffer space, never on what the peer
//! meant. A read is not a message. So a receiver keeps what it has read in a
//! buffer and asks, after every read, whether the buffer now starts with a
//! complete frame. This module answers that question for the framings most
//! protocols use, one file each:
//!
//! - lines, each ended by `\n` (a `\r` before it is dropped, so `\r\n` peers
//!   work too): [`next_line`], and [`SkipLongLines`] for a source that
//!   cannot be disconnected;
//! - length-prefixed frames, a 4-byte big-endian length and then that many
//!   bytes: [`next_length_prefixed`], with [`length_prefix`] for the sender;
//! - messages that end at a newline *or when the sender pauses*, for peers
//!   that send one message per `send` with no delimiter at all and wait for
//!   the answer (the classic tutorial client): [`Messages`].
//!
//! The line and length decoders are pure functions over the bytes buffered
//! so far. They return `Ok(Some((frame, consumed)))` when a whole frame is
//! there (the caller handles `frame`, then removes `consumed` bytes from the
//! front of its buffer and asks again), `Ok(None)` when more bytes are
//! needed, and `Err` when the frame is too long. The usual loop:
//!
//! ```text
//! loop {
//!     match next_line(&input, MAX_LINE) {
//!         Ok(Some((line, consumed))) => { handle(line); drop consumed bytes }
//!         Ok(None) => break,              // wait for the next read
//!         Err(e) => close the connection, // the peer broke the limit
//!     }
//! }
//! ```
//!
//! A pause is not in the bytes, so [`Messages`] keeps a little state (the
//! unfinished tail, a timer) and is driven from the protocol's callbacks.
//!
//! Every decoder takes a maximum frame length. Without one, a peer that
//! never sends a newline, or announces a 4 GiB frame, makes the receiver
//! buffer without bound. With one, the error comes as soon as the limit is
//! certainly broken: a line is rejected once more than `max` bytes wait
//! without a newline, a length-prefixed frame as soon as its 4-byte prefix
//! has arrived, before any of the payload is buffered.

mod length_prefixed;
mod lines;
mod messages;

pub use length_prefixed::{LENGTH_PREFIX, length_prefix, next_length_prefixed};
pub use lines::{SkipLongLines, next_line};
pub use messages::Messages;

use std::error::Error;
use std::fmt;

/// Why a frame could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The frame is, or would be, longer than the limit allowed.
    TooLong {
        /// The limit that was exceeded, in bytes.
        max: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLong { max } => write!(f, "frame longer than {max} bytes"),
        }
    }
}

impl Error for FrameError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_message() {
        let err: Box<dyn Error> = Box::new(FrameError::TooLong { max: 1024 });
        assert_eq!(err.to_string(), "frame longer than 1024 bytes");
    }
}
