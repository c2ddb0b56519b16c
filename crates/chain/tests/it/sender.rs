//! The sender on anvil: concurrent sends from one key, a chain that rewinds, a stuck
//! transaction resent with higher fees, and a receipt that never comes.

use std::time::Duration;

use agency_chain::{Agency, ChainError, SendConfig, Sender};
use alloy::consensus::Transaction as _;
use alloy::node_bindings::AnvilInstance;
use alloy::primitives::{B256, U256};
use alloy::providers::{DynProvider, Provider};
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

/// anvil with JobAgency deployed by account 0, and a sender for account 2 with `config`.
async fn market(config: SendConfig) -> (AnvilInstance, DynProvider, Sender, Agency) {
    let anvil = anvil();
    let (deployer, _) = provider(&anvil, 0);
    let address = Agency::deploy(deployer.clone())
        .await
        .expect("deploy")
        .address();
    let sender = sender(&anvil, 2, config);
    let agency = Agency::with_sender(address, sender.clone());
    (anvil, deployer, sender, agency)
}

async fn set_automine(provider: &DynProvider, on: bool) {
    let _: () = provider
        .raw_request("evm_setAutomine".into(), (on,))
        .await
        .expect("evm_setAutomine");
}

/// The hash of the one transaction waiting in anvil's pool, if any.
async fn pooled(provider: &DynProvider) -> Option<String> {
    let pool: serde_json::Value = provider
        .raw_request("txpool_content".into(), ())
        .await
        .expect("txpool_content");
    let by_sender = pool["pending"].as_object()?.values().next()?.as_object()?;
    by_sender.values().next()?["hash"]
        .as_str()
        .map(str::to_owned)
}

/// Polls `probe` every 10 ms until it returns `Some`, failing the test after 20 s.
async fn until<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut probe: impl FnMut() -> F,
) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The sender's balance in the contract.
async fn balance(agency: &Agency, sender: &Sender) -> U256 {
    agency
        .account(sender.from())
        .await
        .expect("account")
        .balance
}

/// A raw `deposit` of `wei` to the contract, as the sender sends any transaction.
fn deposit(agency: &Agency, wei: u64) -> TransactionRequest {
    use alloy::network::TransactionBuilder as _;
    use alloy::sol_types::SolCall as _;
    TransactionRequest::default()
        .with_to(agency.address())
        .with_value(U256::from(wei))
        .with_input(agency_chain::bindings::JobAgency::depositCall {}.abi_encode())
}

#[tokio::test]
async fn concurrent_sends_from_one_key_get_consecutive_nonces() {
    let (_anvil, _, sender, agency) = market(SendConfig::default()).await;
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
    assert_eq!(
        balance(&agency, &sender).await,
        U256::from((1..=12u64).sum::<u64>())
    );
}

#[tokio::test]
async fn a_rewound_chain_leaves_no_nonce_gap() {
    let (_anvil, deployer, sender, agency) = market(SendConfig::default()).await;
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
    assert_eq!(balance(&agency, &sender).await, U256::from(2));
}

#[tokio::test]
async fn a_stuck_transaction_is_resent_with_higher_fees() {
    let config = SendConfig {
        stuck_after: Duration::from_millis(200),
        max_bumps: 3,
        ..SendConfig::default()
    };
    let (_anvil, deployer, sender, agency) = market(config).await;
    set_automine(&deployer, false).await;
    let send = tokio::spawn({
        let (sender, tx) = (sender.clone(), deposit(&agency, 7));
        async move { sender.send("deposit", tx).await }
    });
    // Wait for the first copy in the pool, then for its replacement; only then mine.
    let first = until("the first copy", || pooled(&deployer)).await;
    until("a replacement", || async {
        pooled(&deployer).await.filter(|h| *h != first)
    })
    .await;
    let _: String = deployer
        .raw_request("evm_mine".into(), ())
        .await
        .expect("mine");
    let sent = send.await.expect("task").expect("deposit");
    assert!(sent.bumps >= 1, "resent at least once, got {}", sent.bumps);
    let first: B256 = first.parse().expect("a transaction hash");
    assert_ne!(
        sent.receipt.transaction_hash, first,
        "a replacement was mined, not the first copy"
    );
    assert_eq!(
        pooled(&deployer).await,
        None,
        "the replaced copies left the pool"
    );
    assert_eq!(balance(&agency, &sender).await, U256::from(7), "paid once");
}

#[tokio::test]
async fn a_receipt_that_never_comes_times_out_retryably() {
    let config = SendConfig {
        stuck_after: Duration::from_millis(100),
        max_bumps: 1,
        receipt_timeout: Duration::from_millis(400),
    };
    let (_anvil, deployer, sender, agency) = market(config).await;
    set_automine(&deployer, false).await;
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

#[tokio::test]
async fn a_gas_limit_in_the_request_is_a_floor_over_the_estimate() {
    let (_anvil, _, sender, agency) = market(SendConfig::default()).await;
    // The first deposit writes a fresh balance word; the two compared update it.
    sender
        .send("deposit", deposit(&agency, 1))
        .await
        .expect("deposit");
    let plain = sender
        .send("deposit", deposit(&agency, 1))
        .await
        .expect("deposit");
    let floored = sender
        .send("deposit", deposit(&agency, 1).gas_limit(500_000))
        .await
        .expect("deposit");
    let gas_of = |hash| {
        let p = sender.provider().clone();
        async move {
            p.get_transaction_by_hash(hash)
                .await
                .expect("rpc")
                .expect("mined")
                .gas_limit()
        }
    };
    let estimated = gas_of(plain.receipt.transaction_hash).await;
    assert!(estimated < 100_000, "estimate plus a fifth: {estimated}");
    assert_eq!(gas_of(floored.receipt.transaction_hash).await, 500_000);
    assert_eq!(
        plain.receipt.gas_used, floored.receipt.gas_used,
        "the floor costs nothing unused"
    );
}

#[tokio::test]
async fn a_node_that_accepts_and_never_answers_fails_the_request_in_time() {
    // A half-open connection: the node takes the connection and the request, then hangs.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url: alloy::transports::http::reqwest::Url =
        format!("http://{}", listener.local_addr().unwrap())
            .parse()
            .unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            open.push(socket);
        }
    });
    let provider = alloy::providers::ProviderBuilder::new()
        .connect_reqwest(agency_chain::http_client(Duration::from_millis(500)), url)
        .erased();
    let start = std::time::Instant::now();
    let err = provider.get_chain_id().await.unwrap_err();
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(450) && waited < Duration::from_secs(5),
        "failed after {waited:?}: {err}"
    );
    assert!(format!("{err:?}").contains("TimedOut"), "{err:?}");
    held.abort();
}
