//! Agency's content store: Kubo-identical UnixFS CIDs over pluggable block stores.
//!
//! Job specs, code, inputs and results are content-addressed. This crate imports bytes as UnixFS
//! files exactly as Kubo's `ipfs add` does (fixed-size chunks, balanced DAG of up to 174 links,
//! dag-pb, sha2-256, CIDv0 or CIDv1 with raw leaves), reads them back while verifying every
//! block, moves DAGs in and out as CARv1, and serves a Kubo RPC subset and a trustless gateway.
//!
//! The key decision: nothing read is trusted. Every backend returns a [`Block`], constructible
//! only by hashing bytes against their CID, so a corrupt disk or a lying remote is an error that
//! names the CID, never wrong bytes handed on.
//!
//! Depends on `agency-primitives` only; it knows nothing of jobs, chains or executors.
//! Features: `kubo` (the Kubo RPC client backend), `server` (the axum HTTP API), `test-utils`
//! (the [`conformance`] suite every backend runs).

mod blockstore;
mod car;
mod error;
mod fs;
mod unixfs;

#[cfg(feature = "test-utils")]
pub mod conformance;
#[cfg(feature = "kubo")]
mod kubo;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "test-utils")]
pub mod testing;

pub use agency_primitives::{Block, Cid};
pub use blockstore::{BlockStore, MemStore};
pub use car::{CarSummary, export_car, import_car, import_car_file, scan_car};
pub use error::StoreError;
pub use fs::FsStore;
#[cfg(feature = "kubo")]
pub use kubo::KuboStore;
pub use unixfs::{
    DEFAULT_CHUNK_SIZE, DagWalker, FileBuilder, ImportOptions, ImportSummary, MAX_CHUNK_SIZE,
    MAX_LINKS, cat, file_size, import, import_file, make_leaf,
};
