//! Helpers for other crates' tests (feature `test-utils`): anvil from the repository's npm
//! packages, the dev-chain calls tests use to move time and mine (anvil and our dev chain both
//! answer them), and the calls a stretch of blocks holds.

use std::path::PathBuf;

use alloy::consensus::Transaction as _;
use alloy::network::TransactionResponse as _;
use alloy::node_bindings::Anvil;
use alloy::primitives::{Address, B256};
use alloy::providers::{DynProvider, Provider};
use alloy::sol_types::SolInterface;

use crate::bindings::JobAgency::JobAgencyCalls;
use crate::client::Agency;
use crate::protocol::job_id;

/// anvil as `npm ci` installs it at the repository root (`@foundry-rs/anvil-linux-amd64`).
pub fn anvil_bin() -> PathBuf {
    let bin = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../node_modules/.bin/anvil"
    ));
    assert!(
        bin.exists(),
        "{} is missing: run `npm ci` at the repository root",
        bin.display()
    );
    bin
}

/// An anvil to configure and spawn (`anvil().spawn()`).
pub fn anvil() -> Anvil {
    Anvil::at(anvil_bin())
}

/// A mined transaction: who sent which contract call, about which jobs, whether it succeeded,
/// its gas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinedCall {
    pub from: Address,
    /// The contract function (`claim`, `deposit`…), or `?` for anything else.
    pub name: String,
    /// The jobs the call names (a batch's for `post`, the listed ones for the batch calls).
    pub jobs: Vec<B256>,
    pub ok: bool,
    pub gas: u64,
}

/// The jobs a call names, from its calldata.
fn jobs_of(call: &JobAgencyCalls) -> Vec<B256> {
    use JobAgencyCalls as C;
    let one = |t: &crate::Terms, i: &alloy::primitives::U256| vec![job_id(t, i.saturating_to())];
    let some = |t: &crate::Terms, is: &[alloy::primitives::U256]| {
        is.iter().map(|i| job_id(t, i.saturating_to())).collect()
    };
    match call {
        C::post(c) => (0..c.t.count).map(|i| job_id(&c.t, i)).collect(),
        C::cancel(c) => one(&c.t, &c.index),
        C::claim(c) => one(&c.t, &c.index),
        C::claimMany(c) => some(&c.t, &c.indices),
        C::release(c) => one(&c.t, &c.index),
        C::submit(c) => one(&c.t, &c.index),
        C::submitMany(c) => some(&c.t, &c.indices),
        C::commit(c) => one(&c.t, &c.index),
        C::claimAndCommit(c) => one(&c.t, &c.index),
        C::revealLast(c) => one(&c.t, &c.index),
        C::reveal(c) => one(&c.t, &c.index),
        C::finalize(c) => one(&c.t, &c.index),
        C::evict(c) => one(&c.t, &c.index),
        C::expire(c) => one(&c.t, &c.index),
        C::settle(c) => some(&c.t, &c.indices),
        _ => Vec::new(),
    }
}

/// Test control of a dev chain (ours or anvil) through the JSON-RPC methods both answer.
#[derive(Debug, Clone)]
pub struct Cheats {
    provider: DynProvider,
}

impl Cheats {
    /// Control of the chain `agency` talks to.
    pub fn of(agency: &Agency) -> Self {
        Self {
            provider: agency.provider().clone(),
        }
    }

    /// Moves the chain's clock forward by `seconds` and mines a block.
    pub async fn warp(&self, seconds: u64) {
        let _: serde_json::Value = self
            .provider
            .raw_request("evm_increaseTime".into(), (seconds,))
            .await
            .expect("evm_increaseTime");
        self.mine().await;
    }

    /// Mines a block.
    pub async fn mine(&self) {
        let _: serde_json::Value = self
            .provider
            .raw_request("evm_mine".into(), ())
            .await
            .expect("evm_mine");
    }

    /// Turns automine (a block per transaction) on or off.
    pub async fn set_automine(&self, on: bool) {
        let _: serde_json::Value = self
            .provider
            .raw_request("evm_setAutomine".into(), (on,))
            .await
            .expect("evm_setAutomine");
    }

    /// The number of transactions in the latest block.
    pub async fn latest_transactions(&self) -> usize {
        self.provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .expect("latest block")
            .expect("a latest block")
            .transactions
            .len()
    }

    /// Every transaction mined from block `from` on, in order, with the contract call it made.
    pub async fn calls_since(&self, from: u64) -> Vec<MinedCall> {
        let p = &self.provider;
        let head = p.get_block_number().await.expect("block number");
        let mut calls = Vec::new();
        for n in from.max(1)..=head {
            let block = p
                .get_block_by_number(n.into())
                .full()
                .await
                .expect("block")
                .expect("a block");
            for tx in block.transactions.into_transactions() {
                let decoded = JobAgencyCalls::abi_decode(tx.input()).ok();
                let name = tx
                    .input()
                    .get(..4)
                    .and_then(|s| <[u8; 4]>::try_from(s).ok())
                    .and_then(JobAgencyCalls::name_by_selector)
                    .unwrap_or("?")
                    .to_owned();
                let jobs = decoded.as_ref().map(jobs_of).unwrap_or_default();
                let receipt = p
                    .get_transaction_receipt(tx.tx_hash())
                    .await
                    .expect("receipt")
                    .expect("mined");
                calls.push(MinedCall {
                    from: tx.from(),
                    name,
                    jobs,
                    ok: receipt.status(),
                    gas: receipt.gas_used,
                });
            }
        }
        calls
    }
}
