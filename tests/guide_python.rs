//! Every Python program under docs/guide/py, run against the server it is
//! written for, and its output held against what the guide shows.
//!
//! Each test finds the command in the guide (`$ python3
//! docs/guide/py/NAME.py ...`) and the output printed under it, runs the
//! program (with the port of a server started here on port 0), and compares
//! line by line. Numbers differ from run to run (ports, byte counts,
//! timings), so a run of digits matches any run of digits; everything else
//! must be the same, unless a test says why not and checks what is certain
//! instead. Without python3 the tests say so and pass: the guide needs
//! Python to follow along, the crate does not.

mod util;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use util::{PATIENCE, Server, send};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn program(name: &str) -> PathBuf {
    repo().join("docs/guide/py").join(name)
}

fn have_python() -> bool {
    let found = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipped: no python3");
    }
    found
}

// ----- what the guide shows --------------------------------------------------

/// The output the guide prints under `$ COMMAND` in `chapter`: the lines up
/// to the next `$ ` or the end of the block. Panics if the guide does not
/// show that command.
fn shown(chapter: &str, command: &str) -> Vec<String> {
    let text = fs::read_to_string(repo().join("docs/guide").join(chapter)).expect("a chapter");
    let mut lines = text.lines();
    let prompt = format!("$ {command}");
    while let Some(line) = lines.next() {
        if line == prompt {
            return lines
                .take_while(|l| !l.starts_with("$ ") && !l.starts_with("```"))
                .map(String::from)
                .collect();
        }
    }
    panic!("{chapter} does not show `{prompt}`");
}

/// `line` with every run of digits (and the separators inside a number)
/// replaced by `#`, and its spaces collapsed: what must agree between the
/// guide and a run.
fn shape(line: &str) -> String {
    let chars: Vec<char> = line.trim_end().chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            // A number: digits, and a `,` or `.` between digits.
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || (matches!(chars[i], ',' | '.')
                        && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
            {
                i += 1;
            }
            out.push('#');
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    // Columns padded to a number's width move with it.
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Asserts that `actual` has the guide's lines, up to numbers.
fn assert_same_shape(what: &str, expected: &[String], actual: &str) {
    let actual: Vec<&str> = actual.lines().collect();
    let want: Vec<String> = expected.iter().map(|l| shape(l)).collect();
    let got: Vec<String> = actual.iter().map(|l| shape(l)).collect();
    assert_eq!(
        got,
        want,
        "{what}: the output differs from the guide's\nguide:\n{}\nrun:\n{}",
        expected.join("\n"),
        actual.join("\n")
    );
}

// ----- running programs ----------------------------------------------------------

/// A Python server from docs/guide/py on a free port, killed when dropped.
struct PyServer {
    child: Child,
    port: u16,
    stdout: BufReader<ChildStdout>,
}

impl PyServer {
    /// Starts `name` with `args` before the port and `after` behind it;
    /// waits for its `listening on` line.
    fn start(name: &str, args: &[&str], after: &[&str], nofile: Option<u64>) -> PyServer {
        let mut cmd = Command::new("python3");
        cmd.arg(program(name)).args(args).arg("0").args(after);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(limit) = nofile {
            set_nofile(&mut cmd, limit);
        }
        let mut child = cmd.spawn().expect("starting python3");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the listening line");
        let port = line
            .trim_end()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{name}: first line {line:?}"));
        PyServer {
            child,
            port,
            stdout,
        }
    }

    fn port(&self) -> String {
        self.port.to_string()
    }

    /// Lines the server printed, once it has exited or been stopped.
    fn stop(mut self) -> (String, String) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut out = String::new();
        let _ = self.stdout.read_to_string(&mut out);
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        (out, err)
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Raises or lowers the child's descriptor limit (`ulimit -n`).
fn set_nofile(cmd: &mut Command, limit: u64) {
    // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The hard limit on descriptors this process may raise its children to.
fn nofile_hard_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    lim.rlim_max
}

/// Runs a client program to its end (at most `limit`), stdin empty; its
/// stdout and stderr.
fn run(name: &str, args: &[&str], limit: Duration) -> (String, String) {
    run_with(name, args, limit, |_| {})
}

fn run_with(
    name: &str,
    args: &[&str],
    limit: Duration,
    adjust: impl FnOnce(&mut Command),
) -> (String, String) {
    let mut cmd = Command::new("python3");
    cmd.arg(program(name))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    adjust(&mut cmd);
    let mut child = cmd.spawn().expect("starting python3");
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{name} {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("output");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn rust_server(name: &str, extra: &[&str]) -> Server {
    let mut args = vec!["--addr", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    Server::start(name, &args)
}

fn port_of(server: &Server) -> String {
    server.socket_addr().port().to_string()
}

/// `echo two | nc -N`: one line, then EOF; what comes back before the close.
fn echo_then_eof(port: u16) -> Vec<u8> {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(PATIENCE)).unwrap();
    conn.write_all(b"two\n").unwrap();
    conn.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    let _ = conn.read_to_end(&mut got);
    got
}

// ----- chapter 2 -------------------------------------------------------------------

#[test]
fn idle_clients_and_maps_summary_against_thread_echo() {
    if !have_python() {
        return;
    }
    let server = rust_server("thread_echo", &[]);
    let port = port_of(&server);
    // The client stays connected until its stdin ends: feed it a pipe.
    let mut client = Command::new("python3")
        .arg(program("idle_clients.py"))
        .args(["127.0.0.1", &port, "64"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(client.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_same_shape(
        "idle_clients.py",
        &shown(
            "02-threads.md",
            "python3 docs/guide/py/idle_clients.py 127.0.0.1 8891 10000",
        ),
        &line,
    );
    // 64 client threads are waiting: their stacks lead the address space.
    let pid = server.pid().to_string();
    let (out, _) = run("maps_summary.py", &[&pid], PATIENCE);
    let stacks = out
        .lines()
        .find(|l| l.contains(" x   2 MiB rw-p "))
        .unwrap_or_else(|| panic!("no 2 MiB stacks: {out}"));
    let count: usize = stacks.split_whitespace().next().unwrap().parse().unwrap();
    assert!(count >= 64, "64 client threads, {count} stacks: {out}");
    let total_line = out.lines().last().unwrap_or("");
    let guide = shown(
        "02-threads.md",
        "python3 docs/guide/py/maps_summary.py $(pgrep -f release/examples/thread_echo)",
    );
    assert_eq!(shape(total_line), shape(guide.last().unwrap()), "{out}");
    drop(client.stdin.take());
    let _ = client.wait();
}

// ----- chapter 3 -------------------------------------------------------------------

/// busy_echo.py echoes, and never sleeps: it is on a CPU or waiting for one
/// nearly all the time, with no client at all (/proc/PID/schedstat).
#[test]
fn busy_echo_echoes_and_never_sleeps() {
    if !have_python() {
        return;
    }
    let server = PyServer::start("busy_echo.py", &[], &[], None);
    let mut conn = util::connect(format!("127.0.0.1:{}", server.port).parse().unwrap());
    send(&mut conn, b"hello\n");
    assert_eq!(util::read_line(&mut conn), "hello");
    drop(conn);
    let schedstat = || -> u64 {
        let text = fs::read_to_string(format!("/proc/{}/schedstat", server.child.id())).unwrap();
        let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().unwrap());
        fields.next().unwrap() + fields.next().unwrap() // on a CPU + runnable
    };
    let before = schedstat();
    let start = Instant::now();
    std::thread::sleep(Duration::from_millis(500));
    let runnable = Duration::from_nanos(schedstat() - before);
    assert!(
        runnable * 2 > start.elapsed(),
        "runnable only {runnable:?} of {:?}: it slept",
        start.elapsed()
    );
}

// ----- chapter 4 -------------------------------------------------------------------

#[test]
fn select_echo_flushes_before_closing_and_the_rust_servers_do_too() {
    if !have_python() {
        return;
    }
    let guide = shown(
        "04-select-poll-epoll.md",
        r#"n=0; for i in $(seq 20); do [ "$(echo two | nc -N 127.0.0.1 8896)" = two ] && n=$((n+1)); done; echo "$n of 20 echoed""#,
    );
    // The first such loop in the chapter is the naive mode's; the guide's
    // figure for it is a matter of timing. The default mode's is certain.
    let server = PyServer::start("select_echo.py", &[], &[], None);
    let echoed = (0..20)
        .filter(|_| echo_then_eof(server.port) == b"two\n")
        .count();
    assert_eq!(echoed, 20, "select_echo.py lost an echo at EOF");
    assert!(guide[0].ends_with(" of 20 echoed"), "{guide:?}");
    for name in ["select_echo", "echo_server"] {
        let server = rust_server(name, &[]);
        let port = server.socket_addr().port();
        let echoed = (0..20).filter(|_| echo_then_eof(port) == b"two\n").count();
        assert_eq!(echoed, 20, "{name} lost an echo at EOF");
    }
}

#[test]
fn select_echo_dies_past_descriptor_1023_and_epoll_servers_do_not() {
    if !have_python() {
        return;
    }
    if nofile_hard_limit() < 4096 {
        eprintln!("skipped: the descriptor limit cannot reach 4096 here");
        return;
    }
    let server = PyServer::start("select_echo.py", &[], &[], Some(4096));
    let port = server.port();
    let (out, err) = run_with(
        "idle_clients.py",
        &["127.0.0.1", &port, "1100"],
        PATIENCE,
        |cmd| set_nofile(cmd, 4096),
    );
    assert_eq!(out, "");
    // How far the client got before the server died (how many connected,
    // how many had their echo first) and how it learned depend on timing;
    // that it failed, and that the server died of select()'s limit, do not.
    let guide = shown(
        "04-select-poll-epoll.md",
        "python3 docs/guide/py/idle_clients.py 127.0.0.1 8896 1100",
    );
    let prefix = |l: &str| shape(l.split(" then: ").next().unwrap_or(""));
    assert_eq!(prefix(&err), prefix(&guide[0]), "{err}");
    assert!(err.contains(" echoed, then: "), "{err}");
    let (_, server_err) = server.stop();
    assert!(
        server_err.ends_with("ValueError: filedescriptor out of range in select()\n"),
        "{server_err}"
    );
    for (name, guide_port) in [("select_echo", "8889"), ("echo_server", "8888")] {
        let server = Server::start_with(name, &["--addr", "127.0.0.1:0"], |cmd| {
            set_nofile(cmd, 4096);
        });
        let (out, _) = run_with(
            "idle_clients.py",
            &["127.0.0.1", &port_of(&server), "1100"],
            PATIENCE,
            |cmd| set_nofile(cmd, 4096),
        );
        let guide = shown(
            "04-select-poll-epoll.md",
            &format!("python3 docs/guide/py/idle_clients.py 127.0.0.1 {guide_port} 1100"),
        );
        assert_eq!(out.trim_end(), guide[0], "{name}");
    }
}

#[test]
fn lockstep_against_select_echo_and_echo_server() {
    if !have_python() {
        return;
    }
    for (name, guide_port) in [("select_echo", "8889"), ("echo_server", "8888")] {
        let server = rust_server(name, &[]);
        let (out, _) = run("lockstep.py", &[&port_of(&server), "200"], PATIENCE);
        assert_same_shape(
            name,
            &shown(
                "04-select-poll-epoll.md",
                &format!("python3 docs/guide/py/lockstep.py {guide_port} 1000"),
            )[..1],
            &out,
        );
    }
}

// ----- chapter 5 -------------------------------------------------------------------

/// The client's three lines in each mode. Level and drain end with the whole
/// echo; edge releases 8 bytes per arrival, 24 after three, whatever the
/// timing; the intermediate lines of level mode depend on timing and are
/// not compared.
#[test]
fn et_echo_modes_with_et_client_as_the_guide_shows() {
    if !have_python() {
        return;
    }
    let chapter = "05-edge-triggering.md";
    let command = "python3 docs/guide/py/et_client.py";
    let text = fs::read_to_string(repo().join("docs/guide").join(chapter)).unwrap();
    // The chapter shows the client three times: level, edge, drain.
    let blocks: Vec<Vec<String>> = text
        .split(&format!("$ {command}\n"))
        .skip(1)
        .map(|rest| {
            rest.lines()
                .take_while(|l| !l.starts_with("```"))
                .map(String::from)
                .collect()
        })
        .collect();
    assert_eq!(blocks.len(), 3, "level, edge and drain");
    for (mode, guide) in ["level", "edge", "drain"].iter().zip(&blocks) {
        let server = PyServer::start("et_echo.py", &[mode], &[], None);
        let (out, _) = run("et_client.py", &[&server.port()], PATIENCE);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{mode}: {out}");
        match *mode {
            "level" => assert_eq!(lines[2], guide[2], "level"),
            _ => assert_eq!(lines, *guide, "{mode}"),
        }
        let (events, _) = server.stop();
        if *mode == "edge" {
            // One event per arrival: Linux's edges (the chapter's point).
            let first_three: Vec<&str> = events.lines().take(3).collect();
            assert!(first_three.iter().all(|l| l.ends_with(": IN")), "{events}");
        }
    }
}

#[test]
fn bye_client_leaks_a_close_wait_with_short_and_not_with_drain() {
    if !have_python() {
        return;
    }
    let chapter = "05-edge-triggering.md";
    let text = fs::read_to_string(repo().join("docs/guide").join(chapter)).unwrap();
    let shown_after: Vec<String> = text
        .split("$ python3 docs/guide/py/bye_client.py\n")
        .skip(1)
        .map(|rest| rest.lines().next().unwrap_or("").to_string())
        .collect();
    assert_eq!(shown_after.len(), 2, "short, then drain");
    for (mode, guide) in ["short", "drain"].iter().zip(&shown_after) {
        let server = PyServer::start("et_echo.py", &[mode], &[], None);
        let (out, _) = run("bye_client.py", &[&server.port()], PATIENCE);
        assert_eq!(out.trim_end(), guide, "{mode}");
    }
}

// ----- chapters 7 and 8 ----------------------------------------------------------

#[test]
fn three_sends_arrive_as_three_reads_in_recv_printer() {
    if !have_python() {
        return;
    }
    let server = PyServer::start("recv_printer.py", &[], &[], None);
    run("three_sends.py", &[&server.port()], PATIENCE);
    let mut child = server;
    let deadline = Instant::now() + PATIENCE;
    while child.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "recv_printer.py did not end");
        std::thread::sleep(Duration::from_millis(10));
    }
    let (out, _) = child.stop();
    let guide = shown("07-framing.md", "python3 docs/guide/py/three_sends.py");
    assert_eq!(out.lines().collect::<Vec<_>>(), guide);
}

#[test]
fn empty_send_gets_no_answer_from_echo_server() {
    if !have_python() {
        return;
    }
    let server = rust_server("echo_server", &[]);
    let (out, _) = run("empty_send.py", &[&port_of(&server)], PATIENCE);
    let guide = shown(
        "08-tutorial-clients.md",
        "python3 docs/guide/py/empty_send.py",
    );
    assert_eq!(out.lines().collect::<Vec<_>>(), guide);
}

/// `recv -> b'...'`, the bytes between the quotes.
fn received(line: &str) -> &str {
    line.strip_prefix("recv -> b'")
        .and_then(|l| l.strip_suffix('\''))
        .unwrap_or_else(|| panic!("not a recv line: {line}"))
}

#[test]
fn cmd_exchange_reads_a_split_length_whole_and_the_one_recv_way_does_not() {
    if !have_python() {
        return;
    }
    let chapter = "08-tutorial-clients.md";
    // Against split_length.py, reading to the pause: the digits in two
    // reads, then the output of exactly that length.
    let server = PyServer::start("split_length.py", &[], &[], None);
    let (out, _) = run("cmd_exchange.py", &[&server.port()], PATIENCE);
    assert_same_shape(
        "cmd_exchange.py",
        &shown(chapter, "python3 docs/guide/py/cmd_exchange.py 8898")[..2],
        &out.lines().take(2).collect::<Vec<_>>().join("\n"),
    );
    let lines: Vec<&str> = out.lines().collect();
    let length: usize = format!("{}{}", received(lines[0]), received(lines[1]))
        .parse()
        .unwrap();
    let output = received(lines[2]).replace("\\n", "\n");
    assert_eq!(output.len(), length, "{out}");

    // The tutorial's way: the first digit taken for the length, the second
    // glued to the output.
    let server = PyServer::start("split_length.py", &[], &[], None);
    let (out, _) = run("cmd_exchange.py", &[&server.port(), "one-recv"], PATIENCE);
    let guide = shown(
        chapter,
        "python3 docs/guide/py/cmd_exchange.py 8898 one-recv",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(shape(lines[0]), shape(&guide[0]));
    assert!(
        received(lines[1]).starts_with(|c: char| c.is_ascii_digit()),
        "the rest of the length should be glued to the output: {out}"
    );

    // Against cmd_server, both ways read the length whole.
    let server = rust_server("cmd_server", &[]);
    let port = port_of(&server);
    for args in [vec![port.as_str()], vec![port.as_str(), "one-recv"]] {
        let (out, _) = run("cmd_exchange.py", &args, PATIENCE);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{args:?}: {out}");
        let length: usize = received(lines[0]).parse().unwrap();
        assert_eq!(received(lines[1]).replace("\\n", "\n").len(), length);
    }
    assert_eq!(
        shown(chapter, "python3 docs/guide/py/cmd_exchange.py").len(),
        2
    );
}

#[test]
fn sticky_upload_against_upload_server() {
    if !have_python() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("sockloop-guide-upload-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let server = rust_server("upload_server", &["--dir", dir.to_str().unwrap()]);
    let (out, _) = run("sticky_upload.py", &[&port_of(&server)], PATIENCE);
    let guide = shown(
        "08-tutorial-clients.md",
        "python3 docs/guide/py/sticky_upload.py",
    );
    // The guide goes on with `ls`: the lines before it are the program's.
    let guide: Vec<String> = guide.into_iter().take(4).collect();
    assert_same_shape("sticky_upload.py", &guide, &out);
    let mut stored: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    stored.sort();
    assert_eq!(stored, ["digits.txt", "hello.txt"]);
    let _ = fs::remove_dir_all(&dir);
}

// ----- chapter 9 -------------------------------------------------------------------

#[test]
fn datagrams_keep_their_boundaries_against_udp_server() {
    if !have_python() {
        return;
    }
    let mut server = rust_server("udp_server", &[]);
    let (out, _) = run("datagrams.py", &[&port_of(&server)], PATIENCE);
    let guide = shown("09-datagrams.md", "python3 docs/guide/py/datagrams.py");
    assert_same_shape("datagrams.py", &guide, &out);
    // What the server printed: three datagrams, three messages.
    let mut printed = Vec::new();
    for _ in 0..3 {
        let mut line = String::new();
        server.stdout.read_line(&mut line).unwrap();
        printed.push(line.trim_end().to_string());
    }
    let shown_by_server = shown("09-datagrams.md", "cargo run --example udp_server");
    assert_same_shape("udp_server", &shown_by_server[1..], &printed.join("\n"));
}

// ----- chapter 10 ------------------------------------------------------------------

/// never_reads.py: stopped by `echo_server`'s watermarks; never stopped by
/// the textbook server (a 2 s limit here, 20 s in the guide).
#[test]
fn never_reads_is_stopped_by_echo_server_and_not_by_select_echo() {
    if !have_python() {
        return;
    }
    let server = rust_server("echo_server", &[]);
    let (out, _) = run("never_reads.py", &[&port_of(&server)], PATIENCE);
    assert_same_shape(
        "never_reads.py against echo_server",
        &shown(
            "10-flow-control.md",
            "python3 docs/guide/py/never_reads.py 8888 &",
        )[..1],
        &out,
    );
    let textbook = PyServer::start("select_echo.py", &[], &[], None);
    let (out, _) = run("never_reads.py", &[&textbook.port(), "2"], PATIENCE);
    assert_same_shape(
        "never_reads.py against select_echo.py",
        &shown(
            "10-flow-control.md",
            "python3 docs/guide/py/never_reads.py 8896 &",
        )[..1],
        &out,
    );
}

#[test]
fn deaf_and_talker_against_chat_server() {
    if !have_python() {
        return;
    }
    let mut server = rust_server("chat_server", &[]);
    let port = port_of(&server);
    let (said, heard) = std::thread::scope(|s| {
        // The server shows the room on stdout, 50,000 lines of it: read them
        // away, as the guide sends them to /dev/null.
        let room = &mut server.stdout;
        s.spawn(move || std::io::copy(room, &mut std::io::sink()));
        let deaf = Command::new("python3")
            .arg(program("deaf.py"))
            .args([&port, "3"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let (said, _) = run("talker.py", &[&port, "50000"], PATIENCE);
        let heard = deaf.wait_with_output().unwrap();
        let _ = server.child.kill(); // ends the reading of its stdout
        (said, heard)
    });
    let guide = shown(
        "10-flow-control.md",
        "python3 docs/guide/py/talker.py 8001 50000",
    );
    assert_eq!(said.trim_end(), guide[0]);
    let heard = String::from_utf8_lossy(&heard.stdout);
    let last = guide
        .iter()
        .find(|l| l.starts_with("after "))
        .expect("the deaf member's line");
    assert_eq!(shape(heard.trim_end()), shape(last), "{heard}");
}

#[test]
fn crowd_against_echo_server_out_of_descriptors() {
    if !have_python() {
        return;
    }
    let server = Server::start_with("echo_server", &["--addr", "127.0.0.1:0"], |cmd| {
        set_nofile(cmd, 64);
        cmd.env("RUST_LOG", "error"); // not a warning per retry, ten a second
    });
    // 0.2 s for each client that waits, then up to 2 s more for each.
    let (out, _) = run("crowd.py", &[&port_of(&server), "100"], 6 * PATIENCE);
    let guide = shown(
        "10-flow-control.md",
        "python3 docs/guide/py/crowd.py 8888 100",
    );
    assert_same_shape("crowd.py", &guide, &out);
    let lines: Vec<&str> = out.lines().collect();
    let numbers: Vec<usize> = lines[1]
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    assert_eq!(numbers[0] + numbers[1], 100, "{out}");
    assert!(numbers[1] > 0, "nobody waited: the limit did not bite");
    assert_eq!(
        lines[3],
        format!("waiting ones served now: {0} of {0}", numbers[1])
    );
}

/// No program in docs/guide/py escapes this file: each is run by a test
/// above, by name.
#[test]
fn every_program_is_run_by_a_test_here() {
    let here = include_str!("guide_python.rs");
    for entry in fs::read_dir(repo().join("docs/guide/py")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".py") {
            assert!(
                here.contains(&format!("\"{name}\"")),
                "docs/guide/py/{name} is run by no test in tests/guide_python.rs"
            );
        }
    }
}
