//! Agency's job executors: run untrusted JsJob scripts to a deterministic result envelope.
//!
//! # The determinism contract
//! Replication compares result hashes, so every honest agent must produce byte-identical
//! envelopes for the same job. Under the `quickjs` executor a job sees:
//! - **Time**: `Date.now()` and `new Date()` are the job's timestamp (milliseconds, UTC; agents'
//!   child processes run with `TZ=UTC`). There is no `performance`. Timers run on virtual time:
//!   `setTimeout(f, 10000)` fires at once, after every earlier timer, in (time, creation) order.
//! - **Randomness**: `Math.random()` draws from xoshiro256** seeded with the job's 32-byte seed.
//! - **Math**: `sin`, `cos`, `tan`, `asin`, `acos`, `atan`, `atan2`, `sinh`, `cosh`, `tanh`,
//!   `asinh`, `acosh`, `atanh`, `exp`, `expm1`, `log`, `log1p`, `log2`, `log10`, `cbrt`, `pow`
//!   and `hypot` come from the pure-Rust `libm` crate, never the C library. (The `**` operator
//!   is evaluated by QuickJS itself and is not covered; use `Math.pow` in replicated jobs.)
//! - **No locale, no GC observability**: no `Intl`; `WeakRef` and `FinalizationRegistry` are
//!   removed. Only source text is accepted, never bytecode.
//! - **Limits in deterministic units**: fuel counts QuickJS interrupt checks (a check per
//!   10,000 calls and loop back edges) plus the work native builtins, promise jobs and timers
//!   are charged for (prelude.js; the engine version, `ENGINE_VERSION`), memory counts the
//!   bytes the engine requests from its allocator (each rounded up to 8; QuickJS's small-object
//!   arenas count whole), stack bounds recursion, output bounds the canonical envelope. Each has
//!   its error kind (`fuel`, `memory`, `stack`, `output-too-large`).
//! - **Meters are final**: once fuel or memory runs out, nothing the job does afterwards
//!   counts, even where it catches the error (QuickJS turns its interrupt into an ordinary
//!   rejection inside a promise executor, `Promise.try` or a thenable). The run stops at once;
//!   the envelope is the meter's kind, with the logs from before it tripped. A callback made
//!   before the meter tripped stands (first callback wins). Not yet covered: a stack overflow is
//!   a catchable `RangeError`, as in every engine, and the depth at which it happens depends on
//!   the build's native frames (see docs/security.md).
//!
//! A wall-clock cap protects the host and is never a job result: hitting it is
//! [`RunnerError::WallClock`], even when the job catches it or called back earlier, and the
//! agent gives up its claim instead of committing.
//!
//! # Isolation
//! Each job gets a fresh runtime with no filesystem, network, process or environment access.
//! [`QuickJsExecutor`] runs it in a child process with rlimits (address space, CPU seconds,
//! open files), so an engine bug cannot take the agent down, and locks that process down
//! (Linux): an own uid, no network namespace, not dumpable, `no_new_privs`, only its three
//! pipes, and a seccomp allowlist ([`SandboxReport`] says which layers the kernel granted). Job processes are forked from a
//! zygote started once ([`zygote`]), so each job's process starts as an already-loaded copy; a
//! job cannot reach the next one's, which is a fork of the zygote, not of it. The price: all forks
//! share the zygote's address-space layout (as Android's app zygote does), which weakens ASLR
//! against an engine exploit; the gain is a job process that starts without exec or dynamic
//! loading (BENCHMARKS.md has the figures).
//!
//! Depends on `agency-primitives` only: it knows nothing of stores or chains.

mod engine;
mod meter;
mod quickjs;
mod rng;
mod sandbox;
pub mod zygote;

#[cfg(feature = "browser")]
mod browser;
#[cfg(feature = "test-utils")]
pub mod fake;

use std::time::Duration;

pub use agency_primitives::Runtime;
use agency_primitives::{Envelope, Limits};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

#[cfg(feature = "browser")]
pub use browser::{BrowserExecutor, DEFAULT_CHROMIUM};
pub use engine::{Report, ReportOutcome, envelope_of_report, run_in_process};
#[cfg(feature = "test-utils")]
pub use quickjs::probe_main;
pub use quickjs::{QuickJsExecutor, child_main};
pub use sandbox::{JOB_UID, Layer, SandboxReport};

/// One job to run: everything that determines its envelope, plus the host's safety net.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRun {
    /// The script's source text.
    pub code: String,
    /// The input, as JSON text.
    pub input: String,
    /// The options, as JSON text.
    pub options: String,
    /// Deterministic limits.
    pub limits: Limits,
    /// Seed of `Math.random`.
    #[serde(with = "agency_primitives::hex32")]
    pub seed: [u8; 32],
    /// What `Date.now()` returns, in milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// The host's wall-clock cap (not part of the job's result).
    pub wall_clock: Duration,
}

impl JobRun {
    /// A job with default limits, seed zero, timestamp zero, options `{}` and a 30 s cap.
    pub fn new(code: impl Into<String>, input: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            input: input.into(),
            options: "{}".into(),
            limits: Limits::default(),
            seed: [0; 32],
            timestamp_ms: 0,
            wall_clock: Duration::from_secs(30),
        }
    }
}

/// Parses a seed: up to 64 hex digits, left-padded with zeros to 32 bytes.
pub fn parse_seed(text: &str) -> Result<[u8; 32], String> {
    agency_primitives::parse_hex32(text)
        .map_err(|_| format!("invalid seed {text:?}: want 1 to 64 hex digits"))
}

/// An infrastructure failure: the job has no envelope, must not be committed, and may be
/// retried. (A job that fails is an `Ok` envelope with `ok: false`.)
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunnerError {
    /// The host's wall-clock cap was reached.
    #[error("the job ran past the wall-clock cap of {after:?}")]
    WallClock { after: Duration },
    /// The job process used up the CPU time its rlimit allows: the local backstop behind the
    /// wall-clock cap, for work no meter saw. Never an envelope (CPU time differs between
    /// machines) and never worth a retry here.
    #[error("the job used up this machine's CPU-time backstop of {after:?}")]
    CpuTime { after: Duration },
    /// The engine could not be set up.
    #[error("JavaScript engine error: {0}")]
    Engine(String),
    /// The child process could not be started or talked to.
    #[error("job process: {0}")]
    Process(String),
    /// The child process died without an envelope (killed by an rlimit, crashed).
    #[error("job process died without a result ({status}){stderr}")]
    Crashed { status: String, stderr: String },
    /// The job's limits are outside what the engine can honour ([`Limits::MIN`],
    /// [`Limits::STACK_CEILING`]): the same on every agent, so never worth a retry.
    #[error("the job's limits cannot be run: {0}")]
    Limits(String),
    /// The requested runtime is not available in this build.
    #[error(
        "runtime {0:?} is not available in this build (supported: quickjs, and browser with the `browser` feature)"
    )]
    UnknownRuntime(String),
}

impl RunnerError {
    /// Tells whether running the same job again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Process(_) | Self::Crashed { .. })
    }
}

/// Runs jobs to envelopes.
///
/// Implementations: [`QuickJsExecutor`] (embedded QuickJS, in child processes by default) and,
/// with `test-utils`, [`fake::FakeExecutor`]. All give the behaviour of design.md §3; the suite
/// in `tests/it` runs the shared JsJob fixtures against each.
#[async_trait]
pub trait Executor: Send + Sync + std::fmt::Debug {
    /// Runs `job`; job failure is an envelope, infrastructure failure an error.
    async fn run(&self, job: JobRun) -> Result<Envelope, RunnerError>;
    /// Returns the runtime it offers, as job specs name it.
    fn runtime(&self) -> Runtime;
    /// Stops what the executor started and removes its temporary files, once no job runs.
    /// Dropping an executor without it still stops its processes but may leave files behind.
    async fn close(&self) {}
}
