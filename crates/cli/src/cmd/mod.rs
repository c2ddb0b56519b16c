//! The subcommands, one module each (a folder for `job`, whose subcommands share a module per
//! concern), and the dispatch from the parsed command line to them.

pub(crate) mod account;
pub(crate) mod bench;
pub(crate) mod chain;
pub(crate) mod deploy;
pub(crate) mod dev;
pub(crate) mod job;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod store;
pub(crate) mod worker;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::opts::GlobalOpts;
use crate::output::Output;

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
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalOpts,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the whole market in one process: dev chain, contract, store, agents, web server.
    Dev(dev::DevArgs),
    /// Post jobs and follow them: post, status, list, result, logs, cancel.
    #[command(subcommand)]
    Job(job::JobCmd),
    /// Run a job locally and print its result envelope (exit 0 ok, 1 job failed, 2 error).
    Run(run::RunArgs),
    /// Run an agent: stake, claim jobs, run them, deliver results, get paid.
    Worker(worker::WorkerArgs),
    /// Your balance in the contract and your reputation; deposit and withdraw.
    #[command(subcommand)]
    Account(account::AccountCmd),
    /// Add, read and move content-addressed data (CIDs identical to Kubo's).
    #[command(subcommand)]
    Store(store::StoreCmd),
    /// Run the embedded EVM dev chain alone (JSON-RPC over HTTP and WebSocket).
    Chain(chain::ChainArgs),
    /// Serve the web UI for any chain and store (`agency dev` serves its own).
    Serve(serve::ServeArgs),
    /// Deploy the JobAgency contract (this build's bytecode) and print its address.
    Deploy,
    /// Measure the market on this machine against its goals (latency, throughput, gas, ...).
    Bench(bench::BenchArgs),
}

impl Command {
    /// Whether the command runs until stopped, and so stops cleanly on Ctrl-C or SIGTERM.
    fn serves(&self) -> bool {
        matches!(
            self,
            Self::Chain(_)
                | Self::Worker(_)
                | Self::Dev(_)
                | Self::Serve(_)
                | Self::Store(store::StoreCmd::Serve { .. })
        )
    }

    /// Whether the command reports its work as it goes (agents' info logs) by default: agents,
    /// unless an `--exec` command owns the output.
    pub(crate) fn reports_progress(&self) -> bool {
        match self {
            Self::Worker(_) => true,
            Self::Dev(args) => !args.runs_command(),
            _ => false,
        }
    }
}

/// Runs the command; returns the exit status: 0, or 1 when it ran and failed as a job.
pub(crate) async fn run(cli: Cli, out: Output) -> anyhow::Result<u8> {
    let g = &cli.global;
    // Commands that serve take over the signals before they print that they are up; the others
    // keep the default (an immediate exit) and get a token nothing cancels.
    let stop = if cli.command.serves() {
        crate::signals::catch()
    } else {
        CancellationToken::new()
    };
    let done = |()| 0;
    let job = |ok: bool| if ok { 0 } else { 1 };
    match cli.command {
        Command::Run(args) => run::run(args, out).await.map(job),
        Command::Store(cmd) => store::run(cmd, g, out, &stop).await.map(done),
        Command::Chain(args) => chain::run(args, out, &stop).await.map(done),
        Command::Worker(args) => worker::run(args, g, out, &stop).await.map(done),
        Command::Dev(args) => dev::run(args, g, out, &stop).await,
        Command::Job(cmd) => job::run(cmd, g, out).await.map(job),
        Command::Account(cmd) => account::run(cmd, g, out).await.map(done),
        Command::Serve(args) => serve::run(args, g, out, &stop).await.map(done),
        Command::Deploy => deploy::run(g, out).await.map(done),
        Command::Bench(args) => bench::run(args, out).await.map(done),
    }
}
