//! The server's standard output, written by a thread of its own.
//!
//! The loop must never wait, and a write to stdout can: a terminal stopped
//! with Ctrl-S or scrolled back in some emulators, a pipe into a program that
//! stopped reading. So the loop hands each line to a printer thread without
//! waiting. If the printer falls [`BACKLOG`] lines behind, the next lines
//! are dropped rather than queued, and a note says how many once it catches
//! up: the operator may miss lines, the room never waits for the operator.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use log::{debug, warn};

/// Lines that may wait for the printer; at most 4 KiB each in the chat.
pub const BACKLOG: usize = 256;

/// Standard output for the loop: each `write` is one line, handed to the
/// printer thread without waiting.
pub struct Console {
    /// `None` once stdout is gone (or never was): lines are dropped.
    lines: Option<SyncSender<Vec<u8>>>,
    printer: Option<JoinHandle<()>>,
    /// Lines dropped since the last one the printer took.
    dropped: usize,
}

impl Console {
    /// Starts the printer on a duplicate of stdout. Without a stdout (the
    /// server was started with it closed) the console drops every line.
    pub fn start() -> Console {
        Console::try_start().unwrap_or_else(|e| {
            warn!("not showing the room on stdout: {e}");
            Console {
                lines: None,
                printer: None,
                dropped: 0,
            }
        })
    }

    fn try_start() -> io::Result<Console> {
        let stdout = File::from(io::stdout().as_fd().try_clone_to_owned()?);
        let (lines, queue) = sync_channel(BACKLOG);
        let printer = thread::Builder::new()
            .name("console".into())
            .spawn(move || print(stdout, queue))?;
        Ok(Console {
            lines: Some(lines),
            printer: Some(printer),
            dropped: 0,
        })
    }

    /// Lets the printer write what it still holds, waiting at most `patience`
    /// for a stdout that does not drain.
    pub fn close(&mut self, patience: Duration) {
        self.lines = None;
        let Some(printer) = self.printer.take() else {
            return;
        };
        let deadline = Instant::now() + patience;
        while !printer.is_finished() {
            if Instant::now() >= deadline {
                debug!("stdout is not draining; leaving the last lines unshown");
                return;
            }
            thread::sleep(Duration::from_millis(5));
        }
        let _ = printer.join();
    }

    fn hand_over(&mut self, line: Vec<u8>) -> bool {
        let Some(lines) = &self.lines else {
            return false;
        };
        match lines.try_send(line) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => false,
            Err(TrySendError::Disconnected(_)) => {
                // The printer stopped: stdout is closed.
                self.lines = None;
                false
            }
        }
    }
}

impl Write for Console {
    /// Queues `line` for the printer, or drops it if the printer is too far
    /// behind. Never fails and never waits.
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        if self.dropped > 0 {
            let note = format!(
                "({} lines not shown: stdout was not keeping up)\n",
                self.dropped
            );
            if !self.hand_over(note.into_bytes()) {
                self.dropped += 1;
                return Ok(line.len());
            }
            self.dropped = 0;
        }
        if !self.hand_over(line.to_vec()) && self.lines.is_some() {
            self.dropped += 1;
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The printer thread: writes each line whole, until the console closes or
/// stdout fails.
fn print(mut stdout: File, queue: Receiver<Vec<u8>>) {
    for line in queue {
        if let Err(e) = write_all_waiting(&mut stdout, &line) {
            debug!("stdout: {e}; not showing the room any more");
            return;
        }
    }
}

/// `write_all`, waiting out `WouldBlock`: when stdout is the same terminal as
/// stdin, it shares stdin's non-blocking mode, which the reactor sets.
fn write_all_waiting(out: &mut File, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match out.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_writable(out)?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn wait_writable(out: &File) -> io::Result<()> {
    let mut fds = libc::pollfd {
        fd: out.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: poll on one pollfd that lives for the call.
    if unsafe { libc::poll(&mut fds, 1, -1) } < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}
