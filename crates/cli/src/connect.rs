//! Reaching the chain and the contract. Every command that talks to JobAgency starts here, so
//! an unreachable node, the wrong chain or a missing contract fail the same way, within seconds,
//! before anything is signed.

use std::time::Duration;

use agency_chain::{Agency, Deployed, SendConfig};
use agency_devchain::{DEV_MNEMONIC, dev_accounts};
use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use alloy::transports::http::reqwest::Url;
use anyhow::{Context, Result, bail};

use crate::opts::ChainOpts;
use crate::output::Output;

/// The chain id of development chains (`agency dev`, anvil, hardhat).
pub(crate) const DEV_CHAIN_ID: u64 = 31337;

/// How long the node has to answer the first request.
const REACH_TIMEOUT: Duration = Duration::from_secs(10);

/// Which account a command acts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signer {
    /// None: the command only reads.
    None,
    /// The account of `--private-key`/`--keystore`; an error without one.
    Required,
    /// That account, or on a dev chain (id 31337) dev account 0, the requester `agency dev`
    /// sets aside for its user.
    OrDev,
}

/// A checked connection to JobAgency.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) url: Url,
    pub(crate) chain_id: u64,
    /// The contract, sending as `account` when there is one.
    pub(crate) agency: Agency,
    /// The key transactions are signed with.
    pub(crate) signer: Option<PrivateKeySigner>,
    /// Whether `signer` is dev account 0, picked because no key was given.
    pub(crate) dev_key: bool,
}

impl Connection {
    /// The account, for commands that cannot go on without one.
    pub(crate) fn account(&self) -> Address {
        self.signer
            .as_ref()
            .expect("connected with a signer")
            .address()
    }

    /// Tells the user which account acts when none was given (dev account 0 on a dev chain).
    pub(crate) fn announce(&self, out: Output) {
        if self.dev_key {
            out.notice(format_args!(
                "acting as dev account 0 ({}): no key given, and this is a dev chain",
                self.account()
            ));
        }
    }
}

/// Connects to the node, checks the chain id (`--chain`) and, unless `deploying`, that the
/// contract has code; loads the account `signer` asks for.
pub(crate) async fn connect(
    opts: &ChainOpts,
    signer: Signer,
    deploying: bool,
) -> Result<Connection> {
    let url = opts.url()?;
    // A key given is loaded first: a bad one fails without touching the network.
    let given = match signer {
        Signer::Required => Some(opts.key()?.load()?),
        Signer::OrDev if opts.has_key() => Some(opts.key()?.load()?),
        _ => None,
    };
    let address = opts.agency();
    let reader = Agency::http(url.clone(), address);
    let chain_id = reach(&reader, &url).await?;
    if let Some(expected) = opts.expect_chain
        && expected != chain_id
    {
        bail!("wrong chain: the node at {url} is chain {chain_id}, not {expected} (--chain)");
    }
    if !deploying {
        match reader
            .deployed()
            .await
            .with_context(|| format!("reading the code at {address}"))?
        {
            Deployed::Ours => {}
            Deployed::Nothing => bail!(
                "no contract at {address} on chain {chain_id} ({url}): pass --agency, or start \
                 `agency dev`"
            ),
            Deployed::Other { code_hash } => bail!(
                "the contract at {address} on chain {chain_id} ({url}) is not the JobAgency this \
                 release speaks (protocol v{}; its code hash is {code_hash}, this release's {}): \
                 deploy this release's contract with `agency deploy` and pass its address with \
                 --agency, or restart `agency dev` on a fresh --data-dir",
                agency_chain::protocol::VERSION,
                Deployed::expected_code_hash()
            ),
        }
    }
    let (key, dev_key) = match (signer, given) {
        (Signer::None, _) => (None, false),
        (_, Some(key)) => (Some(key), false),
        (_, None) if chain_id == DEV_CHAIN_ID => (Some(dev_key(0)?), true),
        (_, None) => (Some(opts.key()?.load()?), false), // the error: no account
    };
    let agency = match &key {
        None => reader,
        Some(key) => Agency::http_signer(url.clone(), address, key.clone(), SendConfig::default()),
    };
    Ok(Connection {
        url,
        chain_id,
        agency,
        signer: key,
        dev_key,
    })
}

/// Asks the node for its chain id, within [`REACH_TIMEOUT`].
pub(crate) async fn reach(agency: &Agency, url: &Url) -> Result<u64> {
    tokio::time::timeout(REACH_TIMEOUT, agency.chain_id())
        .await
        .map_err(|_| anyhow::anyhow!("{url} did not answer within {REACH_TIMEOUT:?}"))?
        .with_context(|| format!("cannot reach the JSON-RPC endpoint {url}"))
}

/// Dev account `index` of the public test mnemonic.
pub(crate) fn dev_key(index: u32) -> Result<PrivateKeySigner> {
    let mut accounts = dev_accounts(DEV_MNEMONIC, index + 1).context("deriving a dev account")?;
    Ok(accounts.remove(index as usize).signer)
}
