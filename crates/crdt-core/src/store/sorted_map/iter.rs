//! The borrowing iterator of a [`SortedMap`](super::SortedMap).

use super::Chunk;

/// The entries of a chunked map's chunks, in order.
type ChunkEntries<'a, K, V> = std::iter::Flatten<std::slice::Iter<'a, Chunk<K, V>>>;

/// Borrowing iterator over a [`SortedMap`](super::SortedMap), in key order.
pub(crate) struct Iter<'a, K, V> {
    pub(super) inner: std::iter::Chain<std::slice::Iter<'a, (K, V)>, ChunkEntries<'a, K, V>>,
    pub(super) remaining: usize,
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);
    fn next(&mut self) -> Option<Self::Item> {
        let (k, v) = self.inner.next()?;
        self.remaining -= 1;
        Some((k, v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V> DoubleEndedIterator for Iter<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let (k, v) = self.inner.next_back()?;
        self.remaining -= 1;
        Some((k, v))
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}

/// Owning iterator over a [`SortedMap`](super::SortedMap), in key order
/// (one branch per shape, not a chain of both: an owned merge of many
/// small nested maps walks one per entry).
pub(crate) enum IntoEntries<K, V> {
    Flat(std::vec::IntoIter<(K, V)>),
    Chunked(std::iter::Flatten<std::vec::IntoIter<Chunk<K, V>>>),
}

impl<K, V> Iterator for IntoEntries<K, V> {
    type Item = (K, V);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::Flat(it) => it.next(),
            Self::Chunked(it) => it.next(),
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Self::Flat(it) => it.size_hint(),
            Self::Chunked(it) => it.size_hint(),
        }
    }
}
