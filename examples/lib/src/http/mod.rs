//! The http_server protocol: a static file server speaking HTTP/1.1 with
//! keep-alive and pipelining. The program and its flags are
//! `examples/http_server.rs`.
//!
//! What it does, and how:
//! - GET and HEAD; anything else is 405 with `Allow: GET, HEAD`. `/` and any
//!   `dir/` serve that directory's `index.html`; without one, 404, or with
//!   `--list-dirs` a listing (`listing.rs`); `dir` without the slash is a
//!   301 to `dir/`. The query string is ignored. HEAD gets exactly the
//!   headers GET would, with no body.
//! - A file's response carries `Content-Type` (from the extension, by
//!   mime_guess, `charset=utf-8` on text types), `Content-Length`,
//!   `Accept-Ranges: bytes`, `Last-Modified` and a strong `ETag` made from
//!   the modification time and size (`representation.rs`).
//! - Conditional and range requests (`conditional.rs`, `range.rs`), in
//!   RFC 9110's order: `If-Match` (`*`, lists, strong comparison) that no
//!   tag satisfies gets 412 and takes precedence over
//!   `If-Unmodified-Since`, which gets 412 when the file is newer than its
//!   date (an invalid date is ignored). Then
//!   `If-None-Match` (`*`, lists, weak comparison) gets 304 and takes
//!   precedence over `If-Modified-Since`, which gets 304 when the file is
//!   no newer than its date, a date in the future being ignored. One
//!   `Range` (`a-b`, `a-`, `-n`, or several that merge into one) gets 206
//!   with `Content-Range`; several disjoint ranges get the whole file with
//!   200 (no `multipart/byteranges`); none satisfiable is 416 with
//!   `Content-Range: bytes */SIZE`. `If-Range` (an entity tag compared
//!   strongly, or the exact `Last-Modified` date) falls back to 200 when
//!   it does not hold.
//! - A precompressed `f.gz` beside `f` goes to clients whose
//!   `Accept-Encoding` takes gzip, with `Content-Encoding: gzip`; both
//!   representations say `Vary: Accept-Encoding`, and each has its own
//!   validators and ranges (nginx's `gzip_static`).
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
//! - Never outside the root (`path.rs`, `files.rs`): the path is
//!   percent-decoded once, its dot-segments removed (RFC 3986 section
//!   5.2.4: `/sub/../f.txt` is `/f.txt`, while a `..` that would climb
//!   above the root makes the path name nothing), NUL refused, and the
//!   real path (symlinks resolved) must lie under the root's, else 404. A
//!   file asked for with a trailing slash is 404. Dotfiles (a segment
//!   beginning with `.`, by name or through a symlink; `/.well-known/`
//!   aside) are neither served nor listed unless `--dotfiles`.
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
//! - Larger files are queued whole with `Ctx::send_file`: the reactor
//!   sends them from the file with `sendfile(2)` as the socket drains, so
//!   their bytes never pass through this process and a 10 GiB file costs
//!   what a 10 KiB one does. The next request waits until all but 64 KiB
//!   of the file has gone. Opening a file (and resolving its path) blocks
//!   the loop for the length of those system calls: fine for a local disk,
//!   not for a network filesystem.
//! - Time limits: a new connection must send its first request head within
//!   `--header-timeout` seconds and every later head must complete within
//!   that long of its first byte (408, then close; the clock stops while
//!   the reactor is not reading, its output over the high watermark, and
//!   starts again from zero when it reads again); a keep-alive connection
//!   idle for `--keepalive-timeout` seconds is closed; one that takes none
//!   of its queued responses (output over the high watermark) for
//!   `--send-timeout` seconds is cut off, file and all. Like nginx's
//!   `send_timeout`, that limit is on the time between two writes the peer
//!   takes, not on a whole download; it is checked once per timeout, so a
//!   stalled peer goes between one and two timeouts after its last read. Near
//!   `--max-connections` (over 90% in use), the oldest idle keep-alive
//!   connections are closed to make room for new ones, as nginx does.
//! - An access log line per request at `info` on stderr: peer, method,
//!   target, status, body bytes, time taken. `RUST_LOG=warn` turns it off
//!   (and then no line is formatted at all), as `access_log off` does for
//!   nginx; bench/http.sh runs it so.
//! - `--status-path PATH` (off by default) serves the reactor's statistics
//!   at `PATH` as plain text, as nginx's `stub_status` does
//!   (`connection/status.rs`); it is checked before the files, so it hides
//!   a file of that name.
//! - The steady state of a keep-alive connection allocates nothing per
//!   request: the head is parsed in place, response heads are built in one
//!   reused buffer with a `Date` formatted once a second, and timers are not
//!   touched (the header timer is set only for a head that arrives in
//!   pieces; the keep-alive timer runs across requests and checks the real
//!   idle time when it fires).

mod cache;
pub mod conditional;
mod connection;
pub mod files;
mod idle;
pub mod listing;
pub mod path;
pub mod range;
pub mod representation;
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
    /// Listings and dotfiles (`--list-dirs`, `--dotfiles`).
    pub options: files::Options,
    /// The buffer response heads are built in, lent likewise.
    pub head: Vec<u8>,
    pub clock: response::Clock,
    /// Small files as ready-made responses.
    pub cache: cache::Cache,
    /// Where the status page is served (`--status-path`); `None`: nowhere.
    pub status_path: Option<String>,
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
            options: files::Options::default(),
            head: Vec::new(),
            clock: response::Clock::default(),
            cache: cache::Cache::default(),
            status_path: None,
        }
    }

    /// With more connections open than this (90% of the limit), idle
    /// keep-alive connections are closed to make room.
    pub fn crowded_above(&self) -> usize {
        self.max_connections - self.max_connections / 10
    }
}
