//! Length-prefixed frames: a big-endian `u32` length, then that many bytes.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Reads one frame; `Ok(None)` on a clean end of stream before a frame.
/// A length over `max` is an error before anything is allocated; the body
/// must arrive within `body_timeout` once its length has.
pub(crate) async fn read_frame<R: AsyncReadExt + Unpin>(
    r: &mut R,
    max: usize,
    body_timeout: Duration,
) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the limit of {max} bytes"),
        ));
    }
    let mut body = vec![0u8; len];
    match tokio::time::timeout(body_timeout, r.read_exact(&mut body)).await {
        Ok(Ok(_)) => Ok(Some(body)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "frame body timed out",
        )),
    }
}

/// Writes one frame within `timeout`.
pub(crate) async fn write_frame<W: AsyncWriteExt + Unpin>(
    w: &mut W,
    bytes: &[u8],
    timeout: Duration,
) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    let write = async {
        w.write_all(&len.to_be_bytes()).await?;
        w.write_all(bytes).await?;
        w.flush().await
    };
    match tokio::time::timeout(timeout, write).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out")),
    }
}
