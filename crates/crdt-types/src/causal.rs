//! [`CausalCrdt`]: the types that are thin newtypes over [`Causal`], and
//! [`View`], a borrowed read-only handle on one of them.

use std::fmt;

use crdt_core::{Causal, CausalContext, Decompose, DotStore, InvalidState};

/// A replicated type that is a thin newtype over [`Causal`]`<Self::Store>`.
///
/// Every causal type of this crate implements it, and it is what lets a type
/// live inside an [`OrMap`](crate::OrMap): the map keeps only the *store* of
/// each value under its key, with one causal context shared by all keys. To
/// run a mutator on a value, the map lends the key's store and the shared
/// context out as a whole value ([`CausalCrdt::from_causal`]), and takes them
/// back afterwards ([`CausalCrdt::into_causal`]); both are moves, not copies.
///
/// The join is always the kernel's one causal join on `Causal<Self::Store>`;
/// an implementation adds only its mutators, its reads, and (optionally)
/// invariants of its store beyond the kernel's ([`CausalCrdt::check_store`]).
pub trait CausalCrdt: Decompose + fmt::Debug {
    /// The dot store that holds this type's live dots.
    type Store: DotStore;

    /// Wraps a causal state. Does not check it: a state from elsewhere must
    /// go through the type's `validate()` (deserialization does).
    fn from_causal(state: Causal<Self::Store>) -> Self;

    /// The causal state (store and context).
    fn as_causal(&self) -> &Causal<Self::Store>;

    /// Unwraps the causal state.
    fn into_causal(self) -> Causal<Self::Store>;

    /// Invariants of a store beyond the kernel's (which
    /// [`Causal::validate`] checks), such as "no zero counter". The default
    /// accepts every store.
    fn check_store(store: &Self::Store) -> Result<(), InvalidState> {
        let _ = store;
        Ok(())
    }

    /// A borrowed, read-only handle on the value (what [`OrMap::get`]
    /// returns for a nested value).
    ///
    /// [`OrMap::get`]: crate::OrMap::get
    #[must_use]
    fn view(&self) -> View<'_, Self>
    where
        Self: Sized,
    {
        View::new(self.as_causal().store())
    }
}

/// A read-only view of a causal value: its store, without its context.
///
/// Reads never need the context, so a value nested in an
/// [`OrMap`](crate::OrMap) is read through a `View` of the store under its key,
/// with no copy. Each type offers the same reads on its `View` as on itself
/// (`View<'_, OrSet<T>>::contains`, `View<'_, MvRegister<T>>::values`, ...).
///
/// ```
/// use crdt_types::{CausalCrdt, OrMap, OrSet, ReplicaId, View};
/// let me = ReplicaId::from_u128(1);
/// let mut tags: OrMap<&str, OrSet<&str>> = OrMap::new();
/// let _ = tags.update("report", |t| t.insert(me, "draft"));
/// // `get` lends a view of the value under the key: no copy.
/// let report: View<'_, OrSet<&str>> = tags.get(&"report").unwrap();
/// assert!(report.contains(&"draft"));
/// assert_eq!(report.len(), 1);
/// // A whole value gives the same reads through `view()`.
/// let mut set = OrSet::new();
/// let _ = set.insert(me, "draft");
/// assert_eq!(set.view(), report);
/// ```
pub struct View<'a, V: CausalCrdt> {
    store: &'a V::Store,
}

impl<'a, V: CausalCrdt> View<'a, V> {
    /// A view of `store` read as a `V`.
    #[must_use]
    pub fn new(store: &'a V::Store) -> Self {
        Self { store }
    }

    /// The underlying store.
    #[must_use]
    pub fn store(self) -> &'a V::Store {
        self.store
    }
}

impl<V: CausalCrdt> Clone for View<'_, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<V: CausalCrdt> Copy for View<'_, V> {}

impl<V: CausalCrdt> fmt::Debug for View<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("View").field(self.store).finish()
    }
}

impl<V: CausalCrdt> PartialEq for View<'_, V> {
    fn eq(&self, other: &Self) -> bool {
        self.store == other.store
    }
}

/// A causal state from parts that are known to be valid (built by a mutator:
/// every dot put in `store` is in `context`).
#[inline]
pub(crate) fn assemble<S: DotStore>(store: S, context: CausalContext) -> Causal<S> {
    let mut state = Causal::new();
    let (s, c) = state.parts_mut();
    *s = store;
    *c = context;
    state
}

/// The kernel invariants and the type's own, for `validate()`.
pub(crate) fn validate<V: CausalCrdt>(state: &Causal<V::Store>) -> Result<(), InvalidState> {
    state.validate()?;
    V::check_store(state.store())
}

/// The shared impls of a causal newtype `struct T(Causal<Store>)`: `Default`
/// (the bottom state), the `CausalCrdt`, `Lattice` and `Decompose` impls (all
/// delegating to the kernel's one causal join, unless `join = path` names a
/// type's fast path for it), `validate`, and serde (the encoding of the
/// `Causal`; decoding validates).
macro_rules! causal_crdt {
    // The join: the kernel's, or the type's own fast path (`join = path`,
    // a `fn(&mut T, &T)` that must compute exactly the kernel's join).
    (@join $s:ident, $o:ident) => {
        $s.0.join(&$o.0)
    };
    (@join $s:ident, $o:ident, $join:path) => {
        $join($s, $o)
    };
    (@join_owned $s:ident, $o:ident) => {
        $s.0.join_owned($o.0)
    };
    (@join_owned $s:ident, $o:ident, $join:path) => {
        $join($s, &$o)
    };
    (impl[$($g:tt)*] $ty:ty => $store:ty $(, check = $check:path)? $(, join = $join:path)?) => {
        impl<$($g)*> Default for $ty {
            fn default() -> Self {
                Self(::crdt_core::Causal::default())
            }
        }

        impl<$($g)*> $crate::CausalCrdt for $ty {
            type Store = $store;

            fn from_causal(state: ::crdt_core::Causal<$store>) -> Self {
                Self(state)
            }

            fn as_causal(&self) -> &::crdt_core::Causal<$store> {
                &self.0
            }

            fn into_causal(self) -> ::crdt_core::Causal<$store> {
                self.0
            }

            $(
                fn check_store(store: &$store) -> Result<(), ::crdt_core::InvalidState> {
                    $check(store)
                }
            )?
        }

        impl<$($g)*> ::crdt_core::Lattice for $ty {
            fn join(&mut self, other: &Self) {
                $crate::causal::causal_crdt!(@join self, other $(, $join)?);
            }

            fn join_owned(&mut self, other: Self) {
                $crate::causal::causal_crdt!(@join_owned self, other $(, $join)?);
            }

            fn leq(&self, other: &Self) -> bool {
                self.0.leq(&other.0)
            }

            fn is_bottom(&self) -> bool {
                self.0.is_bottom()
            }
        }

        impl<$($g)*> ::crdt_core::Decompose for $ty {
            fn decompose(&self) -> Vec<Self> {
                self.0.decompose().into_iter().map(Self).collect()
            }

            fn delta_from(&self, known: &Self) -> Self {
                Self(self.0.delta_from(&known.0))
            }

            fn into_delta_from(self, known: &Self) -> Self {
                Self(self.0.into_delta_from(&known.0))
            }
        }

        impl<$($g)*> $ty {
            /// Checks the invariants of a state received from elsewhere: every
            /// dot in the store is in the context, no dot is held twice, the
            /// store is canonical (sorted, no empty entries), and the type's own
            /// rules hold. Decoding runs this; a state that fails must be dropped.
            pub fn validate(&self) -> Result<(), ::crdt_core::InvalidState> {
                $crate::causal::validate::<Self>(&self.0)
            }
        }

        impl<$($g)*> ::serde::Serialize for $ty
        where
            ::crdt_core::Causal<$store>: ::serde::Serialize,
        {
            fn serialize<Ser: ::serde::Serializer>(
                &self,
                serializer: Ser,
            ) -> Result<Ser::Ok, Ser::Error> {
                self.0.serialize(serializer)
            }
        }

        impl<'de, $($g)*> ::serde::Deserialize<'de> for $ty
        where
            ::crdt_core::Causal<$store>: ::serde::Deserialize<'de>,
        {
            /// Decodes and then validates; an invalid state is an error.
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                use ::serde::de::Error as _;
                // The kernel's Deserialize has validated the causal state;
                // what is left are the type's own rules.
                let state = ::crdt_core::Causal::<$store>::deserialize(deserializer)?;
                <Self as $crate::CausalCrdt>::check_store(state.store()).map_err(D::Error::custom)?;
                Ok(Self(state))
            }
        }
    };
}

pub(crate) use causal_crdt;
