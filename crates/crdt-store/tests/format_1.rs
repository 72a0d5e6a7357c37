//! A store written before the packed store encoding (every snapshot and
//! log record in state format 1) opens to the same state, and compaction
//! rewrites it in the current format.

use crdt_core::{StoreEncoding, with_store_encoding};
use crdt_store::{Identity, Options, Store};
use crdt_sync::codec;
use crdt_types::OrSet;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

const SNAPSHOT: TableDefinition<&str, &[u8]> = TableDefinition::new("crdt_store_snapshot");
const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("crdt_store_log");

/// `state` as an older build wrote it: format 1, the previous encoding.
fn format_1(bytes: &[u8]) -> Vec<u8> {
    let state: OrSet<u64> = codec::decode_state(bytes, usize::MAX).expect("a current state");
    let mut old =
        with_store_encoding(StoreEncoding::V1, || codec::encode_state(&state)).expect("encodes");
    old[3] = 1;
    old
}

/// Rewrites the snapshot and every log record of the store at `path` in
/// format 1, as a build before the packed encoding left them on disk;
/// returns how many records changed bytes beyond the version (a removal,
/// whose store is empty, is written alike in both).
fn downgrade(path: &std::path::Path) -> usize {
    let db = Database::open(path).expect("the store file opens");
    let txn = db.begin_write().expect("write");
    let mut records = 0;
    {
        let mut snapshot = txn.open_table(SNAPSHOT).expect("snapshot table");
        let old = format_1(
            snapshot
                .get("state")
                .expect("get")
                .expect("a snapshot")
                .value(),
        );
        snapshot.insert("state", old.as_slice()).expect("insert");
        let mut log = txn.open_table(LOG).expect("log table");
        let current: Vec<(u64, Vec<u8>)> = log
            .iter()
            .expect("iter")
            .map(|e| {
                let (k, v) = e.expect("entry");
                (k.value(), v.value().to_vec())
            })
            .collect();
        for (seq, record) in current {
            let mut old = vec![record[0]];
            old.extend_from_slice(&format_1(&record[1..]));
            records += usize::from(old[5..] != record[5..]);
            log.insert(seq, old.as_slice()).expect("insert");
        }
    }
    txn.commit().expect("commit");
    records
}

fn snapshot_version(path: &std::path::Path) -> u8 {
    let db = Database::open(path).expect("the store file opens");
    let txn = db.begin_read().expect("read");
    let t = txn.open_table(SNAPSHOT).expect("snapshot table");
    t.get("state").expect("get").expect("a snapshot").value()[3]
}

#[test]
fn a_store_saved_in_state_format_1_opens_and_compacts_to_the_current_format() {
    let dir = std::env::temp_dir().join(format!("crdt-store-format-1-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("replica.redb");
    let _ = std::fs::remove_file(&path);

    // Written by this build: a compacted snapshot, then more log records
    // (inserts of keys spread over u64, and a removal).
    let (store, opened) = Store::<OrSet<u64>>::open(&path, Options::default()).unwrap();
    let (me, mut set) = (opened.replica(), opened.into_state());
    for i in 0..40u64 {
        store
            .append_local(&set.insert(me, i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
            .unwrap();
    }
    store.compact().unwrap();
    for i in 40..60u64 {
        store
            .append_local(&set.insert(me, i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
            .unwrap();
    }
    store.append_local(&set.remove(&0)).unwrap();
    store.close().unwrap();

    assert_eq!(downgrade(&path), 20, "every insert was rewritten");
    assert_eq!(snapshot_version(&path), 1);

    let (store, opened) = Store::<OrSet<u64>>::open(&path, Options::default()).unwrap();
    assert_eq!(opened.identity(), Identity::Resumed);
    assert_eq!(opened.replica(), me);
    assert!(
        opened.state() == &set,
        "the format-1 store reads back as written"
    );
    let compaction = store.compact().unwrap();
    assert!(compaction.entries >= 21);
    store.close().unwrap();
    assert_eq!(snapshot_version(&path), codec::STATE_VERSION);

    let (store, opened) = Store::<OrSet<u64>>::open(&path, Options::default()).unwrap();
    assert!(
        opened.state() == &set,
        "the compacted store reads back as written"
    );
    store.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
