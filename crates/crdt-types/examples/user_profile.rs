//! User profile fields on two devices: the display name is a
//! last-writer-wins register (one value, picked the same way everywhere),
//! the bio a multi-value register, so a concurrent edit shows up as two
//! siblings that the app then resolves. The profile is one struct with
//! `#[derive(Crdt)]`; each `update_<field>` returns a profile delta.
//!
//! Run it with `cargo run --example user_profile`.

use crdt_types::{Crdt, HybridClock, Lattice, LwwRegister, MvRegister, ReplicaId};

#[derive(Clone, Default, PartialEq, Debug, Crdt)]
struct Profile {
    name: LwwRegister<String>,
    bio: MvRegister<String>,
}

fn run() {
    let (phone_id, laptop_id) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
    // Wall clocks fixed for the example; `HybridClock::new` reads the system clock.
    let mut phone_clock = HybridClock::with_time_source(phone_id, || 1_700_000_000_000);
    let mut laptop_clock = HybridClock::with_time_source(laptop_id, || 1_700_000_000_000);
    let mut phone = Profile::default();
    let mut laptop = Profile::default();

    let first = phone
        .update_name(|n| n.write(&mut phone_clock, "ada".to_string()))
        .joined(&phone.update_bio(|b| b.write(phone_id, "Hiker".to_string())));
    laptop.join(&first);
    // A replica tells its clock the timestamps it receives, so that its
    // next stamp is later than everything it has seen.
    if let Some(seen) = laptop.name.timestamp() {
        laptop_clock
            .observe(seen)
            .expect("the peer's clock is not far ahead");
    }
    assert_eq!(phone, laptop);

    // Offline on both devices: both edit both fields.
    let on_phone = [
        phone.update_name(|n| n.write(&mut phone_clock, "Ada".to_string())),
        phone.update_bio(|b| b.write(phone_id, "Hiker and climber".to_string())),
    ];
    let on_laptop = [
        laptop.update_name(|n| n.write(&mut laptop_clock, "Ada L.".to_string())),
        laptop.update_bio(|b| b.write(laptop_id, "Hiker, Berlin".to_string())),
    ];
    on_laptop.iter().for_each(|d| phone.join(d));
    on_phone.iter().for_each(|d| laptop.join(d));
    assert_eq!(phone, laptop);
    // The name: one winner, the same on both (both stamped the same hybrid
    // time, so the greater replica id wins the tie).
    assert_eq!(phone.name.value().map(String::as_str), Some("Ada L."));
    // The bio: both concurrent edits, as siblings.
    let siblings: Vec<&String> = phone.bio.values().collect();
    assert_eq!(siblings, ["Hiker and climber", "Hiker, Berlin"]);

    // The app merges the siblings into one value: a write that supersedes
    // exactly the siblings it saw.
    let merged = phone.update_bio(|b| {
        b.resolve(phone_id, |siblings| {
            siblings.values().cloned().collect::<Vec<_>>().join(" / ")
        })
    });
    laptop.join(&merged);
    assert_eq!(phone, laptop);
    assert_eq!(
        laptop.bio.values().collect::<Vec<_>>(),
        ["Hiker and climber / Hiker, Berlin"]
    );
    println!("profile: {phone:?}");
}

fn main() {
    run();
}

#[test]
fn concurrent_edit_is_seen_then_resolved() {
    run();
}
