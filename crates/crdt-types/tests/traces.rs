//! Real editing traces (tests/data, CC BY 4.0, see its README): the
//! sequential ones replayed as local edits on one replica, the concurrent one
//! with one replica per agent brought to each transaction's parents by
//! joining deltas; every replica must end at `endContent` exactly.

use std::path::Path;
use std::time::Instant;

use crdt_types::Text;

#[path = "support/traces.rs"]
mod support;

fn dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn replay_sequential(name: &str) {
    let trace = support::load(dir(), name);
    let started = Instant::now();
    let text = support::replay(&trace);
    let elapsed = started.elapsed();
    assert_eq!(text.to_string(), trace.end_content);
    let config = bincode::config::standard();
    let bytes = bincode::serde::encode_to_vec(&text, config).expect("encodes");
    let (back, _): (Text, usize) =
        bincode::serde::decode_from_slice(&bytes, config).expect("decodes");
    assert_eq!(back, text);
    let edits: usize = trace.txns.iter().map(|t| t.patches.len()).sum();
    eprintln!(
        "{name}: {edits} edits replayed in {elapsed:?}; {} chars, {} runs, encoded {} bytes, ~{:.1} heap bytes/char",
        text.len(),
        text.as_list().run_count(),
        bytes.len(),
        text.as_list().heap_bytes() as f64 / text.len().max(1) as f64
    );
}

#[test]
fn automerge_paper_replays_to_its_end_content() {
    replay_sequential("automerge-paper");
}

#[test]
fn seph_blog1_replays_to_its_end_content() {
    replay_sequential("seph-blog1");
}

#[test]
fn friendsforever_replicas_all_end_at_its_end_content() {
    let trace = support::load(dir(), "friendsforever");
    let started = Instant::now();
    let replicas = support::replay_concurrent(&trace);
    for (agent, r) in replicas.iter().enumerate() {
        assert_eq!(r.to_string(), trace.end_content, "replica of agent {agent}");
        assert!(r.validate().is_ok());
    }
    assert!(replicas.len() >= 2 && replicas.windows(2).all(|w| w[0] == w[1]));
    eprintln!(
        "friendsforever: {} txns, {} agents, replayed in {:?}; {} runs",
        trace.txns.len(),
        replicas.len(),
        started.elapsed(),
        replicas[0].as_list().run_count()
    );
}
