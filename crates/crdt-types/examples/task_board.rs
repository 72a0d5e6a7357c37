//! A task board: per task, a title (multi-value register), tags (add-wins
//! set) and a "done" flag (enable-wins), each an `OrMap` keyed by task.
//!
//! The board is a composition of three maps declared with `#[derive(Crdt)]`:
//! the derive writes the join, and `update_titles`, `update_tags` and
//! `update_done`, each of which returns a board delta with only the map it
//! changed. Three people edit concurrently and their boards converge.
//!
//! Run it with `cargo run --example task_board`.

use crdt_types::{Crdt, EwFlag, Lattice, MvRegister, OrMap, OrSet, ReplicaId};

#[derive(Clone, Default, PartialEq, Debug, Crdt)]
struct Board {
    titles: OrMap<u32, MvRegister<String>>,
    tags: OrMap<u32, OrSet<String>>,
    done: OrMap<u32, EwFlag>,
}

impl Board {
    fn title(&mut self, me: ReplicaId, task: u32, title: &str) -> Board {
        self.update_titles(|m| m.update(task, |t| t.write(me, title.to_string())))
    }

    fn tag(&mut self, me: ReplicaId, task: u32, tag: &str) -> Board {
        self.update_tags(|m| m.update(task, |t| t.insert(me, tag.to_string())))
    }

    fn finish(&mut self, me: ReplicaId, task: u32) -> Board {
        self.update_done(|m| m.update(task, |d| d.enable(me)))
    }

    /// Removes a task: what this replica has seen of it, in every map (the
    /// join of three field deltas is one board delta).
    fn delete(&mut self, task: u32) -> Board {
        self.update_titles(|m| m.remove(&task))
            .joined(&self.update_tags(|m| m.remove(&task)))
            .joined(&self.update_done(|m| m.remove(&task)))
    }

    fn is_done(&self, task: u32) -> bool {
        self.done.get(&task).is_some_and(|d| d.is_enabled())
    }

    fn titles_of(&self, task: u32) -> Vec<String> {
        self.titles
            .get(&task)
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default()
    }
}

fn run() {
    let (ana, ben, cy) = (
        ReplicaId::from_u128(1),
        ReplicaId::from_u128(2),
        ReplicaId::from_u128(3),
    );
    let mut boards: [Board; 3] = Default::default();

    // Ana creates two tasks; everyone receives them.
    let shipped = [
        boards[0].title(ana, 1, "Write release notes"),
        boards[0].title(ana, 2, "Fix login bug"),
        boards[0].tag(ana, 2, "bug"),
    ];
    for board in &mut boards[1..] {
        for d in &shipped {
            board.join(d);
        }
    }

    // Concurrently: Ben retitles task 1 and finishes task 2, Cy retitles
    // task 1 too, tags task 2, and deletes task 2 (having seen only Ana's
    // edits, so Ben's "done" survives the delete).
    let mut round = vec![
        boards[1].title(ben, 1, "Write the release notes"),
        boards[1].finish(ben, 2),
        boards[2].title(cy, 1, "Release notes v2"),
        boards[2].tag(cy, 2, "urgent"),
    ];
    round.push(boards[2].delete(2));
    for board in &mut boards {
        for d in &round {
            board.join(d);
        }
    }
    assert!(boards.iter().all(|b| *b == boards[0]));
    // Two concurrent titles are siblings until someone picks one.
    assert_eq!(boards[0].titles_of(1).len(), 2);
    // The delete removed what Cy had seen of task 2; Ben's concurrent
    // "done" survives.
    assert!(boards[0].is_done(2));
    assert!(boards[0].titles_of(2).is_empty());
    assert!(boards[0].tags.get(&2).is_none());

    // Ana resolves the title; it supersedes both siblings everywhere.
    let resolved = boards[0].update_titles(|m| {
        m.update(1, |t| {
            t.resolve(ana, |siblings| {
                siblings.values().max().cloned().unwrap_or_default()
            })
        })
    });
    for board in &mut boards[1..] {
        board.join(&resolved);
    }
    assert!(boards.iter().all(|b| *b == boards[0]));
    assert_eq!(boards[0].titles_of(1), ["Write the release notes"]);
    println!("board: {:?}", boards[0]);
}

fn main() {
    run();
}

#[test]
fn three_editors_converge() {
    run();
}
