//! Bad disks and files: a truncated, altered or foreign file is an error at
//! open (never an empty or older replica); a full disk fails the write with
//! an error and loses nothing acknowledged before it.

mod common;

use std::fs::{self, OpenOptions};
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::TestDir;
use crdt_store::{Durability, Identity, Options, Store, StoreError};
use crdt_types::OrSet;
use redb::StorageBackend;
use redb::backends::FileBackend;

type Set = OrSet<String>;

/// A store with some history: a compacted snapshot and a log after it.
fn populated(path: &Path) -> (Set, crdt_core::ReplicaId) {
    let options = Options::default().with_background_compaction(false);
    let (store, opened) = Store::<Set>::open(path, options).unwrap();
    let me = opened.replica();
    let mut set = opened.into_state();
    for i in 0..200 {
        store
            .append_local(&set.insert(me, format!("snapshot element {i:04}")))
            .unwrap();
    }
    store.compact().unwrap();
    for i in 0..50 {
        store
            .append_local(&set.insert(me, format!("logged element {i:04}")))
            .unwrap();
    }
    store.close().unwrap();
    (set, me)
}

fn open_copy(
    dir: &TestDir,
    bytes: &[u8],
) -> Result<(Store<Set>, crdt_store::Opened<Set>), StoreError> {
    let path = dir.file("copy.redb");
    let _ = fs::remove_file(&path);
    fs::write(&path, bytes).unwrap();
    Store::<Set>::open(&path, Options::default())
}

#[test]
fn a_truncated_file_is_an_error_at_open() {
    let dir = TestDir::new("truncated");
    let path = dir.file("s.redb");
    let (set, _) = populated(&path);
    let bytes = fs::read(&path).unwrap();
    let len = bytes.len();
    for cut in [
        0,
        1,
        8,
        100,
        512,
        4096,
        len / 3,
        len / 2,
        len - 4096,
        len - 1,
    ] {
        match open_copy(&dir, &bytes[..cut]) {
            Err(StoreError::Corrupt(why)) => assert!(!why.is_empty()),
            Err(other) => panic!("cut at {cut} of {len}: {other:?} is not Corrupt"),
            Ok((_, opened)) => panic!(
                "cut at {cut} of {len} opened with {} of {} elements",
                opened.state().len(),
                set.len()
            ),
        }
    }
    // The untouched file still opens, with everything.
    let (_s, opened) = open_copy(&dir, &bytes).unwrap();
    assert_eq!(opened.state(), &set);
}

#[test]
fn flipped_bytes_are_an_error_at_open_or_change_nothing() {
    let dir = TestDir::new("flipped");
    let path = dir.file("s.redb");
    let (set, me) = populated(&path);
    let bytes = fs::read(&path).unwrap();
    // Where the data is: every stored element is in the file as text (the
    // live copy, and stale copies in pages freed by later commits).
    let places = |needle: &[u8]| -> Vec<usize> {
        (0..bytes.len() - needle.len())
            .filter(|&i| &bytes[i..i + needle.len()] == needle)
            .map(|i| i + 3)
            .collect()
    };
    let in_snapshot = places(b"snapshot element 0100");
    let in_log = places(b"logged element 0025");
    assert!(!in_snapshot.is_empty() && !in_log.is_empty());
    let step = (bytes.len() / 150).max(1);
    let mut positions: Vec<usize> = (0..bytes.len()).step_by(step).collect();
    // And the header, where redb keeps its two commit slots.
    positions.extend((1..640).step_by(8));
    positions.extend(&in_snapshot);
    positions.extend(&in_log);
    let mut detected = Vec::new();
    for &at in &positions {
        let mut bad = bytes.clone();
        bad[at] ^= 0x5A;
        match open_copy(&dir, &bad) {
            Err(StoreError::Corrupt(_)) => detected.push(at),
            Err(other) => panic!("flip at {at}: {other:?} is not Corrupt"),
            Ok((_, opened)) => {
                // A flip in free space (or a stale copy) changes nothing.
                assert_eq!(opened.state(), &set, "flip at {at} changed the state");
                assert_eq!(opened.replica(), me, "flip at {at} changed the id");
            }
        }
    }
    // The live copy of each element is somewhere: flipping it is caught.
    assert!(
        in_snapshot.iter().any(|p| detected.contains(p)),
        "snapshot flips unnoticed"
    );
    assert!(
        in_log.iter().any(|p| detected.contains(p)),
        "log flips unnoticed"
    );
    assert!(
        detected.len() >= 2,
        "{} of {} flips detected",
        detected.len(),
        positions.len()
    );
}

#[test]
fn a_foreign_file_is_an_error_at_open() {
    let dir = TestDir::new("foreign");
    let text = b"these are not the bytes you are looking for\n".repeat(200);
    assert!(matches!(
        open_copy(&dir, &text),
        Err(StoreError::Corrupt(_))
    ));
    // A valid redb file that is not a store.
    let path = dir.file("plain.redb");
    let db = redb::Database::create(&path).unwrap();
    drop(db);
    let r = Store::<Set>::open(&path, Options::default());
    assert!(
        matches!(r, Err(StoreError::Corrupt(ref why)) if why.contains("not a crdt-store")),
        "{r:?}"
    );
}

/// A file backend that fails writes past a byte quota, as a full disk does.
#[derive(Debug)]
struct Quota {
    inner: FileBackend,
    limit: Arc<AtomicU64>,
}

impl Quota {
    fn check(&self, end: u64) -> io::Result<()> {
        if end > self.limit.load(Ordering::SeqCst) {
            return Err(io::Error::from(io::ErrorKind::StorageFull));
        }
        Ok(())
    }
}

impl StorageBackend for Quota {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        self.inner.read(offset, out)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.check(len)?;
        self.inner.set_len(len)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.inner.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.check(offset + data.len() as u64)?;
        self.inner.write(offset, data)
    }

    fn close(&self) -> io::Result<()> {
        self.inner.close()
    }
}

#[test]
fn a_full_disk_fails_the_write_and_loses_nothing_acknowledged() {
    let dir = TestDir::new("full");
    let path = dir.file("s.redb");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .unwrap();
    let limit = Arc::new(AtomicU64::new(u64::MAX));
    let backend = Quota {
        inner: FileBackend::new(file).unwrap(),
        limit: limit.clone(),
    };
    let options = Options::default().with_background_compaction(false);
    let (store, opened) = Store::<Set>::open_backend(backend, options).unwrap();
    let me = opened.replica();
    let mut set = opened.into_state();
    let mut acknowledged = Vec::new();
    // The disk fills up a little past what is written now.
    limit.store(
        fs::metadata(&path).unwrap().len() + (256 << 10),
        Ordering::SeqCst,
    );
    let padding = "x".repeat(2000);
    let err = loop {
        let value = format!("{:06} {padding}", acknowledged.len());
        match store.append_local(&set.insert(me, value.clone())) {
            Ok(_) => acknowledged.push(value),
            Err(e) => break e,
        }
        assert!(acknowledged.len() < 100_000, "the quota never bit");
    };
    assert_eq!(err, StoreError::DiskFull, "{err}");
    assert!(err.to_string().contains("disk is full"));
    assert!(
        acknowledged.len() > 10,
        "{} writes before the disk filled",
        acknowledged.len()
    );
    // Later writes fail too, with an error, until the store is reopened.
    assert!(store.append_local(&set.insert(me, "after".into())).is_err());
    drop(store);

    let (store, opened) = Store::<Set>::open(&path, Options::default()).unwrap();
    assert_eq!(opened.identity(), Identity::Resumed);
    for v in &acknowledged {
        assert!(opened.state().contains(v), "acknowledged {v:.6} was lost");
    }
    // With space again, the replica goes on where it was.
    let mut set = opened.into_state();
    store.append_local(&set.insert(me, "later".into())).unwrap();
}

#[test]
fn a_relaxed_store_not_closed_cleanly_takes_a_fresh_id() {
    let dir = TestDir::new("relaxed-crash");
    let path = dir.file("s.redb");
    let relaxed = Options::default().with_durability(Durability::Relaxed {
        max_delay: Duration::from_millis(20),
    });
    let (store, opened) = Store::<Set>::open(&path, relaxed).unwrap();
    let me = opened.replica();
    let mut set = opened.into_state();
    for i in 0..20 {
        store.append_local(&set.insert(me, format!("{i}"))).unwrap();
    }
    store.sync().unwrap();
    // The file as a crash would leave it: copied while the store is open.
    let image = fs::read(&path).unwrap();
    store.close().unwrap();
    let (_s, opened) = open_copy(&dir, &image).unwrap();
    assert_eq!(opened.identity(), Identity::Rotated { previous: me });
    assert_ne!(opened.replica(), me);
    assert_eq!(opened.state(), &set, "synced writes survive");
}
