//! What each type means when replicas act concurrently, one test per rule.

use crdt_core::HybridClock;
use crdt_types::{
    CausalCounter, DwFlag, EwFlag, Lattice, LwwRegister, MvRegister, OrMap, OrSet, ReplicaId,
};

fn ids() -> (ReplicaId, ReplicaId, ReplicaId) {
    (
        ReplicaId::from_u128(1),
        ReplicaId::from_u128(2),
        ReplicaId::from_u128(3),
    )
}

/// Joins `delta` into every state.
fn ship<T: Lattice>(delta: &T, to: &mut [&mut T]) {
    for state in to {
        state.join(delta);
    }
}

#[test]
fn concurrent_add_and_remove_keeps_element() {
    let (a, b, _) = ids();
    let mut x = OrSet::new();
    let add = x.insert(a, 1);
    let mut y = x.clone();
    let remove = x.remove(&1);
    let re_add = y.insert(b, 1);
    ship(&re_add, &mut [&mut x]);
    ship(&remove, &mut [&mut y]);
    assert_eq!(x, y);
    assert!(x.contains(&1));
    assert!(add.leq(&x) || !add.leq(&x)); // the first add is superseded, not required
}

#[test]
fn remove_after_observed_add_removes_it() {
    let (a, b, _) = ids();
    let mut x = OrSet::new();
    let mut y = OrSet::new();
    let add_a = x.insert(a, "k");
    let add_b = y.insert(b, "k");
    ship(&add_b, &mut [&mut x]);
    ship(&add_a, &mut [&mut y]);
    let remove = x.remove(&"k"); // x has seen both adds
    ship(&remove, &mut [&mut y]);
    assert_eq!(x, y);
    assert!(!y.contains(&"k") && y.is_empty());
}

#[test]
fn remove_delta_arriving_before_the_add_still_removes_it() {
    let (a, _, _) = ids();
    let mut x = OrSet::new();
    let add = x.insert(a, 5);
    let remove = x.remove(&5);
    let mut y = OrSet::new();
    ship(&remove, &mut [&mut y]);
    ship(&add, &mut [&mut y]);
    assert!(!y.contains(&5));
    assert_eq!(x, y);
}

#[test]
fn concurrent_lww_writes_pick_same_winner_everywhere() {
    let (a, b, c) = ids();
    let mut clocks: Vec<HybridClock> = [a, b, c]
        .into_iter()
        .map(|r| HybridClock::with_time_source(r, || 42))
        .collect();
    let mut states = vec![LwwRegister::new(); 3];
    let deltas: Vec<_> = (0..3)
        .map(|i| states[i].write(&mut clocks[i], i as u32 * 10))
        .collect();
    // Every replica receives the others' writes in a different order.
    for (i, state) in states.iter_mut().enumerate() {
        for j in (0..3).map(|k| (i + k) % 3) {
            state.join(&deltas[j]);
        }
    }
    assert!(states.iter().all(|s| *s == states[0]));
    assert_eq!(states[0].value(), Some(&20)); // same wall time: replica 3 wins
}

#[test]
fn lww_write_after_observing_a_value_wins_over_it_despite_a_slow_clock() {
    let (a, b, _) = ids();
    let mut fast = HybridClock::with_time_source(a, || 50_000);
    let mut slow = HybridClock::with_time_source(b, || 10);
    let mut x = LwwRegister::new();
    let first = x.write(&mut fast, "from the future");
    let mut y = LwwRegister::new();
    y.join(&first);
    let second = y.write(&mut slow, "seen and replaced");
    x.join(&second);
    assert_eq!(x, y);
    assert_eq!(x.value(), Some(&"seen and replaced"));
}

#[test]
fn mv_register_keeps_exactly_concurrent_siblings() {
    let (a, b, c) = ids();
    let mut x = MvRegister::new();
    let mut y = MvRegister::new();
    let mut z = MvRegister::new();
    let first = x.write(a, 1);
    ship(&first, &mut [&mut y]);
    // y overwrites 1 having seen it; z writes without having seen it.
    let over = y.write(b, 2);
    let concurrent = z.write(c, 3);
    for d in [&first, &over, &concurrent] {
        ship(d, &mut [&mut x, &mut y, &mut z]);
    }
    assert!(x == y && y == z);
    let mut values: Vec<u32> = x.values().copied().collect();
    values.sort_unstable();
    assert_eq!(values, [2, 3]); // 1 was seen and overwritten; 2 and 3 are concurrent
}

#[test]
fn mv_resolve_supersedes_only_the_siblings_it_saw() {
    let (a, b, c) = ids();
    let mut x = MvRegister::new();
    let mut y = MvRegister::new();
    let dx = x.write(a, 1);
    let dy = y.write(b, 2);
    ship(&dy, &mut [&mut x]);
    let resolved = x.resolve(a, |s| s.values().sum()); // saw 1 and 2
    let mut z = MvRegister::new();
    let late = z.write(c, 7); // concurrent with the resolve
    for d in [&dx, &dy, &resolved, &late] {
        ship(d, &mut [&mut y, &mut z]);
    }
    assert_eq!(y, z);
    let mut values: Vec<u32> = y.values().copied().collect();
    values.sort_unstable();
    assert_eq!(values, [3, 7]);
}

#[test]
fn enable_wins_over_concurrent_disable() {
    let (a, b, _) = ids();
    let mut x = EwFlag::new();
    let on = x.enable(a);
    let mut y = EwFlag::new();
    ship(&on, &mut [&mut y]);
    let off = x.disable();
    let on_again = y.enable(b);
    ship(&on_again, &mut [&mut x]);
    ship(&off, &mut [&mut y]);
    assert_eq!(x, y);
    assert!(x.is_enabled());
}

#[test]
fn disable_wins_over_concurrent_enable() {
    let (a, b, _) = ids();
    let mut x = DwFlag::new();
    assert!(x.is_enabled());
    let off = x.disable(a);
    let mut y = DwFlag::new();
    ship(&off, &mut [&mut y]);
    let on = x.enable();
    let off_again = y.disable(b);
    ship(&off_again, &mut [&mut x]);
    ship(&on, &mut [&mut y]);
    assert_eq!(x, y);
    assert!(!x.is_enabled());
}

#[test]
fn map_remove_keeps_unseen_nested_updates() {
    let (a, b, _) = ids();
    let mut x: OrMap<&str, OrSet<u32>> = OrMap::new();
    let seen = x.update("k", |s| s.insert(a, 1));
    let mut y = x.clone();
    // y removes "k" having seen {1}; x concurrently adds 2 under "k".
    let remove = y.remove(&"k");
    let unseen = x.update("k", |s| s.insert(a, 2));
    ship(&remove, &mut [&mut x]);
    ship(&unseen, &mut [&mut y]);
    assert_eq!(x, y);
    let k: Vec<u32> = x.get(&"k").unwrap().iter().copied().collect();
    assert_eq!(k, [2]);
    // A remove that has seen everything removes the key.
    let gone = x.remove(&"k");
    ship(&gone, &mut [&mut y]);
    assert!(y.is_empty() && !seen.is_bottom());
    let _ = b;
}

#[test]
fn map_remove_keeps_concurrent_register_write() {
    let (a, b, _) = ids();
    let mut x: OrMap<u8, MvRegister<&str>> = OrMap::new();
    let first = x.update(1, |r| r.write(a, "old"));
    let mut y = OrMap::new();
    ship(&first, &mut [&mut y]);
    let remove = x.remove(&1);
    let write = y.update(1, |r| r.write(b, "new"));
    ship(&write, &mut [&mut x]);
    ship(&remove, &mut [&mut y]);
    assert_eq!(x, y);
    assert_eq!(x.get(&1).unwrap().values().collect::<Vec<_>>(), [&"new"]);
}

#[test]
fn nested_maps_share_one_context_so_dots_are_fresh_across_keys() {
    let (a, _, _) = ids();
    let mut m: OrMap<u8, OrMap<u8, EwFlag>> = OrMap::new();
    let d1 = m.update(1, |inner| inner.update(1, |f| f.enable(a)));
    let d2 = m.update(2, |inner| inner.update(9, |f| f.enable(a)));
    // Each mutation minted a different dot (1 then 2) from the shared context.
    assert!(d1.clone().joined(&d2).validate().is_ok());
    assert_ne!(d1, d2);
    let mut other = OrMap::new();
    ship(&d2, &mut [&mut other]);
    ship(&d1, &mut [&mut other]);
    assert_eq!(other, m);
    assert!(
        m.get(&2)
            .and_then(|i| i.get(&9))
            .is_some_and(|f| f.is_enabled())
    );
}

#[test]
fn counter_reset_in_a_map_removes_the_totals_it_saw() {
    let (a, b, _) = ids();
    let mut x: OrMap<&str, CausalCounter> = OrMap::new();
    let mut y = x.clone();
    let dx = x.update("likes", |c| c.increment(a, 3));
    let dy = y.update("likes", |c| c.increment(b, 2));
    ship(&dy, &mut [&mut x]);
    let reset = x.remove(&"likes"); // saw both totals
    ship(&dx, &mut [&mut y]);
    let later = y.update("likes", |c| c.increment(b, 1)); // concurrent with the reset
    ship(&reset, &mut [&mut y]);
    ship(&later, &mut [&mut x]);
    assert_eq!(x, y);
    // b's increment survives the reset carrying b's running total (2 + 1):
    // the causal counter's documented trade-off.
    assert_eq!(x.get(&"likes").map(|c| c.value()), Some(3));
}

#[test]
fn update_closure_panic_leaves_the_map_intact() {
    let (a, _, _) = ids();
    let mut m: OrMap<u8, OrSet<u8>> = OrMap::new();
    let _ = m.update(1, |s| s.insert(a, 10));
    let before = m.clone();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = m.update(1, |_| panic!("application bug"));
    }));
    assert!(result.is_err());
    assert_eq!(m, before);
    assert!(m.validate().is_ok());
}

#[test]
fn deltas_join_into_one_group_before_shipping() {
    let (a, _, _) = ids();
    let mut x = OrSet::new();
    let group = x.insert(a, 1).joined(&x.insert(a, 2)).joined(&x.remove(&1));
    let mut y = OrSet::new();
    y.join(&group);
    assert_eq!(x, y);
    assert_eq!(y.iter().copied().collect::<Vec<_>>(), [2]);
}

#[test]
fn or_set_insert_delta_is_one_dot_even_in_a_large_set() {
    let (a, _, _) = ids();
    let mut s: OrSet<u32> = OrSet::new();
    let _ = s.insert_all(a, 0..10_000);
    let d = s.insert(a, 5);
    assert_eq!(d.len(), 1);
    // The new dot plus the one it supersedes.
    assert_eq!(crdt_types::CausalCrdt::as_causal(&d).context().len(), 2);
    let r = s.remove(&7);
    assert!(r.is_empty());
    assert_eq!(crdt_types::CausalCrdt::as_causal(&r).context().len(), 1);
}

#[test]
fn put_with_a_read_context_replaces_exactly_the_siblings_read() {
    use crdt_types::MvRegister;
    let (a, b, c) = (
        ReplicaId::from_u128(1),
        ReplicaId::from_u128(2),
        ReplicaId::from_u128(3),
    );
    let mut x: MvRegister<u32> = MvRegister::new();
    let mut y = x.clone();
    let d1 = x.write(a, 1);
    let d2 = y.write(b, 2);
    x.join(&d2);
    y.join(&d1);
    let read = x.context(); // a client reads both siblings at x
    let d3 = y.write(c, 3); // a concurrent write the client has not seen
    x.join(&d3);
    let put = x.write_seen(a, 4, &read);
    y.join(&put);
    let mut values: Vec<u32> = y.values().copied().collect();
    values.sort_unstable();
    assert_eq!(values, [3, 4], "the read siblings go, the unseen one stays");
    assert_eq!(x, y);
    let before = y.clone();
    assert_eq!(before.joined(&put), y, "the put's delta is idempotent");
}
