//! `agency`: the command-line entry point and composition root of Agency.
//!
//! This crate picks the implementations (which block store, which chain, which executors), owns
//! the tokio runtime and the tracing subscriber, and maps errors to exit codes: 0 success, 1 a
//! job or command that ran and failed, 2 bad usage or an infrastructure error. Library crates
//! never print; all output goes through [`output`]. The commands live in [`cmd`], one module
//! each; option groups they share in [`opts`].

mod cmd;
mod connect;
mod exec;
mod opts;
mod output;
mod signals;
mod web;

use std::process::ExitCode;

use clap::Parser;

use crate::cmd::Cli;
use crate::opts::GlobalOpts;
use crate::output::Output;

fn main() -> ExitCode {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == exec::JOB_CHILD_ARG)
    {
        return agency_runner::child_main();
    }
    let cli = Cli::parse();
    init_tracing(&cli.global, cli.command.reports_progress());
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
    match runtime.block_on(cmd::run(cli, out)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            out.error(&e);
            ExitCode::from(2)
        }
    }
}

/// Logs on stderr: `-q` errors only; by default warnings, or the info of long-running agents
/// (`chatty`); `-v`, `-vv`, `-vvv` for more.
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
