//! User profile fields on two devices: the bio is a multi-value register,
//! so a concurrent edit shows up as two siblings that the app then resolves.
//!
//! Run it with `cargo run --example user_profile`.

use crdt_types::{Lattice, MvRegister, ReplicaId};

fn run() {
    let (phone_id, laptop_id) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
    let mut phone: MvRegister<String> = MvRegister::new();
    let mut laptop = MvRegister::new();

    let d = phone.write(phone_id, "Hiker".to_string());
    laptop.join(&d);

    // Concurrent edits of the bio.
    let on_phone = phone.write(phone_id, "Hiker and climber".to_string());
    let on_laptop = laptop.write(laptop_id, "Hiker, Berlin".to_string());
    phone.join(&on_laptop);
    laptop.join(&on_phone);
    assert_eq!(phone, laptop);
    let siblings: Vec<&String> = phone.values().collect();
    assert_eq!(siblings, ["Hiker and climber", "Hiker, Berlin"]);

    // The app merges the siblings into one value: a write that supersedes
    // exactly the siblings it saw.
    let merged = phone.resolve(phone_id, |siblings| {
        siblings.values().cloned().collect::<Vec<_>>().join(" / ")
    });
    laptop.join(&merged);
    assert_eq!(phone, laptop);
    assert_eq!(
        laptop.values().collect::<Vec<_>>(),
        ["Hiker and climber / Hiker, Berlin"]
    );
    println!("bio: {:?}", laptop.values().collect::<Vec<_>>());
}

fn main() {
    run();
}

#[test]
fn concurrent_edit_is_seen_then_resolved() {
    run();
}
