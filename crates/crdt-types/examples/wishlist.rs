//! A shared wishlist: an add-wins `OrSet` edited on two devices.
//!
//! The phone removes "headphones" while the laptop, concurrently, adds it
//! again: the add wins, so nothing a user added is silently lost. A remove
//! made after seeing the add does remove it.
//!
//! Run it with `cargo run --example wishlist`.

use crdt_types::{Lattice, OrSet, ReplicaId};

fn run() {
    let (phone_id, laptop_id) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
    let mut phone = OrSet::new();
    let mut laptop = OrSet::new();

    let d = phone.insert_all(phone_id, ["headphones", "novel", "tent"]);
    laptop.join(&d);
    assert_eq!(phone, laptop);

    // Offline on both devices: a remove and a concurrent re-add.
    let removed = phone.remove(&"headphones");
    let re_added = laptop.insert(laptop_id, "headphones");
    let bought = laptop.remove(&"novel");
    assert!(!phone.contains(&"headphones"));

    // Back online: ship the deltas both ways.
    phone.join(&re_added);
    phone.join(&bought);
    laptop.join(&removed);
    assert_eq!(phone, laptop);
    assert!(phone.contains(&"headphones")); // the concurrent add wins
    assert!(!phone.contains(&"novel")); // an observed remove removes

    // A remove after observing the add removes it everywhere.
    let removed_again = laptop.remove(&"headphones");
    phone.join(&removed_again);
    assert_eq!(phone, laptop);
    assert_eq!(phone.iter().copied().collect::<Vec<_>>(), ["tent"]);
    println!("wishlist: {:?}", phone.iter().collect::<Vec<_>>());
}

fn main() {
    run();
}

#[test]
fn concurrent_add_survives_remove() {
    run();
}
