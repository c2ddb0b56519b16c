//! [`Agency`]: a deployed JobAgency and the provider that signs for one account, as one typed
//! surface: every call the agents and the requester send ([`Call`]), every read they make.
//! Callers see domain types ([`JobView`], [`Account`], [`Mined`]); the providers, transports and
//! contract instances stay inside this crate.

use std::time::{Duration, Instant};

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::client::RpcClient;
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEventInterface;
use alloy::transports::IntoBoxTransport;
use alloy::transports::http::reqwest::Url;

use crate::bindings::IJobAgency::Terms;
use crate::bindings::JobAgency::{self, JobAgencyEvents, JobAgencyInstance};
use crate::call::Call;
use crate::error::ChainError;
use crate::events::{Cursor, EventStream};
use crate::protocol::Batch;
use crate::sender::{SendConfig, Sender};
use crate::view::JobView;

/// Time allowed for one JSON-RPC request over HTTP, the answer included.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(30);

/// The HTTP client for JSON-RPC endpoints (`http://` and `https://`): a connection within
/// 10 s, each request answered within `timeout`. Without a bound, a request on a half-open
/// connection to a hung node waits for TCP to give up (many minutes), and an agent with it.
pub fn http_client(timeout: Duration) -> alloy::transports::http::reqwest::Client {
    alloy::transports::http::reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10).min(timeout))
        .timeout(timeout)
        .build()
        .expect("an HTTP client with TLS from the platform's roots")
}

/// A provider for the JSON-RPC endpoint at `url`, its requests bounded by [`RPC_TIMEOUT`].
pub(crate) fn http_provider(url: Url) -> DynProvider {
    ProviderBuilder::new()
        .connect_reqwest(http_client(RPC_TIMEOUT), url)
        .erased()
}

/// A deployed JobAgency seen through one provider (and the account it signs for).
///
/// Reads work on any; sends need an account ([`Agency::http_signer`], [`Agency::over`] with a
/// signer). Reverts come back as the contract's decoded custom errors.
#[derive(Debug, Clone)]
pub struct Agency {
    contract: JobAgencyInstance<DynProvider>,
    sender: Option<Sender>,
}

/// What [`Agency::deployed`] found at the contract's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deployed {
    /// No code.
    Nothing,
    /// JobAgency as this build knows it (protocol [`crate::protocol::VERSION`]).
    Ours,
    /// Some other code: another protocol version, another build of it, or another contract.
    Other { code_hash: B256 },
}

impl Deployed {
    /// The code hash this build speaks (`keccak256` of the committed artifact's deployed code).
    pub fn expected_code_hash() -> B256 {
        alloy::primitives::keccak256(&JobAgency::DEPLOYED_BYTECODE)
    }
}

/// An account's state in the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    /// Free stake and earnings, in wei.
    pub balance: U256,
    /// The agent number given at the first claim (0 before).
    pub agent: u32,
    /// Jobs it won, and slashes for a wrong result and for a missed delivery or reveal.
    pub accepted: u32,
    pub rejected: u32,
    pub missed: u32,
    /// Its reputation points, which a job's `minReputation` is compared with: gwei burned as
    /// reputation fees on the rewards it won, less a point per gwei of collateral slashed
    /// (docs/protocol.md §6).
    pub points: u64,
}

/// A transaction that was mined and succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mined {
    pub tx: B256,
    pub block: u64,
    pub gas_used: u64,
    /// The contract's events it emitted, in log order.
    pub events: Vec<JobAgencyEvents>,
}

impl Mined {
    fn of(receipt: &TransactionReceipt, agency: Address) -> Self {
        let events = receipt
            .inner
            .logs()
            .iter()
            .filter(|log| log.address() == agency)
            .filter_map(|log| JobAgencyEvents::decode_log(&log.inner).ok())
            .map(|e| e.data)
            .collect();
        Self {
            tx: receipt.transaction_hash,
            block: receipt.block_number.unwrap_or_default(),
            gas_used: receipt.gas_used,
            events,
        }
    }
}

/// The latest block: its number and timestamp (the chain's clock, in seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub number: u64,
    pub timestamp: u64,
}

impl Head {
    /// The earliest time the next block will carry: this block's timestamp, or the wall clock
    /// if that is later (a dev chain mines its next block at the wall clock's time, however
    /// long it sat idle). What a deadline counted from "now" counts from.
    pub fn next_block_time(&self) -> u64 {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.timestamp.max(wall)
    }
}

impl Agency {
    /// Deploys JobAgency from the committed artifact's bytecode through `provider`, which signs
    /// and fills nonces itself.
    pub async fn deploy(provider: DynProvider) -> Result<Self, ChainError> {
        let address = JobAgency::deploy_builder(provider.clone())
            .deploy()
            .await
            .map_err(|e| ChainError::from_contract("deploy", e))?;
        Ok(Self::at(address, provider))
    }

    /// The contract at `address` through `provider`. Nothing is checked until the first call.
    /// Sends go through `provider`'s own fillers: no [`Sender`] (and so no gas floors, see
    /// [`Agency::send`]); agents use [`Agency::with_sender`] or [`Agency::over`].
    pub fn at(address: Address, provider: DynProvider) -> Self {
        Self {
            contract: JobAgency::new(address, provider),
            sender: None,
        }
    }

    /// The contract at `address`, sending through `sender`: nonces safe for concurrent sends,
    /// stuck transactions resent with higher fees.
    pub fn with_sender(address: Address, sender: Sender) -> Self {
        Self {
            contract: JobAgency::new(address, sender.provider().clone()),
            sender: Some(sender),
        }
    }

    /// The contract at `address` on the JSON-RPC endpoint `url`, for reads.
    pub fn http(url: Url, address: Address) -> Self {
        Self::at(address, http_provider(url))
    }

    /// The contract at `address` on the endpoint `url`, sending as `signer` through a
    /// [`Sender`].
    pub fn http_signer(
        url: Url,
        address: Address,
        signer: PrivateKeySigner,
        config: SendConfig,
    ) -> Self {
        Self::with_sender(address, Sender::connect(url, signer, config))
    }

    /// The contract at `address` over any alloy transport (a dev chain in this process, a test
    /// transport), sending as `signer` through a [`Sender`] when one is given.
    pub fn over<T: IntoBoxTransport>(
        transport: T,
        address: Address,
        signer: Option<PrivateKeySigner>,
        config: SendConfig,
    ) -> Self {
        let client = RpcClient::new(transport, true);
        match signer {
            None => Self::at(
                address,
                ProviderBuilder::new().connect_client(client).erased(),
            ),
            Some(signer) => Self::with_sender(address, Sender::over(client, signer, config)),
        }
    }

    /// Deploys JobAgency as `signer` over `transport`; the contract then sends as `signer`.
    pub async fn deploy_over<T: IntoBoxTransport + Clone>(
        transport: T,
        signer: PrivateKeySigner,
        config: SendConfig,
    ) -> Result<Self, ChainError> {
        let deployer = ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer.clone()))
            .connect_client(RpcClient::new(transport.clone(), true))
            .erased();
        let address = Self::deploy(deployer).await?.address();
        Ok(Self::over(transport, address, Some(signer), config))
    }

    /// Deploys JobAgency as `signer` on the endpoint `url`; the contract then sends as `signer`.
    pub async fn deploy_http(
        url: Url,
        signer: PrivateKeySigner,
        config: SendConfig,
    ) -> Result<Self, ChainError> {
        let deployer = ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer.clone()))
            .connect_reqwest(http_client(RPC_TIMEOUT), url.clone())
            .erased();
        let address = Self::deploy(deployer).await?.address();
        Ok(Self::http_signer(url, address, signer, config))
    }

    /// The contract's address.
    pub fn address(&self) -> Address {
        *self.contract.address()
    }

    /// The account transactions are sent as, if any.
    pub fn account_address(&self) -> Option<Address> {
        self.sender.as_ref().map(Sender::from)
    }

    pub(crate) fn provider(&self) -> &DynProvider {
        self.contract.provider()
    }

    /// Sends `call`, through the [`Sender`] if there is one, and waits until it is mined. A call
    /// the contract refuses fails at gas estimation, before anything is sent. Through a
    /// [`Sender`], the gas limit is at least the call's [`Call::gas_floor`].
    pub async fn send(&self, call: Call) -> Result<Mined, ChainError> {
        let name = call.name();
        let tx = call.request(&self.contract);
        let receipt = match &self.sender {
            Some(sender) => {
                let tx = match call.gas_floor() {
                    Some(floor) => tx.gas_limit(floor),
                    None => tx,
                };
                sender.send(name, tx).await?.receipt
            }
            None => send(name, tx, self.provider()).await?,
        };
        Ok(Mined::of(&receipt, self.address()))
    }

    /// Posts `batch`, paying every job's reward; returns the batch id.
    pub async fn post(&self, batch: &Batch) -> Result<B256, ChainError> {
        self.send(Call::Post {
            terms: batch.terms.clone(),
            specs: batch.specs.clone(),
        })
        .await?;
        Ok(batch.id())
    }

    /// Cancels job `index` (the requester only, while no slot is held).
    pub async fn cancel(&self, terms: &Terms, index: u32) -> Result<Mined, ChainError> {
        let terms = terms.clone();
        self.send(Call::Cancel { terms, index }).await
    }

    /// Adds `amount` wei to the sender's balance.
    pub async fn deposit(&self, amount: U256) -> Result<Mined, ChainError> {
        self.send(Call::Deposit { amount }).await
    }

    /// Sends `amount` wei of the balance to `to` (the sender's own wallet when `None`).
    pub async fn withdraw(&self, amount: U256, to: Option<Address>) -> Result<Mined, ChainError> {
        self.send(Call::Withdraw { amount, to }).await
    }

    /// Claims a slot of job `index` (the slot is in the `Claimed` event).
    pub async fn claim(&self, terms: &Terms, index: u32) -> Result<Mined, ChainError> {
        let terms = terms.clone();
        self.send(Call::Claim { terms, index }).await
    }

    /// Submits `result`, the result envelope's digest, for the slot `slot` of job `index`
    /// (r = 1) that this account holds.
    pub async fn submit(
        &self,
        terms: &Terms,
        index: u32,
        slot: u8,
        result: B256,
    ) -> Result<Mined, ChainError> {
        let terms = terms.clone();
        self.send(Call::Submit {
            terms,
            index,
            slot,
            result,
        })
        .await
    }

    /// Settles each of these jobs of a batch that can be settled now (finalize or expire).
    pub async fn settle(&self, terms: &Terms, indices: Vec<u32>) -> Result<Mined, ChainError> {
        let terms = terms.clone();
        self.send(Call::Settle { terms, indices }).await
    }

    /// Job `index`'s state.
    pub async fn job(&self, terms: &Terms, index: u32) -> Result<JobView, ChainError> {
        let view = self
            .contract
            .jobOf(terms.clone(), U256::from(index))
            .call()
            .await
            .map_err(|e| ChainError::from_contract("jobOf", e))?;
        JobView::decode(view)
    }

    /// `account`'s balance, agent number, counters and reputation points.
    pub async fn account(&self, account: Address) -> Result<Account, ChainError> {
        let a = self
            .contract
            .accountOf(account)
            .call()
            .await
            .map_err(|e| ChainError::from_contract("accountOf", e))?;
        let small = |v: U256| v.saturating_to::<u32>();
        Ok(Account {
            balance: a.balance,
            agent: small(a.agent),
            accepted: small(a.accepted),
            rejected: small(a.rejected),
            missed: small(a.missed),
            points: a.points.saturating_to::<u64>(),
        })
    }

    /// The chain id the node reports.
    pub async fn chain_id(&self) -> Result<u64, ChainError> {
        self.provider()
            .get_chain_id()
            .await
            .map_err(|e| rpc("eth_chainId", e))
    }

    /// The latest block's number and timestamp.
    pub async fn head(&self) -> Result<Head, ChainError> {
        let block = self
            .provider()
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .map_err(|e| rpc("eth_getBlockByNumber", e))?
            .ok_or(ChainError::NoBlock)?;
        Ok(Head {
            number: block.header.number,
            timestamp: block.header.timestamp,
        })
    }

    /// The earliest time the next block will carry ([`Head::next_block_time`]).
    pub async fn next_block_time(&self) -> Result<u64, ChainError> {
        Ok(self.head().await?.next_block_time())
    }

    /// The chain's clock: the latest block's timestamp, in seconds.
    pub async fn chain_time(&self) -> Result<u64, ChainError> {
        Ok(self.head().await?.timestamp)
    }

    /// The number of the latest block.
    pub async fn block_number(&self) -> Result<u64, ChainError> {
        self.provider()
            .get_block_number()
            .await
            .map_err(|e| rpc("eth_blockNumber", e))
    }

    /// The ether `who` holds in its wallet (not in the contract), in wei.
    pub async fn balance(&self, who: Address) -> Result<U256, ChainError> {
        self.provider()
            .get_balance(who)
            .await
            .map_err(|e| rpc("eth_getBalance", e))
    }

    /// Wei the contract has burned: slashed collateral and release fees (docs/protocol.md §8).
    pub async fn burned(&self) -> Result<U256, ChainError> {
        self.contract
            .burned()
            .call()
            .await
            .map_err(|e| ChainError::from_contract("burned", e))
    }

    /// The ether the contract itself holds, in wei (docs/protocol.md §8: what it owes and what
    /// it burned).
    pub async fn holdings(&self) -> Result<U256, ChainError> {
        self.balance(self.address()).await
    }

    /// What is deployed at the contract's address: nothing, the contract this build speaks
    /// (its code is byte for byte the committed artifact's), or another contract.
    pub async fn deployed(&self) -> Result<Deployed, ChainError> {
        let code = self
            .provider()
            .get_code_at(self.address())
            .await
            .map_err(|e| rpc("eth_getCode", e))?;
        Ok(if code.is_empty() {
            Deployed::Nothing
        } else if code == JobAgency::DEPLOYED_BYTECODE {
            Deployed::Ours
        } else {
            Deployed::Other {
                code_hash: alloy::primitives::keccak256(&code),
            }
        })
    }

    /// Transactions `who` has sent: mined, and mined or pending.
    pub async fn nonces(&self, who: Address) -> Result<(u64, u64), ChainError> {
        let p = self.provider();
        let mined = p
            .get_transaction_count(who)
            .await
            .map_err(|e| rpc("eth_getTransactionCount", e))?;
        let pending = p
            .get_transaction_count(who)
            .pending()
            .await
            .map_err(|e| rpc("eth_getTransactionCount", e))?;
        Ok((mined, pending))
    }

    /// The gas transaction `tx` used, once mined.
    pub async fn gas_used(&self, tx: B256) -> Result<Option<u64>, ChainError> {
        let receipt = self
            .provider()
            .get_transaction_receipt(tx)
            .await
            .map_err(|e| rpc("eth_getTransactionReceipt", e))?;
        Ok(receipt.map(|r| r.gas_used))
    }

    /// A stream of the contract's events from `cursor`, delivering blocks `confirmations` deep.
    pub fn events(&self, cursor: Cursor, confirmations: u64) -> EventStream {
        EventStream::new(
            self.provider().clone(),
            self.address(),
            cursor,
            confirmations,
        )
    }
}

pub(crate) fn rpc(call: &'static str, e: alloy::transports::TransportError) -> ChainError {
    ChainError::Rpc {
        call,
        source: e.into(),
    }
}

/// How long [`send`] waits for a receipt before giving up with [`ChainError::ReceiptTimeout`].
pub const RECEIPT_TIMEOUT: Duration = Duration::from_secs(60);

/// Sends a transaction, waits for its receipt, and fails unless it succeeded. A call the
/// contract refuses fails at gas estimation, before anything is sent.
async fn send(
    call: &'static str,
    tx: TransactionRequest,
    provider: &DynProvider,
) -> Result<TransactionReceipt, ChainError> {
    let pending = provider
        .send_transaction(tx)
        .await
        .map_err(|e| ChainError::from_contract(call, e.into()))?;
    let receipt = wait_receipt(call, provider, *pending.tx_hash(), RECEIPT_TIMEOUT).await?;
    if !receipt.status() {
        return Err(ChainError::Failed {
            call,
            tx: receipt.transaction_hash,
        });
    }
    Ok(receipt)
}

/// Waits for a transaction's receipt, polling by hash until `timeout`. Polling by hash,
/// rather than following new blocks, also works across a chain that rewinds (a reorg, or
/// `evm_revert` in tests).
pub(crate) async fn wait_receipt(
    call: &'static str,
    provider: &DynProvider,
    tx: B256,
    timeout: Duration,
) -> Result<TransactionReceipt, ChainError> {
    poll_receipts(call, provider, &[tx], timeout)
        .await?
        .ok_or(ChainError::ReceiptTimeout {
            call,
            tx,
            waited: timeout,
        })
}

/// Polls the receipts of `hashes` (copies of one transaction) until one is mined or `budget`
/// runs out: every 20 ms at first (a dev chain mines at once), backing off to every second.
pub(crate) async fn poll_receipts(
    call: &'static str,
    provider: &DynProvider,
    hashes: &[B256],
    budget: Duration,
) -> Result<Option<TransactionReceipt>, ChainError> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        for hash in hashes {
            let receipt = provider
                .get_transaction_receipt(*hash)
                .await
                .map_err(|e| ChainError::from_contract(call, e.into()))?;
            if receipt.is_some() {
                return Ok(receipt);
            }
        }
        if start.elapsed() >= budget {
            return Ok(None);
        }
        tokio::time::sleep(pause.min(budget.saturating_sub(start.elapsed()))).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}
