//! loro: a `LoroDoc` with one root text container.

use loro::{ExportMode, LoroDoc, LoroText};

use crate::{Error, Merge, Patch, Peer};

/// loro 1.17's `LoroDoc` with the root text `"text"`, indexed in code
/// points, committed once per transaction. Saved as a snapshot
/// (`ExportMode::Snapshot`); a transaction ships the updates since the
/// version before it; the whole history is `ExportMode::all_updates()`.
///
/// ```
/// use crdt_peers::{Loro, Merge, Peer};
///
/// let mut a = Loro::new(0);
/// let mut b = Loro::new(1);
/// let update = a.local_shipped(&[(0, 0, "hi".to_string())]);
/// b.apply(&update).unwrap();
/// assert_eq!(b.text().as_deref(), Some("hi"));
/// ```
pub struct Loro {
    doc: LoroDoc,
    text: LoroText,
}

impl Loro {
    fn wrap(doc: LoroDoc) -> Self {
        let text = doc.get_text("text");
        Self { doc, text }
    }
}

impl Peer for Loro {
    const NAME: &'static str = "loro 1.17.1";

    fn new(agent: usize) -> Self {
        let doc = LoroDoc::new();
        // Only fails for the reserved id u64::MAX.
        let _ = doc.set_peer_id(agent as u64 + 1);
        Self::wrap(doc)
    }

    fn local(&mut self, patches: &[Patch]) {
        for (pos, del, ins) in patches {
            // In range for every patch of a valid trace (checked by the
            // bench against `endContent`).
            if *del > 0 {
                let _ = self.text.delete(*pos, *del);
            }
            if !ins.is_empty() {
                let _ = self.text.insert(*pos, ins);
            }
        }
        self.doc.commit();
    }

    fn text(&self) -> Option<String> {
        Some(self.text.to_string())
    }

    fn len(&self) -> usize {
        self.text.len_unicode()
    }

    fn save(&mut self) -> Vec<u8> {
        self.doc.export(ExportMode::Snapshot).unwrap_or_default()
    }

    fn load(bytes: &[u8]) -> Result<Self, Error> {
        LoroDoc::from_snapshot(bytes)
            .map(Self::wrap)
            .map_err(|e| e.to_string())
    }
}

impl Merge for Loro {
    type Update = Vec<u8>;
    type History = Vec<u8>;

    fn local_shipped(&mut self, patches: &[Patch]) -> Vec<u8> {
        let before = self.doc.oplog_vv();
        self.local(patches);
        self.doc
            .export(ExportMode::updates(&before))
            .unwrap_or_default()
    }

    fn apply(&mut self, update: &Vec<u8>) -> Result<(), Error> {
        self.doc.import(update).map(drop).map_err(|e| e.to_string())
    }

    fn history(&mut self) -> Vec<u8> {
        self.doc
            .export(ExportMode::all_updates())
            .unwrap_or_default()
    }

    fn from_history(history: &Vec<u8>) -> Result<Self, Error> {
        let mut doc = Self::new(usize::MAX - 1);
        doc.apply(history)?;
        Ok(doc)
    }
}
