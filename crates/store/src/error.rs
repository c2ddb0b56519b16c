//! The store's error type.

use std::{path::PathBuf, time::Duration};

use agency_primitives::{BlockError, Cid, CidError};

/// What went wrong in a store operation. Messages name the CID, path or URL involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No block with this CID is held by the backend.
    #[error("block {cid} not found in {backend}")]
    NotFound { cid: Cid, backend: &'static str },
    /// The backend returned bytes that do not hash to the CID asked for.
    #[error("{backend} returned a corrupt block: {source}")]
    Corrupt {
        backend: &'static str,
        source: BlockError,
    },
    /// A CID given by the user or found in a DAG is not usable.
    #[error(transparent)]
    Cid(#[from] CidError),
    /// A local file or directory operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// Reading the input stream of an import failed.
    #[error("reading input: {0}")]
    Input(std::io::Error),
    /// Writing an output stream failed.
    #[error("writing output: {0}")]
    Output(std::io::Error),
    /// A block decodes to something that is not a valid dag-pb or UnixFS node.
    #[error("block {cid} is not valid {what}: {reason}")]
    Malformed {
        cid: Cid,
        what: &'static str,
        reason: String,
    },
    /// The DAG is valid but not something this operation handles (a directory for `cat`…).
    #[error("{cid} is {found}, expected {expected}")]
    Unsupported {
        cid: Cid,
        found: String,
        expected: &'static str,
    },
    /// A CAR file is truncated, malformed, or holds a block that does not match its CID.
    #[error("bad CAR file: {reason}")]
    Car { reason: String },
    /// An option was out of range (a chunker size of 0…).
    #[error("{0}")]
    InvalidArgument(String),
    /// A remote backend did not answer in time.
    #[error("{backend} did not answer {what} within {after:?}")]
    Timeout {
        backend: &'static str,
        what: String,
        after: Duration,
    },
    /// A remote backend could not be reached or answered with an error.
    #[error("{backend} at {url}: {message}")]
    Remote {
        backend: &'static str,
        url: String,
        message: String,
        retryable: bool,
    },
}

impl StoreError {
    /// Tells whether the same call may succeed if tried again (timeouts, unreachable remotes).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout { .. } => true,
            Self::Remote { retryable, .. } => *retryable,
            Self::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::TimedOut
            ),
            _ => false,
        }
    }

    /// Tells whether the error means the block is absent (as opposed to a failure to look).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn malformed(cid: Cid, what: &'static str, reason: impl Into<String>) -> Self {
        Self::Malformed {
            cid,
            what,
            reason: reason.into(),
        }
    }
}

impl StoreError {
    /// Maps a failed [`Block::verified`](agency_primitives::Block::verified) on data read from
    /// `backend`: an unusable CID stays a CID error, wrong bytes are corruption.
    pub(crate) fn from_block(backend: &'static str, e: BlockError) -> Self {
        match e {
            BlockError::Cid(c) => Self::Cid(c),
            source => Self::Corrupt { backend, source },
        }
    }
}
