//! The search of a chunk of a [`SortedMap`](super::SortedMap).

/// How many probes [`search`] makes at once, plus one.
const WAYS: usize = 8;

/// The position of `key` in `items` (sorted by `key_of`, no key twice), as
/// [`slice::binary_search_by`] gives it.
///
/// Design note: a chunk of a large map is rarely in the nearest caches, and
/// a binary search waits for each probe before loading the next: seven
/// dependent misses for a chunk of 100 entries, about half the time of an
/// insert or a remove of a random key into 100k (issue 14, measured with
/// `perf`). This search narrows the range by `WAYS` at each step with
/// `WAYS - 1` probes that do not depend on each other (the CPU fetches them
/// together), so two or three rounds of misses instead of seven, and ends
/// comparing the at most `WAYS` entries left all at once.
pub(super) fn search<T, K: Ord>(
    items: &[T],
    key_of: impl Fn(&T) -> &K,
    key: &K,
) -> Result<usize, usize> {
    // Invariant: the first position whose key is not below `key` lies in
    // `lo..=lo + n`, and is `lo + n` only if `key` is absent.
    let (mut lo, mut n) = (0, items.len());
    while n > WAYS {
        let step = n / WAYS;
        let mut below = 0;
        for i in 1..WAYS {
            below += usize::from(key_of(&items[lo + i * step]) < key);
        }
        lo += below * step;
        // The probe after the last one below `key` stays in the range: it
        // may hold `key`.
        n = if below == WAYS - 1 {
            n - below * step
        } else {
            step + 1
        };
    }
    // At most `WAYS` entries left: compared all at once, too.
    let pos = lo
        + items[lo..lo + n]
            .iter()
            .map(|t| usize::from(key_of(t) < key))
            .sum::<usize>();
    match items.get(pos) {
        Some(t) if key_of(t) == key => Ok(pos),
        _ => Err(pos),
    }
}
