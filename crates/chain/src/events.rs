//! A resumable stream of JobAgency's events with a confirmation depth and reorg reporting.
//!
//! The stream polls: it delivers the logs of blocks at least `confirmations` deep, oldest
//! first, and remembers the hash of every block it delivered logs from (and of the last block
//! it scanned) in its [`Cursor`]. When one of those hashes stops being canonical, a reorg
//! replaced blocks it delivered from: it reports their logs as [`StreamItem::Removed`], newest
//! first, and scans again from the fork. The caller saves the cursor (after handling the items
//! a poll returned) and resumes from it after a restart.

use std::collections::BTreeMap;

use alloy::primitives::{Address, B256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::SolEventInterface;

use crate::bindings::JobAgency::JobAgencyEvents;
use crate::error::ChainError;

/// How many delivered-from blocks a cursor remembers; a reorg deeper than this rescans from
/// the oldest it remembers.
pub const REMEMBERED_BLOCKS: usize = 256;

/// The most blocks one `eth_getLogs` asks for (public endpoints cap ranges).
pub const MAX_SPAN: u64 = 2_000;

/// A decoded JobAgency event and where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEvent {
    pub block: u64,
    pub block_hash: B256,
    pub tx: B256,
    pub log_index: u64,
    pub event: JobAgencyEvents,
}

/// What a poll found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamItem {
    /// An event in a block now `confirmations` deep.
    Added(ChainEvent),
    /// An event delivered earlier whose block a reorg replaced.
    Removed(ChainEvent),
}

/// A block the stream has scanned, with the logs it delivered from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub number: u64,
    pub hash: B256,
    pub logs: Vec<Log>,
}

/// Where a stream stands: the next block to scan, and the recent blocks it scanned (oldest
/// first) to notice reorgs by. `Cursor::from_block(n)` starts at block `n`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    pub next_block: u64,
    pub recent: Vec<Seen>,
}

impl Cursor {
    /// A cursor that starts scanning at `block` (the contract's deployment block, say).
    pub fn from_block(block: u64) -> Self {
        Self {
            next_block: block,
            recent: Vec::new(),
        }
    }

    /// The blocks to scan next when the chain's head is `head`, if any.
    pub fn next_range(&self, head: u64, confirmations: u64) -> Option<(u64, u64)> {
        let last = head.checked_sub(confirmations)?;
        (self.next_block <= last)
            .then(|| (self.next_block, last.min(self.next_block + MAX_SPAN - 1)))
    }

    /// Records a scanned range ending at `tip`: its logs, grouped by block, and the tip itself.
    pub fn record(&mut self, tip: (u64, B256), logs: Vec<Log>) {
        let mut blocks: BTreeMap<u64, Seen> = BTreeMap::new();
        for log in logs {
            let (Some(number), Some(hash)) = (log.block_number, log.block_hash) else {
                continue;
            };
            blocks
                .entry(number)
                .or_insert_with(|| Seen {
                    number,
                    hash,
                    logs: Vec::new(),
                })
                .logs
                .push(log);
        }
        blocks.entry(tip.0).or_insert_with(|| Seen {
            number: tip.0,
            hash: tip.1,
            logs: Vec::new(),
        });
        // The previous tip without logs says nothing the new tip does not.
        if self.recent.last().is_some_and(|s| s.logs.is_empty()) {
            self.recent.pop();
        }
        self.recent.extend(blocks.into_values());
        let excess = self.recent.len().saturating_sub(REMEMBERED_BLOCKS);
        self.recent.drain(..excess);
        self.next_block = tip.0 + 1;
    }

    /// Forgets the newest remembered block, which a reorg replaced: returns its logs, newest
    /// first, and rewinds the scan to its number.
    pub fn pop_replaced(&mut self) -> Option<Vec<Log>> {
        let seen = self.recent.pop()?;
        self.next_block = seen.number;
        Some(seen.logs.into_iter().rev().collect())
    }
}

/// A JobAgency event stream over one provider, resumable from a [`Cursor`].
#[derive(Debug)]
pub struct EventStream {
    provider: DynProvider,
    address: Address,
    confirmations: u64,
    cursor: Cursor,
}

impl EventStream {
    /// A stream of the events of the JobAgency at `address`, from `cursor`, delivering blocks
    /// `confirmations` deep (0: as soon as they are mined).
    pub fn new(
        provider: DynProvider,
        address: Address,
        cursor: Cursor,
        confirmations: u64,
    ) -> Self {
        Self {
            provider,
            address,
            confirmations,
            cursor,
        }
    }

    /// Where the stream stands; save it after handling a poll's items to resume there.
    pub fn cursor(&self) -> &Cursor {
        &self.cursor
    }

    /// Checks for a reorg, then scans the confirmed blocks not yet scanned (at most
    /// [`MAX_SPAN`] per poll). Returns removals first (newest first), then additions (oldest
    /// first). Call it again while it returns additions to catch up.
    pub async fn poll(&mut self) -> Result<Vec<StreamItem>, ChainError> {
        let mut items = Vec::new();
        while let Some(newest) = self.cursor.recent.last() {
            if self.canonical_hash(newest.number).await? == Some(newest.hash) {
                break;
            }
            let removed = self.cursor.pop_replaced().expect("checked non-empty");
            items.extend(
                removed
                    .iter()
                    .map(decode)
                    .collect::<Result<Vec<_>, _>>()?
                    .into_iter()
                    .map(StreamItem::Removed),
            );
        }

        let head = self
            .provider
            .get_block_number()
            .await
            .map_err(|e| rpc("eth_blockNumber", e))?;
        let Some((from, to)) = self.cursor.next_range(head, self.confirmations) else {
            return Ok(items);
        };
        let filter = Filter::new()
            .address(self.address)
            .from_block(from)
            .to_block(to);
        let logs = self
            .provider
            .get_logs(&filter)
            .await
            .map_err(|e| rpc("eth_getLogs", e))?;
        let Some(tip) = self.canonical_hash(to).await? else {
            return Ok(items);
        };

        // A reorg while scanning could mix blocks of two chains: deliver nothing unless every
        // block the logs came from is canonical now; the next poll scans the range again.
        let mut blocks = BTreeMap::new();
        for log in &logs {
            let (Some(number), Some(hash)) = (log.block_number, log.block_hash) else {
                return Ok(items);
            };
            if *blocks.entry(number).or_insert(hash) != hash {
                return Ok(items);
            }
        }
        for (number, hash) in blocks {
            if self.canonical_hash(number).await? != Some(hash) {
                return Ok(items);
            }
        }
        let added = logs.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        self.cursor.record((to, tip), logs);
        items.extend(added.into_iter().map(StreamItem::Added));
        Ok(items)
    }

    async fn canonical_hash(&self, number: u64) -> Result<Option<B256>, ChainError> {
        let block = self
            .provider
            .get_block_by_number(number.into())
            .await
            .map_err(|e| rpc("eth_getBlockByNumber", e))?;
        Ok(block.map(|b| b.header.hash))
    }
}

fn rpc(call: &'static str, e: alloy::transports::TransportError) -> ChainError {
    ChainError::Rpc {
        call,
        source: e.into(),
    }
}

pub(crate) fn decode(log: &Log) -> Result<ChainEvent, ChainError> {
    let event = JobAgencyEvents::decode_log(&log.inner).map_err(|e| ChainError::UnknownEvent {
        tx: log.transaction_hash.unwrap_or_default(),
        reason: e.to_string(),
    })?;
    Ok(ChainEvent {
        block: log.block_number.unwrap_or_default(),
        block_hash: log.block_hash.unwrap_or_default(),
        tx: log.transaction_hash.unwrap_or_default(),
        log_index: log.log_index.unwrap_or_default(),
        event: event.data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_at(number: u64, hash: u8) -> Log {
        Log {
            block_number: Some(number),
            block_hash: Some(B256::repeat_byte(hash)),
            ..Default::default()
        }
    }

    #[test]
    fn ranges_wait_for_confirmations_and_cap_their_span() {
        let c = Cursor::from_block(10);
        assert_eq!(c.next_range(9, 0), None, "nothing new");
        assert_eq!(c.next_range(12, 3), None, "block 10 is only 2 deep");
        assert_eq!(c.next_range(13, 3), Some((10, 10)));
        assert_eq!(c.next_range(2, 5), None, "head below the depth");
        assert_eq!(c.next_range(100_000, 0), Some((10, 10 + MAX_SPAN - 1)));
    }

    #[test]
    fn record_keeps_blocks_with_logs_and_the_latest_tip() {
        let mut c = Cursor::from_block(0);
        c.record(
            (5, B256::repeat_byte(5)),
            vec![log_at(2, 2), log_at(2, 2), log_at(4, 4)],
        );
        assert_eq!(c.next_block, 6);
        assert_eq!(
            c.recent
                .iter()
                .map(|s| (s.number, s.logs.len()))
                .collect::<Vec<_>>(),
            [(2, 2), (4, 1), (5, 0)]
        );
        c.record((9, B256::repeat_byte(9)), vec![]);
        assert_eq!(
            c.recent.iter().map(|s| s.number).collect::<Vec<_>>(),
            [2, 4, 9],
            "old empty tip replaced"
        );
    }

    #[test]
    fn pop_replaced_rewinds_to_the_replaced_block() {
        let mut c = Cursor::from_block(0);
        c.record((5, B256::repeat_byte(5)), vec![log_at(3, 3), log_at(3, 3)]);
        assert_eq!(c.pop_replaced().map(|l| l.len()), Some(0), "the tip");
        assert_eq!(c.next_block, 5);
        assert_eq!(c.pop_replaced().map(|l| l.len()), Some(2), "block 3's logs");
        assert_eq!(c.next_block, 3);
        assert_eq!(c.pop_replaced(), None);
    }

    #[test]
    fn the_window_is_bounded() {
        let mut c = Cursor::from_block(0);
        for n in 0..(REMEMBERED_BLOCKS as u64 + 10) {
            c.record((n, B256::repeat_byte(1)), vec![log_at(n, 1)]);
        }
        assert_eq!(c.recent.len(), REMEMBERED_BLOCKS);
        assert_eq!(c.recent[0].number, 10);
    }
}
