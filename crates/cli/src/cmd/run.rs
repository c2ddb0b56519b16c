//! `agency run`: run a job locally and print its result envelope.

use std::{io::Read, path::PathBuf, sync::Arc, time::Duration};

use agency_primitives::{Envelope, Runtime};
use agency_runner::{Executor, JobRun, QuickJsExecutor, parse_seed};
use anyhow::{Context, Result, bail};
use clap::Args;

use crate::exec::job_process;
use crate::opts::{ChromiumOpt, LimitOpts, offered_runtime};
use crate::output::Output;

/// Arguments of `agency run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The job script: defines `window.jsJobRun(input, options, callback)`.
    code: PathBuf,
    /// Input JSON file (`-` for stdin) [default: null].
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Options, as inline JSON.
    #[arg(long, default_value = "{}", value_name = "JSON")]
    options: String,
    /// Runtime to run the job in.
    #[arg(long, default_value = "quickjs", value_name = "quickjs|browser")]
    runtime: String,
    #[command(flatten)]
    limits: LimitOpts,
    /// Seed of Math.random, up to 64 hex digits.
    #[arg(long, default_value = "0", value_name = "HEX")]
    seed: String,
    /// What Date.now() returns, in seconds since the epoch.
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    timestamp: i64,
    /// Wall-clock cap on this machine, in seconds (a safety net, never a job result).
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    wall_clock: u64,
    /// Run in this process instead of an isolated child process.
    #[arg(long, hide = true)]
    in_process: bool,
    #[command(flatten)]
    chromium: ChromiumOpt,
}

/// Runs the job; returns whether it succeeded (exit 0) or failed as a job (exit 1).
pub(crate) async fn run(args: RunArgs, out: Output) -> Result<bool> {
    let code = std::fs::read_to_string(&args.code)
        .with_context(|| format!("cannot read {}", args.code.display()))?;
    let input = match &args.input {
        None => "null".to_owned(),
        Some(p) if p.as_os_str() == "-" => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading the input from stdin")?;
            s
        }
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?
        }
    };
    let seed = parse_seed(&args.seed).map_err(anyhow::Error::msg)?;
    let Some(timestamp_ms) = args.timestamp.checked_mul(1000) else {
        bail!("--timestamp {} is out of range", args.timestamp);
    };
    let job = JobRun {
        code,
        input,
        options: args.options,
        limits: args.limits.limits(),
        seed,
        timestamp_ms,
        wall_clock: Duration::from_secs(args.wall_clock),
    };
    let exec: Arc<dyn Executor> = match offered_runtime(&args.runtime)? {
        Runtime::QuickJs if args.in_process => Arc::new(QuickJsExecutor::in_process()),
        Runtime::QuickJs => Arc::new(job_process()?.with_warm_children(0)),
        Runtime::Browser => crate::exec::executors(&[Runtime::Browser], &args.chromium.chromium)
            .await?
            .remove(0),
    };
    let ran = exec.run(job).await;
    exec.close().await;
    let envelope: Envelope = ran.context("running the job")?;
    out.raw_line(&String::from_utf8(envelope.canonical_bytes()).expect("canonical JSON is UTF-8"));
    Ok(envelope.is_ok())
}
