//! What a run holds: nothing (a tombstone run), one element inline, or a
//! vector of elements.
//!
//! Design note (issue 15): a keystroke is a run of one element, and its
//! delta carries that run. With the content always a `Vec`, every keystroke
//! allocated a one-element vector for its delta and freed it when the delta
//! was dropped: about 40M of the 290M instructions of an automerge-paper
//! replay. One element is now held inline, so a keystroke's delta, and a
//! one-element run in the sequence, allocate nothing. For `char` the enum
//! takes the 24 bytes `Option<Vec<char>>` took (the vector's capacity has
//! room for the two other variants' tags), so a piece stays 64 bytes.
//!
//! Two contents are equal when they hold the same elements, whatever their
//! shape: `One(x)` equals a `Many` holding just `x`.

/// The elements of a run: [`Content::Dead`] for a tombstone run, else its
/// elements, one inline ([`Content::One`]) or any number in a vector.
#[derive(Clone, Debug)]
pub(crate) enum Content<T> {
    /// Deleted: the run keeps only what ordering needs.
    Dead,
    /// One visible element, inline.
    One(T),
    /// Visible elements (never empty in a run).
    Many(Vec<T>),
}

impl<T> Content<T> {
    /// The visible elements of `items` (`One` for a single element).
    pub(crate) fn of_vec(mut items: Vec<T>) -> Self {
        match items.len() {
            1 => items.pop().map_or(Self::Many(items), Self::One),
            _ => Self::Many(items),
        }
    }

    /// `Dead` for `None`, else the elements.
    pub(crate) fn of_option(items: Option<Vec<T>>) -> Self {
        items.map_or(Self::Dead, Self::of_vec)
    }

    /// The elements of `items` (`None` when empty), allocating nothing for
    /// one element.
    pub(crate) fn collect(items: impl IntoIterator<Item = T>) -> Option<Self> {
        let mut items = items.into_iter();
        let first = items.next()?;
        let Some(second) = items.next() else {
            return Some(Self::One(first));
        };
        let mut all = Vec::with_capacity(2 + items.size_hint().0);
        all.push(first);
        all.push(second);
        all.extend(items);
        Some(Self::Many(all))
    }

    /// The elements as a vector, `None` for a tombstone run.
    pub(crate) fn into_option(self) -> Option<Vec<T>> {
        match self {
            Self::Dead => None,
            Self::One(x) => Some(vec![x]),
            Self::Many(all) => Some(all),
        }
    }

    /// Whether the run is visible.
    #[inline]
    pub(crate) fn is_live(&self) -> bool {
        !matches!(self, Self::Dead)
    }

    /// Whether the run is a tombstone run.
    #[inline]
    pub(crate) fn is_dead(&self) -> bool {
        matches!(self, Self::Dead)
    }

    /// The elements, `None` for a tombstone run.
    #[inline]
    pub(crate) fn as_slice(&self) -> Option<&[T]> {
        match self {
            Self::Dead => None,
            Self::One(x) => Some(std::slice::from_ref(x)),
            Self::Many(all) => Some(all),
        }
    }

    /// The number of elements (0 for a tombstone run).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.as_slice().map_or(0, <[T]>::len)
    }

    /// Element `i`, `None` for a tombstone run or past the end.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        self.as_slice()?.get(i)
    }

    /// The content, leaving `Dead` in its place.
    pub(crate) fn take(&mut self) -> Self {
        std::mem::replace(self, Self::Dead)
    }

    /// Heap bytes held (none inline).
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Self::Many(all) => all.capacity() * std::mem::size_of::<T>(),
            _ => 0,
        }
    }

    /// Keeps elements `..at` and returns elements `at..` (`0 < at < len`);
    /// the part kept gives back its spare room (see `Piece::split_off`).
    pub(crate) fn split_off(&mut self, at: usize) -> Self {
        match self {
            Self::Many(all) => {
                let rest = all.split_off(at);
                all.shrink_to_fit();
                Self::of_vec(rest)
            }
            Self::Dead | Self::One(_) => Self::Dead,
        }
    }

    /// Drops the first `n` elements (`0 < n < len`); the rest gets a
    /// buffer of its exact size, as [`Content::cut`] gives the part after.
    pub(crate) fn drop_front(&mut self, n: usize) {
        if let Self::Many(all) = self {
            *self = Self::of_vec(all.split_off(n));
        }
    }

    /// Appends the elements of `next` (both visible, or nothing changes).
    pub(crate) fn absorb(&mut self, next: Self) {
        if next.is_dead() {
            return;
        }
        let Some(all) = self.vec_mut(next.len()) else {
            return;
        };
        match next {
            Self::One(x) => all.push(x),
            Self::Many(rest) => all.extend(rest),
            Self::Dead => {}
        }
    }

    /// The items as a vector to append to, `None` for a tombstone run: a
    /// `One` becomes a `Many` with room for `more` items after its own
    /// (its item moved, not cloned).
    fn vec_mut(&mut self, more: usize) -> Option<&mut Vec<T>> {
        if matches!(self, Self::One(_))
            && let Self::One(x) = std::mem::replace(self, Self::Many(Vec::with_capacity(1 + more)))
            && let Self::Many(all) = self
        {
            all.push(x);
        }
        match self {
            Self::Many(all) => Some(all),
            Self::Dead | Self::One(_) => None,
        }
    }

    /// The content without its elements `from..to` (`from < to <= len`):
    /// the part before (in this content's own buffer, which gives back
    /// room past what typing on would reserve, [`spare`], so a backspace
    /// allocates nothing and typing on after it reallocates rarely) and
    /// the part after (in a buffer of its exact size, so the heap is what
    /// splitting the run gave). `Dead` for an empty part, and both for a
    /// tombstone run.
    pub(crate) fn cut(self, from: usize, to: usize) -> (Self, Self) {
        let mut all = match self {
            Self::Dead | Self::One(_) => return (Self::Dead, Self::Dead),
            Self::Many(all) => all,
        };
        let after = if to < all.len() {
            Self::of_vec(all.split_off(to))
        } else {
            Self::Dead
        };
        if from == 0 {
            return (Self::Dead, after);
        }
        all.truncate(from);
        if all.capacity() > all.len() + spare(all.len()) {
            all.shrink_to_fit();
        }
        (Self::Many(all), after)
    }
}

impl<T: Clone> Content<T> {
    /// Appends a copy of the elements of `next` (both visible, or nothing
    /// changes). A vector grows by a quarter at a time, not doubling: a
    /// run typed on and on keeps little spare capacity, for a few more
    /// copies.
    pub(crate) fn append(&mut self, next: &Self) {
        let Some(theirs) = next.as_slice() else {
            return;
        };
        match self {
            Self::Dead => {}
            Self::One(_) => {
                if let Some(all) = self.vec_mut(theirs.len() + spare(1)) {
                    all.extend_from_slice(theirs);
                }
            }
            // Typing on: matched directly, the hot path.
            Self::Many(mine) => {
                if mine.capacity() - mine.len() < theirs.len() {
                    mine.reserve_exact(theirs.len().max(spare(mine.len())));
                }
                match theirs {
                    // One element: no copy loop.
                    [x] => mine.push(x.clone()),
                    all => mine.extend_from_slice(all),
                }
            }
        }
    }

    /// Elements `from..to` (`from < to <= len`), `Dead` for a tombstone
    /// run.
    pub(crate) fn slice(&self, from: usize, to: usize) -> Self {
        match self.as_slice() {
            None => Self::Dead,
            Some(all) => match &all[from..to] {
                [x] => Self::One(x.clone()),
                part => Self::Many(part.to_vec()),
            },
        }
    }
}

impl<T: PartialEq> PartialEq for Content<T> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Eq> Eq for Content<T> {}

/// The spare room a run's content of `len` elements grows by when typed
/// on (a quarter, not doubling), and the most it keeps after a backspace
/// before it gives the rest back.
pub(crate) fn spare(len: usize) -> usize {
    len / 4 + 4
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One element inline costs `char` contents nothing: 24 bytes, as
    /// `Option<Vec<char>>`, so a piece stays 64 bytes.
    #[test]
    fn content_of_chars_is_24_bytes() {
        assert_eq!(std::mem::size_of::<Content<char>>(), 24);
    }

    /// A keystroke's content is inline; contents compare by elements,
    /// whatever their shape; every operation keeps the elements a vector
    /// would.
    #[test]
    fn contents_hold_the_elements_a_vector_would() {
        let one = Content::collect(['a']).unwrap();
        assert!(matches!(one, Content::One('a')));
        assert_eq!(one, Content::Many(vec!['a']));
        assert_ne!(one, Content::Dead);
        assert!(Content::<char>::collect([]).is_none());
        let mut x = one.clone();
        x.append(&Content::collect("bc".chars()).unwrap());
        assert_eq!(x.as_slice(), Some(&['a', 'b', 'c'][..]));
        let mut y = Content::One('a');
        y.absorb(Content::One('b'));
        assert_eq!(y.as_slice(), Some(&['a', 'b'][..]));
        let mut z = Content::of_vec("hello".chars().collect());
        let rest = z.split_off(4);
        assert!(matches!(rest, Content::One('o')));
        assert_eq!(z.slice(1, 3).as_slice(), Some(&['e', 'l'][..]));
        assert!(matches!(z.slice(1, 2), Content::One('e')));
        let (before, after) = z.clone().cut(1, 3);
        assert_eq!(
            (before.as_slice(), after.as_slice()),
            (Some(&['h'][..]), Some(&['l'][..]))
        );
        assert!(matches!(
            z.clone().cut(0, 4),
            (Content::Dead, Content::Dead)
        ));
        z.drop_front(3);
        assert!(matches!(z, Content::One('l')));
        assert_eq!(Content::<char>::Dead.into_option(), None);
        assert_eq!(Content::One('q').into_option(), Some(vec!['q']));
        assert_eq!(Content::<char>::Dead.heap_bytes(), 0);
        assert_eq!(Content::One('q').heap_bytes(), 0);
    }
}
