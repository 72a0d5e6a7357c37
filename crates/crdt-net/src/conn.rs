//! Connections: the listener, the dialers, and a reader and a writer per
//! established connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crdt_sync::PeerId;
use tokio::io::{ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::AbortHandle;

use crate::config::NodeConfig;
use crate::driver::{Control, NetInput};
use crate::frame::{check_len, read_body, read_frame, read_len, write_frame};
use crate::inbound::Inbound;
use crate::tls::Stream;

/// The most frames queued for one peer's writer (bytes are bounded by
/// [`NodeConfig::outbound_queue_bytes`]).
const OUTBOUND_FRAMES: usize = 1024;

/// An established connection, as the engine holds it.
pub(crate) struct Conn {
    id: u64,
    out: mpsc::Sender<Vec<u8>>,
    /// Bytes queued for the writer and not yet written.
    out_bytes: Arc<AtomicUsize>,
    reader: AbortHandle,
    writer: AbortHandle,
}

impl Conn {
    /// Starts the reader and the writer of connection `id` to `peer` on
    /// `rt`. `done` fires when the reader stops (it is dropped if the
    /// reader is aborted).
    pub(crate) fn start(
        rt: &Handle,
        (peer, id): (PeerId, u64),
        stream: Stream,
        net_tx: mpsc::Sender<NetInput>,
        inbound: Arc<Inbound>,
        config: &NodeConfig,
        done: Option<oneshot::Sender<()>>,
    ) -> Self {
        let (read, write) = tokio::io::split(stream);
        let (out, out_rx) = mpsc::channel(OUTBOUND_FRAMES);
        let out_bytes = Arc::new(AtomicUsize::new(0));
        let writer = rt.spawn(write_loop(
            write,
            out_rx,
            Arc::clone(&out_bytes),
            config.write_timeout,
        ));
        let reader = rt.spawn(read_loop(
            (peer, id),
            read,
            net_tx,
            inbound,
            (config.engine.max_message_bytes, config.read_timeout),
            done,
        ));
        Self {
            id,
            out,
            out_bytes,
            reader: reader.abort_handle(),
            writer: writer.abort_handle(),
        }
    }

    /// The connection's id (unique per node).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Queues `bytes` for the peer unless that would put more than `limit`
    /// bytes in its queue (an empty queue takes any frame); `false` if the
    /// frame was dropped.
    pub(crate) fn send(&self, bytes: Vec<u8>, limit: usize) -> bool {
        let len = bytes.len();
        let queued = self.out_bytes.load(Ordering::SeqCst);
        if queued > 0 && queued.saturating_add(len) > limit {
            return false;
        }
        // Counted before the writer can see it, so it never goes below zero.
        self.out_bytes.fetch_add(len, Ordering::SeqCst);
        if self.out.try_send(bytes).is_err() {
            self.out_bytes.fetch_sub(len, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// Stops reading and writing; the socket closes.
    pub(crate) fn close(self) {
        self.reader.abort();
        self.writer.abort();
    }
}

/// Reads frames and hands them to the engine. Room for each frame is
/// reserved in the inbound budget before its body is read: while there is
/// none the reader waits and reads nothing, so the kernel's receive buffer
/// fills and TCP flow control slows the sender down.
async fn read_loop(
    (peer, conn): (PeerId, u64),
    mut read: ReadHalf<Stream>,
    net_tx: mpsc::Sender<NetInput>,
    inbound: Arc<Inbound>,
    (max, body_timeout): (usize, Duration),
    done: Option<oneshot::Sender<()>>,
) {
    let why = loop {
        let len = match read_len(&mut read).await {
            Ok(Some(len)) => len,
            Ok(None) => break None,
            Err(e) => break Some(e),
        };
        if let Err(e) = check_len(len, max) {
            break Some(e);
        }
        let Some(ticket) = inbound.reserve(len).await else {
            break None;
        };
        let bytes = match read_body(&mut read, len, body_timeout).await {
            Ok(bytes) => bytes,
            Err(e) => break Some(e),
        };
        let frame = NetInput::Frame {
            peer,
            conn,
            bytes,
            _ticket: ticket,
        };
        if net_tx.send(frame).await.is_err() {
            break None; // the node stopped
        }
    };
    let _ = net_tx.send(NetInput::Closed { peer, conn, why }).await;
    if let Some(done) = done {
        let _ = done.send(());
    }
}

/// Writes the frames queued for one peer, in order.
async fn write_loop(
    mut write: WriteHalf<Stream>,
    mut out_rx: mpsc::Receiver<Vec<u8>>,
    out_bytes: Arc<AtomicUsize>,
    timeout: Duration,
) {
    while let Some(bytes) = out_rx.recv().await {
        let written = write_frame(&mut write, &bytes, timeout).await;
        out_bytes.fetch_sub(bytes.len(), Ordering::SeqCst);
        if written.is_err() {
            break;
        }
    }
}

/// Accepts connections. Each must pass the transport's handshake (with
/// TLS: a certificate of the cluster's CA) and then send its hello, the
/// dialer's `PeerId` as the first frame, which must be the peer its
/// certificate names. Only then is the connection handed to the engine;
/// a refused one is logged, counted and closed. Stops when the node has.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    net_tx: mpsc::Sender<NetInput>,
    config: NodeConfig,
    control: Arc<Control>,
) {
    let pending = Arc::new(Semaphore::new(config.max_pending_handshakes));
    while !net_tx.is_closed() {
        let Ok((tcp, from)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if control.isolated.load(Ordering::SeqCst) {
            continue; // dropped: the stream closes
        }
        let Ok(permit) = Arc::clone(&pending).try_acquire_owned() else {
            control.refused(None, &from, &"too many handshakes in progress");
            continue; // dropped: the stream closes
        };
        let slot = HandshakeSlot::new(permit, Arc::clone(&control));
        let _ = tcp.set_nodelay(true);
        let net_tx = net_tx.clone();
        let control = Arc::clone(&control);
        let config = config.clone();
        tokio::spawn(async move {
            let timeout = config.read_timeout;
            let handshake = async {
                let (mut stream, certified) = config.transport.accept(tcp).await?;
                let claimed = match read_frame(&mut stream, 8, timeout).await? {
                    Some(b) => <[u8; 8]>::try_from(b.as_slice())
                        .map(|id| PeerId(u64::from_be_bytes(id)))
                        .map_err(|_| refusal(certified, "the hello is not 8 bytes"))?,
                    None => return Err(refusal(certified, "closed before its hello")),
                };
                match certified {
                    Some(p) if p != claimed => Err(refusal(
                        certified,
                        &format!("the hello claims peer {}", claimed.0),
                    )),
                    _ => Ok((claimed, stream)),
                }
            };
            let (peer, stream) = match tokio::time::timeout(timeout, handshake).await {
                Ok(Ok(done)) => done,
                Ok(Err(e)) => return control.refused(None, &from, &e),
                Err(_) => return control.refused(None, &from, &"handshake timed out"),
            };
            drop(slot);
            let _ = net_tx
                .send(NetInput::Connected {
                    peer,
                    stream,
                    done: None,
                })
                .await;
        });
    }
}

/// One of the acceptor's [`NodeConfig::max_pending_handshakes`] slots,
/// counted in [`Control::handshakes_pending`] while held; released on drop,
/// whichever way the handshake ends.
struct HandshakeSlot {
    _permit: OwnedSemaphorePermit,
    control: Arc<Control>,
}

impl HandshakeSlot {
    fn new(permit: OwnedSemaphorePermit, control: Arc<Control>) -> Self {
        control.handshakes_pending.fetch_add(1, Ordering::SeqCst);
        Self {
            _permit: permit,
            control,
        }
    }
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        self.control
            .handshakes_pending
            .fetch_sub(1, Ordering::SeqCst);
    }
}

/// Why a handshake was refused, naming the peer the certificate names.
fn refusal(certified: Option<PeerId>, why: &str) -> std::io::Error {
    let who = certified.map_or(String::new(), |p| format!("certified as peer {}: ", p.0));
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{who}{why}"))
}

/// Dials `peer` and keeps the connection up, reconnecting with exponential
/// backoff and jitter. With TLS the acceptor's certificate must name
/// `peer`; a handshake that fails is logged and counted.
pub(crate) async fn dial_loop(
    peer: PeerId,
    addr: SocketAddr,
    net_tx: mpsc::Sender<NetInput>,
    config: NodeConfig,
    control: Arc<Control>,
) {
    let mut backoff = config.backoff_min;
    let mut jitter = Jitter::new(config.me.0 ^ peer.0.rotate_left(32));
    loop {
        if !control.isolated.load(Ordering::SeqCst)
            && let Ok(Ok(tcp)) =
                tokio::time::timeout(config.connect_timeout, TcpStream::connect(addr)).await
        {
            let _ = tcp.set_nodelay(true);
            let handshake = async {
                let mut stream = config.transport.dial(tcp, peer).await?;
                write_frame(
                    &mut stream,
                    &config.me.0.to_be_bytes(),
                    config.write_timeout,
                )
                .await?;
                Ok::<_, std::io::Error>(stream)
            };
            match tokio::time::timeout(config.connect_timeout, handshake).await {
                Ok(Ok(stream)) => {
                    backoff = config.backoff_min;
                    let (done, closed) = oneshot::channel();
                    let connected = NetInput::Connected {
                        peer,
                        stream,
                        done: Some(done),
                    };
                    if net_tx.send(connected).await.is_err() {
                        return; // the node stopped
                    }
                    let _ = closed.await;
                }
                // TLS refusals (a certificate that does not name `peer`,
                // or ours refused) are invalid data; a reset or early end
                // is a peer going away or isolated, and is retried quietly.
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                    control.refused(Some(peer), &addr, &e);
                }
                Ok(Err(e)) => {
                    tracing::debug!(peer = peer.0, %addr, reason = %e, "handshake failed")
                }
                Err(_) => control.refused(Some(peer), &addr, &"handshake timed out"),
            }
        }
        let wait = backoff + jitter.up_to(backoff / 2);
        tokio::time::sleep(wait).await;
        backoff = (backoff * 2).min(config.backoff_max);
    }
}

/// A tiny xorshift generator for reconnect jitter (no `rand` dependency).
struct Jitter(u64);

impl Jitter {
    fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    fn up_to(&mut self, max: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let ms = max.as_millis() as u64;
        Duration::from_millis(if ms == 0 { 0 } else { self.0 % ms })
    }
}
