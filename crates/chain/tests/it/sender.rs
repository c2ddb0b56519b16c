//! The sender on anvil: concurrent sends from one key, a chain that rewinds, a stuck
//! transaction resent with higher fees, and a receipt that never comes.

use std::time::Duration;

use agency_chain::{Agency, ChainError, SendConfig, Sender};
use alloy::consensus::Transaction as _;
use alloy::primitives::U256;
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;

use crate::anvil::{anvil, provider};

fn sender(
    anvil: &alloy::node_bindings::AnvilInstance,
    account: usize,
    config: SendConfig,
) -> Sender {
    let signer: PrivateKeySigner = anvil.keys()[account].clone().into();
    Sender::connect(anvil.endpoint_url(), signer, config)
}

fn deposit(agency: &Agency, wei: u64) -> TransactionRequest {
    agency
        .contract()
        .deposit()
        .value(U256::from(wei))
        .into_transaction_request()
}

#[tokio::test]
async fn concurrent_sends_from_one_key_get_consecutive_nonces() {
    let anvil = anvil();
    let (deployer, _) = provider(&anvil, 0);
    let address = Agency::deploy(deployer).await.expect("deploy").address();
    let sender = sender(&anvil, 2, SendConfig::default());
    let agency = Agency::with_sender(address, sender.clone());

    let sends = (1..=12u64).map(|i| {
        let sender = sender.clone();
        let tx = deposit(&agency, i);
        tokio::spawn(async move { sender.send("deposit", tx).await })
    });
    let mut nonces = Vec::new();
    for handle in sends.collect::<Vec<_>>() {
        let sent = handle.await.expect("task").expect("deposit");
        let tx = sender
            .provider()
            .get_transaction_by_hash(sent.receipt.transaction_hash)
            .await
            .expect("rpc");
        nonces.push(tx.expect("mined").nonce());
    }
    nonces.sort_unstable();
    assert_eq!(
        nonces,
        (0..12).collect::<Vec<u64>>(),
        "no collision, no gap"
    );
    let account = agency.account(sender.from()).await.expect("account");
    assert_eq!(account.balance, U256::from((1..=12u64).sum::<u64>()));
}

#[tokio::test]
async fn a_rewound_chain_leaves_no_nonce_gap() {
    let anvil = anvil();
    let (deployer, _) = provider(&anvil, 0);
    let address = Agency::deploy(deployer.clone())
        .await
        .expect("deploy")
        .address();
    let sender = sender(&anvil, 2, SendConfig::default());
    let agency = Agency::with_sender(address, sender.clone());
    let snapshot: U256 = deployer
        .raw_request("evm_snapshot".into(), ())
        .await
        .expect("snapshot");
    sender
        .send("deposit", deposit(&agency, 1))
        .await
        .expect("first deposit");
    let _: bool = deployer
        .raw_request("evm_revert".into(), (snapshot,))
        .await
        .expect("revert");
    // The chain forgot nonce 0's transaction; a cached nonce would now leave a gap forever.
    let sent = tokio::time::timeout(
        Duration::from_secs(20),
        sender.send("deposit", deposit(&agency, 2)),
    )
    .await
    .expect("mined without waiting on a gap")
    .expect("deposit");
    assert!(sent.receipt.status());
    assert_eq!(
        agency
            .account(sender.from())
            .await
            .expect("account")
            .balance,
        U256::from(2)
    );
}

#[tokio::test]
async fn a_stuck_transaction_is_resent_with_higher_fees() {
    let anvil = anvil();
    let (deployer, _) = provider(&anvil, 0);
    let address = Agency::deploy(deployer.clone())
        .await
        .expect("deploy")
        .address();
    let config = SendConfig {
        stuck_after: Duration::from_millis(300),
        max_bumps: 3,
        ..SendConfig::default()
    };
    let sender = sender(&anvil, 2, config);
    let agency = Agency::with_sender(address, sender.clone());

    let _: () = deployer
        .raw_request("evm_setAutomine".into(), (false,))
        .await
        .expect("automine off");
    let send = tokio::spawn({
        let (sender, tx) = (sender.clone(), deposit(&agency, 7));
        async move { sender.send("deposit", tx).await }
    });
    tokio::time::sleep(Duration::from_millis(800)).await; // at least one bump
    let _: String = deployer
        .raw_request("evm_mine".into(), ())
        .await
        .expect("mine");
    let sent = send.await.expect("task").expect("deposit");
    assert!(sent.bumps >= 1, "resent at least once, got {}", sent.bumps);
    let pool: serde_json::Value = deployer
        .raw_request("txpool_status".into(), ())
        .await
        .expect("txpool");
    assert_eq!(
        pool["pending"], "0x0",
        "the replaced copies left the pool: {pool}"
    );
    assert_eq!(
        agency
            .account(sender.from())
            .await
            .expect("account")
            .balance,
        U256::from(7),
        "paid once"
    );
}

#[tokio::test]
async fn a_receipt_that_never_comes_times_out_retryably() {
    let anvil = anvil();
    let (deployer, _) = provider(&anvil, 0);
    let address = Agency::deploy(deployer.clone())
        .await
        .expect("deploy")
        .address();
    let config = SendConfig {
        stuck_after: Duration::from_millis(100),
        max_bumps: 1,
        receipt_timeout: Duration::from_millis(400),
    };
    let sender = sender(&anvil, 2, config);
    let agency = Agency::with_sender(address, sender.clone());
    let _: () = deployer
        .raw_request("evm_setAutomine".into(), (false,))
        .await
        .expect("automine off");
    let err = sender
        .send("deposit", deposit(&agency, 1))
        .await
        .expect_err("nothing mines");
    assert!(
        matches!(
            err,
            ChainError::ReceiptTimeout {
                call: "deposit",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
}
