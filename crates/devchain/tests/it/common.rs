//! Shared setup: chains, providers, servers.

use agency_devchain::{DevChain, DevConfig};
use alloy::network::EthereumWallet;
use alloy::primitives::Address;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::client::RpcClient;

/// A fixed genesis time, so runs are reproducible (2026-01-01T00:00:00Z).
pub(crate) const GENESIS: u64 = 1_767_225_600;

pub(crate) fn config() -> DevConfig {
    DevConfig {
        genesis_timestamp: Some(GENESIS),
        ..DevConfig::default()
    }
}

pub(crate) fn devchain() -> DevChain {
    DevChain::open(config()).expect("open a dev chain")
}

/// A provider over the in-process transport that signs as dev account `account`.
pub(crate) fn in_process(chain: &DevChain, account: usize) -> (DynProvider, Address) {
    let signer = chain.accounts()[account].signer.clone();
    let address = signer.address();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_client(RpcClient::new(chain.transport(), true))
        .erased();
    (provider, address)
}

/// Serves `chain` over HTTP and WebSocket on a free port; returns `http://127.0.0.1:port`.
pub(crate) async fn serve(chain: &DevChain) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(agency_devchain::server::serve(chain.clone(), listener));
    format!("http://{address}")
}

/// A provider over HTTP that signs as dev account `account`.
pub(crate) fn http(url: &str, chain: &DevChain, account: usize) -> (DynProvider, Address) {
    let signer = chain.accounts()[account].signer.clone();
    let address = signer.address();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url.parse().expect("url"))
        .erased();
    (provider, address)
}

/// Calls `method` through the chain's JSON-RPC dispatcher: `Ok(result)` or `Err(error object)`.
pub(crate) fn rpc(
    chain: &DevChain,
    method: &str,
    params: serde_json::Value,
) -> Result<serde_json::Value, serde_json::Value> {
    let request =
        serde_json::json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
    let answer = chain
        .handle_value(request)
        .expect("a request with an id is answered");
    assert_eq!(
        answer["id"], 7,
        "the answer carries the request's id: {answer}"
    );
    match answer.get("error") {
        Some(error) => Err(error.clone()),
        None => Ok(answer["result"].clone()),
    }
}

/// Signs an EIP-1559 transaction from `signer` with the given fields; returns its raw bytes.
pub(crate) fn signed(
    signer: &alloy::signers::local::PrivateKeySigner,
    tx: alloy::consensus::TxEip1559,
) -> alloy::primitives::Bytes {
    use alloy::consensus::{SignableTransaction, TxEnvelope};
    use alloy::eips::eip2718::Encodable2718;
    use alloy::network::TxSignerSync;
    let mut tx = tx;
    let signature = signer.sign_transaction_sync(&mut tx).expect("sign");
    TxEnvelope::from(tx.into_signed(signature))
        .encoded_2718()
        .into()
}

/// A plain transfer of `value` wei to `to` with sane fees on chain 31337.
pub(crate) fn transfer(nonce: u64, to: Address, value: u64) -> alloy::consensus::TxEip1559 {
    alloy::consensus::TxEip1559 {
        chain_id: 31337,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: alloy::primitives::TxKind::Call(to),
        value: alloy::primitives::U256::from(value),
        ..Default::default()
    }
}

/// Signs `tx` as `signer` and sends it with eth_sendRawTransaction.
pub(crate) fn send(
    chain: &DevChain,
    signer: &alloy::signers::local::PrivateKeySigner,
    tx: alloy::consensus::TxEip1559,
) -> Result<serde_json::Value, serde_json::Value> {
    rpc(
        chain,
        "eth_sendRawTransaction",
        serde_json::json!([signed(signer, tx)]),
    )
}
