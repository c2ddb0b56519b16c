//! What a dev chain starts from.

use std::path::PathBuf;
use std::time::Duration;

use alloy::primitives::U256;

/// The mnemonic anvil and hardhat use: every Ethereum developer's tools already know its keys.
/// Never send real value to them.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// How a dev chain is set up. [`DevConfig::default`] matches anvil's defaults (chain id 31337,
/// ten accounts with 10,000 ether each from [`DEV_MNEMONIC`], 30M gas blocks, 1 gwei initial
/// base fee, automine), so scripts written against one run against the other.
#[derive(Clone, Debug)]
pub struct DevConfig {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// How many dev accounts to derive (BIP-44 path `m/44'/60'/0'/0/i`).
    pub accounts: u32,
    /// Starting balance of each dev account, in wei.
    pub balance: U256,
    /// The BIP-39 phrase the dev accounts come from.
    pub mnemonic: String,
    /// `None` mines a block for every transaction as it arrives (automine); `Some(t)` mines
    /// whatever is pending every `t`, which needs a tokio runtime.
    pub block_time: Option<Duration>,
    /// Gas limit of every block.
    pub gas_limit: u64,
    /// Base fee of the genesis block, in wei; later blocks follow EIP-1559.
    pub base_fee: u64,
    /// Genesis timestamp (seconds); `None` takes the wall clock.
    pub genesis_timestamp: Option<u64>,
    /// Where blocks are journaled; `None` keeps the chain in memory only. A chain reopened from
    /// its directory replays its journal and carries on from the last block.
    pub data_dir: Option<PathBuf>,
}

impl Default for DevConfig {
    fn default() -> Self {
        Self {
            chain_id: 31337,
            accounts: 10,
            balance: U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18u64)),
            mnemonic: DEV_MNEMONIC.to_owned(),
            block_time: None,
            gas_limit: 30_000_000,
            base_fee: 1_000_000_000,
            genesis_timestamp: None,
            data_dir: None,
        }
    }
}
