//! The guide in docs/guide/ as a test subject. Every example it names
//! exists; every command it marks as runnable (`$ cargo run ... --example
//! NAME -- FLAGS`) uses flags the example accepts, or is shown failing and
//! really fails; every Python program it prints is, byte for byte, the file
//! it tells you to run; every picture and link it points to is there. And
//! the two examples written for it, run as real processes, do what its
//! first two chapters show: `blocking_echo` keeps a second client waiting
//! until the first leaves, `thread_echo` serves both at once, and both stop
//! on SIGINT or SIGTERM as chapter 1 says, answering their clients first.
//! The README's table of examples is held to the same standard: it names
//! every example, and its default ports are the ones in the code.

mod util;

use std::collections::BTreeSet;
use std::fs;
use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use util::{PATIENCE, Server, example_path, is_closed, read_for, read_line, send};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn guide_dir() -> PathBuf {
    repo().join("docs/guide")
}

/// Every Markdown file of the guide (the chapters and the index), by name.
fn markdown_files() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = fs::read_dir(guide_dir())
        .expect("docs/guide exists")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = fs::read_to_string(&path).expect("readable chapter");
            (name, text)
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "expected nine chapters and an index, found {}",
        files.len()
    );
    files
}

/// A fenced block: its info string (`text`, `rust,no_run`, `python`), its
/// lines, and the line number of its opening fence.
struct Block {
    info: String,
    lines: Vec<String>,
    line: usize,
}

fn fenced_blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    info: info.trim().to_string(),
                    lines: Vec::new(),
                    line: i + 1,
                });
            }
            (Some(_), Some(rest)) if rest.trim().is_empty() => blocks.extend(open.take()),
            (Some(block), _) => block.lines.push(line.to_string()),
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "an unclosed code fence");
    blocks
}

/// Example names following `--example ` or `examples/` anywhere in `text`.
fn example_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for marker in ["--example ", "examples/"] {
        for (at, _) in text.match_indices(marker) {
            let rest = &text[at + marker.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // A file inside a folder of examples (`examples/lib/src/x.rs`)
            // is a path, checked by `every_file_the_guide_points_to_exists`.
            let in_folder = marker == "examples/" && rest[name.len()..].starts_with('/');
            // `NAME` in capitals is a placeholder in the conventions.
            if name.starts_with(|c: char| c.is_ascii_lowercase()) && !in_folder {
                names.insert(name);
            }
        }
    }
    names
}

fn example_exists(name: &str) -> bool {
    let dir = repo().join("examples");
    dir.join(format!("{name}.rs")).is_file() || dir.join(name).join("main.rs").is_file()
}

#[test]
fn every_example_the_guide_names_exists() {
    let mut all = BTreeSet::new();
    for (file, text) in markdown_files() {
        for name in example_names(&text) {
            assert!(
                example_exists(&name),
                "{file} names example {name:?}, but there is no examples/{name}.rs"
            );
            all.insert(name);
        }
    }
    for chapter_example in ["blocking_echo", "thread_echo", "select_echo", "echo_server"] {
        assert!(
            all.contains(chapter_example),
            "the guide should name {chapter_example}"
        );
    }
}

/// Every `examples/DIR/FILE` path the guide gives is a file of the repository.
#[test]
fn every_file_the_guide_points_to_exists() {
    for (file, text) in markdown_files() {
        for (at, _) in text.match_indices("examples/") {
            let path: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "_/.-".contains(*c))
                .collect();
            let path = path.trim_end_matches(['.', '/']);
            if path.matches('/').count() >= 2 {
                assert!(
                    repo().join(path).is_file(),
                    "{file} points to {path}, not a file"
                );
            }
        }
    }
}

/// Every example program, by name: `examples/NAME.rs` or `examples/NAME/main.rs`.
fn all_examples() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for entry in fs::read_dir(repo().join("examples")).expect("examples/") {
        let path = entry.expect("a directory entry").path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.extension().is_some_and(|e| e == "rs") || path.join("main.rs").is_file() {
            names.insert(name);
        }
    }
    names
}

/// The port of an example's default `--addr` (`default_value =
/// "127.0.0.1:PORT"` in its source), if it has one.
fn default_port(name: &str) -> Option<u16> {
    let dir = repo().join("examples");
    let source = fs::read_to_string(dir.join(format!("{name}.rs")))
        .or_else(|_| fs::read_to_string(dir.join(name).join("main.rs")))
        .expect("the example's source");
    let (_, rest) = source.split_once("default_value = \"127.0.0.1:")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some(digits.parse().expect("a port number"))
}

#[test]
fn the_readme_names_every_example_with_its_real_default_port() {
    let readme = fs::read_to_string(repo().join("README.md")).expect("README.md");
    let mut ports = std::collections::BTreeMap::new();
    // Rows of the ports table: | PORT[ (UDP)] | `server`... | `client`... |
    for line in readme.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let Some(port) = cells
            .get(1)
            .and_then(|c| c.split(' ').next()?.parse::<u16>().ok())
        else {
            continue;
        };
        for cell in &cells[2..] {
            for name in cell.split('`').skip(1).step_by(2) {
                ports.insert(name.to_string(), port);
            }
        }
    }
    for name in all_examples() {
        assert!(
            readme.contains(&format!("`{name}`")),
            "README.md does not name example {name}"
        );
        assert_eq!(
            ports.get(&name).copied(),
            default_port(&name),
            "{name}: the README's port table against the code"
        );
    }
}

/// A command the guide shows as runnable: `$ [VAR=value ...] cargo run|build
/// [options] --example NAME [-- ARGS]`.
#[derive(Debug)]
struct CargoCommand {
    at: String,
    example: String,
    args: Vec<String>,
    /// The guide shows clap rejecting it (the next line is its error).
    shown_failing: bool,
}

/// Where the arguments of a shell command end.
fn ends_arguments(token: &str) -> bool {
    ["&", "&&", "|", "||", ";", ")", "#"].contains(&token)
        || token.starts_with('>')
        || token.starts_with("2>")
        || token.starts_with('<')
}

fn parse_cargo_command(command: &str) -> Option<(String, Vec<String>)> {
    let mut tokens = command
        .split_whitespace()
        .skip_while(|t| t.contains('=') && !t.starts_with('-'))
        .peekable();
    if tokens.next()? != "cargo" || !matches!(tokens.next()?, "run" | "build") {
        return None;
    }
    let mut example = None;
    while let Some(token) = tokens.next() {
        match token {
            "--example" => example = tokens.next().map(String::from),
            "--" => break,
            t if ends_arguments(t) => return example.map(|e| (e, Vec::new())),
            _ => {}
        }
    }
    let args = tokens
        .take_while(|t| !ends_arguments(t))
        .map(String::from)
        .collect();
    example.map(|e| (e, args))
}

fn cargo_commands() -> Vec<CargoCommand> {
    let mut commands = Vec::new();
    for (file, text) in markdown_files() {
        for block in fenced_blocks(&text) {
            if block.info != "text" {
                continue;
            }
            for (i, line) in block.lines.iter().enumerate() {
                let Some(command) = line.strip_prefix("$ ") else {
                    continue;
                };
                let Some((example, args)) = parse_cargo_command(command) else {
                    continue;
                };
                let next = block.lines.get(i + 1).map_or("", String::as_str);
                commands.push(CargoCommand {
                    at: format!("{file}:{}", block.line + 1 + i),
                    example,
                    args,
                    shown_failing: next.starts_with("error: unexpected argument"),
                });
            }
        }
    }
    commands
}

/// Runs `cmd` to completion (at most `PATIENCE`), stdin closed.
fn run_bounded(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting an example");
    let deadline = Instant::now() + PATIENCE;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{cmd:?} did not exit within {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("collecting output")
}

#[test]
fn every_runnable_command_uses_flags_its_example_accepts() {
    let commands = cargo_commands();
    assert!(
        commands.len() >= 10,
        "expected the guide's `$ cargo run --example` commands, found {}",
        commands.len()
    );
    assert!(
        commands.iter().any(|c| c.shown_failing),
        "chapter 1 shows a bad flag being refused"
    );
    for command in &commands {
        let CargoCommand {
            at, example, args, ..
        } = command;
        assert!(example_exists(example), "{at}: no example {example:?}");
        let binary = example_path(example);
        if command.shown_failing {
            let mut cmd = Command::new(&binary);
            cmd.args(args);
            let out = run_bounded(cmd);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{at}: {example} {args:?} should exit 2"
            );
            assert!(
                stderr.starts_with("error: unexpected argument"),
                "{at}: {example} {args:?} printed {stderr:?}"
            );
            continue;
        }
        // `--help` after the flags: clap checks every flag and value before it.
        let mut cmd = Command::new(&binary);
        cmd.args(args).arg("--help");
        let out = run_bounded(cmd);
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{at}: {example} rejects {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for flag in args.iter().filter(|a| a.starts_with("--")) {
            let flag = flag.split('=').next().unwrap();
            assert!(
                help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
                "{at}: {example}'s --help does not list {flag}:\n{help}"
            );
        }
    }
}

/// The Python programs in docs/guide/py, by file name.
fn python_files() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = fs::read_dir(guide_dir().join("py"))
        .expect("docs/guide/py exists")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "py"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read_to_string(&path).expect("readable program"))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_python_program_shown_is_the_file_it_runs() {
    let files = python_files();
    assert!(
        !files.is_empty(),
        "docs/guide/py holds the guide's programs"
    );
    let mut shown = BTreeSet::new();
    for (chapter, text) in markdown_files() {
        for block in fenced_blocks(&text) {
            if block.info == "python" {
                let Some(name) = block
                    .lines
                    .first()
                    .and_then(|l| l.strip_prefix("# docs/guide/py/"))
                else {
                    continue; // a sketch, not a program to run
                };
                let (_, file) = files
                    .iter()
                    .find(|(n, _)| n == name)
                    .unwrap_or_else(|| panic!("{chapter}:{}: no docs/guide/py/{name}", block.line));
                let printed = block.lines.join("\n") + "\n";
                assert_eq!(
                    &printed, file,
                    "{chapter}:{}: the program printed differs from docs/guide/py/{name}",
                    block.line
                );
                shown.insert(name.to_string());
            }
            if block.info == "text" {
                for line in block.lines.iter().filter_map(|l| l.strip_prefix("$ ")) {
                    for path in line
                        .split_whitespace()
                        .filter(|t| t.starts_with("docs/guide/py/"))
                    {
                        assert!(
                            repo().join(path).is_file(),
                            "{chapter}: `{line}` runs {path}, which does not exist"
                        );
                    }
                }
            }
        }
    }
    for (name, text) in &files {
        assert!(
            text.starts_with(&format!("# docs/guide/py/{name}\n")),
            "docs/guide/py/{name} should start with its own path"
        );
        assert!(
            shown.contains(name),
            "docs/guide/py/{name} is printed in no chapter"
        );
    }
}

#[test]
fn every_python_program_parses() {
    let paths: Vec<PathBuf> = python_files()
        .iter()
        .map(|(name, _)| guide_dir().join("py").join(name))
        .collect();
    let mut cmd = Command::new("python3");
    cmd.arg("-c")
        .arg("import ast, sys\nfor p in sys.argv[1:]:\n    ast.parse(open(p).read(), p)")
        .args(&paths);
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) => {
            // The guide needs Python to follow along, the crate does not.
            eprintln!("skipped: cannot run python3 ({e})");
            return;
        }
    };
    assert!(
        out.status.success(),
        "a guide program does not parse:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_picture_and_link_is_there() {
    let img = guide_dir().join("img");
    let mut used = BTreeSet::new();
    for (file, text) in markdown_files() {
        // Inline targets `](target)` and definitions `[label]: target`.
        let inline = text.split("](").skip(1).filter_map(|r| r.split(')').next());
        let defined = text
            .lines()
            .filter(|l| l.starts_with('[') && l.contains("]: "))
            .filter_map(|l| l.split("]: ").nth(1));
        for target in inline.chain(defined) {
            let target = target.split('#').next().unwrap_or("").trim();
            if target.is_empty() || target.contains("://") || target.contains("::") {
                continue;
            }
            assert!(
                guide_dir().join(target).exists(),
                "{file} points to {target}, which is not in docs/guide"
            );
            if let Some(svg) = target.strip_prefix("img/") {
                used.insert(svg.to_string());
            }
        }
    }
    let guide_rs = fs::read_to_string(repo().join("src/guide.rs")).expect("src/guide.rs");
    for entry in fs::read_dir(&img).expect("docs/guide/img exists") {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let svg = fs::read_to_string(&path).expect("readable picture");
        assert!(used.contains(&name), "img/{name} is shown by no chapter");
        assert!(svg.starts_with("<svg "), "img/{name} is not an SVG file");
        assert!(svg.trim_end().ends_with("</svg>"), "img/{name}: no </svg>");
    }
    for (file, _) in markdown_files() {
        if file != "README.md" {
            assert!(
                guide_rs.contains(&format!("chapter!(\"{file}\")")),
                "src/guide.rs does not include {file}"
            );
        }
    }
}

/// The chapters as the crate docs show them (build.rs): every diagram a
/// chapter points to is in the text itself, where the chapter shows it, as
/// a `data:` URL of that very file; nothing else changed.
#[test]
fn the_crate_docs_show_every_diagram_where_the_text_does() {
    let built = Path::new(env!("OUT_DIR")).join("guide");
    for (file, text) in markdown_files() {
        if file == "README.md" {
            continue; // the forge's index, not a chapter of the crate docs
        }
        let shown = fs::read_to_string(built.join(&file)).expect("build.rs wrote the chapter");
        assert!(
            !shown.contains("](img/"),
            "{file}: an image left pointing at img/ in the crate docs"
        );
        let mut expected = text.clone();
        while let Some(at) = expected.find("](img/") {
            let end = at + expected[at..].find(')').expect("a closing parenthesis");
            let target = &expected[at + 2..end];
            let svg = fs::read(guide_dir().join(target)).expect("the picture");
            let url = format!("data:image/svg+xml;base64,{}", base64(&svg));
            expected.replace_range(at + 2..end, &url);
        }
        assert!(shown == expected, "{file}: the crate docs' text differs");
    }
}

/// Standard base64 (a second, independent implementation of build.rs's).
fn base64(bytes: &[u8]) -> String {
    let alphabet: Vec<char> = ('A'..='Z')
        .chain('a'..='z')
        .chain('0'..='9')
        .chain(['+', '/'])
        .collect();
    let bits: String = bytes.iter().map(|b| format!("{b:08b}")).collect();
    let mut out: String = bits
        .as_bytes()
        .chunks(6)
        .map(|six| {
            let six = format!("{:0<6}", String::from_utf8_lossy(six));
            alphabet[usize::from_str_radix(&six, 2).unwrap()]
        })
        .collect();
    while out.len() % 4 != 0 {
        out.push('=');
    }
    out
}

/// A `rust,ignore` block that starts with `// examples/NAME.rs` is an
/// excerpt of that file: its lines are there, in order, `// ...` standing
/// for what the excerpt leaves out.
#[test]
fn every_excerpt_is_in_the_file_it_names() {
    let mut excerpts = 0;
    for (chapter, text) in markdown_files() {
        for block in fenced_blocks(&text) {
            if block.info != "rust,ignore" {
                continue;
            }
            let path = block
                .lines
                .first()
                .and_then(|l| l.strip_prefix("// "))
                .filter(|p| p.starts_with("examples/"))
                .unwrap_or_else(|| {
                    panic!(
                        "{chapter}:{}: an ignored block must name its file",
                        block.line
                    )
                });
            let source = fs::read_to_string(repo().join(path))
                .unwrap_or_else(|e| panic!("{chapter}: {path}: {e}"));
            let mut lines = source.lines().map(str::trim);
            for line in &block.lines[1..] {
                let line = line.trim();
                if line == "// ..." {
                    continue;
                }
                assert!(
                    lines.any(|l| l == line),
                    "{chapter}:{}: `{line}` is not in {path} (in this order)",
                    block.line
                );
            }
            excerpts += 1;
        }
    }
    assert!(excerpts >= 2, "chapter 14 shows both nesting loops");
}

// ----- the examples of chapters 1 and 2, as real processes ------------------

#[test]
fn blocking_echo_keeps_the_second_client_waiting_until_the_first_leaves() {
    let server = Server::start("blocking_echo", &["--addr", "127.0.0.1:0"]);
    let mut first = server.connect();
    send(&mut first, b"one\n");
    assert_eq!(read_line(&mut first), "one");

    // The kernel completes the second handshake and buffers its bytes...
    let mut second = server.connect();
    send(&mut second, b"two\n");
    // ...but the server is busy with the first client: no echo, no close.
    let (got, closed) = read_for(&mut second, Duration::from_millis(500));
    assert!(
        got.is_empty(),
        "the second client was served early: {got:?}"
    );
    assert!(!closed, "the second client was closed");
    // The first client is still served meanwhile.
    send(&mut first, b"again\n");
    assert_eq!(read_line(&mut first), "again");

    drop(first);
    assert_eq!(read_line(&mut second), "two");
    send(&mut second, b"three\n");
    assert_eq!(read_line(&mut second), "three");
}

#[test]
fn thread_echo_serves_every_client_at_once() {
    let server = Server::start("thread_echo", &["--addr", "127.0.0.1:0"]);
    let mut clients: Vec<_> = (0..3).map(|_| server.connect()).collect();
    // The last to connect is answered first, while the others stay connected
    // and silent: each has a thread of its own.
    for (i, client) in clients.iter_mut().enumerate().rev() {
        let line = format!("client {i}\n");
        send(client, line.as_bytes());
        assert_eq!(read_line(client), line.trim_end());
    }
    // Interleaved, and a message larger than the examples' read buffer.
    let big: Vec<u8> = (0..20_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    send(&mut clients[0], &big);
    send(&mut clients[1], b"small\n");
    assert_eq!(read_line(&mut clients[1]), "small");
    assert_eq!(util::read_exact(&mut clients[0], big.len()), big);
}

/// The conventions of every example: a bad flag is usage and status 2, an
/// address in use is one line and status 1.
#[test]
fn both_examples_fail_at_start_up_the_conventional_way() {
    for name in ["blocking_echo", "thread_echo"] {
        let mut cmd = Command::new(example_path(name));
        cmd.arg("--no-such-flag");
        let out = run_bounded(cmd);
        assert_eq!(out.status.code(), Some(2), "{name} with a bad flag");
        assert!(String::from_utf8_lossy(&out.stderr).contains("Usage:"));

        let running = Server::start(name, &["--addr", "127.0.0.1:0"]);
        let mut cmd = Command::new(example_path(name));
        cmd.args(["--addr", &running.addr]);
        let out = run_bounded(cmd);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name} on an address in use");
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr:?}");
        assert!(
            stderr.starts_with(&format!("error: listening on {}", running.addr)),
            "{name}: {stderr:?}"
        );
        assert!(
            out.stdout.is_empty(),
            "{name} printed on stdout before failing"
        );
    }
}

// ----- stopping them: SIGINT and SIGTERM, gracefully ------------------------

/// How long a signalled server may take to exit: the convention's bound.
const EXIT_LIMIT: Duration = Duration::from_secs(5);

const BLOCKING_SERVERS: [&str; 2] = ["blocking_echo", "thread_echo"];
const SIGNALS: [i32; 2] = [libc::SIGINT, libc::SIGTERM];

fn start_blocking(name: &str) -> Server {
    Server::start(name, &["--addr", "127.0.0.1:0"])
}

/// Asleep in `accept`, with nobody connected: the signal must still get
/// through to a thread that never looks at a flag.
#[test]
fn both_exit_0_on_sigint_and_sigterm_while_blocked_in_accept() {
    for name in BLOCKING_SERVERS {
        for signal in SIGNALS {
            let mut server = start_blocking(name);
            server.signal(signal);
            assert_eq!(
                server.wait_exit(EXIT_LIMIT),
                Some(0),
                "{name}, signal {signal}"
            );
        }
    }
}

/// Asleep in `read` on a connected client: that client still gets the echo
/// of what it sent last (the tutorials' way: no newline) and then EOF, and
/// the server exits 0. thread_echo's other, idle, client is closed too.
#[test]
fn both_answer_their_clients_then_exit_0_on_a_signal() {
    for name in BLOCKING_SERVERS {
        for signal in SIGNALS {
            let mut server = start_blocking(name);
            let mut client = server.connect();
            send(&mut client, b"one\n");
            assert_eq!(read_line(&mut client), "one");
            let mut idle = (name == "thread_echo").then(|| server.connect());
            if let Some(idle) = idle.as_mut() {
                send(idle, b"idle\n");
                assert_eq!(read_line(idle), "idle");
            }
            send(&mut client, b"last words");
            server.signal(signal);
            assert_eq!(
                util::read_to_end(&mut client),
                b"last words",
                "{name}, signal {signal}"
            );
            assert_eq!(
                server.wait_exit(EXIT_LIMIT),
                Some(0),
                "{name}, signal {signal}"
            );
            if let Some(mut idle) = idle {
                assert!(
                    is_closed(&mut idle),
                    "{name}: the idle client was left open"
                );
            }
        }
    }
}

/// Sends to `server` without ever reading, until the server stops taking
/// bytes: its echo to this client is stuck in `write_all`.
fn stuck_client(server: &Server) -> TcpStream {
    let mut client = server.connect();
    client
        .set_write_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    let deadline = Instant::now() + PATIENCE;
    // One refused write only says the server did not read for 300 ms, which
    // a busy machine can cause too; a server stuck in `write_all` refuses
    // every later one as well.
    let mut refused_in_a_row = 0;
    while refused_in_a_row < 3 {
        match client.write(&chunk) {
            Ok(_) => {
                refused_in_a_row = 0;
                assert!(
                    Instant::now() < deadline,
                    "the server never stopped reading"
                );
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                refused_in_a_row += 1;
            }
            Err(e) => panic!("sending: {e}"),
        }
    }
    client
}

/// A client that never reads its echo holds the server in `write_all`: the
/// shutdown deadline ends it, with status 0 like the reactor's.
#[test]
fn a_client_that_never_reads_holds_the_exit_back_only_until_the_deadline() {
    for name in BLOCKING_SERVERS {
        let mut server = start_blocking(name);
        let _stuck = stuck_client(&server);
        server.signal(libc::SIGTERM);
        assert_eq!(server.wait_exit(EXIT_LIMIT), Some(0), "{name}");
    }
}

/// The second signal does not wait for the deadline: it exits at once,
/// with the status a shell gives a process killed by it (128 + signal).
#[test]
fn a_second_signal_exits_at_once() {
    for name in BLOCKING_SERVERS {
        let mut server = start_blocking(name);
        let _stuck = stuck_client(&server);
        server.signal(libc::SIGTERM);
        server.signal(libc::SIGINT);
        // If both are still pending when the process next runs, the kernel
        // hands over SIGINT first (lower number), so either can come second.
        let code = server.wait_exit(EXIT_LIMIT);
        assert!(
            code == Some(128 + libc::SIGINT) || code == Some(128 + libc::SIGTERM),
            "{name} exited with {code:?}, not at the second signal"
        );
    }
}
