//! Options shared by every subcommand.

use std::path::PathBuf;
use std::sync::Arc;

use agency_chain::KeySource;
use agency_primitives::Limits;
use agency_store::{BlockStore, FsStore, KuboStore};
use alloy::primitives::{Address, U256};
use anyhow::{Context, Result, bail};
use clap::{ArgAction, Args};

/// Global options (each also from an `AGENCY_*` environment variable).
#[derive(Debug, Args)]
#[command(next_help_heading = "Global Options")]
pub(crate) struct GlobalOpts {
    /// Print results as JSON on stdout (errors as JSON on stderr).
    #[arg(long, global = true, env = "AGENCY_JSON")]
    pub(crate) json: bool,

    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub(crate) verbose: u8,

    /// Only errors on stderr: no notices, no progress bars.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,

    #[command(flatten)]
    pub(crate) store: StoreOpts,

    #[command(flatten)]
    pub(crate) chain: ChainOpts,
}

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

/// Where `agency dev` deploys JobAgency: the first contract of dev account 0.
pub(crate) const DEV_AGENCY: Address =
    alloy::primitives::address!("5FbDB2315678afecb367f032d93F642f64180aa3");

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

/// Parses an amount: plain wei (`1000`), or a decimal with a unit: `0.01eth`, `0.01ether`,
/// `10gwei`, `5wei`.
pub(crate) fn parse_amount(text: &str) -> Result<U256, String> {
    let t = text.trim().to_ascii_lowercase();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (number, unit) = (t[..split].trim(), t[split..].trim());
    let decimals = match unit {
        "" | "wei" => 0,
        "gwei" => 9,
        "eth" | "ether" => 18,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (use wei, gwei or eth, e.g. 0.01eth)"
            ));
        }
    };
    let fraction = number.split_once('.').map_or(0, |(_, f)| f.len());
    if number.is_empty() || fraction > usize::from(decimals) {
        return Err(format!(
            "{text:?} is not an amount (e.g. 0.01eth, 10gwei, 1000; wei are whole)"
        ));
    }
    alloy::primitives::utils::parse_units(number, decimals)
        .ok()
        .map(|v| v.get_absolute())
        .filter(|_| !number.starts_with('-'))
        .ok_or_else(|| format!("{text:?} is not an amount (e.g. 0.01eth, 10gwei, 1000)"))
}

/// Ether without trailing zeros: 10000, 0.5.
pub(crate) fn ether(wei: U256) -> String {
    let text = alloy::primitives::utils::format_ether(wei);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// An amount for people: `0.01 ETH`, or wei below a gwei.
pub(crate) fn eth(wei: U256) -> String {
    if wei < U256::from(1_000_000_000u64) && !wei.is_zero() {
        format!("{wei} wei")
    } else {
        format!("{} ETH", ether(wei))
    }
}

/// A job's deterministic limits (`agency run`, `agency job post`).
#[derive(Debug, Args)]
pub(crate) struct LimitOpts {
    /// Fuel: CPU budget in QuickJS interrupt checks (about 17,000 per second of busy loop here).
    #[arg(long, default_value_t = Limits::default().fuel, value_name = "N")]
    fuel: u64,
    /// Memory the JavaScript heap may allocate, in bytes.
    #[arg(long, default_value_t = Limits::default().memory, value_name = "BYTES")]
    memory: u64,
    /// Native stack the engine may use, in bytes.
    #[arg(long, default_value_t = Limits::default().stack, value_name = "BYTES")]
    stack: u64,
    /// Largest envelope (logs included), in bytes.
    #[arg(long, default_value_t = Limits::default().output, value_name = "BYTES")]
    output_limit: u64,
}

impl LimitOpts {
    pub(crate) fn limits(&self) -> Limits {
        Limits {
            fuel: self.fuel,
            memory: self.memory,
            stack: self.stack,
            output: self.output_limit,
        }
    }
}

/// Where Chromium is, for the browser runtime.
#[derive(Debug, Args)]
pub(crate) struct ChromiumOpt {
    /// Chromium executable for the browser runtime.
    #[arg(
        long,
        env = "AGENCY_CHROMIUM",
        default_value = "/usr/bin/chromium",
        value_name = "PATH"
    )]
    pub(crate) chromium: PathBuf,
}

/// Which content store to use.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global Options")]
pub(crate) struct StoreOpts {
    /// Directory of the embedded block store [default: $AGENCY_DATA_DIR/store, where the data dir
    /// defaults to $XDG_DATA_HOME/agency or ~/.local/share/agency].
    #[arg(long, global = true, env = "AGENCY_STORE", value_name = "DIR")]
    pub(crate) store: Option<PathBuf>,

    /// Use a Kubo node's RPC API instead of the embedded store (e.g. http://127.0.0.1:5001).
    #[arg(
        long,
        global = true,
        env = "AGENCY_IPFS_API",
        value_name = "URL",
        conflicts_with = "store"
    )]
    pub(crate) ipfs_api: Option<String>,
}

impl StoreOpts {
    /// Opens the configured store: a Kubo node's RPC API, or the embedded one.
    pub(crate) fn open(&self) -> Result<Arc<dyn BlockStore>> {
        Ok(match &self.ipfs_api {
            Some(url) => Arc::new(KuboStore::new(url)?),
            None => Arc::new(FsStore::open(self.store_dir())?),
        })
    }

    /// The store's HTTP API (Kubo RPC subset and gateway) over `store`, which these options
    /// opened; its peer identity is derived from where the store is.
    pub(crate) fn http_router(&self, store: Arc<dyn BlockStore>) -> axum::Router {
        let identity = match &self.ipfs_api {
            Some(url) => url.clone(),
            None => self.store_dir().display().to_string(),
        };
        agency_store::server::router(
            store,
            agency_store::server::ServerConfig {
                identity_seed: identity,
                ..Default::default()
            },
        )
    }

    /// Returns the embedded store's directory.
    pub(crate) fn store_dir(&self) -> PathBuf {
        self.store
            .clone()
            .unwrap_or_else(|| data_dir().join("store"))
    }
}

/// Returns Agency's data directory: $AGENCY_DATA_DIR, else $XDG_DATA_HOME/agency, else
/// ~/.local/share/agency.
pub(crate) fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("AGENCY_DATA_DIR") {
        return dir.into();
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("agency");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/agency")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_take_units_and_refuse_nonsense() {
        let wei = |v: u128| U256::from(v);
        assert_eq!(parse_amount("1000"), Ok(wei(1000)));
        assert_eq!(parse_amount("5wei"), Ok(wei(5)));
        assert_eq!(parse_amount("10gwei"), Ok(wei(10_000_000_000)));
        assert_eq!(parse_amount("0.01eth"), Ok(wei(10_000_000_000_000_000)));
        assert_eq!(parse_amount("1 ETHER"), Ok(wei(1_000_000_000_000_000_000)));
        for bad in ["", "eth", "1.5", "0.1wei", "-1", "1btc", "1e18", "0x10"] {
            assert!(parse_amount(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
