//! The example servers over TLS, run as real processes and talked to by
//! real clients: curl to http_server (HTTPS, ALPN http/1.1), redis-cli
//! --tls to resp_server's TLS port, echo_client --tls-ca and openssl
//! s_client to echo_server. Certificates come from the make_cert example.
//! A client that is not installed is skipped with a note (.ci/run installs
//! them).

mod util;

use std::io::{BufRead, Write};
use std::process::{Command, Stdio};

use util::{Server, certs, have};

fn tls_flags() -> Vec<String> {
    let c = certs();
    vec![
        "--tls-cert".into(),
        c.cert.display().to_string(),
        "--tls-key".into(),
        c.key.display().to_string(),
    ]
}

fn start(name: &str, extra: &[&str]) -> Server {
    let flags = tls_flags();
    let mut args: Vec<&str> = vec!["--addr", "127.0.0.1:0"];
    args.extend(extra);
    args.extend(flags.iter().map(String::as_str));
    Server::start(name, &args)
}

fn output(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn curl_fetches_a_page_over_https_with_alpn_and_keep_alive() {
    if !have("curl", "curl against http_server over HTTPS") {
        return;
    }
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/www");
    let server = start("http_server", &["--root", root]);
    let url = format!("https://localhost:{}/", server.socket_addr().port());
    let (ok, stdout, stderr) = output(
        Command::new("curl")
            .args(["-sS", "-v", "--cacert"])
            .arg(&certs().ca)
            .args([&url, &url, "-o", "/dev/null", "-o", "/dev/null"])
            .args(["-w", "%{http_code} %{http_version}\n"]),
    );
    assert!(ok, "{stderr}");
    assert_eq!(stdout, "200 1.1\n200 1.1\n");
    assert!(
        stderr.contains("ALPN: server accepted http/1.1"),
        "{stderr}"
    );
    assert!(stderr.contains("Re-using existing connection"), "{stderr}");
    // Without the CA, curl refuses the certificate, and the server goes on.
    let (ok, _, _) = output(Command::new("curl").args(["-sS", &url]));
    assert!(!ok);
    let (ok, stdout, stderr) = output(
        Command::new("curl")
            .args(["-sS", "--cacert"])
            .arg(&certs().ca)
            .arg(format!("{url}index.html")),
    );
    assert!(ok && stdout.contains("<html"), "{stderr}");
}

#[test]
fn redis_cli_talks_to_the_tls_port() {
    if !have("redis-cli", "redis-cli --tls against resp_server") {
        return;
    }
    let mut server = start("resp_server", &["--tls-addr", "127.0.0.1:0"]);
    let mut line = String::new();
    server.stdout.read_line(&mut line).unwrap();
    let tls_addr = line
        .trim_end()
        .strip_prefix("listening on ")
        .and_then(|rest| rest.strip_suffix(" (tls)"))
        .unwrap_or_else(|| panic!("second line: {line:?}"))
        .to_string();
    let port = tls_addr.rsplit(':').next().unwrap().to_string();
    let cli = |args: &[&str]| {
        let mut cmd = Command::new("redis-cli");
        cmd.args(["--tls", "--cacert"])
            .arg(&certs().ca)
            .args(["-h", "localhost", "-p", &port])
            .args(args);
        output(&mut cmd)
    };
    let (ok, stdout, stderr) = cli(&["set", "greeting", "hello over tls"]);
    assert!(ok && stdout == "OK\n", "{stdout} {stderr}");
    let (_, stdout, _) = cli(&["get", "greeting"]);
    assert_eq!(stdout, "hello over tls\n");
    // The plain port serves the same keyspace.
    let plain_port = server.socket_addr().port().to_string();
    let out = Command::new("redis-cli")
        .args(["-p", &plain_port, "get", "greeting"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello over tls\n");
}

#[test]
fn echo_client_talks_to_echo_server_over_tls() {
    let server = start("echo_server", &[]);
    let mut client = Command::new(util::example_path("echo_client"))
        .args(["--addr", &server.addr, "--tls-ca"])
        .arg(&certs().ca)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    client
        .stdin
        .take()
        .unwrap()
        .write_all(b"first line\nsecond line\n")
        .unwrap();
    let out = client.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "first line\nsecond line\n"
    );
}

#[test]
fn echo_client_refuses_a_server_whose_certificate_names_another_host() {
    let server = start("echo_server", &[]);
    let out = Command::new(util::example_path("echo_client"))
        .args([
            "--addr",
            &server.addr,
            "--server-name",
            "elsewhere.test",
            "--tls-ca",
        ])
        .arg(&certs().ca)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot connect: TLS handshake failed")
            && stderr.contains("not valid for name"),
        "{stderr}"
    );
}

#[test]
fn openssl_s_client_talks_to_echo_server() {
    if !have("openssl", "openssl s_client against echo_server") {
        return;
    }
    let server = start("echo_server", &[]);
    let mut child = util::tls::s_client(&server.addr)
        .args(["-quiet", "-no_ign_eof"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"echo me\n").unwrap();
    let mut stdout = child.stdout.take().unwrap();
    assert_eq!(util::read_exact(&mut stdout, 8), b"echo me\n");
    drop(stdin);
    assert!(child.wait().unwrap().success());
}
