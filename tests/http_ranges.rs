//! http_server's ranges and validators, judged by clients nobody here
//! wrote: Python's http.client for every Range, If-Range, ETag and
//! If-None-Match case (on a file served from memory and on one sent from
//! disk), and `curl -C -` and `wget -c` resuming a download cut halfway.

mod util;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use util::http::Site;
use util::{pattern, wait_until};

/// Whether `program` runs here; if not, says so (the test then skips).
fn have(program: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        eprintln!("note: {program} not found; skipping (.ci/run installs it)");
    }
    found
}

/// Writes `len` bytes of a test pattern as `name` under the site's root,
/// last modified an hour ago (so its Last-Modified is a strong validator).
fn file(site: &Site, name: &str, len: usize) -> Vec<u8> {
    let bytes = pattern(len as u64, 0, len);
    let path = site.root().join(name);
    std::fs::write(&path, &bytes).unwrap();
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    bytes
}

/// Every case, as Python's http.client sees it. Asserts in Python; prints
/// `ok N` with the number of cases that passed.
const CASES: &str = r#"
import http.client, sys
host, port, target, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
data = open(path, "rb").read()
size = len(data)
conn = http.client.HTTPConnection(host, port, timeout=10)
count = 0

def ask(headers, method="GET"):
    global count
    conn.request(method, target, headers=headers)
    r = conn.getresponse()
    body = r.read()
    count += 1
    return r, body

r, body = ask({})
assert r.status == 200 and body == data, r.status
assert r.getheader("Accept-Ranges") == "bytes"
assert r.getheader("Content-Length") == str(size)
etag, last_modified = r.getheader("ETag"), r.getheader("Last-Modified")
assert etag.startswith('"') and not etag.startswith("W/"), etag

def partial(headers, first, last, method="GET"):
    r, body = ask(headers, method)
    assert r.status == 206, (headers, r.status)
    assert r.getheader("Content-Range") == f"bytes {first}-{last}/{size}", r.getheader("Content-Range")
    assert r.getheader("Content-Length") == str(last - first + 1)
    assert r.getheader("ETag") == etag
    assert body == (b"" if method == "HEAD" else data[first:last + 1]), len(body)

def whole(headers):
    r, body = ask(headers)
    assert r.status == 200 and body == data, (headers, r.status)

def not_modified(headers):
    r, body = ask(headers)
    assert r.status == 304 and body == b"", (headers, r.status)
    assert r.getheader("ETag") == etag and r.getheader("Last-Modified") == last_modified

partial({"Range": "bytes=0-99"}, 0, 99)
partial({"Range": "bytes=100-"}, 100, size - 1)
partial({"Range": "bytes=-100"}, size - 100, size - 1)
partial({"Range": f"bytes={size - 10}-{size * 2}"}, size - 10, size - 1)
partial({"Range": "bytes=0-9,10-19"}, 0, 19)
partial({"Range": "bytes=5-5"}, 5, 5, method="HEAD")
whole({"Range": "bytes=0-9,20-29"})
whole({"Range": "bytes=9-0"})
whole({"Range": "lines=1-2"})
r, body = ask({"Range": f"bytes={size}-"})
assert r.status == 416 and r.getheader("Content-Range") == f"bytes */{size}", r.status
partial({"Range": "bytes=10-19", "If-Range": etag}, 10, 19)
partial({"Range": "bytes=10-19", "If-Range": last_modified}, 10, 19)
whole({"Range": "bytes=10-19", "If-Range": '"stale"'})
whole({"Range": "bytes=10-19", "If-Range": "W/" + etag})
whole({"Range": "bytes=10-19", "If-Range": "Thu, 01 Jan 1970 00:00:00 GMT"})
not_modified({"If-None-Match": etag})
not_modified({"If-None-Match": "*"})
not_modified({"If-None-Match": f'"a", W/{etag}, "b"'})
whole({"If-None-Match": '"a", "b"'})
whole({"If-None-Match": '"other"', "If-Modified-Since": last_modified})
not_modified({"If-Modified-Since": last_modified})
whole({"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"})
whole({"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"})
not_modified({"If-None-Match": etag, "Range": "bytes=0-1"})

def failed(headers, method="GET"):
    r, body = ask(headers, method)
    assert r.status == 412, (headers, r.status)
    assert r.getheader("Content-Range") is None and (method == "HEAD" or b"412" in body)

whole({"If-Match": etag})
whole({"If-Match": "*"})
partial({"If-Match": f'"a", {etag}', "Range": "bytes=0-9"}, 0, 9)
failed({"If-Match": '"other"'})
failed({"If-Match": "W/" + etag})
failed({"If-Match": '"other"', "Range": "bytes=0-9"}, method="HEAD")
failed({"If-Match": '"other"', "If-None-Match": etag})
whole({"If-Unmodified-Since": last_modified})
failed({"If-Unmodified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"})
whole({"If-Unmodified-Since": "Thu, 01 Jan 1970 00:00:00 GMT", "If-Match": etag})
whole({"If-Unmodified-Since": "yesterday"})
print("ok", count)
"#;

fn python_cases(server: &util::Server, target: &str, path: &Path) {
    let addr = server.socket_addr();
    let out = Command::new("python3")
        .args([
            "-c",
            CASES,
            &addr.ip().to_string(),
            &addr.port().to_string(),
        ])
        .args([target, path.to_str().unwrap()])
        .stderr(Stdio::inherit())
        .output()
        .expect("running python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{target}: {stdout}");
    assert_eq!(stdout.trim(), "ok 36", "{target}: every case ran");
}

#[test]
fn pythons_http_client_sees_every_range_and_validator_case() {
    if !have("python3") {
        return;
    }
    let site = Site::new("ranges-python");
    file(&site, "small.txt", 10_000);
    file(&site, "large.bin", 3 * 1024 * 1024 + 7);
    let server = site.start(&[]);
    // From memory (cached), then from the file (send_file).
    python_cases(&server, "/small.txt", &site.root().join("small.txt"));
    python_cases(&server, "/large.bin", &site.root().join("large.bin"));
}

/// Starts a rate-limited download in the background and stops it once
/// `out` holds at least `at_least` bytes: a download cut halfway.
fn cut_short(mut client: Child, out: &Path, at_least: u64, total: u64) {
    wait_until("the download is under way", || {
        std::fs::metadata(out).is_ok_and(|m| m.len() >= at_least)
    });
    let _ = client.kill();
    let _ = client.wait();
    let cut = std::fs::metadata(out).unwrap().len();
    assert!(cut < total, "the download was cut ({cut} of {total} bytes)");
}

const BIG: usize = 16 * 1024 * 1024;

#[test]
fn curl_resumes_a_download_cut_halfway() {
    if !have("curl") {
        return;
    }
    let site = Site::new("ranges-curl");
    let bytes = file(&site, "big.bin", BIG);
    let server = site.start(&[]);
    let url = format!("http://{}/big.bin", server.addr);
    let out = site.dir.join("download.bin");
    let first = Command::new("curl")
        .args(["-s", "--limit-rate", "4M", "-o"])
        .arg(&out)
        .arg(&url)
        .spawn()
        .unwrap();
    cut_short(first, &out, 2 * 1024 * 1024, BIG as u64);
    let resumed = Command::new("curl")
        .args(["-s", "-f", "-C", "-", "-w", "%{http_code}", "-o"])
        .arg(&out)
        .arg(&url)
        .output()
        .unwrap();
    assert!(resumed.status.success(), "curl -C - failed");
    assert_eq!(String::from_utf8_lossy(&resumed.stdout), "206");
    assert!(std::fs::read(&out).unwrap() == bytes, "the file differs");
}

#[test]
fn wget_resumes_a_download_cut_halfway() {
    if !have("wget") {
        return;
    }
    let site = Site::new("ranges-wget");
    let bytes = file(&site, "big.bin", BIG);
    let server = site.start(&[]);
    let url = format!("http://{}/big.bin", server.addr);
    let dir = site.dir.join("downloads");
    std::fs::create_dir(&dir).unwrap();
    let first = Command::new("wget")
        .args(["-q", "--limit-rate=4m", "-P"])
        .arg(&dir)
        .arg(&url)
        .spawn()
        .unwrap();
    let out = dir.join("big.bin");
    cut_short(first, &out, 2 * 1024 * 1024, BIG as u64);
    let resumed = Command::new("wget")
        .args(["-c", "-S", "-P"])
        .arg(&dir)
        .arg(&url)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "wget -c failed: {log}");
    assert!(log.contains("HTTP/1.1 206 Partial Content"), "{log}");
    assert!(std::fs::read(&out).unwrap() == bytes, "the file differs");
}
