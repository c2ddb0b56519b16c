//! `agency`: the command-line entry point and composition root of Agency.
//!
//! This crate picks the implementations (which block store, later which chain and executor),
//! owns the tokio runtime and the tracing subscriber, and maps errors to exit codes: 0 success,
//! 1 a job or command that ran and failed, 2 bad usage or an infrastructure error. Library
//! crates never print; all output goes through [`output`].

mod cmd;
mod connect;
mod opts;
mod output;
mod web;

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
    /// Run the whole market in one process: dev chain, contract, store, agents, web server.
    Dev(cmd::dev::DevArgs),
    /// Post jobs and follow them: post, status, list, result, logs, cancel.
    #[command(subcommand)]
    Job(cmd::job::JobCmd),
    /// Run a job locally and print its result envelope (exit 0 ok, 1 job failed, 2 error).
    Run(cmd::run::RunArgs),
    /// Run an agent: stake, claim jobs, run them, deliver results, get paid.
    Worker(cmd::worker::WorkerArgs),
    /// Your balance in the contract and your reputation; deposit and withdraw.
    #[command(subcommand)]
    Account(cmd::account::AccountCmd),
    /// Add, read and move content-addressed data (CIDs identical to Kubo's).
    #[command(subcommand)]
    Store(cmd::store::StoreCmd),
    /// Run the embedded EVM dev chain alone (JSON-RPC over HTTP and WebSocket).
    Chain(cmd::chain::ChainArgs),
    /// Serve the web UI for any chain and store (`agency dev` serves its own).
    Serve(cmd::serve::ServeArgs),
    /// Deploy the JobAgency contract (this build's bytecode) and print its address.
    Deploy,
    /// Measure the market on this machine against its goals (latency, throughput, gas, ...).
    Bench(cmd::bench::BenchArgs),
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
    // Long-running agents report their jobs (info) unless asked to be quiet, or unless the
    // output belongs to an --exec command.
    let chatty = match &cli.command {
        Command::Worker(_) => true,
        Command::Dev(args) => !args.runs_command(),
        _ => false,
    };
    init_tracing(&cli.global, chatty);
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
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            out.error(&e);
            ExitCode::from(2)
        }
    }
}

/// Runs the command; returns the exit status: 0, or 1 when it ran and failed as a job.
async fn run(cli: Cli, out: Output) -> anyhow::Result<u8> {
    let g = &cli.global;
    if matches!(
        cli.command,
        Command::Chain(_)
            | Command::Worker(_)
            | Command::Dev(_)
            | Command::Serve(_)
            | Command::Store(cmd::store::StoreCmd::Serve { .. })
    ) {
        catch_signals();
    }
    let done = |()| 0;
    let job = |ok: bool| if ok { 0 } else { 1 };
    match cli.command {
        Command::Run(args) => cmd::run::run(args, out).await.map(job),
        Command::Store(cmd) => cmd::store::run(cmd, g, out).await.map(done),
        Command::Chain(args) => cmd::chain::run(args, out).await.map(done),
        Command::Worker(args) => cmd::worker::run(args, g, out).await.map(done),
        Command::Dev(args) => cmd::dev::run(args, g, out).await,
        Command::Job(cmd) => cmd::job::run(cmd, g, out).await.map(job),
        Command::Account(cmd) => cmd::account::run(cmd, g, out).await.map(done),
        Command::Serve(args) => cmd::serve::run(args, g, out).await.map(done),
        Command::Deploy => cmd::deploy::run(g, out).await.map(done),
        Command::Bench(args) => cmd::bench::run(args, out).await.map(done),
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

/// Set once Ctrl-C or SIGTERM arrived (see [`catch_signals`]).
static STOP: std::sync::OnceLock<tokio::sync::watch::Receiver<bool>> = std::sync::OnceLock::new();

/// Takes over Ctrl-C and SIGTERM for a command that stops cleanly on them. The handlers are
/// registered here, before the command prints that it is up, so a signal that arrives right
/// after that is a clean stop too, never the default kill. Other commands keep the default.
fn catch_signals() {
    let (tx, rx) = tokio::sync::watch::channel(false);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (term, int) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        );
        if let (Ok(mut term), Ok(mut int)) = (term, int) {
            tokio::spawn(async move {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = int.recv() => {},
                }
                let _ = tx.send(true);
            });
        }
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = tx.send(true);
    });
    let _ = STOP.set(rx);
}

/// Resolves on Ctrl-C or SIGTERM (for commands that called [`catch_signals`]).
pub(crate) async fn shutdown_signal() {
    match STOP.get() {
        Some(rx) => {
            let mut rx = rx.clone();
            let _ = rx.wait_for(|stop| *stop).await;
        }
        None => std::future::pending().await,
    }
}
