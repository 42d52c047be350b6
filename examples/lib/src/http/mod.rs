//! The http_server protocol: a static file server speaking HTTP/1.1 with
//! keep-alive and pipelining. The program and its flags are
//! `examples/http_server.rs`.
//!
//! What it does, and how:
//! - GET and HEAD; anything else is 405 with `Allow: GET, HEAD`. `/` and any
//!   `dir/` serve that directory's `index.html`; `dir` without the slash is
//!   a 301 to `dir/`. The query string is ignored. 200 carries
//!   `Content-Type` (from the extension), `Content-Length` and
//!   `Last-Modified`; a matching `If-Modified-Since` gets 304.
//! - Heads are parsed by httparse, with limits: a request line over 8 KiB is
//!   414, a head over 8 KiB or with more than 64 header fields is 431, a
//!   version other than HTTP/1.0 and 1.1 is 505, anything malformed is 400;
//!   these close the connection, and each page says what was wrong (a bad
//!   request line, a bad header line, bad percent-encoding in the path, a
//!   bad `Content-Length` ...: `request::Refusal`). An HTTP/1.1 request
//!   needs one `Host` header (its 400 says that Host is missing); HTTP/1.0
//!   needs none.
//! - Request bodies: a `Content-Length` body (on a GET, say) is read and
//!   thrown away, so the next request on the connection is found where it
//!   starts; `Transfer-Encoding` is refused with 400 and a close, since this
//!   server has no use for a chunked body.
//! - Never outside the root: the path is percent-decoded once, `..` and NUL
//!   are refused, and the real path (symlinks resolved) must lie under the
//!   root's, else 404.
//! - Small files (up to 64 KiB) are answered from memory: the first request
//!   reads one into a ready-made response (its headers and body), and later
//!   requests for the same path (query aside) send that, with no system call
//!   but the socket's read and write. A cached file is checked against the
//!   disk at most once per second, by the same resolution as above, root
//!   checks and all, then a comparison of inode, size and times: a changed
//!   file is served new, a deleted one is 404, a symlink repointed outside
//!   the root is refused, each within a second (nginx's
//!   `open_file_cache_valid 1s` makes the same trade). A file changed
//!   within the last second is read again at every check, as file times are
//!   too coarse to tell two quick writes apart. The cache holds at most
//!   1024 files and 16 MiB (per reactor thread), dropping the least
//!   recently used.
//! - Larger files are streamed as the socket drains, one 64 KiB chunk at a
//!   time, so a 10 GiB file costs what a 10 KiB one does. Reading a file
//!   blocks the loop for the length of one `read`: fine for a local disk,
//!   not for a network filesystem.
//! - Time limits: a new connection must send its first request head within
//!   `--header-timeout` seconds and every later head must complete within
//!   that long of its first byte (408, then close); a keep-alive connection
//!   idle for `--keepalive-timeout` seconds is closed; one that leaves its
//!   responses unread (output stuck over the high watermark) for
//!   `--send-timeout` seconds is cut off, file and all. Near
//!   `--max-connections` (over 90% in use), the oldest idle keep-alive
//!   connections are closed to make room for new ones, as nginx does.
//! - An access log line per request at `info` on stderr: peer, method,
//!   target, status, body bytes, time taken. `RUST_LOG=warn` turns it off
//!   (and then no line is formatted at all), as `access_log off` does for
//!   nginx; bench/http.sh runs it so.
//! - The steady state of a keep-alive connection allocates nothing per
//!   request: the head is parsed in place, response heads are built in one
//!   reused buffer with a `Date` formatted once a second, and timers are not
//!   touched (the header timer is set only for a head that arrives in
//!   pieces; the keep-alive timer runs across requests and checks the real
//!   idle time when it fires).

mod cache;
mod connection;
pub mod files;
mod idle;
pub mod request;
mod response;

use std::path::PathBuf;
use std::time::Duration;

pub use connection::Http;

/// What every connection of one reactor shares.
pub struct Server {
    /// The served directory, canonical.
    pub root: PathBuf,
    pub header_timeout: Duration,
    pub keepalive_timeout: Duration,
    pub send_timeout: Duration,
    pub max_connections: usize,
    /// Connections made and not yet lost.
    pub open: usize,
    /// Idle keep-alive connections, oldest first.
    pub idle: idle::IdleList,
    /// The read buffer for file chunks, lent to one callback at a time.
    pub chunk: Vec<u8>,
    /// The buffer response heads are built in, lent likewise.
    pub head: Vec<u8>,
    pub clock: response::Clock,
    /// Small files as ready-made responses.
    pub cache: cache::Cache,
}

impl Server {
    pub fn new(root: PathBuf, max_connections: usize) -> Server {
        Server {
            root,
            header_timeout: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(15),
            send_timeout: Duration::from_secs(60),
            max_connections,
            open: 0,
            idle: idle::IdleList::default(),
            chunk: Vec::new(),
            head: Vec::new(),
            clock: response::Clock::default(),
            cache: cache::Cache::default(),
        }
    }

    /// With more connections open than this (90% of the limit), idle
    /// keep-alive connections are closed to make room.
    pub fn crowded_above(&self) -> usize {
        self.max_connections - self.max_connections / 10
    }
}
