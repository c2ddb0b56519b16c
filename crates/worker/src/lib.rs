//! The Agency agent: watches JobAgency, claims jobs it can run, runs them, publishes the result
//! envelopes, submits or commits and reveals them, settles, and gets paid; and survives crashes.
//!
//! # Shape
//! - [`machine`]: a pure per-job state machine, `step(state, input) -> (state, action)`. It is
//!   level-triggered: it keeps only what the agent alone knows (its result and salt, whether it
//!   gave the job up) and decides everything else from a fresh view of the job on chain.
//! - [`journal`]: `worker.jsonl` in the data dir; every state a step returns is synced there
//!   before the step's action starts, so the result and salt a commitment binds are on disk
//!   before the commitment is sent.
//! - the driver (`driver.rs`): one loop over its parts, each a module: `intake` (the contract's
//!   events from the saved cursor), `schedule` (one action per job at a time, `concurrency` jobs
//!   holding a place, chain-time wake-ups, the pause before a refused action is tried again),
//!   `actions` (each action performed as a task, coming back as the machine's next input),
//!   `account` (the stake, the balance and score claims are decided with, withdrawals), `clock`
//!   (chain time) and `retry` (the one retry policy, over each error's `is_retryable`).
//! - [`WorkerHandle`]: owns the agent's task; shutdown is a cancellation token, and dropping
//!   the handle stops the agent.
//!
//! # Guarantees
//! - **Never commits what it did not compute**: a result enters the state only from this
//!   agent's own run, and once set it never changes.
//! - **Never double-sends**: a transaction that may have gone through (a lost response, a crash)
//!   is never blindly resent. The job is observed again; the contract's state says whether it
//!   happened, and a call that is no longer valid fails at gas estimation, before anything is
//!   signed. Nonces come from the node ([`agency_chain::Sender`]), so there are no gaps.
//! - **Never loses a result**: the envelope is written to the data dir and the store before its
//!   digest goes on chain, and put back into the store before a reveal or submit if it is gone.
//! - **Resumes after `kill -9`**: every unfinished job is observed again on start.
//! - **Gives up cleanly**: content missing past the fetch timeout, or a run that hits the
//!   wall-clock cap, releases the slot before anything is committed.

pub mod journal;
pub mod machine;
pub mod metrics;

mod account;
mod actions;
mod clock;
mod driver;
mod intake;
mod retry;
mod schedule;
mod work;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use agency_chain::{Agency, ChainError};
use agency_primitives::Limits;
use agency_runner::Executor;
use agency_store::BlockStore;
use alloy::primitives::{Address, U256};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use journal::JournalError;
pub use metrics::Metrics;

/// How an agent works.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Where the journal and the kept results live.
    pub data_dir: PathBuf,
    /// Jobs checked, claimed or computing at once.
    pub concurrency: usize,
    /// The smallest reward worth claiming, in wei.
    pub min_reward: U256,
    /// The balance to keep deposited in the contract: deposited at start if missing.
    pub stake: U256,
    /// Withdraw the balance above `stake` once it exceeds it by this much.
    pub auto_withdraw: Option<U256>,
    /// How often the chain is polled for new blocks and events.
    pub poll_interval: Duration,
    /// How deep a block must be before its events count.
    pub confirmations: u64,
    /// Where to start scanning events when the journal has no cursor (the contract's
    /// deployment block, say).
    pub from_block: u64,
    /// How long content may stay missing before a claimed job is given up.
    pub fetch_timeout: Duration,
    /// The wall-clock cap of one run (a safety net, never a job result).
    pub wall_clock: Duration,
    /// Seconds kept in hand before a deadline: no claim that close to the job's deadline, and
    /// a run must end this long before the slot's.
    pub margin: u64,
    /// How long a graceful shutdown waits for in-flight work.
    pub grace: Duration,
    /// Run each job before claiming it, then claim and deliver in one transaction, and reveal
    /// in the clear when last: fewer transactions and less gas, for work lost when another
    /// agent claims first. Suits short jobs.
    pub run_first: bool,
    /// The most of each limit this agent accepts: a job asking for more is passed over before
    /// it is claimed, at no cost to the agent.
    pub max_limits: Limits,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("worker"),
            concurrency: 4,
            min_reward: U256::from(1),
            stake: U256::ZERO,
            auto_withdraw: None,
            poll_interval: Duration::from_millis(500),
            confirmations: 0,
            from_block: 0,
            fetch_timeout: Duration::from_secs(30),
            wall_clock: Duration::from_secs(60),
            margin: 5,
            grace: Duration::from_secs(30),
            run_first: false,
            max_limits: Limits::AGENT_MAX,
        }
    }
}

/// Why an agent stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("{0}")]
    Stake(String),
    #[error("the worker task panicked or was aborted")]
    Gone,
}

impl WorkerError {
    /// Whether trying again may succeed: RPC trouble, never a revert or a bad setup.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Chain(e) => e.is_retryable(),
            Self::Journal(_) | Self::Stake(_) | Self::Gone => false,
        }
    }
}

/// What the agent runs with.
#[derive(Debug, Clone)]
pub struct Deps {
    /// The contract, sending as the agent (through a [`agency_chain::Sender`]).
    pub agency: Agency,
    /// The agent's address (the sender's).
    pub agent: Address,
    pub store: Arc<dyn BlockStore>,
    /// One executor per runtime the agent offers.
    pub executors: Vec<Arc<dyn Executor>>,
}

/// The agent.
#[derive(Debug)]
pub struct Worker;

impl Worker {
    /// Opens the journal, deposits the stake and starts the agent on the current tokio
    /// runtime.
    pub async fn spawn(config: WorkerConfig, deps: Deps) -> Result<WorkerHandle, WorkerError> {
        let metrics = Arc::new(Metrics::new());
        let agent = deps.agent;
        let driver = driver::Driver::start(config, deps, metrics.clone()).await?;
        let cancel = CancellationToken::new();
        let stopped = CancellationToken::new();
        let mut task = JoinSet::new();
        let (token, done) = (cancel.clone(), stopped.clone());
        task.spawn(async move {
            let _stopped = done.drop_guard();
            driver.run(token).await
        });
        Ok(WorkerHandle {
            cancel,
            stopped,
            task,
            metrics,
            agent,
        })
    }
}

/// A running agent. Dropping the handle stops the agent dead (as [`WorkerHandle::abort`]);
/// [`WorkerHandle::shutdown`] and [`WorkerHandle::join`] stop it gracefully.
#[derive(Debug)]
#[must_use = "dropping the handle stops the agent"]
pub struct WorkerHandle {
    cancel: CancellationToken,
    /// Cancelled when the agent's task ends, however it ends.
    stopped: CancellationToken,
    /// The agent's task (one); its actions run as tasks it owns, so they end with it.
    task: JoinSet<Result<(), WorkerError>>,
    metrics: Arc<Metrics>,
    agent: Address,
}

impl WorkerHandle {
    /// The agent's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The agent's address.
    pub fn agent(&self) -> Address {
        self.agent
    }

    /// Asks for a graceful stop: no new claims; in-flight work finishes within the grace
    /// period; what is left waits in the journal for the next start.
    pub fn shutdown(&self) {
        self.cancel.cancel();
    }

    /// Resolves once the agent has stopped: after a shutdown, or by itself (only an error
    /// stops it).
    pub async fn stopped(&self) {
        self.stopped.cancelled().await;
    }

    /// Whether the agent has stopped.
    pub fn is_finished(&self) -> bool {
        self.stopped.is_cancelled()
    }

    /// Waits for the agent to stop; its error, if it stopped on one.
    pub async fn join(mut self) -> Result<(), WorkerError> {
        match self.task.join_next().await {
            Some(Ok(result)) => result,
            Some(Err(_)) | None => Err(WorkerError::Gone),
        }
    }

    /// Stops the agent dead, mid-whatever, as `kill -9` would (tests); returns once its
    /// task has ended.
    pub async fn abort(mut self) {
        self.task.abort_all();
        while self.task.join_next().await.is_some() {}
    }
}
