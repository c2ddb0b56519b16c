//! [`Sender`]: transactions from one local key, safe to send concurrently, resent with higher
//! fees when they sit unmined.
//!
//! Nonces come from the node's pending transaction count, read under a per-key lock that is
//! held until the node has accepted the transaction. So concurrent sends get consecutive nonces,
//! and a transaction that was dropped or rewound away (a reorg, `evm_revert`) leaves no gap: the
//! next send asks the chain again instead of trusting a local counter. This assumes one node
//! behind the URL: behind a load balancer whose nodes disagree on the pending count, two sends
//! can get the same nonce, and the node refuses the second ("nonce too low", a final error,
//! not a retryable one).

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, B256};
use alloy::providers::fillers::{ChainIdFiller, JoinFill, WalletFiller};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::client::RpcClient;
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use tokio::sync::Mutex;

use crate::client::poll_receipts;
use crate::error::ChainError;

type SigningBuilder = ProviderBuilder<
    alloy::providers::Identity,
    JoinFill<JoinFill<alloy::providers::Identity, ChainIdFiller>, WalletFiller<EthereumWallet>>,
    alloy::network::Ethereum,
>;

/// How [`Sender`] waits and resends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendConfig {
    /// How long a transaction may sit unmined before it is resent with higher fees.
    pub stuck_after: Duration,
    /// How many times a transaction is resent with higher fees.
    pub max_bumps: u32,
    /// How long to wait for a receipt in all, bumps included.
    pub receipt_timeout: Duration,
}

impl Default for SendConfig {
    fn default() -> Self {
        Self {
            stuck_after: Duration::from_secs(30),
            max_bumps: 3,
            receipt_timeout: Duration::from_secs(180),
        }
    }
}

/// A transaction that made it into a block.
#[derive(Debug, Clone)]
pub struct Sent {
    pub receipt: TransactionReceipt,
    /// How many times it was resent with higher fees before one copy was mined.
    pub bumps: u32,
}

/// Sends transactions signed by one key through a provider that has that key's wallet and no
/// nonce filler (see [`Sender::new`]).
#[derive(Debug, Clone)]
pub struct Sender {
    provider: DynProvider,
    from: Address,
    config: SendConfig,
    lock: Arc<Mutex<()>>,
}

impl Sender {
    /// A sender for `from`; `provider` must sign for `from` (a wallet filler) and must not fill
    /// nonces itself (build it with `ProviderBuilder::new().disable_recommended_fillers()`).
    pub fn new(provider: DynProvider, from: Address, config: SendConfig) -> Self {
        Self {
            provider,
            from,
            config,
            lock: Arc::new(Mutex::new(())),
        }
    }

    /// A sender for `signer` through the JSON-RPC endpoint at `url`.
    pub fn connect(
        url: alloy::transports::http::reqwest::Url,
        signer: PrivateKeySigner,
        config: SendConfig,
    ) -> Self {
        let from = signer.address();
        let provider = Self::builder(signer)
            .connect_reqwest(crate::client::http_client(crate::client::RPC_TIMEOUT), url)
            .erased();
        Self::new(provider, from, config)
    }

    /// A sender for `signer` through an RPC client over any transport (a dev chain in this
    /// process, a test transport).
    pub fn over(client: RpcClient, signer: PrivateKeySigner, config: SendConfig) -> Self {
        let from = signer.address();
        let provider = Self::builder(signer).connect_client(client).erased();
        Self::new(provider, from, config)
    }

    /// A provider builder that signs as `signer` and leaves nonces to the sender.
    fn builder(signer: PrivateKeySigner) -> SigningBuilder {
        ProviderBuilder::new()
            .disable_recommended_fillers()
            .filler(ChainIdFiller::default())
            .wallet(EthereumWallet::from(signer))
    }

    /// The sending account.
    pub fn from(&self) -> Address {
        self.from
    }

    /// The provider the sender uses, for reads.
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// Estimates gas and fees, sends, and waits for a receipt, resending with fees raised by an
    /// eighth when the transaction is stuck. The gas limit is the estimate plus a fifth, or the
    /// request's own gas limit if that is higher (unused gas is not paid for). Fails if the contract refuses the call (at
    /// estimation, before anything is sent), if the mined transaction failed, or on timeout.
    pub async fn send(
        &self,
        call: &'static str,
        mut tx: TransactionRequest,
    ) -> Result<Sent, ChainError> {
        let fail = |e: alloy::transports::TransportError| ChainError::from_contract(call, e.into());
        let floor = tx.gas.take().unwrap_or(0);
        let mut tx = tx.with_from(self.from);
        let gas = self.provider.estimate_gas(tx.clone()).await.map_err(fail)?;
        let fees = self.provider.estimate_eip1559_fees().await.map_err(fail)?;
        // A margin over the estimate: refunds and warm/cold slots can shift between estimation
        // and inclusion. A gas limit in the request is a floor, for calls whose cost depends on
        // what others do first (a reveal that turns out to be the last one finalizes the job).
        tx.set_gas_limit((gas + gas / 5).max(floor));
        tx.set_max_fee_per_gas(fees.max_fee_per_gas);
        tx.set_max_priority_fee_per_gas(fees.max_priority_fee_per_gas);

        let mut hashes = Vec::new();
        {
            let _one_at_a_time = self.lock.lock().await;
            let nonce = self
                .provider
                .get_transaction_count(self.from)
                .pending()
                .await
                .map_err(fail)?;
            tx.set_nonce(nonce);
            hashes.push(self.broadcast(call, tx.clone()).await?);
        }

        let start = Instant::now();
        let mut bumps = 0;
        loop {
            let budget = if bumps < self.config.max_bumps {
                self.config.stuck_after
            } else {
                self.config.receipt_timeout.saturating_sub(start.elapsed())
            };
            if let Some(receipt) = poll_receipts(call, &self.provider, &hashes, budget).await? {
                if !receipt.status() {
                    return Err(ChainError::Failed {
                        call,
                        tx: receipt.transaction_hash,
                    });
                }
                return Ok(Sent { receipt, bumps });
            }
            if bumps >= self.config.max_bumps || start.elapsed() >= self.config.receipt_timeout {
                let tx = *hashes.last().expect("sent at least once");
                return Err(ChainError::ReceiptTimeout {
                    call,
                    tx,
                    waited: start.elapsed(),
                });
            }
            // Same nonce, both fees up by an eighth (nodes replace only for ≥ 10% more).
            let bump = |fee: u128| fee + fee / 8 + 1;
            tx.set_max_fee_per_gas(bump(tx.max_fee_per_gas.expect("set above")));
            tx.set_max_priority_fee_per_gas(bump(tx.max_priority_fee_per_gas.expect("set above")));
            bumps += 1;
            match self.broadcast(call, tx.clone()).await {
                Ok(hash) => hashes.push(hash),
                // A refused replacement (an earlier copy was mined meanwhile, "nonce too low",
                // or the node wants more) is not the send failing: the next wait finds
                // whichever copy is mined, and the next bump offers more.
                Err(e) if !e.is_retryable() => {}
                Err(e) => return Err(e),
            }
        }
    }

    async fn broadcast(
        &self,
        call: &'static str,
        tx: TransactionRequest,
    ) -> Result<B256, ChainError> {
        let pending = self
            .provider
            .send_transaction(tx)
            .await
            .map_err(|e| ChainError::from_contract(call, e.into()))?;
        Ok(*pending.tx_hash())
    }
}
