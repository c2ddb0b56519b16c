//! Options shared by subcommands, in groups each command flattens (after foundry's
//! `crates/cli/src/opts`), and the parsers of the values they take.

mod chain;
mod run;
mod serve;
mod store;
mod values;

use std::path::PathBuf;

use clap::{ArgAction, Args};

pub(crate) use chain::ChainOpts;
pub(crate) use run::{ChromiumOpt, LimitOpts, offered_runtime};
pub(crate) use serve::ServeOpts;
pub(crate) use store::StoreOpts;
pub(crate) use values::{eth, ether, parse_amount, parse_duration, parse_job_id};

/// Global options (each also from an `AGENCY_*` environment variable).
#[derive(Debug, Args)]
#[command(next_help_heading = "Global Options")]
pub(crate) struct GlobalOpts {
    /// Print results as JSON on stdout (errors as JSON on stderr).
    #[arg(long, global = true, env = "AGENCY_JSON")]
    pub(crate) json: bool,

    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub(crate) verbose: u8,

    /// Only errors on stderr: no notices, no progress bars.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,

    #[command(flatten)]
    pub(crate) store: StoreOpts,

    #[command(flatten)]
    pub(crate) chain: ChainOpts,
}

/// Returns Agency's data directory: $AGENCY_DATA_DIR, else $XDG_DATA_HOME/agency, else
/// ~/.local/share/agency.
pub(crate) fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("AGENCY_DATA_DIR") {
        return dir.into();
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("agency");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/agency")
}
