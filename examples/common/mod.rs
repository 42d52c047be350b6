//! What every example program does the same way: logging, the `listening on`
//! line, and how it fails at start-up. (Shared by the examples; not an example.)

#![allow(dead_code)] // each example uses the part it needs

pub mod tls;

use std::fmt::Display;
use std::io::Write;

/// Logs to stderr at `info` unless `RUST_LOG` says otherwise.
pub fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
}

/// Clients log only warnings unless `RUST_LOG` says otherwise: their stdout
/// and stderr belong to the conversation.
pub fn init_client_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
}

/// Prints the first stdout line scripts and tests wait for, flushed at once.
pub fn announce(addr: impl Display) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {addr}");
    let _ = out.flush();
}

/// A start-up failure: one clear line on stderr, exit status 1.
pub fn fail(what: &str, error: impl Display) -> ! {
    eprintln!("error: {what}: {error}");
    std::process::exit(1)
}

/// Unwraps a start-up step or fails with one line.
pub trait OrFail<T> {
    /// The value, or exit 1 with `what` and the error.
    fn or_fail(self, what: &str) -> T;
}

impl<T, E: Display> OrFail<T> for Result<T, E> {
    fn or_fail(self, what: &str) -> T {
        self.unwrap_or_else(|e| fail(what, e))
    }
}
