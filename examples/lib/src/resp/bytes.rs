//! `Bytes`: the binary-safe string every key, value and member is stored
//! as, inline when it is short.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Strings up to this long live inside the `Bytes` itself, so the typical
/// key (`user:1000`) or small value (`xxx`, a counter) costs no allocation.
pub const INLINE: usize = 22;

/// A binary-safe string, stored inline when it is short.
///
/// `Hash` and `Eq` are those of `[u8]`, so a table keyed by `Bytes` is
/// looked up with the `&[u8]` argument straight from the request buffer.
#[derive(Clone)]
pub enum Bytes {
    /// Up to [`INLINE`] bytes, in place.
    Inline {
        /// How many of `data` are used.
        len: u8,
        /// The bytes, zero-padded.
        data: [u8; INLINE],
    },
    /// Anything longer, on the heap, sized exactly.
    Heap(Box<[u8]>),
}

impl Default for Bytes {
    fn default() -> Self {
        Bytes::Inline {
            len: 0,
            data: [0; INLINE],
        }
    }
}

impl Bytes {
    /// A copy of `s`.
    pub fn new(s: &[u8]) -> Bytes {
        if s.len() <= INLINE {
            let mut data = [0; INLINE];
            data[..s.len()].copy_from_slice(s);
            Bytes::Inline {
                len: s.len() as u8,
                data,
            }
        } else {
            Bytes::Heap(s.into())
        }
    }

    /// Takes a buffer that is already exactly as large as its contents (a
    /// streamed argument) without copying it.
    pub fn from_vec(v: Vec<u8>) -> Bytes {
        if v.len() <= INLINE {
            Bytes::new(&v)
        } else {
            Bytes::Heap(v.into_boxed_slice())
        }
    }

    /// Overwrites the contents, reusing the storage when the new value fits
    /// it (SET on an existing key allocates nothing then).
    pub fn assign(&mut self, s: &[u8]) {
        match self {
            Bytes::Heap(b) if b.len() == s.len() => b.copy_from_slice(s),
            _ => *self = Bytes::new(s),
        }
    }

    /// Bytes of heap this string owns (for INFO's memory estimate).
    pub fn heap_size(&self) -> usize {
        match self {
            Bytes::Inline { .. } => 0,
            Bytes::Heap(b) => b.len(),
        }
    }
}

impl Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Inline { len, data } => &data[..usize::from(*len)],
            Bytes::Heap(b) => b,
        }
    }
}

impl Borrow<[u8]> for Bytes {
    fn borrow(&self) -> &[u8] {
        self
    }
}

impl Hash for Bytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl PartialEq for Bytes {
    fn eq(&self, other: &Bytes) -> bool {
        **self == **other
    }
}

impl Eq for Bytes {}

impl PartialOrd for Bytes {
    fn partial_cmp(&self, other: &Bytes) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Byte order, as Redis's `memcmp`-based comparisons.
impl Ord for Bytes {
    fn cmp(&self, other: &Bytes) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_are_inline_and_long_ones_on_the_heap() {
        assert_eq!(std::mem::size_of::<Bytes>(), 24);
        assert!(matches!(Bytes::new(&[7; INLINE]), Bytes::Inline { .. }));
        assert!(matches!(Bytes::new(&[7; INLINE + 1]), Bytes::Heap(_)));
        let mut b = Bytes::new(b"short");
        b.assign(&[1; 40]);
        assert_eq!(&*b, &[1; 40][..]);
        b.assign(b"x");
        assert_eq!(&*b, b"x");
        // Equal contents are equal keys whatever the storage.
        assert!(Bytes::new(&[3; 30]) == Bytes::from_vec(vec![3; 30]));
        assert!(Bytes::new(b"a") < Bytes::new(b"ab"));
    }
}
