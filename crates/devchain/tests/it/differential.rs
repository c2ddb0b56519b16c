//! One scripted JobAgency market, run on the dev chain and on anvil: every transaction's
//! status, gas used, price and logs, every expected revert's code and data, and the final state
//! must come out the same.

use std::time::Duration;

use agency_chain::bindings::JobAgency::{self, JobAgencyInstance};
use agency_chain::{Terms, TermsBuilder, protocol};
use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use alloy::transports::RpcError;

use crate::common::{self, GENESIS};

const ETHER: u128 = 1_000_000_000_000_000_000;
const REWARD: u128 = ETHER / 100;
const COLLATERAL: u128 = ETHER / 500;

/// What one step left behind.
#[derive(Debug, PartialEq)]
enum Outcome {
    Mined {
        status: bool,
        gas_used: u64,
        effective_gas_price: u128,
        block: u64,
        logs: Vec<(Address, Vec<B256>, Bytes)>,
    },
    /// An eth_call refused: the JSON-RPC code and the revert data.
    Refused { code: i64, data: Option<String> },
}

struct Market {
    providers: Vec<DynProvider>,
    accounts: Vec<Address>,
    agency: Address,
    clock: u64,
    log: Vec<(String, Outcome)>,
}

impl Market {
    async fn new(url: &str, keys: &[PrivateKeySigner]) -> Self {
        let providers: Vec<DynProvider> = keys
            .iter()
            .map(|key| {
                ProviderBuilder::new()
                    .wallet(EthereumWallet::from(key.clone()))
                    .connect_http(url.parse().expect("url"))
                    .erased()
            })
            .collect();
        let accounts = keys.iter().map(PrivateKeySigner::address).collect();
        let mut market = Self {
            providers,
            accounts,
            agency: Address::ZERO,
            clock: GENESIS,
            log: Vec::new(),
        };
        let deploy = TransactionRequest::default().with_deploy_code(JobAgency::BYTECODE.clone());
        market.send("deploy", 0, deploy).await;
        let receipt_address = market.providers[0]
            .get_transaction_count(market.accounts[0])
            .await
            .expect("nonce");
        assert_eq!(receipt_address, 1);
        market.agency = market.accounts[0].create(0);
        market
    }

    fn contract(&self, account: usize) -> JobAgencyInstance<DynProvider> {
        JobAgency::new(self.agency, self.providers[account].clone())
    }

    /// Mines `tx` from `account` at the next tick of the shared clock, with fixed gas and fees
    /// so that nothing depends on either node's estimates.
    async fn send(&mut self, name: &str, account: usize, tx: TransactionRequest) {
        self.tick(12).await;
        let tx = tx
            .with_gas_limit(5_000_000)
            .with_max_fee_per_gas(50_000_000_000)
            .with_max_priority_fee_per_gas(1_500_000_000);
        let receipt = self.providers[account]
            .send_transaction(tx)
            .await
            .unwrap_or_else(|e| panic!("{name}: send: {e}"))
            .get_receipt()
            .await
            .unwrap_or_else(|e| panic!("{name}: receipt: {e}"));
        let logs = receipt
            .inner
            .logs()
            .iter()
            .map(|log| {
                (
                    log.address(),
                    log.topics().to_vec(),
                    log.data().data.clone(),
                )
            })
            .collect();
        self.log.push((
            name.to_owned(),
            Outcome::Mined {
                status: receipt.status(),
                gas_used: receipt.gas_used,
                effective_gas_price: receipt.effective_gas_price,
                block: receipt.block_number.expect("mined"),
                logs,
            },
        ));
    }

    /// Expects `tx` to revert: records the eth_call error, then mines it anyway (a reverted
    /// transaction's gas and status are part of the comparison).
    async fn refused(&mut self, name: &str, account: usize, tx: TransactionRequest) {
        let tx = tx.with_from(self.accounts[account]);
        let error = self.providers[account]
            .call(tx.clone())
            .await
            .expect_err(name);
        let outcome = match error {
            RpcError::ErrorResp(payload) => Outcome::Refused {
                code: payload.code,
                data: payload.data.map(|data| data.get().to_owned()),
            },
            other => panic!("{name}: not a JSON-RPC error: {other}"),
        };
        self.log.push((format!("{name} (call)"), outcome));
        self.send(name, account, tx).await;
    }

    async fn tick(&mut self, seconds: u64) {
        self.clock += seconds;
        let _: serde_json::Value = self.providers[0]
            .raw_request("evm_setNextBlockTimestamp".into(), (self.clock,))
            .await
            .expect("evm_setNextBlockTimestamp");
    }

    fn terms(&self, salt: u64, count: u32, replicas: u8, deadline: u64) -> (Terms, Vec<B256>) {
        let specs: Vec<B256> = (0..count)
            .map(|i| B256::repeat_byte(salt as u8 * 16 + i as u8 + 1))
            .collect();
        let batch = TermsBuilder::new(self.accounts[0], specs)
            .salt(salt)
            .reward(U256::from(REWARD))
            .collateral(U256::from(COLLATERAL))
            .replicas(replicas)
            .delivery_window(Duration::from_secs(600))
            .reveal_window(Duration::from_secs(300))
            .deadline_in(Duration::from_secs(deadline))
            .build(self.clock)
            .expect("valid terms");
        (batch.terms, batch.specs)
    }

    async fn final_state(&self, jobs: &[(Terms, u32)]) -> Vec<Bytes> {
        let provider = &self.providers[0];
        let contract = self.contract(0);
        let mut state = Vec::new();
        for (terms, index) in jobs {
            let call = contract
                .jobOf(terms.clone(), U256::from(*index))
                .into_transaction_request();
            state.push(provider.call(call).await.expect("jobOf"));
        }
        for account in &self.accounts {
            let call = contract.accountOf(*account).into_transaction_request();
            state.push(provider.call(call).await.expect("accountOf"));
            let balance = provider.get_balance(*account).await.expect("balance");
            state.push(Bytes::from(balance.to_be_bytes_vec()));
        }
        let held = provider
            .get_balance(self.agency)
            .await
            .expect("contract balance");
        state.push(Bytes::from(held.to_be_bytes_vec()));
        let latest = provider.get_block_number().await.expect("number");
        let block = provider
            .get_block_by_number(latest.into())
            .await
            .expect("block")
            .expect("latest");
        state.push(Bytes::from(
            format!(
                "{:?}",
                (
                    latest,
                    block.header.gas_used,
                    block.header.base_fee_per_gas,
                    block.header.timestamp
                )
            )
            .into_bytes(),
        ));
        state
    }
}

/// The script: deploys, deposits, a replicated job with a liar (commit, reveal in the clear,
/// reveals, automatic finalize with a slash), one where a committer stays silent (finalize
/// after the reveal window), direct submits (claim + submit), an expiry and a
/// cancel after time travel, withdrawals, and expected reverts along the way.
async fn script(url: &str, keys: &[PrivateKeySigner]) -> (Vec<(String, Outcome)>, Vec<Bytes>) {
    let mut m = Market::new(url, keys).await;
    let chain_id = m.providers[0].get_chain_id().await.expect("chain id");
    for agent in 1..=3 {
        let tx = m
            .contract(agent)
            .deposit()
            .value(U256::from(ETHER))
            .into_transaction_request();
        m.send(&format!("deposit #{agent}"), agent, tx).await;
    }
    let (replicated, replicated_specs) = m.terms(1, 2, 3, 86_400);
    let (direct, direct_specs) = m.terms(2, 3, 1, 3_600);
    let value = |terms: &Terms| U256::from(REWARD * u128::from(terms.count));
    let post = m
        .contract(0)
        .post(replicated.clone(), replicated_specs.clone())
        .value(value(&replicated))
        .into_transaction_request();
    m.send("post replicated", 0, post).await;
    let post = m
        .contract(0)
        .post(direct.clone(), direct_specs.clone())
        .value(value(&direct))
        .into_transaction_request();
    m.send("post direct", 0, post).await;
    let again = m
        .contract(0)
        .post(direct.clone(), direct_specs.clone())
        .value(value(&direct))
        .into_transaction_request();
    m.refused("post the same batch again", 0, again).await;
    let cheap = m
        .contract(0)
        .post(direct.clone(), direct_specs)
        .value(U256::from(1))
        .into_transaction_request();
    m.refused("post with the wrong value", 0, cheap).await;

    let truth = B256::repeat_byte(0x42);
    let lie = B256::repeat_byte(0x66);
    for (index, liar) in [(0u32, Some(2usize)), (1, None)] {
        let job = protocol::job_id(&replicated, index);
        for agent in [1usize, 2] {
            let result = if liar == Some(agent) { lie } else { truth };
            let salt = B256::repeat_byte(agent as u8);
            let commitment =
                protocol::commitment(chain_id, m.agency, job, m.accounts[agent], result, salt);
            let tx = m
                .contract(agent)
                .claimAndCommit(replicated.clone(), U256::from(index), commitment)
                .into_transaction_request();
            m.send(&format!("job {index}: claimAndCommit #{agent}"), agent, tx)
                .await;
        }
        let tx = m
            .contract(3)
            .claim(replicated.clone(), U256::from(index))
            .into_transaction_request();
        m.send(&format!("job {index}: claim #3"), 3, tx).await;
        let tx = m
            .contract(3)
            .revealLast(replicated.clone(), U256::from(index), U256::from(2), truth)
            .into_transaction_request();
        m.send(&format!("job {index}: revealLast #3"), 3, tx).await;
        let full = m
            .contract(1)
            .claim(replicated.clone(), U256::from(index))
            .into_transaction_request();
        m.refused(&format!("job {index}: claim a full job"), 1, full)
            .await;
        let revealers: &[usize] = if index == 0 { &[1, 2] } else { &[1] };
        for &agent in revealers {
            let result = if liar == Some(agent) { lie } else { truth };
            let tx = m
                .contract(agent)
                .reveal(
                    replicated.clone(),
                    U256::from(index),
                    U256::from(agent - 1),
                    result,
                    B256::repeat_byte(agent as u8),
                )
                .into_transaction_request();
            m.send(&format!("job {index}: reveal #{agent}"), agent, tx)
                .await;
        }
    }
    let early = m
        .contract(3)
        .finalize(replicated.clone(), U256::from(1))
        .into_transaction_request();
    m.refused("job 1: finalize before the reveal window ends", 3, early)
        .await;
    m.tick(400).await;
    let tx = m
        .contract(3)
        .finalize(replicated.clone(), U256::from(1))
        .into_transaction_request();
    m.send("job 1: finalize", 3, tx).await;

    let tx = m
        .contract(1)
        .claim(direct.clone(), U256::ZERO)
        .into_transaction_request();
    m.send("direct 0: claim", 1, tx).await;
    let tx = m
        .contract(1)
        .submit(direct.clone(), U256::ZERO, U256::ZERO, truth)
        .into_transaction_request();
    m.send("direct 0: submit", 1, tx).await;
    let tx = m
        .contract(2)
        .claim(direct.clone(), U256::from(1))
        .into_transaction_request();
    m.send("direct 1: claim", 2, tx).await;
    let wrong = m
        .contract(3)
        .submit(direct.clone(), U256::from(1), U256::ZERO, truth)
        .into_transaction_request();
    m.refused("direct 1: submit by a non-holder", 3, wrong)
        .await;
    let tx = m
        .contract(2)
        .submit(direct.clone(), U256::from(1), U256::ZERO, truth)
        .into_transaction_request();
    m.send("direct 1: submit", 2, tx).await;
    let tx = m
        .contract(0)
        .cancel(direct.clone(), U256::from(2))
        .into_transaction_request();
    m.send("direct 2: cancel", 0, tx).await;

    let (lapsing, lapsing_specs) = m.terms(3, 1, 1, 1_000);
    let post = m
        .contract(0)
        .post(lapsing.clone(), lapsing_specs)
        .value(value(&lapsing))
        .into_transaction_request();
    m.send("post lapsing", 0, post).await;
    let soon = m
        .contract(1)
        .expire(lapsing.clone(), U256::ZERO)
        .into_transaction_request();
    m.refused("expire before the deadline", 1, soon).await;
    m.tick(2_000).await;
    let tx = m
        .contract(1)
        .expire(lapsing.clone(), U256::ZERO)
        .into_transaction_request();
    m.send("expire after the deadline", 1, tx).await;

    let greedy = m
        .contract(1)
        .withdraw(U256::from(100 * ETHER))
        .into_transaction_request();
    m.refused("withdraw more than the balance", 1, greedy).await;
    for account in 0..=3 {
        let balance = m
            .contract(account)
            .accountOf(m.accounts[account])
            .call()
            .await
            .expect("accountOf")
            .balance;
        if balance > U256::ZERO {
            let tx = m
                .contract(account)
                .withdraw(balance)
                .into_transaction_request();
            m.send(&format!("withdraw #{account}"), account, tx).await;
        }
    }
    // The script must do what it says: exactly the steps named as refused revert.
    for (name, outcome) in &m.log {
        if let Outcome::Mined { status, .. } = outcome {
            let expected = !m
                .log
                .iter()
                .any(|(other, _)| *other == format!("{name} (call)"));
            assert_eq!(*status, expected, "step {name:?}");
        }
    }
    let jobs = vec![
        (replicated.clone(), 0),
        (replicated, 1),
        (direct.clone(), 0),
        (direct.clone(), 1),
        (direct, 2),
        (lapsing, 0),
    ];
    let state = m.final_state(&jobs).await;
    (m.log, state)
}

#[tokio::test]
async fn the_same_market_on_anvil_and_the_dev_chain() {
    let anvil = agency_chain::testing::anvil()
        .arg("--timestamp")
        .arg(GENESIS.to_string())
        .spawn();
    let anvil_keys: Vec<PrivateKeySigner> =
        anvil.keys()[..4].iter().map(|k| k.clone().into()).collect();

    let chain = common::devchain();
    let keys: Vec<PrivateKeySigner> = chain.accounts()[..4]
        .iter()
        .map(|a| a.signer.clone())
        .collect();
    assert_eq!(
        keys.iter()
            .map(PrivateKeySigner::address)
            .collect::<Vec<_>>(),
        anvil_keys
            .iter()
            .map(PrivateKeySigner::address)
            .collect::<Vec<_>>(),
        "the same dev accounts"
    );
    let url = common::serve(&chain).await;

    let (ours, our_state) = script(&url, &keys).await;
    let (theirs, their_state) = script(anvil.endpoint().as_str(), &anvil_keys).await;
    assert!(ours.len() > 40, "the script ran {} steps", ours.len());
    let slashes = ours.iter().filter(|(_, o)| matches!(o, Outcome::Mined { logs, .. } if logs.iter().any(|l| l.1[0] == JobAgency::Slashed::SIGNATURE_HASH))).count();
    assert_eq!(slashes, 2, "the liar and the silent committer were slashed");
    for ((name, our), (_, their)) in ours.iter().zip(&theirs) {
        assert_eq!(
            our, their,
            "step {name:?} differs (left: dev chain, right: anvil)"
        );
    }
    assert_eq!(ours.len(), theirs.len());
    assert_eq!(
        our_state, their_state,
        "final state differs (left: dev chain, right: anvil)"
    );
}
