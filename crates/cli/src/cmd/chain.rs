//! `agency chain`: the embedded dev chain alone, as an Ethereum JSON-RPC node (an anvil that
//! ships with agency). `agency dev` runs the same chain inside the whole market.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use agency_devchain::{DEV_MNEMONIC, DevChain, DevConfig};
use alloy::primitives::U256;
use alloy::primitives::utils::parse_ether;
use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::opts::{ServeOpts, data_dir, ether};
use crate::output::Output;

/// Run the embedded EVM dev chain: JSON-RPC over HTTP and WebSocket, dev accounts funded.
///
/// Prints the endpoint and the dev accounts with their private keys (test keys from a public
/// mnemonic: never send real value to them), then serves until Ctrl-C. Blocks are journaled in
/// the data dir, so a restart carries on from the last block; `--ephemeral` keeps nothing.
/// Besides the eth_* methods wallets and clients use, it answers evm_mine, evm_increaseTime,
/// evm_setNextBlockTimestamp, evm_snapshot, evm_revert and evm_setAutomine.
#[derive(Debug, Args)]
pub(crate) struct ChainArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8545", value_name = "ADDR")]
    listen: SocketAddr,

    /// Where the chain journal lives [default: $AGENCY_DATA_DIR/chain].
    #[arg(long, value_name = "DIR", conflicts_with = "ephemeral")]
    data_dir: Option<PathBuf>,

    /// Keep the chain in memory only: it is gone when the command stops.
    #[arg(long)]
    ephemeral: bool,

    /// Mine pending transactions every SECONDS instead of one block per transaction.
    #[arg(long, value_name = "SECONDS", value_parser = parse_block_time)]
    block_time: Option<Duration>,

    /// EIP-155 chain id.
    #[arg(long, default_value_t = 31337)]
    chain_id: u64,

    /// Number of dev accounts.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    accounts: u32,

    /// Starting balance of each dev account, in ether.
    #[arg(long, default_value = "10000", value_name = "ETHER", value_parser = parse_balance)]
    balance: U256,

    /// BIP-39 phrase the dev accounts come from.
    #[arg(long, default_value = DEV_MNEMONIC, hide_default_value = true)]
    mnemonic: String,

    #[command(flatten)]
    serve: ServeOpts,
}

fn parse_block_time(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(0.001..=86_400.0).contains(&seconds) {
        return Err("the block time must be between 0.001 and 86400 seconds".to_owned());
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn parse_balance(text: &str) -> Result<U256, String> {
    parse_ether(text).map_err(|error| format!("{text:?} is not an amount of ether: {error}"))
}

pub(crate) async fn run(args: ChainArgs, out: Output, stop: &CancellationToken) -> Result<()> {
    let data_dir = if args.ephemeral {
        None
    } else {
        Some(args.data_dir.unwrap_or_else(|| data_dir().join("chain")))
    };
    let config = DevConfig {
        chain_id: args.chain_id,
        accounts: args.accounts,
        balance: args.balance,
        mnemonic: args.mnemonic,
        block_time: args.block_time,
        data_dir: data_dir.clone(),
        ..DevConfig::default()
    };
    if config.chain_id == 0 {
        bail!("the chain id must not be 0");
    }
    let chain = DevChain::open(config).context("cannot start the dev chain")?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    let url = format!("http://{address}");
    let ws = format!("ws://{address}");
    let accounts: Vec<_> = chain
        .accounts()
        .iter()
        .map(|account| {
            (
                account.address,
                format!("0x{}", alloy::hex::encode(account.signer.to_bytes())),
            )
        })
        .collect();
    if out.json {
        out.json(&json!({
            "url": url,
            "ws": ws,
            "chain_id": chain.chain_id(),
            "block": chain.block_number(),
            "data_dir": data_dir,
            "accounts": accounts
                .iter()
                .map(|(address, key)| json!({"address": address, "private_key": key}))
                .collect::<Vec<_>>(),
        }));
    } else {
        out.line(format_args!(
            "Dev accounts ({} ether each at genesis; test keys, never send real value to them)",
            ether(chain.initial_balance())
        ));
        for (index, (address, key)) in accounts.iter().enumerate() {
            out.line(format_args!("({index}) {address}  {key}"));
        }
        out.line("");
        out.line(format_args!("Chain id   {}", chain.chain_id()));
        out.line(format_args!("Block      {}", chain.block_number()));
        match &data_dir {
            Some(dir) => out.line(format_args!("Data dir   {}", dir.display())),
            None => out.line("Data dir   none (--ephemeral)"),
        }
        out.line(format_args!("JSON-RPC   {url}  (WebSocket: {ws})"));
        out.notice("serving the dev chain (Ctrl-C stops)");
    }
    let app = agency_devchain::server::router(chain);
    args.serve
        .serve(listener, app, stop)
        .await
        .context("JSON-RPC server failed")?;
    Ok(())
}
