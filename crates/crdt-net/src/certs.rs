//! Certificate tooling: a cluster CA and node certificates, made with
//! rcgen (feature `certs`, on by default).

use std::io;
use std::path::Path;

use crdt_sync::PeerId;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, date_time_ymd,
};

use crate::tls::{CA_FILE, CERT_FILE, KEY_FILE, TlsIdentity, cluster_name, peer_name};

/// A cluster's certificate authority: an ECDSA P-256 key and a
/// self-signed CA certificate, kept in memory. It issues one certificate
/// per node ([`ClusterCa::issue`]), naming the node's [`PeerId`] as
/// `peer-<id>.<cluster>` ([`peer_name`]).
///
/// Whoever holds the CA can admit any peer id: keep it where the cluster
/// is provisioned, and hand each node only its [`NodeCert`].
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use crdt_net::{ClusterCa, NodeConfig, TlsIdentity, Transport};
/// use crdt_sync::PeerId;
///
/// let ca = ClusterCa::new("shop")?;
/// // In memory, for nodes in this process:
/// let node1 = Transport::tls(ca.issue(PeerId(1))?.identity()?)?;
/// let config = NodeConfig::new(PeerId(1), "127.0.0.1:0".parse().unwrap(), node1);
///
/// // As PEM files, for a node in another process:
/// let dir = std::env::temp_dir().join(format!("crdt-net-certs-doc-{}", std::process::id()));
/// ca.issue(PeerId(2))?.write_files(&dir)?;
/// let node2 = TlsIdentity::from_pem_files("shop", &dir)?;
/// assert_eq!(node2.peer()?, PeerId(2));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(()) }
/// ```
pub struct ClusterCa {
    cluster: String,
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl ClusterCa {
    /// A new CA for `cluster` (a DNS name such as `shop` or
    /// `orders.example`), valid from 2024 to 2124.
    pub fn new(cluster: &str) -> io::Result<Self> {
        let cluster = cluster_name(cluster)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(other)?;
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{cluster} cluster CA"));
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = date_time_ymd(2024, 1, 1);
        params.not_after = date_time_ymd(2124, 1, 1);
        let key = KeyPair::generate().map_err(other)?;
        let cert = params.self_signed(&key).map_err(other)?;
        Ok(Self {
            cluster,
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The cluster's name (lowercase).
    #[must_use]
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// The CA's certificate, PEM: what every node trusts.
    #[must_use]
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// A certificate and key for node `peer`, valid from 2024 to 2124.
    pub fn issue(&self, peer: PeerId) -> io::Result<NodeCert> {
        self.issue_valid_between(peer, 2024, 2124)
    }

    /// A certificate and key for node `peer`, valid from 1 January of
    /// `from_year` to 1 January of `until_year` (a certificate outside its
    /// validity is refused by every node).
    pub fn issue_valid_between(
        &self,
        peer: PeerId,
        from_year: i32,
        until_year: i32,
    ) -> io::Result<NodeCert> {
        let name = peer_name(peer, &self.cluster);
        let mut params = CertificateParams::new(vec![name.clone()]).map_err(other)?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        // A node is a TLS server when dialed and a client when dialing.
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        params.not_before = date_time_ymd(from_year, 1, 1);
        params.not_after = date_time_ymd(until_year, 1, 1);
        let key = KeyPair::generate().map_err(other)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(other)?;
        Ok(NodeCert {
            cluster: self.cluster.clone(),
            ca_pem: self.cert_pem.clone(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

impl std::fmt::Debug for ClusterCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterCa")
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

/// One node's certificate and private key, with the CA certificate it
/// chains to, as PEM text ([`ClusterCa::issue`]).
#[derive(Clone)]
pub struct NodeCert {
    cluster: String,
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

impl NodeCert {
    /// The identity a node runs with ([`Transport::tls`](crate::Transport::tls)).
    pub fn identity(&self) -> io::Result<TlsIdentity> {
        TlsIdentity::from_pem(&self.cluster, &self.ca_pem, &self.cert_pem, &self.key_pem)
    }

    /// The CA's certificate, PEM.
    #[must_use]
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The node's certificate, PEM.
    #[must_use]
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The node's private key, PEM (PKCS#8).
    #[must_use]
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// Writes [`CA_FILE`], [`CERT_FILE`] and [`KEY_FILE`] into `dir`
    /// (created if missing), for
    /// [`TlsIdentity::from_pem_files`]. On Unix the key file is readable by
    /// its owner only.
    pub fn write_files(&self, dir: impl AsRef<Path>) -> io::Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join(CA_FILE), &self.ca_pem)?;
        std::fs::write(dir.join(CERT_FILE), &self.cert_pem)?;
        let mut key = std::fs::OpenOptions::new();
        key.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut key, 0o600);
        io::Write::write_all(&mut key.open(dir.join(KEY_FILE))?, self.key_pem.as_bytes())
    }
}

impl std::fmt::Debug for NodeCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeCert")
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

fn other(e: rcgen::Error) -> io::Error {
    io::Error::other(e)
}
