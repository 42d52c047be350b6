//! The echo path allocates nothing per message once warmed up: a counting
//! global allocator watches the reactor thread while clients echo thousands
//! of messages. Over TLS the reactor adds nothing either; rustls' buffered
//! API allocates a little per record, measured here too.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use sockloop::{Ctx, Protocol, Reactor, tls};

mod util;

struct Counting;

static MEASURING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Set on the reactor thread only: the client side may allocate freely.
    static REACTOR_THREAD: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if MEASURING.load(Ordering::Relaxed) && REACTOR_THREAD.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct Echo;

impl Protocol for Echo {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        ctx.write(data);
        data.len()
    }
}

fn echo_round(clients: &mut [TcpStream], message: &[u8]) {
    for client in clients.iter_mut() {
        client.write_all(message).unwrap();
    }
    let mut reply = vec![0; message.len()];
    for client in clients.iter_mut() {
        client.read_exact(&mut reply).unwrap();
        assert_eq!(reply, message);
    }
}

/// The tests share one counter: they take turns.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Allocations on the reactor thread while `f` runs.
fn count_during(f: impl FnOnce()) -> usize {
    ALLOCATIONS.store(0, Ordering::SeqCst);
    MEASURING.store(true, Ordering::SeqCst);
    f();
    MEASURING.store(false, Ordering::SeqCst);
    ALLOCATIONS.load(Ordering::SeqCst)
}

#[test]
fn the_echo_path_allocates_nothing_per_message_after_warm_up() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (tx, rx) = mpsc::channel();
    let server = thread::spawn(move || {
        REACTOR_THREAD.with(|c| c.set(true));
        let mut reactor = Reactor::new().unwrap();
        let listener = reactor.listen_tcp("127.0.0.1:0", || Echo).unwrap();
        tx.send((reactor.local_addr(listener).unwrap(), reactor.handle()))
            .unwrap();
        reactor.run().unwrap();
    });
    let (addr, handle) = rx.recv().unwrap();
    let addr = addr.as_inet().unwrap();
    let mut clients: Vec<TcpStream> = (0..10)
        .map(|_| {
            let c = TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            c.set_nodelay(true).unwrap();
            c
        })
        .collect();
    let message = [0x5a; 64];
    for _ in 0..200 {
        echo_round(&mut clients, &message);
    }
    let allocations = count_during(|| {
        for _ in 0..2000 {
            echo_round(&mut clients, &message);
        }
    });
    handle.shutdown();
    server.join().unwrap();
    assert_eq!(
        allocations, 0,
        "the reactor thread allocated {allocations} times while echoing 20,000 messages"
    );
}

/// rustls' buffered API (the one the TLS layer drives) allocates per
/// record: the decrypted plaintext of each record it receives, the
/// ciphertext of each record it sends, and for records larger than 4 KiB
/// the growth (and later shrinking) of its receive buffer. The reactor's
/// own path adds nothing: a 64-byte echo costs exactly those two.
#[test]
fn over_tls_the_allocations_per_message_are_rustls_own() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let server_config = util::tls::server_config(&[]);
    let client_config = util::tls::client_config();
    let (tx, rx) = mpsc::channel();
    let server = thread::spawn(move || {
        REACTOR_THREAD.with(|c| c.set(true));
        let mut reactor = Reactor::new().unwrap();
        let listener = reactor
            .listen_tls("127.0.0.1:0", server_config, || Echo)
            .unwrap();
        tx.send((reactor.local_addr(listener).unwrap(), reactor.handle()))
            .unwrap();
        reactor.run().unwrap();
    });
    let (addr, handle) = rx.recv().unwrap();
    let addr = addr.as_inet().unwrap();
    let mut per_message = Vec::new();
    for size in [64, 16 * 1024] {
        let conn = tls::rustls::ClientConnection::new(
            client_config.clone(),
            "localhost".try_into().unwrap(),
        )
        .unwrap();
        let mut client = tls::rustls::StreamOwned::new(conn, util::connect(addr));
        let message = vec![0x5a; size];
        let mut reply = vec![0; size];
        let mut round = || {
            client.write_all(&message).unwrap();
            client.read_exact(&mut reply).unwrap();
            assert_eq!(reply, message);
        };
        for _ in 0..200 {
            round();
        }
        let allocations = count_during(|| {
            for _ in 0..1000 {
                round();
            }
        });
        per_message.push(allocations as f64 / 1000.0);
    }
    handle.shutdown();
    server.join().unwrap();
    eprintln!(
        "allocations per echoed message over TLS: 64 B {}, 16 KiB {}",
        per_message[0], per_message[1]
    );
    assert!(per_message[0] <= 2.0, "64 B: {per_message:?}");
    assert!(per_message[1] <= 8.0, "16 KiB: {per_message:?}");
}
