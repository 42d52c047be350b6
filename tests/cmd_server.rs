//! cmd_server and cmd_client as real processes: the tutorial's length,
//! acknowledgement, output exchange over loopback, the allow list, timeouts,
//! output limits, and what a vanished client leaves behind (nothing).

mod util;

use std::io::Read;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use util::*;

/// Reads the output's length: the server sends it alone and then waits for
/// the acknowledgement, so the digits are all there is to read.
fn read_length(stream: &mut TcpStream) -> usize {
    let mut digits = Vec::new();
    let mut buf = [0; 32];
    while digits.is_empty() {
        let n = stream.read(&mut buf).expect("reading the length");
        assert!(n > 0, "EOF instead of a length");
        digits.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&digits);
    text.parse()
        .unwrap_or_else(|_| panic!("length should be ASCII digits alone, got {text:?}"))
}

/// Acknowledges and reads the `length` bytes of output.
fn read_body(stream: &mut TcpStream, length: usize) -> String {
    send(stream, b"ready");
    String::from_utf8(read_exact(stream, length)).expect("UTF-8 output")
}

/// One whole exchange: sends `command` as is, returns the output.
fn exchange(stream: &mut TcpStream, command: &[u8]) -> String {
    send(stream, command);
    let length = read_length(stream);
    read_body(stream, length)
}

fn start(args: &[&str]) -> Server {
    let mut all = vec!["--addr", "127.0.0.1:0"];
    all.extend_from_slice(args);
    Server::start("cmd_server", &all)
}

/// Pids whose parent is `pid` (zombies included), from /proc.
fn children_of(pid: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // After the command name in parentheses: state, then the parent's pid.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        if rest.split_whitespace().nth(1) == Some(pid.to_string().as_str()) {
            children.push(child);
        }
    }
    children
}

#[test]
fn echo_answers_length_then_body_after_the_ack() {
    let server = start(&[]);
    let mut client = server.connect();
    send(&mut client, b"echo hello world\n");
    assert_eq!(read_length(&mut client), 12);
    assert_eq!(read_body(&mut client, 12), "hello world\n");
}

#[test]
fn the_tutorials_python_client_works_unchanged() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("note: python3 not found; skipping the Python client test");
        return;
    }
    let server = start(&[]);
    let addr = server.socket_addr();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cmd_client.py");
    let mut child = Command::new("python3")
        .args([script, &addr.ip().to_string(), &addr.port().to_string()])
        .args(["echo hello world", "echo second", "rm -rf /"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting python3");
    let mut out = String::new();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        stdout.read_to_string(&mut out).unwrap();
        out
    });
    wait_until("the Python client exits", || {
        child.try_wait().unwrap().is_some()
    });
    assert!(child.wait().unwrap().success());
    assert_eq!(
        reader.join().unwrap(),
        "hello world\nsecond\nerror: command not allowed: rm\n"
    );
}

#[test]
fn ls_and_pwd_are_allowed_by_default_for_the_tutorials_client() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("note: python3 not found; skipping the Python client test");
        return;
    }
    // The server runs in a directory of its own, so both answers are known.
    let dir = std::env::temp_dir().join(format!("cmd-ls-pwd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("b.txt"), b"").unwrap();
    std::fs::write(dir.join("a.txt"), b"").unwrap();
    let server = Server::start_with("cmd_server", &["--addr", "127.0.0.1:0"], |cmd| {
        cmd.current_dir(&dir);
    });
    let addr = server.socket_addr();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cmd_client.py");
    let output = Command::new("python3")
        .args([script, &addr.ip().to_string(), &addr.port().to_string()])
        .args(["pwd", "ls", "ls -a"])
        .stderr(Stdio::inherit())
        .output()
        .expect("running python3");
    let pwd = dir.canonicalize().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("{}\na.txt\nb.txt\n.\n..\na.txt\nb.txt\n", pwd.display())
    );
}

#[test]
fn help_lists_the_default_allow_list() {
    let output = Command::new(example_path("cmd_server"))
        .arg("--help")
        .output()
        .expect("running cmd_server --help");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(
        help.contains("[default: ls,pwd,date,echo,uptime,hostname,whoami]"),
        "{help}"
    );
}

#[test]
fn a_command_split_byte_by_byte_with_newline() {
    let server = start(&[]);
    let mut client = server.connect();
    client.set_nodelay(true).unwrap();
    for byte in b"echo split up\n" {
        send(&mut client, std::slice::from_ref(byte));
    }
    assert_eq!(read_body_after_length(&mut client), "split up\n");
}

fn read_body_after_length(client: &mut TcpStream) -> String {
    let length = read_length(client);
    read_body(client, length)
}

#[test]
fn two_commands_in_sequence_on_one_connection() {
    let server = start(&[]);
    let mut client = server.connect();
    assert_eq!(exchange(&mut client, b"echo one\n"), "one\n");
    // The second without a newline, as the tutorial's client sends it.
    assert_eq!(exchange(&mut client, b"echo two"), "two\n");
    assert_eq!(exchange(&mut client, b"\n"), "error: empty command\n");
}

#[test]
fn a_failing_command_answers_with_its_stderr() {
    let server = start(&["--allow", "date"]);
    let mut client = server.connect();
    let body = exchange(&mut client, b"date --no-such-flag\n");
    assert!(body.starts_with("date: "), "{body:?}");
    assert!(body.contains("no-such-flag"), "{body:?}");
}

#[test]
fn a_program_not_on_the_list_is_refused() {
    let server = start(&[]);
    let mut client = server.connect();
    assert_eq!(
        exchange(&mut client, b"rm -rf /\n"),
        "error: command not allowed: rm\n"
    );
    // A path could name any program under an allowed name.
    assert_eq!(
        exchange(&mut client, b"/bin/echo hi\n"),
        "error: command not allowed: /bin/echo\n"
    );
    assert_eq!(
        exchange(&mut client, b"sleep 1\n"),
        "error: command not allowed: sleep\n"
    );
}

#[test]
fn a_program_that_cannot_start_is_answered() {
    let server = start(&["--allow-any"]);
    let mut client = server.connect();
    let body = exchange(&mut client, b"no-such-program-cmd-server-test x\n");
    assert!(
        body.starts_with("error: cannot run no-such-program-cmd-server-test: "),
        "{body:?}"
    );
    assert!(body.ends_with('\n'));
}

#[test]
fn shell_mode_runs_the_line_through_sh() {
    let server = start(&["--allow-any", "--shell"]);
    let mut client = server.connect();
    assert_eq!(exchange(&mut client, b"echo abc | tr a-c x-z\n"), "xyz\n");
}

#[test]
fn a_slow_command_times_out_while_others_are_served() {
    let server = start(&["--allow-any", "--timeout", "1"]);
    let mut slow = server.connect();
    let started = Instant::now();
    send(&mut slow, b"sleep 5\n");
    wait_until("sleep is running", || !children_of(server.pid()).is_empty());
    let mut other = server.connect();
    assert_eq!(exchange(&mut other, b"echo meanwhile\n"), "meanwhile\n");
    assert_eq!(
        read_body_after_length(&mut slow),
        "error: command timed out after 1 s\n"
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(4500),
        "timed out after {took:?}"
    );
    // The killed command was reaped.
    wait_until("no child is left", || children_of(server.pid()).is_empty());
    // And the connection goes on.
    assert_eq!(exchange(&mut slow, b"echo after\n"), "after\n");
}

#[test]
fn output_past_the_limit_is_truncated() {
    let server = start(&["--allow-any", "--max-output", "100"]);
    let mut client = server.connect();
    let body = exchange(&mut client, b"seq 1 100000\n");
    let all: String = (1..=100).map(|n| format!("{n}\n")).collect();
    let expected = format!("{}\nerror: output truncated at 100 bytes\n", &all[..100]);
    assert_eq!(body, expected);
    wait_until("no child is left", || children_of(server.pid()).is_empty());
}

#[test]
fn shell_without_allow_any_is_a_usage_error() {
    let mut child = Command::new(example_path("cmd_server"))
        .args(["--addr", "127.0.0.1:0", "--shell"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting cmd_server");
    wait_until("cmd_server exits", || child.try_wait().unwrap().is_some());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "nothing on stdout");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--allow-any"), "{stderr}");
    assert!(stderr.contains("Usage"), "{stderr}");
}

#[test]
fn a_client_gone_mid_command_leaves_no_child_and_no_fd() {
    let server = start(&["--allow", "sleep,echo"]);
    let baseline = server.fd_count();
    let mut slow = server.connect();
    send(&mut slow, b"sleep 5\n");
    wait_until("sleep is running", || children_of(server.pid()).len() == 1);
    let running = server.fd_count();
    assert!(
        running >= baseline + 3,
        "socket and two pipes: {baseline} -> {running}"
    );

    // The loop is not blocked by the running command: another client is
    // served while sleep is still there.
    let mut other = server.connect();
    assert_eq!(exchange(&mut other, b"echo meanwhile\n"), "meanwhile\n");
    drop(other);
    assert_eq!(children_of(server.pid()).len(), 1, "sleep still runs");

    drop(slow);
    wait_until("the child is killed and reaped", || {
        children_of(server.pid()).is_empty()
    });
    wait_until("the fd count is back to the baseline", || {
        server.fd_count() == baseline
    });
}

#[test]
fn sigterm_exits_0_even_with_a_command_running() {
    let mut server = start(&["--allow", "sleep"]);
    let mut client = server.connect();
    send(&mut client, b"sleep 5\n");
    wait_until("sleep is running", || !children_of(server.pid()).is_empty());
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(Duration::from_secs(5)), Some(0));
}

#[test]
fn cmd_client_prints_the_output_of_piped_commands() {
    let server = start(&[]);
    let mut child = Command::new(example_path("cmd_client"))
        .args(["--addr", &server.addr])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting cmd_client");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"echo hi\n\nrm -rf /\n").unwrap();
        // Dropped: EOF quits the client.
    }
    wait_until("cmd_client exits", || child.try_wait().unwrap().is_some());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    // No prompt: stdin is not a terminal.
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "hi\nerror: command not allowed: rm\n"
    );
}

#[test]
fn cmd_client_quits_on_exit() {
    let server = start(&[]);
    let mut child = Command::new(example_path("cmd_client"))
        .args(["--addr", &server.addr])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting cmd_client");
    // Keep stdin open: only `exit` can end the client here.
    let mut stdin = child.stdin.take().unwrap();
    {
        use std::io::Write;
        stdin.write_all(b"echo bye\nexit\n").unwrap();
    }
    wait_until("cmd_client exits", || child.try_wait().unwrap().is_some());
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "bye\n");
}
