//! Pure domain types shared by every Agency crate.
//!
//! Everything here is plain data and pure functions: no I/O, no async runtime, no CLI parsing.
//! The key type so far is [`Block`]: bytes paired with the CID that names them, constructible
//! only by hashing the bytes or by checking them against a CID, so code holding a `Block` never
//! needs to verify it again.

mod block;
mod cids;
mod envelope;
mod runtime;
mod spec;

pub use block::{Block, BlockError};
pub use cid::{Cid, multibase};
pub use cids::{
    CODEC_DAG_PB, CODEC_RAW, CidError, MULTIHASH_SHA2_256, digest_of, parse_cid, raw_cid,
    sha256_multihash,
};
pub use envelope::{Envelope, ErrorKind, JobError, Limits, LogEntry, Success};
pub use runtime::{Runtime, UnknownRuntime};
pub use spec::{ENGINE_VERSION, JobSpec, SPEC_VERSION, SpecError, hex32, parse_hex32};
