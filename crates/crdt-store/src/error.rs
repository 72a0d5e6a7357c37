//! [`StoreError`]: why a store could not be opened or a write not committed.

use std::error::Error;
use std::fmt;
use std::io;

/// Why a store could not be opened, or a write was not committed.
///
/// Every variant says what happened to the data: a failed write was not
/// committed (and nothing committed before it is lost); a failed open
/// changed nothing on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// The file exists but is not an intact store: truncated, altered
    /// (a checksum or a record does not verify), or not a store at all.
    /// Nothing was changed. Restore the file from a backup, or move it away
    /// to start over as a new replica (a new replica id; peers will catch
    /// it up).
    Corrupt(String),
    /// The store was written by a newer build, in a store format this build
    /// cannot read.
    UnsupportedFormat {
        /// The store's format version.
        found: u8,
    },
    /// Another process (or another `Store` in this one) has the file open.
    InUse,
    /// The disk (or the backend's quota) is full: the write was not
    /// committed; everything acknowledged before it is safe. Free space,
    /// then reopen the store (later writes fail until it is reopened).
    DiskFull,
    /// Another I/O error: the write was not committed; everything
    /// acknowledged before it is safe. Later writes fail until the store is
    /// reopened.
    Io {
        /// The kind of the underlying error.
        kind: io::ErrorKind,
        /// What failed.
        detail: String,
    },
    /// A state could not be encoded (its `Serialize` failed); nothing was
    /// written.
    Encode(String),
    /// The store is closed, or its writer stopped after an earlier error;
    /// reopen it.
    Closed,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Corrupt(why) => write!(
                f,
                "the store file is damaged ({why}); nothing was changed: restore it from a \
                 backup, or move it away to start a new replica"
            ),
            Self::UnsupportedFormat { found } => write!(
                f,
                "the store has format version {found}, which this build cannot read (it reads \
                 version {}); open it with a newer build",
                crate::layout::FORMAT_VERSION
            ),
            Self::InUse => f.write_str(
                "the store is already open (in another process or another Store); close that one first",
            ),
            Self::DiskFull => f.write_str(
                "the disk is full: the write was not committed and earlier writes are safe; free \
                 space, then reopen the store",
            ),
            Self::Io { kind, detail } => write!(
                f,
                "I/O error ({kind}): {detail}; the write was not committed and earlier writes \
                 are safe; reopen the store"
            ),
            Self::Encode(why) => write!(f, "cannot encode the state: {why}; nothing was written"),
            Self::Closed => {
                f.write_str("the store is closed (or stopped after an earlier error); reopen it")
            }
        }
    }
}

impl Error for StoreError {}

impl StoreError {
    /// Whether this error came from the disk (full or failing) rather than
    /// from the file's contents or the caller.
    #[must_use]
    pub fn is_io(&self) -> bool {
        matches!(self, Self::DiskFull | Self::Io { .. })
    }
}

/// Maps any redb error to a [`StoreError`].
pub(crate) fn from_redb(e: impl Into<redb::Error>) -> StoreError {
    match e.into() {
        redb::Error::Io(io) => from_io(&io),
        redb::Error::DatabaseAlreadyOpen | redb::Error::LockProtocolMismatch => StoreError::InUse,
        redb::Error::Corrupted(why) => StoreError::Corrupt(why),
        redb::Error::UpgradeRequired(v) => {
            StoreError::Corrupt(format!("redb file format {v} needs an upgrade"))
        }
        redb::Error::PreviousIo | redb::Error::DatabaseClosed => StoreError::Closed,
        redb::Error::Backend(e) => StoreError::Io {
            kind: io::ErrorKind::Other,
            detail: e.to_string(),
        },
        other => StoreError::Io {
            kind: io::ErrorKind::Other,
            detail: other.to_string(),
        },
    }
}

/// Maps an I/O error to a [`StoreError`]: a full disk or quota is
/// [`StoreError::DiskFull`]; data that is not a database is corruption.
pub(crate) fn from_io(e: &io::Error) -> StoreError {
    match e.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => StoreError::DiskFull,
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
            StoreError::Corrupt(e.to_string())
        }
        kind => StoreError::Io {
            kind,
            detail: e.to_string(),
        },
    }
}
