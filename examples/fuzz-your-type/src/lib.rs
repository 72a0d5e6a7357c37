//! A user's replicated type, written by hand as an application would
//! today: a blog post whose likes, tags, title and comments are edited on
//! several replicas at once. The fuzz target `post_laws` checks its merge
//! laws with `crdt_types::laws`.
//!
//! What the type needs for that: `Lattice` and `Decompose` (field by field),
//! serde, `validate`, an operation type with `laws::Mutate` (so traces of
//! edits can be replayed), and, behind this crate's feature `arbitrary`,
//! `Arbitrary` for both — derived, so a post is built from its fields'
//! `Arbitrary`, each of which is a valid state reached by that field's own
//! operations (crdt-types' feature `arbitrary`).
//!
//! With the feature `broken`, the join of the title keeps the local side
//! whenever it has one: not commutative, and the target finds it in seconds.

use crdt_types::laws::{MapOp, Mutate, RegisterOp, SetOp};
use crdt_types::{
    Decompose, InvalidState, Lattice, LwwRegister, MvRegister, OrMap, OrSet, PnCounter, ReplicaId,
};
use serde::{Deserialize, Serialize};

/// A comment, keyed by its number; concurrent edits of one comment are kept
/// side by side.
pub type Comments = OrMap<u8, MvRegister<String>>;

/// A blog post, replicated.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Post {
    likes: PnCounter,
    tags: OrSet<String>,
    title: LwwRegister<String>,
    comments: Comments,
}

impl Post {
    /// Each field's own validation (decoding runs it too).
    pub fn validate(&self) -> Result<(), InvalidState> {
        self.likes.validate()?;
        self.tags.validate()?;
        self.title.validate()?;
        self.comments.validate()
    }

    /// The number of likes (likes minus unlikes).
    pub fn likes(&self) -> i64 {
        self.likes.value()
    }

    /// The title, if set.
    pub fn title(&self) -> Option<&String> {
        self.title.value()
    }
}

impl Lattice for Post {
    fn join(&mut self, other: &Self) {
        self.likes.join(&other.likes);
        self.tags.join(&other.tags);
        #[cfg(not(feature = "broken"))]
        self.title.join(&other.title);
        #[cfg(feature = "broken")]
        if self.title.is_bottom() {
            // The planted bug: a title set here is never replaced.
            self.title.join(&other.title);
        }
        self.comments.join(&other.comments);
    }

    fn leq(&self, other: &Self) -> bool {
        self.likes.leq(&other.likes)
            && self.tags.leq(&other.tags)
            && self.title.leq(&other.title)
            && self.comments.leq(&other.comments)
    }
}

impl Decompose for Post {
    /// The parts of every field, each as a post with only that part.
    fn decompose(&self) -> Vec<Self> {
        let likes = self.likes.decompose().into_iter().map(|likes| Post {
            likes,
            ..Post::default()
        });
        let tags = self.tags.decompose().into_iter().map(|tags| Post {
            tags,
            ..Post::default()
        });
        let title = self.title.decompose().into_iter().map(|title| Post {
            title,
            ..Post::default()
        });
        let comments = self.comments.decompose().into_iter().map(|comments| Post {
            comments,
            ..Post::default()
        });
        likes.chain(tags).chain(title).chain(comments).collect()
    }

    fn delta_from(&self, known: &Self) -> Self {
        Post {
            likes: self.likes.delta_from(&known.likes),
            tags: self.tags.delta_from(&known.tags),
            title: self.title.delta_from(&known.title),
            comments: self.comments.delta_from(&known.comments),
        }
    }
}

/// One edit of a post, as data: the input of traces and of the
/// delta-mutator law. Each variant carries the operation of one field.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum PostOp {
    /// Like (positive) or unlike (negative).
    Like(i8),
    /// Add, remove or clear tags.
    Tag(SetOp<String>),
    /// Set the title, with the writer's wall clock at this millisecond.
    Retitle(u8, String),
    /// Write, resolve or delete comments.
    Comment(MapOp<u8, RegisterOp<String>>),
}

impl Mutate for Post {
    type Op = PostOp;

    /// Applies `op` to its field and returns a post holding only the field's
    /// delta.
    fn apply(&mut self, replica: ReplicaId, op: &PostOp) -> Self {
        match op {
            PostOp::Like(n) => Post {
                likes: self.likes.apply(replica, n),
                ..Post::default()
            },
            PostOp::Tag(op) => Post {
                tags: self.tags.apply(replica, op),
                ..Post::default()
            },
            PostOp::Retitle(wall, title) => Post {
                title: self.title.apply(replica, &(*wall, title.clone())),
                ..Post::default()
            },
            PostOp::Comment(op) => Post {
                comments: self.comments.apply(replica, op),
                ..Post::default()
            },
        }
    }

    fn validate(&self) -> Result<(), InvalidState> {
        Post::validate(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crdt_types::laws;

    #[test]
    fn two_replicas_converge_and_keep_the_laws() {
        let (a, b) = (laws::replica(0), laws::replica(1));
        let mut x = Post::default();
        let mut y = Post::default();
        let dx = x.apply(a, &PostOp::Retitle(1, "Hello".into()));
        let dy = y.apply(b, &PostOp::Tag(SetOp::Insert("rust".into())));
        let dy2 = y.apply(b, &PostOp::Like(3));
        x.join(&dy.clone().joined(&dy2));
        y.join(&dx);
        assert_eq!(x, y);
        assert_eq!(
            (x.title().map(String::as_str), x.likes()),
            (Some("Hello"), 3)
        );
        laws::lattice(&x, &dx, &dy).unwrap();
        laws::roundtrip(&x).unwrap();
    }
}
