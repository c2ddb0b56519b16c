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
/// Blocks are written to `tmp/`, flushed to disk, then renamed into place, so after a crash a
/// block is either whole or absent; leftovers in `tmp/` are removed on open. A batch
/// ([`BlockStore::put_many`]) shares one flush (`syncfs`) instead of one per block. Reads hash
/// the file and report a corrupt one as [`StoreError::Corrupt`] naming the CID.
#[derive(Debug, Clone)]
pub struct FsStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    tmp_counter: AtomicU64,
}

impl FsStore {
    /// Opens (creating if needed) a store under `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        for dir in [root.join("blocks"), root.join("tmp")] {
            std::fs::create_dir_all(&dir)
                .map_err(|e| StoreError::io("creating store directory", &dir, e))?;
        }
        if let Ok(entries) = std::fs::read_dir(root.join("tmp")) {
            for entry in entries.flatten() {
                // A leftover of an interrupted write: never renamed, so never visible.
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                root,
                tmp_counter: AtomicU64::new(0),
            }),
        })
    }

    /// Returns the directory the store lives in.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Returns the path of the file holding the block named by `cid`.
    pub fn block_path(&self, cid: &Cid) -> PathBuf {
        self.inner.block_path(cid)
    }
}

impl Inner {
    fn block_path(&self, cid: &Cid) -> PathBuf {
        let hex: String = cid
            .hash()
            .to_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        // Shard on the first digest byte (after the 2-byte multihash prefix).
        self.root.join("blocks").join(&hex[4..6]).join(hex)
    }

    /// Writes the absent blocks: stage each in `tmp/`, flush them all, then rename each into
    /// place. On error, staged files are removed; renamed blocks stay (each is whole).
    fn write_blocks(&self, blocks: &[Block]) -> Result<(), StoreError> {
        let mut staged: Vec<(PathBuf, PathBuf, std::fs::File)> = Vec::new();
        let result = self.stage(blocks, &mut staged).and_then(|()| {
            match &staged[..] {
                [] => {}
                [(tmp, _, file)] => file
                    .sync_data()
                    .map_err(|e| StoreError::io("flushing block to", tmp, e))?,
                [(tmp, _, file), ..] => rustix::fs::syncfs(file).map_err(|e| {
                    StoreError::io("flushing blocks to", tmp.parent().unwrap_or(tmp), e.into())
                })?,
            }
            for (i, (tmp, path, _)) in staged.iter().enumerate() {
                std::fs::rename(tmp, path).map_err(|e| {
                    for (rest, _, _) in &staged[i..] {
                        let _ = std::fs::remove_file(rest);
                    }
                    StoreError::io("moving block into", path, e)
                })?;
            }
            Ok(())
        });
        if result.is_err() {
            for (tmp, _, _) in &staged {
                let _ = std::fs::remove_file(tmp);
            }
        }
        result
    }

    fn stage(
        &self,
        blocks: &[Block],
        staged: &mut Vec<(PathBuf, PathBuf, std::fs::File)>,
    ) -> Result<(), StoreError> {
        for block in blocks {
            let path = self.block_path(block.cid());
            if path.exists() || staged.iter().any(|(_, p, _)| *p == path) {
                continue;
            }
            let dir = path.parent().expect("block paths have a shard directory");
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::io("creating shard directory", dir, e))?;
            let n = self.tmp_counter.fetch_add(1, Ordering::Relaxed);
            let tmp = self
                .root
                .join("tmp")
                .join(format!("{}-{n}", std::process::id()));
            let mut file = std::fs::File::create(&tmp)
                .map_err(|e| StoreError::io("writing block to", &tmp, e))?;
            let written = file.write_all(block.data());
            staged.push((tmp, path, file));
            if let Err(e) = written {
                return Err(StoreError::io(
                    "writing block to",
                    &staged[staged.len() - 1].0,
                    e,
                ));
            }
        }
        Ok(())
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
        self.put_many(vec![block]).await
    }

    async fn put_many(&self, blocks: Vec<Block>) -> Result<(), StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.write_blocks(&blocks))
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
