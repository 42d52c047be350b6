//! http_server's directory listings (`--list-dirs`), read by a real HTML
//! parser (Python's html.parser), and its precompressed variants, fetched
//! by curl.

mod util;

use std::process::{Command, Stdio};

use util::http::{Site, exchange, get};

/// Parses the listing at `target` with Python's html.parser: prints the
/// title, then one line per link: `href<TAB>text`.
const PARSE: &str = r#"
import html.parser, http.client, sys
host, port, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
conn = http.client.HTTPConnection(host, port, timeout=10)
conn.request("GET", target)
r = conn.getresponse()
assert r.status == 200, r.status
assert r.getheader("Content-Type") == "text/html; charset=utf-8"
page = r.read().decode("utf-8")

class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.title, self.links, self.href, self.in_title = "", [], None, False
    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.href, self.text = dict(attrs)["href"], ""
        self.in_title = tag == "title"
    def handle_endtag(self, tag):
        if tag == "a":
            self.links.append((self.href, self.text))
            self.href = None
        self.in_title = False
    def handle_data(self, data):
        if self.href is not None:
            self.text += data
        elif self.in_title:
            self.title += data

p = Links()
p.feed(page)
print(p.title)
for href, text in p.links:
    print(f"{href}\t{text}")
"#;

fn have_python() -> bool {
    let found = Command::new("python3").arg("--version").output().is_ok();
    if !found {
        eprintln!("note: python3 not found; skipping");
    }
    found
}

/// The title and links of the listing at `target`, as Python parsed them.
fn parse(server: &util::Server, target: &str) -> (String, Vec<(String, String)>) {
    let addr = server.socket_addr();
    let out = Command::new("python3")
        .args([
            "-c",
            PARSE,
            &addr.ip().to_string(),
            &addr.port().to_string(),
            target,
        ])
        .stderr(Stdio::inherit())
        .output()
        .expect("running python3");
    assert!(out.status.success(), "{target}");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let title = lines.next().unwrap_or_default().to_string();
    let links = lines
        .map(|line| {
            let (href, text) = line.split_once('\t').expect("href and text");
            (href.to_string(), text.to_string())
        })
        .collect();
    (title, links)
}

/// Names that need escaping in HTML and encoding in a URL.
const AWKWARD: [&str; 5] = [
    "a&b <c>.txt",
    "quote\"d 'name'.txt",
    "100% #1?.txt",
    "späte Grüße.txt",
    "x:y.txt",
];

#[test]
fn listings_escape_names_link_them_and_hide_dotfiles() {
    if !have_python() {
        return;
    }
    let site = Site::new("listing");
    let root = site.root();
    let dir = root.join("files here");
    std::fs::create_dir(&dir).unwrap();
    for (i, name) in AWKWARD.iter().enumerate() {
        std::fs::write(dir.join(name), name.repeat(i + 1)).unwrap();
    }
    std::fs::create_dir(dir.join("Zeta dir")).unwrap();
    std::fs::write(dir.join(".env"), "PASSWORD=hunter2").unwrap();
    std::fs::create_dir(dir.join(".git")).unwrap();
    std::os::unix::fs::symlink(site.dir.join("secret.txt"), dir.join("outside.txt")).unwrap();
    std::os::unix::fs::symlink(".env", dir.join("env-link")).unwrap();
    let server = site.start(&["--list-dirs"]);

    let (title, links) = parse(&server, "/files%20here/");
    assert_eq!(title, "Index of /files here/");
    let (hrefs, texts): (Vec<_>, Vec<_>) = links.iter().cloned().unzip();
    let mut expected = vec!["../".to_string(), "Zeta dir/".to_string()];
    let mut names: Vec<String> = AWKWARD.iter().map(|s| s.to_string()).collect();
    names.sort_by_key(|n| n.to_lowercase());
    expected.extend(names.iter().cloned());
    assert_eq!(
        texts, expected,
        "the parent, directories, then files by name"
    );
    for hidden in [".env", ".git", "outside.txt", "env-link", "secret"] {
        assert!(!texts.iter().any(|t| t.contains(hidden)), "{hidden} listed");
    }
    // Each link, followed as a browser would (relative to the listing),
    // fetches the file it names.
    let mut stream = server.connect();
    for (href, name) in hrefs.iter().zip(&texts).skip(2) {
        let target = format!("/files%20here/{href}");
        util::send(&mut stream, get(&target).as_bytes());
        let r = util::http::read_response(&mut stream, false);
        assert_eq!(r.status, 200, "{href}");
        let i = AWKWARD.iter().position(|a| a == name).unwrap();
        assert_eq!(r.text(), name.repeat(i + 1), "{href}");
    }
    let (_, links) = parse(&server, "/files%20here/Zeta%20dir/");
    assert_eq!(links, [("../".to_string(), "../".to_string())]);
    // The root has an index.html: that is served, not a listing.
    let (r, _) = exchange(&server, &get("/"));
    assert_eq!(r.text(), util::http::INDEX);
}

#[test]
fn without_list_dirs_a_directory_without_index_is_404() {
    let site = Site::new("no-listing");
    std::fs::create_dir(site.root().join("empty")).unwrap();
    let server = site.start(&[]);
    let (r, _) = exchange(&server, &get("/empty/"));
    assert_eq!(r.status, 404);
    let server = site.start(&["--list-dirs", "--dotfiles"]);
    std::fs::write(site.root().join("empty/.hidden"), "x").unwrap();
    let (r, _) = exchange(&server, &get("/empty/"));
    assert_eq!(r.status, 200);
    assert!(r.text().contains("href=\".hidden\""), "{}", r.text());
}

/// With `page.html.gz` beside `page.html`, curl --compressed gets the
/// gzip variant (and decodes it to the page); plain curl gets the page;
/// both see `Vary: Accept-Encoding`, and each its own ETag.
#[test]
fn precompressed_variants_go_to_clients_that_take_gzip() {
    if Command::new("curl").arg("--version").output().is_err()
        || Command::new("gzip").arg("--version").output().is_err()
    {
        eprintln!("note: curl or gzip not found; skipping");
        return;
    }
    let site = Site::new("gzip");
    let page: String = (0..2000).map(|i| format!("<p>line {i}</p>\n")).collect();
    let path = site.root().join("page.html");
    std::fs::write(&path, &page).unwrap();
    let status = Command::new("gzip")
        .args(["-k", "-9"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    let gz_len = std::fs::metadata(site.root().join("page.html.gz"))
        .unwrap()
        .len();
    let server = site.start(&[]);
    let url = format!("http://{}/page.html", server.addr);
    let fetch = |compressed: bool| {
        let mut curl = Command::new("curl");
        curl.args(["-s", "-D", "-"]);
        if compressed {
            curl.arg("--compressed");
        }
        let out = curl.arg(&url).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let zipped = fetch(true);
    assert!(zipped.contains("Content-Encoding: gzip\r\n"), "{zipped}");
    assert!(
        zipped.contains(&format!("Content-Length: {gz_len}\r\n")),
        "{zipped}"
    );
    assert!(zipped.contains("Vary: Accept-Encoding\r\n"));
    assert!(zipped.contains("Content-Type: text/html; charset=utf-8\r\n"));
    assert!(zipped.ends_with(&page), "curl decoded the page");
    let plain = fetch(false);
    assert!(!plain.contains("Content-Encoding"), "{plain}");
    assert!(plain.contains("Vary: Accept-Encoding\r\n"));
    assert!(plain.ends_with(&page));
    let etag = |head: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix("ETag: "))
            .map(str::to_string)
    };
    assert_ne!(etag(&zipped), etag(&plain));
    // A range of the variant is a range of the compressed bytes.
    let out = Command::new("curl")
        .args(["-s", "-H", "Accept-Encoding: gzip", "-r", "0-1"])
        .arg(&url)
        .output()
        .unwrap();
    assert_eq!(out.stdout, [0x1f, 0x8b], "the gzip magic number");
}
