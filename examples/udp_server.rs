//! UDP server: prints every datagram it receives and answers `ok`.
//!
//! ```text
//! cargo run --release --example udp_server
//! cargo run --release --example udp_client      # type lines; each gets "ok"
//! nc -u 127.0.0.1 9999                          # or this
//! ```
//!
//! `--addr HOST:PORT` picks the address (default 127.0.0.1:9999, port 0 for
//! any free port); `--unix PATH` serves a Unix datagram socket instead
//! (talk to it with `udp_client --unix PATH`). After the `listening on` line,
//! each datagram is printed on stdout as `<from>: <text>`, the text decoded
//! as UTF-8 (invalid bytes shown as U+FFFD) without its trailing newline.
//!
//! There are no connections here: one socket receives from everybody, and
//! each reply is addressed to the sender of the datagram it answers. A
//! datagram is a message, never a piece of one, so no framing is needed.

use std::io::Write;
use std::path::PathBuf;

use clap::Parser;
use log::debug;
use sockloop::{Addr, Config, Ctx, DatagramProtocol, Reactor};
use sockloop_examples::server::{self, OrFail};

/// The stdout line for a datagram: the sender, then the text without the
/// line ending a client typing lines would send.
fn describe(from: &Addr, data: &[u8]) -> String {
    let text = data.strip_suffix(b"\n").unwrap_or(data);
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    format!("{from}: {}", String::from_utf8_lossy(text))
}

/// Print, then answer `ok`.
struct Acknowledge;

impl DatagramProtocol for Acknowledge {
    fn datagram_received(&mut self, ctx: &mut Ctx, data: &[u8], from: &Addr) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", describe(from, data));
        let _ = out.flush();
        // A Unix client that never bound a path has no address to answer.
        if let Err(e) = ctx.send_to(b"ok", from) {
            debug!("cannot answer {from}: {e}");
        }
    }
}

#[derive(Parser)]
#[command(about = "UDP server on the sockloop reactor: prints datagrams, answers ok")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9999")]
    addr: String,
    /// Serve on this Unix datagram socket path instead of UDP.
    #[arg(long)]
    unix: Option<PathBuf>,
}

fn main() {
    let args = Args::parse();
    server::init_logging();
    let config = server::from_env(Config::default());
    let mut reactor = Reactor::with_config((), config).or_fail("creating the reactor");
    let socket = match &args.unix {
        Some(path) => reactor
            .bind_unix_datagram(path, Acknowledge)
            .or_fail(&format!("binding {}", path.display())),
        None => reactor
            .bind_udp(args.addr.as_str(), Acknowledge)
            .or_fail(&format!("binding {}", args.addr)),
    };
    server::install_signals(&mut reactor).or_fail("installing signal handlers");
    server::announce(
        reactor
            .local_addr(socket)
            .or_fail("reading the bound address"),
    );
    reactor.run().or_fail("running the reactor");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    #[test]
    fn lines_name_the_sender_and_drop_the_line_ending() {
        let from = Addr::Inet("127.0.0.1:5000".parse::<SocketAddr>().unwrap());
        assert_eq!(describe(&from, b"hello\n"), "127.0.0.1:5000: hello");
        assert_eq!(describe(&from, b"hello\r\n"), "127.0.0.1:5000: hello");
        assert_eq!(describe(&from, b"hello"), "127.0.0.1:5000: hello");
        assert_eq!(describe(&from, b"a\nb\n\n"), "127.0.0.1:5000: a\nb\n");
        assert_eq!(describe(&from, b""), "127.0.0.1:5000: ");
        assert_eq!(describe(&from, b"caf\xe9"), "127.0.0.1:5000: caf\u{FFFD}");
        let unix = Addr::Unix(Some(PathBuf::from("/tmp/c.sock")));
        assert_eq!(describe(&unix, b"hi\n"), "unix:/tmp/c.sock: hi");
    }
}
