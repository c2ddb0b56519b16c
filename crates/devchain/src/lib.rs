//! An embedded EVM dev chain: revm for execution, an Ethereum JSON-RPC API in front of it.
//!
//! [`DevChain::open`] starts a chain at genesis (or replays its journal from a data dir); dev
//! accounts come from a fixed mnemonic, funded at genesis. Every transaction is mined in its own
//! block as it arrives (automine), or pending transactions are mined every block time. The
//! JSON-RPC API ([`DevChain::handle`]) covers what alloy, viem, cast and wallets use, plus the
//! `evm_*` test methods; it is served over HTTP and WebSocket by [`server`] (feature `server`)
//! and in-process by [`InProcess`], an alloy transport that skips the network.
//!
//! What it does not do: keep historical state (calls and state queries run against the latest
//! block; an older block number is refused), compute state roots (every header carries the
//! empty root, as anvil's do), take blob transactions, or queue transactions with nonce gaps
//! (refused with "nonce too high").

mod chain;
mod config;
mod error;
mod filters;
mod journal;
mod rpc;
#[cfg(feature = "server")]
pub mod server;
mod transport;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use alloy::primitives::{Address, U256};
use alloy::signers::local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English};
use tokio::sync::broadcast;

use crate::chain::{Chain, MinedBlock, wall_clock};
use crate::journal::{BlockRecord, Journal};

pub use config::{DEV_MNEMONIC, DevConfig};
pub use error::{OpenError, RpcError, TxError};
pub use filters::MAX_FILTERS;
pub use rpc::{MAX_BATCH, MAX_BODY};
pub use transport::InProcess;

/// A dev account: its address and its key (printed at start, as anvil does; test keys only).
#[derive(Clone, Debug)]
pub struct DevAccount {
    pub address: Address,
    pub signer: PrivateKeySigner,
}

/// A running dev chain. Cheap to clone; all clones are the same chain.
#[derive(Clone, Debug)]
pub struct DevChain {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    locked: Mutex<Locked>,
    accounts: Vec<DevAccount>,
    balance: U256,
    blocks: broadcast::Sender<BlockEvent>,
    filters: Mutex<filters::Filters>,
    data_dir: Option<PathBuf>,
}

#[derive(Debug)]
struct Locked {
    chain: Chain,
    journal: Option<Journal>,
}

impl DevChain {
    /// Starts a chain from `config`. With a data dir that holds a journal, replays it and
    /// carries on from its last block. With a block time, spawns the miner on the current tokio
    /// runtime (it stops when the last clone of the chain is dropped).
    /// A set genesis timestamp also sets the clock: time runs on from it, as in anvil.
    pub fn open(config: DevConfig) -> Result<Self, OpenError> {
        let accounts = dev_accounts(&config.mnemonic, config.accounts)?;
        let alloc: Vec<(Address, U256)> = accounts
            .iter()
            .map(|account| (account.address, config.balance))
            .collect();
        let timestamp = config.genesis_timestamp.unwrap_or_else(wall_clock);
        let genesis = Journal::genesis(
            config.chain_id,
            config.gas_limit,
            config.base_fee,
            timestamp,
            alloc,
        );
        let (chain, journal) = match &config.data_dir {
            None => (start(&genesis), None),
            Some(dir) => {
                let (journal, loaded) = Journal::open(dir, genesis)?;
                let mut chain = start(&loaded.genesis);
                if !loaded.blocks.is_empty() {
                    chain.time_offset = 0; // the last block's record sets it
                }
                for record in loaded.blocks {
                    replay(&mut chain, record, journal.path())?;
                }
                (chain, Some(journal))
            }
        };
        let mut chain = chain;
        chain.automine = config.block_time.is_none();
        let (blocks, _) = broadcast::channel(1024);
        let inner = Arc::new(Inner {
            locked: Mutex::new(Locked { chain, journal }),
            accounts,
            balance: config.balance,
            blocks,
            filters: Mutex::new(filters::Filters::default()),
            data_dir: config.data_dir.clone(),
        });
        if let Some(block_time) = config.block_time {
            let handle = tokio::runtime::Handle::try_current().map_err(|_| OpenError::NoRuntime)?;
            handle.spawn(mine_every(Arc::downgrade(&inner), block_time));
        }
        Ok(Self { inner })
    }

    /// The dev accounts, funded at genesis.
    pub fn accounts(&self) -> &[DevAccount] {
        &self.inner.accounts
    }

    /// Each dev account's starting balance, in wei.
    pub fn initial_balance(&self) -> U256 {
        self.inner.balance
    }

    pub fn chain_id(&self) -> u64 {
        self.lock().chain.chain_id
    }

    /// The number of the latest block.
    pub fn block_number(&self) -> u64 {
        self.lock().chain.height()
    }

    /// Where the journal lives, if the chain persists.
    pub fn data_dir(&self) -> Option<&std::path::Path> {
        self.inner.data_dir.as_deref()
    }

    /// An alloy transport that calls this chain directly, without HTTP.
    pub fn transport(&self) -> InProcess {
        InProcess::new(self.clone())
    }

    fn lock(&self) -> MutexGuard<'_, Locked> {
        // A panic while holding the lock cannot leave the chain half-updated in a way a later
        // request could observe worse than the panic itself; keep serving.
        self.inner
            .locked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Subscribes to blocks as they are mined and dropped.
    #[cfg(feature = "server")]
    fn subscribe(&self) -> broadcast::Receiver<BlockEvent> {
        self.inner.blocks.subscribe()
    }
}

impl Locked {
    /// Mines a block from the pool and records it; transactions the EVM refuses are dropped
    /// with a warning.
    fn mine(&mut self, blocks: &broadcast::Sender<BlockEvent>) {
        let (block, rejected) = self.chain.mine();
        for (hash, error) in rejected {
            tracing::warn!(%hash, %error, "dropped a pending transaction");
        }
        self.mined(&block, blocks);
    }

    /// Records a newly mined block: the journal, then the subscribers.
    fn mined(&mut self, block: &Arc<MinedBlock>, blocks: &broadcast::Sender<BlockEvent>) {
        if let Some(journal) = &mut self.journal {
            let record = BlockRecord::of(block, self.chain.time_offset);
            if let Err(error) = journal.append(&record) {
                tracing::error!(
                    path = %journal.path().display(),
                    %error,
                    "cannot write the chain journal; the chain keeps running in memory only"
                );
                self.journal = None;
            }
        }
        let _ = blocks.send(BlockEvent::Mined(block.clone()));
    }
}

/// What subscribers (the WebSocket server) hear about.
#[derive(Debug, Clone)]
#[cfg_attr(
    not(feature = "server"),
    expect(dead_code, reason = "only the server subscribes")
)]
enum BlockEvent {
    Mined(Arc<MinedBlock>),
    /// A block `evm_revert` took off the chain: its logs are reported again, `removed: true`.
    Dropped(Arc<MinedBlock>),
}

/// The first `count` accounts of `mnemonic` (BIP-44, `m/44'/60'/0'/0/i`), as the dev chain funds
/// them: clients of a dev chain use it to act as a dev account without asking the node.
pub fn dev_accounts(mnemonic: &str, count: u32) -> Result<Vec<DevAccount>, OpenError> {
    (0..count)
        .map(|index| {
            let signer = MnemonicBuilder::<English>::default()
                .phrase(mnemonic)
                .index(index)
                .and_then(|builder| builder.build())
                .map_err(|error| OpenError::Mnemonic(error.to_string()))?;
            Ok(DevAccount {
                address: signer.address(),
                signer,
            })
        })
        .collect()
}

fn start(genesis: &journal::Genesis) -> Chain {
    let mut chain = Chain::genesis(
        genesis.chain_id,
        genesis.gas_limit,
        genesis.base_fee,
        genesis.timestamp,
        &genesis.alloc,
    );
    chain.time_offset = i64::try_from(genesis.timestamp).unwrap_or(i64::MAX)
        - i64::try_from(wall_clock()).unwrap_or(i64::MAX);
    chain
}

/// Re-executes one journaled block and checks it comes out the same.
fn replay(chain: &mut Chain, record: BlockRecord, path: &std::path::Path) -> Result<(), OpenError> {
    let diverged = || OpenError::Diverged {
        path: path.to_owned(),
        number: record.number,
    };
    let mut txs = Vec::with_capacity(record.txs.len());
    for raw in &record.txs {
        txs.push(chain::decode_raw(raw).map_err(|_| diverged())?);
    }
    let (block, rejected) = chain.build_block(txs, record.timestamp, true);
    match block {
        Some(block) if rejected.is_empty() && block.hash == record.hash => {
            chain.time_offset = record.time_offset;
            Ok(())
        }
        _ => Err(diverged()),
    }
}

async fn mine_every(inner: Weak<Inner>, block_time: std::time::Duration) {
    let mut interval = tokio::time::interval(block_time);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        interval.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        let chain = DevChain { inner };
        let mut locked = chain.lock();
        if !locked.chain.automine {
            locked.mine(&chain.inner.blocks);
        }
    }
}
