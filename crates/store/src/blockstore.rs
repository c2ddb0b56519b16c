//! The `BlockStore` seam and its in-memory implementation.

use std::{collections::HashMap, sync::RwLock};

use agency_primitives::{Block, Cid};
use async_trait::async_trait;
use bytes::Bytes;

use crate::StoreError;

/// A place that holds blocks by CID.
///
/// Implementations: [`MemStore`] (tests, `--only-hash` pipelines), [`FsStore`](crate::FsStore)
/// (the embedded default, one file per block under the data dir) and, with the `kubo` feature,
/// [`KuboStore`](crate::KuboStore) (a Kubo node's HTTP RPC API).
///
/// Contract, checked by [`conformance`](crate::conformance) against every implementation:
/// - `get` returns a [`Block`], so its bytes were hashed and match the CID; bytes that do not
///   match are [`StoreError::Corrupt`], an absent block is [`StoreError::NotFound`]. Blocks are
///   addressed by multihash: a CIDv0 and a CIDv1 with the same digest find the same block.
/// - `put` is idempotent and atomic: after a crash a block is either whole or absent.
/// - remote implementations bound every call with a timeout ([`StoreError::Timeout`]).
///
/// To add a backend: implement the three methods, verify bytes with [`Block::verified`] on the
/// way in, and run the conformance suite against it in the backend's tests.
#[async_trait]
pub trait BlockStore: Send + Sync + std::fmt::Debug {
    /// Returns the block named by `cid`, verified against it.
    async fn get(&self, cid: &Cid) -> Result<Block, StoreError>;
    /// Stores `block`; storing a block that is already present succeeds.
    async fn put(&self, block: Block) -> Result<(), StoreError>;
    /// Stores several blocks, in one durability barrier where the backend can share one.
    /// On error, some of the blocks may be stored (each whole), others not.
    async fn put_many(&self, blocks: Vec<Block>) -> Result<(), StoreError> {
        for block in blocks {
            self.put(block).await?;
        }
        Ok(())
    }
    /// Tells whether the block is present, without fetching it from elsewhere.
    async fn has(&self, cid: &Cid) -> Result<bool, StoreError>;
    /// Returns a short name of the backend for messages ("memory", "disk store", "kubo").
    fn name(&self) -> &'static str;
}

/// A block store in memory, keyed by multihash.
#[derive(Debug, Default)]
pub struct MemStore {
    blocks: RwLock<HashMap<Vec<u8>, Bytes>>,
}

impl MemStore {
    /// Creates an empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the number of blocks held.
    pub fn len(&self) -> usize {
        self.blocks
            .read()
            .expect("lock poisoned by a panicking writer")
            .len()
    }

    /// Tells whether the store holds no block.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Replaces a block's bytes without checking them: a test hook that simulates corruption.
    #[cfg(any(test, feature = "test-utils"))]
    pub fn corrupt(&self, cid: &Cid, data: Bytes) {
        self.blocks
            .write()
            .expect("lock poisoned")
            .insert(cid.hash().to_bytes(), data);
    }
}

#[async_trait]
impl BlockStore for MemStore {
    async fn get(&self, cid: &Cid) -> Result<Block, StoreError> {
        let data = self
            .blocks
            .read()
            .expect("lock poisoned by a panicking writer")
            .get(&cid.hash().to_bytes())
            .cloned()
            .ok_or(StoreError::NotFound {
                cid: *cid,
                backend: self.name(),
            })?;
        Block::verified(*cid, data).map_err(|e| StoreError::from_block(self.name(), e))
    }

    async fn put(&self, block: Block) -> Result<(), StoreError> {
        let (cid, data) = block.into_parts();
        self.blocks
            .write()
            .expect("lock poisoned by a panicking writer")
            .insert(cid.hash().to_bytes(), data);
        Ok(())
    }

    async fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        Ok(self
            .blocks
            .read()
            .expect("lock poisoned by a panicking writer")
            .contains_key(&cid.hash().to_bytes()))
    }

    fn name(&self) -> &'static str {
        "memory store"
    }
}
