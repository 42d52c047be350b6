//! Upload client for `upload_server`: sends each file as `NAME|SIZE\n` and
//! its bytes, and waits for the server's `true` or `false <reason>`.
//!
//! ```text
//! cargo run --release --example upload_server
//! cargo run --release --example upload_client -- photo.jpg notes.txt
//! ```
//!
//! `--addr HOST:PORT` names the server (default 127.0.0.1:8003). Files go
//! one after another on one connection; NAME is the file's own name, without
//! its directory. On a terminal a progress bar shows the rate and the time
//! left. One line per file is printed on stdout:
//!
//! ```text
//! photo.jpg: ok, 2483311 bytes in 0.03 s (82.8 MB/s)
//! notes.txt: refused: too large
//! ```
//!
//! The exit status is 0 when every file was stored and 1 otherwise.
//!
//! A plain blocking client: it does one thing at a time, so it needs no
//! event loop. The only concurrency is a thread that reads the server's
//! answers, because a refusal (a bad name, a file too large) comes while
//! the body is still being sent, and the client should stop sending then
//! instead of pushing the rest of the file into a closed connection.

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

/// Bytes read from the file and written to the socket at a time.
const CHUNK: usize = 64 * 1024;

/// What the server said, as the reader thread saw it.
enum Answer {
    Line(String),
    /// The server closed the connection (or it failed).
    Closed(Option<io::Error>),
}

/// A connection to the server and the answers read from it so far.
struct Connection {
    stream: TcpStream,
    answers: Receiver<Answer>,
}

impl Connection {
    fn open(addr: &str) -> io::Result<Connection> {
        let stream = TcpStream::connect(addr)?;
        let reader = BufReader::new(stream.try_clone()?);
        let (tx, answers) = mpsc::channel();
        std::thread::spawn(move || {
            for line in reader.split(b'\n') {
                let answer = match line {
                    Ok(line) => Answer::Line(String::from_utf8_lossy(&line).into_owned()),
                    Err(e) => Answer::Closed(Some(e)),
                };
                let last = matches!(answer, Answer::Closed(_));
                if tx.send(answer).is_err() || last {
                    return;
                }
            }
            let _ = tx.send(Answer::Closed(None));
        });
        Ok(Connection { stream, answers })
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // The reader thread holds a second handle on the socket: shut it
        // down so the server sees the end now, not when the process exits.
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// How one file's upload ended.
enum Outcome {
    Stored {
        bytes: u64,
        elapsed: Duration,
    },
    /// The server answered `false <reason>` (or `false: <reason>`).
    Refused(String),
    /// Something failed on our side or on the way.
    Failed(String),
}

/// The outcome that an answer from the server means.
fn outcome_of(answer: Answer, bytes: u64, started: Instant) -> Outcome {
    match answer {
        Answer::Line(line) if line == "true" => Outcome::Stored {
            bytes,
            elapsed: started.elapsed(),
        },
        // `false REASON`, or `false: REASON` where the server could not tell
        // the header from the tutorial's form.
        Answer::Line(line) => match line.strip_prefix("false") {
            Some(reason) => {
                Outcome::Refused(reason.trim_start_matches(':').trim_start().to_string())
            }
            None => Outcome::Failed(format!("unexpected answer {line:?}")),
        },
        Answer::Closed(None) => Outcome::Failed("the server closed the connection".into()),
        Answer::Closed(Some(e)) => Outcome::Failed(format!("reading the answer: {e}")),
    }
}

/// A progress bar on stderr if it is a terminal; hidden otherwise so that
/// logs and pipes get only the summary lines.
fn progress_bar(size: u64, name: &str) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(
        "{msg} [{wide_bar}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
    )
    .expect("a valid progress template")
    .progress_chars("=> ");
    ProgressBar::new(size)
        .with_style(style)
        .with_message(name.to_string())
}

/// Sends one file on `conn` (opening a connection if there is none) and
/// waits for the server's answer. The connection is kept for the next file
/// only when this one was stored: the server closes after a refusal.
fn upload(conn: &mut Option<Connection>, addr: &str, path: &Path) -> Outcome {
    let Some(name) = path.file_name() else {
        return Outcome::Failed("not a file name".into());
    };
    if name.as_bytes().contains(&b'\n') {
        return Outcome::Failed("a name with a newline cannot be sent".into());
    }
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) => return Outcome::Failed(format!("opening: {e}")),
    };
    let size = match file.metadata() {
        Ok(meta) if meta.is_file() => meta.len(),
        Ok(_) => return Outcome::Failed("not a regular file".into()),
        Err(e) => return Outcome::Failed(format!("reading its size: {e}")),
    };
    if conn.is_none() {
        match Connection::open(addr) {
            Ok(c) => *conn = Some(c),
            Err(e) => return Outcome::Failed(format!("connecting to {addr}: {e}")),
        }
    }
    let c = conn.as_mut().expect("connected above");
    let started = Instant::now();
    let bar = progress_bar(size, &name.to_string_lossy());
    let outcome = send_file(c, name.as_bytes(), &mut file, size, &bar, started);
    bar.finish_and_clear();
    if !matches!(outcome, Outcome::Stored { .. }) {
        *conn = None;
    }
    outcome
}

/// The header and the body, then the answer.
fn send_file(
    c: &mut Connection,
    name: &[u8],
    file: &mut File,
    size: u64,
    bar: &ProgressBar,
    started: Instant,
) -> Outcome {
    let mut header = name.to_vec();
    header.extend_from_slice(format!("|{size}\n").as_bytes());
    if let Err(e) = c.stream.write_all(&header) {
        return early_answer(c, size, started, format!("sending: {e}"));
    }
    let mut buf = vec![0; CHUNK];
    let mut body = file.take(size);
    let mut sent = 0;
    while sent < size {
        let n = match body.read(&mut buf) {
            Ok(0) => return Outcome::Failed(format!("the file shrank to {sent} bytes")),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Outcome::Failed(format!("reading: {e}")),
        };
        if let Err(e) = c.stream.write_all(&buf[..n]) {
            return early_answer(c, size, started, format!("sending: {e}"));
        }
        sent += n as u64;
        bar.inc(n as u64);
        // The server only answers before the end of the body to refuse it.
        match c.answers.try_recv() {
            Ok(answer) => return outcome_of(answer, size, started),
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => return Outcome::Failed("connection lost".into()),
        }
    }
    match c.answers.recv() {
        Ok(answer) => outcome_of(answer, size, started),
        Err(_) => Outcome::Failed("connection lost".into()),
    }
}

/// Sending failed: most likely the server refused and closed, so its answer
/// says why better than the broken pipe does.
fn early_answer(c: &mut Connection, size: u64, started: Instant, error: String) -> Outcome {
    match c.answers.recv_timeout(Duration::from_secs(2)) {
        Ok(Answer::Line(line)) => outcome_of(Answer::Line(line), size, started),
        Ok(Answer::Closed(_)) | Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
            Outcome::Failed(error)
        }
    }
}

#[derive(Parser)]
#[command(about = "Uploads files to upload_server")]
struct Args {
    /// Address of the server.
    #[arg(long, default_value = "127.0.0.1:8003")]
    addr: String,
    /// Files to upload.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut conn = None;
    let mut all_stored = true;
    let mut out = io::stdout().lock();
    for path in &args.files {
        let outcome = upload(&mut conn, &args.addr, path);
        let name = path
            .file_name()
            .unwrap_or(path.as_os_str())
            .to_string_lossy();
        let line = match outcome {
            Outcome::Stored { bytes, elapsed } => {
                let secs = elapsed.as_secs_f64();
                let rate = bytes as f64 / secs.max(1e-6) / 1e6;
                format!("{name}: ok, {bytes} bytes in {secs:.2} s ({rate:.1} MB/s)")
            }
            Outcome::Refused(reason) => {
                all_stored = false;
                format!("{name}: refused: {reason}")
            }
            Outcome::Failed(error) => {
                all_stored = false;
                format!("{name}: error: {error}")
            }
        };
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
    if all_stored {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
