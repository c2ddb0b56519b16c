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
