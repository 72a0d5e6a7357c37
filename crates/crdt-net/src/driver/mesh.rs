//! The driver's side of membership: which peers the engine syncs with.
//!
//! A node with [`crate::Membership`] dials the peers membership chose
//! (whatever their ids) and accepts a connection from any peer whose
//! certificate the cluster's CA signed. When two peers chose each other,
//! the smaller id's connection is kept: the smaller refuses the larger's
//! while its own dialer runs, and the larger stops dialing once the
//! smaller's connection arrives. A peer that is neither static, nor chosen,
//! nor connected is removed from the engine, so it pins no buffers.

use std::collections::BTreeMap;
use std::mem;
use std::net::SocketAddr;
use std::sync::{Arc, PoisonError};
use std::time::Instant;

use crdt_sync::{PeerId, Replicated};
use tokio::task::AbortHandle;

use super::{Driver, Known};
use crate::conn;

/// Why a node syncs with a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// From [`crate::NodeConfig::peers`] or [`crate::NodeHandle::add_peer`]:
    /// the smaller id dials.
    Static,
    /// Chosen by membership: this node keeps a connection up.
    Chosen,
    /// It dialed this node (it chose it).
    Inbound,
}

impl<T: Replicated + Send + 'static> Driver<T> {
    /// Takes what membership decided since the last turn: members down,
    /// then the latest choice of peers to dial.
    pub(super) fn apply_membership(&mut self, now: Instant) {
        let down = mem::take(
            &mut *self
                .control
                .down
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for peer in down {
            if self
                .known
                .get(&peer)
                .is_some_and(|k| k.kind != Kind::Static)
            {
                tracing::info!(node = self.config.me.0, peer = peer.0, "peer down: removed");
                self.forget(peer);
            }
        }
        let wanted = self
            .control
            .wanted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(wanted) = wanted {
            self.choose(&wanted, now);
        }
    }

    /// Stops syncing with `peer`: its dialer, its connection and its
    /// engine peer (with the buffers kept for it) go.
    fn forget(&mut self, peer: PeerId) {
        if let Some(d) = self.known.remove(&peer).and_then(|k| k.dialer) {
            d.abort();
        }
        self.close(peer);
        self.engine.remove_peer(peer);
    }

    /// Dials the peers in `wanted`, stops dialing the other chosen ones
    /// (a connection they dialed stays: it is their choice).
    fn choose(&mut self, wanted: &BTreeMap<PeerId, SocketAddr>, now: Instant) {
        let dropped: Vec<PeerId> = self
            .known
            .iter()
            .filter(|(p, k)| k.kind == Kind::Chosen && !wanted.contains_key(p))
            .map(|(&p, _)| p)
            .collect();
        for peer in dropped {
            let inbound = self.conns.contains_key(&peer);
            match self.known.get_mut(&peer) {
                Some(k) if k.dialer.is_none() && inbound => k.kind = Kind::Inbound,
                _ => self.forget(peer),
            }
        }
        for (&peer, &addr) in wanted {
            match self.known.get_mut(&peer) {
                Some(k) if k.kind == Kind::Static => {}
                Some(k) if k.kind == Kind::Chosen && k.addr == Some(addr) => {}
                Some(k) if k.kind == Kind::Inbound => {
                    // Connected already, by its own dialer.
                    k.kind = Kind::Chosen;
                    k.addr = Some(addr);
                }
                known => {
                    if known.is_some() {
                        self.forget(peer); // chosen at another address
                    }
                    let dialer = Some(self.dial(peer, addr));
                    let k = Known {
                        addr: Some(addr),
                        dialer,
                        kind: Kind::Chosen,
                    };
                    self.known.insert(peer, k);
                    self.engine.add_peer(peer, now);
                }
            }
        }
    }

    /// Starts a task that keeps a connection to `peer` at `addr` up.
    pub(super) fn dial(&self, peer: PeerId, addr: SocketAddr) -> AbortHandle {
        self.rt
            .spawn(conn::dial_loop(
                peer,
                addr,
                self.net_tx.clone(),
                self.config.clone(),
                Arc::clone(&self.control),
            ))
            .abort_handle()
    }

    /// Whether to keep a new connection with `peer` (which this node
    /// dialed, or which dialed it).
    pub(super) fn admit(&mut self, peer: PeerId, dialed_here: bool) -> bool {
        let me = self.config.me;
        let membership = self.config.membership.is_some();
        match self.known.get_mut(&peer) {
            None if membership && !dialed_here => {
                let k = Known {
                    addr: None,
                    dialer: None,
                    kind: Kind::Inbound,
                };
                self.known.insert(peer, k);
                true
            }
            None => {
                tracing::warn!(peer = peer.0, "refusing a connection from an unknown peer");
                self.net.connections_rejected += 1;
                false
            }
            Some(k) if k.kind == Kind::Chosen && !dialed_here => {
                if k.dialer.is_some() && me < peer {
                    tracing::debug!(peer = peer.0, "both dialed: keeping this node's connection");
                    return false;
                }
                if let Some(d) = k.dialer.take() {
                    d.abort(); // the smaller id's connection wins
                }
                true
            }
            Some(_) => true,
        }
    }

    /// After the connection with `peer` closed: a peer that only dialed in
    /// is forgotten; a chosen one whose connection was the other side's is
    /// dialed from here now.
    pub(super) fn closed(&mut self, peer: PeerId) {
        let Some(k) = self.known.get(&peer) else {
            return;
        };
        match (k.kind, k.dialer.is_none(), k.addr) {
            (Kind::Inbound, _, _) => self.forget(peer),
            (Kind::Chosen, true, Some(addr)) => {
                let dialer = self.dial(peer, addr);
                if let Some(k) = self.known.get_mut(&peer) {
                    k.dialer = Some(dialer);
                }
            }
            _ => {}
        }
    }
}
