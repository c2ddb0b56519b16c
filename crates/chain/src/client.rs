//! [`Agency`]: a deployed JobAgency and the provider that signs for one account.

use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};

use crate::bindings::IJobAgency::{JobView, Terms};
use crate::bindings::JobAgency::{self, JobAgencyInstance};
use crate::error::ChainError;
use crate::protocol;
use crate::sender::Sender;

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
pub fn http_provider(url: alloy::transports::http::reqwest::Url) -> DynProvider {
    alloy::providers::ProviderBuilder::new()
        .connect_reqwest(http_client(RPC_TIMEOUT), url)
        .erased()
}

/// A deployed JobAgency seen through one provider (and the account it signs for).
///
/// The full typed API is [`Agency::contract`]; the methods here cover what clients do most,
/// wait for receipts, and turn reverts into the contract's decoded custom errors.
#[derive(Debug, Clone)]
pub struct Agency {
    contract: JobAgencyInstance<DynProvider>,
    sender: Option<Sender>,
}

/// An account's state in the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    /// Free stake and earnings, in wei.
    pub balance: U256,
    /// The agent number given at the first claim (0 before).
    pub agent: u32,
    pub accepted: u32,
    pub rejected: u32,
    pub missed: u32,
}

impl Agency {
    /// Deploys JobAgency from the committed artifact's bytecode.
    pub async fn deploy(provider: DynProvider) -> Result<Self, ChainError> {
        let address = JobAgency::deploy_builder(provider.clone())
            .deploy()
            .await
            .map_err(|e| ChainError::from_contract("deploy", e))?;
        Ok(Self::at(address, provider))
    }

    /// The contract at `address`. Nothing is checked until the first call.
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

    /// The contract's address.
    pub fn address(&self) -> Address {
        *self.contract.address()
    }

    /// The typed contract, for every call and event.
    pub fn contract(&self) -> &JobAgencyInstance<DynProvider> {
        &self.contract
    }

    /// Posts the batch `terms` with one job per spec digest, paying `reward × count`; returns
    /// the batch id.
    pub async fn post(&self, terms: &Terms, specs: &[B256]) -> Result<B256, ChainError> {
        let value = U256::from(terms.reward) * U256::from(terms.count);
        let call = self
            .contract
            .post(terms.clone(), specs.to_vec())
            .value(value);
        self.transact("post", call.into_transaction_request())
            .await?;
        Ok(protocol::batch_id(terms))
    }

    /// Adds `amount` wei to the signer's balance.
    pub async fn deposit(&self, amount: U256) -> Result<TransactionReceipt, ChainError> {
        let call = self.contract.deposit().value(amount);
        self.transact("deposit", call.into_transaction_request())
            .await
    }

    /// Claims a slot of job `index`; returns the receipt (the slot is in its `Claimed` event).
    pub async fn claim(&self, terms: &Terms, index: u32) -> Result<TransactionReceipt, ChainError> {
        let call = self.contract.claim(terms.clone(), U256::from(index));
        self.transact("claim", call.into_transaction_request())
            .await
    }

    /// Claims job `index` (r = 1) and submits `result`, the result envelope's digest.
    pub async fn claim_and_submit(
        &self,
        terms: &Terms,
        index: u32,
        result: B256,
    ) -> Result<TransactionReceipt, ChainError> {
        let call = self
            .contract
            .claimAndSubmit(terms.clone(), U256::from(index), result);
        self.transact("claimAndSubmit", call.into_transaction_request())
            .await
    }

    /// Sends any contract call built with [`Agency::contract`] (`contract().commit(…)
    /// .into_transaction_request()`), through the [`Sender`] if there is one; waits for the
    /// receipt. `call` names it in errors.
    pub async fn transact(
        &self,
        call: &'static str,
        tx: TransactionRequest,
    ) -> Result<TransactionReceipt, ChainError> {
        match &self.sender {
            Some(sender) => Ok(sender.send(call, tx).await?.receipt),
            None => send(call, tx, self.contract.provider()).await,
        }
    }

    /// Job `index`'s state.
    pub async fn job(&self, terms: &Terms, index: u32) -> Result<JobView, ChainError> {
        self.contract
            .jobOf(terms.clone(), U256::from(index))
            .call()
            .await
            .map_err(|e| ChainError::from_contract("jobOf", e))
    }

    /// `account`'s balance, agent number and reputation counters.
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
        })
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
pub async fn wait_receipt(
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
