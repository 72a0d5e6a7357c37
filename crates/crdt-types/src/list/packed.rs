//! The binary form of a list: the integrated runs packed into bytes, one
//! header byte and a few varints per run, and the visible content as one
//! sequence (for `Text`, UTF-8 in bincode: about a byte per character).
//!
//! Typing makes most origins predictable from the runs around: a run split
//! by a deletion has the element before it as left origin and the right
//! origin of the run before; a run typed in front of another has that run's
//! first element as right origin. The header says which, and only the other
//! origins are written out (replica rank, counter relative to the run's
//! start). Replica ranks are left out when there is one replica. Header bits, from the lowest: deleted; same replica as the run
//! before; starts where the run before ends (same replica); two bits of
//! left origin (none, the element before, written); two bits of right
//! origin (none, the run before's, the next run's first element, written);
//! the top bit is zero.
//!
//! Decoding checks every field and ends in the same validation as the
//! readable form; the bytes are untrusted, so every error is an error,
//! never a panic.

use crdt_core::{CausalContext, ReplicaId};
use serde::{Deserialize, Serialize};

use super::List;
use super::content::Content;
use super::piece::{Id, Piece};
use super::wire::{WireRun, diff, from_wire_run, stretches, undiff, wire_runs};

const DEAD: u8 = 1;
const SAME_AGENT: u8 = 1 << 1;
const CONTIGUOUS: u8 = 1 << 2;
const LEFT_SHIFT: u8 = 3;
const RIGHT_SHIFT: u8 = 5;
/// Left origin kinds.
const BEFORE: u8 = 1;
const WRITTEN_LEFT: u8 = 2;
/// Right origin kinds.
const AS_BEFORE: u8 = 1;
const NEXT: u8 = 2;
const WRITTEN_RIGHT: u8 = 3;

/// A list in its binary form.
#[derive(Serialize, Deserialize)]
#[serde(bound(serialize = "T: Serialize", deserialize = "T: Deserialize<'de>"))]
pub(super) struct Packed<T> {
    /// Sorted, no repeats.
    replicas: Vec<ReplicaId>,
    /// The integrated runs, maximal, in document order: a byte column
    /// (read in one slice, not a `u8` at a time).
    #[serde(with = "crdt_core::byte_column")]
    runs: Vec<u8>,
    /// The content of the visible runs, in order.
    content: Vec<T>,
    /// The pending runs, sorted (few: written as records).
    pending: Vec<WireRun<T>>,
    context: CausalContext,
}

impl<T: Clone> Packed<T> {
    /// The binary form of `list`.
    ///
    /// Design note (issue 11): the maximal runs are read off the pieces as
    /// they come, as shapes without content ([`maximal_runs`]), and the
    /// content is copied from the pieces. The runs used to be collected as
    /// copies of every piece first, then merged into a second vector: an
    /// engine that keeps a received delta of 14k runs encoded, to send it
    /// on, held about 2 MB of copies for a 65 KB message.
    pub(super) fn of(list: &List<T>) -> Self {
        let (replicas, rank) = list.ranked();
        // With one replica, replica ranks are all 0 and not written.
        let many = replicas.len() > 1;
        let mut runs = maximal_runs(list).peekable();
        let mut bytes = Vec::with_capacity(list.seq.piece_count() * 4);
        let mut content = Vec::with_capacity(list.len());
        for items in list.seq.pieces().filter_map(|p| p.content.as_slice()) {
            content.extend_from_slice(items);
        }
        let mut last: Option<Piece<T>> = None;
        while let Some((run, live)) = runs.next() {
            let (prev, p, next) = (last.as_ref(), &run, runs.peek().map(|(q, _)| q));
            let same_agent = prev.is_some_and(|q| q.agent == p.agent);
            let prev_end = prev.map_or(0, Piece::end);
            let contiguous = same_agent && p.start == prev_end;
            let left = match p.left() {
                None => 0,
                l if prev.and_then(Piece::last) == l => BEFORE,
                Some(_) => WRITTEN_LEFT,
            };
            let right = match p.right() {
                None => 0,
                r if prev.is_some_and(|q| q.right() == r) => AS_BEFORE,
                r if next.and_then(|q| q.id_at(0)) == r => NEXT,
                Some(_) => WRITTEN_RIGHT,
            };
            let mut header = (left << LEFT_SHIFT) | (right << RIGHT_SHIFT);
            for (bit, on) in [
                (DEAD, !live),
                (SAME_AGENT, same_agent),
                (CONTIGUOUS, contiguous),
            ] {
                header |= if on { bit } else { 0 };
            }
            bytes.push(header);
            if !same_agent && many {
                put(&mut bytes, u64::from(rank[p.agent as usize]));
            }
            if !contiguous {
                put(&mut bytes, zig(diff(p.start, prev_end)));
            }
            put(&mut bytes, u64::from(p.len));
            for (kind, written, id) in [
                (left, WRITTEN_LEFT, p.left()),
                (right, WRITTEN_RIGHT, p.right()),
            ] {
                if let (true, Some(id)) = (kind == written, id) {
                    if many {
                        put(&mut bytes, u64::from(rank[id.agent as usize]));
                    }
                    put(&mut bytes, zig(diff(id.ctr.get(), p.start)));
                }
            }
            last = Some(run);
        }
        Self {
            replicas,
            runs: bytes,
            content,
            pending: wire_runs(list.pending_sorted(), &rank),
            context: list.ctx.clone(),
        }
    }
}

/// The integrated runs of `list`, maximal, in document order: each as its
/// shape (ids and origins, no content) and whether it is live. The runs
/// [`coalesce`](super::piece::coalesce) gives, without copying the pieces
/// and their content first (the readable form and the debug output, which
/// want the content per run, still call that one).
fn maximal_runs<T: Clone>(list: &List<T>) -> impl Iterator<Item = (Piece<T>, bool)> + '_ {
    let mut pieces = list.seq.pieces().peekable();
    std::iter::from_fn(move || {
        let first = pieces.next()?;
        let live = first.content.is_live();
        let mut run = first.shape();
        while let Some(p) = pieces.next_if(|p| run.continued_by_as(p, live)) {
            run.len += p.len;
        }
        Some((run, live))
    })
}

/// One run as read, its origins not yet resolved.
struct Raw {
    agent: u32,
    start: u64,
    len: u32,
    header: u8,
    left: Option<Id>,
    right: Option<Id>,
}

impl<T: Clone + PartialEq> Packed<T> {
    /// The list this binary form describes, validated.
    ///
    /// Design note (issue 11): the runs are read and made pieces in one
    /// pass, and read again from the bytes to check the order placing
    /// gives. The runs read were collected first (56 bytes each, kept
    /// until the list was built), and the order given was kept as a list:
    /// with the pieces and the tree, a message of 14k tombstone runs
    /// peaked at 63x its size.
    pub(super) fn into_list(self) -> Result<List<T>, String> {
        let n = self.replicas.len();
        let out = List::with_replicas(&self.replicas)?;
        let mut items = self.content.into_iter();
        let mut runs: Vec<Piece<T>> = Vec::new();
        // The run whose right origin is the first element of the next run
        // (`NEXT`), set once that run is read.
        let mut awaits_next = false;
        let mut reader = RunReader::new(&self.runs, n);
        while let Some(w) = reader.next_run()? {
            let i = runs.len();
            let bad = || format!("list run {i} names an origin that is not there");
            if std::mem::take(&mut awaits_next)
                && let Some(prev) = runs.last_mut()
            {
                let next = Id::new(w.agent, w.start).ok_or_else(bad)?;
                prev.set_origins(prev.left(), Some(next));
            }
            let prev = runs.last();
            let left = match (w.header >> LEFT_SHIFT) & 3 {
                0 => None,
                BEFORE => Some(prev.and_then(Piece::last).ok_or_else(bad)?),
                WRITTEN_LEFT => w.left,
                _ => return Err("list run header has an unknown left origin kind".into()),
            };
            let right = match (w.header >> RIGHT_SHIFT) & 3 {
                0 => None,
                AS_BEFORE => Some(prev.and_then(|q| q.right()).ok_or_else(bad)?),
                NEXT => {
                    awaits_next = true;
                    None
                }
                _ => w.right,
            };
            let content = if w.header & DEAD == 0 {
                Content::collect(items.by_ref().take(w.len as usize))
                    .filter(|c| c.len() == w.len as usize)
                    .ok_or("list content is shorter than its runs")?
            } else {
                Content::Dead
            };
            runs.push(Piece::new(w.agent, w.len, w.start, left, right, content));
        }
        if awaits_next {
            return Err(format!(
                "list run {} names an origin that is not there",
                runs.len() - 1
            ));
        }
        if items.next().is_some() {
            return Err("list content is longer than its runs".into());
        }
        runs.shrink_to_fit();
        let mut prev_end = 0u64;
        let pending = (self.pending.into_iter())
            .map(|w| from_wire_run(w, &mut prev_end, n))
            .collect::<Result<Vec<_>, _>>()?;
        // The order given, read again from the bytes once the runs are
        // placed (kept as a list of ids, it was 24 bytes a run, six times
        // what the bytes take for a tombstone run).
        let mut again = RunReader::new(&self.runs, n);
        let given = std::iter::from_fn(move || again.next_run().ok().flatten())
            .map(|w| (w.agent, w.start, w.start + u64::from(w.len)));
        out.finish(runs, pending, self.context, stretches(given))
    }
}

/// Reads the runs packed in bytes one at a time, for a state with `n`
/// replicas.
struct RunReader<'a> {
    r: Reader<'a>,
    n: usize,
    /// The agent and end of the run read last.
    prev: Option<(u32, u64)>,
}

impl<'a> RunReader<'a> {
    fn new(bytes: &'a [u8], n: usize) -> Self {
        Self {
            r: Reader { bytes, at: 0 },
            n,
            prev: None,
        }
    }

    /// A replica rank, written only when there are several.
    #[inline]
    fn agent(&mut self) -> Result<u32, String> {
        let x = if self.n > 1 { self.r.varint()? } else { 0 };
        u32::try_from(x)
            .ok()
            .filter(|a| (*a as usize) < self.n)
            .ok_or_else(|| "list run names an unknown replica".to_owned())
    }

    /// An origin of kind `kind` at `shift` in `header`, if written.
    #[inline]
    fn origin(
        &mut self,
        header: u8,
        kind: u8,
        shift: u8,
        start: u64,
    ) -> Result<Option<Id>, String> {
        if (header >> shift) & 3 != kind {
            return Ok(None);
        }
        let a = self.agent()?;
        let c = undiff(start, unzig(self.r.varint()?)).unwrap_or(0);
        Id::new(a, c)
            .map(Some)
            .ok_or_else(|| "list origin has counter 0 or out of range".into())
    }

    /// The next run, `None` at the end of the bytes.
    #[inline]
    fn next_run(&mut self) -> Result<Option<Raw>, String> {
        if self.r.at >= self.r.bytes.len() {
            return Ok(None);
        }
        let header = self.r.byte()?;
        let (same, contiguous) = (header & SAME_AGENT != 0, header & CONTIGUOUS != 0);
        if header >> 7 != 0 || (contiguous && !same) || (same && self.prev.is_none()) {
            return Err("malformed list run header".into());
        }
        let (prev_agent, prev_end) = self.prev.unwrap_or((0, 0));
        let agent = if same { prev_agent } else { self.agent()? };
        let start = if contiguous {
            prev_end
        } else {
            undiff(prev_end, unzig(self.r.varint()?)).unwrap_or(0)
        };
        let len = u32::try_from(self.r.varint()?).unwrap_or(0);
        if start == 0 || len == 0 || start.checked_add(u64::from(len)).is_none() {
            return Err("malformed list run".into());
        }
        let left = self.origin(header, WRITTEN_LEFT, LEFT_SHIFT, start)?;
        let right = self.origin(header, WRITTEN_RIGHT, RIGHT_SHIFT, start)?;
        self.prev = Some((agent, start + u64::from(len)));
        Ok(Some(Raw {
            agent,
            start,
            len,
            header,
            left,
            right,
        }))
    }
}

/// Appends `x` as a LEB128 varint.
fn put(out: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        out.push((x & 0x7f) as u8 | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

/// A signed difference as an unsigned varint value (small either way).
fn zig(d: i64) -> u64 {
    ((d << 1) ^ (d >> 63)) as u64
}

/// The inverse of [`zig`].
fn unzig(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Reads bytes and varints, failing at the end of its input.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    #[inline]
    fn byte(&mut self) -> Result<u8, String> {
        let b = *self
            .bytes
            .get(self.at)
            .ok_or("list runs end in the middle of a run")?;
        self.at += 1;
        Ok(b)
    }

    #[inline]
    fn varint(&mut self) -> Result<u64, String> {
        // Most varints of a run are one byte.
        if let Some(&b) = self.bytes.get(self.at)
            && b < 0x80
        {
            self.at += 1;
            return Ok(u64::from(b));
        }
        let mut x = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let v = u64::from(b & 0x7f);
            if shift == 63 && v > 1 {
                return Err("list varint overflows".into());
            }
            x |= v << shift;
            if b & 0x80 == 0 {
                return Ok(x);
            }
        }
        Err("list varint is too long".into())
    }
}

#[cfg(test)]
mod tests {
    use super::{unzig, zig};
    use crate::{Lattice, ReplicaId, Text};

    fn bincode_roundtrip(t: &Text) -> (usize, Text) {
        let config = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(t, config).expect("encodes");
        let back = bincode::serde::decode_from_slice(&bytes, config).expect("decodes");
        (bytes.len(), back.0)
    }

    /// The runs written as one byte string are, in bincode, the bytes a
    /// sequence of `u8`s gave before: what earlier builds wrote and stored
    /// still decodes, and they read what this build writes.
    #[test]
    fn the_runs_as_a_byte_string_are_the_bytes_of_a_sequence() {
        #[derive(serde::Serialize)]
        struct Seq<'a>(&'a [u8]);
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Column(#[serde(with = "crdt_core::byte_column")] Vec<u8>);
        let config = bincode::config::standard();
        for len in [0usize, 1, 250, 251, 70_000] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
            let seq = bincode::serde::encode_to_vec(Seq(&bytes), config).expect("encodes");
            let col =
                bincode::serde::encode_to_vec(Column(bytes.clone()), config).expect("encodes");
            assert_eq!(col, seq, "{len} bytes");
            let (back, _): (Column, usize) =
                bincode::serde::decode_from_slice(&seq, config).expect("decodes");
            assert_eq!(back.0, bytes);
        }
    }

    #[test]
    fn zigzag_roundtrips_extremes() {
        for d in [0, 1, -1, 63, -64, i64::MAX, i64::MIN] {
            assert_eq!(unzig(zig(d)), d);
        }
        assert!(zig(-1) < 2 && zig(1) < 3);
    }

    #[test]
    fn typed_and_edited_text_packs_small_and_roundtrips() {
        let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
        let mut t = Text::new();
        for (k, c) in "hello wonderful world".chars().enumerate() {
            let _ = t.insert_str(a, k, &c.to_string());
        }
        let _ = t.delete(6, 10);
        let mut other = t.clone();
        let d = other.insert_str(b, 0, ">> ");
        let _ = t.insert_str(a, 11, "!");
        t.join(&d);
        let (len, back) = bincode_roundtrip(&t);
        assert_eq!(back, t);
        assert_eq!(back.to_string(), ">> hello world!");
        // Two replica ids (32 bytes), the context, 15 characters and a few
        // bytes per run.
        assert!(len < 32 + 15 + 8 * t.as_list().run_count() + 24, "{len}");
        // A pending run survives too.
        let (_, back) = bincode_roundtrip(&d);
        assert_eq!(back, d);
    }

    #[test]
    fn truncated_or_flipped_bytes_are_errors_not_panics() {
        let mut t = Text::new();
        let _ = t.insert_str(ReplicaId::from_u128(1), 0, "abcdef");
        let _ = t.delete(2, 2);
        let _ = t.insert_str(ReplicaId::from_u128(1), 1, "xy");
        let config = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(&t, config).expect("encodes");
        for cut in 0..bytes.len() {
            let r = bincode::serde::decode_from_slice::<Text, _>(&bytes[..cut], config);
            assert!(r.is_err(), "a prefix of {cut} bytes decoded");
        }
        for i in 0..bytes.len() {
            for flip in [1u8, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] ^= flip;
                if let Ok((back, _)) = bincode::serde::decode_from_slice::<Text, _>(&b, config) {
                    assert!(back.validate().is_ok());
                }
            }
        }
    }
}
