//! The page listing a directory that has no `index.html`, with
//! `--list-dirs` (nginx's `autoindex`, Python's `http.server`).
//!
//! Directories first, then files, each sorted by name (case aside); every
//! name HTML-escaped where it is shown and percent-encoded where it is a
//! link, so a file called `<script>` or `a&b #1.txt` is shown and linked
//! as itself. Sizes and modification times (UTC); a link to the parent
//! except at the root. Nothing outside the root: a symlink is listed only
//! if it resolves under the root (and not to a dotfile), and dotfiles are
//! listed only with `--dotfiles`.

use std::fmt::Write as _;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::http::files::{Directory, Options};
use crate::http::path;

/// Most entries shown; a bigger directory says how many were left out.
pub const MAX_ENTRIES: usize = 10_000;

struct Entry {
    name: String,
    dir: bool,
    len: u64,
    modified: Option<SystemTime>,
}

/// The HTML page listing `dir`, under `root` (canonical).
pub fn page(root: &Path, dir: &Directory, options: Options) -> std::io::Result<String> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(&dir.real)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        if name.as_bytes().starts_with(b".") && !options.dotfiles {
            continue;
        }
        // Follow a symlink only to what lies under the root.
        let Ok(real) = entry.path().canonicalize() else {
            continue;
        };
        let Ok(below) = real.strip_prefix(root) else {
            continue;
        };
        if !options.dotfiles && path::hidden(below.iter().map(|c| c.as_bytes())) {
            continue;
        }
        let Ok(meta) = fs::metadata(&real) else {
            continue;
        };
        entries.push(Entry {
            name: name.to_string_lossy().into_owned(),
            dir: meta.is_dir(),
            len: meta.len(),
            modified: meta.modified().ok(),
        });
    }
    entries.sort_by(|a, b| {
        (!a.dir, a.name.to_lowercase(), &a.name).cmp(&(!b.dir, b.name.to_lowercase(), &b.name))
    });
    let shown = escape(&dir.path.display());
    let mut html = String::with_capacity(1024 + 200 * entries.len().min(MAX_ENTRIES));
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Index of {shown}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
         <h1>Index of {shown}</h1>\n<table>\n\
         <thead><tr><th>Name</th><th class=\"size\">Size</th><th>Modified (UTC)</th></tr></thead>\n\
         <tbody>\n"
    );
    if !dir.path.segments.is_empty() {
        html.push_str(
            "<tr><td><a href=\"../\">../</a></td><td class=\"size\"></td><td></td></tr>\n",
        );
    }
    for entry in entries.iter().take(MAX_ENTRIES) {
        let slash = if entry.dir { "/" } else { "" };
        let href = path::encode_segment(&entry.name);
        let name = escape(&entry.name);
        let (size, title) = if entry.dir {
            ("-".to_string(), String::new())
        } else {
            (human(entry.len), format!(" title=\"{} bytes\"", entry.len))
        };
        let when = entry.modified.map(civil).unwrap_or_default();
        let _ = writeln!(
            html,
            "<tr><td><a href=\"{href}{slash}\">{name}{slash}</a></td>\
             <td class=\"size\"{title}>{size}</td><td>{when}</td></tr>"
        );
    }
    html.push_str("</tbody>\n</table>\n");
    if entries.len() > MAX_ENTRIES {
        let _ = writeln!(
            html,
            "<p>{} more entries not shown.</p>",
            entries.len() - MAX_ENTRIES
        );
    }
    html.push_str("<hr>\n<p>sockloop</p>\n</body>\n</html>\n");
    Ok(html)
}

const STYLE: &str = "body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; \
padding: 0 1em; color: #222; }\n\
table { border-collapse: collapse; width: 100%; }\n\
th, td { padding: 0.3em 0.8em; text-align: left; border-bottom: 1px solid #e4e4e4; }\n\
th.size, td.size { text-align: right; font-variant-numeric: tabular-nums; }\n\
td:last-child { white-space: nowrap; color: #555; }\n\
a { text-decoration: none; } a:hover { text-decoration: underline; }\n";

/// Escapes text for HTML: element content and quoted attributes alike.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A size for people: bytes, then KiB, MiB, GiB with one decimal.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `YYYY-MM-DD HH:MM` in UTC (the civil calendar from days since 1970).
fn civil(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil algorithm, for days >= 0.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::files::tests::Scratch;
    use crate::http::files::{Target, resolve};
    use std::time::Duration;

    #[test]
    fn dates_sizes_and_escapes() {
        assert_eq!(civil(UNIX_EPOCH), "1970-01-01 00:00");
        let t = UNIX_EPOCH + Duration::from_secs(1_593_835_520);
        assert_eq!(civil(t), httpdate_civil(t));
        assert_eq!(
            civil(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29 00:00"
        );
        assert_eq!(human(0), "0 B");
        assert_eq!(human(1023), "1023 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(100 * 1024 * 1024), "100.0 MiB");
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    /// The same date read back from httpdate's format, as a check of `civil`.
    fn httpdate_civil(t: SystemTime) -> String {
        let text = httpdate::fmt_http_date(t); // "Sat, 04 Jul 2020 04:05:20 GMT"
        let parts: Vec<&str> = text.split(' ').collect();
        let months = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let month = months.iter().position(|m| *m == parts[2]).unwrap() + 1;
        format!("{}-{month:02}-{} {}", parts[3], parts[1], &parts[4][..5])
    }

    #[test]
    fn a_listing_shows_what_is_inside_and_nothing_else() {
        let scratch = Scratch::new("listing-page");
        let root = scratch.root();
        std::fs::create_dir(root.join("z dir")).unwrap();
        std::fs::write(root.join("<b>&.txt"), "12345").unwrap();
        std::fs::write(root.join(".env"), "SECRET").unwrap();
        std::fs::remove_file(root.join("index.html")).unwrap();
        std::os::unix::fs::symlink("a b.txt", root.join("inner.txt")).unwrap();
        let options = Options {
            dotfiles: false,
            list_dirs: true,
        };
        let Target::Directory(dir) = resolve(&root, "/", options, false).unwrap() else {
            panic!("a directory to list")
        };
        let html = page(&root, &dir, options).unwrap();
        assert!(html.contains("<title>Index of /</title>"), "{html}");
        assert!(!html.contains("href=\"../\""), "no parent at the root");
        // Directories first, then files by name.
        let at = |s: &str| html.find(s).unwrap_or_else(|| panic!("{s} in {html}"));
        assert!(at("z%20dir/") < at("%3Cb%3E%26.txt") && at("%3Cb%3E%26.txt") < at("a%20b.txt"));
        assert!(html.contains(">&lt;b&gt;&amp;.txt</a>"), "{html}");
        assert!(html.contains("title=\"5 bytes\">5 B<"), "{html}");
        assert!(
            !html.contains("env") && !html.contains("SECRET"),
            "no dotfiles"
        );
        assert!(
            !html.contains("leak.txt"),
            "a symlink out of the root is not listed"
        );
        assert!(
            html.contains("href=\"inner.txt\""),
            "a symlink inside it is"
        );
        assert!(!html.contains("home.css"), "a broken one is not");
        let with_dotfiles = Options {
            dotfiles: true,
            list_dirs: true,
        };
        assert!(
            page(&root, &dir, with_dotfiles)
                .unwrap()
                .contains("href=\".env\"")
        );
        let Target::Directory(sub) = resolve(&root, "/z%20dir/", options, false).unwrap() else {
            panic!()
        };
        let html = page(&root, &sub, options).unwrap();
        assert!(html.contains("<title>Index of /z dir/</title>"));
        assert!(html.contains("href=\"../\""));
    }
}
