//! The logger's protocols: a [`Client`] for each connection and the
//! [`Terminal`], the server's own stdin, all writing to one [`Log`].
//!
//! Both frame with [`Messages`]: a message ends at a newline, or when the
//! sender pauses, and what is left when the input ends is a message too.
//! The tutorial's client, which sends each message with no newline and waits
//! for the answer, gets its `received` at once.

use std::io::{self, Write};
use std::time::Duration;

use log::{error, info, warn};
use sockloop::codec::{FrameError, Messages};
use sockloop::{Ctx, Protocol};

/// The longest message accepted, newline not counted.
pub const MAX_LINE: usize = 64 * 1024;

/// The log file, shared by every connection and by stdin. Generic over the
/// writer so the tests can log into a `Vec`.
pub struct Log<W> {
    /// Where entries go: the file, in the server.
    pub out: W,
    /// What the log is, for error messages (its path).
    name: String,
    /// Where each entry is formatted, reused from one to the next.
    entry: Vec<u8>,
}

impl<W: Write> Log<W> {
    /// A log writing to `out`, called `name` in error messages.
    pub fn new(out: W, name: String) -> Self {
        Log {
            out,
            name,
            entry: Vec::new(),
        }
    }

    /// Appends `<source>: <text>\n`, formatted whole first and handed to the
    /// file in one `write_all`, then flushes. With the file in append mode
    /// that is normally one write(2) at the end of the file, so a reader
    /// (`tail -f`, another process appending) never sees half an entry.
    fn append(&mut self, source: &str, text: &[u8]) -> io::Result<()> {
        self.entry.clear();
        self.entry.extend_from_slice(source.as_bytes());
        self.entry.extend_from_slice(b": ");
        self.entry.extend_from_slice(text);
        self.entry.push(b'\n');
        self.out.write_all(&self.entry)?;
        self.out.flush()
    }
}

/// One client connection.
pub struct Client {
    /// Where the client's bytes become messages.
    messages: Messages,
    /// The client's address, as the log names it.
    addr: String,
}

impl Client {
    /// A client whose messages without a newline end after `quiet` of silence.
    pub fn new(quiet: Duration) -> Client {
        Client {
            messages: Messages::new(MAX_LINE).quiet_period(quiet),
            addr: String::new(),
        }
    }
}

/// Logs one of a client's messages and answers it: `received` once it is in
/// the file.
fn receive<W: Write + 'static>(
    addr: &str,
    ctx: &mut Ctx<'_, Log<W>>,
    message: Result<&[u8], FrameError>,
) {
    let Ok(text) = message else {
        warn!("{addr}: message longer than {MAX_LINE} bytes; disconnecting");
        ctx.write(b"error: line too long\n");
        ctx.close();
        return;
    };
    let log = ctx.shared();
    match log.append(addr, text) {
        Ok(()) => ctx.write(b"received\n"),
        Err(e) => {
            error!("writing {addr}'s message to {}: {e}", log.name);
            ctx.write(b"error: log write failed\n");
        }
    }
}

impl<W: Write + 'static> Protocol<Log<W>> for Client {
    fn connection_made(&mut self, ctx: &mut Ctx<'_, Log<W>>) {
        self.addr = match ctx.peer_addr() {
            Ok(addr) => addr.to_string(),
            // The peer reset before we asked: it will be gone in a moment.
            Err(_) => "(unknown)".to_string(),
        };
    }

    fn data_received(&mut self, ctx: &mut Ctx<'_, Log<W>>, data: &[u8]) -> usize {
        self.messages
            .data_received(ctx, data, |ctx, message| receive(&self.addr, ctx, message))
    }

    fn timer_fired(&mut self, ctx: &mut Ctx<'_, Log<W>>, id: u64) {
        self.messages
            .timer_fired(ctx, id, |ctx, message| receive(&self.addr, ctx, message));
    }

    fn eof_received(&mut self, ctx: &mut Ctx<'_, Log<W>>) {
        // A half-closed client still reads its `received`.
        self.messages
            .finish(ctx, |ctx, message| receive(&self.addr, ctx, message));
        ctx.close();
    }

    fn connection_lost(&mut self, ctx: &mut Ctx<'_, Log<W>>, _reason: Option<io::Error>) {
        // Nothing the client sent is lost: a reset brings no EOF.
        self.messages
            .finish(ctx, |ctx, message| receive(&self.addr, ctx, message));
    }

    /// A client that does not read its `received`s is not read from
    /// meanwhile: its message is not cut short by the quiet period.
    fn pause_writing(&mut self, _ctx: &mut Ctx<'_, Log<W>>) {
        self.messages.pause_writing();
    }

    fn resume_writing(&mut self, ctx: &mut Ctx<'_, Log<W>>) {
        self.messages.resume_writing(ctx);
    }
}

/// The server's standard input: each message typed goes to the log.
pub struct Terminal {
    /// Stdin cannot be disconnected: a long line is just not logged.
    messages: Messages,
}

impl Terminal {
    /// Stdin, framed like the clients (a pause matters only when stdin is a
    /// pipe: a terminal hands over whole lines).
    pub fn new(quiet: Duration) -> Terminal {
        Terminal {
            messages: Messages::new(MAX_LINE).quiet_period(quiet).skip_too_long(),
        }
    }
}

/// Logs one message typed on the server's terminal.
fn typed<W: Write + 'static>(ctx: &mut Ctx<'_, Log<W>>, message: Result<&[u8], FrameError>) {
    let Ok(text) = message else {
        warn!("stdin: message longer than {MAX_LINE} bytes; not logged");
        return;
    };
    let log = ctx.shared();
    if let Err(e) = log.append("stdin", text) {
        error!("writing a stdin message to {}: {e}", log.name);
    }
}

impl<W: Write + 'static> Protocol<Log<W>> for Terminal {
    fn data_received(&mut self, ctx: &mut Ctx<'_, Log<W>>, data: &[u8]) -> usize {
        self.messages.data_received(ctx, data, typed)
    }

    fn timer_fired(&mut self, ctx: &mut Ctx<'_, Log<W>>, id: u64) {
        self.messages.timer_fired(ctx, id, typed);
    }

    fn eof_received(&mut self, ctx: &mut Ctx<'_, Log<W>>) {
        // A file or pipe on stdin may end without a newline: log that too.
        self.messages.finish(ctx, typed);
        info!("stdin closed; still serving clients (Ctrl-C or SIGTERM stops the server)");
        ctx.close();
    }
}

#[cfg(test)]
mod tests;
