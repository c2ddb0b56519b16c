//! `agency bench`: the market measured against its goals (design.md §6) on this machine.
//!
//! Each scenario builds what it measures with the [`DevStack`] `agency dev` uses: the dev chain
//! in this process with JobAgency deployed, agents on the chain's in-process transport running
//! jobs in child processes (`agency __job`), a memory store. Nothing is shared with a running
//! market.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agency_chain::{JobStatus, SendConfig, Terms, TermsBuilder, protocol};
use agency_devchain::DevConfig;
use agency_devstack::{ChainKind, DevStack, DevStackConfig};
use agency_primitives::JobSpec;
use agency_runner::{Executor, JobRun, QuickJsExecutor};
use agency_store::{ImportOptions, MemStore};
use agency_worker::WorkerConfig;
use alloy::primitives::{B256, U256};
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::output::Output;

/// Measure the market on this machine against its goals: latency, throughput, gas, the
/// sandbox and the store.
///
/// Every scenario runs on its own in-process market, built as `agency dev` builds one (the dev
/// chain, JobAgency, agents running jobs in child processes) but with a memory store and no
/// servers, so nothing else on the machine is touched. A table by default; `--json` for
/// scripts. The figures recorded in BENCHMARKS.md came from this command.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Scenarios to run [default: all of them].
    #[arg(value_enum, value_name = "SCENARIO")]
    scenarios: Vec<Scenario>,

    /// Jobs per latency case, posted one after another.
    #[arg(long, default_value_t = 50, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    jobs: u32,

    /// Jobs in the throughput run, posted in batches of 100.
    #[arg(long, default_value_t = 1000, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    throughput_jobs: u32,

    /// Agents in the throughput run (at least 3 run the latency cases).
    #[arg(long, default_value_t = 3, value_name = "M",
          value_parser = clap::value_parser!(u32).range(1..=9))]
    agents: u32,

    /// Jobs each agent runs at once.
    #[arg(long, default_value_t = 8, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=64))]
    concurrency: u32,

    /// How often the agents poll the chain, in milliseconds (`agency dev`'s default is 20).
    #[arg(long, default_value_t = 20, value_name = "MS",
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    poll_interval: u64,

    /// The agents run each job before claiming it and claim and deliver in one transaction
    /// (`agency worker --run-first`).
    #[arg(long)]
    run_first: bool,

    /// Run the market's jobs in this process instead of child processes (no isolation
    /// between jobs; shows what the child processes cost).
    #[arg(long)]
    in_process: bool,

    /// Trivial jobs run by each executor in the sandbox scenario.
    #[arg(long, default_value_t = 200, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    sandbox_runs: u32,

    /// Size of the file added in the store scenario, in MiB.
    #[arg(long, default_value_t = 64, value_name = "MIB",
          value_parser = clap::value_parser!(u64).range(1..=4096))]
    store_mib: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
enum Scenario {
    /// Post → accepted of a trivial job, one at a time (r = 1 and r = 3): p50 and p95.
    Latency,
    /// Trivial r = 1 jobs settled per second with M agents.
    Throughput,
    /// Gas of a whole job lifecycle as the agents run it (r = 1 and r = 3).
    Gas,
    /// Per-job cost of the QuickJS sandbox, in process and in a child process.
    Sandbox,
    /// `store add` throughput into a memory store (Kubo's defaults).
    Store,
}

/// One measured figure.
#[derive(Debug, Serialize)]
struct Figure {
    scenario: &'static str,
    measure: String,
    value: f64,
    unit: &'static str,
    /// The design goal it is held against, if it has one.
    goal: Option<Goal>,
    /// Whether the goal is met (absent without a goal).
    met: Option<bool>,
    /// Gas figures: the jobs averaged over, and their mean transactions.
    #[serde(skip_serializing_if = "Option::is_none")]
    jobs: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transactions: Option<f64>,
}

#[derive(Debug, Clone, Copy, Serialize)]
struct Goal {
    /// `at_most` or `at_least`.
    kind: &'static str,
    value: f64,
}

const AT_MOST: &str = "at_most";
const AT_LEAST: &str = "at_least";

impl Figure {
    fn new(
        scenario: &'static str,
        measure: impl Into<String>,
        value: f64,
        unit: &'static str,
    ) -> Self {
        Self {
            scenario,
            measure: measure.into(),
            value,
            unit,
            goal: None,
            met: None,
            jobs: None,
            transactions: None,
        }
    }

    fn goal(mut self, kind: &'static str, value: f64) -> Self {
        self.met = Some(if kind == AT_MOST {
            self.value <= value
        } else {
            self.value >= value
        });
        self.goal = Some(Goal { kind, value });
        self
    }
}

/// The trivial job every market scenario posts.
const CODE: &str =
    "window.jsJobRun = function (input, options, cb) { cb(null, input.a + input.b); };";
const INPUT: &str = r#"{"a": 2, "b": 3}"#;
const REWARD: u128 = 1_000_000_000_000_000; // 0.001 ether

pub(crate) async fn run(args: BenchArgs, out: Output) -> Result<()> {
    let mut scenarios: Vec<Scenario> = args.scenarios.clone();
    if scenarios.is_empty() {
        scenarios = Scenario::value_variants().to_vec();
    }
    let scenarios: BTreeSet<Scenario> = scenarios.into_iter().collect();
    let mut figures = Vec::new();
    let started = Instant::now();
    // Latency and gas share one market: the gas is read off the latency runs' jobs.
    let mut lifecycles: Vec<(u8, Vec<Terms>)> = Vec::new();
    if scenarios.contains(&Scenario::Latency) || scenarios.contains(&Scenario::Gas) {
        let mut market = Market::start(args.agents.max(3), &args).await?;
        for replicas in [1u8, 3] {
            let jobs = if scenarios.contains(&Scenario::Latency) {
                args.jobs
            } else {
                1
            };
            out.notice(format_args!(
                "latency: {jobs} trivial jobs at r = {replicas}, one at a time…"
            ));
            let (times, jobs) = market.latency(replicas, jobs).await?;
            lifecycles.push((replicas, jobs));
            if scenarios.contains(&Scenario::Latency) {
                let goal = if replicas == 1 { 50.0 } else { 150.0 };
                figures.push(
                    Figure::new(
                        "latency",
                        format!("r = {replicas}, p50"),
                        pct(&times, 0.5),
                        "ms",
                    )
                    .goal(AT_MOST, goal),
                );
                figures.push(Figure::new(
                    "latency",
                    format!("r = {replicas}, p95"),
                    pct(&times, 0.95),
                    "ms",
                ));
            }
        }
        if scenarios.contains(&Scenario::Gas) {
            out.notice("gas: reading the lifecycles' receipts…");
            for (replicas, jobs) in &lifecycles {
                let (mut gas, mut txs) = (0u64, 0usize);
                for terms in jobs {
                    let (g, t) = market.lifecycle_gas(terms).await?;
                    gas += g;
                    txs += t;
                }
                let n = jobs.len() as f64;
                // Protocol v2's goals on the secure path (issue 19): 130k at r = 1, 450k at
                // r = 3 unanimous.
                let goal = if *replicas == 1 { 130_000.0 } else { 450_000.0 };
                let mut figure = Figure::new(
                    "gas",
                    format!("r = {replicas} lifecycle"),
                    gas as f64 / n,
                    "gas",
                )
                .goal(AT_MOST, goal);
                figure.jobs = Some(jobs.len());
                figure.transactions = Some(txs as f64 / n);
                figures.push(figure);
            }
        }
        market.stop().await?;
    }
    if scenarios.contains(&Scenario::Throughput) {
        let n = args.throughput_jobs;
        out.notice(format_args!(
            "throughput: {n} trivial r = 1 jobs, {} agents × {} at once…",
            args.agents, args.concurrency
        ));
        let mut market = Market::start(args.agents, &args).await?;
        let elapsed = market.throughput(n).await?;
        market.stop().await?;
        figures.push(
            Figure::new(
                "throughput",
                format!("{n} jobs, {} agents: settled per second", args.agents),
                f64::from(n) / elapsed.as_secs_f64(),
                "jobs/s",
            )
            .goal(AT_LEAST, 1000.0),
        );
    }
    if scenarios.contains(&Scenario::Sandbox) {
        let n = args.sandbox_runs;
        out.notice(format_args!("sandbox: {n} trivial jobs per executor…"));
        let in_process = per_job(&QuickJsExecutor::in_process(), n).await?;
        figures.push(
            Figure::new("sandbox", "trivial job, in process", in_process, "ms").goal(AT_MOST, 1.0),
        );
        let child = per_job(&crate::exec::job_process()?, n).await?;
        figures.push(
            Figure::new("sandbox", "trivial job, child process", child, "ms").goal(AT_MOST, 1.0),
        );
    }
    if scenarios.contains(&Scenario::Store) {
        out.notice(format_args!(
            "store: adding {} MiB into a memory store…",
            args.store_mib
        ));
        let rate = store_add(args.store_mib << 20).await?;
        figures.push(Figure::new(
            "store",
            format!("add {} MiB, CIDv0 (Kubo's defaults)", args.store_mib),
            rate,
            "MB/s",
        ));
    }

    if out.json {
        out.json(&serde_json::json!({
            "machine": machine(),
            "seconds": started.elapsed().as_secs_f64(),
            "figures": figures,
        }));
    } else {
        print_table(&figures, out);
    }
    Ok(())
}

fn print_table(figures: &[Figure], out: Output) {
    out.line(format_args!(
        "{:<11} {:<50} {:>12}  {:<14} {}",
        "scenario", "measure", "value", "goal", ""
    ));
    for f in figures {
        let value = if f.value >= 100.0 {
            format!("{:.0} {}", f.value, f.unit)
        } else {
            format!("{:.2} {}", f.value, f.unit)
        };
        let goal = f.goal.map_or(String::new(), |g| {
            format!(
                "{} {} {}",
                if g.kind == AT_MOST { "≤" } else { "≥" },
                g.value,
                f.unit
            )
        });
        let verdict = match f.met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "",
        };
        let measure = match (f.jobs, f.transactions) {
            (Some(jobs), Some(txs)) => {
                format!("{}, mean of {jobs} ({txs:.1} transactions)", f.measure)
            }
            _ => f.measure.clone(),
        };
        out.line(format_args!(
            "{:<11} {:<50} {:>12}  {:<14} {verdict}",
            f.scenario, measure, value, goal
        ));
    }
}

fn machine() -> serde_json::Value {
    serde_json::json!({
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "agency": env!("CARGO_PKG_VERSION"),
    })
}

/// The `p` quantile of `times` (milliseconds), nearest rank.
fn pct(times: &[f64], p: f64) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A market of its own (a [`DevStack`]): the dev chain in memory, JobAgency, `agents` staked
/// agents, a memory store holding the trivial job, and the requester (dev account 0).
struct Market {
    stack: DevStack,
    /// The trivial job; each posted job gets its own seed, since a batch may not name one spec
    /// twice.
    spec: JobSpec,
    seeds: u64,
}

impl Market {
    async fn start(agents: u32, args: &BenchArgs) -> Result<Self> {
        let executor: Arc<dyn Executor> = if args.in_process {
            Arc::new(QuickJsExecutor::in_process())
        } else {
            Arc::new(crate::exec::job_process()?)
        };
        let config = DevStackConfig {
            chain: ChainKind::Dev(DevConfig::default()),
            data_dir: None,
            store: None,
            agents,
            liars: 0,
            executor: Some(executor),
            worker: WorkerConfig {
                concurrency: args.concurrency as usize,
                stake: U256::from(10u128.pow(18)),
                poll_interval: Duration::from_millis(args.poll_interval),
                confirmations: 0,
                from_block: 0,
                run_first: args.run_first,
                ..WorkerConfig::default()
            },
            send: SendConfig::default(),
            // Latencies are timed by these waits: look every millisecond.
            wait_poll: Duration::from_millis(1),
        };
        let stack = DevStack::start(config)
            .await
            .context("starting the market")?;
        let spec = JobSpec::new(stack.add(CODE).await?, stack.add(INPUT).await?);
        let mut market = Self {
            stack,
            spec,
            seeds: 0,
        };
        // Every agent's stake is in (their first transactions), so no scenario times the
        // agents' start.
        market.stack.staked(Duration::from_secs(30)).await?;
        // One job every agent takes part in before anything is measured: an agent's first
        // claim also registers it (about 44k gas, once), and the job processes start.
        let specs = market.specs(1).await?;
        let warm = market
            .stack
            .post(market.terms(specs, agents.min(15) as u8))
            .await?;
        market
            .accepted(&warm.terms, 0, Duration::from_secs(60))
            .await?;
        Ok(market)
    }

    /// `count` specs of the trivial job, each with a seed of its own, in the store.
    async fn specs(&mut self, count: u32) -> Result<Vec<B256>> {
        let mut digests = Vec::with_capacity(count as usize);
        for _ in 0..count {
            self.seeds += 1;
            let mut spec = self.spec.clone();
            spec.seed[..8].copy_from_slice(&self.seeds.to_le_bytes());
            digests.push(self.stack.put_spec(&spec).await?);
        }
        Ok(digests)
    }

    /// Terms for trivial jobs, one per spec digest, with `replicas` replicas.
    fn terms(&self, specs: Vec<B256>, replicas: u8) -> TermsBuilder {
        self.stack
            .terms(specs)
            .reward(U256::from(REWARD))
            .collateral(U256::from(REWARD))
            .replicas(replicas)
            .delivery_window(Duration::from_secs(120))
            .reveal_window(Duration::from_secs(120))
            .deadline_in(Duration::from_secs(3600))
    }

    /// Posts `jobs` jobs one after another, each once the last is accepted; returns each one's
    /// time from sending the post to the first view showing it accepted (ms), and their terms.
    async fn latency(&mut self, replicas: u8, jobs: u32) -> Result<(Vec<f64>, Vec<Terms>)> {
        let mut times = Vec::with_capacity(jobs as usize);
        let mut posted = Vec::with_capacity(jobs as usize);
        for _ in 0..jobs {
            let specs = self.specs(1).await?;
            let now = self.stack.requester().chain_time().await?;
            let batch = self.terms(specs, replicas).build(now)?;
            let start = Instant::now();
            self.stack.requester().post(&batch).await?;
            self.accepted(&batch.terms, 0, Duration::from_secs(60))
                .await?;
            times.push(start.elapsed().as_secs_f64() * 1e3);
            posted.push(batch.terms);
        }
        Ok((times, posted))
    }

    /// Waits until job `index` is accepted; fails if it ends otherwise or takes `within`.
    async fn accepted(&self, terms: &Terms, index: u32, within: Duration) -> Result<()> {
        let view = self
            .stack
            .until(terms, index, within, |v| v.status.is_terminal())
            .await?;
        if view.status != JobStatus::Accepted {
            bail!("job {index} ended {:?}, not accepted", view.status);
        }
        Ok(())
    }

    /// Posts `n` r = 1 jobs in batches of 100 as fast as the requester can; returns the time
    /// from the first post to the last job accepted.
    async fn throughput(&mut self, n: u32) -> Result<Duration> {
        // The specs are in the store before the clock starts: requesters add content first.
        let mut specs = Vec::new();
        let mut left = n;
        while left > 0 {
            let count = left.min(100);
            specs.push(self.specs(count).await?);
            left -= count;
        }
        let mut batches = Vec::new();
        let start = Instant::now();
        for specs in specs {
            batches.push(self.stack.post(self.terms(specs, 1)).await?.terms);
        }
        let within = Duration::from_secs(60) + Duration::from_millis(50) * n;
        for terms in &batches {
            for index in 0..terms.count {
                let remaining = within.saturating_sub(start.elapsed());
                self.accepted(terms, index, remaining).await?;
            }
        }
        Ok(start.elapsed())
    }

    /// The gas of every transaction in the job's lifecycle: its post and each transaction
    /// that emitted an event about it (claims, commits, reveals, the end).
    async fn lifecycle_gas(&self, terms: &Terms) -> Result<(u64, usize)> {
        let requester = self.stack.requester();
        let job = protocol::job_id(terms, 0);
        let batch = protocol::batch_id(terms);
        let posted = requester
            .posted(batch, 0)
            .await?
            .context("the job's post is not on the chain")?;
        let mut txs = vec![posted.tx];
        for event in requester.job_events(job, 0).await? {
            if !txs.contains(&event.tx) {
                txs.push(event.tx);
            }
        }
        let mut gas = 0;
        for tx in &txs {
            gas += requester
                .gas_used(*tx)
                .await?
                .with_context(|| format!("no receipt for {tx}"))?;
        }
        Ok((gas, txs.len()))
    }

    async fn stop(self) -> Result<()> {
        self.stack.stop().await.context("an agent failed")
    }
}

/// Mean milliseconds per trivial job run by `exec`, one after another, after one warm-up run.
async fn per_job(exec: &dyn Executor, n: u32) -> Result<f64> {
    let job = || JobRun::new(CODE, INPUT);
    let envelope = exec.run(job()).await?;
    if !envelope.is_ok() {
        bail!("the trivial job failed in the sandbox: {envelope:?}");
    }
    let start = Instant::now();
    for _ in 0..n {
        exec.run(job()).await?;
    }
    Ok(start.elapsed().as_secs_f64() * 1e3 / f64::from(n))
}

/// MB/s of adding `len` bytes of pseudo-random data from a file into a memory store.
async fn store_add(len: u64) -> Result<f64> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let path = dir.path().join("data");
    let mut bytes = vec![0u8; len as usize];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for chunk in bytes.chunks_mut(8) {
        // xorshift64*: incompressible enough, and no two chunks repeat.
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let v = x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
    std::fs::write(&path, &bytes).context("writing the test file")?;
    drop(bytes);
    let store = MemStore::new();
    let start = Instant::now();
    let summary =
        agency_store::import_file(&path, ImportOptions::default(), Some(&store), |_| {}).await?;
    let secs = start.elapsed().as_secs_f64();
    if summary.size != len {
        bail!("added {} bytes of {len}", summary.size);
    }
    Ok(len as f64 / secs / 1e6)
}
