//! `Text`: a `List<char>` with string input and output, indexed in Unicode
//! code points.

use std::fmt;

use crdt_core::{CausalContext, Decompose, InvalidState, Lattice, ReplicaId};
use serde::{Deserialize, Serialize};

use super::{Cursor, List};

/// Replicated plain text: [`List`]`<char>` with `&str` in and out. Indices
/// and lengths count Unicode code points (`char`s), not bytes.
///
/// ```
/// use crdt_types::{Lattice, ReplicaId, Text};
/// let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
/// let mut x = Text::new();
/// let d = x.insert_str(a, 0, "héllo");
/// let mut y = Text::new();
/// y.join(&d);
/// // Both type at the end at once: the two words do not interleave.
/// let dx = x.insert_str(a, 5, " wörld");
/// let dy = y.insert_str(b, 5, " there");
/// x.join(&dy);
/// y.join(&dx);
/// assert_eq!(x, y);
/// assert_eq!(x.to_string(), "héllo wörld there");
/// let d = x.delete(0, 6);
/// y.join(&d);
/// assert_eq!(y.to_string(), "wörld there");
/// ```
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Text(List<char>);

impl Text {
    /// The empty text.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of code points.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Inserts `s` before code point `index`, as one run of `replica`.
    ///
    /// # Panics
    /// If `index > len()`.
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn insert_str(&mut self, replica: ReplicaId, index: usize, s: &str) -> Self {
        Self(self.0.insert(replica, index, s.chars()))
    }

    /// Deletes `len` code points from `index`.
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn delete(&mut self, index: usize, len: usize) -> Self {
        Self(self.0.delete(index, len))
    }

    /// Replaces the `len` code points from `index` (fewer if the text ends
    /// first) with `s`, as one run of `replica`, with one delta: what
    /// [`Text::delete`] then [`Text::insert_str`] at `index` do (typing
    /// over a selection). See [`List::splice`].
    ///
    /// ```
    /// use crdt_types::{ReplicaId, Text};
    /// let a = ReplicaId::from_u128(1);
    /// let mut x = Text::new();
    /// let _ = x.insert_str(a, 0, "hello world");
    /// let _delta = x.splice(a, 6, 5, "there");
    /// assert_eq!(x.to_string(), "hello there");
    /// ```
    ///
    /// # Panics
    /// If `index > len()`.
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn splice(&mut self, replica: ReplicaId, index: usize, len: usize, s: &str) -> Self {
        Self(self.0.splice(replica, index, len, s.chars()))
    }

    /// The code points, in order.
    pub fn chars(&self) -> impl Iterator<Item = char> + '_ {
        self.0.iter().copied()
    }

    /// A [`Cursor`] before code point `index`.
    #[must_use]
    pub fn cursor_at(&self, index: usize) -> Cursor {
        self.0.cursor_at(index)
    }

    /// The code point index `cursor` points at now.
    #[must_use]
    pub fn index_of(&self, cursor: &Cursor) -> usize {
        self.0.index_of(cursor)
    }

    /// The causal context: every dot seen.
    #[must_use]
    pub fn context(&self) -> &CausalContext {
        self.0.context()
    }

    /// The underlying list of code points.
    #[must_use]
    pub fn as_list(&self) -> &List<char> {
        &self.0
    }

    /// Checks the invariants of a state from elsewhere ([`List::validate`]).
    ///
    /// # Errors
    /// The first broken invariant.
    pub fn validate(&self) -> Result<(), InvalidState> {
        self.0.validate()
    }
}

impl From<List<char>> for Text {
    fn from(list: List<char>) -> Self {
        Self(list)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write as _;
        self.chars().try_for_each(|c| f.write_char(c))
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Text").field(&self.0).finish()
    }
}

impl Lattice for Text {
    fn join(&mut self, other: &Self) {
        self.0.join(&other.0);
    }

    fn join_owned(&mut self, other: Self) {
        self.0.join_owned(other.0);
    }

    fn is_bottom(&self) -> bool {
        self.0.is_bottom()
    }
}

impl Decompose for Text {
    fn decompose(&self) -> Vec<Self> {
        self.0.decompose().into_iter().map(Self).collect()
    }

    fn delta_from(&self, known: &Self) -> Self {
        Self(self.0.delta_from(&known.0))
    }

    fn into_delta_from(self, known: &Self) -> Self {
        Self(self.0.into_delta_from(&known.0))
    }
}

impl crate::Crdt for Text {
    fn validate(&self) -> Result<(), InvalidState> {
        self.0.validate()
    }
}

/// A mutation of a [`Text`] as data (indices modulo `len() + 1`).
#[derive(Clone, Debug)]
pub enum TextOp {
    /// [`Text::insert_str`] at `index % (len + 1)`.
    Insert(usize, String),
    /// [`Text::delete`] of `len` code points from `index % (len + 1)`.
    Delete(usize, usize),
    /// [`Text::splice`] at `index % (len + 1)`: that many code points
    /// replaced by this string.
    Splice(usize, usize, String),
}

#[cfg(feature = "quickcheck")]
impl quickcheck::Arbitrary for TextOp {
    fn arbitrary(g: &mut quickcheck::Gen) -> Self {
        let index = usize::arbitrary(g);
        let kind = u8::arbitrary(g) % 6;
        let len = usize::from(u8::arbitrary(g) % 4) + 1;
        if kind < 2 {
            return Self::Delete(index, len);
        }
        let n = u8::arbitrary(g) % 4 + 1;
        let s = (0..n)
            .map(|_| char::from(b'a' + u8::arbitrary(g) % 3))
            .collect();
        if kind == 2 {
            Self::Splice(index, len, s)
        } else {
            Self::Insert(index, s)
        }
    }
}

impl crate::laws::Mutate for Text {
    type Op = TextOp;

    fn apply(&mut self, replica: ReplicaId, op: &TextOp) -> Self {
        let at = |i: &usize| i % (self.len() + 1);
        match op {
            TextOp::Insert(i, s) => {
                let i = at(i);
                self.insert_str(replica, i, s)
            }
            TextOp::Delete(i, n) => {
                let i = at(i);
                self.delete(i, *n)
            }
            TextOp::Splice(i, n, s) => {
                let i = at(i);
                self.splice(replica, i, *n, s)
            }
        }
    }

    fn validate(&self) -> Result<(), InvalidState> {
        Self::validate(self)
    }
}

#[cfg(feature = "quickcheck")]
crate::testing::arbitrary_via_mutate!(impl[] Text);
