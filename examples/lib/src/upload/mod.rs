//! File upload server: each file arrives as a header, `NAME|SIZE`, then
//! exactly SIZE bytes, and is answered once it is complete and on disk. Two
//! forms of the header are accepted, on the same port and the same
//! connection:
//!
//! - the newline form, `NAME|SIZE\n` then the bytes, answered `true\n` or
//!   `false REASON\n` (what `upload_client` and `nc` send);
//! - the tutorial's form, `NAME|SIZE` with the file's bytes right after it,
//!   answered exactly `true` or `false: REASON`, no newline (what the socket
//!   tutorial's Python client sends, reading the answer with one
//!   `recv(1024)`): one file at a time, each answer awaited before the next.
//!
//! The program and its flags are `examples/upload_server.rs`.
//!
//! SIZE is known before the body starts, so the server never has to guess
//! where a file ends (a "send the bytes, then close" protocol cannot tell a
//! finished upload from a client that died). The body is written to a
//! temporary file as it arrives, never held in memory, and renamed to NAME
//! only once all SIZE bytes are on disk. A client that disconnects early
//! leaves nothing behind.
//!
//! # Telling the forms apart
//!
//! After `NAME|` come the size's digits, and the first byte that is not a
//! digit decides: a newline (or `\r\n`) means the newline form, any other
//! byte is the file's first byte. A name never holds a newline; it may hold
//! `|` (in the newline form), but not a first `|` followed by a digit,
//! which reads as the size.
//!
//! That leaves the tutorial's form the sticky-packet problem in small: a
//! file that starts with a digit runs into the size (`a.txt|5` then `12345`
//! arrives as `a.txt|512345`: 5 or 512345 bytes?), and one that starts with
//! a newline reads as the newline form. The bytes cannot tell; time can.
//! The tutorial's client sends its whole file, then falls silent until it
//! has its answer. So these rules act at a *pause*, [`PAUSE`] without a
//! byte (or the end of the stream), and the server never guesses:
//!
//! 1. A tutorial-form file is stored and answered at the pause after its
//!    last byte. A byte before that pause means the header was misread (a
//!    name with `|` and digits, or a client that does not wait for its
//!    answers): the file is refused, not stored.
//! 2. A file still incomplete at a pause, whose bytes after the `|` are
//!    exactly what a *shorter* reading of the size makes (its first k digits
//!    as the size S, then S bytes: S + k bytes), is refused as ambiguous;
//!    the answer names both readings and the newline form. At most one
//!    shorter reading fits, since S + k grows with k. This holds in the
//!    newline form too: a tutorial-form file that starts with a newline
//!    reads as a newline-form file one byte short.
//! 3. Digits that run into a pause are a size with no file after it: an
//!    empty file if the size is 0, refused otherwise.
//! 4. Bytes after the digits that start a tutorial-form file are held (at
//!    most 4 KiB, at most until the pause) until a newline shows whether
//!    they can be a newline-form header after all, one whose name holds `|`
//!    and digits (`x|1y|5\n`). If they can, the header is refused as
//!    ambiguous.
//!
//! Nothing wrong is ever stored: the server follows the longest reading of
//! the size, which needs at least ten times the bytes the client sends and
//! so never completes, and rule 1 catches any other misreading. The cost
//! falls on a newline-form client that stalls for [`PAUSE`] at one of the
//! few exact lengths rule 2 looks for: it is refused, never misread. (A
//! file that starts with digits and a newline whose digits read as a size
//! over the limit gets the newline form's `false too large\n` at once.)
//!
//! Refusals close the connection, since the rest of what the client sends
//! can no longer be framed: a malformed header (`bad header`), a name that
//! is not a plain file name (`bad name`), a size over the limit (`too
//! large`, before any of the body is read), an ambiguous header, or a disk
//! error (`write failed: ...`). A client silent for a minute is dropped.

mod header;

use log::info;
use sockloop::codec::next_line;
use sockloop::{Ctx, Protocol, TimerId};
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

pub use header::is_plain_file_name;
use header::*;

/// The longest header line accepted, not counting its newline; also how
/// many bytes after a tutorial-form header are held to look for a newline.
const MAX_HEADER: usize = 4096;
/// The longest file name most file systems accept (NAME_MAX).
const MAX_NAME: usize = 255;
/// The most digits a size has (`u64::MAX` has 20).
const MAX_DIGITS: usize = 20;
/// A client silent for this long is dropped, and its partial file with it.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a client must send nothing for its silence to count: the
/// tutorial's client ends an upload by waiting for the answer.
pub const PAUSE: Duration = Duration::from_millis(250);
/// The one timer of a connection: a pause.
const PAUSE_TIMER: u64 = 1;

/// What every connection shares: where files go and how large they may be.
pub struct Settings {
    /// Where files go.
    pub dir: PathBuf,
    /// The largest file accepted, in bytes.
    pub max_size: u64,
    /// Makes each temporary file name unique within this process.
    pub next_temp: u64,
    /// How long a silence must last to be a pause ([`PAUSE`] but in tests).
    pub pause: Duration,
}

/// A file being received: written under a temporary name, renamed into
/// place by [`Incoming::commit`]. Dropping it before that removes the
/// temporary file, however the upload ended (refusal, disconnect, a panic).
struct Incoming {
    file: File,
    temp: PathBuf,
    target: PathBuf,
    size: u64,
    remaining: u64,
    committed: bool,
    form: Form,
    /// The header's digits, and how many bytes came between its `|` and the
    /// file (the digits and any newline), for the pause rule.
    digits: SizeDigits,
    before_body: u64,
}

impl Incoming {
    /// Creates the temporary file next to where `name` will go.
    fn create(settings: &mut Settings, name: &OsStr, size: u64) -> io::Result<Incoming> {
        settings.next_temp += 1;
        // create_new never follows or reuses a file that happens to be there.
        let temp = settings.dir.join(format!(
            ".upload-{}-{}.part",
            std::process::id(),
            settings.next_temp
        ));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        Ok(Incoming {
            file,
            temp,
            target: settings.dir.join(name),
            size,
            remaining: size,
            committed: false,
            form: Form::Newline,
            digits: SizeDigits::new(b""),
            before_body: 0,
        })
    }

    /// If the client falls silent now, the shorter reading of the size
    /// that its bytes fit (see [`silent_reading`]), as a refusal.
    fn ambiguity(&self) -> Option<Refusal> {
        let after_bar = self.before_body + (self.size - self.remaining);
        let digits = self.digits.get();
        silent_reading(digits, after_bar).map(|(k, size)| Refusal::ambiguous(digits, k, size))
    }

    /// Flushes the data to the disk, then gives it its name: rename is
    /// atomic, so readers see the old file or the whole new one, never half.
    fn commit(mut self) -> io::Result<()> {
        self.file.sync_all()?;
        fs::rename(&self.temp, &self.target)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Where one connection is in its sequence of uploads.
enum State {
    /// Waiting for a header.
    Header,
    /// Receiving the body of a file.
    Body(Incoming),
    /// A tutorial-form file with all its bytes, stored and answered at the
    /// pause: that client falls silent after its file, so a byte before
    /// then means the header was misread.
    Complete(Incoming),
    /// Refused and closing: whatever still arrives is ignored.
    Done,
}

/// One client connection.
pub struct Upload {
    state: State,
    /// The start of a header that cannot be read yet (at most `MAX_HEADER`
    /// bytes). Kept here rather than left in the reactor's buffer because a
    /// pause may decide it, and a timer gets no `data`.
    held: Vec<u8>,
    /// Set while a silence from now on would decide something.
    pause_timer: Option<TimerId>,
}

impl Default for Upload {
    fn default() -> Self {
        Self::new()
    }
}

impl Upload {
    /// A connection waiting for its first header.
    pub fn new() -> Self {
        Upload {
            state: State::Header,
            held: Vec::new(),
            pause_timer: None,
        }
    }

    /// Answers `false`, drops any partial file, and closes: after a refusal
    /// the rest of the stream cannot be framed.
    fn refuse(&mut self, ctx: &mut Ctx<'_, Settings>, form: Form, reason: &str) {
        info!("refused an upload: {reason}");
        self.state = State::Done;
        self.held = Vec::new();
        if let Some(timer) = self.pause_timer.take() {
            ctx.cancel_timer(timer);
        }
        ctx.write(form.refused(reason).as_bytes());
        ctx.close();
    }

    /// Handles all of `input`: file bytes go to disk, a header that cannot
    /// be read yet is held.
    fn process(&mut self, ctx: &mut Ctx<'_, Settings>, mut input: &[u8]) {
        loop {
            match self.state {
                State::Done => return,
                State::Body(_) => {
                    input = &input[self.receive(ctx, input)..];
                    if matches!(self.state, State::Body(_)) {
                        return; // all of `input` went into the file
                    }
                }
                State::Complete(_) if input.is_empty() => return,
                State::Complete(_) => {
                    return self.refuse(ctx, Form::Tutorial, &Refusal::AfterFile.to_string());
                }
                State::Header if input.is_empty() => return,
                State::Header => match self.begin(ctx, input, false) {
                    Some(consumed) => input = &input[consumed..],
                    None => return,
                },
            }
        }
    }

    /// Reads the header at the start of `input` and acts on it: starts the
    /// file, refuses, or holds the bytes until it can tell. `silent`: at a
    /// pause. Returns how many bytes the header took, once it is found.
    fn begin(&mut self, ctx: &mut Ctx<'_, Settings>, input: &[u8], silent: bool) -> Option<usize> {
        match read_header(input, silent) {
            Header::Pending => {
                self.held.extend_from_slice(input);
                None
            }
            Header::Found {
                form,
                name,
                digits,
                consumed,
            } => {
                let rest = silent.then_some(input.len() - consumed);
                self.start(ctx, form, name, digits, consumed, rest);
                Some(consumed)
            }
            Header::Refused(form, refusal) => {
                self.refuse(ctx, form, &refusal.to_string());
                None
            }
        }
    }

    /// Handles a header: starts a body or refuses. `silent_rest`: at a
    /// pause, how many bytes came after the header.
    fn start(
        &mut self,
        ctx: &mut Ctx<'_, Settings>,
        form: Form,
        name: &[u8],
        digits: &[u8],
        consumed: usize,
        silent_rest: Option<usize>,
    ) {
        let max_size = ctx.shared_ref().max_size;
        let size = match form {
            Form::Newline => check_header(name, digits, max_size),
            Form::Tutorial if !is_plain_file_name(name) => Err(Refusal::BadName),
            Form::Tutorial => match parse_size(digits) {
                Some(size) if size <= max_size => Ok(size),
                // Over the limit, or a smaller size and a file that starts
                // with digits: at a pause the bytes may tell which.
                _ => Err(
                    match silent_rest
                        .and_then(|rest| silent_reading(digits, (digits.len() + rest) as u64))
                    {
                        Some((k, _)) if k == digits.len() => Refusal::TooLarge,
                        Some((k, size)) => Refusal::ambiguous(digits, k, size),
                        None => Refusal::TooLargeOrDigits,
                    },
                ),
            },
        };
        let size = match size {
            Ok(size) => size,
            Err(refusal) => return self.refuse(ctx, form, &refusal.to_string()),
        };
        match Incoming::create(ctx.shared(), OsStr::from_bytes(name), size) {
            Ok(mut incoming) => {
                incoming.form = form;
                incoming.digits = SizeDigits::new(digits);
                incoming.before_body = (consumed - name.len() - 1) as u64;
                self.state = State::Body(incoming);
                // An empty file is complete already.
                self.receive(ctx, &[]);
            }
            Err(e) => self.refuse(ctx, form, &format!("cannot create file: {e}")),
        }
    }

    /// Writes what is there of the body; finishes the file when it is all in.
    /// Returns how many bytes of `data` belonged to this body.
    fn receive(&mut self, ctx: &mut Ctx<'_, Settings>, data: &[u8]) -> usize {
        let State::Body(incoming) = &mut self.state else {
            return 0;
        };
        let form = incoming.form;
        let take = data
            .len()
            .min(incoming.remaining.try_into().unwrap_or(usize::MAX));
        // A local disk write is quick enough to make on the loop; the chunk
        // goes straight to the file, so memory stays flat whatever the size.
        if let Err(e) = incoming.file.write_all(&data[..take]) {
            self.refuse(ctx, form, &format!("write failed: {e}"));
            return take;
        }
        incoming.remaining -= take as u64;
        if incoming.remaining > 0 {
            return take;
        }
        let State::Body(incoming) = std::mem::replace(&mut self.state, State::Header) else {
            unreachable!("checked above");
        };
        match form {
            Form::Newline => self.store(ctx, incoming),
            Form::Tutorial => self.state = State::Complete(incoming),
        }
        take
    }

    /// Gives a complete file its name and answers.
    fn store(&mut self, ctx: &mut Ctx<'_, Settings>, incoming: Incoming) {
        let (form, size, target) = (incoming.form, incoming.size, incoming.target.clone());
        match incoming.commit() {
            Ok(()) => {
                info!("stored {} ({size} bytes)", target.display());
                ctx.write(form.stored());
            }
            Err(e) => self.refuse(ctx, form, &format!("storing failed: {e}")),
        }
    }

    /// Starts the pause timer if a silence from now on would decide
    /// something: a header is held, or a file's bytes so far fit a shorter
    /// reading of its size.
    fn arm_pause(&mut self, ctx: &mut Ctx<'_, Settings>) {
        let waits = match &self.state {
            State::Header => !self.held.is_empty(),
            State::Body(incoming) => incoming.ambiguity().is_some(),
            State::Complete(_) => true,
            State::Done => false,
        };
        if waits && self.pause_timer.is_none() {
            let pause = ctx.shared_ref().pause;
            self.pause_timer = Some(ctx.set_timer(pause, PAUSE_TIMER));
        }
    }

    /// The client has sent nothing for a pause, or ended its stream: decide
    /// what waited for that.
    fn silence(&mut self, ctx: &mut Ctx<'_, Settings>) {
        while matches!(self.state, State::Header) && !self.held.is_empty() {
            let held = std::mem::take(&mut self.held);
            match self.begin(ctx, &held, true) {
                Some(consumed) => self.process(ctx, &held[consumed..]),
                None => break,
            }
        }
        match std::mem::replace(&mut self.state, State::Header) {
            State::Body(incoming) => match incoming.ambiguity() {
                Some(refusal) => self.refuse(ctx, Form::Tutorial, &refusal.to_string()),
                None => self.state = State::Body(incoming),
            },
            State::Complete(incoming) => self.store(ctx, incoming),
            other => self.state = other,
        }
    }
}

impl Protocol<Settings> for Upload {
    fn connection_made(&mut self, ctx: &mut Ctx<'_, Settings>) {
        ctx.set_idle_timeout(Some(IDLE_TIMEOUT));
    }

    fn data_received(&mut self, ctx: &mut Ctx<'_, Settings>, data: &[u8]) -> usize {
        if data.is_empty() {
            return 0; // not a read: no end to a silence
        }
        if let Some(timer) = self.pause_timer.take() {
            ctx.cancel_timer(timer);
        }
        let mut rest = data;
        while !self.held.is_empty() && !rest.is_empty() {
            // Complete the held header with no more than it can need.
            let take = rest.len().min(MAX_HEADER + 1 - self.held.len());
            let mut input = std::mem::take(&mut self.held);
            input.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            self.process(ctx, &input);
        }
        self.process(ctx, rest);
        self.arm_pause(ctx);
        data.len()
    }

    fn timer_fired(&mut self, ctx: &mut Ctx<'_, Settings>, id: u64) {
        if id == PAUSE_TIMER {
            self.pause_timer = None;
            self.silence(ctx);
            self.arm_pause(ctx);
        }
    }

    fn eof_received(&mut self, ctx: &mut Ctx<'_, Settings>) {
        if let Some(timer) = self.pause_timer.take() {
            ctx.cancel_timer(timer);
        }
        // The end of the stream is the longest silence.
        self.silence(ctx);
        if let State::Body(incoming) = &self.state {
            let got = incoming.size - incoming.remaining;
            let reason = format!("incomplete: {got} of {} bytes received", incoming.size);
            let form = incoming.form;
            self.refuse(ctx, form, &reason);
        }
        ctx.close();
    }

    fn connection_lost(&mut self, _ctx: &mut Ctx<'_, Settings>, _reason: Option<io::Error>) {
        // Drops a file still in progress, which removes its temporary file.
        self.state = State::Done;
    }
}

#[cfg(test)]
mod tests;
