//! cola-crdt: positions only. A `Replica` tracks where edits land; the text
//! itself lives in the caller's buffer, which cola neither stores nor sees.

use cola::{EncodedReplica, Replica};

use crate::{Error, Patch, Peer};

/// cola-crdt 0.1.1's `Replica` (lengths in code points here). It stores no
/// text, so [`Peer::text`] is `None` and the bench checks the length only;
/// an insertion or deletion it returns is what a peer would integrate, but
/// shipping the inserted text is left to the caller, so it is not a
/// [`Merge`](crate::Merge) in this bench. Saved with `Replica::encode`
/// (feature `encode`), the `EncodedReplica` written with bincode 2.
///
/// ```
/// use crdt_peers::{Cola, Peer};
///
/// let mut a = Cola::new(0);
/// a.local(&[(0, 0, "hello".to_string()), (1, 3, String::new())]);
/// assert_eq!(a.len(), 2);
/// assert_eq!(a.text(), None);
/// assert_eq!(Cola::load(&a.save()).unwrap().len(), 2);
/// ```
pub struct Cola {
    replica: Replica,
}

impl Peer for Cola {
    const NAME: &'static str = "cola-crdt 0.1.1";

    fn new(agent: usize) -> Self {
        Self {
            replica: Replica::new(agent as u64 + 1, 0),
        }
    }

    fn local(&mut self, patches: &[Patch]) {
        for (pos, del, ins) in patches {
            if *del > 0 {
                let _deletion = self.replica.deleted(*pos..*pos + *del);
            }
            if !ins.is_empty() {
                let _insertion = self.replica.inserted(*pos, ins.chars().count());
            }
        }
    }

    fn text(&self) -> Option<String> {
        None
    }

    fn len(&self) -> usize {
        self.replica.len()
    }

    fn save(&mut self) -> Vec<u8> {
        bincode::serde::encode_to_vec(self.replica.encode(), bincode::config::standard())
            .unwrap_or_default()
    }

    fn load(bytes: &[u8]) -> Result<Self, Error> {
        let (encoded, _): (EncodedReplica, _) =
            bincode::serde::decode_from_slice(bytes, bincode::config::standard())
                .map_err(|e| e.to_string())?;
        Replica::decode(u64::MAX, &encoded)
            .map(|replica| Self { replica })
            .map_err(|e| format!("{e:?}"))
    }
}
