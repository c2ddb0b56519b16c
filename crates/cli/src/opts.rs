//! Options shared by every subcommand.

use std::path::PathBuf;

use clap::{ArgAction, Args};

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
}

/// Which content store to use.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global Options")]
pub(crate) struct StoreOpts {
    /// Directory of the embedded block store [default: $AGENCY_DATA_DIR/store, where the data dir
    /// defaults to $XDG_DATA_HOME/agency or ~/.local/share/agency].
    #[arg(long, global = true, env = "AGENCY_STORE", value_name = "DIR")]
    pub(crate) store: Option<PathBuf>,

    /// Use a Kubo node's RPC API instead of the embedded store (e.g. http://127.0.0.1:5001).
    #[arg(
        long,
        global = true,
        env = "AGENCY_IPFS_API",
        value_name = "URL",
        conflicts_with = "store"
    )]
    pub(crate) ipfs_api: Option<String>,
}

impl StoreOpts {
    /// Returns the embedded store's directory.
    pub(crate) fn store_dir(&self) -> PathBuf {
        self.store
            .clone()
            .unwrap_or_else(|| data_dir().join("store"))
    }
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
