//! The whole market in one process: the dev chain (or anvil) with JobAgency deployed, a content
//! store, staked agents, a requester, and optionally the servers in front of them. `agency dev`,
//! `agency bench` and the agent's tests all build their market here, so there is one way to set
//! one up (after Bacalhau's `pkg/devstack`, anvil's `NodeConfig::test()` and reth's
//! `e2e-test-utils`).
//!
//! [`DevStackConfig::test`] is the preset tests start from (memory chain and store, in-process
//! QuickJS, fast polling, short timeouts); `agency dev` sets a data dir, a store on disk and job
//! processes. Bad actors are agents too: [`Liar`] swaps each result for its own, and the last
//! [`DevStackConfig::liars`] agents the stack starts lie. With `test-utils`, anvil can stand in
//! for the dev chain ([`ChainKind::Anvil`]) and [`testing`] holds the test seams (transports
//! that lose or freeze messages).
//!
//! It sits above `worker` and `devchain` and below `cli`; nothing but tests and the binary
//! depends on it.

#[cfg(feature = "server")]
pub mod http;
mod liar;
#[cfg(feature = "server")]
mod serve;
#[cfg(feature = "test-utils")]
pub mod testing;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use agency_chain::{
    Agency, Batch, ChainError, Deployed, JobView, SendConfig, Terms, TermsBuilder, protocol,
};
use agency_devchain::{DevAccount, DevChain, DevConfig, OpenError};
use agency_primitives::{Cid, JobSpec};
use agency_runner::{Executor, QuickJsExecutor};
use agency_store::{BlockStore, ImportOptions, MemStore, StoreError};
use agency_worker::{Deps, Worker, WorkerConfig, WorkerError, WorkerHandle};
use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;

pub use liar::Liar;
#[cfg(feature = "server")]
pub use serve::store_router;

/// Where `agency dev` (and every stack) deploys JobAgency: the first contract of dev
/// account 0, the other commands' default `--agency`.
pub const DEV_AGENCY: Address =
    alloy::primitives::address!("5FbDB2315678afecb367f032d93F642f64180aa3");

/// Which chain the stack runs on.
#[derive(Debug, Clone)]
pub enum ChainKind {
    /// The embedded dev chain, in this process.
    Dev(DevConfig),
    /// anvil from the repository's npm packages, over HTTP (tests: the same market on a chain
    /// we did not write).
    #[cfg(feature = "test-utils")]
    Anvil,
}

/// How a stack is set up.
#[derive(Debug, Clone)]
pub struct DevStackConfig {
    pub chain: ChainKind,
    /// Where the agents' journals live (and the chain's and store's, if theirs are set to
    /// persist); `None`: a temporary directory, removed with the stack.
    pub data_dir: Option<PathBuf>,
    /// The content store; `None`: a memory store.
    pub store: Option<Arc<dyn BlockStore>>,
    /// Agents the stack starts, on dev accounts 1 to N (0 is the requester's).
    pub agents: u32,
    /// How many of those (the last ones) lie: each swaps its results for one of its own.
    pub liars: u32,
    /// What agents run jobs with; `None`: QuickJS in this process.
    pub executor: Option<Arc<dyn Executor>>,
    /// Every agent's configuration; each gets a data dir of its own under the stack's.
    pub worker: WorkerConfig,
    /// How the requester's and agents' transactions are sent.
    pub send: SendConfig,
    /// How often the stack's waits ([`DevStack::until`], [`DevStack::staked`]) look at the
    /// chain: often enough to time a job, seldom enough to leave the agents the CPU.
    pub wait_poll: Duration,
}

impl DevStackConfig {
    /// For tests: a memory chain and store, no agents yet, QuickJS in process, agents polling
    /// every 20 ms with a 0.1 ether stake and short timeouts.
    pub fn test() -> Self {
        Self {
            chain: ChainKind::Dev(DevConfig::default()),
            data_dir: None,
            store: None,
            agents: 0,
            liars: 0,
            executor: None,
            worker: WorkerConfig {
                stake: U256::from(100_000_000_000_000_000u128),
                poll_interval: Duration::from_millis(20),
                fetch_timeout: Duration::from_secs(2),
                wall_clock: Duration::from_secs(20),
                margin: 2,
                grace: Duration::from_secs(10),
                ..WorkerConfig::default()
            },
            send: SendConfig {
                stuck_after: Duration::from_secs(5),
                max_bumps: 3,
                receipt_timeout: Duration::from_secs(30),
            },
            wait_poll: Duration::from_millis(20),
        }
    }

    /// The same stack on anvil.
    #[cfg(feature = "test-utils")]
    pub fn anvil(self) -> Self {
        Self {
            chain: ChainKind::Anvil,
            ..self
        }
    }
}

/// Why a stack could not start, or an agent of it.
#[derive(Debug, thiserror::Error)]
pub enum DevStackError {
    #[error("cannot start the dev chain")]
    Chain(#[from] OpenError),
    #[error("{what}")]
    Contract {
        what: &'static str,
        #[source]
        source: ChainError,
    },
    #[error(
        "dev account 0 has sent transactions on this chain but JobAgency is not at \
         {DEV_AGENCY}: this data dir's chain was used for something else; use another data dir"
    )]
    Reused,
    #[error(
        "this data dir's chain holds another JobAgency at {DEV_AGENCY} (code hash {found}; this \
         release speaks protocol v{version}, code hash {expected}): it was made by another \
         release, and its jobs cannot be served by this one. Start on a fresh data dir \
         (`--data-dir`; the agents' journals in this one belong to its chain)"
    )]
    OtherContract {
        found: alloy::primitives::B256,
        expected: alloy::primitives::B256,
        version: u32,
    },
    #[error("creating {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("starting the agent {agent}")]
    Agent {
        agent: Address,
        #[source]
        source: WorkerError,
    },
    #[error("the agent {agent}")]
    Stopped {
        agent: Address,
        #[source]
        source: WorkerError,
    },
    #[error("the content store")]
    Store(#[from] StoreError),
    #[error("the contract would refuse these terms ({})", .0.field())]
    Terms(#[from] agency_chain::TermsError),
    #[error("{0}")]
    Timeout(String),
}

/// The chain under the stack.
#[derive(Debug)]
enum Node {
    Dev(DevChain),
    #[cfg(feature = "test-utils")]
    Anvil(alloy::node_bindings::AnvilInstance),
}

/// The stack's directory: one it owns (removed with it), or the caller's.
#[derive(Debug)]
enum Dir {
    Temp(tempfile::TempDir),
    Kept(PathBuf),
}

impl Dir {
    fn path(&self) -> &Path {
        match self {
            Self::Temp(t) => t.path(),
            Self::Kept(p) => p,
        }
    }
}

/// A running market. See the crate docs.
#[derive(Debug)]
pub struct DevStack {
    node: Node,
    accounts: Vec<DevAccount>,
    requester: Agency,
    store: Arc<dyn BlockStore>,
    executor: Arc<dyn Executor>,
    config: DevStackConfig,
    agents: Vec<WorkerHandle>,
    liars: Vec<Address>,
    salt: AtomicU64,
    #[cfg(feature = "server")]
    servers: serve::Servers,
    dir: Dir,
}

impl DevStack {
    /// Starts the chain, deploys JobAgency at [`DEV_AGENCY`] (or finds it there, on a chain
    /// reopened from its data dir), and starts the configured agents, each staked.
    pub async fn start(config: DevStackConfig) -> Result<Self, DevStackError> {
        let dir = match &config.data_dir {
            Some(path) => {
                std::fs::create_dir_all(path).map_err(|source| DevStackError::Io {
                    path: path.clone(),
                    source,
                })?;
                Dir::Kept(path.clone())
            }
            None => Dir::Temp(tempfile::tempdir().map_err(|source| DevStackError::Io {
                path: std::env::temp_dir(),
                source,
            })?),
        };
        let (node, accounts) = match &config.chain {
            ChainKind::Dev(dev) => {
                let chain = DevChain::open(dev.clone())?;
                let accounts = chain.accounts().to_vec();
                (Node::Dev(chain), accounts)
            }
            #[cfg(feature = "test-utils")]
            ChainKind::Anvil => {
                let anvil = agency_chain::testing::anvil().spawn();
                let accounts = anvil
                    .keys()
                    .iter()
                    .map(|k| {
                        let signer = PrivateKeySigner::from(k.clone());
                        DevAccount {
                            address: signer.address(),
                            signer,
                        }
                    })
                    .collect();
                (Node::Anvil(anvil), accounts)
            }
        };
        let requester = deploy(&node, &accounts[0].signer, config.send).await?;
        let store: Arc<dyn BlockStore> = match &config.store {
            Some(store) => store.clone(),
            None => Arc::new(MemStore::new()),
        };
        let executor: Arc<dyn Executor> = match &config.executor {
            Some(e) => e.clone(),
            None => Arc::new(QuickJsExecutor::in_process()),
        };
        let mut stack = Self {
            node,
            accounts,
            requester,
            store,
            executor,
            agents: Vec::new(),
            liars: Vec::new(),
            salt: AtomicU64::new(0),
            #[cfg(feature = "server")]
            servers: serve::Servers::default(),
            dir,
            config,
        };
        let (agents, liars) = (stack.config.agents, stack.config.liars);
        for n in 1..=agents {
            let lying = n > agents.saturating_sub(liars);
            let executor = if lying {
                let tag = stack.account(n as usize).address.to_string();
                Arc::new(Liar::tagged(stack.executor.clone(), tag)) as Arc<dyn Executor>
            } else {
                stack.executor.clone()
            };
            let config = stack.agent_config(n as usize);
            let agent = stack
                .spawn_agent(n as usize, config, executor, None)
                .await?;
            if lying {
                stack.liars.push(agent.agent());
            }
            stack.agents.push(agent);
        }
        Ok(stack)
    }

    /// The contract as the requester (dev account 0) sees it, sending as the requester.
    pub fn requester(&self) -> &Agency {
        &self.requester
    }

    /// The contract's address.
    pub fn agency_address(&self) -> Address {
        self.requester.address()
    }

    /// The embedded dev chain, unless the stack runs on anvil.
    pub fn dev_chain(&self) -> Option<&DevChain> {
        match &self.node {
            Node::Dev(chain) => Some(chain),
            #[cfg(feature = "test-utils")]
            Node::Anvil(_) => None,
        }
    }

    /// The chain's id.
    pub fn chain_id(&self) -> u64 {
        match &self.node {
            Node::Dev(chain) => chain.chain_id(),
            #[cfg(feature = "test-utils")]
            Node::Anvil(anvil) => anvil.chain_id(),
        }
    }

    /// The dev accounts (account 0 is the requester's).
    pub fn accounts(&self) -> &[DevAccount] {
        &self.accounts
    }

    /// Dev account `n`.
    pub fn account(&self, n: usize) -> &DevAccount {
        &self.accounts[n]
    }

    /// The content store every agent and the requester share.
    pub fn store(&self) -> &Arc<dyn BlockStore> {
        &self.store
    }

    /// The stack's directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The agents the stack started.
    pub fn agents(&self) -> &[WorkerHandle] {
        &self.agents
    }

    /// The addresses of the agents the stack started to lie.
    pub fn liars(&self) -> &[Address] {
        &self.liars
    }

    /// The contract as dev account `n` sees it, sending as that account.
    pub fn agency_as(&self, n: usize) -> Agency {
        let signer = self.account(n).signer.clone();
        match &self.node {
            Node::Dev(chain) => Agency::over(
                chain.transport(),
                self.agency_address(),
                Some(signer),
                self.config.send,
            ),
            #[cfg(feature = "test-utils")]
            Node::Anvil(anvil) => Agency::http_signer(
                anvil.endpoint_url(),
                self.agency_address(),
                signer,
                self.config.send,
            ),
        }
    }

    /// Where agent `n` keeps its journal and results.
    pub fn agent_dir(&self, n: usize) -> PathBuf {
        self.dir()
            .join(format!("worker-{}", self.account(n).address))
    }

    /// The stack's agent configuration for dev account `n`.
    pub fn agent_config(&self, n: usize) -> WorkerConfig {
        WorkerConfig {
            data_dir: self.agent_dir(n),
            ..self.config.worker.clone()
        }
    }

    /// Starts an agent on dev account `n` running jobs with `executor`, over `agency` (the
    /// stack's own connection for `n` when `None`: a test may pass one over a lossy transport).
    /// The handle is the caller's.
    pub async fn spawn_agent(
        &self,
        n: usize,
        config: WorkerConfig,
        executor: Arc<dyn Executor>,
        agency: Option<Agency>,
    ) -> Result<WorkerHandle, DevStackError> {
        self.spawn_agent_with(n, config, executor, self.store.clone(), agency)
            .await
    }

    /// [`DevStack::spawn_agent`] with a store of its own (a test's store that goes away).
    pub async fn spawn_agent_with(
        &self,
        n: usize,
        config: WorkerConfig,
        executor: Arc<dyn Executor>,
        store: Arc<dyn BlockStore>,
        agency: Option<Agency>,
    ) -> Result<WorkerHandle, DevStackError> {
        let agent = self.account(n).address;
        let deps = Deps {
            agency: agency.unwrap_or_else(|| self.agency_as(n)),
            agent,
            store,
            executors: vec![executor],
        };
        Worker::spawn(config, deps)
            .await
            .map_err(|source| DevStackError::Agent { agent, source })
    }

    /// Waits until every agent the stack started has its stake in (their first transactions),
    /// so nothing measured includes the agents' start.
    pub async fn staked(&self, within: Duration) -> Result<(), DevStackError> {
        let start = Instant::now();
        for agent in &self.agents {
            loop {
                let account = self
                    .requester
                    .account(agent.agent())
                    .await
                    .map_err(|source| DevStackError::Contract {
                        what: "reading an agent's account",
                        source,
                    })?;
                if !account.balance.is_zero() {
                    break;
                }
                if start.elapsed() > within {
                    return Err(DevStackError::Timeout(format!(
                        "the agents did not deposit their stakes within {within:?}"
                    )));
                }
                tokio::time::sleep(self.config.wait_poll).await;
            }
        }
        Ok(())
    }

    /// Adds `text` to the store as a UnixFS file (Kubo's defaults); returns its CID.
    pub async fn add(&self, text: &str) -> Result<Cid, DevStackError> {
        let store: &dyn BlockStore = self.store.as_ref();
        Ok(agency_store::import(
            text.as_bytes(),
            ImportOptions::default(),
            Some(store),
            |_| {},
        )
        .await?
        .root)
    }

    /// Adds `spec` to the store; returns its digest (what the contract binds).
    pub async fn put_spec(&self, spec: &JobSpec) -> Result<B256, DevStackError> {
        let block = spec.to_block();
        let digest = B256::from_slice(block.cid().hash().digest());
        self.store.put(block).await?;
        Ok(digest)
    }

    /// Terms for one job per digest in `specs`, posted by the requester, with a salt no other
    /// batch of this stack has.
    pub fn terms(&self, specs: Vec<B256>) -> TermsBuilder {
        TermsBuilder::new(self.account(0).address, specs)
            .salt(self.salt.fetch_add(1, Ordering::Relaxed))
    }

    /// Builds `terms` at the chain's time and posts them as the requester.
    pub async fn post(&self, terms: TermsBuilder) -> Result<Batch, DevStackError> {
        let contract = |what| move |source| DevStackError::Contract { what, source };
        let now = self
            .requester
            .chain_time()
            .await
            .map_err(contract("reading the chain time"))?;
        let batch = terms.build(now)?;
        self.requester
            .post(&batch)
            .await
            .map_err(contract("posting a batch"))?;
        Ok(batch)
    }

    /// Waits until job `index` of `terms` satisfies `ready`; returns its view. An error once
    /// `within` has passed, with the last view.
    pub async fn until(
        &self,
        terms: &Terms,
        index: u32,
        within: Duration,
        ready: impl Fn(&JobView) -> bool,
    ) -> Result<JobView, DevStackError> {
        let start = Instant::now();
        loop {
            let view = self.requester.job(terms, index).await.map_err(|source| {
                DevStackError::Contract {
                    what: "reading a job",
                    source,
                }
            })?;
            if ready(&view) {
                return Ok(view);
            }
            if start.elapsed() > within {
                return Err(DevStackError::Timeout(format!(
                    "job {} not there after {within:?}: {view:?}",
                    protocol::job_id(terms, index)
                )));
            }
            tokio::time::sleep(self.config.wait_poll).await;
        }
    }

    /// Stops every agent the stack started, gracefully, then the servers; the first agent's
    /// error, if one failed.
    pub async fn stop(mut self) -> Result<(), DevStackError> {
        for agent in &self.agents {
            agent.shutdown();
        }
        let mut failed = None;
        for agent in std::mem::take(&mut self.agents) {
            let address = agent.agent();
            if let Err(source) = agent.join().await {
                failed.get_or_insert(DevStackError::Stopped {
                    agent: address,
                    source,
                });
            }
        }
        #[cfg(feature = "server")]
        self.servers.stop().await;
        match failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Deploys JobAgency from dev account 0 unless the chain already has it at [`DEV_AGENCY`] (a
/// chain reopened from its data dir); returns it as the requester sees it.
async fn deploy(
    node: &Node,
    requester: &PrivateKeySigner,
    send: SendConfig,
) -> Result<Agency, DevStackError> {
    let contract = |what| move |source| DevStackError::Contract { what, source };
    let at = |address| match node {
        Node::Dev(chain) => Agency::over(chain.transport(), address, Some(requester.clone()), send),
        #[cfg(feature = "test-utils")]
        Node::Anvil(anvil) => {
            Agency::http_signer(anvil.endpoint_url(), address, requester.clone(), send)
        }
    };
    let existing = at(DEV_AGENCY);
    match existing
        .deployed()
        .await
        .map_err(contract("reading the contract's code"))?
    {
        Deployed::Ours => return Ok(existing),
        Deployed::Other { code_hash } => {
            return Err(DevStackError::OtherContract {
                found: code_hash,
                expected: Deployed::expected_code_hash(),
                version: protocol::VERSION,
            });
        }
        Deployed::Nothing => {}
    }
    let (sent, _) = existing
        .nonces(requester.address())
        .await
        .map_err(contract("reading dev account 0's nonce"))?;
    if sent != 0 {
        return Err(DevStackError::Reused);
    }
    let deployed = match node {
        Node::Dev(chain) => Agency::deploy_over(chain.transport(), requester.clone(), send).await,
        #[cfg(feature = "test-utils")]
        Node::Anvil(anvil) => {
            Agency::deploy_http(anvil.endpoint_url(), requester.clone(), send).await
        }
    };
    let agency = deployed.map_err(contract("deploying JobAgency"))?;
    debug_assert_eq!(agency.address(), DEV_AGENCY);
    Ok(agency)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The address the stack deploys at is the first contract of dev account 0.
    #[test]
    fn dev_agency_is_dev_account_zeros_first_contract() {
        let accounts = agency_devchain::dev_accounts(agency_devchain::DEV_MNEMONIC, 1).unwrap();
        assert_eq!(accounts[0].address.create(0), DEV_AGENCY);
    }
}
