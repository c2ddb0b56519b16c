//! `agency worker`: run an agent that earns by running jobs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use agency_primitives::{Limits, Runtime};
use agency_worker::{Deps, Metrics, Worker, WorkerConfig};
use alloy::primitives::U256;
use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::connect::{DEV_CHAIN_ID, Signer, connect};
use crate::opts::{ChromiumOpt, GlobalOpts, data_dir, offered_runtime, parse_amount};
use crate::output::Output;

/// Run an agent: stake, watch the contract for jobs, claim the ones this machine can run, run
/// them in the sandbox, publish the results, submit or commit and reveal them, and get paid.
///
/// The agent keeps a journal in its data dir: after a crash or `kill -9` it resumes every job
/// it held (it reveals with the saved salt and never commits twice). Ctrl-C stops claiming and
/// finishes in-flight work within the grace period; what is left resumes on the next start.
#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    /// Balance to keep deposited in the contract (claims lock collateral from it); the
    /// missing part is deposited at start. Amounts: 0.1eth, 10gwei or plain wei.
    #[arg(long, default_value = "0.1eth", value_name = "AMOUNT", value_parser = parse_amount)]
    stake: U256,

    /// Jobs fetched, claimed or running at once [default: the number of CPUs].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    concurrency: Option<u32>,

    /// Runtimes to offer, comma-separated: quickjs, browser (needs Chromium and a build with
    /// the `browser` feature).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "quickjs",
        value_name = "LIST"
    )]
    runtimes: Vec<String>,

    /// The smallest reward worth claiming.
    #[arg(long, default_value = "1", value_name = "AMOUNT", value_parser = parse_amount)]
    min_reward: U256,

    /// Run each job before claiming it, then claim and commit in one transaction (claimAndCommit,
    /// r > 1), or claim and deliver once the claim holds (submit at r = 1; revealLast when the
    /// others have committed). No slot is held while the job runs, and an r = 3 job costs about
    /// a fifth less gas, but a race lost to another agent wastes the run: for markets of short
    /// jobs.
    #[arg(long)]
    run_first: bool,

    /// Withdraw earnings to the wallet whenever the balance exceeds the stake by this much.
    #[arg(long, value_name = "AMOUNT", value_parser = parse_amount)]
    auto_withdraw: Option<U256>,

    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,

    /// Journal and kept results [default: $AGENCY_DATA_DIR/worker-<address>].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// First block to scan for jobs when the journal has no cursor [default: 0 on a dev
    /// chain (id 31337), else the latest block].
    #[arg(long, value_name = "N")]
    from_block: Option<u64>,

    /// Blocks an event must be under before the agent acts on it [default: 0 on a dev chain,
    /// else 2].
    #[arg(long, value_name = "N")]
    confirmations: Option<u64>,

    /// How often to poll the chain, in milliseconds.
    #[arg(long, default_value_t = 500, value_name = "MS")]
    poll_interval: u64,

    /// Seconds a claimed job's content may stay missing before the claim is given up.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    fetch_timeout: u64,

    /// Wall-clock cap of one run, in seconds (hitting it gives the claim up).
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    wall_clock: u64,

    /// The most fuel a job may ask for; jobs asking for more are passed over before claiming.
    #[arg(long, default_value_t = Limits::AGENT_MAX.fuel, value_name = "N")]
    max_fuel: u64,

    /// The most heap a job may ask for, in bytes; jobs asking for more are passed over.
    #[arg(long, default_value_t = Limits::AGENT_MAX.memory, value_name = "BYTES")]
    max_memory: u64,

    /// The most native stack a job may ask for, in bytes (at most 16 MiB whatever is set).
    #[arg(long, default_value_t = Limits::AGENT_MAX.stack, value_name = "BYTES")]
    max_stack: u64,

    /// The largest envelope a job may ask for, in bytes; jobs asking for more are passed over.
    #[arg(long, default_value_t = Limits::AGENT_MAX.output, value_name = "BYTES")]
    max_output: u64,

    /// Seconds a graceful stop waits for in-flight commits and reveals.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    grace: u64,

    #[command(flatten)]
    chromium: ChromiumOpt,
}

pub(crate) async fn run(
    args: WorkerArgs,
    g: &GlobalOpts,
    out: Output,
    stop: &CancellationToken,
) -> Result<()> {
    let runtimes = args
        .runtimes
        .iter()
        .map(|name| offered_runtime(name))
        .collect::<Result<Vec<Runtime>, _>>()?;
    let conn = connect(&g.chain, Signer::Required, false).await?;
    let (me, url, chain_id, address) = (
        conn.account(),
        conn.url.clone(),
        conn.chain_id,
        conn.agency.address(),
    );
    let dev = chain_id == DEV_CHAIN_ID;
    let from_block = match args.from_block {
        Some(b) => b,
        None if dev => 0,
        None => conn.agency.block_number().await?,
    };
    let data_dir = args
        .data_dir
        .unwrap_or_else(|| data_dir().join(format!("worker-{me}")));
    let executors = crate::exec::executors(&runtimes, &args.chromium.chromium).await?;
    let config = WorkerConfig {
        data_dir: data_dir.clone(),
        concurrency: args
            .concurrency
            .map(|c| c as usize)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        min_reward: args.min_reward,
        stake: args.stake,
        auto_withdraw: args.auto_withdraw,
        poll_interval: Duration::from_millis(args.poll_interval.max(10)),
        confirmations: args.confirmations.unwrap_or(if dev { 0 } else { 2 }),
        from_block,
        fetch_timeout: Duration::from_secs(args.fetch_timeout),
        wall_clock: Duration::from_secs(args.wall_clock),
        grace: Duration::from_secs(args.grace),
        run_first: args.run_first,
        max_limits: Limits {
            fuel: args.max_fuel,
            memory: args.max_memory,
            stack: args.max_stack,
            output: args.max_output,
        },
        ..WorkerConfig::default()
    };
    let to_close = executors.clone();
    let deps = Deps {
        agency: conn.agency,
        agent: me,
        store: g.store.open()?,
        executors,
    };
    let handle = Worker::spawn(config, deps)
        .await
        .context("starting the agent")?;
    let metrics_url = match args.metrics {
        Some(addr) => Some(serve_metrics(addr, handle.metrics().clone()).await?),
        None => None,
    };
    if out.json {
        out.json(&json!({
            "agent": me,
            "agency": address,
            "chain_id": chain_id,
            "rpc_url": url.as_str(),
            "data_dir": data_dir,
            "metrics": metrics_url,
        }));
    } else {
        out.notice(format!(
            "agent {me} working for {address} on chain {chain_id} ({url}); journal in {}{}",
            data_dir.display(),
            metrics_url
                .map(|u| format!("; metrics at {u}"))
                .unwrap_or_default()
        ));
        out.notice("Ctrl-C stops claiming and finishes in-flight work");
    }
    let stopped = tokio::select! {
        () = stop.cancelled() => {
            out.notice("stopping: no new claims; finishing in-flight work");
            handle.shutdown();
            handle.join().await.context("the agent failed while stopping")
        }
        // The agent only stops by itself on an error.
        () = handle.stopped() => handle.join().await.context("the agent stopped"),
    };
    for exec in &to_close {
        exec.close().await;
    }
    stopped
}

/// Serves `/metrics` on `addr`; returns its URL.
async fn serve_metrics(addr: SocketAddr, metrics: Arc<Metrics>) -> Result<String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} for metrics"))?;
    let url = format!("http://{}/metrics", listener.local_addr()?);
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    metrics.encode(),
                )
            }
        }),
    );
    tokio::spawn(async move {
        let (bounds, guard) = (Default::default(), Default::default());
        let forever = std::future::pending();
        if let Err(e) = agency_devstack::http::serve(listener, app, &bounds, &guard, forever).await
        {
            tracing::error!(error = %e, "the metrics server stopped");
        }
    });
    Ok(url)
}
