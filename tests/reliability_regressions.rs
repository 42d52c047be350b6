//! Regression tests for crashes the fuzz targets found (fuzz/, see
//! RELIABILITY.md), replayed over the wire against the example programs.
//! One test per finding, named after it; each runs (and passes) since its fix.

mod util;

use std::io::Read;

use util::{Server, read_line, send};

/// A site for http_server with one page.
struct Site(std::path::PathBuf);

impl Site {
    fn new(label: &str) -> Site {
        let dir = std::env::temp_dir().join(format!(
            "sockloop-regressions-{}-{label}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root")).unwrap();
        std::fs::write(dir.join("root/index.html"), "<p>home</p>\n").unwrap();
        std::fs::create_dir_all(dir.join("root/sub")).unwrap();
        Site(dir)
    }

    fn start(&self) -> Server {
        let root = self.0.join("root");
        Server::start(
            "http_server",
            &["--addr", "127.0.0.1:0", "--root", root.to_str().unwrap()],
        )
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Found by fuzz/fuzz_targets/http_request.rs: `files::split_target` compares
/// the target's first 7 and 8 bytes with `http://` and `https://` by slicing
/// the `&str`, which panics when a multi-byte character straddles byte 7 or 8
/// (`/slaéé`: `é` is bytes 6..8), also in what is left of an absolute-form
/// target once its scheme and host are removed. The reactor's panic
/// isolation closes the connection, so the client gets no answer at all
/// instead of a 404; a keep-alive client loses its connection.
#[test]
fn a_target_with_a_multibyte_character_at_byte_7_gets_404_not_a_dropped_connection() {
    let site = Site::new("split-target");
    let server = site.start();
    let mut stream = server.connect();
    for target in [
        "/sla\u{e9}\u{e9}",
        "/slas\u{e9}\u{e9}",
        "/\u{20ac}\u{20ac}\u{20ac}",
        // The absolute form, on what is left once `http://h` is removed.
        "http://h/abcdef\u{e9}",
    ] {
        send(
            &mut stream,
            format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes(),
        );
        let status = read_line(&mut stream);
        assert!(status.starts_with("HTTP/1.1 404 "), "{target}: {status:?}");
        // Skip the rest of the 404 to stay in step.
        let mut len = 0;
        loop {
            let line = read_line(&mut stream);
            let line = line.trim_end_matches('\r');
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; len];
        stream.read_exact(&mut body).unwrap();
    }
}

/// Reads one response head: the status line and the headers, names lower-cased.
fn read_head(stream: &mut impl Read) -> (String, Vec<(String, String)>) {
    let status = read_line(stream);
    let mut headers = Vec::new();
    loop {
        let line = read_line(stream);
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            return (status, headers);
        }
        let (name, value) = line.split_once(':').expect("a header line");
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
}

/// Found by fuzz/fuzz_targets/http_request.rs: a directory asked for with a
/// doubled leading slash and no trailing one (`//sub`) is redirected to
/// `Location: //sub/`. A `Location` starting with `//` is a network-path
/// reference (RFC 3986 §4.2): a browser goes to the host `sub`. Anyone can
/// send a link to `http://this-server//<a directory that exists>` that lands
/// on a host of that name: an open redirect (the same bug as serve-static's
/// CVE-2015-1164). The redirect should name a path on this server, such as
/// `/sub/`.
#[test]
fn a_directory_asked_for_with_a_double_slash_is_not_redirected_off_site() {
    let site = Site::new("double-slash");
    let server = site.start();
    for target in ["//sub", "///sub", "//sub?q=1", "//."] {
        let mut stream = server.connect();
        send(
            &mut stream,
            format!("GET {target} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        let (status, headers) = read_head(&mut stream);
        let location = headers
            .iter()
            .find(|(name, _)| name == "location")
            .map(|(_, value)| value.as_str());
        if let Some(location) = location {
            assert!(
                location.starts_with('/') && !location.starts_with("//"),
                "{target}: {status} redirects to {location:?}, another host"
            );
        }
    }
}

/// Found by fuzz/fuzz_targets/http_request.rs (Finding 9): the reason given
/// with a 400 depended on how much of a bad head had arrived. A carriage
/// return without its line feed before the request line was skipped as an
/// empty line until more came; a request line with junk after its version
/// was "malformed" while short and "a bad line ending" once a carriage
/// return followed. Sent whole or in two pieces, each head here gets the
/// same answer, for the reason that comes first in it.
#[test]
fn a_bad_head_gets_the_same_400_whole_or_in_pieces() {
    let site = Site::new("split-400");
    let server = site.start();
    let ask = |pieces: &[&[u8]]| {
        let mut stream = server.connect();
        for (i, piece) in pieces.iter().enumerate() {
            if i > 0 {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            send(&mut stream, piece);
        }
        String::from_utf8_lossy(&util::read_to_end(&mut stream)).into_owned()
    };
    let cases: [(&[u8], usize, &str); 3] = [
        (
            b"\r\x00GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            1,
            "carriage return",
        ),
        (
            b"G / HTTP/1.1\x01\x04G\rET / HTTP/1.1\r\n\r\n",
            14,
            "malformed",
        ),
        (b"GET / HTTP/1.1x\rHost: a\r\n\r\n", 15, "malformed"),
    ];
    for (head, cut, reason) in cases {
        let whole = ask(&[head]);
        let split = ask(&[&head[..cut], &head[cut..]]);
        let label = String::from_utf8_lossy(head);
        assert!(whole.starts_with("HTTP/1.1 400 "), "{label:?}: {whole:?}");
        assert!(whole.contains(reason), "{label:?}: {whole:?}");
        // The Date header may tick between the two answers; the rest may not.
        let body = |r: &str| r.split_once("\r\n\r\n").map(|(_, b)| b.to_string());
        assert_eq!(body(&whole), body(&split), "{label:?}");
    }
}
