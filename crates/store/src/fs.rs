//! The on-disk block store: one file per block, written atomically.

use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use agency_primitives::{Block, Cid};
use async_trait::async_trait;

use crate::{BlockStore, StoreError};

/// A block store in a directory: `blocks/<2 hex>/<hex multihash>`, one file per block.
///
/// A block is written to `tmp/`, flushed to disk, then renamed into place, so after a crash it
/// is either whole or absent; leftovers in `tmp/` are removed on open. Reads hash the file and
/// report a corrupt one as [`StoreError::Corrupt`] naming the CID.
#[derive(Debug)]
pub struct FsStore {
    root: PathBuf,
    tmp_counter: Arc<AtomicU64>,
}

impl FsStore {
    /// Opens (creating if needed) a store under `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        for dir in [root.join("blocks"), root.join("tmp")] {
            std::fs::create_dir_all(&dir)
                .map_err(|e| StoreError::io("creating store directory", &dir, e))?;
        }
        let tmp = root.join("tmp");
        if let Ok(entries) = std::fs::read_dir(&tmp) {
            for entry in entries.flatten() {
                // A leftover of an interrupted write: never renamed, so never visible.
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(Self {
            root,
            tmp_counter: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Returns the directory the store lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Returns the path of the file holding the block named by `cid`.
    pub fn block_path(&self, cid: &Cid) -> PathBuf {
        let hex: String = cid
            .hash()
            .to_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        // Shard on the first digest byte (after the 2-byte multihash prefix).
        self.root.join("blocks").join(&hex[4..6]).join(hex)
    }

    fn write_block(
        root: &Path,
        counter: &AtomicU64,
        path: &Path,
        data: &[u8],
    ) -> Result<(), StoreError> {
        let dir = path.parent().expect("block paths have a shard directory");
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::io("creating shard directory", dir, e))?;
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let tmp = root.join("tmp").join(format!("{}-{n}", std::process::id()));
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)
                .map_err(|e| StoreError::io("writing block to", &tmp, e))?;
            f.write_all(data)
                .map_err(|e| StoreError::io("writing block to", &tmp, e))?;
            f.sync_data()
                .map_err(|e| StoreError::io("flushing block to", &tmp, e))?;
            std::fs::rename(&tmp, path).map_err(|e| StoreError::io("moving block into", path, e))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

#[async_trait]
impl BlockStore for FsStore {
    async fn get(&self, cid: &Cid) -> Result<Block, StoreError> {
        let path = self.block_path(cid);
        let data = match tokio::fs::read(&path).await {
            Ok(data) => data,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound {
                    cid: *cid,
                    backend: self.name(),
                });
            }
            Err(e) => return Err(StoreError::io("reading block from", path, e)),
        };
        Block::verified(*cid, data).map_err(|e| StoreError::from_block(self.name(), e))
    }

    async fn put(&self, block: Block) -> Result<(), StoreError> {
        let path = self.block_path(block.cid());
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(());
        }
        let (root, counter) = (self.root.clone(), self.tmp_counter.clone());
        tokio::task::spawn_blocking(move || Self::write_block(&root, &counter, &path, block.data()))
            .await
            .expect("block writer does not panic")
    }

    async fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        let path = self.block_path(cid);
        tokio::fs::try_exists(&path)
            .await
            .map_err(|e| StoreError::io("checking block", path, e))
    }

    fn name(&self) -> &'static str {
        "disk store"
    }
}
