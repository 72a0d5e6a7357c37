//! Test machinery shared by the socket tests.
//!
//! Nothing here sleeps in the hope that something has happened by then:
//! every wait is [`wait_for`] a condition, with a deadline, so a loaded
//! machine makes these tests slower, never red.
#![allow(dead_code)] // each test binary uses its own part of this

use std::fmt::Debug;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crdt_core::ReplicaId;
use crdt_net::{
    ClusterCa, KvState, NetMetrics, Node, NodeCert, NodeConfig, NodeHandle, TlsIdentity, Transport,
    peer_name,
};
use crdt_sync::{Config, Envelope, Message, PeerId, codec};
use rustls::pki_types::ServerName;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// How long anything here may take before the test fails. Only a failing
/// test waits this long.
pub(crate) const DEADLINE: Duration = Duration::from_secs(10);

/// How often [`wait_for`] looks again.
pub(crate) const POLL: Duration = Duration::from_millis(10);

/// A peer that a node under test knows but that never runs; rogue
/// connections speak as it. Speaking as a live peer instead would replace
/// that peer's connection, whose redial could then replace the rogue. Its id
/// is below every node's, so nodes wait for it to dial in rather than
/// dialing it.
pub(crate) const ABSENT: PeerId = PeerId(0);

/// Calls `probe` until `done` accepts what it returns, and returns that.
/// Panics naming `what`, with the last value seen, if that has not happened
/// within `within`. The one waiting loop of these tests.
pub(crate) async fn wait_for<T, F, P>(
    within: Duration,
    what: &str,
    mut probe: P,
    mut done: impl FnMut(&T) -> bool,
) -> T
where
    T: Debug,
    F: Future<Output = T>,
    P: FnMut() -> F,
{
    let deadline = Instant::now() + within;
    let mut last = None;
    loop {
        match tokio::time::timeout_at(deadline, probe()).await {
            Ok(seen) if done(&seen) => return seen,
            Ok(seen) => last = Some(seen),
            Err(_) => {} // no answer by the deadline: fails below
        }
        match &last {
            _ if Instant::now() < deadline => {}
            Some(seen) => panic!("{what}: not within {within:?}; last seen: {seen:?}"),
            None => panic!("{what}: no answer within {within:?}"),
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The cluster name of these tests' certificates.
pub(crate) const CLUSTER: &str = "test";

/// The test cluster's CA, made once per process.
pub(crate) fn ca() -> &'static ClusterCa {
    static CA: OnceLock<ClusterCa> = OnceLock::new();
    CA.get_or_init(|| ClusterCa::new(CLUSTER).expect("a CA"))
}

/// A certificate of the test CA for `me`.
pub(crate) fn cert(me: u64) -> NodeCert {
    ca().issue(PeerId(me)).expect("a node certificate")
}

/// Mutual TLS with a certificate of the test CA for `me`.
pub(crate) fn tls(me: u64) -> Transport {
    Transport::tls(cert(me).identity().unwrap()).expect("a TLS transport")
}

/// A node's settings for these tests: mutual TLS, fast sync rounds and
/// reconnects.
pub(crate) fn config(me: u64) -> NodeConfig {
    config_over(me, tls(me))
}

/// [`config`] over the given transport.
pub(crate) fn config_over(me: u64, transport: Transport) -> NodeConfig {
    let mut c = NodeConfig::new(PeerId(me), "127.0.0.1:0".parse().unwrap(), transport);
    c.engine = Config {
        sync_interval: Duration::from_millis(20),
        ..Config::default()
    };
    c.backoff_min = Duration::from_millis(10);
    c.backoff_max = Duration::from_millis(100);
    c
}

/// [`config`] that also knows [`ABSENT`] (at an address never dialed).
pub(crate) fn config_with_absent(me: u64) -> NodeConfig {
    let mut c = config(me);
    c.peers.push((ABSENT, "127.0.0.1:9".parse().unwrap()));
    c
}

/// A node with an empty store and a fresh replica id.
pub(crate) async fn start(config: NodeConfig) -> Node<KvState> {
    Node::start(config, ReplicaId::random(), KvState::new())
        .await
        .expect("the node starts")
}

/// Shuts every node down, in order.
pub(crate) async fn shutdown_all(nodes: Vec<Node<KvState>>) {
    for n in nodes {
        let _ = n.shutdown().await;
    }
}

/// Two nodes, 1 and 2, peered with each other; `first` is node 1's config.
///
/// Node 2 learns of node 1 before node 1 learns of node 2 (and dials it):
/// the other way round, node 1 could dial before node 2 knew it, and node 2
/// refused that connection after the handshake. Node 1 then counted it as
/// open for a moment and, once it closed, had no live peer, so a flush in
/// that window returned `Ok` without waiting for anyone (seen as a rare
/// failure of `a_write_just_before_shutdown_reaches_the_peer` under load).
/// A node applies `add_peer` before the next input it handles, so node 2
/// knows node 1 by the time node 1's connection reaches its engine.
pub(crate) async fn pair(first: NodeConfig) -> Vec<Node<KvState>> {
    let a = start(first).await;
    let b = start(config(2)).await;
    b.handle().add_peer(PeerId(1), a.local_addr());
    a.handle().add_peer(PeerId(2), b.local_addr());
    vec![a, b]
}

/// Every node's state. Each read queues behind the updates already sent to
/// that node, so it includes the node's own writes.
pub(crate) async fn states(nodes: &[Node<KvState>]) -> Vec<KvState> {
    let mut states = Vec::new();
    for n in nodes {
        states.push(n.handle().read(|s| s.clone()).await.unwrap());
    }
    states
}

/// A node's metrics (the node must be running).
pub(crate) async fn metrics(h: &NodeHandle<KvState>) -> NetMetrics {
    h.metrics().await.expect("the node is running")
}

pub(crate) fn all_equal(states: &[KvState]) -> bool {
    states.windows(2).all(|w| w[0] == w[1])
}

pub(crate) async fn converged(nodes: &[Node<KvState>]) -> bool {
    all_equal(&states(nodes).await)
}

pub(crate) async fn wait_until_converged(nodes: &[Node<KvState>]) {
    wait_for(
        DEADLINE,
        "nodes converge",
        || states(nodes),
        |s| all_equal(s),
    )
    .await;
}

/// Connects to node 1 at `addr` with a certificate of the test CA for
/// `as_peer`, sends the hello claiming `as_peer`, and returns the stream.
pub(crate) async fn rogue(addr: SocketAddr, as_peer: PeerId) -> TlsStream<TcpStream> {
    let id = cert(as_peer.0).identity().unwrap();
    let mut s = tls_client(addr, PeerId(1), Some(&id)).await.unwrap();
    s.write_all(&8u32.to_be_bytes()).await.unwrap();
    s.write_all(&as_peer.0.to_be_bytes()).await.unwrap();
    s.flush().await.unwrap();
    s
}

/// A TLS client of the node at `addr`, which must present a certificate
/// of the test CA naming `server`; presenting `client`'s certificate if
/// any. With TLS 1.3 the client's handshake may complete before the node
/// has checked the client's certificate: a refusal then shows as the
/// stream closing.
pub(crate) async fn tls_client(
    addr: SocketAddr,
    server: PeerId,
    client: Option<&TlsIdentity>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    let ca = rustls::pki_types::CertificateDer::from_pem_slice(ca().cert_pem().as_bytes()).unwrap();
    roots.add(ca).unwrap();
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some(id) => builder
            .with_client_auth_cert(id.chain().to_vec(), id.key().clone_key())
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(peer_name(server, CLUSTER)).unwrap();
    TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
}

/// Whether the node closed the stream within [`DEADLINE`], reading (and
/// counting) whatever it sent first: `Some(bytes)` if it closed.
pub(crate) async fn closed_by_peer<S: AsyncReadExt + Unpin>(s: &mut S) -> Option<usize> {
    let mut buf = [0u8; 1024];
    let mut got = 0;
    let eof = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n, // the node may have sent something first
            }
        }
    };
    tokio::time::timeout(DEADLINE, eof).await.ok().map(|()| got)
}

/// A whole frame (length and body) carrying `message` from a peer in
/// incarnation 7 that does not know the receiver's.
pub(crate) fn frame(message: Message<KvState>) -> Vec<u8> {
    let body = codec::encode(&Envelope {
        from_epoch: 7,
        to_epoch: 0,
        message,
    })
    .unwrap();
    let mut out = u32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

/// A store holding one set of `n` members, all written by one replica.
pub(crate) fn big_set(n: usize) -> KvState {
    let mut s = KvState::new();
    let r = ReplicaId::random();
    for i in 0..n {
        let _ = s.set_add(r, "members", &format!("member-{i:08}"));
    }
    s
}

/// A temporary folder removed on drop (a stand-in for a tempdir crate).
pub(crate) struct TestDir(std::path::PathBuf);

impl TestDir {
    pub(crate) fn new(name: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("crdt-net-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temporary folder");
        Self(dir)
    }

    pub(crate) fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
