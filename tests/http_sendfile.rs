//! http_server's large files: sent from the file with `sendfile(2)`, so
//! their bytes never pass through the process (shown by tracing its reads
//! with strace), in bounded memory, and such a download still obeys the
//! send timeout, a client leaving and the graceful shutdown.

mod util;

use std::io::Read;
use std::process::Command;
use std::time::Duration;

use util::http::{INDEX, STYLE, Site, exchange, get, read_head, read_response};
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

#[test]
fn a_100_mib_file_streams_in_bounded_memory() {
    let site = Site::new("big");
    with_big_file(&site);
    let server = site.start(&[]);
    let (warm, mut stream) = exchange(&server, &get("/"));
    assert_eq!(warm.status, 200);
    let baseline = server.rss_kib();

    send(&mut stream, get("/big.bin").as_bytes());
    // Leave the response unread for a moment: a server that read the file
    // whole, or queued it all, would show it now.
    std::thread::sleep(Duration::from_millis(300));
    let mut peak = server.rss_kib();
    let (status, headers) = read_head(&mut stream);
    assert_eq!(status, 200);
    assert!(headers.contains(&("content-length".into(), BIG.to_string())));
    let mut buf = vec![0u8; 1024 * 1024];
    let mut received = 0u64;
    let mut nonzero = false;
    while received < BIG {
        let want = buf.len().min((BIG - received) as usize);
        let n = stream.read(&mut buf[..want]).expect("reading the body");
        assert!(n > 0, "EOF after {received} bytes");
        nonzero |= buf[..n].iter().any(|&b| b != 0);
        received += n as u64;
        if received % (8 * 1024 * 1024) < n as u64 {
            peak = peak.max(server.rss_kib());
        }
    }
    assert!(!nonzero, "a sparse file reads as zeros");
    let growth = peak.saturating_sub(baseline);
    assert!(
        growth < 30 * 1024,
        "RSS grew by {growth} KiB serving 100 MiB"
    );
    // Still in step and still open.
    send(&mut stream, get("/style.css").as_bytes());
    assert_eq!(read_response(&mut stream, false).text(), STYLE);
}

#[test]
fn a_client_leaving_mid_file_costs_nothing_more() {
    let site = Site::new("leave");
    with_big_file(&site);
    let server = site.start(&[]);
    let fds = server.fd_count();

    let mut stream = server.connect();
    send(&mut stream, get("/big.bin").as_bytes());
    let (status, _) = read_head(&mut stream);
    assert_eq!(status, 200);
    read_exact(&mut stream, 1024 * 1024);
    assert!(server.fd_count() > fds, "the socket and the file are open");
    drop(stream);
    wait_until("the socket and the file are closed", || {
        server.fd_count() <= fds
    });

    let (r, _) = exchange(&server, &get("/"));
    assert_eq!((r.status, r.text().as_str()), (200, INDEX));
}

#[test]
fn a_client_that_stops_reading_is_cut_off_after_the_send_timeout() {
    let site = Site::new("stuck");
    with_big_file(&site);
    let server = site.start(&["--send-timeout", "0.5"]);
    let fds = server.fd_count();
    let mut stream = server.connect();
    send(&mut stream, get("/big.bin").as_bytes());
    let (status, _) = read_head(&mut stream);
    assert_eq!(status, 200);
    read_exact(&mut stream, 64 * 1024);
    // Now read nothing: the server's queue stays full.
    assert!(server.fd_count() > fds, "the socket and the file are open");
    wait_until("the connection and the file are closed", || {
        server.fd_count() <= fds
    });
    let mut received = 64 * 1024;
    let mut buf = vec![0; 1 << 20];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading after the cut: {e}"),
        }
    }
    assert!(received < BIG, "cut off before the end");
}
