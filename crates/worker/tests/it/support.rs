//! A small market for the agent's tests: a chain (the in-process dev chain, or anvil over
//! HTTP), JobAgency deployed, a shared content store, a requester, and agents.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use agency_chain::bindings::IJobAgency::{JobView, Terms};
use agency_chain::{Agency, SendConfig, Sender, protocol};
use agency_devchain::{DevChain, DevConfig};
use agency_primitives::{Block, Cid, Envelope, JobSpec};
use agency_runner::{Executor, JobRun, QuickJsExecutor};
use agency_store::{BlockStore, ImportOptions, MemStore, StoreError};
use agency_worker::{Deps, Worker, WorkerConfig, WorkerHandle};
use alloy::network::EthereumWallet;
use alloy::primitives::{Address, B256, U256, aliases::U40};
use alloy::providers::fillers::ChainIdFiller;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::client::RpcClient;
use alloy::rpc::json_rpc::{RequestPacket, ResponsePacket};
use alloy::signers::local::PrivateKeySigner;
use alloy::transports::{TransportError, TransportErrorKind, TransportFut};

pub(crate) const REWARD: u128 = 3_000_000_000_000_000; // 0.003 ether
pub(crate) const COLLATERAL: u128 = 1_000_000_000_000_000;
pub(crate) const STAKE: u128 = 100_000_000_000_000_000; // 0.1 ether

/// The honest job: adds two numbers, logs, and uses the seeded Math.random.
pub(crate) const CODE: &str = r#"window.jsJobRun = function (input, options, cb) {
  console.log("adding", input.a, "and", input.b);
  cb(null, { sum: input.a + input.b, r: Math.floor(Math.random() * 1000) });
};"#;
pub(crate) const INPUT: &str = r#"{"a": 2, "b": 3}"#;

/// Where the chain lives.
pub(crate) enum Node {
    Dev(DevChain),
    Anvil(alloy::node_bindings::AnvilInstance),
}

/// A mined transaction: who sent which contract call, whether it succeeded, its gas.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) from: Address,
    pub(crate) name: String,
    pub(crate) ok: bool,
    pub(crate) gas: u64,
}

pub(crate) struct Market {
    pub(crate) node: Node,
    pub(crate) store: Arc<MemStore>,
    /// The contract as the requester (dev account 0) sees it.
    pub(crate) requester: Agency,
    pub(crate) address: Address,
    pub(crate) dir: tempfile::TempDir,
    salt: AtomicUsize,
}

impl Market {
    /// The in-process dev chain with JobAgency deployed.
    pub(crate) async fn dev() -> Self {
        logs();
        let chain = DevChain::open(DevConfig::default()).expect("dev chain");
        Self::deployed(Node::Dev(chain)).await
    }

    /// anvil (from npm) with JobAgency deployed.
    pub(crate) async fn anvil() -> Self {
        logs();
        let bin = format!(
            "{}/../../node_modules/.bin/anvil",
            env!("CARGO_MANIFEST_DIR")
        );
        assert!(
            std::path::Path::new(&bin).exists(),
            "{bin} is missing: run `npm ci` at the repository root"
        );
        let anvil = alloy::node_bindings::Anvil::at(bin).spawn();
        Self::deployed(Node::Anvil(anvil)).await
    }

    async fn deployed(node: Node) -> Self {
        let (provider, _) = plain_provider(&node, 0);
        let requester = Agency::deploy(provider).await.expect("deploy JobAgency");
        Self {
            node,
            store: Arc::new(MemStore::new()),
            address: requester.address(),
            requester,
            dir: tempfile::tempdir().expect("temp dir"),
            salt: AtomicUsize::new(0),
        }
    }

    pub(crate) fn signer(&self, account: usize) -> PrivateKeySigner {
        signer(&self.node, account)
    }

    /// A provider for dev account `account` that signs and leaves nonces to a [`Sender`].
    pub(crate) fn sender(&self, account: usize, flaky: Option<Flaky>) -> Sender {
        let signer = self.signer(account);
        let from = signer.address();
        let builder = ProviderBuilder::new()
            .disable_recommended_fillers()
            .filler(ChainIdFiller::default())
            .wallet(EthereumWallet::from(signer));
        let provider = match (&self.node, flaky) {
            (Node::Dev(chain), None) => builder
                .connect_client(RpcClient::new(chain.transport(), true))
                .erased(),
            (Node::Dev(chain), Some(mut flaky)) => {
                flaky.inner = Some(chain.transport());
                builder.connect_client(RpcClient::new(flaky, true)).erased()
            }
            (Node::Anvil(anvil), _) => builder.connect_http(anvil.endpoint_url()).erased(),
        };
        let config = SendConfig {
            stuck_after: Duration::from_secs(5),
            max_bumps: 3,
            receipt_timeout: Duration::from_secs(30),
        };
        Sender::new(provider, from, config)
    }

    /// Agent config for account `account`: fast polling, a 0.1 ether stake.
    pub(crate) fn config(&self, account: usize) -> WorkerConfig {
        WorkerConfig {
            data_dir: self.dir.path().join(format!("agent-{account}")),
            stake: U256::from(STAKE),
            poll_interval: Duration::from_millis(20),
            fetch_timeout: Duration::from_secs(2),
            wall_clock: Duration::from_secs(20),
            margin: 2,
            grace: Duration::from_secs(10),
            ..WorkerConfig::default()
        }
    }

    /// Starts agent `account` with `config`, running jobs with `executor`.
    pub(crate) async fn agent_with(
        &self,
        account: usize,
        config: WorkerConfig,
        executor: Arc<dyn Executor>,
        store: Arc<dyn BlockStore>,
        flaky: Option<Flaky>,
    ) -> WorkerHandle {
        let sender = self.sender(account, flaky);
        let agent = sender.from();
        let deps = Deps {
            agency: Agency::with_sender(self.address, sender),
            agent,
            store,
            executors: vec![executor],
        };
        Worker::spawn(config, deps).await.expect("start the agent")
    }

    /// An honest agent (QuickJS) on dev account `account`.
    pub(crate) async fn honest(&self, account: usize) -> WorkerHandle {
        self.honest_with(account, self.config(account), self.store.clone(), None)
            .await
    }

    /// An honest agent with its own config, store and transport.
    pub(crate) async fn honest_with(
        &self,
        account: usize,
        config: WorkerConfig,
        store: Arc<dyn BlockStore>,
        flaky: Option<Flaky>,
    ) -> WorkerHandle {
        let exec = Arc::new(QuickJsExecutor::in_process());
        self.agent_with(account, config, exec, store, flaky).await
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
    pub(crate) async fn calls_since(&self, from: u64) -> Vec<Call> {
        use alloy::consensus::Transaction as _;
        use alloy::network::TransactionResponse as _;
        use alloy::sol_types::SolInterface;
        let p = self.provider();
        let head = p.get_block_number().await.expect("block number");
        let mut calls = Vec::new();
        for n in from.max(1)..=head {
            let block = p
                .get_block_by_number(n.into())
                .full()
                .await
                .expect("block")
                .expect("a block");
            for tx in block.transactions.into_transactions() {
                let name =
                    agency_chain::bindings::JobAgency::JobAgencyCalls::abi_decode(tx.input())
                        .map(|c| {
                            format!("{c:?}")
                                .split(['(', ' ', '{'])
                                .next()
                                .unwrap_or("?")
                                .to_owned()
                        })
                        .unwrap_or_else(|_| "?".into());
                let receipt = p
                    .get_transaction_receipt(tx.tx_hash())
                    .await
                    .expect("receipt")
                    .expect("mined");
                calls.push(Call {
                    from: tx.from(),
                    name,
                    ok: receipt.status(),
                    gas: receipt.gas_used,
                });
            }
        }
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
        ready: impl Fn(&agency_chain::Account) -> bool,
    ) -> agency_chain::Account {
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

    /// Adds the honest job's code and input and its spec; returns the spec.
    pub(crate) async fn spec(&self, code: &str, input: &str) -> JobSpec {
        let code = add(&self.store, code).await;
        let input = add(&self.store, input).await;
        let mut spec = JobSpec::new(code, input);
        spec.seed = [7; 32];
        spec.timestamp = 1_767_225_600_000;
        self.store.put(spec.to_block()).await.expect("put spec");
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
        let now = self.now().await;
        let terms = Terms {
            requester: self.requester_address(),
            salt: self.salt.fetch_add(1, Ordering::Relaxed) as u64,
            count: 1,
            specs: protocol::specs_hash(&[digest]),
            reward: REWARD,
            collateral: COLLATERAL,
            replicas,
            quorum: replicas / 2 + 1,
            minReputation: 0,
            deliveryWindow: window,
            revealWindow: window,
            deadline: U40::from(now + deadline_in),
        };
        self.requester
            .post(&terms, &[digest])
            .await
            .expect("post the job");
        terms
    }

    pub(crate) fn requester_address(&self) -> Address {
        self.signer(0).address()
    }

    pub(crate) fn provider(&self) -> DynProvider {
        self.requester.contract().provider().clone()
    }

    pub(crate) async fn now(&self) -> u64 {
        self.provider()
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .expect("latest block")
            .expect("a latest block")
            .header
            .timestamp
    }

    pub(crate) async fn job(&self, terms: &Terms) -> JobView {
        self.requester.job(terms, 0).await.expect("jobOf")
    }

    /// Waits until the job is terminal; returns its view.
    pub(crate) async fn settled(&self, terms: &Terms, within: Duration) -> JobView {
        self.until(terms, within, |v| v.status >= 3).await
    }

    /// Waits until `ready(view)`; panics with the last view after `within`.
    pub(crate) async fn until(
        &self,
        terms: &Terms,
        within: Duration,
        ready: impl Fn(&JobView) -> bool,
    ) -> JobView {
        let start = Instant::now();
        loop {
            let view = self.job(terms).await;
            if ready(&view) {
                return view;
            }
            assert!(
                start.elapsed() < within,
                "job not there after {within:?}: {view:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Moves the chain's clock forward and mines a block.
    pub(crate) async fn warp(&self, seconds: u64) {
        let p = self.provider();
        let _: serde_json::Value = p
            .raw_request("evm_increaseTime".into(), (seconds,))
            .await
            .expect("evm_increaseTime");
        let _: serde_json::Value = p
            .raw_request("evm_mine".into(), ())
            .await
            .expect("evm_mine");
    }

    pub(crate) async fn balance(&self, who: Address) -> U256 {
        self.requester
            .account(who)
            .await
            .expect("accountOf")
            .balance
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

/// Adds `text` to `store` as a UnixFS file (Kubo's defaults); returns its CID.
pub(crate) async fn add(store: &Arc<MemStore>, text: &str) -> Cid {
    let store: &dyn BlockStore = store.as_ref();
    agency_store::import(
        text.as_bytes(),
        ImportOptions::default(),
        Some(store),
        |_| {},
    )
    .await
    .expect("import")
    .root
}

fn signer(node: &Node, account: usize) -> PrivateKeySigner {
    match node {
        Node::Dev(chain) => chain.accounts()[account].signer.clone(),
        Node::Anvil(anvil) => anvil.keys()[account].clone().into(),
    }
}

/// A provider with the recommended fillers (for the requester and for reads).
fn plain_provider(node: &Node, account: usize) -> (DynProvider, Address) {
    let signer = signer(node, account);
    let address = signer.address();
    let builder = ProviderBuilder::new().wallet(EthereumWallet::from(signer));
    let provider = match node {
        Node::Dev(chain) => builder
            .connect_client(RpcClient::new(chain.transport(), true))
            .erased(),
        Node::Anvil(anvil) => builder.connect_http(anvil.endpoint_url()).erased(),
    };
    (provider, address)
}

/// A transport that loses requests (never executed) and responses (executed, answer lost), to
/// show the agent neither double-sends nor leaves a nonce gap. Raw transactions: of every three
/// sends, the first loses its answer and the second is lost on the way. Other calls: about one
/// request in 9 and one answer in 11 are lost, drawn from a fixed-seed generator (a fixed
/// modulus would hit the same call of a poll that makes the same calls every time).
#[derive(Clone, Debug, Default)]
pub(crate) struct Flaky {
    inner: Option<agency_devchain::InProcess>,
    pub(crate) counts: Arc<FlakyCounts>,
}

#[derive(Debug, Default)]
pub(crate) struct FlakyCounts {
    draws: AtomicU64,
    raw: AtomicUsize,
    pub(crate) lost_requests: AtomicUsize,
    pub(crate) lost_responses: AtomicUsize,
    pub(crate) lost_raw_requests: AtomicUsize,
    pub(crate) lost_raw_responses: AtomicUsize,
}

impl FlakyCounts {
    /// The next number of a splitmix64 sequence.
    fn draw(&self) -> u64 {
        let n = self
            .draws
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = n;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl tower::Service<RequestPacket> for Flaky {
    type Response = ResponsePacket;
    type Error = TransportError;
    type Future = TransportFut<'static>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: RequestPacket) -> Self::Future {
        let c = self.counts.clone();
        let raw = request
            .method_names()
            .any(|m| m == "eth_sendRawTransaction");
        let (lose_request, lose_response) = if raw {
            let n = c.raw.fetch_add(1, Ordering::Relaxed);
            (n % 3 == 1, n.is_multiple_of(3))
        } else {
            let r = c.draw();
            (r.is_multiple_of(9), (r >> 32).is_multiple_of(11))
        };
        let gone = || TransportErrorKind::custom_str("connection reset by peer (test)");
        if lose_request {
            c.lost_requests.fetch_add(1, Ordering::Relaxed);
            if raw {
                c.lost_raw_requests.fetch_add(1, Ordering::Relaxed);
            }
            return Box::pin(async move { Err(gone()) });
        }
        let answer = self.inner.as_mut().expect("connected").call(request);
        Box::pin(async move {
            let answer = answer.await;
            if lose_response {
                c.lost_responses.fetch_add(1, Ordering::Relaxed);
                if raw {
                    c.lost_raw_responses.fetch_add(1, Ordering::Relaxed);
                }
                return Err(gone());
            }
            answer
        })
    }
}

/// A store that can be taken away: every call fails with a timeout while it is down, and
/// reads of the blocked CIDs fail as not found.
#[derive(Debug)]
pub(crate) struct Outage {
    pub(crate) inner: Arc<MemStore>,
    pub(crate) down: AtomicBool,
    pub(crate) blocked: Mutex<HashSet<Cid>>,
}

impl Outage {
    pub(crate) fn new(inner: Arc<MemStore>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            down: AtomicBool::new(false),
            blocked: Mutex::new(HashSet::new()),
        })
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::Relaxed) {
            return Err(StoreError::Timeout {
                backend: "test store",
                what: "the request".into(),
                after: Duration::from_millis(1),
            });
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl BlockStore for Outage {
    async fn get(&self, cid: &Cid) -> Result<Block, StoreError> {
        self.check()?;
        if self.blocked.lock().expect("lock").contains(cid) {
            return Err(StoreError::NotFound {
                cid: *cid,
                backend: "test store",
            });
        }
        self.inner.get(cid).await
    }

    async fn put(&self, block: Block) -> Result<(), StoreError> {
        self.check()?;
        self.inner.put(block).await
    }

    async fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.has(cid).await
    }

    fn name(&self) -> &'static str {
        "test store"
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
