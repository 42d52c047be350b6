//! Test support for the examples (http_server and resp_server include this
//! file in their tests): a global allocator that counts the allocations made on one
//! thread while it asks, so a test can show that a path allocates nothing
//! (other tests, on other threads, allocate freely meanwhile).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    /// Allocations counted on this thread, while `Some`.
    static COUNT: Cell<Option<usize>> = const { Cell::new(None) };
}

fn count() {
    // try_with: the allocator runs during thread teardown too.
    let _ = COUNT.try_with(|c| c.set(c.get().map(|n| n + 1)));
}

/// The system allocator, counting.
struct Counting;

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

/// How many allocations (and reallocations) `f` makes on this thread.
pub fn allocations(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(Some(0)));
    f();
    COUNT.with(|c| c.take()).unwrap_or(0)
}
