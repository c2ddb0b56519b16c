//! The agent's off-chain work: fetch a spec and its content, run it, publish the envelope.
//!
//! Every fetch is hash-checked by the store. Trouble that may pass (a timeout, a block not
//! there yet, a crashed job process) is retried with backoff until the job's budget runs out;
//! then the job is given up, never committed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agency_primitives::{
    Block, CODEC_RAW, Cid, ENGINE_VERSION, Envelope, ErrorKind, JobSpec, Limits, Runtime, raw_cid,
};
use agency_runner::{Executor, JobRun};
use agency_store::{BlockStore, StoreError};
use alloy::primitives::B256;
use futures::TryStreamExt;

use crate::metrics::Metrics;
use crate::retry::Retry;

/// The largest code or input file an agent fetches.
pub(crate) const MAX_CONTENT: usize = 64 << 20;

/// The off-chain half of the agent.
#[derive(Debug, Clone)]
pub(crate) struct Work {
    pub(crate) store: Arc<dyn BlockStore>,
    pub(crate) executors: Vec<Arc<dyn Executor>>,
    /// Where envelopes are kept (besides the store) until their job settles.
    pub(crate) results: PathBuf,
    /// How long content may stay missing before the job is given up.
    pub(crate) fetch_timeout: Duration,
    /// The per-job wall-clock cap.
    pub(crate) wall_clock: Duration,
    /// The most of each limit this agent accepts.
    pub(crate) max_limits: Limits,
    pub(crate) metrics: Arc<Metrics>,
}

impl Work {
    /// Fetches and parses the spec with digest `spec`; fails if this agent cannot run it.
    pub(crate) async fn check(&self, spec: B256) -> Result<JobSpec, String> {
        let start = Instant::now();
        let deadline = start + self.fetch_timeout;
        let cid = raw_cid(spec.0);
        let block = fetch(deadline, || self.store.get(&cid))
            .await
            .map_err(|e| format!("spec {cid}: {e}"))?;
        let parsed = JobSpec::from_bytes(block.data()).map_err(|e| format!("spec {cid}: {e}"))?;
        parsed
            .limits
            .check_within(&self.max_limits)
            .map_err(|e| format!("spec {cid}: limits this agent does not accept: {e}"))?;
        if self.executor(parsed.runtime).is_none() {
            return Err(format!(
                "runtime \"{}\" is not one this agent runs ({})",
                parsed.runtime,
                self.runtimes()
            ));
        }
        if parsed.runtime == Runtime::QuickJs && parsed.engine != ENGINE_VERSION {
            return Err(format!(
                "spec {cid}: engine {} is not the one this agent runs ({ENGINE_VERSION})",
                parsed.engine
            ));
        }
        // The code and input must be there, and not too large, before anything is claimed:
        // one block each (the root states the file's size; `cat` checks it against the bytes).
        for (what, cid) in [("code", parsed.code), ("input", parsed.input)] {
            let size = fetch(deadline, || {
                agency_store::file_size(self.store.as_ref(), cid)
            })
            .await
            .map_err(|e| format!("{what} {cid}: {e}"))?;
            if size > MAX_CONTENT as u64 {
                return Err(format!(
                    "{what} {cid} is {size} bytes, more than the {MAX_CONTENT} an agent fetches"
                ));
            }
        }
        self.metrics.observe("check", start.elapsed().as_secs_f64());
        Ok(parsed)
    }

    /// Runs job `job` of spec `spec` and keeps its envelope here (not in the store: an envelope
    /// is published only once this agent holds its slot and sends the digest, [`Work::publish`]);
    /// returns the envelope's digest. Gives up (an error) if that cannot be done within `budget`.
    pub(crate) async fn compute(
        &self,
        job: B256,
        spec: B256,
        budget: Duration,
    ) -> Result<B256, String> {
        let deadline = Instant::now() + budget;
        let start = Instant::now();
        let parsed = self.check(spec).await?;
        let fetch_by = deadline.min(Instant::now() + self.fetch_timeout);
        let code = fetch(fetch_by, || cat(&self.store, parsed.code))
            .await
            .map_err(|e| format!("code {}: {e}", parsed.code))?;
        let input = fetch(fetch_by, || cat(&self.store, parsed.input))
            .await
            .map_err(|e| format!("input {}: {e}", parsed.input))?;
        self.metrics.observe("fetch", start.elapsed().as_secs_f64());

        let start = Instant::now();
        let envelope = self.run(&parsed, code, input, deadline).await?;
        self.metrics.observe("run", start.elapsed().as_secs_f64());

        let start = Instant::now();
        let block = Block::new(CODEC_RAW, envelope.canonical_bytes());
        // Its flushes wait on the disk: off the async threads, which the other jobs share.
        let (path, kept) = (self.path(job), block.clone());
        tokio::task::spawn_blocking(move || keep(&path, &kept))
            .await
            .map_err(|e| format!("keeping the result: {e}"))?
            .map_err(|e| format!("keeping the result: {e}"))?;
        self.metrics.observe("keep", start.elapsed().as_secs_f64());
        Ok(B256::from_slice(block.cid().hash().digest()))
    }

    /// Puts job `job`'s envelope `result` into the store from the local copy, unless the store
    /// holds it already: just before the digest goes on chain in the clear, from a slot this
    /// agent holds. Before that, anyone who could read the store (the requester among them)
    /// could take the result without the job being paid (docs/security.md).
    pub(crate) async fn publish(&self, job: B256, result: B256) -> Result<(), String> {
        let start = Instant::now();
        let cid = raw_cid(result.0);
        if self.store.has(&cid).await.unwrap_or(false) {
            return Ok(());
        }
        let path = self.path(job);
        let data = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let block = Block::verified(cid, data).map_err(|e| e.to_string())?;
        let by = Instant::now() + self.fetch_timeout;
        fetch(by, || self.store.put(block.clone()))
            .await
            .map_err(|e| e.to_string())?;
        self.metrics
            .observe("publish", start.elapsed().as_secs_f64());
        Ok(())
    }

    /// Forgets the local copy of job `job`'s envelope once the job has settled.
    pub(crate) fn forget(&self, job: B256) {
        let _ = std::fs::remove_file(self.path(job));
    }

    /// Where job `job`'s envelope is kept. By job, not by CID: jobs with equal envelopes must
    /// not share (or delete) one file.
    fn path(&self, job: B256) -> PathBuf {
        self.results.join(format!("{job}.json"))
    }

    async fn run(
        &self,
        spec: &JobSpec,
        code: Vec<u8>,
        input: Vec<u8>,
        deadline: Instant,
    ) -> Result<Envelope, String> {
        let exec = self.executor(spec.runtime).ok_or("runtime gone")?;
        // Content that is not text is the job's failure, the same on every agent.
        let (Ok(code), Ok(input)) = (String::from_utf8(code), String::from_utf8(input)) else {
            return Ok(Envelope::failure(
                ErrorKind::BadInput,
                "the code or input is not UTF-8 text",
                "",
                vec![],
            ));
        };
        let job = JobRun {
            code,
            input,
            options: spec.options.to_string(),
            limits: spec.limits,
            seed: spec.seed,
            timestamp_ms: spec.timestamp,
            wall_clock: self
                .wall_clock
                .min(deadline.saturating_duration_since(Instant::now())),
        };
        Retry::RUN
            .until(deadline)
            .run("running the job", || exec.run(job.clone()))
            .await
            .map_err(|e| e.to_string())
    }

    fn executor(&self, runtime: Runtime) -> Option<&Arc<dyn Executor>> {
        self.executors.iter().find(|e| e.runtime() == runtime)
    }

    fn runtimes(&self) -> String {
        let names: Vec<_> = self.executors.iter().map(|e| e.runtime().name()).collect();
        names.join(", ")
    }
}

/// Reads a whole UnixFS file, at most [`MAX_CONTENT`] bytes.
async fn cat(store: &Arc<dyn BlockStore>, cid: Cid) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::new();
    let mut stream = std::pin::pin!(agency_store::cat(store.clone(), cid));
    while let Some(chunk) = stream.try_next().await? {
        if out.len() + chunk.len() > MAX_CONTENT {
            return Err(StoreError::InvalidArgument(format!(
                "{cid} is larger than {MAX_CONTENT} bytes"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Runs a store operation until it succeeds, fails for good, or `deadline` passes; a missing
/// block counts as "not yet" (it may still arrive), as do the store's retryable errors.
async fn fetch<T, F, Fut>(deadline: Instant, op: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    Retry::FETCH
        .until(deadline)
        .run_if("store trouble", op, |e| {
            e.is_retryable() || e.is_not_found()
        })
        .await
}

/// Writes `block`'s bytes to `path`, durably (temporary file, sync, rename).
fn keep(path: &Path, block: &Block) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().expect("a file in the results dir");
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(block.data())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}
