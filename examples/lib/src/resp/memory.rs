//! How much memory the server uses, for INFO's `used_memory`: the bytes
//! allocated and not yet freed, counted by [`CountingAllocator`] when the
//! program installs it (`resp_server` does), else the resident set size.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting the bytes it hands out. Install it in a
/// program with `#[global_allocator]`; the count costs one atomic add per
/// allocation, and the server's request path allocates nothing.
pub struct CountingAllocator;

// SAFETY: every call is forwarded to the system allocator unchanged; only a
// counter is kept beside it.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on as it is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as for `alloc`.
        unsafe { System.dealloc(ptr, layout) };
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
            ALLOCATED.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

/// Bytes allocated and not yet freed, as [`CountingAllocator`] counts them
/// (0 when it is not installed).
pub fn allocated() -> usize {
    ALLOCATED.load(Ordering::Relaxed)
}

/// Bytes in use: what the counting allocator counted, or (when it is not
/// installed) the process's resident set.
pub fn used() -> usize {
    match allocated() {
        0 => rss(),
        n => n,
    }
}

/// The resident set size, from /proc (0 where there is none).
pub fn rss() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Redis's `bytesToHuman`: `1023B`, `1.50K`, `2.00M`...
pub fn human(n: usize) -> String {
    const UNITS: [(f64, &str); 5] = [
        (1024.0, "K"),
        (1024.0 * 1024.0, "M"),
        (1024.0 * 1024.0 * 1024.0, "G"),
        (1024.0 * 1024.0 * 1024.0 * 1024.0, "T"),
        (1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0, "P"),
    ];
    if n < 1024 {
        return format!("{n}B");
    }
    let v = n as f64;
    let (scale, unit) = UNITS
        .iter()
        .rev()
        .find(|(scale, _)| v >= *scale)
        .copied()
        .unwrap_or(UNITS[0]);
    format!("{:.2}{unit}", v / scale)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_as_redis_writes_them() {
        assert_eq!(super::human(1023), "1023B");
        assert_eq!(super::human(1536), "1.50K");
        assert_eq!(super::human(1485232), "1.42M");
        assert!(super::rss() > 0);
    }
}
