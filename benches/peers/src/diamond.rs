//! diamond-types: an operation log plus a branch (the text at its tip).

use diamond_types::AgentId;
use diamond_types::list::ListCRDT;
use diamond_types::list::encoding::{ENCODE_FULL, ENCODE_PATCH};

use crate::{Error, Merge, Patch, Peer};

/// diamond-types 1.0.0's `ListCRDT` (an `OpLog` of every edit and a
/// `Branch` holding the text), with the agent it types as. Deletes record
/// no content (`delete_without_content`, as diamond-types' own benchmarks
/// type); saved with `ENCODE_FULL`; a transaction ships the operations
/// since the version before it (`encode_from` with `ENCODE_PATCH`).
///
/// ```
/// use crdt_peers::{Diamond, Merge, Peer};
///
/// let mut a = Diamond::new(0);
/// let mut b = Diamond::new(1);
/// let update = a.local_shipped(&[(0, 0, "hi".to_string())]);
/// b.apply(&update).unwrap();
/// assert_eq!(b.text().as_deref(), Some("hi"));
/// ```
pub struct Diamond {
    doc: ListCRDT,
    agent: AgentId,
}

fn agent_name(agent: usize) -> String {
    format!("agent{agent}")
}

impl Peer for Diamond {
    const NAME: &'static str = "diamond-types 1.0.0";

    fn new(agent: usize) -> Self {
        let mut doc = ListCRDT::new();
        let agent = doc.get_or_create_agent_id(&agent_name(agent));
        Self { doc, agent }
    }

    fn local(&mut self, patches: &[Patch]) {
        for (pos, del, ins) in patches {
            if *del > 0 {
                self.doc
                    .delete_without_content(self.agent, *pos..*pos + *del);
            }
            if !ins.is_empty() {
                self.doc.insert(self.agent, *pos, ins);
            }
        }
    }

    fn text(&self) -> Option<String> {
        Some(self.doc.branch.content().to_string())
    }

    fn len(&self) -> usize {
        self.doc.len()
    }

    fn save(&mut self) -> Vec<u8> {
        self.doc.oplog.encode(ENCODE_FULL)
    }

    fn load(bytes: &[u8]) -> Result<Self, Error> {
        let mut doc = ListCRDT::load_from(bytes).map_err(|e| format!("{e:?}"))?;
        let agent = doc.get_or_create_agent_id(&agent_name(usize::MAX));
        Ok(Self { doc, agent })
    }
}

impl Merge for Diamond {
    type Update = Vec<u8>;
    type History = Vec<u8>;

    fn local_shipped(&mut self, patches: &[Patch]) -> Vec<u8> {
        let before = self.doc.oplog.local_version();
        self.local(patches);
        self.doc.oplog.encode_from(ENCODE_PATCH, &before)
    }

    fn apply(&mut self, update: &Vec<u8>) -> Result<(), Error> {
        self.doc
            .merge_data_and_ff(update)
            .map(drop)
            .map_err(|e| format!("{e:?}"))
    }

    /// The full encoding (diamond-types stores the operation log, which is
    /// the history).
    fn history(&mut self) -> Vec<u8> {
        self.save()
    }

    fn from_history(history: &Vec<u8>) -> Result<Self, Error> {
        let mut doc = Self::new(usize::MAX);
        doc.apply(history)?;
        Ok(doc)
    }
}
