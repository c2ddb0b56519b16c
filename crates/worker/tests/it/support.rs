//! The agent's tests' view of the market: a [`DevStack`] (the in-process dev chain, or anvil)
//! with a memory store the tests can take away, and the waits and helpers the tests share.

use std::sync::Arc;
use std::time::{Duration, Instant};

use agency_chain::testing::{Cheats, MinedCall};
use agency_chain::{Account, Agency, JobView, Terms};
use agency_devstack::testing::Flaky;
use agency_devstack::{DevStack, DevStackConfig};
use agency_primitives::{Block, Envelope, JobSpec};
use agency_runner::{Executor, JobRun, QuickJsExecutor};
use agency_store::{BlockStore, MemStore};
use agency_worker::{WorkerConfig, WorkerHandle};
use alloy::primitives::{Address, B256, U256};

pub(crate) const REWARD: u128 = 3_000_000_000_000_000; // 0.003 ether
/// What a won job of [`REWARD`] credits beyond the collateral: the reward less its reputation
/// fee (docs/protocol.md §6).
pub(crate) const NET: u128 = REWARD - agency_chain::protocol::reputation_fee(REWARD);
pub(crate) const COLLATERAL: u128 = 1_000_000_000_000_000;
pub(crate) const STAKE: u128 = 100_000_000_000_000_000; // 0.1 ether

/// The honest job: adds two numbers, logs, and uses the seeded Math.random.
pub(crate) const CODE: &str = r#"window.jsJobRun = function (input, options, cb) {
  console.log("adding", input.a, "and", input.b);
  cb(null, { sum: input.a + input.b, r: Math.floor(Math.random() * 1000) });
};"#;
pub(crate) const INPUT: &str = r#"{"a": 2, "b": 3}"#;

pub(crate) struct Market {
    pub(crate) stack: DevStack,
    /// The store the stack's agents share, as the memory store it is.
    pub(crate) store: Arc<MemStore>,
    /// The contract as the requester (dev account 0) sees it.
    pub(crate) requester: Agency,
    pub(crate) address: Address,
}

impl Market {
    /// The in-process dev chain with JobAgency deployed.
    pub(crate) async fn dev() -> Self {
        Self::start(DevStackConfig::test()).await
    }

    /// anvil (from npm) with JobAgency deployed.
    pub(crate) async fn anvil() -> Self {
        Self::start(DevStackConfig::test().anvil()).await
    }

    async fn start(mut config: DevStackConfig) -> Self {
        logs();
        let store = Arc::new(MemStore::new());
        config.store = Some(store.clone());
        config.worker.stake = U256::from(STAKE);
        let stack = DevStack::start(config).await.expect("the market starts");
        Self {
            store,
            requester: stack.requester().clone(),
            address: stack.agency_address(),
            stack,
        }
    }

    /// Dev account `account`'s address.
    pub(crate) fn who(&self, account: usize) -> Address {
        self.stack.account(account).address
    }

    /// Agent config for account `account`: fast polling, a 0.1 ether stake.
    pub(crate) fn config(&self, account: usize) -> WorkerConfig {
        self.stack.agent_config(account)
    }

    /// A transport into the dev chain that loses messages.
    pub(crate) fn flaky(&self) -> Flaky {
        Flaky::new(self.stack.dev_chain().expect("the dev chain").transport())
    }

    /// The contract as `account` sees it through `transport`.
    pub(crate) fn agency_over<T: alloy::transports::IntoBoxTransport>(
        &self,
        account: usize,
        transport: T,
    ) -> Agency {
        Agency::over(
            transport,
            self.address,
            Some(self.stack.account(account).signer.clone()),
            DevStackConfig::test().send,
        )
    }

    /// Starts agent `account` with `config`, running jobs with `executor`.
    pub(crate) async fn agent_with(
        &self,
        account: usize,
        config: WorkerConfig,
        executor: Arc<dyn Executor>,
        store: Arc<dyn BlockStore>,
        agency: Option<Agency>,
    ) -> WorkerHandle {
        self.stack
            .spawn_agent_with(account, config, executor, store, agency)
            .await
            .expect("start the agent")
    }

    /// An honest agent (QuickJS) on dev account `account`.
    pub(crate) async fn honest(&self, account: usize) -> WorkerHandle {
        self.honest_with(account, self.config(account), self.store.clone(), None)
            .await
    }

    /// An honest agent with its own config, store and connection.
    pub(crate) async fn honest_with(
        &self,
        account: usize,
        config: WorkerConfig,
        store: Arc<dyn BlockStore>,
        agency: Option<Agency>,
    ) -> WorkerHandle {
        let exec = Arc::new(QuickJsExecutor::in_process());
        self.agent_with(account, config, exec, store, agency).await
    }

    pub(crate) fn cheats(&self) -> Cheats {
        Cheats::of(&self.requester)
    }

    /// The contract calls `who` sent, in order, by name (`deposit`, `claim`, …), and whether
    /// each succeeded.
    pub(crate) async fn calls_from(&self, who: Address) -> Vec<(String, bool)> {
        self.calls_since(1)
            .await
            .into_iter()
            .filter(|c| c.from == who)
            .map(|c| (c.name, c.ok))
            .collect()
    }

    /// Every transaction mined from block `from` on, in order.
    pub(crate) async fn calls_since(&self, from: u64) -> Vec<MinedCall> {
        self.cheats().calls_since(from).await
    }

    /// The transactions about job 0 of `terms` mined from block `from` on. Counting by job, not
    /// by block: a losing claim of another job may be mined inside any window of blocks.
    pub(crate) async fn calls_about(&self, terms: &Terms, from: u64) -> Vec<MinedCall> {
        let job = agency_chain::protocol::job_id(terms, 0);
        let mut calls = self.calls_since(from).await;
        calls.retain(|c| c.jobs.contains(&job));
        calls
    }

    /// Waits until `agent`'s metrics contain `line`.
    pub(crate) async fn metric(&self, agent: &WorkerHandle, line: &str) {
        let start = Instant::now();
        loop {
            let text = agent.metrics().encode();
            if text.contains(line) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no {line:?} in:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `ready(account of who)`; panics with the last account after `within`.
    pub(crate) async fn account_until(
        &self,
        who: Address,
        within: Duration,
        ready: impl Fn(&Account) -> bool,
    ) -> Account {
        let start = Instant::now();
        loop {
            let account = self.requester.account(who).await.expect("accountOf");
            if ready(&account) {
                return account;
            }
            assert!(
                start.elapsed() < within,
                "account not there after {within:?}: {account:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Adds the job's code and input and its spec (seed 7s, a fixed timestamp); returns the
    /// spec.
    pub(crate) async fn spec(&self, code: &str, input: &str) -> JobSpec {
        let mut spec = JobSpec::new(
            self.stack.add(code).await.expect("add the code"),
            self.stack.add(input).await.expect("add the input"),
        );
        spec.seed = [7; 32];
        spec.timestamp = 1_767_225_600_000;
        self.stack.put_spec(&spec).await.expect("put spec");
        spec
    }

    /// Posts one job of `spec` with `replicas` replicas; returns its terms.
    pub(crate) async fn post(&self, spec: &JobSpec, replicas: u8) -> Terms {
        self.post_timed(spec, replicas, 600, 120).await
    }

    /// Like [`Market::post`], with the deadline `deadline_in` seconds away and delivery and
    /// reveal windows of `window` seconds.
    pub(crate) async fn post_timed(
        &self,
        spec: &JobSpec,
        replicas: u8,
        deadline_in: u64,
        window: u32,
    ) -> Terms {
        let digest = B256::from_slice(spec.to_block().cid().hash().digest());
        let window = Duration::from_secs(window.into());
        let terms = self
            .stack
            .terms(vec![digest])
            .reward(U256::from(REWARD))
            .collateral(U256::from(COLLATERAL))
            .replicas(replicas)
            .delivery_window(window)
            .reveal_window(window)
            .deadline_in(Duration::from_secs(deadline_in));
        self.stack.post(terms).await.expect("post the job").terms
    }

    pub(crate) async fn job(&self, terms: &Terms) -> JobView {
        self.requester.job(terms, 0).await.expect("jobOf")
    }

    /// Waits until the job is terminal; returns its view.
    pub(crate) async fn settled(&self, terms: &Terms, within: Duration) -> JobView {
        self.until(terms, within, |v| v.status.is_terminal()).await
    }

    /// Waits until `ready(view)`; panics with the last view after `within`.
    pub(crate) async fn until(
        &self,
        terms: &Terms,
        within: Duration,
        ready: impl Fn(&JobView) -> bool,
    ) -> JobView {
        self.stack
            .until(terms, 0, within, ready)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Moves the chain's clock forward and mines a block.
    pub(crate) async fn warp(&self, seconds: u64) {
        self.cheats().warp(seconds).await;
    }

    /// `who`'s balance in the contract.
    pub(crate) async fn balance(&self, who: Address) -> U256 {
        self.requester
            .account(who)
            .await
            .expect("accountOf")
            .balance
    }

    /// What `who`'s releases of the job of `terms` burned (the `Released` events' `burned`),
    /// and how many releases there were.
    pub(crate) async fn release_burns(&self, terms: &Terms, who: Address) -> (U256, usize) {
        let events = self
            .requester
            .job_events(agency_chain::protocol::job_id(terms, 0), 0)
            .await
            .expect("the job's events");
        events
            .iter()
            .filter_map(|e| match &e.event {
                agency_chain::Event::Released(r) if r.agent == who => Some(r.burned),
                _ => None,
            })
            .fold((U256::ZERO, 0), |(sum, n), b| (sum + b, n + 1))
    }

    /// The ether `who` holds in its wallet.
    pub(crate) async fn wallet(&self, who: Address) -> U256 {
        self.requester.balance(who).await.expect("eth_getBalance")
    }

    /// The envelope the honest executor makes of `spec`, and its digest.
    pub(crate) async fn expected(
        &self,
        spec: &JobSpec,
        code: &str,
        input: &str,
    ) -> (Envelope, B256) {
        let job = JobRun {
            code: code.into(),
            input: input.into(),
            options: spec.options.to_string(),
            limits: spec.limits,
            seed: spec.seed,
            timestamp_ms: spec.timestamp,
            wall_clock: Duration::from_secs(20),
        };
        let envelope = QuickJsExecutor::in_process().run(job).await.expect("run");
        let block = Block::new(agency_primitives::CODEC_RAW, envelope.canonical_bytes());
        (envelope, B256::from_slice(block.cid().hash().digest()))
    }
}

/// Agent logs on stderr when `RUST_LOG` is set (`RUST_LOG=agency_worker=debug`).
fn logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}
