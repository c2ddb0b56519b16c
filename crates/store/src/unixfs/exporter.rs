//! Reading DAGs back: a verifying, streaming file reader and a pre-order block walker.

use std::{collections::HashSet, sync::Arc};

use agency_primitives::{Block, CODEC_DAG_PB, CODEC_RAW, Cid};
use bytes::Bytes;
use futures::{Stream, stream};

use super::pb::{self, DataType};
use crate::{BlockStore, StoreError};

/// Streams the bytes of the UnixFS file (or single raw block) at `root`.
///
/// Every block comes through [`BlockStore::get`], so every byte is hash-verified; the UnixFS
/// sizes are checked against each other and against the bytes found, so a DAG whose metadata
/// lies is an error rather than a silently different file. Memory stays at one block plus the
/// pending links.
pub fn cat(
    store: Arc<dyn BlockStore>,
    root: Cid,
) -> impl Stream<Item = Result<Bytes, StoreError>> + Send {
    // Each entry: a block to read and the file bytes its parent says it holds.
    let stack: Vec<(Cid, Option<u64>)> = vec![(root, None)];
    stream::try_unfold((store, stack), |(store, mut stack)| async move {
        while let Some((cid, expected)) = stack.pop() {
            let block = store.get(&cid).await?;
            let (data, children) = file_piece(&block)?;
            let total = data.len() as u64 + children.iter().map(|c| c.1).sum::<u64>();
            if let Some(expected) = expected.filter(|e| *e != total) {
                return Err(StoreError::malformed(
                    cid,
                    "UnixFS file node",
                    format!("parent says it holds {expected} bytes, it holds {total}"),
                ));
            }
            stack.extend(children.into_iter().rev().map(|(c, size)| (c, Some(size))));
            if !data.is_empty() {
                return Ok(Some((data, (store, stack))));
            }
        }
        Ok(None)
    })
}

/// The size of the UnixFS file (or raw block) at `root`, as its root block states it: one
/// block read, so an agent can refuse a file too large before fetching it. [`cat`] checks the
/// statement against the bytes.
pub async fn file_size(store: &dyn BlockStore, root: Cid) -> Result<u64, StoreError> {
    let block = store.get(&root).await?;
    let (data, children) = file_piece(&block)?;
    Ok(data.len() as u64 + children.iter().map(|c| c.1).sum::<u64>())
}

/// Splits a file block into its own bytes and its children with their file sizes.
fn file_piece(block: &Block) -> Result<(Bytes, Vec<(Cid, u64)>), StoreError> {
    let cid = *block.cid();
    match cid.codec() {
        CODEC_RAW => Ok((block.data().clone(), Vec::new())),
        CODEC_DAG_PB => {
            let node = pb::decode_node(block.data())
                .map_err(|e| StoreError::malformed(cid, "dag-pb", e))?;
            let raw = node
                .data
                .ok_or_else(|| StoreError::malformed(cid, "UnixFS", "no Data field"))?;
            let fs =
                pb::decode_unixfs(&raw).map_err(|e| StoreError::malformed(cid, "UnixFS", e))?;
            if !matches!(fs.kind, DataType::File | DataType::Raw) {
                let found = format!("a UnixFS {:?} node", fs.kind).to_lowercase();
                return Err(StoreError::Unsupported {
                    cid,
                    found,
                    expected: "a file",
                });
            }
            if fs.blocksizes.len() != node.links.len() {
                return Err(StoreError::malformed(
                    cid,
                    "UnixFS file node",
                    format!(
                        "{} links but {} block sizes",
                        node.links.len(),
                        fs.blocksizes.len()
                    ),
                ));
            }
            let data = fs.data.unwrap_or_default();
            let total = data.len() as u64 + fs.blocksizes.iter().sum::<u64>();
            if let Some(filesize) = fs.filesize.filter(|f| *f != total) {
                return Err(StoreError::malformed(
                    cid,
                    "UnixFS file node",
                    format!("filesize {filesize} but data and children hold {total} bytes"),
                ));
            }
            let children = node
                .links
                .into_iter()
                .map(|l| l.cid)
                .zip(fs.blocksizes)
                .collect();
            Ok((data, children))
        }
        _ => unreachable!("Block::verified only accepts dag-pb and raw CIDs"),
    }
}

/// Walks every block reachable from a root, depth-first in link order (the order `ipfs dag
/// export` writes a CAR), each distinct block once, each verified by the store.
#[derive(Debug)]
pub struct DagWalker {
    store: Arc<dyn BlockStore>,
    stack: Vec<Cid>,
    seen: HashSet<Vec<u8>>,
}

impl DagWalker {
    /// Starts a walk at `root`.
    pub fn new(store: Arc<dyn BlockStore>, root: Cid) -> Self {
        Self {
            store,
            stack: vec![root],
            seen: HashSet::new(),
        }
    }

    /// Returns the next block, or `None` when the walk is done.
    pub async fn next_block(&mut self) -> Result<Option<Block>, StoreError> {
        while let Some(cid) = self.stack.pop() {
            if !self.seen.insert(cid.hash().to_bytes()) {
                continue;
            }
            let block = self.store.get(&cid).await?;
            if cid.codec() == CODEC_DAG_PB {
                let node = pb::decode_node(block.data())
                    .map_err(|e| StoreError::malformed(cid, "dag-pb", e))?;
                self.stack
                    .extend(node.links.into_iter().rev().map(|l| l.cid));
            }
            return Ok(Some(block));
        }
        Ok(None)
    }
}
