//! SWIM membership (foca) over authenticated UDP, and the choice of the
//! bounded set of peers a node syncs with.
//!
//! Design note. Membership and sync are separate layers. SWIM (the
//! protocol foca implements) keeps a list of members by probing one random
//! member per period, asking a few others to probe it indirectly when it
//! does not answer, suspecting it, and declaring it down when the suspicion
//! is not refuted in time; changes ride piggyback on the probes, so every
//! member learns them in a logarithmic number of periods. It needs to reach
//! any member, cheaply and often, which is what datagrams are for: so its
//! messages travel over UDP, on the same port number as the node's TCP
//! listener. State never does: it flows only over the mutual-TLS
//! connections, whose certificate names the peer.
//!
//! Plain UDP is unauthenticated, so every datagram carries an HMAC-SHA256
//! tag under the cluster's membership key ([`Membership::key`]), checked
//! before foca sees a byte; a datagram without a valid tag is dropped and
//! counted ([`crate::NetMetrics::membership_rejected`]). Carrying SWIM over
//! the TLS connections instead would need a connection to every member
//! that may be probed, which is what the partial mesh is there to avoid.
//! What a holder of neither key nor certificate can do: nothing but have
//! datagrams dropped. What a replayed datagram (the tag has no freshness)
//! or a member holding the key but not a peer's certificate can do is bounded:
//! make a peer id look alive or down for a while. A node then dials that id
//! at the claimed address, and the TLS handshake refuses a certificate that
//! does not name it, so no state reaches an impostor; a peer wrongly seen
//! as down loses its engine buffers and is caught up by digest when it
//! is seen again. A node whose certificate is revoked must also be given a
//! new membership key.
//!
//! Identities are (peer id, address, generation); the generation is the
//! start time, so a restarted node is a new identity that replaces the old
//! one at the same address (foca's `win_addr_conflict`).
//!
//! Partial mesh: every [`Membership::reshuffle`] (and when a chosen member
//! goes down, or a slot is free and a member comes up) the node picks at
//! most [`Membership::fanout`] live members at random and dials them; it
//! also accepts connections from members that picked it. Each new
//! connection opens with a digest exchange, so whatever a node missed is
//! caught up; as the choices change, every pair of live nodes is joined by
//! a path of connections over time, so writes reach everyone.

use std::collections::{BTreeMap, hash_map::RandomState};
use std::hash::BuildHasher;
use std::io;
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf, BufMut};
use crdt_sync::PeerId;
use foca::{AccumulatingRuntime, Codec, Foca, Header, Member, OwnedNotification, Timer};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use ring::hmac;
use serde::{Deserialize, Serialize};
use tokio::net::UdpSocket;
use tokio::time::Instant;

use crate::driver::Control;

/// The length of the tag that ends every membership datagram.
const TAG: usize = 32;

/// The largest membership datagram (foca's packet plus the tag).
const MAX_PACKET: usize = 1400;

/// How a node finds the others: SWIM membership from seed addresses, and
/// the partial mesh it syncs over. Set in
/// [`NodeConfig::membership`](crate::NodeConfig::membership).
///
/// The node binds a UDP socket at the address its TCP listener got (same
/// IP, same port number), so that port must be free for UDP as well; a
/// seed address is a member's listening address.
///
/// ```
/// use crdt_net::Membership;
///
/// let m = Membership::new(vec!["127.0.0.1:7000".parse().unwrap()], [7; 32]);
/// assert_eq!(m.fanout, 4);
/// ```
#[derive(Clone, Debug)]
pub struct Membership {
    /// Addresses of members to announce this node to (any live member
    /// will do; the others are learned from it). May be empty for the
    /// first node.
    pub seeds: Vec<SocketAddr>,
    /// The cluster's shared membership key: every datagram is
    /// authenticated with HMAC-SHA256 under it. Distribute it like the
    /// node keys: [`MembershipKey`](crate::MembershipKey) generates one and
    /// writes it to a file only its owner can read.
    pub key: [u8; 32],
    /// The most peers this node dials to sync with. Default: 4.
    pub fanout: usize,
    /// How often the dialed peers are chosen again. Default: 5 s.
    pub reshuffle: Duration,
    /// Seeds the random choices (of SWIM and of peers), for tests; `None`
    /// (the default) seeds from the OS.
    pub rng_seed: Option<u64>,
    /// SWIM's probe period. Default: 500 ms.
    pub probe_period: Duration,
    /// How long a suspected member has to refute it before it is declared
    /// down. Default: 2 s.
    pub suspect_after: Duration,
}

impl Membership {
    /// Defaults, announcing to `seeds`, authenticated with `key`.
    #[must_use]
    pub fn new(seeds: Vec<SocketAddr>, key: [u8; 32]) -> Self {
        Self {
            seeds,
            key,
            fanout: 4,
            reshuffle: Duration::from_secs(5),
            rng_seed: None,
            probe_period: Duration::from_millis(500),
            suspect_after: Duration::from_secs(2),
        }
    }

    pub(crate) fn validate(&self) -> io::Result<()> {
        if self.fanout == 0 || self.probe_period.is_zero() || self.reshuffle.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "Membership: fanout, probe_period and reshuffle must be above zero",
            ));
        }
        Ok(())
    }

    fn swim(&self) -> foca::Config {
        let mut c = foca::Config::new_lan(NonZeroU32::MIN.saturating_add(31));
        c.probe_period = self.probe_period;
        c.probe_rtt = self.probe_period / 3;
        c.suspect_to_down_after = self.suspect_after;
        c.max_packet_size = NonZeroUsize::new(MAX_PACKET - TAG).unwrap_or(NonZeroUsize::MIN);
        c.periodic_announce = Some(foca::PeriodicParams {
            frequency: self.probe_period * 4,
            num_members: NonZeroUsize::MIN,
        });
        // Announcing to members declared down is what heals a partition
        // that cut membership datagrams too: once both sides have declared
        // each other down, nothing else would ever cross again.
        c.periodic_announce_to_down_members = Some(foca::PeriodicParams {
            frequency: self.probe_period * 4,
            num_members: NonZeroUsize::MIN,
        });
        c
    }
}

/// A member as SWIM knows it: a restarted node has a new generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Id {
    peer: u64,
    addr: SocketAddr,
    generation: u64,
}

impl foca::Identity for Id {
    type Addr = SocketAddr;

    fn renew(&self) -> Option<Self> {
        Some(Self {
            generation: self.generation.wrapping_add(1),
            ..*self
        })
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        self.generation > adversary.generation
    }
}

/// Encodes foca's headers and members with bincode (serde), bounded.
struct WireCodec;

/// A header or member that did not encode or decode.
#[derive(Debug)]
struct WireError(String);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WireError {}

fn wire() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_PACKET>()
}

fn put<V: Serialize>(v: &V, mut buf: impl BufMut) -> Result<(), WireError> {
    let bytes = bincode::serde::encode_to_vec(v, wire()).map_err(|e| WireError(e.to_string()))?;
    if buf.remaining_mut() < bytes.len() {
        return Err(WireError("no room".into()));
    }
    buf.put_slice(&bytes);
    Ok(())
}

fn take<V: for<'de> Deserialize<'de>>(mut buf: impl Buf) -> Result<V, WireError> {
    let (v, n) = bincode::serde::decode_from_slice(buf.chunk(), wire())
        .map_err(|e| WireError(e.to_string()))?;
    buf.advance(n);
    Ok(v)
}

impl Codec<Id> for WireCodec {
    type Error = WireError;

    fn encode_header(&mut self, h: &Header<Id>, buf: impl BufMut) -> Result<(), WireError> {
        put(h, buf)
    }

    fn decode_header(&mut self, buf: impl Buf) -> Result<Header<Id>, WireError> {
        take(buf)
    }

    fn encode_member(&mut self, m: &Member<Id>, buf: impl BufMut) -> Result<(), WireError> {
        put(m, buf)
    }

    fn decode_member(&mut self, buf: impl Buf) -> Result<Member<Id>, WireError> {
        take(buf)
    }
}

/// The membership task of one node.
pub(crate) struct Swim {
    foca: Foca<Id, WireCodec, SmallRng, foca::NoCustomBroadcast>,
    rt: AccumulatingRuntime<Id>,
    socket: UdpSocket,
    key: hmac::Key,
    settings: Membership,
    me: PeerId,
    rng: SmallRng,
    /// Live members by peer id, every identity SWIM holds active: a
    /// restarted node's old identity stays active (and may even be
    /// renamed) until it is declared down, beside the new one. The one
    /// dialed is the newest ([`Swim::newest`]).
    live: BTreeMap<PeerId, Vec<Id>>,
    /// The peers this node dials.
    chosen: BTreeMap<PeerId, SocketAddr>,
    timers: BTreeMap<(Instant, u64), Timer<Id>>,
    next_timer: u64,
    control: Arc<Control>,
}

impl Swim {
    /// Binds the membership socket at `addr` (the node's listening
    /// address).
    pub(crate) async fn bind(
        me: PeerId,
        addr: SocketAddr,
        settings: Membership,
        control: Arc<Control>,
    ) -> io::Result<Self> {
        let socket = UdpSocket::bind(addr).await?;
        control.members_alive.store(1, Ordering::Relaxed);
        let seed = settings
            .rng_seed
            .unwrap_or_else(|| RandomState::new().hash_one(me.0));
        let generation = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let id = Id {
            peer: me.0,
            addr,
            generation,
        };
        let foca = Foca::new(
            id,
            settings.swim(),
            SmallRng::seed_from_u64(seed),
            WireCodec,
        );
        Ok(Self {
            foca,
            rt: AccumulatingRuntime::new(),
            socket,
            key: hmac::Key::new(hmac::HMAC_SHA256, &settings.key),
            rng: SmallRng::seed_from_u64(seed.rotate_left(17) ^ 0x5eed),
            settings,
            me,
            live: BTreeMap::new(),
            chosen: BTreeMap::new(),
            timers: BTreeMap::new(),
            next_timer: 0,
            control,
        })
    }

    /// Runs until the node stops (`stopped` resolves).
    pub(crate) async fn run(mut self, stopped: impl std::future::Future<Output = ()>) {
        for seed in self.settings.seeds.clone() {
            let to = Id {
                peer: 0,
                addr: seed,
                generation: 0,
            };
            if let Err(e) = self.foca.announce(to, &mut self.rt) {
                tracing::warn!(%seed, reason = %e, "announce failed");
            }
        }
        self.drain().await;
        let mut reshuffle = tokio::time::interval(self.settings.reshuffle);
        let mut buf = vec![0u8; MAX_PACKET + 1];
        tokio::pin!(stopped);
        loop {
            let next = self.timers.keys().next().map(|&(at, _)| at);
            tokio::select! {
                () = &mut stopped => return,
                got = self.socket.recv_from(&mut buf) => {
                    if let Ok((n, from)) = got {
                        self.receive(&buf[..n], from);
                    }
                }
                () = sleep_until(next) => self.fire(Instant::now()),
                _ = reshuffle.tick() => self.choose(true),
            }
            self.drain().await;
        }
    }

    /// Checks a datagram's tag and hands it to foca; drops it otherwise.
    fn receive(&mut self, datagram: &[u8], from: SocketAddr) {
        if self.control.isolated.load(Ordering::SeqCst) {
            return; // cut off (`NodeHandle::isolate`): as if never received
        }
        let verified = datagram
            .len()
            .checked_sub(TAG)
            .filter(|_| datagram.len() <= MAX_PACKET)
            .map(|split| datagram.split_at(split))
            .filter(|(body, tag)| hmac::verify(&self.key, body, tag).is_ok());
        let Some((body, _)) = verified else {
            self.control
                .membership_rejected
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%from, bytes = datagram.len(), "membership datagram refused: bad tag");
            return;
        };
        if let Err(e) = self.foca.handle_data(body, &mut self.rt) {
            tracing::debug!(%from, reason = %e, "membership datagram ignored");
        }
    }

    fn fire(&mut self, now: Instant) {
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let timer = entry.remove();
            if let Err(e) = self.foca.handle_timer(timer, &mut self.rt) {
                tracing::debug!(reason = %e, "membership timer failed");
            }
        }
    }

    /// Sends, schedules and applies what foca asked for.
    async fn drain(&mut self) {
        while let Some((to, data)) = self.rt.to_send() {
            if self.control.isolated.load(Ordering::SeqCst) {
                continue; // cut off: as if lost on the way
            }
            let tag = hmac::sign(&self.key, &data);
            let mut datagram = Vec::with_capacity(data.len() + TAG);
            datagram.extend_from_slice(&data);
            datagram.extend_from_slice(tag.as_ref());
            if let Err(e) = self.socket.send_to(&datagram, to.addr).await {
                tracing::debug!(addr = %to.addr, reason = %e, "membership send failed");
            }
        }
        while let Some((after, timer)) = self.rt.to_schedule() {
            self.next_timer += 1;
            self.timers
                .insert((Instant::now() + after, self.next_timer), timer);
        }
        let mut changed = false;
        while let Some(n) = self.rt.to_notify() {
            changed |= self.notify(n);
        }
        if changed {
            self.control
                .members_alive
                .store(self.live.len() + 1, Ordering::Relaxed);
            self.choose(false);
        }
    }

    /// Applies a membership change; whether the live set changed.
    ///
    /// Each identity is tracked on its own, so the order in which foca
    /// reports a restarted member's new identity and its old one's rename
    /// or death cannot hide the new one (as a single slot per peer did:
    /// the old identity's rename overwrote the new one, whose later death
    /// then removed the peer while foca still held it alive). This node's
    /// own older identities are not members.
    fn notify(&mut self, n: OwnedNotification<Id>) -> bool {
        match n {
            OwnedNotification::MemberUp(id) if id.peer != self.me.0 => {
                tracing::info!(node = self.me.0, peer = id.peer, addr = %id.addr, "member up");
                let ids = self.live.entry(PeerId(id.peer)).or_default();
                if !ids.contains(&id) {
                    ids.push(id);
                }
                true
            }
            OwnedNotification::MemberDown(id) if id.peer != self.me.0 => {
                let peer = PeerId(id.peer);
                let Some(ids) = self.live.get_mut(&peer) else {
                    return false;
                };
                let before = ids.len();
                ids.retain(|i| *i != id);
                if ids.len() == before {
                    return false; // not active here (an older identity)
                }
                tracing::info!(node = self.me.0, peer = id.peer, addr = %id.addr, "member down");
                if ids.is_empty() {
                    self.live.remove(&peer);
                    self.chosen.remove(&peer);
                    self.control.member_down(peer);
                }
                true
            }
            // Foca renames an identity it held (active or down) to a newer
            // one: the new one is active if the old one was, else a
            // `MemberUp` follows when it is (and a `MemberDown` follows a
            // rename of an active identity to a down one).
            OwnedNotification::Rename(old, new) if old.peer != self.me.0 => {
                let Some(ids) = self.live.get_mut(&PeerId(old.peer)) else {
                    return false;
                };
                let Some(at) = ids.iter().position(|i| *i == old) else {
                    return false;
                };
                if ids.contains(&new) {
                    ids.swap_remove(at);
                } else {
                    ids[at] = new;
                }
                true
            }
            _ => false,
        }
    }

    /// The identity to dial for `peer`: its newest live one.
    fn newest(ids: &[Id]) -> Option<&Id> {
        ids.iter().max_by_key(|i| i.generation)
    }

    /// Chooses the peers to dial: all anew if `all`, else keeps the live
    /// choices (at their current address) and fills free slots.
    fn choose(&mut self, all: bool) {
        let live = &self.live;
        let before = self.chosen.clone();
        self.chosen.retain(|p, addr| {
            !all && live
                .get(p)
                .and_then(|ids| Self::newest(ids))
                .is_some_and(|id| id.addr == *addr)
        });
        let mut free: Vec<(PeerId, SocketAddr)> = live
            .iter()
            .filter(|(p, _)| **p != self.me && !self.chosen.contains_key(p))
            .filter_map(|(&p, ids)| Some((p, Self::newest(ids)?.addr)))
            .collect();
        free.shuffle(&mut self.rng);
        let room = self.settings.fanout.saturating_sub(self.chosen.len());
        self.chosen.extend(free.into_iter().take(room));
        if self.chosen != before {
            tracing::debug!(node = self.me.0, peers = ?self.chosen.keys().map(|p| p.0).collect::<Vec<_>>(), "sync peers chosen");
            self.control.want(self.chosen.clone());
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A membership task bound on loopback, and its datagram signer.
    async fn swim() -> Swim {
        let settings = Membership::new(Vec::new(), [3; 32]);
        let addr = "127.0.0.1:0".parse().unwrap();
        Swim::bind(PeerId(1), addr, settings, Control::new())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn untrusted_datagrams_are_dropped_or_refused_never_panic() {
        let mut s = swim().await;
        let from = "127.0.0.1:9".parse().unwrap();
        let signed = |s: &Swim, body: &[u8]| {
            let mut d = body.to_vec();
            d.extend_from_slice(hmac::sign(&s.key, body).as_ref());
            d
        };
        // Too short for a tag, a bad tag, oversized: refused by the tag check.
        for d in [
            vec![],
            vec![1; TAG - 1],
            vec![1; 100],
            vec![0; MAX_PACKET + 1],
        ] {
            s.receive(&d, from);
        }
        assert_eq!(s.control.membership_rejected.load(Ordering::Relaxed), 4);
        // Signed with the key, but garbage or truncated for foca: ignored.
        for body in [&[][..], &[0xff; 40][..], &[1, 2, 3][..], &[0; 1300][..]] {
            let d = signed(&s, body);
            s.receive(&d, from);
        }
        assert_eq!(s.control.membership_rejected.load(Ordering::Relaxed), 4);
        assert!(s.live.is_empty());
        assert_eq!(s.foca.iter_members().count(), 0);
    }

    /// The demo's failure in CI (membership never saw three members again
    /// after a restart): the restarted member came up under its new
    /// address, then the old identity's rename (it had renewed itself
    /// after a partition) overwrote it, and the old identity's death
    /// removed the peer, while foca still held the new identity alive and
    /// would never report it up again.
    #[tokio::test]
    async fn a_renamed_old_identity_does_not_hide_the_restarted_member() {
        use foca::Identity;
        let mut s = swim().await;
        let old = Id {
            peer: 2,
            addr: "127.0.0.1:7000".parse().unwrap(),
            generation: 10,
        };
        let restarted = Id {
            peer: 2,
            addr: "127.0.0.1:7001".parse().unwrap(),
            generation: 50,
        };
        let renewed = old.renew().unwrap();
        assert!(s.notify(OwnedNotification::MemberUp(old)));
        assert!(s.notify(OwnedNotification::MemberUp(restarted)));
        assert!(s.notify(OwnedNotification::Rename(old, renewed)));
        assert!(s.notify(OwnedNotification::MemberDown(renewed)));
        assert_eq!(
            s.live.get(&PeerId(2)).map(Vec::as_slice),
            Some(&[restarted][..])
        );
        s.choose(true);
        assert_eq!(s.chosen.get(&PeerId(2)), Some(&restarted.addr));
        // A rename of an identity not active here adds nothing; the down
        // of one never up changes nothing.
        let other = Id { peer: 3, ..old };
        assert!(!s.notify(OwnedNotification::Rename(other, other.renew().unwrap())));
        assert!(!s.notify(OwnedNotification::MemberDown(other)));
        assert!(!s.live.contains_key(&PeerId(3)));
        // This node's own older identity is not a member.
        let me = Id { peer: 1, ..old };
        assert!(!s.notify(OwnedNotification::MemberUp(me)));
        assert!(!s.live.contains_key(&PeerId(1)));
        // The last identity's death is the peer's.
        assert!(s.notify(OwnedNotification::MemberDown(restarted)));
        assert!(s.live.is_empty() && s.chosen.is_empty());
    }

    #[test]
    fn a_restarted_member_wins_its_address() {
        use foca::Identity;
        let old = Id {
            peer: 2,
            addr: "127.0.0.1:7000".parse().unwrap(),
            generation: 10,
        };
        let new = Id {
            generation: 11,
            ..old
        };
        assert!(new.win_addr_conflict(&old));
        assert!(!old.win_addr_conflict(&new));
        assert_eq!(old.renew().map(|r| r.generation), Some(11));
    }

    #[test]
    fn the_codec_round_trips_and_refuses_a_short_buffer() {
        let m = Member::alive(Id {
            peer: 5,
            addr: "[::1]:9".parse().unwrap(),
            generation: 1,
        });
        let mut buf = Vec::new();
        WireCodec.encode_member(&m, &mut buf).unwrap();
        let back = WireCodec.decode_member(&buf[..]).unwrap();
        assert_eq!(back, m);
        let mut small = [0u8; 2];
        assert!(WireCodec.encode_member(&m, &mut small[..]).is_err());
        assert!(WireCodec.decode_member(&buf[..2]).is_err());
    }
}
