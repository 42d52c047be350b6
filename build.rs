//! The guide's chapters as the crate documentation shows them.
//!
//! The chapters in `docs/guide/` show their diagrams as
//! `![what it shows](img/NAME.svg)`, which a forge renders from the file next
//! to the Markdown. Rustdoc has no such file beside its page, so a relative
//! image there is a broken one. This script writes each chapter to
//! `$OUT_DIR/guide/` with every such image turned into the same picture as a
//! `data:` URL, in the same place in the text; `src/guide.rs` includes those
//! copies. Nothing else in the text changes.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let guide = Path::new("docs/guide");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("guide");
    fs::create_dir_all(&out).expect("creating $OUT_DIR/guide");
    println!("cargo:rerun-if-changed=docs/guide");
    for entry in fs::read_dir(guide).expect("docs/guide") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = fs::read_to_string(&path).expect("a readable chapter");
        let name = path.file_name().expect("a file name");
        fs::write(out.join(name), inline_images(&text, guide)).expect("writing a chapter");
    }
}

/// `text` with every `![alt](img/NAME.svg)` pointing at a `data:` URL.
fn inline_images(text: &str, dir: &Path) -> String {
    const MARK: &str = "](img/";
    let mut result = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(MARK) {
        let target_start = at + 2;
        let Some(len) = rest[target_start..].find(')') else {
            break;
        };
        let target = &rest[target_start..target_start + len];
        let is_image = rest[..at]
            .rfind("![")
            .is_some_and(|open| !rest[open..at].contains(']'));
        result.push_str(&rest[..target_start]);
        if is_image && target.ends_with(".svg") {
            let svg =
                fs::read(dir.join(target)).unwrap_or_else(|e| panic!("docs/guide/{target}: {e}"));
            result.push_str("data:image/svg+xml;base64,");
            result.push_str(&base64(&svg));
        } else {
            result.push_str(target);
        }
        rest = &rest[target_start + len..];
    }
    result.push_str(rest);
    result
}

/// Standard base64 with padding (RFC 4648).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
