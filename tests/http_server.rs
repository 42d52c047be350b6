//! The http_server example as a real process, spoken to over loopback with a
//! small HTTP client written here on std's TcpStream.

mod util;

use std::io::Write;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use util::http::{
    INDEX, Response, STYLE, SUB_INDEX, Site, closed_quietly, exchange, get, read_head,
    read_response,
};
use util::{Server, send, wait_until};

#[test]
fn get_root_serves_index_html() {
    let site = Site::new("root");
    let server = site.start(&[]);
    let (r, _) = exchange(&server, &get("/"));
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), INDEX);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(
        r.header("content-length"),
        Some(INDEX.len().to_string().as_str())
    );
    assert_eq!(r.header("server"), Some("sockloop"));
    assert!(httpdate::parse_http_date(r.header("date").unwrap()).is_ok());
    assert!(httpdate::parse_http_date(r.header("last-modified").unwrap()).is_ok());
    assert_eq!(
        r.header("connection"),
        None,
        "HTTP/1.1 keeps the connection"
    );
}

#[test]
fn content_type_follows_the_extension() {
    let site = Site::new("types");
    let server = site.start(&[]);
    for (target, body, content_type) in [
        ("/style.css", STYLE, "text/css; charset=utf-8"),
        ("/data.json", "{}", "application/json"),
        ("/blob.unknownextension", "?", "application/octet-stream"),
        ("/movie.mp4", "", "video/mp4"),
        ("/paper.pdf", "", "application/pdf"),
        ("/src.tar.gz", "", "application/gzip"),
        ("/sub/", SUB_INDEX, "text/html; charset=utf-8"),
    ] {
        let (r, _) = exchange(&server, &get(target));
        assert_eq!((r.status, r.text().as_str()), (200, body), "{target}");
        assert_eq!(r.header("content-type"), Some(content_type), "{target}");
    }
}

#[test]
fn head_sends_the_headers_and_no_body() {
    let site = Site::new("head");
    let server = site.start(&[]);
    let (r, mut stream) = exchange(&server, "HEAD /style.css HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-length"),
        Some(STYLE.len().to_string().as_str())
    );
    assert_eq!(r.header("content-type"), Some("text/css; charset=utf-8"));
    // Had a body followed, this would read it as the next status line.
    send(&mut stream, get("/").as_bytes());
    let next = read_response(&mut stream, false);
    assert_eq!((next.status, next.text().as_str()), (200, INDEX));
}

#[test]
fn if_modified_since_gets_304() {
    let site = Site::new("ims");
    let server = site.start(&[]);
    let (r, mut stream) = exchange(&server, &get("/"));
    let last_modified = r.header("last-modified").unwrap().to_string();
    let conditional =
        |since: &str| format!("GET / HTTP/1.1\r\nHost: test\r\nIf-Modified-Since: {since}\r\n\r\n");
    send(&mut stream, conditional(&last_modified).as_bytes());
    let r = read_response(&mut stream, false);
    assert_eq!(r.status, 304);
    assert_eq!(r.header("last-modified"), Some(last_modified.as_str()));
    // An older date: the file changed since, so it comes whole. (On the same
    // connection: had the 304 carried a body, this would be out of step.)
    send(
        &mut stream,
        conditional("Thu, 01 Jan 1970 00:00:00 GMT").as_bytes(),
    );
    let r = read_response(&mut stream, false);
    assert_eq!((r.status, r.text().as_str()), (200, INDEX));
}

#[test]
fn missing_file_is_404_with_a_page() {
    let site = Site::new("404");
    let server = site.start(&[]);
    let (r, mut stream) = exchange(&server, &get("/no/such/file.html"));
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(r.text().contains("404 Not Found"), "{}", r.text());
    send(&mut stream, get("/").as_bytes());
    assert_eq!(
        read_response(&mut stream, false).status,
        200,
        "a 404 keeps the connection"
    );
}

#[test]
fn other_methods_get_405_with_allow() {
    let site = Site::new("405");
    let server = site.start(&[]);
    let (r, mut stream) = exchange(
        &server,
        "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 4\r\n\r\nbody",
    );
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    send(&mut stream, get("/").as_bytes());
    let r = read_response(&mut stream, false);
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, INDEX),
        "the body was skipped"
    );
}

#[test]
fn a_body_on_a_get_is_skipped() {
    let site = Site::new("body");
    let server = site.start(&[]);
    let raw = "GET / HTTP/1.1\r\nHost: test\r\nContent-Length: 17\r\n\r\nGET /nothing HTTP";
    let (r, mut stream) = exchange(&server, &format!("{raw}{}", get("/style.css")));
    assert_eq!((r.status, r.text().as_str()), (200, INDEX));
    let r = read_response(&mut stream, false);
    assert_eq!((r.status, r.text().as_str()), (200, STYLE));
}

/// Sends `raw` and expects `status` with `Connection: close`, then EOF.
/// Returns the response, error page and all.
fn refused(server: &Server, raw: &[u8], status: u16) -> Response {
    let mut stream = server.connect();
    send(&mut stream, raw);
    let r = read_response(&mut stream, false);
    assert_eq!(
        r.status,
        status,
        "{}",
        String::from_utf8_lossy(&raw[..raw.len().min(60)])
    );
    assert_eq!(r.header("connection"), Some("close"));
    assert!(closed_quietly(&mut stream), "closed after {status}");
    r
}

/// The sentence an error page explains itself with: the first paragraph,
/// after checking that the page is the whole small HTML document the
/// server sends, titled with the status.
fn page_reason(r: &Response) -> String {
    let page = r.text();
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(page.starts_with("<!DOCTYPE html>\n"), "{page}");
    assert!(page.trim_end().ends_with("</html>"), "{page}");
    let title = page
        .split_once("<title>")
        .and_then(|(_, rest)| rest.split_once("</title>"))
        .map(|(title, _)| title)
        .unwrap_or_else(|| panic!("no title: {page}"));
    assert!(title.starts_with(&r.status.to_string()), "{title}");
    assert!(page.contains(&format!("<h1>{title}</h1>")), "{page}");
    page.split_once("<p>")
        .and_then(|(_, rest)| rest.split_once("</p>"))
        .map(|(reason, _)| reason.to_string())
        .unwrap_or_else(|| panic!("no reason: {page}"))
}

#[test]
fn bad_percent_encoding_is_400_and_says_so() {
    let site = Site::new("400");
    let server = site.start(&[]);
    for target in ["/%zz", "/index.html%2"] {
        let r = refused(&server, get(target).as_bytes(), 400);
        let reason = page_reason(&r);
        assert!(reason.contains("percent-encoded"), "{target}: {reason}");
    }
}

/// RFC 9112 section 3.2: an HTTP/1.1 request without Host is a 400, and
/// the page says that Host is what is missing. HTTP/1.0 predates Host.
#[test]
fn http_1_1_without_host_is_400_saying_host_is_missing() {
    let site = Site::new("nohost");
    let server = site.start(&[]);
    let r = refused(&server, b"GET / HTTP/1.1\r\n\r\n", 400);
    let reason = page_reason(&r);
    assert!(reason.contains("no Host header"), "{reason}");
    assert!(reason.contains("HTTP/1.1"), "{reason}");
    let r = refused(
        &server,
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        400,
    );
    assert!(page_reason(&r).contains("more than one Host"));

    let (r, _) = exchange(&server, "GET / HTTP/1.0\r\n\r\n");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, INDEX),
        "HTTP/1.0 needs no Host"
    );
}

/// The same with python's http.client, a client nobody here wrote: it
/// sends Host by itself unless told not to.
#[test]
fn pythons_http_client_gets_the_page_and_the_missing_host_reason() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("note: python3 not found; skipping the http.client test");
        return;
    }
    let site = Site::new("python");
    let server = site.start(&[]);
    let addr = server.socket_addr();
    let script = r#"
import http.client, sys
host, port = sys.argv[1], int(sys.argv[2])
for skip_host in (False, True):
    c = http.client.HTTPConnection(host, port, timeout=10)
    c.putrequest("GET", "/", skip_host=skip_host)
    c.endheaders()
    r = c.getresponse()
    body = r.read().decode()
    print(r.status, r.reason, r.getheader("Content-Type"), len(body), sep="|")
    print(body, end="")
    c.close()
"#;
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            &addr.ip().to_string(),
            &addr.port().to_string(),
        ])
        .stderr(Stdio::inherit())
        .output()
        .expect("running python3");
    assert!(out.status.success(), "python3 failed");
    let out = String::from_utf8(out.stdout).unwrap();
    let (first, rest) = out.split_once('\n').unwrap();
    assert_eq!(
        first,
        format!("200|OK|text/html; charset=utf-8|{}", INDEX.len())
    );
    let rest = rest.strip_prefix(INDEX).expect("the index page");
    let (second, page) = rest.split_once('\n').unwrap();
    assert!(
        second.starts_with("400|Bad Request|text/html; charset=utf-8|"),
        "{second}"
    );
    assert!(page.contains("<title>400 Bad Request</title>"), "{page}");
    assert!(page.contains("no Host header"), "{page}");
}

/// Every 400 names what was wrong, each its own reason; so do 431's two.
#[test]
fn every_refusal_page_names_what_was_wrong() {
    let site = Site::new("reasons");
    let server = site.start(&[]);
    let many_headers: String = (0..70).map(|i| format!("X-{i}: y\r\n")).collect();
    let many_headers = format!("GET / HTTP/1.1\r\nHost: test\r\n{many_headers}\r\n");
    let cases: [(&str, u16, &str); 10] = [
        (
            "GET /a b HTTP/1.1\r\nHost: test\r\n\r\n",
            400,
            "request line is malformed",
        ),
        (
            "G(T / HTTP/1.1\r\nHost: test\r\n\r\n",
            400,
            "request line is malformed",
        ),
        (
            "GET / HTTP/1.1\r\nNo Colon\r\n\r\n",
            400,
            "header line is malformed",
        ),
        ("GET / HTTP/1.1\rHost: test\r\n\r\n", 400, "carriage return"),
        (
            "GET * HTTP/1.1\r\nHost: test\r\n\r\n",
            400,
            "target is not a path",
        ),
        (
            "GET / HTTP/1.1\r\nHost: test\r\nContent-Length: ten\r\n\r\n",
            400,
            "Content-Length header is not a plain decimal number",
        ),
        (
            "GET / HTTP/1.1\r\nHost: test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            400,
            "Content-Length headers that disagree",
        ),
        (
            "GET / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n",
            400,
            "Transfer-Encoding",
        ),
        (&many_headers, 431, "more than 64 header fields"),
        ("GET / HTTP/3.0\r\n\r\n", 505, "HTTP/1.0 and HTTP/1.1"),
    ];
    let mut reasons = std::collections::BTreeSet::new();
    for (raw, status, says) in cases {
        let r = refused(&server, raw.as_bytes(), status);
        let reason = page_reason(&r);
        assert!(reason.contains(says), "{raw:?}: {reason}");
        reasons.insert(reason);
    }
    assert_eq!(
        reasons.len(),
        cases.len() - 1,
        "the two bad request lines share one"
    );
}

#[test]
fn request_line_over_8k_is_414() {
    let site = Site::new("414");
    let server = site.start(&[]);
    let long = format!("/{}", "a".repeat(9000));
    let r = refused(&server, get(&long).as_bytes(), 414);
    assert!(page_reason(&r).contains("request line is longer than 8 KiB"));
}

#[test]
fn head_over_8k_is_431() {
    let site = Site::new("431");
    let server = site.start(&[]);
    let raw = format!(
        "GET / HTTP/1.1\r\nHost: test\r\nX-Padding: {}\r\n\r\n",
        "p".repeat(9000)
    );
    let r = refused(&server, raw.as_bytes(), 431);
    assert!(page_reason(&r).contains("head is longer than 8 KiB"));
}

#[test]
fn other_http_versions_are_505() {
    let site = Site::new("505");
    let server = site.start(&[]);
    refused(&server, b"GET / HTTP/2.0\r\n\r\n", 505);
    refused(&server, b"GET / HTTP/1.2\r\nHost: test\r\n\r\n", 505);
    refused(&server, b"GET / HTTP/0.9\r\n\r\n", 505);
}

#[test]
fn directory_without_slash_is_301() {
    let site = Site::new("301");
    let server = site.start(&[]);
    let (r, mut stream) = exchange(&server, &get("/sub?x=1"));
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/sub/?x=1"));
    send(&mut stream, get("/sub/").as_bytes());
    let r = read_response(&mut stream, false);
    assert_eq!((r.status, r.text().as_str()), (200, SUB_INDEX));
}

#[test]
fn request_split_at_every_byte_is_parsed_the_same() {
    let site = Site::new("bytewise");
    let server = site.start(&[]);
    let raw = "GET /style.css?v=2 HTTP/1.1\r\nHost: test\r\nAccept: */*\r\n\r\n";
    let mut stream = server.connect();
    stream.set_nodelay(true).unwrap();
    for byte in raw.as_bytes() {
        stream.write_all(std::slice::from_ref(byte)).unwrap();
    }
    let bytewise = read_response(&mut stream, false);
    let (whole, _) = exchange(&server, raw);
    assert_eq!((bytewise.status, bytewise.text().as_str()), (200, STYLE));
    assert_eq!(
        bytewise.header("content-type"),
        whole.header("content-type")
    );
    assert_eq!(bytewise.body, whole.body);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let site = Site::new("pipeline");
    let server = site.start(&[]);
    let raw = format!("{}{}{}", get("/style.css"), get("/nothing"), get("/"));
    let (first, mut stream) = exchange(&server, &raw);
    let second = read_response(&mut stream, false);
    let third = read_response(&mut stream, false);
    assert_eq!((first.status, first.text().as_str()), (200, STYLE));
    assert_eq!(second.status, 404);
    assert_eq!((third.status, third.text().as_str()), (200, INDEX));
}

#[test]
fn hundreds_of_pipelined_requests_are_all_answered_in_order() {
    let site = Site::new("flood");
    // 8 KiB responses: a few pipelined requests queue more than the server
    // lets itself queue, so it must stop parsing and hold the rest back.
    let page: String = (0..8192)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    std::fs::write(site.root().join("page.txt"), &page).unwrap();
    let server = site.start(&[]);
    let mut stream = server.connect();
    let mut writer = stream.try_clone().unwrap();
    let pairs = 300;
    let sender = std::thread::spawn(move || {
        let pair = format!("{}{}", get("/page.txt"), get("/data.json"));
        send(&mut writer, pair.repeat(pairs).as_bytes());
    });
    for i in 0..pairs {
        let text = read_response(&mut stream, false);
        let json = read_response(&mut stream, false);
        assert_eq!(
            (text.status, text.body.len()),
            (200, page.len()),
            "pair {i}"
        );
        assert_eq!(text.text(), page, "pair {i}");
        assert_eq!((json.status, json.text().as_str()), (200, "{}"), "pair {i}");
    }
    sender.join().unwrap();
}

#[test]
fn keep_alive_serves_two_requests_on_one_connection() {
    let site = Site::new("keepalive");
    let server = site.start(&[]);
    let (r, mut stream) = exchange(&server, &get("/"));
    assert_eq!(r.status, 200);
    send(&mut stream, get("/style.css").as_bytes());
    let r = read_response(&mut stream, false);
    assert_eq!((r.status, r.text().as_str()), (200, STYLE));
}

#[test]
fn http_1_0_closes_unless_it_asks_for_keep_alive() {
    let site = Site::new("http10");
    let server = site.start(&[]);
    let (r, mut stream) = exchange(&server, "GET / HTTP/1.0\r\n\r\n");
    assert_eq!((r.status, r.text().as_str()), (200, INDEX));
    assert_eq!(r.header("connection"), Some("close"));
    assert!(closed_quietly(&mut stream));

    let keep = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    let (r, mut stream) = exchange(&server, keep);
    assert_eq!(r.header("connection"), Some("keep-alive"));
    send(&mut stream, keep.as_bytes());
    assert_eq!(read_response(&mut stream, false).status, 200);
}

#[test]
fn connection_close_is_honoured() {
    let site = Site::new("close");
    let server = site.start(&[]);
    let raw = "GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
    let (r, mut stream) = exchange(&server, raw);
    assert_eq!((r.status, r.text().as_str()), (200, INDEX));
    assert_eq!(r.header("connection"), Some("close"));
    assert!(closed_quietly(&mut stream));
}

#[test]
fn traversal_attempts_are_404() {
    let site = Site::new("traversal");
    let server = site.start(&[]);
    let mut stream = server.connect();
    for target in [
        "/../secret.txt",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/sub%2f..%2f..%2fsecret.txt",
        "/%252e%252e/secret.txt",
        "/%252e%252e%252fsecret.txt",
        "/index.html%00",
        "/%00/../secret.txt",
        "/leak.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt",
        "/./../secret.txt",
        "/sub/./../..//secret.txt",
        "/sub/..%2f..%2fsecret.txt",
        "http://test/sub/../../secret.txt",
    ] {
        send(&mut stream, get(target).as_bytes());
        let r = read_response(&mut stream, false);
        assert_eq!(r.status, 404, "{target}");
        assert!(!r.text().contains("top secret"), "{target}");
    }
}

/// RFC 3986 section 5.2.4: dot-segments are removed before the root check,
/// so a path that stays inside the root is served as nginx serves it; a
/// file asked for as a directory is not.
#[test]
fn dot_segments_inside_the_root_are_served_and_a_file_is_no_directory() {
    let site = Site::new("dots");
    let server = site.start(&[]);
    let mut stream = server.connect();
    for target in [
        "/sub/../style.css",
        "/sub/%2e%2e/style.css",
        "/sub/./../sub/../style.css",
        "/./style.css",
        "//sub//..//style.css",
    ] {
        send(&mut stream, get(target).as_bytes());
        let r = read_response(&mut stream, false);
        assert_eq!((r.status, r.text().as_str()), (200, STYLE), "{target}");
    }
    for (target, status) in [
        ("/style.css/", 404),
        ("/sub/index.html/", 404),
        ("/sub/..", 200),
    ] {
        send(&mut stream, get(target).as_bytes());
        let r = read_response(&mut stream, false);
        assert_eq!(r.status, status, "{target}");
    }
    send(&mut stream, get("/x/../sub").as_bytes());
    let r = read_response(&mut stream, false);
    assert_eq!((r.status, r.header("location")), (301, Some("/sub/")));
}

/// A `.env` or `.git` left in a web root is not served, by any spelling or
/// through a symlink, unless `--dotfiles` says so; `/.well-known/` is.
#[test]
fn dotfiles_are_refused_unless_asked_for() {
    let site = Site::new("dotfiles");
    let root = site.root();
    std::fs::write(root.join(".env"), "PASSWORD=hunter2").unwrap();
    std::fs::create_dir(root.join(".git")).unwrap();
    std::fs::write(root.join(".git/config"), "[remote]").unwrap();
    std::fs::create_dir(root.join(".well-known")).unwrap();
    std::fs::write(root.join(".well-known/security.txt"), "Contact: me").unwrap();
    std::os::unix::fs::symlink(".env", root.join("env.txt")).unwrap();
    let hidden = [
        "/.env",
        "/%2eenv",
        "/.git/config",
        "/.git/",
        "/sub/../.env",
        "/env.txt",
    ];
    let server = site.start(&[]);
    let mut stream = server.connect();
    for target in hidden {
        send(&mut stream, get(target).as_bytes());
        let r = read_response(&mut stream, false);
        assert_eq!(r.status, 404, "{target}");
        assert!(!r.text().contains("hunter2") && !r.text().contains("remote"));
    }
    send(&mut stream, get("/.well-known/security.txt").as_bytes());
    assert_eq!(read_response(&mut stream, false).text(), "Contact: me");
    drop(server);
    let server = site.start(&["--dotfiles"]);
    let (r, _) = exchange(&server, &get("/.env"));
    assert_eq!((r.status, r.text().as_str()), (200, "PASSWORD=hunter2"));
    let (r, _) = exchange(&server, &get("/env.txt"));
    assert_eq!(r.status, 200);
}

/// Small files are answered from memory and checked against the disk at
/// most once a second. Each change below must show within that second (the
/// wait allows far more, for a loaded machine): a file rewritten, even to
/// the same length, is served new; a deleted one is 404; a symlink repointed
/// outside the root is refused like any other.
#[test]
fn cached_files_follow_the_disk() {
    let site = Site::new("cache");
    let root = site.root();
    std::os::unix::fs::symlink("style.css", root.join("link.css")).unwrap();
    let server = site.start(&[]);
    let mut stream = server.connect();
    let mut fetch = |target: &str| {
        send(&mut stream, get(target).as_bytes());
        let r = read_response(&mut stream, false);
        (r.status, r.text())
    };
    assert_eq!(fetch("/style.css"), (200, STYLE.to_string()));
    assert_eq!(fetch("/link.css"), (200, STYLE.to_string()));
    assert_eq!(fetch("/sub/"), (200, SUB_INDEX.to_string()));
    assert_eq!(fetch("/data.json"), (200, "{}".to_string()));

    let restyled = STYLE.replace("#333", "#444");
    assert_eq!(restyled.len(), STYLE.len());
    std::fs::write(root.join("style.css"), &restyled).unwrap();
    wait_until("the rewritten file is served", || {
        fetch("/style.css") == (200, restyled.clone())
    });
    std::fs::write(root.join("data.json"), "{\"a\": 1}").unwrap();
    wait_until("the grown file is served", || {
        fetch("/data.json") == (200, "{\"a\": 1}".to_string())
    });
    std::fs::remove_file(root.join("sub/index.html")).unwrap();
    wait_until("the deleted file is 404", || fetch("/sub/").0 == 404);
    std::fs::remove_file(root.join("link.css")).unwrap();
    std::os::unix::fs::symlink(site.dir.join("secret.txt"), root.join("link.css")).unwrap();
    wait_until("the repointed symlink is refused", || {
        fetch("/link.css").0 == 404
    });
    assert_eq!(fetch("/link.css").0, 404, "and stays refused");
}

#[test]
fn slow_request_head_gets_408_and_idle_connection_is_closed() {
    let site = Site::new("slow");
    let server = site.start(&["--header-timeout", "0.5"]);
    let started = Instant::now();
    let mut slow = server.connect();
    send(&mut slow, b"GET / HT");
    let r = read_response(&mut slow, false);
    assert_eq!(r.status, 408);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(closed_quietly(&mut slow));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    let mut silent = server.connect();
    assert!(
        closed_quietly(&mut silent),
        "a silent connection is closed without a word"
    );

    // A head that begins after a keep-alive wait gets its own full time.
    let (r, mut reused) = exchange(&server, &get("/"));
    assert_eq!(r.status, 200);
    send(&mut reused, b"GET /style.css HTTP/1.1\r\n");
    let r = read_response(&mut reused, false);
    assert_eq!(r.status, 408);
}

#[test]
fn idle_keep_alive_connection_is_closed_after_the_timeout() {
    let site = Site::new("idle");
    let server = site.start(&["--keepalive-timeout", "0.5"]);
    let (r, mut stream) = exchange(&server, &get("/"));
    assert_eq!(r.status, 200);
    assert!(closed_quietly(&mut stream));
}

/// The keep-alive timeout runs from the last response, not the first: the
/// server leaves its timer running across requests and, when it fires, waits
/// out what is left of the idle time. (Margins of 1 s either way.)
#[test]
fn keep_alive_timeout_runs_from_the_last_response() {
    let site = Site::new("idle-again");
    let server = site.start(&["--keepalive-timeout", "3"]);
    let (r, mut stream) = exchange(&server, &get("/"));
    assert_eq!(r.status, 200);
    for _ in 0..2 {
        std::thread::sleep(Duration::from_secs(2));
        send(&mut stream, get("/").as_bytes());
        assert_eq!(read_response(&mut stream, false).status, 200);
    }
    // 4 s after the first response, and still open; then closed when idle.
    assert!(closed_quietly(&mut stream));
}

#[test]
fn near_the_connection_limit_the_oldest_idle_connection_makes_room() {
    let site = Site::new("limit");
    let server = site.start(&["--max-connections", "10"]);
    // Nine keep-alive connections, idle after one request each, oldest first.
    let mut idle: Vec<TcpStream> = (0..9)
        .map(|_| {
            let (r, stream) = exchange(&server, &get("/"));
            assert_eq!(r.status, 200);
            stream
        })
        .collect();
    // The tenth passes 90%: the oldest idle one is closed for it.
    let (r, _newest) = exchange(&server, &get("/style.css"));
    assert_eq!(r.status, 200);
    assert!(
        closed_quietly(&mut idle[0]),
        "the oldest idle connection was closed"
    );
    send(&mut idle[1], get("/").as_bytes());
    assert_eq!(
        read_response(&mut idle[1], false).status,
        200,
        "the others stay"
    );
}

#[test]
fn two_threads_serve_the_same_port_and_stop_on_sigterm() {
    let site = Site::new("threads");
    let mut server = site.start(&["--threads", "2"]);
    // Several connections: the kernel spreads them over both reactors.
    for _ in 0..8 {
        let mut stream = server.connect();
        send(&mut stream, get("/").as_bytes());
        let (status, _) = read_head(&mut stream);
        assert_eq!(status, 200);
    }
    let threads = std::fs::read_dir(format!("/proc/{}/task", server.pid()))
        .unwrap()
        .count();
    assert!(
        threads >= 3,
        "main thread and two reactors, found {threads}"
    );
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(Duration::from_secs(5)), Some(0));
}

/// With `--threads` the listeners use SO_REUSEPORT; a port another
/// program listens on, with SO_REUSEPORT too, is still refused.
#[test]
fn two_threads_refuse_a_port_already_served() {
    let site = Site::new("threads-taken");
    let taken = sockloop::reuseport_listener("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let root = site.root();
    let out = Command::new(util::example_path("http_server"))
        .args([
            "--threads",
            "2",
            "--addr",
            &addr,
            "--root",
            root.to_str().unwrap(),
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "announced a port it does not hold");
    let in_use = std::io::Error::from_raw_os_error(libc::EADDRINUSE);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("error: listening on {addr}: {in_use}\n")
    );
}

#[test]
fn bad_flags_and_missing_root_fail_cleanly() {
    let run = |args: &[&str]| {
        Command::new(util::example_path("http_server"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = run(&["--header-timeout", "soon"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a bad flag value is a usage error"
    );
    let out = run(&["--addr", "127.0.0.1:0", "--root", "/nonexistent/www"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn sigterm_exits_cleanly() {
    let site = Site::new("sigterm");
    let mut server = site.start(&[]);
    let (r, _stream) = exchange(&server, &get("/"));
    assert_eq!(r.status, 200);
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(Duration::from_secs(5)), Some(0));
}
