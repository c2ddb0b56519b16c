//! `agency deploy`: put JobAgency on a chain.

use agency_chain::{Agency, SendConfig};
use anyhow::{Context, Result};
use serde_json::json;

use crate::connect::{Signer, connect};
use crate::opts::GlobalOpts;
use crate::output::Output;

/// Deploys the JobAgency contract this build was made with; prints its address.
pub(crate) async fn run(g: &GlobalOpts, out: Output) -> Result<()> {
    let conn = connect(&g.chain, Signer::OrDev, true).await?;
    conn.announce(out);
    let key = conn.signer.clone().expect("connected with a signer");
    let agency = Agency::deploy_http(conn.url.clone(), key, SendConfig::default())
        .await
        .context("deploying JobAgency")?;
    let address = agency.address();
    let block = agency.block_number().await?;
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
