//! A derived type for the property tests: a post with a likes counter,
//! tags, a title register, a map of comments and a nested derived struct,
//! each edited through its generated `update_*` mutator.

use crdt_types::laws::{MapOp, Mutate, RegisterOp, SetOp};
use crdt_types::testing::Tiny;
use crdt_types::{
    Crdt, EwFlag, GCounter, InvalidState, LwwRegister, MvRegister, OrMap, OrSet, PnCounter,
    ReplicaId,
};
use quickcheck::{Arbitrary, Gen};
use serde::{Deserialize, Serialize};

/// A nested derived struct: views and per-key flags.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Crdt)]
pub(crate) struct Stats {
    views: GCounter,
    flags: OrMap<Tiny, EwFlag>,
}

/// The post.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Crdt)]
pub(crate) struct Post {
    likes: PnCounter,
    tags: OrSet<Tiny>,
    title: LwwRegister<Tiny>,
    comments: OrMap<Tiny, MvRegister<Tiny>>,
    stats: Stats,
}

/// One edit of a [`Stats`].
#[derive(Clone, Debug)]
pub(crate) enum StatsOp {
    View(u8),
    Flag(MapOp<Tiny, bool>),
}

/// One edit of a [`Post`].
#[derive(Clone, Debug)]
pub(crate) enum PostOp {
    Like(i8),
    Tag(SetOp<Tiny>),
    Retitle(u8, Tiny),
    Comment(MapOp<Tiny, RegisterOp<Tiny>>),
    Stats(StatsOp),
}

impl Mutate for Stats {
    type Op = StatsOp;

    fn apply(&mut self, replica: ReplicaId, op: &StatsOp) -> Self {
        match op {
            StatsOp::View(n) => self.update_views(|v| v.apply(replica, n)),
            StatsOp::Flag(op) => self.update_flags(|f| f.apply(replica, op)),
        }
    }

    fn validate(&self) -> Result<(), InvalidState> {
        Crdt::validate(self)
    }
}

impl Mutate for Post {
    type Op = PostOp;

    fn apply(&mut self, replica: ReplicaId, op: &PostOp) -> Self {
        match op {
            PostOp::Like(n) => self.update_likes(|c| c.apply(replica, n)),
            PostOp::Tag(op) => self.update_tags(|t| t.apply(replica, op)),
            PostOp::Retitle(wall, t) => self.update_title(|r| r.apply(replica, &(*wall, *t))),
            PostOp::Comment(op) => self.update_comments(|c| c.apply(replica, op)),
            PostOp::Stats(op) => self.update_stats(|s| s.apply(replica, op)),
        }
    }

    fn validate(&self) -> Result<(), InvalidState> {
        Crdt::validate(self)
    }
}

impl Arbitrary for StatsOp {
    fn arbitrary(g: &mut Gen) -> Self {
        if bool::arbitrary(g) {
            Self::View(u8::arbitrary(g))
        } else {
            Self::Flag(MapOp::arbitrary(g))
        }
    }
}

impl Arbitrary for PostOp {
    fn arbitrary(g: &mut Gen) -> Self {
        match u8::arbitrary(g) % 5 {
            0 => Self::Like(i8::arbitrary(g)),
            1 => Self::Tag(SetOp::arbitrary(g)),
            2 => Self::Retitle(u8::arbitrary(g), Tiny::arbitrary(g)),
            3 => Self::Comment(MapOp::arbitrary(g)),
            _ => Self::Stats(StatsOp::arbitrary(g)),
        }
    }
}

impl Arbitrary for Post {
    fn arbitrary(g: &mut Gen) -> Self {
        crdt_types::testing::arbitrary_state(g)
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        crdt_types::testing::shrink_state(self)
    }
}
