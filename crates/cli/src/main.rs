//! `agency`: the command-line entry point and composition root of Agency.
//!
//! This crate picks the implementations (which block store, later which chain and executor),
//! owns the tokio runtime and the tracing subscriber, and maps errors to exit codes: 0 success,
//! 1 a job or command that ran and failed, 2 bad usage or an infrastructure error. Library
//! crates never print; all output goes through [`output`].

mod cmd;
mod opts;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::{opts::GlobalOpts, output::Output};

/// Agency: a decentralized compute market for JavaScript jobs.
///
/// Requesters post jobs (code and input, content-addressed) with a reward; agents run them in a
/// deterministic sandbox and are paid when their results agree.
#[derive(Debug, Parser)]
#[command(
    name = "agency",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    #[command(flatten)]
    global: GlobalOpts,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a job locally and print its result envelope (exit 0 ok, 1 job failed, 2 error).
    Run(cmd::run::RunArgs),
    /// Add, read and move content-addressed data (CIDs identical to Kubo's).
    #[command(subcommand)]
    Store(cmd::store::StoreCmd),
    /// Run the embedded EVM dev chain alone (JSON-RPC over HTTP and WebSocket).
    Chain(cmd::chain::ChainArgs),
    /// Run an agent: stake, claim jobs, run them, deliver results, get paid.
    Worker(cmd::worker::WorkerArgs),
}

/// The hidden first argument that makes this binary a job child process (see agency-runner).
pub(crate) const JOB_CHILD_ARG: &str = "__job";

fn main() -> ExitCode {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == JOB_CHILD_ARG)
    {
        return agency_runner::child_main();
    }
    let cli = Cli::parse();
    // A long-running agent reports its jobs (info) unless asked to be quiet.
    init_tracing(&cli.global, matches!(cli.command, Command::Worker(_)));
    let out = Output {
        json: cli.global.json,
        quiet: cli.global.quiet,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            out.error(&anyhow::Error::new(e).context("starting the async runtime"));
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli, out)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            out.error(&e);
            ExitCode::from(2)
        }
    }
}

/// Runs the command; `Ok(false)` means it ran and failed as a job (exit 1).
async fn run(cli: Cli, out: Output) -> anyhow::Result<bool> {
    match cli.command {
        Command::Run(args) => cmd::run::run(args, out).await,
        Command::Store(cmd) => cmd::store::run(cmd, &cli.global, out).await.map(|()| true),
        Command::Chain(args) => cmd::chain::run(args, out).await.map(|()| true),
        Command::Worker(args) => cmd::worker::run(args, &cli.global, out)
            .await
            .map(|()| true),
    }
}

fn init_tracing(g: &GlobalOpts, chatty: bool) {
    use tracing::Level;
    let level = match (g.quiet, g.verbose) {
        (true, _) => Level::ERROR,
        (false, 0) if chatty => Level::INFO,
        (false, 0) => Level::WARN,
        (false, 1) => Level::INFO,
        (false, 2) => Level::DEBUG,
        _ => Level::TRACE,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

/// Resolves on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
