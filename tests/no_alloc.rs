//! The echo path allocates nothing per message once warmed up: a counting
//! global allocator watches the reactor thread while clients echo thousands
//! of messages.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use sockloop::{Ctx, Protocol, Reactor};

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

#[test]
fn the_echo_path_allocates_nothing_per_message_after_warm_up() {
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
    MEASURING.store(true, Ordering::SeqCst);
    for _ in 0..2000 {
        echo_round(&mut clients, &message);
    }
    MEASURING.store(false, Ordering::SeqCst);
    let allocations = ALLOCATIONS.load(Ordering::SeqCst);
    handle.shutdown();
    server.join().unwrap();
    assert_eq!(
        allocations, 0,
        "the reactor thread allocated {allocations} times while echoing 20,000 messages"
    );
}
