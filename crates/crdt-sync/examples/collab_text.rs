//! Three replicas type into one document at the same time through sync
//! engines (`Text`, Fugue order): each types its own sentence word by word,
//! some at the same place, one deletes a word, with engine rounds in
//! between. Prints the converged text and the bytes each engine shipped.
//!
//! `cargo run --release -p crdt-sync --example collab_text`

use std::time::{Duration, Instant};

use crdt_sync::{Config, Engine, PeerId};
use crdt_types::{Cursor, ReplicaId, Text};

fn main() {
    let start = Instant::now();
    let config = Config {
        sync_interval: Duration::from_millis(10),
        ..Config::default()
    };
    let mut engines: Vec<Engine<Text>> = (1..=3u128)
        .map(|i| Engine::new(ReplicaId::from_u128(i), Text::new(), config.clone(), start))
        .collect::<Result<_, _>>()
        .expect("valid config");
    for (i, e) in engines.iter_mut().enumerate() {
        for j in 0..3u64 {
            if j != i as u64 {
                e.add_peer(PeerId(j + 1), start);
            }
        }
    }
    let sentences = [
        "Alice writes about the garden. ",
        "Bob notes the meeting moved to Friday. ",
        "Carol fixes a typo and adds a list. ",
    ];
    let words: Vec<Vec<&str>> = sentences
        .iter()
        .map(|s| s.split_inclusive(' ').collect())
        .collect();
    let mut bytes = [0usize; 3];
    let mut t = start;
    // Where each replica types: a cursor after its last word, which stays
    // there while the others' words arrive (all start at the very start).
    let mut cursors = [Cursor { after: None }; 3];
    for step in 0..200 {
        for (i, e) in engines.iter_mut().enumerate() {
            if let Some(w) = words[i].get(step) {
                let cursor = &mut cursors[i];
                e.update(|s, me| {
                    let at = s.index_of(cursor);
                    let delta = s.insert_str(me, at, w);
                    *cursor = s.cursor_at(at + w.chars().count());
                    delta
                })
                .expect("own id");
            }
        }
        if step == 3 {
            // Bob deletes his first word while the others keep typing.
            engines[1]
                .update(|s, _| {
                    let text = s.to_string();
                    match text.find("Bob ") {
                        Some(b) => {
                            let at = text[..b].chars().count();
                            s.delete(at, 4)
                        }
                        None => Text::new(),
                    }
                })
                .expect("own id");
        }
        t += Duration::from_millis(10);
        exchange(&mut engines, &mut bytes, t);
        let done = step >= words.iter().map(Vec::len).max().unwrap_or(0);
        if done
            && engines.windows(2).all(|w| w[0].state() == w[1].state())
            && engines.iter().all(Engine::is_synced)
        {
            break;
        }
    }
    let text = engines[0].state().to_string();
    assert!(engines.iter().all(|e| e.state().to_string() == text));
    // No interleaving: each sentence is in the text whole (Bob's without
    // the word he deleted).
    for s in [sentences[0], &sentences[1][4..], sentences[2]] {
        assert!(text.contains(s), "{s:?} is not whole in {text:?}");
    }
    println!("converged text: {text:?}");
    for (i, b) in bytes.iter().enumerate() {
        println!("replica {}: {b} bytes shipped", i + 1);
    }
    println!(
        "total {} bytes for {} characters typed; {} runs in the document",
        bytes.iter().sum::<usize>(),
        sentences.iter().map(|s| s.chars().count()).sum::<usize>(),
        engines[0].state().as_list().run_count()
    );
}

/// One engine round, then deliver every message until none is left.
fn exchange(engines: &mut [Engine<Text>], bytes: &mut [usize; 3], t: Instant) {
    for e in engines.iter_mut() {
        e.handle_timeout(t);
    }
    loop {
        let mut moved = false;
        for from in 0..engines.len() {
            while let Some(m) = engines[from].poll_transmit() {
                moved = true;
                bytes[from] += m.bytes.len();
                let to = usize::try_from(m.to.0 - 1).expect("small peer ids");
                let _ = engines[to].handle_message(t, PeerId(from as u64 + 1), &m.bytes);
            }
        }
        if !moved {
            break;
        }
    }
}
