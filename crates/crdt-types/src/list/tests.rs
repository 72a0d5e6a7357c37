use crdt_core::Lattice;

use super::*;

/// Issue 15: the replica table and the pending runs are held inline
/// up to one, so a local edit's delta allocates only its content (48
/// bytes: 448, not 400); the sequence, empty in a local edit's delta,
/// is one pointer until it holds a piece (152 bytes less: 304); the
/// two causal contexts hold one replica inline, not two (80 bytes
/// less: 224, and 6% fewer instructions in a replay). The index of
/// the pending runs is one optional pointer (issue 11: 232; a replay's
/// instructions did not grow, 260.8M to 258.8M on automerge-paper).
#[test]
fn list_of_chars_is_232_bytes() {
    assert_eq!(std::mem::size_of::<List<char>>(), 232);
}

/// A keystroke's delta holds its item inline: it allocates nothing
/// (issue 15: the one-item vector it allocated and freed was a ninth
/// of a replay's instructions); two items take a vector of two.
#[test]
fn a_keystroke_delta_allocates_nothing() {
    let a = ReplicaId::from_u128(1);
    let mut x: List<char> = List::new();
    let _ = x.insert(a, 0, "hello".chars());
    let d = x.insert(a, 5, ['!']);
    assert!(matches!(&d.pending[..], [p] if matches!(p.content, Content::One('!'))));
    assert_eq!(d.heap_bytes(), 0);
    let d = x.insert(a, 0, ['>', ' ']);
    assert_eq!(d.heap_bytes(), 2 * std::mem::size_of::<char>());
    assert_eq!(x.to_vec().iter().collect::<String>(), "> hello!");
}

/// Typing one item at a time mints its dot with one search
/// ([`CausalContext::mint`]): the contexts and held dots, of the state
/// and of each delta, are those of inserting the same dots as runs.
#[test]
fn typing_one_item_records_the_dots_a_run_does() {
    let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
    let mut x: List<char> = List::new();
    let _ = x.insert(b, 0, "xy".chars());
    for (k, c) in "abc".chars().enumerate() {
        let d = x.insert(a, k, [c]);
        let n = k as u64 + 1;
        assert_eq!(d.ctx, CausalContext::of_range(a, n, n));
        assert_eq!(d.held, d.ctx);
    }
    let _ = x.insert(a, 1, "de".chars());
    let mut want = CausalContext::of_range(a, 1, 5);
    want.insert_range(b, 1, 2);
    assert_eq!((&x.ctx, &x.held), (&want, &want));
    assert_eq!(x.to_vec(), ['a', 'd', 'e', 'b', 'c', 'x', 'y']);
}

/// The general path of [`List::delta_with`]: every run imported and
/// integrated (what a one-run delta built directly must equal).
fn integrated_delta<T: Clone>(list: &List<T>, pieces: Vec<Piece<T>>) -> List<T> {
    let mut out = List::new();
    let pieces: Vec<Piece<T>> = pieces
        .into_iter()
        .map(|p| out.import(&list.agents, None, p))
        .collect();
    for p in &pieces {
        let r = out.agents[p.agent as usize];
        out.ctx.insert_range(r, p.start, p.end() - 1);
        out.held.insert_range(r, p.start, p.end() - 1);
    }
    out.integrate_all(pieces);
    out
}

/// A one-run delta built directly (run renamed in place, inline
/// replica table, contexts of one range) equals the one integration
/// builds: as values, in its held dots, in its encoding, and it is a
/// valid state; for runs naming one, two and three replicas, visible
/// and deleted.
#[test]
fn one_run_delta_built_directly_equals_the_integrated_one() {
    let r = ReplicaId::from_u128;
    let mut x: List<u32> = List::new();
    let mut n = 0u32;
    for step in 0..60usize {
        let replica = r(1 + (step % 3) as u128);
        let at = (step * 7) % (x.len() + 1);
        n += 1;
        let _ = x.insert(replica, at, [n, n + 100]);
        if step % 4 == 3 {
            let _ = x.delete((step * 5) % x.len(), 1);
        }
    }
    let mut named = [0usize; 4];
    for p in x.seq.pieces() {
        let mut runs = Runs::new();
        runs.push(p.clone());
        let direct = x.local_delta(runs);
        let general = integrated_delta(&x, vec![p.clone()]);
        named[p.agents_named()] += 1;
        assert_eq!(direct, general);
        assert_eq!(direct.held, general.held);
        assert_eq!(direct.agents.len(), general.agents.len());
        assert_eq!(direct.validate(), Ok(()));
        let bytes =
            |l: &List<u32>| bincode::serde::encode_to_vec(l, bincode::config::standard()).unwrap();
        assert_eq!(bytes(&direct), bytes(&general));
    }
    assert!(
        named[1] > 0 && named[2] > 0,
        "runs naming 1 and 2 replicas: {named:?}"
    );
    // Several runs (a delete over runs, a splice): built directly when
    // each has an origin, and equal to the integrated delta either way.
    let pieces: Vec<Piece<u32>> = x.seq.pieces().cloned().collect();
    let mut direct_ones = 0;
    for pair in pieces.windows(2) {
        let runs: Runs<u32> = pair.iter().cloned().collect();
        direct_ones += usize::from(runs.iter().all(has_origin));
        let direct = x.local_delta(runs);
        let general = integrated_delta(&x, pair.to_vec());
        assert_eq!(direct, general);
        assert_eq!(direct.held, general.held);
        assert_eq!(direct.validate(), Ok(()));
        let bytes =
            |l: &List<u32>| bincode::serde::encode_to_vec(l, bincode::config::standard()).unwrap();
        assert_eq!(bytes(&direct), bytes(&general));
    }
    assert!(direct_ones > 10, "{direct_ones} pairs built directly");
}

/// A local edit's delta is the one-run delta built directly: equal to
/// the integrated one for an insert and a delete inside a run.
#[test]
fn local_edit_deltas_equal_the_integrated_ones() {
    let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
    let mut x: List<char> = List::new();
    let _ = x.insert(a, 0, "hello world".chars());
    let _ = x.insert(b, 5, ",".chars());
    let before = x.clone();
    let d = x.insert(a, 3, "XY".chars());
    let run = x
        .seq
        .pieces()
        .find(|p| p.content.as_slice() == Some(&['X', 'Y'][..]));
    let general = integrated_delta(&x, vec![run.cloned().unwrap()]);
    assert_eq!(d, general);
    assert_eq!(d.pending.len(), 1);
    assert!(!d.pending.spilled() && !d.agents.spilled());
    let mut y = before;
    y.join(&d);
    assert_eq!(y, x);
    let d = x.delete(1, 1);
    assert_eq!(d.pending.len(), 1);
    assert!(d.to_vec().is_empty());
    assert_eq!(d.validate(), Ok(()));
    y.join(&d);
    assert_eq!(y, x);
}
