//! Persistence: an append-only journal of blocks in the data dir, replayed on open.
//!
//! `chain.jsonl` holds one JSON object per line: first the genesis (chain id, gas limit, base
//! fee, timestamp, funded accounts), then one line per mined block (number, timestamp, clock
//! offset, hash, raw signed transactions). Reopening re-executes every block and checks that
//! each comes out with its recorded hash, so a journal is either replayed exactly or refused.
//! A line is written and flushed when its block is mined: a killed process loses nothing it
//! has acknowledged (a power cut may lose what the OS had not yet written). `evm_revert` cuts
//! the file back to the reverted-to block. A torn last line (a crash mid-write) is dropped.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use alloy::eips::eip2718::Encodable2718;
use alloy::primitives::{Address, B256, Bytes, U256};
use serde::{Deserialize, Serialize};

use crate::chain::MinedBlock;
use crate::error::OpenError;

pub(crate) const FILE: &str = "chain.jsonl";
const FORMAT: u32 = 1;

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Genesis {
    pub(crate) format: u32,
    pub(crate) chain_id: u64,
    pub(crate) gas_limit: u64,
    pub(crate) base_fee: u64,
    pub(crate) timestamp: u64,
    pub(crate) alloc: Vec<(Address, U256)>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct BlockRecord {
    pub(crate) number: u64,
    pub(crate) timestamp: u64,
    pub(crate) time_offset: i64,
    pub(crate) hash: B256,
    pub(crate) txs: Vec<Bytes>,
}

impl BlockRecord {
    pub(crate) fn of(block: &MinedBlock, time_offset: i64) -> Self {
        Self {
            number: block.number(),
            timestamp: block.header.timestamp,
            time_offset,
            hash: block.hash,
            txs: block
                .txs
                .iter()
                .map(|mined| mined.tx.inner().encoded_2718().into())
                .collect(),
        }
    }
}

/// What a data dir held when opened.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) genesis: Genesis,
    pub(crate) blocks: Vec<BlockRecord>,
}

#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
    /// `ends[n]`: the file length just after block `n`'s line (`ends[0]`: after the genesis).
    ends: Vec<u64>,
}

impl Journal {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Opens `dir/chain.jsonl`, creating it with `genesis` when it does not exist yet.
    pub(crate) fn open(dir: &Path, genesis: Genesis) -> Result<(Self, Loaded), OpenError> {
        let path = dir.join(FILE);
        let io = |source| OpenError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io)?;
        let corrupt = |line: usize, reason: String| OpenError::Corrupt {
            path: path.clone(),
            line,
            reason,
        };
        let mut lines = Vec::new();
        let mut reader = BufReader::new(&file);
        let mut offset = 0u64;
        let mut torn = None;
        loop {
            let mut line = String::new();
            let read = reader.read_line(&mut line).map_err(io)?;
            if read == 0 {
                break;
            }
            if !line.ends_with('\n') {
                torn = Some(offset);
                break;
            }
            offset += read as u64;
            lines.push((line, offset));
        }
        if let Some(keep) = torn {
            tracing::warn!(path = %path.display(), "dropping a torn last line of the journal");
            file.set_len(keep).map_err(io)?;
        }
        if lines.is_empty() {
            let mut text =
                serde_json::to_string(&genesis).map_err(|e| corrupt(1, e.to_string()))?;
            text.push('\n');
            file.set_len(0).map_err(io)?;
            file.write_all(text.as_bytes()).map_err(io)?;
            file.flush().map_err(io)?;
            let ends = vec![text.len() as u64];
            let loaded = Loaded {
                genesis,
                blocks: Vec::new(),
            };
            return Ok((Self { path, file, ends }, loaded));
        }
        let found: Genesis =
            serde_json::from_str(&lines[0].0).map_err(|e| corrupt(1, e.to_string()))?;
        if found.format != FORMAT {
            return Err(corrupt(
                1,
                format!("unknown journal format {}", found.format),
            ));
        }
        if found.chain_id != genesis.chain_id {
            return Err(OpenError::OtherChain {
                path,
                found: found.chain_id,
                wanted: genesis.chain_id,
            });
        }
        if (&found.alloc, found.gas_limit, found.base_fee)
            != (&genesis.alloc, genesis.gas_limit, genesis.base_fee)
        {
            return Err(OpenError::OtherGenesis { path });
        }
        let mut ends = vec![lines[0].1];
        let mut blocks = Vec::with_capacity(lines.len() - 1);
        for (index, (line, end)) in lines.iter().enumerate().skip(1) {
            let record: BlockRecord =
                serde_json::from_str(line).map_err(|e| corrupt(index + 1, e.to_string()))?;
            if record.number != index as u64 {
                return Err(corrupt(
                    index + 1,
                    format!("block {} out of order", record.number),
                ));
            }
            ends.push(*end);
            blocks.push(record);
        }
        Ok((
            Self { path, file, ends },
            Loaded {
                genesis: found,
                blocks,
            },
        ))
    }

    pub(crate) fn genesis(
        chain_id: u64,
        gas_limit: u64,
        base_fee: u64,
        timestamp: u64,
        alloc: Vec<(Address, U256)>,
    ) -> Genesis {
        Genesis {
            format: FORMAT,
            chain_id,
            gas_limit,
            base_fee,
            timestamp,
            alloc,
        }
    }

    pub(crate) fn append(&mut self, record: &BlockRecord) -> std::io::Result<()> {
        let mut text = serde_json::to_vec(record).map_err(std::io::Error::other)?;
        text.push(b'\n');
        self.file.write_all(&text)?;
        let end = self.ends.last().copied().unwrap_or_default() + text.len() as u64;
        self.ends.push(end);
        Ok(())
    }

    /// Cuts the journal back to block `height`.
    pub(crate) fn truncate(&mut self, height: u64) -> std::io::Result<()> {
        let keep = usize::try_from(height)
            .unwrap_or(usize::MAX)
            .saturating_add(1);
        if keep >= self.ends.len() {
            return Ok(());
        }
        self.ends.truncate(keep);
        let end = *self.ends.last().expect("the genesis line stays");
        self.file.set_len(end)?;
        self.file.seek(SeekFrom::End(0))?;
        Ok(())
    }
}
