//! Makes the single-file examples includable by the fuzz targets.
//!
//! `examples/upload_server.rs` and `examples/cmd_server.rs` keep their
//! protocols private to the program, which is right for an example but means
//! a `#[path]` module would hide them from a fuzz target. Included with
//! `include!` at a target's crate root instead, their items become the
//! target's own. Two things stop `include!` from taking the files as they
//! are, and this script changes only those, in a copy under OUT_DIR:
//! - the opening `//!` doc comment, an inner attribute `include!` refuses;
//! - `mod common;`, which would be looked up next to the fuzz target: it is
//!   pointed at `examples/common/mod.rs`.
//!
//! Everything else (the protocol, its parser, even `main`) is compiled as
//! written, so the fuzzer exercises the code the example runs.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let examples = manifest.join("..").join("examples");
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    for name in ["upload_server.rs", "cmd_server.rs"] {
        let source = examples.join(name);
        println!("cargo:rerun-if-changed={}", source.display());
        let text = fs::read_to_string(&source)
            .unwrap_or_else(|e| panic!("reading {}: {e}", source.display()));
        fs::write(
            out.join(name),
            includable(&text, &examples.join("common/mod.rs")),
        )
        .unwrap_or_else(|e| panic!("writing the copy of {name}: {e}"));
    }
    println!(
        "cargo:rerun-if-changed={}",
        examples.join("common/mod.rs").display()
    );
}

/// The example's text without its leading inner doc comment, with its
/// `mod common;` pointed at `common`.
fn includable(text: &str, common: &Path) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_header = true;
    let mut found_common = false;
    for line in text.lines() {
        if in_header && line.starts_with("//!") {
            continue;
        }
        in_header = false;
        if line.trim() == "mod common;" {
            out.push_str(&format!(
                "#[path = {:?}]\nmod common;\n",
                common.display().to_string()
            ));
            found_common = true;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    assert!(found_common, "the example no longer says `mod common;`");
    out
}
