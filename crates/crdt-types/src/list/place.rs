//! Placing the runs a join or a decode receives: each once both its
//! origins are placed, a sibling's scan started at the nearest sibling
//! placed before it.

use std::collections::BTreeMap;

use super::List;
use super::piece::{Id, Piece};

#[cfg(test)]
thread_local! {
    /// Tests: how many times a run was offered to the sequence.
    static ATTEMPTS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl<T: Clone> List<T> {
    /// Integrates `incoming` and the pending runs, each as soon as both its
    /// origins are integrated; what cannot be stays pending.
    ///
    /// A pending run waits for an origin the sequence lacks, so it can only
    /// become ready once a run holding that origin is integrated: placing a
    /// run takes out the pending runs that name one of its elements (by the
    /// index of their origins, see [`Pending`](super::pending::Pending)),
    /// and no other. Joining deltas into one (an engine's interval, a delta
    /// of many edits, whose runs all stay pending) so costs what the joined
    /// delta brings, not what is already pending (issue 14: 5,000 scattered
    /// one-character deletions joined one by one took 2.4 s), and so does
    /// joining deltas one by one into a state that holds many pending runs
    /// (issue 11: 20k keystrokes and deletions joined in a shuffled order
    /// retried every pending run at each placement, 1.8-3.6 s).
    ///
    /// A run that cannot be placed waits for the origin it lacks, and is
    /// tried again right after the run holding that origin is placed, not
    /// on a new pass over all the runs left: runs that each wait for the
    /// next one (25k replicas typing at the front in turn, sent in document
    /// order) took one pass per run, 7.3 s for a 1 MiB message.
    pub(super) fn integrate_all(&mut self, incoming: Vec<Piece<T>>) {
        // Counters grow along causality for each replica: a good first order.
        let mut queue = Queue::new(incoming);
        // Runs placed so far with siblings, by origins and then id: a run
        // follows every run with its origins and a smaller id (Fugue orders
        // such siblings by id), so its scan starts at the nearest one
        // (thousands of runs typed at one place cost a scan each past the
        // others).
        let mut siblings = Siblings::default();
        // Runs waiting, by the (agent, counter) of the origin they lack;
        // and runs whose origin was just placed, to try next.
        let mut waiting: BTreeMap<(u32, u64), Vec<Piece<T>>> = BTreeMap::new();
        let mut ready: Vec<Piece<T>> = Vec::new();
        loop {
            let next = if ready.is_empty() {
                queue.next()
            } else {
                ready.pop()
            };
            let Some(piece) = next else {
                break;
            };
            // Keys are made only for runs with siblings (few, and most
            // runs of a long text have origins of their own).
            let (left, right) = (piece.left(), piece.right());
            let (agent, start, end) = (piece.agent, piece.start, piece.end());
            let agents = &self.agents;
            // No key (so no sibling recorded or looked up) for an agent
            // this state does not name: none is placed.
            let key = move |agent: u32, ctr: u64| -> Option<Key> {
                let replica = agents.get(agent as usize)?.as_u128();
                Some((
                    (pack(left), pack(right)),
                    (hi(replica), replica as u64, ctr),
                ))
            };
            let after = || siblings.before(|| key(agent, start));
            #[cfg(test)]
            ATTEMPTS.with(|n| n.set(n.get() + 1));
            match self.seq.integrate(piece, agents, after) {
                Ok(passed) => {
                    // Only runs with siblings are kept: the one passed, and
                    // this one.
                    if let (Some(passed), Some(first)) = (passed, Id::new(agent, start))
                        && let (Some(theirs), Some(mine)) =
                            (key(passed.agent, passed.ctr.get()), key(agent, start))
                    {
                        siblings.insert(theirs, passed);
                        siblings.insert(mine, first);
                    }
                    while !waiting.is_empty()
                        && let Some((&at, _)) = waiting.range((agent, start)..(agent, end)).next()
                    {
                        ready.extend(waiting.remove(&at).into_iter().flatten());
                    }
                    (self.pending).take_waiting_on(agent, start, end, &mut ready);
                }
                Err((piece, lacks)) => {
                    let at = (lacks.agent, lacks.ctr.get());
                    waiting.entry(at).or_default().push(piece);
                }
            }
        }
        if !waiting.is_empty() {
            self.pending.extend(waiting.into_values().flatten());
        }
    }
}

/// Runs to place, taken from the end of a vector in order of first
/// counter, the vector shrunk as it empties.
///
/// Design note (issue 11): the runs a join or a decode places were moved
/// out of a vector that kept its whole allocation to the end, 1.6-2.1 MB
/// for a message of 25k runs, while the sequence and the index grew by as
/// much again: a quarter of the peak of that message received into a
/// 100k-character text.
struct Queue<T>(Vec<Piece<T>>);

impl<T> Queue<T> {
    /// `pieces` queued in the order [`last_first`] puts last first.
    fn new(pieces: Vec<Piece<T>>) -> Self {
        Self(last_first(pieces))
    }

    /// The next run, if any.
    fn next(&mut self) -> Option<Piece<T>> {
        let next = self.0.pop();
        // What is unused given back once it is half the allocation (in
        // place: a shrinking reallocation moves nothing).
        if self.0.len() < self.0.capacity() / 2 {
            self.0.shrink_to_fit();
        }
        next
    }
}

/// `pieces` in reverse order of first counter (to be taken from the end),
/// ties in the order given: the keys are sorted and reversed, and the
/// pieces swapped into place once each, not moved at every step of the
/// sort (a sixth of the decode of a long text went to sorting 64-byte
/// pieces), nor reversed after.
fn last_first<T>(mut pieces: Vec<Piece<T>>) -> Vec<Piece<T>> {
    if pieces.is_sorted_by(|a, b| a.start < b.start) {
        pieces.reverse();
        return pieces;
    }
    // Among runs of one first counter, a run that hangs from the start and
    // has a right origin comes after the others, and those in reverse
    // (`!i` sorts after every index, in reverse): its right origin lies
    // after it in the document, so in reverse document order (as decoding
    // receives runs) it is placed once its right origin is. 25k replicas
    // each typing before the last one's character waited each for the
    // next, and were tried twice.
    let late = |p: &Piece<T>| p.left().is_none() && p.right().is_some();
    let mut keys: Vec<(u64, usize)> = (pieces.iter().zip(0..))
        .map(|(p, i)| (p.start, if late(p) { !i } else { i }))
        .collect();
    keys.sort_unstable();
    keys.reverse();
    for k in &mut keys {
        if k.1 >= pieces.len() {
            k.1 = !k.1;
        }
    }
    // Position `j` takes the piece at `keys[j].1`: the permutation is
    // applied in place, a cycle at a time, each position marked done by
    // pointing at itself (no second vector of pieces: issue 11, a decoded
    // message's pieces are most of its peak).
    for i in 0..keys.len() {
        let mut j = i;
        loop {
            let k = keys[j].1;
            keys[j].1 = j;
            if k == i {
                break;
            }
            pieces.swap(j, k);
            j = k;
        }
    }
    pieces
}

/// Origins and id of a run, as integers: the origins (see [`pack`]), then
/// the replica id (its high and low halves) and the counter. Fugue orders
/// siblings by id, and so does this key.
///
/// Design note (issue 11): 56 bytes, 72 with the id each is recorded with;
/// with origins and the replica id as `u128`s (aligned to 16 bytes) it was
/// 96, and 25k runs typed at one place, received into a long text, held
/// 4.7 MB of them (the old and new buffers of the last growth).
pub(super) type Key = (((u32, u64), (u32, u64)), (u64, u64, u64));

/// The smallest key part after the origins: below every run's (a counter
/// is never 0).
const LEAST: (u64, u64, u64) = (0, 0, 0);

/// An origin as integers, in the order of `Option<Id>` (none first, then
/// by agent and counter; a counter is never 0).
///
/// Keys of nested options of ids and replica ids cost several times as
/// much to compare, and a search of the map compares dozens of them.
pub(super) fn pack(id: Option<Id>) -> (u32, u64) {
    id.map_or((0, 0), |id| (id.agent, id.ctr.get()))
}

/// The high half of a replica id.
fn hi(replica: u128) -> u64 {
    (replica >> 64) as u64
}

/// The first element of each run placed with siblings, by [`Key`].
///
/// Keys that arrive in increasing order (runs typed at one place, decoded
/// in document order: 25k of them in a 1 MiB message) are appended to a
/// sorted vector, a push each and a binary search to find; the others go
/// to a B-tree. A B-tree alone searched a node's keys one by one at every
/// level, for each insert and each lookup: half the decode of such a
/// message. Every operation stays logarithmic whatever the order.
#[derive(Default)]
pub(super) struct Siblings {
    /// Keys greater than every key before them, in order.
    tail: Vec<(Key, Id)>,
    /// The other keys.
    rest: BTreeMap<Key, Id>,
}

impl Siblings {
    /// Records `id` as the first element of the run with `key`.
    pub(super) fn insert(&mut self, key: Key, id: Id) {
        // Runs placed one after the other among their siblings (25k runs
        // typed at one place, in order) each pass the one placed just
        // before, whose key is the last one already: no search.
        if let Some((last, at)) = self.tail.last_mut()
            && *last == key
        {
            *at = id;
            return;
        }
        let above = |k: Option<&Key>| k.is_none_or(|k| *k < key);
        if above(self.tail.last().map(|(k, _)| k)) && above(self.rest.last_key_value().map(|e| e.0))
        {
            self.tail.push((key, id));
            return;
        }
        match self.tail.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(i) => self.tail[i].1 = id,
            Err(_) => {
                self.rest.insert(key, id);
            }
        }
    }

    /// The first element of the run with the greatest key below `key`
    /// among those with its origins (the key is made only if some run is
    /// recorded: most joins place none among siblings).
    pub(super) fn before(&self, key: impl FnOnce() -> Option<Key>) -> Option<Id> {
        if self.tail.is_empty() && self.rest.is_empty() {
            return None;
        }
        let key = key()?;
        let origins = key.0;
        // Keys arriving in order are each above the whole tail.
        let i = match self.tail.last() {
            Some((k, _)) if *k < key => self.tail.len(),
            _ => self.tail.partition_point(|(k, _)| *k < key),
        };
        let in_tail = i
            .checked_sub(1)
            .map(|i| self.tail[i])
            .filter(|(k, _)| k.0 == origins);
        let in_rest = if self.rest.is_empty() {
            None
        } else {
            self.rest
                .range((origins, LEAST)..key)
                .next_back()
                .map(|(k, id)| (*k, *id))
        };
        match (in_tail, in_rest) {
            (Some(a), Some(b)) => Some(if a.0 > b.0 { a.1 } else { b.1 }),
            (a, b) => a.or(b).map(|(_, id)| id),
        }
    }
}

#[cfg(test)]
mod tests {
    use crdt_core::{Lattice, ReplicaId};

    use super::*;

    /// `n` replicas each typing one element at the front after seeing the
    /// others: in document order (newest first) each run waits for the
    /// next one, its right origin.
    fn typed_at_the_front(n: u64) -> List<u64> {
        let mut doc = List::new();
        for i in 0..n {
            let _ = doc.insert(ReplicaId::from_u128(1000 + 2 * u128::from(i)), 0, [i]);
        }
        doc
    }

    /// Runs offered to the sequence while `f` runs.
    fn attempts(f: impl FnOnce()) -> usize {
        ATTEMPTS.with(|n| n.set(0));
        f();
        ATTEMPTS.with(std::cell::Cell::get)
    }

    /// Decoding a state whose runs each wait for the next one (in document
    /// order) offers each run once: runs that hang from the start with a
    /// right origin are taken in reverse, so each comes after its right
    /// origin. Never once per pass over the runs left (n passes: a 1 MiB
    /// message of 25k such runs took 7.3 s to decode), nor twice (each
    /// waiting for the next: a third of that decode). The result is the
    /// state.
    #[test]
    fn runs_each_waiting_for_the_next_are_tried_once_not_once_per_pass() {
        let n = 400;
        let doc = typed_at_the_front(n);
        assert_eq!(doc.to_vec(), (0..n).rev().collect::<Vec<_>>());
        let config = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(&doc, config).expect("encodes");
        let mut back = None;
        let tried = attempts(|| {
            let (decoded, _): (List<u64>, usize) =
                bincode::serde::decode_from_slice(&bytes, config).expect("decodes");
            back = Some(decoded);
        });
        assert!(back.as_ref() == Some(&doc));
        assert_eq!(tried, n as usize, "attempts for {n} runs");
        // Joined into a state holding other runs, through the join.
        // Joined into a state of other replicas (more than the replica
        // index's threshold, some with ids among the doc's), through the
        // join, which interns the doc's replicas at once.
        let mut base: List<u64> = List::new();
        for r in 0..12u64 {
            let _ = base.insert(ReplicaId::from_u128(1001 + u128::from(r) * 60), 0, [r]);
        }
        let mut joined = base.clone();
        let tried = attempts(|| joined.join(&doc));
        assert_eq!(tried, n as usize, "attempts for {n} runs");
        let mut other_way = doc.clone();
        other_way.join(&base);
        assert!(joined == other_way);
        assert_eq!(joined.len(), n as usize + 12);
        assert_eq!(joined.agents.len(), n as usize + 12);
        for (a, r) in (0u32..).zip(&joined.agents) {
            assert_eq!(joined.agent(r), Some(a));
        }
    }

    /// Runs whose origin never arrives stay pending, and become placed when
    /// it does, whatever the order of arrival.
    #[test]
    fn runs_waiting_for_a_missing_origin_stay_pending_until_it_arrives() {
        let mut doc: List<u64> = List::new();
        let first = doc.insert(ReplicaId::from_u128(1), 0, [1]);
        let mut chain = Vec::new();
        for i in 2..40u64 {
            chain.push(doc.insert(ReplicaId::from_u128(u128::from(i)), 0, [i]));
        }
        let mut late = List::new();
        for d in chain.iter().rev() {
            late.join(d);
        }
        assert_eq!(late.len(), 0, "every run waits for the first");
        late.join(&first);
        assert!(late == doc);
        assert_eq!(late.to_vec(), doc.to_vec());
    }

    /// Keystrokes joined one by one in a shuffled order: a keystroke whose
    /// left neighbour has not arrived waits, and is tried again once that
    /// neighbour is placed, not at every placement (each placement tried
    /// every pending run: 20k keystrokes and deletions joined shuffled took
    /// 1.8-3.6 s, quadratic in the runs pending). At most two tries per
    /// keystroke, and the text is the typed one.
    #[test]
    fn shuffled_keystrokes_are_each_tried_at_most_twice() {
        let n = 2000;
        let a = ReplicaId::from_u128(7);
        let mut typed: List<u32> = List::new();
        let mut deltas: Vec<List<u32>> = (0..n).map(|i| typed.insert(a, i as usize, [i])).collect();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for i in (1..deltas.len()).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            deltas.swap(i, (seed % (i as u64 + 1)) as usize);
        }
        let mut joined = List::new();
        let tried = attempts(|| {
            for d in &deltas {
                joined.join(d);
            }
        });
        assert!(joined == typed);
        assert_eq!(joined.to_vec(), (0..n).collect::<Vec<_>>());
        assert!(tried <= 2 * n as usize, "{tried} tries for {n} keystrokes");
    }

    fn id(agent: u32, ctr: u64) -> Id {
        Id::new(agent, ctr).expect("a counter above 0")
    }

    /// The answer of a plain ordered map, for keys inserted in any order
    /// (increasing, decreasing, mixed, repeated), tail and B-tree both.
    #[test]
    fn siblings_answer_as_an_ordered_map_does_in_any_insert_order() {
        fn prop(inserts: Vec<(u8, u8, u8)>, queries: Vec<(u8, u8)>) -> bool {
            let key = |o: u8, r: u8| (((u32::from(o % 3), 0), (0, 0)), (0, u64::from(r), 1));
            let mut fast = Siblings::default();
            let mut model = BTreeMap::new();
            for (o, r, c) in inserts {
                let v = id(u32::from(c), 1 + u64::from(r));
                fast.insert(key(o, r), v);
                model.insert(key(o, r), v);
            }
            queries.into_iter().all(|(o, r)| {
                let k = key(o, r);
                let want = model.range((k.0, LEAST)..k).next_back().map(|(_, v)| *v);
                fast.before(|| Some(k)) == want
            })
        }
        quickcheck::quickcheck(prop as fn(Vec<(u8, u8, u8)>, Vec<(u8, u8)>) -> bool);
    }

    /// A recorded sibling takes 72 bytes (its key and its id): 25k runs
    /// typed at one place, received into a long text, record one each.
    #[test]
    fn a_recorded_sibling_takes_72_bytes() {
        assert_eq!(std::mem::size_of::<(Key, Id)>(), 72);
    }

    /// Keys arriving in order are appended, not put in the B-tree.
    #[test]
    fn keys_in_increasing_order_are_appended() {
        let mut s = Siblings::default();
        for r in 0..100u8 {
            s.insert(
                (((0, 0), (0, 0)), (0, u64::from(r), 1)),
                id(1, 1 + u64::from(r)),
            );
        }
        assert_eq!(s.tail.len(), 100);
        assert!(s.rest.is_empty());
        assert_eq!(
            s.before(|| Some((((0, 0), (0, 0)), (0, 50, 1)))),
            Some(id(1, 50))
        );
        assert_eq!(s.before(|| Some((((0, 1), (0, 0)), (0, 50, 1)))), None);
        assert_eq!(s.before(|| Some((((0, 0), (0, 0)), (0, 0, 1)))), None);
    }
}
