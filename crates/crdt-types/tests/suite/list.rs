//! `List<T>` and `Text`: the properties the issue names, each in its own
//! test (non-interleaving forwards and backwards, a delete racing an
//! adjacent insert, cursor stability), out-of-order delivery, validation of
//! forged states, and the `crdt_types::laws` checks.

use crdt_types::laws::{self, History, Mutate, Trace};
use crdt_types::{Crdt, Decompose, Lattice, List, ReplicaId, Text, TextOp};
use quickcheck::{QuickCheck, TestResult};

fn id(n: u128) -> ReplicaId {
    ReplicaId::from_u128(n)
}

/// Two replicas of `base`: one types `left` forwards at `at`, the other
/// types `right` there; both merge.
fn race_forward(base: &Text, at: usize, left: &str, right: &str) -> (Text, Text) {
    let (mut x, mut y) = (base.clone(), base.clone());
    let mut dx = Text::new();
    for (k, c) in left.chars().enumerate() {
        dx.join(&x.insert_str(id(1), at + k, &c.to_string()));
    }
    let mut dy = Text::new();
    for (k, c) in right.chars().enumerate() {
        dy.join(&y.insert_str(id(2), at + k, &c.to_string()));
    }
    x.join(&dy);
    y.join(&dx);
    (x, y)
}

/// As [`race_forward`], but each replica types its word backwards: every
/// character at the same index `at` (the last character first).
fn race_backward(base: &Text, at: usize, left: &str, right: &str) -> (Text, Text) {
    let (mut x, mut y) = (base.clone(), base.clone());
    let mut dx = Text::new();
    for c in left.chars().rev() {
        dx.join(&x.insert_str(id(1), at, &c.to_string()));
    }
    let mut dy = Text::new();
    for c in right.chars().rev() {
        dy.join(&y.insert_str(id(2), at, &c.to_string()));
    }
    x.join(&dy);
    y.join(&dx);
    (x, y)
}

fn base(s: &str) -> Text {
    let mut t = Text::new();
    let _ = t.insert_str(id(9), 0, s);
    t
}

#[test]
fn concurrent_forward_typing_at_one_place_never_interleaves() {
    let (x, y) = race_forward(&base("<>"), 1, "abc", "XYZ");
    assert_eq!(x, y);
    let s = x.to_string();
    assert!(s == "<abcXYZ>" || s == "<XYZabc>", "{s}");
}

#[test]
fn concurrent_backward_typing_at_one_place_never_interleaves() {
    let (x, y) = race_backward(&base("<>"), 1, "abc", "XYZ");
    assert_eq!(x, y);
    let s = x.to_string();
    assert!(s == "<abcXYZ>" || s == "<XYZabc>", "{s}");
}

/// Random text, random place, random words (forwards or backwards): the
/// merged text is the base with the two words side by side, never mixed.
#[test]
fn concurrent_runs_never_interleave_on_random_states() {
    fn prop(h: History<Text>, at: usize, a: u8, b: u8, backward: bool) -> TestResult {
        let base = &h.states[0];
        let at = at % (base.len() + 1);
        let left: String = (0..a % 5 + 1).map(|k| char::from(b'A' + k)).collect();
        let right: String = (0..b % 5 + 1).map(|k| char::from(b'0' + k)).collect();
        let (x, y) = if backward {
            race_backward(base, at, &left, &right)
        } else {
            race_forward(base, at, &left, &right)
        };
        let s: Vec<char> = x.chars().collect();
        let before: String = base.chars().take(at).collect();
        let after: String = base.chars().skip(at).collect();
        let both = [
            format!("{before}{left}{right}{after}"),
            format!("{before}{right}{left}{after}"),
        ];
        let s: String = s.into_iter().collect();
        TestResult::from_bool(x == y && both.contains(&s))
    }
    QuickCheck::new()
        .tests(300)
        .quickcheck(prop as fn(History<Text>, usize, u8, u8, bool) -> TestResult);
}

#[test]
fn delete_racing_an_adjacent_insert_keeps_the_insert() {
    let start = base("abc");
    let (mut x, mut y) = (start.clone(), start.clone());
    // x deletes "b"; y types right after it, and right before it.
    let del = x.delete(1, 1);
    let after = y.insert_str(id(2), 2, "1");
    let before = y.insert_str(id(2), 1, "0");
    x.join(&after);
    x.join(&before);
    y.join(&del);
    assert_eq!(x, y);
    assert_eq!(x.to_string(), "a01c");
}

#[test]
fn delete_racing_an_insert_inside_the_deleted_range_keeps_the_insert() {
    let start = base("abcdef");
    let (mut x, mut y) = (start.clone(), start.clone());
    let del = x.delete(1, 4);
    let ins = y.insert_str(id(2), 3, "++");
    x.join(&ins);
    y.join(&del);
    assert_eq!(x, y);
    assert_eq!(x.to_string(), "a++f");
}

#[test]
fn cursor_stays_between_the_same_two_characters() {
    let mut x = base("hello world");
    let cursor = x.cursor_at(5); // "hello|"
    let mut y = x.clone();
    // Others type before and after it, and delete around it.
    let d1 = y.insert_str(id(2), 0, ">> ");
    let d2 = y.insert_str(id(2), y.len(), "!");
    x.join(&d1);
    x.join(&d2);
    assert_eq!(x.index_of(&cursor), 8);
    let _ = x.insert_str(id(1), 8, ","); // typing at the cursor goes after it
    assert_eq!(x.to_string(), ">> hello, world!");
    assert_eq!(x.index_of(&cursor), 8);
    // The character before the cursor is deleted: it stays in the same gap.
    let _ = x.delete(7, 1);
    assert_eq!(x.to_string(), ">> hell, world!");
    assert_eq!(x.index_of(&cursor), 7);
    assert_eq!(x.index_of(&x.cursor_at(0)), 0);
}

#[test]
fn deltas_joined_out_of_order_wait_then_integrate() {
    let mut w = Text::new();
    let mut deltas: Vec<Text> = ["a", "b", "c", "d"]
        .iter()
        .enumerate()
        .map(|(i, s)| w.insert_str(id(1), i / 2, s))
        .collect();
    deltas.push(w.delete(1, 1));
    let mut r = Text::new();
    for d in deltas.iter().rev() {
        r.join(d);
        assert!(r.validate().is_ok());
    }
    assert_eq!(r, w);
    assert_eq!(r.to_string(), w.to_string());
}

#[test]
fn laws_hold_on_generated_histories() {
    fn prop(h: History<List<u8>>, op: crdt_types::ListOp<u8>) -> TestResult {
        let [a, b, c] = &h.states[..] else {
            return TestResult::discard();
        };
        let checks = laws::lattice(a, b, c)
            .and_then(|()| laws::mutation(a, laws::replica(0), &op))
            .and_then(|()| laws::valid(b, List::validate))
            .and_then(|()| laws::roundtrip(c));
        match checks {
            Ok(()) => TestResult::passed(),
            Err(e) => TestResult::error(e.to_string()),
        }
    }
    QuickCheck::new()
        .tests(200)
        .quickcheck(prop as fn(History<List<u8>>, crdt_types::ListOp<u8>) -> TestResult);
}

/// A splice is a delete then an insert at the same index with one delta:
/// the same state, a delta equal to the join of the two deltas, and a
/// valid delta that brings the state before it to the state after.
#[test]
fn splice_equals_delete_then_insert_with_their_joined_delta() {
    fn prop(h: History<Text>, at: usize, len: u8, s: String, who: bool) -> TestResult {
        let Some(x) = h.states.first() else {
            return TestResult::discard();
        };
        let (at, len) = (at % (x.len() + 1), usize::from(len % 6));
        let me = id(if who { 1 } else { 9 });
        let mut spliced = x.clone();
        let d = spliced.splice(me, at, len, &s);
        let mut stepped = x.clone();
        let d1 = stepped.delete(at, len);
        let d2 = stepped.insert_str(me, at, &s);
        let mut caught_up = x.clone();
        caught_up.join(&d);
        let ok = spliced == stepped
            && d == d1.joined(&d2)
            && d.validate().is_ok()
            && caught_up == spliced
            && (d.is_bottom() == (s.is_empty() && (len == 0 || at == x.len())));
        TestResult::from_bool(ok)
    }
    QuickCheck::new()
        .tests(300)
        .quickcheck(prop as fn(History<Text>, usize, u8, String, bool) -> TestResult);
}

#[test]
fn text_delta_sync_converges_under_loss_duplication_and_reordering() {
    QuickCheck::new().tests(200).quickcheck(
        (|t: Trace<TextOp>| match laws::delta_sync::<Text>(&t) {
            Ok(()) => TestResult::passed(),
            Err(e) => TestResult::error(e.to_string()),
        }) as fn(Trace<TextOp>) -> TestResult,
    );
}

#[test]
fn generated_states_are_concurrent_enough_to_matter() {
    // The generators must reach states with several replicas, tombstones
    // and pending runs, or the law suites prove little.
    let mut g = quickcheck::Gen::new(40);
    let mut replicas = 0;
    let mut tombstones = false;
    for _ in 0..200 {
        let h = <History<Text> as quickcheck::Arbitrary>::arbitrary(&mut g);
        for s in &h.states {
            replicas = replicas.max(s.context().replicas().count());
            tombstones |= (s.context().len() as usize) > s.len();
        }
    }
    assert!(replicas >= 3 && tombstones);
}

fn json(t: &Text) -> serde_json::Value {
    serde_json::to_value(t).expect("encodes")
}

fn decode(v: serde_json::Value) -> Result<Text, serde_json::Error> {
    serde_json::from_value(v)
}

#[test]
fn forged_states_fail_to_decode() {
    let mut t = base("abc");
    let d = t.delete(1, 1);
    let _ = t.insert_str(id(1), 1, "x");
    let good = json(&t);
    assert_eq!(decode(good.clone()).expect("valid"), t);
    // A run outside the context.
    let mut v = good.clone();
    v["context"] = serde_json::json!({});
    assert!(decode(v).is_err());
    // Content of the wrong length.
    let mut v = good.clone();
    v["runs"][0]["content"] = serde_json::json!(["a", "b", "c", "d", "e"]);
    assert!(decode(v).is_err());
    // An integrated run whose origin does not exist.
    let mut v = good.clone();
    v["runs"][1]["left"] = serde_json::json!([0, 99]);
    assert!(decode(v).is_err());
    // An origin naming an unknown replica, and a zero counter.
    let mut v = good.clone();
    v["runs"][1]["right"] = serde_json::json!([7, 1]);
    assert!(decode(v).is_err());
    let mut v = good.clone();
    v["runs"][0]["start"] = serde_json::json!(0);
    assert!(decode(v).is_err());
    // Two runs holding the same dots: the last run moved onto the first
    // (run starts are written relative to the end of the run before).
    let mut v = good.clone();
    let runs = v["runs"].as_array().expect("runs").clone();
    let (mut end, mut first_start) = (0i64, 0i64);
    for (k, r) in runs.iter().enumerate() {
        let start = end + r["start"].as_i64().expect("start");
        if k == 0 {
            first_start = start;
        }
        if k + 1 < runs.len() {
            end = start + r["len"].as_i64().expect("len");
        }
    }
    let last = runs.len() - 1;
    v["runs"][last]["agent"] = runs[0]["agent"].clone();
    v["runs"][last]["start"] = serde_json::json!(first_start - end);
    v["runs"][last]["left"] = serde_json::Value::Null;
    v["runs"][last]["right"] = serde_json::Value::Null;
    let r = decode(v.clone());
    assert!(
        matches!(&r, Err(e) if e.to_string().contains("same dot")),
        "{r:?} {v}"
    );
    // A pending run whose origins are all present is not canonical.
    let mut v = json(&d);
    v["pending"][0]["left"] = serde_json::Value::Null;
    v["pending"][0]["right"] = serde_json::Value::Null;
    assert!(decode(v).is_err());
    // Garbage bytes: an error, never a panic.
    for n in 0..64u8 {
        let bytes: Vec<u8> = (0..n).map(|k| k.wrapping_mul(37).wrapping_add(n)).collect();
        let _ = bincode::serde::decode_from_slice::<Text, _>(&bytes, bincode::config::standard());
    }
}

#[test]
fn decomposition_and_delta_from_work_on_runs() {
    let mut t = base("hello");
    let known = t.clone();
    let _ = t.insert_str(id(1), 5, " world");
    let _ = t.delete(0, 1);
    let missing = t.delta_from(&known);
    assert_eq!(known.clone().joined(&missing), t);
    // One run of " world" and one tombstone run, not one part per character.
    assert!(missing.decompose().len() <= 3, "{:?}", missing.decompose());
    assert!(Crdt::validate(&missing).is_ok());
}

#[test]
fn mutate_applies_text_ops() {
    let mut t = Text::new();
    let _ = t.apply(id(1), &TextOp::Insert(0, "abc".into()));
    let _ = t.apply(id(1), &TextOp::Delete(7, 1)); // 7 % 4 = 3: past the end
    let _ = t.apply(id(1), &TextOp::Delete(1, 1));
    assert_eq!(t.to_string(), "ac");
}

/// A small deterministic generator (xorshift), so the edit script below is
/// the same on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % n.max(1) as u64).expect("small")
    }
}

/// Edits the way an editor does (typing on, backspacing, deleting ahead,
/// jumping elsewhere, cutting runs at their head, tail and middle) on a
/// text grown past many chunks, and after each edit checks the text against
/// a plain string and a replica that joins only the deltas. Guards the
/// cached place of the last local edit, the cut of a run's content on a
/// delete, and the one-run deltas built without a sequence.
#[test]
fn local_edits_next_to_the_last_one_match_a_plain_string() {
    let me = id(1);
    let mut text = Text::new();
    let mut mirror = Text::new();
    let mut model: Vec<char> = Vec::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut at = 0;
    for step in 0..6000 {
        let len = model.len();
        at = match rng.below(10) {
            0 => rng.below(len + 1),
            _ => at.min(len),
        };
        let delta = match rng.below(6) {
            0..=2 => {
                let c = char::from(b'a' + u8::try_from(step % 26).expect("letter"));
                let s: String = std::iter::repeat_n(c, 1 + rng.below(3)).collect();
                let d = text.insert_str(me, at, &s);
                model.splice(at..at, s.chars());
                at += s.chars().count();
                d
            }
            3 if at > 0 => {
                // Backspace.
                at -= 1;
                model.remove(at);
                text.delete(at, 1)
            }
            4 if at < len => {
                let n = (1 + rng.below(4)).min(len - at);
                model.drain(at..at + n);
                text.delete(at, n)
            }
            5 if at < len && step % 2 == 0 => {
                // Typing over a selection.
                let n = (1 + rng.below(4)).min(len - at);
                let s = if step % 4 == 0 { "XY" } else { "Z" };
                model.splice(at..at + n, s.chars());
                let d = text.splice(me, at, n, s);
                at += s.len();
                d
            }
            _ if len > 0 => {
                // A delete elsewhere, over one or several runs.
                let from = rng.below(len);
                let n = (1 + rng.below(40)).min(len - from);
                model.drain(from..from + n);
                text.delete(from, n)
            }
            _ => Text::new(),
        };
        mirror.join(&delta);
        assert_eq!(text.len(), model.len(), "step {step}");
        assert_eq!(mirror, text, "step {step}");
        if step % 97 == 0 {
            assert_eq!(text.chars().collect::<Vec<_>>(), model, "step {step}");
            let i = rng.below(model.len() + 1);
            assert_eq!(text.as_list().get(i), model.get(i), "step {step}");
        }
    }
    assert_eq!(text.chars().collect::<Vec<_>>(), model);
    assert!(
        text.as_list().run_count() > 200,
        "the text spans many chunks"
    );
    assert!(text.validate().is_ok(), "{:?}", text.validate());
}
