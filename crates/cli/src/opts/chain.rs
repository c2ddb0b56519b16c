//! Which chain, contract and account a command uses.

use std::path::PathBuf;

use agency_chain::KeySource;
use alloy::primitives::Address;
use anyhow::{Context, Result, bail};
use clap::Args;

use agency_devstack::DEV_AGENCY;

/// Which chain, contract and account to use.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global Options")]
pub(crate) struct ChainOpts {
    /// Ethereum JSON-RPC endpoint (the dev chain, anvil, geth, an L2).
    #[arg(
        long,
        global = true,
        env = "AGENCY_RPC_URL",
        default_value = "http://127.0.0.1:8545",
        value_name = "URL"
    )]
    pub(crate) rpc_url: String,

    /// Address of the JobAgency contract [default: where `agency dev` deploys it].
    #[arg(long, global = true, env = "AGENCY_AGENCY", value_name = "ADDRESS")]
    pub(crate) agency: Option<Address>,

    /// Hex private key of the account to act as. Prefer the environment variable for real keys:
    /// command lines are visible to other users of the machine.
    #[arg(
        long,
        global = true,
        env = "AGENCY_PRIVATE_KEY",
        hide_env_values = true,
        value_name = "HEX"
    )]
    pub(crate) private_key: Option<String>,

    /// Encrypted JSON keystore of the account (password from $AGENCY_KEYSTORE_PASSWORD).
    #[arg(
        long,
        global = true,
        env = "AGENCY_KEYSTORE",
        value_name = "FILE",
        conflicts_with = "private_key"
    )]
    pub(crate) keystore: Option<PathBuf>,

    /// Refuse to act unless the node's chain id is this (guards scripts against the wrong
    /// network).
    #[arg(long = "chain", global = true, env = "AGENCY_CHAIN", value_name = "ID")]
    pub(crate) expect_chain: Option<u64>,
}

impl ChainOpts {
    /// The contract's address.
    pub(crate) fn agency(&self) -> Address {
        self.agency.unwrap_or(DEV_AGENCY)
    }

    /// Whether an account was given (`--private-key` or `--keystore`).
    pub(crate) fn has_key(&self) -> bool {
        self.private_key.is_some() || self.keystore.is_some()
    }

    /// The account's key, from `--private-key` or `--keystore`.
    pub(crate) fn key(&self) -> Result<KeySource> {
        match (&self.private_key, &self.keystore) {
            (Some(hex), _) => Ok(KeySource::PrivateKey(hex.clone())),
            (None, Some(path)) => {
                let password = std::env::var("AGENCY_KEYSTORE_PASSWORD")
                    .context("--keystore needs its password in $AGENCY_KEYSTORE_PASSWORD")?;
                Ok(KeySource::Keystore {
                    path: path.clone(),
                    password,
                })
            }
            (None, None) => bail!(
                "no account: set AGENCY_PRIVATE_KEY (or pass --private-key), or pass --keystore"
            ),
        }
    }

    /// The RPC endpoint as a URL.
    pub(crate) fn url(&self) -> Result<alloy::transports::http::reqwest::Url> {
        let url: alloy::transports::http::reqwest::Url = self
            .rpc_url
            .parse()
            .with_context(|| format!("--rpc-url {:?} is not a URL", self.rpc_url))?;
        match url.scheme() {
            "http" | "https" => Ok(url),
            other => bail!("--rpc-url {url}: unsupported scheme {other:?} (use http or https)"),
        }
    }
}
