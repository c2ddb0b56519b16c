//! `agency deploy`: put JobAgency on a chain.

use agency_chain::Agency;
use alloy::network::EthereumWallet;
use alloy::providers::{Provider, ProviderBuilder};
use anyhow::{Context, Result};
use serde_json::json;

use crate::cmd::job::dev_notice;
use crate::connect::{Signer, connect};
use crate::opts::GlobalOpts;
use crate::output::Output;

/// Deploys the JobAgency contract this build was made with; prints its address.
pub(crate) async fn run(g: &GlobalOpts, out: Output) -> Result<()> {
    let conn = connect(&g.chain, Signer::OrDev, true).await?;
    dev_notice(&conn, out);
    // A provider with the usual fillers (nonce, gas): the connection's sender leaves nonces
    // to its own lock, which a contract creation does not go through.
    let key = conn.signer.clone().expect("connected with a signer");
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(key))
        .connect_reqwest(
            agency_chain::http_client(agency_chain::RPC_TIMEOUT),
            conn.url.clone(),
        )
        .erased();
    let agency = Agency::deploy(provider.clone())
        .await
        .context("deploying JobAgency")?;
    let address = agency.address();
    let block = provider.get_block_number().await?;
    if out.json {
        out.json(&json!({
            "address": address,
            "chain_id": conn.chain_id,
            "deployer": conn.account(),
            "block": block,
        }));
    } else {
        out.line(address);
        out.notice(format_args!(
            "deployed JobAgency at {address} on chain {} (block {block}); pass --agency {address} \
             or set AGENCY_AGENCY",
            conn.chain_id
        ));
    }
    Ok(())
}
