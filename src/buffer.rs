//! A byte buffer with a read cursor, and the pool its storage comes from.
//!
//! Connections only hold bytes that are *waiting*: input the protocol has not
//! consumed yet, output the socket has refused so far. Most of the time both
//! are empty, so a buffer owns no allocation until it holds data and gives its
//! storage back to a reactor-wide [`Pool`] as soon as it is empty again. That
//! keeps an idle connection down to a few words while a busy one reuses the same
//! few blocks without calling the allocator.

use crate::sys::Io;

/// Storage blocks start at this size; reads into a buffer ask for at least this much room.
pub(crate) const BLOCK: usize = 16 * 1024;
/// The pool keeps at most this many free blocks...
const POOL_BLOCKS: usize = 64;
/// ...and none larger than this: a burst that grew a buffer is not kept forever.
const POOL_MAX_CAPACITY: usize = 256 * 1024;

/// Free storage blocks shared by every buffer of one reactor.
#[derive(Default)]
pub(crate) struct Pool {
    free: Vec<Box<[u8]>>,
}

impl Pool {
    fn take(&mut self) -> Box<[u8]> {
        self.free.pop().unwrap_or_default()
    }

    /// Blocks kept for reuse (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.free.len()
    }

    fn give(&mut self, block: Box<[u8]>) {
        // Blocks keep their initialised length: that is what makes them reusable
        // without zeroing (see `Buffer`).
        if !block.is_empty() && self.free.len() < POOL_BLOCKS && block.len() <= POOL_MAX_CAPACITY {
            self.free.push(block);
        }
    }
}

/// Bytes `data[start..end]` are live. The block is a boxed slice, all of it
/// initialised (two words where a `Vec` takes three: an idle connection
/// carries two of these), so a read goes straight into `data[end..]` without zeroing it
/// again; cursors are `u32` to keep a connection's two buffers small (a
/// buffer never holds 4 GiB: the reactor's limits stop a peer long before).
#[derive(Default)]
pub(crate) struct Buffer {
    data: Box<[u8]>,
    start: u32,
    end: u32,
}

impl Buffer {
    /// Number of live bytes.
    pub(crate) fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.end == self.start
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.data[self.start as usize..self.end as usize]
    }

    /// Appends `bytes`, taking storage from the pool if the buffer had none.
    pub(crate) fn extend(&mut self, pool: &mut Pool, bytes: &[u8]) {
        self.make_room(pool, bytes.len());
        let end = self.end as usize;
        self.data[end..end + bytes.len()].copy_from_slice(bytes);
        self.end += bytes.len() as u32;
    }

    /// Drops the first `n` live bytes (all of them if `n` is larger).
    pub(crate) fn consume(&mut self, n: usize) {
        if n >= self.len() {
            self.start = 0;
            self.end = 0;
        } else {
            self.start += n as u32;
        }
    }

    /// One `read` call into the spare room, making at least `BLOCK` bytes of
    /// room first. Returns the bytes read and the room offered: a read that
    /// filled less than the room drained the source.
    /// Appends what one call of `recv` reads into the free space (made
    /// room for first): the outcome and how much room there was, so the
    /// caller can tell a read that filled the buffer (more may wait).
    pub(crate) fn read_from(
        &mut self,
        pool: &mut Pool,
        recv: impl FnOnce(&mut [u8]) -> Io,
    ) -> (Io, usize) {
        self.make_room(pool, BLOCK);
        let room = self.data.len() - self.end as usize;
        let outcome = recv(&mut self.data[self.end as usize..]);
        if let Io::Done(n) = outcome {
            self.end += n as u32;
        }
        (outcome, room)
    }

    pub(crate) fn release(&mut self, pool: &mut Pool) {
        if self.is_empty() && !self.data.is_empty() {
            pool.give(std::mem::take(&mut self.data));
        }
    }

    /// Ensures `extra` bytes fit after the live data: first take a block from
    /// the pool, then slide the live bytes to the front, and only then grow.
    fn make_room(&mut self, pool: &mut Pool, extra: usize) {
        if self.data.is_empty() {
            self.data = pool.take();
            self.start = 0;
            self.end = 0;
        }
        if self.data.len() - self.end as usize >= extra {
            return;
        }
        let live = self.len();
        if self.start > 0 {
            self.data
                .copy_within(self.start as usize..self.end as usize, 0);
            self.start = 0;
            self.end = live as u32;
        }
        let needed = live + extra;
        if self.data.len() < needed {
            let size = needed.max(BLOCK).max(self.data.len() * 2);
            assert!(size <= u32::MAX as usize, "buffer limit is 4 GiB");
            // Growing copies the live bytes into a bigger zeroed block; the
            // old block goes back to the pool.
            let mut bigger = vec![0; size].into_boxed_slice();
            bigger[..live].copy_from_slice(&self.data[self.start as usize..self.end as usize]);
            pool.give(std::mem::replace(&mut self.data, bigger));
            self.start = 0;
            self.end = live as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consume_keeps_the_rest_in_order() {
        let mut pool = Pool::default();
        let mut buf = Buffer::default();
        buf.extend(&mut pool, b"hello world");
        buf.consume(6);
        assert_eq!(buf.as_slice(), b"world");
        buf.extend(&mut pool, b"!");
        assert_eq!(buf.as_slice(), b"world!");
        buf.consume(100);
        assert!(buf.is_empty());
        assert_eq!(buf.len(), 0);
    }

    #[test]
    fn empty_buffer_owns_nothing_after_release() {
        let mut pool = Pool::default();
        let mut buf = Buffer::default();
        assert_eq!(buf.data.len(), 0);
        buf.extend(&mut pool, &[7; 100]);
        assert!(buf.data.len() >= 100);
        buf.release(&mut pool); // not empty: keeps its storage
        assert!(buf.data.len() >= 100);
        buf.consume(100);
        buf.release(&mut pool);
        assert_eq!(buf.data.len(), 0);
        assert_eq!(pool.len(), 1);
        // The next buffer reuses the pooled block instead of allocating.
        let mut other = Buffer::default();
        other.extend(&mut pool, b"x");
        assert_eq!(pool.len(), 0);
    }

    #[test]
    fn pool_drops_blocks_grown_by_a_burst() {
        let mut pool = Pool::default();
        let mut buf = Buffer::default();
        buf.extend(&mut pool, &vec![1; POOL_MAX_CAPACITY * 2]);
        buf.consume(usize::MAX);
        buf.release(&mut pool);
        assert!(pool.free.is_empty());
    }

    fn recv_of(bytes: &'static [u8]) -> impl FnOnce(&mut [u8]) -> Io {
        move |buf: &mut [u8]| {
            buf[..bytes.len()].copy_from_slice(bytes);
            Io::Done(bytes.len())
        }
    }

    #[test]
    fn reads_append_after_what_is_buffered() {
        let mut pool = Pool::default();
        let mut buf = Buffer::default();
        let (outcome, room) = buf.read_from(&mut pool, recv_of(b"abcdef"));
        assert!(matches!(outcome, Io::Done(6)));
        assert!(room >= BLOCK);
        buf.read_from(&mut pool, recv_of(b"gh"));
        assert_eq!(buf.as_slice(), b"abcdefgh");
        let (outcome, _) = buf.read_from(&mut pool, |_| Io::WouldBlock);
        assert!(matches!(outcome, Io::WouldBlock));
        buf.consume(3);
        assert_eq!(buf.as_slice(), b"defgh");
    }

    #[test]
    fn consumed_space_is_reused_before_growing() {
        let mut pool = Pool::default();
        let mut buf = Buffer::default();
        buf.extend(&mut pool, &[0; BLOCK]);
        let cap = buf.data.len();
        buf.consume(BLOCK - 1);
        buf.extend(&mut pool, &[1; BLOCK / 2]);
        assert_eq!(buf.data.len(), cap);
        assert_eq!(buf.len(), BLOCK / 2 + 1);
    }
}
