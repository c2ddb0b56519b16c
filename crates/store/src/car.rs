//! CAR v1 export and import.
//!
//! A CARv1 file has no block count or trailer, so a file cut at a block boundary parses cleanly.
//! Import therefore checks completeness itself: every root and every block linked from a dag-pb
//! block in the file must be in the file (or already in the store), else the CAR is reported as
//! truncated or incomplete, naming the first missing block.

use std::{collections::HashSet, path::Path, sync::Arc};

use agency_primitives::{Block, CODEC_DAG_PB, Cid};
use iroh_car::{CarHeader, CarReader, CarWriter};
use tokio::io::{AsyncRead, AsyncWrite, BufReader};

use crate::{BlockStore, DagWalker, StoreError, unixfs::pb};

/// What a CAR held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarSummary {
    /// Roots named in the header.
    pub roots: Vec<Cid>,
    /// Blocks in the body.
    pub blocks: u64,
    /// Block bytes in the body (without CIDs and framing).
    pub bytes: u64,
}

/// Writes the DAG under `root` as a CARv1 with one root, blocks in depth-first link order.
pub async fn export_car<W: AsyncWrite + Send + Unpin>(
    store: Arc<dyn BlockStore>,
    root: Cid,
    writer: W,
) -> Result<CarSummary, StoreError> {
    let mut car = CarWriter::new(CarHeader::new_v1(vec![root]), writer);
    let mut walker = DagWalker::new(store, root);
    let (mut blocks, mut bytes) = (0, 0);
    while let Some(block) = walker.next_block().await? {
        car.write(*block.cid(), block.data())
            .await
            .map_err(car_write_error)?;
        blocks += 1;
        bytes += block.data().len() as u64;
    }
    if blocks == 0 {
        car.write_header().await.map_err(car_write_error)?;
    }
    car.finish().await.map_err(car_write_error)?;
    Ok(CarSummary {
        roots: vec![root],
        blocks,
        bytes,
    })
}

fn car_write_error(e: iroh_car::Error) -> StoreError {
    match e {
        iroh_car::Error::Io(e) => StoreError::Output(e),
        other => StoreError::Car {
            reason: other.to_string(),
        },
    }
}

fn car_read_error(e: iroh_car::Error) -> StoreError {
    StoreError::Car {
        reason: e.to_string(),
    }
}

/// Tracks which blocks a CAR holds and which it links to.
#[derive(Default)]
struct Completeness {
    present: HashSet<Vec<u8>>,
    wanted: Vec<Cid>,
}

impl Completeness {
    fn record(&mut self, block: &Block) -> Result<(), StoreError> {
        self.present.insert(block.cid().hash().to_bytes());
        if block.cid().codec() == CODEC_DAG_PB {
            let node = pb::decode_node(block.data())
                .map_err(|e| StoreError::malformed(*block.cid(), "dag-pb", e))?;
            self.wanted.extend(node.links.into_iter().map(|l| l.cid));
        }
        Ok(())
    }

    fn missing(&self) -> Vec<Cid> {
        let mut seen = HashSet::new();
        self.wanted
            .iter()
            .filter(|c| {
                !self.present.contains(&c.hash().to_bytes()) && seen.insert(c.hash().to_bytes())
            })
            .copied()
            .collect()
    }
}

/// Reads a whole CAR, verifying every block against its CID; each block goes to `sink`.
/// Returns the summary and the blocks linked or named as roots but absent from the file.
async fn read_car<R: AsyncRead + Send + Unpin>(
    reader: R,
    mut sink: impl AsyncFnMut(Block) -> Result<(), StoreError>,
) -> Result<(CarSummary, Vec<Cid>), StoreError> {
    let mut car = CarReader::new(BufReader::with_capacity(1 << 20, reader))
        .await
        .map_err(car_read_error)?;
    let roots = car.header().roots().to_vec();
    let mut check = Completeness {
        wanted: roots.clone(),
        ..Default::default()
    };
    let (mut blocks, mut bytes) = (0, 0);
    while let Some((cid, data)) = car.next_block().await.map_err(car_read_error)? {
        let block = Block::verified(cid, data).map_err(|e| StoreError::Car {
            reason: format!("block {} of the file: {e}", blocks + 1),
        })?;
        check.record(&block)?;
        blocks += 1;
        bytes += block.data().len() as u64;
        sink(block).await?;
    }
    Ok((
        CarSummary {
            roots,
            blocks,
            bytes,
        },
        check.missing(),
    ))
}

/// Verifies a CAR without storing anything; returns its summary and the blocks it lacks.
pub async fn scan_car<R: AsyncRead + Send + Unpin>(
    reader: R,
) -> Result<(CarSummary, Vec<Cid>), StoreError> {
    read_car(reader, async |_| Ok(())).await
}

/// Imports a CAR from a stream: verifies each block, stores it, and fails if the DAG under the
/// roots is not complete in the file plus the store.
pub async fn import_car<R: AsyncRead + Send + Unpin>(
    reader: R,
    store: &dyn BlockStore,
) -> Result<CarSummary, StoreError> {
    let (summary, missing) = read_car(reader, async |block| store.put(block).await).await?;
    check_missing(store, &missing).await?;
    Ok(summary)
}

/// Imports a CAR file in two passes: the first verifies every block and the DAG's completeness
/// and writes nothing, so a bad file leaves the store untouched; the second stores the blocks.
pub async fn import_car_file(
    path: &Path,
    store: &dyn BlockStore,
) -> Result<CarSummary, StoreError> {
    let open = async || {
        tokio::fs::File::open(path)
            .await
            .map_err(|e| StoreError::io("opening CAR file", path, e))
    };
    let (_, missing) = scan_car(open().await?).await?;
    check_missing(store, &missing).await?;
    import_car(open().await?, store).await
}

async fn check_missing(store: &dyn BlockStore, missing: &[Cid]) -> Result<(), StoreError> {
    for cid in missing {
        if !store.has(cid).await? {
            return Err(StoreError::Car {
                reason: format!(
                    "truncated or incomplete: block {cid} is linked or named as a root but is not in the file"
                ),
            });
        }
    }
    Ok(())
}
