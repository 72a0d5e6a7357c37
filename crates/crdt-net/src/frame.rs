//! Length-prefixed frames: a big-endian `u32` length, then that many bytes.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Reads a frame's length; `Ok(None)` on a clean end of stream before it.
/// An idle connection may wait here for as long as it likes.
pub(crate) async fn read_len<R: AsyncReadExt + Unpin>(r: &mut R) -> io::Result<Option<usize>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => Ok(Some(u32::from_be_bytes(len) as usize)),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}

/// Refuses a length over `max` (an [`io::ErrorKind::InvalidData`] error),
/// before anything is allocated for it.
pub(crate) fn check_len(len: usize, max: usize) -> io::Result<()> {
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the limit of {max} bytes"),
        ));
    }
    Ok(())
}

/// Reads a frame's body of `len` bytes, which must arrive within `timeout`.
pub(crate) async fn read_body<R: AsyncReadExt + Unpin>(
    r: &mut R,
    len: usize,
    timeout: Duration,
) -> io::Result<Vec<u8>> {
    let mut body = vec![0u8; len];
    match tokio::time::timeout(timeout, r.read_exact(&mut body)).await {
        Ok(Ok(_)) => Ok(body),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "frame body timed out",
        )),
    }
}

/// Reads one frame of at most `max` bytes; `Ok(None)` on a clean end of
/// stream before a frame. The body must arrive within `body_timeout` once
/// its length has.
pub(crate) async fn read_frame<R: AsyncReadExt + Unpin>(
    r: &mut R,
    max: usize,
    body_timeout: Duration,
) -> io::Result<Option<Vec<u8>>> {
    let Some(len) = read_len(r).await? else {
        return Ok(None);
    };
    check_len(len, max)?;
    read_body(r, len, body_timeout).await.map(Some)
}

/// Writes one frame within `timeout`.
pub(crate) async fn write_frame<W: AsyncWriteExt + Unpin>(
    w: &mut W,
    bytes: &[u8],
    timeout: Duration,
) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    // One write of length and body: over TLS each write is a record of its
    // own, so two writes would cost a record header (and a syscall) more.
    let mut whole = Vec::with_capacity(4 + bytes.len());
    whole.extend_from_slice(&len.to_be_bytes());
    whole.extend_from_slice(bytes);
    let write = async {
        w.write_all(&whole).await?;
        w.flush().await
    };
    match tokio::time::timeout(timeout, write).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out")),
    }
}
