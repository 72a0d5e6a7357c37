//! How nodes connect: mutual TLS (the default) or, by an explicit opt-in,
//! plain TCP.
//!
//! Identity: a node's certificate is signed by the cluster's CA and names
//! its [`PeerId`] as a DNS subject alternative name `peer-<id>.<cluster>`
//! ([`peer_name`]), e.g. `peer-3.shop`. After the handshake each side reads
//! the peer id from the other's verified certificate: the acceptor compares
//! it with the id the dialer's hello frame claims, the dialer asks rustls to
//! check the acceptor's certificate against the name of the peer it dialed.
//! A connection that fails either check never reaches the engine.

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use crdt_sync::PeerId;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// The file of the cluster CA's certificate (PEM) in a node's TLS folder
/// ([`TlsIdentity::from_pem_files`]).
pub const CA_FILE: &str = "ca.pem";
/// The file of the node's certificate chain (PEM), its own first.
pub const CERT_FILE: &str = "node.pem";
/// The file of the node's private key (PEM, PKCS#8).
pub const KEY_FILE: &str = "node.key";

/// A byte stream to a peer, encrypted or not.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A connection to a peer once its handshake is done.
pub(crate) type Stream = Box<dyn Io>;

/// The DNS name a certificate of `peer` in `cluster` carries:
/// `peer-<id>.<cluster>`.
///
/// ```
/// use crdt_net::peer_name;
/// use crdt_sync::PeerId;
///
/// assert_eq!(peer_name(PeerId(3), "shop"), "peer-3.shop");
/// ```
#[must_use]
pub fn peer_name(peer: PeerId, cluster: &str) -> String {
    format!("peer-{}.{cluster}", peer.0)
}

/// What a node needs for mutual TLS: the cluster's name and CA
/// certificate, and this node's certificate chain and private key. Made by
/// [`ClusterCa`](crate::ClusterCa) (feature `certs`), or read from PEM.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use crdt_net::ClusterCa;
/// use crdt_sync::PeerId;
///
/// let ca = ClusterCa::new("shop")?;
/// let identity = ca.issue(PeerId(3))?.identity()?;
/// assert_eq!(identity.peer()?, PeerId(3));
/// assert_eq!(identity.cluster(), "shop");
/// # Ok(()) }
/// ```
pub struct TlsIdentity {
    cluster: String,
    ca: Vec<CertificateDer<'static>>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl TlsIdentity {
    /// An identity from DER certificates and key. `cluster` must be a DNS
    /// name (letters, digits, `-`, dot-separated labels); `ca` holds the
    /// certificates of the cluster's CA (at least one); `chain` starts with
    /// this node's certificate. An [`io::ErrorKind::InvalidInput`] error
    /// otherwise.
    pub fn new(
        cluster: &str,
        ca: Vec<CertificateDer<'static>>,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> io::Result<Self> {
        let cluster = cluster_name(cluster)?;
        if ca.is_empty() {
            return Err(invalid("no CA certificate"));
        }
        if chain.is_empty() {
            return Err(invalid("no node certificate"));
        }
        Ok(Self {
            cluster,
            ca,
            chain,
            key,
        })
    }

    /// An identity from PEM text: the CA's certificate(s), this node's
    /// chain (its own certificate first) and its private key.
    pub fn from_pem(cluster: &str, ca: &str, chain: &str, key: &str) -> io::Result<Self> {
        let certs = |pem: &str, what: &str| {
            CertificateDer::pem_slice_iter(pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| invalid(format!("{what}: {e}")))
        };
        let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
            .map_err(|e| invalid(format!("private key: {e}")))?;
        Self::new(
            cluster,
            certs(ca, "CA certificate")?,
            certs(chain, "node certificate")?,
            key,
        )
    }

    /// An identity from the files [`CA_FILE`], [`CERT_FILE`] and
    /// [`KEY_FILE`] in `dir` (as [`NodeCert::write_files`](crate::NodeCert::write_files)
    /// writes them).
    pub fn from_pem_files(cluster: &str, dir: impl AsRef<Path>) -> io::Result<Self> {
        let read = |name: &str| {
            let path = dir.as_ref().join(name);
            std::fs::read_to_string(&path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
        };
        Self::from_pem(
            cluster,
            &read(CA_FILE)?,
            &read(CERT_FILE)?,
            &read(KEY_FILE)?,
        )
    }

    /// The cluster's name (lowercase).
    #[must_use]
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// The cluster CA's certificates.
    #[must_use]
    pub fn ca_certs(&self) -> &[CertificateDer<'static>] {
        &self.ca
    }

    /// This node's certificate chain, its own certificate first.
    #[must_use]
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// This node's private key.
    #[must_use]
    pub fn key(&self) -> &PrivateKeyDer<'static> {
        &self.key
    }

    /// The peer this identity's certificate names; an error if it names
    /// none of this cluster, or several.
    pub fn peer(&self) -> io::Result<PeerId> {
        peer_of(&self.chain[0], &self.cluster).map_err(invalid)
    }
}

impl Clone for TlsIdentity {
    fn clone(&self) -> Self {
        Self {
            cluster: self.cluster.clone(),
            ca: self.ca.clone(),
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("cluster", &self.cluster)
            .field("peer", &self.peer().ok())
            .field("ca_certs", &self.ca.len())
            .field("chain_certs", &self.chain.len())
            .finish_non_exhaustive()
    }
}

/// How a node connects to its peers: [`Transport::tls`] (mutual TLS, what
/// a cluster should run) or [`Transport::plain_tcp_insecure`].
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use crdt_net::{ClusterCa, NodeConfig, Transport};
/// use crdt_sync::PeerId;
///
/// let ca = ClusterCa::new("shop")?;
/// let tls = Transport::tls(ca.issue(PeerId(1))?.identity()?)?;
/// assert!(tls.is_tls());
/// let config = NodeConfig::new(PeerId(1), "127.0.0.1:0".parse().unwrap(), tls);
/// assert!(!Transport::plain_tcp_insecure().is_tls());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Transport(Kind);

#[derive(Clone)]
enum Kind {
    Tls(Arc<Tls>),
    PlainTcpInsecure,
}

/// The rustls settings of a TLS node.
struct Tls {
    cluster: String,
    /// The peer the node's own certificate names.
    me: Result<PeerId, String>,
    acceptor: TlsAcceptor,
    connector: TlsConnector,
}

impl Transport {
    /// Mutual TLS 1.3 (rustls, `ring` provider): every connection, in
    /// either direction, presents a certificate of the cluster's CA naming
    /// the peer it is, and checks the other side's. An error if the
    /// certificates or key are unusable.
    pub fn tls(identity: TlsIdentity) -> io::Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        for ca in identity.ca.iter().cloned() {
            roots
                .add(ca)
                .map_err(|e| invalid(format!("CA certificate: {e}")))?;
        }
        let roots = Arc::new(roots);
        let clients = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .map_err(|e| invalid(format!("client verifier: {e}")))?;
        let versions = [&rustls::version::TLS13];
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| invalid(e.to_string()))?
            .with_client_cert_verifier(clients)
            .with_single_cert(identity.chain.clone(), identity.key.clone_key())
            .map_err(|e| invalid(format!("node certificate: {e}")))?;
        let client = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(|e| invalid(e.to_string()))?
            .with_root_certificates(roots)
            .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
            .map_err(|e| invalid(format!("node certificate: {e}")))?;
        Ok(Self(Kind::Tls(Arc::new(Tls {
            me: identity.peer().map_err(|e| e.to_string()),
            cluster: identity.cluster,
            acceptor: TlsAcceptor::from(Arc::new(server)),
            connector: TlsConnector::from(Arc::new(client)),
        }))))
    }

    /// **Insecure**: plain TCP, no encryption and no authentication. Any
    /// host that can reach the node's port can claim to be any peer (by
    /// sending its id), read what is sent to that peer and write into the
    /// replica. Only for a network where every host is trusted, or for
    /// tests of the transport itself.
    #[must_use]
    pub fn plain_tcp_insecure() -> Self {
        Self(Kind::PlainTcpInsecure)
    }

    /// Whether this is TLS.
    #[must_use]
    pub fn is_tls(&self) -> bool {
        matches!(self.0, Kind::Tls(_))
    }

    /// Checks that the node's own certificate names `me`.
    pub(crate) fn check(&self, me: PeerId) -> io::Result<()> {
        match &self.0 {
            Kind::PlainTcpInsecure => Ok(()),
            Kind::Tls(tls) => match &tls.me {
                Ok(peer) if *peer == me => Ok(()),
                Ok(peer) => Err(invalid(format!(
                    "the node's certificate names peer {}, not peer {}",
                    peer.0, me.0
                ))),
                Err(e) => Err(invalid(format!("the node's certificate: {e}"))),
            },
        }
    }

    /// The acceptor's half of the handshake: with TLS, the stream and the
    /// peer the dialer's verified certificate names.
    pub(crate) async fn accept(&self, tcp: TcpStream) -> io::Result<(Stream, Option<PeerId>)> {
        match &self.0 {
            Kind::PlainTcpInsecure => Ok((Box::new(tcp), None)),
            Kind::Tls(tls) => {
                let stream = tls.acceptor.accept(tcp).await?;
                let peer = match stream.get_ref().1.peer_certificates() {
                    Some([cert, ..]) => peer_of(cert, &tls.cluster).map_err(invalid_data)?,
                    _ => return Err(invalid_data("no client certificate")),
                };
                Ok((Box::new(stream), Some(peer)))
            }
        }
    }

    /// The dialer's half: with TLS, the acceptor's certificate must name
    /// `peer`.
    pub(crate) async fn dial(&self, tcp: TcpStream, peer: PeerId) -> io::Result<Stream> {
        match &self.0 {
            Kind::PlainTcpInsecure => Ok(Box::new(tcp)),
            Kind::Tls(tls) => {
                let name = ServerName::try_from(peer_name(peer, &tls.cluster))
                    .map_err(|e| invalid(e.to_string()))?;
                // rustls checks the chain, the validity period and that the
                // certificate carries `name`.
                let stream = tls.connector.connect(name, tcp).await?;
                Ok(Box::new(stream))
            }
        }
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Tls(tls) => write!(
                f,
                "Transport::Tls(cluster {:?}, me {:?})",
                tls.cluster,
                tls.me.as_ref().map(|p| p.0)
            ),
            Kind::PlainTcpInsecure => f.write_str("Transport::PlainTcpInsecure"),
        }
    }
}

/// The one peer of `cluster` that `cert` names; checked with webpki's own
/// name matching, so a name that only looks like the peer's (`peer-03`)
/// does not count.
fn peer_of(cert: &CertificateDer<'_>, cluster: &str) -> Result<PeerId, String> {
    let ee = webpki::EndEntityCert::try_from(cert)
        .map_err(|e| format!("unreadable certificate: {e}"))?;
    let suffix = format!(".{cluster}");
    let ids: BTreeSet<u64> = ee
        .valid_dns_names()
        .filter_map(|n| {
            let n = n.to_ascii_lowercase();
            n.strip_suffix(&suffix)?.strip_prefix("peer-")?.parse().ok()
        })
        .collect();
    let id = match ids.len() {
        1 => ids.into_iter().next().unwrap_or_default(),
        0 => {
            return Err(format!(
                "the certificate names no peer of cluster {cluster:?}"
            ));
        }
        n => return Err(format!("the certificate names {n} peers")),
    };
    let name = ServerName::try_from(peer_name(PeerId(id), cluster))
        .map_err(|e| format!("bad peer name: {e}"))?;
    ee.verify_is_valid_for_subject_name(&name)
        .map_err(|e| format!("the certificate does not name peer {id}: {e}"))?;
    Ok(PeerId(id))
}

/// A cluster's name, lowercase; an error if it is not a DNS name.
pub(crate) fn cluster_name(cluster: &str) -> io::Result<String> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if cluster.len() > 200 || !cluster.split('.').all(label_ok) {
        return Err(invalid(format!(
            "cluster name {cluster:?} is not a DNS name"
        )));
    }
    Ok(cluster.to_ascii_lowercase())
}

fn invalid(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, e)
}

fn invalid_data(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}
