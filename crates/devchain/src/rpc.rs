//! The Ethereum JSON-RPC API: request parsing, batches, error objects and every method.

use alloy::consensus::transaction::Recovered;
use alloy::consensus::{Transaction as _, TxEnvelope};
use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, B256, Bytes, TxKind, U64, U128, U256};
use alloy::rpc::types::{
    Block, BlockTransactions, FeeHistory, Filter, FilterBlockOption, Header as RpcHeader, Log,
    Transaction, TransactionReceipt, TransactionRequest,
};
use revm::context::TxEnv;
use revm::context_interface::result::{EVMError, ExecutionResult, HaltReason, OutOfGasError};
use revm::primitives::eip7825::TX_GAS_LIMIT_CAP;
use revm::{Context, ExecuteEvm, MainBuilder, MainContext};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::chain::{Chain, MinedBlock};
use crate::error::RpcError;
use crate::filters::{self, Changes, Kind};
use crate::{DevChain, Locked};

/// Largest request body accepted, in bytes (geth's limit).
pub const MAX_BODY: usize = 5 * 1024 * 1024;
/// Most requests in one batch (geth's limit).
pub const MAX_BATCH: usize = 1000;
/// Priority fee suggested by eth_maxPriorityFeePerGas and used by eth_sendTransaction (1 gwei,
/// anvil's).
const DEFAULT_TIP: u128 = 1_000_000_000;
/// Most blocks one eth_feeHistory covers (geth's limit).
const MAX_FEE_HISTORY: u64 = 1024;

const CLIENT_VERSION: &str = concat!("agency-devchain/v", env!("CARGO_PKG_VERSION"));

type RpcResult = Result<Value, RpcError>;

fn too_many_filters() -> RpcError {
    RpcError::new(
        RpcError::LIMIT,
        format!(
            "too many filters: {} are installed (eth_uninstallFilter the ones you are done \
             with; unpolled filters expire after 5 minutes)",
            filters::MAX_FILTERS
        ),
    )
}

impl DevChain {
    /// Answers a JSON-RPC request body (one request or a batch). `None` when there is nothing
    /// to answer (only notifications).
    pub fn handle(&self, body: &[u8]) -> Option<Vec<u8>> {
        let answer = if body.len() > MAX_BODY {
            Some(failure(
                Value::Null,
                RpcError::new(
                    RpcError::INVALID_REQUEST,
                    format!(
                        "request body too large: {} bytes, at most {MAX_BODY}",
                        body.len()
                    ),
                ),
            ))
        } else {
            match serde_json::from_slice::<Value>(body) {
                Ok(request) => self.handle_value(request),
                Err(error) => Some(failure(
                    Value::Null,
                    RpcError::new(RpcError::PARSE, format!("parse error: {error}")),
                )),
            }
        };
        answer.map(|value| serde_json::to_vec(&value).expect("JSON values serialize"))
    }

    /// Answers a parsed request or batch.
    pub fn handle_value(&self, request: Value) -> Option<Value> {
        match request {
            Value::Array(batch) if batch.is_empty() => Some(failure(
                Value::Null,
                RpcError::new(RpcError::INVALID_REQUEST, "invalid request: empty batch"),
            )),
            Value::Array(batch) if batch.len() > MAX_BATCH => Some(failure(
                Value::Null,
                RpcError::new(
                    RpcError::INVALID_REQUEST,
                    format!(
                        "batch too large: {} requests, at most {MAX_BATCH}",
                        batch.len()
                    ),
                ),
            )),
            Value::Array(batch) => {
                let answers: Vec<Value> = batch
                    .into_iter()
                    .filter_map(|item| self.handle_one(item))
                    .collect();
                (!answers.is_empty()).then_some(Value::Array(answers))
            }
            single => self.handle_one(single),
        }
    }

    fn handle_one(&self, request: Value) -> Option<Value> {
        let (id, method, params) = match parse_request(request) {
            Ok(parsed) => parsed,
            Err((id, error)) => return Some(failure(id, error)),
        };
        let outcome = self.call(&method, Params(params));
        let id = id?; // a notification: run it, answer nothing
        Some(match outcome {
            Ok(result) => success(id, result),
            Err(error) => failure(id, error),
        })
    }

    /// Runs one method.
    pub(crate) fn call(&self, method: &str, params: Params) -> RpcResult {
        let mut guard = self.lock();
        let locked = &mut *guard;
        let chain = &mut locked.chain;
        match method {
            "web3_clientVersion" => ok(CLIENT_VERSION),
            "net_version" => ok(chain.chain_id.to_string()),
            "net_listening" => ok(true),
            "eth_chainId" => ok(U64::from(chain.chain_id)),
            "eth_syncing" => ok(false),
            "eth_mining" => ok(true),
            "eth_coinbase" => ok(Address::ZERO),
            "eth_blockNumber" => ok(U64::from(chain.height())),
            "eth_accounts" => ok(self
                .accounts()
                .iter()
                .map(|account| account.address)
                .collect::<Vec<_>>()),
            "eth_gasPrice" => ok(U128::from(u128::from(chain.next_base_fee()) + DEFAULT_TIP)),
            "eth_maxPriorityFeePerGas" => ok(U128::from(DEFAULT_TIP)),
            "eth_blobBaseFee" => ok(U128::from(1u8)),
            "eth_feeHistory" => fee_history(chain, &params),
            "eth_getBalance" => {
                let address: Address = params.req(0, "address")?;
                latest_state(chain, params.opt(1)?)?;
                ok(chain.account(address).balance)
            }
            "eth_getTransactionCount" => {
                let address: Address = params.req(0, "address")?;
                let block: Option<BlockId> = params.opt(1)?;
                if block == Some(BlockId::Number(BlockNumberOrTag::Pending)) {
                    return ok(U64::from(chain.pending_nonce(address)));
                }
                latest_state(chain, block)?;
                ok(U64::from(chain.account(address).nonce))
            }
            "eth_getCode" => {
                let address: Address = params.req(0, "address")?;
                latest_state(chain, params.opt(1)?)?;
                let info = chain.account(address);
                let code = chain
                    .state()
                    .cache
                    .contracts
                    .get(&info.code_hash)
                    .map(|code| code.original_bytes())
                    .unwrap_or_default();
                ok(code)
            }
            "eth_getStorageAt" => {
                let address: Address = params.req(0, "address")?;
                let slot: U256 = params.req(1, "slot")?;
                latest_state(chain, params.opt(2)?)?;
                let value = chain
                    .state()
                    .cache
                    .accounts
                    .get(&address)
                    .and_then(|account| account.storage.get(&slot).copied())
                    .unwrap_or_default();
                ok(B256::from(value))
            }
            "eth_call" => {
                let request: TransactionRequest = params.req(0, "transaction")?;
                latest_state(chain, params.opt(1)?)?;
                if params.0.get(2).is_some_and(|value| !value.is_null()) {
                    return Err(RpcError::invalid_params(
                        "state overrides are not supported",
                    ));
                }
                // At most the block gas limit (a larger one is refused): the bound on the EVM
                // time one call takes.
                let gas = request.gas.unwrap_or(chain.gas_limit);
                match run_call(chain, &request, gas)? {
                    ExecutionResult::Success { output, .. } => ok(output.into_data()),
                    ExecutionResult::Revert { output, .. } => Err(RpcError::reverted(output)),
                    ExecutionResult::Halt { reason, .. } => Err(halted(reason, gas)),
                }
            }
            "eth_estimateGas" => {
                let request: TransactionRequest = params.req(0, "transaction")?;
                latest_state(chain, params.opt(1)?)?;
                ok(U64::from(estimate_gas(chain, &request)?))
            }
            "eth_sendRawTransaction" => {
                let raw: Bytes = params.req(0, "raw transaction")?;
                let tx = crate::chain::decode_raw(&raw).map_err(RpcError::server)?;
                let hash = *tx.tx_hash();
                submit(locked, tx, self)?;
                ok(hash)
            }
            "eth_sendTransaction" => {
                let request: TransactionRequest = params.req(0, "transaction")?;
                let tx = self.sign(chain, request)?;
                let hash = *tx.tx_hash();
                submit(locked, tx, self)?;
                ok(hash)
            }
            "eth_getTransactionByHash" => {
                let hash: B256 = params.req(0, "transaction hash")?;
                if let Some((block, index)) = chain.mined_tx(&hash) {
                    return ok(rpc_transaction(block, index));
                }
                ok(chain.pooled_tx(&hash).map(|tx| Transaction {
                    inner: tx.clone(),
                    block_hash: None,
                    block_number: None,
                    transaction_index: None,
                    effective_gas_price: None,
                    block_timestamp: None,
                }))
            }
            "eth_getTransactionReceipt" => {
                let hash: B256 = params.req(0, "transaction hash")?;
                ok(chain
                    .mined_tx(&hash)
                    .map(|(block, index)| rpc_receipt(block, index)))
            }
            "eth_getBlockByNumber" => {
                let number: BlockNumberOrTag = params.req(0, "block")?;
                let full: bool = params.opt(1)?.unwrap_or(false);
                ok(block_by_tag(chain, number).map(|block| rpc_block(block, full)))
            }
            "eth_getBlockByHash" => {
                let hash: B256 = params.req(0, "block hash")?;
                let full: bool = params.opt(1)?.unwrap_or(false);
                ok(chain
                    .block_by_hash(&hash)
                    .map(|block| rpc_block(block, full)))
            }
            "eth_getBlockTransactionCountByNumber" => {
                let number: BlockNumberOrTag = params.req(0, "block")?;
                ok(block_by_tag(chain, number).map(|block| U64::from(block.txs.len())))
            }
            "eth_getBlockTransactionCountByHash" => {
                let hash: B256 = params.req(0, "block hash")?;
                ok(chain
                    .block_by_hash(&hash)
                    .map(|block| U64::from(block.txs.len())))
            }
            "eth_getLogs" => {
                let filter: Filter = params.req(0, "filter")?;
                ok(logs(chain, &filter)?)
            }
            "eth_newFilter" => {
                let filter: Filter = params.req(0, "filter")?;
                let start = match filter.block_option {
                    FilterBlockOption::Range {
                        from_block: Some(from),
                        ..
                    } => resolve_tag(chain, from)?,
                    _ => chain.height() + 1,
                };
                let mut filters = self.filters();
                filters
                    .install(Kind::Logs(Box::new(filter)), start)
                    .map(|id| json!(id))
                    .ok_or_else(too_many_filters)
            }
            "eth_newBlockFilter" => self
                .filters()
                .install(Kind::Blocks, chain.height() + 1)
                .map(|id| json!(id))
                .ok_or_else(too_many_filters),
            "eth_getFilterChanges" => {
                let id: U256 = params.req(0, "filter id")?;
                match self.filters().poll(id, chain) {
                    Some(Changes::Logs(logs)) => ok(logs),
                    Some(Changes::Blocks(hashes)) => ok(hashes),
                    None => Err(RpcError::server("filter not found")),
                }
            }
            "eth_getFilterLogs" => {
                let id: U256 = params.req(0, "filter id")?;
                let filter = self
                    .filters()
                    .spec(id)
                    .ok_or_else(|| RpcError::server("filter not found"))?;
                ok(logs(chain, &filter)?)
            }
            "eth_uninstallFilter" => {
                let id: U256 = params.req(0, "filter id")?;
                ok(self.filters().uninstall(id))
            }
            "eth_subscribe" | "eth_unsubscribe" => Err(RpcError::new(
                RpcError::METHOD_NOT_FOUND,
                "subscriptions need a WebSocket connection",
            )),
            "evm_mine" | "anvil_mine" => {
                let timestamp = mine_timestamp(&params)?;
                if let Some(timestamp) = timestamp {
                    chain
                        .set_next_timestamp(timestamp)
                        .map_err(RpcError::server)?;
                }
                locked.mine(&self.inner.blocks);
                ok("0x0")
            }
            "evm_increaseTime" => {
                let seconds: U64 = params.req(0, "seconds")?;
                // The clock's whole offset from the wall clock, in seconds (anvil's answer).
                ok(chain.increase_time(seconds.to()))
            }
            "evm_setNextBlockTimestamp" => {
                let timestamp: U64 = params.req(0, "timestamp")?;
                chain
                    .set_next_timestamp(timestamp.to())
                    .map_err(RpcError::server)?;
                ok(Value::Null)
            }
            "evm_setAutomine" | "anvil_setAutomine" => {
                let automine: bool = params.req(0, "enabled")?;
                chain.automine = automine;
                ok(Value::Null)
            }
            "evm_snapshot" => ok(U64::from(chain.snapshot())),
            "evm_revert" => {
                let id: U64 = params.req(0, "snapshot id")?;
                let Some((height, dropped)) = chain.revert(id.to()) else {
                    return ok(false);
                };
                for block in dropped {
                    let _ = self.inner.blocks.send(crate::BlockEvent::Dropped(block));
                }
                if let Some(journal) = &mut locked.journal
                    && let Err(error) = journal.truncate(height)
                {
                    tracing::error!(%error, "cannot cut the chain journal back; persistence stops");
                    locked.journal = None;
                }
                ok(true)
            }
            other => Err(RpcError::new(
                RpcError::METHOD_NOT_FOUND,
                format!("method not found: {other}"),
            )),
        }
    }

    fn filters(&self) -> std::sync::MutexGuard<'_, filters::Filters> {
        self.inner
            .filters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Fills in and signs an eth_sendTransaction request with the dev account it names.
    fn sign(
        &self,
        chain: &Chain,
        mut request: TransactionRequest,
    ) -> Result<Recovered<TxEnvelope>, RpcError> {
        let from = request
            .from
            .ok_or_else(|| RpcError::invalid_params("missing `from`"))?;
        let account = self
            .accounts()
            .iter()
            .find(|account| account.address == from)
            .ok_or_else(|| {
                RpcError::server(format!("unknown account {from}: not a dev account"))
            })?;
        if request.to.is_none() {
            request.to = Some(TxKind::Create);
        }
        request.chain_id.get_or_insert(chain.chain_id);
        if request.nonce.is_none() {
            request.nonce = Some(chain.pending_nonce(from));
        }
        if request.gas_price.is_none() {
            let tip = *request.max_priority_fee_per_gas.get_or_insert(DEFAULT_TIP);
            request
                .max_fee_per_gas
                .get_or_insert(2 * u128::from(chain.next_base_fee()) + tip);
        }
        if request.gas.is_none() {
            request.gas = Some(estimate_gas(chain, &request)?);
        }
        let mut tx = request.build_typed_tx().map_err(|request| {
            RpcError::invalid_params(format!("incomplete transaction: {request:?}"))
        })?;
        let signature = account
            .signer
            .sign_transaction_sync(&mut tx)
            .map_err(|error| RpcError::new(RpcError::INTERNAL, error.to_string()))?;
        // A blob request builds an EIP-4844 transaction, which `submit` refuses by name.
        let envelope: TxEnvelope = tx.into_envelope(signature);
        Ok(Recovered::new_unchecked(envelope, from))
    }
}

/// Positional parameters.
#[derive(Debug)]
pub(crate) struct Params(pub(crate) Vec<Value>);

impl Params {
    fn req<T: DeserializeOwned>(&self, index: usize, what: &str) -> Result<T, RpcError> {
        match self.0.get(index) {
            None | Some(Value::Null) => Err(RpcError::invalid_params(format!(
                "missing {what} (parameter {index})"
            ))),
            Some(value) => T::deserialize(value).map_err(|error| {
                RpcError::invalid_params(format!("bad {what} (parameter {index}): {error}"))
            }),
        }
    }

    fn opt<T: DeserializeOwned>(&self, index: usize) -> Result<Option<T>, RpcError> {
        match self.0.get(index) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => T::deserialize(value).map(Some).map_err(|error| {
                RpcError::invalid_params(format!("bad parameter {index}: {error}"))
            }),
        }
    }
}

type Parsed = (Option<Value>, String, Vec<Value>);

fn parse_request(request: Value) -> Result<Parsed, (Value, RpcError)> {
    let invalid = |id: Value, why: &str| {
        (
            id,
            RpcError::new(RpcError::INVALID_REQUEST, format!("invalid request: {why}")),
        )
    };
    let Value::Object(mut object) = request else {
        return Err(invalid(Value::Null, "not a JSON-RPC request object"));
    };
    let id = object.remove("id");
    if let Some(id) = &id
        && !(id.is_string() || id.is_number() || id.is_null())
    {
        return Err(invalid(
            Value::Null,
            "id must be a string, a number or null",
        ));
    }
    let reply_id = id.clone().unwrap_or(Value::Null);
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid(reply_id, "\"jsonrpc\" must be \"2.0\""));
    }
    let Some(Value::String(method)) = object.remove("method") else {
        return Err(invalid(reply_id, "\"method\" must be a string"));
    };
    let params = match object.remove("params") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(params)) => params,
        Some(_) => {
            return Err((
                reply_id,
                RpcError::invalid_params("parameters must be an array (by-position)"),
            ));
        }
    };
    Ok((id, method, params))
}

pub(crate) fn success(id: Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

pub(crate) fn failure(id: Value, error: RpcError) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": error})
}

fn ok(value: impl serde::Serialize) -> RpcResult {
    serde_json::to_value(value)
        .map_err(|error| RpcError::new(RpcError::INTERNAL, error.to_string()))
}

fn submit(
    locked: &mut Locked,
    tx: Recovered<TxEnvelope>,
    chain: &DevChain,
) -> Result<(), RpcError> {
    if let Some(block) = locked.chain.submit(tx)? {
        locked.mined(&block, &chain.inner.blocks);
    }
    Ok(())
}

/// The block a tag names.
fn resolve_tag(chain: &Chain, tag: BlockNumberOrTag) -> Result<u64, RpcError> {
    match tag {
        BlockNumberOrTag::Earliest => Ok(0),
        BlockNumberOrTag::Number(number) if number > chain.height() => Err(RpcError::server(
            format!("block {number} not found (latest is {})", chain.height()),
        )),
        BlockNumberOrTag::Number(number) => Ok(number),
        _ => Ok(chain.height()),
    }
}

fn block_by_tag(chain: &Chain, tag: BlockNumberOrTag) -> Option<&std::sync::Arc<MinedBlock>> {
    resolve_tag(chain, tag)
        .ok()
        .and_then(|number| chain.block(number))
}

/// State is kept for the latest block only: refuses any other.
fn latest_state(chain: &Chain, block: Option<BlockId>) -> Result<(), RpcError> {
    let number = match block {
        None => return Ok(()),
        Some(BlockId::Number(tag)) => resolve_tag(chain, tag)?,
        Some(BlockId::Hash(hash)) => chain
            .block_by_hash(&hash.block_hash)
            .ok_or_else(|| RpcError::server(format!("block {} not found", hash.block_hash)))?
            .number(),
    };
    if number != chain.height() {
        return Err(RpcError::server(format!(
            "historical state is not kept: block {number} is not the latest ({}); query \"latest\"",
            chain.height()
        )));
    }
    Ok(())
}

/// Executes a call against the latest state without keeping anything.
fn run_call(
    chain: &Chain,
    request: &TransactionRequest,
    gas: u64,
) -> Result<ExecutionResult, RpcError> {
    let timestamp = chain.next_timestamp();
    let block = chain.next_block_env(timestamp);
    let mut cfg = chain.cfg();
    cfg.disable_nonce_check = true;
    cfg.disable_base_fee = true;
    cfg.tx_gas_limit_cap = Some(u64::MAX);
    cfg.tx_chain_id_check = false;
    let gas_price = request.gas_price.or(request.max_fee_per_gas).unwrap_or(0);
    let tx = TxEnv {
        tx_type: if request.max_fee_per_gas.is_some() {
            2
        } else {
            0
        },
        caller: request.from.unwrap_or_default(),
        gas_limit: gas,
        gas_price,
        kind: request.to.unwrap_or(TxKind::Create),
        value: request.value.unwrap_or_default(),
        data: request.input.input().cloned().unwrap_or_default(),
        nonce: 0,
        chain_id: Some(chain.chain_id),
        access_list: request.access_list.clone().unwrap_or_default(),
        gas_priority_fee: request.max_priority_fee_per_gas.filter(|_| gas_price > 0),
        ..TxEnv::default()
    };
    let mut evm = Context::mainnet()
        .with_ref_db(chain.state())
        .with_block(block)
        .with_cfg(cfg)
        .build_mainnet();
    match evm.transact(tx) {
        Ok(outcome) => Ok(outcome.result),
        Err(EVMError::Transaction(invalid)) => {
            Err(RpcError::server(crate::chain::describe_invalid(&invalid)))
        }
        Err(other) => Err(RpcError::new(RpcError::INTERNAL, other.to_string())),
    }
}

fn halted(reason: HaltReason, gas: u64) -> RpcError {
    match reason {
        HaltReason::OutOfGas(
            OutOfGasError::Basic | OutOfGasError::Memory | OutOfGasError::Precompile,
        ) => RpcError::server(format!(
            "out of gas: gas required exceeds allowance ({gas})"
        )),
        other => RpcError::server(format!("execution halted: {other:?}")),
    }
}

/// Smallest gas limit with which the call succeeds, by bisection (as geth does), to within
/// 1.5%.
fn estimate_gas(chain: &Chain, request: &TransactionRequest) -> Result<u64, RpcError> {
    let cap = request
        .gas
        .unwrap_or_else(|| chain.gas_limit.min(TX_GAS_LIMIT_CAP));
    let spent = match run_call(chain, request, cap)? {
        ExecutionResult::Success { gas, .. } => gas.total_gas_spent(),
        ExecutionResult::Revert { output, .. } => return Err(RpcError::reverted(output)),
        ExecutionResult::Halt { reason, .. } => return Err(halted(reason, cap)),
    };
    let succeeds = |gas: u64| -> Result<bool, RpcError> {
        Ok(matches!(
            run_call(chain, request, gas)?,
            ExecutionResult::Success { .. }
        ))
    };
    let mut low = spent.saturating_sub(1);
    let mut high = cap;
    // Most calls need their spent gas plus the 1/64 every call frame keeps back.
    let guess = spent.saturating_mul(64) / 63 + 2_300;
    if guess < high {
        if succeeds(guess)? {
            high = guess;
        } else {
            low = guess;
        }
    }
    while high - low > 1 && (high - low) * 1000 / high > 15 {
        let middle = low + (high - low) / 2;
        if succeeds(middle)? {
            high = middle;
        } else {
            low = middle;
        }
    }
    Ok(high)
}

fn logs(chain: &Chain, filter: &Filter) -> Result<Vec<Log>, RpcError> {
    let mut out = Vec::new();
    match filter.block_option {
        FilterBlockOption::AtBlockHash(hash) => {
            let block = chain
                .block_by_hash(&hash)
                .ok_or_else(|| RpcError::server(format!("block {hash} not found")))?;
            filters::block_logs(block, filter, &mut out);
        }
        FilterBlockOption::Range {
            from_block,
            to_block,
        } => {
            let from = resolve_tag(chain, from_block.unwrap_or_default())?;
            let to = resolve_tag(chain, to_block.unwrap_or_default())?;
            if from > to {
                return Err(RpcError::invalid_params(format!(
                    "fromBlock {from} is after toBlock {to}"
                )));
            }
            for number in from..=to {
                if let Some(block) = chain.block(number) {
                    filters::block_logs(block, filter, &mut out);
                }
            }
        }
    }
    Ok(out)
}

fn mine_timestamp(params: &Params) -> Result<Option<u64>, RpcError> {
    // evm_mine takes a timestamp, or (hardhat/anvil) an object with one.
    let value = match params.0.first() {
        Some(Value::Object(options)) => options.get("timestamp"),
        other => other,
    };
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => number
            .as_u64()
            .map(Some)
            .ok_or_else(|| RpcError::invalid_params("timestamp must be a whole number")),
        Some(other) => U64::deserialize(other)
            .map(|timestamp| Some(timestamp.to()))
            .map_err(|error| RpcError::invalid_params(format!("bad timestamp: {error}"))),
    }
}

fn fee_history(chain: &Chain, params: &Params) -> RpcResult {
    let count: U64 = params.req(0, "block count")?;
    let newest: BlockNumberOrTag = params.req(1, "newest block")?;
    let percentiles: Option<Vec<f64>> = params.opt(2)?;
    if let Some(percentiles) = &percentiles
        && (percentiles.windows(2).any(|pair| pair[0] > pair[1])
            || percentiles.iter().any(|p| !(0.0..=100.0).contains(p)))
    {
        return Err(RpcError::invalid_params(
            "reward percentiles must rise within 0..=100",
        ));
    }
    let newest = resolve_tag(chain, newest)?;
    let count = count.to::<u64>().clamp(1, MAX_FEE_HISTORY).min(newest + 1);
    let oldest = newest + 1 - count;
    let mut history = FeeHistory {
        oldest_block: oldest,
        ..FeeHistory::default()
    };
    let mut rewards = Vec::new();
    for number in oldest..=newest {
        let block = chain.block(number).expect("resolved above");
        let base_fee = block.header.base_fee_per_gas.unwrap_or_default();
        history.base_fee_per_gas.push(u128::from(base_fee));
        history
            .gas_used_ratio
            .push(block.header.gas_used as f64 / block.header.gas_limit as f64);
        history.base_fee_per_blob_gas.push(1);
        history.blob_gas_used_ratio.push(0.0);
        if let Some(percentiles) = &percentiles {
            rewards.push(block_rewards(block, base_fee, percentiles));
        }
    }
    let next = chain
        .block(newest + 1)
        .and_then(|block| block.header.base_fee_per_gas)
        .unwrap_or_else(|| chain.next_base_fee());
    history.base_fee_per_gas.push(u128::from(next));
    history.base_fee_per_blob_gas.push(1);
    history.reward = percentiles.map(|_| rewards);
    ok(history)
}

/// The priority fee paid at each percentile of a block's gas (geth's weighting).
fn block_rewards(block: &MinedBlock, base_fee: u64, percentiles: &[f64]) -> Vec<u128> {
    let mut tips: Vec<(u128, u64)> = block
        .txs
        .iter()
        .map(|mined| {
            (
                mined.tx.effective_tip_per_gas(base_fee).unwrap_or_default(),
                mined.gas_used,
            )
        })
        .collect();
    if tips.is_empty() {
        return vec![0; percentiles.len()];
    }
    tips.sort_unstable();
    let total: u64 = tips.iter().map(|(_, gas)| gas).sum();
    percentiles
        .iter()
        .map(|percentile| {
            let threshold = (total as f64 * percentile / 100.0) as u64;
            let mut cumulative = 0;
            for (tip, gas) in &tips {
                cumulative += gas;
                if cumulative >= threshold {
                    return *tip;
                }
            }
            tips.last().map_or(0, |(tip, _)| *tip)
        })
        .collect()
}

fn rpc_transaction(block: &MinedBlock, index: usize) -> Transaction {
    let mined = &block.txs[index];
    Transaction {
        inner: mined.tx.clone(),
        block_hash: Some(block.hash),
        block_number: Some(block.number()),
        transaction_index: Some(index as u64),
        effective_gas_price: Some(mined.effective_gas_price),
        block_timestamp: Some(block.header.timestamp),
    }
}

fn rpc_receipt(block: &MinedBlock, index: usize) -> TransactionReceipt {
    let mined = &block.txs[index];
    let mut log_index = mined.first_log_index;
    let receipt = mined.receipt.clone().map_logs(|log| {
        let log = filters::rpc_log(block, index, log_index, &log);
        log_index += 1;
        log
    });
    TransactionReceipt {
        inner: receipt,
        transaction_hash: mined.hash,
        transaction_index: Some(index as u64),
        block_hash: Some(block.hash),
        block_number: Some(block.number()),
        gas_used: mined.gas_used,
        effective_gas_price: mined.effective_gas_price,
        blob_gas_used: None,
        blob_gas_price: None,
        from: mined.tx.signer(),
        to: mined.tx.to(),
        contract_address: mined.contract_address,
    }
}

pub(crate) fn rpc_header(block: &MinedBlock) -> RpcHeader {
    RpcHeader {
        hash: block.hash,
        inner: block.header.clone(),
        total_difficulty: Some(U256::ZERO),
        size: Some(U256::from(block.size)),
    }
}

fn rpc_block(block: &MinedBlock, full: bool) -> Block {
    let transactions = if full {
        BlockTransactions::Full(
            (0..block.txs.len())
                .map(|i| rpc_transaction(block, i))
                .collect(),
        )
    } else {
        BlockTransactions::Hashes(block.txs.iter().map(|mined| mined.hash).collect())
    };
    Block {
        header: rpc_header(block),
        uncles: Vec::new(),
        transactions,
        withdrawals: Some(Default::default()),
    }
}
