//! Baseline: echo server on tokio's current_thread runtime.
//!
//! ```text
//! cargo run --release -p sockloop-bench --bin tokio_echo -- --addr 127.0.0.1:0
//! ```
//!
//! The idiomatic shape: one task per connection, a 64 KiB buffer, a
//! `read` / `write_all` loop, TCP_NODELAY. Prints `listening on ADDR` first;
//! SIGINT or SIGTERM exit 0.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{SignalKind, signal};

async fn serve(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

fn addr_from_args() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => "127.0.0.1:8888".to_string(),
        [flag, addr] if flag == "--addr" => addr.clone(),
        _ => {
            eprintln!("usage: tokio_echo [--addr HOST:PORT]");
            std::process::exit(2);
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let addr = addr_from_args();
    let listener = TcpListener::bind(&addr).await.unwrap_or_else(|e| {
        eprintln!("error: listening on {addr}: {e}");
        std::process::exit(1);
    });
    let local = listener
        .local_addr()
        .expect("a bound listener has an address");
    println!("listening on {local}");
    let mut terminate = signal(SignalKind::terminate()).expect("installing SIGTERM handler");
    let mut interrupt = signal(SignalKind::interrupt()).expect("installing SIGINT handler");
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(serve(stream));
                }
            }
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
}
