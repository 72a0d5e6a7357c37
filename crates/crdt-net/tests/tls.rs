//! Attacks on mutual TLS over real sockets on 127.0.0.1. Each attack is
//! refused at the handshake, before any frame reaches the engine (node 1
//! opens no connection and its engine rejects none: the refusal is counted
//! in `handshakes_refused`), the attacker receives no byte of the engine's,
//! and the honest pair keeps syncing throughout.
//!
//! Every wait is [`common::wait_for`] a condition, with a deadline.

mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crdt_net::{ClusterCa, KvState, Node, NodeConfig, TlsIdentity, Transport};
use crdt_sync::PeerId;
use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, KeyPair};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

use common::{
    ABSENT, CLUSTER, DEADLINE, ca, cert, closed_by_peer, config, config_over, config_with_absent,
    metrics, pair, shutdown_all, start, tls, tls_client, wait_for, wait_until_converged,
};

/// How long the hijack test keeps trying.
const HIJACK_WINDOW: Duration = Duration::from_secs(10);

/// One attempt on node 1 at `addr`: a TLS handshake presenting `client`'s
/// certificate (none if `None`), then a hello claiming to be `claim`, then
/// reading until the node closes. How many bytes the node sent before it
/// closed (`None` if it did not close within the deadline); a handshake
/// the client itself saw fail counts as closed with nothing sent.
async fn attempt(addr: SocketAddr, client: Option<&TlsIdentity>, claim: PeerId) -> Option<usize> {
    let Ok(mut s) = tls_client(addr, PeerId(1), client).await else {
        return Some(0);
    };
    let mut hello = 8u32.to_be_bytes().to_vec();
    hello.extend_from_slice(&claim.0.to_be_bytes());
    if s.write_all(&hello).await.is_err() || s.flush().await.is_err() {
        return Some(0);
    }
    closed_by_peer(&mut s).await
}

/// Runs `attack` on node 1 of a synced pair while node 2 keeps writing.
/// `attack` gets node 1's address and node 2's handle, and returns how many
/// connections it made, each of which it has checked was closed with
/// nothing sent. Checks that node 1 refused exactly that many at the
/// handshake, opened none of them, and converged with node 2.
async fn under_attack<F, Fut>(attack: F)
where
    F: FnOnce(SocketAddr, crdt_net::NodeHandle<KvState>) -> Fut,
    Fut: Future<Output = u64>,
{
    let nodes = pair(config_with_absent(1)).await;
    let (h1, h2) = (nodes[0].handle(), nodes[1].handle());
    let before = wait_for(
        DEADLINE,
        "node 1 is connected to peer 2",
        || metrics(&h1),
        |m| m.connected_peers == 1,
    )
    .await;

    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (h1, h2, done) = (h1.clone(), h2.clone(), Arc::clone(&done));
        tokio::spawn(async move {
            let mut writes = 0u64;
            while !done.load(Ordering::SeqCst) {
                h2.write(|s, me| s.add(me, "likes", 1)).await.unwrap();
                writes += 1;
                // Paced by delivery: each honest write reaches node 1
                // while the attack runs before the next is made.
                let want = i64::try_from(writes).unwrap();
                wait_for(
                    DEADLINE,
                    &format!("node 1 holds honest write {writes}"),
                    || async { h1.read(|s| s.count("likes")).await.unwrap() },
                    |&likes| likes >= want,
                )
                .await;
            }
            writes
        })
    };
    let attempts = attack(h1.local_addr(), h1.clone()).await;
    done.store(true, Ordering::SeqCst);
    let writes = writer.await.unwrap();
    assert!(attempts > 0, "the attack made no connection");

    let m = wait_for(
        DEADLINE,
        &format!("node 1 counts {attempts} refusals"),
        || metrics(&h1),
        |m| m.handshakes_refused >= attempts,
    )
    .await;
    assert_eq!(m.handshakes_refused, attempts, "one per attempt: {m:?}");
    assert_eq!(
        (m.connections_opened, m.connections_rejected),
        (before.connections_opened, before.connections_rejected),
        "no attempt reached the engine, and peer 2's connection was never replaced: {m:?}"
    );
    wait_until_converged(&nodes).await;
    let likes = h1.read(|s| s.count("likes")).await.unwrap();
    assert_eq!(
        likes,
        i64::try_from(writes).unwrap(),
        "every honest write arrived"
    );
    shutdown_all(nodes).await;
}

/// Makes one attempt with `client` claiming to be peer 2 and checks it
/// was closed with nothing sent.
async fn refused_once(addr: SocketAddr, client: Option<&TlsIdentity>) -> u64 {
    assert_eq!(
        attempt(addr, client, PeerId(2)).await,
        Some(0),
        "closed, with nothing of the engine's sent"
    );
    1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_a_certificate_is_refused() {
    under_attack(|addr, _| refused_once(addr, None)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_of_another_ca_is_refused() {
    // Another CA, even one for a cluster of the same name.
    let other = ClusterCa::new(CLUSTER).unwrap();
    let id = other.issue(PeerId(2)).unwrap().identity().unwrap();
    under_attack(|addr, _| async move { refused_once(addr, Some(&id)).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_certificate_is_refused() {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["peer-2.test".to_string()]).unwrap();
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ClientAuth,
        ExtendedKeyUsagePurpose::ServerAuth,
    ];
    let own = params.self_signed(&key).unwrap();
    let id = TlsIdentity::from_pem(CLUSTER, &own.pem(), &own.pem(), &key.serialize_pem()).unwrap();
    assert_eq!(id.peer().unwrap(), PeerId(2), "it names peer 2");
    under_attack(|addr, _| async move { refused_once(addr, Some(&id)).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_certificate_of_the_cluster_is_refused() {
    let expired = ca().issue_valid_between(PeerId(2), 2000, 2001).unwrap();
    let id = expired.identity().unwrap();
    under_attack(|addr, _| async move { refused_once(addr, Some(&id)).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_tcp_bytes_to_a_tls_node_are_refused() {
    under_attack(|addr, _| async move {
        // The old plain handshake, claiming peer 2, then a frame.
        let mut s = TcpStream::connect(addr).await.unwrap();
        let mut bytes = 8u32.to_be_bytes().to_vec();
        bytes.extend_from_slice(&2u64.to_be_bytes());
        bytes.extend_from_slice(&5u32.to_be_bytes());
        bytes.extend_from_slice(b"junk!");
        s.write_all(&bytes).await.unwrap();
        let sent = closed_by_peer(&mut s).await.expect("the node closes");
        // A TLS alert at most, never a frame: a frame starts with a 4-byte
        // length, an alert is 7 bytes of record.
        assert!(sent <= 7, "the node sent {sent} bytes");
        1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_certificate_of_one_peer_cannot_claim_another() {
    // The hijack: peer 0's own, valid certificate of the cluster, and a
    // hello claiming to be peer 2, which is live. Over plain TCP this
    // used to take over peer 2's connection and receive its traffic.
    let c = cert(ABSENT.0).identity().unwrap();
    under_attack(|addr, h1| async move {
        let start = Instant::now();
        let likes_before = h1.read(|s| s.count("likes")).await.unwrap();
        let (mut attempts, mut succeeded) = (0u64, 0u64);
        while start.elapsed() < HIJACK_WINDOW {
            attempts += 1;
            if attempt(addr, Some(&c), PeerId(2)).await != Some(0) {
                succeeded += 1;
            }
        }
        let likes_after = h1.read(|s| s.count("likes")).await.unwrap();
        println!(
            "hijack: {attempts} attempts in {HIJACK_WINDOW:?}, {succeeded} succeeded; \
             node 1 received {} honest writes meanwhile",
            likes_after - likes_before
        );
        assert_eq!(succeeded, 0, "of {attempts} hijack attempts");
        assert!(
            attempts >= 10,
            "only {attempts} attempts in {HIJACK_WINDOW:?}"
        );
        assert!(
            likes_after > likes_before,
            "node 2's writes kept arriving during the attack"
        );
        attempts
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dialer_refuses_an_acceptor_that_is_not_the_peer_it_dialed() {
    // Node 1 is told that peer 4 listens where node 3 does. It dials (the
    // smaller id dials), and node 3's certificate names peer 3, not 4.
    let nodes = pair(config(1)).await;
    let third = start(config(3)).await;
    let (h1, h2, h3) = (nodes[0].handle(), nodes[1].handle(), third.handle());
    h1.add_peer(PeerId(4), h3.local_addr());
    h2.update(|s, me| s.add(me, "likes", 1)).unwrap();
    let m1 = wait_for(
        DEADLINE,
        "node 1 refuses node 3 twice (a first try and a retry)",
        || metrics(&h1),
        |m| m.handshakes_refused >= 2,
    )
    .await;
    assert_eq!(m1.connected_peers, 1, "only peer 2: {m1:?}");
    // Node 3 sees the dialer abort: counted there too, never opened.
    let m3 = metrics(&h3).await;
    assert_eq!(
        (m3.connections_opened, m3.connections_rejected),
        (0, 0),
        "nothing reached node 3's engine: {m3:?}"
    );
    wait_until_converged(&nodes).await;
    assert_eq!(h1.read(|s| s.count("likes")).await.unwrap(), 1);
    let _ = third.shutdown().await;
    shutdown_all(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_certificate_is_of_another_ca_cannot_dial_in() {
    // Node 1 trusts the cluster's CA but presents a certificate of another
    // CA: its side of the handshake completes, then node 2 refuses it, so
    // node 1 sees connections that open and close at once.
    let foreign = ClusterCa::new(CLUSTER).unwrap().issue(PeerId(1)).unwrap();
    let id = TlsIdentity::from_pem(
        CLUSTER,
        ca().cert_pem(),
        foreign.cert_pem(),
        foreign.key_pem(),
    )
    .unwrap();
    let b = start(config(2)).await;
    let a = start(config_over(1, Transport::tls(id).unwrap())).await;
    let (ha, hb) = (a.handle(), b.handle());
    hb.add_peer(PeerId(1), ha.local_addr());
    ha.add_peer(PeerId(2), hb.local_addr());
    ha.update(|s, me| s.add(me, "likes", 1)).unwrap();
    // Closed by node 2's alert, or by a reset if node 2 closed with node
    // 1's hello unread: either way closed, not refused by node 1.
    let m1 = wait_for(
        DEADLINE,
        "node 1's connections are closed at once, twice",
        || metrics(&ha),
        |m| m.connections_closed >= 2,
    )
    .await;
    assert_eq!(m1.handshakes_refused, 0, "node 1 trusted node 2: {m1:?}");
    // Node 2 counts a refusal after sending its alert: wait for it.
    let m2 = wait_for(
        DEADLINE,
        "node 2 refuses node 1 twice",
        || metrics(&hb),
        |m| m.handshakes_refused >= 2,
    )
    .await;
    assert_eq!(m2.connections_opened, 0, "{m2:?}");
    assert_eq!(hb.read(|s| s.count("likes")).await.unwrap(), 0);
    shutdown_all(vec![a, b]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_does_not_start_with_a_certificate_naming_another_peer() {
    let err = Node::start(
        NodeConfig::new(PeerId(1), "127.0.0.1:0".parse().unwrap(), tls(2)),
        crdt_core::ReplicaId::random(),
        KvState::new(),
    )
    .await
    .err()
    .expect("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("names peer 2"), "{err}");
}

#[test]
fn unreadable_pem_is_an_error() {
    let c = cert(1);
    for (ca_pem, chain, key) in [
        ("junk", c.cert_pem(), c.key_pem()),
        (c.ca_pem(), "", c.key_pem()),
        (
            c.ca_pem(),
            c.cert_pem(),
            "-----BEGIN PRIVATE KEY-----\nAAAA\n",
        ),
    ] {
        let id = TlsIdentity::from_pem(CLUSTER, ca_pem, chain, key);
        let refused = id.and_then(Transport::tls).err();
        assert!(refused.is_some(), "accepted {ca_pem:?} {chain:?} {key:?}");
    }
    assert!(TlsIdentity::from_pem("not a name!", c.ca_pem(), c.cert_pem(), c.key_pem()).is_err());
    assert!(TlsIdentity::from_pem_files(CLUSTER, "/nonexistent/crdt-net").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_tcp_still_works_when_opted_in_and_does_not_mix_with_tls() {
    let plain = || Transport::plain_tcp_insecure();
    let a = start(config_over(1, plain())).await;
    let b = start(config_over(2, plain())).await;
    b.handle().add_peer(PeerId(1), a.local_addr());
    a.handle().add_peer(PeerId(2), b.local_addr());
    // A TLS node 3 that both know: it can talk to neither.
    let c = start(config(3)).await;
    for (n, id) in [(&a, 1), (&b, 2)] {
        n.handle().add_peer(PeerId(3), c.local_addr());
        c.handle().add_peer(PeerId(id), n.local_addr());
    }
    a.handle()
        .update(|s, me| s.set_add(me, "tags", "plain"))
        .unwrap();
    let nodes = vec![a, b];
    wait_until_converged(&nodes).await;
    let hc = c.handle();
    let m = wait_for(
        DEADLINE,
        "the TLS node refuses both plain nodes' connections",
        || metrics(&hc),
        |m| m.handshakes_refused >= 2,
    )
    .await;
    assert_eq!(m.connected_peers, 0, "{m:?}");
    assert!(
        c.handle()
            .read(|s| s.members("tags"))
            .await
            .unwrap()
            .is_empty(),
        "nothing crossed between plain and TLS"
    );
    let _ = c.shutdown().await;
    shutdown_all(nodes).await;
}

/// Connections that never finish their handshake hold at most
/// `max_pending_handshakes` slots: the ones beyond are closed at once (long
/// before the read timeout), and once the flood ends honest peers connect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_handshakes_are_bounded_and_do_not_lock_out_honest_peers() {
    const SLOTS: usize = 4;
    const EXTRA: u64 = 6;
    let mut c1 = config(1);
    c1.max_pending_handshakes = SLOTS;
    // Far beyond the deadline: a refusal seen in time is the bound's, not
    // the handshake timeout's.
    c1.read_timeout = Duration::from_secs(120);
    let a = start(c1).await;
    let (ha, addr) = (a.handle(), a.local_addr());
    let mut held = Vec::new();
    for _ in 0..SLOTS {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    wait_for(
        DEADLINE,
        &format!("{SLOTS} handshakes pending"),
        || metrics(&ha),
        |m| m.handshakes_pending == SLOTS,
    )
    .await;
    let mut extra = Vec::new();
    for _ in 0..EXTRA {
        extra.push(TcpStream::connect(addr).await.unwrap());
    }
    let m = wait_for(
        DEADLINE,
        &format!("the {EXTRA} connections beyond the bound are refused"),
        || metrics(&ha),
        |m| m.handshakes_refused >= EXTRA,
    )
    .await;
    assert_eq!(
        (m.handshakes_refused, m.handshakes_pending),
        (EXTRA, SLOTS),
        "the held ones are still pending: {m:?}"
    );
    for s in &mut extra {
        assert_eq!(closed_by_peer(s).await, Some(0), "closed with nothing sent");
    }

    // The flood ends: its handshakes fail, their slots are released, and
    // an honest peer connects and syncs.
    drop(held);
    let m = wait_for(
        DEADLINE,
        "every held connection is refused, its slot released",
        || metrics(&ha),
        |m| m.handshakes_pending == 0,
    )
    .await;
    assert_eq!(m.handshakes_refused, EXTRA + SLOTS as u64, "{m:?}");
    let b = start(config(2)).await;
    b.handle().add_peer(PeerId(1), addr);
    ha.add_peer(PeerId(2), b.local_addr());
    b.handle().update(|s, me| s.add(me, "likes", 1)).unwrap();
    let nodes = vec![a, b];
    wait_until_converged(&nodes).await;
    let likes = ha.read(|s| s.count("likes")).await.unwrap();
    assert_eq!(likes, 1, "the honest peer's write arrived");
    shutdown_all(nodes).await;
}
