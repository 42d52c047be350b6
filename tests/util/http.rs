//! The http_server example as a real process: a scratch site to serve, and
//! a small HTTP/1.1 client written here on std's TcpStream (the tests of
//! http_server share them).

use std::io::Read;
use std::net::TcpStream;
use std::path::PathBuf;

use super::{Server, read_exact, read_line, send};

/// A site to serve in a scratch directory: `root/` with a few files, and a
/// `secret.txt` beside it that must never be served.
pub struct Site {
    pub dir: PathBuf,
}

pub const INDEX: &str = "<!DOCTYPE html><title>test</title><p>home</p>\n";
pub const STYLE: &str = "body { color: #333; }\n";
pub const SUB_INDEX: &str = "<p>sub</p>\n";

impl Site {
    pub fn new(name: &str) -> Site {
        let dir = std::env::temp_dir().join(format!("sockloop-http-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root/sub")).unwrap();
        std::fs::write(dir.join("root/index.html"), INDEX).unwrap();
        std::fs::write(dir.join("root/style.css"), STYLE).unwrap();
        std::fs::write(dir.join("root/data.json"), "{}").unwrap();
        std::fs::write(dir.join("root/blob.unknownextension"), "?").unwrap();
        for name in ["movie.mp4", "paper.pdf", "src.tar.gz"] {
            std::fs::write(dir.join("root").join(name), "").unwrap();
        }
        std::fs::write(dir.join("root/sub/index.html"), SUB_INDEX).unwrap();
        std::fs::write(dir.join("secret.txt"), "top secret").unwrap();
        std::os::unix::fs::symlink(dir.join("secret.txt"), dir.join("root/leak.txt")).unwrap();
        Site { dir }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.join("root")
    }

    pub fn start(&self, extra: &[&str]) -> Server {
        let root = self.root();
        let mut args = vec!["--addr", "127.0.0.1:0", "--root", root.to_str().unwrap()];
        args.extend_from_slice(extra);
        Server::start("http_server", &args)
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One response as the client read it.
pub struct Response {
    pub status: u16,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads a status line and headers.
pub fn read_head(stream: &mut impl Read) -> (u16, Vec<(String, String)>) {
    let status_line = read_line(stream);
    let mut words = status_line.trim_end_matches('\r').split(' ');
    assert_eq!(
        words.next(),
        Some("HTTP/1.1"),
        "status line {status_line:?}"
    );
    let status = words
        .next()
        .and_then(|s| s.parse().ok())
        .expect("a status code");
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

/// Reads one response; a response to HEAD (or a 304) has no body whatever
/// its Content-Length says.
pub fn read_response(stream: &mut impl Read, to_head: bool) -> Response {
    let (status, headers) = read_head(stream);
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if !to_head && status != 304 {
        let len = response
            .header("content-length")
            .expect("Content-Length")
            .parse()
            .expect("a numeric Content-Length");
        response.body = read_exact(stream, len);
    }
    response
}

pub fn get(target: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: test\r\n\r\n")
}

/// Sends `raw` on a new connection and reads one response.
pub fn exchange(server: &Server, raw: &str) -> (Response, TcpStream) {
    let mut stream = server.connect();
    send(&mut stream, raw.as_bytes());
    let response = read_response(&mut stream, raw.starts_with("HEAD "));
    (response, stream)
}

/// Whether the server closed the connection: EOF, with nothing more sent.
pub fn closed_quietly(stream: &mut TcpStream) -> bool {
    let mut rest = Vec::new();
    match stream.read_to_end(&mut rest) {
        Ok(_) => rest.is_empty(),
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}
