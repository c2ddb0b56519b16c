//! `cargo bench -p agency-devchain --bench tps`: signed, storage-writing contract calls per
//! second into the dev chain (in-process transport and JSON-RPC over HTTP) and into anvil on the
//! same machine.
//!
//! Every transaction is an EIP-1559 call to a 6-byte contract that stores its calldata word in
//! the caller's slot (a warm-account, cold-slot SSTORE that changes a non-zero value: 26,7xx
//! gas). Transactions are signed before the clock starts (signing is timed on its own); each is
//! sent with eth_sendRawTransaction and mined in its own block (automine, as anvil); the clock
//! stops when each sender's last transaction has a receipt. After each run every receipt is
//! fetched and must have status 1. HTTP runs send from 10 accounts at once (one connection
//! each) or from one; the in-process run sends from one task.
//!
//! `BENCH_TXS` (default 20000) sets the transactions per run; `BENCH_ANVIL_TXS` (default 2000)
//! the count for anvil, which is slower.
#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "a benchmark binary"
)]

use std::time::Instant;

use agency_devchain::{DevChain, DevConfig};
use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::primitives::{B256, Bytes, TxKind, U256};
use alloy::rpc::client::RpcClient;
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;

/// Init code returning the runtime `PUSH1 4 CALLDATALOAD CALLER SSTORE STOP`.
const INIT: &str = "6006600c60003960066000f3600435335500";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

fn count(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run() {
    let txs = count("BENCH_TXS", 20_000);
    let anvil_txs = count("BENCH_ANVIL_TXS", 2_000);
    let chain = DevChain::open(DevConfig::default()).unwrap();
    let keys: Vec<PrivateKeySigner> = chain.accounts().iter().map(|a| a.signer.clone()).collect();

    let started = Instant::now();
    let batches = sign_all(&keys, txs, 1);
    let rate = txs as f64 / started.elapsed().as_secs_f64();
    println!("| signing (k256, one core) | {txs} | {rate:.0} |");

    let client = RpcClient::new(chain.transport(), true);
    let rate = in_process(&client, &keys[0], &batches, txs).await;
    println!("| dev chain, in-process transport, in memory | {txs} | {rate:.0} |");

    let dir = tempfile::tempdir().unwrap();
    let persisted = DevChain::open(DevConfig {
        data_dir: Some(dir.path().to_owned()),
        ..DevConfig::default()
    })
    .unwrap();
    let client = RpcClient::new(persisted.transport(), true);
    let rate = in_process(&client, &keys[0], &batches, txs).await;
    println!("| dev chain, in-process transport, journaled to disk | {txs} | {rate:.0} |");
    // Reopening replays the journal: every block re-executed and its hash checked.
    let height = persisted.block_number();
    drop((client, persisted));
    let started = Instant::now();
    let reopened = DevChain::open(DevConfig {
        data_dir: Some(dir.path().to_owned()),
        ..DevConfig::default()
    })
    .unwrap();
    let rate = height as f64 / started.elapsed().as_secs_f64();
    assert_eq!(reopened.block_number(), height);
    println!(
        "| dev chain, reopening: journal replayed (blocks of one transaction) | {height} | {rate:.0} |"
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = DevChain::open(DevConfig::default()).unwrap();
    tokio::spawn(agency_devchain::server::serve(served, listener));
    let rate = over_http(&url, &keys[0], &batches, txs, 10).await;
    println!("| dev chain, JSON-RPC over HTTP, 10 senders | {txs} | {rate:.0} |");

    // One sender, like for like with anvil below.
    let single = sign_all(&keys[..1], anvil_txs, 1);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = DevChain::open(DevConfig::default()).unwrap();
    tokio::spawn(agency_devchain::server::serve(served, listener));
    let rate = over_http(&url, &keys[0], &single, anvil_txs, 1).await;
    println!("| dev chain, JSON-RPC over HTTP, 1 sender | {anvil_txs} | {rate:.0} |");

    // Anvil gets one sender: with several at once its automine leaves transactions behind
    // (foundry-rs/foundry#10122), and this benchmark saw it stall and lose one.
    let anvil = agency_chain::testing::anvil().spawn();
    let rate = over_http(anvil.endpoint().as_str(), &keys[0], &single, anvil_txs, 1).await;
    println!("| anvil 1.7.1, JSON-RPC over HTTP, 1 sender | {anvil_txs} | {rate:.0} |");
}

/// Per account, its signed calls (nonces from `first_nonce`), to the contract account 0 deploys
/// with nonce 0.
fn sign_all(keys: &[PrivateKeySigner], total: usize, first_nonce: u64) -> Vec<Vec<Bytes>> {
    let target = keys[0].address().create(0);
    let per_account = total.div_ceil(keys.len());
    keys.iter()
        .map(|key| {
            (0..per_account as u64)
                .map(|i| {
                    let nonce = if key.address() == keys[0].address() {
                        first_nonce + i
                    } else {
                        i
                    };
                    let mut input = vec![0u8; 4];
                    input.extend_from_slice(&U256::from(i + 1).to_be_bytes::<32>());
                    sign(key, nonce, TxKind::Call(target), input, 60_000)
                })
                .collect()
        })
        .collect()
}

fn sign(key: &PrivateKeySigner, nonce: u64, to: TxKind, input: Vec<u8>, gas: u64) -> Bytes {
    let mut tx = TxEip1559 {
        chain_id: 31337,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value: U256::ZERO,
        input: input.into(),
        access_list: Default::default(),
    };
    let signature = key.sign_transaction_sync(&mut tx).unwrap();
    TxEnvelope::from(tx.into_signed(signature))
        .encoded_2718()
        .into()
}

async fn deploy(client: &RpcClient, key: &PrivateKeySigner) {
    let raw = sign(
        key,
        0,
        TxKind::Create,
        alloy::primitives::hex::decode(INIT).unwrap(),
        100_000,
    );
    let hash: B256 = client
        .request("eth_sendRawTransaction", (raw,))
        .await
        .unwrap();
    check(client, &[hash]).await;
}

/// Every receipt is there (anvil may take a moment to mine the last ones) and succeeded.
async fn check(client: &RpcClient, hashes: &[B256]) {
    for hash in hashes {
        let mut waited = 0;
        let receipt = loop {
            let receipt: Option<TransactionReceipt> = client
                .request("eth_getTransactionReceipt", (hash,))
                .await
                .unwrap();
            match receipt {
                Some(receipt) => break receipt,
                None if waited < 1200 => {
                    waited += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                None => {
                    let tx: serde_json::Value = client
                        .request("eth_getTransactionByHash", (hash,))
                        .await
                        .unwrap();
                    let pool: serde_json::Value =
                        client.request_noparams("txpool_status").await.unwrap();
                    panic!("transaction {hash} was never mined: {tx}, pool {pool}")
                }
            }
        };
        assert!(receipt.status(), "transaction {hash} failed");
    }
}

async fn in_process(
    client: &RpcClient,
    deployer: &PrivateKeySigner,
    batches: &[Vec<Bytes>],
    txs: usize,
) -> f64 {
    deploy(client, deployer).await;
    let all: Vec<&Bytes> = interleave(batches).into_iter().take(txs).collect();
    let mut hashes = Vec::with_capacity(all.len());
    let started = Instant::now();
    for raw in &all {
        hashes.push(
            client
                .request::<_, B256>("eth_sendRawTransaction", (*raw,))
                .await
                .unwrap(),
        );
    }
    check(client, &hashes[hashes.len() - 1..]).await;
    let elapsed = started.elapsed();
    check(client, &hashes).await;
    all.len() as f64 / elapsed.as_secs_f64()
}

async fn over_http(
    url: &str,
    deployer: &PrivateKeySigner,
    batches: &[Vec<Bytes>],
    txs: usize,
    senders: usize,
) -> f64 {
    let url: alloy::transports::http::reqwest::Url = url.parse().unwrap();
    deploy(&RpcClient::new_http(url.clone()), deployer).await;
    let batches = &batches[..senders];
    let per_account = txs.div_ceil(batches.len());
    let started = Instant::now();
    let tasks: Vec<_> = batches
        .iter()
        .map(|batch| {
            let batch: Vec<Bytes> = batch.iter().take(per_account).cloned().collect();
            let client = RpcClient::new_http(url.clone());
            tokio::spawn(async move {
                let mut hashes = Vec::with_capacity(batch.len());
                for raw in batch {
                    hashes.push(
                        client
                            .request::<_, B256>("eth_sendRawTransaction", (raw,))
                            .await
                            .unwrap(),
                    );
                }
                hashes
            })
        })
        .collect();
    let mut hashes = Vec::new();
    let mut lasts = Vec::new();
    for task in tasks {
        let sent = task.await.unwrap();
        lasts.extend(sent.last().copied());
        hashes.extend(sent);
    }
    // The clock stops when every sender's last transaction is mined (anvil answers a send
    // before mining it; the dev chain after). Anvil's automine can leave ready transactions in
    // its pool under concurrent sends (foundry-rs/foundry#10122); when the pool stops draining,
    // an evm_mine flushes it, and the number of flushes is printed.
    let checker = RpcClient::new_http(url);
    let mut flushes = 0;
    loop {
        let mut mined = 0;
        for hash in &lasts {
            let receipt: Option<serde_json::Value> = checker
                .request("eth_getTransactionReceipt", (hash,))
                .await
                .unwrap();
            mined += usize::from(receipt.is_some());
        }
        if mined == lasts.len() {
            break;
        }
        let pool: serde_json::Value = checker
            .request_noparams("txpool_status")
            .await
            .unwrap_or_default();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let later: serde_json::Value = checker
            .request_noparams("txpool_status")
            .await
            .unwrap_or_default();
        if pool == later && pool["pending"] != "0x0" {
            let _: serde_json::Value = checker.request_noparams("evm_mine").await.unwrap();
            flushes += 1;
        }
        assert!(flushes < 100, "the node stopped mining: pool {later}");
    }
    let elapsed = started.elapsed();
    if flushes > 0 {
        println!("(the pool stalled; {flushes} evm_mine flushes)");
    }
    check(&checker, &hashes).await;
    hashes.len() as f64 / elapsed.as_secs_f64()
}

/// Round-robin over the accounts, so each account's nonces stay in order.
fn interleave(batches: &[Vec<Bytes>]) -> Vec<&Bytes> {
    let longest = batches.iter().map(Vec::len).max().unwrap_or(0);
    (0..longest)
        .flat_map(|i| batches.iter().filter_map(move |batch| batch.get(i)))
        .collect()
}
