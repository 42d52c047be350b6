//! The chat room's protocols: a [`Member`] for each client connection and
//! the [`Keyboard`], the server's own stdin. They share a [`Room`], which
//! holds the operator's screen.
//!
//! Clients frame their messages with [`Messages`]: a message ends at a
//! newline, or when the client pauses. A client that sends each message with
//! no newline and waits for an answer (the tutorial's) is heard at once; one
//! that sends lines is never held up by the timing.

pub mod console;

use std::io::Write;
use std::time::Duration;

use log::{debug, info, warn};
use sockloop::codec::{FrameError, Messages};
use sockloop::{Ctx, Protocol};

/// The longest message a client may send, newline not counted.
pub const MAX_LINE: usize = 4096;

/// What one client may have waiting for it before it is cut off.
pub const MAX_QUEUED: usize = 1 << 20;

/// What every source in the room shares: the server's own terminal, where
/// the operator follows the room (every message, arrival and departure) in
/// order to answer it.
pub struct Room<W> {
    /// Where the operator reads: stdout, in the server.
    pub screen: W,
}

impl<W: Write> Room<W> {
    /// Shows one line (ending in `\n`) to the operator. The screen is
    /// best-effort: a failed write costs the operator that line, and nobody
    /// else anything.
    fn show(&mut self, line: &[u8]) {
        if let Err(e) = self.screen.write_all(line) {
            debug!("showing a line to the operator: {e}");
        }
    }
}

/// Appends `<from>: <text>\n` to `out`, the one format every message has.
fn format_message(out: &mut Vec<u8>, from: &str, text: &[u8]) {
    out.clear();
    out.extend_from_slice(from.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(text);
    out.push(b'\n');
}

/// Tells the room `line`: every other member and the operator's screen.
fn tell_the_room<W: Write + 'static>(ctx: &mut Ctx<'_, Room<W>>, line: &[u8]) {
    let me = ctx.token();
    ctx.broadcast(line, Some(me));
    ctx.shared().show(line);
}

/// One client in the room.
pub struct Member {
    /// Where the client's bytes become messages.
    messages: Messages,
    /// What the client says, as the room hears it.
    voice: Voice,
}

/// A member's name and the buffer its messages are formatted in: a field of
/// its own, which the callbacks handed to [`Messages`] can borrow.
#[derive(Default)]
struct Voice {
    /// The client's address as the others see it, captured when it arrives.
    name: String,
    /// Where each outgoing message is formatted, reused from one to the next.
    line: Vec<u8>,
}

impl Voice {
    fn said<W: Write + 'static>(
        &mut self,
        ctx: &mut Ctx<'_, Room<W>>,
        message: Result<&[u8], FrameError>,
    ) {
        match message {
            Ok(text) => {
                format_message(&mut self.line, &self.name, text);
                tell_the_room(ctx, &self.line);
            }
            Err(_) => {
                warn!(
                    "{}: message longer than {MAX_LINE} bytes; disconnecting",
                    self.name
                );
                ctx.write(b"error: line too long\n");
                ctx.close();
            }
        }
    }
}

impl Member {
    /// A member whose messages without a newline end after `quiet` of silence.
    pub fn new(quiet: Duration) -> Member {
        Member {
            messages: Messages::new(MAX_LINE).quiet_period(quiet),
            voice: Voice::default(),
        }
    }
}

impl<W: Write + 'static> Protocol<Room<W>> for Member {
    fn connection_made(&mut self, ctx: &mut Ctx<'_, Room<W>>) {
        self.voice.name = match ctx.peer_addr() {
            Ok(addr) => addr.to_string(),
            // The peer reset before we asked: it will be gone in a moment.
            Err(_) => "(unknown)".to_string(),
        };
        tell_the_room(ctx, format!("* {} joined\n", self.voice.name).as_bytes());
    }

    fn data_received(&mut self, ctx: &mut Ctx<'_, Room<W>>, data: &[u8]) -> usize {
        self.messages
            .data_received(ctx, data, |ctx, message| self.voice.said(ctx, message))
    }

    fn timer_fired(&mut self, ctx: &mut Ctx<'_, Room<W>>, id: u64) {
        self.messages
            .timer_fired(ctx, id, |ctx, message| self.voice.said(ctx, message));
    }

    fn eof_received(&mut self, ctx: &mut Ctx<'_, Room<W>>) {
        self.messages
            .finish(ctx, |ctx, message| self.voice.said(ctx, message));
        ctx.close();
    }

    /// A member that reads the room slowly is not read from meanwhile: the
    /// line it is sending is not cut short by the quiet period.
    fn pause_writing(&mut self, _ctx: &mut Ctx<'_, Room<W>>) {
        self.messages.pause_writing();
    }

    fn resume_writing(&mut self, ctx: &mut Ctx<'_, Room<W>>) {
        self.messages.resume_writing(ctx);
    }

    fn connection_lost(&mut self, ctx: &mut Ctx<'_, Room<W>>, _reason: Option<std::io::Error>) {
        // Nothing the client said is lost: a reset brings no EOF.
        self.messages
            .finish(ctx, |ctx, message| self.voice.said(ctx, message));
        tell_the_room(ctx, format!("* {} left\n", self.voice.name).as_bytes());
    }
}

/// The server's standard input, the operator's keyboard: each message goes
/// to every client as `server: <text>`.
pub struct Keyboard {
    /// The operator is not disconnected for a long line: it is just not sent.
    messages: Messages,
    line: Vec<u8>,
}

impl Keyboard {
    /// The operator's keyboard, framed like the clients (a pause matters only
    /// when stdin is a pipe: a terminal hands over whole lines).
    pub fn new(quiet: Duration) -> Keyboard {
        Keyboard {
            messages: Messages::new(MAX_LINE).quiet_period(quiet).skip_too_long(),
            line: Vec::new(),
        }
    }
}

/// Sends one of the operator's messages to every client.
fn announce<W: Write + 'static>(
    line: &mut Vec<u8>,
    ctx: &mut Ctx<'_, Room<W>>,
    message: Result<&[u8], FrameError>,
) {
    match message {
        Ok(text) => {
            format_message(line, "server", text);
            ctx.broadcast(line, None);
        }
        Err(_) => warn!("stdin: message longer than {MAX_LINE} bytes; not sent"),
    }
}

impl<W: Write + 'static> Protocol<Room<W>> for Keyboard {
    fn data_received(&mut self, ctx: &mut Ctx<'_, Room<W>>, data: &[u8]) -> usize {
        self.messages.data_received(ctx, data, |ctx, message| {
            announce(&mut self.line, ctx, message)
        })
    }

    fn timer_fired(&mut self, ctx: &mut Ctx<'_, Room<W>>, id: u64) {
        self.messages.timer_fired(ctx, id, |ctx, message| {
            announce(&mut self.line, ctx, message)
        });
    }

    fn eof_received(&mut self, ctx: &mut Ctx<'_, Room<W>>) {
        self.messages
            .finish(ctx, |ctx, message| announce(&mut self.line, ctx, message));
        info!("stdin closed; still serving clients (Ctrl-C or SIGTERM stops the server)");
        ctx.close();
    }
}

#[cfg(test)]
mod tests;
