//! A replicated key-value store: the textbook eventually consistent store,
//! done so that no concurrent write is ever silently lost.

use crdt_core::{CausalContext, Decompose, InvalidState, Lattice, ReplicaId};
use crdt_sync::Replicated;
use crdt_types::{CausalCounter, CausalCrdt, MvRegister, OrMap, OrSet};
use serde::{Deserialize, Serialize};

/// The state of a replicated key-value store: string registers with
/// multi-value semantics (concurrent puts become siblings), counters and
/// sets, each kind under its own keys.
///
/// `get` returns the values with their causal context; a `put` that carries
/// that context replaces exactly the siblings that were read, so a put made
/// without seeing a concurrent one never erases it (the lost update of a
/// last-writer-wins store).
///
/// Design note: the three maps mint dots independently, so each writes
/// under its own replica id derived from the writer's (the high byte marks
/// the map). Their contexts are then disjoint, and their union is one
/// digest: a peer that was away gets exactly what it lacks from all three.
///
/// ```
/// use crdt_core::{Lattice, ReplicaId};
/// use crdt_net::KvState;
/// let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
/// let mut x = KvState::new();
/// let mut y = KvState::new();
/// let (_, ctx) = x.get("bio");
/// let d1 = x.put(a, "bio", "likes tea".into(), &ctx);
/// let d2 = y.put(b, "bio", "likes coffee".into(), &ctx); // concurrent
/// x.join(&d2);
/// y.join(&d1);
/// let (mut values, seen) = x.get("bio");
/// values.sort();
/// assert_eq!(values, ["likes coffee", "likes tea"]); // siblings, none lost
/// let d3 = x.put(a, "bio", "likes both".into(), &seen); // resolves them
/// y.join(&d3);
/// assert_eq!(y.get("bio").0, ["likes both"]);
/// ```
#[derive(Clone, Default, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct KvState {
    registers: OrMap<String, MvRegister<String>>,
    counters: OrMap<String, CausalCounter>,
    sets: OrMap<String, OrSet<String>>,
}

/// The replica id a map writes under: the writer's, tagged by map.
fn from_causal<V: CausalCrdt>(state: crdt_core::Causal<V::Store>) -> V {
    V::from_causal(state)
}

fn tagged(replica: ReplicaId, map: u8) -> ReplicaId {
    let v = replica.as_u128() & !(0xff << 120);
    ReplicaId::from_u128(v | (u128::from(map) << 120))
}

impl KvState {
    /// The empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The values of `key` (several if puts were concurrent) and the context
    /// to hand back to [`KvState::put`].
    #[must_use]
    pub fn get(&self, key: &str) -> (Vec<String>, CausalContext) {
        match self.registers.get(&key.to_string()) {
            Some(view) => {
                let values = view.values().cloned().collect();
                let context = view.store().iter().map(|(d, _)| d).collect();
                (values, context)
            }
            None => (Vec::new(), CausalContext::new()),
        }
    }

    /// Puts `value` under `key`, replacing exactly the siblings in `context`
    /// (from a [`KvState::get`], here or on another replica). Returns the
    /// delta to ship.
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn put(
        &mut self,
        replica: ReplicaId,
        key: &str,
        value: String,
        context: &CausalContext,
    ) -> Self {
        let me = tagged(replica, 0);
        let registers = self
            .registers
            .update(key.to_string(), |r| r.write_seen(me, value, context));
        Self {
            registers,
            ..Self::default()
        }
    }

    /// Removes `key`'s register (the values it has seen).
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn delete(&mut self, key: &str) -> Self {
        Self {
            registers: self.registers.remove(&key.to_string()),
            ..Self::default()
        }
    }

    /// Adds `by` to the counter `key`.
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn add(&mut self, replica: ReplicaId, key: &str, by: i64) -> Self {
        let me = tagged(replica, 1);
        let counters = self.counters.update(key.to_string(), |c| {
            if by >= 0 {
                c.increment(me, by.unsigned_abs())
            } else {
                c.decrement(me, by.unsigned_abs())
            }
        });
        Self {
            counters,
            ..Self::default()
        }
    }

    /// The counter `key` (0 if never written).
    #[must_use]
    pub fn count(&self, key: &str) -> i64 {
        self.counters.get(&key.to_string()).map_or(0, |c| c.value())
    }

    /// Adds `member` to the set `key` (add wins over a concurrent remove).
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn set_add(&mut self, replica: ReplicaId, key: &str, member: &str) -> Self {
        let me = tagged(replica, 2);
        let sets = self
            .sets
            .update(key.to_string(), |s| s.insert(me, member.to_string()));
        Self {
            sets,
            ..Self::default()
        }
    }

    /// Removes `member` from the set `key` (the adds this replica has seen).
    #[must_use = "the delta is what replicas ship to each other"]
    pub fn set_remove(&mut self, key: &str, member: &str) -> Self {
        let sets = self
            .sets
            .update(key.to_string(), |s| s.remove(&member.to_string()));
        Self {
            sets,
            ..Self::default()
        }
    }

    /// The members of the set `key`, sorted.
    #[must_use]
    pub fn members(&self, key: &str) -> Vec<String> {
        self.sets
            .get(&key.to_string())
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Register keys with more than one value (unresolved concurrent puts).
    #[must_use]
    pub fn conflicts(&self) -> usize {
        self.registers.iter().filter(|(_, v)| v.len() > 1).count()
    }
}

impl Lattice for KvState {
    fn join(&mut self, other: &Self) {
        self.registers.join(&other.registers);
        self.counters.join(&other.counters);
        self.sets.join(&other.sets);
    }

    fn leq(&self, other: &Self) -> bool {
        self.registers.leq(&other.registers)
            && self.counters.leq(&other.counters)
            && self.sets.leq(&other.sets)
    }

    fn is_bottom(&self) -> bool {
        self.registers.is_bottom() && self.counters.is_bottom() && self.sets.is_bottom()
    }
}

impl Decompose for KvState {
    fn decompose(&self) -> Vec<Self> {
        let r = self
            .registers
            .decompose()
            .into_iter()
            .map(|registers| Self {
                registers,
                ..Self::default()
            });
        let c = self.counters.decompose().into_iter().map(|counters| Self {
            counters,
            ..Self::default()
        });
        let s = self.sets.decompose().into_iter().map(|sets| Self {
            sets,
            ..Self::default()
        });
        r.chain(c).chain(s).collect()
    }

    fn delta_from(&self, known: &Self) -> Self {
        Self {
            registers: self.registers.delta_from(&known.registers),
            counters: self.counters.delta_from(&known.counters),
            sets: self.sets.delta_from(&known.sets),
        }
    }
}

impl Replicated for KvState {
    fn validate(&self) -> Result<(), InvalidState> {
        self.registers.validate()?;
        self.counters.validate()?;
        self.sets.validate()
    }

    fn digest(&self) -> Option<CausalContext> {
        let mut d = self.registers.as_causal().context().clone();
        d.join(self.counters.as_causal().context());
        d.join(self.sets.as_causal().context());
        Some(d)
    }

    /// Cuts the inner map with the most dots at its median dot (the kernel's
    /// `O(n)` split); the other maps stay in the first half. When no map has
    /// two dots, the maps themselves are separated.
    fn split(&self) -> Option<(Self, Self)> {
        let sizes = [
            self.registers.as_causal().context().len(),
            self.counters.as_causal().context().len(),
            self.sets.as_causal().context().len(),
        ];
        let biggest = (0..3).max_by_key(|&i| sizes[i]).unwrap_or(0);
        if sizes[biggest] >= 2 {
            let mut left = self.clone();
            let mut right = Self::default();
            match biggest {
                0 => {
                    let (l, r) = self.registers.as_causal().split()?;
                    (left.registers, right.registers) = (from_causal(l), from_causal(r));
                }
                1 => {
                    let (l, r) = self.counters.as_causal().split()?;
                    (left.counters, right.counters) = (from_causal(l), from_causal(r));
                }
                _ => {
                    let (l, r) = self.sets.as_causal().split()?;
                    (left.sets, right.sets) = (from_causal(l), from_causal(r));
                }
            }
            return Some((left, right));
        }
        // At most one dot per map: give the first non-empty map its own half.
        let nonempty: Vec<usize> = (0..3).filter(|&i| sizes[i] > 0).collect();
        if nonempty.len() < 2 {
            return None;
        }
        let mut left = Self::default();
        let mut right = self.clone();
        match nonempty[0] {
            0 => left.registers = std::mem::take(&mut right.registers),
            1 => left.counters = std::mem::take(&mut right.counters),
            _ => left.sets = std::mem::take(&mut right.sets),
        }
        Some((left, right))
    }

    /// Each inner map writes under the writer's id tagged for that map.
    fn mints_as(me: ReplicaId, id: ReplicaId) -> bool {
        (0..3).any(|map| tagged(me, map) == id)
    }

    fn missing_for(&self, digest: &CausalContext) -> Option<Self> {
        Some(Self {
            registers: CausalCrdt::from_causal(self.registers.as_causal().delta_for(digest)),
            counters: CausalCrdt::from_causal(self.counters.as_causal().delta_for(digest)),
            sets: CausalCrdt::from_causal(self.sets.as_causal().delta_for(digest)),
        })
    }
}
