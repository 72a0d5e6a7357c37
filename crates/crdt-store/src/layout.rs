//! The tables of a store file and how they are read back.
//!
//! | table | key | value |
//! |---|---|---|
//! | `crdt_store_meta` | `"format"`, `"replica"`, `"dirty"`, `"folded"` | format version (1 byte), replica id (16 bytes BE), unclean-relaxed flag (1 byte), highest log sequence folded into the snapshot (8 bytes LE) |
//! | `crdt_store_snapshot` | `"state"` | the state, [`crdt_sync::codec::encode_state`] |
//! | `crdt_store_log` | sequence (`u64`, from 1, increasing) | origin byte (0 local, 1 received), then the delta, [`crdt_sync::codec::encode_state`] |
//! | `crdt_store_minted` | replica id (`u128`) | highest counter minted under it |
//!
//! Everything read back is checked as if a peer had sent it: lengths,
//! versions, and each state through [`crdt_sync::codec::decode_state`]
//! (which validates it).

use std::collections::BTreeMap;

use crdt_core::ReplicaId;
use crdt_sync::Replicated;
use crdt_sync::codec;
use redb::{ReadTransaction, ReadableTable, TableDefinition, WriteTransaction};

use crate::error::{StoreError, from_redb};

/// The store format this build writes and reads.
pub(crate) const FORMAT_VERSION: u8 = 1;

pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("crdt_store_meta");
pub(crate) const SNAPSHOT: TableDefinition<&str, &[u8]> =
    TableDefinition::new("crdt_store_snapshot");
pub(crate) const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("crdt_store_log");
pub(crate) const MINTED: TableDefinition<u128, u64> = TableDefinition::new("crdt_store_minted");

pub(crate) const KEY_FORMAT: &str = "format";
pub(crate) const KEY_REPLICA: &str = "replica";
pub(crate) const KEY_DIRTY: &str = "dirty";
pub(crate) const KEY_FOLDED: &str = "folded";
pub(crate) const KEY_STATE: &str = "state";

/// Where a logged delta came from (the first byte of a log record).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    Local = 0,
    Received = 1,
}

/// A log record: the origin byte, then the encoded delta.
pub(crate) fn record<T: Replicated>(origin: Origin, delta: &T) -> Result<Vec<u8>, StoreError> {
    let body = codec::encode_state(delta).map_err(|e| StoreError::Encode(e.to_string()))?;
    let mut out = Vec::with_capacity(body.len() + 1);
    out.push(origin as u8);
    out.extend_from_slice(&body);
    Ok(out)
}

/// The store's metadata.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Meta {
    pub(crate) replica: ReplicaId,
    pub(crate) dirty: bool,
    pub(crate) folded: u64,
}

/// Writes the tables of a new store: metadata, an empty minted table and
/// log, and `snapshot` (the encoded empty state).
pub(crate) fn initialise(
    txn: &WriteTransaction,
    meta: Meta,
    snapshot: &[u8],
) -> Result<(), StoreError> {
    write_meta(txn, meta)?;
    txn.open_table(SNAPSHOT)
        .map_err(from_redb)?
        .insert(KEY_STATE, snapshot)
        .map_err(from_redb)?;
    txn.open_table(LOG).map_err(from_redb)?;
    txn.open_table(MINTED).map_err(from_redb)?;
    Ok(())
}

/// Writes every metadata entry.
pub(crate) fn write_meta(txn: &WriteTransaction, meta: Meta) -> Result<(), StoreError> {
    let mut t = txn.open_table(META).map_err(from_redb)?;
    t.insert(KEY_FORMAT, [FORMAT_VERSION].as_slice())
        .map_err(from_redb)?;
    t.insert(KEY_REPLICA, meta.replica.as_u128().to_be_bytes().as_slice())
        .map_err(from_redb)?;
    t.insert(KEY_DIRTY, [u8::from(meta.dirty)].as_slice())
        .map_err(from_redb)?;
    t.insert(KEY_FOLDED, meta.folded.to_le_bytes().as_slice())
        .map_err(from_redb)?;
    Ok(())
}

/// Opens a table that every store has; its absence means the file is not
/// a (complete) store.
fn table<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &ReadTransaction,
    def: TableDefinition<K, V>,
) -> Result<redb::ReadOnlyTable<K, V>, StoreError> {
    txn.open_table(def).map_err(|e| match e {
        redb::TableError::TableDoesNotExist(name) => {
            StoreError::Corrupt(format!("not a crdt-store file (no table {name})"))
        }
        other => from_redb(other),
    })
}

/// A fixed-size metadata value, or why it is not one.
fn meta_bytes<const N: usize>(
    t: &redb::ReadOnlyTable<&str, &[u8]>,
    key: &str,
) -> Result<[u8; N], StoreError> {
    let v = t
        .get(key)
        .map_err(from_redb)?
        .ok_or_else(|| StoreError::Corrupt(format!("metadata {key:?} is missing")))?;
    v.value().try_into().map_err(|_| {
        StoreError::Corrupt(format!(
            "metadata {key:?} has {} bytes, not {N}",
            v.value().len()
        ))
    })
}

/// Reads and checks the metadata.
pub(crate) fn read_meta(txn: &ReadTransaction) -> Result<Meta, StoreError> {
    let t = table(txn, META)?;
    let [format] = meta_bytes::<1>(&t, KEY_FORMAT)?;
    if format != FORMAT_VERSION {
        return Err(StoreError::UnsupportedFormat { found: format });
    }
    let replica = ReplicaId::from_u128(u128::from_be_bytes(meta_bytes::<16>(&t, KEY_REPLICA)?));
    let dirty = match meta_bytes::<1>(&t, KEY_DIRTY)? {
        [0] => false,
        [1] => true,
        [b] => return Err(StoreError::Corrupt(format!("metadata \"dirty\" is {b}"))),
    };
    let folded = u64::from_le_bytes(meta_bytes::<8>(&t, KEY_FOLDED)?);
    Ok(Meta {
        replica,
        dirty,
        folded,
    })
}

/// The snapshot joined with every log entry, as of one read transaction.
#[derive(Debug)]
pub(crate) struct Folded<T> {
    pub(crate) state: T,
    /// The highest log sequence folded in (0 if none).
    pub(crate) last_seq: u64,
    /// How many log entries, and their bytes.
    pub(crate) log_entries: u64,
    pub(crate) log_bytes: u64,
    pub(crate) snapshot_bytes: u64,
}

/// Decodes the snapshot and joins every log entry into it, checking each
/// record. Entries are visited in sequence order.
pub(crate) fn fold<T: Replicated>(txn: &ReadTransaction) -> Result<Folded<T>, StoreError> {
    let snap = table(txn, SNAPSHOT)?;
    let bytes = snap
        .get(KEY_STATE)
        .map_err(from_redb)?
        .ok_or_else(|| StoreError::Corrupt("the snapshot is missing".into()))?;
    let mut state: T = codec::decode_state(bytes.value(), usize::MAX)
        .map_err(|e| StoreError::Corrupt(format!("the snapshot does not decode: {e}")))?;
    let snapshot_bytes = bytes.value().len() as u64;
    let log = table(txn, LOG)?;
    let (mut last_seq, mut log_entries, mut log_bytes) = (0, 0, 0);
    for entry in log.iter().map_err(from_redb)? {
        let (seq, value) = entry.map_err(from_redb)?;
        let (seq, value) = (seq.value(), value.value());
        let delta: T = match value.split_first() {
            Some((&origin, body)) if origin <= Origin::Received as u8 => {
                codec::decode_state(body, usize::MAX).map_err(|e| {
                    StoreError::Corrupt(format!("log entry {seq} does not decode: {e}"))
                })?
            }
            _ => {
                return Err(StoreError::Corrupt(format!(
                    "log entry {seq} has no valid origin byte"
                )));
            }
        };
        state.join_owned(delta);
        last_seq = seq;
        log_entries += 1;
        log_bytes += value.len() as u64;
    }
    Ok(Folded {
        state,
        last_seq,
        log_entries,
        log_bytes,
        snapshot_bytes,
    })
}

/// What the store says each of its ids has minted.
pub(crate) fn read_minted(txn: &ReadTransaction) -> Result<BTreeMap<ReplicaId, u64>, StoreError> {
    let t = table(txn, MINTED)?;
    let mut out = BTreeMap::new();
    for entry in t.iter().map_err(from_redb)? {
        let (id, top) = entry.map_err(from_redb)?;
        out.insert(ReplicaId::from_u128(id.value()), top.value());
    }
    Ok(out)
}

/// Checks that `state` holds every dot the store recorded as minted: a
/// state that lacks one lost a committed write (a damaged file), and
/// minting from it would reuse that dot.
pub(crate) fn check_minted<T: Replicated>(
    state: &T,
    minted: &BTreeMap<ReplicaId, u64>,
) -> Result<(), StoreError> {
    let Some(context) = state.dots() else {
        return Ok(());
    };
    match minted.iter().find(|&(&r, &top)| context.max(r) < top) {
        Some((r, top)) => Err(StoreError::Corrupt(format!(
            "the state lacks dots up to {top} that replica {r:?} minted"
        ))),
        None => Ok(()),
    }
}
