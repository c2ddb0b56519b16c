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
//! - the driver: one loop that feeds the machines with chain events (from a saved cursor),
//!   action outcomes and timers, and runs their actions as tasks, `concurrency` jobs at a time.
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

mod driver;
mod work;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use agency_chain::{Agency, ChainError};
use agency_runner::Executor;
use agency_store::BlockStore;
use alloy::primitives::{Address, U256};
use tokio::sync::watch;

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
    /// A test hook: stop dead at a point, as `kill -9` would.
    #[doc(hidden)]
    pub halt: Option<Halt>,
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
            halt: None,
        }
    }
}

/// Where a test stops an agent dead: just before sending a call, or right after it was mined
/// (before the agent has journaled anything about it).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Halt {
    Before(&'static str),
    After(&'static str),
}

/// Why an agent stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("JSON-RPC: {0}")]
    Rpc(String),
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
            Self::Rpc(_) => true,
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
        let driver = driver::Driver::start(
            config,
            deps.agency,
            deps.store,
            deps.executors,
            metrics.clone(),
            deps.agent,
        )
        .await?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(driver.run(stopped));
        Ok(WorkerHandle {
            stop,
            task,
            metrics,
            agent: deps.agent,
        })
    }
}

/// A running agent.
#[derive(Debug)]
pub struct WorkerHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), WorkerError>>,
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
        let _ = self.stop.send(true);
    }

    /// Waits for the agent to stop.
    pub async fn join(self) -> Result<(), WorkerError> {
        self.task.await.map_err(|_| WorkerError::Gone)?
    }

    /// Whether the agent has stopped (a halt hook, an error, or after shutdown).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops the agent dead, mid-whatever, as `kill -9` would (tests).
    pub fn abort(self) {
        self.task.abort();
    }
}
