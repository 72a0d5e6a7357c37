//! Likes and comments per post: a map of posts to a map of counters.
//!
//! Three replicas (say, three data centres) count likes and comments
//! concurrently, ship each other only the deltas, and end equal. A moderator
//! then removes a post while a comment on it arrives elsewhere: only the
//! comment the moderator had not seen survives.
//!
//! Run it with `cargo run --example post_counters`.

use crdt_types::{CausalCounter, Lattice, OrMap, ReplicaId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Metric {
    Likes,
    Comments,
}

type Posts = OrMap<&'static str, OrMap<Metric, CausalCounter>>;

/// Adds one to `metric` of `post`, at `replica`.
fn bump(posts: &mut Posts, replica: ReplicaId, post: &'static str, metric: Metric) -> Posts {
    posts.update(post, |counters| {
        counters.update(metric, |c| c.increment(replica, 1))
    })
}

fn count(posts: &Posts, post: &'static str, metric: Metric) -> i64 {
    posts
        .get(&post)
        .and_then(|counters| counters.get(&metric))
        .map_or(0, |c| c.value())
}

fn run() {
    let (eu, us, asia) = (
        ReplicaId::from_u128(1),
        ReplicaId::from_u128(2),
        ReplicaId::from_u128(3),
    );
    let mut replicas: [Posts; 3] = Default::default();
    use Metric::{Comments, Likes};

    // Concurrent activity, nothing shipped yet.
    let [eu_posts, us_posts, asia_posts] = &mut replicas;
    let deltas = [
        bump(eu_posts, eu, "hello-world", Likes),
        bump(us_posts, us, "hello-world", Likes),
        bump(us_posts, us, "release-notes", Comments),
        bump(asia_posts, asia, "hello-world", Likes),
        bump(asia_posts, asia, "hello-world", Comments),
    ];
    assert_eq!(count(&replicas[0], "hello-world", Metric::Likes), 1);

    // Everyone receives every delta (their own again too: joins are idempotent).
    for replica in &mut replicas {
        for delta in &deltas {
            replica.join(delta);
        }
    }
    assert!(replicas.iter().all(|r| *r == replicas[0]));
    assert_eq!(count(&replicas[0], "hello-world", Metric::Likes), 3);
    assert_eq!(count(&replicas[0], "hello-world", Metric::Comments), 1);
    assert_eq!(count(&replicas[0], "release-notes", Metric::Comments), 1);

    // The EU moderator removes "release-notes" while Asia comments on it.
    let removal = replicas[0].remove(&"release-notes");
    let comment = bump(&mut replicas[2], asia, "release-notes", Metric::Comments);
    for replica in &mut replicas {
        replica.join(&removal);
        replica.join(&comment);
    }
    assert!(replicas.iter().all(|r| *r == replicas[0]));
    // The comment the moderator had not seen survives; the one it saw is gone.
    assert_eq!(count(&replicas[0], "release-notes", Metric::Comments), 1);
    println!("posts: {:?}", replicas[0]);
}

fn main() {
    run();
}

#[test]
fn replicas_count_and_converge() {
    run();
}
