//! The chain itself: state on revm, blocks, the pending pool, time and snapshots. Synchronous;
//! [`crate::DevChain`] puts it behind a lock and the RPC layer in front of it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use alloy::consensus::transaction::Recovered;
use alloy::consensus::{
    EMPTY_OMMER_ROOT_HASH, Eip658Value, Header, Receipt, ReceiptEnvelope, ReceiptWithBloom,
    Transaction as _, TxEnvelope, proofs,
};
use alloy::eips::eip1559::{BaseFeeParams, calc_next_block_base_fee};
use alloy::eips::eip2718::{Decodable2718, Encodable2718};
use alloy::eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy::primitives::{Address, B64, B256, Bloom, Bytes, U256, keccak256};
use alloy::rlp::Encodable;
use alloy::trie::EMPTY_ROOT_HASH;
use revm::context::{BlockEnv, CfgEnv, TxEnv};
use revm::context_interface::block::BlobExcessGasAndPrice;
use revm::context_interface::either::Either;
use revm::context_interface::result::{EVMError, ExecutionResult, InvalidTransaction};
use revm::database::{CacheDB, EmptyDB};
use revm::primitives::eip4844::BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE;
use revm::primitives::hardfork::SpecId;
use revm::state::AccountInfo;
use revm::{Context, ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext};

use crate::error::TxError;

/// The hardfork the chain runs: the one anvil 1.7 runs by default (Osaka; its "BPO1" changes
/// only blob parameters, and this chain takes no blob transactions).
pub(crate) const SPEC: SpecId = SpecId::OSAKA;

/// The state every transaction and call runs against.
pub(crate) type State = CacheDB<EmptyDB>;

/// A transaction as it sits in a block.
#[derive(Debug)]
pub(crate) struct MinedTx {
    pub(crate) tx: Recovered<TxEnvelope>,
    pub(crate) hash: B256,
    pub(crate) receipt: ReceiptEnvelope,
    pub(crate) gas_used: u64,
    pub(crate) effective_gas_price: u128,
    pub(crate) contract_address: Option<Address>,
    /// Index in the block of this transaction's first log.
    pub(crate) first_log_index: u64,
}

/// A mined block with everything the RPC layer serves about it.
#[derive(Debug)]
pub(crate) struct MinedBlock {
    pub(crate) header: Header,
    pub(crate) hash: B256,
    pub(crate) txs: Vec<MinedTx>,
    pub(crate) size: u64,
}

impl MinedBlock {
    pub(crate) fn number(&self) -> u64 {
        self.header.number
    }
}

/// What `evm_snapshot` saves; `evm_revert` restores it.
#[derive(Debug)]
struct Snapshot {
    id: u64,
    state: State,
    height: u64,
    time_offset: i64,
    pool: Vec<Recovered<TxEnvelope>>,
}

/// A transaction rejected while building a block.
pub(crate) type Rejected = (B256, TxError);

#[derive(Debug)]
pub(crate) struct Chain {
    pub(crate) chain_id: u64,
    pub(crate) gas_limit: u64,
    state: State,
    blocks: Vec<Arc<MinedBlock>>,
    by_hash: HashMap<B256, u64>,
    tx_index: HashMap<B256, (u64, usize)>,
    /// Pending transactions in arrival order; each sender's are in nonce order.
    pool: Vec<Recovered<TxEnvelope>>,
    pub(crate) automine: bool,
    /// Seconds added to the wall clock (evm_increaseTime, evm_setNextBlockTimestamp).
    pub(crate) time_offset: i64,
    next_timestamp: Option<u64>,
    snapshots: Vec<Snapshot>,
    next_snapshot: u64,
}

pub(crate) fn wall_clock() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Chain {
    /// A chain at its genesis block, with `alloc` funded.
    pub(crate) fn genesis(
        chain_id: u64,
        gas_limit: u64,
        base_fee: u64,
        timestamp: u64,
        alloc: &[(Address, U256)],
    ) -> Self {
        let mut state = State::default();
        for (address, balance) in alloc {
            state.insert_account_info(*address, AccountInfo::from_balance(*balance));
        }
        let header = Header {
            timestamp,
            ..empty_header(gas_limit, base_fee)
        };
        let hash = header.hash_slow();
        state.cache.block_hashes.insert(U256::ZERO, hash);
        let genesis = MinedBlock {
            size: header.length() as u64,
            header,
            hash,
            txs: Vec::new(),
        };
        Self {
            chain_id,
            gas_limit,
            state,
            blocks: vec![Arc::new(genesis)],
            by_hash: HashMap::from([(hash, 0)]),
            tx_index: HashMap::new(),
            pool: Vec::new(),
            automine: true,
            time_offset: 0,
            next_timestamp: None,
            snapshots: Vec::new(),
            next_snapshot: 1,
        }
    }

    pub(crate) fn state(&self) -> &State {
        &self.state
    }

    pub(crate) fn latest(&self) -> &Arc<MinedBlock> {
        self.blocks
            .last()
            .expect("a chain always has its genesis block")
    }

    pub(crate) fn height(&self) -> u64 {
        self.latest().number()
    }

    pub(crate) fn block(&self, number: u64) -> Option<&Arc<MinedBlock>> {
        self.blocks.get(usize::try_from(number).ok()?)
    }

    pub(crate) fn block_by_hash(&self, hash: &B256) -> Option<&Arc<MinedBlock>> {
        self.by_hash.get(hash).and_then(|n| self.block(*n))
    }

    /// A mined transaction and its block.
    pub(crate) fn mined_tx(&self, hash: &B256) -> Option<(&Arc<MinedBlock>, usize)> {
        let (number, index) = self.tx_index.get(hash)?;
        Some((self.block(*number)?, *index))
    }

    pub(crate) fn pooled_tx(&self, hash: &B256) -> Option<&Recovered<TxEnvelope>> {
        self.pool.iter().find(|tx| tx.tx_hash() == hash)
    }

    /// Base fee of the next block: EIP-1559 from the latest block, except that block 1 keeps
    /// the genesis base fee (as the first EIP-1559 block does, and as anvil does).
    pub(crate) fn next_base_fee(&self) -> u64 {
        let parent = &self.latest().header;
        if parent.number == 0 {
            return parent.base_fee_per_gas.unwrap_or_default();
        }
        calc_next_block_base_fee(
            parent.gas_used,
            parent.gas_limit,
            parent.base_fee_per_gas.unwrap_or_default(),
            BaseFeeParams::ethereum(),
        )
    }

    pub(crate) fn account(&self, address: Address) -> AccountInfo {
        self.state
            .cache
            .accounts
            .get(&address)
            .and_then(|account| account.info())
            .unwrap_or_default()
    }

    /// The nonce a new transaction from `address` must carry: the state's plus what the pool
    /// already holds from it.
    pub(crate) fn pending_nonce(&self, address: Address) -> u64 {
        let queued = self.pool.iter().filter(|tx| tx.signer() == address).count() as u64;
        self.account(address).nonce + queued
    }

    /// The environment of the block that would be mined next at `timestamp`.
    pub(crate) fn next_block_env(&self, timestamp: u64) -> BlockEnv {
        let parent = self.latest();
        BlockEnv {
            number: U256::from(parent.number() + 1),
            beneficiary: Address::ZERO,
            timestamp: U256::from(timestamp),
            gas_limit: self.gas_limit,
            basefee: self.next_base_fee(),
            difficulty: U256::ZERO,
            prevrandao: Some(keccak256(parent.hash)),
            blob_excess_gas_and_price: Some(BlobExcessGasAndPrice::new(
                0,
                BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE,
            )),
            slot_num: 0,
        }
    }

    pub(crate) fn cfg(&self) -> CfgEnv {
        let mut cfg = CfgEnv::new().with_spec_and_mainnet_gas_params(SPEC);
        cfg.chain_id = self.chain_id;
        cfg
    }

    /// The timestamp the next block gets: a timestamp set for it, else the clock plus the
    /// offset, never earlier than its parent.
    pub(crate) fn next_timestamp(&self) -> u64 {
        if let Some(timestamp) = self.next_timestamp {
            return timestamp;
        }
        let now = wall_clock().saturating_add_signed(self.time_offset);
        now.max(self.latest().header.timestamp)
    }

    pub(crate) fn set_next_timestamp(&mut self, timestamp: u64) -> Result<(), String> {
        let parent = self.latest().header.timestamp;
        if timestamp < parent {
            return Err(format!(
                "timestamp {timestamp} is earlier than the latest block's ({parent})"
            ));
        }
        self.next_timestamp = Some(timestamp);
        Ok(())
    }

    pub(crate) fn increase_time(&mut self, seconds: u64) -> i64 {
        let seconds = i64::try_from(seconds).unwrap_or(i64::MAX);
        self.time_offset = self.time_offset.saturating_add(seconds);
        if let Some(next) = self.next_timestamp.as_mut() {
            *next = next.saturating_add_signed(seconds);
        }
        self.time_offset
    }

    /// Checks a transaction against the pool's rules, then queues it. In automine mode it is
    /// mined at once, and a transaction the EVM refuses is not kept.
    pub(crate) fn submit(
        &mut self,
        tx: Recovered<TxEnvelope>,
    ) -> Result<Option<Arc<MinedBlock>>, TxError> {
        let hash = *tx.tx_hash();
        if self.tx_index.contains_key(&hash) || self.pooled_tx(&hash).is_some() {
            return Err(TxError::AlreadyKnown);
        }
        if let Some(chain_id) = tx.chain_id() {
            if chain_id != self.chain_id {
                return Err(TxError::WrongChainId {
                    tx: chain_id,
                    chain: self.chain_id,
                });
            }
        } else {
            return Err(TxError::NotReplayProtected);
        }
        if tx.is_eip4844() {
            return Err(TxError::Unsupported("blob (EIP-4844) transactions"));
        }
        if tx.gas_limit() > self.gas_limit {
            return Err(TxError::Invalid(
                InvalidTransaction::CallerGasLimitMoreThanBlock,
            ));
        }
        let sender = tx.signer();
        let state_nonce = self.account(sender).nonce;
        let next = self.pending_nonce(sender);
        if tx.nonce() < state_nonce {
            return Err(TxError::NonceTooLow {
                tx: tx.nonce(),
                next: state_nonce,
            });
        }
        if tx.nonce() < next {
            // Same sender, same nonce as a pooled transaction: a replacement, which must pay at
            // least 10% more (as geth and anvil require).
            let position = self
                .pool
                .iter()
                .position(|pooled| pooled.signer() == sender && pooled.nonce() == tx.nonce())
                .ok_or(TxError::NonceTooLow {
                    tx: tx.nonce(),
                    next,
                })?;
            let old = &self.pool[position];
            if !outbids(&tx, old) {
                return Err(TxError::ReplacementUnderpriced);
            }
            self.pool[position] = tx;
            return Ok(None);
        }
        if tx.nonce() > next {
            return Err(TxError::NonceTooHigh {
                tx: tx.nonce(),
                next,
            });
        }
        if self.automine {
            let timestamp = self.next_timestamp();
            let (block, mut rejected) = self.build_block(vec![tx], timestamp, false);
            return match rejected.pop() {
                Some((_, error)) => Err(error),
                None => Ok(block),
            };
        }
        // Not mining now: check what can be checked against the current state, so a sender
        // hears about a bad transaction when sending it rather than never.
        self.dry_run(&tx)?;
        self.pool.push(tx);
        Ok(None)
    }

    /// Runs `tx` against the latest state (nonce aside) without keeping anything.
    fn dry_run(&self, tx: &Recovered<TxEnvelope>) -> Result<(), TxError> {
        let timestamp = self.next_timestamp();
        let block = self.next_block_env(timestamp);
        let mut cfg = self.cfg();
        cfg.disable_nonce_check = true;
        let mut evm = Context::mainnet()
            .with_ref_db(&self.state)
            .with_block(block)
            .with_cfg(cfg)
            .build_mainnet();
        match evm.transact(tx_env(tx)) {
            Ok(_) => Ok(()),
            Err(EVMError::Transaction(invalid)) => Err(TxError::Invalid(invalid)),
            Err(other) => Err(TxError::Internal(other.to_string())),
        }
    }

    /// Mines one block from the pool (what fits in its gas limit, in order).
    pub(crate) fn mine(&mut self) -> (Arc<MinedBlock>, Vec<Rejected>) {
        let timestamp = self.next_timestamp();
        let pool = std::mem::take(&mut self.pool);
        let (block, rejected) = self.build_block(pool, timestamp, true);
        (block.expect("an empty block is allowed here"), rejected)
    }

    /// Executes `candidates` in a new block on top of the latest. Transactions the EVM refuses
    /// are returned; those that do not fit are put back in the pool. With `allow_empty` false,
    /// no block is made when nothing was included.
    pub(crate) fn build_block(
        &mut self,
        candidates: Vec<Recovered<TxEnvelope>>,
        timestamp: u64,
        allow_empty: bool,
    ) -> (Option<Arc<MinedBlock>>, Vec<Rejected>) {
        let block_env = self.next_block_env(timestamp);
        let base_fee = block_env.basefee;
        let number = self.height() + 1;
        let parent_hash = self.latest().hash;
        let mix_hash = block_env.prevrandao.unwrap_or_default();
        let cfg = self.cfg();
        let mut included = Vec::new();
        let mut rejected = Vec::new();
        let mut leftover = Vec::new();
        let mut cumulative = 0u64;
        let mut log_index = 0u64;
        {
            let mut evm = Context::mainnet()
                .with_db(&mut self.state)
                .with_block(block_env)
                .with_cfg(cfg)
                .build_mainnet();
            for tx in candidates {
                if cumulative + tx.gas_limit() > self.gas_limit {
                    leftover.push(tx);
                    continue;
                }
                let hash = *tx.tx_hash();
                let result = match evm.transact_commit(tx_env(&tx)) {
                    Ok(result) => result,
                    Err(EVMError::Transaction(invalid)) => {
                        rejected.push((hash, TxError::Invalid(invalid)));
                        continue;
                    }
                    Err(other) => {
                        rejected.push((hash, TxError::Internal(other.to_string())));
                        continue;
                    }
                };
                let gas_used = result.tx_gas_used();
                cumulative += gas_used;
                let contract_address = result.created_address();
                let success = matches!(result, ExecutionResult::Success { .. });
                let logs = result.into_logs();
                let first_log_index = log_index;
                log_index += logs.len() as u64;
                let receipt = Receipt {
                    status: Eip658Value::Eip658(success),
                    cumulative_gas_used: cumulative,
                    logs,
                };
                let receipt =
                    ReceiptEnvelope::from_typed(tx.tx_type(), ReceiptWithBloom::from(receipt));
                let effective_gas_price = tx.effective_gas_price(Some(base_fee));
                included.push(MinedTx {
                    hash,
                    receipt,
                    gas_used,
                    effective_gas_price,
                    contract_address,
                    first_log_index,
                    tx,
                });
            }
        }
        self.pool.extend(leftover);
        if included.is_empty() && !allow_empty {
            return (None, rejected);
        }
        let envelopes: Vec<&TxEnvelope> = included.iter().map(|mined| mined.tx.inner()).collect();
        let receipts: Vec<&ReceiptEnvelope> = included.iter().map(|mined| &mined.receipt).collect();
        let mut logs_bloom = Bloom::ZERO;
        for receipt in &receipts {
            logs_bloom.accrue_bloom(receipt.logs_bloom());
        }
        let header = Header {
            parent_hash,
            transactions_root: proofs::calculate_transaction_root(&envelopes),
            receipts_root: proofs::calculate_receipt_root(&receipts),
            logs_bloom,
            number,
            gas_used: cumulative,
            timestamp,
            mix_hash,
            ..empty_header(self.gas_limit, base_fee)
        };
        let hash = header.hash_slow();
        let size = header.length() as u64
            + envelopes
                .iter()
                .map(|tx| tx.encode_2718_len() as u64)
                .sum::<u64>();
        for (index, mined) in included.iter().enumerate() {
            self.tx_index.insert(mined.hash, (number, index));
        }
        self.state
            .cache
            .block_hashes
            .insert(U256::from(number), hash);
        self.by_hash.insert(hash, number);
        if self.next_timestamp.take().is_some() {
            // Time carries on from a timestamp that was set explicitly.
            self.time_offset = i64::try_from(timestamp).unwrap_or(i64::MAX)
                - i64::try_from(wall_clock()).unwrap_or(i64::MAX);
        }
        let block = Arc::new(MinedBlock {
            header,
            hash,
            txs: included,
            size,
        });
        self.blocks.push(block.clone());
        (Some(block), rejected)
    }

    pub(crate) fn snapshot(&mut self) -> u64 {
        let id = self.next_snapshot;
        self.next_snapshot += 1;
        self.snapshots.push(Snapshot {
            id,
            state: self.state.clone(),
            height: self.height(),
            time_offset: self.time_offset,
            pool: self.pool.clone(),
        });
        id
    }

    /// Restores snapshot `id`, dropping it and every later one. Returns the height reverted to
    /// and the blocks dropped (newest first), or `None` for an unknown snapshot.
    pub(crate) fn revert(&mut self, id: u64) -> Option<(u64, Vec<Arc<MinedBlock>>)> {
        let position = self
            .snapshots
            .iter()
            .position(|snapshot| snapshot.id == id)?;
        let snapshot = self.snapshots.drain(position..).next()?;
        let dropped = self.truncate(snapshot.height);
        self.state = snapshot.state;
        self.time_offset = snapshot.time_offset;
        self.next_timestamp = None;
        self.pool = snapshot.pool;
        Some((snapshot.height, dropped))
    }

    /// Drops every block above `height` from the block indexes (not from the state); returns
    /// them, newest first.
    fn truncate(&mut self, height: u64) -> Vec<Arc<MinedBlock>> {
        let mut dropped = Vec::new();
        while self.height() > height {
            let block = self.blocks.pop().expect("above genesis");
            self.by_hash.remove(&block.hash);
            for mined in &block.txs {
                self.tx_index.remove(&mined.hash);
            }
            dropped.push(block);
        }
        dropped
    }
}

/// Decodes raw EIP-2718 bytes (every byte used) and recovers the sender.
pub(crate) fn decode_raw(raw: &[u8]) -> Result<Recovered<TxEnvelope>, String> {
    let tx = TxEnvelope::decode_2718_exact(raw)
        .map_err(|error| format!("malformed transaction: {error}"))?;
    recover(tx).map_err(|error| format!("invalid transaction signature: {error}"))
}

/// The sender of a signed transaction, recovered with libsecp256k1. Signatures with a high `s`
/// (malleable; EIP-2) are refused, as alloy's own recovery does. (alloy can use libsecp256k1
/// itself, but its feature builds two versions of the C library.)
pub(crate) fn recover(tx: TxEnvelope) -> Result<Recovered<TxEnvelope>, String> {
    let signature = tx.signature();
    if signature.normalize_s().is_some() {
        return Err("signature s value is greater than secp256k1n / 2 (EIP-2)".to_owned());
    }
    let mut compact = [0u8; 64];
    compact[..32].copy_from_slice(&signature.r().to_be_bytes::<32>());
    compact[32..].copy_from_slice(&signature.s().to_be_bytes::<32>());
    let id = secp256k1::ecdsa::RecoveryId::try_from(i32::from(signature.v()))
        .map_err(|error| error.to_string())?;
    let recoverable = secp256k1::ecdsa::RecoverableSignature::from_compact(&compact, id)
        .map_err(|error| error.to_string())?;
    let message = secp256k1::Message::from_digest(tx.signature_hash().0);
    let key = secp256k1::SECP256K1
        .recover_ecdsa(message, &recoverable)
        .map_err(|error| error.to_string())?;
    let address = Address::from_raw_public_key(&key.serialize_uncompressed()[1..]);
    Ok(Recovered::new_unchecked(tx, address))
}

/// A header with nothing in it: the fields every block of this chain shares (no uncles, no
/// state root, no withdrawals, blobs or requests), the number, roots and times left empty.
fn empty_header(gas_limit: u64, base_fee: u64) -> Header {
    Header {
        parent_hash: B256::ZERO,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: Address::ZERO,
        state_root: EMPTY_ROOT_HASH,
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        logs_bloom: Bloom::ZERO,
        difficulty: U256::ZERO,
        number: 0,
        gas_limit,
        gas_used: 0,
        timestamp: 0,
        extra_data: Bytes::new(),
        mix_hash: B256::ZERO,
        nonce: B64::ZERO,
        base_fee_per_gas: Some(base_fee),
        withdrawals_root: Some(EMPTY_ROOT_HASH),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(B256::ZERO),
        requests_hash: Some(EMPTY_REQUESTS_HASH),
        block_access_list_hash: None,
        slot_number: None,
    }
}

/// Whether `new` pays at least 10% more than `old` in both fee caps.
fn outbids(new: &Recovered<TxEnvelope>, old: &Recovered<TxEnvelope>) -> bool {
    let bumped = |fee: u128| fee.saturating_add(fee / 10);
    new.max_fee_per_gas() >= bumped(old.max_fee_per_gas())
        && new
            .max_priority_fee_per_gas()
            .unwrap_or(new.max_fee_per_gas())
            >= bumped(
                old.max_priority_fee_per_gas()
                    .unwrap_or(old.max_fee_per_gas()),
            )
}

/// revm's view of a signed transaction.
pub(crate) fn tx_env(tx: &Recovered<TxEnvelope>) -> TxEnv {
    TxEnv {
        tx_type: tx.tx_type() as u8,
        caller: tx.signer(),
        gas_limit: tx.gas_limit(),
        gas_price: tx.max_fee_per_gas(),
        kind: tx.kind(),
        value: tx.value(),
        data: tx.input().clone(),
        nonce: tx.nonce(),
        chain_id: tx.chain_id(),
        access_list: tx.access_list().cloned().unwrap_or_default(),
        gas_priority_fee: tx.max_priority_fee_per_gas(),
        blob_hashes: Vec::new(),
        max_fee_per_blob_gas: 0,
        authorization_list: tx
            .authorization_list()
            .map(|list| list.iter().cloned().map(Either::Left).collect())
            .unwrap_or_default(),
    }
}

/// Turns a revm refusal into the message geth gives for it, so that clients that match on
/// geth's wording (alloy's, ethers', viem's) classify it right.
pub(crate) fn describe_invalid(invalid: &InvalidTransaction) -> String {
    use InvalidTransaction as I;
    match invalid {
        I::NonceTooLow { tx, state } => format!("nonce too low: next nonce {state}, tx nonce {tx}"),
        I::NonceTooHigh { tx, state } => {
            format!("nonce too high: next nonce {state}, tx nonce {tx}")
        }
        I::LackOfFundForMaxFee { fee, balance } => {
            format!("insufficient funds for gas * price + value: have {balance} want {fee}")
        }
        I::CallGasCostMoreThanGasLimit {
            initial_gas,
            gas_limit,
        } => {
            format!("intrinsic gas too low: have {gas_limit}, want {initial_gas}")
        }
        I::GasFloorMoreThanGasLimit {
            gas_floor,
            gas_limit,
        } => {
            format!("intrinsic gas too low: have {gas_limit}, want {gas_floor} (calldata floor)")
        }
        I::CallerGasLimitMoreThanBlock => "gas limit exceeds the block gas limit".to_owned(),
        I::GasPriceLessThanBasefee => "max fee per gas less than block base fee".to_owned(),
        I::InvalidChainId | I::MissingChainId => "invalid chain id".to_owned(),
        other => other.to_string(),
    }
}
