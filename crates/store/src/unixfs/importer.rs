//! The UnixFS file importer with Kubo's parameters.
//!
//! Kubo's `ipfs add` cuts the file into fixed-size chunks and builds a balanced DAG: every
//! internal node has up to 174 children and all but the last child of a node are full subtrees.
//! That shape equals grouping the leaves 174 at a time, then those nodes 174 at a time, up to a
//! single root, which lets [`FileBuilder`] emit each node as soon as its group fills: memory stays
//! O(depth × 174) whatever the file size. A file of one chunk is its own root.

use std::sync::{Arc, Mutex};

use agency_primitives::{Block, CODEC_DAG_PB, CODEC_RAW, Cid};
use bytes::{Bytes, BytesMut};
use futures::{StreamExt, stream::FuturesOrdered};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::pb;
use crate::{BlockStore, StoreError};

/// Kubo's default chunk size (`size-262144`).
pub const DEFAULT_CHUNK_SIZE: usize = 262_144;
/// The largest chunk Kubo accepts (1 MiB).
pub const MAX_CHUNK_SIZE: usize = 1 << 20;
/// Kubo's maximum number of links per internal node in the balanced layout.
pub const MAX_LINKS: usize = 174;

/// How a file is cut and named; defaults equal `ipfs add` with no flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportOptions {
    /// CID version of dag-pb nodes: 0 (Kubo's default) or 1.
    pub cid_version: u8,
    /// Leaves as raw blocks (CIDv1, codec raw) instead of dag-pb UnixFS nodes.
    pub raw_leaves: bool,
    /// Bytes per chunk, 1..=[`MAX_CHUNK_SIZE`].
    pub chunk_size: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            cid_version: 0,
            raw_leaves: false,
            chunk_size: DEFAULT_CHUNK_SIZE,
        }
    }
}

impl ImportOptions {
    /// Builds options from Kubo's flags: `--cid-version`, `--raw-leaves` (defaulting to on with
    /// CIDv1, as in Kubo) and `--chunker size-N`.
    pub fn from_kubo_flags(
        cid_version: u8,
        raw_leaves: Option<bool>,
        chunker: Option<&str>,
    ) -> Result<Self, StoreError> {
        if cid_version > 1 {
            return Err(StoreError::InvalidArgument(format!(
                "unsupported CID version {cid_version} (use 0 or 1)"
            )));
        }
        let chunk_size = match chunker {
            None | Some("default") => DEFAULT_CHUNK_SIZE,
            Some(spec) => parse_chunker(spec)?,
        };
        Ok(Self {
            cid_version,
            raw_leaves: raw_leaves.unwrap_or(cid_version == 1),
            chunk_size,
        })
    }
}

fn parse_chunker(spec: &str) -> Result<usize, StoreError> {
    let bad = |why: &str| StoreError::InvalidArgument(format!("invalid chunker {spec:?}: {why}"));
    let n = spec
        .strip_prefix("size-")
        .ok_or_else(|| bad("only size-N is supported"))?;
    let n: usize = n
        .parse()
        .map_err(|_| bad("N must be a whole number of bytes"))?;
    if n == 0 || n > MAX_CHUNK_SIZE {
        return Err(bad(&format!("N must be between 1 and {MAX_CHUNK_SIZE}")));
    }
    Ok(n)
}

/// What an import produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportSummary {
    /// The root CID, the one `ipfs add` prints.
    pub root: Cid,
    /// File bytes read.
    pub size: u64,
    /// Cumulative DAG size (the root link's Tsize; Kubo's `Size` in `add` output).
    pub dag_size: u64,
    /// Blocks produced.
    pub blocks: u64,
}

/// A link waiting to be grouped: child CID, its Tsize, and the file bytes under it.
type Pending = (Cid, u64, u64);

/// Builds a UnixFS file DAG from chunks, emitting each block as soon as it is final.
#[derive(Debug)]
pub struct FileBuilder {
    opts: ImportOptions,
    levels: Vec<Vec<Pending>>,
    size: u64,
    blocks: u64,
}

impl FileBuilder {
    /// Starts a file with the given options.
    pub fn new(opts: ImportOptions) -> Self {
        Self {
            opts,
            levels: vec![Vec::with_capacity(MAX_LINKS)],
            size: 0,
            blocks: 0,
        }
    }

    /// Adds the next chunk (normally `chunk_size` bytes; only the last may be shorter) and
    /// appends every block that became final to `out`.
    pub fn push_chunk(&mut self, chunk: Bytes, out: &mut Vec<Block>) {
        let len = chunk.len() as u64;
        self.push_leaf(make_leaf(&self.opts, chunk), len, out);
    }

    /// Adds the next leaf, made by [`make_leaf`] with this builder's options from a chunk of
    /// `len` bytes; lets callers hash leaves in parallel and feed them in order.
    pub fn push_leaf(&mut self, leaf: Block, len: u64, out: &mut Vec<Block>) {
        self.size += len;
        self.push(0, (*leaf.cid(), leaf.data().len() as u64, len), leaf, out);
    }

    /// Finishes the file and returns its summary; the last blocks, root included, go to `out`.
    pub fn finish(mut self, out: &mut Vec<Block>) -> ImportSummary {
        if self.blocks == 0 {
            // The empty file is one empty leaf.
            self.push_chunk(Bytes::new(), out);
        }
        let mut level = 0;
        let root = loop {
            let higher = self.levels[level + 1..].iter().any(|l| !l.is_empty());
            if !higher && self.levels[level].len() == 1 {
                break self.levels[level][0];
            }
            if !self.levels[level].is_empty() {
                self.close_level(level, out);
            }
            level += 1;
        };
        ImportSummary {
            root: root.0,
            size: self.size,
            dag_size: root.1,
            blocks: self.blocks,
        }
    }

    fn dag_pb(&self, data: Vec<u8>) -> Block {
        if self.opts.cid_version == 0 {
            Block::new_v0(data)
        } else {
            Block::new(CODEC_DAG_PB, data)
        }
    }

    fn push(&mut self, level: usize, link: Pending, block: Block, out: &mut Vec<Block>) {
        self.blocks += 1;
        out.push(block);
        self.levels[level].push(link);
        if self.levels[level].len() == MAX_LINKS {
            self.close_level(level, out);
        }
    }

    /// Turns the pending links of `level` into one node linked from `level + 1`.
    fn close_level(&mut self, level: usize, out: &mut Vec<Block>) {
        let links = std::mem::take(&mut self.levels[level]);
        let node = self.dag_pb(pb::encode_file_node(&links));
        let tsize = node.data().len() as u64 + links.iter().map(|l| l.1).sum::<u64>();
        let size = links.iter().map(|l| l.2).sum();
        self.levels[level] = links;
        self.levels[level].clear();
        if self.levels.len() == level + 1 {
            self.levels.push(Vec::with_capacity(MAX_LINKS));
        }
        self.push(level + 1, (*node.cid(), tsize, size), node, out);
    }
}

fn dag_pb(opts: &ImportOptions, data: impl Into<Bytes>) -> Block {
    if opts.cid_version == 0 {
        Block::new_v0(data)
    } else {
        Block::new(CODEC_DAG_PB, data)
    }
}

/// Makes the leaf block of one chunk: a raw block, or a dag-pb UnixFS file node.
pub fn make_leaf(opts: &ImportOptions, chunk: Bytes) -> Block {
    if opts.raw_leaves {
        leaf_block(opts, chunk)
    } else {
        leaf_block(opts, pb::encode_file_leaf(&chunk))
    }
}

/// Names a leaf's bytes: the chunk itself with raw leaves, else its framed dag-pb node.
fn leaf_block(opts: &ImportOptions, bytes: impl Into<Bytes>) -> Block {
    if opts.raw_leaves {
        Block::new(CODEC_RAW, bytes)
    } else {
        dag_pb(opts, bytes)
    }
}

/// Chunk bytes hashed per task on the blocking pool.
const TASK_BYTES: usize = 1 << 20;
/// Hashing tasks in flight: enough to keep both cores of a small machine busy while reading.
const TASKS_IN_FLIGHT: usize = 4;
/// Block bytes handed to the store per [`BlockStore::put_many`] call.
const FLUSH_BYTES: usize = 8 << 20;

/// Imports everything `reader` yields as one UnixFS file. Blocks go to `store` as they are made
/// (`None` computes the CID only, like `ipfs add --only-hash`); `progress` gets the bytes
/// imported so far, about every MiB.
pub async fn import<R: AsyncRead + Unpin>(
    reader: R,
    opts: ImportOptions,
    store: Option<&dyn BlockStore>,
    progress: impl FnMut(u64),
) -> Result<ImportSummary, StoreError> {
    pipeline(Source::Stream(reader), opts, store, progress).await
}

/// Imports the file at `path` like [`import`], faster: each hashing task reads its own range of
/// the file (`pread`) straight into the leaf's buffer, so reading runs in parallel and no chunk
/// is copied. Fails if the file changes size while it is read.
pub async fn import_file(
    path: &std::path::Path,
    opts: ImportOptions,
    store: Option<&dyn BlockStore>,
    progress: impl FnMut(u64),
) -> Result<ImportSummary, StoreError> {
    let file = std::fs::File::open(path).map_err(|e| StoreError::io("opening", path, e))?;
    let meta = file
        .metadata()
        .map_err(|e| StoreError::io("reading the size of", path, e))?;
    if !meta.is_file() || meta.len() == 0 {
        // Pipes, devices and procfs files do not know their size: read them as a stream.
        let reader = tokio::fs::File::from_std(file);
        return pipeline(Source::Stream(reader), opts, store, progress).await;
    }
    let source = Source::<tokio::fs::File>::File {
        file: Arc::new(file),
        path: path.into(),
        len: meta.len(),
        offset: 0,
    };
    pipeline(source, opts, store, progress).await
}

enum Source<R> {
    Stream(R),
    File {
        file: Arc<std::fs::File>,
        path: Arc<std::path::Path>,
        len: u64,
        offset: u64,
    },
}

type Leaves = Vec<(u64, Block)>;

/// Recycles leaf buffers during a hash-only import, so that a long file reuses the same memory
/// instead of faulting in fresh pages for every chunk (which costs more than hashing it).
#[derive(Clone, Default)]
struct BufferPool(Arc<Mutex<Vec<Vec<u8>>>>);

impl BufferPool {
    /// Buffers kept: enough for every task in flight.
    const KEEP: usize = 64;

    fn take(&self, capacity: usize) -> Vec<u8> {
        let mut buf = self.0.lock().expect("pool lock").pop().unwrap_or_default();
        buf.clear();
        buf.reserve_exact(capacity);
        buf
    }

    fn give(&self, block: Block) {
        let (_, data) = block.into_parts();
        // Only a buffer this pool can reuse: the unique owner of a whole allocation.
        if let Ok(data) = data.try_into_mut() {
            let mut pool = self.0.lock().expect("pool lock");
            if pool.len() < Self::KEEP {
                pool.push(data.into());
            }
        }
    }
}

impl<R: AsyncRead + Unpin> Source<R> {
    /// Starts the next hashing task, or returns `None` at the end of the input.
    async fn next_task(
        &mut self,
        opts: ImportOptions,
        pool: &BufferPool,
    ) -> Result<Option<tokio::task::JoinHandle<Result<Leaves, StoreError>>>, StoreError> {
        let per_task = (TASK_BYTES / opts.chunk_size).max(1);
        match self {
            Source::Stream(reader) => {
                let mut chunks = Vec::with_capacity(per_task);
                while chunks.len() < per_task {
                    let chunk = read_chunk(reader, opts.chunk_size).await?;
                    let last = chunk.len() < opts.chunk_size;
                    if !chunk.is_empty() {
                        chunks.push(chunk);
                    }
                    if last {
                        break;
                    }
                }
                if chunks.is_empty() {
                    return Ok(None);
                }
                Ok(Some(tokio::task::spawn_blocking(move || {
                    Ok(chunks
                        .into_iter()
                        .map(|c| (c.len() as u64, make_leaf(&opts, c)))
                        .collect())
                })))
            }
            Source::File {
                file,
                path,
                len,
                offset,
            } => {
                if *offset >= *len {
                    return Ok(None);
                }
                let start = *offset;
                let end = (*len).min(start + (per_task * opts.chunk_size) as u64);
                *offset = end;
                let (file, path, pool) = (file.clone(), path.clone(), pool.clone());
                Ok(Some(tokio::task::spawn_blocking(move || {
                    read_leaves(&file, &path, start, end, &opts, &pool)
                })))
            }
        }
    }

    /// Checks, after the last task, that a file source did not grow while it was read.
    fn check_end(&self) -> Result<(), StoreError> {
        use std::os::unix::fs::FileExt;
        if let Source::File {
            file, path, len, ..
        } = self
        {
            // A byte past the size read at the start means the file grew meanwhile.
            let mut probe = [0u8; 1];
            let more = file
                .read_at(&mut probe, *len)
                .map_err(|e| StoreError::io("reading", &**path, e))?;
            if more != 0 {
                return Err(changed(path));
            }
        }
        Ok(())
    }
}

fn changed(path: &std::path::Path) -> StoreError {
    let e = std::io::Error::other("the file changed size while it was being added");
    StoreError::io("reading", path, e)
}

/// Reads bytes `start..end` of `file` as leaves, each chunk read in place into its block.
fn read_leaves(
    file: &std::fs::File,
    path: &std::path::Path,
    start: u64,
    end: u64,
    opts: &ImportOptions,
    pool: &BufferPool,
) -> Result<Leaves, StoreError> {
    use std::os::unix::fs::FileExt;
    let mut leaves = Vec::new();
    let mut pos = start;
    while pos < end {
        let len = (end - pos).min(opts.chunk_size as u64) as usize;
        let (prefix, suffix) = if opts.raw_leaves {
            (Vec::new(), Vec::new())
        } else {
            pb::file_leaf_frame(len)
        };
        let mut buf = pool.take(prefix.len() + len + suffix.len());
        buf.extend_from_slice(&prefix);
        let at = buf.len();
        buf.resize(at + len, 0);
        file.read_exact_at(&mut buf[at..], pos)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => changed(path),
                _ => StoreError::io("reading", path, e),
            })?;
        buf.extend_from_slice(&suffix);
        leaves.push((len as u64, leaf_block(opts, buf)));
        pos += len as u64;
    }
    Ok(leaves)
}

/// The import pipeline: hashing tasks run on the blocking pool, several at once, and their
/// leaves are fed to the builder in file order, so the DAG equals a sequential import's.
async fn pipeline<R: AsyncRead + Unpin>(
    mut source: Source<R>,
    opts: ImportOptions,
    store: Option<&dyn BlockStore>,
    mut progress: impl FnMut(u64),
) -> Result<ImportSummary, StoreError> {
    if opts.chunk_size == 0 || opts.chunk_size > MAX_CHUNK_SIZE {
        return Err(StoreError::InvalidArgument(format!(
            "chunk size {} is outside 1..={MAX_CHUNK_SIZE}",
            opts.chunk_size
        )));
    }
    let mut builder = FileBuilder::new(opts);
    let mut pending = FuturesOrdered::new();
    let mut out = Vec::new();
    let pool = BufferPool::default();
    let (mut read, mut eof) = (0u64, false);
    loop {
        while !eof && pending.len() < TASKS_IN_FLIGHT {
            match source.next_task(opts, &pool).await? {
                Some(task) => pending.push_back(task),
                None => eof = true,
            }
        }
        let Some(leaves) = pending.next().await else {
            break;
        };
        for (len, leaf) in leaves.expect("hashing a chunk does not panic")? {
            read += len;
            builder.push_leaf(leaf, len, &mut out);
        }
        progress(read);
        match store {
            None => out.drain(..).for_each(|block| pool.give(block)),
            Some(_) if out.iter().map(|b| b.data().len()).sum::<usize>() >= FLUSH_BYTES => {
                flush(store, &mut out).await?;
            }
            Some(_) => {}
        }
    }
    source.check_end()?;
    let summary = builder.finish(&mut out);
    flush(store, &mut out).await?;
    Ok(summary)
}

/// Reads up to `size` bytes: exactly `size` unless the input ends first.
async fn read_chunk<R: AsyncRead + Unpin>(
    reader: &mut R,
    size: usize,
) -> Result<Bytes, StoreError> {
    let mut buf = BytesMut::with_capacity(size);
    while buf.len() < size {
        if reader.read_buf(&mut buf).await.map_err(StoreError::Input)? == 0 {
            break;
        }
    }
    Ok(buf.freeze())
}

async fn flush(store: Option<&dyn BlockStore>, out: &mut Vec<Block>) -> Result<(), StoreError> {
    match store {
        Some(store) if !out.is_empty() => store.put_many(std::mem::take(out)).await,
        _ => {
            out.clear();
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(n_chunks: usize) -> (ImportSummary, Vec<Block>) {
        let opts = ImportOptions {
            cid_version: 1,
            raw_leaves: true,
            chunk_size: 1,
        };
        let mut b = FileBuilder::new(opts);
        let mut out = Vec::new();
        for i in 0..n_chunks {
            b.push_chunk(Bytes::from(vec![(i % 251) as u8]), &mut out);
        }
        let s = b.finish(&mut out);
        (s, out)
    }

    #[test]
    fn balanced_tree_node_counts() {
        // leaves, then internal nodes: ceil(n/174) at height 1, and so on up to one root.
        for (n, internal) in [
            (1, 0),
            (2, 1),
            (174, 1),
            (175, 3),
            (174 * 174, 175),
            (174 * 174 + 1, 178),
        ] {
            let (s, blocks) = shape(n);
            assert_eq!(s.blocks as usize, n + internal, "{n} leaves");
            assert_eq!(blocks.len(), n + internal);
            assert_eq!(s.size, n as u64);
            assert_eq!(
                blocks.last().unwrap().cid(),
                &s.root,
                "root is emitted last"
            );
        }
    }

    #[test]
    fn kubo_flags() {
        assert_eq!(
            ImportOptions::from_kubo_flags(0, None, None).unwrap(),
            ImportOptions::default()
        );
        let v1 = ImportOptions::from_kubo_flags(1, None, Some("size-1024")).unwrap();
        assert_eq!(
            v1,
            ImportOptions {
                cid_version: 1,
                raw_leaves: true,
                chunk_size: 1024
            }
        );
        assert!(
            !ImportOptions::from_kubo_flags(1, Some(false), None)
                .unwrap()
                .raw_leaves
        );
        for bad in ["size-0", "size-1048577", "rabin", "size-x", "size-"] {
            let err = ImportOptions::from_kubo_flags(0, None, Some(bad)).unwrap_err();
            assert!(err.to_string().contains("invalid chunker"), "{bad}: {err}");
        }
        assert!(ImportOptions::from_kubo_flags(2, None, None).is_err());
    }
}
