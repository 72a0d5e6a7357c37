//! A post replicated in three data centres: likes (a PN-counter), tags (an
//! add-wins set) and comments (a map of multi-value registers), declared as
//! one struct with `#[derive(Crdt)]`.
//!
//! The derive writes the join, the decomposition and validation, and one
//! mutator per field that returns a delta of the whole post with only that
//! field set: `post.update_likes(|c| c.increment(me, 1))`. The replicas
//! count likes and comment concurrently, ship each other only the deltas,
//! and end equal. A moderator then deletes a comment while its author edits
//! it elsewhere: the edit the moderator had not seen survives.
//!
//! Run it with `cargo run --example post_counters`.

use crdt_types::{Crdt, Lattice, MvRegister, OrMap, OrSet, PnCounter, ReplicaId};

#[derive(Clone, Debug, Default, PartialEq, Crdt)]
struct Post {
    likes: PnCounter,
    tags: OrSet<&'static str>,
    comments: OrMap<u32, MvRegister<String>>,
}

impl Post {
    fn comment(&mut self, me: ReplicaId, id: u32, text: &str) -> Post {
        self.update_comments(|c| c.update(id, |r| r.write(me, text.to_string())))
    }

    fn comment_text(&self, id: u32) -> Vec<&String> {
        self.comments
            .get(&id)
            .map(|r| r.values().collect())
            .unwrap_or_default()
    }
}

fn run() {
    let (eu, us, asia) = (
        ReplicaId::from_u128(1),
        ReplicaId::from_u128(2),
        ReplicaId::from_u128(3),
    );
    let mut replicas: [Post; 3] = Default::default();

    // Concurrent activity, nothing shipped yet.
    let [eu_post, us_post, asia_post] = &mut replicas;
    let deltas = [
        eu_post.update_likes(|c| c.increment(eu, 1)),
        us_post.update_likes(|c| c.increment(us, 1)),
        us_post.update_tags(|t| t.insert(us, "release")),
        asia_post.update_likes(|c| c.increment(asia, 1)),
        asia_post.update_likes(|c| c.decrement(asia, 1)), // an unlike
        asia_post.comment(asia, 1, "Congrats!"),
    ];
    assert_eq!(replicas[0].likes.value(), 1);

    // Everyone receives every delta (their own again too: joins are idempotent).
    for replica in &mut replicas {
        for delta in &deltas {
            replica.join(delta);
        }
    }
    assert!(replicas.iter().all(|r| *r == replicas[0]));
    assert_eq!(replicas[0].likes.value(), 2);
    assert!(replicas[0].tags.contains(&"release"));
    assert_eq!(replicas[0].comment_text(1), ["Congrats!"]);

    // The EU moderator deletes comment 1 while Asia edits it.
    let removal = replicas[0].update_comments(|c| c.remove(&1));
    let edit = replicas[2].comment(asia, 1, "Congrats to the team!");
    for replica in &mut replicas {
        replica.join(&removal);
        replica.join(&edit);
    }
    assert!(replicas.iter().all(|r| *r == replicas[0]));
    // The edit the moderator had not seen survives; the text it saw is gone.
    assert_eq!(replicas[0].comment_text(1), ["Congrats to the team!"]);
    // Every state a replica reaches is valid (what a peer's decoder checks).
    assert!(replicas[0].validate().is_ok());
    println!("post: {:?}", replicas[0]);
}

fn main() {
    run();
}

#[test]
fn replicas_count_and_converge() {
    run();
}
