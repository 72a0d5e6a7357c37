//! Connections: the listener, the dialers, and a reader and a writer per
//! established connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crdt_sync::PeerId;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

use crate::config::NodeConfig;
use crate::driver::{Control, NetInput};
use crate::frame::{check_len, read_body, read_frame, read_len, write_frame};
use crate::inbound::Inbound;

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
        stream: TcpStream,
        net_tx: mpsc::Sender<NetInput>,
        inbound: Arc<Inbound>,
        config: &NodeConfig,
        done: Option<oneshot::Sender<()>>,
    ) -> Self {
        let (read, write) = stream.into_split();
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
    mut read: OwnedReadHalf,
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
    mut write: OwnedWriteHalf,
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

/// Accepts connections; the first frame of each is the dialer's `PeerId`.
/// Stops when the node has.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    net_tx: mpsc::Sender<NetInput>,
    config: NodeConfig,
    control: Arc<Control>,
) {
    while !net_tx.is_closed() {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if control.isolated.load(Ordering::SeqCst) {
            continue; // dropped: the stream closes
        }
        let net_tx = net_tx.clone();
        let read_timeout = config.read_timeout;
        tokio::spawn(async move {
            let mut stream = stream;
            let hello =
                tokio::time::timeout(read_timeout, read_frame(&mut stream, 8, read_timeout)).await;
            let peer = match hello {
                Ok(Ok(Some(b))) if b.len() == 8 => {
                    let mut id = [0u8; 8];
                    id.copy_from_slice(&b);
                    PeerId(u64::from_be_bytes(id))
                }
                _ => {
                    tracing::warn!("dropping a connection without a valid handshake");
                    return;
                }
            };
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

/// Dials `peer` and keeps the connection up, reconnecting with exponential
/// backoff and jitter.
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
        if !control.isolated.load(Ordering::SeqCst) {
            let attempt =
                tokio::time::timeout(config.connect_timeout, TcpStream::connect(addr)).await;
            if let Ok(Ok(mut stream)) = attempt {
                let _ = stream.set_nodelay(true);
                if write_frame(
                    &mut stream,
                    &config.me.0.to_be_bytes(),
                    config.write_timeout,
                )
                .await
                .is_ok()
                {
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
