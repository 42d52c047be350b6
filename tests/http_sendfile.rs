//! http_server sends files too big for its cache from the file, with
//! `sendfile(2)`: the bytes never pass through the process. Shown by
//! tracing the process's reads with strace; and such a download still
//! obeys the send timeout and the graceful shutdown.

mod util;

use std::io::Read;
use std::process::Command;
use std::time::Duration;

use util::http::{Site, get, read_head};
use util::{Server, read_exact, send, wait_until};

const BIG: u64 = 100 * 1024 * 1024;

fn with_big_file(site: &Site) {
    // Sparse: no disk is spent, and it reads as zeros.
    let file = std::fs::File::create(site.root().join("big.bin")).unwrap();
    file.set_len(BIG).unwrap();
}

/// Reads one response to `GET /big.bin` whole, checking its length.
fn download(server: &Server) {
    let mut stream = server.connect();
    send(&mut stream, get("/big.bin").as_bytes());
    let (status, headers) = read_head(&mut stream);
    assert_eq!(status, 200);
    assert!(headers.contains(&("content-length".into(), BIG.to_string())));
    let mut buf = vec![0; 1 << 20];
    let mut received = 0;
    while received < BIG {
        let n = stream.read(&mut buf).expect("reading the body");
        assert!(n > 0, "EOF after {received} bytes");
        received += n as u64;
    }
}

/// Bytes returned by the traced system calls named in `calls`, summed
/// over the strace log at `log`.
fn bytes_moved(log: &str, calls: &[&str]) -> u64 {
    log.lines()
        .filter(|line| {
            let call = line.split_whitespace().nth(1).unwrap_or("");
            calls.iter().any(|c| call.starts_with(&format!("{c}(")))
        })
        .filter_map(|line| {
            line.rsplit_once(" = ")?
                .1
                .split(' ')
                .next()?
                .parse::<i64>()
                .ok()
        })
        .filter(|&n| n > 0)
        .map(|n| n as u64)
        .sum()
}

/// The process's reads of files (`read` and its kin: not the socket's
/// `recvfrom`) add up to a few KiB while a 100 MiB file goes out, all of
/// it by `sendfile`.
#[test]
fn a_large_file_goes_out_without_being_read_into_the_process() {
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!("note: strace not found; skipping (.ci/run installs it)");
        return;
    }
    let site = Site::new("zero-copy");
    with_big_file(&site);
    let log_path = site.dir.join("strace.log");
    let log_arg = log_path.to_str().unwrap().to_string();
    let traced = "trace=read,pread64,readv,preadv,preadv2,sendfile";
    let wrapper = ["strace", "-f", "-qq", "-e", traced, "-o", &log_arg];
    let root = site.root();
    let mut server = Server::start_under(
        &wrapper,
        "http_server",
        &["--addr", "127.0.0.1:0", "--root", root.to_str().unwrap()],
    );
    download(&server);
    // Stop the server itself (strace's child); strace ends with it.
    let children =
        std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", server.pid())).unwrap();
    let pid: i32 = children.split_whitespace().next().unwrap().parse().unwrap();
    // SAFETY: kill with the pid of the server this test started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(server.wait_exit(util::PATIENCE), Some(0));
    let log = std::fs::read_to_string(&log_path).unwrap();
    let sent = bytes_moved(&log, &["sendfile"]);
    let read = bytes_moved(&log, &["read", "pread64", "readv", "preadv", "preadv2"]);
    assert_eq!(sent, BIG, "every byte by sendfile");
    assert!(read < 64 * 1024, "{read} bytes read into the process");
}

/// A client that stops reading a file being sent with sendfile is cut off
/// by the send timeout (measured from the last byte it took), and the file
/// is closed.
#[test]
fn a_stalled_download_is_cut_off_by_the_send_timeout() {
    let site = Site::new("stalled");
    with_big_file(&site);
    let server = site.start(&["--send-timeout", "0.5"]);
    let fds = server.fd_count();
    let mut stream = server.connect();
    send(&mut stream, get("/big.bin").as_bytes());
    let (status, _) = read_head(&mut stream);
    assert_eq!(status, 200);
    read_exact(&mut stream, 1024 * 1024);
    let file_open = || {
        std::fs::read_dir(format!("/proc/{}/fd", server.pid()))
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .any(|target| target.ends_with("big.bin"))
    };
    assert!(file_open(), "the file is open while it is sent");
    wait_until("the stalled connection is cut off", || {
        server.fd_count() <= fds
    });
    assert!(!file_open());
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    assert!((rest.len() as u64) < BIG, "cut off before the end");
}

/// SIGTERM during a download of a reader too slow to finish: the server
/// still exits 0 within its shutdown deadline.
#[test]
fn sigterm_during_a_slow_download_exits_in_time() {
    let site = Site::new("sigterm-download");
    with_big_file(&site);
    let mut server = site.start(&[]);
    let mut stream = server.connect();
    send(&mut stream, get("/big.bin").as_bytes());
    let (status, _) = read_head(&mut stream);
    assert_eq!(status, 200);
    read_exact(&mut stream, 64 * 1024);
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(Duration::from_secs(5)), Some(0));
}
