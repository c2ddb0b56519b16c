//! Polling filters (eth_newFilter, eth_newBlockFilter, eth_getFilterChanges) and log matching,
//! shared with eth_getLogs and log subscriptions.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use alloy::primitives::{B256, U256};
use alloy::rpc::types::{Filter, Log};

use crate::chain::{Chain, MinedBlock};

/// A filter nobody polled for this long is dropped (geth's rule).
pub(crate) const FILTER_TTL: Duration = Duration::from_secs(300);
/// Filters installed at once, all clients together (a few kilobytes each); past it
/// `eth_newFilter` is refused until some expire or are uninstalled.
pub const MAX_FILTERS: usize = 10_000;
/// How often the expired filters are swept (a sweep visits every filter).
const SWEEP_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Logs(Box<Filter>),
    Blocks,
}

#[derive(Debug)]
struct Installed {
    kind: Kind,
    /// The first block not yet reported.
    next_block: u64,
    last_poll: Instant,
}

#[derive(Debug, Default)]
pub(crate) struct Filters {
    installed: HashMap<U256, Installed>,
    next_id: u64,
    swept: Option<Instant>,
}

/// What a poll returns.
#[derive(Debug)]
pub(crate) enum Changes {
    Logs(Vec<Log>),
    Blocks(Vec<B256>),
}

impl Filters {
    /// A new filter's id; `None` when [`MAX_FILTERS`] are installed.
    pub(crate) fn install(&mut self, kind: Kind, next_block: u64) -> Option<U256> {
        self.expire();
        if self.installed.len() >= MAX_FILTERS {
            return None;
        }
        self.next_id += 1;
        let id = U256::from(self.next_id);
        self.installed.insert(
            id,
            Installed {
                kind,
                next_block,
                last_poll: Instant::now(),
            },
        );
        Some(id)
    }

    pub(crate) fn uninstall(&mut self, id: U256) -> bool {
        self.installed.remove(&id).is_some()
    }

    /// What happened since the last poll; `None` for an unknown (or expired) filter.
    pub(crate) fn poll(&mut self, id: U256, chain: &Chain) -> Option<Changes> {
        self.expire();
        if self.installed.get(&id)?.last_poll.elapsed() >= FILTER_TTL {
            self.installed.remove(&id);
            return None;
        }
        let filter = self.installed.get_mut(&id)?;
        filter.last_poll = Instant::now();
        let from = filter.next_block;
        let to = chain.height();
        filter.next_block = filter.next_block.max(to + 1);
        let blocks = (from..=to).filter_map(|number| chain.block(number));
        Some(match &filter.kind {
            Kind::Blocks => Changes::Blocks(blocks.map(|block| block.hash).collect()),
            Kind::Logs(spec) => {
                let mut logs = Vec::new();
                for block in blocks {
                    if spec.matches_block_range(block.number()) {
                        block_logs(block, spec, &mut logs);
                    }
                }
                Changes::Logs(logs)
            }
        })
    }

    /// A log filter's spec, for eth_getFilterLogs.
    pub(crate) fn spec(&self, id: U256) -> Option<Filter> {
        match &self.installed.get(&id)?.kind {
            Kind::Logs(filter) => Some(filter.as_ref().clone()),
            Kind::Blocks => None,
        }
    }

    /// Drops the expired filters, visiting them at most once per [`SWEEP_EVERY`] (or when the
    /// table is full), so installing is not a scan of every filter. A poll checks its own
    /// filter's age.
    fn expire(&mut self) {
        let due = self.swept.is_none_or(|at| at.elapsed() >= SWEEP_EVERY);
        if due || self.installed.len() >= MAX_FILTERS {
            self.installed
                .retain(|_, filter| filter.last_poll.elapsed() < FILTER_TTL);
            self.swept = Some(Instant::now());
        }
    }
}

/// Appends the logs of `block` that match `filter` (address and topics; the caller checks the
/// block range).
pub(crate) fn block_logs(block: &MinedBlock, filter: &Filter, out: &mut Vec<Log>) {
    if !filter.matches_bloom(block.header.logs_bloom) {
        return;
    }
    for (index, mined) in block.txs.iter().enumerate() {
        for (offset, log) in mined.receipt.logs().iter().enumerate() {
            if filter.matches(log) {
                out.push(rpc_log(
                    block,
                    index,
                    mined.first_log_index + offset as u64,
                    log,
                ));
            }
        }
    }
}

pub(crate) fn rpc_log(
    block: &MinedBlock,
    tx_index: usize,
    log_index: u64,
    log: &alloy::primitives::Log,
) -> Log {
    Log {
        inner: log.clone(),
        block_hash: Some(block.hash),
        block_number: Some(block.number()),
        block_timestamp: Some(block.header.timestamp),
        transaction_hash: Some(block.txs[tx_index].hash),
        transaction_index: Some(tx_index as u64),
        log_index: Some(log_index),
        removed: false,
    }
}
